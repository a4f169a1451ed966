// PostgreSQL under faults, in a quick form: a server that stops answering, a hung proxy, a
// proxy that cuts connections right after COMMIT, backends terminated under load (during
// COMMIT too), server restarts under 8 writer threads, and a host that vanishes while it holds
// an advisory lock. Every write is one row of a ledger with a unique id, so the end state
// shows whether an acknowledged write was lost (its row is missing), a failed one was
// committed (its row is there), or one was applied twice (two rows).
#include "backends.hpp"
#include "tcp_proxy.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/lock/in_process.hpp>
#include <persist/postgres/advisory_lock.hpp>
#include <persist/postgres/backend.hpp>
#include <persist/postgres/backup.hpp>
#include <persist/store.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace persist;
using namespace std::chrono_literals;
using PgStore = Store<postgres::Backend, lock::InProcess>;
using Clock = std::chrono::steady_clock;

namespace {

// Waits for `condition` (which may query the server: polled every 20 ms) for up to a minute.
template <class Condition>
bool eventually(Condition condition) {
    return test::wait_for(condition, 60s, 20ms);
}

std::string via_proxy(const test::TcpProxy& proxy, const std::string& extra = {}) {
    return "host=127.0.0.1 port=" + std::to_string(proxy.port()) + " user=" + test::pg_server().user() +
           " dbname=postgres " + extra;
}

// What each write's caller was told, by id.
struct Ledger {
    std::mutex mutex;
    std::set<std::int64_t> acknowledged, failed, unknown;
    std::map<std::string, int> errors; // error kind -> count, for the test's messages

    void fresh_table(PgStore& store) {
        store.write([](auto& tx) { tx.execute_script("DROP TABLE IF EXISTS ledger; CREATE TABLE ledger (id BIGINT NOT NULL)"); });
    }

    // One write of row `id`, classified by what store.write() said.
    void write(PgStore& store, std::int64_t id) {
        const char* kind = "acknowledged";
        try {
            store.write([id](auto& tx) { tx.execute("INSERT INTO ledger (id) VALUES ($1)", id); });
        } catch (const commit_outcome_unknown&) {
            kind = "unknown";
        } catch (const postgres::response_timeout_error&) {
            kind = "response_timeout_error";
        } catch (const connection_error&) {
            kind = "connection_error";
        } catch (const busy_error&) {
            kind = "busy_error";
        } catch (const error&) {
            kind = "other error";
        }
        std::lock_guard lock(mutex);
        ++errors[kind];
        if (std::string_view(kind) == "acknowledged") acknowledged.insert(id);
        else if (std::string_view(kind) == "unknown") unknown.insert(id);
        else failed.insert(id);
    }

    // Checks the table against what callers were told, over a direct connection.
    void check() {
        postgres::Connection admin(test::pg_server().conninfo());
        std::map<std::int64_t, std::int64_t> rows;
        for (const auto& [id, count] : admin.query<std::tuple<std::int64_t, std::int64_t>>(
                 "SELECT id, count(*) FROM ledger GROUP BY id"))
            rows[id] = count;
        int lost = 0, doubled = 0, committed_failures = 0, strays = 0;
        for (const auto id : acknowledged) lost += rows.count(id) == 0;
        for (const auto& [id, count] : rows) {
            doubled += count > 1;
            committed_failures += failed.count(id) != 0;
            strays += acknowledged.count(id) == 0 && unknown.count(id) == 0 && failed.count(id) == 0;
        }
        std::string summary;
        for (const auto& [kind, count] : errors) summary += kind + ": " + std::to_string(count) + "; ";
        MESSAGE(summary);
        CHECK(lost == 0);
        CHECK(doubled == 0);
        CHECK(committed_failures == 0);
        CHECK(strays == 0);
    }
};

Config faults_config(const std::string& url) {
    Config config = test::pg_config("pg-faults");
    config.db_url = url;
    config.busy_timeout = 10s;
    config.statement_timeout = 5s;
    return config;
}

} // namespace

TEST_CASE("a statement the server does not answer in time is response_timeout_error; it is cancelled and the "
          "connection closed") {
    postgres::Connection connection(test::pg_server().conninfo() + " application_name=slow-one", 64, {}, 500ms);
    CHECK(connection.response_timeout() == 500ms);
    const auto started = Clock::now();
    CHECK_THROWS_WITH_AS(connection.execute_script("SELECT pg_sleep(60)"),
                         doctest::Contains("did not answer within response_timeout (500 ms) [SELECT pg_sleep(60)]"),
                         postgres::response_timeout_error);
    CHECK(Clock::now() - started < 30s); // not the 60 s of the statement
    CHECK_FALSE(connection.ok());
    CHECK_THROWS_AS(connection.execute_script("SELECT 1"), connection_error);
    // The cancel request (and the closed connection) end the statement on the server.
    postgres::Connection admin(test::pg_server().conninfo());
    CHECK(eventually([&] {
        return admin.query<std::int64_t>("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'slow-one'")[0] == 0;
    }));
}

TEST_CASE("response_timeout: 0 means statement_timeout + 5 s, or 65 s; a negative one is config_error") {
    Config config;
    CHECK(postgres::Connection::response_timeout_for(config) == 65s);
    config.statement_timeout = 2s;
    CHECK(postgres::Connection::response_timeout_for(config) == 7s);
    config.response_timeout = 300ms;
    CHECK(postgres::Connection::response_timeout_for(config) == 300ms);
    config.response_timeout = -1ms;
    CHECK_THROWS_WITH_AS(postgres::Connection::response_timeout_for(config), doctest::Contains("response_timeout is -1 ms"),
                         config_error);
    CHECK_THROWS_WITH_AS(postgres::Connection(test::pg_server().conninfo(), 64, {}, 0ms),
                         doctest::Contains("response timeout must be positive (it is 0 ms)"), config_error);
}

TEST_CASE("a proxy that hangs: store.write() ends by response_timeout with a typed error; connecting ends by its "
          "deadline; the pool heals when the path answers again") {
    test::TcpProxy proxy(test::pg_server().socket_path());
    Config config = faults_config(via_proxy(proxy, "connect_timeout=2"));
    config.response_timeout = 1s;
    PgStore store(config);
    store.write([](auto& tx) { tx.execute_script("DROP TABLE IF EXISTS hung; CREATE TABLE hung (v INT)"); });
    proxy.hang();
    auto started = Clock::now();
    CHECK_THROWS_WITH_AS(store.write([](auto& tx) { tx.execute("INSERT INTO hung VALUES (1)"); }),
                         doctest::Contains("did not answer within response_timeout (1000 ms)"),
                         postgres::response_timeout_error);
    CHECK(Clock::now() - started < 30s);
    // A new connection through the hung path: the startup is never answered.
    started = Clock::now();
    CHECK_THROWS_WITH_AS(PgStore{config}, doctest::Contains("no answer before the deadline"), connection_error);
    CHECK(Clock::now() - started < 30s);
    proxy.resume();
    store.write([](auto& tx) { tx.execute("INSERT INTO hung VALUES (2)"); });
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT v FROM hung"); }) == std::vector<int>{2});
}

TEST_CASE("a COMMIT whose answer never comes is commit_outcome_unknown, run once, and here it did commit") {
    test::TcpProxy proxy(test::pg_server().socket_path());
    Config config = faults_config(via_proxy(proxy));
    config.response_timeout = 1s;
    PgStore store(config);
    store.write([](auto& tx) { tx.execute_script("DROP TABLE IF EXISTS answerless; CREATE TABLE answerless (v INT)"); });
    proxy.hang_after_commit();
    int attempts = 0;
    CHECK_THROWS_WITH_AS(store.write([&](auto& tx) {
        ++attempts;
        tx.execute("INSERT INTO answerless VALUES (1)");
    }), doctest::Contains("may or may not be committed"), commit_outcome_unknown);
    CHECK(attempts == 1);
    postgres::Connection admin(test::pg_server().conninfo());
    CHECK(eventually([&] { return admin.query<std::int64_t>("SELECT count(*) FROM answerless")[0] == 1; }));
}

TEST_CASE("a proxy cutting connections right after COMMIT: no acknowledged write lost, none applied twice") {
    test::TcpProxy proxy(test::pg_server().socket_path());
    PgStore store(faults_config(via_proxy(proxy)));
    Ledger ledger;
    ledger.fresh_table(store);
    for (std::int64_t id = 1; id <= 200; ++id) {
        if (id % 4 == 0) proxy.cut_after_commit(1);
        ledger.write(store, id);
    }
    CHECK(proxy.commits_cut() == 50);
    CHECK(ledger.unknown.size() == 50);
    ledger.check();
}

TEST_CASE("backends terminated under load, during COMMIT too: no acknowledged write lost, none applied twice") {
    Config config = faults_config(test::pg_server().conninfo() + " application_name=ledger-writer");
    config.pool.max_connections = 4;
    PgStore store(config);
    Ledger ledger;
    ledger.fresh_table(store);
    std::atomic<bool> done{false};
    std::atomic<int> terminated{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w)
        writers.emplace_back([&, w] {
            for (std::int64_t i = 1; !done; ++i) ledger.write(store, w * 1'000'000 + i);
        });
    {
        // One writer's backend at a time, every few milliseconds: often enough to land in
        // COMMIT, rarely enough for the writers to get on.
        postgres::Connection admin(test::pg_server().conninfo());
        while (terminated < 150) {
            terminated += static_cast<int>(admin.query<bool>(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ledger-writer' "
                "ORDER BY random() LIMIT 1").size());
            std::this_thread::sleep_for(2ms);
        }
    }
    done = true;
    for (auto& writer : writers) writer.join();
    MESSAGE(terminated.load() << " backends terminated");
    CHECK_FALSE(ledger.failed.empty());
    ledger.check();
}

TEST_CASE("server restarts under 8 writer threads: no acknowledged write lost, none applied twice, the pool heals") {
    Config config = faults_config(test::pg_server().conninfo());
    config.pool.max_connections = 8;
    config.pool.acquire_timeout = 20s;
    PgStore store(config);
    Ledger ledger;
    ledger.fresh_table(store);
    std::atomic<bool> done{false};
    std::atomic<std::int64_t> written{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 8; ++w)
        writers.emplace_back([&, w] {
            for (std::int64_t i = 1; !done; ++i) {
                ledger.write(store, w * 1'000'000 + i);
                ++written;
            }
        });
    for (int restart = 0; restart < 2; ++restart) {
        const auto before = written.load();
        CHECK(eventually([&] { return written.load() >= before + 100; }));
        test::pg_server().restart();
    }
    const auto before = written.load();
    CHECK(eventually([&] { return written.load() >= before + 100; }));
    done = true;
    for (auto& writer : writers) writer.join();
    // The restarts hit writes in flight: ones whose COMMIT got no answer, or that failed. (A
    // write whose first statement, sent with its BEGIN, found the connection dead runs again on
    // a new one, so it counts as acknowledged.)
    CHECK(ledger.failed.size() + ledger.unknown.size() > 0);
    store.write([](auto& tx) { tx.execute("INSERT INTO ledger (id) VALUES (-1)"); }); // healed
    ledger.acknowledged.insert(-1);
    ledger.check();
}

namespace {

// Two hosts made of network namespaces: this one (the server's) and a namespace joined by a
// veth pair, 10.213.<n>.1 here and 10.213.<n>.2 there. cut() takes the far end's link down,
// so the far host vanishes without closing anything. Removed with the object.
class VethHost {
public:
    VethHost() {
        const auto n = std::to_string(::getpid() % 250);
        name_ = "persist-" + std::to_string(::getpid());
        far_ = "pv" + std::to_string(::getpid()) + "b";
        near_address_ = "10.213." + n + ".1";
        far_address_ = "10.213." + n + ".2";
        const std::string near = "pv" + std::to_string(::getpid()) + "a";
        run("ip netns add " + name_);
        run("ip link add " + near + " type veth peer name " + far_ + " netns " + name_);
        run("ip addr add " + near_address_ + "/24 dev " + near);
        run("ip link set " + near + " up");
        run("ip -n " + name_ + " addr add " + far_address_ + "/24 dev " + far_);
        run("ip -n " + name_ + " link set " + far_ + " up");
        run("ip -n " + name_ + " link set lo up");
    }
    VethHost(const VethHost&) = delete;
    VethHost& operator=(const VethHost&) = delete;
    ~VethHost() { (void)std::system(("ip netns del " + name_ + " 2>/dev/null").c_str()); } // takes the veth pair along

    const std::string& near_address() const { return near_address_; }
    /// Moves the calling process (a forked child) into the far namespace.
    void enter() const {
        const int fd = ::open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(3);
        ::close(fd);
    }
    void cut() const { run("ip -n " + name_ + " link set " + far_ + " down"); }

private:
    static void run(const std::string& command) {
        if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
    }
    std::string name_, far_, near_address_, far_address_;
};

} // namespace

TEST_CASE("a host that vanishes while holding an advisory lock loses it within seconds, not hours") {
    if (::geteuid() != 0) {
        FAIL("this test makes network namespaces and needs root (the README's test command runs as root)");
        return;
    }
    VethHost host;
    test::PgServer server(host.near_address()); // listens on the veth too
    int ready[2], hold[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(hold) == 0);
    // Killed and reaped before `server` ends: the child shares the server's watchdog pipe.
    struct Child {
        pid_t pid = -1;
        ~Child() {
            if (pid <= 0) return;
            ::kill(pid, SIGKILL);
            int status = 0;
            ::waitpid(pid, &status, 0);
        }
    } holder;
    holder.pid = ::fork();
    REQUIRE(holder.pid >= 0);
    if (holder.pid == 0) {
        // The far host: takes the lock over TCP, says so, and keeps it until killed.
        ::close(ready[0]);
        ::close(hold[1]);
        host.enter();
        try {
            Config config = test::pg_config("pg-vanish");
            config.db_url = "host=" + host.near_address() + " port=" + std::to_string(test::PgServer::port) +
                            " user=" + server.user() + " dbname=postgres";
            postgres::AdvisoryLock locks(config);
            auto guard = locks.acquire("vanish", lock::Request{lock::Mode::exclusive, Clock::now() + 30s, "the vanished host"});
            (void)!::write(ready[1], "L", 1);
            char byte;
            while (::read(hold[0], &byte, 1) != 0) {}
        } catch (...) {
            ::_exit(2);
        }
        ::_exit(0);
    }
    ::close(ready[1]);
    ::close(hold[0]);
    char byte = 0;
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    Config config = test::pg_config("pg-vanish");
    config.db_url = server.conninfo();
    postgres::AdvisoryLock locks(config);
    const auto held = locks.status("vanish");
    REQUIRE(held.held);
    CHECK(held.holder->pid == holder.pid);
    CHECK(held.holder->purpose == "the vanished host");
    host.cut();
    const auto cut_at = Clock::now();
    // Before persist set the server's keepalives, the lock stayed for the kernel's two hours.
    auto guard = locks.acquire("vanish", lock::Request{lock::Mode::exclusive, Clock::now() + 90s, "after the cut"});
    const auto seconds = std::chrono::duration<double>(Clock::now() - cut_at).count();
    MESSAGE("the vanished host's lock was released " << seconds << " s after its link went down");
    CHECK(guard.owns_lock());
    ::close(hold[1]);
    ::close(ready[0]);
}

TEST_CASE("a restore whose psql loses its connection during COMMIT is commit_outcome_unknown, and here it did commit") {
    test::TcpProxy proxy(test::pg_server().socket_path());
    test::TempDir dir;
    Config config = faults_config(via_proxy(proxy, "options='-c search_path=restore_cut'"));
    postgres::Connection(test::pg_server().conninfo())
        .execute_script("DROP SCHEMA IF EXISTS restore_cut CASCADE; CREATE SCHEMA restore_cut");
    PgStore store(config);
    store.write([](auto& tx) {
        tx.execute_script("CREATE TABLE kept (v INT); INSERT INTO kept SELECT generate_series(1, 10)");
    });
    const auto made = postgres::backup(store, dir / "kept.pgdump");
    store.write([](auto& tx) { tx.execute("DELETE FROM kept"); });
    proxy.cut_after_query("COMMIT;"); // psql's COMMIT, which persist writes after pg_restore succeeded
    const auto message = test::message_of<commit_outcome_unknown>([&] { postgres::restore(store, made.path); });
    CHECK(message.starts_with("psql lost its connection to the server while replaying " + made.path +
                              ", possibly during COMMIT: the restore may or may not have taken effect; check the data, "
                              "and restore again if it did not."));
    CHECK(proxy.commits_cut() == 1);
    // The COMMIT reached the server before the cut: the restore took effect.
    postgres::Connection admin(test::pg_server().conninfo());
    CHECK(eventually([&] { return admin.query<std::int64_t>("SELECT count(*) FROM restore_cut.kept")[0] == 10; }));
}
