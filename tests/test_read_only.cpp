// Config::read_only: a Store that inspects a backup or another application's database creates,
// writes and checkpoints nothing (no -wal, -shm, lock file or table; a foreign WAL stays where
// it is).
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>
#include <persist/sqlite/dump.hpp>
#include <persist/sqlite/info.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sqlite3.h>
#include <string>
#include <vector>

using namespace persist;
namespace fs = std::filesystem;

namespace {
Config config_at(const std::string& path) { return test::config_at(path, "hostile-test"); }
using test::read_file;
using test::names_in;
} // namespace

namespace {
std::map<std::string, std::string> snapshot_of(const std::string& directory) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::directory_iterator(directory))
        files[entry.path().filename().string()] = fs::is_regular_file(entry.path()) ? read_file(entry.path().string()) : "";
    return files;
}
} // namespace

TEST_CASE("a read-only Store inspects a backup without creating, writing or checkpointing anything") {
    test::TempDir dir;
    {
        SqliteStore store(config_at(dir / "app.db"));
        store.write([](auto& tx) { tx.execute_script("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);"); });
        sqlite::backup(store, dir / "backups/");
    }
    const std::string backups = dir / "backups";
    const std::string copy = backups + "/" + names_in(backups).front();
    const auto before = snapshot_of(backups);
    {
        Config config = config_at(copy);
        config.read_only = true;
        SqliteStore store(config);
        CHECK(sqlite::info(store).row_counts.at("t") == 2);
        CHECK(sqlite::dump_text(store).row_counts.at("t") == 2);
        CHECK_FALSE(store.lock_status("migrate").held);
        CHECK(store.health().ok);
        CHECK_THROWS_WITH_AS(store.write([](auto& tx) { tx.execute("DELETE FROM t"); }),
                             doctest::Contains("was opened read-only (Config::read_only)"), usage_error);
        CHECK_THROWS_WITH_AS(store.with_lock("migrate", [] {}), doctest::Contains("opened read-only"), usage_error);
        SqliteLeaseStore leases(config);
        CHECK_FALSE(leases.lock_status("migrate").held);
    }
    CHECK(snapshot_of(backups) == before);
    CHECK(sqlite::verify(copy).row_counts.at("t") == 2);

    Config missing = config_at(dir / "nothing.db");
    missing.read_only = true;
    CHECK_THROWS_WITH_AS(SqliteStore{missing}, doctest::Contains("(opened read-only, so nothing was created)"), config_error);
    CHECK_FALSE(fs::exists(dir / "nothing.db"));
}

TEST_CASE("a read-only Store never checkpoints a foreign WAL into the file") {
    test::TempDir dir;
    const std::string live = dir / "live.db";
    // Another program's database, caught with committed frames still in its WAL.
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open(live.c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(x); "
                                "INSERT INTO t VALUES (1), (2), (3);", nullptr, nullptr, nullptr) == SQLITE_OK);
    fs::create_directories(dir / "copy");
    for (const char* suffix : {"", "-wal", "-shm"}) fs::copy_file(live + suffix, dir / (std::string("copy/live.db") + suffix));
    sqlite3_close(other);
    const std::string db = dir / "copy/live.db";
    const auto before = snapshot_of(dir / "copy");
    {
        Config config = config_at(db);
        config.read_only = true;
        SqliteStore store(config);
        CHECK(sqlite::info(store).row_counts.at("t") == 3); // read through the WAL
    }
    const auto after = snapshot_of(dir / "copy");
    CHECK(after.at("live.db") == before.at("live.db"));      // not checkpointed into the file
    CHECK(after.at("live.db-wal") == before.at("live.db-wal"));

    SUBCASE("without its -shm, it is refused rather than creating one") {
        fs::remove(db + "-shm");
        Config config = config_at(db);
        config.read_only = true;
        CHECK_THROWS_WITH_AS(SqliteStore{config}, doctest::Contains("has a write-ahead log"), config_error);
        CHECK_FALSE(fs::exists(db + "-shm"));
    }
}
