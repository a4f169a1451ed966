// persist/schema/schema.hpp: a schema is a list of tables. It checks what crosses tables
// (unique table names, foreign keys to a table of the schema, matching key types) and
// renders the DDL of the whole schema.
#pragma once

#include "persist/dialect.hpp"
#include "persist/schema/ddl.hpp"
#include "persist/schema/table.hpp"

#include <array>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace persist::schema {

namespace detail {
template <FixedString TableName, bool Unique>
struct check_unique_table {
    static_assert(Unique, "persist: this table name appears twice in the schema; give each Table its own name");
    static constexpr bool value = true;
};
template <FixedString TableName, FixedString ColumnName, bool Found>
struct check_foreign_key_target {
    static_assert(Found, "persist: this column's foreign key points at a member that no table of the schema maps; add "
                         "that table to the Schema<...> or fix the references<&Row::member>");
    static constexpr bool value = true;
};
template <FixedString TableName, FixedString ColumnName, bool SameType>
struct check_foreign_key_type {
    static_assert(SameType, "persist: this column's type differs from the type of the column its foreign key points "
                            "at; declare both members with the same type");
    static constexpr bool value = true;
};

} // namespace detail

template <class... Tables>
struct Schema {
    using tables = std::tuple<Tables...>;

    /// The table of this schema that maps `Member`, as a type (void when none).
    template <auto Member>
    using table_of =
        detail::concat_t<std::conditional_t<Tables::template has_member<Member>(), std::tuple<Tables>, std::tuple<>>...>;

    /// The foreign keys of table `T` of this schema, as plain data.
    template <class T>
    static constexpr auto foreign_keys = detail::apply_types<typename T::columns>(
        [](auto... c) {
            constexpr std::size_t count = (std::size_t(!std::is_void_v<typename decltype(c)::foreign_key>) + ... + 0);
            std::array<ForeignKeyInfo, count> keys{};
            std::size_t next = 0;
            [[maybe_unused]] auto add = [&](auto column) {
                using C = decltype(column);
                using FK = typename C::foreign_key;
                if constexpr (!std::is_void_v<FK>) {
                    if constexpr (std::tuple_size_v<table_of<FK::target>> == 1) {
                        using Target = std::tuple_element_t<0, table_of<FK::target>>;
                        keys[next++] = ForeignKeyInfo{C::name, Target::name, Target::column_name_of(FK::target), FK::on_delete,
                                                      FK::on_update};
                    }
                }
            };
            (add(c), ...);
            return keys;
        });

    /// The statements that create the schema: tables in the order given (a partitioned table
    /// on PostgreSQL with its default partition; the monthly ones are schema::jobs::partitions'),
    /// then indexes.
    template <Dialect D>
    static std::vector<std::string> create_statements() {
        std::vector<std::string> statements;
        auto add_table = [&](std::string_view table, const auto& columns, const auto& keys, std::string_view partition_column) {
            statements.push_back(render_create_table<D>(table, columns, keys, partition_column));
            if constexpr (PartitioningDialect<D>)
                if (!partition_column.empty())
                    statements.push_back(D::create_default_partition(table, default_partition_name(table)));
        };
        (add_table(Tables::name, Tables::column_infos, foreign_keys<Tables>, Tables::partition_column()), ...);
        auto add_indexes = [&](std::string_view table, const auto& indexes) {
            for (const auto& index : indexes) statements.push_back(render_create_index<D>(table, index));
        };
        (add_indexes(Tables::name, Tables::index_infos), ...);
        return statements;
    }

    /// create_statements() joined into one script.
    template <Dialect D>
    static std::string create_script() {
        std::string script;
        for (const auto& statement : create_statements<D>()) script += statement + ";\n";
        return script;
    }

private:
    template <class T>
    static constexpr int tables_named_like() {
        return ((Tables::name == T::name) + ...);
    }
    static constexpr bool names_unique = ((tables_named_like<Tables>() == 1) && ...);
    template <class T>
    static constexpr bool columns_ok() {
        return detail::apply_types<typename T::columns>([](auto... c) { return (column_ok<T, decltype(c)>() && ...); });
    }
    // Foreign keys are checked only once table names are unique: with a duplicate table every
    // reference to it would also fail, burying the one message that matters.
    static constexpr bool references_ok() {
        if constexpr (names_unique) {
            return (columns_ok<Tables>() && ...);
        } else {
            return false;
        }
    }
    template <class T, class C>
    static constexpr bool column_ok() {
        using FK = typename C::foreign_key;
        if constexpr (std::is_void_v<FK>) {
            return true;
        } else {
            constexpr bool found = std::tuple_size_v<table_of<FK::target>> == 1;
            if constexpr (!found) {
                return detail::check_foreign_key_target<T::sql_name, C::sql_name, false>::value;
            } else {
                using TargetType = typename detail::member_traits<std::remove_cv_t<decltype(FK::target)>>::type;
                constexpr bool same_type = std::is_same_v<typename unwrap_optional<TargetType>::type, typename C::value_type>;
                if constexpr (same_type) return true; // the check_* template only when it fails, for its message
                else return detail::check_foreign_key_type<T::sql_name, C::sql_name, false>::value;
            }
        }
    }
    static constexpr bool tables_ok() {
        if constexpr (names_unique) return true;
        else return (detail::check_unique_table<Tables::sql_name, tables_named_like<Tables>() == 1>::value && ...);
    }
    static_assert(tables_ok());
    static_assert(!names_unique || references_ok());
};

namespace detail {
template <class S> struct is_schema : std::false_type {};
template <class... Tables> struct is_schema<Schema<Tables...>> : std::true_type {};
} // namespace detail

/// A schema descriptor, `persist::schema::Schema<Tables...>`: what `verify<S>` and
/// `require<S>` take (for one table too: `Schema<Users>`).
template <class S>
concept SchemaType = detail::is_schema<S>::value; // S must be Schema<Tables...>; for one table, Schema<Users>

} // namespace persist::schema
