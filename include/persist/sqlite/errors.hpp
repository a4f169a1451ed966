// persist/sqlite/errors.hpp: SQLite result codes to persist errors.
#pragma once

#include "persist/error.hpp"

#include <sqlite3.h>
#include <string>
#include <string_view>

namespace persist::sqlite {

/// The constraint named in a SQLite constraint message: "users.email" for
/// "UNIQUE constraint failed: users.email", "FOREIGN KEY" for "FOREIGN KEY constraint failed".
inline std::string constraint_name(std::string_view message) {
    constexpr std::string_view marker = "constraint failed";
    const auto at = message.find(marker);
    if (at == std::string_view::npos) return std::string(message);
    auto rest = message.substr(at + marker.size());
    if (rest.starts_with(": ")) return std::string(rest.substr(2));
    auto kind = message.substr(0, at);
    while (!kind.empty() && kind.back() == ' ') kind.remove_suffix(1);
    return std::string(kind);
}

/// Throws the persist error for SQLite extended result code `code` with SQLite's message
/// `message`, raised while doing `context` (the SQL text or the file involved).
[[noreturn]] inline void throw_error(int code, const std::string& message, std::string_view context) {
    const std::string where = context.empty() ? std::string() : " [" + std::string(context) + "]";
    switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        throw busy_error("database is busy: " + message + where, code);
    case SQLITE_CONSTRAINT: {
        auto name = constraint_name(message);
        throw constraint_error("constraint " + name + " rejected the write (" + message + ")" + where +
                                   "; check the values, or use an upsert for rows that may exist",
                               name, code);
    }
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        throw corrupt_error("database is corrupt or not a SQLite database: " + message + where +
                                "; restore it from a backup",
                            code);
    case SQLITE_IOERR:
    case SQLITE_FULL:
        throw io_error("disk input/output failed: " + message + where +
                           "; check free space and the health of the disk",
                       code);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        throw permission_error("access denied: " + message + where, std::string(context), -1, 0, code);
    case SQLITE_MISUSE:
        throw usage_error("SQLite reports misuse: " + message + where, code);
    case SQLITE_ERROR:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_SCHEMA:
    case SQLITE_TOOBIG:
        throw schema_error("SQL failed: " + message + where, code);
    default:
        throw io_error("SQLite failed: " + message + where, code);
    }
}

/// Throws the persist error for the last failure on connection `db`.
[[noreturn]] inline void throw_last_error(sqlite3* db, std::string_view context) {
    throw_error(sqlite3_extended_errcode(db), sqlite3_errmsg(db), context);
}

} // namespace persist::sqlite
