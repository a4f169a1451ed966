// postgres::AdvisoryLock against the throwaway server.
#include "backends.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/postgres/advisory_lock.hpp>
#include <persist/postgres/backend.hpp>
#include <persist/postgres/table_lock.hpp>

#include <atomic>
#include <mutex>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>

using namespace persist;
using postgres::AdvisoryLock;
using namespace std::chrono_literals;

namespace {
Config pg_config() { return test::pg_config("pg-lock-test"); }
lock::Request exclusive(std::chrono::milliseconds timeout, std::string_view purpose = "test") {
    return {lock::Mode::exclusive, std::chrono::steady_clock::now() + timeout, purpose};
}
} // namespace

TEST_CASE("the key of a name is documented and stable") {
    // First 8 bytes of SHA-256("persist:migrate"), big-endian, signed.
    CHECK(AdvisoryLock::key("migrate") == AdvisoryLock::key("migrate"));
    CHECK(AdvisoryLock::key("migrate") != AdvisoryLock::key("persist.write"));
    const auto hex = migrate::sha256("persist:migrate").str().substr(0, 16);
    CHECK(static_cast<std::uint64_t>(AdvisoryLock::key("migrate")) == std::stoull(hex, nullptr, 16));
    // The server computes the same key from the same text (so other programs can too).
    postgres::Connection db(test::pg_server().conninfo());
    CHECK(db.query<std::int64_t>("SELECT ('x' || left(encode(sha256($1::bytea), 'hex'), 16))::bit(64)::bigint",
                                 std::string("persist:migrate")) == std::vector<std::int64_t>{AdvisoryLock::key("migrate")});
    // Transaction-level locks (Transaction::advisory_xact_lock) use their own prefix.
    CHECK(static_cast<std::uint64_t>(postgres::Transaction::xact_key("migrate")) ==
          std::stoull(migrate::sha256("persist:xact:migrate").str().substr(0, 16), nullptr, 16));
}

TEST_CASE_TEMPLATE("a lock policy opened again sends no \"already exists\" notice to on_event", P, AdvisoryLock,
                   postgres::TableLock) {
    std::vector<std::string> events;
    std::mutex guard;
    Config config = pg_config();
    config.on_event = [&](const Event& e) {
        std::lock_guard lock(guard);
        events.push_back(e.message);
    };
    for (int i = 0; i < 2; ++i) { // the second finds its tables made
        P locks(config);
        CHECK(locks.acquire("quiet", exclusive(5s)).owns_lock());
    }
    std::lock_guard lock(guard);
    for (const auto& message : events) CHECK(message.find("already exists") == std::string::npos);
}

TEST_CASE("two sessions exclude each other; the waiter times out naming the holder; release frees it") {
    AdvisoryLock first(pg_config()), second(pg_config());
    auto held = first.acquire("job", exclusive(1s));
    const auto status = second.status("job");
    REQUIRE(status.held);
    CHECK(status.holder->mode == lock::Mode::exclusive);
    const auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH_AS(second.acquire("job", exclusive(200ms)), doctest::Contains("' not granted within"), lock_timeout_error);
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK(waited >= 190ms);
    try {
        second.acquire("job", exclusive(50ms));
    } catch (const lock_timeout_error& e) {
        // Threads of one process queue in the process first: the holder is this process.
        CHECK(std::string(e.what()).find("held by pid " + std::to_string(::getpid())) != std::string::npos);
    }
    held = {};
    CHECK_FALSE(second.status("job").held);
    CHECK(second.acquire("job", exclusive(1s)).owns_lock());
    CHECK(second.stats().at("job").timeouts == 2);
}

TEST_CASE_TEMPLATE("shared holders coexist and keep an exclusive request out", P, AdvisoryLock, postgres::TableLock) {
    P a(pg_config()), b(pg_config()), c(pg_config());
    auto one = a.acquire("readers", {lock::Mode::shared, std::chrono::steady_clock::now() + 1s, "r1"});
    auto two = b.acquire("readers", {lock::Mode::shared, std::chrono::steady_clock::now() + 1s, "r2"});
    CHECK_THROWS_AS(c.acquire("readers", exclusive(100ms)), lock_timeout_error);
    one = {};
    two = {};
    CHECK(c.acquire("readers", exclusive(1s)).owns_lock());
}

TEST_CASE_TEMPLATE("processes mixing shared and exclusive requests: a writer is never in with anyone", P, AdvisoryLock,
                   postgres::TableLock) {
    // Counters in memory every forked process sees; each process has its own lock object.
    struct Shared {
        std::atomic<int> readers, writers, overlaps, entries;
    };
    void* memory = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(memory != MAP_FAILED);
    auto* shared = new (memory) Shared{};
    const Config config = pg_config(); // the server starts here, in the parent, before any fork
    std::vector<pid_t> children;
    for (int c = 0; c < 6; ++c) {
        const pid_t child = ::fork();
        if (child == 0) {
            int status = 0;
            try {
                P locks(config);
                for (int i = 0; i < 25; ++i) {
                    const bool write = (i + c) % 3 == 0;
                    auto held = locks.acquire("mixed", {write ? lock::Mode::exclusive : lock::Mode::shared,
                                                        std::chrono::steady_clock::now() + 60s, "mix"});
                    if (write) {
                        if (shared->writers.fetch_add(1) != 0 || shared->readers.load() != 0) ++shared->overlaps;
                        std::this_thread::sleep_for(200us); // time for an intruder to show itself
                        shared->writers.fetch_sub(1);
                    } else {
                        shared->readers.fetch_add(1);
                        if (shared->writers.load() != 0) ++shared->overlaps;
                        std::this_thread::sleep_for(200us);
                        shared->readers.fetch_sub(1);
                    }
                    ++shared->entries;
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
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    CHECK(shared->overlaps.load() == 0);
    CHECK(shared->entries.load() == 150);
    ::munmap(memory, sizeof(Shared));
}

TEST_CASE("a holder in another process: the timeout names its session; its death releases the lock") {
    int ready[2], go[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(go) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        AdvisoryLock mine(pg_config());
        auto held = mine.acquire("crash", exclusive(5s, "child"));
        char byte = 1;
        if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
        [[maybe_unused]] auto got = ::read(go[0], &byte, 1);
        ::_exit(0); // no release: the session ends with the process
    }
    char byte;
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    AdvisoryLock next(pg_config());
    const auto status = next.status("crash");
    REQUIRE(status.held);
    // The holder's own process, host and purpose, not its server session's.
    CHECK(status.holder->pid == child);
    CHECK(status.holder->host == lock::host_name());
    CHECK(status.holder->purpose == "child");
    try {
        next.acquire("crash", exclusive(100ms));
        FAIL("granted while another session holds it");
    } catch (const lock_timeout_error& e) {
        CHECK(std::string(e.what()).find("held by pid " + std::to_string(status.holder->pid)) != std::string::npos);
    }
    REQUIRE(::write(go[1], &byte, 1) == 1);
    ::waitpid(child, nullptr, 0);
    CHECK(next.acquire("crash", exclusive(2s)).owns_lock());
}

TEST_CASE("force_unlock explains how to end the holder's session") {
    AdvisoryLock a(pg_config()), b(pg_config());
    auto held = a.acquire("stuck", exclusive(1s));
    // It names the holding session's server process, which pg_terminate_backend takes.
    const auto server_pid = postgres::Connection(test::pg_server().conninfo())
                                .query<std::int64_t>("SELECT backend_pid FROM persist_lock_holders WHERE key = $1 AND backend_pid IN "
                                                     "(SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)",
                                                     AdvisoryLock::key("stuck"))
                                .at(0);
    CHECK_THROWS_WITH_AS(b.force_unlock("stuck"),
                         doctest::Contains(("SELECT pg_terminate_backend(" + std::to_string(server_pid) + ")").c_str()), usage_error);
    held = {};
    CHECK_NOTHROW(b.force_unlock("stuck"));
}

TEST_CASE("threads of one process queue in the process, never two inside") {
    AdvisoryLock shared_policy(pg_config());
    std::atomic<int> inside{0}, most{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                auto guard = shared_policy.acquire("section", exclusive(10s));
                const int now = ++inside;
                most = std::max(most.load(), now);
                std::this_thread::sleep_for(1ms);
                --inside;
            }
        });
    for (auto& t : threads) t.join();
    CHECK(most == 1);
}

TEST_CASE("a role that cannot record holders still locks; status then names the holder's server session") {
    {
        postgres::Connection admin(test::pg_server().conninfo());
        admin.execute_script("DROP ROLE IF EXISTS limited_locker; CREATE ROLE limited_locker LOGIN");
    }
    Config limited = pg_config();
    limited.db_url = "host=" + test::pg_server().directory() + " port=" + std::to_string(test::PgServer::port) +
                     " user=limited_locker dbname=postgres application_name=limited-app";
    std::vector<std::string> warnings;
    limited.on_event = [&](const Event& event) {
        if (event.kind == Event::Kind::warning) warnings.push_back(event.message);
    };
    AdvisoryLock locks(limited), observer(pg_config());
    auto held = locks.acquire("unrecorded", exclusive(1s, "limited work"));
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("persist_lock_holders cannot be created or written by this role") != std::string::npos);
    const auto status = observer.status("unrecorded");
    REQUIRE(status.held);
    CHECK(status.holder->pid != ::getpid());
    CHECK(status.holder->purpose.find("of application 'limited-app' (it did not record its own pid)") != std::string::npos);
}
