// persist/postgres/table_lock.hpp: lock::Table's leases on a PostgreSQL server.
//
//   persist::Store<persist::postgres::Backend, persist::postgres::TableLock> store(config);
//
// The same protocol as lock::Table (see persist/lock/table.hpp: conditional upsert, fence,
// renewal every lease_ttl / 3), shared and exclusive, in the tables persist_locks and
// persist_lock_shares on the server, with every time taken from the server's clock
// (clock_timestamp()), so hosts whose clocks disagree still agree on when a lease ends. Each
// policy object has a dedicated connection of its own, outside the Store's pool. Unlike postgres::AdvisoryLock, a lease outlives its holder's connection until
// it expires; use it when holders should keep their lock across reconnects, or when other
// tools read persist_locks.
#pragma once

#include "persist/lock/table.hpp"
#include "persist/postgres/backend.hpp"
#include "persist/postgres/connection.hpp"

#include <memory>
#include <optional>
#include <string>

namespace persist::postgres {

/// Where postgres::TableLock keeps its leases (a lock::LeaseStore). Each member does what the
/// concept says, on the server's clock,
/// over a dedicated connection that is replaced when the server dropped it. Throws the mapped
/// SQLSTATE errors (connection_error when the server is unreachable). Thread-safety: none of
/// its own; BasicTable calls it under one mutex.
class LeaseStore {
public:
    /// See lock::BasicTable::fence_condition; bind name, owner, fence as $1, $2, $3 (or
    /// renumber the placeholders to follow your own).
    static constexpr std::string_view fence_condition =
        "EXISTS (SELECT 1 FROM persist_locks WHERE name = $1 AND owner = $2 AND fence = $3 AND "
        "expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint)";

    /// Connects and creates persist_locks if needed. Throws config_error without
    /// Config::db_url, connection_error when the server cannot be reached.
    explicit LeaseStore(const Config& config)
        : url_(config.db_url), on_event_(config.on_event), response_timeout_(Connection::response_timeout_for(config)) {
        if (url_.empty()) throw config_error("postgres::TableLock needs Config::db_url (or the <PREFIX>_DB_URL variable)");
        connection_ = std::make_unique<Connection>(url_, 64, on_event_, response_timeout_);
        // Concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog: serialise it. Its
        // NOTICE "already exists, skipping" at every start would only be noise in on_event.
        connection_->execute_script(
            "BEGIN; SET LOCAL client_min_messages = warning; SELECT pg_advisory_xact_lock(" +
            std::to_string(Transaction::xact_key("persist.locks.create")) +
            "); CREATE TABLE IF NOT EXISTS persist_locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid BIGINT NOT NULL,"
            " host TEXT NOT NULL, purpose TEXT NOT NULL, mode TEXT NOT NULL, acquired_at TEXT NOT NULL,"
            " expires_at BIGINT NOT NULL, fence BIGINT NOT NULL); CREATE TABLE IF NOT EXISTS persist_lock_shares (name TEXT"
            " NOT NULL, owner TEXT NOT NULL, pid BIGINT NOT NULL, host TEXT NOT NULL, purpose TEXT NOT NULL, acquired_at TEXT"
            " NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (name, owner)); CREATE TABLE IF NOT EXISTS"
            " persist_lock_stats (name TEXT PRIMARY KEY, acquisitions BIGINT NOT NULL, contended BIGINT NOT NULL, timeouts"
            " BIGINT NOT NULL, total_wait_us BIGINT NOT NULL, max_wait_us BIGINT NOT NULL); COMMIT");
    }

    std::string scope() const { return "pg-table:" + url_ + "\n"; }

    // Each take runs in a transaction that first takes a transaction-scoped advisory lock on
    // the name: under READ COMMITTED a statement's "no conflicting lease" check cannot see a
    // concurrent take that has not committed, so the two must not overlap.
    std::optional<std::int64_t> try_take(std::string_view name, lock::Mode mode, const std::string& owner,
                                         std::int64_t pid, const std::string& host, std::string_view purpose,
                                         std::int64_t ttl_ms) {
        auto& connection = live();
        connection.run("BEGIN");
        try {
            connection.run("SELECT pg_advisory_xact_lock($1)", Transaction::xact_key("persist.lease:" + std::string(name)));
            std::optional<std::int64_t> fence;
            if (mode == lock::Mode::shared) {
                connection.run("DELETE FROM persist_lock_shares WHERE name = $1 AND expires_at <= " + std::string(now_ms), name);
                if (connection
                        .run("INSERT INTO persist_lock_shares (name, owner, pid, host, purpose, acquired_at, expires_at) "
                             "SELECT $1, $2, $3, $4, $5, " + std::string(now_text) + ", " + std::string(now_ms) +
                                 " + $6 WHERE NOT EXISTS (SELECT 1 FROM persist_locks WHERE name = $1 AND expires_at > " +
                                 std::string(now_ms) + ")",
                             name, owner, pid, host, purpose, ttl_ms)
                        .changes() > 0)
                    fence = 0;
            } else {
                const auto rows = connection.query<std::int64_t>(
                    "INSERT INTO persist_locks (name, owner, pid, host, purpose, mode, acquired_at, expires_at, fence) "
                    "SELECT $1, $2, $3, $4, $5, 'exclusive', " + std::string(now_text) + ", " + std::string(now_ms) +
                        " + $6, 1 WHERE NOT EXISTS (SELECT 1 FROM persist_lock_shares WHERE name = $1 AND expires_at > " +
                        std::string(now_ms) + ") ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, pid = EXCLUDED.pid, "
                        "host = EXCLUDED.host, purpose = EXCLUDED.purpose, mode = EXCLUDED.mode, "
                        "acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at, fence = persist_locks.fence + 1 "
                        "WHERE persist_locks.expires_at <= " + std::string(now_ms) + " RETURNING fence",
                    name, owner, pid, host, purpose, ttl_ms);
                if (!rows.empty()) fence = rows.front();
            }
            connection.run("COMMIT");
            return fence;
        } catch (...) {
            // A lease whose COMMIT failed with an unknown outcome is not ours to use, and
            // expires after ttl_ms if it did commit.
            try {
                if (connection.alive()) connection.run("ROLLBACK");
            } catch (...) {
            }
            throw;
        }
    }

    std::optional<lock::Holder> holder(std::string_view name) {
        auto rows = live().query<std::tuple<std::int64_t, std::string, std::string, std::string>>(
            "SELECT pid, host, acquired_at, purpose FROM persist_locks WHERE name = $1 AND expires_at > " + std::string(now_ms),
            name);
        auto mode = lock::Mode::exclusive;
        if (rows.empty()) {
            rows = live().query<std::tuple<std::int64_t, std::string, std::string, std::string>>(
                "SELECT pid, host, acquired_at, purpose FROM persist_lock_shares WHERE name = $1 AND expires_at > " +
                    std::string(now_ms) + " ORDER BY acquired_at LIMIT 1",
                name);
            mode = lock::Mode::shared;
        }
        if (rows.empty()) return std::nullopt;
        const auto& [pid, host, since, purpose] = rows.front();
        lock::Holder holder;
        holder.pid = static_cast<long>(pid);
        holder.host = host;
        holder.since = read_time<std::chrono::system_clock::duration>(since);
        holder.purpose = purpose;
        holder.mode = mode;
        return holder;
    }

    void expire(std::string_view name) {
        live().run("UPDATE persist_locks SET expires_at = 0 WHERE name = $1", name);
        live().run("DELETE FROM persist_lock_shares WHERE name = $1", name);
    }

    void release(std::string_view name, lock::Mode mode, const std::string& owner, std::int64_t fence) {
        if (mode == lock::Mode::shared)
            live().run("DELETE FROM persist_lock_shares WHERE name = $1 AND owner = $2", name, owner);
        else
            live().run("UPDATE persist_locks SET expires_at = 0 WHERE name = $1 AND owner = $2 AND fence = $3", name, owner,
                       fence);
    }

    bool renew(std::string_view name, lock::Mode mode, const std::string& owner, std::int64_t fence, std::int64_t ttl_ms) {
        if (mode == lock::Mode::shared)
            return live().run("UPDATE persist_lock_shares SET expires_at = " + std::string(now_ms) +
                                  " + $1 WHERE name = $2 AND owner = $3 AND expires_at > " + std::string(now_ms),
                              ttl_ms, name, owner)
                       .changes() > 0;
        return live().run("UPDATE persist_locks SET expires_at = " + std::string(now_ms) +
                              " + $1 WHERE name = $2 AND owner = $3 AND fence = $4 AND expires_at > " + std::string(now_ms),
                          ttl_ms, name, owner, fence)
                   .changes() > 0;
    }

    bool add_stats(std::string_view name, const lock::NameStats& add) {
        using std::chrono::duration_cast;
        using std::chrono::microseconds;
        live().run("INSERT INTO persist_lock_stats AS s (name, acquisitions, contended, timeouts, total_wait_us, max_wait_us) "
                   "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET acquisitions = s.acquisitions + "
                   "EXCLUDED.acquisitions, contended = s.contended + EXCLUDED.contended, timeouts = s.timeouts + "
                   "EXCLUDED.timeouts, total_wait_us = s.total_wait_us + EXCLUDED.total_wait_us, max_wait_us = "
                   "GREATEST(s.max_wait_us, EXCLUDED.max_wait_us)",
                   name, static_cast<std::int64_t>(add.acquisitions), static_cast<std::int64_t>(add.contended),
                   static_cast<std::int64_t>(add.timeouts),
                   static_cast<std::int64_t>(duration_cast<microseconds>(add.total_wait).count()),
                   static_cast<std::int64_t>(duration_cast<microseconds>(add.max_wait).count()));
        return true;
    }

    lock::Stats recorded_stats() {
        lock::Stats stats;
        for (const auto& [name, acquisitions, contended, timeouts, total, longest] :
             live().query<std::tuple<std::string, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t>>(
                 "SELECT name, acquisitions, contended, timeouts, total_wait_us, max_wait_us FROM persist_lock_stats "
                 "ORDER BY name")) {
            auto& entry = stats[name];
            entry.acquisitions = static_cast<std::uint64_t>(acquisitions);
            entry.contended = static_cast<std::uint64_t>(contended);
            entry.timeouts = static_cast<std::uint64_t>(timeouts);
            entry.total_wait = std::chrono::microseconds(total);
            entry.max_wait = std::chrono::microseconds(longest);
        }
        return stats;
    }

    /// Forgets the connection without closing it (in a child after fork()).
    void abandon() noexcept { (void)connection_.release(); }

private:
    static constexpr std::string_view now_ms = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";
    static constexpr std::string_view now_text =
        "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

    // The connection, replaced when the server dropped it: leases live in the table, not in
    // the session, so a new session carries on with them.
    Connection& live() {
        if (!connection_->alive()) connection_ = std::make_unique<Connection>(url_, 64, on_event_, response_timeout_);
        return *connection_;
    }

    std::string url_;
    EventCallback on_event_; // server notices of the lease connection
    std::chrono::milliseconds response_timeout_;
    std::unique_ptr<Connection> connection_;
};

/// lock::Table's leases on PostgreSQL (see the top of this header).
using TableLock = lock::BasicTable<LeaseStore>;

static_assert(lock::LeaseStore<LeaseStore>);
static_assert(lock::LockPolicy<TableLock>);

} // namespace persist::postgres
