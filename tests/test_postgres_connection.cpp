// persist::postgres::Connection against a real throwaway server: SQLSTATEs become persist's
// typed errors.
#include "pg_server.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/postgres/connection.hpp>

#include <atomic>
#include <limits>
#include <thread>

using namespace persist;
using postgres::Connection;

TEST_CASE("queries run with text parameters and NULLs") {
    Connection db(test::pg_server().conninfo());
    db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)");
    db.execute("DELETE FROM kv");
    CHECK(db.execute("INSERT INTO kv VALUES ($1, $2), ($3, $4)", {"a", "1", "b", std::nullopt}).changes() == 2);
    const auto rows = db.execute("SELECT k, v FROM kv ORDER BY k");
    REQUIRE(rows.rows() == 2);
    CHECK(rows.value(0, 1) == "1");
    CHECK(rows.value(1, 1) == std::nullopt);
}

TEST_CASE("a server that cannot be reached is a connection_error naming the target, not the password") {
    CHECK_THROWS_WITH_AS(Connection("host=/nonexistent port=1 user=x password=secret dbname=x"),
                         doctest::Contains("cannot connect to PostgreSQL (host=/nonexistent port=1 user=x password=*** dbname=x)"),
                         connection_error);
    // The URI forms, and a quoted value with a space in it.
    for (const std::string url : {"postgresql://x:s3cret@/x?host=/nonexistent", "postgresql:///x?host=/nonexistent&password=s3cret",
                                  "host=/nonexistent password='s3cret s3cret' dbname=x"}) {
        const auto message = test::message_of<connection_error>([&] { Connection db(url); });
        CHECK(message.starts_with("cannot connect to PostgreSQL ("));
        CHECK(message.find("s3cret") == std::string::npos);
    }
    CHECK(postgres::detail::redacted("postgresql://app:p@ss@db:5432/app?sslmode=require&password=x") ==
          "postgresql://app:***@db:5432/app?sslmode=require&password=***");
}

TEST_CASE("integrity violations are constraint_error naming the constraint") {
    Connection db(test::pg_server().conninfo());
    db.execute("CREATE TABLE IF NOT EXISTS unique_names (name TEXT PRIMARY KEY)");
    db.execute("DELETE FROM unique_names");
    db.execute("INSERT INTO unique_names VALUES ('x')");
    try {
        db.execute("INSERT INTO unique_names VALUES ('x')");
        FAIL("no error");
    } catch (const constraint_error& e) {
        CHECK(e.constraint() == "unique_names_pkey");
        CHECK(std::string(e.what()).find("SQLSTATE 23505") != std::string::npos);
    }
}

TEST_CASE("undefined objects and syntax errors are schema_error") {
    Connection db(test::pg_server().conninfo());
    CHECK_THROWS_WITH_AS(db.execute("SELECT * FROM no_such_table"), doctest::Contains("SQLSTATE 42P01"), schema_error);
    CHECK_THROWS_WITH_AS(db.execute("SELEC 1"), doctest::Contains("SQLSTATE 42601"), schema_error);
}

TEST_CASE("statement_timeout is statement_timeout_error, and it is not retriable") {
    Connection db(test::pg_server().conninfo());
    db.execute("SET statement_timeout = 50");
    try {
        db.execute("SELECT pg_sleep(2)");
        FAIL("no error");
    } catch (const statement_timeout_error& e) {
        CHECK(e.code() == errc::timeout);
        CHECK_FALSE(e.retriable());
        CHECK(std::string(e.what()).find("SQLSTATE 57014") != std::string::npos);
    }
}

TEST_CASE("lock_timeout is lock_timeout_error") {
    Connection holder(test::pg_server().conninfo()), waiter(test::pg_server().conninfo());
    holder.execute("CREATE TABLE IF NOT EXISTS rows_to_lock (id INT PRIMARY KEY)");
    holder.execute("INSERT INTO rows_to_lock VALUES (1) ON CONFLICT DO NOTHING");
    holder.execute("BEGIN");
    holder.execute("SELECT * FROM rows_to_lock WHERE id = 1 FOR UPDATE");
    waiter.execute("SET lock_timeout = 100");
    CHECK_THROWS_WITH_AS(waiter.execute("SELECT * FROM rows_to_lock WHERE id = 1 FOR UPDATE"),
                         doctest::Contains("SQLSTATE 55P03"), lock_timeout_error);
    holder.execute("ROLLBACK");
}

TEST_CASE("a deadlock is busy_error, which Store retries") {
    Connection a(test::pg_server().conninfo()), b(test::pg_server().conninfo());
    a.execute("CREATE TABLE IF NOT EXISTS pair (id INT PRIMARY KEY, v INT)");
    a.execute("INSERT INTO pair VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING");
    a.execute("SET deadlock_timeout = 50");
    b.execute("SET deadlock_timeout = 50");
    a.execute("BEGIN");
    b.execute("BEGIN");
    a.execute("UPDATE pair SET v = v + 1 WHERE id = 1");
    b.execute("UPDATE pair SET v = v + 1 WHERE id = 2");
    std::atomic<int> busy{0};
    auto cross = [&](Connection& c, const char* sql) {
        try {
            c.execute(sql);
        } catch (const busy_error& e) {
            CHECK(e.retriable());
            CHECK(std::string(e.what()).find("SQLSTATE 40P01") != std::string::npos);
            ++busy;
        }
    };
    std::thread first([&] { cross(a, "UPDATE pair SET v = v + 1 WHERE id = 2"); });
    std::thread second([&] { cross(b, "UPDATE pair SET v = v + 1 WHERE id = 1"); });
    first.join();
    second.join();
    CHECK(busy == 1); // the server broke the cycle by cancelling exactly one of them
    a.execute("ROLLBACK");
    b.execute("ROLLBACK");
}

TEST_CASE("a terminated backend is connection_error") {
    Connection victim(test::pg_server().conninfo()), admin(test::pg_server().conninfo());
    admin.execute("SELECT pg_terminate_backend($1, 5000)", {std::to_string(victim.backend_pid())});
    CHECK_THROWS_AS(victim.execute("SELECT 1"), connection_error);
}

TEST_CASE("every persist value type goes to PostgreSQL and comes back unchanged") {
    Connection db(test::pg_server().conninfo());
    db.execute("DROP TABLE IF EXISTS everything");
    db.execute("CREATE TABLE everything (i BIGINT, small INT, flag BOOLEAN, x DOUBLE PRECISION, s TEXT, b BYTEA, "
               "at TIMESTAMPTZ, maybe TEXT)");
    const auto when = std::chrono::sys_days{std::chrono::year{2026} / 11 / 23} + std::chrono::hours{8} +
                      std::chrono::microseconds{123456};
    const Blob bytes{std::byte{0}, std::byte{0xff}, std::byte{0x10}};
    db.run("INSERT INTO everything VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", std::int64_t{-9'000'000'000}, 42, true, 0.1,
           std::string("it's \"quoted\"\nand multi-line"), bytes, std::chrono::time_point_cast<std::chrono::microseconds>(when),
           std::optional<std::string>{});
    db.run("INSERT INTO everything (x) VALUES ($1), ($2)", std::numeric_limits<double>::infinity(), 1e300);
    using Row = std::tuple<std::int64_t, int, bool, double, std::string, Blob, std::chrono::sys_time<std::chrono::microseconds>,
                           std::optional<std::string>>;
    const auto rows = db.query<Row>("SELECT i, small, flag, x, s, b, at, maybe FROM everything WHERE i IS NOT NULL");
    REQUIRE(rows.size() == 1);
    CHECK(std::get<0>(rows[0]) == -9'000'000'000);
    CHECK(std::get<1>(rows[0]) == 42);
    CHECK(std::get<2>(rows[0]) == true);
    CHECK(std::get<3>(rows[0]) == 0.1);
    CHECK(std::get<4>(rows[0]) == "it's \"quoted\"\nand multi-line");
    CHECK(std::get<5>(rows[0]) == bytes);
    CHECK(std::get<6>(rows[0]) == when);
    CHECK(std::get<7>(rows[0]) == std::nullopt);
    CHECK(db.query<double>("SELECT x FROM everything WHERE i IS NULL ORDER BY x") == std::vector<double>{1e300, std::numeric_limits<double>::infinity()});
    // Text with a NUL byte would be cut there by libpq: refused, as bytes belong in a Blob.
    CHECK(test::message_of<data_error>([&] { db.run("INSERT INTO everything (s) VALUES ($1)", std::string("ab\0cd", 5)); }) ==
          "parameter 1 holds a NUL byte, which PostgreSQL text cannot store (it would be cut there); store such bytes as "
          "persist::Blob (BYTEA)");
    CHECK(db.query<std::int64_t>("SELECT count(*) FROM everything WHERE s = 'ab'") == std::vector<std::int64_t>{0});
    // Reading a value into a type that cannot hold it is a schema_error naming the column.
    CHECK_THROWS_WITH_AS(db.query<std::int8_t>("SELECT small * 10 FROM everything WHERE i IS NOT NULL"),
                         doctest::Contains("not in the range of the C++ type"), schema_error);
    CHECK_THROWS_WITH_AS(db.query<float>("SELECT 1e300::float8 AS big"),
                         doctest::Contains("(\"big\") holds \"1e+300\", which is not in the range of the C++ type (float "
                                           "overflows to infinity; read it as double)"),
                         schema_error);
    CHECK_THROWS_WITH_AS(db.query<std::int64_t>("SELECT maybe FROM everything WHERE i IS NOT NULL"),
                         doctest::Contains("is NULL; read it as std::optional"), schema_error);
}

TEST_CASE("time points beyond the text form or the C++ type are refused, never wrapped") {
    using namespace std::chrono;
    Connection db(test::pg_server().conninfo());
    // 9999-12-31 fits a microsecond time point, not system_clock's 64-bit nanoseconds (to 2262).
    const auto never = sys_days{year{9999} / 12 / 31};
    CHECK(db.query<sys_time<microseconds>>("SELECT '9999-12-31 00:00:00+00'::timestamptz") ==
          std::vector<sys_time<microseconds>>{never});
    CHECK(test::message_of<schema_error>([&] { db.query<system_clock::time_point>("SELECT '9999-12-31 00:00:00+00'::timestamptz"); })
              .starts_with("cannot read \"9999-12-31 00:00:00\" into this time point type: it holds only 1677-09-21 to "
                           "2262-04-11"));
    // A year the text form cannot hold is refused before anything is sent.
    CHECK_THROWS_AS(db.run("SELECT $1::timestamptz", sys_days{year{12000} / 1 / 1}), data_error);
    CHECK(db.alive());
}

TEST_CASE("rows are visited as they arrive: the server is still sending when the first is visited") {
    Connection db(test::pg_server().conninfo());
    Connection observer(test::pg_server().conninfo());
    const std::string sql = "SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g";
    std::int64_t rows = 0, out_of_order = 0;
    std::string state_at_first_row;
    db.for_each_row(sql, [&](const auto& row) {
        if (rows++ == 0)
            state_at_first_row = observer.query<std::string>("SELECT state FROM pg_stat_activity WHERE pid = $1",
                                                             db.backend_pid())
                                     .front();
        if (row.template get<std::int64_t>(0) != rows) ++out_of_order;
    });
    CHECK(rows == 200000);
    CHECK(out_of_order == 0);
    // 20 MB of rows do not fit the socket's buffers: the backend is still sending them.
    CHECK(state_at_first_row == "active");
    CHECK(observer.query<std::string>("SELECT state FROM pg_stat_activity WHERE pid = $1", db.backend_pid()).front() ==
          "idle");
}

TEST_CASE("a visit that throws: the rest of the rows is dropped, the connection stays usable; a failing row is its error") {
    Connection db(test::pg_server().conninfo());
    struct Stop {};
    int visited = 0;
    CHECK_THROWS_AS(db.for_each_row("SELECT g FROM generate_series(1, 1000) g",
                                    [&](const auto&) {
                                        if (++visited == 10) throw Stop{};
                                    }),
                    Stop);
    CHECK(visited == 10);
    CHECK(db.query<int>("SELECT 41 + 1") == std::vector<int>{42});
    // The server fails at the third row: the rows before it may have been visited, then its error.
    std::vector<int> seen;
    CHECK_THROWS_WITH_AS(db.for_each<int>("SELECT 6 / (3 - g) FROM generate_series(1, 5) g", [&](int v) { seen.push_back(v); }),
                         doctest::Contains("division by zero (SQLSTATE 22012)"), data_error);
    CHECK(seen.size() <= 2);
    for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == (i == 0 ? 3 : 6));
    CHECK(db.alive());
    CHECK(db.query<int>("SELECT 1") == std::vector<int>{1});
}

TEST_CASE("data exceptions (SQLSTATE class 22) are data_error, with the SQLSTATE exposed") {
    Connection db(test::pg_server().conninfo());
    auto check = [&](const std::string& sql, const std::vector<std::optional<std::string>>& params, const char* state) {
        CAPTURE(sql);
        try {
            db.execute(sql, params);
            FAIL("no error");
        } catch (const data_error& e) {
            CHECK(e.code() == errc::data);
            CHECK(e.sql_state() == state);
            CHECK_FALSE(e.retriable());
            CHECK(e.native_code() != 0);
            CHECK(std::string(e.what()).find(std::string("(SQLSTATE ") + state + ")") != std::string::npos);
        }
    };
    check("SELECT $1::uuid", {"not-a-uuid"}, "22P02");
    check("SELECT 2147483647::int + $1::int", {"1"}, "22003");
    check("SELECT 1 / $1::int", {"0"}, "22012");
    // Packed as PostgreSQL's MAKE_SQLSTATE does: six bits a character, first lowest.
    try {
        db.execute("SELECT $1::uuid", {"nope"});
    } catch (const error& e) {
        const int packed = ('2' - '0') | (('2' - '0') << 6) | ((('P' - '0') & 0x3F) << 12) | (('0' - '0') << 18) |
                           (('2' - '0') << 24);
        CHECK(e.native_code() == packed);
    }
}

TEST_CASE("a wrong number of parameters is usage_error, as on SQLite, and the connection stays usable") {
    Connection db(test::pg_server().conninfo());
    try {
        db.execute("SELECT $1::int + $2::int", {"1"});
        FAIL("no error");
    } catch (const usage_error& e) {
        CHECK(e.sql_state() == "08P01");
        CHECK(std::string(e.what()).find("give one value per $n placeholder") != std::string::npos);
    }
    CHECK(db.alive());
    CHECK(db.execute("SELECT $1::int + $2::int", {"1", "2"}).value(0, 0) == "3");
}

TEST_CASE("SQL written with SQLite's ? placeholders is told to use $1, $2, ...") {
    Connection db(test::pg_server().conninfo());
    db.execute("CREATE TABLE IF NOT EXISTS marks (a TEXT, b TEXT)");
    const std::string hint = "; PostgreSQL numbers parameters $1, $2, ... where SQLite takes ?: write $1 for the first "
                             "(docs/postgresql.md, \"Moving an application from SQLite to PostgreSQL\")";
    CHECK(test::message_of<schema_error>([&] { db.execute("INSERT INTO marks (a, b) VALUES (?, ?)", {"1", "2"}); }) ==
          "PostgreSQL: syntax error at or near \",\" (SQLSTATE 42601) [INSERT INTO marks (a, b) VALUES (?, ?)]" + hint);
    // A ? that PostgreSQL reads as jsonb's operator, given a value it has no placeholder for.
    CHECK(test::message_of<usage_error>([&] { db.execute("SELECT '{\"k\": 1}'::jsonb ? 'k'", {"1"}); })
              .ends_with("; give one value per $n placeholder" + hint));
    // Not when the statement has $n placeholders, or its only ? is quoted.
    CHECK(test::message_of<schema_error>([&] { db.execute("SELEC $1", {"1"}); }).find("SQLite") == std::string::npos);
    CHECK(test::message_of<schema_error>([&] { db.execute("SELEC '?'"); }).find("SQLite") == std::string::npos);
    CHECK(db.alive());
}

TEST_CASE("the user's connection settings win over persist's defaults") {
    const std::string base = test::pg_server().conninfo();
    auto option = [](Connection& db, const char* key) {
        std::string value;
        PQconninfoOption* options = PQconninfo(db.handle());
        for (auto* o = options; o && o->keyword; ++o)
            if (std::string_view(o->keyword) == key && o->val) value = o->val;
        PQconninfoFree(options);
        return value;
    };
    {
        Connection mine(base + " application_name=mine connect_timeout=7 keepalives_idle=9 keepalives_count=4");
        CHECK(option(mine, "application_name") == "mine");
        CHECK(mine.execute("SHOW application_name").value(0, 0) == "mine");
        CHECK(option(mine, "connect_timeout") == "7");
        CHECK(option(mine, "keepalives_idle") == "9");
        CHECK(option(mine, "keepalives_count") == "4");
        CHECK(option(mine, "keepalives_interval") == "2"); // not set by the user: persist's
    }
    {
        Connection defaults(base);
        CHECK(option(defaults, "application_name") == "persist");
        CHECK(option(defaults, "keepalives_idle") == "5");
        CHECK(option(defaults, "connect_timeout") == "10");
    }
    {
        test::EnvVar name("PGAPPNAME", "from-environment");
        Connection environment(base);
        CHECK(environment.execute("SHOW application_name").value(0, 0) == "from-environment");
    }
    CHECK_THROWS_WITH_AS(Connection("host=/tmp port='unterminated"), doctest::Contains("is malformed"), config_error);
}

TEST_CASE("server notices go to on_event, never to stderr") {
    std::vector<Event> events;
    Connection db(test::pg_server().conninfo(), 64, [&](const Event& e) { events.push_back(e); });
    db.execute_script("DROP TABLE IF EXISTS no_such_table_here");
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == Event::Kind::info);
    CHECK(events[0].message.starts_with("PostgreSQL NOTICE: table \"no_such_table_here\" does not exist, skipping"));
    db.execute_script("DO $$ BEGIN RAISE WARNING 'careful'; END $$");
    REQUIRE(events.size() == 2);
    CHECK(events[1].kind == Event::Kind::warning);
    CHECK(events[1].message == "PostgreSQL WARNING: careful");
}
