// persist/schema/set_update.hpp: typed partial updates with a predicate, and typed reads of
// every row, ordered and paged, without one.
//
//   using namespace persist::schema;
//   // Claim the oldest open task: one statement, so no lock is needed around a read and a write.
//   auto claimed = update_returning<Tasks>(tx, set(col<&Task::owner>.to(me)), col<&Task::owner>.is_null(),
//                                          order_by(col<&Task::id>.asc()), Page{.limit = 1});
//   std::int64_t n = update<Tasks>(tx, set(col<&Task::done>.to(true)), col<&Task::owner> == me);
//   auto page = select<Tasks>(tx, order_by(col<&Task::id>.desc()), Page{.limit = 20});
//
// A value of another type than its column does not compile (the message names both types).
// With the timestamps mixin, updated_at becomes now; soft-deleted rows are never updated.
#pragma once

#include "persist/schema/operations.hpp"
#include "persist/schema/predicate.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace persist::schema {

/// The assignments of an update: set(col<&Row::a>.to(x), col<&Row::b>.to_null(), ...).
template <class... Assignments>
struct Set {
    std::tuple<Assignments...> assignments;
};
template <auto... Members, class... Bound>
Set<Assignment<Members, Bound>...> set(Assignment<Members, Bound>... assignments) {
    static_assert(sizeof...(Members) > 0, "persist: set(...) needs at least one column assignment");
    return {std::tuple<Assignment<Members, Bound>...>{std::move(assignments)...}};
}

namespace detail {
// " SET a = $n, b = $n+1" (plus updated_at with the timestamps mixin), numbering from `index`.
template <class T, class D, auto... Members, class... Bound>
std::string set_clause(const Set<Assignment<Members, Bound>...>&, int& index) {
    std::string text;
    ((text += (text.empty() ? " SET " : ", ") + D::quote_identifier(column_name<T, Members>()) + " = " +
              D::placeholder(++index)),
     ...);
    if constexpr (T::has_timestamps) {
        using Part = std::tuple_element_t<0, typename T::timestamp_parts>;
        text += ", " + D::quote_identifier(T::column_name_of(Part::updated_at)) + " = " + D::placeholder(++index);
    }
    return text;
}

// The bound values of a Set, then now() for updated_at when the table keeps timestamps.
template <class T, class... A>
auto set_values(const Set<A...>& assignments) {
    auto values = std::apply([](const auto&... a) { return std::make_tuple(a.value...); }, assignments.assignments);
    if constexpr (T::has_timestamps) return std::tuple_cat(values, std::make_tuple(std::chrono::system_clock::now()));
    else return values;
}

// "UPDATE t SET ... WHERE (<where>) AND live [AND key IN (SELECT key ... ORDER BY ... LIMIT ...)]"
template <class T, class D, class S, class Where, class... Orders>
std::string update_sql(const S& assignments, const Where& where, OrderBy<Orders...> order, Page page) {
    int index = 0;
    std::string sql = "UPDATE " + Sql<T, D>::table() + set_clause<T, D>(assignments, index) + " WHERE ";
    const std::string condition = "(" + where.template render<T, D>(index) + ")" + Sql<T, D>::live_filter();
    if (sizeof...(Orders) == 0 && !page.limit) return sql + condition;
    // Ordered or limited: pick the keys first (UPDATE has no portable ORDER BY / LIMIT).
    const std::string keys = Sql<T, D>::names(true, false, false);
    sql += "(" + keys + ") IN (SELECT " + keys + " FROM " + Sql<T, D>::table() + " WHERE " + condition;
    if constexpr (sizeof...(Orders) > 0) sql += order_clause<T, D>(order);
    else sql += " ORDER BY " + keys;
    if (page.limit) sql += " LIMIT " + std::to_string(*page.limit) + " OFFSET " + std::to_string(page.offset);
    return sql + ")";
}
} // namespace detail

/// Sets the assigned columns of every (not soft-deleted) row of `T` matching `where`; with
/// `order` and `page`, only of the first page of them in that order. Returns the rows changed.
template <TableType T, class Tx, class... A, class Where, class... Orders>
    requires detail::is_predicate<Where>::value
std::int64_t update(Tx& tx, const Set<A...>& assignments, const Where& where, OrderBy<Orders...> order = {},
                    Page page = {}) {
    using D = typename Tx::dialect;
    const std::string sql = detail::update_sql<T, D>(assignments, where, order, page);
    const auto values = std::tuple_cat(detail::set_values<T>(assignments), where.values());
    return std::apply([&](const auto&... value) { return tx.execute(sql, value...); }, values);
}

/// update(), returning the changed rows as they are now (RETURNING, on both backends), in no
/// particular order.
template <TableType T, class Tx, class... A, class Where, class... Orders>
    requires detail::is_predicate<Where>::value
std::vector<typename T::row_type> update_returning(Tx& tx, const Set<A...>& assignments, const Where& where,
                                                   OrderBy<Orders...> order = {}, Page page = {}) {
    using D = typename Tx::dialect;
    const std::string sql = detail::update_sql<T, D>(assignments, where, order, page) + " RETURNING " +
                            detail::Sql<T, D>::all_columns();
    return detail::read_rows<T>(tx, sql, std::tuple_cat(detail::set_values<T>(assignments), where.values()));
}

/// Every row of `T`, ordered by `order`, limited by `page`: select() without a predicate.
template <TableType T, class Tx, class... Orders>
std::vector<typename T::row_type> select(Tx& tx, OrderBy<Orders...> order, Page page = {}, Deleted deleted = Deleted::skip) {
    return select<T>(tx, all_rows(), order, page, deleted);
}
/// The rows of `T` matching `where` in primary key order, limited by `page`.
template <TableType T, class Tx, class Where>
    requires detail::is_predicate<Where>::value
std::vector<typename T::row_type> select(Tx& tx, const Where& where, Page page, Deleted deleted = Deleted::skip) {
    return select<T>(tx, where, OrderBy<>{}, page, deleted);
}
/// Every row of `T` in primary key order, limited by `page`.
template <TableType T, class Tx>
std::vector<typename T::row_type> select(Tx& tx, Page page, Deleted deleted = Deleted::skip) {
    return select<T>(tx, all_rows(), OrderBy<>{}, page, deleted);
}

} // namespace persist::schema
