// Failing system calls under a Store, injected with tests/posix_faults.hpp: a COMMIT whose
// fsync fails (outcome unknown, never "rolled back"), a migration whose COMMIT fails, one failed
// open of the -shm file, lock files that cannot be opened, and the WAL-reset mitigation. Each
// case was a defect found by adversarial testing; each fails on the code before its fix.
#include "posix_faults.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/migrate.hpp>
#include <persist/sqlite.hpp>
#include <persist/sqlite/info.hpp>
#include <persist/sqlite/wal_reset.hpp>

#include <filesystem>
#include <sqlite3.h>
#include <string>

using namespace persist;
namespace fs = std::filesystem;

namespace {
Config config_at(const std::string& path) { return test::config_at(path, "hostile-test"); }
} // namespace

TEST_CASE("a COMMIT whose fsync fails is outcome-unknown, never 'rolled back', and the writer is replaced") {
    using namespace test::posix_faults;
    test::TempDir dir;
    Config config = config_at(dir / "app.db");
    config.durability = Durability::full;
    std::vector<std::string> warnings;
    config.on_event = [&](const Event& e) {
        if (e.kind == Event::Kind::warning) warnings.push_back(e.message);
    };
    {
        SqliteStore store(config);
        store.write([](auto& tx) { tx.execute_script("CREATE TABLE t(x INTEGER)"); });
        fsync_fault.arm(1);
        try {
            store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (1)"); });
            FAIL("a failed fsync in COMMIT was reported as success");
        } catch (const commit_outcome_unknown& e) {
            CHECK(e.code() == errc::outcome_unknown);
            CHECK_FALSE(e.retriable());
            CHECK((e.native_code() & 0xff) == SQLITE_IOERR);
            CHECK(std::string(e.what()).find("may or may not be committed") != std::string::npos);
            CHECK(std::string(e.what()).find("rolled back") == std::string::npos);
        }
        fsync_fault.arm(0);
        REQUIRE(warnings.size() == 1);
        CHECK(warnings[0].find("it was reopened") != std::string::npos);
        // The replaced writer works.
        store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (2)"); });
        CHECK(store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM t WHERE x = 2")[0]; }) == 1);
    }
    // Reopened: the first row may or may not be there, which is what "unknown" promised; the
    // second, acknowledged, is.
    SqliteStore reopened(config);
    CHECK(reopened.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM t WHERE x = 2")[0]; }) == 1);
}

TEST_CASE("a migration whose COMMIT fails is reported from the history as it stands, never as rolled back") {
    using namespace test::posix_faults;
    test::TempDir dir;
    Config config = config_at(dir / "app.db");
    config.durability = Durability::full;
    using Migrations = migrate::Embedded<migrate::Sql<1, "first", "CREATE TABLE a(x)">, migrate::Sql<2, "second", "CREATE TABLE b(x)">>;
    {
        SqliteStore store(config);
        store.migrate(migrate::Embedded<migrate::Sql<1, "first", "CREATE TABLE a(x)">>{});
        fsync_fault.arm(1);
        try {
            store.migrate(Migrations{});
            FAIL("a failed COMMIT was reported as success");
        } catch (const migrate::migration_refused& e) {
            CHECK(e.reason() == migrate::Reason::failed);
            CHECK(e.version() == 2);
            const std::string message = e.what();
            CHECK(message.find("may or may not be committed") != std::string::npos);
            CHECK(message.find("the database holds all of it or none of it") != std::string::npos);
            CHECK(message.find("rolled back") == std::string::npos);
        }
        fsync_fault.arm(0);
    }
    // After reopening, migration 2 and its history row are both there or both absent; running
    // migrate again finishes the work either way.
    SqliteStore reopened(config);
    const auto state = reopened.read([](auto& tx) {
        return std::pair(tx.template query<std::int64_t>("SELECT count(*) FROM persist_schema_history WHERE version = 2")[0],
                         tx.template query<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = 'b'")[0]);
    });
    CHECK(state.first == state.second);
    reopened.migrate(Migrations{});
    CHECK(reopened.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM sqlite_schema WHERE name = 'b'")[0]; }) == 1);
}

TEST_CASE("one failed open of the -shm file does not leave the Store read-only") {
    using namespace test::posix_faults;
    test::TempDir dir;
    {
        SqliteStore first(config_at(dir / "app.db"));
        first.write([](auto& tx) { tx.execute_script("CREATE TABLE t(x)"); });
    }
    for (const int code : {EIO, ENOSPC}) {
        CAPTURE(code);
        open_suffix = "-shm";
        open_fault.arm(1, code);
        SqliteStore store(config_at(dir / "app.db"));
        open_fault.arm(0);
        store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (1)"); });
        CHECK(store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM t")[0]; }) >= 1);
    }
}

TEST_CASE("a lock file that cannot be opened is classified by errno") {
    using namespace test::posix_faults;
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    open_suffix = ".job.lock";
    const std::pair<int, const char*> cases[] = {
        {EMFILE, "too many open files"}, {ENOSPC, "free space"}, {EIO, "check the disk holding it"}};
    for (const auto& entry : cases) {
        const int code = entry.first;
        const char* fix = entry.second;
        CAPTURE(code);
        open_fault.arm(1, code);
        CHECK_THROWS_WITH_AS(store.with_lock("job", [] {}), doctest::Contains(fix), io_error);
        open_fault.arm(0);
    }
    open_fault.arm(1, EACCES);
    CHECK_THROWS_WITH_AS(store.with_lock("job", [] {}), doctest::Contains("make its directory writable"), permission_error);
    open_fault.arm(0);
    // Regression: the failed opens left empty entries that crashed every later fork()ed child.
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    open_suffix = "-shm";
    // A symlink planted at the lock file's name is refused, not followed.
    fs::create_symlink(dir / "elsewhere", dir / "app.db.planted.lock");
    CHECK_THROWS_WITH_AS(store.with_lock("planted", [] {}), doctest::Contains("it is a symbolic link"), config_error);
    CHECK_FALSE(fs::exists(dir / "elsewhere"));
    store.with_lock("job", [] {});
}

TEST_CASE("the WAL-reset bug: which SQLite versions have it") {
    CHECK_FALSE(sqlite::has_wal_reset_bug(3006023)); // before WAL
    CHECK(sqlite::has_wal_reset_bug(3007000));
    CHECK(sqlite::has_wal_reset_bug(3040001)); // Debian 12
    CHECK(sqlite::has_wal_reset_bug(3044005));
    CHECK_FALSE(sqlite::has_wal_reset_bug(3044006));
    CHECK(sqlite::has_wal_reset_bug(3045000));
    CHECK(sqlite::has_wal_reset_bug(3050006));
    CHECK_FALSE(sqlite::has_wal_reset_bug(3050007));
    CHECK(sqlite::has_wal_reset_bug(3051002));
    CHECK_FALSE(sqlite::has_wal_reset_bug(3051003));
    CHECK_FALSE(sqlite::has_wal_reset_bug(3053000));
}

TEST_CASE("on an affected SQLite the mitigation is on: no automatic checkpoint, checkpoints under the write lock") {
    test::TempDir dir;
    std::vector<std::string> infos;
    Config config = config_at(dir / "app.db");
    config.on_event = [&](const Event& e) {
        if (e.kind == Event::Kind::info) infos.push_back(e.message);
    };
    SqliteStore store(config);
    const bool affected = sqlite::has_wal_reset_bug(sqlite3_libversion_number());
    CHECK(sqlite::wal_reset_mitigation_active() == affected);
    const auto status = sqlite::wal_reset_status();
    const bool announced = std::find(infos.begin(), infos.end(), status) != infos.end();
    CHECK(announced == affected);
    const auto autocheckpoint = [](auto& tx) { return tx.template query<std::int64_t>("PRAGMA wal_autocheckpoint")[0]; };
    CHECK(store.write(autocheckpoint) == (affected ? 0 : 1000));
    CHECK(store.read(autocheckpoint) == (affected ? 0 : 1000));
    CHECK(sqlite::info(store).wal_reset == status);
    // Checkpoints still happen: the rows reach the database file while the Store is open.
    store.write([](auto& tx) { tx.execute_script("CREATE TABLE t(x BLOB)"); });
    for (int i = 0; i < 60; ++i)
        store.write([](auto& tx) {
            for (int k = 0; k < 20; ++k) tx.execute("INSERT INTO t VALUES (?)", persist::Blob(3500, std::byte{1}));
        });
    CHECK(fs::file_size(dir / "app.db") > 3'000'000); // 1200 rows of one page each; 1000 frames trigger one
}
