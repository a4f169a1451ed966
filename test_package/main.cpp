// Consumes the Conan package: a SQLite store in memory, written and read back.
#include <persist/sqlite.hpp>

#include <cstdio>

int main() {
    persist::Config config;
    config.db_path = ":memory:";
    persist::SqliteStore store(config);
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE t (v TEXT)");
        tx.execute("INSERT INTO t VALUES (?)", "conan");
    });
    const auto value = store.read([](auto& tx) { return tx.query_one(persist::as<std::string>, "SELECT v FROM t"); });
    std::printf("%s\n", value.value_or("missing").c_str());
    return value == "conan" ? 0 : 1;
}
