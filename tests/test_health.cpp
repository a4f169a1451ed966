// store.health(): a healthy store, a replaced file (reopened), a deleted file (reported).
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>

#include <cstdio>
#include <thread>

using namespace persist;

namespace {
Config config_for(const std::string& path) {
    Config config = Config::for_app("health");
    config.db_path = path;
    return config;
}

// Puts a new, empty database file at `path` (as a restore by `mv` does), under the Store
// that has the old one open.
void replace_with_new_database(const test::TempDir& dir, const std::string& path) {
    { Store<sqlite::Backend> replacement(config_for(dir / "new.db")); }
    REQUIRE(std::rename((dir / "new.db").c_str(), path.c_str()) == 0);
}
} // namespace

TEST_CASE("a healthy store") {
    test::TempDir dir;
    Store<sqlite::Backend> store(config_for(dir / "h.db"));
    const auto health = store.health();
    CHECK(health.ok);
    CHECK(health.answering);
    CHECK(health.same_file);
    CHECK_FALSE(health.reopened);
    CHECK(health.detail.empty());
}

TEST_CASE("an in-memory store is healthy") {
    Store<sqlite::Backend> store(config_for(":memory:"));
    CHECK(store.health().ok);
}

TEST_CASE("a file replaced underneath is detected and reopened") {
    test::TempDir dir;
    const std::string path = dir / "h.db";
    std::vector<Event> events;
    Config config = config_for(path);
    config.on_event = [&](const Event& event) { events.push_back(event); };
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE t (v TEXT)");
        tx.execute("INSERT INTO t VALUES ('old')");
    });
    store.read([](auto&) {}); // leaves an idle reader on the old file
    {
        Store<sqlite::Backend> replacement(config_for(dir / "new.db"));
        replacement.write([](auto& tx) {
            tx.execute("CREATE TABLE t (v TEXT)");
            tx.execute("INSERT INTO t VALUES ('new')");
        });
    }
    REQUIRE(std::rename((dir / "new.db").c_str(), path.c_str()) == 0);
    const auto health = store.health();
    CHECK(health.ok);
    CHECK(health.reopened);
    CHECK(health.same_file);
    CHECK(events.back().message == "reopened database " + path + " (the file was replaced)");
    CHECK(store.read([](auto& tx) { return tx.template query<std::string>("SELECT v FROM t"); }) ==
          std::vector<std::string>{"new"});
    CHECK(store.write([](auto& tx) { return tx.template query<std::string>("SELECT v FROM t"); }) ==
          std::vector<std::string>{"new"});
    CHECK_FALSE(store.health().reopened);
}

TEST_CASE("a deleted file is reported, not silently recreated") {
    test::TempDir dir;
    const std::string path = dir / "h.db";
    Store<sqlite::Backend> store(config_for(path));
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
    REQUIRE(std::remove(path.c_str()) == 0);
    const auto health = store.health();
    CHECK_FALSE(health.ok);
    CHECK(health.answering);
    CHECK_FALSE(health.same_file);
    CHECK_FALSE(health.reopened);
    CHECK(health.detail == "database file " + path +
                               " was deleted while open; new writes would be lost with it. Restore the file "
                               "from a backup or restart the application");
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a reader connection opened after the file was deleted does not create an empty database") {
    test::TempDir dir;
    const std::string path = dir / "h.db";
    Store<sqlite::Backend> store(config_for(path));
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE t (v TEXT)");
        tx.execute("INSERT INTO t VALUES ('kept')");
    });
    REQUIRE(std::remove(path.c_str()) == 0);
    std::string message, write_message;
    store.read([&](auto&) { // has the writer connection: the next read opens a reader
        std::thread other([&] {
            try {
                store.read([](auto& tx) { return tx.template query<std::string>("SELECT v FROM t"); });
            } catch (const error& e) {
                message = e.what();
            }
            // A write now would need a new writer connection: refused, nothing created.
            try {
                store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES ('lost')"); });
            } catch (const connection_error& e) {
                write_message = e.what();
            }
        });
        other.join();
    });
    CHECK(message.find("database file " + path + " does not exist") != std::string::npos);
    CHECK(write_message == "database file " + path + " was replaced or deleted while open; call health(), which "
                                                      "reopens it once no read is in progress");
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a writer connection never creates the database file; only preparing it does") {
    // The Store checks that the path still names its file before it opens another writer
    // (the spare, or the one reopened after a failed COMMIT or by health()). If the file is
    // deleted after that check, the open itself must refuse rather than create an empty one.
    test::TempDir dir;
    const std::string path = dir / "w.db";
    Config config = config_for(path);
    const auto message = test::message_of<connection_error>(
        [&] { sqlite::Connection connection(path, config, sqlite::Connection::Role::writer); });
    CHECK(message == "database file " + path + " does not exist: it was deleted or moved while the Store had it "
                                               "open, and persist does not create an empty one in its place. "
                                               "Restore the file from a backup or restart the application");
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK_FALSE(std::filesystem::exists(path + "-wal"));
    REQUIRE(sqlite::prepare_database(path));
    sqlite::Connection connection(path, config, sqlite::Connection::Role::writer);
    CHECK(connection.query_text("PRAGMA journal_mode") == "wal");
}

TEST_CASE("reopening waits while a read is in progress") {
    test::TempDir dir;
    const std::string path = dir / "h.db";
    Store<sqlite::Backend> store(config_for(path));
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v TEXT)"); });
    replace_with_new_database(dir, path);
    store.read([&](auto&) {
        const auto health = store.health();
        CHECK_FALSE(health.ok);
        CHECK_FALSE(health.reopened);
        CHECK(health.detail == "database file " + path +
                                   " was replaced; reopening waits until no read is in progress: call health() again");
    });
    CHECK(store.health().reopened);
}

TEST_CASE("a write while a read has the writer connection of a replaced file: connection_error until health()") {
    test::TempDir dir;
    const std::string path = dir / "h.db";
    Store<sqlite::Backend> store(config_for(path));
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v TEXT)"); });
    replace_with_new_database(dir, path);
    std::string message;
    store.read([&](auto& tx) { // borrows the writer connection, open on the old file
        CHECK(tx.template query_one<int>("SELECT count(*) FROM t") == 0);
        std::thread write([&] {
            try {
                store.write([](auto& w) { w.execute("CREATE TABLE u (v TEXT)"); });
            } catch (const connection_error& e) {
                message = e.what();
            }
        });
        write.join();
    });
    CHECK(message == "database file " + path + " was replaced or deleted while open; call health(), which reopens it "
                                                "once no read is in progress");
    CHECK(store.health().reopened);
    store.write([](auto& tx) { tx.execute("CREATE TABLE u (v TEXT)"); });
    CHECK(store.read([](auto& tx) { return tx.template query<std::string>("SELECT name FROM sqlite_schema"); }) ==
          std::vector<std::string>{"u"});
}

TEST_CASE("a failed reopen closes the store until a later health() succeeds") {
    test::TempDir dir;
    const std::string path = dir / "h.db";
    Store<sqlite::Backend> store(config_for(path));
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
    REQUIRE(std::remove(path.c_str()) == 0);
    REQUIRE(::mkdir(path.c_str(), 0755) == 0); // something unusable now sits at the path
    const auto health = store.health();
    CHECK_FALSE(health.ok);
    CHECK(health.detail.starts_with("reopening failed: cannot use database " + path + ": it is a directory"));
    try {
        store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (1)"); });
        FAIL("no connection_error");
    } catch (const connection_error& e) {
        CHECK(e.retriable());
        CHECK(std::string(e.what()) == "database " + path + " is closed: reopening it failed; call health() to retry");
    }
    REQUIRE(::rmdir(path.c_str()) == 0);
    { Store<sqlite::Backend> fresh(config_for(path)); }
    CHECK(store.health().reopened);
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (v INTEGER)"); });
}

TEST_CASE("health problems are also reported as warning events") {
    test::TempDir dir;
    const std::string path = dir / "h.db";
    std::vector<Event> events;
    Config config = config_for(path);
    config.on_event = [&](const Event& event) { events.push_back(event); };
    Store<sqlite::Backend> store(config);
    REQUIRE(std::remove(path.c_str()) == 0);
    const auto health = store.health();
    REQUIRE_FALSE(events.empty());
    CHECK(events.back().kind == Event::Kind::warning);
    CHECK(events.back().message == health.detail);
}
