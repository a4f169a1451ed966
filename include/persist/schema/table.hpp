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

#include "persist/detail/fixed_string.hpp"
#include "persist/schema/column_type.hpp"
#include "persist/schema/table_checks.hpp"

#include <array>
#include <chrono>
#include <optional>
#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace persist::schema {

using persist::detail::FixedString;

/// Column constraints.
struct primary_key {};
struct autoincrement {};
struct unique {};
template <FixedString Expression> struct default_value { static constexpr std::string_view sql = Expression.view(); };
template <FixedString Expression> struct check { static constexpr std::string_view sql = Expression.view(); };
template <FixedString Collation> struct collate { static constexpr std::string_view sql = Collation.view(); };

/// What a foreign key does when the referenced row is deleted or its key updated.
enum class Action { no_action, restrict, cascade, set_null, set_default };

/// A foreign key to the column of another table of the same Schema that maps `Target`.
template <auto Target, Action OnDelete = Action::no_action, Action OnUpdate = Action::no_action>
struct references {
    static constexpr auto target = Target;
    static constexpr Action on_delete = OnDelete;
    static constexpr Action on_update = OnUpdate;
};

/// The member pointers an index covers, in order.
template <auto... Members> struct on {};
/// Index options.
struct unique_index {};

/// Mixin: `created_at` and `updated_at` (system_clock time points) maintained by the typed
/// operations: insert sets both, update and upsert set updated_at.
template <auto CreatedAt, auto UpdatedAt>
struct timestamps {
    static constexpr auto created_at = CreatedAt;
    static constexpr auto updated_at = UpdatedAt;
};
/// Mixin: remove() sets `deleted_at` (std::optional<system_clock::time_point>) instead of
/// deleting; typed reads skip such rows unless asked; restore() clears it; purge() deletes.
template <auto DeletedAt>
struct soft_delete {
    static constexpr auto deleted_at = DeletedAt;
};
/// Mixin: on PostgreSQL the table is partitioned by range of `Time` (a system_clock time_point
/// column, part of the primary key), one partition per calendar month (UTC), plus a default
/// partition that catches rows no monthly one covers; schema::jobs::partitions creates months
/// ahead and drops those past retention (persist/schema/partitions.hpp). On SQLite, which has no
/// partitions, the table is a plain one and the same job deletes old rows in batches.
template <auto Time>
struct monthly_partitions {
    static constexpr auto time = Time;
};

/// Column constraint: insert fills an empty value (a nil UUID) with a new one
/// (column_type<T>::generate()), and returns it when the column is the primary key.
struct generated {};
template <FixedString Condition> struct where { static constexpr std::string_view sql = Condition.view(); };

/// An index of a table: its name, its columns (on<&Row::a, &Row::b>), and optionally
/// unique_index and a partial-index condition where<"...">.
template <FixedString Name, class Columns, class... Options>
struct Index;
template <FixedString Name, auto... Members, class... Options>
struct Index<Name, on<Members...>, Options...> {
    static constexpr FixedString sql_name = Name;
    static constexpr std::string_view name = Name.view();
    static constexpr bool is_unique = (std::is_same_v<Options, unique_index> || ...);
    using options = std::tuple<Options...>;
    static constexpr auto members = std::make_tuple(Members...);
};

namespace detail {
template <class> struct member_traits;
template <class C, class M> struct member_traits<M C::*> {
    using owner = C;
    using type = M;
};

template <class Wanted, class... List> constexpr bool has = (std::is_same_v<Wanted, List> || ...);

template <template <FixedString> class Template, class T> struct is_instance : std::false_type {};
template <template <FixedString> class Template, FixedString S> struct is_instance<Template, Template<S>> : std::true_type {};

// The checks (check_column_type, ...) are in persist/schema/table_checks.hpp.
template <class T> struct is_references : std::false_type {};
template <auto T, Action D, Action U> struct is_references<references<T, D, U>> : std::true_type {};
template <class T> struct is_index : std::false_type {};
template <FixedString N, class C, class... O> struct is_index<Index<N, C, O...>> : std::true_type {};

template <class... Constraints>
struct find_references {
    using type = void;
};
template <class First, class... Rest>
struct find_references<First, Rest...> {
    using type = std::conditional_t<is_references<First>::value, First, typename find_references<Rest...>::type>;
};

} // namespace detail

/// What DDL rendering and verification need to know of a column, as plain data: rendering
/// loops over these at run time instead of instantiating templates per column, which keeps
/// compile times down.
struct ColumnInfo {
    std::string_view name;
    ColumnType type = ColumnType::blob;
    bool nullable = false;
    bool primary_key = false;
    bool autoincrement = false;
    bool unique = false;
    std::string_view default_sql;
    std::string_view check_sql;
    std::string_view collate_sql;
    bool sealed = false; ///< encrypted (persist::Encrypted)
};

/// An index as plain data (see ColumnInfo).
struct IndexInfo {
    std::string_view name;
    bool unique = false;
    std::string_view where_sql;
    std::array<std::string_view, 16> columns{};
    std::size_t column_count = 0;
};

namespace detail {
template <template <FixedString> class Template, class... C>
constexpr std::string_view sql_of() {
    std::string_view result;
    [[maybe_unused]] auto pick = [&]<class T>() {
        if constexpr (is_instance<Template, T>::value) result = T::sql;
    };
    (pick.template operator()<C>(), ...);
    return result;
}
template <class T>
constexpr ColumnType sql_type_or_blob() {
    if constexpr (ColumnMember<T>) return column_type<T>::sql_type;
    else return ColumnType::blob; // reported by check_column_type
}
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
    static constexpr bool is_generated = detail::has<generated, Constraints...>;
    static constexpr bool is_sealed = SealedColumn<value_type>; ///< persist::Encrypted<...>
    static constexpr bool supported = ColumnMember<value_type>;
    using constraints = std::tuple<Constraints...>;
    /// The references<...> constraint, or void.
    using foreign_key = typename detail::find_references<Constraints...>::type;
    static constexpr ColumnInfo info{name,
                                     detail::sql_type_or_blob<value_type>(),
                                     nullable,
                                     is_primary_key,
                                     is_autoincrement,
                                     is_unique,
                                     detail::sql_of<default_value, Constraints...>(),
                                     detail::sql_of<check, Constraints...>(),
                                     detail::sql_of<collate, Constraints...>(),
                                     is_sealed};
};

namespace detail {
template <auto A, class M>
constexpr bool same_member(M member) {
    if constexpr (std::is_same_v<std::remove_cv_t<decltype(A)>, M>) return A == member;
    else return false;
}

template <class A, class B>
constexpr bool equal_members(A a, B b) {
    if constexpr (std::is_same_v<A, B>) return a == b;
    else return false;
}

template <class T> struct is_partitions : std::false_type {};
template <auto M> struct is_partitions<monthly_partitions<M>> : std::true_type {};

template <class T> struct is_timestamps : std::false_type {};
template <auto C, auto U> struct is_timestamps<timestamps<C, U>> : std::true_type {};
template <class T> struct is_soft_delete : std::false_type {};
template <auto D> struct is_soft_delete<soft_delete<D>> : std::true_type {};

template <class T> struct is_column : std::false_type {};
template <auto M, FixedString N, class... C> struct is_column<Column<M, N, C...>> : std::true_type {};

// The concatenation of std::tuple types, as a type. Cheaper to compile than
// decltype(std::tuple_cat(...)), which instantiates the whole of tuple_cat's machinery.
template <class... Tuples> struct concat { using type = std::tuple<>; };
template <class... A> struct concat<std::tuple<A...>> { using type = std::tuple<A...>; };
template <class... A, class... B, class... Rest>
struct concat<std::tuple<A...>, std::tuple<B...>, Rest...> : concat<std::tuple<A..., B...>, Rest...> {};
template <class... Tuples> using concat_t = typename concat<Tuples...>::type;

// f(C{}...) for the types C... of std::tuple<C...>, which are empty (columns, indexes,
// options, tables): std::apply without its noexcept and invoke machinery, which made most of
// a schema's compile time.
template <class Tuple> struct unpack;
template <class... C> struct unpack<std::tuple<C...>> {
    template <class F> static constexpr decltype(auto) call(F&& f) { return f(C{}...); }
};
template <class Tuple, class F> constexpr decltype(auto) apply_types(F&& f) {
    return unpack<Tuple>::call(static_cast<F&&>(f));
}

// Filters a pack into a tuple of the types satisfying Predicate.
template <template <class> class Predicate, class... T>
using filter = concat_t<std::conditional_t<Predicate<T>::value, std::tuple<T>, std::tuple<>>...>;
} // namespace detail

/// A table: its SQL name, its columns, then its indexes.
template <FixedString Name, class First, class... Rest>
struct Table {
    using row_type = typename First::row_type;
    using columns = detail::filter<detail::is_column, First, Rest...>;
    using indexes = detail::filter<detail::is_index, First, Rest...>;
    using timestamp_parts = detail::filter<detail::is_timestamps, First, Rest...>;
    using soft_delete_parts = detail::filter<detail::is_soft_delete, First, Rest...>;
    using partition_parts = detail::filter<detail::is_partitions, First, Rest...>;
    /// Whether the table has the monthly_partitions mixin.
    static constexpr bool is_partitioned = std::tuple_size_v<partition_parts> > 0;
    static constexpr bool has_timestamps = std::tuple_size_v<timestamp_parts> > 0;
    static constexpr bool has_soft_delete = std::tuple_size_v<soft_delete_parts> > 0;
    static constexpr FixedString sql_name = Name;
    static constexpr std::string_view name = Name.view();
    static constexpr std::size_t column_count = std::tuple_size_v<columns>;

    /// The columns as plain data, in declaration order.
    static constexpr auto column_infos =
        detail::apply_types<columns>([](auto... c) { return std::array<ColumnInfo, column_count>{decltype(c)::info...}; });

    /// The SQL name of the column mapping `member` (empty if none).
    template <class M>
    static constexpr std::string_view column_name_of(M member) {
        std::string_view result;
        detail::apply_types<columns>([&](auto... c) {
            ((detail::same_member<decltype(c)::member>(member) ? (void)(result = decltype(c)::name) : void()), ...);
        });
        return result;
    }

    /// The indexes as plain data.
    static constexpr auto index_infos = detail::apply_types<indexes>(
        [](auto... index) {
            [[maybe_unused]] auto make = [](auto i) {
                using I = decltype(i);
                IndexInfo info{I::name, I::is_unique, {}, {}, 0};
                detail::apply_types<typename I::options>([&](auto... option) {
                    [[maybe_unused]] auto add = [&](auto o) {
                        if constexpr (detail::is_instance<where, decltype(o)>::value) info.where_sql = decltype(o)::sql;
                    };
                    (add(option), ...);
                });
                std::apply([&](auto... member) { ((info.columns[info.column_count++] = column_name_of(member)), ...); }, I::members);
                return info;
            };
            return std::array<IndexInfo, sizeof...(index)>{make(index)...};
        });

    /// The column a monthly_partitions mixin partitions by, or empty.
    static constexpr std::string_view partition_column() {
        if constexpr (is_partitioned) return column_name_of(std::tuple_element_t<0, partition_parts>::time);
        else return {};
    }

    /// Whether `Member` is mapped by a column of this table.
    template <auto Member>
    static constexpr bool has_member() {
        return has_member_value(Member);
    }

private:
    template <class I>
    static constexpr bool index_ok() {
        constexpr bool known = std::apply([](auto... member) { return (has_member_value(member) && ...); }, I::members);
        constexpr bool plain = std::apply([](auto... member) { return (!sealed_member(member) && ...); }, I::members);
        if constexpr (known && plain) return true;
        else return detail::check_index_columns<Name, I::sql_name, known>::value &&
                    detail::check_encrypted_index<Name, I::sql_name, plain>::value;
    }
    template <class M>
    static constexpr bool has_member_value(M member) {
        return detail::apply_types<columns>([&](auto... c) { return (detail::same_member<decltype(c)::member>(member) || ...); });
    }

    template <class M>
    static constexpr bool partition_ok(M member) {
        using Time = std::chrono::system_clock::time_point;
        if constexpr (!std::is_same_v<typename detail::member_traits<M>::type, Time>) {
            return false;
        } else {
            const bool keyed = detail::apply_types<columns>([&](auto... c) {
                return ((decltype(c)::is_primary_key && detail::same_member<decltype(c)::member>(member)) || ...);
            });
            const bool no_unique = detail::apply_types<columns>([](auto... c) { return (!decltype(c)::is_unique && ...); });
            const bool indexes_ok = detail::apply_types<indexes>([&](auto... index) {
                return ((!decltype(index)::is_unique ||
                         std::apply([&](auto... m) { return (detail::equal_members(m, member) || ...); }, decltype(index)::members)) &&
                        ...);
            });
            return keyed && no_unique && indexes_ok;
        }
    }
    template <class M>
    static constexpr bool sealed_member(M member) {
        return detail::apply_types<columns>(
            [&](auto... c) { return ((decltype(c)::is_sealed && detail::same_member<decltype(c)::member>(member)) || ...); });
    }
    template <class C>
    static constexpr bool key_ok_for_sealing() {
        if constexpr (!C::supported || !C::is_primary_key) {
            return !C::is_autoincrement;
        } else {
            using S = typename column_type<typename C::value_type>::stored;
            return !C::is_autoincrement && (SqlInteger<S> || std::is_same_v<S, std::string> || std::is_same_v<S, Blob>);
        }
    }

    template <class C>
    static constexpr bool column_ok() {
        using Time = std::chrono::system_clock::time_point;
        if constexpr (detail::is_index<C>::value) {
            return index_ok<C>();
        } else if constexpr (detail::is_timestamps<C>::value) {
            constexpr bool ok = has_member_of_type<Time>(C::created_at) && has_member_of_type<Time>(C::updated_at);
            if constexpr (ok) return true;
            else return detail::check_timestamps_columns<Name, ok>::value;
        } else if constexpr (detail::is_partitions<C>::value) {
            if constexpr (partition_ok(C::time)) return true;
            else return detail::check_partition_column<Name, false>::value;
        } else if constexpr (detail::is_soft_delete<C>::value) {
            if constexpr (has_member_of_type<std::optional<Time>>(C::deleted_at)) return true;
            else return detail::check_soft_delete_column<Name, false>::value;
        } else {
            return column_ok_impl<C>();
        }
    }
    template <class V>
    static constexpr bool generatable() {
        return requires(const V& value) {
            { column_type<V>::generate() } -> std::same_as<V>;
            { column_type<V>::empty(value) } -> std::convertible_to<bool>;
        };
    }

    template <class Wanted, class M>
    static constexpr bool has_member_of_type(M member) {
        if constexpr (std::is_same_v<typename detail::member_traits<M>::type, Wanted>) return has_member_value(member);
        else return false;
    }

    // How many columns are named `name`, from the plain data: a loop, not a fold per column.
    static constexpr int columns_named(std::string_view name) {
        int count = 0;
        for (const auto& info : column_infos) count += info.name == name;
        return count;
    }

    // The check_* templates are instantiated only when a check fails, for their message: a
    // table that passes costs no class instantiation per column.
    template <class C>
    static constexpr bool column_ok_impl() {
        constexpr bool same_struct = std::is_same_v<typename C::row_type, row_type>;
        constexpr bool unique_name = columns_named(C::name) == 1;
        constexpr bool key_not_null = !(C::is_primary_key && C::nullable);
        constexpr bool generatable_ok = !C::is_generated || generatable<typename C::value_type>();
        constexpr bool sealing_allowed = !(C::is_sealed && (C::is_primary_key || C::is_unique));
        if constexpr (same_struct && C::supported && unique_name && key_not_null && generatable_ok && sealing_allowed) {
            return true;
        } else {
            return detail::check_member_of_row<Name, C::sql_name, same_struct>::value &&
                   detail::check_column_type<Name, C::sql_name, C::supported>::value &&
                   detail::check_unique_column<Name, C::sql_name, unique_name>::value &&
                   detail::check_primary_key_not_nullable<Name, C::sql_name, key_not_null>::value &&
                   detail::check_generated_column<Name, C::sql_name, generatable_ok>::value &&
                   detail::check_encrypted_column<Name, C::sql_name, sealing_allowed>::value;
        }
    }
    static constexpr bool any_primary_key =
        detail::apply_types<columns>([](auto... c) { return (decltype(c)::is_primary_key || ...); });

public:
    /// Whether a column is encrypted (persist::Encrypted<...>).
    static constexpr bool has_sealed_columns =
        detail::apply_types<columns>([](auto... c) { return (decltype(c)::is_sealed || ...); });

private:
    static constexpr bool sealing_ok() {
        if constexpr (!has_sealed_columns) return true;
        else return detail::apply_types<columns>([](auto... c) { return (key_ok_for_sealing<decltype(c)>() && ...); });
    }
    static constexpr bool table_ok() {
        if constexpr (any_primary_key && sealing_ok()) return true;
        else return detail::check_has_primary_key<Name, any_primary_key>::value &&
                    detail::check_encrypted_table_key<Name, sealing_ok()>::value;
    }
    static constexpr bool checked = (column_ok<First>() && ... && column_ok<Rest>()) && table_ok();
    static_assert(checked);
};

namespace detail {
template <class T> struct is_table_descriptor : std::false_type {};
template <FixedString Name, class First, class... Rest>
struct is_table_descriptor<Table<Name, First, Rest...>> : std::true_type {};
} // namespace detail

/// A table descriptor, persist::schema::Table<"name", Column<...>...>: what the typed
/// operations (insert<T>, get<T>, select<T>, ...) take as T. Not the row struct itself.
template <class T>
concept TableType = detail::is_table_descriptor<T>::value; // T must be Table<"name", Column<...>...>, not the row struct

} // namespace persist::schema
