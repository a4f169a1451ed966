// Store transactions, row reading and lease locks, each case over SQLite and PostgreSQL
// (TEST_CASE_TEMPLATE; shared_suite.hpp).
#include "shared_suite.hpp"

#include <thread>

using namespace persist;
using namespace persist::schema;
using namespace shared;

TEST_CASE_TEMPLATE("write commits and returns the function's value; read sees it", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)"); });
    const auto inserted = store.write([](auto& tx) {
        return tx.execute(sql_for<decltype(tx)>("INSERT INTO t (id, v) VALUES (?, ?)"), std::int64_t{1}, std::string("one"));
    });
    CHECK(inserted == 1);
    CHECK(store.write([](auto& tx) { return tx.execute(sql_for<decltype(tx)>("UPDATE t SET v = ?"), std::string("uno")); }) == 1);
    CHECK(store.read([](auto& tx) { return tx.template query_one<std::string>("SELECT v FROM t"); }) == "uno");
    // Committed: a second Store on the same database sees it.
    StoreOf<Fixture> other(fixture.config());
    CHECK(other.read([](auto& tx) { return tx.template query<std::string>("SELECT v FROM t"); }) ==
          std::vector<std::string>{"uno"});
}

TEST_CASE_TEMPLATE("std::nullopt, nullptr, a null const char* and an empty std::optional bind NULL", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE t (id BIGINT PRIMARY KEY, owner TEXT)"); });
    store.write([](auto& tx) {
        const auto insert = sql_for<decltype(tx)>("INSERT INTO t (id, owner) VALUES (?, ?)");
        tx.execute(insert, std::int64_t{1}, std::nullopt); // as in the README's tour
        tx.execute(insert, std::int64_t{2}, nullptr);
        tx.execute(insert, std::int64_t{3}, std::optional<std::string>());
        tx.execute(insert, std::int64_t{4}, std::optional<std::string>("ada"));
        const char* unset = nullptr; // as std::getenv gives it
        tx.execute(insert, std::int64_t{5}, unset);
        tx.execute(insert, std::int64_t{6}, persist::Many<const char*>{{unset}});
    });
    CHECK(count_of(store, "SELECT count(*) FROM t WHERE owner IS NULL") == 5);
    const auto owners = store.read([](auto& tx) {
        return tx.template query<std::optional<std::string>>("SELECT owner FROM t ORDER BY id");
    });
    CHECK(owners ==
          std::vector<std::optional<std::string>>{std::nullopt, std::nullopt, std::nullopt, "ada", std::nullopt, std::nullopt});
}

TEST_CASE_TEMPLATE("SQL text holding a NUL byte is refused before it runs: only the text before it would", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE t (id BIGINT); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)"); });
    const std::string cut("DELETE FROM t\0 WHERE id = 1", 28);
    const std::string message = "the SQL text holds a NUL byte at offset 13, where it would end, and only the text before "
                                "it would run [DELETE FROM t]; remove it";
    CHECK(test::message_of<usage_error>([&] { store.write([&](auto& tx) { tx.execute(cut); }); }) == message);
    CHECK(test::message_of<usage_error>([&] { store.write([&](auto& tx) { tx.execute_script(cut); }); })
              .find("the SQL text holds a NUL byte at offset 13") != std::string::npos);
    CHECK(test::message_of<usage_error>([&] {
              store.read([&](auto& tx) { return tx.template query<std::int64_t>(std::string("SELECT 1\0; DROP TABLE t", 23)); });
          }).starts_with("the SQL text holds a NUL byte at offset 8"));
    CHECK(count_of(store, "SELECT count(*) FROM t") == 2);
}

TEST_CASE_TEMPLATE("for_each visits rows one by one; one that throws leaves the transaction usable", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.write([](auto& tx) {
        tx.execute_script("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)");
        for (std::int64_t i = 1; i <= 100; ++i) tx.execute(sql_for<decltype(tx)>("INSERT INTO t VALUES (?, ?)"), i, std::string("v"));
    });
    struct Stop {};
    const auto summed = store.write([](auto& tx) {
        std::int64_t sum = 0;
        tx.for_each(persist::as<std::tuple<std::int64_t, std::string>>, "SELECT id, v FROM t ORDER BY id",
                    [&](std::tuple<std::int64_t, std::string> row) { sum += std::get<0>(row); });
        try {
            tx.for_each(persist::as<std::int64_t>, "SELECT id FROM t ORDER BY id", [](std::int64_t id) {
                if (id == 7) throw Stop{};
            });
        } catch (const Stop&) {
        }
        tx.execute("DELETE FROM t WHERE id > 50"); // the transaction goes on, and commits
        return sum;
    });
    CHECK(summed == 5050);
    CHECK(count_of(store, "SELECT count(*) FROM t") == 50);
}

TEST_CASE_TEMPLATE("an exception in the function rolls back and propagates unchanged", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE t (v BIGINT)"); });
    struct Custom {
        int value;
    };
    int attempts = 0;
    try {
        store.write([&](auto& tx) {
            ++attempts;
            tx.execute("INSERT INTO t VALUES (1)");
            throw Custom{42};
        });
        FAIL("no exception");
    } catch (const Custom& custom) {
        CHECK(custom.value == 42);
    }
    CHECK(attempts == 1); // an exception of the caller's is not retried
    CHECK(count_of(store, "SELECT count(*) FROM t") == 0);
    // The connection is usable again.
    store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (2)"); });
    CHECK(count_of(store, "SELECT count(*) FROM t") == 1);
}

TEST_CASE_TEMPLATE("query_row visits the first row only and says whether there was one", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema_with_two_users<Fixture>(store);
    store.read([](auto& tx) {
        using Tx = std::remove_cvref_t<decltype(tx)>;
        int visits = 0;
        std::string email;
        CHECK(tx.query_row("SELECT id, email FROM users ORDER BY id DESC", [&](const auto& row) {
            ++visits;
            CHECK(row.name(1) == "email");
            email = row.template get<std::string>(1);
        }));
        CHECK(visits == 1);
        CHECK(email == "b@x");
        CHECK_FALSE(tx.query_row(sql_for<Tx>("SELECT id FROM users WHERE id > ?"), [&](const auto&) { ++visits; },
                                 std::int64_t{5}));
        CHECK(visits == 1);
    });
    CHECK_THROWS_WITH_AS(store.read([](auto& tx) {
        tx.query_row(sql_for<std::remove_cvref_t<decltype(tx)>>("SELECT id FROM users WHERE id > ?"), [](const auto&) {});
    }), doctest::Contains("parameter"), usage_error);
    // It is one statement: a single-statement read may run it.
    CHECK(store.read(single_statement, [](auto& tx) { return tx.query_row("SELECT 1", [](const auto&) {}); }));
}

namespace {
struct Plain {
    std::int64_t id;
    std::string label;
};
using Plains = Table<"plains", Column<&Plain::id, "id", primary_key>, Column<&Plain::label, "label">>;
} // namespace

TEST_CASE_TEMPLATE("typed reads of a row that does not fit the descriptor name the column", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.write([](auto& tx) {
        tx.execute_script("CREATE TABLE plains (id BIGINT PRIMARY KEY, label TEXT)");
        tx.execute_script("INSERT INTO plains VALUES (1, NULL)");
    });
    store.read([](auto& tx) {
        CHECK_THROWS_WITH_AS(get<Plains>(tx, 1), doctest::Contains("column 2 (\"label\")"), schema_error);
        CHECK_THROWS_WITH_AS(all<Plains>(tx), doctest::Contains("column 2 (\"label\")"), schema_error);
    });
}

TEST_CASE_TEMPLATE("a value that does not fit its field names the column the same way on both backends", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.write([](auto& tx) {
        tx.execute_script("CREATE TABLE numbers (small BIGINT, label TEXT)");
        tx.execute_script("INSERT INTO numbers VALUES (5000000000, NULL)");
    });
    store.read([](auto& tx) {
        CHECK_THROWS_WITH_AS(tx.template query<std::int32_t>("SELECT small FROM numbers"),
                             doctest::Contains("column 1 (\"small\") holds"), schema_error);
        CHECK_THROWS_WITH_AS((tx.template query<std::tuple<std::int64_t, std::string>>("SELECT small, label FROM numbers")),
                             doctest::Contains("column 2 (\"label\")"), schema_error);
    });
}

// ---- locks

TEST_CASE_TEMPLATE("lease table: one holder at a time, a timeout names the holder, fences grow", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    auto config = fixture.config();
    config.lease_ttl = std::chrono::milliseconds(1000);
    typename Fixture::table_lock first(config), second(config);
    const auto soon = [] { return std::chrono::steady_clock::now() + std::chrono::milliseconds(150); };
    std::int64_t fence = 0;
    {
        auto held = first.acquire("jobs", lock::Request{lock::Mode::exclusive, soon(), "nightly job"});
        fence = held.fence();
        const auto status = second.status("jobs");
        REQUIRE(status.held);
        CHECK(status.holder->pid == ::getpid());
        CHECK(status.holder->purpose == "nightly job");
        try {
            second.acquire("jobs", lock::Request{lock::Mode::exclusive, soon(), "other"});
            FAIL("expected lock_timeout_error");
        } catch (const lock_timeout_error& e) {
            CHECK(std::string(e.what()).find("lock 'jobs' not granted within") != std::string::npos);
            CHECK(std::string(e.what()).find("nightly job") != std::string::npos);
        }
        // Renewal keeps the lease past its ttl.
        std::this_thread::sleep_for(std::chrono::milliseconds(1300));
        CHECK(second.status("jobs").held);
    }
    CHECK_FALSE(second.status("jobs").held);
    auto next = second.acquire("jobs", lock::Request{lock::Mode::exclusive, soon(), "other"});
    CHECK(next.fence() == fence + 1);
    second.force_unlock("jobs");
    CHECK_FALSE(first.status("jobs").held);
}

TEST_CASE_TEMPLATE("lease table: shared leases together, an exclusive one alone", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    auto config = fixture.config();
    typename Fixture::table_lock leases(config);
    const auto within = [](int ms) { return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms); };
    auto one = leases.acquire("cfg", lock::Request{lock::Mode::shared, within(1000), "reader one"});
    auto two = leases.acquire("cfg", lock::Request{lock::Mode::shared, within(1000), "reader two"});
    CHECK(one.fence() == 0);
    CHECK(leases.status("cfg").holder->mode == lock::Mode::shared);
    CHECK_THROWS_AS(leases.acquire("cfg", lock::Request{lock::Mode::exclusive, within(100), "writer"}), lock_timeout_error);
    one = {};
    CHECK_THROWS_AS(leases.acquire("cfg", lock::Request{lock::Mode::exclusive, within(100), "writer"}), lock_timeout_error);
    two = {};
    auto writer = leases.acquire("cfg", lock::Request{lock::Mode::exclusive, within(1000), "writer"});
    CHECK(writer.fence() >= 1);
    CHECK(leases.status("cfg").holder->mode == lock::Mode::exclusive);
    leases.force_unlock("cfg"); // ends shared and exclusive leases alike
    CHECK_FALSE(leases.status("cfg").held);
}

TEST_CASE_TEMPLATE("lease table: every holder's statistics are recorded in the database", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    auto config = fixture.config();
    const auto within = [](int ms) { return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms); };
    {
        typename Fixture::table_lock first(config);
        for (int i = 0; i < 3; ++i) first.acquire("stats-job", lock::Request{lock::Mode::exclusive, within(1000), "a"});
        auto held = first.acquire("stats-job", lock::Request{lock::Mode::exclusive, within(1000), "a"});
        typename Fixture::table_lock second(config);
        CHECK_THROWS_AS(second.acquire("stats-job", lock::Request{lock::Mode::exclusive, within(60), "b"}), lock_timeout_error);
        // recorded_stats() records the caller's own counters first; first's are not recorded yet.
        const auto partial = second.recorded_stats();
        REQUIRE(partial.count("stats-job") == 1);
        CHECK(partial.at("stats-job").timeouts == 1);
        CHECK(partial.at("stats-job").acquisitions == 0);
    } // each records the rest as it closes
    typename Fixture::table_lock reader(config);
    const auto recorded = reader.recorded_stats();
    REQUIRE(recorded.count("stats-job") == 1);
    const auto& job = recorded.at("stats-job");
    CHECK(job.acquisitions == 4);
    CHECK(job.contended == 0); // each was granted at its first attempt, however slow the database
    CHECK(job.timeouts == 1);
    CHECK(job.max_wait >= std::chrono::milliseconds(40)); // the refused request waited until its deadline
    CHECK(job.total_wait >= job.max_wait);
    CHECK(reader.stats().empty()); // this process's own counters: it took nothing

    // A grant after a refused attempt counts as contended. The waiter reports its wait (after
    // its first attempt failed) before the holder lets go.
    {
        std::atomic<bool> waiting{false};
        auto noticing = config;
        noticing.lock_wait_notice = std::chrono::milliseconds(1);
        noticing.on_event = [&](const Event& event) {
            if (event.kind == Event::Kind::wait) waiting = true;
        };
        typename Fixture::table_lock holder(config), waiter(noticing);
        auto held = holder.acquire("stats-wait", lock::Request{lock::Mode::exclusive, within(1000), "holder"});
        std::thread other([&] { waiter.acquire("stats-wait", lock::Request{lock::Mode::exclusive, within(60'000), "waiter"}); });
        CHECK(test::wait_for([&] { return waiting.load(); }, std::chrono::seconds(60)));
        held = {};
        other.join();
        CHECK(waiter.stats().at("stats-wait").contended == 1);
        CHECK(holder.stats().at("stats-wait").contended == 0);
    }

    // A holder that stays open records its counters with its renewals.
    config.lease_ttl = std::chrono::milliseconds(90);
    typename Fixture::table_lock running(config);
    running.acquire("stats-tick", lock::Request{lock::Mode::shared, within(1000), "tick"});
    CHECK(test::wait_for([&] {
        const auto now = reader.recorded_stats();
        return now.count("stats-tick") == 1 && now.at("stats-tick").acquisitions == 1;
    }, std::chrono::seconds(30)));
}

TEST_CASE_TEMPLATE("with_lock across Stores: the second waits, then runs", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    using LockedStore = Store<typename Fixture::backend, typename Fixture::process_lock>;
    LockedStore a(fixture.config()), b(fixture.config());
    std::atomic<bool> inside{false}, overlapped{false};
    auto body = [&] {
        if (inside.exchange(true)) overlapped = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        inside = false;
    };
    std::thread other([&] {
        for (int i = 0; i < 5; ++i) b.with_lock("shared-job", body);
    });
    for (int i = 0; i < 5; ++i) a.with_lock("shared-job", body);
    other.join();
    CHECK_FALSE(overlapped);
    CHECK_THROWS_AS(a.with_lock("bad name\n", [] {}), usage_error);
}

TEST_CASE("the README's copy from SQLite to PostgreSQL keeps keys, and new keys follow them") {
    test::SqliteBackend from_fixture;
    test::PostgresBackend to_fixture;
    StoreOf<test::SqliteBackend> from(from_fixture.config());
    StoreOf<test::PostgresBackend> to(to_fixture.config());
    create_schema<test::SqliteBackend>(from);
    create_schema<test::PostgresBackend>(to);
    from.write([](auto& tx) {
        for (const char* email : {"a@x", "b@x", "c@x"}) insert<Users>(tx, user(email));
        remove<Users>(tx, 2); // a gap the copy keeps
    });
    const auto rows = from.read([](auto& tx) { return all<Users>(tx); });
    to.write([&](auto& tx) {
        for (const auto& row : rows)
            tx.execute("INSERT INTO users (id, email, name, level, score, active, avatar) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                       row.id, row.email, row.name, static_cast<int>(row.level), row.score, row.active, row.avatar);
        tx.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), max(id)) FROM users");
    });
    CHECK(to.write([](auto& tx) { return insert<Users>(tx, user("d@x")); }) == 4);
    CHECK(to.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT id FROM users ORDER BY id"); }) ==
          std::vector<std::int64_t>{1, 3, 4});
}
