// The minimcp example on PostgreSQL: its schema, sample queries and the port allocator under
// 200 concurrent allocations, run as a process against the throwaway server, twice (a second
// run finds its data and starts alike).
#include "backends.hpp"
#include "process.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>

#include <sys/stat.h>

TEST_CASE("minimcp runs on PostgreSQL: sample queries, 200 allocations with no port twice, schema verified") {
    test::PostgresBackend fixture;
    for (int run = 0; run < 2; ++run) {
        CAPTURE(run);
        test::Process minimcp({PERSIST_MINIMCP}, {"MINIMCP_DB_URL=" + fixture.url(), "MINIMCP_KEYS=7:" + std::string(64, 'e')});
        if (run == 0) CHECK(minimcp.line(std::chrono::seconds(60)) == "  stopping expired instance pid 4343");
        CHECK(minimcp.line(std::chrono::seconds(60)) ==
              std::string("maintenance: expired ") + (run == 0 ? "1 row" : "0 rows") + " of mcp_instances");
        for (const char* table : {"mcp_logs", "mcp_events"}) {
            const std::string line = minimcp.line();
            CHECK(line.starts_with(std::string("maintenance: created ") + (run == 0 ? "3" : "0") +
                                   " and dropped 0 partitions of " + table + "; deleted 0 rows older than "));
            CHECK(line.ends_with(std::string(" from ") + table + "_default"));
        }
        CHECK(minimcp.line().starts_with("data lives in postgres host="));
        CHECK(minimcp.line() == "1 running instance(s) (1 soft-deleted), 99 free port(s), 3 log line(s)");
        CHECK(minimcp.line() == "  http://localhost:3001 on port 3001 (pid 4242)");
        CHECK(minimcp.line() == "api key ...0042: 39 characters decrypted (key id 7)");
        CHECK(minimcp.line(std::chrono::seconds(60)) ==
              "port allocator: 200 concurrent allocations gave 99 port(s), none twice; 101 found none free");
        CHECK(minimcp.line() == "leases: 2 workers serve under shared leases; an exclusive one waits");
        CHECK(minimcp.line() == "leases: the exclusive lease was granted once the workers left");
        CHECK(minimcp.line() == "leases: gateway.serving acquired " + std::to_string(3 * (run + 1)) + " times, timed out " +
                                    std::to_string(run + 1) + " (all runs)");
        CHECK(minimcp.line() == "schema check: the database matches the descriptors");
        CHECK(minimcp.wait() == 0);
    }
    // The API key is stored encrypted: the token's text is nowhere in the column.
    persist::postgres::Connection raw(fixture.url());
    CHECK(raw.query<std::int64_t>("SELECT count(*) FROM api_keys WHERE position(convert_to('ghp_', 'UTF8') IN "
                                  "encrypted_key) = 0 AND length(encrypted_key) = 39 + 33") == std::vector<std::int64_t>{1});
    // mcp_logs is partitioned by month, and this month's log lines are in this month's partition.
    CHECK(raw.query<std::string>("SELECT DISTINCT tableoid::regclass::text FROM mcp_logs") ==
          std::vector<std::string>{"mcp_logs_p" + persist::format_time(std::chrono::system_clock::now()).substr(0, 4) +
                                   persist::format_time(std::chrono::system_clock::now()).substr(5, 2)});
    // The columns the seed declares as JSONB and UUID have those types on the server.
    persist::postgres::Connection check(fixture.url());
    CHECK(check.query<std::string>("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
                                   "AND table_name = 'mcp_types' AND column_name IN ('id', 'config_template') ORDER BY column_name") ==
          std::vector<std::string>{"jsonb", "uuid"});
}

TEST_CASE("minimcp on a fresh SQLite path makes its key file and directories private, and reads its keys back") {
    test::TempDir dir;
    const std::string db = dir / "data/minimcp/app.db";
    for (int run = 0; run < 2; ++run) {
        CAPTURE(run);
        test::Process minimcp({PERSIST_MINIMCP}, {"MINIMCP_DB_PATH=" + db});
        if (run == 0) CHECK(minimcp.line(std::chrono::seconds(60)) == "made a new key file " + db + ".keys");
        bool decrypted = false;
        for (std::string line = minimcp.line(std::chrono::seconds(60)); !line.empty() && !decrypted;
             line = minimcp.line(std::chrono::seconds(60)))
            decrypted = line == "api key ...0042: 39 characters decrypted (key id 1)";
        CHECK(decrypted);
        CHECK(minimcp.wait() == 0);
    }
    struct stat st {};
    for (const std::string& path : {dir / "data", dir / "data/minimcp"}) {
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0700);
    }
    REQUIRE(::stat((db + ".keys").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}
