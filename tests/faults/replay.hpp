// Replays a crash log (tests/faults/log.hpp) into what a disk would hold after a power loss at
// any point, under a strict model:
//   - a file's content is what its last fsync/fdatasync made durable, plus any subset of the
//     writes and truncations since (each kept or lost independently, a kept write possibly
//     torn at a 512-byte boundary): disks reorder unsynced writes;
//   - a name (create, rename, link, unlink) is durable only once its directory is fsynced;
//     until then the directory holds what it held at its last fsync. A file's own fsync does
//     not make its name durable (some file systems do, POSIX does not promise it).
#pragma once

#include "faults/log.hpp"

#include <map>
#include <random>
#include <string>
#include <vector>

namespace crash {

class Disk {
public:
    void apply(const Op& op) {
        switch (op.kind) {
        case Op::Kind::create:
            files_[op.id] = File{};
            names_[op.text] = op.id;
            break;
        case Op::Kind::write:
        case Op::Kind::truncate: {
            auto& file = files_[op.id];
            change(file.current, op);
            file.pending.push_back(op);
            break;
        }
        case Op::Kind::sync: {
            auto& file = files_[op.id];
            file.durable = file.current;
            file.pending.clear();
            break;
        }
        case Op::Kind::sync_directory: {
            const std::string prefix = op.text + "/";
            for (auto it = durable_names_.begin(); it != durable_names_.end();)
                it = in_directory(it->first, prefix) && !names_.count(it->first) ? durable_names_.erase(it) : std::next(it);
            for (const auto& [name, id] : names_)
                if (in_directory(name, prefix)) durable_names_[name] = id;
            break;
        }
        case Op::Kind::unlink:
            names_.erase(op.text);
            break;
        case Op::Kind::rename:
        case Op::Kind::link: {
            const auto cut = op.text.find('\n');
            const std::string from = op.text.substr(0, cut), to = op.text.substr(cut + 1);
            if (auto found = names_.find(from); found != names_.end()) {
                names_[to] = found->second;
                if (op.kind == Op::Kind::rename) names_.erase(from);
            } else {
                names_.erase(to); // an unrecorded file moved in: not modelled, so absent
            }
            break;
        }
        case Op::Kind::ack:
            break;
        }
    }

    /// The durable names and their contents after a power loss now; `rng` picks which unsynced
    /// writes survived. With `keep_pending` false every unsynced write is lost.
    std::map<std::string, std::string> image(std::mt19937_64& rng, bool keep_pending = true) const {
        std::map<std::string, std::string> result;
        for (const auto& [name, id] : durable_names_) {
            const auto& file = files_.at(id);
            std::string content = file.durable;
            if (keep_pending)
                for (Op op : file.pending) {
                    if (rng() % 2) continue;
                    if (op.kind == Op::Kind::write && op.data.size() > 512 && rng() % 4 == 0)
                        op.data.resize(512 * (1 + rng() % (op.data.size() / 512))); // torn
                    change(content, op);
                }
            result[name] = std::move(content);
        }
        return result;
    }

private:
    struct File {
        std::string durable, current;
        std::vector<Op> pending;
    };

    static bool in_directory(const std::string& name, const std::string& prefix) {
        return name.compare(0, prefix.size(), prefix) == 0 && name.find('/', prefix.size()) == std::string::npos;
    }

    static void change(std::string& content, const Op& op) {
        if (op.kind == Op::Kind::truncate) {
            content.resize(op.number);
            return;
        }
        const auto end = op.number + op.data.size();
        if (content.size() < end) content.resize(end);
        content.replace(op.number, op.data.size(), op.data);
    }

    std::map<long, File> files_;
    std::map<std::string, long> names_, durable_names_;
};

} // namespace crash
