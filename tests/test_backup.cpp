// Online backup, verify and restore (persist/sqlite/backup.hpp); dump, load and info are in
// test_dump.cpp.
#include "notes_table.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>
#include <persist/sqlite/dump.hpp>
#include <persist/sqlite/info.hpp>

#include <chrono>
#include <nlohmann/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sqlite3.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace persist;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
using test::rows;
using test::seed;
Config config_at(const std::string& path) { return test::config_at(path, "backup-test"); }
using test::read_file;
using test::write_file;
std::string integrity(const std::string& path) {
    sqlite3* db = nullptr;
    sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* statement = nullptr;
    std::string result = "no answer";
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW)
        result = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return result;
}
} // namespace

TEST_CASE("a backup is a verified copy with a manifest, under the final name only when complete") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    seed(store, 2500);
    fs::create_directories(dir / "backups");
    std::vector<sqlite::Progress> progress;
    sqlite::BackupOptions options;
    options.pages_per_step = 2;
    options.on_progress = [&](const sqlite::Progress& p) { progress.push_back(p); };
    const auto made = sqlite::backup(store, dir / "backups", options);

    CHECK(fs::path(made.path).parent_path() == fs::path(dir / "backups"));
    CHECK(fs::path(made.path).filename().string().starts_with("app-"));
    CHECK(made.manifest_path == made.path + ".manifest");
    CHECK(made.manifest.row_counts.at("notes") == 2500);
    CHECK(made.manifest.sha256.size() == 64);
    CHECK_FALSE(fs::exists(made.path + "-wal")); // a self-contained file
    REQUIRE(progress.size() >= 2);
    CHECK(progress.back().done == progress.back().total);
    CHECK(progress.front().done < progress.front().total);
    // Only the backup and its manifest: no temporary file is left behind.
    CHECK(std::distance(fs::directory_iterator(dir / "backups"), fs::directory_iterator{}) == 2);

    std::vector<sqlite::Progress> hashed;
    const auto checked = sqlite::verify(made.path, [&](const sqlite::Progress& p) { hashed.push_back(p); });
    CHECK(checked.row_counts.at("notes") == 2500);
    REQUIRE_FALSE(hashed.empty());
    CHECK(hashed.back().done == made.manifest.size);
    CHECK(checked.sha256 == made.manifest.sha256);
}

TEST_CASE("the manifest records the applied migrations and the schema version") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    store.migrate(migrate::Embedded<migrate::Sql<1, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)">,
                                    migrate::Sql<2, "tags", "CREATE TABLE tags (name TEXT PRIMARY KEY)">>{});
    const auto made = sqlite::backup(store, dir / "copy.db");
    CHECK(made.path == dir / "copy.db");
    // A destination ending in '/' is a directory, created when missing.
    const auto into_new = sqlite::backup(store, dir / "new/dir/");
    CHECK(fs::path(into_new.path).parent_path() == fs::path(dir / "new/dir"));
    CHECK(sqlite::verify(into_new.path).schema_version == 2);
    CHECK(made.manifest.schema_version == 2);
    CHECK(made.manifest.migrations.size() == 2);
    const auto text = read_file(made.manifest_path);
    CHECK(nlohmann::json::parse(text)["schema_version"] == 2);
    CHECK(sqlite::Manifest::parse(text, made.manifest_path).migrations == made.manifest.migrations);
}

TEST_CASE("retention keeps the newest N backups of the database") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    seed(store, 3);
    fs::create_directories(dir / "backups");
    sqlite::BackupOptions keep_two;
    keep_two.keep = 2;
    std::vector<std::string> made;
    for (int i = 0; i < 4; ++i) made.push_back(sqlite::backup(store, dir / "backups", keep_two).path);
    CHECK_FALSE(fs::exists(made[0]));
    CHECK_FALSE(fs::exists(made[0] + ".manifest"));
    CHECK_FALSE(fs::exists(made[1]));
    CHECK(fs::exists(made[2]));
    CHECK(fs::exists(made[3]));
    CHECK(fs::exists(made[3] + ".manifest"));
}

TEST_CASE("retention never touches the backups of another database whose name starts the same") {
    test::TempDir dir;
    SqliteStore app(config_at(dir / "app.db"));
    SqliteStore app_test(config_at(dir / "app-test.db")); // its backups: "app-test-<time>.backup.db"
    seed(app, 1);
    seed(app_test, 1);
    fs::create_directories(dir / "backups");
    const auto other = sqlite::backup(app_test, dir / "backups").path;
    write_file(dir / "backups/app-notes.backup.db", "a file of the operator's, not a backup persist named");
    sqlite::BackupOptions keep_one;
    keep_one.keep = 1;
    const auto first = sqlite::backup(app, dir / "backups", keep_one).path;
    const auto second = sqlite::backup(app, dir / "backups", keep_one);
    CHECK(second.removed == std::vector<std::string>{first});
    CHECK(fs::exists(other));
    CHECK(fs::exists(other + ".manifest"));
    CHECK(read_file(dir / "backups/app-notes.backup.db") == "a file of the operator's, not a backup persist named");
}

TEST_CASE("backup refuses an in-memory database and an existing destination file, creating nothing") {
    test::TempDir dir;
    SqliteStore memory(config_at(":memory:"));
    CHECK_THROWS_WITH_AS(sqlite::backup(memory, dir / "x.db"),
                         doctest::Contains("an in-memory database has nothing to back up"), usage_error);
    CHECK_FALSE(fs::exists(dir / "x.db"));

    SqliteStore store(config_at(dir / "app.db"));
    seed(store, 1);
    write_file(dir / "taken.db", "mine");
    CHECK_THROWS_WITH_AS(sqlite::backup(store, dir / "taken.db"), doctest::Contains("already exists; pass a directory"),
                         usage_error);
    CHECK(read_file(dir / "taken.db") == "mine");
}

TEST_CASE("verify and restore refuse a damaged backup, and the live database stays as it was") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    seed(store, 100);
    const auto made = sqlite::backup(store, dir / "good.db");
    store.write([](auto& tx) { tx.execute("INSERT INTO notes (body) VALUES ('after the backup')"); });
    const std::string original = read_file(made.path);

    SUBCASE("a flipped byte") {
        std::string bytes = original;
        bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
        write_file(made.path, bytes);
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("SHA-256 is"), backup_error);
    }
    SUBCASE("a truncated file") {
        write_file(made.path, original.substr(0, original.size() / 3));
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("bytes, the manifest says"), backup_error);
    }
    SUBCASE("not a database at all") {
        write_file(made.path, std::string(original.size(), 'x'));
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("does not verify"), backup_error);
    }
    SUBCASE("a manifest that does not match the file (its own checksum recomputed)") {
        auto forged = sqlite::Manifest::parse(read_file(made.manifest_path), made.manifest_path);
        forged.row_counts["notes"] = 999;
        write_file(made.manifest_path, forged.text());
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("table notes has 100 rows, the manifest says 999"),
                             backup_error);
    }
    SUBCASE("a missing manifest") {
        fs::remove(made.manifest_path);
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("has no manifest"), backup_error);
    }
    SUBCASE("a manifest persist did not write") {
        write_file(made.manifest_path, "hello\n");
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("not valid JSON"), backup_error);
    }
    SUBCASE("an empty manifest") {
        write_file(made.manifest_path, "");
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("not valid JSON"), backup_error);
    }
    SUBCASE("a manifest with an unknown key") {
        auto document = nlohmann::json::parse(read_file(made.manifest_path));
        document["colour"] = "blue";
        write_file(made.manifest_path, document.dump());
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("unexpected key \"colour\""), backup_error);
    }
    SUBCASE("a manifest with a malformed number") {
        auto document = nlohmann::json::parse(read_file(made.manifest_path));
        document["tables"][0]["rows"] = "ten";
        write_file(made.manifest_path, document.dump());
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("the rows of table notes is not an integer"),
                             backup_error);
    }
    SUBCASE("a manifest without its checksum") {
        auto document = nlohmann::json::parse(read_file(made.manifest_path));
        document.erase("sha256");
        write_file(made.manifest_path, document.dump());
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("key \"sha256\" is missing"), backup_error);
    }
    // Regressions: the line format accepted each of these edits.
    SUBCASE("an edited persist version") {
        auto document = nlohmann::json::parse(read_file(made.manifest_path));
        document["persist_version"] = "9.9.9";
        write_file(made.manifest_path, document.dump());
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("manifest_sha256 does not match its other fields"),
                             backup_error);
    }
    SUBCASE("an edited creation time") {
        auto forged = sqlite::Manifest::parse(read_file(made.manifest_path), made.manifest_path);
        forged.created_at = "yesterday";
        write_file(made.manifest_path, forged.text());
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("created_at is not a UTC time"), backup_error);
    }
    SUBCASE("a number with a leading zero") {
        std::string manifest = read_file(made.manifest_path);
        const auto at = manifest.find("\"size\": ");
        REQUIRE(at != std::string::npos);
        manifest.insert(at + 8, "0");
        write_file(made.manifest_path, manifest);
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("not valid JSON"), backup_error);
    }
    SUBCASE("trailing words") {
        write_file(made.manifest_path, read_file(made.manifest_path) + "and more\n");
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("not valid JSON"), backup_error);
    }
    SUBCASE("a key given twice") {
        std::string manifest = read_file(made.manifest_path);
        const auto at = manifest.find("\"size\": ");
        manifest.insert(at, "\"size\": 1,\n ");
        write_file(made.manifest_path, manifest);
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("key \"size\" appears more than once"),
                             backup_error);
    }
    SUBCASE("a manifest that is a FIFO: refused without blocking on it") {
        fs::remove(made.manifest_path);
        REQUIRE(::mkfifo(made.manifest_path.c_str(), 0600) == 0);
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path),
                             ("manifest " + made.manifest_path + " is not a regular file").c_str(), backup_error);
    }
    SUBCASE("a manifest that is a directory") {
        fs::remove(made.manifest_path);
        fs::create_directory(made.manifest_path);
        CHECK_THROWS_WITH_AS(sqlite::verify(made.path), doctest::Contains("is not a regular file"), backup_error);
    }
    CHECK_THROWS_AS(sqlite::restore(store, made.path), backup_error);
    CHECK(rows(store) == 101);
    CHECK_FALSE(fs::exists(dir / "app.db.before-restore"));
}

TEST_CASE("backup and dump into a directory that does not exist are io_error, leaving nothing") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    seed(store, 1);
    CHECK_THROWS_WITH_AS(sqlite::backup(store, dir / "missing/copy.db"),
                         doctest::Contains("No such file or directory"), io_error);
    CHECK_THROWS_WITH_AS(sqlite::dump(store, dir / "missing/app.sql"),
                         doctest::Contains("No such file or directory"), io_error);
    CHECK_FALSE(fs::exists(dir / "missing"));
}

TEST_CASE("verify of a file that does not exist names it") {
    test::TempDir dir;
    CHECK_THROWS_WITH_AS(sqlite::verify(dir / "nothing.db"), doctest::Contains("nothing.db does not exist"), backup_error);
}

TEST_CASE("restore brings the backup back, keeps a safety copy, and other connections see it") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    seed(store, 10);
    const auto made = sqlite::backup(store, dir / "ten.db");
    seed(store, 5);
    SqliteStore other(config_at(dir / "app.db"));
    CHECK(rows(other) == 15);

    const auto restored = sqlite::restore(store, made.path);
    CHECK(rows(store) == 10);
    CHECK(rows(other) == 10);
    CHECK(restored.manifest.row_counts.at("notes") == 10);
    // The database as it was before is kept, and is itself a verified backup.
    REQUIRE(fs::exists(restored.safety_copy));
    CHECK(sqlite::verify(restored.safety_copy).row_counts.at("notes") == 15);
    CHECK(integrity(dir / "app.db") == "ok");
}

TEST_CASE("backups taken while another process writes 500 rows/s all verify, with counts in between") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    seed(store, 1);
    const pid_t writer = ::fork();
    if (writer == 0) {
        // The child opens its own Store (connections must not cross fork()).
        try {
            SqliteStore own(config_at(dir / "app.db"));
            for (int i = 0; i < 1500; ++i) {
                own.write([&](auto& tx) { tx.execute("INSERT INTO notes (body) VALUES (?)", "live " + std::to_string(i)); });
                std::this_thread::sleep_for(2ms);
            }
        } catch (...) {
            ::_exit(1);
        }
        ::_exit(0);
    }
    fs::create_directories(dir / "backups");
    for (int round = 0; round < 6; ++round) {
        const auto before = rows(store);
        const auto made = sqlite::backup(store, dir / "backups");
        const auto after = rows(store);
        const auto manifest = sqlite::verify(made.path);
        const auto counted = manifest.row_counts.at("notes");
        CHECK(counted >= before);
        CHECK(counted <= after);
        std::this_thread::sleep_for(100ms);
    }
    int status = 0;
    ::waitpid(writer, &status, 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("a backup killed with SIGKILL leaves nothing under the final name") {
    test::TempDir dir;
    {
        SqliteStore store(config_at(dir / "app.db"));
        seed(store, 3000);
    }
    fs::create_directories(dir / "backups");
    const std::string target = dir / "backups/killed.db";
    const pid_t child = ::fork();
    if (child == 0) {
        SqliteStore own(config_at(dir / "app.db"));
        sqlite::BackupOptions slow;
        slow.pages_per_step = 1;
        slow.on_progress = [](const sqlite::Progress&) { std::this_thread::sleep_for(20ms); };
        sqlite::backup(own, target, slow);
        ::_exit(0);
    }
    // Wait until the copy is under way, then kill it.
    CHECK(test::wait_for([&] {
        for (const auto& entry : fs::directory_iterator(dir / "backups"))
            if (entry.path().string().find(".tmp-") != std::string::npos) return true;
        return false;
    }));
    std::this_thread::sleep_for(60ms);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    CHECK_FALSE(fs::exists(target));
    CHECK_FALSE(fs::exists(target + ".manifest"));
    // The live database is untouched.
    SqliteStore store(config_at(dir / "app.db"));
    CHECK(rows(store) == 3000);
}

TEST_CASE("a restore killed with SIGKILL leaves the old database or the new one, never a mix") {
    test::TempDir dir;
    std::string backup_path;
    {
        SqliteStore store(config_at(dir / "app.db"));
        seed(store, 2000);
        backup_path = sqlite::backup(store, dir / "old.db").path;
        seed(store, 2000);
    }
    for (auto delay : {0ms, 2ms, 5ms, 10ms, 20ms}) {
        const pid_t child = ::fork();
        if (child == 0) {
            SqliteStore own(config_at(dir / "app.db"));
            sqlite::restore(own, backup_path);
            ::_exit(0);
        }
        std::this_thread::sleep_for(delay);
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        SqliteStore store(config_at(dir / "app.db"));
        const auto count = rows(store);
        CHECK((count == 2000 || count == 4000));
        CHECK(integrity(dir / "app.db") == "ok");
        if (count == 2000) { // restored: put the newer content back for the next round
            seed(store, 2000);
        }
    }
}

TEST_CASE("retention by age deletes older backups of the database, and only those") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    seed(store, 3);
    fs::create_directories(dir / "backups");
    const auto old = sqlite::backup(store, dir / "backups").path;
    fs::last_write_time(old, fs::file_time_type::clock::now() - std::chrono::hours(24 * 10));
    write_file(dir / "backups/unrelated.db", "not ours");
    fs::last_write_time(dir / "backups/unrelated.db", fs::file_time_type::clock::now() - std::chrono::hours(24 * 10));
    sqlite::BackupOptions week;
    week.max_age = std::chrono::hours(24 * 7);
    const auto made = sqlite::backup(store, dir / "backups", week);
    CHECK(made.removed == std::vector<std::string>{old});
    CHECK_FALSE(fs::exists(old));
    CHECK(fs::exists(made.path));
    CHECK(fs::exists(dir / "backups/unrelated.db"));
}

TEST_CASE("tables whose names hold spaces, quotes and non-ASCII back up and verify (regression: the line manifest split them)") {
    test::TempDir dir;
    SqliteStore store(config_at(dir / "app.db"));
    store.write([](auto& tx) {
        tx.execute_script("CREATE TABLE \"my table\" (x); CREATE TABLE \"it's \"\"quoted\"\"\" (x); CREATE TABLE \"caf\u00e9\" (x);"
                          "INSERT INTO \"my table\" VALUES (1), (2);");
    });
    const auto made = sqlite::backup(store, dir / "copy.db");
    const auto checked = sqlite::verify(made.path);
    CHECK(checked.row_counts.at("my table") == 2);
    CHECK(checked.row_counts.at("it's \"quoted\"") == 0);
    CHECK(checked.row_counts.count("caf\u00e9") == 1);
}
