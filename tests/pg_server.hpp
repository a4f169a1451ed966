// A throwaway PostgreSQL 15 cluster for tests: initdb in a temporary directory, listening
// only on a unix socket there, run as a non-root user (the "postgres" account, or nobody,
// when the tests run as root), stopped and deleted when the object ends. Nothing is left
// running, even when the test process is killed: a watchdog process holds the read end of a
// pipe whose write end only the test process has; when that closes (destructor, exit or
// SIGKILL), the watchdog stops the server and deletes the directory.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <fstream>
#include <grp.h>
#include <pwd.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace test {

class PgServer {
public:
    /// Where Debian puts PostgreSQL 15's server programs.
    static constexpr const char* bin = "/usr/lib/postgresql/15/bin";

    /// Listens on the unix socket only, or also on TCP at `listen_address` (then clients from
    /// the server's own subnets are trusted, e.g. the far end of a veth pair).
    explicit PgServer(std::string listen_address = {}) : listen_(std::move(listen_address)) {
        char name[] = "/tmp/persist-pg-XXXXXX";
        if (!::mkdtemp(name)) throw std::runtime_error("mkdtemp failed");
        root_ = name;
        resolve_user();
        ::chmod(root_.c_str(), 0755);
        if (::chown(root_.c_str(), uid_, gid_) != 0 && ::geteuid() == 0)
            throw std::runtime_error("cannot give " + root_ + " to uid " + std::to_string(uid_));
        run({std::string(bin) + "/initdb", "-D", data(), "-U", user_, "--auth=trust", "--no-sync", "-E", "UTF8",
             "--locale=C"},
            "initdb");
        if (!listen_.empty()) std::ofstream(data() + "/pg_hba.conf", std::ios::app) << "host all all samenet trust\n";
        run({std::string(bin) + "/pg_ctl", "-D", data(), "-l", root_ + "/server.log", "-w", "-t", "60", "-o",
             "-k " + root_ + " -c listen_addresses='" + listen_ + "' -p " + std::to_string(port) +
                 " -c fsync=off -c full_page_writes=off -c max_connections=300",
             "start"},
            "pg_ctl start");
        started_ = true;
        start_watchdog();
    }

    PgServer(const PgServer&) = delete;
    PgServer& operator=(const PgServer&) = delete;

    ~PgServer() { stop(); }

    /// Stops the server now (immediate shutdown) and deletes its directory. Safe to call twice.
    void stop() noexcept {
        if (!started_) return;
        started_ = false;
        ::close(watchdog_pipe_); // the watchdog wakes up, stops the server, removes the directory
        int status = 0;
        while (::waitpid(watchdog_, &status, 0) < 0 && errno == EINTR) {}
    }

    /// Restarts the server (fast shutdown: sessions are ended, transactions rolled back),
    /// waiting until it accepts connections again.
    void restart() {
        run({std::string(bin) + "/pg_ctl", "-D", data(), "-l", root_ + "/server.log", "-m", "fast", "-w", "-t", "60",
             "restart"},
            "pg_ctl restart");
    }

    /// The server's unix socket file.
    std::string socket_path() const { return root_ + "/.s.PGSQL." + std::to_string(port); }

    /// A libpq connection string for `database` over the unix socket.
    std::string conninfo(const std::string& database = "postgres") const {
        return "host=" + root_ + " port=" + std::to_string(port) + " user=" + user_ + " dbname=" + database;
    }

    const std::string& directory() const noexcept { return root_; }
    const std::string& user() const noexcept { return user_; }

    static constexpr int port = 54329;

private:
    std::string data() const { return root_ + "/data"; }

    void start_watchdog() {
        int ends[2];
        if (::pipe(ends) != 0) throw std::runtime_error("pipe failed");
        watchdog_ = ::fork();
        if (watchdog_ < 0) throw std::runtime_error("fork failed");
        if (watchdog_ == 0) {
            ::close(ends[1]);
            ::setsid(); // not in the test's process group: a signal to the test does not reach it
            char byte;
            while (::read(ends[0], &byte, 1) != 0) {} // until every write end is closed
            try {
                run({std::string(bin) + "/pg_ctl", "-D", data(), "-m", "immediate", "-w", "stop"}, "pg_ctl stop");
            } catch (...) {
            }
            std::error_code ignored;
            std::filesystem::remove_all(root_, ignored);
            ::_exit(0);
        }
        ::close(ends[0]);
        watchdog_pipe_ = ends[1];
        ::fcntl(watchdog_pipe_, F_SETFD, FD_CLOEXEC); // exec'd helpers must not keep the server alive
    }

    void resolve_user() {
        if (::geteuid() != 0) {
            uid_ = ::geteuid();
            gid_ = ::getegid();
            const passwd* self = ::getpwuid(uid_);
            user_ = self ? self->pw_name : "persist";
            return;
        }
        // initdb and postgres refuse to run as root.
        const passwd* account = ::getpwnam("postgres");
        if (!account) account = ::getpwnam("nobody");
        if (!account) throw std::runtime_error("no 'postgres' or 'nobody' account to run PostgreSQL as");
        uid_ = account->pw_uid;
        gid_ = account->pw_gid;
        user_ = account->pw_name;
    }

    /// Runs a program as the server's user; throws with its output when it fails.
    void run(const std::vector<std::string>& args, const std::string& what) const {
        const std::string log = root_ + "/" + std::to_string(::getpid()) + "-command.log";
        std::vector<char*> argv;
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        const pid_t child = ::fork();
        if (child < 0) throw std::runtime_error("fork failed");
        if (child == 0) {
            if (::geteuid() == 0) {
                if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) ::_exit(126);
            }
            const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (out >= 0) {
                ::dup2(out, 1);
                ::dup2(out, 2);
            }
            ::setenv("LC_ALL", "C", 1);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        int status = 0;
        while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::ifstream in(log);
            const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            throw std::runtime_error(what + " failed (status " + std::to_string(status) + "): " + output);
        }
    }

    std::string listen_;
    std::string root_;
    std::string user_;
    uid_t uid_ = 0;
    gid_t gid_ = 0;
    bool started_ = false;
    pid_t watchdog_ = -1;
    int watchdog_pipe_ = -1;
};

/// The server every PostgreSQL test of one test program shares: started on first use,
/// stopped (with its directory removed) at exit.
inline PgServer& pg_server() {
    static PgServer instance;
    return instance;
}

} // namespace test
