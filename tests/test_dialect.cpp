// SQL rendering by the SQLite dialect, without a database; the concepts policies satisfy.
#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/persist.hpp>

#include <array>

using namespace persist;

static_assert(Dialect<sqlite::Dialect>);
static_assert(Backend<sqlite::Backend>);
static_assert(lock::LockPolicy<lock::None>);
static_assert(lock::LockPolicy<lock::InProcess>);
static_assert(!Backend<int>);
static_assert(!lock::LockPolicy<sqlite::Backend>);

TEST_CASE("placeholders, identifiers and type names") {
    CHECK(sqlite::Dialect::name == "sqlite");
    CHECK(sqlite::Dialect::placeholder(1) == "?");
    CHECK(sqlite::Dialect::placeholder(7) == "?");
    CHECK(sqlite::Dialect::quote_identifier("users") == "\"users\"");
    CHECK(sqlite::Dialect::quote_identifier("we\"ird") == "\"we\"\"ird\"");
    CHECK(sqlite::Dialect::type_name(ColumnType::integer) == "INTEGER");
    CHECK(sqlite::Dialect::type_name(ColumnType::real) == "REAL");
    CHECK(sqlite::Dialect::type_name(ColumnType::text) == "TEXT");
    CHECK(sqlite::Dialect::type_name(ColumnType::blob) == "BLOB");
    CHECK(sqlite::Dialect::type_name(ColumnType::boolean) == "INTEGER");
    CHECK(sqlite::Dialect::type_name(ColumnType::timestamp) == "TEXT");
    CHECK(sqlite::Dialect::type_name(ColumnType::uuid) == "TEXT");
    CHECK(sqlite::Dialect::type_name(ColumnType::json) == "TEXT");
}

TEST_CASE("bad identifiers are usage errors") {
    CHECK_THROWS_WITH_AS(sqlite::Dialect::quote_identifier(""),
                         "an SQL identifier must be non-empty and hold no NUL byte", usage_error);
    CHECK_THROWS_AS(sqlite::Dialect::quote_identifier(std::string_view("a\0b", 3)), usage_error);
}

TEST_CASE("upsert clauses") {
    const std::array<std::string_view, 1> key{"email"};
    const std::array<std::string_view, 2> update{"name", "age"};
    CHECK(sqlite::Dialect::upsert_clause(key, update) ==
          "ON CONFLICT (\"email\") DO UPDATE SET \"name\" = excluded.\"name\", \"age\" = excluded.\"age\"");
    CHECK(sqlite::Dialect::upsert_clause(key, {}) == "ON CONFLICT (\"email\") DO NOTHING");
    CHECK_THROWS_WITH_AS(sqlite::Dialect::upsert_clause({}, update),
                         "an upsert needs at least one conflict column (the unique key)", usage_error);
}

TEST_CASE("the rendered upsert runs on SQLite") {
    Config config;
    config.db_path = ":memory:";
    Store<sqlite::Backend> store(config);
    const std::array<std::string_view, 1> key{"email"};
    const std::array<std::string_view, 1> update{"name"};
    const std::string upsert =
        "INSERT INTO u (email, name) VALUES (?, ?) " + sqlite::Dialect::upsert_clause(key, update);
    store.write([&](auto& tx) {
        tx.execute("CREATE TABLE u (email TEXT PRIMARY KEY, name TEXT)");
        tx.execute(upsert, "a@x", "first");
        tx.execute(upsert, "a@x", "second");
    });
    CHECK(store.read([](auto& tx) { return tx.template query<std::string>("SELECT name FROM u"); }) ==
          std::vector<std::string>{"second"});
}
