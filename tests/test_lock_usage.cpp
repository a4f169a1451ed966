// What the Store asks of its lock policy: guard_writes takes the exclusive write lock around
// every write transaction, bad requests and lock files that cannot be created are refused with
// the reason (a lease without the kernel's random generator too), and an in-memory
// database's lock::File coordinates threads without a file.
#include "lock_support.hpp"
#include "no_getrandom.hpp"

using namespace persist;
using namespace std::chrono;
using namespace std::chrono_literals;
using namespace lock_test;

TEST_CASE("guard_writes: every write transaction holds the exclusive write lock") {
    test::TempDir dir;
    Config config = file_config(dir);
    config.guard_writes = true;
    for (const bool group : {false, true}) {
        INFO("group_commit " << group);
        config.group_commit = group;
        config.db_path = dir / (group ? "grouped.db" : "alone.db");
        Store<sqlite::Backend, OfdFile> store(for_policy<OfdFile>(config));
        store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (int i = 0; i < 20; ++i) store.write([&](auto& tx) { tx.execute("INSERT INTO t VALUES (?)", t * 100 + i); });
            });
        for (auto& thread : threads) thread.join();
        CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT count(*) FROM t")[0]; }) == 80);
        // One acquisition per transaction: per write alone; per group (of one or more writes) with group commit.
        const auto acquisitions = store.lock_stats().at("persist.write").acquisitions;
        if (group) {
            CHECK(acquisitions >= 2);
            CHECK(acquisitions <= 81);
        } else {
            CHECK(acquisitions == 81);
        }
    }
    config.group_commit = true;
    // Held by another process, the guard turns into a busy_error at the deadline.
    config.busy_timeout = 100ms;
    auto other = holder<OfdFile>(config, "persist.write");
    Store<sqlite::Backend, OfdFile> blocked(for_policy<OfdFile>(config));
    const auto message = message_of<busy_error>([&] { blocked.write([](auto&) {}); });
    CHECK(message.find("store.write() could not start within busy_timeout (100 ms): the write guard exclusive lock "
                       "'persist.write' not granted within ") != std::string::npos);
}

TEST_CASE("bad requests are refused with the reason") {
    test::TempDir dir;
    Config config = file_config(dir);
    lock::InProcess locks(config);
    CHECK(message_of<usage_error>([&] { locks.acquire("no spaces", exclusive(1s)); }) ==
          "lock name \"no spaces\" is not valid; use 1-64 characters from A-Z, a-z, 0-9, '.', '_' and '-'");
    CHECK_THROWS_AS(locks.acquire("", exclusive(1s)), usage_error);
    CHECK_THROWS_AS(locks.acquire("../escape", exclusive(1s)), usage_error);
    Config memory;
    memory.db_path = ":memory:";
    CHECK(message_of<config_error>([&] { lock::Table lease(memory); }) ==
          "lock::Table keeps leases in the database, and \":memory:\" is private to one connection; use "
          "lock::InProcess for an in-memory database");
    Config short_ttl = config;
    short_ttl.lease_ttl = 10ms;
    CHECK(message_of<config_error>([&] { lock::Table lease(short_ttl); }) ==
          "lease_ttl is 10 ms; use at least 30 ms (renewal runs every lease_ttl / 3)");
}

TEST_CASE("without the kernel's random generator a lease is refused with io_error, and retries still back off") {
    test::TempDir dir;
    const Config config = file_config(dir);
    const auto lease = test::run_in_child(
        [&] {
            test::deny_getrandom();
            lock::Table leases(config);
            leases.acquire("job", exclusive(1s)); // an owner token must be unpredictable
        },
        false);
    CHECK(lease == "io_error: cannot make a random token: the kernel's random generator failed (getrandom: "
                   "Input/output error)");
    // Backoff jitter need not be secret: it falls back to the clock instead of spinning.
    const auto jitter = test::run_in_child(
        [] {
            test::deny_getrandom();
            const auto value = persist::detail::jitter(5, 9);
            if (value < 5 || value > 9) throw std::runtime_error("jitter out of range: " + std::to_string(value));
        },
        false);
    CHECK(jitter == "ok");
}

TEST_CASE("a wait longer than 365 days (milliseconds::max() meant as forever) is refused, not overflowed") {
    test::TempDir dir;
    Config config = file_config(dir);
    config.busy_timeout = std::chrono::milliseconds::max();
    CHECK(message_of<config_error>([&] { Store<sqlite::Backend, OfdFile> store(for_policy<OfdFile>(config)); }) ==
          "Config::busy_timeout is 9223372036854775807 ms; it must be 0 to 31536000000 ms (365 days: longer would "
          "overflow persist's deadlines). For \"as long as it takes\", use std::chrono::days(365)");
    config.busy_timeout = -1ms;
    CHECK(message_of<config_error>([&] { Store<sqlite::Backend, OfdFile> negative(for_policy<OfdFile>(config)); }).starts_with("Config::busy_timeout is -1 ms"));
    config.busy_timeout = std::chrono::days(365);
    Store<sqlite::Backend, OfdFile> store(for_policy<OfdFile>(config));
    LockOptions forever;
    forever.timeout = std::chrono::hours(24 * 365 * 1000);
    CHECK(message_of<usage_error>([&] { store.with_lock("job", [] {}, forever); })
              .starts_with("LockOptions::timeout is 31536000000000 ms; it must be 0 to 31536000000 ms"));
    forever.timeout = std::chrono::days(365);
    CHECK(store.with_lock("job", [] { return 7; }, forever) == 7);
}

TEST_CASE("a lock file that cannot be created is a permission_error naming it") {
    if (::geteuid() != 0) return; // needs a second uid
    test::TempDir dir;
    Config config = file_config(dir); // dir: owned by root, 0755
    const auto result = test::run_in_child([&] {
        OfdFile locks(config);
        locks.acquire("job", exclusive(100ms));
    });
    CHECK(result == "permission_error: cannot open lock file " + dir.path + "/locks.db.job.lock: Permission denied. "
                    "Fix: make its directory writable for uid 65534");
}

TEST_CASE("lock::File on an in-memory database coordinates the process's threads and makes no file") {
    test::TempDir dir;
    const auto previous = std::filesystem::current_path();
    std::filesystem::current_path(dir.path);
    struct Back {
        std::filesystem::path to;
        ~Back() { std::filesystem::current_path(to); }
    } back{previous};
    Config memory;
    memory.db_path = ":memory:";
    OfdFile a(memory), b(memory);
    auto held = a.acquire("job", exclusive(1s));
    CHECK(held.owns_lock());
    CHECK(b.status("job").held);
    CHECK(b.status("job").holder->pid == ::getpid());
    CHECK_THROWS_AS(b.acquire("job", exclusive(50ms)), lock_timeout_error);
    held = {};
    CHECK_FALSE(b.status("job").held);
    CHECK(b.acquire("job", exclusive(1s)).owns_lock());
    CHECK(std::filesystem::is_empty(dir.path));
}
