// persist/schema/operations.hpp: typed insert, get, update, remove, count and all for a
// described table, inside a Store transaction. SQL is rendered once per table and operation
// and runs through the connection's prepared-statement cache.
#pragma once

#include "persist/schema/ddl.hpp"
#include "persist/schema/table.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace persist::schema {

namespace detail {
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

// SQL text pieces, built from the table's plain ColumnInfo data (loops, not templates).
template <class T, class D>
struct Sql {
    static std::string names(bool keys, bool others, bool skip_generated) {
        std::string text;
        for (const auto& column : T::column_infos)
            if ((column.primary_key ? keys : others) && !(skip_generated && column.autoincrement))
                text += (text.empty() ? "" : ", ") + D::quote_identifier(column.name);
        return text;
    }
    static std::string key_condition(int first_index = 0) {
        std::string text;
        int index = first_index;
        for (const auto& column : T::column_infos)
            if (column.primary_key)
                text += (text.empty() ? "" : " AND ") + D::quote_identifier(column.name) + " = " + D::placeholder(++index);
        return text;
    }
    static std::string placeholders(bool skip_generated) {
        std::string text;
        int index = 0;
        for (const auto& column : T::column_infos)
            if (!(skip_generated && column.autoincrement)) text += (text.empty() ? "" : ", ") + D::placeholder(++index);
        return text;
    }
    static std::string assignments() {
        std::string text;
        int index = 0;
        for (const auto& column : T::column_infos)
            if (!column.primary_key)
                text += (text.empty() ? "" : ", ") + D::quote_identifier(column.name) + " = " + D::placeholder(++index);
        return text;
    }
    static int non_key_count() {
        int count = 0;
        for (const auto& column : T::column_infos) count += !column.primary_key;
        return count;
    }
    static std::string table() { return D::quote_identifier(T::name); }
    static std::string all_columns() { return names(true, true, false); }
};
} // namespace detail

/// Inserts `row` into table `T`; autoincrement columns are left to the database. Returns the
/// new row's rowid (the key, for an INTEGER PRIMARY KEY). Throws constraint_error naming the
/// constraint.
template <class T, class Tx>
std::int64_t insert(Tx& tx, const typename T::row_type& row) {
    using D = typename Tx::dialect;
    static const std::string sql = "INSERT INTO " + detail::Sql<T, D>::table() + " (" + detail::Sql<T, D>::names(true, true, true) +
                                   ") VALUES (" + detail::Sql<T, D>::placeholders(true) + ")";
    std::apply([&](auto... c) {
        auto bind_all = [&](auto... column) { tx.execute(sql, detail::stored_value<decltype(column)>(row)...); };
        // Autoincrement columns are not bound.
        auto filtered = std::tuple_cat(std::conditional_t<decltype(c)::is_autoincrement, std::tuple<>, std::tuple<decltype(c)>>{}...);
        std::apply(bind_all, filtered);
    }, typename T::columns{});
    return tx.last_insert_id();
}

/// The row of `T` whose primary key is `key...` (in column order), or nullopt.
template <class T, class Tx, class... Key>
std::optional<typename T::row_type> get(Tx& tx, const Key&... key) {
    using D = typename Tx::dialect;
    static const std::string sql = "SELECT " + detail::Sql<T, D>::all_columns() + " FROM " + detail::Sql<T, D>::table() +
                                   " WHERE " + detail::Sql<T, D>::key_condition();
    return std::apply([&](auto... c) -> std::optional<typename T::row_type> {
        using Stored = std::tuple<detail::stored_column<decltype(c)>...>;
        auto found = tx.template query_one<Stored>(sql, key...);
        if (!found) return std::nullopt;
        typename T::row_type row{};
        std::apply([&](auto&... value) { (detail::assign<decltype(c)>(row, std::move(value)), ...); }, *found);
        return row;
    }, typename T::columns{});
}

/// Every row of `T`, in primary key order.
template <class T, class Tx>
std::vector<typename T::row_type> all(Tx& tx) {
    using D = typename Tx::dialect;
    static const std::string sql = "SELECT " + detail::Sql<T, D>::all_columns() + " FROM " + detail::Sql<T, D>::table() +
                                   " ORDER BY " + detail::Sql<T, D>::names(true, false, false);
    return std::apply([&](auto... c) {
        using Stored = std::tuple<detail::stored_column<decltype(c)>...>;
        std::vector<typename T::row_type> rows;
        tx.template for_each<Stored>(sql, [&](Stored found) {
            typename T::row_type row{};
            std::apply([&](auto&... value) { (detail::assign<decltype(c)>(row, std::move(value)), ...); }, found);
            rows.push_back(std::move(row));
        });
        return rows;
    }, typename T::columns{});
}

/// Writes every non-key column of `row` to the row with its primary key. Returns whether a
/// row was changed.
template <class T, class Tx>
bool update(Tx& tx, const typename T::row_type& row) {
    using D = typename Tx::dialect;
    static const std::string sql = "UPDATE " + detail::Sql<T, D>::table() + " SET " + detail::Sql<T, D>::assignments() +
                                   " WHERE " + detail::Sql<T, D>::key_condition(detail::Sql<T, D>::non_key_count());
    return std::apply([&](auto... c) {
        auto others = std::tuple_cat(std::conditional_t<decltype(c)::is_primary_key, std::tuple<>, std::tuple<decltype(c)>>{}...);
        auto keys = std::tuple_cat(std::conditional_t<decltype(c)::is_primary_key, std::tuple<decltype(c)>, std::tuple<>>{}...);
        return std::apply([&](auto... other) {
            return std::apply([&](auto... key) {
                return tx.execute(sql, detail::stored_value<decltype(other)>(row)..., detail::stored_value<decltype(key)>(row)...) > 0;
            }, keys);
        }, others);
    }, typename T::columns{});
}

/// Deletes the row of `T` whose primary key is `key...`. Returns whether one was deleted.
template <class T, class Tx, class... Key>
bool remove(Tx& tx, const Key&... key) {
    using D = typename Tx::dialect;
    static const std::string sql = "DELETE FROM " + detail::Sql<T, D>::table() + " WHERE " + detail::Sql<T, D>::key_condition();
    return tx.execute(sql, key...) > 0;
}

/// The number of rows in `T`.
template <class T, class Tx>
std::int64_t count(Tx& tx) {
    using D = typename Tx::dialect;
    static const std::string sql = "SELECT count(*) FROM " + detail::Sql<T, D>::table();
    return *tx.template query_one<std::int64_t>(sql);
}

} // namespace persist::schema

#include "persist/schema/predicate.hpp"

namespace persist::schema {

namespace detail {
template <class T, class D, auto Member, bool Ascending>
std::string order_term(Order<Member, Ascending>) {
    return D::quote_identifier(column_name<T, Member>()) + (Ascending ? " ASC" : " DESC");
}
template <class T, class D, class... Orders>
std::string order_clause(OrderBy<Orders...>) {
    std::string text;
    ((text += (text.empty() ? " ORDER BY " : ", ") + order_term<T, D>(Orders{})), ...);
    return text;
}
} // namespace detail

/// The rows of `T` matching `where`, ordered by `order` (primary key order when empty),
/// limited by `page`.
template <class T, class Tx, class Where, class... Orders>
std::vector<typename T::row_type> select(Tx& tx, const Where& where, OrderBy<Orders...> order = {}, Page page = {}) {
    using D = typename Tx::dialect;
    int index = 0;
    std::string sql = "SELECT " + detail::Sql<T, D>::all_columns() + " FROM " + detail::Sql<T, D>::table() + " WHERE " +
                      where.template render<T, D>(index);
    if constexpr (sizeof...(Orders) > 0) sql += detail::order_clause<T, D>(order);
    else sql += " ORDER BY " + detail::Sql<T, D>::names(true, false, false);
    if (page.limit) sql += " LIMIT " + std::to_string(*page.limit) + " OFFSET " + std::to_string(page.offset);
    return std::apply([&](auto... c) {
        using Stored = std::tuple<detail::stored_column<decltype(c)>...>;
        std::vector<typename T::row_type> rows;
        std::apply([&](const auto&... value) {
            tx.template for_each<Stored>(sql, [&](Stored found) {
                typename T::row_type row{};
                std::apply([&](auto&... field) { (detail::assign<decltype(c)>(row, std::move(field)), ...); }, found);
                rows.push_back(std::move(row));
            }, value...);
        }, where.values());
        return rows;
    }, typename T::columns{});
}

/// The number of rows of `T` matching `where`.
template <class T, class Tx, class Where>
std::int64_t count(Tx& tx, const Where& where) {
    using D = typename Tx::dialect;
    int index = 0;
    const std::string sql = "SELECT count(*) FROM " + detail::Sql<T, D>::table() + " WHERE " + where.template render<T, D>(index);
    return std::apply([&](const auto&... value) { return *tx.template query_one<std::int64_t>(sql, value...); }, where.values());
}

} // namespace persist::schema

namespace persist::schema {

/// Inserts `row`, or, when a row with its primary key exists, updates that row's other
/// columns (one statement: INSERT ... ON CONFLICT (key) DO UPDATE).
template <class T, class Tx>
void upsert(Tx& tx, const typename T::row_type& row) {
    using D = typename Tx::dialect;
    static const std::string sql = [] {
        std::vector<std::string_view> keys, others;
        for (const auto& column : T::column_infos) (column.primary_key ? keys : others).push_back(column.name);
        return "INSERT INTO " + detail::Sql<T, D>::table() + " (" + detail::Sql<T, D>::all_columns() + ") VALUES (" +
               detail::Sql<T, D>::placeholders(false) + ") " + D::upsert_clause(keys, others);
    }();
    std::apply([&](auto... c) { tx.execute(sql, detail::stored_value<decltype(c)>(row)...); }, typename T::columns{});
}

/// Runs raw `sql` and maps each result column onto the column of `T` with the same name;
/// columns the query does not return keep their default values. Throws schema_error naming a
/// result column that `T` does not describe.
template <class T, class Tx, class... Params>
std::vector<typename T::row_type> query_as(Tx& tx, std::string_view sql, const Params&... params) {
    std::vector<typename T::row_type> rows;
    tx.for_each_row(sql, [&](const auto& view) {
        typename T::row_type row{};
        for (int i = 0; i < view.size(); ++i) {
            bool mapped = false;
            std::apply([&](auto... c) {
                auto try_column = [&](auto column) {
                    using C = decltype(column);
                    if (mapped || C::name != view.name(i)) return;
                    mapped = true;
                    detail::assign<C>(row, view.template get<detail::stored_column<C>>(i));
                };
                (try_column(c), ...);
            }, typename T::columns{});
            if (!mapped)
                throw schema_error("result column \"" + std::string(view.name(i)) + "\" of [" + std::string(sql) +
                                   "] is not a column of table " + std::string(T::name) +
                                   "; rename it with AS to one of its columns or leave it out");
        }
        rows.push_back(std::move(row));
    }, params...);
    return rows;
}

} // namespace persist::schema
