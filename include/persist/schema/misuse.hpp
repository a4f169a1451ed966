// persist/schema/misuse.hpp: overloads that exist only to turn common mistakes with the
// typed operations into one short compile error that says how to fix them.
//
//   insert<User>(tx, user)                  T must be the table descriptor, not the row struct
//   select<Users>(tx, col<&User::id>.asc()) an ordering goes inside order_by(...), after the
//                                           predicate if there is one
//
// Each is chosen only when no real operation fits: the real ones require TableType<T>, and a
// variadic template loses overload resolution to a non-variadic one that fits as well.
#pragma once

#include "persist/schema/table.hpp"

#include <cstdint>
#include <type_traits>
#include <vector>

namespace persist::schema {

namespace detail {
template <class T>
consteval bool check_table() {
    constexpr bool is_table = TableType<T>;
    static_assert(is_table, "persist: the typed operations take the table descriptor as T, and 'T' above is not one. "
                            "Pass the persist::schema::Table<\"name\", Column<...>...> that maps your struct, "
                            "e.g. insert<Users>(tx, user), not insert<User>(tx, user)");
    return is_table;
}

template <class T, class Row>
consteval bool check_row_of() {
    constexpr bool never = sizeof(T) == 0;
    static_assert(never, "persist: 'Row' above is not the row struct of table 'T' above (its Column<&Row::member, ...> "
                         "name the struct to pass); pass a T::row_type, or use the table that maps this struct");
    return never;
}

template <class T, class... Args>
consteval bool check_select_arguments() {
    constexpr bool never = sizeof(T) == 0;
    static_assert(never, "persist: select<T>(tx, ...) takes (where[, order_by(...)][, Page][, Deleted]), "
                         "(order_by(...)[, Page][, Deleted]) or (Page[, Deleted]), and the arguments 'Args' above fit "
                         "none: wrap ordering terms in order_by(col<&Row::m>.asc(), ...) and put them after the predicate");
    return never;
}
} // namespace detail

// Not a table: one catcher per operation, any arguments.
#define PERSIST_SCHEMA_NOT_A_TABLE(operation)                                                     \
    template <class T, class Tx, class... Args>                                                    \
        requires(!TableType<T>)                                                                    \
    void operation(Tx&, const Args&...) {                                                          \
        (void)detail::check_table<T>();                                                            \
    }
PERSIST_SCHEMA_NOT_A_TABLE(insert)
PERSIST_SCHEMA_NOT_A_TABLE(upsert)
PERSIST_SCHEMA_NOT_A_TABLE(get)
PERSIST_SCHEMA_NOT_A_TABLE(all)
PERSIST_SCHEMA_NOT_A_TABLE(select)
PERSIST_SCHEMA_NOT_A_TABLE(count)
PERSIST_SCHEMA_NOT_A_TABLE(update)
PERSIST_SCHEMA_NOT_A_TABLE(update_returning)
PERSIST_SCHEMA_NOT_A_TABLE(remove)
PERSIST_SCHEMA_NOT_A_TABLE(restore)
PERSIST_SCHEMA_NOT_A_TABLE(purge)
PERSIST_SCHEMA_NOT_A_TABLE(query_as)
#undef PERSIST_SCHEMA_NOT_A_TABLE

// A row of another type than the table's: insert<Users>(tx, team).
#define PERSIST_SCHEMA_WRONG_ROW(operation)                                                       \
    template <TableType T, class Tx, class Row>                                                    \
        requires(!std::is_convertible_v<const Row&, const typename T::row_type&>)                  \
    void operation(Tx&, const Row&) {                                                              \
        (void)detail::check_row_of<T, Row>();                                                      \
    }
PERSIST_SCHEMA_WRONG_ROW(insert)
PERSIST_SCHEMA_WRONG_ROW(upsert)
PERSIST_SCHEMA_WRONG_ROW(update)
#undef PERSIST_SCHEMA_WRONG_ROW

/// A select<T>() whose arguments fit none of its forms (see the message).
template <TableType T, class Tx, class... Args>
std::vector<typename T::row_type> select(Tx&, const Args&...) {
    (void)detail::check_select_arguments<T, Args...>();
    return {};
}

} // namespace persist::schema
