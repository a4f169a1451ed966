// The throwaway PostgreSQL server the PostgreSQL tests use: it starts, answers over its unix
// socket, and leaves nothing behind, also when the test process is killed.
#include "pg_server.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {
std::string query_one(PGconn* connection, const char* sql) {
    PGresult* result = PQexec(connection, sql);
    std::string value = PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return value;
}

bool postmaster_running(const std::string& directory) {
    // postmaster.pid exists while the server runs; the process it names must be alive.
    std::ifstream pid_file(directory + "/data/postmaster.pid");
    long pid = 0;
    return pid_file >> pid && pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0;
}
} // namespace

TEST_CASE("a throwaway server answers over its socket and is gone after stop") {
    std::string directory;
    {
        test::PgServer server;
        directory = server.directory();
        CHECK(postmaster_running(directory));
        PGconn* connection = PQconnectdb(server.conninfo().c_str());
        REQUIRE(PQstatus(connection) == CONNECTION_OK);
        CHECK(query_one(connection, "SHOW server_version_num").substr(0, 2) == "15");
        CHECK(query_one(connection, "SHOW listen_addresses").empty());
        CHECK(query_one(connection, "SELECT current_user") == server.user());
        PQfinish(connection);
    }
    CHECK_FALSE(std::filesystem::exists(directory));
}

TEST_CASE("a test process killed with SIGKILL leaves no server running") {
    int report[2];
    REQUIRE(::pipe(report) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(report[0]);
        test::PgServer server;
        const std::string directory = server.directory() + "\n";
        [[maybe_unused]] auto written = ::write(report[1], directory.data(), directory.size());
        ::pause(); // killed here, without running any destructor
        ::_exit(0);
    }
    ::close(report[1]);
    std::string directory;
    char c;
    while (::read(report[0], &c, 1) == 1 && c != '\n') directory += c;
    ::close(report[0]);
    REQUIRE_FALSE(directory.empty());
    CHECK(postmaster_running(directory));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    // The watchdog notices the closed pipe, stops the server and removes the directory.
    CHECK(test::wait_for([&] { return !std::filesystem::exists(directory); }));
}
