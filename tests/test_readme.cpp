// The README's tour, built from the README's own text (tests/CMakeLists.txt), run as a user
// would run it: twice on a fresh home, then with a bad setting in the environment.
#include "process.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <SQLiteCpp/SQLiteCpp.h>

#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

struct Run {
    int status = -1;
    std::vector<std::string> lines; // standard output and error together
};

// Runs the tour with `env` added to the environment, its standard error sent to standard output.
Run run_tour(const std::vector<std::string>& env) {
    test::Process process({"/bin/sh", "-c", "exec \"$0\" 2>&1", PERSIST_README_TOUR}, env);
    Run run;
    for (std::string line; !(line = process.line()).empty();) run.lines.push_back(line);
    run.status = process.wait();
    return run;
}

bool printed(const Run& run, const std::string& text) {
    for (const auto& line : run.lines)
        if (line.find(text) != std::string::npos) return true;
    return false;
}

mode_t mode_of(const std::string& path) {
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    return info.st_mode & 07777;
}

} // namespace

TEST_CASE("the README's tour builds as written, creates a private database and keeps its rows") {
    test::TempDir home;
    const std::vector<std::string> env{"XDG_DATA_HOME=" + home.path};

    const Run first = run_tour(env);
    CHECK(first.status == 0);
    CHECK(printed(first, "added task 1; 1 task(s)"));
    const Run second = run_tour(env);
    CHECK(second.status == 0);
    CHECK(printed(second, "added task 2; 2 task(s)"));

    // "first run: creates dirs (0700) and file (0600)"
    CHECK(mode_of(home / "myapp") == 0700);
    CHECK(mode_of(home / "myapp/myapp.db") == 0600);
    SQLite::Database db(home / "myapp/myapp.db");
    CHECK(db.execAndGet("SELECT count(*) FROM tasks WHERE title = 'write docs' AND owner IS NULL").getInt() == 2);
}

TEST_CASE("the README's tour: a bad value in the environment is a config_error, and nothing is created") {
    test::TempDir home;
    const Run run = run_tour({"XDG_DATA_HOME=" + home.path, "MYAPP_BUSY_TIMEOUT_MS=soon"});
    CHECK(run.status != 0);
    CHECK(printed(run, "persist::config_error"));
    CHECK(printed(run, "MYAPP_BUSY_TIMEOUT_MS=\"soon\" is not a whole number between"));
    struct stat info {};
    CHECK(::stat((home / "myapp").c_str(), &info) != 0);
}
