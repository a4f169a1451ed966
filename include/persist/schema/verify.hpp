// persist/schema/verify.hpp: comparing a Schema with a live database.
#pragma once

#include "persist/detail/checks.hpp"
#include "persist/error.hpp"
#include "persist/schema/schema.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace persist::schema {

namespace detail {
inline std::string upper(std::string text) {
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

// What the database says of one table, whatever the backend.
struct LiveTable {
    bool exists = false;
    struct Column {
        std::string name, type;
        bool not_null = false, primary_key = false;
    };
    std::vector<Column> columns;
    std::set<std::string> foreign_keys; // "column -> table.column ON DELETE x ON UPDATE y"
    std::set<std::string> indexes;      // "name [UNIQUE ](a,b)", created by CREATE INDEX only
};

template <class Tx>
LiveTable read_sqlite_table(Tx& tx, const std::string& table) {
    LiveTable live;
    live.exists = tx.template query_one<std::int64_t>("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", table).has_value();
    if (!live.exists) return live;
    for (auto& [name, type, not_null, pk] : tx.template query<std::tuple<std::string, std::string, std::int64_t, std::int64_t>>(
             "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)", table))
        live.columns.push_back({name, upper(type), not_null != 0, pk != 0});
    for (auto& [from, target, to, on_delete, on_update] :
         tx.template query<std::tuple<std::string, std::string, std::string, std::string, std::string>>(
             "SELECT \"from\", \"table\", \"to\", on_delete, on_update FROM pragma_foreign_key_list(?)", table))
        live.foreign_keys.insert(from + " -> " + target + "." + to + " ON DELETE " + on_delete + " ON UPDATE " + on_update);
    for (auto& [name, is_unique] : tx.template query<std::tuple<std::string, std::int64_t>>(
             "SELECT name, \"unique\" FROM pragma_index_list(?) WHERE origin = 'c'", table)) {
        std::string names;
        for (auto& column : tx.template query<std::string>("SELECT name FROM pragma_index_info(?) ORDER BY seqno", name)) {
            if (!names.empty()) names += ',';
            names += column;
        }
        live.indexes.insert(name + (is_unique ? " UNIQUE (" : " (") + names + ")");
    }
    return live;
}

// From PostgreSQL's catalogs, for the table of that name in the current schema. Indexes that
// back a constraint (primary key, UNIQUE columns) are left out, as SQLite's origin = 'c' does.
template <class Tx>
LiveTable read_postgres_table(Tx& tx, const std::string& table) {
    LiveTable live;
    const auto oid = tx.template query_one<std::int64_t>(
        "SELECT c.oid::bigint FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND c.relname = $1 AND n.nspname = current_schema()", table);
    live.exists = oid.has_value();
    if (!live.exists) return live;
    for (auto& [name, type, not_null, pk] : tx.template query<std::tuple<std::string, std::string, bool, bool>>(
             "SELECT a.attname, upper(format_type(a.atttypid, NULL)), a.attnotnull, EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
             "WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY (i.indkey)) "
             "FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::bigint::oid AND a.attnum > 0 AND NOT a.attisdropped "
             "ORDER BY a.attnum", *oid))
        live.columns.push_back({name, type, not_null, pk});
    static const std::string action =
        "WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' "
        "WHEN 'd' THEN 'SET DEFAULT' END";
    static const std::string keys_sql =
        "SELECT a.attname || ' -> ' || t.relname || '.' || fa.attname || ' ON DELETE ' || CASE c.confdeltype " + action +
        " || ' ON UPDATE ' || CASE c.confupdtype " + action +
        " FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = "
        "c.conkey[1] JOIN pg_catalog.pg_class t ON t.oid = c.confrelid JOIN pg_catalog.pg_attribute fa ON "
        "fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1] WHERE c.contype = 'f' AND c.conrelid = $1::bigint::oid";
    for (auto& text : tx.template query<std::string>(keys_sql, *oid)) live.foreign_keys.insert(text);
    for (auto& text : tx.template query<std::string>(
             "SELECT ic.relname || CASE WHEN i.indisunique THEN ' UNIQUE (' ELSE ' (' END || (SELECT string_agg(a.attname, ',' "
             "ORDER BY k.ord) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) JOIN pg_catalog.pg_attribute a "
             "ON a.attrelid = i.indrelid AND a.attnum = k.attnum) || ')' FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic "
             "ON ic.oid = i.indexrelid WHERE i.indrelid = $1::bigint::oid AND NOT EXISTS (SELECT 1 FROM "
             "pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid)",
             *oid))
        live.indexes.insert(text);
    return live;
}

template <class D, class Tx>
void verify_table(Tx& tx, std::string_view table_name, std::span<const ColumnInfo> columns,
                  std::span<const ForeignKeyInfo> foreign_keys, std::span<const IndexInfo> indexes,
                  std::vector<std::string>& differences) {
    const std::string table(table_name);
    LiveTable live;
    if constexpr (D::name == std::string_view("postgres")) live = read_postgres_table(tx, table);
    else live = read_sqlite_table(tx, table);
    if (!live.exists) {
        differences.push_back("table " + table + " is missing");
        return;
    }
    std::set<std::string> described;
    for (const auto& column : columns) {
        const std::string name(column.name);
        described.insert(name);
        const auto found = std::find_if(live.columns.begin(), live.columns.end(), [&](const auto& c) { return c.name == name; });
        const std::string where = "column " + table + "." + name;
        if (found == live.columns.end()) {
            differences.push_back(where + " is missing");
            continue;
        }
        const std::string expected(D::type_name(column.type));
        if (found->type != expected) differences.push_back(where + " has type " + found->type + ", expected " + expected);
        if (found->not_null != !column.nullable)
            differences.push_back(where + (column.nullable ? " is NOT NULL, expected nullable" : " is nullable, expected NOT NULL"));
        if (found->primary_key != column.primary_key)
            differences.push_back(where + (column.primary_key ? " is not in the primary key, expected it to be"
                                                              : " is in the primary key, expected it not to be"));
    }
    for (const auto& info : live.columns)
        if (!described.count(info.name))
            differences.push_back("column " + table + "." + info.name + " is in the database but not described");

    std::set<std::string> expected_keys;
    for (const auto& key : foreign_keys)
        expected_keys.insert(std::string(key.column) + " -> " + std::string(key.table) + "." + std::string(key.target_column) +
                             " ON DELETE " + action_sql(key.on_delete) + " ON UPDATE " + action_sql(key.on_update));
    for (const auto& key : expected_keys)
        if (!live.foreign_keys.count(key)) differences.push_back("foreign key " + table + "." + key + " is missing");
    for (const auto& key : live.foreign_keys)
        if (!expected_keys.count(key)) differences.push_back("foreign key " + table + "." + key + " is in the database but not described");

    std::set<std::string> expected_indexes;
    for (const auto& index : indexes) {
        std::string names;
        for (std::size_t i = 0; i < index.column_count; ++i) {
            if (i) names += ',';
            names += index.columns[i];
        }
        expected_indexes.insert(std::string(index.name) + (index.unique ? " UNIQUE (" : " (") + names + ")");
    }
    for (const auto& index : expected_indexes)
        if (!live.indexes.count(index)) differences.push_back("index " + index + " on " + table + " is missing or differs");
    for (const auto& index : live.indexes)
        if (!expected_indexes.count(index)) differences.push_back("index " + index + " on " + table + " is in the database but not described");
}
} // namespace detail

/// Every difference between schema `S` and the database seen by transaction `tx`: missing
/// tables and columns, columns with another type, nullability or primary-key membership,
/// undescribed columns, and foreign keys and indexes that are missing, different or extra.
/// Tables the schema does not describe are not reported. Empty when they agree.
template <SchemaType S, class Tx>
std::vector<std::string> verify(Tx& tx) {
    using D = typename Tx::dialect;
    std::vector<std::string> differences;
    std::apply([&](auto... table) {
        (detail::verify_table<D>(tx, decltype(table)::name, decltype(table)::column_infos,
                                 S::template foreign_keys<decltype(table)>, decltype(table)::index_infos, differences),
         ...);
    }, typename S::tables{});
    return differences;
}

/// Refuses to go on when the database differs from schema `S`: call it right after opening
/// the Store. Throws schema_error listing every difference.
template <SchemaType S, AnyStore StoreType>
void require(StoreType& store) {
    const auto differences = store.read([](auto& tx) { return verify<S>(tx); });
    if (differences.empty()) return;
    std::string message = "database " + store.path() + " does not match the schema (" + std::to_string(differences.size()) +
                          " difference(s)):";
    for (const auto& difference : differences) message += "\n  " + difference;
    throw schema_error(message + "\nMigrate the database, or fix the descriptors");
}

namespace detail {
template <class S>
consteval bool check_schema() {
    constexpr bool is_schema = SchemaType<S>;
    static_assert(is_schema, "persist: verify<S> and require<S> take a schema, and 'S' above is not one: pass "
                             "persist::schema::Schema<Tables...> (for one table, Schema<Users>)");
    return is_schema;
}
} // namespace detail

// Not a schema (verify<Users> for a table): one short error that says so.
template <class S, class Tx>
    requires(!SchemaType<S>)
std::vector<std::string> verify(Tx&) {
    (void)detail::check_schema<S>();
    return {};
}
template <class S, class StoreType>
    requires(!SchemaType<S>)
void require(StoreType&) {
    (void)detail::check_schema<S>();
}

} // namespace persist::schema
