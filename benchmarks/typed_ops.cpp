// Typed insert of a 4-column row and typed get by primary key, next to the same work done
// with raw sqlite3 prepared statements and with SQLiteCpp, in one run.
#include <benchmark/benchmark.h>
#include <persist/schema.hpp>
#include <persist/sqlite.hpp>

#include <SQLiteCpp/SQLiteCpp.h>
#include <filesystem>
#include <sqlite3.h>
#include <string>
#include <unistd.h>

namespace {
struct Item {
    std::int64_t id;
    std::string name;
    double price;
    std::int64_t stock;
};
using Items = persist::schema::Table<"items", persist::schema::Column<&Item::id, "id", persist::schema::primary_key>,
                                     persist::schema::Column<&Item::name, "name">, persist::schema::Column<&Item::price, "price">,
                                     persist::schema::Column<&Item::stock, "stock">>;

const char* ddl = "CREATE TABLE IF NOT EXISTS items (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL, stock INTEGER NOT NULL)";
constexpr int rows = 1000;

std::string fresh_path(const char* tag) {
    const std::string dir = "/tmp/persist-bench-ops-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/" + tag + ".db";
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
    return path;
}

// All variants insert `rows` rows in one transaction per iteration, then delete them, so
// each iteration does the same work; WAL + synchronous=NORMAL everywhere.
void raw_sqlite3_insert(benchmark::State& state) {
    sqlite3* db = nullptr;
    sqlite3_open(fresh_path("raw").c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    sqlite3_exec(db, ddl, nullptr, nullptr, nullptr);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO items (id, name, price, stock) VALUES (?, ?, ?, ?)", -1, &insert, nullptr);
    const std::string name = "widget";
    for (auto _ : state) {
        sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
        for (int i = 0; i < rows; ++i) {
            sqlite3_bind_int64(insert, 1, i);
            sqlite3_bind_text(insert, 2, name.data(), int(name.size()), SQLITE_STATIC);
            sqlite3_bind_double(insert, 3, 1.5);
            sqlite3_bind_int64(insert, 4, 7);
            sqlite3_step(insert);
            sqlite3_reset(insert);
        }
        sqlite3_exec(db, "DELETE FROM items; COMMIT", nullptr, nullptr, nullptr);
    }
    sqlite3_finalize(insert);
    sqlite3_close(db);
    state.SetItemsProcessed(state.iterations() * rows);
}

void sqlitecpp_insert(benchmark::State& state) {
    SQLite::Database db(fresh_path("cpp"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
    db.exec(ddl);
    SQLite::Statement insert(db, "INSERT INTO items (id, name, price, stock) VALUES (?, ?, ?, ?)");
    const std::string name = "widget";
    for (auto _ : state) {
        SQLite::Transaction transaction(db);
        for (int i = 0; i < rows; ++i) {
            insert.bind(1, static_cast<std::int64_t>(i));
            insert.bind(2, name);
            insert.bind(3, 1.5);
            insert.bind(4, static_cast<std::int64_t>(7));
            insert.exec();
            insert.reset();
        }
        db.exec("DELETE FROM items");
        transaction.commit();
    }
    state.SetItemsProcessed(state.iterations() * rows);
}

void persist_typed_insert(benchmark::State& state) {
    persist::Config config = persist::Config::for_app("bench");
    config.db_path = fresh_path("typed");
    persist::SqliteStore store(config);
    store.write([](auto& tx) { tx.execute(ddl); });
    for (auto _ : state) {
        store.write([](auto& tx) {
            for (int i = 0; i < rows; ++i) persist::schema::insert<Items>(tx, Item{i, "widget", 1.5, 7});
            tx.execute("DELETE FROM items");
        });
    }
    state.SetItemsProcessed(state.iterations() * rows);
}

void raw_sqlite3_get(benchmark::State& state) {
    sqlite3* db = nullptr;
    sqlite3_open(fresh_path("rawget").c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    sqlite3_exec(db, ddl, nullptr, nullptr, nullptr);
    sqlite3_exec(db, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999) "
                     "INSERT INTO items SELECT i, 'widget', 1.5, 7 FROM n", nullptr, nullptr, nullptr);
    sqlite3_stmt* get = nullptr;
    sqlite3_prepare_v2(db, "SELECT id, name, price, stock FROM items WHERE id = ?", -1, &get, nullptr);
    for (auto _ : state) {
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        for (int i = 0; i < rows; ++i) {
            sqlite3_bind_int64(get, 1, i);
            if (sqlite3_step(get) == SQLITE_ROW) {
                Item item{sqlite3_column_int64(get, 0),
                          std::string(reinterpret_cast<const char*>(sqlite3_column_text(get, 1)), sqlite3_column_bytes(get, 1)),
                          sqlite3_column_double(get, 2), sqlite3_column_int64(get, 3)};
                benchmark::DoNotOptimize(item);
            }
            sqlite3_reset(get);
        }
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
    sqlite3_finalize(get);
    sqlite3_close(db);
    state.SetItemsProcessed(state.iterations() * rows);
}

void sqlitecpp_get(benchmark::State& state) {
    SQLite::Database db(fresh_path("cppget"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
    db.exec(ddl);
    db.exec("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999) "
            "INSERT INTO items SELECT i, 'widget', 1.5, 7 FROM n");
    SQLite::Statement get(db, "SELECT id, name, price, stock FROM items WHERE id = ?");
    for (auto _ : state) {
        db.exec("BEGIN");
        for (int i = 0; i < rows; ++i) {
            get.bind(1, static_cast<std::int64_t>(i));
            if (get.executeStep()) {
                Item item{get.getColumn(0).getInt64(), get.getColumn(1).getString(), get.getColumn(2).getDouble(),
                          get.getColumn(3).getInt64()};
                benchmark::DoNotOptimize(item);
            }
            get.reset();
        }
        db.exec("COMMIT");
    }
    state.SetItemsProcessed(state.iterations() * rows);
}

void persist_typed_get(benchmark::State& state) {
    persist::Config config = persist::Config::for_app("bench");
    config.db_path = fresh_path("typedget");
    persist::SqliteStore store(config);
    store.write([](auto& tx) {
        tx.execute(ddl);
        tx.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999) "
                   "INSERT INTO items SELECT i, 'widget', 1.5, 7 FROM n");
    });
    for (auto _ : state) {
        store.read([](auto& tx) {
            for (int i = 0; i < rows; ++i) benchmark::DoNotOptimize(persist::schema::get<Items>(tx, std::int64_t{i}));
        });
    }
    state.SetItemsProcessed(state.iterations() * rows);
}
} // namespace

BENCHMARK(raw_sqlite3_insert);
BENCHMARK(sqlitecpp_insert);
BENCHMARK(persist_typed_insert);
BENCHMARK(raw_sqlite3_get);
BENCHMARK(sqlitecpp_get);
BENCHMARK(persist_typed_get);
BENCHMARK_MAIN();
