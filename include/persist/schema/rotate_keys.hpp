// persist/schema/rotate_keys.hpp: re-encrypting a table's encrypted columns under the
// keyring's current key, in batches, after a new key was added (see persist/crypto/keyring.hpp).
#pragma once

#include "persist/error.hpp"
#include "persist/schema/operations.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace persist::schema {

/// What rotate_keys did.
struct RotationReport {
    std::size_t rows_seen = 0;       ///< rows of the table read (soft-deleted ones included)
    std::size_t rows_rewritten = 0;  ///< rows with a value under an older key, now under the current one
};

namespace detail {
// Rewrites the rows of `keys` (stored primary keys) whose encrypted values are not under the
// current key; returns how many.
template <class T, class D, class Tx, class KeyTuple>
std::size_t rotate_batch(Tx& tx, const std::vector<KeyTuple>& keys, std::size_t first, std::size_t last) {
    using Sealed = typename sealed_columns<typename T::columns>::type;
    static const std::string select = "SELECT " + Sql<T, D>::all_columns() + " FROM " + Sql<T, D>::table() +
                                      " WHERE " + Sql<T, D>::key_condition();
    static const std::string update = [] {
        std::string sets;
        int index = 0;
        for (const auto& column : T::column_infos)
            if (column.sealed) sets += (sets.empty() ? "" : ", ") + D::quote_identifier(column.name) + " = " + D::placeholder(++index);
        return "UPDATE " + Sql<T, D>::table() + " SET " + sets + " WHERE " + Sql<T, D>::key_condition(index);
    }();
    const std::uint32_t current = tx.keyring() ? tx.keyring()->current() : 0;
    std::size_t rewritten = 0;
    for (std::size_t i = first; i < last; ++i) {
        const auto rows = read_rows<T>(tx, select, keys[i]);
        if (rows.empty()) continue; // deleted meanwhile
        const auto& row = rows.front();
        const bool stale = apply_types<Sealed>([&](auto... column) {
            return (is_stale(row.*(decltype(column)::member), current) || ...);
        });
        if (!stale) continue;
        apply_types<Sealed>([&](auto... column) {
            std::apply([&](const auto&... key) { tx.execute(update, bound_value<T, decltype(column)>(tx, row)..., key...); },
                       keys[i]);
        });
        ++rewritten;
    }
    return rewritten;
}
} // namespace detail

/// Re-encrypts every value of T's encrypted columns that is not under the keyring's current
/// key (soft-deleted rows too), `batch` rows per write transaction, so that the other keys can
/// then be dropped. Safe to run while the application writes (each row is read again inside its
/// batch's transaction) and to run again after an interruption: rows already rewritten are
/// skipped. Nothing else of a row changes (not even updated_at). Throws decryption_error for a
/// value no key of the keyring opens, which is left as it was, with the batches before it
/// committed; usage_error for a batch of 0.
template <TableType T, class S>
RotationReport rotate_keys(S& store, std::size_t batch = 100) {
    static_assert(T::has_sealed_columns, "persist: rotate_keys needs a table with an encrypted column");
    if (batch == 0) throw usage_error("rotate_keys: the batch size must be at least 1");
    using D = typename S::backend_type::dialect;
    using Keys = typename detail::key_columns<typename T::columns>::type;
    using KeyTuple = typename detail::stored_tuple<Keys>::type;
    static const std::string list = "SELECT " + detail::Sql<T, D>::names(true, false, false) + " FROM " +
                                    detail::Sql<T, D>::table() + " ORDER BY " + detail::Sql<T, D>::names(true, false, false);
    std::vector<KeyTuple> keys = store.read([](typename S::read_transaction& tx) {
        std::vector<KeyTuple> found;
        tx.template for_each<KeyTuple>(list, [&](KeyTuple key) { found.push_back(std::move(key)); });
        return found;
    });
    RotationReport report;
    for (std::size_t first = 0; first < keys.size(); first += batch) {
        const std::size_t last = std::min(keys.size(), first + batch);
        report.rows_rewritten += store.write([&](typename S::write_transaction& tx) {
            return detail::rotate_batch<T, D>(tx, keys, first, last);
        });
        report.rows_seen += last - first;
    }
    return report;
}

} // namespace persist::schema
