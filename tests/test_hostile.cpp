// Hostile input and failing system calls against the SQLite side: crafted databases and
// dumps, migration texts that try to take over the transaction, planted symlinks, a loose
// umask, and rename/fsync failures at every point of a backup (failures at COMMIT and at
// opening the -shm and lock files: test_failing_calls.cpp; read-only Stores:
// test_read_only.cpp). Each case was a defect found by adversarial testing (issue 15); each
// test fails on the code before the fix.
#include "posix_faults.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/migrate.hpp>
#include <persist/migrate/embedded.hpp>
#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>
#include <persist/sqlite/dump.hpp>
#include <persist/sqlite/info.hpp>
#include <persist/sqlite/wal_reset.hpp>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <fstream>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace persist;
namespace fs = std::filesystem;

namespace {
Config config_at(const std::string& path) { return test::config_at(path, "hostile-test"); }
using test::read_file;
using test::write_file;
using test::names_in;
/// Runs raw SQL on a database file with the plain sqlite3 API (as an attacker would).
void raw(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    INFO(sql << ": " << (message ? message : ""));
    sqlite3_free(message);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777u;
}

/// A pid that no longer runs (a child that has exited and been reaped).
pid_t dead_pid() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);
    return child;
}
} // namespace

TEST_CASE("dump refuses a crafted schema whose SQL does more than create its object") {
    test::TempDir dir;
    const std::string path = dir / "crafted.db";
    raw(path, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    // What an attacker with the file can do: rewrite the stored CREATE text.
    raw(path, "PRAGMA writable_schema=ON; UPDATE sqlite_schema SET sql = 'CREATE TABLE t(x); COMMIT; VACUUM INTO ''"
                  + dir / "escaped.db" + "''; ATTACH ''" + dir / "attached.db" + "'' AS a' WHERE name = 't';");
    SqliteStore store(config_at(path));
    CHECK_THROWS_WITH_AS(sqlite::dump(store, dir / "out.sql"),
                         doctest::Contains("the schema of table t is not one CREATE table statement (more SQL follows"),
                         corrupt_error);
    CHECK_FALSE(fs::exists(dir / "out.sql"));

}

TEST_CASE("load runs a dump statement by statement and refuses what would escape the transaction") {
    test::TempDir dir;
    const std::string sql = dir / "hostile.sql";
    const std::pair<const char*, const char*> cases[] = {
        {"CREATE TABLE t(x);\nCOMMIT;\nCREATE TABLE after_commit(y);\n", "[COMMIT;]: COMMIT controls the transaction"},
        {"CREATE TABLE t(x);\nATTACH 'elsewhere.db' AS e;\n", "ATTACH reaches another database file"},
        {"CREATE TABLE t(x);\nPRAGMA writable_schema=ON;\n", "PRAGMA writable_schema is not allowed"},
        {"CREATE TABLE t(x);\nSAVEPOINT s;\n", "SAVEPOINT controls the transaction"},
        {"CREATE TABLE t(x);\nVACUUM INTO 'copy.db';\n", "VACUUM INTO writes another file"},
        // Found only when the statement is prepared: the authorizer.
        {"CREATE TABLE t(x);\nSELECT load_extension('x');\n", "it loads a shared library"},
    };
    for (const auto& entry : cases) {
        const auto text = entry.first, why = entry.second; // clang 14: CAPTURE cannot take a binding
        CAPTURE(text);
        write_file(sql, text);
        const std::string db = dir / "fresh.db";
        {
            SqliteStore fresh(config_at(db));
            CHECK_THROWS_WITH_AS(sqlite::load(fresh, sql), doctest::Contains(why), usage_error);
            // Nothing of the dump stayed: the whole load rolled back.
            CHECK(fresh.read([](auto& tx) {
                return tx.template query<std::int64_t>("SELECT count(*) FROM sqlite_schema")[0];
            }) == 0);
        }
        CHECK_FALSE(fs::exists(dir / "elsewhere.db"));
        CHECK_FALSE(fs::exists(dir / "copy.db"));
        CHECK_FALSE(fs::exists("copy.db"));
        fs::remove(db);
        fs::remove(db + "-wal");
        fs::remove(db + "-shm");
    }
}

TEST_CASE("SQL text with a NUL byte is refused whole") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    const std::string text("CREATE TABLE u(x);\0DROP TABLE t;", 32);
    CHECK_THROWS_WITH_AS(store.write([&](auto& tx) { tx.execute_script(text); }),
                         doctest::Contains("holds a NUL byte at offset 18"), usage_error);

    SUBCASE("in a migration file: malformed before anything runs") {
        fs::create_directories(dir / "migrations");
        write_file(dir / "migrations/1_first.up.sql", "CREATE TABLE t(x);");
        write_file(dir / "migrations/2_nul.up.sql", text);
        try {
            store.migrate(migrate::Directory(dir / "migrations"));
            FAIL("a NUL byte was accepted");
        } catch (const migrate::migration_refused& e) {
            CHECK(e.reason() == migrate::Reason::malformed_source);
            CHECK(std::string(e.what()).find("2_nul.up.sql: holds a NUL byte") != std::string::npos);
        }
        // Not even migration 1 ran: the check comes before anything.
        CHECK(store.read([](auto& tx) {
            return tx.template query<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = 't'")[0];
        }) == 0);
    }
}

TEST_CASE("a transactional migration that controls the transaction is malformed before anything runs") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    fs::create_directories(dir / "migrations");
    write_file(dir / "migrations/1_first.up.sql", "CREATE TABLE t(x);");
    write_file(dir / "migrations/2_sneaky.up.sql", "CREATE TABLE u(x);\nCOMMIT;\nBEGIN;\nDROP TABLE t;\n");
    try {
        store.migrate(migrate::Directory(dir / "migrations"));
        FAIL("COMMIT in a migration was accepted");
    } catch (const migrate::migration_refused& e) {
        CHECK(e.reason() == migrate::Reason::malformed_source);
        CHECK(e.version() == 2);
        CHECK(std::string(e.what()).find("[COMMIT;]: COMMIT controls the transaction") != std::string::npos);
    }
    CHECK(store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM sqlite_schema")[0]; }) == 0);

    SUBCASE("ATTACH and a writing PRAGMA too") {
        write_file(dir / "migrations/2_sneaky.up.sql", "ATTACH 'x.db' AS x;\nPRAGMA journal_mode=DELETE;\n");
        CHECK_THROWS_WITH_AS(store.migrate(migrate::Directory(dir / "migrations")),
                             doctest::Contains("ATTACH reaches another database file"), migration_error);
        CHECK_THROWS_WITH_AS(store.migrate(migrate::Directory(dir / "migrations")),
                             doctest::Contains("PRAGMA journal_mode is not allowed"), migration_error);
    }
    SUBCASE("a no-transaction migration may VACUUM, and its foreign_keys change does not outlive it") {
        write_file(dir / "migrations/2_sneaky.up.sql",
                   "-- persist:no-transaction\nPRAGMA foreign_keys=OFF;\nVACUUM;\n");
        store.migrate(migrate::Directory(dir / "migrations"));
        CHECK(store.write([](auto& tx) { return tx.template query<std::int64_t>("PRAGMA foreign_keys")[0]; }) == 1);
    }
    SUBCASE("but not VACUUM INTO") {
        write_file(dir / "migrations/2_sneaky.up.sql", "-- persist:no-transaction\nVACUUM INTO 'x.db';\n");
        CHECK_THROWS_WITH_AS(store.migrate(migrate::Directory(dir / "migrations")),
                             doctest::Contains("VACUUM INTO writes another file"), migration_error);
        CHECK_FALSE(fs::exists("x.db"));
        // And the check as it runs, for SQL that reaches the backend another way.
        CHECK_THROWS_WITH_AS(store.backend().run_outside_transaction("VACUUM INTO 'x.db'", std::chrono::steady_clock::now() +
                                                                                               std::chrono::seconds(5)),
                             doctest::Contains("refused before anything ran"), usage_error);
        CHECK_FALSE(fs::exists("x.db"));
    }
}

TEST_CASE("execute_script refuses transaction control and writing PRAGMAs, and allows reads") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    CHECK_THROWS_WITH_AS(store.write([](auto& tx) { tx.execute_script("CREATE TABLE a(x); COMMIT"); }),
                         doctest::Contains("execute_script: refused before anything ran:\n  [COMMIT]: COMMIT controls the transaction"), usage_error);
    CHECK_THROWS_WITH_AS(store.write([](auto& tx) { tx.execute_script("PRAGMA synchronous=OFF"); }),
                         doctest::Contains("PRAGMA synchronous is not allowed"), usage_error);
    store.write([](auto& tx) {
        tx.execute_script("CREATE TABLE a(x); PRAGMA user_version=7; PRAGMA table_info(a); PRAGMA foreign_key_check;");
    });
    CHECK(store.read([](auto& tx) { return tx.template query<std::int64_t>("PRAGMA user_version")[0]; }) == 7);
}

TEST_CASE("TEXT with NUL bytes and tables with generated columns survive dump and load") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    const std::string with_nul("a\0b", 3);
    store.write([&](auto& tx) {
        tx.execute_script("CREATE TABLE g (x INTEGER, doubled INTEGER AS (x * 2), stored TEXT AS (x || '!') STORED, note TEXT)");
        tx.execute("INSERT INTO g (x, note) VALUES (?, ?)", 21, with_nul);
    });
    sqlite::dump(store, dir / "app.sql");
    SqliteStore fresh(config_at(dir / "fresh.db"));
    sqlite::load(fresh, dir / "app.sql");
    const auto row = fresh.read([](auto& tx) {
        return tx.template query_one<std::tuple<std::int64_t, std::int64_t, std::string, std::string, std::string>>(
            "SELECT x, doubled, stored, note, typeof(note) FROM g");
    });
    REQUIRE(row);
    CHECK(std::get<0>(*row) == 21);
    CHECK(std::get<1>(*row) == 42);
    CHECK(std::get<2>(*row) == "21!");
    CHECK(std::get<3>(*row) == with_nul);
    CHECK(std::get<4>(*row) == "text");
}

TEST_CASE("migration files whose versions differ only by zero padding are duplicates") {
    test::TempDir dir;
    fs::create_directories(dir / "migrations");
    write_file(dir / "migrations/1_a.up.sql", "CREATE TABLE a(x);");
    write_file(dir / "migrations/01_a.up.sql", "CREATE TABLE b(x);");
    try {
        (void)migrate::Directory(dir / "migrations").migrations();
        FAIL("a duplicate version was accepted");
    } catch (const migrate::migration_refused& e) {
        CHECK(e.reason() == migrate::Reason::malformed_source);
        CHECK(std::string(e.what()).find("1_a.up.sql: version 1 is also used by 01_a.up.sql") != std::string::npos);
    }
}

TEST_CASE("symlinks planted where backup and dump write do not redirect them") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE t(x); INSERT INTO t VALUES (1);"); });
    const std::string victim = dir / "victim.txt";
    write_file(victim, "precious");
    // The names the old code wrote through, with truncate.
    const std::string pid = std::to_string(::getpid());
    for (const char* name : {"copy.db.tmp-", "copy.db.manifest.tmp-", "app.sql.tmp-"}) fs::create_symlink(victim, dir / (name + pid));
    // And the final names themselves.
    fs::create_symlink(victim, dir / "app.sql");
    const auto made = sqlite::backup(store, dir / "copy.db");
    sqlite::dump(store, dir / "app.sql");
    CHECK(read_file(victim) == "precious");
    CHECK(fs::is_regular_file(fs::symlink_status(dir / "app.sql"))); // the symlink was replaced, not followed
    CHECK(sqlite::verify(made.path).row_counts.at("t") == 1);
}

TEST_CASE("backups, manifests, dumps and the directories persist creates are private whatever the umask") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE t(x)"); });
    const mode_t old = ::umask(0);
    const auto made = sqlite::backup(store, dir / "new/backups/");
    sqlite::dump(store, dir / "app.sql");
    ::umask(old);
    CHECK(mode_of(dir / "new") == 0700);
    CHECK(mode_of(dir / "new/backups") == 0700);
    CHECK(mode_of(made.path) == 0600);
    CHECK(mode_of(made.manifest_path) == 0600);
    CHECK(mode_of(dir / "app.sql") == 0600);
}

TEST_CASE("a backup that fails at any rename or fsync leaves nothing under its final names") {
    using namespace test::posix_faults;
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE t(x); INSERT INTO t VALUES (1);"); });
    fs::create_directories(dir / "backups");
    int failures = 0;
    for (Fault* fault : {&rename_fault, &fsync_fault, &directory_fsync_fault}) {
        for (int nth = 1;; ++nth) {
            CAPTURE(nth);
            fault->arm(nth);
            bool failed = false;
            try {
                sqlite::backup(store, dir / "backups");
            } catch (const io_error& e) {
                failed = true;
                ++failures;
                const std::string message = e.what(); // persist's own calls, or SQLite's
                CHECK((message.find("Input/output error") != std::string::npos ||
                       message.find("disk I/O error") != std::string::npos));
            }
            fault->arm(0);
            if (!failed) break;
            CHECK(names_in(dir / "backups").empty()); // no backup, no manifest, no temporary
        }
        for (const auto& name : names_in(dir / "backups")) fs::remove(dir / ("backups/" + name));
    }
    CHECK(failures >= 5); // two renames, file syncs, two directory syncs
}

TEST_CASE("leftovers of a killed backup are swept by the next one") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE t(x)"); });
    fs::create_directories(dir / "backups");
    const std::string dead = std::to_string(dead_pid());
    const std::string live = std::to_string(::getpid());
    const std::string stale = dir / ("backups/app-20200101T000000.000000Z.backup.db.tmp-" + dead + "-AbCdEf");
    const std::string running = dir / ("backups/app-20200101T000000.000000Z.backup.db.tmp-" + live + "-XyZxyZ");
    for (const std::string& name : {stale, stale + "-journal", stale + ".manifest", running}) write_file(name, "x");
    write_file(dir / ("backups/app-20200101T000000.000000Z.backup.db.manifest.tmp-" + dead + "-QwErTy"), "{}");
    // The names the previous version used, without the random part.
    const std::string old_style = dir / ("backups/app-20200101T000000.000000Z.backup.db.tmp-" + dead);
    for (const std::string& name : {old_style, old_style + "-wal", old_style + "-shm"}) write_file(name, "x");
    // A manifest whose backup is gone, written long ago.
    const std::string orphan = dir / "backups/app-20200102T000000.000000Z.backup.db.manifest";
    write_file(orphan, "{}");
    fs::last_write_time(orphan, fs::file_time_type::clock::now() - std::chrono::hours(2));
    sqlite::BackupOptions keep;
    keep.keep = 5;
    const auto made = sqlite::backup(store, dir / "backups", keep);
    CHECK_FALSE(fs::exists(stale));
    CHECK_FALSE(fs::exists(stale + "-journal"));
    CHECK_FALSE(fs::exists(old_style));
    CHECK_FALSE(fs::exists(old_style + "-wal"));
    CHECK(fs::exists(running));                 // its process is alive: not ours to remove
    CHECK(fs::exists(stale + ".manifest"));     // not a temporary name
    CHECK_FALSE(fs::exists(orphan));
    CHECK(std::find(made.removed.begin(), made.removed.end(), orphan) != made.removed.end());
}

TEST_CASE("backup refuses a maximum age it cannot represent") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE t(x)"); });
    fs::create_directories(dir / "backups");
    const auto first = sqlite::backup(store, dir / "backups");
    sqlite::BackupOptions options;
    options.max_age = std::chrono::hours(24) * 106752;
    CHECK_THROWS_WITH_AS(sqlite::backup(store, dir / "backups", options),
                         doctest::Contains("max_age must be more than 0 and at most 100 years"), usage_error);
    options.max_age = std::chrono::seconds(-1);
    CHECK_THROWS_AS(sqlite::backup(store, dir / "backups", options), usage_error);
    options.max_age = std::chrono::hours(24) * 36525;
    sqlite::backup(store, dir / "backups", options);
    CHECK(fs::exists(first.path)); // a fresh backup is never "too old"
}

TEST_CASE("scripts split where SQLite ends statements; comments and empty statements are dropped") {
    const auto statements = sqlite::split_statements(
        "-- a comment; with a semicolon\nCREATE TABLE a(x);;\n/* block; */ CREATE TRIGGER t AFTER INSERT ON a BEGIN "
        "DELETE FROM a; END;\nINSERT INTO a VALUES ('semi;colon') -- no semicolon at the end");
    REQUIRE(statements.size() == 3);
    CHECK(statements[0].find("CREATE TABLE a(x);") != std::string::npos);
    CHECK(statements[1].find("BEGIN DELETE FROM a; END;") != std::string::npos);
    CHECK(statements[2].find("'semi;colon'") != std::string::npos);
    CHECK(sqlite::script_problems(statements[1], sqlite::ScriptPlace::in_transaction).empty()); // BEGIN of a trigger body
    CHECK(persist::detail::leading_words(" /* c */ PRAGMA main.user_version = 3", 3) ==
          std::vector<std::string>{"PRAGMA", "MAIN", "USER_VERSION"});
    CHECK(sqlite::script_problems("PRAGMA main.user_version = 3", sqlite::ScriptPlace::in_transaction).empty());
    CHECK(sqlite::script_problems("PRAGMA main.journal_mode = DELETE", sqlite::ScriptPlace::in_transaction).size() == 1);
    CHECK(sqlite::script_problems("PRAGMA foreign_keys = OFF", sqlite::ScriptPlace::outside_transaction).empty());
    CHECK(sqlite::script_problems("PRAGMA table_info(a)", sqlite::ScriptPlace::in_transaction).empty());
}

TEST_CASE("a database creation killed halfway leaves nothing the next creation does not sweep") {
    test::TempDir dir;
    const std::string stale = dir / ("app.db.tmp-" + std::to_string(dead_pid()) + "-AbCdEf");
    write_file(stale, "");
    write_file(stale + "-journal", "x");
    SqliteStore store(config_at(dir / "app.db"));
    CHECK_FALSE(fs::exists(stale));
    CHECK_FALSE(fs::exists(stale + "-journal"));
}

TEST_CASE("every way a manifest can be malformed is a backup_error that says what") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    store.migrate(migrate::Embedded<migrate::Sql<1, "t", "CREATE TABLE t(x)">>{});
    const auto made = sqlite::backup(store, dir / "copy.db");
    const auto original = nlohmann::json::parse(read_file(made.manifest_path));
    using Edit = std::function<void(nlohmann::json&)>;
    const std::vector<std::pair<Edit, const char*>> cases = {
        {[](auto& m) { m = nlohmann::json::array(); }, "not a JSON object"},
        {[](auto& m) { m["format"] = "something else"; }, "format is not persist-backup-manifest"},
        {[](auto& m) { m["format_version"] = 2; }, "format_version is not 1"},
        {[](auto& m) { m["persist_version"] = "1.2"; }, "persist_version is not of the form MAJOR.MINOR.PATCH"},
        {[](auto& m) { m["persist_version"] = 7; }, "persist_version is not a string"},
        {[](auto& m) { m["size"] = -1; }, "size is negative"},
        {[](auto& m) { m["size"] = 1.5; }, "size is not an integer"},
        {[](auto& m) { m["size"] = 18446744073709551615ull; }, "size is out of range"},
        {[](auto& m) { m["sha256"] = std::string(64, 'G'); }, "sha256 is not 64 lowercase hexadecimal digits"},
        {[](auto& m) { m["migrations"] = "none"; }, "migrations is not an array"},
        {[](auto& m) { m["migrations"].push_back(m["migrations"][0]); }, "not positive and strictly increasing"},
        {[](auto& m) { m["migrations"][0]["extra"] = 1; }, "each migration must be"},
        {[](auto& m) { m["schema_version"] = 5; }, "schema_version is not the highest migration version"},
        {[](auto& m) { m["migrations"] = nlohmann::json::array(); }, "schema_version is set but no migration is"},
        {[](auto& m) { m["tables"] = nlohmann::json::object(); }, "tables is not an array"},
        {[](auto& m) { m["tables"][0] = {{"name", ""}, {"rows", 0}}; }, "a table name is empty"},
        {[](auto& m) { m["tables"].push_back(m["tables"][0]); }, "is listed twice"},
        {[](auto& m) { m["tables"][0] = {{"name", "t"}}; }, "each table must be"},
        {[](auto& m) { m.erase("manifest_sha256"); }, "key \"manifest_sha256\" is missing"},
    };
    for (const auto& entry : cases) {
        const auto& edit = entry.first;
        const char* why = entry.second;
        CAPTURE(why);
        auto manifest = original;
        edit(manifest);
        write_file(made.manifest_path, manifest.dump());
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains(why), backup_error);
    }
    write_file(made.manifest_path, std::string(sqlite::Manifest::max_bytes + 1, ' '));
    CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("is larger than"), backup_error);
}

TEST_CASE("a destination persist cannot write is permission_error naming the directory, and nothing is left") {
    test::TempDir dir;
    fs::create_directories(dir / "locked");
    ::chmod((dir / "locked").c_str(), 0555); // root's, not writable by the child below
    test::give_to_nobody(dir.path, 0777);
    auto backup_into = [&](const std::string& destination) {
        return test::run_in_child([&] {
            SqliteStore store(config_at(dir / "app.db"));
            store.write([](auto& tx) { tx.execute_script("CREATE TABLE IF NOT EXISTS t(x)"); });
            sqlite::backup(store, destination);
        });
    };
    const auto result = backup_into(dir / "locked/copy.db");
    INFO(result);
    CHECK(result.starts_with("permission_error: cannot create a file in " + (dir / "locked") + ": Permission denied"));
    const auto nested = backup_into(dir / "locked/new/");
    INFO(nested);
    CHECK(nested.starts_with("permission_error: cannot create directory " + (dir / "locked/new")));
    CHECK(names_in(dir / "locked").empty());
}
