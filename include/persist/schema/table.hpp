// persist/schema/table.hpp: describing a table from a plain struct by member pointers.
//
//   struct User { std::int64_t id; std::string email; std::optional<std::string> name; };
//   using Users = persist::schema::Table<"users",
//       persist::schema::Column<&User::id, "id", persist::schema::primary_key, persist::schema::autoincrement>,
//       persist::schema::Column<&User::email, "email", persist::schema::unique>,
//       persist::schema::Column<&User::name, "name">>;      // std::optional: nullable
//
// Checked at compile time, each check naming the table and column in the instantiation the
// compiler prints: every column is a member of the same struct, column names are unique,
// there is a primary key, primary key columns are not std::optional, and every member type
// is a column type (see column_type.hpp).
#pragma once

#include "persist/migrate/embedded.hpp" // FixedString
#include "persist/schema/column_type.hpp"

#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace persist::schema {

using migrate::FixedString;

/// Column constraints.
struct primary_key {};
struct autoincrement {};
struct unique {};
template <FixedString Expression> struct default_value { static constexpr std::string_view sql = Expression.view(); };
template <FixedString Expression> struct check { static constexpr std::string_view sql = Expression.view(); };
template <FixedString Collation> struct collate { static constexpr std::string_view sql = Collation.view(); };

namespace detail {
template <class> struct member_traits;
template <class C, class M> struct member_traits<M C::*> {
    using owner = C;
    using type = M;
};

template <class Wanted, class... List> constexpr bool has = (std::is_same_v<Wanted, List> || ...);

template <template <FixedString> class Template, class T> struct is_instance : std::false_type {};
template <template <FixedString> class Template, FixedString S> struct is_instance<Template, Template<S>> : std::true_type {};

// Checks named by their template arguments: the compiler prints them with the message.
template <FixedString TableName, FixedString ColumnName, bool Supported>
struct check_column_type {
    static_assert(Supported, "persist: this column's member type is not a column type; use an integer, floating "
                             "point, bool, std::string, persist::Blob, a system_clock time_point, an enum or "
                             "std::optional of one, or specialise persist::schema::column_type<T>");
    static constexpr bool value = true;
};
template <FixedString TableName, FixedString ColumnName, bool SameStruct>
struct check_member_of_row {
    static_assert(SameStruct, "persist: this column is a member of another struct than the table's first column; "
                              "every Column<&Row::member, ...> of a table must use the same Row");
    static constexpr bool value = true;
};
template <FixedString TableName, FixedString ColumnName, bool Unique>
struct check_unique_column {
    static_assert(Unique, "persist: this column name appears twice in the table; give each Column its own name");
    static constexpr bool value = true;
};
template <FixedString TableName, bool HasKey>
struct check_has_primary_key {
    static_assert(HasKey, "persist: this table has no primary key; add persist::schema::primary_key to a column");
    static constexpr bool value = true;
};
template <FixedString TableName, FixedString ColumnName, bool NotNull>
struct check_primary_key_not_nullable {
    static_assert(NotNull, "persist: this primary key column is std::optional; a primary key cannot be NULL, so "
                           "declare the member without std::optional");
    static constexpr bool value = true;
};
} // namespace detail

/// One column: the member it maps, its SQL name, its constraints.
template <auto Member, FixedString Name, class... Constraints>
struct Column {
    using row_type = typename detail::member_traits<decltype(Member)>::owner;
    using member_type = typename detail::member_traits<decltype(Member)>::type;
    using value_type = typename unwrap_optional<member_type>::type; // without std::optional
    static constexpr auto member = Member;
    static constexpr FixedString sql_name = Name;
    static constexpr std::string_view name = Name.view();
    static constexpr bool nullable = unwrap_optional<member_type>::nullable;
    static constexpr bool is_primary_key = detail::has<primary_key, Constraints...>;
    static constexpr bool is_autoincrement = detail::has<autoincrement, Constraints...>;
    static constexpr bool is_unique = detail::has<unique, Constraints...>;
    static constexpr bool supported = ColumnMember<value_type>;
    using constraints = std::tuple<Constraints...>;
};

/// A table: its SQL name and its columns.
template <FixedString Name, class First, class... Rest>
struct Table {
    using row_type = typename First::row_type;
    using columns = std::tuple<First, Rest...>;
    static constexpr FixedString sql_name = Name;
    static constexpr std::string_view name = Name.view();
    static constexpr std::size_t column_count = 1 + sizeof...(Rest);

private:
    template <class C>
    static constexpr bool column_ok() {
        constexpr bool same_struct = std::is_same_v<typename C::row_type, row_type>;
        constexpr int same_name = ((First::name == C::name) + ... + (Rest::name == C::name));
        return detail::check_member_of_row<Name, C::sql_name, same_struct>::value &&
               detail::check_column_type<Name, C::sql_name, C::supported>::value &&
               detail::check_unique_column<Name, C::sql_name, same_name == 1>::value &&
               detail::check_primary_key_not_nullable<Name, C::sql_name, !(C::is_primary_key && C::nullable)>::value;
    }
    static constexpr bool checked = (column_ok<First>() && ... && column_ok<Rest>()) &&
                                    detail::check_has_primary_key<Name, (First::is_primary_key || ... || Rest::is_primary_key)>::value;
    static_assert(checked);
};

} // namespace persist::schema
