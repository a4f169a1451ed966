// persist/schema/ddl.hpp: CREATE TABLE text for a described table, per dialect. Deterministic:
// the same descriptor always gives the same text.
#pragma once

#include "persist/dialect.hpp"
#include "persist/schema/table.hpp"

#include <string>
#include <tuple>

namespace persist::schema {

namespace detail {
template <class D, class C>
std::string column_definition() {
    std::string text = D::quote_identifier(C::name) + " " + std::string(D::type_name(column_type<typename C::value_type>::sql_type));
    if (!C::nullable) text += " NOT NULL";
    return text;
}

template <class D, class C>
std::string column_constraints(bool single_primary_key) {
    std::string text;
    if (C::is_primary_key && single_primary_key) text += " PRIMARY KEY";
    if (C::is_autoincrement) text += " AUTOINCREMENT";
    if (C::is_unique) text += " UNIQUE";
    std::apply(
        [&](auto... constraint) {
            [[maybe_unused]] auto add = [&](auto tag) {
                using T = decltype(tag);
                if constexpr (is_instance<default_value, T>::value) text += " DEFAULT (" + std::string(T::sql) + ")";
                else if constexpr (is_instance<check, T>::value) text += " CHECK (" + std::string(T::sql) + ")";
                else if constexpr (is_instance<collate, T>::value) text += " COLLATE " + std::string(T::sql);
            };
            (add(constraint), ...);
        },
        typename C::constraints{});
    return text;
}
} // namespace detail

/// CREATE TABLE IF NOT EXISTS for `T` in dialect `D`. A single primary key column is
/// declared inline (so an INTEGER PRIMARY KEY is SQLite's rowid); several form a table
/// constraint.
template <class T, Dialect D>
std::string create_table() {
    return std::apply(
        [](auto... column) {
            constexpr int keys = (int(decltype(column)::is_primary_key) + ...);
            std::string text = "CREATE TABLE IF NOT EXISTS " + D::quote_identifier(T::name) + " (";
            bool first = true;
            auto add = [&](auto c) {
                using C = decltype(c);
                text += (first ? "" : ", ") + detail::column_definition<D, C>() + detail::column_constraints<D, C>(keys == 1);
                first = false;
            };
            (add(column), ...);
            if constexpr (keys > 1) {
                text += ", PRIMARY KEY (";
                bool first_key = true;
                auto add_key = [&](auto c) {
                    using C = decltype(c);
                    if constexpr (C::is_primary_key) {
                        text += (first_key ? "" : ", ") + D::quote_identifier(C::name);
                        first_key = false;
                    }
                };
                (add_key(column), ...);
                text += ")";
            }
            return text + ")";
        },
        typename T::columns{});
}

} // namespace persist::schema
