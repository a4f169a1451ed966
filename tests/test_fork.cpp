// A Store used in a child after fork() refuses with a clear error and leaves the parent's
// database intact.
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>

#include <sys/wait.h>

using namespace persist;

TEST_CASE("every call in a forked child is a usage_error; the parent carries on") {
    test::TempDir dir;
    Config config = Config::for_app("fork");
    config.db_path = dir / "fork.db";
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE t (v INTEGER)");
        tx.execute("INSERT INTO t VALUES (1)");
    });

    auto* shared = &store;
    const auto write_result = test::run_in_child([&] { shared->write([](auto& tx) { tx.execute("INSERT INTO t VALUES (2)"); }); }, false);
    CHECK(write_result.starts_with("usage_error: this Store was opened in process " + std::to_string(::getpid()) +
                                   " and is being used in process "));
    CHECK(write_result.ends_with(" after fork(); database connections must not cross fork(). Fork before "
                                 "opening the Store, or exec() in the child and open a Store there"));
    CHECK(test::run_in_child([&] { shared->read([](auto&) {}); }, false).starts_with("usage_error: this Store"));
    CHECK(test::run_in_child([&] { shared->health(); }, false).starts_with("usage_error: this Store"));

    // A child that destroys its copy of the Store must not close the parent's connections
    // (closing could checkpoint or drop locks the parent relies on).
    const pid_t child = ::fork();
    if (child == 0) {
        std::destroy_at(&store); // what the child's stack unwinding would do
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);

    store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (4)"); });
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT v FROM t ORDER BY v"); }) ==
          std::vector<int>{1, 4});
    CHECK(store.read([](auto& tx) { return tx.template query_one<std::string>("PRAGMA integrity_check"); }) == "ok");
}
