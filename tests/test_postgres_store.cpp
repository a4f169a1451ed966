// Store over postgres::Backend against the throwaway server: transactions, rollback,
// retries, and a pool that heals when the server drops its connections.
#include "backends.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/lock/in_process.hpp>
#include <persist/postgres/advisory_lock.hpp>
#include <persist/postgres/backend.hpp>
#include <persist/postgres/table_lock.hpp>
#include <persist/store.hpp>

#include <mutex>
#include <thread>

using namespace persist;
using PgStore = Store<postgres::Backend, lock::InProcess>;

using test::pg_config;

template <class Tx>
constexpr bool can_change = requires(Tx& tx) {
    tx.execute("INSERT INTO t VALUES (2)");
    tx.execute_script("INSERT INTO t VALUES (2)");
};

TEST_CASE("a read transaction cannot write") {
    PgStore store(pg_config());
    store.write([](auto& tx) { tx.execute_script("DROP TABLE IF EXISTS t; CREATE TABLE t (v INT)"); });
    // A change through execute() inside read() does not compile, as on SQLite; one hidden in a
    // query is refused by the server.
    static_assert(!can_change<postgres::ReadTransaction> && can_change<postgres::Transaction>);
    static_assert(std::is_same_v<PgStore::read_transaction, postgres::ReadTransaction>);
    CHECK_THROWS_WITH_AS(
        store.read([](auto& tx) { return tx.template query<std::int64_t>("INSERT INTO t VALUES (2) RETURNING v"); }),
        doctest::Contains("(SQLSTATE 25006) [INSERT INTO t VALUES (2) RETURNING v]; store.read() runs READ ONLY "
                          "transactions: do it inside store.write()"),
        usage_error);
}

TEST_CASE("a missing db_url is a config_error saying what to set") {
    Config config = Config::for_app("pg-test");
    CHECK_THROWS_WITH_AS(postgres::Backend{config}, doctest::Contains("needs Config::db_url (or the <PREFIX>_DB_URL variable)"),
                         config_error);
    CHECK_THROWS_WITH_AS(postgres::AdvisoryLock{config},
                         "postgres::AdvisoryLock needs Config::db_url (or the <PREFIX>_DB_URL variable)", config_error);
    CHECK_THROWS_WITH_AS(postgres::TableLock{config}, "postgres::TableLock needs Config::db_url (or the <PREFIX>_DB_URL variable)",
                         config_error);
}

TEST_CASE("the pool replaces connections the server terminated while idle") {
    PgStore store(pg_config());
    const auto pid = store.read([](auto& tx) { return tx.template query<int>("SELECT pg_backend_pid()")[0]; });
    postgres::Connection admin(test::pg_server().conninfo());
    admin.run("SELECT pg_terminate_backend($1, 5000)", pid); // returns once that session is gone
    const auto after = store.read([](auto& tx) { return tx.template query<int>("SELECT pg_backend_pid()")[0]; });
    CHECK(after != pid);
}

TEST_CASE("BEGIN goes out with the first statement: the transaction it starts is the one asked for") {
    PgStore store(pg_config());
    using Settings = std::tuple<std::string, std::string>;
    const std::string sql = "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')";
    CHECK(store.write([&](auto& tx) { return *tx.template query_one<Settings>(sql); }) == Settings{"read committed", "off"});
    CHECK(store.write(Isolation::serializable, [&](auto& tx) { return *tx.template query_one<Settings>(sql); }) ==
          Settings{"serializable", "off"});
    CHECK(store.read([&](auto& tx) { return *tx.template query_one<Settings>(sql); }) == Settings{"read committed", "on"});
    CHECK(store.read(single_statement, [&](auto& tx) { return *tx.template query_one<Settings>(sql); }) ==
          Settings{"read committed", "on"});
    // Statements after the first run in the same transaction; a failing first statement
    // aborts it as any other would.
    store.write([](auto& tx) {
        const auto first = tx.template query<std::int64_t>("SELECT txid_current()");
        CHECK(tx.template query<std::int64_t>("SELECT txid_current()") == first);
    });
    CHECK_THROWS_WITH_AS(store.write([](auto& tx) { CHECK_THROWS_AS(tx.execute("SELECT * FROM no_such_table"), schema_error); }),
                         doctest::Contains("[SELECT * FROM no_such_table]"), transaction_aborted);
    // A transaction that runs nothing sends nothing; the connection goes back to the pool idle,
    // and raw use of it (tx.connection()) finds the transaction begun.
    store.write([](auto&) {});
    store.read([](auto&) {});
    store.write([](auto& tx) { CHECK(PQtransactionStatus(tx.connection().handle()) == PQTRANS_INTRANS); });
    CHECK(store.read([](auto& tx) { return PQtransactionStatus(tx.connection().handle()); }) == PQTRANS_INTRANS);
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT 1"); }) == std::vector<int>{1});
}

TEST_CASE("read(single_statement): BEGIN, the statement and COMMIT in one round trip, and nothing left open") {
    Config config = pg_config();
    config.pool.min_connections = 1;
    config.pool.max_connections = 1;
    std::vector<std::string> warnings;
    config.on_event = [&](const Event& e) {
        if (e.kind == Event::Kind::warning) warnings.push_back(e.message);
    };
    PgStore store(config);
    const auto pid = store.read([](auto& tx) { return tx.template query<int>("SELECT pg_backend_pid()")[0]; });
    postgres::Connection admin(test::pg_server().conninfo());
    const auto state = [&] {
        return admin.query<std::string>("SELECT state FROM pg_stat_activity WHERE pid = $1", pid).at(0);
    };
    CHECK(store.read(single_statement, [](auto& tx) { return tx.template query<int>("SELECT 41 + 1")[0]; }) == 42);
    CHECK(state() == "idle"); // committed, not "idle in transaction"
    // The function may still throw after its statement: the read is over either way.
    CHECK_THROWS_AS(store.read(single_statement, [](auto& tx) {
        tx.template query<int>("SELECT 1");
        throw std::runtime_error("after the statement");
    }), std::runtime_error);
    CHECK(state() == "idle");
    // A failing statement: its error; the transaction it aborted is rolled back.
    CHECK_THROWS_AS(store.read(single_statement, [](auto& tx) { tx.template query<int>("SELECT 1 / 0"); }), data_error);
    CHECK(state() == "idle");
    // Raw use of the connection sends BEGIN on its own; COMMIT then follows the function.
    CHECK(store.read(single_statement, [](auto& tx) { return PQtransactionStatus(tx.connection().handle()); }) ==
          PQTRANS_INTRANS);
    CHECK(state() == "idle");
    CHECK(store.read(single_statement, [](auto& tx) { return tx.template query<int>("SELECT pg_backend_pid()")[0]; }) == pid);
    CHECK(warnings.empty()); // no COMMIT or ROLLBACK sent outside a transaction
}

TEST_CASE("first statements sent with their BEGIN: prepared or not, evicting others, failing, on one connection throughout") {
    for (const std::size_t capacity : {0, 1, 64}) {
        CAPTURE(capacity);
        Config config = pg_config();
        config.pool.min_connections = 1;
        config.pool.max_connections = 1;
        config.statement_cache_capacity = capacity;
        PgStore store(config);
        const auto pid = store.read([](auto& tx) { return tx.template query<int>("SELECT pg_backend_pid()")[0]; });
        for (int round = 0; round < 3; ++round) {
            CHECK(store.read([&](auto& tx) { return tx.template query<int>("SELECT $1::int + 1", round)[0]; }) == round + 1);
            CHECK(store.read([&](auto& tx) { return tx.template query<int>("SELECT $1::int * 10", round)[0]; }) == round * 10);
            // A first statement the server cannot prepare, then one it cannot run: each is the
            // error it is, the transaction is not committed, and the connection stays.
            CHECK_THROWS_WITH_AS(store.read([](auto& tx) { tx.template query<int>("SELEC 1"); }),
                                 doctest::Contains("syntax error"), schema_error);
            CHECK_THROWS_WITH_AS(store.read([](auto& tx) { tx.template query<int>("SELECT 1 / $1::int", 0); }),
                                 doctest::Contains("division by zero"), data_error);
            // Two statements where the extended protocol takes one (hostile SQL text): refused.
            CHECK_THROWS_WITH_AS(store.write([](auto& tx) { tx.execute("DELETE FROM relay_none; SELECT $1::int", 1); }),
                                 doctest::Contains("cannot insert multiple commands into a prepared statement"),
                                 schema_error);
        }
        CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT pg_backend_pid()")[0]; }) == pid);
        CHECK(store.read([](auto& tx) { return tx.connection().cached_statements(); }) <= capacity);
    }
}

TEST_CASE("COPY FROM STDIN is refused and COPY TO STDOUT drained, first or later in a transaction, within the deadline") {
    PgStore store(pg_config());
    store.write([](auto& tx) {
        tx.execute_script("DROP TABLE IF EXISTS copied; CREATE TABLE copied (v INT, padding TEXT)");
        tx.execute("INSERT INTO copied SELECT g, repeat('x', 100) FROM generate_series(1, 50000) AS g");
    });
    for (const bool first : {true, false}) {
        CAPTURE(first);
        // persist sends no COPY data: the server is told the COPY failed, and rolls it back.
        const auto message = test::message_of<transaction_aborted>([&] {
            store.write([&](auto& tx) {
                if (!first) tx.execute("DELETE FROM copied WHERE v = 1");
                CHECK(test::message_of<usage_error>([&] { tx.execute("COPY copied FROM STDIN"); }) ==
                      "persist does not run COPY ... FROM STDIN (it sends no COPY data), so the server rolled it back "
                      "[COPY copied FROM STDIN]; insert the rows with tx.execute(), many in one write, or load them "
                      "with psql's \\copy");
            });
        });
        CHECK(message.find("[COPY copied FROM STDIN]") != std::string::npos);
        // The rows of a COPY TO STDOUT (5 MB here, more than a socket holds) are read and dropped.
        CHECK(store.write([&](auto& tx) {
            if (!first) tx.execute("DELETE FROM copied WHERE v = 1");
            return tx.execute("COPY copied TO STDOUT");
        }) == (first ? 50000 : 49999));
    }
    CHECK(store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM copied")[0]; }) == 49999);
}

TEST_CASE("a connection the server ended after the pool checked it: the first statement and its BEGIN go to a new one") {
    Config config = pg_config();
    config.pool.min_connections = 1;
    config.pool.max_connections = 1;
    PgStore store(config);
    store.write([](auto& tx) { tx.execute_script("DROP TABLE IF EXISTS relay; CREATE TABLE relay (v INT)"); });
    postgres::Connection admin(test::pg_server().conninfo());
    for (const bool savepoint_first : {false, true}) {
        const auto pid = store.read([](auto& tx) { return tx.template query<int>("SELECT pg_backend_pid()")[0]; });
        int attempts = 0;
        store.write([&](auto& tx) {
            ++attempts;
            // The only pooled connection, checked when this write took it, dies before any
            // statement of the transaction was sent.
            admin.run("SELECT pg_terminate_backend($1, 5000)", pid);
            if (savepoint_first) tx.savepoint([&] { tx.execute("INSERT INTO relay VALUES (2)"); });
            else tx.execute("INSERT INTO relay VALUES (1)");
            CHECK(tx.template query<int>("SELECT pg_backend_pid()")[0] != pid);
        });
        CHECK(attempts == 1);
    }
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT v FROM relay ORDER BY v"); }) == std::vector<int>{1, 2});
}

TEST_CASE("a deadlock between two writers is retried by Store, and both commit") {
    PgStore store(pg_config());
    store.write([](auto& tx) {
        tx.execute_script("DROP TABLE IF EXISTS pair; CREATE TABLE pair (id INT PRIMARY KEY, v INT); INSERT INTO pair VALUES (1, 0), (2, 0)");
    });
    std::mutex mutex;
    std::vector<std::string> retries;
    Config config = pg_config();
    config.on_event = [&](const Event& e) {
        std::lock_guard lock(mutex);
        if (e.kind == Event::Kind::retry) retries.push_back(e.message);
    };
    PgStore a(config), b(config);
    std::atomic<int> ready{0};
    auto cross = [&](PgStore& s, int first, int second) {
        int attempt = 0;
        s.write([&](auto& tx) {
            tx.execute("SET LOCAL deadlock_timeout = 50");
            tx.execute("UPDATE pair SET v = v + 1 WHERE id = $1", first);
            if (attempt++ == 0) { // only the first attempt waits for the other, to make the cycle
                ++ready;
                CHECK(test::wait_for([&] { return ready.load() >= 2; }));
            }
            tx.execute("UPDATE pair SET v = v + 1 WHERE id = $1", second);
        });
    };
    std::thread one([&] { cross(a, 1, 2); });
    std::thread two([&] { cross(b, 2, 1); });
    one.join();
    two.join();
    // The server cancels one transaction of the cycle; Store runs it again. The retry may
    // itself deadlock: it can update the first row (whose updater just aborted) before the
    // surviving writer, woken but not yet scheduled, gets to it. So at least one retry, each
    // for a deadlock, and each transaction applied exactly once.
    CHECK_FALSE(retries.empty());
    for (const auto& message : retries) CHECK_MESSAGE(message.find("deadlock detected") != std::string::npos, message);
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT v FROM pair ORDER BY id"); }) == std::vector<int>{2, 2});
}

TEST_CASE("a connection lost when COMMIT is sent is reported as outcome unknown, and not run again") {
    PgStore store(pg_config());
    store.write([](auto& tx) { tx.execute_script("DROP TABLE IF EXISTS outcome; CREATE TABLE outcome (v INT)"); });
    postgres::Connection admin(test::pg_server().conninfo());
    int attempts = 0;
    CHECK_THROWS_WITH_AS(store.write([&](auto& tx) {
        ++attempts;
        tx.execute("INSERT INTO outcome VALUES (1)");
        const int pid = tx.template query<int>("SELECT pg_backend_pid()")[0];
        // Ends this transaction's session and waits until it is gone: the next thing sent is COMMIT.
        admin.run("SELECT pg_terminate_backend($1, 5000)", pid);
    }), doctest::Contains("may or may not be committed"), postgres::commit_outcome_unknown);
    CHECK(attempts == 1);
    // Here the server had ended the session first, so nothing was committed; the pool heals.
    CHECK(store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM outcome")[0]; }) == 0);
}

TEST_CASE("statement_timeout and lock_timeout from Config apply to every pooled session") {
    Config config = pg_config();
    config.statement_timeout = std::chrono::milliseconds(100);
    config.lock_timeout = std::chrono::milliseconds(50);
    PgStore store(config);
    CHECK_THROWS_WITH_AS(store.read([](auto& tx) { tx.template query<std::string>("SELECT pg_sleep(1)::text"); }),
                         doctest::Contains("SQLSTATE 57014"), statement_timeout_error);
    store.write([](auto& tx) { tx.execute_script("DROP TABLE IF EXISTS held; CREATE TABLE held (id INT PRIMARY KEY); INSERT INTO held VALUES (1)"); });
    postgres::Connection other(test::pg_server().conninfo());
    other.execute("BEGIN");
    other.execute("SELECT * FROM held FOR UPDATE");
    CHECK_THROWS_WITH_AS(store.write([](auto& tx) { tx.execute("UPDATE held SET id = 2 WHERE id = 1"); }),
                         doctest::Contains("SQLSTATE 55P03"), lock_timeout_error);
    other.execute("ROLLBACK");
    CHECK(store.write([](auto& tx) { return tx.execute("UPDATE held SET id = 2 WHERE id = 1"); }) == 1);
}

TEST_CASE("a connection terminated in the middle of a transaction: reported, nothing applied, the pool heals") {
    PgStore store(pg_config());
    store.write([](auto& tx) { tx.execute_script("DROP TABLE IF EXISTS midway; CREATE TABLE midway (v INT)"); });
    postgres::Connection admin(test::pg_server().conninfo());
    int attempts = 0;
    CHECK_THROWS_AS(store.write([&](auto& tx) {
        ++attempts;
        tx.execute("INSERT INTO midway VALUES (1)");
        admin.run("SELECT pg_terminate_backend($1, 5000)", tx.connection().backend_pid());
        tx.execute("INSERT INTO midway VALUES (2)");
    }), connection_error);
    CHECK(attempts == 1);
    // The server rolled the transaction back with its session; the next write gets a new
    // connection and applies exactly once.
    store.write([](auto& tx) { tx.execute("INSERT INTO midway VALUES (3)"); });
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT v FROM midway"); }) == std::vector<int>{3});
}

TEST_CASE("pool: min_connections open at start, max_connections bound, acquire_timeout is busy_error") {
    Config config = pg_config();
    config.pool.min_connections = 2;
    config.pool.max_connections = 2;
    config.pool.acquire_timeout = std::chrono::milliseconds(150);
    PgStore store(config);
    CHECK(store.backend().open_connections() == 2);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    auto first = store.backend().write_session(deadline);
    auto second = store.backend().read_session(deadline);
    const auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH_AS(store.backend().read_session(deadline), doctest::Contains("all 2 connections to postgres"),
                         busy_error);
    CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(150));
    CHECK(store.backend().open_connections() == 2);
}

TEST_CASE("pool sizes that cannot work are config_error saying what to change") {
    Config config = pg_config();
    config.pool.min_connections = 0;
    CHECK_THROWS_WITH_AS(PgStore{config}, doctest::Contains("pool.min_connections is 0"), config_error);
    config.pool.min_connections = 3;
    config.pool.max_connections = 2;
    CHECK_THROWS_WITH_AS(PgStore{config}, doctest::Contains("raise pool.max_connections"), config_error);
    config.pool.min_connections = 1;
    config.pool.reconnect_backoff = std::chrono::milliseconds(0);
    CHECK_THROWS_WITH_AS(PgStore{config}, doctest::Contains("pool.reconnect_backoff must be positive"), config_error);
}

TEST_CASE("reconnecting backs off while the server refuses, and recovers when it accepts again") {
    postgres::Connection admin(test::pg_server().conninfo());
    admin.execute_script("DROP DATABASE IF EXISTS backoff");
    admin.execute_script("CREATE DATABASE backoff");
    Config config = pg_config();
    config.db_url = test::pg_server().conninfo("backoff");
    config.pool.acquire_timeout = std::chrono::milliseconds(400);
    config.pool.reconnect_backoff = std::chrono::milliseconds(20);
    config.pool.reconnect_backoff_max = std::chrono::milliseconds(100);
    std::mutex mutex;
    std::vector<std::string> retries;
    config.on_event = [&](const Event& e) {
        std::lock_guard lock(mutex);
        if (e.kind == Event::Kind::retry) retries.push_back(e.message);
    };
    PgStore store(config);
    admin.execute_script("ALTER DATABASE backoff ALLOW_CONNECTIONS false");
    admin.execute_script("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = 'backoff'");
    CHECK_THROWS_WITH_AS(store.read([](auto& tx) { tx.template query<int>("SELECT 1"); }),
                         doctest::Contains("cannot reconnect to postgres"), connection_error);
    {
        std::lock_guard lock(mutex);
        // Each failure announces its pause: doubling from 20 ms, capped at 100 ms. How many
        // fit in the 400 ms depends on how fast the refusals come; the pauses alone make it
        // at most 6 (0, 20, 60, 140, 240, 340 ms), so never a busy loop.
        REQUIRE(retries.size() >= 2);
        CHECK(retries.size() <= 6);
        const std::vector<std::string> pauses{" in 20 ms:", " in 40 ms:", " in 80 ms:", " in 100 ms:", " in 100 ms:", " in 100 ms:"};
        for (std::size_t i = 0; i < retries.size(); ++i) {
            CHECK_MESSAGE(retries[i].find(pauses[i]) != std::string::npos, retries[i]);
            CHECK(retries[i].find("reconnecting to postgres") != std::string::npos);
            // The server's refusal; only the last attempt may instead be cut short by the deadline.
            const bool refused = retries[i].find("not currently accepting connections") != std::string::npos;
            const bool cut = i + 1 == retries.size() && retries[i].find("no answer before the deadline") != std::string::npos;
            CHECK_MESSAGE((refused || cut), retries[i]);
        }
    }
    // The next read waits out what is left of the last pause (at most 100 ms) within its 400 ms.
    admin.execute_script("ALTER DATABASE backoff ALLOW_CONNECTIONS true");
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT 1"); }) == std::vector<int>{1});
}

namespace {
// Two doctors on call; each, in its own transaction, goes off call if the other is still on.
// Returns how many stay on call.
std::int64_t write_skew(Isolation isolation, int* retries) {
    Config config = pg_config();
    config.on_event = [retries](const Event& e) {
        if (e.kind == Event::Kind::retry) ++*retries;
    };
    PgStore store(config);
    store.write([](auto& tx) {
        tx.execute_script("DROP TABLE IF EXISTS doctors; CREATE TABLE doctors (id INT PRIMARY KEY, on_call BOOLEAN NOT NULL);"
                          "INSERT INTO doctors VALUES (1, true), (2, true)");
    });
    std::atomic<int> counted{0};
    auto go_off_call = [&](int id) {
        int attempt = 0;
        store.write(isolation, [&](auto& tx) {
            const auto on_call = *tx.template query_one<std::int64_t>("SELECT count(*) FROM doctors WHERE on_call");
            if (attempt++ == 0) { // both count before either writes
                ++counted;
                CHECK(test::wait_for([&] { return counted.load() >= 2; }));
            }
            if (on_call >= 2) tx.execute("UPDATE doctors SET on_call = false WHERE id = $1", id);
        });
    };
    std::thread one([&] { go_off_call(1); });
    std::thread two([&] { go_off_call(2); });
    one.join();
    two.join();
    return store.read([](auto& tx) { return *tx.template query_one<std::int64_t>("SELECT count(*) FROM doctors WHERE on_call"); });
}
} // namespace

TEST_CASE("serializable on request: a write-skew conflict is retried and the invariant holds") {
    int retries = 0;
    // READ COMMITTED lets both go: nobody is left on call. This is what the request changes.
    CHECK(write_skew(Isolation::read_committed, &retries) == 0);
    CHECK(retries == 0);
    CHECK(write_skew(Isolation::serializable, &retries) == 1);
    CHECK(retries >= 1);
}

TEST_CASE("prepared statements: cached per connection, evicted beyond capacity, re-prepared after DDL") {
    postgres::Connection connection(test::pg_server().conninfo(), 2);
    connection.execute_script("DROP TABLE IF EXISTS shapes; CREATE TABLE shapes (a INT); INSERT INTO shapes VALUES (7)");
    CHECK(connection.query<int>("SELECT a FROM shapes WHERE a = $1", 7) == std::vector<int>{7});
    CHECK(connection.cached_statements() == 1);
    connection.query<int>("SELECT a FROM shapes WHERE a = $1", 7);
    CHECK(connection.cached_statements() == 1);
    connection.query<int>("SELECT a + 1 FROM shapes");
    connection.query<int>("SELECT a + 2 FROM shapes");
    CHECK(connection.cached_statements() == 2);
    const auto before = connection.query<std::int64_t>("SELECT count(*) FROM pg_prepared_statements");
    CHECK(before == std::vector<std::int64_t>{2}); // the evicted one was deallocated on the server
    connection.query<std::string>("SELECT * FROM shapes");
    connection.execute_script("ALTER TABLE shapes ALTER COLUMN a TYPE TEXT");
    CHECK_THROWS_WITH(connection.query<std::string>("SELECT * FROM shapes"), doctest::Contains("cached plan"));
    CHECK(connection.query<std::string>("SELECT * FROM shapes") == std::vector<std::string>{"7"});
}

TEST_CASE("an advisory lock whose session ends is reported as lost when with_lock returns") {
    Config config = pg_config();
    Store<postgres::Backend, postgres::AdvisoryLock> store(config);
    postgres::Connection admin(test::pg_server().conninfo());
    CHECK_THROWS_WITH_AS(store.with_lock("lost-one", [&] {
        const auto holder = store.lock_status("lost-one").holder;
        REQUIRE(holder.has_value());
        CHECK(holder->pid == ::getpid());
        // The server session that holds it, as force_unlock's advice finds it.
        admin.run("SELECT pg_terminate_backend(backend_pid, 5000) FROM persist_lock_holders WHERE pid = $1 AND key = $2",
                  static_cast<std::int64_t>(::getpid()), postgres::AdvisoryLock::key("lost-one"));
    }), doctest::Contains("lock 'lost-one' was lost"), postgres::lock_lost_error);
    // The next acquisition opens a new session.
    CHECK(store.with_lock("lost-one", [] { return 5; }) == 5);
    CHECK(store.with_lock("lost-one", [&] { return store.lock_status("lost-one").held; }));
}

TEST_CASE("a transaction that keeps failing to serialize is busy_error at busy_timeout, with PostgreSQL's advice") {
    Config config = pg_config();
    config.busy_timeout = std::chrono::milliseconds(200);
    PgStore store(config);
    int attempts = 0;
    try {
        store.write([&](auto& tx) {
            ++attempts;
            tx.execute_script("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$");
        });
        FAIL("expected busy_error");
    } catch (const busy_error& e) {
        const std::string message = e.what();
        CHECK(message.find("stayed busy for") != std::string::npos);
        CHECK(message.find("SQLSTATE 40001") != std::string::npos);
        CHECK(message.find("find them in pg_stat_activity and pg_locks") != std::string::npos);
    }
    CHECK(attempts > 1);
}

TEST_CASE("a SQLite setting on a PostgreSQL Store is a config_error naming it") {
    Config config = pg_config();
    config.durability = Durability::full;
    CHECK_THROWS_WITH_AS(PgStore{config},
                         "Config::durability is set, but this Store (backend postgres, lock policy in-process) never reads "
                         "it; it is a setting of sqlite::Backend. Remove it, or choose the backend or lock policy it belongs to",
                         config_error);
    config.durability = Durability::normal;
    // PostgreSQL groups concurrent commits itself (commit_delay); persist's group commit is SQLite's.
    config.group_commit = false;
    CHECK_THROWS_WITH_AS(PgStore{config},
                         "Config::group_commit is set, but this Store (backend postgres, lock policy in-process) never "
                         "reads it; it is a setting of sqlite::Backend. Remove it, or choose the backend or lock policy it "
                         "belongs to",
                         config_error);
    config.group_commit = true;
    config.pool.max_connections = 3;
    config.statement_timeout = std::chrono::seconds(5);
    CHECK_NOTHROW(PgStore{config});
}
