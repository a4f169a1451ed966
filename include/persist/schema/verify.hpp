// persist/schema/verify.hpp: comparing a Schema with a live database.
#pragma once

#include "persist/detail/checks.hpp"
#include "persist/catalog.hpp"
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
template <class D, class Tx>
void verify_table(Tx& tx, std::string_view table_name, std::span<const ColumnInfo> columns,
                  std::span<const ForeignKeyInfo> foreign_keys, std::span<const IndexInfo> indexes,
                  std::vector<std::string>& differences) {
    const std::string table(table_name);
    const TableDescription live = tx.describe_table(table);
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
    detail::apply_types<typename S::tables>([&](auto... table) {
        (detail::verify_table<D>(tx, decltype(table)::name, decltype(table)::column_infos,
                                 S::template foreign_keys<decltype(table)>, decltype(table)::index_infos, differences),
         ...);
    });
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
