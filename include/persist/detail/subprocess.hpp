// persist/detail/subprocess.hpp: running a helper program (pg_dump, pg_restore, psql) without
// a shell, with a deadline.
//
// Arguments go to the program as they are (no shell parses them, so a hostile file name is
// just a name). Its standard error goes to an anonymous in-memory file, read after it exits,
// so a chatty program can never block on a full pipe. Every wait ends at the deadline: the
// program is then killed (SIGKILL) and reaped.
#pragma once

#include "persist/error.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace persist::detail {

/// How a helper program ended.
struct ProgramResult {
    int exit_code = -1;   ///< its exit status; -1 when a signal ended it
    bool timed_out = false;
    std::string errors;   ///< what it wrote to standard error (at most 64 KiB)
};

/// A started helper program; finish() waits for it. Destroying an unfinished one kills it.
class Program {
public:
    /// Starts argv[0] (looked up in PATH) with `environment` ("NAME=value") overriding this
    /// process's variables, standard input from `input_fd` and output to `output_fd` (-1:
    /// /dev/null). Throws io_error when it cannot be started.
    Program(const std::vector<std::string>& argv, const std::vector<std::string>& environment, int input_fd,
            int output_fd) {
        errors_fd_ = ::memfd_create("persist-stderr", MFD_CLOEXEC);
        if (errors_fd_ < 0) throw io_error(std::string("cannot make a buffer for a helper's errors: ") + std::strerror(errno));
        std::vector<std::string> variables;
        for (char** e = environ; e && *e; ++e) {
            const std::string_view entry(*e);
            bool replaced = false;
            for (const auto& extra : environment)
                if (entry.substr(0, entry.find('=') + 1) == std::string_view(extra).substr(0, extra.find('=') + 1)) replaced = true;
            if (!replaced) variables.emplace_back(entry);
        }
        variables.insert(variables.end(), environment.begin(), environment.end());
        std::vector<char*> args, envp;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        for (const auto& v : variables) envp.push_back(const_cast<char*>(v.c_str()));
        envp.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        if (input_fd >= 0) posix_spawn_file_actions_adddup2(&actions, input_fd, 0);
        else posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        if (output_fd >= 0) posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
        else posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, errors_fd_, 2);
        const int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            ::close(errors_fd_);
            throw io_error("cannot run " + argv[0] + ": " + std::strerror(rc) +
                               (rc == ENOENT ? " (install it: on Debian, apt-get install postgresql-client)" : ""),
                           rc);
        }
        name_ = argv[0];
    }
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;
    ~Program() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (errors_fd_ >= 0) ::close(errors_fd_);
    }

    /// Waits until it exits, or kills it at `deadline`.
    ProgramResult finish(std::chrono::steady_clock::time_point deadline) {
        ProgramResult result;
        int status = 0;
        auto pause = std::chrono::microseconds(200);
        for (;;) {
            const pid_t done = ::waitpid(pid_, &status, WNOHANG);
            if (done == pid_) break;
            if (done < 0 && errno != EINTR) break;
            if (std::chrono::steady_clock::now() >= deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                result.timed_out = true;
                break;
            }
            std::this_thread::sleep_for(pause);
            pause = std::min(pause * 2, std::chrono::microseconds(20'000));
        }
        pid_ = 0;
        if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
        char buffer[4096];
        ::lseek(errors_fd_, 0, SEEK_SET);
        for (ssize_t got; result.errors.size() < 65536 && (got = ::read(errors_fd_, buffer, sizeof buffer)) > 0;)
            result.errors.append(buffer, static_cast<std::size_t>(got));
        while (!result.errors.empty() && (result.errors.back() == '\n' || result.errors.back() == ' ')) result.errors.pop_back();
        return result;
    }

    /// Reads its standard output (`read_fd`, the read end of the pipe given as output_fd)
    /// until end of file, passing each chunk to `on_output`, then finishes. Kills it at
    /// `deadline`. Exceptions from on_output kill it and propagate.
    ProgramResult read_all(int read_fd, const std::function<void(std::string_view)>& on_output,
                           std::chrono::steady_clock::time_point deadline) {
        char buffer[1 << 16];
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd p{read_fd, POLLIN, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
            if (ready < 0 && errno != EINTR) break;
            if (ready <= 0) continue;
            const auto got = ::read(read_fd, buffer, sizeof buffer);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) break;
            on_output(std::string_view(buffer, static_cast<std::size_t>(got)));
        }
        return finish(deadline);
    }

    const std::string& name() const noexcept { return name_; }

private:
    pid_t pid_ = 0;
    int errors_fd_ = -1;
    std::string name_;
};

/// A pipe whose ends close with it (both with O_CLOEXEC: a helper gets an end only through
/// dup2). Throws io_error.
struct Pipe {
    int read = -1, write = -1;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw io_error(std::string("cannot make a pipe: ") + std::strerror(errno));
        read = fds[0];
        write = fds[1];
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe() {
        close_read();
        close_write();
    }
    void close_read() noexcept {
        if (read >= 0) ::close(read);
        read = -1;
    }
    void close_write() noexcept {
        if (write >= 0) ::close(write);
        write = -1;
    }
};

} // namespace persist::detail
