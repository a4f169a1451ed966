// persist/dialect.hpp: how SQL text differs between backends, and the concept every
// backend's dialect satisfies. Rendering is pure string work, testable without a database.
#pragma once

#include "persist/error.hpp"

#include <concepts>
#include <span>
#include <string>
#include <string_view>

namespace persist {

/// Portable column kinds; each dialect names them in its own SQL.
/// uuid and json are text where the backend has no such type (SQLite), UUID and JSONB on
/// PostgreSQL.
enum class ColumnType { integer, real, text, blob, boolean, timestamp, uuid, json };

/// A Dialect renders the backend-specific pieces of SQL:
///   D::name                                   "sqlite", "postgres"
///   D::placeholder(n)                         the n-th (1-based) parameter marker
///   D::quote_identifier(name)                 a safely quoted identifier
///   D::type_name(ColumnType)                  the column type in DDL
///   D::upsert_clause(conflict, update)        the clause turning an INSERT into an upsert
///   D::autoincrement_clause()                 what follows a column whose values the database
///                                             generates (" AUTOINCREMENT", " GENERATED ... IDENTITY")
///   D::table_exists_sql()                     a query with one parameter (a table name) that
///                                             returns a row when that table exists
///   D::generated_primary_key()                a 64-bit integer primary key column type that the
///                                             database fills in when an insert leaves it out
///   D::has_rowid                              whether an insert's key can be read back after
///                                             it (SQLite's rowid); otherwise inserts that need
///                                             the key use RETURNING
template <class D>
concept Dialect = requires(int index, std::string_view name, ColumnType type,
                           std::span<const std::string_view> columns) {
    { D::name } -> std::convertible_to<std::string_view>;
    { D::placeholder(index) } -> std::convertible_to<std::string>;
    { D::quote_identifier(name) } -> std::convertible_to<std::string>;
    { D::type_name(type) } -> std::convertible_to<std::string_view>;
    { D::upsert_clause(columns, columns) } -> std::convertible_to<std::string>;
    { D::autoincrement_clause() } -> std::convertible_to<std::string_view>;
    { D::table_exists_sql() } -> std::convertible_to<std::string_view>;
    { D::generated_primary_key() } -> std::convertible_to<std::string_view>;
    { D::has_rowid } -> std::convertible_to<bool>;
};

namespace detail {

/// "name" with embedded quotes doubled. Throws usage_error for empty names or NUL bytes.
inline std::string double_quote(std::string_view name) {
    if (name.empty() || name.find('\0') != std::string_view::npos)
        throw usage_error("an SQL identifier must be non-empty and hold no NUL byte");
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

/// ON CONFLICT (...) DO UPDATE SET c = <excluded>.c, ... (or DO NOTHING without update
/// columns); the syntax SQLite (3.24+) and PostgreSQL (9.5+) share.
inline std::string on_conflict_clause(std::span<const std::string_view> conflict,
                                      std::span<const std::string_view> update,
                                      std::string_view excluded) {
    if (conflict.empty())
        throw usage_error("an upsert needs at least one conflict column (the unique key)");
    std::string clause = "ON CONFLICT (";
    for (std::size_t i = 0; i < conflict.size(); ++i)
        clause += (i ? ", " : "") + double_quote(conflict[i]);
    clause += ")";
    if (update.empty()) return clause + " DO NOTHING";
    clause += " DO UPDATE SET ";
    for (std::size_t i = 0; i < update.size(); ++i) {
        const auto column = double_quote(update[i]);
        clause += (i ? ", " : "") + column + " = " + std::string(excluded) + "." + column;
    }
    return clause;
}

} // namespace detail
} // namespace persist
