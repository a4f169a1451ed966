// Row workloads: bulk insert, point select (one per read and batched), full scan, and
// single-row durable commits. Every workload runs through the raw sqlite3 C API, SQLiteCpp,
// SOCI's sqlite3 backend and persist's typed operations, with the same pragmas and data, so
// the figures read as ratios to raw sqlite3. Durable commits also measure the disk's raw
// write+fdatasync rate, the ceiling for any durable commit.
#include "items_table.hpp"
#include "soci_baseline.hpp"

#include <benchmark/benchmark.h>
#include <persist/crypto/encrypted.hpp>
#include <persist/schema.hpp>
#include <persist/sqlite.hpp>

#include <SQLiteCpp/SQLiteCpp.h>
#include <atomic>
#include <fcntl.h>
#include <memory>
#include <sqlite3.h>
#include <stdexcept>
#include <unistd.h>

namespace {
using bench::Item;
using bench::Items;

using bench::commit_soci;
using bench::get_soci;
using bench::insert_soci;
using bench::key;
using bench::scan_soci;
using bench::row;
const std::int64_t insert_rows = bench::insert_rows();
const std::int64_t table_rows = bench::table_rows();
const std::int64_t lookups = bench::lookups();
const std::int64_t scan_rows = bench::scan_rows();

// Where a workload's database lives.
enum class Where { memory, wal };
std::string database(const bench::ScratchDir& dir, Where where, const char* name) {
    return where == Where::memory ? std::string(":memory:") : dir.file(name);
}


void check(int rc, sqlite3* db, int expected = SQLITE_OK) {
    if (rc != expected) throw std::runtime_error(std::string("sqlite3: ") + sqlite3_errmsg(db));
}

// ---- raw sqlite3 -----------------------------------------------------------------------

// A raw connection with the baseline pragmas and the items table; owns the statements it prepares.
struct Raw {
    sqlite3* db = nullptr;
    Raw(const std::string& path, std::string_view synchronous = "NORMAL") {
        check(sqlite3_open(path.c_str(), &db), db);
        exec(bench::baseline_pragmas(path != ":memory:", synchronous));
        exec(bench::items_ddl);
    }
    Raw(const Raw&) = delete;
    Raw& operator=(const Raw&) = delete;
    ~Raw() {
        for (auto* statement : statements) sqlite3_finalize(statement);
        sqlite3_close_v2(db);
    }
    void exec(const std::string& sql) { check(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), db); }
    // Runs a prepared statement that returns no rows, and resets it.
    void step(sqlite3_stmt* statement) {
        check(sqlite3_step(statement), db, SQLITE_DONE);
        sqlite3_reset(statement);
    }
    sqlite3_stmt* prepare(const char* sql) {
        sqlite3_stmt* statement = nullptr;
        check(sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr), db);
        statements.push_back(statement);
        return statement;
    }
    std::vector<sqlite3_stmt*> statements; // finalized with the connection
    void insert(sqlite3_stmt* statement, const Item& item) {
        sqlite3_bind_int64(statement, 1, item.id);
        sqlite3_bind_text(statement, 2, item.name.data(), int(item.name.size()), SQLITE_STATIC);
        sqlite3_bind_double(statement, 3, item.price);
        sqlite3_bind_int64(statement, 4, item.stock);
        check(sqlite3_step(statement), db, SQLITE_DONE);
        sqlite3_reset(statement);
    }
    static Item read(sqlite3_stmt* statement) {
        return Item{sqlite3_column_int64(statement, 0),
                    std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, 1)),
                                std::size_t(sqlite3_column_bytes(statement, 1))),
                    sqlite3_column_double(statement, 2), sqlite3_column_int64(statement, 3)};
    }
    std::optional<Item> get(sqlite3_stmt* statement, std::int64_t id) {
        sqlite3_bind_int64(statement, 1, id);
        std::optional<Item> item;
        const int rc = sqlite3_step(statement);
        if (rc == SQLITE_ROW) item = read(statement);
        else check(rc, db, SQLITE_DONE);
        sqlite3_reset(statement);
        return item;
    }
};


// ---- persist -------------------------------------------------------------------------------

persist::Config persist_config(const std::string& path, persist::Durability durability = persist::Durability::normal) {
    persist::Config config = persist::Config::for_app("bench");
    config.db_path = path;
    config.durability = durability;
    return config;
}

// ---- bulk insert ---------------------------------------------------------------------------

void insert_raw(benchmark::State& state, Where where) {
    bench::ScratchDir dir("insert-raw");
    bench::bulk_insert_rounds(state, database(dir, where, "raw.db"), [](const std::string& path) {
        auto raw = std::make_shared<Raw>(path);
        sqlite3_stmt* insert = raw->prepare(bench::insert_sql);
        return [raw, insert] {
            raw->exec("BEGIN IMMEDIATE");
            for (std::int64_t i = 0; i < insert_rows; ++i) raw->insert(insert, row(i));
            raw->exec("COMMIT");
        };
    });
}

// SQLiteCpp's connection and its prepared insert.
struct CppInsert {
    SQLite::Database db;
    std::optional<SQLite::Statement> insert; // declared after db: destroyed before it
    explicit CppInsert(const std::string& path) : db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE) {
        db.exec(bench::baseline_pragmas(path != ":memory:"));
        db.exec(bench::items_ddl);
        insert.emplace(db, bench::insert_sql);
    }
    void insert_all() {
        SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
        for (std::int64_t i = 0; i < insert_rows; ++i) {
            const Item item = row(i);
            insert->bind(1, item.id);
            insert->bind(2, item.name);
            insert->bind(3, item.price);
            insert->bind(4, item.stock);
            insert->exec();
            insert->reset();
        }
        transaction.commit();
    }
};

void insert_sqlitecpp(benchmark::State& state, Where where) {
    bench::ScratchDir dir("insert-cpp");
    bench::bulk_insert_rounds(state, database(dir, where, "cpp.db"), [](const std::string& path) {
        auto target = std::make_shared<CppInsert>(path);
        return [target] { target->insert_all(); };
    });
}

void insert_persist(benchmark::State& state, Where where) {
    bench::ScratchDir dir("insert-persist");
    bench::bulk_insert_rounds(state, database(dir, where, "persist.db"), [](const std::string& path) {
        auto store = std::make_shared<persist::SqliteStore>(persist_config(path));
        store->write([](auto& tx) { tx.execute(bench::items_ddl); });
        return [store] {
            store->write([](auto& tx) {
                for (std::int64_t i = 0; i < insert_rows; ++i) persist::schema::insert<Items>(tx, row(i));
            });
        };
    });
}

// ---- point select ------------------------------------------------------------------------

void fill(const std::string& path, std::int64_t rows) {
    Raw raw(path);
    raw.exec(bench::fill_sql(rows));
}

// Batched: every lookup in one read transaction. Unbatched: one transaction per lookup
// (for the baselines an autocommit statement, which is its own read transaction).
// raw_sqlite3_explicit wraps each lookup in prepared BEGIN / COMMIT statements, as persist's
// read() does to give a function with several statements one snapshot: the cost of that
// promise, without any persist code.
enum class Reads { autocommit, explicit_transaction, batched };
void get_raw(benchmark::State& state, Reads reads) {
    bench::ScratchDir dir("get-raw");
    fill(dir.file("get.db"), table_rows);
    Raw raw(dir.file("get.db"));
    sqlite3_stmt* get = raw.prepare(bench::get_sql);
    sqlite3_stmt* begin = raw.prepare("BEGIN");
    sqlite3_stmt* commit = raw.prepare("COMMIT");
    const bench::Collect collect; // instructions of the lookups or the scan only
    for (auto _ : state) {
        if (reads == Reads::batched) raw.step(begin);
        for (std::int64_t i = 0; i < lookups; ++i) {
            if (reads == Reads::explicit_transaction) raw.step(begin);
            benchmark::DoNotOptimize(raw.get(get, key(i)));
            if (reads == Reads::explicit_transaction) raw.step(commit);
        }
        if (reads == Reads::batched) raw.step(commit);
    }
    state.SetItemsProcessed(state.iterations() * lookups);
}

void get_sqlitecpp(benchmark::State& state, bool batched) {
    bench::ScratchDir dir("get-cpp");
    fill(dir.file("get.db"), table_rows);
    SQLite::Database db(dir.file("get.db"), SQLite::OPEN_READWRITE);
    db.exec(bench::baseline_pragmas(true));
    SQLite::Statement get(db, bench::get_sql);
    const bench::Collect collect; // instructions of the lookups or the scan only
    for (auto _ : state) {
        if (batched) db.exec("BEGIN");
        for (std::int64_t i = 0; i < lookups; ++i) {
            get.bind(1, key(i));
            std::optional<Item> item;
            if (get.executeStep())
                item = Item{get.getColumn(0).getInt64(), get.getColumn(1).getString(), get.getColumn(2).getDouble(),
                            get.getColumn(3).getInt64()};
            benchmark::DoNotOptimize(item);
            get.reset();
        }
        if (batched) db.exec("COMMIT");
    }
    state.SetItemsProcessed(state.iterations() * lookups);
}

// persist: every lookup in one read(); one read() each; one read(single_statement) each (no
// BEGIN/COMMIT on SQLite, like the baselines' autocommit lookups).
enum class PersistReads { batched, one_per_read, single_statement };
void get_persist(benchmark::State& state, PersistReads reads) {
    bench::ScratchDir dir("get-persist");
    fill(dir.file("get.db"), table_rows);
    persist::SqliteStore store(persist_config(dir.file("get.db")));
    const bench::Collect collect; // instructions of the lookups or the scan only
    for (auto _ : state) {
        if (reads == PersistReads::batched) {
            store.read([](auto& tx) {
                for (std::int64_t i = 0; i < lookups; ++i) benchmark::DoNotOptimize(persist::schema::get<Items>(tx, key(i)));
            });
        } else if (reads == PersistReads::one_per_read) {
            for (std::int64_t i = 0; i < lookups; ++i)
                benchmark::DoNotOptimize(store.read([i](auto& tx) { return persist::schema::get<Items>(tx, key(i)); }));
        } else {
            for (std::int64_t i = 0; i < lookups; ++i)
                benchmark::DoNotOptimize(
                    store.read(persist::single_statement, [i](auto& tx) { return persist::schema::get<Items>(tx, key(i)); }));
        }
    }
    state.SetItemsProcessed(state.iterations() * lookups);
}

// ---- reads after writes ------------------------------------------------------------------

// A round: one single-row update committed, then a batch of point reads in one read
// transaction, as a service that writes a little and reads a lot does. Raw sqlite3 runs both on
// its one connection, whose page cache its own commits keep warm.
const std::int64_t mixed_rounds = bench::scaled(2'000, 5);
constexpr std::int64_t mixed_batch = 100;
constexpr const char* mixed_update_sql = "UPDATE items SET stock = stock + 1 WHERE id = ?";

void mixed_raw(benchmark::State& state) {
    bench::ScratchDir dir("mixed-raw");
    fill(dir.file("mixed.db"), table_rows);
    Raw raw(dir.file("mixed.db"));
    sqlite3_stmt* update = raw.prepare(mixed_update_sql);
    sqlite3_stmt* get = raw.prepare(bench::get_sql);
    sqlite3_stmt* begin = raw.prepare("BEGIN");
    sqlite3_stmt* commit = raw.prepare("COMMIT");
    const bench::Collect collect;
    std::int64_t next = 0;
    for (auto _ : state) {
        for (std::int64_t round = 0; round < mixed_rounds; ++round) {
            sqlite3_bind_int64(update, 1, key(next));
            raw.step(update);
            raw.step(begin);
            for (std::int64_t i = 0; i < mixed_batch; ++i) benchmark::DoNotOptimize(raw.get(get, key(next++)));
            raw.step(commit);
        }
    }
    state.SetItemsProcessed(state.iterations() * mixed_rounds * mixed_batch);
}

void mixed_persist(benchmark::State& state) {
    bench::ScratchDir dir("mixed-persist");
    fill(dir.file("mixed.db"), table_rows);
    persist::SqliteStore store(persist_config(dir.file("mixed.db")));
    const bench::Collect collect;
    std::int64_t next = 0;
    for (auto _ : state) {
        for (std::int64_t round = 0; round < mixed_rounds; ++round) {
            store.write([&](auto& tx) { tx.execute(mixed_update_sql, key(next)); });
            store.read([&](auto& tx) {
                for (std::int64_t i = 0; i < mixed_batch; ++i)
                    benchmark::DoNotOptimize(persist::schema::get<Items>(tx, key(next++)));
            });
        }
    }
    state.SetItemsProcessed(state.iterations() * mixed_rounds * mixed_batch);
}

// ---- full scan into structs ----------------------------------------------------------------

void scan_raw(benchmark::State& state) {
    bench::ScratchDir dir("scan-raw");
    fill(dir.file("scan.db"), scan_rows);
    Raw raw(dir.file("scan.db"));
    sqlite3_stmt* scan = raw.prepare("SELECT id, name, price, stock FROM items ORDER BY id");
    const bench::Collect collect; // instructions of the lookups or the scan only
    for (auto _ : state) {
        std::vector<Item> rows;
        raw.exec("BEGIN");
        while (sqlite3_step(scan) == SQLITE_ROW) rows.push_back(Raw::read(scan));
        sqlite3_reset(scan);
        raw.exec("COMMIT");
        benchmark::DoNotOptimize(rows.data());
    }
    state.SetItemsProcessed(state.iterations() * scan_rows);
}

void scan_sqlitecpp(benchmark::State& state) {
    bench::ScratchDir dir("scan-cpp");
    fill(dir.file("scan.db"), scan_rows);
    SQLite::Database db(dir.file("scan.db"), SQLite::OPEN_READWRITE);
    db.exec(bench::baseline_pragmas(true));
    SQLite::Statement scan(db, "SELECT id, name, price, stock FROM items ORDER BY id");
    const bench::Collect collect; // instructions of the lookups or the scan only
    for (auto _ : state) {
        std::vector<Item> rows;
        SQLite::Transaction transaction(db, SQLite::TransactionBehavior::DEFERRED);
        while (scan.executeStep())
            rows.push_back(Item{scan.getColumn(0).getInt64(), scan.getColumn(1).getString(), scan.getColumn(2).getDouble(),
                                scan.getColumn(3).getInt64()});
        scan.reset();
        transaction.commit();
        benchmark::DoNotOptimize(rows.data());
    }
    state.SetItemsProcessed(state.iterations() * scan_rows);
}

void scan_persist(benchmark::State& state) {
    bench::ScratchDir dir("scan-persist");
    fill(dir.file("scan.db"), scan_rows);
    persist::SqliteStore store(persist_config(dir.file("scan.db")));
    const bench::Collect collect; // instructions of the lookups or the scan only
    for (auto _ : state) {
        auto rows = store.read([](auto& tx) { return persist::schema::all<Items>(tx); });
        benchmark::DoNotOptimize(rows.data());
    }
    state.SetItemsProcessed(state.iterations() * scan_rows);
}

// ---- single-row commits ------------------------------------------------------------------

// The disk's own limit: a 4 KiB write followed by fdatasync, as a WAL commit does.
void commit_fsync_baseline(benchmark::State& state) {
    bench::ScratchDir dir("fsync");
    const int fd = ::open(dir.file("fsync.bin").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    std::vector<char> page(4096, 'x');
    off_t offset = 0;
    for (auto _ : state) {
        if (::pwrite(fd, page.data(), page.size(), offset) != ssize_t(page.size()) || ::fdatasync(fd) != 0)
            state.SkipWithError("write or fdatasync failed");
        offset = (offset + 4096) % (4096 * 1024);
    }
    ::close(fd);
    state.SetItemsProcessed(state.iterations());
}

void commit_raw(benchmark::State& state, const char* synchronous) {
    bench::ScratchDir dir("commit-raw");
    Raw raw(dir.file("commit.db"), synchronous);
    sqlite3_stmt* insert = raw.prepare(bench::insert_sql);
    std::int64_t i = 0;
    for (auto _ : state) raw.insert(insert, row(i++)); // autocommit: one transaction per row
    state.SetItemsProcessed(state.iterations());
}

void commit_sqlitecpp(benchmark::State& state, const char* synchronous) {
    bench::ScratchDir dir("commit-cpp");
    SQLite::Database db(dir.file("commit.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(bench::baseline_pragmas(true, synchronous));
    db.exec(bench::items_ddl);
    SQLite::Statement insert(db, bench::insert_sql);
    std::int64_t i = 0;
    for (auto _ : state) {
        const Item item = row(i++);
        insert.bind(1, item.id);
        insert.bind(2, item.name);
        insert.bind(3, item.price);
        insert.bind(4, item.stock);
        insert.exec();
        insert.reset();
    }
    state.SetItemsProcessed(state.iterations());
}

void commit_persist(benchmark::State& state, persist::Durability durability) {
    bench::ScratchDir dir("commit-persist");
    persist::SqliteStore store(persist_config(dir.file("commit.db"), durability));
    store.write([](auto& tx) { tx.execute(bench::items_ddl); });
    std::int64_t i = 0;
    for (auto _ : state) store.write([&](auto& tx) { persist::schema::insert<Items>(tx, row(i++)); });
    state.SetItemsProcessed(state.iterations());
}

// ---- durable commits from 8 threads (group commit) -----------------------------------------

// Shared by the threads of one run: made by Setup, removed by Teardown.
std::unique_ptr<bench::ScratchDir> threads_dir;
std::unique_ptr<persist::SqliteStore> threads_store;
std::atomic<std::int64_t> threads_next{0};
constexpr int commit_threads = 8;

template <bool Group>
void commit_threads_setup(const benchmark::State&) {
    threads_dir = std::make_unique<bench::ScratchDir>("commit-threads");
    persist::Config config = persist_config(threads_dir->file("commit.db"), persist::Durability::full);
    config.group_commit = Group;
    threads_store = std::make_unique<persist::SqliteStore>(config);
    threads_store->write([](auto& tx) { tx.execute(bench::items_ddl); });
    threads_next = 0;
}
void raw_threads_setup(const benchmark::State&) {
    threads_dir = std::make_unique<bench::ScratchDir>("commit-threads");
    Raw create(threads_dir->file("commit.db"), "FULL");
    threads_next = 0;
}
void commit_threads_teardown(const benchmark::State&) {
    threads_store.reset();
    threads_dir.reset();
}

// Each thread commits single rows through the one Store, as a server's request threads do.
void commit_threads_persist(benchmark::State& state) {
    for (auto _ : state) threads_store->write([&](auto& tx) { persist::schema::insert<Items>(tx, row(threads_next++)); });
    state.SetItemsProcessed(state.iterations());
}

// Each thread commits single rows on a connection of its own (autocommit), waiting in SQLite's
// busy handler while another holds the write lock.
void commit_threads_raw(benchmark::State& state) {
    Raw raw(threads_dir->file("commit.db"), "FULL");
    sqlite3_stmt* insert = raw.prepare(bench::insert_sql);
    for (auto _ : state) raw.insert(insert, row(threads_next++));
    state.SetItemsProcessed(state.iterations());
}

// Bulk work runs a fixed number of iterations: 3 of 1e6 rows, 1 in smoke mode.
const int heavy = bench::callgrind() ? 1 : int(bench::scaled(3, 1));
// Per-commit work: Google Benchmark picks the count (about 0.5 s), 3 in smoke mode.
void per_commit(benchmark::internal::Benchmark* b) {
    if (bench::smoke()) b->Iterations(3);
}
} // namespace

BENCHMARK_CAPTURE(insert_raw, memory, Where::memory)->Name("insert/memory/raw_sqlite3")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(insert_sqlitecpp, memory, Where::memory)->Name("insert/memory/sqlitecpp")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(insert_soci, memory, true)->Name("insert/memory/soci")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(insert_persist, memory, Where::memory)->Name("insert/memory/persist")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(insert_raw, wal, Where::wal)->Name("insert/wal/raw_sqlite3")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(insert_sqlitecpp, wal, Where::wal)->Name("insert/wal/sqlitecpp")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(insert_soci, wal, false)->Name("insert/wal/soci")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(insert_persist, wal, Where::wal)->Name("insert/wal/persist")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(get_raw, one, Reads::autocommit)->Name("get/one_per_read/raw_sqlite3")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_sqlitecpp, one, false)->Name("get/one_per_read/sqlitecpp")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_soci, one, false)->Name("get/one_per_read/soci")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_raw, explicit_txn, Reads::explicit_transaction)->Name("get/one_per_read/raw_sqlite3_explicit")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_persist, one, PersistReads::one_per_read)->Name("get/one_per_read/persist")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_raw, batched, Reads::batched)->Name("get/batched/raw_sqlite3")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_sqlitecpp, batched, true)->Name("get/batched/sqlitecpp")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_soci, batched, true)->Name("get/batched/soci")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_persist, single, PersistReads::single_statement)->Name("get/one_per_read/persist_single_statement")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(get_persist, batched, PersistReads::batched)->Name("get/batched/persist")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK(mixed_raw)->Name("mixed/write_then_reads/raw_sqlite3")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(mixed_persist)->Name("mixed/write_then_reads/persist")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK(scan_raw)->Name("scan/raw_sqlite3")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(scan_sqlitecpp)->Name("scan/sqlitecpp")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(scan_soci)->Name("scan/soci")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(scan_persist)->Name("scan/persist")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK(commit_fsync_baseline)->Name("commit/fsync_limit")->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(commit_raw, full, "FULL")->Name("commit/full/raw_sqlite3")->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(commit_sqlitecpp, full, "FULL")->Name("commit/full/sqlitecpp")->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(commit_soci, full, "FULL")->Name("commit/full/soci")->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(commit_persist, full, persist::Durability::full)->Name("commit/full/persist")->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(commit_threads_raw)->Name("commit/full_8_threads/raw_sqlite3")->Threads(commit_threads)->Setup(raw_threads_setup)->Teardown(commit_threads_teardown)->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(commit_threads_persist)->Name("commit/full_8_threads/persist_no_group")->Threads(commit_threads)->Setup(commit_threads_setup<false>)->Teardown(commit_threads_teardown)->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(commit_threads_persist)->Name("commit/full_8_threads/persist")->Threads(commit_threads)->Setup(commit_threads_setup<true>)->Teardown(commit_threads_teardown)->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(commit_threads_persist)->Name("commit/full_1_thread/persist_no_group")->Threads(1)->Setup(commit_threads_setup<false>)->Teardown(commit_threads_teardown)->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(commit_threads_persist)->Name("commit/full_1_thread/persist")->Threads(1)->Setup(commit_threads_setup<true>)->Teardown(commit_threads_teardown)->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(commit_raw, normal, "NORMAL")->Name("commit/normal/raw_sqlite3")->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(commit_sqlitecpp, normal, "NORMAL")->Name("commit/normal/sqlitecpp")->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(commit_soci, normal, "NORMAL")->Name("commit/normal/soci")->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(commit_persist, normal, persist::Durability::normal)->Name("commit/normal/persist")->Apply(per_commit)->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
