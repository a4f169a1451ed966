// story: what persist is for, in under a minute, on a fresh database in DIR.
//   1. 100 processes start at once on it: all succeed, exactly one applies the migrations.
//   2. A process holding a lock is killed with -9: the next one takes the lock at once.
//   3. A backup is taken while 4 processes write, and it verifies.
// Usage: story DIR. The processes are this program again (fork + exec), in a child role.
#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace persist::migrate;

using Migrations = Embedded<Sql<1, "create_tasks",
                                "CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
                                "owner INTEGER, created_at TEXT NOT NULL)">,
                            Sql<2, "index_owner", "CREATE INDEX tasks_by_owner ON tasks (owner)">>;

persist::Config config_for(const std::string& directory) {
    auto config = persist::Config::for_app("persist-story");
    config.db_path = directory + "/app.db";
    return config;
}

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Starts this program again with `args` (a role and its arguments).
pid_t spawn(const std::vector<std::string>& args) {
    const pid_t child = ::fork();
    if (child != 0) return child;
    std::vector<char*> argv;
    std::vector<std::string> copy = args;
    std::string self = "/proc/self/exe";
    argv.push_back(self.data());
    for (auto& arg : copy) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
}

int wait_for(pid_t child) {
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Child roles ------------------------------------------------------------------------------

// Waits at the barrier (until the parent closes the pipe), then opens and migrates.
// Exit status: 10 applied migrations, 0 found nothing to do, 1 failed.
int herd_member(const std::string& directory, int barrier) {
    char byte;
    while (::read(barrier, &byte, 1) > 0) {}
    persist::SqliteStore store(config_for(directory));
    return store.migrate(Migrations{}).applied.empty() ? 0 : 10;
}

// Takes lock "nightly-report", says so on `ready`, and keeps it until killed.
int lock_holder(const std::string& directory, int ready) {
    persist::SqliteStore store(config_for(directory));
    store.with_lock("nightly-report", [&] {
        (void)!::write(ready, "L", 1);
        for (;;) ::pause();
    }, {persist::lock::Mode::exclusive, std::nullopt, "writing the nightly report"});
    return 0;
}

// Writes tasks, one transaction each, for `seconds`; prints how many.
int writer(const std::string& directory, double seconds) {
    persist::SqliteStore store(config_for(directory));
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    long written = 0;
    while (Clock::now() < end) {
        store.write([&](auto& tx) {
            tx.execute("INSERT INTO tasks (title, owner, created_at) VALUES (?, ?, ?)", "task " + std::to_string(written),
                       static_cast<std::int64_t>(::getpid()), std::chrono::system_clock::now());
        });
        ++written;
    }
    std::printf("%ld\n", written);
    return 0;
}

// The story ---------------------------------------------------------------------------------

int herd(const std::string& directory) {
    int barrier[2];
    if (::pipe(barrier) != 0) return 1;
    ::fcntl(barrier[1], F_SETFD, FD_CLOEXEC); // only this process may hold the write end
    std::vector<pid_t> children;
    for (int i = 0; i < 100; ++i) children.push_back(spawn({"herd-member", directory, std::to_string(barrier[0])}));
    ::close(barrier[0]);
    const auto start = Clock::now();
    ::close(barrier[1]); // all 100 go at once
    int migrated = 0, idle = 0, failed = 0;
    for (const pid_t child : children) {
        const int status = wait_for(child);
        migrated += status == 10;
        idle += status == 0;
        failed += status != 10 && status != 0;
    }
    std::printf("1. 100 processes started at once on a fresh database: %d applied the migrations (v1, v2), %d found "
                "nothing to do, %d failed; all done %.0f ms after the start\n",
                migrated, idle, failed, ms_since(start));
    return migrated == 1 && failed == 0 ? 0 : 1;
}

int killed_holder(const std::string& directory) {
    int ready[2];
    if (::pipe(ready) != 0) return 1;
    const pid_t holder = spawn({"lock-holder", directory, std::to_string(ready[1])});
    ::close(ready[1]);
    char byte = 0;
    if (::read(ready[0], &byte, 1) != 1) return 1;
    persist::SqliteStore store(config_for(directory));
    const auto status = store.lock_status("nightly-report");
    std::printf("2. lock 'nightly-report' is %s\n", persist::lock::describe_holder(status.holder).c_str());
    ::kill(holder, SIGKILL);
    const auto killed = Clock::now();
    wait_for(holder);
    store.with_lock("nightly-report", [] {}, {persist::lock::Mode::exclusive, std::chrono::milliseconds(5000), "the next one"});
    std::printf("   pid %d was killed with -9 while holding it; the next process had the lock %.2f ms later (the kernel "
                "released it: no stale lock file to clean up)\n",
                static_cast<int>(holder), ms_since(killed));
    return 0;
}

int backup_under_writers(const std::string& directory) {
    std::vector<pid_t> writers;
    std::vector<int> outputs;
    for (int i = 0; i < 4; ++i) {
        int out[2];
        if (::pipe(out) != 0) return 1;
        const pid_t child = ::fork();
        if (child == 0) {
            ::dup2(out[1], 1);
            ::close(out[0]);
            std::string self = "/proc/self/exe", role = "writer", dir = directory;
            char* argv[] = {self.data(), role.data(), dir.data(), nullptr};
            ::execv("/proc/self/exe", argv);
            ::_exit(127);
        }
        ::close(out[1]);
        writers.push_back(child);
        outputs.push_back(out[0]);
    }
    persist::SqliteStore store(config_for(directory));
    std::this_thread::sleep_for(std::chrono::milliseconds(300)); // let the writers get going
    const auto start = Clock::now();
    const auto result = persist::sqlite::backup(store, directory + "/backups/");
    const double took = ms_since(start);
    const auto manifest = persist::sqlite::verify(result.path);
    long total = 0;
    for (std::size_t i = 0; i < writers.size(); ++i) {
        wait_for(writers[i]);
        char text[64] = {};
        const auto got = ::read(outputs[i], text, sizeof text - 1);
        total += got > 0 ? std::atol(text) : 0;
        ::close(outputs[i]);
    }
    std::printf("3. a backup was taken in %.0f ms while 4 processes wrote %ld tasks in 1.5 s; it verifies: %lld "
                "tasks, schema version %lld, sha256 %.16s...\n",
                took, total, static_cast<long long>(manifest.row_counts.at("tasks")),
                static_cast<long long>(manifest.schema_version), manifest.sha256.c_str());
    std::printf("   %s\n", result.path.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) try {
    if (argc < 2) {
        std::fprintf(stderr, "usage: story DIR\n");
        return 2;
    }
    const std::string directory = argv[argc >= 3 ? 2 : 1];
    if (argc >= 3) {
        const std::string role = argv[1];
        if (role == "herd-member" && argc == 4) return herd_member(directory, std::atoi(argv[3]));
        if (role == "lock-holder" && argc == 4) return lock_holder(directory, std::atoi(argv[3]));
        if (role == "writer") return writer(directory, 1.5);
        std::fprintf(stderr, "story: unknown role %s\n", role.c_str());
        return 2;
    }
    const auto start = Clock::now();
    if (herd(directory) != 0 || killed_holder(directory) != 0 || backup_under_writers(directory) != 0) return 1;
    std::printf("the story took %.1f s; the database is %s/app.db\n", ms_since(start) / 1000, directory.c_str());
    return 0;
} catch (const persist::error& e) {
    std::fprintf(stderr, "story: %s\n", e.what());
    return 1;
}
