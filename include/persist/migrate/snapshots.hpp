// persist/migrate/snapshots.hpp: the copies of the database a Migrator takes (snapshot_before,
// and the safety copy before a migration that runs outside a transaction).
#pragma once

#include "persist/detail/file_setup.hpp"
#include "persist/error.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace persist::migrate::detail {

/// Takes consistent copies of a store's database (Backend::snapshot_to) next to it, named
/// "<file>.snapshot-v<head><tag>-<milliseconds>.db", keeping the newest `keep` (at least 1).
/// An in-memory database gets no safety copy (it ends with its process) and its
/// snapshot_before copy goes to a private directory removed with this object.
template <class StoreType>
class Snapshots {
public:
    Snapshots(StoreType& store, std::size_t keep) : store_(store), keep_(std::max<std::size_t>(keep, 1)) {}
    Snapshots(const Snapshots&) = delete;
    Snapshots& operator=(const Snapshots&) = delete;
    ~Snapshots() {
        std::error_code ignored;
        if (!scratch_.empty()) std::filesystem::remove_all(scratch_, ignored);
    }

    /// A copy of the database at schema version `head`; `tag` is empty for snapshot_before.
    /// Returns its path, or "" when none is taken. Throws what snapshot_to throws, io_error.
    std::string take(std::int64_t head, const std::string& tag) {
        namespace fs = std::filesystem;
        const auto deadline = std::chrono::steady_clock::now() + store_.config().busy_timeout;
        if (persist::detail::is_memory_path(store_.path())) {
            if (!tag.empty()) return {};
            const std::string path = scratch() + "/memory.snapshot-v" + std::to_string(head) + ".db";
            std::error_code ignored;
            fs::remove(path, ignored);
            store_.backend().snapshot_to(path, deadline);
            return path;
        }
        const fs::path database = store_.path();
        const auto stamp = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
        const std::string prefix = database.filename().string() + ".snapshot-v";
        const fs::path path = database.parent_path() / (prefix + std::to_string(head) + tag + "-" + std::to_string(stamp) + ".db");
        store_.backend().snapshot_to(path.string(), deadline);
        std::vector<fs::path> existing;
        std::error_code ignored;
        for (const auto& entry : fs::directory_iterator(database.parent_path(), ignored))
            if (entry.path().filename().string().starts_with(prefix)) existing.push_back(entry.path());
        std::sort(existing.begin(), existing.end(), [](const fs::path& a, const fs::path& b) {
            std::error_code e1, e2;
            return fs::last_write_time(a, e1) < fs::last_write_time(b, e2);
        });
        for (std::size_t i = 0; i + keep_ < existing.size(); ++i) fs::remove(existing[i], ignored);
        return path.string();
    }

private:
    // The private directory for an in-memory database's copies, made on first use (0700).
    const std::string& scratch() {
        if (scratch_.empty()) {
            const auto temporary = std::filesystem::temp_directory_path();
            std::string pattern = (temporary / "persist-memory-XXXXXX").string();
            if (!::mkdtemp(pattern.data()))
                throw io_error("cannot make a directory for the snapshot of an in-memory database in " +
                                   temporary.string() + ": " + std::strerror(errno),
                               errno);
            scratch_ = pattern;
        }
        return scratch_;
    }

    StoreType& store_;
    std::size_t keep_;
    std::string scratch_;
};

} // namespace persist::migrate::detail
