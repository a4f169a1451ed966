// persist CLI: rotate-keys, re-encrypting encrypted columns (persist::Encrypted) under the
// keyring's current key without the application's table descriptors. It finds the primary key
// in the catalog and binds each value to the row the way the typed operations do: table,
// column and each key value's text form (the typed operations bind integers as decimal text,
// text and UUIDs as their canonical text; BLOB, BYTEA and boolean keys are refused here).
#pragma once
#include <persist/crypto/encrypted.hpp>
#include <persist/schema/binding.hpp>

#include "output.hpp"

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace persist_cli {

struct Rotation {
    std::size_t rows_seen = 0;
    std::size_t rows_rewritten = 0;
};

/// Rewrites every value of `columns` of `table` that is not under ring's current key, `batch`
/// rows per transaction. Throws std::invalid_argument for a table, column or key it cannot
/// handle; decryption_error for a value no key opens (batches before it stay committed).
template <class StoreT>
Rotation rotate_columns(StoreT& store, const std::string& table, const std::vector<std::string>& columns,
                        std::size_t batch, const persist::crypto::Keyring& ring) {
    using D = typename StoreT::backend_type::dialect;
    using ReadTx = typename StoreT::read_transaction;
    using WriteTx = typename StoreT::write_transaction;
    const auto description = store.read([&](ReadTx& tx) { return tx.describe_table(table); });
    if (!description.exists) throw std::invalid_argument("there is no table " + table);
    std::vector<std::string> keys;
    for (const auto& column : description.columns) {
        if (!column.primary_key) continue;
        if (column.type == "BLOB" || column.type == "BYTEA" || column.type.rfind("BOOL", 0) == 0)
            throw std::invalid_argument("table " + table + " is keyed by " + column.name + " (" + column.type +
                                        "); rotate-keys handles integer and text keys: use persist::schema::rotate_keys");
        keys.push_back(column.name);
    }
    if (keys.empty()) throw std::invalid_argument("table " + table + " has no primary key, so no encrypted column");
    for (const auto& name : columns) {
        bool found = false;
        for (const auto& column : description.columns)
            if (column.name == name) {
                found = true;
                if (column.primary_key || (column.type != "BLOB" && column.type != "BYTEA"))
                    throw std::invalid_argument("column " + table + "." + name + " (" + column.type +
                                                ") cannot hold encrypted values; they are BLOB (BYTEA) columns");
            }
        if (!found) throw std::invalid_argument("table " + table + " has no column " + name);
    }
    std::string key_list, key_text, key_condition, selected;
    int index = static_cast<int>(columns.size());
    for (const auto& key : keys) {
        key_list += (key_list.empty() ? "" : ", ") + D::quote_identifier(key);
        key_text += (key_text.empty() ? "CAST(" : ", CAST(") + D::quote_identifier(key) + " AS TEXT)";
        key_condition += (key_condition.empty() ? "" : " AND ") + D::quote_identifier(key) + " = " + D::placeholder(++index);
    }
    std::string sets;
    for (std::size_t i = 0; i < columns.size(); ++i) {
        selected += (selected.empty() ? "" : ", ") + D::quote_identifier(columns[i]);
        sets += (sets.empty() ? "" : ", ") + D::quote_identifier(columns[i]) + " = " + D::placeholder(static_cast<int>(i) + 1);
    }
    // The SELECT numbers the key placeholders from 1.
    std::string select_condition;
    for (std::size_t i = 0; i < keys.size(); ++i)
        select_condition += (i ? " AND " : "") + D::quote_identifier(keys[i]) + " = " + D::placeholder(static_cast<int>(i) + 1);
    const std::string list = "SELECT " + key_text + " FROM " + D::quote_identifier(table) + " ORDER BY " + key_list;
    const std::string select = "SELECT " + selected + " FROM " + D::quote_identifier(table) + " WHERE " + select_condition;
    const std::string update = "UPDATE " + D::quote_identifier(table) + " SET " + sets + " WHERE " + key_condition;

    std::vector<std::vector<std::string>> rows = store.read([&](ReadTx& tx) {
        std::vector<std::vector<std::string>> found;
        tx.for_each_row(list, [&](const auto& view) {
            std::vector<std::string> key;
            for (int i = 0; i < view.size(); ++i) key.push_back(view.template get<std::string>(i));
            found.push_back(std::move(key));
        });
        return found;
    });
    Rotation report;
    for (std::size_t first = 0; first < rows.size(); first += batch) {
        const std::size_t last = std::min(rows.size(), first + batch);
        report.rows_rewritten += store.write([&](WriteTx& tx) {
            std::size_t rewritten = 0;
            for (std::size_t r = first; r < last; ++r) {
                persist::schema::SealContext where{table, {}, {}, "("};
                for (const auto& value : rows[r]) persist::schema::detail::append_key(where.key, where.row, value);
                where.row += ")";
                std::vector<std::optional<persist::Blob>> values;
                bool present = false;
                tx.for_each_row(select, [&](const auto& view) {
                    present = true;
                    for (int i = 0; i < view.size(); ++i) values.push_back(view.template get<std::optional<persist::Blob>>(i));
                }, persist::Many<std::string>{rows[r]});
                if (!present) continue; // deleted meanwhile
                bool stale = false;
                for (std::size_t c = 0; c < columns.size(); ++c) {
                    if (!values[c]) continue;
                    where.column = columns[c];
                    std::uint32_t key_id = 0;
                    auto plain = persist::crypto::open_value(&ring, where, *values[c], key_id);
                    if (key_id != ring.current()) {
                        values[c] = persist::crypto::seal_value(&ring, where, plain);
                        stale = true;
                    }
                    OPENSSL_cleanse(plain.data(), plain.size());
                }
                if (!stale) continue;
                tx.execute(update, persist::Many<std::optional<persist::Blob>>{values}, persist::Many<std::string>{rows[r]});
                ++rewritten;
            }
            return rewritten;
        });
        report.rows_seen += last - first;
    }
    return report;
}

} // namespace persist_cli
