// persist/schema/column_type.hpp: which C++ member types can be columns, and how they are
// stored. The extension point is persist::schema::column_type<T>: specialise it for a user
// type with
//   using stored = <a persist::ColumnValue type>;
//   static constexpr persist::ColumnType sql_type = ...;
//   static stored to_stored(const T&);
//   static T from_stored(stored);
#pragma once

#include "persist/dialect.hpp"
#include "persist/value.hpp"

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace persist::schema {

/// Primary template: not a column type. Specialise it for user types.
template <class T, class = void>
struct column_type {};

namespace detail {
template <class T>
constexpr ColumnType natural_sql_type() {
    if constexpr (std::same_as<T, bool>) return ColumnType::boolean;
    else if constexpr (SqlInteger<T>) return ColumnType::integer;
    else if constexpr (std::floating_point<T>) return ColumnType::real;
    else if constexpr (std::same_as<T, std::string>) return ColumnType::text;
    else if constexpr (std::same_as<T, Blob>) return ColumnType::blob;
    else return ColumnType::timestamp;
}
} // namespace detail

/// Every non-optional ColumnValue is stored as itself.
template <class T>
struct column_type<T, std::enable_if_t<ColumnValue<T> && !persist::detail::is_optional<T>::value>> {
    using stored = T;
    static constexpr ColumnType sql_type = detail::natural_sql_type<T>();
    static const T& to_stored(const T& value) { return value; }
    static T from_stored(T value) { return value; }
};

/// Enumerations are stored as their underlying integer.
template <class T>
struct column_type<T, std::enable_if_t<std::is_enum_v<T>>> {
    using stored = std::underlying_type_t<T>;
    static constexpr ColumnType sql_type = ColumnType::integer;
    static stored to_stored(T value) { return static_cast<stored>(value); }
    static T from_stored(stored value) { return static_cast<T>(value); }
};

/// Where a sealed value lives, which its encryption binds (as associated data): the table, the
/// column and the row's primary key (`key`: each key value's stored form, length-prefixed).
/// `row` describes the key for error messages.
struct SealContext {
    std::string_view table;
    std::string_view column;
    std::string key;
    std::string row;
};

/// A type stored sealed (persist::Encrypted<T>): the typed operations encrypt and decrypt it
/// with the transaction's keyring, binding table, column and primary key
/// (persist/crypto/encrypted.hpp); it has no context-free to_stored/from_stored.
template <class T>
concept SealedColumn = requires { requires column_type<T>::sealed; };

/// A type that column_type knows, directly or through a user specialisation.
template <class T>
concept ColumnMember = requires {
    typename column_type<T>::stored;
    { column_type<T>::sql_type } -> std::convertible_to<ColumnType>;
} && (SealedColumn<T> || requires(const T& value) {
    column_type<T>::to_stored(value);
    { column_type<T>::from_stored(std::declval<typename column_type<T>::stored>()) } -> std::same_as<T>;
});

template <class T> struct unwrap_optional { using type = T; static constexpr bool nullable = false; };
template <class T> struct unwrap_optional<std::optional<T>> { using type = T; static constexpr bool nullable = true; };

} // namespace persist::schema
