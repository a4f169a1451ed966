// Row workloads through SOCI's sqlite3 backend, registered by rows.cpp beside the others.
#pragma once

#include <benchmark/benchmark.h>

namespace bench {
/// Bulk insert in one transaction, into ":memory:" or a WAL file.
void insert_soci(benchmark::State& state, bool memory);
/// Point selects, one per read (autocommit) or batched in one transaction.
void get_soci(benchmark::State& state, bool batched);
/// Every row into a vector of Item.
void scan_soci(benchmark::State& state);
/// Single-row autocommit inserts with synchronous = `synchronous`.
void commit_soci(benchmark::State& state, const char* synchronous);
} // namespace bench
