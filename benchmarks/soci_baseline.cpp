// The SOCI (sqlite3 backend) side of the row workloads in rows.cpp, in a file of its own:
// SOCI's sqlite3 header wraps <sqlite3.h> in a namespace and cannot share a file with it.
#include "soci_baseline.hpp"

#include "common.hpp"

#include <memory>
#include <optional>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

namespace bench {
namespace {
std::unique_ptr<soci::session> soci_open(const std::string& path, std::string_view synchronous = "NORMAL") {
    auto session = std::make_unique<soci::session>(*soci::factory_sqlite3(), "db=" + path);
    // SOCI's sqlite3 backend takes one statement per call.
    const std::string pragmas = baseline_pragmas(path != ":memory:", synchronous);
    for (std::size_t start = 0; start < pragmas.size();) {
        const auto end = std::min(pragmas.find(';', start), pragmas.size());
        *session << pragmas.substr(start, end - start);
        start = end + 1;
    }
    *session << items_ddl;
    return session;
}

} // namespace

namespace {
// A SOCI session with its prepared insert and the variables the insert is bound to.
struct SociInsert {
    std::unique_ptr<soci::session> sql;
    long long id = 0, stock = 0;
    std::string name;
    double price = 0;
    soci::statement insert;
    explicit SociInsert(const std::string& path)
        : sql(soci_open(path)),
          insert((sql->prepare << "INSERT INTO items (id, name, price, stock) VALUES (:id, :name, :price, :stock)",
                  soci::use(id), soci::use(name), soci::use(price), soci::use(stock))) {}
    void insert_all() {
        soci::transaction transaction(*sql);
        for (std::int64_t i = 0; i < insert_rows(); ++i) {
            const Item item = row(i);
            id = item.id;
            name = item.name;
            price = item.price;
            stock = item.stock;
            insert.execute(true);
        }
        transaction.commit();
    }
};
} // namespace

void insert_soci(benchmark::State& state, bool memory) {
    ScratchDir dir("insert-soci");
    bulk_insert_rounds(state, memory ? std::string(":memory:") : dir.file("soci.db"), [](const std::string& path) {
        auto target = std::make_shared<SociInsert>(path);
        return [target] { target->insert_all(); };
    });
}

void get_soci(benchmark::State& state, bool batched) {
    ScratchDir dir("get-soci");
    auto sql = soci_open(dir.file("get.db"));
    *sql << fill_sql(table_rows());
    long long id = 0, found_id = 0, stock = 0;
    std::string name;
    double price = 0;
    soci::statement get = (sql->prepare << "SELECT id, name, price, stock FROM items WHERE id = :id", soci::into(found_id),
                           soci::into(name), soci::into(price), soci::into(stock), soci::use(id));
    for (auto _ : state) {
        std::optional<soci::transaction> transaction;
        if (batched) transaction.emplace(*sql);
        for (std::int64_t i = 0; i < lookups(); ++i) {
            id = key(i);
            std::optional<Item> item;
            if (get.execute(true)) item = Item{found_id, name, price, stock};
            benchmark::DoNotOptimize(item);
        }
        if (transaction) transaction->commit();
    }
    state.SetItemsProcessed(state.iterations() * lookups());
}

void scan_soci(benchmark::State& state) {
    ScratchDir dir("scan-soci");
    auto sql = soci_open(dir.file("scan.db"));
    *sql << fill_sql(scan_rows());
    long long id = 0, stock = 0;
    std::string name;
    double price = 0;
    for (auto _ : state) {
        std::vector<Item> rows;
        soci::transaction transaction(*sql);
        soci::statement scan = (sql->prepare << "SELECT id, name, price, stock FROM items ORDER BY id", soci::into(id),
                                soci::into(name), soci::into(price), soci::into(stock));
        scan.execute();
        while (scan.fetch()) rows.push_back(Item{id, name, price, stock});
        transaction.commit();
        benchmark::DoNotOptimize(rows.data());
    }
    state.SetItemsProcessed(state.iterations() * scan_rows());
}

void commit_soci(benchmark::State& state, const char* synchronous) {
    ScratchDir dir("commit-soci");
    auto sql = soci_open(dir.file("commit.db"), synchronous);
    long long id = 0, stock = 7;
    std::string name = "widget";
    double price = 1.5;
    soci::statement insert = (sql->prepare << "INSERT INTO items (id, name, price, stock) VALUES (:id, :name, :price, :stock)",
                              soci::use(id), soci::use(name), soci::use(price), soci::use(stock));
    for (auto _ : state) {
        insert.execute(true);
        ++id;
    }
    state.SetItemsProcessed(state.iterations());
}

} // namespace bench
