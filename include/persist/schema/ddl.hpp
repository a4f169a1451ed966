// persist/schema/ddl.hpp: CREATE TABLE / CREATE INDEX text for described tables, per dialect.
// Deterministic: the same descriptor always gives the same text. Rendering works on the plain
// ColumnInfo / IndexInfo data of a table, so it is compiled once per dialect, not per table.
#pragma once

#include "persist/dialect.hpp"
#include "persist/schema/table.hpp"

#include <span>
#include <string>
#include <string_view>

namespace persist::schema {

/// A foreign key as plain data: column -> table(target_column).
struct ForeignKeyInfo {
    std::string_view column;
    std::string_view table;
    std::string_view target_column;
    Action on_delete = Action::no_action;
    Action on_update = Action::no_action;
};

namespace detail {
inline const char* action_sql(Action action) {
    switch (action) {
    case Action::no_action: return "NO ACTION";
    case Action::restrict: return "RESTRICT";
    case Action::cascade: return "CASCADE";
    case Action::set_null: return "SET NULL";
    case Action::set_default: return "SET DEFAULT";
    }
    return "NO ACTION";
}
} // namespace detail

/// CREATE TABLE IF NOT EXISTS `table` with `columns` and `foreign_keys`. A single primary key
/// column is declared inline (so an INTEGER PRIMARY KEY is SQLite's rowid); several form a
/// table constraint.
template <Dialect D>
std::string render_create_table(std::string_view table, std::span<const ColumnInfo> columns,
                                 std::span<const ForeignKeyInfo> foreign_keys = {}, std::string_view partition_column = {}) {
    int keys = 0;
    for (const auto& column : columns) keys += column.primary_key;
    std::string text = "CREATE TABLE IF NOT EXISTS " + D::quote_identifier(table) + " (";
    bool first = true;
    for (const auto& column : columns) {
        text += (first ? "" : ", ") + D::quote_identifier(column.name) + " " + std::string(D::type_name(column.type));
        first = false;
        if (!column.nullable) text += " NOT NULL";
        if (column.primary_key && keys == 1) text += " PRIMARY KEY";
        if (column.autoincrement) text += D::autoincrement_clause();
        if (column.unique) text += " UNIQUE";
        if (!column.default_sql.empty()) text += " DEFAULT (" + std::string(column.default_sql) + ")";
        if (!column.check_sql.empty()) text += " CHECK (" + std::string(column.check_sql) + ")";
        if (!column.collate_sql.empty()) text += " COLLATE " + std::string(column.collate_sql);
    }
    if (keys > 1) {
        text += ", PRIMARY KEY (";
        bool first_key = true;
        for (const auto& column : columns)
            if (column.primary_key) {
                text += (first_key ? "" : ", ") + D::quote_identifier(column.name);
                first_key = false;
            }
        text += ")";
    }
    for (const auto& key : foreign_keys)
        text += ", FOREIGN KEY (" + D::quote_identifier(key.column) + ") REFERENCES " + D::quote_identifier(key.table) + " (" +
                D::quote_identifier(key.target_column) + ") ON DELETE " + detail::action_sql(key.on_delete) + " ON UPDATE " +
                detail::action_sql(key.on_update);
    text += ")";
    if constexpr (requires { D::partition_by_range(partition_column); })
        if (!partition_column.empty()) text += D::partition_by_range(partition_column);
    return text;
}

/// Whether dialect D partitions tables (PostgreSQL); elsewhere monthly_partitions tables are
/// plain ones.
template <class D>
concept PartitioningDialect = requires(std::string_view name) {
    { D::partition_by_range(name) } -> std::convertible_to<std::string>;
    { D::create_default_partition(name, name) } -> std::convertible_to<std::string>;
    { D::create_partition(name, name, name, name, name, name) } -> std::convertible_to<std::string>;
    { D::partitions_sql() } -> std::convertible_to<std::string_view>;
};

/// The name of `table`'s default partition ("<table>_default").
inline std::string default_partition_name(std::string_view table) { return std::string(table) + "_default"; }

/// CREATE [UNIQUE] INDEX IF NOT EXISTS for `index` on `table`.
template <Dialect D>
std::string render_create_index(std::string_view table, const IndexInfo& index) {
    std::string text = std::string("CREATE ") + (index.unique ? "UNIQUE " : "") + "INDEX IF NOT EXISTS " +
                       D::quote_identifier(index.name) + " ON " + D::quote_identifier(table) + " (";
    for (std::size_t i = 0; i < index.column_count; ++i) text += (i ? ", " : "") + D::quote_identifier(index.columns[i]);
    text += ")";
    if (!index.where_sql.empty()) text += " WHERE " + std::string(index.where_sql);
    return text;
}

/// CREATE TABLE IF NOT EXISTS for `T` alone (foreign keys need the Schema: use
/// Schema::create_statements for tables that have them).
template <class T, Dialect D>
std::string create_table() {
    return render_create_table<D>(T::name, T::column_infos, {}, T::partition_column());
}

} // namespace persist::schema
