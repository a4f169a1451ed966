// Store transactions: commit, rollback, retry, busy deadline and the errors of each failure
// path. Connections and snapshots are in test_connections.cpp, group commit in
// test_group_commit.cpp.
#include "posix_faults.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sqlite3.h>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace persist;
using namespace std::chrono_literals;

namespace {
Config file_config(const test::TempDir& dir, const std::string& name = "store.db") {
    return test::config_at(dir / name, "store-test");
}

using test::message_of;

// A raw sqlite3 connection, outside persist, to play "another process".
struct Raw {
    sqlite3* db = nullptr;
    explicit Raw(const std::string& path) {
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    }
    ~Raw() { sqlite3_close(db); }
    int exec(const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }
};
} // namespace

TEST_CASE("write(Isolation, fn) on SQLite: accepted at either level, one serializable writer either way") {
    test::TempDir dir;
    Store<sqlite::Backend> store(file_config(dir));
    store.write(Isolation::serializable, [](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
    CHECK(store.write(Isolation::serializable, [](auto& tx) { return tx.execute("INSERT INTO t VALUES (1)"); }) == 1);
    CHECK(store.write(Isolation::read_committed, [](auto& tx) { return tx.execute("INSERT INTO t VALUES (2)"); }) == 1);
    CHECK_THROWS_AS(store.write(Isolation::serializable, [](auto& tx) {
        tx.execute("INSERT INTO t VALUES (3)");
        throw std::runtime_error("undo");
    }), std::runtime_error);
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT v FROM t ORDER BY v"); }) == std::vector<int>{1, 2});
}

TEST_CASE("closing the last Store keeps an empty -wal file and loses no commit") {
    test::TempDir dir;
    const Config config = file_config(dir);
    {
        Store<sqlite::Backend> store(config);
        store.write([](auto& tx) {
            tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
            tx.execute("INSERT INTO t (v) VALUES ('kept')");
        });
        store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM t"); });
        CHECK(std::filesystem::file_size(config.db_path + "-wal") > 0);
    }
    // Checkpointed into the database file and truncated, not deleted: the next open does not
    // have to create it again.
    REQUIRE(std::filesystem::exists(config.db_path + "-wal"));
    CHECK(std::filesystem::file_size(config.db_path + "-wal") == 0);
    Raw raw(config.db_path);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw.db, "SELECT v FROM t", -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0))) == "kept");
    sqlite3_finalize(statement);
}

TEST_CASE("a COMMIT that fails is the mapped error naming COMMIT, and changes nothing") {
    test::TempDir dir;
    Store<sqlite::Backend> store(file_config(dir));
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)");
        tx.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id))");
    });
    // Deferred foreign keys are checked at COMMIT, so COMMIT itself fails.
    CHECK_THROWS_WITH_AS(store.write([](auto& tx) {
        tx.execute("PRAGMA defer_foreign_keys = ON");
        tx.execute("INSERT INTO child (parent) VALUES (42)");
    }), doctest::Contains("[COMMIT]"), constraint_error);
    CHECK(store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM child")[0]; }) == 0);
    // The connection is usable again: the failed transaction was rolled back.
    store.write([](auto& tx) { tx.execute("INSERT INTO parent (id) VALUES (1)"); });
}

TEST_CASE("a busy attempt is rolled back and the whole function runs again") {
    test::TempDir dir;
    Config config = file_config(dir);
    std::vector<Event> events;
    std::mutex events_mutex;
    config.on_event = [&](const Event& event) {
        std::lock_guard lock(events_mutex);
        events.push_back(event);
    };
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
    int runs = 0;
    const int result = store.write([&](auto& tx) {
        ++runs;
        tx.execute("INSERT INTO t VALUES (?)", runs);
        // What a statement throws when SQLite reports SQLITE_BUSY without waiting.
        if (runs < 3) sqlite::throw_error(SQLITE_BUSY_SNAPSHOT, "database is locked", "INSERT");
        return runs;
    });
    CHECK(result == 3);
    CHECK(runs == 3);
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT v FROM t"); }) == std::vector<int>{3});
    std::vector<Event> retries;
    for (const auto& event : events)
        if (event.kind == Event::Kind::retry) retries.push_back(event);
    REQUIRE(retries.size() == 2);
    CHECK(retries[0].attempt == 1);
    CHECK(retries[1].attempt == 2);
    CHECK(retries[0].message == "store.write() retrying: database is busy: database is locked [INSERT]");
}

TEST_CASE("a database held by another writer past the deadline is a busy_error") {
    test::TempDir dir;
    Config config = file_config(dir);
    config.busy_timeout = 200ms;
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
    Raw other(config.db_path);
    REQUIRE(other.exec("BEGIN IMMEDIATE") == SQLITE_OK);
    int runs = 0;
    try {
        store.write([&](auto& tx) {
            ++runs;
            tx.execute("INSERT INTO t VALUES (1)");
        });
        FAIL("no busy_error");
    } catch (const busy_error& e) {
        CHECK(e.retriable());
        CHECK(e.code() == errc::busy);
        CHECK((e.native_code() & 0xff) == SQLITE_BUSY);
        const std::string message = e.what();
        CHECK(message.starts_with("database " + config.db_path + " stayed busy for "));
        CHECK(message.find("attempt(s) of store.write() (busy_timeout 200 ms). Last cause: database is busy: "
                           "database is locked [BEGIN IMMEDIATE]. Another connection is holding a long write "
                           "transaction: find it (e.g. fuser " + config.db_path + "), or raise busy_timeout") !=
              std::string::npos);
    }
    CHECK(runs == 0);
    other.exec("ROLLBACK");
    // Once the other writer is gone, writes go through again.
    store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (2)"); });
}

TEST_CASE("a writer that releases before the deadline is waited for") {
    test::TempDir dir;
    Config config = file_config(dir);
    config.busy_timeout = 10s;
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
    Raw other(config.db_path);
    REQUIRE(other.exec("BEGIN IMMEDIATE") == SQLITE_OK);
    std::thread release([&] {
        std::this_thread::sleep_for(150ms);
        other.exec("COMMIT");
    });
    store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (1)"); });
    release.join();
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT count(*) FROM t")[0]; }) == 1);
}

TEST_CASE("constraint errors name the constraint and change nothing") {
    test::TempDir dir;
    Store<sqlite::Backend> store(file_config(dir));
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE team (id INTEGER PRIMARY KEY)");
        tx.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL,"
                   " age INTEGER CONSTRAINT adult CHECK (age >= 18), team INTEGER REFERENCES team(id))");
        tx.execute("INSERT INTO users (email, age) VALUES ('a@x', 30)");
    });
    auto violation = [&](const char* sql) {
        try {
            store.write([&](auto& tx) {
                tx.execute("INSERT INTO users (email, age) VALUES ('first@x', 40)");
                tx.execute(sql);
            });
        } catch (const constraint_error& e) {
            CHECK_FALSE(e.retriable());
            return e.constraint();
        }
        return std::string("none");
    };
    CHECK(violation("INSERT INTO users (email, age) VALUES ('a@x', 20)") == "users.email");
    CHECK(violation("INSERT INTO users (email, age) VALUES (NULL, 20)") == "users.email");
    CHECK(violation("INSERT INTO users (email, age) VALUES ('b@x', 3)") == "adult");
    CHECK(violation("INSERT INTO users (email, age, team) VALUES ('c@x', 20, 9)") == "FOREIGN KEY");
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT count(*) FROM users")[0]; }) == 1);
    CHECK(message_of<constraint_error>([&] {
              store.write([](auto& tx) { tx.execute("INSERT INTO users (email, age) VALUES (?, ?)", "a@x", 20); });
          }) == "constraint users.email rejected the write (UNIQUE constraint failed: users.email) [INSERT INTO "
                "users (email, age) VALUES (?, ?)]; check the values, or use an upsert for rows that may exist");
}

TEST_CASE("SQL that does not match the schema is a schema_error") {
    test::TempDir dir;
    Store<sqlite::Backend> store(file_config(dir));
    CHECK(message_of<schema_error>([&] {
              store.read([](auto& tx) { return tx.template query<int>("SELECT x FROM missing"); });
          }) == "SQL failed: no such table: missing [SELECT x FROM missing]");
}

TEST_CASE("a file that is not a database is a corrupt_error at open") {
    test::TempDir dir;
    std::ofstream(dir / "junk.db") << std::string(4096, 'x');
    ::chmod((dir / "junk.db").c_str(), 0600);
    const auto message = message_of<corrupt_error>([&] { Store<sqlite::Backend> store(file_config(dir, "junk.db")); });
    CHECK(message.starts_with("database is corrupt or not a SQLite database: file is not a database ["));
    CHECK(message.ends_with("]; restore it from a backup"));
    CHECK(std::filesystem::file_size(dir / "junk.db") == 4096); // left as it was
}

TEST_CASE("misuse is a usage_error") {
    test::TempDir dir;
    Store<sqlite::Backend> store(file_config(dir));
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
    SUBCASE("write inside write") {
        CHECK(message_of<usage_error>([&] {
                  store.write([&](auto&) { store.write([](auto&) {}); });
              }) == "store.write() was called inside another transaction of the same Store on this thread; "
                    "use the transaction object you already have (it can query and, in a write, execute)");
    }
    SUBCASE("read inside write") {
        CHECK(message_of<usage_error>([&] { store.write([&](auto&) { store.read([](auto&) {}); }); })
                  .starts_with("store.read() was called inside another transaction"));
    }
    SUBCASE("writing in a read transaction") {
        CHECK(message_of<usage_error>([&] {
                  store.read([](auto& tx) { tx.template query<int>("INSERT INTO t VALUES (1) RETURNING v"); });
              }) == "store.read() runs read-only statements, but this one writes [INSERT INTO t VALUES (1) "
                    "RETURNING v]; do it inside store.write()");
        CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT count(*) FROM t")[0]; }) == 0);
    }
    SUBCASE("a second Store on the same file is not nesting") {
        Store<sqlite::Backend> other(file_config(dir));
        store.read([&](auto&) { other.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (1)"); }); });
    }
}

TEST_CASE("execute_script runs parameterless DDL") {
    Config config;
    config.db_path = ":memory:";
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER);"); });
    CHECK(store.read([](auto& tx) {
        return tx.template query<int>("SELECT count(*) FROM sqlite_schema WHERE type = 'table'")[0];
    }) == 2);
    CHECK_THROWS_AS(store.write([](auto& tx) { tx.execute_script("CREATE TABLE a (x INTEGER)"); }), schema_error);
}

TEST_CASE("the event callback may throw without breaking the store") {
    test::TempDir dir;
    Config config = file_config(dir, "events/new.db");
    int calls = 0;
    config.on_event = [&](const Event& event) {
        ++calls;
        CHECK(event.kind == Event::Kind::info);
        if (calls == 1) CHECK(event.message == "created database " + dir / "events/new.db");
        else CHECK(event.message == sqlite::wal_reset_status()); // on an SQLite with the WAL-reset bug
        throw std::runtime_error("logger broke");
    };
    Store<sqlite::Backend> store(config);
    CHECK(calls == (sqlite::wal_reset_mitigation_active() ? 2 : 1));
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
}

TEST_CASE("waiting for this process's own connections: wait events, then busy_error at the deadline") {
    test::TempDir dir;
    Config config = file_config(dir);
    config.busy_timeout = 100ms;
    config.reader_connections = 1;
    std::vector<Event> events;
    std::mutex events_mutex;
    config.on_event = [&](const Event& event) {
        std::lock_guard lock(events_mutex);
        events.push_back(event);
    };
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
    auto has_event = [&](Event::Kind kind, const std::string& message) {
        std::lock_guard lock(events_mutex);
        for (const auto& event : events)
            if (event.kind == kind && event.message == message) return true;
        return false;
    };

    // What a second thread's write throws while this thread's write holds the writer.
    const auto second_write_fails = [](Store<sqlite::Backend>& target) {
        std::string message;
        target.write([&](auto&) {
            std::thread other([&] {
                try {
                    target.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (1)"); });
                } catch (const busy_error& e) {
                    message = e.what();
                }
            });
            other.join();
        });
        return message;
    };
    SUBCASE("the writer connection, waiting to join its transaction (group commit)") {
        const std::string message = second_write_fails(store);
        CHECK(message.find("of store.write() (busy_timeout 100 ms). Last cause: the write transaction of another thread of "
                           "this process, which this write was waiting to join (group commit), did not reach it before "
                           "the deadline") != std::string::npos);
        CHECK(has_event(Event::Kind::wait, "joining the write transaction in progress on " + config.db_path + " (group commit)"));
        CHECK(store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM t")[0]; }) == 0);
    }
    SUBCASE("the writer connection, without group commit") {
        Config alone = config;
        alone.group_commit = false;
        alone.db_path = (dir / "alone.db");
        Store<sqlite::Backend> store(alone);
        store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
        const std::string message = second_write_fails(store);
        CHECK(message.find("of store.write() (busy_timeout 100 ms). Last cause: the writer connection of " +
                           alone.db_path + " stayed in use by another thread of this process until the deadline") !=
              std::string::npos);
        CHECK(has_event(Event::Kind::wait, "waiting for the writer connection of " + alone.db_path +
                                               ", in use by another thread of this process"));
    }
    SUBCASE("the reader connections") {
        std::string message;
        store.read([&](auto&) { // the writer connection, idle
            std::thread second([&] {
                store.read([&](auto&) { // the one reader connection
                    std::thread third([&] {
                        try {
                            store.read([](auto&) {});
                        } catch (const busy_error& e) {
                            message = e.what();
                        }
                    });
                    third.join();
                });
            });
            second.join();
        });
        CHECK(message.find("of store.read() (busy_timeout 100 ms). Last cause: all 1 reader connections of " +
                           config.db_path + " stayed in use until the deadline; raise reader_connections") !=
              std::string::npos);
        CHECK(has_event(Event::Kind::wait, "waiting for a reader connection of " + config.db_path + " (all 1 in use)"));
    }
}

TEST_CASE("a directory that cannot be created for another reason is an io_error") {
    test::TempDir dir;
    const std::string long_name(300, 'x'); // longer than NAME_MAX
    Config config = file_config(dir, long_name + "/app.db");
    CHECK(message_of<io_error>([&] { Store<sqlite::Backend> store(config); }) ==
          "cannot create directory " + dir / long_name + " for database " + config.db_path + ": File name too long");
}

TEST_CASE("the tour's store: 4 processes claiming tasks under with_lock never claim one twice") {
    // The claim is a read and a separate write, so only the lock keeps two processes from
    // picking the same task. Before SqliteStore coordinated processes, 13 of 2,000 tasks were
    // claimed twice by 4 processes.
    test::TempDir dir;
    const Config config = file_config(dir, "tasks.db");
    {
        SqliteStore store(config);
        store.write([](auto& tx) {
            tx.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, owner INTEGER)");
            tx.execute("CREATE TABLE claims (task INTEGER NOT NULL, owner INTEGER NOT NULL)");
            for (int i = 0; i < 400; ++i) tx.execute("INSERT INTO tasks (owner) VALUES (NULL)");
        });
    }
    std::vector<pid_t> children;
    for (int c = 0; c < 4; ++c) {
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            int status = 0;
            try {
                SqliteStore store(config);
                const auto me = static_cast<std::int64_t>(::getpid());
                for (;;) {
                    const bool claimed = store.with_lock("claim", [&] {
                        const auto next = store.read([](auto& tx) {
                            return tx.template query_one<std::int64_t>("SELECT id FROM tasks WHERE owner IS NULL LIMIT 1");
                        });
                        if (!next) return false;
                        store.write([&](auto& tx) {
                            tx.execute("UPDATE tasks SET owner = ? WHERE id = ?", me, *next);
                            tx.execute("INSERT INTO claims VALUES (?, ?)", *next, me);
                        });
                        return true;
                    });
                    if (!claimed) break;
                }
            } catch (...) {
                status = 1;
            }
            ::_exit(status);
        }
        children.push_back(child);
    }
    for (const pid_t child : children) {
        int status = 0;
        ::waitpid(child, &status, 0);
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    SqliteStore store(config);
    const auto counts = store.read([](auto& tx) {
        return tx.template query_one<std::tuple<std::int64_t, std::int64_t, std::int64_t>>(
                     "SELECT (SELECT count(*) FROM claims), (SELECT count(DISTINCT task) FROM claims), "
                     "(SELECT count(*) FROM tasks WHERE owner IS NULL)")
            .value();
    });
    CHECK(std::get<0>(counts) == 400); // claims made
    CHECK(std::get<1>(counts) == 400); // distinct tasks claimed: none twice
    CHECK(std::get<2>(counts) == 0);   // none left
}

TEST_CASE("a setting neither the backend nor the lock policy reads is a config_error naming it") {
    test::TempDir dir;
    Config config = Config::for_app("settings-test");
    config.db_path = dir / "s.db";
    auto refused = [](const Config& c, auto make) -> std::string {
        try {
            make(c);
        } catch (const config_error& e) {
            return e.what();
        }
        return "accepted";
    };
    auto file_store = [](const Config& c) { SqliteStore store(c); };
    auto lease_store = [](const Config& c) { SqliteLeaseStore store(c); };
    Config pooled = config;
    pooled.pool.max_connections = 8;
    CHECK(refused(pooled, file_store) ==
          "Config::pool.max_connections is set, but this Store (backend sqlite, lock policy file) never reads it; it is a "
          "setting of postgres::Backend. Remove it, or choose the backend or lock policy it belongs to");
    Config url = config;
    url.db_url = "postgresql://app@db/app";
    CHECK(refused(url, file_store) ==
          "Config::db_url is set, but this Store (backend sqlite, lock policy file) never reads it; it is a setting of "
          "postgres::Backend. Remove it, or choose the backend or lock policy it belongs to (db_url also comes from "
          "<PREFIX>_DB_URL: unset that variable for a SQLite application)");
    Config leased = config;
    leased.lease_ttl = std::chrono::seconds(3);
    CHECK(refused(leased, file_store) ==
          "Config::lease_ttl is set, but this Store (backend sqlite, lock policy file) never reads it; it is a setting of "
          "lock::Table and postgres::TableLock. Remove it, or choose the backend or lock policy it belongs to");
    CHECK(refused(leased, lease_store) == "accepted"); // lock::Table reads it
    CHECK_FALSE(std::filesystem::exists(dir / "s.db.migrate.lock"));
    Config sqlite_knobs = config;
    sqlite_knobs.durability = Durability::full;
    sqlite_knobs.reader_connections = 2;
    CHECK(refused(sqlite_knobs, file_store) == "accepted");
}
