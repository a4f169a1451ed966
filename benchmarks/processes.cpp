// Workloads of several processes, each a fresh exec of this program in a child role:
//   warm start   open an already-migrated database, apply pragmas, find nothing to migrate;
//                against a bare sqlite3_open + close, in-process and as whole processes
//   herd         100 processes start at once on a fresh database whose first migration
//                takes 300 ms; the time until the last one is done
//   writers      1, 2, 4, 8, 64 processes committing single-row transactions: raw SQLite with
//                busy_timeout, persist, and persist with guard_writes (the file lock)
//   memory       peak resident memory (VmHWM) of a process inserting 1e6 rows
// Children are released together through a pipe: each reports "ready" on one pipe, then
// blocks reading a second pipe that the parent closes.
#include "items_table.hpp"

#include <benchmark/benchmark.h>
#include <persist/persist.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sqlite3.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono;

namespace {

// ---- the child side ------------------------------------------------------------------------

void sleep_300ms(persist::sqlite::Transaction& tx) {
    std::this_thread::sleep_for(milliseconds(300));
    tx.execute("INSERT INTO settings (name, value) VALUES ('created', 'by the slow migration')");
}

using WarmMigrations = persist::migrate::Embedded<
    persist::migrate::Sql<1, "a", "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)">,
    persist::migrate::Sql<2, "b", "CREATE TABLE b (id INTEGER PRIMARY KEY, a INTEGER REFERENCES a(id))">,
    persist::migrate::Sql<3, "c", "CREATE INDEX b_a ON b (a)">>;

using HerdMigrations = persist::migrate::Embedded<
    persist::migrate::Sql<1, "settings", "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)">,
    persist::migrate::Code<2, "slow", "sleeps 300 ms, v1", &sleep_300ms>>;

constexpr const char* events_ddl =
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, writer INTEGER NOT NULL, at INTEGER NOT NULL)";

persist::Config config_for(const std::string& path) {
    persist::Config config = persist::Config::for_app("bench");
    config.db_path = path;
    return config;
}

// Tells the parent this child is ready, then waits until the parent closes the barrier.
void barrier(int ready_fd, int barrier_fd) {
    char byte = 1;
    if (::write(ready_fd, &byte, 1) != 1) ::_exit(3);
    while (::read(barrier_fd, &byte, 1) > 0) {}
}

long vm_hwm_kib() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

void check(int rc, sqlite3* db, int expected = SQLITE_OK) {
    if (rc != expected) throw std::runtime_error(std::string("sqlite3: ") + sqlite3_errmsg(db));
}

// One writer: single-row transactions until `duration` has passed; writes each
// transaction's latency (in microseconds, as doubles) to `out`.
void writer(const std::string& mode, const std::string& path, int id, milliseconds duration, int ready_fd,
            int barrier_fd, const std::string& out) {
    std::vector<double> latencies;
    auto run = [&](auto&& commit_one) {
        barrier(ready_fd, barrier_fd);
        const auto end = steady_clock::now() + duration;
        for (auto start = steady_clock::now(); start < end; start = steady_clock::now()) {
            commit_one();
            latencies.push_back(double(duration_cast<nanoseconds>(steady_clock::now() - start).count()) / 1e3);
        }
    };
    if (mode == "raw") {
        sqlite3* db = nullptr;
        check(sqlite3_open(path.c_str(), &db), db);
        check(sqlite3_exec(db, bench::baseline_pragmas(true).c_str(), nullptr, nullptr, nullptr), db);
        sqlite3_stmt* begin = nullptr;
        sqlite3_stmt* insert = nullptr;
        sqlite3_stmt* commit = nullptr;
        check(sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, nullptr), db);
        check(sqlite3_prepare_v2(db, "INSERT INTO events (writer, at) VALUES (?, ?)", -1, &insert, nullptr), db);
        check(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr), db);
        run([&] {
            check(sqlite3_step(begin), db, SQLITE_DONE);
            sqlite3_reset(begin);
            sqlite3_bind_int(insert, 1, id);
            sqlite3_bind_int64(insert, 2, bench::now_ns());
            check(sqlite3_step(insert), db, SQLITE_DONE);
            sqlite3_reset(insert);
            check(sqlite3_step(commit), db, SQLITE_DONE);
            sqlite3_reset(commit);
        });
        sqlite3_finalize(begin);
        sqlite3_finalize(insert);
        sqlite3_finalize(commit);
        sqlite3_close(db);
    } else {
        persist::Config config = config_for(path);
        config.guard_writes = mode == "guarded";
        persist::SqliteStore store(config);
        run([&] {
            store.write([&](auto& tx) {
                tx.execute("INSERT INTO events (writer, at) VALUES (?, ?)", id, bench::now_ns());
            });
        });
    }
    std::ofstream file(out, std::ios::binary);
    file.write(reinterpret_cast<const char*>(latencies.data()), std::streamsize(latencies.size() * sizeof(double)));
}

// Inserts `rows` rows in one transaction into a new WAL file; prints VmHWM in KiB.
void memory(const std::string& mode, const std::string& path, std::int64_t rows) {
    if (mode == "raw") {
        sqlite3* db = nullptr;
        check(sqlite3_open(path.c_str(), &db), db);
        check(sqlite3_exec(db, (bench::baseline_pragmas(true) + ";" + bench::items_ddl).c_str(), nullptr, nullptr, nullptr), db);
        sqlite3_stmt* insert = nullptr;
        check(sqlite3_prepare_v2(db, bench::insert_sql, -1, &insert, nullptr), db);
        check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db);
        const std::string name = "widget";
        for (std::int64_t i = 0; i < rows; ++i) {
            sqlite3_bind_int64(insert, 1, i);
            sqlite3_bind_text(insert, 2, name.data(), int(name.size()), SQLITE_STATIC);
            sqlite3_bind_double(insert, 3, 1.5);
            sqlite3_bind_int64(insert, 4, 7);
            check(sqlite3_step(insert), db, SQLITE_DONE);
            sqlite3_reset(insert);
        }
        check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db);
        sqlite3_finalize(insert);
        sqlite3_close(db);
    } else if (mode == "persist") {
        persist::SqliteStore store(config_for(path));
        store.write([&](auto& tx) {
            tx.execute(bench::items_ddl);
            for (std::int64_t i = 0; i < rows; ++i) persist::schema::insert<bench::Items>(tx, bench::Item{i, "widget", 1.5, 7});
        });
    } // "floor": the process itself, doing nothing
    std::printf("%ld\n", vm_hwm_kib());
}

int child_main(int argc, char** argv) try {
    const std::string role = argv[2];
    auto arg = [&](int i) { return i < argc ? std::string(argv[i]) : std::string(); };
    if (role == "noop") return 0;
    if (role == "warm-raw") {
        sqlite3* db = nullptr;
        check(sqlite3_open(arg(3).c_str(), &db), db);
        return sqlite3_close(db) == SQLITE_OK ? 0 : 1;
    }
    if (role == "warm-persist") {
        persist::SqliteStore store(config_for(arg(3)));
        return store.migrate(WarmMigrations{}).applied.empty() ? 0 : 1;
    }
    if (role == "herd") { // herd <db> <ready fd> <barrier fd>
        barrier(std::stoi(arg(4)), std::stoi(arg(5)));
        persist::SqliteStore store(config_for(arg(3)));
        store.migrate(HerdMigrations{});
        const auto created = store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM settings"); });
        return created.at(0) == 1 ? 0 : 1;
    }
    if (role == "writer") { // writer <mode> <db> <id> <ms> <ready fd> <barrier fd> <out>
        writer(arg(3), arg(4), std::stoi(arg(5)), milliseconds(std::stoi(arg(6))), std::stoi(arg(7)), std::stoi(arg(8)), arg(9));
        return 0;
    }
    if (role == "memory") { // memory <raw|persist|floor> <db> <rows>
        memory(arg(3), arg(4), std::stoll(arg(5)));
        return 0;
    }
    std::fprintf(stderr, "unknown child role %s\n", role.c_str());
    return 2;
} catch (const std::exception& e) {
    std::fprintf(stderr, "child %s: %s\n", argv[2], e.what());
    return 1;
}

// ---- the parent side -----------------------------------------------------------------------

std::string self_path() {
    std::vector<char> buffer(4096);
    const auto size = ::readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
    if (size <= 0) throw std::runtime_error("cannot read /proc/self/exe");
    return std::string(buffer.data(), std::size_t(size));
}

// Starts this program in a child role. `keep` are descriptors the child inherits; the
// parent's ends in `close_in_child` are closed first. stdout goes to `stdout_fd` if >= 0.
pid_t spawn(const std::vector<std::string>& args, const std::vector<int>& close_in_child = {}, int stdout_fd = -1) {
    static const std::string self = self_path();
    std::vector<std::string> all{self, "--child"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        for (int fd : close_in_child) ::close(fd);
        if (stdout_fd >= 0) ::dup2(stdout_fd, 1);
        ::execv(self.c_str(), argv.data());
        ::_exit(127);
    }
    return pid;
}

bool wait_ok(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Runs `count` children built by make_args(i, ready_fd, barrier_fd), waits until all are
// ready, releases them and waits for all. Returns the time from release to the last exit
// and whether all succeeded.
template <class MakeArgs>
std::pair<double, bool> run_released(int count, MakeArgs make_args) {
    int ready[2], gate[2];
    if (::pipe(ready) != 0 || ::pipe(gate) != 0) throw std::runtime_error("pipe failed");
    std::vector<pid_t> children;
    for (int i = 0; i < count; ++i)
        children.push_back(spawn(make_args(i, ready[1], gate[0]), {ready[0], gate[1]}));
    ::close(ready[1]);
    ::close(gate[0]);
    for (int i = 0; i < count; ++i) {
        char byte;
        if (::read(ready[0], &byte, 1) != 1) break; // a child died before the barrier
    }
    const auto start = steady_clock::now();
    ::close(gate[1]);
    bool ok = true;
    for (pid_t child : children) ok = wait_ok(child) && ok;
    const double seconds = duration<double>(steady_clock::now() - start).count();
    ::close(ready[0]);
    return {seconds, ok};
}

// ---- warm start --------------------------------------------------------------------------

struct WarmDatabase {
    bench::ScratchDir dir{"warm"};
    std::string path = dir.file("warm.db");
    WarmDatabase() {
        persist::SqliteStore store(config_for(path));
        store.migrate(WarmMigrations{});
    }
};

void warm_raw_in_process(benchmark::State& state) {
    WarmDatabase database;
    for (auto _ : state) {
        sqlite3* db = nullptr;
        sqlite3_open(database.path.c_str(), &db);
        sqlite3_close(db);
    }
}

void warm_persist_in_process(benchmark::State& state) {
    WarmDatabase database;
    for (auto _ : state) {
        persist::SqliteStore store(config_for(database.path));
        benchmark::DoNotOptimize(store.migrate(WarmMigrations{}));
    }
}

void warm_process(benchmark::State& state, const char* role) {
    WarmDatabase database;
    for (auto _ : state)
        if (!wait_ok(spawn({role, database.path}))) state.SkipWithError("the child failed");
}

// ---- herd ----------------------------------------------------------------------------------

void herd(benchmark::State& state) {
    const int processes = int(state.range(0));
    std::vector<double> over;
    int round = 0;
    for (auto _ : state) {
        bench::ScratchDir dir("herd");
        const std::string path = dir.file("herd-" + std::to_string(round++) + ".db");
        const auto [seconds, ok] = run_released(processes, [&](int, int ready, int gate) {
            return std::vector<std::string>{"herd", path, std::to_string(ready), std::to_string(gate)};
        });
        if (!ok) state.SkipWithError("a herd process failed");
        state.SetIterationTime(seconds);
        over.push_back((seconds - 0.3) * 1e3);
    }
    state.counters["over_migration_ms_median"] = bench::quantile(over, 0.5);
    state.counters["over_migration_ms_max"] = bench::quantile(over, 1.0);
}

// ---- writers -----------------------------------------------------------------------------

void writers(benchmark::State& state, const char* mode) {
    const int processes = int(state.range(0));
    const int duration_ms = int(bench::scaled(2000, 100));
    std::vector<double> latencies;
    double transactions = 0, elapsed = 0;
    for (auto _ : state) {
        bench::ScratchDir dir("writers");
        const std::string path = dir.file("writers.db");
        {
            persist::SqliteStore store(config_for(path));
            store.write([](auto& tx) { tx.execute(events_ddl); });
        }
        const auto [seconds, ok] = run_released(processes, [&](int i, int ready, int gate) {
            return std::vector<std::string>{"writer", mode, path, std::to_string(i), std::to_string(duration_ms),
                                            std::to_string(ready), std::to_string(gate), dir.file(std::to_string(i) + ".lat")};
        });
        if (!ok) state.SkipWithError("a writer failed");
        state.SetIterationTime(seconds);
        elapsed += double(duration_ms) / 1e3;
        for (int i = 0; i < processes; ++i) {
            std::ifstream file(dir.file(std::to_string(i) + ".lat"), std::ios::binary);
            std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
            const auto* values = reinterpret_cast<const double*>(bytes.data());
            latencies.insert(latencies.end(), values, values + bytes.size() / sizeof(double));
            transactions += double(bytes.size() / sizeof(double));
        }
    }
    state.counters["tx_per_s"] = transactions / elapsed;
    for (auto [name, q] : {std::pair{"p50_us", 0.5}, {"p90_us", 0.9}, {"p99_us", 0.99}, {"p999_us", 0.999}, {"max_us", 1.0}})
        state.counters[name] = bench::quantile(latencies, q);
}

// ---- peak memory ---------------------------------------------------------------------------

void peak_memory(benchmark::State& state, const char* mode) {
    const std::int64_t rows = bench::scaled(1'000'000, 1'000);
    long peak = 0;
    for (auto _ : state) {
        bench::ScratchDir dir("memory");
        int out[2];
        if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
        const pid_t child = spawn({"memory", mode, dir.file("memory.db"), std::to_string(rows)}, {out[0]}, out[1]);
        ::close(out[1]);
        std::string text;
        char buffer[64];
        for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) text.append(buffer, std::size_t(n));
        ::close(out[0]);
        if (!wait_ok(child) || text.empty()) state.SkipWithError("the child failed");
        else peak = std::max(peak, std::stol(text));
    }
    state.counters["peak_kib"] = double(peak);
}

const int herd_rounds = int(bench::scaled(5, 1));
const int spawn_rounds = int(bench::scaled(200, 3));
} // namespace

BENCHMARK(warm_raw_in_process)->Name("warm_start/in_process/raw_sqlite3_open_close")->Unit(benchmark::kMicrosecond);
BENCHMARK(warm_persist_in_process)->Name("warm_start/in_process/persist_open_migrate")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(warm_process, noop, "noop")->Name("warm_start/process/exec_only")->Iterations(spawn_rounds)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(warm_process, raw, "warm-raw")->Name("warm_start/process/raw_sqlite3_open_close")->Iterations(spawn_rounds)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(warm_process, persist, "warm-persist")->Name("warm_start/process/persist_open_migrate")->Iterations(spawn_rounds)->Unit(benchmark::kMicrosecond);

BENCHMARK(herd)->Name("herd/300ms_migration")->Arg(bench::scaled(100, 4))->Iterations(herd_rounds)->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(writers, raw, "raw")->Name("writers/raw_busy_timeout")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(64)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(writers, persist, "persist")->Name("writers/persist")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(64)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(writers, guarded, "guarded")->Name("writers/persist_guarded")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(64)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(peak_memory, floor, "floor")->Name("memory/process_floor")->Iterations(1);
BENCHMARK_CAPTURE(peak_memory, raw, "raw")->Name("memory/insert_1e6/raw_sqlite3")->Iterations(1);
BENCHMARK_CAPTURE(peak_memory, persist, "persist")->Name("memory/insert_1e6/persist")->Iterations(1);

int main(int argc, char** argv) {
    if (argc > 2 && std::string(argv[1]) == "--child") return child_main(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
