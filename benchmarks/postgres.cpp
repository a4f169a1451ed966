// PostgreSQL workloads: persist's postgres::Backend against raw libpq in the same run, on a
// throwaway PostgreSQL 15 server this program starts (tests/pg_server.hpp: unix socket,
// fsync=off, so commits measure the protocol and the server's work, not the disk).
//
//   insert/postgres/{libpq,persist}        N rows, one transaction, a prepared INSERT
//   get/postgres/{libpq,libpq_explicit,persist}
//                                          point selects: libpq autocommit (one round trip),
//                                          libpq with BEGIN READ ONLY / COMMIT around each
//                                          (what store.read() does), persist one read() each
//   get/postgres/persist_single_statement  one read(single_statement) each: BEGIN, the
//                                          statement and COMMIT in one round trip
//   get_batched/postgres/persist           the same lookups in one read()
//   commit/postgres/{libpq,libpq_explicit,persist}
//                                          single-row commits: autocommit INSERT, explicit
//                                          BEGIN / INSERT / COMMIT, store.write()
//   pool_32_threads/postgres/{libpq,persist}
//                                          32 threads committing single rows through 8
//                                          connections: a mutex-and-condition-variable pool
//                                          of raw connections, and one Store whose pool
//                                          holds at most 8
#include "common.hpp"
#include "items_table.hpp"
#include "pg_server.hpp"

#include <persist/lock/none.hpp>
#include <persist/postgres/backend.hpp>
#include <persist/schema/operations.hpp>
#include <persist/store.hpp>

#include <libpq-fe.h>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace {

using bench::Item;
using PgStore = persist::Store<persist::postgres::Backend, persist::lock::None>;

test::PgServer& server() {
    static test::PgServer instance;
    return instance;
}

constexpr const char* items_ddl = "DROP TABLE IF EXISTS items; CREATE TABLE items (id BIGINT NOT NULL PRIMARY KEY, "
                                  "name TEXT NOT NULL, price DOUBLE PRECISION NOT NULL, stock BIGINT NOT NULL)";

// A raw libpq connection with the session settings persist makes (UTC, ISO dates).
struct Raw {
    std::unique_ptr<PGconn, decltype(&PQfinish)> connection{PQconnectdb(server().conninfo().c_str()), &PQfinish};
    Raw() {
        if (PQstatus(connection.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(connection.get()));
        exec("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'");
    }
    void exec(const char* sql) {
        PGresult* result = PQexec(connection.get(), sql);
        const auto status = PQresultStatus(result);
        PQclear(result);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw std::runtime_error(PQerrorMessage(connection.get()));
    }
    void prepare(const char* name, const char* sql) {
        PGresult* result = PQprepare(connection.get(), name, sql, 0, nullptr);
        const auto status = PQresultStatus(result);
        PQclear(result);
        if (status != PGRES_COMMAND_OK) throw std::runtime_error(PQerrorMessage(connection.get()));
    }
    // Runs prepared statement `name` with text parameters; returns the result (caller clears).
    PGresult* run(const char* name, int count, const char* const* values) {
        PGresult* result = PQexecPrepared(connection.get(), name, count, values, nullptr, nullptr, 0);
        const auto status = PQresultStatus(result);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            PQclear(result);
            throw std::runtime_error(PQerrorMessage(connection.get()));
        }
        return result;
    }
};

persist::Config store_config() {
    persist::Config config = persist::Config::for_app("bench");
    config.db_url = server().conninfo();
    return config;
}

// The row as libpq's text parameters, formatted the way persist formats them.
struct TextRow {
    std::string id, price, stock;
    const char* values[4];
    explicit TextRow(const Item& item) : id(std::to_string(item.id)), stock(std::to_string(item.stock)) {
        char text[40];
        std::snprintf(text, sizeof text, "%.17g", item.price);
        price = text;
        values[0] = id.c_str();
        values[1] = item.name.c_str();
        values[2] = price.c_str();
        values[3] = stock.c_str(); // values[1] points at the caller's item.name
    }
};

// Inserts bench::row(id) with the prepared statement "insert".
void insert_row(Raw& raw, std::int64_t id) {
    const Item item = bench::row(id);
    TextRow text(item);
    PQclear(raw.run("insert", 4, text.values));
}

const std::int64_t insert_rows = bench::scaled(20'000, 50);
const std::int64_t lookups = bench::scaled(5'000, 20);
const std::int64_t table_rows = bench::scaled(10'000, 100);
const std::int64_t commits = bench::scaled(3'000, 10);

void fill() {
    Raw raw;
    raw.exec(items_ddl);
    raw.exec(("INSERT INTO items SELECT i, 'widget-' || i, i * 0.5, i % 100 FROM generate_series(0, " +
              std::to_string(table_rows - 1) + ") AS i")
                 .c_str());
}

void insert_libpq(benchmark::State& state) {
    Raw raw;
    raw.exec(items_ddl);
    raw.prepare("insert", "INSERT INTO items (id, name, price, stock) VALUES ($1, $2, $3, $4)");
    std::int64_t next = 0;
    for (auto _ : state) {
        raw.exec("BEGIN");
        for (std::int64_t i = 0; i < insert_rows; ++i) insert_row(raw, next++);
        raw.exec("COMMIT");
    }
    state.SetItemsProcessed(state.iterations() * insert_rows);
}

void insert_persist(benchmark::State& state) {
    Raw().exec(items_ddl);
    PgStore store(store_config());
    std::int64_t next = 0;
    for (auto _ : state) {
        store.write([&](auto& tx) {
            for (std::int64_t i = 0; i < insert_rows; ++i) persist::schema::insert<bench::Items>(tx, bench::row(next++));
        });
    }
    state.SetItemsProcessed(state.iterations() * insert_rows);
}

void get_libpq(benchmark::State& state, bool explicit_transaction) {
    fill();
    Raw raw;
    raw.prepare("get", "SELECT id, name, price, stock FROM items WHERE id = $1");
    raw.prepare("begin", "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY");
    raw.prepare("commit", "COMMIT");
    std::int64_t sum = 0;
    for (auto _ : state) {
        for (std::int64_t i = 0; i < lookups; ++i) {
            const std::string id = std::to_string((i * 7919) % table_rows);
            const char* values[] = {id.c_str()};
            if (explicit_transaction) PQclear(raw.run("begin", 0, nullptr));
            PGresult* result = raw.run("get", 1, values);
            Item item{std::atoll(PQgetvalue(result, 0, 0)), PQgetvalue(result, 0, 1), std::atof(PQgetvalue(result, 0, 2)),
                      std::atoll(PQgetvalue(result, 0, 3))};
            PQclear(result);
            if (explicit_transaction) PQclear(raw.run("commit", 0, nullptr));
            sum += item.stock;
        }
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * lookups);
}

enum class Reads { one_each, batched, single_statement };

void get_persist(benchmark::State& state, Reads reads) {
    fill();
    PgStore store(store_config());
    std::int64_t sum = 0;
    auto lookup = [&](auto& tx, std::int64_t i) { sum += persist::schema::get<bench::Items>(tx, (i * 7919) % table_rows)->stock; };
    for (auto _ : state) {
        if (reads == Reads::batched) {
            store.read([&](auto& tx) {
                for (std::int64_t i = 0; i < lookups; ++i) lookup(tx, i);
            });
        } else if (reads == Reads::single_statement) {
            for (std::int64_t i = 0; i < lookups; ++i) store.read(persist::single_statement, [&](auto& tx) { lookup(tx, i); });
        } else {
            for (std::int64_t i = 0; i < lookups; ++i) store.read([&](auto& tx) { lookup(tx, i); });
        }
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * lookups);
}

void commit_libpq(benchmark::State& state, bool explicit_transaction) {
    Raw raw;
    raw.exec(items_ddl);
    raw.prepare("insert", "INSERT INTO items (id, name, price, stock) VALUES ($1, $2, $3, $4)");
    raw.prepare("begin", "BEGIN ISOLATION LEVEL READ COMMITTED");
    raw.prepare("commit", "COMMIT");
    std::int64_t next = 0;
    for (auto _ : state) {
        for (std::int64_t i = 0; i < commits; ++i) {
            if (explicit_transaction) PQclear(raw.run("begin", 0, nullptr));
            insert_row(raw, next++);
            if (explicit_transaction) PQclear(raw.run("commit", 0, nullptr));
        }
    }
    state.SetItemsProcessed(state.iterations() * commits);
}

void commit_persist(benchmark::State& state) {
    Raw().exec(items_ddl);
    PgStore store(store_config());
    std::int64_t next = 0;
    for (auto _ : state) {
        for (std::int64_t i = 0; i < commits; ++i)
            store.write([&](auto& tx) { persist::schema::insert<bench::Items>(tx, bench::row(next++)); });
    }
    state.SetItemsProcessed(state.iterations() * commits);
}

// ---- 32 threads on 8 connections ------------------------------------------------------------

constexpr int pool_threads = 32;
constexpr std::size_t pool_connections = 8;

// The pool an application would write around libpq: idle connections under a mutex, a
// condition variable to wait for one.
struct RawPool {
    std::mutex mutex;
    std::condition_variable returned;
    std::vector<std::unique_ptr<Raw>> idle;
    std::unique_ptr<Raw> take() {
        std::unique_lock lock(mutex);
        returned.wait(lock, [&] { return !idle.empty(); });
        auto connection = std::move(idle.back());
        idle.pop_back();
        return connection;
    }
    void give(std::unique_ptr<Raw> connection) {
        {
            std::lock_guard lock(mutex);
            idle.push_back(std::move(connection));
        }
        returned.notify_one();
    }
};

// Shared by the threads of one run: made by Setup, removed by Teardown.
std::unique_ptr<RawPool> raw_pool;
std::unique_ptr<PgStore> pool_store;
std::atomic<std::int64_t> pool_next{0};

void pool_setup_libpq(const benchmark::State&) {
    Raw().exec(items_ddl);
    raw_pool = std::make_unique<RawPool>();
    for (std::size_t i = 0; i < pool_connections; ++i) {
        auto raw = std::make_unique<Raw>();
        raw->prepare("insert", "INSERT INTO items (id, name, price, stock) VALUES ($1, $2, $3, $4)");
        raw->prepare("begin", "BEGIN ISOLATION LEVEL READ COMMITTED");
        raw->prepare("commit", "COMMIT");
        raw_pool->idle.push_back(std::move(raw));
    }
    pool_next = 0;
}
void pool_setup_persist(const benchmark::State&) {
    Raw().exec(items_ddl);
    persist::Config config = store_config();
    config.pool.min_connections = pool_connections;
    config.pool.max_connections = pool_connections;
    pool_store = std::make_unique<PgStore>(config);
    pool_next = 0;
}
void pool_teardown(const benchmark::State&) {
    raw_pool.reset();
    pool_store.reset();
}

void pool_libpq(benchmark::State& state) {
    for (auto _ : state) {
        auto raw = raw_pool->take();
        PQclear(raw->run("begin", 0, nullptr));
        insert_row(*raw, pool_next++);
        PQclear(raw->run("commit", 0, nullptr));
        raw_pool->give(std::move(raw));
    }
    state.SetItemsProcessed(state.iterations());
}

void pool_persist(benchmark::State& state) {
    for (auto _ : state) pool_store->write([&](auto& tx) { persist::schema::insert<bench::Items>(tx, bench::row(pool_next++)); });
    state.SetItemsProcessed(state.iterations());
}

// Per thread: Google Benchmark picks the count (about 0.5 s), 3 in smoke mode.
void per_thread(benchmark::internal::Benchmark* b) {
    if (bench::smoke()) b->Iterations(3);
}

const int heavy = bench::smoke() ? 1 : 5;

} // namespace

BENCHMARK(insert_libpq)->Name("insert/postgres/libpq")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(insert_persist)->Name("insert/postgres/persist")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_libpq, autocommit, false)->Name("get/postgres/libpq")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_libpq, explicit, true)->Name("get/postgres/libpq_explicit")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_persist, one, Reads::one_each)->Name("get/postgres/persist")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_persist, single, Reads::single_statement)->Name("get/postgres/persist_single_statement")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_persist, batched, Reads::batched)->Name("get_batched/postgres/persist")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(commit_libpq, autocommit, false)->Name("commit/postgres/libpq")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(commit_libpq, explicit, true)->Name("commit/postgres/libpq_explicit")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(commit_persist)->Name("commit/postgres/persist")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(pool_libpq)->Name("pool_32_threads/postgres/libpq")->Threads(pool_threads)->Setup(pool_setup_libpq)->Teardown(pool_teardown)->Apply(per_thread)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(pool_persist)->Name("pool_32_threads/postgres/persist")->Threads(pool_threads)->Setup(pool_setup_persist)->Teardown(pool_teardown)->Apply(per_thread)->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
