#include <persist/persist.hpp>

#include <cstdio>

int main() {
    persist::Config config;
    config.db_path = ":memory:";
    persist::SqliteStore store(config);
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE t (v TEXT)");
        tx.execute("INSERT INTO t VALUES (?)", "installed");
    });
    const auto value = store.read([](auto& tx) { return tx.template query_one<std::string>("SELECT v FROM t"); });
    std::printf("%s\n", value.value_or("missing").c_str());
    return value == "installed" ? 0 : 1;
}
