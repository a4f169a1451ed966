// Many processes migrating one database at once (fork+exec of tests/migrate_helper), and a
// migrating process killed midway.
#include "herd.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

using namespace persist;

namespace {
// 100, or PERSIST_HERD_PROCESSES (the sanitizer builds use fewer: see tests/CMakeLists.txt).
const int processes = [] {
    const char* value = std::getenv("PERSIST_HERD_PROCESSES");
    return value ? std::max(2, std::atoi(value)) : 100;
}();

int repetitions() {
    const char* value = std::getenv("PERSIST_HERD_REPETITIONS");
    return value ? std::atoi(value) : 10;
}

test::Process helper(const std::string& policy, const std::string& db, int upto, const std::string& barrier = "-",
                     const std::string& mode = "") {
    std::vector<std::string> args{PERSIST_MIGRATE_HELPER, policy, db, std::to_string(upto), barrier};
    if (!mode.empty()) args.push_back(mode);
    return test::Process(args);
}

template <class T>
T value(const std::string& db, const std::string& sql) {
    Config config = Config::for_app("herd");
    config.db_path = db;
    Store<sqlite::Backend> store(config);
    return store.read([&](auto& tx) { return tx.template query<T>(sql)[0]; });
}

void herd(const std::string& policy, bool one_behind) {
    for (int round = 0; round < repetitions(); ++round) {
        test::TempDir dir;
        const std::string db = dir / "herd.db";
        if (one_behind) {
            auto setup = helper(policy, db, 3);
            REQUIRE(setup.line() == "applied 1,2,3, head 3");
        }
        std::vector<test::Process> herd;
        for (int i = 0; i < processes; ++i) herd.push_back(helper(policy, db, 4, dir / "go"));
        { std::ofstream go(dir / "go"); } // the barrier: all start at once
        const auto outcome = test::tally(herd, 4);
        for (const auto& line : outcome.unexpected) MESSAGE("unexpected: " << line);
        CHECK(outcome.unexpected.empty());
        // Exactly one process applied each pending migration.
        std::map<int, int> expected = one_behind ? std::map<int, int>{{4, 1}} : std::map<int, int>{{1, 1}, {2, 1}, {3, 1}, {4, 1}};
        CHECK(outcome.applied_by_count == expected);
        CHECK(value<std::int64_t>(db, "SELECT count(*) FROM events WHERE what = 'seeded once'") == 1);
        CHECK(value<std::int64_t>(db, "SELECT count(*) FROM persist_schema_history WHERE state = 'applied'") == 4);
        CHECK(value<std::string>(db, "PRAGMA integrity_check") == "ok");
    }
}
} // namespace

TEST_CASE("a herd of processes (100 by default) migrate a fresh database (lock::File)") { herd("ofd", false); }
TEST_CASE("a herd of processes (100 by default) migrate a database one version behind (lock::File)") { herd("ofd", true); }
TEST_CASE("a herd of processes (100 by default) migrate a fresh database (lock::Table)") { herd("table", false); }
TEST_CASE("a herd of processes (100 by default) migrate a database one version behind (lock::Table)") { herd("table", true); }
TEST_CASE("a herd of processes (100 by default) migrate a fresh database (no lock policy: transactions alone)") { herd("none", false); }

TEST_CASE("SIGKILL of the process applying a slow migration: the next one finishes the work") {
    for (const std::string policy : {"ofd", "table"}) {
        test::TempDir dir;
        const std::string db = dir / "killed.db";
        auto slow = helper(policy, db, 4, "-", "slow");
        REQUIRE(slow.line() == "applying 3");
        slow.signal(SIGKILL);
        slow.wait();
        auto next = helper(policy, db, 4);
        CHECK(next.line(std::chrono::seconds(30)) == "applied 3,4, head 4"); // the Table lease expires after 2 s
        CHECK(value<std::int64_t>(db, "SELECT count(*) FROM events WHERE what = 'seeded once'") == 1);
        CHECK(value<std::int64_t>(db, "SELECT count(*) FROM persist_schema_history WHERE state <> 'applied'") == 0);
        CHECK(value<std::string>(db, "PRAGMA integrity_check") == "ok");
    }
}
