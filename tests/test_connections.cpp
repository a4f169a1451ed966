// The connections of a SQLite Store: a read transaction is one snapshot, a read borrows the
// writer connection when no write runs, threads mixing reads and writes each read their own
// writes, reads cannot change connection settings, every connection has the documented
// pragmas.
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>

#include <atomic>
#include <sqlite3.h>
#include <string>
#include <thread>
#include <vector>

using namespace persist;
using namespace std::chrono_literals;

namespace {
Config file_config(const test::TempDir& dir, const std::string& name = "store.db") {
    return test::config_at(dir / name, "store-test");
}

using test::message_of;
} // namespace

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
