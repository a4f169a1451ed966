// Store transactions: commit, rollback, retry, busy deadline, snapshots, pragmas, group commit
// (Config::group_commit: writes that arrive while another runs share its transaction and its
// COMMIT, and each keeps its own outcome) and the errors of each failure path.
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
Config file_config(const test::TempDir& dir, std::string name = "store.db") {
    Config config = Config::for_app("store-test");
    config.db_path = dir / name;
    return config;
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

TEST_CASE("a read transaction is one snapshot") {
    test::TempDir dir;
    Store<sqlite::Backend> store(file_config(dir));
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE t (v INTEGER)");
        tx.execute("INSERT INTO t VALUES (1)");
    });
    store.read([&](auto& tx) {
        CHECK(tx.template query<int>("SELECT count(*) FROM t")[0] == 1);
        // Another thread commits while this snapshot is open.
        std::thread writer([&] { store.write([](auto& w) { w.execute("INSERT INTO t VALUES (2)"); }); });
        writer.join();
        CHECK(tx.template query<int>("SELECT count(*) FROM t")[0] == 1);
    });
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT count(*) FROM t")[0]; }) == 2);
}

TEST_CASE("a read that starts while no write runs uses the writer connection; a write meanwhile uses another") {
    test::TempDir dir;
    Store<sqlite::Backend> store(file_config(dir));
    const sqlite::Connection* writer = nullptr;
    store.write([&](auto& tx) {
        tx.execute("CREATE TABLE t (v INTEGER)");
        writer = &tx.connection();
    });
    const sqlite::Connection* other = nullptr;
    const sqlite::Connection* concurrent = nullptr;
    store.read([&](auto& tx) {
        CHECK(&tx.connection() == writer); // its page cache is warm from the write
        CHECK(tx.template query_one<int>("SELECT count(*) FROM t") == 0); // the snapshot starts here
        // A write now does not wait for this read: it opens another connection.
        std::thread write([&] {
            store.write([&](auto& w) {
                w.execute("INSERT INTO t VALUES (1)");
                other = &w.connection();
            });
        });
        write.join();
        CHECK(tx.template query_one<int>("SELECT count(*) FROM t") == 0); // still its snapshot
        // Another read now does not borrow the connection that wrote: one writer connection is
        // out already, and a third would have to be opened for the next write.
        std::thread read([&] { store.read([&](auto& r) { concurrent = &r.connection(); }); });
        read.join();
    });
    CHECK(other != nullptr);
    CHECK(other != writer);
    // The connection that wrote last is the writer now; the borrowed one became the spare,
    // which the next write during a read takes instead of opening a third.
    const sqlite::Connection* third = nullptr;
    store.read([&](auto& tx) {
        CHECK(&tx.connection() == other);
        CHECK(tx.template query_one<int>("SELECT count(*) FROM t") == 1);
        std::thread write([&] {
            store.write([&](auto& w) {
                w.execute("INSERT INTO t VALUES (2)");
                third = &w.connection();
            });
        });
        write.join();
    });
    CHECK(third == writer);
    CHECK(concurrent != writer);
    CHECK(concurrent != other);
    // While a write runs, reads use the reader connections.
    std::atomic<bool> writing{false}, read_done{false};
    const sqlite::Connection* during = nullptr;
    std::thread write([&] {
        store.write([&](auto&) {
            writing = true;
            CHECK(test::wait_for([&] { return read_done.load(); }, 60s));
        });
    });
    REQUIRE(test::wait_for([&] { return writing.load(); }, 60s));
    store.read([&](auto& tx) {
        during = &tx.connection();
        CHECK(tx.template query_one<int>("SELECT count(*) FROM t") == 2);
    });
    read_done = true;
    write.join();
    CHECK(during != writer);
    CHECK(during != other);
}

TEST_CASE("threads mixing writes and reads, on whichever connection: each reads its own writes, none is lost") {
    test::TempDir dir;
    Store<sqlite::Backend> store(file_config(dir));
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (thread INTEGER, i INTEGER)"); });
    constexpr int threads = 4, rounds = 150;
    std::atomic<int> stale{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            for (int i = 0; i < rounds; ++i) {
                store.write([&](auto& tx) { tx.execute("INSERT INTO t VALUES (?, ?)", t, i); });
                const auto mine = store.read([&](auto& tx) {
                    return tx.template query_one<int>("SELECT count(*) FROM t WHERE thread = ?", t);
                });
                if (mine != i + 1) ++stale;
            }
        });
    for (auto& worker : workers) worker.join();
    CHECK(stale == 0);
    CHECK(store.read([](auto& tx) { return tx.template query_one<int>("SELECT count(*) FROM t"); }) == threads * rounds);
    CHECK(store.read([](auto& tx) { return tx.template query_one<std::string>("PRAGMA integrity_check"); }) == "ok");
}

TEST_CASE("a read cannot change a connection setting: it may run on the connection that writes") {
    test::TempDir dir;
    Config config = file_config(dir);
    config.durability = Durability::full;
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
    auto refusal = [](const std::string& sql) {
        return "store.read() does not change connection settings or run maintenance, but this PRAGMA does [" + sql +
               "]: a read may run on the connection that writes. Set connection settings through persist::Config; persist "
               "checkpoints the WAL itself";
    };
    for (const std::string sql : {"pragma Foreign_Keys = 0", "PRAGMA main.cache_size(10)", "/* off */ PRAGMA query_only=1",
                                  "PRAGMA Optimize", "PRAGMA shrink_memory"}) {
        CHECK(message_of<usage_error>([&] { store.read([&](auto& tx) { tx.for_each_row(sql, [](const auto&) {}); }); }) ==
              refusal(sql));
        CHECK(message_of<usage_error>([&] {
                  store.read(single_statement, [&](auto& tx) { tx.for_each_row(sql, [](const auto&) {}); });
              }) == refusal(sql));
    }
    // SQLite counts these as writing: refused as writes (a checkpoint on a connection without
    // the write lock is what persist/sqlite/wal_reset.hpp prevents).
    for (const std::string sql : {"PRAGMA wal_checkpoint", "PRAGMA incremental_vacuum"})
        CHECK(message_of<usage_error>([&] {
                  store.read(single_statement, [&](auto& tx) { tx.for_each_row(sql, [](const auto&) {}); });
              }) == "store.read() runs read-only statements, but this one writes [" + sql + "]; do it inside store.write()");
    // SQLite itself refuses this one inside a transaction, but a single statement has none.
    CHECK(message_of<usage_error>([&] {
              store.read(single_statement, [&](auto& tx) { tx.for_each_row("PRAGMA synchronous=OFF", [](const auto&) {}); });
          }) == refusal("PRAGMA synchronous=OFF"));
    auto unchanged = [](auto& tx) {
        CHECK(tx.template query_one<int>("PRAGMA synchronous") == 2);
        CHECK(tx.template query_one<int>("PRAGMA foreign_keys") == 1);
        CHECK(tx.template query_one<int>("PRAGMA query_only") == 0);
    };
    store.write(unchanged);
    // Pragmas that describe or check still run in a read.
    store.read([](auto& tx) {
        CHECK(tx.template query_one<int>("PRAGMA synchronous") == 2);
        int columns = 0;
        tx.for_each_row("PRAGMA table_info(t)", [&](const auto&) { ++columns; });
        CHECK(columns == 1);
        CHECK(tx.template query_one<std::string>("PRAGMA integrity_check(10)") == "ok");
        CHECK(tx.template query_one<std::string>("pragma QUICK_CHECK") == "ok");
    });
    store.write(unchanged);
}

TEST_CASE("every connection gets the documented pragmas") {
    test::TempDir dir;
    Config config = file_config(dir);
    config.busy_timeout = 1234ms;
    config.cache_size_kib = 4096;
    auto check = [](auto& tx, int synchronous) {
        CHECK(tx.template query_one<int>("PRAGMA synchronous") == synchronous);
        CHECK(tx.template query_one<int>("PRAGMA busy_timeout") == 1234);
        CHECK(tx.template query_one<int>("PRAGMA foreign_keys") == 1);
        CHECK(tx.template query_one<int>("PRAGMA temp_store") == 2);
        CHECK(tx.template query_one<int>("PRAGMA cache_size") == -4096);
        CHECK(tx.template query_one<int>("PRAGMA trusted_schema") == 0);
        // Double-quoted strings are identifiers only.
        CHECK_THROWS_WITH_AS(tx.template query<std::string>("SELECT \"not a column\""),
                             "SQL failed: no such column: not a column [SELECT \"not a column\"]", schema_error);
    };
    SUBCASE("normal") {
        Store<sqlite::Backend> store(config);
        // journal_mode is a property of the file; "PRAGMA journal_mode" counts as a write.
        store.write([&](auto& tx) { CHECK(tx.template query_one<std::string>("PRAGMA journal_mode") == "wal"); });
        store.write([&](auto& tx) { check(tx, 1); });
        store.read([&](auto& tx) { check(tx, 1); });
    }
    SUBCASE("full") {
        config.durability = Durability::full;
        Store<sqlite::Backend> store(config);
        store.write([&](auto& tx) { check(tx, 2); });
        store.read([&](auto& tx) { check(tx, 2); });
    }
    SUBCASE("off") {
        config.durability = Durability::off;
        Store<sqlite::Backend> store(config);
        store.write([&](auto& tx) { check(tx, 0); });
        store.read([&](auto& tx) { check(tx, 0); });
    }
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

// ---- group commit ----------------------------------------------------------------------

namespace {

struct Refused {}; // what a test's own function throws (persist's errors are runtime_errors)

// A store whose "joining" events are counted, and a table t(id, v).
struct GroupFixture {
    test::TempDir dir;
    std::atomic<int> joined{0};
    std::atomic<int> retries{0};
    std::mutex retry_messages_mutex;
    std::vector<std::string> retry_messages;
    Config config;
    std::optional<Store<sqlite::Backend>> store;

    explicit GroupFixture(Durability durability = Durability::normal, bool group = true) {
        config = Config::for_app("group-test");
        config.db_path = dir / "app.db";
        config.durability = durability;
        config.group_commit = group;
        config.on_event = [this](const Event& event) {
            if (event.kind == Event::Kind::wait && event.message.find("(group commit)") != std::string::npos) ++joined;
            if (event.kind == Event::Kind::retry) {
                ++retries;
                std::lock_guard lock(retry_messages_mutex);
                retry_messages.push_back(event.message);
            }
        };
        store.emplace(config);
        store->write([](auto& tx) { tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"); });
    }

    // Rows committed, as a connection of its own sees them (not persist's).
    std::int64_t committed() const {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open_v2(config.db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
        sqlite3_stmt* statement = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &statement, nullptr) == SQLITE_OK);
        REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
        const auto count = sqlite3_column_int64(statement, 0);
        sqlite3_finalize(statement);
        sqlite3_close(db);
        return count;
    }

    std::int64_t count(const std::string& where = "1") {
        return store->read([&](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM t WHERE " + where)[0]; });
    }

    // Runs `members` on threads of their own while the leader's write is running; the
    // leader's function returns once all of them wait to join it, then `leader_tail` runs.
    template <class LeaderTail>
    void with_members(std::vector<std::function<void()>> members, LeaderTail leader_tail) {
        std::vector<std::thread> threads;
        struct Join { // also when the leader's write throws
            std::vector<std::thread>& threads;
            ~Join() {
                for (auto& thread : threads) thread.join();
            }
        } join{threads};
        store->write([&](auto& tx) {
            tx.execute("INSERT INTO t (id, v) VALUES (1, 'leader')");
            for (auto& member : members) threads.emplace_back(member);
            REQUIRE(test::wait_for([&] { return joined.load() == static_cast<int>(members.size()); }));
            leader_tail();
        });
    }
};

} // namespace

TEST_CASE("writes that arrive while another runs join its transaction and commit with it") {
    GroupFixture fixture;
    std::atomic<int> saw_leader_uncommitted{0};
    std::vector<std::function<void()>> members;
    for (int id = 2; id <= 4; ++id)
        members.emplace_back([&, id] {
            fixture.store->write([&](auto& tx) {
                // Inside the leader's transaction: its row is there, and not yet committed.
                if (tx.template query<std::int64_t>("SELECT count(*) FROM t WHERE id = 1")[0] == 1 && fixture.committed() == 0)
                    ++saw_leader_uncommitted;
                tx.execute("INSERT INTO t (id, v) VALUES (?, 'member')", id);
            });
        });
    fixture.with_members(members, [] {});
    CHECK(saw_leader_uncommitted == 3);
    CHECK(fixture.committed() == 4);
}

TEST_CASE("without group commit every write commits alone") {
    GroupFixture fixture(Durability::normal, false);
    std::atomic<bool> waiting{false};
    fixture.store.reset();
    fixture.config.on_event = [&](const Event& event) {
        if (event.kind == Event::Kind::wait && event.message.find("waiting for the writer connection") != std::string::npos)
            waiting = true;
    };
    fixture.store.emplace(fixture.config);
    std::int64_t seen_committed = -1;
    std::thread other;
    fixture.store->write([&](auto& tx) {
        tx.execute("INSERT INTO t (id, v) VALUES (1, 'first')");
        other = std::thread([&] {
            fixture.store->write([&](auto& tx2) {
                seen_committed = fixture.committed();
                tx2.execute("INSERT INTO t (id, v) VALUES (2, 'second')");
            });
        });
        REQUIRE(test::wait_for([&] { return waiting.load(); }));
    });
    other.join();
    CHECK(seen_committed == 1); // the first write had committed before the second began
    CHECK(fixture.committed() == 2);
}

TEST_CASE("a member whose function throws is rolled back alone and gets its exception unchanged") {
    GroupFixture fixture;
    std::string thrown;
    std::vector<std::function<void()>> members{
        [&] {
            try {
                fixture.store->write([](auto& tx) {
                    tx.execute("INSERT INTO t (id, v) VALUES (2, 'thrower')");
                    throw std::runtime_error("the member's own failure");
                });
            } catch (const std::runtime_error& e) {
                thrown = e.what();
            }
        },
        [&] { fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (3, 'member')"); }); }};
    fixture.with_members(members, [] {});
    CHECK(thrown == "the member's own failure");
    CHECK(fixture.count("id = 2") == 0);
    CHECK(fixture.count("id IN (1, 3)") == 2);
}

TEST_CASE("a member that leaves a deferred foreign key unresolved gets COMMIT's constraint error, alone") {
    GroupFixture fixture;
    fixture.store->write([](auto& tx) {
        tx.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)");
        tx.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)");
    });
    std::string message;
    std::vector<std::function<void()>> members{
        [&] {
            message = test::message_of<constraint_error>([&] {
                fixture.store->write([](auto& tx) { tx.execute("INSERT INTO child (id, parent) VALUES (1, 42)"); });
            });
        },
        [&] { fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (3, 'member')"); }); }};
    fixture.with_members(members, [] {});
    CHECK(message == "constraint FOREIGN KEY rejected the write (FOREIGN KEY constraint failed) [COMMIT]; check the values, or "
                     "use an upsert for rows that may exist");
    CHECK(fixture.store->read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM child")[0]; }) == 0);
    CHECK(fixture.count("id IN (1, 3)") == 2);
}

TEST_CASE("a member whose error makes SQLite roll back the whole transaction: the others run again and commit") {
    GroupFixture fixture;
    fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (100, 'old')"); });
    std::atomic<int> member_runs{0};
    std::vector<std::function<void()>> members{
        [&] {
            // A conflict clause of ROLLBACK ends the whole transaction, the leader's row with it.
            CHECK_THROWS_AS(fixture.store->write([](auto& tx) { tx.execute("INSERT OR ROLLBACK INTO t (id, v) VALUES (100, 'x')"); }),
                            constraint_error);
        },
        [&] {
            fixture.store->write([&](auto& tx) {
                ++member_runs;
                tx.execute("INSERT INTO t (id, v) VALUES (3, 'member')");
            });
        }};
    int leader_runs = 0;
    std::vector<std::thread> threads;
    fixture.store->write([&](auto& tx) {
        ++leader_runs;
        tx.execute("INSERT INTO t (id, v) VALUES (1, 'leader')");
        if (leader_runs == 1) {
            for (auto& member : members) threads.emplace_back(member);
            REQUIRE(test::wait_for([&] { return fixture.joined.load() == 2; }));
        }
    });
    for (auto& thread : threads) thread.join();
    CHECK(fixture.count("id IN (1, 3, 100)") == 3);
    CHECK(fixture.count("v = 'x'") == 0);
    // The leader always runs again; the other member too if it had run before the failing one.
    CHECK(leader_runs == 2);
    CHECK(member_runs >= 1);
    REQUIRE(fixture.retries >= 1);
    // The leader learns it from the transaction; a member that had run, from the leader.
    const std::string rolled_back = "store.write() retrying: database " + fixture.config.db_path +
                                    ": the transaction this write shared with others (group commit) was rolled back by "
                                    "the backend after an error in one of them; running it again";
    const std::string not_committed = "store.write() retrying: database " + fixture.config.db_path +
                                      ": the transaction this write shared with others (group commit) was not committed, "
                                      "through no fault of this write; running it again";
    for (const auto& message : fixture.retry_messages) CHECK((message == rolled_back || message == not_committed));
    CHECK(std::count(fixture.retry_messages.begin(), fixture.retry_messages.end(), rolled_back) == 1);
    CHECK(std::count(fixture.retry_messages.begin(), fixture.retry_messages.end(), not_committed) == member_runs - 1);
}

TEST_CASE("a group is at most 64 writes besides the leader; the next write waits for the next group until its deadline") {
    GroupFixture fixture;
    fixture.store.reset();
    fixture.config.busy_timeout = std::chrono::milliseconds(2000);
    fixture.store.emplace(fixture.config);
    constexpr int writers = 65;
    std::mutex messages_mutex;
    std::vector<std::string> messages;
    std::vector<std::thread> threads;
    const auto writer = [&] {
        const auto message = test::message_of<busy_error>(
            [&] { fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (v) VALUES ('late')"); }); });
        std::lock_guard lock(messages_mutex);
        messages.push_back(message);
    };
    fixture.store->write([&](auto&) {
        for (int i = 0; i < writers - 1; ++i) threads.emplace_back(writer);
        REQUIRE(test::wait_for([&] { return fixture.joined.load() == writers - 1; }));
        threads.emplace_back(writer); // the queue is full: this one waits for the next group
        // The leader holds its group open until every other write gave up.
        REQUIRE(test::wait_for([&] {
            std::lock_guard lock(messages_mutex);
            return messages.size() == writers;
        }));
    });
    for (auto& thread : threads) thread.join();
    const auto with = [&](const std::string& text) {
        return std::count_if(messages.begin(), messages.end(),
                             [&](const std::string& m) { return m.find(text) != std::string::npos; });
    };
    CHECK(with("Last cause: the write transaction of another thread of this process, which this write was waiting to "
               "join (group commit), did not reach it before the deadline") == 64);
    CHECK(with("Last cause: the write transactions of other threads of this process held the writer until the deadline") == 1);
    CHECK(fixture.count() == 0);
}

TEST_CASE("a statement after SQLite rolled the write transaction back is refused, and nothing commits") {
    GroupFixture fixture(Durability::normal, false);
    fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (100, 'old')"); });
    const auto message = test::message_of<transaction_aborted>([&] {
        fixture.store->write([](auto& tx) {
            tx.execute("INSERT INTO t (id, v) VALUES (1, 'before')");
            try {
                tx.execute("INSERT OR ROLLBACK INTO t (id, v) VALUES (100, 'x')");
            } catch (const constraint_error&) {
                // swallowed: the transaction is gone, and the next statement must not autocommit
            }
            tx.execute("INSERT INTO t (id, v) VALUES (2, 'after')");
        });
    });
    CHECK(message == "SQLite rolled this write transaction back after an earlier statement in it failed (a full disk, an I/O "
                     "error, or a conflict clause of ROLLBACK), and fn went on; nothing of it will be committed and this "
                     "statement was not run [INSERT INTO t (id, v) VALUES (2, 'after')]. Let the error propagate: the Store "
                     "reports it");
    CHECK(fixture.count() == 1);
}

TEST_CASE("the leader's function throws: the writes that queued behind it still commit") {
    GroupFixture fixture;
    std::vector<std::thread> threads;
    CHECK_THROWS_WITH_AS(fixture.store->write([&](auto& tx) {
        tx.execute("INSERT INTO t (id, v) VALUES (1, 'leader')");
        for (int id = 2; id <= 3; ++id)
            threads.emplace_back([&, id] {
                fixture.store->write([id](auto& member) { member.execute("INSERT INTO t (id, v) VALUES (?, 'member')", id); });
            });
        REQUIRE(test::wait_for([&] { return fixture.joined.load() == 2; }));
        throw std::logic_error("the leader's own failure");
    }), "the leader's own failure", std::logic_error);
    for (auto& thread : threads) thread.join();
    CHECK(fixture.count("id = 1") == 0);
    CHECK(fixture.count("id IN (2, 3)") == 2);
}

TEST_CASE("a COMMIT that fails reaches every write of the group as outcome unknown") {
    using namespace test::posix_faults;
    GroupFixture fixture(Durability::full);
    std::atomic<int> unknown{0};
    std::vector<std::function<void()>> members;
    for (int id = 2; id <= 3; ++id)
        members.emplace_back([&, id] {
            try {
                fixture.store->write([id](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (?, 'member')", id); });
            } catch (const commit_outcome_unknown& e) {
                if (std::string(e.what()).find("may or may not be committed") != std::string::npos) ++unknown;
            }
        });
    try {
        fixture.with_members(members, [] { fsync_fault.arm(1); });
        FAIL("the failed COMMIT was reported as success");
    } catch (const commit_outcome_unknown&) {
        ++unknown;
    }
    fsync_fault.arm(0);
    CHECK(unknown == 3);
    // The store goes on with a new writer.
    fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (10, 'after')"); });
    CHECK(fixture.count("id = 10") == 1);
}

TEST_CASE("many threads writing at once: every acknowledged write is there, and no failed one") {
    GroupFixture fixture;
    constexpr int threads_count = 8, writes = 60;
    std::vector<std::thread> threads;
    std::atomic<int> acknowledged{0};
    for (int t = 0; t < threads_count; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < writes; ++i) {
                const int id = 1000 + t * writes + i;
                try {
                    fixture.store->write([&](auto& tx) {
                        tx.execute("INSERT INTO t (id, v) VALUES (?, 'row')", id);
                        if (i % 7 == 3) throw Refused{};
                    });
                    ++acknowledged;
                } catch (const Refused&) {
                }
            }
        });
    for (auto& thread : threads) thread.join();
    CHECK(fixture.count("id >= 1000") == acknowledged.load());
    CHECK(fixture.count("id >= 1000 AND (id - 1000) % 60 % 7 = 3") == 0);
}
