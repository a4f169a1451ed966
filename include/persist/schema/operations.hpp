// persist/schema/operations.hpp: typed insert, get, update, remove, count and all for a
// described table, inside a Store transaction. SQL is rendered once per table and operation
// and runs through the connection's prepared-statement cache.
#pragma once

#include "persist/schema/binding.hpp"
#include "persist/schema/ddl.hpp"
#include "persist/schema/misuse.hpp"
#include "persist/schema/table.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <tuple>
#include <vector>

namespace persist::schema {

namespace detail {
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
    /// " AND "deleted_at" IS NULL" for soft-deleting tables, else "".
    static std::string live_filter() {
        if constexpr (T::has_soft_delete) {
            using Part = std::tuple_element_t<0, typename T::soft_delete_parts>;
            return " AND " + D::quote_identifier(T::column_name_of(Part::deleted_at)) + " IS NULL";
        } else {
            return "";
        }
    }
};

// What insert and upsert fill in before writing: timestamps and generated values.
template <class T>
typename T::row_type prepared_for_insert(const typename T::row_type& row) {
    auto copy = row;
    if constexpr (T::has_timestamps) {
        using Part = std::tuple_element_t<0, typename T::timestamp_parts>;
        const auto now = std::chrono::system_clock::now();
        copy.*(Part::created_at) = now;
        copy.*(Part::updated_at) = now;
    }
    detail::apply_types<typename T::columns>([&](auto... c) {
        auto fill = [&](auto column) {
            using C = decltype(column);
            if constexpr (C::is_generated) {
                using traits = column_type<typename C::value_type>;
                if (traits::empty(copy.*(C::member))) copy.*(C::member) = traits::generate();
            }
        };
        (fill(c), ...);
    });
    return copy;
}

// The primary key columns of a columns tuple (class templates: GCC 12 stumbles over lambdas
// inside decltype here).
template <class Columns> struct key_columns;
template <class... C> struct key_columns<std::tuple<C...>> {
    using type = concat_t<std::conditional_t<C::is_primary_key, std::tuple<C>, std::tuple<>>...>;
};
template <class Columns> struct generated_key_columns;
template <class... C> struct generated_key_columns<std::tuple<C...>> {
    using type = concat_t<std::conditional_t<C::is_primary_key && C::is_generated, std::tuple<C>, std::tuple<>>...>;
};

template <FixedString TableName, std::size_t Given, std::size_t Keys>
struct check_key_count {
    static_assert(Given == Keys, "persist: pass one value per primary key column of the table, in column order (the "
                                 "counts given and needed are above)");
    static constexpr bool value = Given == Keys;
};

// The stored (bindable) form of primary key values, one per key column, in column order.
template <class T, class... Key>
auto stored_keys(const Key&... key) {
    using Keys = typename key_columns<typename T::columns>::type;
    if constexpr (!check_key_count<T::sql_name, sizeof...(Key), std::tuple_size_v<Keys>>::value)
        return std::tuple<>{}; // not compiled further: the static_assert above says what is wrong
    else return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::make_tuple(
            typename column_type<typename std::tuple_element_t<I, Keys>::value_type>::stored(
                column_type<typename std::tuple_element_t<I, Keys>::value_type>::to_stored(
                    typename std::tuple_element_t<I, Keys>::value_type(key)))...);
    }(std::index_sequence_for<Key...>{});
}

template <class T>
constexpr bool needs_preparation() {
    return T::has_timestamps ||
           detail::apply_types<typename T::columns>([](auto... c) { return (decltype(c)::is_generated || ... || false); });
}

template <class Columns> struct autoincrement_columns;
template <class... C> struct autoincrement_columns<std::tuple<C...>> {
    using type = concat_t<std::conditional_t<C::is_autoincrement, std::tuple<C>, std::tuple<>>...>;
};

// The value of the table's single integer primary key in `row`, or 0 when it has none.
template <class T>
std::int64_t integer_key(const typename T::row_type& row) {
    using Keys = typename key_columns<typename T::columns>::type;
    if constexpr (std::tuple_size_v<Keys> == 1) {
        using Key = std::tuple_element_t<0, Keys>;
        if constexpr (SqlInteger<std::remove_cvref_t<decltype(stored_value<Key>(row))>>)
            return static_cast<std::int64_t>(stored_value<Key>(row));
        else return 0;
    } else {
        return 0;
    }
}

// The generated primary key column, as a tuple of zero or one column.
template <class T>
using generated_key = typename generated_key_columns<typename T::columns>::type;
} // namespace detail

/// Inserts `row` into table `T`. Autoincrement columns are left to the database; with the
/// timestamps mixin created_at and updated_at are set to now; empty generated columns get a
/// new value. Returns the generated primary key when the table has one (a UUID); otherwise the
/// new row's integer key: its autoincrement column (read back with RETURNING on PostgreSQL),
/// or on SQLite its rowid, on PostgreSQL its single integer primary key, or 0 when it has
/// none. Throws constraint_error naming the constraint.
template <TableType T, class Tx>
auto insert(Tx& tx, const typename T::row_type& row) {
    using D = typename Tx::dialect;
    using Autoincrement = typename detail::autoincrement_columns<typename T::columns>::type;
    constexpr bool returning = !D::has_rowid && std::tuple_size_v<Autoincrement> == 1;
    static const std::string sql = [] {
        std::string text = "INSERT INTO " + detail::Sql<T, D>::table() + " (" + detail::Sql<T, D>::names(true, true, true) +
                           ") VALUES (" + detail::Sql<T, D>::placeholders(true) + ")";
        if constexpr (returning) text += " RETURNING " + D::quote_identifier(std::tuple_element_t<0, Autoincrement>::name);
        return text;
    }();
    auto write = [&](const typename T::row_type& values) -> std::int64_t {
        return detail::apply_types<typename T::columns>([&](auto... c) {
            // Autoincrement columns are not bound.
            using Bound = detail::concat_t<
                std::conditional_t<decltype(c)::is_autoincrement, std::tuple<>, std::tuple<decltype(c)>>...>;
            return detail::apply_types<Bound>([&](auto... column) -> std::int64_t {
                if constexpr (returning) {
                    return *tx.template query_one<std::int64_t>(sql, detail::bound_value<T, decltype(column)>(tx, values)...);
                } else {
                    tx.execute(sql, detail::bound_value<T, decltype(column)>(tx, values)...);
                    if constexpr (D::has_rowid) return tx.last_insert_id();
                    else return detail::integer_key<T>(values);
                }
            });
        });
    };
    if constexpr (detail::needs_preparation<T>()) {
        const auto prepared = detail::prepared_for_insert<T>(row);
        const std::int64_t id = write(prepared);
        if constexpr (std::tuple_size_v<detail::generated_key<T>> == 1) {
            using Key = std::tuple_element_t<0, detail::generated_key<T>>;
            return prepared.*(Key::member);
        } else {
            return id;
        }
    } else {
        return write(row);
    }
}

/// The row of `T` whose primary key is `key...` (in column order), or nullopt (also for a
/// soft-deleted row).
template <TableType T, class Tx, class... Key>
std::optional<typename T::row_type> get(Tx& tx, const Key&... key) {
    using D = typename Tx::dialect;
    static const std::string sql = "SELECT " + detail::Sql<T, D>::all_columns() + " FROM " + detail::Sql<T, D>::table() +
                                   " WHERE " + detail::Sql<T, D>::key_condition() + detail::Sql<T, D>::live_filter();
    return detail::apply_types<typename T::columns>([&](auto... c) {
        std::optional<typename T::row_type> found;
        std::apply([&](const auto&... k) {
            tx.query_row(sql, [&](const auto& view) { detail::read_columns<T, decltype(c)...>(tx, found.emplace(), view); },
                         k...);
        }, detail::stored_keys<T>(key...));
        return found;
    });
}

namespace detail {
// The rows of `sql`, which selects (or returns) every column of T in order, with `values`
// (a tuple) bound to its placeholders.
template <TableType T, class Tx, class Values>
std::vector<typename T::row_type> read_rows(Tx& tx, const std::string& sql, const Values& values) {
    return detail::apply_types<typename T::columns>([&](auto... c) {
        std::vector<typename T::row_type> rows;
        std::apply([&](const auto&... value) {
            tx.for_each_row(sql, [&](const auto& view) { read_columns<T, decltype(c)...>(tx, rows.emplace_back(), view); },
                            value...);
        }, values);
        return rows;
    });
}
} // namespace detail

/// Every row of `T` (not soft-deleted), in primary key order.
template <TableType T, class Tx>
std::vector<typename T::row_type> all(Tx& tx) {
    using D = typename Tx::dialect;
    static const std::string sql = "SELECT " + detail::Sql<T, D>::all_columns() + " FROM " + detail::Sql<T, D>::table() +
                                   " WHERE TRUE" + detail::Sql<T, D>::live_filter() + " ORDER BY " +
                                   detail::Sql<T, D>::names(true, false, false);
    return detail::read_rows<T>(tx, sql, std::tuple<>{});
}

/// Writes every non-key column of `row` to the (not soft-deleted) row with its primary key;
/// with the timestamps mixin, updated_at becomes now. Returns whether a row was changed.
template <TableType T, class Tx>
bool update(Tx& tx, const typename T::row_type& original) {
    using D = typename Tx::dialect;
    static const std::string sql = "UPDATE " + detail::Sql<T, D>::table() + " SET " + detail::Sql<T, D>::assignments() +
                                   " WHERE " + detail::Sql<T, D>::key_condition(detail::Sql<T, D>::non_key_count()) +
                                   detail::Sql<T, D>::live_filter();
    auto row = original;
    if constexpr (T::has_timestamps) {
        using Part = std::tuple_element_t<0, typename T::timestamp_parts>;
        row.*(Part::updated_at) = std::chrono::system_clock::now();
    }
    return detail::apply_types<typename T::columns>([&](auto... c) {
        using Others = detail::concat_t<
            std::conditional_t<decltype(c)::is_primary_key, std::tuple<>, std::tuple<decltype(c)>>...>;
        using Keys = detail::concat_t<
            std::conditional_t<decltype(c)::is_primary_key, std::tuple<decltype(c)>, std::tuple<>>...>;
        return detail::apply_types<Others>([&](auto... other) {
            return detail::apply_types<Keys>([&](auto... key) {
                return tx.execute(sql, detail::bound_value<T, decltype(other)>(tx, row)...,
                                  detail::stored_value<decltype(key)>(row)...) > 0;
            });
        });
    });
}

/// Deletes the row of `T` whose primary key is `key...`, soft-deleted or not. Returns whether
/// one was deleted.
template <TableType T, class Tx, class... Key>
bool purge(Tx& tx, const Key&... key) {
    using D = typename Tx::dialect;
    static const std::string sql = "DELETE FROM " + detail::Sql<T, D>::table() + " WHERE " + detail::Sql<T, D>::key_condition();
    return std::apply([&](const auto&... k) { return tx.execute(sql, k...); }, detail::stored_keys<T>(key...)) > 0;
}

namespace detail {
// ", updated_at = $n" for a table with the timestamps mixin (else ""), so that soft deletion
// and restoration count as updates.
template <class T, class D>
std::string updated_at_too(int index) {
    if constexpr (T::has_timestamps) {
        using Part = std::tuple_element_t<0, typename T::timestamp_parts>;
        return ", " + D::quote_identifier(T::column_name_of(Part::updated_at)) + " = " + D::placeholder(index);
    } else {
        return "";
    }
}
} // namespace detail

/// Removes the row of `T` whose primary key is `key...`: deletes it, or with the soft_delete
/// mixin sets its deleted_at (and updated_at, with the timestamps mixin) to now. Returns
/// whether a row was removed.
template <TableType T, class Tx, class... Key>
bool remove(Tx& tx, const Key&... key) {
    using D = typename Tx::dialect;
    if constexpr (T::has_soft_delete) {
        using Part = std::tuple_element_t<0, typename T::soft_delete_parts>;
        static const std::string sql = "UPDATE " + detail::Sql<T, D>::table() + " SET " +
                                       D::quote_identifier(T::column_name_of(Part::deleted_at)) + " = " + D::placeholder(1) +
                                       detail::updated_at_too<T, D>(2) + " WHERE " +
                                       detail::Sql<T, D>::key_condition(T::has_timestamps ? 2 : 1) +
                                       detail::Sql<T, D>::live_filter();
        const auto now = std::chrono::system_clock::now();
        return std::apply([&](const auto&... k) {
            if constexpr (T::has_timestamps) return tx.execute(sql, now, now, k...);
            else return tx.execute(sql, now, k...);
        }, detail::stored_keys<T>(key...)) > 0;
    } else {
        return purge<T>(tx, key...);
    }
}

/// Brings back a soft-deleted row of `T` (soft_delete mixin only); with the timestamps mixin
/// its updated_at becomes now. Returns whether one was restored.
template <TableType T, class Tx, class... Key>
bool restore(Tx& tx, const Key&... key) {
    static_assert(T::has_soft_delete, "persist: restore() needs a table with the soft_delete mixin");
    using D = typename Tx::dialect;
    using Part = std::tuple_element_t<0, typename T::soft_delete_parts>;
    static const std::string sql = "UPDATE " + detail::Sql<T, D>::table() + " SET " +
                                   D::quote_identifier(T::column_name_of(Part::deleted_at)) + " = NULL" +
                                   detail::updated_at_too<T, D>(1) + " WHERE " +
                                   detail::Sql<T, D>::key_condition(T::has_timestamps ? 1 : 0);
    return std::apply([&](const auto&... k) {
        if constexpr (T::has_timestamps) return tx.execute(sql, std::chrono::system_clock::now(), k...);
        else return tx.execute(sql, k...);
    }, detail::stored_keys<T>(key...)) > 0;
}

/// The number of rows in `T` (not soft-deleted).
template <TableType T, class Tx>
std::int64_t count(Tx& tx) {
    using D = typename Tx::dialect;
    static const std::string sql = "SELECT count(*) FROM " + detail::Sql<T, D>::table() + " WHERE TRUE" + detail::Sql<T, D>::live_filter();
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

/// Which rows typed reads see in a table with the soft_delete mixin.
enum class Deleted { skip, include, only };

namespace detail {
template <class T, class D>
std::string deleted_filter(Deleted deleted) {
    if constexpr (!T::has_soft_delete) {
        return "";
    } else {
        using Part = std::tuple_element_t<0, typename T::soft_delete_parts>;
        const std::string column = D::quote_identifier(T::column_name_of(Part::deleted_at));
        if (deleted == Deleted::include) return "";
        return " AND " + column + (deleted == Deleted::skip ? " IS NULL" : " IS NOT NULL");
    }
}
} // namespace detail

/// The rows of `T` matching `where`, ordered by `order` (primary key order when empty),
/// limited by `page`; soft-deleted rows are skipped unless `deleted` says otherwise.
template <TableType T, class Tx, class Where, class... Orders>
    requires detail::is_predicate<Where>::value
std::vector<typename T::row_type> select(Tx& tx, const Where& where, OrderBy<Orders...> order = {}, Page page = {},
                                         Deleted deleted = Deleted::skip) {
    using D = typename Tx::dialect;
    int index = 0;
    std::string sql = "SELECT " + detail::Sql<T, D>::all_columns() + " FROM " + detail::Sql<T, D>::table() + " WHERE (" +
                      where.template render<T, D>(index) + ")" + detail::deleted_filter<T, D>(deleted);
    if constexpr (sizeof...(Orders) > 0) sql += detail::order_clause<T, D>(order);
    else sql += " ORDER BY " + detail::Sql<T, D>::names(true, false, false);
    if (page.limit) sql += " LIMIT " + std::to_string(*page.limit) + " OFFSET " + std::to_string(page.offset);
    return detail::read_rows<T>(tx, sql, where.values());
}

/// The number of rows of `T` matching `where` (soft-deleted ones as `deleted` says).
template <TableType T, class Tx, class Where>
    requires detail::is_predicate<Where>::value
std::int64_t count(Tx& tx, const Where& where, Deleted deleted = Deleted::skip) {
    using D = typename Tx::dialect;
    int index = 0;
    const std::string sql = "SELECT count(*) FROM " + detail::Sql<T, D>::table() + " WHERE (" + where.template render<T, D>(index) +
                            ")" + detail::deleted_filter<T, D>(deleted);
    return std::apply([&](const auto&... value) { return *tx.template query_one<std::int64_t>(sql, value...); }, where.values());
}

} // namespace persist::schema

namespace persist::schema {

/// Inserts `row`, or, when a row with its primary key exists, updates that row's other
/// columns (one statement: INSERT ... ON CONFLICT (key) DO UPDATE). With the timestamps
/// mixin, updated_at becomes now and an existing row keeps its created_at.
template <TableType T, class Tx>
void upsert(Tx& tx, const typename T::row_type& row) {
    using D = typename Tx::dialect;
    static const std::string sql = [] {
        std::vector<std::string_view> keys, others;
        std::string_view created_at;
        if constexpr (T::has_timestamps)
            created_at = T::column_name_of(std::tuple_element_t<0, typename T::timestamp_parts>::created_at);
        for (const auto& column : T::column_infos)
            if (column.primary_key) keys.push_back(column.name);
            else if (column.name != created_at) others.push_back(column.name); // created_at keeps its first value
        return "INSERT INTO " + detail::Sql<T, D>::table() + " (" + detail::Sql<T, D>::all_columns() + ") VALUES (" +
               detail::Sql<T, D>::placeholders(false) + ") " + D::upsert_clause(keys, others);
    }();
    const auto prepared = detail::prepared_for_insert<T>(row);
    detail::apply_types<typename T::columns>(
        [&](auto... c) { tx.execute(sql, detail::bound_value<T, decltype(c)>(tx, prepared)...); });
}

/// Runs raw `sql` and maps each result column onto the column of `T` with the same name;
/// columns the query does not return keep their default values. Throws schema_error naming a
/// result column that `T` does not describe.
template <TableType T, class Tx, class... Params>
std::vector<typename T::row_type> query_as(Tx& tx, std::string_view sql, const Params&... params) {
    static_assert(!T::has_sealed_columns, "persist: query_as does not read tables with encrypted columns (each is "
                                          "opened with its row's key); use get, all or select");
    std::vector<typename T::row_type> rows;
    tx.for_each_row(sql, [&](const auto& view) {
        typename T::row_type row{};
        for (int i = 0; i < view.size(); ++i) {
            bool mapped = false;
            detail::apply_types<typename T::columns>([&](auto... c) {
                auto try_column = [&](auto column) {
                    using C = decltype(column);
                    if (mapped || C::name != view.name(i)) return;
                    mapped = true;
                    detail::assign<C>(row, view.template get<detail::stored_column<C>>(i));
                };
                (try_column(c), ...);
            });
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
