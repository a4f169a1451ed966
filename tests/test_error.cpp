// The error hierarchy: categories, codes, retriable flags, and SQLite code mapping.
#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/error.hpp>
#include <persist/sqlite/errors.hpp>

#include <sqlite3.h>
#include <string>

using namespace persist;

TEST_CASE("the persist category names every kind") {
    CHECK(std::string(error_category().name()) == "persist");
    CHECK(error_category().message(static_cast<int>(errc::busy)) == "database busy");
    CHECK(error_category().message(static_cast<int>(errc::constraint)) == "constraint violated");
    CHECK(error_category().message(static_cast<int>(errc::usage)) == "usage error");
    CHECK(error_category().message(999) == "unknown persist error");
    const std::error_code code = errc::lock_timeout;
    CHECK(code.category() == error_category());
    CHECK(code == errc::lock_timeout);
    CHECK(code != errc::busy);
}

TEST_CASE("each error class carries its kind, native code and retriable flag") {
    CHECK(config_error("m").code() == errc::config);
    CHECK(permission_error("m", "/p", 7, 0640, 13).code() == errc::permission);
    CHECK(busy_error("m", 5).code() == errc::busy);
    CHECK(constraint_error("m", "t.c").code() == errc::constraint);
    CHECK(schema_error("m").code() == errc::schema);
    CHECK(migration_error("m").code() == errc::migration);
    CHECK(lock_timeout_error("m").code() == errc::lock_timeout);
    CHECK(corrupt_error("m").code() == errc::corrupt);
    CHECK(io_error("m").code() == errc::io);
    CHECK(connection_error("m").code() == errc::connection);
    CHECK(usage_error("m").code() == errc::usage);
    CHECK(decryption_error("m").code() == errc::decryption);
    CHECK_FALSE(decryption_error("m").retriable());
    CHECK(error_category().message(static_cast<int>(errc::decryption)) == "decryption failed");

    CHECK(busy_error("m").retriable());
    CHECK(lock_timeout_error("m").retriable());
    CHECK(connection_error("m").retriable());
    CHECK_FALSE(constraint_error("m", "x").retriable());
    CHECK_FALSE(config_error("m").retriable());
    CHECK_FALSE(corrupt_error("m").retriable());

    const permission_error denied("denied", "/data/app.db", 1000, 0640, 13);
    CHECK(denied.native_code() == 13);
    CHECK(denied.path() == "/data/app.db");
    CHECK(denied.owner_uid() == 1000);
    CHECK(denied.mode() == 0640);
    CHECK(std::string(denied.what()) == "denied");
}

TEST_CASE("constraint names are taken from SQLite's message") {
    CHECK(sqlite::constraint_name("UNIQUE constraint failed: users.email") == "users.email");
    CHECK(sqlite::constraint_name("NOT NULL constraint failed: users.name") == "users.name");
    CHECK(sqlite::constraint_name("CHECK constraint failed: positive_age") == "positive_age");
    CHECK(sqlite::constraint_name("FOREIGN KEY constraint failed") == "FOREIGN KEY");
}

template <class Expected>
std::string thrown_message(int code, const std::string& message) {
    try {
        sqlite::throw_error(code, message, "SELECT 1");
    } catch (const Expected& e) {
        CHECK(e.native_code() == code);
        return e.what();
    }
    return {};
}

TEST_CASE("SQLite result codes map to persist errors with the SQLite message and context") {
    CHECK(thrown_message<busy_error>(SQLITE_BUSY, "database is locked") ==
          "database is busy: database is locked [SELECT 1]");
    CHECK(thrown_message<busy_error>(SQLITE_LOCKED_SHAREDCACHE, "locked") ==
          "database is busy: locked [SELECT 1]");
    CHECK(thrown_message<constraint_error>(SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed: t.c") ==
          "constraint t.c rejected the write (UNIQUE constraint failed: t.c) [SELECT 1]; check the "
          "values, or use an upsert for rows that may exist");
    CHECK(thrown_message<corrupt_error>(SQLITE_NOTADB, "file is not a database") ==
          "database is corrupt or not a SQLite database: file is not a database [SELECT 1]; restore "
          "it from a backup");
    CHECK(thrown_message<corrupt_error>(SQLITE_CORRUPT, "malformed").find("restore it from a backup") !=
          std::string::npos);
    CHECK(thrown_message<io_error>(SQLITE_FULL, "database or disk is full") ==
          "disk input/output failed: database or disk is full [SELECT 1]; check free space and the "
          "health of the disk");
    CHECK(thrown_message<permission_error>(SQLITE_READONLY, "attempt to write a readonly database") ==
          "access denied: attempt to write a readonly database [SELECT 1]");
    CHECK(thrown_message<usage_error>(SQLITE_MISUSE, "bad parameter or other API misuse") ==
          "SQLite reports misuse: bad parameter or other API misuse [SELECT 1]");
    CHECK(thrown_message<schema_error>(SQLITE_ERROR, "no such table: t") ==
          "SQL failed: no such table: t [SELECT 1]");
    CHECK(thrown_message<io_error>(SQLITE_NOMEM, "out of memory") == "SQLite failed: out of memory [SELECT 1]");
}
