// persist/migrate/history.hpp: what a migration run takes (Options) and reports (Report,
// VersionStatus), and the history tables it records into, in each backend's SQL.
#pragma once

#include "persist/dialect.hpp"
#include "persist/migrate/migration.hpp"
#include "persist/value.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <pwd.h>
#include <string>
#include <tuple>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace persist::migrate {

/// How migrate() and migrate_to() behave.
struct Options {
    /// Apply a new migration whose version is below the applied head instead of refusing.
    bool allow_out_of_order = false;
    /// Take a snapshot (VACUUM INTO) before applying anything, and restore it if a migration fails.
    /// SQLite only: on a backend that cannot snapshot, migrate() refuses before anything runs.
    bool snapshot_before = false;
    /// Snapshots of this database to keep (oldest deleted first).
    std::size_t keep_snapshots = 3;
    /// How long to wait for the "migrate" lock held by another process.
    std::chrono::milliseconds lock_timeout{std::chrono::minutes(5)};
    /// Called before and after each migration (after: with its execution time).
    std::function<void(const Migration&)> before;
    std::function<void(const Migration&, std::chrono::milliseconds)> after;
};

/// One version as status() sees it.
struct VersionStatus {
    enum class State { applied, baseline, pending, incomplete, changed, missing_from_source };
    std::int64_t version = 0;
    std::string name;
    State state = State::pending;
    std::string applied_at;       ///< empty when not applied
    std::string database_checksum;
    std::string source_checksum;
};

/// One row of persist_schema_history, as info() reports it.
struct AppliedMigration {
    std::int64_t version = 0;
    std::string name;
    std::string state; ///< applied, baseline, or started (a step that did not complete)
    std::string applied_at;
};

/// Every row of persist_schema_history, by version, read in `tx` (the table must exist).
template <class Tx>
std::vector<AppliedMigration> read_applied(Tx& tx) {
    std::vector<AppliedMigration> rows;
    for (auto& [version, name, state, at] : tx.template query<std::tuple<std::int64_t, std::string, std::string, std::string>>(
             "SELECT version, name, state, applied_at FROM persist_schema_history ORDER BY version"))
        rows.push_back({version, std::move(name), std::move(state), std::move(at)});
    return rows;
}

/// What migrate() / migrate_to() did.
struct Report {
    std::int64_t from_version = 0;
    std::int64_t to_version = 0;
    std::vector<std::int64_t> applied;   ///< versions this process applied (up)
    std::vector<std::int64_t> reverted;  ///< versions this process reverted (down)
    std::string snapshot;                ///< snapshot taken before, if any
};

namespace detail {
struct HistoryRow {
    std::int64_t version;
    std::string name;
    std::string checksum;
    std::string state; // applied | baseline | started
    std::string applied_at;
};

inline std::string applied_by() {
    std::string user = "uid " + std::to_string(::geteuid());
    if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) user = pw->pw_name;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return user + "@" + host + " pid " + std::to_string(::getpid());
}

/// The history and audit tables. Times are UTC ISO 8601 text on every backend.
template <class D>
std::string history_ddl() {
    const std::string integer(D::type_name(ColumnType::integer));
    const std::string audit_key(D::generated_primary_key());
    return "CREATE TABLE IF NOT EXISTS persist_schema_history (version " + integer + " PRIMARY KEY, name TEXT NOT NULL,"
           " checksum TEXT NOT NULL, state TEXT NOT NULL, applied_at TEXT NOT NULL, execution_ms " + integer + " NOT NULL,"
           " applied_by TEXT NOT NULL, persist_version TEXT NOT NULL);"
           "CREATE TABLE IF NOT EXISTS persist_schema_audit (id " + audit_key + ", version " + integer + " NOT NULL,"
           " action TEXT NOT NULL, old_checksum TEXT, new_checksum TEXT, at TEXT NOT NULL, by TEXT NOT NULL)";
}

/// `sql` with each "?" replaced by D's n-th placeholder (the migrator's own SQL has no "?"
/// inside strings).
template <class D>
std::string numbered(std::string_view sql) {
    std::string text;
    int index = 0;
    for (char c : sql) {
        if (c == '?') text += D::placeholder(++index);
        else text += c;
    }
    return text;
}

/// Starts a migrating transaction: excludes every other one (tx.exclude_writers: on SQLite
/// BEGIN IMMEDIATE already has; on PostgreSQL a transaction-level advisory lock), then makes
/// the history tables.
template <class Tx>
void begin_migrating(Tx& tx) {
    tx.exclude_writers("persist.migrate");
    tx.execute_script(history_ddl<typename Tx::dialect>());
}

inline std::string now_text() { return format_time(std::chrono::system_clock::now()); }
} // namespace detail

} // namespace persist::migrate
