// First-run setup and the diagnosis of unusable database paths. The failing cases run in a
// forked child as uid 65534, since root ignores file modes.
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>

#include <fcntl.h>
#include <fstream>

using namespace persist;

namespace {
void open_store(const std::string& path) {
    Config config = Config::for_app("paths");
    config.db_path = path;
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) { tx.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)"); });
}

void touch(const std::string& path, mode_t mode) {
    std::ofstream(path).put('\0');
    ::truncate(path.c_str(), 0);
    ::chmod(path.c_str(), mode);
}

const std::string me = std::to_string(::geteuid() == 0 ? test::nobody : ::geteuid());
} // namespace

TEST_CASE("first run creates directories 0700 and the file 0600, and WAL files inherit 0600") {
    test::TempDir dir;
    test::give_to_nobody(dir.path, 0755);
    const std::string path = dir / "a/b/app.db";
    const auto result = test::run_in_child([&] {
        Config config = Config::for_app("paths");
        config.db_path = path;
        Store<sqlite::Backend> store(config);
        store.write([](auto& tx) { tx.execute("CREATE TABLE t (x INTEGER)"); });
        // Checked while the store is open: -wal and -shm exist only then.
        if (test::mode_of(path + "-wal") != 0600 || test::mode_of(path + "-shm") != 0600)
            throw std::runtime_error("wal/shm modes are " + std::to_string(test::mode_of(path + "-wal")) +
                                     "/" + std::to_string(test::mode_of(path + "-shm")));
    });
    CHECK(result == "ok");
    CHECK(test::mode_of(dir / "a") == 0700);
    CHECK(test::mode_of(dir / "a/b") == 0700);
    CHECK(test::mode_of(path) == 0600);
}

TEST_CASE("the file is created 0600 whatever the umask") {
    test::TempDir dir;
    const mode_t old = ::umask(0);
    open_store(dir / "umask.db");
    ::umask(old);
    CHECK(test::mode_of(dir / "umask.db") == 0600);
}

TEST_CASE("directory not writable") {
    test::TempDir dir;
    ::chmod(dir.path.c_str(), 0755); // owned by the test's uid; the child is someone else
    const auto result = test::run_in_child([&] { open_store(dir / "app.db"); });
    if (::geteuid() != 0) {
        MESSAGE("not root: the child keeps the owner's uid, so the directory is writable");
        return;
    }
    CHECK(result == "permission_error: cannot use database " + dir.path + "/app.db: directory " + dir.path +
                        " (owner uid 0, mode 0755) is not writable by uid 65534, and SQLite must "
                        "create files there. Fix: sudo chown 65534 " + dir.path +
                        " (or chmod u+w), or point Config::db_path at a writable directory");
}

TEST_CASE("missing directory under an unwritable parent") {
    test::TempDir dir;
    const auto result = test::run_in_child([&] { open_store(dir / "sub/app.db"); });
    if (::geteuid() != 0) return;
    CHECK(result.starts_with("permission_error: cannot use database " + dir.path + "/sub/app.db: directory " +
                             dir.path + " (owner uid 0, mode 0755) is not writable by uid 65534"));
    CHECK(result.find("Fix: sudo chown 65534 " + dir.path) != std::string::npos);
}

TEST_CASE("file owned by another uid") {
    if (::geteuid() != 0) {
        MESSAGE("skipped: only root can create a file owned by another uid");
        return;
    }
    test::TempDir dir;
    ::chmod(dir.path.c_str(), 0777);
    touch(dir / "app.db", 0666);
    const auto result = test::run_in_child([&] { open_store(dir / "app.db"); });
    const std::string db = dir / "app.db";
    CHECK(result == "permission_error: cannot use database " + db + ": " + db +
                        " is owned by uid 0 (mode 0666) but this process runs as uid 65534; SQLite "
                        "would fail to write it or leave files with mixed owners. Fix: sudo chown 65534 " +
                        db + " " + db + "-wal " + db + "-shm, or run as uid 0");
}

TEST_CASE("a -wal file owned by another uid is named") {
    if (::geteuid() != 0) return;
    test::TempDir dir;
    test::give_to_nobody(dir.path, 0755);
    touch(dir / "app.db", 0600);
    test::give_to_nobody(dir / "app.db", 0600);
    touch(dir / "app.db-wal", 0600); // left behind by a run as root
    const auto result = test::run_in_child([&] { open_store(dir / "app.db"); });
    CHECK(result.starts_with("permission_error: cannot use database " + dir.path + "/app.db: " + dir.path +
                             "/app.db-wal is owned by uid 0 (mode 0600)"));
}

TEST_CASE("read-only file") {
    test::TempDir dir;
    test::give_to_nobody(dir.path, 0755);
    touch(dir / "app.db", 0444);
    test::give_to_nobody(dir / "app.db", 0444);
    const auto result = test::run_in_child([&] { open_store(dir / "app.db"); });
    CHECK(result == "permission_error: cannot use database " + dir.path + "/app.db: the file is read-only (owner uid " +
                        me + ", mode 0444) for uid " + me + ". Fix: chmod u+rw " + dir.path + "/app.db");
}

TEST_CASE("path is a directory") {
    test::TempDir dir;
    ::mkdir((dir / "app.db").c_str(), 0755);
    const auto result = test::run_in_child([&] { open_store(dir / "app.db"); }, false);
    const std::string uid = std::to_string(::geteuid());
    CHECK(result == "config_error: cannot use database " + dir.path + "/app.db: it is a directory (owner uid " +
                        uid + ", mode 0755; current uid " + uid + "). Fix: point Config::db_path at a file inside it, e.g. " +
                        dir.path + "/app.db/data.db");
}

TEST_CASE("a symbolic link to nothing is refused, and nothing is created where it points") {
    test::TempDir dir;
    ::symlink((dir / "elsewhere/app.db").c_str(), (dir / "app.db").c_str());
    const auto message = test::message_of<config_error>([&] { open_store(dir / "app.db"); });
    CHECK(message == "cannot use database " + dir.path + "/app.db: it is a symbolic link to " + dir.path +
                         "/elsewhere/app.db, which does not exist, and persist does not create a database through a "
                         "link. Fix: create the database where the link points, or point Config::db_path at a path "
                         "that names nothing yet");
    CHECK_FALSE(std::filesystem::exists(dir / "elsewhere"));
    // A loop of links.
    ::symlink((dir / "b.db").c_str(), (dir / "a.db").c_str());
    ::symlink((dir / "a.db").c_str(), (dir / "b.db").c_str());
    CHECK(test::message_of<config_error>([&] { open_store(dir / "a.db"); })
              .starts_with("cannot use database " + dir.path + "/a.db: it is a symbolic link to " + dir.path +
                           "/b.db, which cannot be followed (Too many levels of symbolic links)"));
    // A link to an existing database is followed.
    open_store(dir / "real.db");
    ::symlink((dir / "real.db").c_str(), (dir / "linked.db").c_str());
    open_store(dir / "linked.db");
}

TEST_CASE("a db_path starting with ~ is refused, and no directory named ~ is made") {
    test::TempDir dir;
    const auto previous = std::filesystem::current_path();
    std::filesystem::current_path(dir.path);
    const auto message = test::message_of<config_error>([&] { open_store("~/app.db"); });
    std::filesystem::current_path(previous);
    CHECK(message.starts_with("Config::db_path=\"~/app.db\" starts with ~, which only a shell expands"));
    CHECK(std::filesystem::is_empty(dir.path));
}

TEST_CASE("parent is a file") {
    test::TempDir dir;
    touch(dir / "config", 0644);
    const auto result = test::run_in_child([&] { open_store(dir / "config/sub/app.db"); }, false);
    const std::string uid = std::to_string(::geteuid());
    CHECK(result == "config_error: cannot use database " + dir.path + "/config/sub/app.db: " + dir.path +
                        "/config is a file, not a directory (owner uid " + uid + ", mode 0644; current uid " +
                        uid + "). Fix: move " + dir.path + "/config aside, or point Config::db_path somewhere else");
}

TEST_CASE("nothing is created or changed when the path is refused") {
    test::TempDir dir;
    touch(dir / "config", 0644);
    CHECK_THROWS_AS(open_store(dir / "config/sub/app.db"), config_error);
    CHECK(std::filesystem::file_size(dir / "config") == 0);
    CHECK(test::mode_of(dir / "config") == 0644);
}

TEST_CASE("the permission error exposes the path, owner and mode") {
    if (::geteuid() != 0) return;
    test::TempDir dir;
    ::chmod(dir.path.c_str(), 0777);
    touch(dir / "app.db", 0640);
    const auto result = test::run_in_child([&] {
        try {
            open_store(dir / "app.db");
        } catch (const permission_error& e) {
            if (e.path() != dir / "app.db" || e.owner_uid() != 0 || e.mode() != 0640 ||
                e.code() != errc::permission || e.retriable())
                throw std::runtime_error("wrong fields");
            return;
        }
        throw std::runtime_error("no permission_error");
    });
    CHECK(result == "ok");
}

TEST_CASE("a path from the environment: errors name the variable, not the C++ field") {
    test::TempDir dir;
    std::ofstream(dir.path + "/config") << "a file, not a directory";
    test::EnvVar path("PATHAPP_DB_PATH", dir.path + "/config/app.db");
    const Config config = Config::from_env("PATHAPP");
    try {
        SqliteStore store(config);
        FAIL("a database under a file opened");
    } catch (const config_error& e) {
        CHECK(std::string(e.what()).find("Fix: move " + dir.path + "/config aside, or point PATHAPP_DB_PATH somewhere else") !=
              std::string::npos);
    }
}
