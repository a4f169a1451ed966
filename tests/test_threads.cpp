// One Store shared by many threads: no errors, every write present. Also built with
// ThreadSanitizer by the test script.
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/detail/timed_mutex.hpp>
#include <persist/sqlite.hpp>

#include <atomic>
#include <thread>
#include <vector>

using namespace persist;

namespace {
void hammer(const std::string& path) {
    constexpr int threads = 8;
    constexpr int per_thread = 150;
    Config config = Config::for_app("threads");
    config.db_path = path;
    config.reader_connections = 3; // fewer readers than threads: the pool must hand them round
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE log (thread INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (thread, seq))");
    });
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            try {
                for (int i = 0; i < per_thread; ++i) {
                    store.write([&](auto& tx) { tx.execute("INSERT INTO log VALUES (?, ?)", t, i); });
                    const auto mine = store.read([&](auto& tx) {
                        return tx.template query<int>("SELECT count(*) FROM log WHERE thread = ?", t)[0];
                    });
                    if (mine != i + 1) ++failures; // a committed write must be visible to the next read
                }
            } catch (const std::exception& e) {
                MESSAGE("thread " << t << ": " << e.what());
                ++failures;
            }
        });
    for (auto& worker : workers) worker.join();
    CHECK(failures == 0);
    const auto rows = store.read([](auto& tx) {
        return tx.template query<std::tuple<int, int>>("SELECT thread, seq FROM log ORDER BY thread, seq");
    });
    REQUIRE(rows.size() == threads * per_thread);
    for (int t = 0; t < threads; ++t)
        for (int i = 0; i < per_thread; ++i) CHECK(rows[t * per_thread + i] == std::tuple{t, i});
}
} // namespace

TEST_CASE("8 threads mixing reads and writes on a file database") {
    test::TempDir dir;
    hammer(dir / "threads.db");
}

TEST_CASE("8 threads on an in-memory database take turns on its one connection") {
    hammer(":memory:");
}

TEST_CASE("readers run in parallel with a writer that holds its transaction") {
    test::TempDir dir;
    Config config = Config::for_app("threads");
    config.db_path = dir / "parallel.db";
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
    std::atomic<bool> writing{false}, read_done{false};
    std::thread writer([&] {
        store.write([&](auto& tx) {
            tx.execute("INSERT INTO t VALUES (1)");
            writing = true;
            while (!read_done) std::this_thread::yield();
        });
    });
    while (!writing) std::this_thread::yield();
    // The write transaction is open and uncommitted; a read neither waits nor sees it.
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT count(*) FROM t")[0]; }) == 0);
    read_done = true;
    writer.join();
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT count(*) FROM t")[0]; }) == 1);
}

TEST_CASE("TimedMutex: one holder at a time, waiters woken by unlock, try_lock_until gives up at its deadline") {
    persist::detail::TimedMutex mutex;
    long counter = 0; // not atomic: ThreadSanitizer reports any access the mutex fails to order
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 2000; ++i) {
                if (t % 2 == 0) {
                    mutex.lock();
                } else if (!mutex.try_lock_until(std::chrono::steady_clock::now() + std::chrono::seconds(60))) {
                    continue; // not expected: counted below
                }
                ++counter;
                mutex.unlock();
            }
        });
    for (auto& thread : threads) thread.join();
    CHECK(counter == 8000);

    mutex.lock();
    CHECK_FALSE(mutex.try_lock());
    CHECK_FALSE(mutex.try_lock_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(20)));
    std::atomic<bool> granted{false};
    std::thread waiter([&] {
        granted = mutex.try_lock_until(std::chrono::steady_clock::now() + std::chrono::seconds(60));
        if (granted) mutex.unlock();
    });
    mutex.unlock(); // before or after the waiter sleeps: it gets the mutex either way
    waiter.join();
    CHECK(granted);
    CHECK(mutex.try_lock());
    mutex.unlock();
}
