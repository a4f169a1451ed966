// Binding parameters and reading rows: every supported type, NULLs, time points, row
// shapes, and the errors for rows that do not fit.
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

using namespace persist;
using namespace std::chrono;

namespace {
Store<sqlite::Backend> memory_store() {
    Config config;
    config.db_path = ":memory:";
    return Store<sqlite::Backend>(config);
}

struct Everything {
    std::int64_t id;
    int small;
    bool flag;
    double ratio;
    std::string name;
    Blob bytes;
    sys_time<microseconds> at;
    std::optional<std::string> note;
};

using test::message_of;
} // namespace

TEST_CASE("every parameter type round-trips") {
    auto store = memory_store();
    const auto now = time_point_cast<microseconds>(system_clock::now());
    const Blob bytes{std::byte{0}, std::byte{1}, std::byte{255}};
    store.write([&](auto& tx) {
        tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, small INTEGER, flag INTEGER, ratio REAL,"
                   " name TEXT, bytes BLOB, at TEXT, note TEXT)");
        const std::string_view name = "ada";
        tx.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", std::int64_t{1}, -7, true, 0.25, name,
                   bytes, now, std::optional<std::string>{});
        tx.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", 2u, std::int16_t{7}, false, 1.5f,
                   "literal", std::span<const std::byte>(bytes).first(1), now, std::optional<std::string>{"n"});
    });
    const auto rows = store.read([](auto& tx) { return tx.template query<Everything>("SELECT * FROM t ORDER BY id"); });
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].id == 1);
    CHECK(rows[0].small == -7);
    CHECK(rows[0].flag);
    CHECK(rows[0].ratio == 0.25);
    CHECK(rows[0].name == "ada");
    CHECK(rows[0].bytes == bytes);
    CHECK(rows[0].at == now);
    CHECK_FALSE(rows[0].note.has_value());
    CHECK(rows[1].id == 2);
    CHECK(rows[1].small == 7);
    CHECK_FALSE(rows[1].flag);
    CHECK(rows[1].ratio == 1.5);
    CHECK(rows[1].name == "literal");
    CHECK(rows[1].bytes == Blob{std::byte{0}});
    CHECK(rows[1].note == "n");
}

TEST_CASE("rows as a single value, a tuple, or a struct; query_one and for_each") {
    auto store = memory_store();
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
        for (int i = 1; i <= 3; ++i) tx.execute("INSERT INTO p (name) VALUES (?)", std::string(1, 'n').append(std::to_string(i))); // not "n" + ...: GCC 12 -O2 -Wrestrict false positive
    });
    store.read([](auto& tx) {
        CHECK(tx.template query<std::int64_t>("SELECT count(*) FROM p") == std::vector<std::int64_t>{3});
        const auto tuples = tx.template query<std::tuple<int, std::string>>("SELECT id, name FROM p WHERE id > ?", 1);
        REQUIRE(tuples.size() == 2);
        CHECK(std::get<1>(tuples[0]) == "n2");
        CHECK(tx.template query_one<std::string>("SELECT name FROM p WHERE id = ?", 3) == "n3");
        CHECK_FALSE(tx.template query_one<std::string>("SELECT name FROM p WHERE id = ?", 99).has_value());
        int seen = 0;
        tx.template for_each<std::tuple<int, std::string>>("SELECT id, name FROM p", [&](auto row) {
            seen += std::get<0>(row);
        });
        CHECK(seen == 6);
    });
}

TEST_CASE("time points use the documented text format") {
    const sys_time<microseconds> at = sys_days{2026y / 11 / 23} + 8h + 15min + 30s + 123456us;
    CHECK(format_time(at) == "2026-11-23T08:15:30.123456Z");
    CHECK(parse_time("2026-11-23T08:15:30.123456Z") == at);
    CHECK(parse_time("2026-11-23 08:15:30") == sys_days{2026y / 11 / 23} + 8h + 15min + 30s);
    CHECK(parse_time("2026-11-23T08:15:30.5") == sys_days{2026y / 11 / 23} + 8h + 15min + 30s + 500ms);
    CHECK(format_time(sys_days{1970y / 1 / 1}) == "1970-01-01T00:00:00.000000Z");
    CHECK(message_of<schema_error>([] { parse_time("yesterday"); }) ==
          "cannot read \"yesterday\" as a time point; persist expects UTC ISO 8601 such as "
          "2026-11-23T08:15:30.123456Z (or SQLite's 2026-11-23 08:15:30)");
    CHECK_THROWS_AS(parse_time("2026-02-30T00:00:00Z"), schema_error);
    CHECK_THROWS_AS(parse_time("2026-11-23T08:15:30.Z"), schema_error);
    CHECK_THROWS_AS(parse_time("2026-11-23T25:15:30Z"), schema_error);

    // SQLite's own date functions read the stored text.
    auto store = memory_store();
    const auto day = store.read([&](auto& tx) {
        return tx.template query_one<std::string>("SELECT date(?)", at);
    });
    CHECK(day == "2026-11-23");
}

TEST_CASE("time points outside what the text form or the C++ type holds are refused, never wrapped") {
    // The text form holds the years 0000-9999: beyond them a write is data_error, and nothing is written.
    CHECK(format_time(sys_days{0y / 1 / 1}) == "0000-01-01T00:00:00.000000Z");
    CHECK(format_time(sys_days{10000y / 1 / 1} - 1us) == "9999-12-31T23:59:59.999999Z");
    CHECK(message_of<data_error>([] { format_time(sys_days{10000y / 1 / 1}); }) ==
          "a time point 253402300800 s from 1970 is outside the years 0000-9999 that persist stores as text; store "
          "it as an integer, or check the value before writing");
    CHECK_THROWS_AS(format_time(sys_days{-1y / 12 / 31}), data_error);
    // A duration whose conversion to microseconds would overflow is refused the same way.
    CHECK_THROWS_AS(format_time(time_point<system_clock, hours>(hours(1LL << 40))), data_error);
    auto store = memory_store();
    store.write([](auto& tx) { tx.execute("CREATE TABLE t (at TEXT)"); });
    CHECK_THROWS_AS(store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES (?)", sys_days{12000y / 1 / 1}); }),
                    data_error);
    CHECK(store.read([](auto& tx) { return tx.template query_one<std::int64_t>("SELECT count(*) FROM t"); }) == 0);

    // "9999-12-31", a common "never" sentinel, reads into a microsecond time point, but
    // std::chrono::system_clock::time_point (64-bit nanoseconds) ends in 2262: a schema_error
    // rather than a date wrapped around into 1816.
    store.write([](auto& tx) { tx.execute("INSERT INTO t VALUES ('9999-12-31T00:00:00Z'), ('1600-01-01 00:00:00')"); });
    CHECK(store.read([](auto& tx) {
              return tx.template query<sys_time<microseconds>>("SELECT at FROM t ORDER BY at");
          }) == std::vector<sys_time<microseconds>>{sys_days{1600y / 1 / 1}, sys_days{9999y / 12 / 31}});
    CHECK(message_of<schema_error>([&] {
              store.read([](auto& tx) { return tx.template query<system_clock::time_point>("SELECT at FROM t WHERE at > '2'"); });
          }) == "cannot read \"9999-12-31T00:00:00Z\" into this time point type: it holds only 1677-09-21 to 2262-04-11; "
                "read the column as std::chrono::sys_time<std::chrono::microseconds>");
    CHECK_THROWS_AS(
        store.read([](auto& tx) { return tx.template query<system_clock::time_point>("SELECT at FROM t WHERE at < '2'"); }),
        schema_error);
}

TEST_CASE("rows that do not fit the row type are schema errors") {
    auto store = memory_store();
    store.write([](auto& tx) {
        tx.execute("CREATE TABLE r (a INTEGER, b TEXT, c INTEGER)");
        tx.execute("INSERT INTO r VALUES (NULL, 'x', 5000000000)");
    });
    store.read([](auto& tx) {
        CHECK(message_of<schema_error>([&] { tx.template query<int>("SELECT a FROM r"); }) ==
              "column 1 (\"a\") holds NULL but the row type expects an integer; declare the field as std::optional");
        CHECK(message_of<schema_error>([&] { tx.template query<int>("SELECT b FROM r"); }) ==
              "column 1 (\"b\") holds TEXT but the row type expects an integer; fix the query or the field type");
        CHECK(message_of<schema_error>([&] { tx.template query<int>("SELECT c FROM r"); }) ==
              "column 1 (\"c\") holds 5000000000, which does not fit the row type's integer field; widen it");
        CHECK(message_of<schema_error>([&] { tx.template query<std::tuple<int, int>>("SELECT c FROM r"); }) ==
              "the query returns 1 column(s) but the row type reads 2 [SELECT c FROM r]; make the SELECT "
              "list and the row type agree");
        CHECK(message_of<schema_error>([&] { tx.template query<Blob>("SELECT b FROM r"); }) ==
              "column 1 (\"b\") holds TEXT but the row type expects a blob; fix the query or the field type");
        CHECK(tx.template query<std::optional<int>>("SELECT a FROM r")[0] == std::nullopt);
        CHECK(tx.template query<std::int64_t>("SELECT c FROM r")[0] == 5'000'000'000);
        // A double beyond float's range would read as infinity.
        CHECK(message_of<schema_error>([&] { tx.template query<float>("SELECT 1e300 AS big"); }) ==
              "column 1 (\"big\") holds 1.0000000000000001e+300, beyond the row type's float field (it would read as "
              "infinity); read it as double");
        CHECK(tx.template query<float>("SELECT 0.5")[0] == 0.5f);
        CHECK(std::isinf(tx.template query<float>("SELECT 9e999")[0])); // infinity stays infinity
    });
}

TEST_CASE("parameter errors are usage errors (a NaN data_error) and change nothing") {
    auto store = memory_store();
    store.write([](auto& tx) { tx.execute("CREATE TABLE u (x INTEGER)"); });
    CHECK(message_of<usage_error>([&] {
              store.write([](auto& tx) { tx.execute("INSERT INTO u VALUES (?)", std::numeric_limits<std::uint64_t>::max()); });
          }) == "parameter 1 is 18446744073709551615, larger than a SQL integer can hold (2^63-1); store it as "
                "text or a blob");
    // SQLite would store NaN as NULL: refused (data_error), so no value changes on its way in.
    CHECK(message_of<data_error>([&] {
              store.write([](auto& tx) { tx.execute("INSERT INTO u VALUES (?)", std::numeric_limits<double>::quiet_NaN()); });
          }) == "parameter 1 is NaN, which SQLite stores as NULL; pass std::nullopt for NULL, or check the value before "
                "writing");
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT count(*) FROM u")[0]; }) == 0);
    CHECK(message_of<usage_error>([&] {
              store.write([](auto& tx) { tx.execute("INSERT INTO u VALUES (?)"); });
          }) == "the SQL has 1 parameter(s) but 0 value(s) were given [INSERT INTO u VALUES (?)]");
    CHECK(message_of<usage_error>([&] {
              store.write([](auto& tx) { tx.execute("INSERT INTO u VALUES (1); DELETE FROM u"); });
          }) == "one call runs one SQL statement, but this text holds more [INSERT INTO u VALUES (1); DELETE "
                "FROM u]; split it into separate calls, or use execute_script() for parameterless DDL");
    CHECK(message_of<usage_error>([&] { store.write([](auto& tx) { tx.execute("  -- nothing"); }); }) ==
          "the SQL text holds no statement [  -- nothing]");
    // A trailing comment is not a second statement.
    store.write([](auto& tx) { tx.execute("INSERT INTO u VALUES (1); -- done"); });
    CHECK(store.read([](auto& tx) { return tx.template query<int>("SELECT count(*) FROM u")[0]; }) == 1);
}

TEST_CASE("an empty blob is stored as an empty blob, not NULL") {
    auto store = memory_store();
    const auto type = store.read([](auto& tx) { return tx.template query_one<std::string>("SELECT typeof(?)", Blob{}); });
    CHECK(type == "blob");
}

TEST_CASE("prepared statements are cached per connection with LRU eviction") {
    Config config;
    config.db_path = ":memory:";
    config.statement_cache_capacity = 2;
    Store<sqlite::Backend> store(config);
    store.write([](auto& tx) {
        auto& cache = tx.connection().statements();
        const auto misses = cache.misses();
        tx.template query<int>("SELECT 1");
        tx.template query<int>("SELECT 1");
        CHECK(cache.misses() == misses + 1);
        CHECK(cache.hits() >= 1);
        tx.template query<int>("SELECT 2");
        tx.template query<int>("SELECT 3"); // evicts "SELECT 1", the least recently used
        CHECK(cache.size() == 2);
        const auto before = cache.misses();
        tx.template query<int>("SELECT 3");
        CHECK(cache.misses() == before);
        tx.template query<int>("SELECT 1");
        CHECK(cache.misses() == before + 1);
    });
}

TEST_CASE("json_valid answers as SQLite's own, and works in a CHECK though the schema is not trusted") {
    // SQLite 3.40's json_valid is not innocuous, so trusted_schema=OFF refuses it in a schema
    // ("unsafe use of json_valid()"); persist defines an innocuous one (sqlite/trust.hpp).
    const std::vector<std::string> inputs{"{\"a\":1}", " [1,2] ", "{a:1}", "", "[1,]", "\"x\"", "1e5", "1e999", "NaN",
                                          "[1] x", "{}", "null", "[[[]]]", "{\"a\":}", "tru", "-0", "01"};
    sqlite3* builtin = nullptr;
    REQUIRE(sqlite3_open(":memory:", &builtin) == SQLITE_OK);
    auto builtin_answer = [&](const std::string& text) {
        sqlite3_stmt* statement = nullptr;
        sqlite3_prepare_v2(builtin, "SELECT json_valid(?)", -1, &statement, nullptr);
        sqlite3_bind_text(statement, 1, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
        sqlite3_step(statement);
        const int answer = sqlite3_column_int(statement, 0);
        sqlite3_finalize(statement);
        return answer;
    };
    auto store = memory_store();
    store.read([&](auto& tx) {
        for (const auto& text : inputs)
            CHECK_MESSAGE(tx.query_one(as<int>, "SELECT json_valid(?)", text) == builtin_answer(text), text);
        CHECK(tx.query_one(as<int>, "SELECT json_valid(NULL)") == 0);
        CHECK(tx.query_one(as<int>, "SELECT json_valid(12)") == 1);
        CHECK(tx.query_one(as<int>, "SELECT json_valid(x'7b7d')") == 1);
    });
    sqlite3_close(builtin);

    test::TempDir dir;
    Config config = Config::for_app("json-check");
    config.db_path = dir / "app.db";
    {
        Store<sqlite::Backend> file_store(config);
        file_store.write([](auto& tx) {
            tx.execute("CREATE TABLE settings (id INTEGER PRIMARY KEY, config TEXT NOT NULL CHECK (json_valid(config)))");
            tx.execute("INSERT INTO settings (config) VALUES (?)", "{\"theme\":\"dark\"}");
        });
        CHECK_THROWS_AS(file_store.write([](auto& tx) { tx.execute("INSERT INTO settings (config) VALUES (?)", "{oops"); }),
                        constraint_error);
    }
    // Reopened: the CHECK now comes from the file's schema, which SQLite does not trust.
    Store<sqlite::Backend> reopened(config);
    reopened.write([](auto& tx) { tx.execute("INSERT INTO settings (config) VALUES (?)", "[1,2,3]"); });
    CHECK_THROWS_AS(reopened.write([](auto& tx) { tx.execute("UPDATE settings SET config = 'nope'"); }), constraint_error);
    CHECK(reopened.read([](auto& tx) { return tx.query_one(as<std::int64_t>, "SELECT count(*) FROM settings"); }) == 2);
    // A backup of it verifies (integrity_check evaluates the CHECK on its own connection).
    const auto result = sqlite::backup(reopened, dir / "backups/");
    CHECK(sqlite::verify(result.path).row_counts.at("settings") == 2);
}
