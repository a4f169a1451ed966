// persist/sqlite/catalog.hpp: reading a table's description from SQLite's catalog.
#pragma once

#include "persist/catalog.hpp"

#include <cstdint>
#include <string>
#include <tuple>

namespace persist::sqlite {

/// The table `table` as SQLite's catalog describes it (what ReadTransaction::describe_table
/// returns). Indexes are those made by CREATE INDEX (origin 'c').
template <class Tx>
TableDescription describe_table(Tx& tx, const std::string& table) {
    TableDescription live;
    live.exists = tx.template query_one<std::int64_t>("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", table).has_value();
    if (!live.exists) return live;
    for (auto& [name, type, not_null, pk] : tx.template query<std::tuple<std::string, std::string, std::int64_t, std::int64_t>>(
             "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)", table))
        live.columns.push_back({name, persist::detail::upper(type), not_null != 0, pk != 0});
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

} // namespace persist::sqlite
