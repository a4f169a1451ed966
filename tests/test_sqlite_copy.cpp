// Exactly one copy of SQLite in the process: SQLiteCpp and persist call the same library.
#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>

#include <SQLiteCpp/Database.h>
#include <dlfcn.h>
#include <link.h>
#include <sqlite3.h>
#include <string>

namespace {
int loaded_sqlite_objects() {
    int count = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) {
            if (std::string(info->dlpi_name).find("libsqlite3") != std::string::npos) ++*static_cast<int*>(data);
            return 0;
        },
        &count);
    return count;
}
} // namespace

TEST_CASE("SQLiteCpp and persist share one SQLite library") {
    // sqlite3_libversion returns a pointer to a string inside the library; two copies of SQLite
    // would return two different addresses.
    CHECK(static_cast<const void*>(SQLite::getLibVersion()) == static_cast<const void*>(sqlite3_libversion()));
    CHECK(SQLite::getLibVersionNumber() == sqlite3_libversion_number());

    Dl_info where{};
    REQUIRE(dladdr(reinterpret_cast<void*>(&sqlite3_libversion), &where) != 0);
    CHECK(std::string(where.dli_fname).find("libsqlite3.so") != std::string::npos);
    CHECK(loaded_sqlite_objects() == 1);

    // The version a persist connection reports is the same library's.
    persist::Config config;
    config.db_path = ":memory:";
    persist::Store<persist::sqlite::Backend> store(config);
    CHECK(store.read([](auto& tx) { return tx.template query_one<std::string>("SELECT sqlite_version()"); }) ==
          std::string(sqlite3_libversion()));
}
