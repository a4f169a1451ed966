// Shared pieces of the benchmark programs: the row and table every workload uses, the
// pragmas every baseline applies (the same ones persist applies), scratch directories, the
// smoke mode CI uses, and percentiles. Includes no SQLite header: SOCI's sqlite3 backend
// header wraps <sqlite3.h> in a namespace of its own and cannot share a file with it.
#pragma once

#include <algorithm>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif

namespace bench {

/// The 4-column row of the row workloads.
struct Item {
    std::int64_t id;
    std::string name;
    double price;
    std::int64_t stock;
};

/// The row every insert workload writes as row i.
inline Item row(std::int64_t i) { return Item{i, "widget", 1.5, 7}; }

inline constexpr const char* items_ddl =
    "CREATE TABLE IF NOT EXISTS items (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
    "price REAL NOT NULL, stock INTEGER NOT NULL)";
inline constexpr const char* insert_sql = "INSERT INTO items (id, name, price, stock) VALUES (?, ?, ?, ?)";
inline constexpr const char* get_sql = "SELECT id, name, price, stock FROM items WHERE id = ?";
inline constexpr const char* scan_sql = "SELECT id, name, price, stock FROM items";

/// Fills items with ids 0 .. n-1 in one statement (setup, not measured).
inline std::string fill_sql(std::int64_t n) {
    return "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(n - 1) +
           ") INSERT INTO items SELECT i, 'widget-' || i, i * 0.5, i % 100 FROM n";
}

/// The connection pragmas persist applies (sqlite/connection.hpp), for the baselines.
/// `synchronous` is NORMAL or FULL; journal_mode=WAL is added for files.
inline std::string baseline_pragmas(bool file, std::string_view synchronous = "NORMAL") {
    return std::string("PRAGMA busy_timeout=30000;PRAGMA foreign_keys=ON;PRAGMA temp_store=MEMORY;"
                       "PRAGMA trusted_schema=OFF;PRAGMA cache_size=-8192;") +
           (file ? "PRAGMA journal_mode=WAL;" : "") + "PRAGMA synchronous=" + std::string(synchronous);
}

/// CI runs every benchmark once with tiny sizes: PERSIST_BENCH_SMOKE=1.
inline bool smoke() {
    // Read once: key() asks for every lookup, and getenv per call made 3.5 % of the point-select
    // workloads' instructions (callgrind), the same for every library, diluting their ratios.
    static const bool value = [] {
        const char* text = std::getenv("PERSIST_BENCH_SMOKE");
        return text && *text && std::string_view(text) != "0";
    }();
    return value;
}

/// benchmarks/run counts instructions of the CPU-bound rows under callgrind with
/// PERSIST_BENCH_CALLGRIND=1: sizes are a twentieth of the full ones (unless smoke), and each
/// row runs once.
inline bool callgrind() {
    static const bool value = [] {
        const char* text = std::getenv("PERSIST_BENCH_CALLGRIND");
        return text && *text && std::string_view(text) != "0";
    }();
    return value;
}

/// `full` normally (a twentieth of it under callgrind), `tiny` in smoke mode.
inline std::int64_t scaled(std::int64_t full, std::int64_t tiny) {
    if (smoke()) return tiny;
    return callgrind() ? std::max<std::int64_t>(full / 20, 1) : full;
}

/// Counts instructions only while it lives, when the program runs under callgrind with
/// --collect-atstart=no (set-up such as filling a table is left out); does nothing otherwise.
struct Collect {
#if __has_include(<valgrind/callgrind.h>)
    Collect() { CALLGRIND_TOGGLE_COLLECT; }
    ~Collect() { CALLGRIND_TOGGLE_COLLECT; }
#endif
    Collect(const Collect&) = delete;
    Collect& operator=(const Collect&) = delete;
};

/// A scratch directory under /tmp (or PERSIST_BENCH_DIR, to measure another disk), removed
/// at exit of the scope.
class ScratchDir {
public:
    explicit ScratchDir(std::string_view tag) {
        const char* base = std::getenv("PERSIST_BENCH_DIR");
        path_ = std::filesystem::path(base && *base ? base : "/tmp") /
                ("persist-bench-" + std::string(tag) + "-" + std::to_string(::getpid()));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    std::string file(std::string_view name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

/// The q-quantile (0..1) of `samples` (sorted in place), nearest rank.
inline double quantile(std::vector<double>& samples, double q) {
    if (samples.empty()) return 0;
    std::sort(samples.begin(), samples.end());
    const auto rank = static_cast<std::size_t>(q * double(samples.size() - 1) + 0.5);
    return samples[std::min(rank, samples.size() - 1)];
}

/// Row workload sizes: the 1e6 rows and lookups; a few hundred in smoke mode.
inline std::int64_t insert_rows() { return scaled(1'000'000, 200); }
inline std::int64_t table_rows() { return scaled(100'000, 200); }
inline std::int64_t lookups() { return scaled(1'000'000, 200); }
inline std::int64_t scan_rows() { return scaled(1'000'000, 200); }
/// The keys looked up, in a fixed pseudo-random order (the same for every library).
inline std::int64_t key(std::int64_t i) { return (i * 7919) % table_rows(); }

/// The bulk-insert loop every library shares: per iteration a new database at `path`
/// (":memory:" or a file, deleted first), `open(path)` untimed, which returns the timed
/// work; closing the database (the returned object going away) is untimed too.
template <class Open>
void bulk_insert_rounds(benchmark::State& state, const std::string& path, Open open) {
    for (auto _ : state) {
        state.PauseTiming();
        if (path != ":memory:") {
            std::filesystem::remove(path);
            std::filesystem::remove(path + "-wal");
        }
        {
            auto insert_all = open(path);
            state.ResumeTiming();
            {
                Collect collect;
                insert_all();
            }
            state.PauseTiming();
        }
        state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * insert_rows());
}

inline std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

} // namespace bench
