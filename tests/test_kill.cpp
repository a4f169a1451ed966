// kill -9 at random points: a writer killed mid-transaction loses no acknowledged write, and a
// backup killed anywhere leaves no backup without its manifest and nothing the next backup
// does not sweep. PERSIST_KILL_ROUNDS sets the number of kills (default 25 each).
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

using namespace persist;
namespace fs = std::filesystem;

namespace {

int rounds() {
    const char* value = std::getenv("PERSIST_KILL_ROUNDS");
    return value ? std::max(1, std::atoi(value)) : 25;
}

/// Starts kill_helper with `args`; its stdout comes back line by line through `lines`.
struct Helper {
    pid_t pid = -1;
    FILE* out = nullptr;
    explicit Helper(const std::vector<std::string>& args) {
        int pipe_fds[2];
        REQUIRE(::pipe(pipe_fds) == 0);
        pid = ::fork();
        if (pid == 0) {
            ::dup2(pipe_fds[1], 1);
            ::close(pipe_fds[0]);
            std::vector<char*> argv{const_cast<char*>(PERSIST_KILL_HELPER)};
            for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(pipe_fds[1]);
        out = ::fdopen(pipe_fds[0], "r");
    }
    /// The next line the helper printed, or "" once it is gone.
    std::string line() {
        char buffer[4096];
        if (!std::fgets(buffer, sizeof buffer, out)) return {};
        std::string text = buffer;
        if (!text.empty() && text.back() == '\n') text.pop_back();
        return text;
    }
    /// SIGKILL, then every line it printed before dying.
    std::vector<std::string> kill() {
        ::kill(pid, SIGKILL);
        std::vector<std::string> rest;
        for (std::string text; !(text = line()).empty();) rest.push_back(text);
        int status = 0;
        ::waitpid(pid, &status, 0);
        std::fclose(out);
        return rest;
    }
};

Config config_at(const std::string& path) {
    Config config = Config::for_app("kill-test");
    config.db_path = path;
    return config;
}

} // namespace

TEST_CASE("a writer killed at random points loses no acknowledged write") {
    test::TempDir dir;
    const std::string db = dir / "app.db";
    std::mt19937 rng(4242);
    std::set<long long> acknowledged;
    long long next = 1;
    int kills = 0;
    for (int round = 0; round < rounds(); ++round) {
        Helper helper({"write", db, std::to_string(next)});
        // Wait for a random number of acknowledgements, then kill: the kill lands anywhere in
        // the next transaction (BEGIN, INSERT, COMMIT, the fsync, or between them).
        const int wait_for = 1 + static_cast<int>(rng() % 40);
        for (int i = 0; i < wait_for; ++i) {
            const auto text = helper.line();
            REQUIRE_FALSE(text.empty());
            acknowledged.insert(std::stoll(text));
        }
        for (const auto& text : helper.kill()) acknowledged.insert(std::stoll(text));
        ++kills;
        SqliteStore store(config_at(db));
        const auto present = store.read([](auto& tx) { return tx.template query<long long>("SELECT id FROM items ORDER BY id"); });
        const std::set<long long> found(present.begin(), present.end());
        for (const auto id : acknowledged) {
            CAPTURE(id);
            REQUIRE(found.count(id) == 1);
        }
        CHECK(store.read([](auto& tx) { return tx.template query<std::string>("PRAGMA integrity_check")[0]; }) == "ok");
        next = (present.empty() ? 0 : present.back()) + 1;
    }
    MESSAGE("kills: " << kills << ", acknowledged writes: " << acknowledged.size() << ", lost: 0");
}

TEST_CASE("a backup killed at random points never leaves a backup without its manifest, and the next one sweeps") {
    test::TempDir dir;
    const std::string db = dir / "app.db";
    {
        SqliteStore store(config_at(db));
        store.write([](auto& tx) {
            tx.execute_script("CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
            for (int i = 0; i < 2000; ++i) tx.execute("INSERT INTO items (body) VALUES (?)", std::string(300, 'b'));
        });
    }
    const std::string backups = dir / "backups";
    fs::create_directories(backups);
    std::mt19937 rng(777);
    for (int round = 0; round < rounds(); ++round) {
        Helper helper({"backup", db, backups});
        const int wait_for = static_cast<int>(rng() % 3);
        for (int i = 0; i < wait_for; ++i) REQUIRE_FALSE(helper.line().empty());
        helper.kill();
        for (const auto& entry : fs::directory_iterator(backups)) {
            const std::string name = entry.path().string();
            if (name.ends_with(".backup.db")) {
                CAPTURE(name);
                CHECK(fs::exists(name + ".manifest"));
                CHECK_NOTHROW(sqlite::verify(name));
            }
        }
    }
    // One more backup: every temporary left by the killed ones is gone afterwards.
    SqliteStore store(config_at(db));
    sqlite::BackupOptions options;
    options.keep = 3;
    sqlite::backup(store, backups, options);
    for (const auto& entry : fs::directory_iterator(backups)) {
        const std::string name = entry.path().filename().string();
        CAPTURE(name);
        CHECK(name.find(".tmp-") == std::string::npos);
    }
}
