// persist/lock/table.hpp: lock::BasicTable, advisory leases in a table of the database itself,
// over any backend's lease store (sqlite/leases.hpp: lock::Table; postgres/table_lock.hpp).
#pragma once

#include "persist/detail/process.hpp"
#include "persist/config.hpp"
#include "persist/detail/random.hpp"
#include "persist/error.hpp"
#include "persist/lock/in_process.hpp"
#include "persist/lock/policy.hpp"
#include "persist/lock/support.hpp"
#include "persist/settings.hpp"

#include <algorithm>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>

namespace persist::lock {

/// Where a BasicTable keeps its leases: a table of the database, reached over a connection of
/// the lease store's own. One lease store per backend: sqlite::LeaseStore (lock::Table) and
/// postgres::LeaseStore (postgres::TableLock). Members, called under one mutex:
///   L(config)                        connects; creates the lease tables if needed
///   L::fence_condition               see BasicTable::fence_condition
///   l.scope()                        what threads of one process queue on (a database's identity)
///   l.try_take(name, mode, owner, pid, host, purpose, ttl_ms)
///                                    takes `name` in `mode` when no lease in a conflicting
///                                    mode is unexpired: the new fence (0 for shared), or
///                                    nullopt when it is held (or the database is busy)
///   l.holder(name)                   an unexpired lease on `name` (the exclusive one first)
///   l.expire(name)                   ends every lease on `name`; the fence stays
///   l.release(name, mode, owner, fence)        ends this holder's lease, if still its own
///   l.renew(name, mode, owner, fence, ttl_ms)  extends it; false when it was lost
///   l.add_stats(name, counters)      adds one process's counters to persist_lock_stats; false
///                                    when the database was busy (nothing added)
///   l.recorded_stats()               every name's counters in persist_lock_stats
///   l.abandon()                      forgets the connection without closing it (after fork())
template <class L>
concept LeaseStore = requires(L& leases, const L& const_leases, std::string_view name, Mode mode,
                              const std::string& text, std::int64_t number) {
    requires std::constructible_from<L, const Config&>;
    { L::fence_condition } -> std::convertible_to<std::string_view>;
    { const_leases.scope() } -> std::convertible_to<std::string>;
    { leases.try_take(name, mode, text, number, text, name, number) } -> std::same_as<std::optional<std::int64_t>>;
    { leases.holder(name) } -> std::same_as<std::optional<Holder>>;
    leases.expire(name);
    leases.release(name, mode, text, number);
    { leases.renew(name, mode, text, number, number) } -> std::same_as<bool>;
    { leases.add_stats(name, NameStats{}) } -> std::same_as<bool>;
    { leases.recorded_stats() } -> std::same_as<Stats>;
    leases.abandon();
};


/// Leases recorded in tables of the database. Exclusive leases, one row per lock name:
///
///   persist_locks: name TEXT PRIMARY KEY, owner TEXT, pid INTEGER, host TEXT, purpose TEXT,
///   mode TEXT, acquired_at TEXT, expires_at INTEGER (ms since 1970, by the database's
///   clock), fence INTEGER (incremented by every acquisition)
///
/// Shared leases, one row per holder: persist_lock_shares (name, owner, pid, host, purpose,
/// acquired_at, expires_at; key name, owner).
///
/// Statistics of every process, one row per name: persist_lock_stats (name, acquisitions,
/// contended, timeouts, total_wait_us, max_wait_us). Each BasicTable adds its counters there
/// with its renewals (every lease_ttl / 3) and when it is destroyed, never on the path of an
/// acquisition; recorded_stats() reads them (`persist lock-status --stats --lock table`).
///
/// An exclusive lease is taken, or taken over once expired, by one conditional INSERT ... ON
/// CONFLICT DO UPDATE ... WHERE expires_at <= now that also requires no unexpired shared
/// lease, so exactly one contender wins; a shared lease by an INSERT that requires no
/// unexpired exclusive lease. Each lease store makes the two checks exclude each other (SQLite
/// runs one writing statement at a time; PostgreSQL takes a transaction-scoped advisory lock
/// on the name first). A background thread renews held leases every lease_ttl / 3. Release
/// (and renewal) only match the row when the owner token (and for exclusive leases the fence)
/// are still this holder's, so a holder that was paused past its lease cannot release or
/// extend its successor's lease. The fence number lets writes check they still come from the
/// current holder: see fence_condition.
///
/// Guarantees: a holder that dies loses its lease at most lease_ttl after its last renewal;
/// works wherever every party reaches the same database (with PostgreSQL: across hosts).
/// Does not guarantee: mutual exclusion for a holder paused longer than lease_ttl (its
/// lease passes to another; guard such writes with the fence); fairness (a stream of
/// overlapping shared holders keeps an exclusive waiter out until its deadline).
/// Do not take a Table lock inside a write transaction of the same database: the lease update
/// needs the write lock that transaction holds.
///
/// Thread-safety: all members may be called from any thread; threads of one process queue in
/// the process first.
///
/// Leases is where the tables live (see LeaseStore): sqlite::LeaseStore (lock::Table) or
/// postgres::LeaseStore (postgres::TableLock, on the server's clock).
namespace detail {
// A lease this process holds, by owner token. Outside BasicTable so that the map of them is
// one type, compiled once, whatever the lease store.
struct HeldLease {
    std::string name;
    Mode mode;
    std::int64_t fence;
};
} // namespace detail

template <LeaseStore Leases>
class BasicTable {
public:
    static constexpr std::string_view name = "table";
    static constexpr Settings settings = Settings::leases; ///< what it reads of Config

    /// SQL that is true only while `name`, `owner` and `fence` (bind them in that order) still
    /// hold an unexpired exclusive lease. Add it to a write's WHERE clause to fence the write.
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
                mode_ = other.mode_;
                fence_ = other.fence_;
                pid_ = other.pid_;
            }
            return *this;
        }
        ~guard() { release(); }

        bool owns_lock() const noexcept { return table_ != nullptr; }
        /// The fence number of an exclusive lease: larger than that of every earlier holder (0
        /// for a shared lease, which fences nothing).
        std::int64_t fence() const noexcept { return fence_; }
        /// The owner token of this lease (random, unique to this acquisition).
        const std::string& owner() const noexcept { return owner_; }

    private:
        friend class BasicTable;
        void release() noexcept {
            if (!table_) return;
            if (persist::detail::current_pid() == pid_) {
                table_->release(name_, mode_, owner_, fence_);
                detail::release_thread_lock(*threads_, mode_);
            }
            table_ = nullptr;
            threads_.reset();
        }
        BasicTable* table_ = nullptr;
        std::shared_ptr<detail::ThreadLock> threads_;
        std::string name_;
        std::string owner_;
        Mode mode_ = Mode::exclusive;
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

    /// Stops renewing and records the statistics not yet recorded. Leases of guards still
    /// alive then expire after lease_ttl.
    ~BasicTable() {
        if (persist::detail::current_pid() == owner_pid_) record_stats();
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

    /// Takes the lease `lock_name` in the request's mode, polling the tables (1 ms growing to
    /// 50 ms) until the deadline. Throws usage_error for an invalid name, lock_timeout_error
    /// naming a holder (pid, host, since) at the deadline.
    guard acquire(std::string_view lock_name, const Request& request) {
        validate_name(lock_name);
        check_process();
        auto threads = detail::thread_lock(leases_->scope() + std::string(lock_name));
        WaitNotice notice(config_, lock_name);
        bool waited_in_process = false;
        try {
            waited_in_process = detail::take_thread_lock(*threads, lock_name, request, config_, stats_, false);
        } catch (const lock_timeout_error&) {
            unrecorded_.timed_out(lock_name, std::chrono::steady_clock::now() - notice.started());
            throw;
        }
        try {
            const std::string owner = new_owner_token();
            auto pause = std::chrono::milliseconds(1);
            bool noticed = false;
            bool refused_once = false; // contended: a first attempt failed (not: the database was slow)
            for (;;) {
                if (auto fence = try_take(lock_name, request.mode, owner, request.purpose)) {
                    {
                        std::lock_guard lock(heartbeat_mutex_);
                        held_[owner] = {std::string(lock_name), request.mode, *fence};
                    }
                    const auto waited = std::chrono::steady_clock::now() - notice.started();
                    const bool contended = waited_in_process || refused_once;
                    stats_.granted(lock_name, waited, contended);
                    unrecorded_.granted(lock_name, waited, contended);
                    guard result;
                    result.table_ = this;
                    result.threads_ = std::move(threads);
                    result.name_ = std::string(lock_name);
                    result.owner_ = owner;
                    result.mode_ = request.mode;
                    result.fence_ = *fence;
                    result.pid_ = persist::detail::current_pid();
                    return result;
                }
                const auto now = std::chrono::steady_clock::now();
                if (now >= request.deadline) {
                    stats_.timed_out(lock_name, now - notice.started());
                    unrecorded_.timed_out(lock_name, now - notice.started());
                    throw timeout_error(lock_name, request.mode, now - notice.started(), status(lock_name).holder);
                }
                if (!noticed && now >= notice.due()) {
                    noticed = true;
                    notice.send(status(lock_name).holder);
                }
                refused_once = true;
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

    /// This process's counters per lock name.
    Stats stats() const { return stats_.snapshot(); }

    /// The counters of every process that used these leases, as recorded in the database
    /// (persist_lock_stats), this one's included up to now. Throws what the lease store throws;
    /// usage_error after fork().
    Stats recorded_stats() {
        check_process();
        record_stats();
        std::lock_guard lock(connection_mutex_);
        return leases_->recorded_stats();
    }

private:
    // Hands this process's new counters to the database; what cannot be written now (busy,
    // unreachable, read-only) is kept for the next round.
    void record_stats() noexcept {
        Stats pending = unrecorded_.drain();
        for (auto entry = pending.begin(); entry != pending.end();) {
            bool added = false;
            try {
                std::lock_guard lock(connection_mutex_);
                added = leases_->add_stats(entry->first, entry->second);
            } catch (...) {
            }
            if (!added) break;
            entry = pending.erase(entry);
        }
        if (!pending.empty()) unrecorded_.merge(pending);
    }

    // The connection must not cross fork(); a child gets a clear error instead.
    void check_process() const {
        if (persist::detail::current_pid() != owner_pid_)
            throw usage_error("this lock::Table was created in process " + std::to_string(owner_pid_) +
                              " and is being used in process " + std::to_string(persist::detail::current_pid()) +
                              " after fork(); create a new one (or a new Store) in the child");
    }

    std::optional<std::int64_t> try_take(std::string_view lock_name, Mode mode, const std::string& owner,
                                         std::string_view purpose) {
        std::lock_guard lock(connection_mutex_);
        return leases_->try_take(lock_name, mode, owner, static_cast<std::int64_t>(persist::detail::current_pid()), host_, purpose,
                                 static_cast<std::int64_t>(config_.lease_ttl.count()));
    }

    void release(const std::string& lock_name, Mode mode, const std::string& owner, std::int64_t fence) noexcept {
        {
            std::lock_guard lock(heartbeat_mutex_);
            held_.erase(owner);
        }
        try {
            std::lock_guard lock(connection_mutex_);
            leases_->release(lock_name, mode, owner, fence);
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
            record_stats();
            for (const auto& [owner, lease] : held) {
                bool renewed = true;
                try {
                    std::lock_guard db(connection_mutex_);
                    renewed = leases_->renew(lease.name, lease.mode, owner, lease.fence,
                                             static_cast<std::int64_t>(config_.lease_ttl.count()));
                } catch (const error&) {
                    continue; // busy or transient: the next round tries again before the lease ends
                }
                if (!renewed && config_.on_event) {
                    try {
                        config_.on_event({Event::Kind::warning, "lease on lock '" + lease.name +
                                                                    "' was lost (expired or forced); its fence " +
                                                                    std::to_string(lease.fence) + " is no longer valid"});
                    } catch (...) {
                    }
                }
            }
            lock.lock();
        }
    }

    static std::string new_owner_token() { return persist::detail::random_hex(16); }

    Config config_;
    std::string host_ = host_name();
    pid_t owner_pid_ = persist::detail::current_pid();
    std::unique_ptr<Leases> leases_;
    std::mutex connection_mutex_;
    StatsRecorder stats_;
    StatsRecorder unrecorded_; // added to persist_lock_stats with the next renewal round
    std::mutex heartbeat_mutex_;
    std::condition_variable heartbeat_wake_;
    std::map<std::string, detail::HeldLease> held_; // by owner token: one process may hold a name shared twice
    bool stopping_ = false;
    std::unique_ptr<std::thread> heartbeat_;
};

} // namespace persist::lock
