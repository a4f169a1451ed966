// persist/detail/row.hpp: turning a result row into a C++ value.
//
// A row type is one of:
//   - a ColumnValue (one column),
//   - a std::tuple of ColumnValues (one element per column, in order),
//   - an aggregate struct whose fields are ColumnValues (one field per column, in order;
//     default-constructible; at most 32 fields).
#pragma once

#include "persist/value.hpp"

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace persist::detail {

struct any_field {
    template <class U>
    operator U() const; // never defined: used only to count aggregate fields
};

template <class T, std::size_t... I>
constexpr bool brace_constructible(std::index_sequence<I...>) {
    return requires { T{(void(I), any_field{})...}; };
}

/// Number of fields of the aggregate T (0 if T is not one persist can read).
template <class T, std::size_t N = 0>
constexpr std::size_t field_count() {
    if constexpr (N > 32) return 0;
    else if constexpr (brace_constructible<T>(std::make_index_sequence<N + 1>{}))
        return field_count<T, N + 1>();
    else return N;
}

template <class T> struct is_tuple : std::false_type {};
template <class... E> struct is_tuple<std::tuple<E...>> : std::true_type {};

template <class T>
concept RowStruct = std::is_aggregate_v<T> && std::is_default_constructible_v<T> &&
                    !is_tuple<T>::value && (field_count<T>() > 0);

} // namespace persist::detail

namespace persist {

/// A type a query can return rows as (see persist/detail/row.hpp).
template <class T>
concept Row = ColumnValue<T> || detail::is_tuple<T>::value || detail::RowStruct<T>;

/// Number of columns a row type reads.
template <Row T>
constexpr std::size_t row_width() {
    if constexpr (ColumnValue<T>) return 1;
    else if constexpr (detail::is_tuple<T>::value) return std::tuple_size_v<T>;
    else return detail::field_count<T>();
}

namespace detail {

/// Calls fn(field...) with references to the fields of the aggregate `row`, in order.
template <class T, class Fn>
decltype(auto) with_fields(T& row, Fn&& fn) {
    constexpr std::size_t n = field_count<T>();
    static_assert(n <= 16, "persist: a row struct may have at most 16 fields; read wider rows "
                           "as a std::tuple or split the query");
#define PERSIST_ROW_CASE(N, ...)                                                                   \
    if constexpr (n == N) {                                                                        \
        auto& [__VA_ARGS__] = row;                                                                 \
        return fn(__VA_ARGS__);                                                                    \
    } else
        PERSIST_ROW_CASE(1, a1)
        PERSIST_ROW_CASE(2, a1, a2)
        PERSIST_ROW_CASE(3, a1, a2, a3)
        PERSIST_ROW_CASE(4, a1, a2, a3, a4)
        PERSIST_ROW_CASE(5, a1, a2, a3, a4, a5)
        PERSIST_ROW_CASE(6, a1, a2, a3, a4, a5, a6)
        PERSIST_ROW_CASE(7, a1, a2, a3, a4, a5, a6, a7)
        PERSIST_ROW_CASE(8, a1, a2, a3, a4, a5, a6, a7, a8)
        PERSIST_ROW_CASE(9, a1, a2, a3, a4, a5, a6, a7, a8, a9)
        PERSIST_ROW_CASE(10, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10)
        PERSIST_ROW_CASE(11, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11)
        PERSIST_ROW_CASE(12, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12)
        PERSIST_ROW_CASE(13, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13)
        PERSIST_ROW_CASE(14, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14)
        PERSIST_ROW_CASE(15, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15)
        PERSIST_ROW_CASE(16, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16)
        return fn();
#undef PERSIST_ROW_CASE
}

/// The first of Fields that is not a ColumnValue, or void.
template <class... Fields>
struct first_unreadable {
    using type = void;
};
template <class Field, class... Rest>
struct first_unreadable<Field, Rest...> {
    using type = std::conditional_t<ColumnValue<Field>, typename first_unreadable<Rest...>::type, Field>;
};

/// The first field type of the aggregate T (at most 16 fields) that is not a ColumnValue, or void.
template <class T>
using unreadable_field = typename decltype(with_fields(std::declval<T&>(), [](auto&... field) {
    return std::type_identity<typename first_unreadable<std::remove_cvref_t<decltype(field)>...>::type>{};
}))::type;

/// Reads a row through `column`, a callable object with `template <class V> V get(int index)`.
template <Row T, class Columns>
T read_row(Columns& column) {
    if constexpr (ColumnValue<T>) {
        return column.template get<T>(0);
    } else if constexpr (is_tuple<T>::value) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return T{column.template get<std::tuple_element_t<I, T>>(static_cast<int>(I))...};
        }(std::make_index_sequence<std::tuple_size_v<T>>{});
    } else {
        T row{};
        with_fields(row, [&](auto&... field) {
            int index = 0;
            ((field = column.template get<std::remove_cvref_t<decltype(field)>>(index++)), ...);
        });
        return row;
    }
}

} // namespace detail
} // namespace persist
