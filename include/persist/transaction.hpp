// persist/transaction.hpp: what every backend's transactions offer, as concepts. Generic code
// (migrations, schema operations, verify) uses nothing else; each backend static_asserts its
// transaction types against these.
#pragma once

#include "persist/catalog.hpp"
#include "persist/dialect.hpp"

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace persist {

/// The tag of Store::read(single_statement, fn): `fn` runs exactly one statement, a point
/// lookup for instance, and persist may run it outside an explicit transaction (see there).
struct single_statement_t {
    explicit single_statement_t() = default;
};
/// See single_statement_t.
inline constexpr single_statement_t single_statement{};

/// What store.read() passes to its function:
///   Tx::dialect                                  the backend's Dialect
///   tx.query<Row>(sql, params...)                every row, as Row (a value, tuple or struct)
///   tx.query_one<Row>(sql, params...)            the first row, or nullopt
///   tx.for_each<Row>(sql, visit, params...)      visit(row) for each row
///   tx.for_each_row(sql, visit, params...)       visit(view) with the backend's row view
///   tx.query_row(sql, visit, params...)          visit(view) for the first row only; whether
///                                                there was one
///   tx.describe_table(name)                      the table as the catalog describes it
/// Parameters bind to the dialect's placeholders in order.
template <class Tx>
concept ReadTransaction = Dialect<typename Tx::dialect> && requires(Tx& tx, std::string_view sql, std::int64_t value) {
    { tx.template query<std::int64_t>(sql, value) } -> std::same_as<std::vector<std::int64_t>>;
    { tx.template query_one<std::string>(sql) } -> std::same_as<std::optional<std::string>>;
    tx.template for_each<std::int64_t>(sql, [](std::int64_t) {});
    tx.for_each_row(sql, [](auto&&) {});
    { tx.query_row(sql, [](auto&&) {}) } -> std::same_as<bool>;
    { tx.describe_table(std::string()) } -> std::same_as<TableDescription>;
};

/// What store.write() passes to its function: a ReadTransaction that also has
///   tx.execute(sql, params...)                   one statement; the number of rows it changed
///   tx.execute_script(sql)                       parameterless statements, in order
///   tx.savepoint(fn)                             fn() in a savepoint: if it throws, only what
///                                                it did is undone and the transaction goes on
///   tx.exclude_writers(name)                     waits until no other transaction that asked
///                                                for `name` is running, and keeps them out
///                                                until this one ends (SQLite: already true of
///                                                every write transaction)
template <class Tx>
concept WriteTransaction = ReadTransaction<Tx> && requires(Tx& tx, std::string_view sql, const std::string& script) {
    { tx.execute(sql, std::int64_t{1}) } -> std::same_as<std::int64_t>;
    tx.execute_script(script);
    { tx.savepoint([] { return 1; }) } -> std::same_as<int>;
    tx.exclude_writers(sql);
};

} // namespace persist
