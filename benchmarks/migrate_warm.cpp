// A warm start: opening a database that is already migrated, with and without the
// migrate() check, next to a bare sqlite3_open of the same file.
#include <benchmark/benchmark.h>
#include <persist/persist.hpp>

#include <filesystem>
#include <sqlite3.h>
#include <string>
#include <unistd.h>

namespace {
using Migrations = persist::migrate::Embedded<
    persist::migrate::Sql<1, "a", "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)">,
    persist::migrate::Sql<2, "b", "CREATE TABLE b (id INTEGER PRIMARY KEY, a INTEGER REFERENCES a(id))">,
    persist::migrate::Sql<3, "c", "CREATE INDEX b_a ON b (a)">>;

struct Fixture {
    std::string dir = "/tmp/persist-bench-warm-" + std::to_string(::getpid());
    persist::Config config;
    Fixture() {
        std::filesystem::create_directories(dir);
        config = persist::Config::for_app("bench");
        config.db_path = dir + "/warm.db";
        persist::SqliteProcessStore store(config);
        store.migrate(Migrations{});
    }
    ~Fixture() { std::filesystem::remove_all(dir); }
};

void raw_sqlite3_open_and_query(benchmark::State& state) {
    Fixture fixture;
    for (auto _ : state) {
        sqlite3* db = nullptr;
        sqlite3_open(fixture.config.db_path.c_str(), &db);
        sqlite3_exec(db, "SELECT count(*) FROM a", nullptr, nullptr, nullptr);
        sqlite3_close(db);
    }
}

void open_store(benchmark::State& state) {
    Fixture fixture;
    for (auto _ : state) {
        persist::SqliteProcessStore store(fixture.config);
        store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM a"); });
    }
}

void open_store_and_migrate(benchmark::State& state) {
    Fixture fixture;
    for (auto _ : state) {
        persist::SqliteProcessStore store(fixture.config);
        store.migrate(Migrations{});
        store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM a"); });
    }
}
} // namespace

BENCHMARK(raw_sqlite3_open_and_query);
BENCHMARK(open_store);
BENCHMARK(open_store_and_migrate);
BENCHMARK_MAIN();
