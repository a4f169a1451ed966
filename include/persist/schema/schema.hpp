// persist/schema/schema.hpp: a schema is a list of tables. It checks what crosses tables
// (unique table names, foreign keys to a table of the schema, matching key types) and
// renders the DDL of the whole schema.
#pragma once

#include "persist/dialect.hpp"
#include "persist/schema/ddl.hpp"
#include "persist/schema/table.hpp"

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

inline const char* action_sql(Action action) {
    switch (action) {
    case Action::no_action: return "NO ACTION";
    case Action::restrict: return "RESTRICT";
    case Action::cascade: return "CASCADE";
    case Action::set_null: return "SET NULL";
    case Action::set_default: return "SET DEFAULT";
    }
    return "NO ACTION";
}
} // namespace detail

template <class... Tables>
struct Schema {
    using tables = std::tuple<Tables...>;

    /// The table of this schema that maps `Member`, as a type (void when none).
    template <auto Member>
    using table_of = decltype(std::tuple_cat(
        std::conditional_t<Tables::template has_member<Member>(), std::tuple<Tables>, std::tuple<>>{}...));

    /// The statements that create the schema: tables in the order given, then indexes.
    template <Dialect D>
    static std::vector<std::string> create_statements() {
        std::vector<std::string> statements;
        (statements.push_back(create_table_in_schema<Tables, D>()), ...);
        (add_indexes<Tables, D>(statements), ...);
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
    template <class T, class D>
    static std::string create_table_in_schema() {
        std::string text = create_table<T, D>();
        text.pop_back(); // the closing parenthesis; foreign keys go before it
        std::apply([&](auto... c) {
            [[maybe_unused]] auto add = [&](auto column) {
                using C = decltype(column);
                using FK = typename C::foreign_key;
                if constexpr (!std::is_void_v<FK>) {
                    using Target = std::tuple_element_t<0, table_of<FK::target>>;
                    std::string target_column;
                    std::apply([&](auto... t) {
                        [[maybe_unused]] auto pick = [&](auto tc) {
                            if (detail::same_member<decltype(tc)::member>(FK::target)) target_column = std::string(decltype(tc)::name);
                        };
                        (pick(t), ...);
                    }, typename Target::columns{});
                    text += ", FOREIGN KEY (" + D::quote_identifier(C::name) + ") REFERENCES " +
                            D::quote_identifier(Target::name) + " (" + D::quote_identifier(target_column) + ") ON DELETE " +
                            detail::action_sql(FK::on_delete) + " ON UPDATE " + detail::action_sql(FK::on_update);
                }
            };
            (add(c), ...);
        }, typename T::columns{});
        return text + ")";
    }

    template <class T, class D>
    static void add_indexes(std::vector<std::string>& statements) {
        std::apply([&](auto... index) {
            [[maybe_unused]] auto add = [&](auto i) {
                using I = decltype(i);
                std::string text = std::string("CREATE ") + (I::is_unique ? "UNIQUE " : "") + "INDEX IF NOT EXISTS " +
                                   D::quote_identifier(I::name) + " ON " + D::quote_identifier(T::name) + " (";
                bool first = true;
                std::apply([&](auto... member) {
                    auto add_member = [&](auto m) {
                        std::apply([&](auto... c) {
                            auto pick = [&](auto column) {
                                if (detail::same_member<decltype(column)::member>(m)) {
                                    text += (first ? "" : ", ") + D::quote_identifier(decltype(column)::name);
                                    first = false;
                                }
                            };
                            (pick(c), ...);
                        }, typename T::columns{});
                    };
                    (add_member(member), ...);
                }, I::members);
                text += ")";
                std::apply([&](auto... option) {
                    [[maybe_unused]] auto add_option = [&](auto o) {
                        if constexpr (detail::is_instance<where, decltype(o)>::value) text += " WHERE " + std::string(decltype(o)::sql);
                    };
                    (add_option(option), ...);
                }, typename I::options{});
                statements.push_back(text);
            };
            (add(index), ...);
        }, typename T::indexes{});
    }

    template <class T>
    static constexpr bool table_ok() {
        constexpr int same_name = ((Tables::name == T::name) + ...);
        return detail::check_unique_table<T::sql_name, same_name == 1>::value &&
               std::apply([](auto... c) { return (column_ok<T, decltype(c)>() && ...); }, typename T::columns{});
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
                return detail::check_foreign_key_type<T::sql_name, C::sql_name,
                                                      std::is_same_v<typename unwrap_optional<TargetType>::type,
                                                                     typename C::value_type>>::value;
            }
        }
    }
    static_assert((table_ok<Tables>() && ...));
};

} // namespace persist::schema
