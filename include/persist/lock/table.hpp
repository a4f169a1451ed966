// persist/lock/table.hpp: lock::Table, advisory leases in a table of the database itself.
#pragma once

#include "persist/detail/process.hpp"
#include "persist/config.hpp"
#include "persist/detail/file_setup.hpp"
#include "persist/error.hpp"
#include "persist/lock/in_process.hpp"
#include "persist/lock/policy.hpp"
#include "persist/lock/support.hpp"
#include "persist/sqlite/connection.hpp"
#include "persist/sqlite/values.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>

namespace persist::lock {

namespace detail {

/// Where lock::Table keeps its leases: the table persist_locks of a SQLite database, through a
/// connection of its own, with the time from SQLite's clock (the local machine's). The
/// protocol is BasicTable's; postgres::LeaseStore keeps the same table on a PostgreSQL server.
class SqliteLeases {
public:
    /// See BasicTable::fence_condition.
    static constexpr std::string_view fence_condition =
        "EXISTS (SELECT 1 FROM persist_locks WHERE name = ? AND owner = ? AND fence = ? AND "
        "expires_at > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))";

    /// Throws config_error for ":memory:" (a private in-memory database coordinates nobody).
    explicit SqliteLeases(const Config& config) : database_(config.path()) {
        if (persist::detail::is_memory_path(database_))
            throw config_error("lock::Table keeps leases in the database, and \":memory:\" is private to one "
                               "connection; use lock::InProcess for an in-memory database");
        if (config.read_only) {
            // Inspection: read leases if the table exists; create nothing.
            read_only_ = true;
            connection_ = std::make_unique<sqlite::Connection>(database_, config, sqlite::Connection::Role::reader);
            return;
        }
        sqlite::prepare_database(database_, config.path_setting());
        connection_ = std::make_unique<sqlite::Connection>(database_, config, sqlite::Connection::Role::writer);
        connection_->run_script(
            "CREATE TABLE IF NOT EXISTS persist_locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL,"
            " host TEXT NOT NULL, purpose TEXT NOT NULL, mode TEXT NOT NULL, acquired_at TEXT NOT NULL,"
            " expires_at INTEGER NOT NULL, fence INTEGER NOT NULL)");
    }

    /// What threads of one process queue on, per lock name.
    std::string scope() const { return "table:" + database_ + "\n"; }

    /// Takes `name` for `owner` when it is free or its lease expired: its new fence, or
    /// nullopt when someone else holds it (or the database is busy: try again).
    std::optional<std::int64_t> try_take(std::string_view name, const std::string& owner, std::int64_t pid,
                                         const std::string& host, std::string_view purpose, std::int64_t ttl_ms) {
        refuse_if_read_only(name);
        static const std::string sql =
            "INSERT INTO persist_locks (name, owner, pid, host, purpose, mode, acquired_at, expires_at, fence) "
            "VALUES (?, ?, ?, ?, ?, 'exclusive', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), " + std::string(now_ms) +
            " + ?, 1) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host, "
            "purpose = excluded.purpose, mode = excluded.mode, acquired_at = excluded.acquired_at, "
            "expires_at = excluded.expires_at, fence = persist_locks.fence + 1 "
            "WHERE persist_locks.expires_at <= " + std::string(now_ms) + " RETURNING fence";
        sqlite3_stmt* statement = connection_->statements().get(connection_->database(), sql);
        Reset reset{statement};
        sqlite::bind_value(statement, 1, name);
        sqlite::bind_value(statement, 2, owner);
        sqlite::bind_value(statement, 3, pid);
        sqlite::bind_value(statement, 4, host);
        sqlite::bind_value(statement, 5, purpose);
        sqlite::bind_value(statement, 6, ttl_ms);
        const int rc = sqlite3_step(statement);
        if (rc == SQLITE_ROW) {
            const auto fence = sqlite3_column_int64(statement, 0);
            sqlite3_step(statement); // finish the statement so it commits
            return fence;
        }
        if (rc == SQLITE_DONE) return std::nullopt;               // held by someone else
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return std::nullopt; // try again
        sqlite::throw_last_error(connection_->handle(), sql);
    }

    /// The unexpired lease on `name`, if any.
    std::optional<Holder> holder(std::string_view name) {
        if (read_only_ && connection_->query_text("SELECT count(*) FROM sqlite_schema WHERE name = 'persist_locks'") == "0")
            return std::nullopt; // no lease was ever taken
        sqlite3_stmt* statement = connection_->statements().get(
            connection_->database(),
            "SELECT pid, host, acquired_at, purpose FROM persist_locks WHERE name = ? AND expires_at > " + std::string(now_ms));
        Reset reset{statement};
        sqlite::bind_value(statement, 1, name);
        const int rc = sqlite3_step(statement);
        if (rc == SQLITE_DONE) return std::nullopt;
        if (rc != SQLITE_ROW) sqlite::throw_last_error(connection_->handle(), "lock_status");
        Holder holder;
        holder.pid = sqlite::read_column<std::int64_t>(statement, 0);
        holder.host = sqlite::read_column<std::string>(statement, 1);
        holder.since = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
            parse_time(sqlite::read_column<std::string>(statement, 2)));
        holder.purpose = sqlite::read_column<std::string>(statement, 3);
        holder.mode = Mode::exclusive;
        return holder;
    }

    /// Ends the lease on `name` whoever holds it (its fence stays).
    void expire(std::string_view name) {
        refuse_if_read_only(name);
        execute("UPDATE persist_locks SET expires_at = 0 WHERE name = ?", name);
    }

    /// Ends the lease if `owner` and `fence` still hold it.
    void release(std::string_view name, const std::string& owner, std::int64_t fence) {
        execute("UPDATE persist_locks SET expires_at = 0 WHERE name = ? AND owner = ? AND fence = ?", name, owner, fence);
    }

    /// Extends the lease by ttl_ms if `owner` and `fence` still hold it unexpired; returns
    /// whether they did.
    bool renew(std::string_view name, const std::string& owner, std::int64_t fence, std::int64_t ttl_ms) {
        return execute("UPDATE persist_locks SET expires_at = " + std::string(now_ms) +
                           " + ? WHERE name = ? AND owner = ? AND fence = ? AND expires_at > " + std::string(now_ms),
                       ttl_ms, name, owner, fence) > 0;
    }

    /// Forgets the connection without closing it (in a child after fork()).
    void abandon() noexcept { connection_->abandon(); }

private:
    static constexpr std::string_view now_ms = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

    void refuse_if_read_only(std::string_view name) const {
        if (read_only_)
            throw usage_error("lease '" + std::string(name) + "' cannot be taken or changed: the Store was opened read-only "
                              "(Config::read_only)");
    }

    bool read_only_ = false;

    struct Reset {
        sqlite3_stmt* statement;
        ~Reset() {
            sqlite3_reset(statement);
            sqlite3_clear_bindings(statement);
        }
    };

    template <class... Params>
    std::int64_t execute(const std::string& sql, const Params&... params) {
        sqlite3_stmt* statement = connection_->statements().get(connection_->database(), sql);
        Reset reset{statement};
        int index = 0;
        (sqlite::bind_value(statement, ++index, params), ...);
        const int rc = sqlite3_step(statement);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) sqlite::throw_last_error(connection_->handle(), sql);
        return sqlite3_changes64(connection_->handle());
    }

    std::string database_;
    std::unique_ptr<sqlite::Connection> connection_;
};

} // namespace detail

/// Exclusive leases recorded in the table persist_locks of the database:
///
///   name TEXT PRIMARY KEY, owner TEXT, pid INTEGER, host TEXT, purpose TEXT, mode TEXT,
///   acquired_at TEXT, expires_at INTEGER (ms since 1970, by the database's clock),
///   fence INTEGER (incremented by every acquisition)
///
/// A lease is taken, or taken over once expired, by one conditional INSERT ... ON CONFLICT
/// DO UPDATE ... WHERE expires_at <= now, so exactly one contender wins. A background thread
/// renews held leases every lease_ttl / 3. Release (and renewal) only match the row when both
/// the owner token and the fence are still this holder's, so a holder that was paused past
/// its lease cannot release or extend its successor's lease. The fence number lets writes
/// check they still come from the current holder: see fence_condition.
///
/// Guarantees: a holder that dies loses its lease at most lease_ttl after its last renewal;
/// works wherever every party reaches the same database (with PostgreSQL: across hosts).
/// Does not guarantee: mutual exclusion for a holder paused longer than lease_ttl (its
/// lease passes to another; guard such writes with the fence); shared mode (exclusive only).
/// Do not take a Table lock inside a write transaction of the same database: the lease update
/// needs the write lock that transaction holds.
///
/// Thread-safety: all members may be called from any thread; threads of one process queue in
/// the process first.
///
/// Leases is where the table lives: detail::SqliteLeases (lock::Table) or
/// postgres::LeaseStore (postgres::TableLock, on the server's clock).
template <class Leases>
class BasicTable {
public:
    static constexpr std::string_view name = "table";

    /// SQL that is true only while `name`, `owner` and `fence` (bind them in that order) still
    /// hold an unexpired lease. Add it to a write's WHERE clause to fence the write.
    static constexpr std::string_view fence_condition = Leases::fence_condition;

    class guard {
    public:
        guard() = default;
        guard(guard&& other) noexcept { *this = std::move(other); }
        guard& operator=(guard&& other) noexcept {
            if (this != &other) {
                release();
                table_ = std::exchange(other.table_, nullptr);
                threads_ = std::move(other.threads_);
                name_ = std::move(other.name_);
                owner_ = std::move(other.owner_);
                fence_ = other.fence_;
                pid_ = other.pid_;
            }
            return *this;
        }
        ~guard() { release(); }

        bool owns_lock() const noexcept { return table_ != nullptr; }
        /// The fence number of this lease: larger than that of every earlier holder.
        std::int64_t fence() const noexcept { return fence_; }
        /// The owner token of this lease (random, unique to this acquisition).
        const std::string& owner() const noexcept { return owner_; }

    private:
        friend class BasicTable;
        void release() noexcept {
            if (!table_) return;
            if (persist::detail::current_pid() == pid_) {
                table_->release(name_, owner_, fence_);
                detail::release_thread_lock(*threads_, Mode::exclusive);
            }
            table_ = nullptr;
            threads_.reset();
        }
        BasicTable* table_ = nullptr;
        std::shared_ptr<detail::ThreadLock> threads_;
        std::string name_;
        std::string owner_;
        std::int64_t fence_ = 0;
        pid_t pid_ = 0;
    };

    /// Opens a connection of its own to the database, creates persist_locks if needed, and
    /// starts the renewal thread. Throws config_error for a lease_ttl under 30 ms, or what
    /// Leases throws (SQLite: config_error for ":memory:", a private in-memory database that
    /// coordinates nobody).
    explicit BasicTable(const Config& config) : config_(config) {
        if (config_.lease_ttl < std::chrono::milliseconds(30))
            throw config_error("lease_ttl is " + std::to_string(config_.lease_ttl.count()) +
                               " ms; use at least 30 ms (renewal runs every lease_ttl / 3)");
        leases_ = std::make_unique<Leases>(config_);
        heartbeat_ = std::make_unique<std::thread>([this] { renew_loop(); });
    }

    BasicTable(const BasicTable&) = delete;
    BasicTable& operator=(const BasicTable&) = delete;

    /// Stops renewing. Leases of guards still alive then expire after lease_ttl.
    ~BasicTable() {
        {
            std::lock_guard lock(heartbeat_mutex_);
            stopping_ = true;
        }
        heartbeat_wake_.notify_all();
        if (persist::detail::current_pid() == owner_pid_) {
            heartbeat_->join();
        } else {
            // A forked child has no renewal thread and must not close the parent's connection.
            (void)heartbeat_.release();
            leases_->abandon();
        }
    }

    /// Takes the lease `lock_name`, polling the table (1 ms growing to 50 ms) until the
    /// deadline. Throws usage_error for shared mode or an invalid name, lock_timeout_error
    /// naming the holder (pid, host, since) at the deadline.
    guard acquire(std::string_view lock_name, const Request& request) {
        validate_name(lock_name);
        check_process();
        if (request.mode != Mode::exclusive)
            throw usage_error("lock::Table grants exclusive leases only; request lock '" + std::string(lock_name) +
                              "' in exclusive mode, or use lock::File for shared locks");
        auto threads = detail::thread_lock(leases_->scope() + std::string(lock_name));
        WaitNotice notice(config_, lock_name);
        const bool waited_in_process = detail::take_thread_lock(*threads, lock_name, request, config_, stats_, false);
        try {
            const std::string owner = new_owner_token();
            auto pause = std::chrono::milliseconds(1);
            bool noticed = false;
            for (;;) {
                if (auto fence = try_take(lock_name, owner, request.purpose)) {
                    {
                        std::lock_guard lock(heartbeat_mutex_);
                        held_[std::string(lock_name)] = {owner, *fence};
                    }
                    const auto waited = std::chrono::steady_clock::now() - notice.started();
                    stats_.granted(lock_name, waited, waited_in_process || waited > std::chrono::milliseconds(1));
                    guard result;
                    result.table_ = this;
                    result.threads_ = std::move(threads);
                    result.name_ = std::string(lock_name);
                    result.owner_ = owner;
                    result.fence_ = *fence;
                    result.pid_ = persist::detail::current_pid();
                    return result;
                }
                const auto now = std::chrono::steady_clock::now();
                if (now >= request.deadline) {
                    stats_.timed_out(lock_name, now - notice.started());
                    throw timeout_error(lock_name, request.mode, now - notice.started(), status(lock_name).holder);
                }
                if (!noticed && now >= notice.due()) {
                    noticed = true;
                    notice.send(status(lock_name).holder);
                }
                std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, request.deadline - now));
                pause = std::min(pause * 2, std::chrono::milliseconds(50));
            }
        } catch (...) {
            detail::release_thread_lock(*threads, request.mode);
            throw;
        }
    }

    /// The unexpired lease on `lock_name`, if any. Throws usage_error after fork().
    Status status(std::string_view lock_name) {
        validate_name(lock_name);
        check_process();
        std::lock_guard lock(connection_mutex_);
        auto holder = leases_->holder(lock_name);
        return Status{holder.has_value(), std::move(holder)};
    }

    /// Ends the lease on `lock_name` whoever holds it, for a holder that died or hung. Its
    /// fence stays, so the next holder's fence is larger and the old holder's fenced writes
    /// fail. Reported as an Event::Kind::warning.
    void force_unlock(std::string_view lock_name) {
        const auto before = status(lock_name);
        {
            std::lock_guard lock(connection_mutex_);
            leases_->expire(lock_name);
        }
        if (before.held && config_.on_event) {
            try {
                config_.on_event({Event::Kind::warning,
                                  "forced lock '" + std::string(lock_name) + "' free; it was " +
                                      describe_holder(before.holder)});
            } catch (...) {
            }
        }
    }

    Stats stats() const { return stats_.snapshot(); }

private:
    // The connection must not cross fork(); a child gets a clear error instead.
    void check_process() const {
        if (persist::detail::current_pid() != owner_pid_)
            throw usage_error("this lock::Table was created in process " + std::to_string(owner_pid_) +
                              " and is being used in process " + std::to_string(persist::detail::current_pid()) +
                              " after fork(); create a new one (or a new Store) in the child");
    }

    std::optional<std::int64_t> try_take(std::string_view lock_name, const std::string& owner, std::string_view purpose) {
        std::lock_guard lock(connection_mutex_);
        return leases_->try_take(lock_name, owner, static_cast<std::int64_t>(persist::detail::current_pid()), host_, purpose,
                                 static_cast<std::int64_t>(config_.lease_ttl.count()));
    }

    void release(const std::string& lock_name, const std::string& owner, std::int64_t fence) noexcept {
        {
            std::lock_guard lock(heartbeat_mutex_);
            held_.erase(lock_name);
        }
        try {
            std::lock_guard lock(connection_mutex_);
            leases_->release(lock_name, owner, fence);
        } catch (...) {
            // The lease then simply expires after lease_ttl.
        }
    }

    void renew_loop() {
        std::unique_lock lock(heartbeat_mutex_);
        while (!stopping_) {
            heartbeat_wake_.wait_for(lock, config_.lease_ttl / 3, [&] { return stopping_; });
            if (stopping_) return;
            const auto held = held_;
            lock.unlock();
            for (const auto& [lock_name, lease] : held) {
                bool renewed = true;
                try {
                    std::lock_guard db(connection_mutex_);
                    renewed = leases_->renew(lock_name, lease.owner, lease.fence, static_cast<std::int64_t>(config_.lease_ttl.count()));
                } catch (const error&) {
                    continue; // busy or transient: the next round tries again before the lease ends
                }
                if (!renewed && config_.on_event) {
                    try {
                        config_.on_event({Event::Kind::warning, "lease on lock '" + lock_name +
                                                                    "' was lost (expired or forced); its fence " +
                                                                    std::to_string(lease.fence) + " is no longer valid"});
                    } catch (...) {
                    }
                }
            }
            lock.lock();
        }
    }

    static std::string new_owner_token() {
        std::random_device device;
        std::string token;
        static constexpr char digits[] = "0123456789abcdef";
        for (int i = 0; i < 32; ++i) token += digits[device() % 16];
        return token;
    }

    struct Lease {
        std::string owner;
        std::int64_t fence;
    };

    Config config_;
    std::string host_ = host_name();
    pid_t owner_pid_ = persist::detail::current_pid();
    std::unique_ptr<Leases> leases_;
    std::mutex connection_mutex_;
    StatsRecorder stats_;
    std::mutex heartbeat_mutex_;
    std::condition_variable heartbeat_wake_;
    std::map<std::string, Lease> held_;
    bool stopping_ = false;
    std::unique_ptr<std::thread> heartbeat_;
};

/// Leases in the SQLite database the Store opens (see BasicTable).
using Table = BasicTable<detail::SqliteLeases>;

static_assert(LockPolicy<Table>);

} // namespace persist::lock
