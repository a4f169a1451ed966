// Migrations on PostgreSQL: statements that must run outside a transaction, what this backend
// refuses up front, splitting scripts, and 100 processes migrating one fresh database at once.
#include "backends.hpp"
#include "herd.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/postgres.hpp>
#include <persist/postgres/script.hpp>

#include <fstream>
#include <map>

using namespace persist;
using PgStore = Store<postgres::Backend, postgres::AdvisoryLock>;

TEST_CASE("split_statements keeps quotes, dollar quotes and comments whole") {
    using postgres::split_statements;
    using V = std::vector<std::string>;
    CHECK(split_statements("SELECT 1; SELECT 2") == V{"SELECT 1", " SELECT 2"});
    CHECK(split_statements("SELECT 'a;b'; SELECT \"c;d\"") == V{"SELECT 'a;b'", " SELECT \"c;d\""});
    CHECK(split_statements("SELECT 'it''s;'; SELECT E'\\';'") == V{"SELECT 'it''s;'", " SELECT E'\\';'"});
    CHECK(split_statements("CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql; SELECT $1") ==
          V{"CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql", " SELECT $1"});
    CHECK(split_statements("-- a; comment\nSELECT 1 /* b; /* nested; */ c; */;\n-- only a comment;\n ;") ==
          V{"-- a; comment\nSELECT 1 /* b; /* nested; */ c; */"});
    CHECK(split_statements("  ;  ; ").empty());
    CHECK_THROWS_WITH_AS(split_statements("SELECT 'open"), "the SQL script has an unterminated string starting at byte 7; close it",
                         usage_error);
    CHECK_THROWS_WITH_AS(split_statements("SELECT $x$ open"), doctest::Contains("unterminated dollar-quoted string"), usage_error);
    CHECK_THROWS_WITH_AS(split_statements("/* open"), doctest::Contains("unterminated comment starting at byte 0"), usage_error);
}

TEST_CASE("split_statements: '$' inside an identifier and a word ending in E are not quotes") {
    using postgres::split_statements;
    using V = std::vector<std::string>;
    // PostgreSQL allows '$' in identifiers after the first character: a$b$c is one name, not
    // the start of a dollar quote that would swallow the next statement.
    CHECK(split_statements("CREATE TABLE t (a$b$c int); CREATE INDEX CONCURRENTLY i ON t (a$b$c)") ==
          V{"CREATE TABLE t (a$b$c int)", " CREATE INDEX CONCURRENTLY i ON t (a$b$c)"});
    CHECK(split_statements("SELECT x$ FROM t; SELECT $$;$$") == V{"SELECT x$ FROM t", " SELECT $$;$$"});
    // Only a lone E (or e) before a quote starts an escape string; in WHERE'a\' the backslash
    // is an ordinary character of a standard string.
    CHECK(split_statements("SELECT 1 WHERE'a\\' = 'a\\'; SELECT 2") == V{"SELECT 1 WHERE'a\\' = 'a\\'", " SELECT 2"});
    CHECK(split_statements("SELECT e'\\';'; SELECT 2") == V{"SELECT e'\\';'", " SELECT 2"});
}

namespace {
using Concurrently = migrate::Embedded<
    migrate::Sql<1, "create_items", "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT)">,
    migrate::Sql<2, "index_names",
                 "-- persist:no-transaction\nCREATE INDEX CONCURRENTLY items_by_name ON items (name);\n"
                 "CREATE INDEX CONCURRENTLY items_by_id_name ON items (id, name);">>;
using Unmarked = migrate::Embedded<
    migrate::Sql<1, "create_items", "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT)">,
    migrate::Sql<2, "index_names", "CREATE INDEX CONCURRENTLY items_by_name ON items (name)">>;

void touch(sqlite::Transaction&) {}
using WithCode = migrate::Embedded<migrate::Sql<1, "create_items", "CREATE TABLE items (id BIGINT PRIMARY KEY)">,
                                   migrate::Code<2, "fill", "fill v1", &touch>>;
} // namespace

TEST_CASE("a migration marked no-transaction runs CREATE INDEX CONCURRENTLY, one statement at a time") {
    test::PostgresBackend fixture;
    PgStore store(fixture.config());
    CHECK(store.migrate(Concurrently{}).applied == std::vector<std::int64_t>{1, 2});
    const auto indexes = store.read([](auto& tx) {
        return tx.template query<std::string>("SELECT indexname FROM pg_indexes WHERE tablename = 'items' ORDER BY indexname");
    });
    CHECK(indexes == std::vector<std::string>{"items_by_id_name", "items_by_name", "items_pkey"});
    CHECK(migrate::Migrator(store, Concurrently{}).status()[1].state == migrate::VersionStatus::State::applied);
}

TEST_CASE("without the marker, PostgreSQL refuses CONCURRENTLY in the migration's transaction, and nothing stays") {
    test::PostgresBackend fixture;
    PgStore store(fixture.config());
    try {
        store.migrate(Unmarked{});
        FAIL("expected migration_refused");
    } catch (const migrate::migration_refused& e) {
        CHECK(e.reason() == migrate::Reason::failed);
        CHECK(std::string(e.what()).find("cannot run inside a transaction block") != std::string::npos);
    }
    CHECK(store.read([](auto& tx) {
        return *tx.template query_one<std::int64_t>("SELECT count(*) FROM pg_indexes WHERE indexname = 'items_by_name'");
    }) == 0);
}

TEST_CASE("what PostgreSQL cannot do is refused before anything runs") {
    test::PostgresBackend fixture;
    PgStore store(fixture.config());
    CHECK_THROWS_WITH_AS(store.migrate(WithCode{}),
                         "migration 2 (fill) is C++ code for sqlite transactions, and this store writes postgres ones; write "
                         "it for both as a generic lambda (Code<..., [](auto& tx) { ... }>), or as SQL",
                         migrate::migration_refused);
    migrate::Options options;
    options.snapshot_before = true;
    CHECK_THROWS_WITH_AS(store.migrate(Concurrently{}, options), doctest::Contains("snapshot_before needs a backend that can snapshot"),
                         migrate::migration_refused);
    CHECK(store.read([](auto& tx) {
        return *tx.template query_one<std::int64_t>("SELECT count(*) FROM pg_tables WHERE tablename IN ('items', 'persist_schema_history') "
                                                    "AND schemaname = current_schema()");
    }) == 0);
}

namespace {
using HalfDone = migrate::Embedded<
    migrate::Sql<1, "create_items", "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT)">,
    migrate::Sql<2, "half", "-- persist:no-transaction\nCREATE INDEX CONCURRENTLY items_by_name ON items (name);\n"
                            "CREATE INDEX CONCURRENTLY broken ON no_such_table (x);">>;
} // namespace

TEST_CASE("a non-transactional migration that stopped halfway is refused until repaired") {
    test::PostgresBackend fixture;
    PgStore store(fixture.config());
    CHECK_THROWS_WITH_AS(store.migrate(HalfDone{}), doctest::Contains("no_such_table"), migrate::migration_refused);
    try {
        store.migrate(HalfDone{});
        FAIL("expected migration_refused");
    } catch (const migrate::migration_refused& e) {
        CHECK(e.reason() == migrate::Reason::incomplete);
        CHECK(std::string(e.what()).ends_with("may be partly migrated. Inspect it, then run repair(2) to mark it completed, or "
                                              "undo what it did by hand"));
    }
    // The first statement stayed done: the database is half migrated, as the message says.
    CHECK(store.read([](auto& tx) {
        return *tx.template query_one<std::int64_t>("SELECT count(*) FROM pg_indexes WHERE indexname = 'items_by_name'");
    }) == 1);
    CHECK(migrate::Migrator(store, HalfDone{}).repair(2));
    CHECK(store.migrate(HalfDone{}).applied.empty());
}

// ---- the herd

namespace {
constexpr int processes = 100;

int repetitions() {
    const char* value = std::getenv("PERSIST_HERD_REPETITIONS");
    return value ? std::max(1, std::atoi(value) / 3) : 3;
}

void herd(const std::string& policy) {
    const int head = policy == "none" ? 3 : 4;
    for (int round = 0; round < repetitions(); ++round) {
        test::PostgresBackend fixture; // a fresh, empty schema
        test::TempDir dir;
        std::vector<test::Process> herd;
        for (int i = 0; i < processes; ++i)
            herd.push_back(test::Process({PERSIST_PG_MIGRATE_HELPER, policy, fixture.url(), dir / "go"}));
        { std::ofstream go(dir / "go"); } // the barrier: all start at once
        const auto outcome = test::tally(herd, head);
        for (const auto& line : outcome.unexpected) MESSAGE("unexpected: " << line);
        CHECK(outcome.unexpected.empty());
        std::map<int, int> expected{{1, 1}, {2, 1}, {3, 1}};
        if (head == 4) expected[4] = 1;
        CHECK(outcome.applied_by_count == expected);
        postgres::Connection check(fixture.url());
        CHECK(check.query<std::int64_t>("SELECT count(*) FROM events WHERE what = 'seeded once'") == std::vector<std::int64_t>{1});
        CHECK(check.query<std::int64_t>("SELECT count(*) FROM persist_schema_history WHERE state = 'applied'") ==
              std::vector<std::int64_t>{head});
        CHECK(check.query<std::int64_t>("SELECT count(*) FROM pg_indexes WHERE indexname = 'events_what'") ==
              std::vector<std::int64_t>{head == 4 ? 1 : 0});
    }
}
} // namespace

TEST_CASE("100 processes migrate a fresh PostgreSQL database (postgres::AdvisoryLock)") { herd("advisory"); }
TEST_CASE("100 processes migrate a fresh PostgreSQL database (postgres::TableLock)") { herd("table"); }
// Without a lock policy the transactional migrations alone (see pg_migrate_helper.cpp).
TEST_CASE("100 processes migrate a fresh PostgreSQL database (no lock policy: transactions alone)") { herd("none"); }
