// persist/schema/binding.hpp: how the typed operations turn a row's members into bound values
// and read values back into members, sealed (encrypted) columns included. A sealed column is
// bound to its table, column and row key, so it is sealed from the whole row and opened after
// the row's other columns are read. Tables without sealed columns
// compile to what they did before. The cryptography itself is column_type<Encrypted<T>>'s
// (persist/crypto/encrypted.hpp), reached through the transaction's keyring().
#pragma once

#include "persist/schema/table.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace persist::schema::detail {

// The value bound for column C of `row`: the stored form, or an optional of it.
template <class C>
auto stored_value(const typename C::row_type& row) {
    const auto& member = row.*(C::member);
    using traits = column_type<typename C::value_type>;
    using Stored = std::remove_cvref_t<decltype(traits::to_stored(std::declval<const typename C::value_type&>()))>;
    if constexpr (C::nullable) {
        return member ? std::optional<Stored>(traits::to_stored(*member)) : std::optional<Stored>();
    } else {
        return Stored(traits::to_stored(member));
    }
}

template <class C>
using stored_column = std::conditional_t<C::nullable, std::optional<typename column_type<typename C::value_type>::stored>,
                                         typename column_type<typename C::value_type>::stored>;

template <class C, class Stored>
void assign(typename C::row_type& row, Stored&& value) {
    using traits = column_type<typename C::value_type>;
    if constexpr (C::nullable) {
        if (value) row.*(C::member) = traits::from_stored(std::move(*value));
        else row.*(C::member) = std::nullopt;
    } else {
        row.*(C::member) = traits::from_stored(std::move(value));
    }
}

// Appends one key value's stored form to `key` (length-prefixed) and to `row` (readable).
template <class S>
void append_key(std::string& key, std::string& row, const S& value) {
    std::string bytes;
    if constexpr (SqlInteger<S>) bytes = std::to_string(value);
    else bytes.assign(reinterpret_cast<const char*>(value.data()), value.size());
    for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>((bytes.size() >> shift) & 0xff));
    key += bytes;
    row += row.size() > 1 ? ", " : "";
    if constexpr (std::is_same_v<S, Blob>) row += "<" + std::to_string(value.size()) + "-byte key>";
    else row += bytes;
}

// Where column C of `row` lives (see SealContext).
template <class T, class C>
SealContext seal_context(const typename T::row_type& row) {
    SealContext where{T::name, C::name, {}, "("};
    apply_types<typename T::columns>([&](auto... c) {
        auto add = [&](auto column) {
            using K = decltype(column);
            if constexpr (K::is_primary_key) {
                const auto& member = row.*(K::member);
                append_key(where.key, where.row, column_type<typename K::value_type>::to_stored(member));
            }
        };
        (add(c), ...);
    });
    where.row += ")";
    return where;
}

// The bound value of column C of `row`: sealed with the transaction's keys, or stored_value.
template <class T, class C, class Tx>
auto bound_value(Tx& tx, const typename T::row_type& row) {
    if constexpr (C::is_sealed) {
        using traits = column_type<typename C::value_type>;
        const auto& member = row.*(C::member);
        if constexpr (C::nullable) {
            return member ? std::optional<Blob>(traits::seal(tx.keyring(), seal_context<T, C>(row), *member))
                          : std::optional<Blob>();
        } else {
            return traits::seal(tx.keyring(), seal_context<T, C>(row), member);
        }
    } else {
        return stored_value<C>(row);
    }
}

// Assigns the columns C... read as `values...` to `row`: plain ones first, then sealed ones,
// opened with the row's key.
template <class T, class... C, class Tx, class... V>
void assign_row(Tx& tx, typename T::row_type& row, V&... values) {
    auto plain = [&](auto column, auto& value) {
        using K = decltype(column);
        if constexpr (!K::is_sealed) assign<K>(row, std::move(value));
    };
    (plain(C{}, values), ...);
    if constexpr ((C::is_sealed || ...)) {
        auto open = [&](auto column, auto& value) {
            using K = decltype(column);
            if constexpr (K::is_sealed) {
                using traits = column_type<typename K::value_type>;
                if constexpr (K::nullable) {
                    if (value) row.*(K::member) = traits::open(tx.keyring(), seal_context<T, K>(row), *value);
                    else row.*(K::member) = std::nullopt;
                } else {
                    row.*(K::member) = traits::open(tx.keyring(), seal_context<T, K>(row), value);
                }
            }
        };
        (open(C{}, values), ...);
    }
}

// Reads columns C... of one result row (`view`: the backend's row view, the columns in that
// order) into `row`: straight into the members, or, when some are sealed, through assign_row.
template <class T, class... C, class Tx, class View>
void read_columns(Tx& tx, typename T::row_type& row, const View& view) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        if constexpr (!(C::is_sealed || ...)) {
            (assign<C>(row, view.template get<stored_column<C>>(static_cast<int>(I))), ...);
        } else {
            std::tuple<stored_column<C>...> stored{view.template get<stored_column<C>>(static_cast<int>(I))...};
            std::apply([&](auto&... value) { assign_row<T, C...>(tx, row, value...); }, stored);
        }
    }(std::index_sequence_for<C...>{});
}

template <class Columns> struct sealed_columns;
template <class... C> struct sealed_columns<std::tuple<C...>> {
    using type = concat_t<std::conditional_t<C::is_sealed, std::tuple<C>, std::tuple<>>...>;
};
template <class Columns> struct stored_tuple;
template <class... C> struct stored_tuple<std::tuple<C...>> {
    using type = std::tuple<stored_column<C>...>;
};

// Whether an encrypted value read from the database is under another key than `current`.
template <class V>
bool is_stale(const V& value, std::uint32_t current) {
    if constexpr (persist::detail::is_optional<V>::value) return value && value->key_id() != current;
    else return value.key_id() != current;
}

} // namespace persist::schema::detail
