// The record format of the power-loss simulation's log (tests/faults/recorder.hpp writes it,
// tests/faults/replay.hpp reads it).
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crash {

/// One change to the recorded directory, or a program marker.
struct Op {
    enum class Kind : std::uint8_t {
        create = 1,      ///< file `id` appeared at path `text`
        write,           ///< `data` written to file `id` at offset `number`
        truncate,        ///< file `id` cut to `number` bytes
        sync,            ///< fsync/fdatasync of file `id`: its content is durable
        sync_directory,  ///< fsync of directory `text`: its entries are durable
        unlink,          ///< path `text` removed
        rename,          ///< `text` is "from\nto"
        link,            ///< `text` is "from\nto": a second name for the same file
        ack,             ///< the program's marker `number` (an acknowledged write)
    };
    Kind kind;
    long id = 0;
    std::uint64_t number = 0;
    std::string text;
    std::string data;
};

inline std::string encode(const Op& op) {
    std::string out;
    auto put = [&](const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); };
    const auto kind = static_cast<std::uint8_t>(op.kind);
    const auto id = static_cast<std::int64_t>(op.id);
    const auto text = static_cast<std::uint32_t>(op.text.size());
    const auto data = static_cast<std::uint32_t>(op.data.size());
    put(&kind, 1);
    put(&id, 8);
    put(&op.number, 8);
    put(&text, 4);
    put(&data, 4);
    out += op.text;
    out += op.data;
    return out;
}

inline std::vector<Op> decode(std::string_view bytes) {
    std::vector<Op> ops;
    std::size_t at = 0;
    auto get = [&](void* p, std::size_t n) {
        if (at + n > bytes.size()) throw std::runtime_error("truncated crash log");
        std::memcpy(p, bytes.data() + at, n);
        at += n;
    };
    while (at < bytes.size()) {
        Op op;
        std::uint8_t kind;
        std::int64_t id;
        std::uint32_t text, data;
        get(&kind, 1);
        get(&id, 8);
        get(&op.number, 8);
        get(&text, 4);
        get(&data, 4);
        op.kind = static_cast<Op::Kind>(kind);
        op.id = static_cast<long>(id);
        op.text.resize(text);
        get(op.text.data(), text);
        op.data.resize(data);
        get(op.data.data(), data);
        ops.push_back(std::move(op));
    }
    return ops;
}

} // namespace crash
