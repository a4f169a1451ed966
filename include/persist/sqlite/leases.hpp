// persist/sqlite/leases.hpp: lock::Table, lock::BasicTable's leases in a SQLite database.
//
//   persist::Store<persist::sqlite::Backend, persist::lock::Table> store(config);
//
// The tables persist_locks and persist_lock_shares live in the Store's database, written
// through a connection of the lease store's own, with the time from SQLite's clock (the local
// machine's). SQLite runs one writing statement at a time, so each take's check ("no
// conflicting unexpired lease") and its write happen with nobody writing in between.
#pragma once

#include "persist/config.hpp"
#include "persist/detail/file_setup.hpp"
#include "persist/error.hpp"
#include "persist/lock/table.hpp"
#include "persist/sqlite/connection.hpp"
#include "persist/sqlite/values.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace persist::sqlite {

/// Where lock::Table keeps its leases (a lock::LeaseStore). Throws the mapped SQLite errors.
/// Thread-safety: none of its own; BasicTable calls it under one mutex.
class LeaseStore {
public:
    /// See lock::BasicTable::fence_condition.
    static constexpr std::string_view fence_condition =
        "EXISTS (SELECT 1 FROM persist_locks WHERE name = ? AND owner = ? AND fence = ? AND "
        "expires_at > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))";

    /// Throws config_error for ":memory:" (a private in-memory database coordinates nobody).
    explicit LeaseStore(const Config& config) : database_(config.path()) {
        if (persist::detail::is_memory_path(database_))
            throw config_error("lock::Table keeps leases in the database, and \":memory:\" is private to one "
                               "connection; use lock::InProcess for an in-memory database");
        if (config.read_only) {
            // Inspection: read leases if the tables exist; create nothing.
            read_only_ = true;
            connection_ = std::make_unique<Connection>(database_, config, Connection::Role::reader);
            return;
        }
        prepare_database(database_, config.path_setting());
        connection_ = std::make_unique<Connection>(database_, config, Connection::Role::writer);
        connection_->run_script(
            "CREATE TABLE IF NOT EXISTS persist_locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL,"
            " host TEXT NOT NULL, purpose TEXT NOT NULL, mode TEXT NOT NULL, acquired_at TEXT NOT NULL,"
            " expires_at INTEGER NOT NULL, fence INTEGER NOT NULL);"
            "CREATE TABLE IF NOT EXISTS persist_lock_shares (name TEXT NOT NULL, owner TEXT NOT NULL,"
            " pid INTEGER NOT NULL, host TEXT NOT NULL, purpose TEXT NOT NULL, acquired_at TEXT NOT NULL,"
            " expires_at INTEGER NOT NULL, PRIMARY KEY (name, owner));"
            "CREATE TABLE IF NOT EXISTS persist_lock_stats (name TEXT PRIMARY KEY, acquisitions INTEGER NOT NULL,"
            " contended INTEGER NOT NULL, timeouts INTEGER NOT NULL, total_wait_us INTEGER NOT NULL,"
            " max_wait_us INTEGER NOT NULL)");
    }

    std::string scope() const { return "table:" + database_ + "\n"; }

    std::optional<std::int64_t> try_take(std::string_view name, lock::Mode mode, const std::string& owner,
                                         std::int64_t pid, const std::string& host, std::string_view purpose,
                                         std::int64_t ttl_ms) {
        refuse_if_read_only(name);
        if (mode == lock::Mode::shared) {
            execute("DELETE FROM persist_lock_shares WHERE name = ? AND expires_at <= " + now_ms(), name);
            static const std::string share =
                "INSERT INTO persist_lock_shares (name, owner, pid, host, purpose, acquired_at, expires_at) "
                "SELECT ?1, ?2, ?3, ?4, ?5, " + now_text() + ", " + now_ms() + " + ?6 WHERE NOT EXISTS "
                "(SELECT 1 FROM persist_locks WHERE name = ?1 AND expires_at > " + now_ms() + ")";
            const auto taken = execute(share, name, owner, pid, host, purpose, ttl_ms);
            if (!taken) return std::nullopt; // busy or held exclusively
            return *taken > 0 ? std::optional<std::int64_t>(0) : std::nullopt;
        }
        static const std::string take =
            "INSERT INTO persist_locks (name, owner, pid, host, purpose, mode, acquired_at, expires_at, fence) "
            "SELECT ?1, ?2, ?3, ?4, ?5, 'exclusive', " + now_text() + ", " + now_ms() + " + ?6, 1 WHERE NOT EXISTS "
            "(SELECT 1 FROM persist_lock_shares WHERE name = ?1 AND expires_at > " + now_ms() + ") "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host, "
            "purpose = excluded.purpose, mode = excluded.mode, acquired_at = excluded.acquired_at, "
            "expires_at = excluded.expires_at, fence = persist_locks.fence + 1 "
            "WHERE persist_locks.expires_at <= " + now_ms() + " RETURNING fence";
        sqlite3_stmt* statement = connection_->statements().get(connection_->database(), take);
        Reset reset{statement};
        bind_all(statement, name, owner, pid, host, purpose, ttl_ms);
        const int rc = sqlite3_step(statement);
        if (rc == SQLITE_ROW) {
            const auto fence = sqlite3_column_int64(statement, 0);
            sqlite3_step(statement); // finish the statement so it commits
            return fence;
        }
        if (rc == SQLITE_DONE) return std::nullopt;                                          // held
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return std::nullopt; // try again
        throw_last_error(connection_->handle(), take);
    }

    std::optional<lock::Holder> holder(std::string_view name) {
        if (read_only_ && !table_exists("persist_locks")) return std::nullopt; // no lease was ever taken
        if (auto exclusive = read_holder("SELECT pid, host, acquired_at, purpose FROM persist_locks WHERE name = ? AND "
                                         "expires_at > " + now_ms(), name, lock::Mode::exclusive))
            return exclusive;
        if (read_only_ && !table_exists("persist_lock_shares")) return std::nullopt;
        return read_holder("SELECT pid, host, acquired_at, purpose FROM persist_lock_shares WHERE name = ? AND "
                           "expires_at > " + now_ms() + " ORDER BY acquired_at LIMIT 1", name, lock::Mode::shared);
    }

    void expire(std::string_view name) {
        refuse_if_read_only(name);
        execute("UPDATE persist_locks SET expires_at = 0 WHERE name = ?", name);
        execute("DELETE FROM persist_lock_shares WHERE name = ?", name);
    }

    void release(std::string_view name, lock::Mode mode, const std::string& owner, std::int64_t fence) {
        if (mode == lock::Mode::shared)
            execute("DELETE FROM persist_lock_shares WHERE name = ? AND owner = ?", name, owner);
        else
            execute("UPDATE persist_locks SET expires_at = 0 WHERE name = ? AND owner = ? AND fence = ?", name, owner, fence);
    }

    bool renew(std::string_view name, lock::Mode mode, const std::string& owner, std::int64_t fence, std::int64_t ttl_ms) {
        if (mode == lock::Mode::shared)
            return execute("UPDATE persist_lock_shares SET expires_at = " + now_ms() +
                               " + ? WHERE name = ? AND owner = ? AND expires_at > " + now_ms(),
                           ttl_ms, name, owner)
                       .value_or(1) > 0; // busy: not known to be lost; the next round tries again
        return execute("UPDATE persist_locks SET expires_at = " + now_ms() +
                           " + ? WHERE name = ? AND owner = ? AND fence = ? AND expires_at > " + now_ms(),
                       ttl_ms, name, owner, fence)
                   .value_or(1) > 0;
    }

    bool add_stats(std::string_view name, const lock::NameStats& add) {
        if (read_only_) return false;
        using std::chrono::duration_cast;
        using std::chrono::microseconds;
        return execute("INSERT INTO persist_lock_stats (name, acquisitions, contended, timeouts, total_wait_us, max_wait_us) "
                       "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET acquisitions = acquisitions + "
                       "excluded.acquisitions, contended = contended + excluded.contended, timeouts = timeouts + "
                       "excluded.timeouts, total_wait_us = total_wait_us + excluded.total_wait_us, max_wait_us = "
                       "max(max_wait_us, excluded.max_wait_us)",
                       name, static_cast<std::int64_t>(add.acquisitions), static_cast<std::int64_t>(add.contended),
                       static_cast<std::int64_t>(add.timeouts),
                       static_cast<std::int64_t>(duration_cast<microseconds>(add.total_wait).count()),
                       static_cast<std::int64_t>(duration_cast<microseconds>(add.max_wait).count()))
            .has_value();
    }

    lock::Stats recorded_stats() {
        lock::Stats stats;
        if (read_only_ && !table_exists("persist_lock_stats")) return stats; // nothing recorded yet
        static const std::string sql = "SELECT name, acquisitions, contended, timeouts, total_wait_us, max_wait_us FROM "
                                       "persist_lock_stats ORDER BY name";
        sqlite3_stmt* statement = connection_->statements().get(connection_->database(), sql);
        Reset reset{statement};
        int rc;
        while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
            auto& entry = stats[read_column<std::string>(statement, 0)];
            entry.acquisitions = static_cast<std::uint64_t>(read_column<std::int64_t>(statement, 1));
            entry.contended = static_cast<std::uint64_t>(read_column<std::int64_t>(statement, 2));
            entry.timeouts = static_cast<std::uint64_t>(read_column<std::int64_t>(statement, 3));
            entry.total_wait = std::chrono::microseconds(read_column<std::int64_t>(statement, 4));
            entry.max_wait = std::chrono::microseconds(read_column<std::int64_t>(statement, 5));
        }
        if (rc != SQLITE_DONE) throw_last_error(connection_->handle(), sql);
        return stats;
    }

    void abandon() noexcept { connection_->abandon(); }

private:
    static std::string now_ms() { return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"; }
    static std::string now_text() { return "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"; }

    void refuse_if_read_only(std::string_view name) const {
        if (read_only_)
            throw usage_error("lease '" + std::string(name) + "' cannot be taken or changed: the Store was opened read-only "
                              "(Config::read_only)");
    }

    bool table_exists(std::string_view table) {
        return connection_->query_text("SELECT count(*) FROM sqlite_schema WHERE name = '" + std::string(table) + "'") != "0";
    }

    struct Reset {
        sqlite3_stmt* statement;
        ~Reset() {
            sqlite3_reset(statement);
            sqlite3_clear_bindings(statement);
        }
    };

    template <class... Params>
    static void bind_all(sqlite3_stmt* statement, const Params&... params) {
        int index = 0;
        (bind_value(statement, ++index, params), ...);
    }

    std::optional<lock::Holder> read_holder(const std::string& sql, std::string_view name, lock::Mode mode) {
        sqlite3_stmt* statement = connection_->statements().get(connection_->database(), sql);
        Reset reset{statement};
        bind_value(statement, 1, name);
        const int rc = sqlite3_step(statement);
        if (rc == SQLITE_DONE) return std::nullopt;
        if (rc != SQLITE_ROW) throw_last_error(connection_->handle(), "lock_status");
        lock::Holder holder;
        holder.pid = read_column<std::int64_t>(statement, 0);
        holder.host = read_column<std::string>(statement, 1);
        holder.since = persist::read_time<std::chrono::system_clock::duration>(read_column<std::string>(statement, 2));
        holder.purpose = read_column<std::string>(statement, 3);
        holder.mode = mode;
        return holder;
    }

    // The number of rows changed, or nullopt when the database was busy.
    template <class... Params>
    std::optional<std::int64_t> execute(const std::string& sql, const Params&... params) {
        sqlite3_stmt* statement = connection_->statements().get(connection_->database(), sql);
        Reset reset{statement};
        bind_all(statement, params...);
        const int rc = sqlite3_step(statement);
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return std::nullopt;
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) throw_last_error(connection_->handle(), sql);
        return sqlite3_changes64(connection_->handle());
    }

    bool read_only_ = false;
    std::string database_;
    std::unique_ptr<Connection> connection_;
};

static_assert(lock::LeaseStore<LeaseStore>);

} // namespace persist::sqlite

namespace persist::lock {

/// Leases in the SQLite database the Store opens (see BasicTable and sqlite::LeaseStore).
using Table = BasicTable<sqlite::LeaseStore>;

static_assert(LockPolicy<Table>);

} // namespace persist::lock
