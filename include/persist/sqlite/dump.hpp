// persist/sqlite/dump.hpp: the database as SQL text, and back.
//
//   persist::sqlite::dump(store, "app.sql");    // tables, rows, then indexes, triggers, views
//   persist::sqlite::load(fresh, "app.sql");    // into an empty database, in one transaction
//
// The dump is read in one read transaction (a consistent state while others write) and
// written through a temporary file and a rename. Values keep their storage class: integers,
// reals to 17 significant digits (they read back bit for bit), text quoted, blobs as X'..'.
#pragma once

#include "persist/error.hpp"
#include "persist/sqlite/backup.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <fstream>
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
        std::string literal = "'";
        for (int k = 0; k < size; ++k) literal += text[k] == '\'' ? std::string("''") : std::string(1, text[k]);
        return literal + "'";
    }
    }
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
template <class Store>
DumpResult dump_text(Store& store) {
    DumpResult result;
    std::string& text = result.text;
    text = "-- persist dump of " + store.path() + ", " + format_time(std::chrono::system_clock::now()) + ", persist " +
           PERSIST_VERSION_STRING + "\n";
    store.read([&](auto& tx) {
        sqlite3* db = tx.connection().handle();
        std::vector<std::pair<std::string, std::string>> tables, later;
        detail::each_row(db, "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid", [&](sqlite3_stmt* s) {
            const std::string name = detail::column_text(s, 1);
            if (name.rfind("sqlite_", 0) == 0) return; // created by SQLite itself
            (detail::column_text(s, 0) == "table" ? tables : later).emplace_back(name, detail::column_text(s, 2));
        });
        for (const auto& [name, sql] : tables) text += sql + ";\n";
        std::vector<std::string> with_rows;
        for (const auto& [name, sql] : tables) with_rows.push_back(name);
        bool has_sequence = false;
        detail::each_row(db, "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'", [&](sqlite3_stmt*) { has_sequence = true; });
        if (has_sequence) with_rows.push_back("sqlite_sequence");
        for (const auto& name : with_rows) {
            const std::string quoted = persist::detail::double_quote(name);
            std::int64_t count = 0;
            // AUTOINCREMENT inserts above fill sqlite_sequence already; keep only the dumped values.
            if (name == "sqlite_sequence") text += "DELETE FROM sqlite_sequence;\n";
            detail::each_row(db, "SELECT * FROM " + quoted, [&](sqlite3_stmt* s) {
                text += "INSERT INTO " + quoted + " VALUES(";
                for (int i = 0; i < sqlite3_column_count(s); ++i) {
                    if (i) text += ',';
                    text += detail::sql_literal(s, i);
                }
                text += ");\n";
                ++count;
            });
            if (name != "sqlite_sequence") result.row_counts[name] = count;
        }
        for (const auto& [name, sql] : later) text += sql + ";\n";
    });
    return result;
}

/// dump_text() written to `path`, replacing it atomically (temporary file, fsync, rename).
/// Throws io_error when the file cannot be written. Thread-safety: as Store::read.
template <class Store>
DumpResult dump(Store& store, const std::string& path) {
    DumpResult result = dump_text(store);
    detail::write_file_atomically(path, result.text);
    result.text.clear();
    result.path = path;
    return result;
}

/// Runs the SQL text of a dump at `path` against `store`'s database in one write transaction.
/// The database must hold no tables yet, so nothing is mixed: throws usage_error naming them
/// otherwise. A statement that fails rolls everything back (the mapped persist error, with
/// the statement). Throws io_error if the file cannot be read. Thread-safety: as Store::write.
template <class Store>
void load(Store& store, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error("cannot read dump " + path + ": " + std::strerror(errno));
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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
        tx.execute_script("PRAGMA defer_foreign_keys=ON;\n" + text);
    });
}

} // namespace persist::sqlite
