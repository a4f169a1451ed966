// The two backends as test fixtures, for suites that run over both with TEST_CASE_TEMPLATE.
// Each fixture object is a fresh, empty database: a file in a temporary directory for
// SQLite, a schema of its own (first on search_path) on the throwaway server for PostgreSQL.
#pragma once

#include "pg_server.hpp"
#include "support.hpp"

#include <persist/lock/file.hpp>
#include <persist/sqlite/leases.hpp>
#include <persist/postgres.hpp>
#include <persist/sqlite.hpp>

#include <atomic>
#include <string>

/// The fixtures a TEST_CASE_TEMPLATE runs over to cover both backends.
#define BOTH_BACKENDS test::SqliteBackend, test::PostgresBackend

namespace test {

/// A Config for `app` on the shared server's "postgres" database (public schema). db_path
/// only names the scope of in-process locks; no file is made there.
inline persist::Config pg_config(const std::string& app = "pg-test") {
    persist::Config config = persist::Config::for_app(app);
    config.db_path = ":memory:";
    config.db_url = pg_server().conninfo();
    return config;
}

struct SqliteBackend {
    static constexpr const char* name = "sqlite";
    using backend = persist::sqlite::Backend;
    /// Named locks across processes.
    using process_lock = persist::lock::File<persist::lock::Ofd>;
    /// Leases in the database.
    using table_lock = persist::lock::Table;

    TempDir dir;
    persist::Config config() const {
        persist::Config config = persist::Config::for_app("shared");
        config.db_path = dir / "shared.db";
        return config;
    }
};

struct PostgresBackend {
    static constexpr const char* name = "postgres";
    using backend = persist::postgres::Backend;
    using process_lock = persist::postgres::AdvisoryLock;
    using table_lock = persist::postgres::TableLock;

    TempDir dir;
    std::string schema;

    PostgresBackend() {
        static std::atomic<int> counter{0};
        schema = "t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
        persist::postgres::Connection(pg_server().conninfo()).execute_script("CREATE SCHEMA " + schema);
    }
    ~PostgresBackend() {
        try {
            persist::postgres::Connection(pg_server().conninfo()).execute_script("DROP SCHEMA " + schema + " CASCADE");
        } catch (...) {
        }
    }
    /// A connection string whose sessions create and find tables in this fixture's schema.
    std::string url() const { return pg_server().conninfo() + " options='-c search_path=" + schema + "'"; }
    persist::Config config() const {
        persist::Config config = persist::Config::for_app("shared");
        config.db_path = dir / "scope.db"; // names the scope of in-process locks; no data there
        config.db_url = url();
        return config;
    }
};

} // namespace test
