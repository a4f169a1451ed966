// persist/sqlite/dialect.hpp: SQLite's SQL spelling.
#pragma once

#include "persist/dialect.hpp"
#include "persist/sqlite/script.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace persist::sqlite {

struct Dialect {
    static constexpr std::string_view name = "sqlite";

    /// SQLite numbers "?" markers by position, so every marker is "?".
    static std::string placeholder(int) { return "?"; }

    static std::string quote_identifier(std::string_view identifier) {
        return detail::double_quote(identifier);
    }

    /// Booleans are 0/1 integers; time points are ISO 8601 text (see persist/value.hpp);
    /// UUIDs (36-character form) and JSON documents are text.
    static std::string_view type_name(ColumnType type) {
        switch (type) {
        case ColumnType::integer: return "INTEGER";
        case ColumnType::real: return "REAL";
        case ColumnType::text: return "TEXT";
        case ColumnType::blob: return "BLOB";
        case ColumnType::boolean: return "INTEGER";
        case ColumnType::timestamp: return "TEXT";
        case ColumnType::uuid: return "TEXT";
        case ColumnType::json: return "TEXT";
        }
        return "BLOB";
    }

    /// Keys are never reused, even after the newest row is deleted.
    static std::string_view autoincrement_clause() { return " AUTOINCREMENT"; }

    /// An alias of the rowid, which SQLite fills in.
    static std::string_view generated_primary_key() { return "INTEGER PRIMARY KEY"; }

    static std::string_view table_exists_sql() { return "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?"; }

    /// sqlite3_last_insert_rowid() gives an insert's key.
    static constexpr bool has_rowid = true;

    /// Why SQL text from a file may not run at `place` (see persist/sqlite/script.hpp), found
    /// without a database; empty when nothing is wrong.
    static std::vector<std::string> script_problems(std::string_view script, persist::detail::ScriptPlace place) {
        return sqlite::script_problems(script, place);
    }

    static std::string upsert_clause(std::span<const std::string_view> conflict,
                                     std::span<const std::string_view> update) {
        return detail::on_conflict_clause(conflict, update, "excluded");
    }
};

static_assert(persist::Dialect<Dialect>);

} // namespace persist::sqlite
