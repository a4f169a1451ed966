// persist/postgres/advisory_lock.hpp: named locks as PostgreSQL session advisory locks, for
// processes on any number of hosts that share one server.
//
// Each policy object keeps one dedicated connection (not from the Store's pool) and holds
// its locks in that session, so the server releases them when the holder's connection ends:
// a crashed process, a killed one, or a network cut noticed by TCP keepalives. Threads of a
// process queue in the process first (as with lock::File), then on the server.
//
// The key: a lock name maps to the 64-bit key of pg_advisory_lock(bigint) as the first 8
// bytes of SHA-256("persist:" + name), read big-endian as a signed integer. Other programs
// can take the same lock with that key (AdvisoryLock::key(name) computes it).
// Waiting: a waiter asks with pg_try_advisory_lock, then sleeps (1 ms, doubling up to 25 ms)
// and asks again until its deadline. It does not wait inside pg_advisory_lock because a
// session blocked in a statement holds a snapshot for the whole wait, and CREATE INDEX
// CONCURRENTLY waits for every older snapshot of the database: a migration building an index
// concurrently under the "migrate" lock would wait for the processes waiting for that lock,
// forever. Polling also leaves the session free for other threads between attempts.
// Who holds a lock: on taking one, the holder records its own pid, host name, purpose and the
// time in persist_lock_holders (an UNLOGGED table, created on first use; rows of ended sessions
// are swept), keyed by its server session and the lock's key. lock_status() and timeouts join
// it with pg_locks, so they name the holder's process, as on SQLite. Where the table cannot be
// created or written (no CREATE privilege), they name the holder's server session instead: its
// server pid, client address, application_name and start of transaction.
// Loss: when the dedicated connection ends, the server releases every lock it held. A guard's
// check() asks the server whether its lock is still held and throws lock_lost_error if not
// (Store::with_lock calls it after the function returns); the next acquire() reconnects.
#pragma once

#include "persist/config.hpp"
#include "persist/settings.hpp"
#include "persist/lock/in_process.hpp"
#include "persist/lock/policy.hpp"
#include "persist/lock/support.hpp"
#include "persist/postgres/advisory_key.hpp"
#include "persist/postgres/connection.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <unistd.h>

namespace persist::postgres {

/// A lock was released behind its holder's back: the session that held it ended. Whatever
/// ran under the lock may have overlapped with another holder.
class lock_lost_error : public connection_error {
public:
    explicit lock_lost_error(const std::string& message) : connection_error(message) {}
};

class AdvisoryLock {
public:
    static constexpr std::string_view name = "postgres-advisory";
    static constexpr Settings settings = Settings::postgres; ///< what it reads of Config

    /// The pg_advisory_lock key of `lock_name` (see the top of this header).
    static std::int64_t key(std::string_view lock_name) { return detail::advisory_key("persist:" + std::string(lock_name)); }

    class guard {
    public:
        guard() = default;
        guard(guard&& other) noexcept
            : owner_(std::exchange(other.owner_, nullptr)), threads_(std::move(other.threads_)), key_(other.key_),
              mode_(other.mode_), session_(other.session_), name_(std::move(other.name_)) {}
        guard& operator=(guard&& other) noexcept {
            if (this != &other) {
                release();
                owner_ = std::exchange(other.owner_, nullptr);
                threads_ = std::move(other.threads_);
                key_ = other.key_;
                mode_ = other.mode_;
                session_ = other.session_;
                name_ = std::move(other.name_);
            }
            return *this;
        }
        ~guard() { release(); }
        bool owns_lock() const noexcept { return owner_ != nullptr; }

        /// Asks the server whether the lock is still held by this guard's session. Throws
        /// lock_lost_error when it is not (the session ended, so the server released it).
        void check() {
            if (owner_ && !owner_->still_held(key_, session_))
                throw lock_lost_error("lock '" + name_ + "' was lost: the PostgreSQL session that held it (advisory key " +
                                      std::to_string(key_) + ") ended, and the server released the lock with it; work "
                                      "done under the lock may have overlapped with another holder");
        }

    private:
        friend class AdvisoryLock;
        guard(AdvisoryLock* owner, std::shared_ptr<lock::detail::ThreadLock> threads, std::int64_t key, lock::Mode mode,
              std::uint64_t session, std::string name)
            : owner_(owner), threads_(std::move(threads)), key_(key), mode_(mode), session_(session), name_(std::move(name)) {}
        void release() noexcept {
            if (!owner_) return;
            owner_->unlock(key_, mode_, session_);
            lock::detail::release_thread_lock(*threads_, mode_);
            owner_ = nullptr;
            threads_.reset();
        }
        AdvisoryLock* owner_ = nullptr;
        std::shared_ptr<lock::detail::ThreadLock> threads_;
        std::int64_t key_ = 0;
        lock::Mode mode_ = lock::Mode::exclusive;
        std::uint64_t session_ = 0; // which connection of the policy took it
        std::string name_;
    };

    /// Opens the dedicated connection. Throws config_error without Config::db_url,
    /// connection_error when the server cannot be reached.
    explicit AdvisoryLock(const Config& config) : config_(config) {
        if (config.db_url.empty())
            throw config_error("postgres::AdvisoryLock needs Config::db_url (or the <PREFIX>_DB_URL variable)");
        connection_ = std::make_unique<Connection>(config.db_url, 64, config.on_event, Connection::response_timeout_for(config));
        scope_ = "pg-advisory:" + config.db_url + "\n";
        prepare_holders();
    }
    AdvisoryLock(const AdvisoryLock&) = delete;
    AdvisoryLock& operator=(const AdvisoryLock&) = delete;

    /// Takes `lock_name`, first among this process's threads, then on the server. Throws
    /// lock_timeout_error naming the holder at the deadline, usage_error for a bad name,
    /// connection_error when the dedicated connection is gone (its locks went with it).
    guard acquire(std::string_view lock_name, const lock::Request& request) {
        lock::validate_name(lock_name);
        auto threads = lock::detail::thread_lock(scope_, lock_name);
        const bool waited_here = lock::detail::take_thread_lock(*threads, lock_name, request, config_, stats_, false);
        const auto started = std::chrono::steady_clock::now();
        const std::int64_t k = key(lock_name);
        std::uint64_t session = 0;
        try {
            const bool shared = request.mode == lock::Mode::shared;
            auto pause = std::chrono::milliseconds(1);
            lock::WaitNotice notice(config_, lock_name);
            bool noticed = false;
            for (;;) {
                {
                    std::lock_guard lock(mutex_);
                    reconnect_if_lost();
                    session = session_;
                    if (connection_->query<bool>(shared ? "SELECT pg_try_advisory_lock_shared($1)" : "SELECT pg_try_advisory_lock($1)", k)
                            .front()) {
                        record_holder(k, std::string(request.purpose));
                        break;
                    }
                }
                const auto now = std::chrono::steady_clock::now();
                if (now >= request.deadline) {
                    const auto waited = now - started;
                    stats_.timed_out(lock_name, waited);
                    std::lock_guard lock(mutex_);
                    throw lock::timeout_error(lock_name, request.mode, waited, holder_of(k));
                }
                if (!noticed && now >= notice.due()) {
                    noticed = true;
                    std::lock_guard lock(mutex_);
                    notice.send(holder_of(k));
                }
                std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, request.deadline - now));
                pause = std::min(pause * 2, std::chrono::milliseconds(25));
            }
        } catch (...) {
            lock::detail::release_thread_lock(*threads, request.mode);
            throw;
        }
        const auto waited = std::chrono::steady_clock::now() - started;
        stats_.granted(lock_name, waited, waited_here || waited > std::chrono::microseconds(500));
        return guard(this, std::move(threads), k, request.mode, session, std::string(lock_name));
    }

    /// Held or free; for a held lock, one holder's pid, host and since.
    lock::Status status(std::string_view lock_name) {
        lock::validate_name(lock_name);
        std::lock_guard lock(mutex_);
        reconnect_if_lost();
        auto holder = holder_of(key(lock_name));
        return lock::Status{holder.has_value(), std::move(holder)};
    }

    /// Advisory locks end with their session; persist does not end other sessions for you.
    /// Throws usage_error naming the holder's pid and the SQL that would end its session.
    void force_unlock(std::string_view lock_name) {
        lock::validate_name(lock_name);
        std::lock_guard lock(mutex_);
        reconnect_if_lost();
        const auto current = held_by(key(lock_name));
        if (!current) return;
        throw usage_error("lock '" + std::string(lock_name) + "' is a PostgreSQL advisory lock " +
                          lock::describe_holder(current->holder) +
                          "; the server releases it when that session ends. If the holder is stuck, end its session: "
                          "SELECT pg_terminate_backend(" + std::to_string(current->server_pid) + ")");
    }

    lock::Stats stats() const { return stats_.snapshot(); }

private:
    // A new session when the old one ended; its locks are gone with it.
    void reconnect_if_lost() {
        if (connection_->alive()) return;
        connection_ = std::make_unique<Connection>(config_.db_url, 64, config_.on_event,
                                                   Connection::response_timeout_for(config_));
        ++session_;
        warn("the PostgreSQL session holding advisory locks ended; the server released its locks, and a new session "
             "was opened");
        prepare_holders();
    }

    bool still_held(std::int64_t k, std::uint64_t session) {
        std::lock_guard lock(mutex_);
        if (session != session_) return false;
        try {
            return connection_->query<bool>(
                       "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = "
                       "pg_backend_pid() AND classid = (($1::bigint >> 32) & 4294967295)::oid AND objid = ($1::bigint & "
                       "4294967295)::oid AND objsubid = 1)",
                       k)
                .front();
        } catch (const connection_error&) {
            return false;
        }
    }

    void unlock(std::int64_t k, lock::Mode mode, std::uint64_t session) noexcept {
        std::lock_guard lock(mutex_);
        if (session != session_) return; // that session ended, and its locks with it
        try {
            connection_->run(mode == lock::Mode::shared ? "SELECT pg_advisory_unlock_shared($1)" : "SELECT pg_advisory_unlock($1)", k);
        } catch (...) {
            // The connection is gone, and the server released the lock with the session.
        }
    }

    // Creates persist_lock_holders if it can, sweeps rows of ended sessions, and notes whether
    // this session can record itself there. (No NOTICE "already exists, skipping" at every
    // start: it would only be noise in on_event.)
    void prepare_holders() {
        try {
            connection_->execute_script(
                "BEGIN; SET LOCAL client_min_messages = warning; SELECT pg_advisory_xact_lock(" +
                std::to_string(detail::advisory_key("persist:xact:persist.lock_holders")) +
                "); CREATE UNLOGGED TABLE IF NOT EXISTS persist_lock_holders (backend_pid INTEGER NOT NULL, key BIGINT NOT NULL, "
                "pid BIGINT NOT NULL, host TEXT NOT NULL, purpose TEXT NOT NULL, since TIMESTAMPTZ NOT NULL, "
                "PRIMARY KEY (backend_pid, key)); COMMIT");
        } catch (const connection_error&) {
            throw;
        } catch (const error&) {
            connection_->execute_script("ROLLBACK"); // no CREATE privilege: the table may still exist
        }
        holders_ = connection_->query<bool>(
                                 "SELECT to_regclass('persist_lock_holders') IS NOT NULL AND "
                                 "has_table_privilege('persist_lock_holders', 'SELECT') AND "
                                 "has_table_privilege('persist_lock_holders', 'INSERT') AND "
                                 "has_table_privilege('persist_lock_holders', 'UPDATE')")
                       .front();
        if (!holders_) {
            warn("persist_lock_holders cannot be created or written by this role; lock status will name holders by "
                 "their server session (pid, client address, application_name) instead of their process");
            return;
        }
        try {
            connection_->execute("DELETE FROM persist_lock_holders WHERE backend_pid NOT IN (SELECT pid FROM pg_stat_activity)");
        } catch (const connection_error&) {
            throw;
        } catch (const error&) {
            // No DELETE privilege: stale rows are harmless, as only held locks are looked up.
        }
    }

    // Records this process as the holder of key `k` (under the policy's mutex, just granted).
    void record_holder(std::int64_t k, const std::string& purpose) {
        if (!holders_) return;
        try {
            connection_->run("INSERT INTO persist_lock_holders VALUES (pg_backend_pid(), $1, $2, $3, $4, clock_timestamp()) "
                             "ON CONFLICT (backend_pid, key) DO UPDATE SET pid = excluded.pid, host = excluded.host, "
                             "purpose = excluded.purpose, since = excluded.since",
                             k, static_cast<std::int64_t>(::getpid()), host_, purpose);
        } catch (const connection_error&) {
            throw; // the session, and the lock with it, is gone
        } catch (const error& e) {
            holders_ = false; // e.g. the table was dropped; the lock itself is held
            warn(std::string("recording the holder of an advisory lock failed, so lock status will name server "
                             "sessions: ") + e.what());
        }
    }

    void warn(const std::string& message) const noexcept {
        if (!config_.on_event) return;
        try {
            config_.on_event({Event::Kind::warning, message});
        } catch (...) {
        }
    }

    // The holder of advisory key `k`, if any (one holder for shared locks): the process that
    // recorded itself, or else the server session holding the key.
    std::optional<lock::Holder> holder_of(std::int64_t k) {
        auto found = held_by(k);
        if (!found) return std::nullopt;
        return std::move(found->holder);
    }

    struct Held {
        lock::Holder holder;
        std::int64_t server_pid; // the session holding the key (for pg_terminate_backend)
    };
    std::optional<Held> held_by(std::int64_t k) {
        using Time = std::optional<std::chrono::sys_time<std::chrono::microseconds>>;
        const std::string recorded = holders_ ? "h.pid, h.host, h.purpose, h.since" : "NULL::bigint, NULL, NULL, NULL::timestamptz";
        const std::string joined =
            holders_ ? " LEFT JOIN persist_lock_holders h ON h.backend_pid = l.pid AND h.key = $1::bigint" : "";
        const auto rows = connection_->query<std::tuple<std::int64_t, std::optional<std::string>, std::string, std::string, Time,
                                                        std::optional<std::int64_t>, std::optional<std::string>,
                                                        std::optional<std::string>, Time>>(
            "SELECT a.pid, host(a.client_addr), l.mode, a.application_name, coalesce(a.xact_start, a.query_start, "
            "a.backend_start), " + recorded + " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid" + joined +
                " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = (($1::bigint >> 32) & 4294967295)::oid "
                "AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1 ORDER BY 6 NULLS LAST LIMIT 1",
            k);
        if (rows.empty()) return std::nullopt;
        const auto& [backend, address, mode, application, session_since, pid, host, purpose, since] = rows.front();
        lock::Holder holder;
        holder.mode = mode == "ShareLock" ? lock::Mode::shared : lock::Mode::exclusive;
        if (pid) {
            holder.pid = static_cast<long>(*pid);
            holder.host = host.value_or("");
            holder.purpose = purpose.value_or("");
            if (since) holder.since = *since;
        } else {
            holder.pid = static_cast<long>(backend);
            holder.host = address.value_or("local");
            if (session_since) holder.since = *session_since;
            holder.purpose = "PostgreSQL server process " + std::to_string(backend) + " of application '" + application +
                             "' (it did not record its own pid)";
        }
        return Held{std::move(holder), backend};
    }

    Config config_;
    std::string scope_;
    std::mutex mutex_;
    std::unique_ptr<Connection> connection_;
    std::uint64_t session_ = 0;
    bool holders_ = false; // this session can record itself in persist_lock_holders
    std::string host_ = lock::host_name();
    lock::StatsRecorder stats_;
};

static_assert(lock::LockPolicy<AdvisoryLock>);

} // namespace persist::postgres
