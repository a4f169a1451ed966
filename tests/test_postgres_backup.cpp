// Backup, verify and restore on PostgreSQL (persist/postgres/backup.hpp), against the
// throwaway server; each case works in a schema of its own.
#include "backends.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/postgres.hpp>
#include <persist/postgres/backup.hpp>

#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace persist;
namespace fs = std::filesystem;
using PgStore = Store<postgres::Backend, lock::InProcess>;

namespace {
using Migrations = migrate::Embedded<
    migrate::Sql<1, "create_notes", "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)">,
    migrate::Sql<2, "create_tags", "CREATE TABLE a_tags (note BIGINT REFERENCES notes (id), tag TEXT)">>;

std::int64_t count(PgStore& store, const std::string& table) {
    return store.read([&](auto& tx) { return *tx.template query_one<std::int64_t>("SELECT count(*) FROM " + table); });
}

void fill(PgStore& store, int from, int to) {
    store.write([&](auto& tx) {
        for (int i = from; i < to; ++i) {
            tx.execute("INSERT INTO notes VALUES ($1, $2)", std::int64_t{i}, "note\t" + std::to_string(i) + "\nline two");
            tx.execute("INSERT INTO a_tags VALUES ($1, 'x')", std::int64_t{i});
        }
    });
}
} // namespace

TEST_CASE("a PostgreSQL backup verifies, and restore brings the data back in one transaction") {
    test::PostgresBackend fixture;
    PgStore store(fixture.config());
    store.migrate(Migrations{});
    fill(store, 0, 250);
    const auto made = postgres::backup(store, fixture.dir / "backups/");
    CHECK(made.path.starts_with(fixture.dir / "backups/"));
    CHECK(made.path.ends_with(".pgdump"));
    CHECK((fs::status(fixture.dir / "backups").permissions() & fs::perms::all) == fs::perms::owner_all);
    CHECK((fs::status(made.path).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
    CHECK(made.manifest.row_counts.at("notes") == 250);
    CHECK(made.manifest.row_counts.at("a_tags") == 250);
    CHECK(made.manifest.schema_version == 2);
    CHECK(made.manifest.migrations.size() == 2);
    const auto verified = postgres::verify(made.path);
    CHECK(verified.sha256 == made.manifest.sha256);

    // Later changes: more rows, a dropped table, a new table. Restore undoes all of them.
    fill(store, 250, 300);
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE later (v INT); INSERT INTO later VALUES (1)"); });
    const auto restored = postgres::restore(store, made.path);
    CHECK(count(store, "notes") == 250);
    CHECK(count(store, "a_tags") == 250);
    CHECK(store.read([](auto& tx) {
        return tx.template query<std::string>("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1");
    }) == std::vector<std::string>{"a_tags", "notes", "persist_schema_audit", "persist_schema_history"});
    CHECK(store.read([](auto& tx) { return *tx.template query_one<std::string>("SELECT body FROM notes WHERE id = 7"); }) ==
          "note\t7\nline two");
    CHECK(migrate::Migrator(store, Migrations{}).plan().empty());
    // The safety copy holds the database as it was just before, and verifies.
    CHECK(postgres::verify(restored.safety_copy).row_counts.at("notes") == 300);
    CHECK(postgres::verify(restored.safety_copy).row_counts.at("later") == 1);
}

TEST_CASE("a damaged or substituted PostgreSQL backup does not verify, and restoring it changes nothing") {
    test::PostgresBackend fixture;
    PgStore store(fixture.config());
    store.migrate(Migrations{});
    fill(store, 0, 20);
    const auto made = postgres::backup(store, fixture.dir / "b.pgdump");
    fill(store, 20, 30);
    {
        std::fstream file(made.path, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(static_cast<std::streamoff>(made.manifest.size / 2));
        file.put('\x5a');
    }
    const auto message = test::message_of<backup_error>([&] { postgres::verify(made.path); });
    CHECK(message.starts_with("backup " + made.path + " does not verify:\n  - SHA-256 is "));
    CHECK_THROWS_AS(postgres::restore(store, made.path), backup_error);
    CHECK(count(store, "notes") == 30);

    fs::copy_file(made.path + ".manifest", fixture.dir / "kept.manifest");
    fs::remove(made.path + ".manifest");
    CHECK(test::message_of<backup_error>([&] { postgres::verify(made.path); }) ==
          "backup " + made.path + " has no manifest (" + made.path +
              ".manifest); without it the file cannot be checked. Make backups with persist backup");
    CHECK(test::message_of<usage_error>([&] { postgres::backup(store, made.path); }) ==
          "backup destination " + made.path + " already exists; pass a directory (persist names the file) or a new file name");

    // Another dump under this one's manifest: the sizes and digests disagree.
    const auto other = postgres::backup(store, fixture.dir / "c.pgdump");
    fs::copy_file(other.path, fixture.dir / "d.pgdump");
    fs::copy_file(fixture.dir / "kept.manifest", fixture.dir / "d.pgdump.manifest");
    CHECK_THROWS_AS(postgres::restore(store, fixture.dir / "d.pgdump"), backup_error);
    CHECK(count(store, "notes") == 30);
}

TEST_CASE("a restore that fails part way changes nothing (the tables it dropped come back)") {
    test::PostgresBackend fixture;
    PgStore store(fixture.config());
    store.migrate(Migrations{});
    fill(store, 0, 40);
    const auto made = postgres::backup(store, fixture.dir / "backups/");
    fill(store, 40, 50);
    // Another session holds a lock on notes: the restore's DROP of notes gives up after
    // lock_timeout, and whatever the transaction had dropped before comes back.
    postgres::Connection holder(fixture.url());
    holder.execute_script("BEGIN; LOCK TABLE notes IN ACCESS SHARE MODE");
    Config impatient = fixture.config();
    impatient.db_url = fixture.url() + " options='-c search_path=" + fixture.schema + " -c lock_timeout=300'";
    PgStore restoring(impatient);
    const auto message = test::message_of<backup_error>([&] { postgres::restore(restoring, made.path); });
    CHECK(message.starts_with("psql (replaying " + made.path + " in one transaction; the database is unchanged) failed (exit 3)"));
    CHECK(message.find("lock timeout") != std::string::npos);
    holder.execute_script("ROLLBACK");
    CHECK(count(store, "notes") == 50);
    CHECK(count(store, "a_tags") == 50);
}

TEST_CASE("a dump of another schema is refused before anything changes") {
    test::PostgresBackend first, second;
    PgStore one(first.config()), two(second.config());
    one.migrate(Migrations{});
    two.migrate(Migrations{});
    fill(two, 0, 5);
    const auto made = postgres::backup(one, first.dir / "backups/");
    CHECK(test::message_of<backup_error>([&] { postgres::restore(two, made.path); }) ==
          "backup " + made.path + " holds schema " + first.schema + ", and this store works in schema " + second.schema +
              "; restore it into a store whose search_path starts with " + first.schema);
    CHECK(count(two, "notes") == 5);
}

TEST_CASE("a helper that cannot run, or runs past its deadline, fails the backup and leaves nothing behind") {
    test::PostgresBackend fixture;
    PgStore store(fixture.config());
    store.migrate(Migrations{});
    const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
    ::setenv("PATH", (fixture.dir / "empty").c_str(), 1);
    const auto missing = test::message_of<io_error>([&] { postgres::backup(store, fixture.dir / "a.pgdump"); });
    ::setenv("PATH", saved.c_str(), 1);
    CHECK(missing == "cannot run pg_dump: No such file or directory (install it: on Debian, apt-get install postgresql-client)");
    postgres::BackupOptions hurried;
    hurried.timeout = std::chrono::seconds(0);
    CHECK(test::message_of<backup_error>([&] { postgres::backup(store, fixture.dir / "b.pgdump", hurried); }) ==
          "pg_dump did not finish in time and was stopped");
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(fixture.dir.path)) left.push_back(entry.path().filename().string());
    CHECK(left == std::vector<std::string>{});
    CHECK(test::message_of<config_error>([] { postgres::detail::connection_environment("host='unterminated"); })
              .starts_with("the PostgreSQL connection string is malformed: "));
}

TEST_CASE("PostgreSQL backups into a directory: retention, a killed backup's leftovers swept, a bad max_age refused") {
    test::PostgresBackend fixture;
    PgStore store(fixture.config());
    store.migrate(Migrations{});
    fill(store, 0, 5);
    const std::string directory = fixture.dir / "nightly";
    postgres::BackupOptions keep_two;
    keep_two.keep = 2;
    keep_two.max_age = std::chrono::hours(24) * 30;
    std::vector<std::string> made;
    for (int i = 0; i < 3; ++i) made.push_back(postgres::backup(store, directory + "/", keep_two).path);
    CHECK_FALSE(fs::exists(made[0]));
    CHECK_FALSE(fs::exists(made[0] + ".manifest"));
    CHECK(fs::exists(made[1]));
    CHECK(fs::exists(made[2] + ".manifest"));

    // What a backup killed by a dead process left: swept by the next backup into the directory.
    const pid_t dead = [] {
        const pid_t child = ::fork();
        if (child == 0) ::_exit(0);
        int status = 0;
        ::waitpid(child, &status, 0);
        return child;
    }();
    const std::string leftover = made[2] + ".tmp-" + std::to_string(dead) + "-AbCdEf";
    std::ofstream(leftover) << "half a dump";
    const auto next = postgres::backup(store, directory, keep_two);
    CHECK_FALSE(fs::exists(leftover));
    CHECK(next.removed == std::vector<std::string>{made[1]});

    postgres::BackupOptions bad;
    bad.max_age = std::chrono::seconds(0);
    CHECK(test::message_of<usage_error>([&] { postgres::backup(store, directory, bad); }) ==
          "backup max_age must be more than 0 and at most 100 years (36525 days); got 0 s");
    CHECK(postgres::detail::file_stem("app db/x") == "app_db_x");
}

TEST_CASE("restore on PostgreSQL brings back the schema's views, functions, types and sequences as the backup had them") {
    test::PostgresBackend fixture;
    PgStore store(fixture.config());
    store.migrate(Migrations{});
    fill(store, 0, 3);
    store.write([](auto& tx) {
        tx.execute_script("CREATE TYPE mood AS ENUM ('calm', 'busy');"
                          "CREATE DOMAIN short_text AS TEXT CHECK (length(VALUE) < 10);"
                          "CREATE SEQUENCE tickets START 100;"
                          "CREATE FUNCTION twice(x BIGINT) RETURNS BIGINT LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';"
                          "CREATE VIEW doubled AS SELECT id, twice(id) AS d FROM notes");
    });
    const auto made = postgres::backup(store, fixture.dir / "objects.pgdump");
    // After the backup: every kind of object dropped, replaced or added.
    store.write([](auto& tx) {
        tx.execute_script("DROP VIEW doubled; DROP FUNCTION twice(BIGINT);"
                          "CREATE FUNCTION twice(x BIGINT) RETURNS BIGINT LANGUAGE sql IMMUTABLE AS 'SELECT x * 3';"
                          "CREATE VIEW later_view AS SELECT count(*) AS n FROM notes;"
                          "CREATE MATERIALIZED VIEW later_matview AS SELECT 1 AS one;"
                          "CREATE SEQUENCE later_sequence; CREATE TYPE later_pair AS (a INT, b INT);"
                          "CREATE TYPE later_range AS RANGE (subtype = float8);"
                          "CREATE FUNCTION later_function() RETURNS INT LANGUAGE sql AS 'SELECT 1';"
                          "CREATE PROCEDURE later_procedure() LANGUAGE sql AS 'SELECT 1';"
                          "SELECT nextval('tickets')");
    });
    postgres::restore(store, made.path);
    const auto names = [&](const std::string& sql) {
        return store.read([&](auto& tx) { return tx.template query<std::string>(sql); });
    };
    CHECK(names("SELECT relname::text FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN "
                "('v', 'm', 'S') ORDER BY 1") == std::vector<std::string>{"doubled", "persist_schema_audit_id_seq", "tickets"});
    CHECK(names("SELECT proname::text FROM pg_proc WHERE pronamespace = current_schema()::regnamespace ORDER BY 1") ==
          std::vector<std::string>{"twice"});
    CHECK(names("SELECT typname::text FROM pg_type WHERE typnamespace = current_schema()::regnamespace AND typtype IN "
                "('e', 'd', 'r') ORDER BY 1") == std::vector<std::string>{"mood", "short_text"});
    CHECK(store.read([](auto& tx) { return *tx.template query_one<std::int64_t>("SELECT d FROM doubled WHERE id = 2"); }) == 4);
    CHECK(store.write([](auto& tx) { return *tx.template query_one<std::int64_t>("SELECT nextval('tickets')"); }) == 100);
    CHECK(count(store, "notes") == 3);
}
