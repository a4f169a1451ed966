// Encrypted columns: the cost of AES-256-GCM per value, part of bench_rows (rows.cpp has its
// main). The same rows with a 40-character token stored plain and as persist::Encrypted (sealed
// on insert, opened on get): insert them in one write, then read each back in one read.
#include "common.hpp"

#include <benchmark/benchmark.h>
#include <persist/crypto/encrypted.hpp>
#include <persist/schema.hpp>
#include <persist/sqlite.hpp>

#include <cstdint>
#include <string>

namespace {
struct PlainSecret {
    std::int64_t id;
    std::string token;
};
struct SealedSecret {
    std::int64_t id;
    persist::Encrypted<std::string> token;
};
using PlainSecrets = persist::schema::Table<"secrets", persist::schema::Column<&PlainSecret::id, "id", persist::schema::primary_key>,
                                            persist::schema::Column<&PlainSecret::token, "token">>;
using SealedSecrets = persist::schema::Table<"secrets", persist::schema::Column<&SealedSecret::id, "id", persist::schema::primary_key>,
                                             persist::schema::Column<&SealedSecret::token, "token">>;
const std::int64_t secret_rows = bench::scaled(20'000, 50);

template <class Table, class Row>
void secrets(benchmark::State& state) {
    persist::Config config = persist::Config::for_app("bench");
    config.db_path = ":memory:";
    config.keys = persist::crypto::Keyring::from_text("1:" + std::string(64, '7'));
    persist::SqliteStore store(config);
    store.write([](auto& tx) { tx.execute_script(persist::schema::Schema<Table>::template create_script<persist::sqlite::Dialect>()); });
    const std::string token = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
    std::int64_t next = 0;
    const bench::Collect collect;
    for (auto _ : state) {
        const std::int64_t first = next;
        store.write([&](auto& tx) {
            for (std::int64_t i = 0; i < secret_rows; ++i) persist::schema::insert<Table>(tx, Row{next++, token});
        });
        store.read([&](auto& tx) {
            for (std::int64_t i = first; i < next; ++i) benchmark::DoNotOptimize(persist::schema::get<Table>(tx, i));
        });
    }
    state.SetItemsProcessed(state.iterations() * secret_rows);
}

const int heavy = bench::callgrind() ? 1 : int(bench::scaled(3, 1));
} // namespace

BENCHMARK(secrets<PlainSecrets, PlainSecret>)->Name("secrets/insert_get/plain")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(secrets<SealedSecrets, SealedSecret>)->Name("secrets/insert_get/encrypted")->Iterations(heavy)->UseRealTime()->Unit(benchmark::kMillisecond);
