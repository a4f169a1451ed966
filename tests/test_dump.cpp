// Dump and load (persist/sqlite/dump.hpp) and info (persist/sqlite/info.hpp): every table,
// value type and index carried into an empty database, refusals that change nothing, and a
// report that changes nothing.
#include "notes_table.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>
#include <persist/sqlite/dump.hpp>
#include <persist/sqlite/info.hpp>

#include <chrono>
#include <nlohmann/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sqlite3.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace persist;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
using test::rows;
using test::seed;
Config config_at(const std::string& path) { return test::config_at(path, "backup-test"); }
using test::write_file;
} // namespace

TEST_CASE("dump and load carry every table, value type and index into an empty database") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    store.write([](auto& tx) {
        tx.execute_script(
            // people is created first, so its rows come before the teams they reference.
            "CREATE TABLE people (id INTEGER PRIMARY KEY, team INTEGER REFERENCES teams(id), score REAL, photo BLOB, note TEXT);"
            "CREATE TABLE teams (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);"
            "CREATE INDEX people_team ON people (team);"
            "INSERT INTO teams (name) VALUES ('it''s us'), ('them');"
            "INSERT INTO people VALUES (1, 2, 0.1, X'00ff10', NULL), (2, 2, 3.0, NULL, 'line\nbreak');"
            "DELETE FROM teams WHERE id = 1; INSERT INTO teams (name) VALUES ('third');");
    });
    const auto dumped = sqlite::dump(store, dir / "app.sql");
    CHECK(dumped.row_counts.at("people") == 2);
    CHECK(dumped.row_counts.at("teams") == 2);

    SqliteStore fresh(config_at(dir / "fresh.db"));
    sqlite::load(fresh, dir / "app.sql");
    auto snapshot = [](SqliteStore& s) {
        return s.read([](auto& tx) {
            return tx.template query<std::tuple<std::int64_t, std::optional<std::int64_t>, std::optional<double>,
                                                std::optional<persist::Blob>, std::optional<std::string>>>(
                "SELECT id, team, score, photo, note FROM people ORDER BY id");
        });
    };
    CHECK(snapshot(fresh) == snapshot(store));
    CHECK(fresh.read([](auto& tx) { return tx.template query<std::string>("SELECT name FROM teams ORDER BY id"); }) ==
          std::vector<std::string>{"them", "third"});
    // AUTOINCREMENT continues after the highest id ever used (3), not after the rows present.
    CHECK(fresh.write([](auto& tx) {
        tx.execute("INSERT INTO teams (name) VALUES ('fourth')");
        return tx.last_insert_id();
    }) == 4);
    CHECK(fresh.read([](auto& tx) {
        return tx.template query<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = 'people_team'")[0];
    }) == 1);
}

TEST_CASE("load refuses a database that has tables, and a broken dump changes nothing") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    seed(store, 2);
    sqlite::dump(store, dir / "app.sql");
    CHECK_THROWS_WITH_AS(sqlite::load(store, dir / "app.sql"), doctest::Contains("needs an empty database, but"),
                         usage_error);
    CHECK(rows(store) == 2);

    write_file(dir / "broken.sql", "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);\nINSERT INTO nowhere VALUES (2);\n");
    SqliteStore fresh(config_at(dir / "fresh.db"));
    CHECK_THROWS_WITH_AS(sqlite::load(fresh, dir / "broken.sql"), doctest::Contains("no such table: nowhere"), schema_error);
    CHECK(fresh.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM sqlite_schema")[0]; }) == 0);
    CHECK_THROWS_WITH_AS(sqlite::load(fresh, dir / "missing.sql"), doctest::Contains("cannot read dump"), io_error);
    REQUIRE(::mkfifo((dir / "pipe.sql").c_str(), 0600) == 0);
    CHECK_THROWS_WITH_AS(sqlite::load(fresh, dir / "pipe.sql"), ("dump " + (dir / "pipe.sql") + " is not a regular file").c_str(),
                         usage_error);
    { std::ofstream(dir / "huge.sql"); }
    fs::resize_file(dir / "huge.sql", sqlite::max_dump_bytes + 1); // sparse: no disk used
    CHECK_THROWS_WITH_AS(sqlite::load(fresh, dir / "huge.sql"),
                         ("dump " + (dir / "huge.sql") + " is larger than 2 GiB; load() reads a dump whole, so restore "
                          "a backup instead").c_str(),
                         usage_error);
    CHECK(fresh.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM sqlite_schema")[0]; }) == 0);
}

TEST_CASE("info reports sizes, tables, migrations, locks and settings without changing anything") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    store.migrate(migrate::Embedded<migrate::Sql<1, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)">>{});
    seed(store, 7);
    const auto report = sqlite::info(store);
    CHECK(report.path == dir / "app.db");
    CHECK(report.file_bytes > 0);
    CHECK(report.page_size == 4096);
    CHECK(report.page_count > 0);
    CHECK(report.row_counts.at("notes") == 7);
    REQUIRE(report.migrations.size() == 1);
    CHECK(report.migrations[0].name == "notes");
    CHECK(report.migrations[0].state == "applied");
    CHECK(report.journal_mode == "wal");
    CHECK(report.sqlite_version == sqlite3_libversion());
    REQUIRE(report.locks.size() == 2);
    CHECK_FALSE(report.locks[0].second.held);
    CHECK(report.pending.empty());

    const auto with_source = sqlite::info(
        store, migrate::Embedded<migrate::Sql<1, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)">,
                                 migrate::Sql<2, "tags", "CREATE TABLE tags (name TEXT PRIMARY KEY)">>{});
    REQUIRE(with_source.pending.size() == 1);
    CHECK(with_source.pending[0] == std::pair<std::int64_t, std::string>{2, "tags"});
    CHECK(sqlite::info(store).row_counts == report.row_counts); // nothing changed
}
