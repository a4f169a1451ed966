// Built with `c++ $(pkg-config --cflags --libs persist-sqlite)` against an installed persist,
// and by Conan's test_package against the Conan package.
#include <persist/persist.hpp>

#include <cstdio>

int main() {
    persist::Config config;
    config.db_path = ":memory:";
    persist::SqliteStore store(config);
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE t (v TEXT)");
        tx.execute("INSERT INTO t VALUES (?)", "pkg-config");
    });
    const auto value = store.read([](auto& tx) { return tx.template query_one<std::string>("SELECT v FROM t"); });
    std::printf("%s\n", value.value_or("missing").c_str());
    return value == "pkg-config" ? 0 : 1;
}
