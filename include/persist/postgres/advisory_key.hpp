// persist/postgres/advisory_key.hpp: the 64-bit keys persist gives PostgreSQL advisory locks.
#pragma once

#include "persist/migrate/sha256.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace persist::postgres::detail {

/// The first 8 bytes of SHA-256(`text`), read big-endian as a signed integer: the key of
/// pg_advisory_lock(bigint) and pg_advisory_xact_lock(bigint) for a persist lock name (the
/// callers put their own prefix in `text`). Pure; thread-safe.
inline std::int64_t advisory_key(std::string_view text) {
    const auto digest = migrate::sha256(std::string(text)).str();
    std::uint64_t value = 0;
    for (int i = 0; i < 16; ++i) {
        const char c = digest[static_cast<std::size_t>(i)];
        value = value << 4 | static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return static_cast<std::int64_t>(value);
}

} // namespace persist::postgres::detail
