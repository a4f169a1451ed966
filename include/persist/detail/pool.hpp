// persist/detail/pool.hpp: the connection pool both backends use (SQLite's readers,
// PostgreSQL's sessions).
//
// Idle connections are reused most recently returned first (its caches are warm); new ones
// are opened on demand up to a limit; a caller waits for a returned one until its deadline.
// What differs between backends comes through hooks: whether an idle connection is still
// usable, how to open one (and whether a failure should be retried after a pause), what to
// say when waiting starts and what to throw at the deadline. A generation number lets a
// backend retire every connection at once (SQLite reopening a replaced file).
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace persist::detail {

template <class C>
class Pool {
public:
    using Clock = std::chrono::steady_clock;

    /// A pool of at most `limit` open connections (at least 1).
    explicit Pool(std::size_t limit) : limit_(limit == 0 ? 1 : limit) {}
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    /// Adds a connection opened elsewhere (at start) as idle.
    void add(std::unique_ptr<C> connection) {
        std::lock_guard lock(mutex_);
        idle_.push_back(std::move(connection));
        ++open_;
    }

    /// A connection for one caller, waiting until `deadline`. `hooks` provides:
    ///   bool usable(C&)                    an idle connection that is not is closed (called
///                                      without the pool's lock)
    ///   std::unique_ptr<C> open(deadline)  opens one, without the pool's lock held; nullptr
    ///                                      after a failure to retry after delay_opening()
    ///   void waiting()                     once, when this caller starts to wait
    ///   [[noreturn]] void timed_out()      at the deadline, every connection in use
    ///   [[noreturn]] void unreachable()    opening is delayed past the deadline
    /// `generation`, if given, receives the generation the connection belongs to.
    template <class Hooks>
    std::unique_ptr<C> acquire(Clock::time_point deadline, Hooks& hooks, std::uint64_t* generation = nullptr) {
        std::unique_lock lock(mutex_);
        if (generation) *generation = generation_;
        bool announced = false;
        for (;;) {
            while (!idle_.empty()) {
                auto connection = std::move(idle_.back());
                idle_.pop_back();
                // Checked, and closed if it is not usable, without the lock: the check may be a
                // system call (PostgreSQL reads the socket), and every other caller waits on it.
                lock.unlock();
                const bool usable = hooks.usable(*connection);
                if (usable) return connection;
                connection.reset();
                lock.lock();
                --open_; // closed: room for a new one below
            }
            if (open_ < limit_) {
                if (Clock::now() < not_before_) {
                    // An earlier open failed: wait out its pause (or for a returned connection).
                    if (not_before_ >= deadline) hooks.unreachable();
                    freed_.wait_until(lock, not_before_);
                    continue;
                }
                ++open_;
                lock.unlock();
                std::unique_ptr<C> connection;
                try {
                    connection = hooks.open(deadline);
                } catch (...) {
                    lock.lock();
                    --open_;
                    freed_.notify_one();
                    throw;
                }
                lock.lock();
                if (connection) {
                    not_before_ = {};
                    return connection;
                }
                --open_;
                freed_.notify_one();
                continue;
            }
            if (!announced) {
                announced = true;
                lock.unlock();
                hooks.waiting();
                lock.lock();
                continue;
            }
            if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= limit_)
                hooks.timed_out();
        }
    }

    /// After a failed open: no connection is opened before `until` (callers wait or give up).
    void delay_opening(Clock::time_point until) {
        std::lock_guard lock(mutex_);
        not_before_ = until;
    }

    /// Returns a connection: kept idle when `keep` and it belongs to `generation` (when
    /// given) and the pool's current one, otherwise closed. Nothing to do for an empty pointer.
    void release(std::unique_ptr<C> connection, bool keep, const std::uint64_t* generation = nullptr) noexcept {
        if (!connection) return;
        std::unique_lock lock(mutex_);
        if (keep && (!generation || *generation == generation_)) {
            idle_.push_back(std::move(connection));
        } else {
            connection.reset();
            --open_;
        }
        // Woken after the unlock: a waiter woken under the lock would only block on it again,
        // one more context switch per hand-over (measured: bench_postgres pool_32_threads).
        lock.unlock();
        freed_.notify_one();
    }

    /// When no connection is in use: closes the idle ones, starts a new generation (those
    /// handed out before are closed when returned) and returns true; otherwise false.
    bool retire_all_if_idle() {
        std::lock_guard lock(mutex_);
        if (open_ != idle_.size()) return false;
        ++generation_;
        idle_.clear();
        open_ = 0;
        return true;
    }

    /// Calls `forget(connection)` for each idle connection, then drops them (after fork(): the
    /// callee must release the connection without closing it).
    template <class Forget>
    void abandon(Forget&& forget) noexcept {
        std::lock_guard lock(mutex_);
        for (auto& connection : idle_) forget(connection);
        idle_.clear();
    }

    /// Connections open now, idle or in use.
    std::size_t open() const {
        std::lock_guard lock(mutex_);
        return open_;
    }
    std::size_t limit() const noexcept { return limit_; }

private:
    const std::size_t limit_;
    mutable std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<std::unique_ptr<C>> idle_;
    std::size_t open_ = 0;
    std::uint64_t generation_ = 0;
    Clock::time_point not_before_{};
};

} // namespace persist::detail
