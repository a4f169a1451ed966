// The persist tool run as a process, for test_cli*.cpp: Result, run(args, directory), and
// CliFixture (a scratch SQLite database with two migrations). PERSIST_CLI names the tool.
#pragma once

#include "backends.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>
#include <persist/crypto/encrypted.hpp>
#include <persist/schema.hpp>
#include <persist/schema/uuid.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <fcntl.h>
#include <pty.h>
#include <thread>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace cli_test {
using namespace persist;
namespace fs = std::filesystem;
struct Result {
    int code = -1;
    std::string out;
    std::string err;
};

inline std::string slurp(int fd) {
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
    return text;
}

/// The tool's command line: PERSIST_CLI, then `args`.
class CommandLine {
public:
    explicit CommandLine(const std::vector<std::string>& args) : words_{PERSIST_CLI} {
        words_.insert(words_.end(), args.begin(), args.end());
        for (auto& word : words_) argv_.push_back(word.data());
        argv_.push_back(nullptr);
    }
    /// In a forked child: becomes the tool (exit status 127 if it cannot be started).
    [[noreturn]] void exec() {
        ::execv(argv_[0], argv_.data());
        ::_exit(127);
    }

private:
    std::vector<std::string> words_;
    std::vector<char*> argv_;
};

/// Runs the tool with `args` in the directory `scratch`; stdout and stderr captured (stderr into a file, so a full
/// pipe can never block the child).
inline Result run(const std::vector<std::string>& args, const std::string& scratch) {
    CommandLine command(args);
    int out[2];
    REQUIRE(::pipe(out) == 0);
    const std::string err_path = scratch + "/stderr.txt";
    const pid_t child = ::fork();
    if (child == 0) {
        ::dup2(out[1], 1);
        const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(err, 2);
        ::close(out[0]);
        ::unsetenv("PERSIST_DB_PATH");
        ::unsetenv("PERSIST_DB_DIR");
        ::unsetenv("PERSIST_MIGRATIONS_DIR");
        ::unsetenv("PERSIST_DB_URL");
        if (::chdir(scratch.c_str()) != 0) ::_exit(126); // relative paths resolve in the scratch directory
        command.exec();
    }
    ::close(out[1]);
    Result result;
    result.out = slurp(out[0]);
    ::close(out[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::ifstream err(err_path);
    result.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
    return result;
}

struct Fixture {
    test::TempDir dir;
    std::string db = dir / "app.db";
    std::string migrations = dir / "migrations";
    Fixture() {
        fs::create_directories(migrations);
        std::ofstream(migrations + "/1_notes.up.sql") << "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n";
        std::ofstream(migrations + "/1_notes.down.sql") << "DROP TABLE notes;\n";
        std::ofstream(migrations + "/2_seed.up.sql") << "INSERT INTO notes (body) VALUES ('first'), ('second');\n";
        std::ofstream(migrations + "/2_seed.down.sql") << "DELETE FROM notes;\n";
    }
    Result operator()(std::vector<std::string> args) {
        args.insert(args.begin(), {"--db", db, "--migrations", migrations});
        return run(args, dir.path);
    }
    Config config() const {
        Config c = Config::for_app("cli-test");
        c.db_path = db;
        return c;
    }
};
} // namespace cli_test
