// persist/schema/verify.hpp: comparing a Schema with a live database.
#pragma once

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

template <class D, class Tx>
void verify_table(Tx& tx, std::string_view table_name, std::span<const ColumnInfo> columns,
                  std::span<const ForeignKeyInfo> foreign_keys, std::span<const IndexInfo> indexes,
                  std::vector<std::string>& differences) {
    const std::string table(table_name);
    if (!tx.template query_one<std::int64_t>("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", table)) {
        differences.push_back("table " + table + " is missing");
        return;
    }
    using Info = std::tuple<std::string, std::string, std::int64_t, std::int64_t>;
    const auto live = tx.template query<Info>("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)", table);
    std::set<std::string> described;
    for (const auto& column : columns) {
        const std::string name(column.name);
        described.insert(name);
        const auto found = std::find_if(live.begin(), live.end(), [&](const Info& i) { return std::get<0>(i) == name; });
        const std::string where = "column " + table + "." + name;
        if (found == live.end()) {
            differences.push_back(where + " is missing");
            continue;
        }
        const std::string expected(D::type_name(column.type));
        if (upper(std::get<1>(*found)) != expected)
            differences.push_back(where + " has type " + std::get<1>(*found) + ", expected " + expected);
        if ((std::get<2>(*found) != 0) != !column.nullable)
            differences.push_back(where + (column.nullable ? " is NOT NULL, expected nullable" : " is nullable, expected NOT NULL"));
        if ((std::get<3>(*found) != 0) != column.primary_key)
            differences.push_back(where + (column.primary_key ? " is not in the primary key, expected it to be"
                                                              : " is in the primary key, expected it not to be"));
    }
    for (const auto& info : live)
        if (!described.count(std::get<0>(info)))
            differences.push_back("column " + table + "." + std::get<0>(info) + " is in the database but not described");

    std::set<std::string> expected_keys, live_keys;
    for (const auto& key : foreign_keys)
        expected_keys.insert(std::string(key.column) + " -> " + std::string(key.table) + "." + std::string(key.target_column) +
                             " ON DELETE " + action_sql(key.on_delete) + " ON UPDATE " + action_sql(key.on_update));
    for (auto& [from, target, to, on_delete, on_update] :
         tx.template query<std::tuple<std::string, std::string, std::string, std::string, std::string>>(
             "SELECT \"from\", \"table\", \"to\", on_delete, on_update FROM pragma_foreign_key_list(?)", table))
        live_keys.insert(from + " -> " + target + "." + to + " ON DELETE " + on_delete + " ON UPDATE " + on_update);
    for (const auto& key : expected_keys)
        if (!live_keys.count(key)) differences.push_back("foreign key " + table + "." + key + " is missing");
    for (const auto& key : live_keys)
        if (!expected_keys.count(key)) differences.push_back("foreign key " + table + "." + key + " is in the database but not described");

    std::set<std::string> expected_indexes, live_indexes;
    for (const auto& index : indexes) {
        std::string names;
        for (std::size_t i = 0; i < index.column_count; ++i) {
            if (i) names += ',';
            names += index.columns[i];
        }
        expected_indexes.insert(std::string(index.name) + (index.unique ? " UNIQUE (" : " (") + names + ")");
    }
    for (auto& [name, is_unique] : tx.template query<std::tuple<std::string, std::int64_t>>(
             "SELECT name, \"unique\" FROM pragma_index_list(?) WHERE origin = 'c'", table)) {
        std::string names;
        for (auto& column : tx.template query<std::string>("SELECT name FROM pragma_index_info(?) ORDER BY seqno", name)) {
            if (!names.empty()) names += ',';
            names += column;
        }
        live_indexes.insert(name + (is_unique ? " UNIQUE (" : " (") + names + ")");
    }
    for (const auto& index : expected_indexes)
        if (!live_indexes.count(index)) differences.push_back("index " + index + " on " + table + " is missing or differs");
    for (const auto& index : live_indexes)
        if (!expected_indexes.count(index)) differences.push_back("index " + index + " on " + table + " is in the database but not described");
}
} // namespace detail

/// Every difference between schema `S` and the database seen by transaction `tx`: missing
/// tables and columns, columns with another type, nullability or primary-key membership,
/// undescribed columns, and foreign keys and indexes that are missing, different or extra.
/// Tables the schema does not describe are not reported. Empty when they agree.
template <class S, class Tx>
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
template <class S, class StoreType>
void require(StoreType& store) {
    const auto differences = store.read([](auto& tx) { return verify<S>(tx); });
    if (differences.empty()) return;
    std::string message = "database " + store.path() + " does not match the schema (" + std::to_string(differences.size()) +
                          " difference(s)):";
    for (const auto& difference : differences) message += "\n  " + difference;
    throw schema_error(message + "\nMigrate the database, or fix the descriptors");
}

} // namespace persist::schema
