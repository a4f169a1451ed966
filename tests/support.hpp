// Helpers shared by the tests: temporary directories, files, configs, waiting with a deadline,
// environment variables, and running code as an unprivileged user in a forked child.
#pragma once

#include <persist/config.hpp>
#include <persist/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace test {

inline constexpr uid_t nobody = 65534;

/// Polls `condition` every `poll` until it holds (true) or `limit` has passed (false):
/// for tests that wait for something to happen, such as a lease expiring, rather than sleep
/// for a guessed time.
inline bool wait_for(const std::function<bool()>& condition,
                     std::chrono::milliseconds limit = std::chrono::seconds(60),
                     std::chrono::milliseconds poll = std::chrono::milliseconds(1)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(poll);
    }
    return true;
}

/// For helper processes: waits until the test creates `path`, their start signal, for at most
/// five minutes; false when it never came (the test died), so that no helper waits forever.
inline bool wait_for_file(const std::string& path) {
    struct stat st {};
    return wait_for([&] { return ::stat(path.c_str(), &st) == 0; }, std::chrono::minutes(5));
}

/// A Config for application `app` with its database at `path`.
inline persist::Config config_at(const std::string& path, const char* app = "test") {
    persist::Config config = persist::Config::for_app(app);
    config.db_path = path;
    return config;
}

/// The whole content of the file at `path` ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Replaces the content of the file at `path` with `bytes`.
inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

/// The names of the entries of `directory`, sorted.
inline std::vector<std::string> names_in(const std::string& directory) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

/// A fresh directory under /tmp (mode 0755 so an unprivileged child can enter it), removed
/// with everything in it on destruction.
struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/persist-test-XXXXXX";
        path = ::mkdtemp(name);
        ::chmod(path.c_str(), 0755);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

/// Sets (or unsets, with nullopt) an environment variable for the lifetime of the object.
struct EnvVar {
    std::string name;
    std::optional<std::string> old;
    EnvVar(std::string variable, std::optional<std::string> value) : name(std::move(variable)) {
        if (const char* current = std::getenv(name.c_str())) old = current;
        if (value) ::setenv(name.c_str(), value->c_str(), 1);
        else ::unsetenv(name.c_str());
    }
    ~EnvVar() {
        if (old) ::setenv(name.c_str(), old->c_str(), 1);
        else ::unsetenv(name.c_str());
    }
};

/// The name of the persist error class, for reporting across a fork.
inline std::string kind_of(const persist::error& e) {
    if (dynamic_cast<const persist::permission_error*>(&e)) return "permission_error";
    if (dynamic_cast<const persist::config_error*>(&e)) return "config_error";
    if (dynamic_cast<const persist::io_error*>(&e)) return "io_error";
    if (dynamic_cast<const persist::usage_error*>(&e)) return "usage_error";
    if (dynamic_cast<const persist::corrupt_error*>(&e)) return "corrupt_error";
    if (dynamic_cast<const persist::busy_error*>(&e)) return "busy_error";
    return "error";
}

/// Runs `body` in a forked child; as uid/gid 65534 when this process is root (file modes do
/// not bind root). Returns "ok", "<error class>: <message>" for a persist error, or
/// "other: <message>". The child ends with _exit, so it never runs the parent's cleanup.
inline std::string run_in_child(const std::function<void()>& body, bool unprivileged = true) {
    int pipe_ends[2];
    if (::pipe(pipe_ends) != 0) return "pipe failed";
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(pipe_ends[0]);
        std::string result = "ok";
        if (unprivileged && ::geteuid() == 0 && (::setgid(nobody) != 0 || ::setuid(nobody) != 0))
            result = "other: cannot drop to uid 65534";
        else {
            try {
                body();
            } catch (const persist::error& e) {
                result = kind_of(e) + ": " + e.what();
            } catch (const std::exception& e) {
                result = std::string("other: ") + e.what();
            }
        }
        [[maybe_unused]] auto written = ::write(pipe_ends[1], result.data(), result.size());
        ::_exit(0);
    }
    ::close(pipe_ends[1]);
    std::string result;
    char buffer[512];
    for (ssize_t n; (n = ::read(pipe_ends[0], buffer, sizeof buffer)) > 0;) result.append(buffer, n);
    ::close(pipe_ends[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    return result;
}

/// Gives `path` to uid/gid 65534 (when root) with `mode`.
inline void give_to_nobody(const std::string& path, mode_t mode) {
    if (::geteuid() == 0) [[maybe_unused]] auto rc = ::chown(path.c_str(), nobody, nobody);
    ::chmod(path.c_str(), mode);
}

inline unsigned mode_of(const std::string& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_mode & 07777u;
}

/// What `fn()` threw as E (its what()). Throws std::logic_error, which fails the test case,
/// when it throws nothing.
template <class E, class Fn>
std::string message_of(Fn&& fn) {
    try {
        fn();
    } catch (const E& e) {
        return e.what();
    }
    throw std::logic_error("expected exception not thrown");
}

} // namespace test
