// Migrations, each case over SQLite and PostgreSQL (TEST_CASE_TEMPLATE; shared_suite.hpp).
#include "shared_suite.hpp"

#include <persist/migrate.hpp>

#include <thread>

using namespace persist;
using namespace persist::schema;
using namespace shared;

namespace {
using Migrations = migrate::Embedded<
    migrate::Sql<1, "create_notes", "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)", "DROP TABLE notes">,
    migrate::Sql<2, "add_tag", "ALTER TABLE notes ADD COLUMN tag TEXT; CREATE INDEX notes_by_tag ON notes (tag)",
                 "DROP INDEX notes_by_tag; ALTER TABLE notes DROP COLUMN tag">,
    migrate::Sql<3, "seed", "INSERT INTO notes (id, body) VALUES (1, 'seeded once')", "DELETE FROM notes WHERE id = 1">>;

using Broken = migrate::Embedded<
    migrate::Sql<1, "create_notes", "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)", "DROP TABLE notes">,
    migrate::Sql<2, "half", "CREATE TABLE half (id BIGINT); INSERT INTO no_such_table VALUES (1)">>;

using Edited = migrate::Embedded<
    migrate::Sql<1, "create_notes", "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT)", "DROP TABLE notes">>;

// Code migrations written once for every backend: a generic lambda, and a function object.
struct Retag {
    void operator()(auto& tx) const { tx.execute("UPDATE notes SET tag = 'code-' || body WHERE tag IS NULL"); }
};
using WithCode = migrate::Embedded<
    migrate::Sql<1, "create_notes", "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL, tag TEXT)">,
    migrate::Code<2, "fill", "fill v1", [](auto& tx) {
        for (int id = 1; id <= 3; ++id)
            tx.execute("INSERT INTO notes (id, body) VALUES (" + std::to_string(id) + ", 'n" + std::to_string(id) + "')");
    }>,
    migrate::Code<3, "retag", "retag v1", Retag{}>>;
using FailingCode = migrate::Embedded<
    migrate::Sql<1, "create_notes", "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL, tag TEXT)">,
    migrate::Code<2, "half", "half v1", [](auto& tx) {
        tx.execute("INSERT INTO notes (id, body) VALUES (7, 'seven')");
        throw std::runtime_error("the backfill found a bad row");
    }>>;

template <class Store>
std::int64_t notes(Store& store) {
    return store.read([](auto& tx) { return *tx.template query_one<std::int64_t>("SELECT count(*) FROM notes"); });
}
template <class Store>
bool table_exists(Store& store, const std::string& name) {
    return store.read([&](auto& tx) {
        using D = typename std::remove_cvref_t<decltype(tx)>::dialect;
        return tx.template query_one<std::int64_t>(std::string(D::table_exists_sql()), name).has_value();
    });
}
} // namespace

namespace {
using U1 = migrate::Sql<1, "create_users", "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)", "DROP TABLE users">;
using U2 = migrate::Sql<2, "add_email", "ALTER TABLE users ADD COLUMN email TEXT", "ALTER TABLE users DROP COLUMN email">;
using U3 = migrate::Code<3, "seed", "seed v1", [](auto& tx) { tx.execute("INSERT INTO users (id, name) VALUES (1, 'seed')"); }>;
using U3Sql = migrate::Sql<3, "index_name", "CREATE INDEX users_name ON users (name)", "DROP INDEX users_name">;
using UsersThree = migrate::Embedded<U1, U2, U3>;

template <class Fn>
migrate::migration_refused refusal(Fn&& fn) {
    try {
        fn();
    } catch (const migrate::migration_refused& e) {
        CHECK(e.code() == errc::migration);
        return e;
    }
    FAIL("no migration_refused");
    return migrate::migration_refused(migrate::Reason::usage, 0, "");
}
} // namespace

TEST_CASE_TEMPLATE("migrations apply once, record history, and report status", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    const auto first = store.migrate(Migrations{});
    CHECK(first.from_version == 0);
    CHECK(first.to_version == 3);
    CHECK(first.applied == std::vector<std::int64_t>{1, 2, 3});
    const auto second = store.migrate(Migrations{});
    CHECK(second.applied.empty());
    CHECK(second.to_version == 3);
    CHECK(notes(store) == 1);
    migrate::Migrator migrator(store, Migrations{});
    const auto status = migrator.status();
    REQUIRE(status.size() == 3);
    for (const auto& version : status) {
        CHECK(version.state == migrate::VersionStatus::State::applied);
        CHECK(version.applied_at.size() == 27); // 2026-11-23T08:15:30.123456Z
    }
    CHECK(migrator.plan().empty());
}

TEST_CASE_TEMPLATE("code migrations written once run on both backends, inside the migration's transaction", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    CHECK(store.migrate(WithCode{}).applied == std::vector<std::int64_t>{1, 2, 3});
    CHECK(store.read([](auto& tx) {
        return tx.template query<std::string>("SELECT tag FROM notes ORDER BY id");
    }) == std::vector<std::string>{"code-n1", "code-n2", "code-n3"});
    CHECK(store.migrate(WithCode{}).applied.empty());
    CHECK(migrate::Migrator(store, WithCode{}).status()[2].database_checksum == migrate::checksum("retag v1").str());

    Fixture other;
    StoreOf<Fixture> failing(other.config());
    const auto e = refusal([&] { failing.migrate(FailingCode{}); });
    CHECK(e.reason() == migrate::Reason::failed);
    CHECK(e.version() == 2);
    CHECK(std::string(e.what()).find("the backfill found a bad row") != std::string::npos);
    CHECK(notes(failing) == 0); // the row it inserted went with its transaction
    CHECK(migrate::Migrator(failing, FailingCode{}).status()[1].state == migrate::VersionStatus::State::pending);
}

TEST_CASE_TEMPLATE("a failing migration rolls back whole (transactional DDL); earlier ones stay", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    const auto e = refusal([&] { store.migrate(Broken{}); });
    CHECK(e.reason() == migrate::Reason::failed);
    CHECK(e.version() == 2);
    CHECK(std::string(e.what()).find("migration 2 (half) failed") != std::string::npos);
    CHECK(std::string(e.what()).find("it was rolled back, earlier migrations stay applied") != std::string::npos);
    CHECK(table_exists(store, "notes"));
    CHECK_FALSE(table_exists(store, "half"));
    CHECK(migrate::Migrator(store, Broken{}).status()[1].state == migrate::VersionStatus::State::pending);
}

TEST_CASE_TEMPLATE("migration SQL that would take over the transaction is malformed before anything runs", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    using Sneaky = migrate::Embedded<migrate::Sql<1, "first", "CREATE TABLE first_table (x INTEGER)">,
                                     migrate::Sql<2, "sneaky", "CREATE TABLE second_table (x INTEGER); COMMIT; BEGIN; "
                                                               "DROP TABLE first_table">>;
    const auto e = refusal([&] { store.migrate(Sneaky{}); });
    CHECK(e.reason() == migrate::Reason::malformed_source);
    CHECK(e.version() == 2);
    CHECK(std::string(e.what()).find("COMMIT controls the transaction") != std::string::npos);
    // Refused before anything ran: not even migration 1.
    CHECK_FALSE(table_exists(store, "first_table"));
    CHECK_FALSE(table_exists(store, "second_table"));
}

TEST_CASE_TEMPLATE("an edited migration is refused by checksum until repaired", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.migrate(Migrations{});
    const auto e = refusal([&] { store.migrate(Edited{}); });
    CHECK(e.reason() == migrate::Reason::checksum_mismatch);
    CHECK(std::string(e.what()).find("was applied with checksum") != std::string::npos);
    CHECK(migrate::Migrator(store, Edited{}).repair(1));
    CHECK_FALSE(migrate::Migrator(store, Edited{}).repair(1));
    // Versions 2 and 3 are applied but no longer in the source.
    CHECK_THROWS_AS(store.migrate(Edited{}), migrate::migration_refused);
}

TEST_CASE_TEMPLATE("migrate_to goes down with the down scripts, newest first", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.migrate(Migrations{});
    migrate::Migrator migrator(store, Migrations{});
    const auto down = migrator.migrate_to(1);
    CHECK(down.reverted == std::vector<std::int64_t>{3, 2});
    CHECK(down.to_version == 1);
    CHECK(notes(store) == 0);
    CHECK(migrator.migrate().applied == std::vector<std::int64_t>{2, 3});
    CHECK(notes(store) == 1);
}

TEST_CASE_TEMPLATE("eight Stores migrating at once: each version applied exactly once", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    std::vector<std::vector<std::int64_t>> applied(8);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (std::size_t i = 0; i < applied.size(); ++i)
        threads.emplace_back([&, i] {
            try {
                Store<typename Fixture::backend, typename Fixture::process_lock> store(fixture.config());
                applied[i] = store.migrate(Migrations{}).applied;
            } catch (const std::exception& e) {
                ++failures;
                MESSAGE(e.what());
            }
        });
    for (auto& thread : threads) thread.join();
    CHECK(failures == 0);
    std::vector<std::int64_t> all;
    for (const auto& versions : applied) all.insert(all.end(), versions.begin(), versions.end());
    std::sort(all.begin(), all.end());
    CHECK(all == std::vector<std::int64_t>{1, 2, 3});
    StoreOf<Fixture> store(fixture.config());
    CHECK(notes(store) == 1);
}

TEST_CASE_TEMPLATE("refusals name the versions and both checksums, and change nothing", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.migrate(UsersThree{});
    const auto history_before = count_of(store, "SELECT count(*) FROM persist_schema_history");

    SUBCASE("an applied migration whose text changed") {
        using Edited = migrate::Sql<2, "add_email", "ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT ''">;
        const auto e = refusal([&] { store.migrate(migrate::Embedded<U1, Edited, U3>{}); });
        CHECK(e.reason() == migrate::Reason::checksum_mismatch);
        CHECK(e.version() == 2);
        CHECK(std::string(e.what()) == "migration 2 (add_email) was applied with checksum " + U2::checksum.str() +
                                           " but the source now has checksum " + Edited::checksum.str() +
                                           "; restore its original text, or accept the change with repair(2)");
    }
    SUBCASE("an applied migration missing from the source") {
        const auto e = refusal([&] { store.migrate(migrate::Embedded<U1, U3>{}); });
        CHECK(e.reason() == migrate::Reason::missing_from_source);
        CHECK(std::string(e.what()) ==
              "migration 2 (add_email) was applied to the database but is missing from the source; restore it to the source");
    }
    SUBCASE("a database newer than the code") {
        const auto e = refusal([&] { store.migrate(migrate::Embedded<U1, U2>{}); });
        CHECK(e.reason() == migrate::Reason::database_newer);
        CHECK(std::string(e.what()) == "the database is at version 3 but this program knows migrations only up to version 2; "
                                       "run a newer build of the program (it was migrated by one)");
    }
    SUBCASE("a new migration below the applied head, unless allowed") {
        using Late = migrate::Sql<2, "late", "CREATE TABLE late (x BIGINT)">;
        Fixture other;
        StoreOf<Fixture> fresh(other.config());
        fresh.migrate(migrate::Embedded<U1, U3Sql>{});
        const auto e = refusal([&] { fresh.migrate(migrate::Embedded<U1, Late, U3Sql>{}); });
        CHECK(e.reason() == migrate::Reason::out_of_order);
        CHECK(std::string(e.what()) == "migration 2 (late) is new but the database is already at version 3; give it a "
                                       "version above 3, or set allow_out_of_order");
        migrate::Options options;
        options.allow_out_of_order = true;
        CHECK(fresh.migrate(migrate::Embedded<U1, Late, U3Sql>{}, options).applied == std::vector<std::int64_t>{2});
    }
    CHECK(count_of(store, "SELECT count(*) FROM persist_schema_history") == history_before);
}

TEST_CASE_TEMPLATE("baseline an existing database, then migrate the rest", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)");
        tx.execute("ALTER TABLE users ADD COLUMN email TEXT");
    });
    migrate::Migrator migrator(store, UsersThree{});
    migrator.baseline(2);
    CHECK(migrator.migrate().applied == std::vector<std::int64_t>{3});
    const auto states = migrator.status();
    REQUIRE(states.size() == 3);
    CHECK(states[0].state == migrate::VersionStatus::State::baseline);
    CHECK(states[2].state == migrate::VersionStatus::State::applied);
    CHECK(count_of(store, "SELECT count(*) FROM users WHERE name = 'seed'") == 1);
    CHECK(refusal([&] { migrator.baseline(2); }).reason() == migrate::Reason::usage);
    CHECK(std::string(refusal([&] { migrator.baseline(9); }).what()) ==
          "cannot baseline at version 9: the source has no such migration");
}

TEST_CASE_TEMPLATE("repair accepts a changed checksum, with an audit entry", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.migrate(UsersThree{});
    using Edited = migrate::Sql<2, "add_email", "ALTER TABLE users ADD COLUMN email TEXT -- reformatted">;
    migrate::Migrator migrator(store, migrate::Embedded<U1, Edited, U3>{});
    CHECK(refusal([&] { migrator.migrate(); }).reason() == migrate::Reason::checksum_mismatch);
    CHECK(migrator.status()[1].state == migrate::VersionStatus::State::changed);
    CHECK(migrator.repair(2));
    CHECK_FALSE(migrator.repair(2));
    CHECK(migrator.migrate().applied.empty());
    CHECK(count_of(store, "SELECT count(*) FROM persist_schema_audit WHERE version = 2 AND action = 'repair: accepted checksum'") ==
          1);
    CHECK(std::string(refusal([&] { migrator.repair(7); }).what()) ==
          "cannot repair version 7: the source has no such migration");
}

TEST_CASE_TEMPLATE("status and plan report without changing anything", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.migrate(migrate::Embedded<U1>{});
    migrate::Migrator migrator(store, UsersThree{});
    const auto plan = migrator.plan();
    REQUIRE(plan.size() == 2);
    CHECK(plan[0].version == 2);
    CHECK(plan[1].name == "seed");
    const auto states = migrator.status();
    REQUIRE(states.size() == 3);
    CHECK(states[0].state == migrate::VersionStatus::State::applied);
    CHECK_FALSE(states[0].applied_at.empty());
    CHECK(states[1].state == migrate::VersionStatus::State::pending);
    CHECK(count_of(store, "SELECT count(*) FROM persist_schema_history") == 1);
    migrate::Migrator older(store, migrate::Embedded<U2>{});
    CHECK(older.status()[0].state == migrate::VersionStatus::State::missing_from_source);
}
