// persist/sqlite/dump.hpp: the database as SQL text, and back.
//
//   persist::sqlite::dump(store, "app.sql");    // tables, rows, then indexes, triggers, views
//   persist::sqlite::load(fresh, "app.sql");    // into an empty database, in one transaction
//
// The dump is read in one read transaction (a consistent state while others write) and
// written through a temporary file and a rename. Values keep their storage class: integers,
// reals to 17 significant digits (they read back bit for bit), text quoted, blobs as X'..'.
#pragma once

#include "persist/sqlite/trust.hpp"
#include "persist/error.hpp"
#include "persist/detail/private_files.hpp"
#include "persist/detail/read_file.hpp"
#include "persist/detail/sql_text.hpp"
#include "persist/sqlite/backup.hpp"
#include "persist/sqlite/script.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <sqlite3.h>
#include <string>
#include <vector>

namespace persist::sqlite {

namespace detail {

/// Column `i` of the current row as an SQL literal.
inline std::string sql_literal(sqlite3_stmt* statement, int i) {
    switch (sqlite3_column_type(statement, i)) {
    case SQLITE_NULL: return "NULL";
    case SQLITE_INTEGER: return std::to_string(sqlite3_column_int64(statement, i));
    case SQLITE_FLOAT: {
        char text[40];
        std::snprintf(text, sizeof text, "%.17g", sqlite3_column_double(statement, i));
        std::string literal = text;
        // Keep it a REAL when it prints like an integer (1.0 -> "1"); inf/nan have no literal.
        if (literal.find_first_of(".eEn") == std::string::npos) literal += ".0";
        if (literal == "inf") return "9e999";
        if (literal == "-inf") return "-9e999";
        if (literal.find("nan") != std::string::npos) return "NULL";
        return literal;
    }
    case SQLITE_BLOB: {
        const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(statement, i));
        const int size = sqlite3_column_bytes(statement, i);
        static constexpr char digits[] = "0123456789abcdef";
        std::string literal = "X'";
        for (int k = 0; k < size; ++k) {
            literal += digits[bytes[k] >> 4];
            literal += digits[bytes[k] & 0xf];
        }
        return literal + "'";
    }
    default: {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, i));
        const int size = sqlite3_column_bytes(statement, i);
        if (std::string_view(text, static_cast<std::size_t>(size)).find('\0') != std::string_view::npos) {
            // A NUL would end the SQL text; spell the bytes out and keep them TEXT.
            static constexpr char digits[] = "0123456789abcdef";
            std::string literal = "CAST(X'";
            for (int k = 0; k < size; ++k) {
                literal += digits[static_cast<unsigned char>(text[k]) >> 4];
                literal += digits[static_cast<unsigned char>(text[k]) & 0xf];
            }
            return literal + "' AS TEXT)";
        }
        std::string literal = "'";
        for (int k = 0; k < size; ++k) literal += text[k] == '\'' ? std::string("''") : std::string(1, text[k]);
        return literal + "'";
    }
    }
}

/// One schema object to dump: its type, name, table and the SQL that creates it.
struct SchemaObject {
    std::string type, name, table, sql;
};

/// Checks that `object.sql` is exactly one CREATE of that object and nothing else, by
/// preparing it on `scratch` (an in-memory database holding the objects checked so far)
/// under an authorizer, then creates it there. A crafted database (writable_schema) can
/// hold any text in sqlite_schema.sql; a dump must never carry it to load. Throws
/// corrupt_error naming the object.
inline void check_schema_object(sqlite3* scratch, const SchemaObject& object) {
    struct Seen {
        int creates = 0;
        bool matches = false;
        std::string other;
        std::string type, name;
    } seen{0, false, "", object.type, object.name};
    auto callback = [](void* self, int code, const char* a, const char*, const char* database, const char*) -> int {
        auto* state = static_cast<Seen*>(self);
        const char* kind = code == SQLITE_CREATE_TABLE ? "table" : code == SQLITE_CREATE_INDEX ? "index"
                           : code == SQLITE_CREATE_TRIGGER ? "trigger" : code == SQLITE_CREATE_VIEW ? "view" : nullptr;
        // What SQLite creates along with a table: the index behind a UNIQUE or PRIMARY KEY
        // constraint, and sqlite_sequence for the first AUTOINCREMENT.
        if (code == SQLITE_CREATE_INDEX && a && std::string_view(a).starts_with("sqlite_autoindex_")) return SQLITE_OK;
        if (code == SQLITE_CREATE_TABLE && a && std::string_view(a) == "sqlite_sequence") return SQLITE_OK;
        if (kind) {
            ++state->creates;
            state->matches = state->type == kind && a && state->name == a && database && std::string_view(database) == "main";
            return SQLITE_OK;
        }
        switch (code) {
        case SQLITE_READ: case SQLITE_SELECT: case SQLITE_FUNCTION: case SQLITE_INSERT: case SQLITE_UPDATE:
        case SQLITE_DELETE: case SQLITE_RECURSIVE: case SQLITE_REINDEX:
            return SQLITE_OK; // inside a view, trigger body, CHECK or default
        default:
            if (state->other.empty())
                state->other = code == SQLITE_CREATE_VTABLE ? "a virtual table, which dump cannot copy: back it up instead"
                                                            : "SQLite authorizer action " + std::to_string(code);
            return SQLITE_DENY;
        }
    };
    auto refuse = [&](const std::string& why) {
        return corrupt_error("the schema of " + object.type + " " + object.name + " is not one CREATE " + object.type +
                             " statement (" + why + "): the database was crafted or damaged, and dump will not copy "
                             "its SQL. Check it with PRAGMA integrity_check, or restore a backup");
    };
    if (object.sql.find('\0') != std::string::npos) throw refuse("it holds a NUL byte");
    sqlite3_set_authorizer(scratch, callback, &seen);
    sqlite3_stmt* statement = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v2(scratch, object.sql.c_str(), static_cast<int>(object.sql.size()), &statement, &tail);
    sqlite3_set_authorizer(scratch, nullptr, nullptr);
    const std::string message = sqlite3_errmsg(scratch);
    if (rc != SQLITE_OK || !statement) {
        sqlite3_finalize(statement);
        throw refuse(!seen.other.empty() ? "it does more than create (" + seen.other + ")" : message);
    }
    if (tail && persist::detail::has_content(tail)) {
        sqlite3_finalize(statement);
        throw refuse("more SQL follows the CREATE");
    }
    if (seen.creates != 1 || !seen.matches) {
        sqlite3_finalize(statement);
        throw refuse("it creates something else");
    }
    const int stepped = sqlite3_step(statement);
    sqlite3_finalize(statement);
    if (stepped != SQLITE_DONE) throw refuse(sqlite3_errmsg(scratch));
}

/// The columns of `table` a dump writes: every column but generated ones (which SQLite
/// computes, and refuses values for), from PRAGMA table_xinfo.
inline std::vector<std::string> stored_columns(sqlite3* db, const std::string& table) {
    std::vector<std::string> columns;
    each_row(db, "SELECT name, hidden FROM pragma_table_xinfo(" + persist::detail::single_quote(table) + ")",
             [&](sqlite3_stmt* s) {
                 if (sqlite3_column_int(s, 1) == 0) columns.push_back(column_text(s, 0));
             });
    return columns;
}

} // namespace detail

/// What dump_text() and dump() wrote.
struct DumpResult {
    std::string path;                                ///< empty for dump_text()
    std::string text;                                ///< the SQL (dump_text() only)
    std::map<std::string, std::int64_t> row_counts;  ///< rows written per table
};

/// `store`'s database as SQL text: the CREATE statements of the tables, their rows as
/// INSERTs, then indexes, triggers and views, all read in one read transaction. The text
/// holds no BEGIN/COMMIT; load() runs it in one transaction. Thread-safety: as Store::read.
template <SqliteStoreType Store>
DumpResult dump_text(Store& store) {
    DumpResult result;
    std::string& text = result.text;
    text = "-- persist dump of " + store.path() + ", " + format_time(std::chrono::system_clock::now()) + ", persist " +
           PERSIST_VERSION_STRING + "\n";
    store.read([&](auto& tx) {
        sqlite3* db = tx.connection().handle();
        std::vector<detail::SchemaObject> tables, later;
        detail::each_row(db, "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid",
                         [&](sqlite3_stmt* s) {
                             detail::SchemaObject object{detail::column_text(s, 0), detail::column_text(s, 1),
                                                         detail::column_text(s, 2), detail::column_text(s, 3)};
                             if (object.name.rfind("sqlite_", 0) == 0) return; // created by SQLite itself
                             (object.type == "table" ? tables : later).push_back(std::move(object));
                         });
        // Every CREATE is checked to be exactly itself before any of it is written.
        detail::Handle scratch;
        if (sqlite3_open_v2(":memory:", &scratch.db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
            throw io_error("cannot open an in-memory database to check the schema");
        distrust_schema(scratch.db);
        for (const auto& object : tables) detail::check_schema_object(scratch.db, object);
        for (const auto& object : later) detail::check_schema_object(scratch.db, object);

        for (const auto& object : tables) text += object.sql + ";\n";
        std::vector<std::string> with_rows;
        for (const auto& object : tables) with_rows.push_back(object.name);
        bool has_sequence = false;
        detail::each_row(db, "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'", [&](sqlite3_stmt*) { has_sequence = true; });
        if (has_sequence) with_rows.push_back("sqlite_sequence");
        for (const auto& name : with_rows) {
            const std::string quoted = persist::detail::double_quote(name);
            std::string columns;
            for (const auto& column : detail::stored_columns(db, name)) {
                // Appended piece by piece: GCC 12 at -O2 reports a bogus -Wrestrict for
                // "literal" + std::string&& here (GCC bug 105329).
                if (!columns.empty()) columns += ',';
                columns += persist::detail::double_quote(column);
            }
            if (columns.empty()) continue;
            std::int64_t count = 0;
            // AUTOINCREMENT inserts above fill sqlite_sequence already; keep only the dumped values.
            if (name == "sqlite_sequence") text += "DELETE FROM sqlite_sequence;\n";
            const std::string insert = "INSERT INTO " + quoted + "(" + columns + ") VALUES(";
            detail::each_row(db, "SELECT " + columns + " FROM " + quoted, [&](sqlite3_stmt* s) {
                text += insert;
                for (int i = 0; i < sqlite3_column_count(s); ++i) {
                    if (i) text += ',';
                    text += detail::sql_literal(s, i);
                }
                text += ");\n";
                ++count;
            });
            if (name != "sqlite_sequence") result.row_counts[name] = count;
        }
        for (const auto& object : later) text += object.sql + ";\n";
    });
    return result;
}

/// dump_text() written to `path`, replacing it atomically: a temporary file made exclusively
/// (0600) beside it, fsync, rename (which replaces a symlink at `path` rather than following
/// it), fsync of the directory. Throws io_error or permission_error when the file cannot be
/// written; `path` then holds what it held before. Thread-safety: as Store::read.
template <SqliteStoreType Store>
DumpResult dump(Store& store, const std::string& path) {
    DumpResult result = dump_text(store);
    persist::detail::sweep_leftovers(persist::detail::directory_of(path),
                                     std::filesystem::path(path).filename().string());
    persist::detail::write_file_atomically(path, result.text);
    result.text.clear();
    result.path = path;
    return result;
}

/// The largest dump load() reads (2 GiB): it reads the whole text before running it.
inline constexpr std::size_t max_dump_bytes = std::size_t{2} << 30;

/// Runs the SQL text of a dump at `path` against `store`'s database in one write transaction,
/// one prepared statement at a time under the authorizer of persist/sqlite/script.hpp: a dump
/// may create and fill tables, never control the transaction, attach files, vacuum or set
/// PRAGMAs. The database must hold no tables yet, so nothing is mixed: throws usage_error
/// naming them otherwise. A refused statement (usage_error) or one that fails (the mapped
/// persist error, with the statement) rolls everything back. Throws io_error if the file
/// cannot be read, usage_error if it is not a regular file, is larger than max_dump_bytes or
/// holds a NUL byte.
/// Thread-safety: as Store::write.
template <SqliteStoreType Store>
void load(Store& store, const std::string& path) {
    const auto read = persist::detail::read_regular_file(path, max_dump_bytes);
    switch (read.status) {
    case persist::detail::FileRead::Status::ok: break;
    case persist::detail::FileRead::Status::missing: throw io_error("cannot read dump " + path + ": no such file", ENOENT);
    case persist::detail::FileRead::Status::not_regular: throw usage_error("dump " + path + " is not a regular file");
    case persist::detail::FileRead::Status::too_large:
        throw usage_error("dump " + path + " is larger than " + std::to_string(max_dump_bytes >> 30) +
                          " GiB; load() reads a dump whole, so restore a backup instead");
    case persist::detail::FileRead::Status::unreadable:
        throw io_error("cannot read dump " + path + ": " + std::strerror(read.error), read.error);
    }
    const std::string& text = read.text;
    store.write([&](auto& tx) {
        const auto tables = detail::table_names(tx.connection().handle());
        if (!tables.empty()) {
            std::string names;
            for (const auto& name : tables) {
                if (!names.empty()) names += ", ";
                names += name;
            }
            throw usage_error("load() needs an empty database, but " + store.path() + " has tables (" + names +
                              "); load into a new database file, or restore a backup instead");
        }
        // Rows of a table may come before the rows they reference: check keys at COMMIT.
        tx.connection().run_script("PRAGMA defer_foreign_keys=ON");
        run_script(tx.connection().handle(), text, ScriptPlace::in_transaction, "dump " + path);
    });
}

} // namespace persist::sqlite
