// Maintenance jobs (persist/maintenance.hpp): the scheduler, its record in persist_jobs, one
// run at a time across Stores, and the jobs persist ships: health, retention, expiry, WAL
// checkpoint and backups. Run over both backends where the behaviour is shared.
#include "backends.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/maintenance.hpp>
#include <persist/postgres/maintenance_jobs.hpp>
#include <persist/schema.hpp>
#include <persist/schema/maintenance_jobs.hpp>
#include <persist/schema/partitions.hpp>
#include <persist/sqlite/maintenance_jobs.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

using namespace persist;
using namespace persist::schema;

namespace {

using Time = std::chrono::system_clock::time_point;

struct Log {
    std::int64_t id;
    std::string text;
    Time at;
};
using Logs = Table<"logs", Column<&Log::id, "id", primary_key>, Column<&Log::text, "text">, Column<&Log::at, "at">>;

struct Instance {
    std::int64_t id;
    std::string status;
    std::optional<Time> expires_at;
};
using Instances = Table<"instances", Column<&Instance::id, "id", primary_key>, Column<&Instance::status, "status">,
                        Column<&Instance::expires_at, "expires_at">>;

struct Reading {
    std::int64_t id;
    Time at;
    std::string text;
};
using Readings = Table<"readings", Column<&Reading::id, "id", primary_key>, Column<&Reading::at, "at", primary_key>,
                       Column<&Reading::text, "text">, monthly_partitions<&Reading::at>,
                       Index<"readings_by_text", on<&Reading::text>>>;

Time day(int year, unsigned month, unsigned d) {
    return std::chrono::sys_days{std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{d}};
}

template <class Fixture>
using StoreOf = Store<typename Fixture::backend, typename Fixture::process_lock>;

/// Events of a Store, kept for the test to read.
struct Events {
    std::mutex mutex;
    std::vector<Event> seen;
    EventCallback callback() {
        return [this](const Event& event) {
            std::lock_guard lock(mutex);
            seen.push_back(event);
        };
    }
    bool any(Event::Kind kind, const std::string& start) {
        std::lock_guard lock(mutex);
        for (const auto& event : seen)
            if (event.kind == kind && event.message.rfind(start, 0) == 0) return true;
        return false;
    }
};

template <class Fixture>
Config with_events(const Fixture& fixture, Events& events) {
    Config config = fixture.config();
    config.on_event = events.callback();
    return config;
}

template <class Fixture>
std::optional<std::string> outcome(StoreOf<Fixture>& store, const std::string& job) {
    using D = typename Fixture::backend::dialect;
    return store.read([&](auto& tx) {
        return tx.template query_one<std::optional<std::string>>(
                     "SELECT last_outcome FROM persist_jobs WHERE name = " + D::placeholder(1), job)
            .value_or(std::nullopt);
    });
}

} // namespace

TEST_CASE_TEMPLATE("run_now runs a job under its lock and records it; no Store finds it due again within its interval",
                   Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    Events events;
    StoreOf<Fixture> store(with_events(fixture, events)), other(fixture.config());
    Maintenance maintenance(store), elsewhere(other);
    int runs = 0;
    maintenance.add("count", std::chrono::hours(1), [&](auto&) {
        ++runs;
        return std::string("counted");
    });
    elsewhere.add("count", std::chrono::hours(1), [&](auto&) { return std::string("never"); });
    CHECK(maintenance.due("count"));
    CHECK(elsewhere.due("count"));
    CHECK(maintenance.run_now("count") == "counted");
    CHECK(runs == 1);
    CHECK_FALSE(maintenance.due("count"));
    CHECK_FALSE(elsewhere.due("count")); // the record is in the database, not in the process
    CHECK(outcome<Fixture>(store, "count") == "ok: counted");
    CHECK(events.any(Event::Kind::info, "maintenance job 'count': counted ("));

    maintenance.add("short", std::chrono::milliseconds(50), [](auto&) { return std::string("done"); });
    maintenance.run_now("short");
    CHECK(test::wait_for([&] { return maintenance.due("short"); }, std::chrono::seconds(30)));
}

TEST_CASE_TEMPLATE("the scheduler runs due jobs, reports a failing one, and runs it again", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    Events events;
    StoreOf<Fixture> store(with_events(fixture, events));
    Maintenance maintenance(store);
    std::atomic<int> ticks{0}, failures{0};
    maintenance.add("tick", std::chrono::milliseconds(20), [&](auto&) {
        ++ticks;
        return std::string("tick");
    });
    maintenance.add("broken", std::chrono::milliseconds(20), [&](auto&) -> std::string {
        ++failures;
        throw io_error("disk on fire");
    });
    maintenance.start();
    CHECK(test::message_of<usage_error>([&] { maintenance.add("late", std::chrono::seconds(1), [](auto&) { return std::string(); }); }) ==
          "Maintenance::add(\"late\"): add every job before start()");
    CHECK(test::wait_for([&] { return ticks >= 3 && failures >= 2; }, std::chrono::seconds(60)));
    maintenance.stop();
    CHECK(events.any(Event::Kind::warning, "maintenance job 'broken' failed after "));
    CHECK(outcome<Fixture>(store, "broken") == "failed: disk on fire");
}

TEST_CASE_TEMPLATE("two Stores' schedulers never run one job at the same time", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> a(fixture.config()), b(fixture.config());
    std::atomic<int> inside{0}, runs{0};
    std::atomic<bool> overlapped{false};
    auto job = [&](auto& store) {
        if (inside.fetch_add(1) != 0) overlapped = true;
        store.read([](auto& tx) { return tx.template query_one<std::int64_t>("SELECT 1"); }); // some work
        std::this_thread::sleep_for(std::chrono::milliseconds(5));                            // and some time
        inside.fetch_sub(1);
        ++runs;
        return std::string("ran");
    };
    Maintenance first(a), second(b);
    first.add("exclusive", std::chrono::milliseconds(10), job);
    second.add("exclusive", std::chrono::milliseconds(10), job);
    first.start();
    second.start();
    CHECK(test::wait_for([&] { return runs >= 10; }, std::chrono::seconds(60)));
    first.stop();
    second.stop();
    CHECK_FALSE(overlapped);
}

TEST_CASE_TEMPLATE("retention deletes rows older than the age in batches, and only those", Fixture, BOTH_BACKENDS) {
    using D = typename Fixture::backend::dialect;
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    const auto now = std::chrono::system_clock::now();
    store.write([&](auto& tx) {
        tx.execute_script(Schema<Logs>::template create_script<D>());
        for (int i = 0; i < 7; ++i) insert<Logs>(tx, Log{i, "old", now - std::chrono::hours(24 * 40 + i)});
        for (int i = 7; i < 10; ++i) insert<Logs>(tx, Log{i, "new", now - std::chrono::hours(i)});
    });
    Maintenance maintenance(store);
    maintenance.add("logs", std::chrono::hours(1), schema::jobs::retention<Logs, &Log::at>(std::chrono::hours(24 * 30), 2));
    CHECK(maintenance.run_now("logs") == "deleted 7 rows of logs older than 30 days");
    store.read([](auto& tx) {
        CHECK(count<Logs>(tx) == 3);
        CHECK(count<Logs>(tx, col<&Log::text> == "old") == 0);
    });
    maintenance.add("again", std::chrono::hours(1), schema::jobs::retention<Logs, &Log::at>(std::chrono::hours(1)));
    CHECK(maintenance.run_now("again") == "deleted 3 rows of logs older than 1 hour"); // 7, 8 and 9 hours old
    CHECK(test::message_of<usage_error>([] { schema::jobs::retention<Logs, &Log::at>(std::chrono::hours(1), 0); }) ==
          "retention: the batch size must be at least 1");
    CHECK(test::message_of<usage_error>([] { schema::jobs::retention<Logs, &Log::at>(std::chrono::seconds(0)); }) ==
          "retention: the age must be at least 1 s");
}

TEST_CASE_TEMPLATE("expiry updates rows past their deadline in batches and hands them over after each commit", Fixture,
                   BOTH_BACKENDS) {
    using D = typename Fixture::backend::dialect;
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    const auto now = std::chrono::system_clock::now();
    store.write([&](auto& tx) {
        tx.execute_script(Schema<Instances>::template create_script<D>());
        for (int i = 0; i < 5; ++i) insert<Instances>(tx, Instance{i, "running", now - std::chrono::minutes(i + 1)});
        insert<Instances>(tx, Instance{10, "running", now + std::chrono::hours(1)});
        insert<Instances>(tx, Instance{11, "stopped", now - std::chrono::hours(1)});
        insert<Instances>(tx, Instance{12, "running", std::nullopt});
    });
    std::vector<std::int64_t> handed;
    std::vector<std::size_t> batches;
    Maintenance maintenance(store);
    maintenance.add("expire", std::chrono::hours(1),
                    schema::jobs::expiry<Instances, &Instance::expires_at>(
                        set(col<&Instance::status>.to(std::string("expired"))), col<&Instance::status> == "running",
                        [&](const std::vector<Instance>& rows) {
                            batches.push_back(rows.size());
                            for (const auto& row : rows) {
                                CHECK(row.status == "expired");
                                handed.push_back(row.id);
                            }
                        },
                        2));
    CHECK(maintenance.run_now("expire") == "expired 5 rows of instances");
    std::sort(handed.begin(), handed.end());
    CHECK(handed == std::vector<std::int64_t>{0, 1, 2, 3, 4});
    CHECK(batches == std::vector<std::size_t>{2, 2, 1});
    store.read([](auto& tx) {
        CHECK(get<Instances>(tx, 10)->status == "running");
        CHECK(get<Instances>(tx, 11)->status == "stopped");
        CHECK(get<Instances>(tx, 12)->status == "running");
    });

    // A set that leaves rows matching still ends: at most the rows that matched at the start.
    store.write([&](auto& tx) { tx.execute("UPDATE instances SET status = 'running' WHERE id < 5"); });
    int handed_again = 0;
    maintenance.add("stuck", std::chrono::hours(1),
                    schema::jobs::expiry<Instances, &Instance::expires_at>(
                        set(col<&Instance::status>.to(std::string("running"))), col<&Instance::status> == "running",
                        [&](const std::vector<Instance>& rows) { handed_again += static_cast<int>(rows.size()); }, 2));
    CHECK(maintenance.run_now("stuck") == "expired 6 rows of instances");
    CHECK(handed_again == 6);
}

TEST_CASE("health, WAL checkpoint and backup jobs on SQLite") {
    test::SqliteBackend fixture;
    StoreOf<test::SqliteBackend> store(fixture.config());
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE t (v TEXT)");
        for (int i = 0; i < 2000; ++i) tx.execute("INSERT INTO t VALUES (?)", std::string(200, 'x'));
    });
    const std::string wal = fixture.config().db_path + "-wal";
    REQUIRE(std::filesystem::file_size(wal) > 400'000);
    Maintenance maintenance(store);
    maintenance.add("health", std::chrono::minutes(1), persist::jobs::health());
    maintenance.add("checkpoint", std::chrono::minutes(5), sqlite::jobs::checkpoint());
    sqlite::BackupOptions keep_one;
    keep_one.keep = 1;
    maintenance.add("backup", std::chrono::hours(24), sqlite::jobs::backup(fixture.dir / "backups/", keep_one));
    CHECK(maintenance.run_now("health") == "ok");
    const auto summary = maintenance.run_now("checkpoint");
    CHECK(summary.find(" frames checkpointed; -wal emptied") != std::string::npos);
    // Emptied, then the job's outcome was recorded: a frame or two. SQLite keeps the file at its
    // largest otherwise (journal_size_limit is 64 MiB).
    CHECK(std::filesystem::file_size(wal) < 16'384);
    CHECK(store.read([](auto& tx) { return tx.template query_one<std::int64_t>("SELECT count(*) FROM t"); }) == 2000);
    CHECK(maintenance.run_now("backup").rfind("backup " + (fixture.dir / "backups/"), 0) == 0);
    CHECK(maintenance.run_now("backup").find("(1 older removed)") != std::string::npos);
}

TEST_CASE("a backup job on PostgreSQL") {
    test::PostgresBackend fixture;
    StoreOf<test::PostgresBackend> store(fixture.config());
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v TEXT)"); });
    Maintenance maintenance(store);
    postgres::BackupOptions keep_one;
    keep_one.keep = 1;
    maintenance.add("backup", std::chrono::hours(24), postgres::jobs::backup(fixture.dir / "dumps", keep_one));
    std::filesystem::create_directories(fixture.dir / "dumps");
    CHECK(maintenance.run_now("backup").rfind("backup " + (fixture.dir / "dumps") + "/", 0) == 0);
    CHECK(maintenance.run_now("backup").find("(1 older removed)") != std::string::npos);
}

TEST_CASE("maintenance refuses what it cannot do, saying why") {
    test::SqliteBackend fixture;
    {
        StoreOf<test::SqliteBackend> create(fixture.config());
    }
    Config read_only = fixture.config();
    read_only.read_only = true;
    StoreOf<test::SqliteBackend> inspector(read_only);
    CHECK(test::message_of<usage_error>([&] { Maintenance maintenance(inspector); }) ==
          "maintenance jobs record their runs in the database; open the Store read-write");

    StoreOf<test::SqliteBackend> store(fixture.config());
    Config memory_config = fixture.config();
    memory_config.db_path = ":memory:";
    StoreOf<test::SqliteBackend> memory(memory_config);
    CHECK(test::message_of<usage_error>([&] { memory.backend().checkpoint(std::chrono::steady_clock::now()); }) ==
          "checkpoint() needs a database file opened for writing");
    CHECK(test::message_of<usage_error>([] { schema::jobs::expiry<Instances, &Instance::expires_at>(
                                                 set(col<&Instance::status>.to(std::string("x"))), all_rows(),
                                                 [](const std::vector<Instance>&) {}, 0); }) ==
          "expiry: the batch size must be at least 1");
    Maintenance maintenance(store);
    auto nothing = [](auto&) { return std::string(); };
    CHECK(test::message_of<usage_error>([&] { maintenance.add("bad name", std::chrono::seconds(1), nothing); }) ==
          "lock name \"bad name\" is not valid; use 1-64 characters from A-Z, a-z, 0-9, '.', '_' and '-'");
    CHECK(test::message_of<usage_error>([&] { maintenance.add("fast", std::chrono::milliseconds(5), nothing); }) ==
          "maintenance job 'fast': the interval must be at least 10 ms");
    CHECK(test::message_of<usage_error>([&] { maintenance.add("never", std::chrono::milliseconds::max(), nothing); })
              .starts_with("maintenance job 'never': the interval is 9223372036854775807 ms; it must be 0 to 31536000000 ms"));
    maintenance.add("job", std::chrono::seconds(1), nothing);
    CHECK(test::message_of<usage_error>([&] { maintenance.add("job", std::chrono::seconds(1), nothing); }) ==
          "maintenance job 'job' is already added");
    CHECK(test::message_of<usage_error>([&] { maintenance.run_now("missing"); }) ==
          "there is no maintenance job 'missing'; add it first");
    CHECK(test::message_of<usage_error>([&] { maintenance.due("missing"); }) ==
          "there is no maintenance job 'missing'; add it first");
    maintenance.start();
    CHECK(test::message_of<usage_error>([&] { maintenance.start(); }) == "Maintenance::start(): already started");
}

TEST_CASE_TEMPLATE("monthly partitions: months created ahead, old ones dropped; SQLite deletes the same rows", Fixture,
                   BOTH_BACKENDS) {
    using D = typename Fixture::backend::dialect;
    constexpr bool partitioned = std::is_same_v<typename Fixture::backend, postgres::Backend>;
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.write([](auto& tx) { tx.execute_script(Schema<Readings>::template create_script<D>()); });
    Time now = day(2026, 3, 15);
    Maintenance maintenance(store);
    maintenance.add("partitions", std::chrono::hours(24), schema::jobs::partitions<Readings>(2, 2, 1000, [&] { return now; }));
    auto partitions = [&] {
        return store.read([](auto& tx) {
            return tx.template query<std::string>(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = "
                "'readings'::regclass ORDER BY 1");
        });
    };
    store.write([](auto& tx) {
        insert<Readings>(tx, Reading{1, day(2026, 3, 20), "march"});
        insert<Readings>(tx, Reading{2, day(2025, 12, 10), "december"});
        insert<Readings>(tx, Reading{3, day(2026, 5, 2), "may"});
        insert<Readings>(tx, Reading{4, day(2031, 1, 1), "far ahead"}); // no partition: kept by the default one
    });
    // Rows written before their month's partition exists wait in the default partition, and move.
    if constexpr (partitioned) {
        CHECK(partitions() == std::vector<std::string>{"readings_default"});
        // December 2025 is older than the two months kept before March: deleted.
        CHECK(maintenance.run_now("partitions") ==
              "created 3 and dropped 0 partitions of readings; deleted 1 row older than 2026-01-01 from readings_default");
        CHECK(partitions() == std::vector<std::string>{"readings_default", "readings_p202603", "readings_p202604",
                                                       "readings_p202605"});
        CHECK(maintenance.run_now("partitions") ==
              "created 0 and dropped 0 partitions of readings; deleted 0 rows older than 2026-01-01 from readings_default");
    } else {
        CHECK(maintenance.run_now("partitions") == "readings is a plain table on sqlite: deleted 1 row older than 2026-01-01");
    }
    store.read([&](auto& tx) {
        CHECK(get<Readings>(tx, 1, day(2026, 3, 20))->text == "march");
        CHECK(count<Readings>(tx) == 3);
        CHECK(verify<Schema<Readings>>(tx).empty());
        if constexpr (partitioned) {
            auto home = [&](std::int64_t id) {
                return *tx.template query_one<std::string>("SELECT tableoid::regclass::text FROM readings WHERE id = $1", id);
            };
            CHECK(home(1) == "readings_p202603"); // moved out of the default partition
            CHECK(home(3) == "readings_p202605");
            CHECK(home(4) == "readings_default");
        }
    });

    now = day(2026, 8, 15); // keep 2 months before August: drop what ends by June 1
    if constexpr (partitioned) {
        CHECK(maintenance.run_now("partitions") ==
              "created 3 and dropped 3 partitions of readings; deleted 0 rows older than 2026-06-01 from readings_default");
        CHECK(partitions() == std::vector<std::string>{"readings_default", "readings_p202608", "readings_p202609",
                                                       "readings_p202610"});
    } else {
        CHECK(maintenance.run_now("partitions") == "readings is a plain table on sqlite: deleted 2 rows older than 2026-06-01");
    }
    store.read([](auto& tx) {
        const auto rows = all<Readings>(tx);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].id == 4);
    });
    CHECK(test::message_of<usage_error>([] { schema::jobs::partitions<Readings>(25); }) ==
          "partitions: create 0 to 24 months ahead, not 25");
    CHECK(test::message_of<usage_error>([] { schema::jobs::partitions<Readings>(2, -1); }) ==
          "partitions: keep 0 to 1200 months, not -1");
    CHECK(test::message_of<usage_error>([] { schema::jobs::partitions<Readings>(2, 1, 0); }) ==
          "partitions: the batch size must be at least 1");
    CHECK(test::message_of<usage_error>([] { schema::jobs::partitions<Readings>(2, 1, 10, {}); }) ==
          "partitions: the clock is empty");
}
