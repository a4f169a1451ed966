// persist/lock/in_process.hpp: named reader/writer locks shared by the threads of one process.
#pragma once

#include "persist/config.hpp"
#include "persist/detail/timed_mutex.hpp"
#include "persist/error.hpp"
#include "persist/lock/policy.hpp"
#include "persist/lock/support.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <string>
#include <string_view>
#include <unistd.h>

namespace persist::lock {

namespace detail {

/// One named lock of the process-wide registry: a timed reader/writer mutex plus who holds it.
struct ThreadLock {
    persist::detail::TimedSharedMutex mutex;
    std::mutex info_mutex;
    std::optional<Holder> holder;
    int holders = 0;

    std::optional<Holder> current_holder() {
        std::lock_guard lock(info_mutex);
        return holder;
    }
    bool held() {
        std::lock_guard lock(info_mutex);
        return holders > 0;
    }
};

/// The process-wide registry: one ThreadLock per key, never removed (a key is a database
/// path plus a lock name, so the set stays small). Keys carry the pid: a forked child starts
/// with locks of its own instead of copies of its parent's, which no thread of the child
/// could ever release. A pthread_atfork handler keeps the registry's mutex consistent.
class ThreadLockRegistry {
public:
    static std::shared_ptr<ThreadLock> get(const std::string& key) {
        auto& self = instance();
        std::lock_guard lock(self.mutex_);
        auto& slot = self.locks_[std::to_string(::getpid()) + ":" + key];
        if (!slot) slot = std::make_shared<ThreadLock>();
        return slot;
    }

private:
    ThreadLockRegistry() { ::pthread_atfork(&prepare, &release, &release); }
    static ThreadLockRegistry& instance() {
        static ThreadLockRegistry* registry = new ThreadLockRegistry; // lives until exit
        return *registry;
    }
    static void prepare() { instance().mutex_.lock(); }
    static void release() { instance().mutex_.unlock(); }

    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<ThreadLock>> locks_;
};

inline std::shared_ptr<ThreadLock> thread_lock(const std::string& key) { return ThreadLockRegistry::get(key); }

/// Takes `lock` for `request`, sending the wait notice when due. Records a timeout in
/// `stats`, and the grant too when `record_grant`. Returns whether the request had to wait.
/// Throws lock_timeout_error at the deadline.
inline bool take_thread_lock(ThreadLock& lock, std::string_view name, const Request& request,
                             const Config& config, StatsRecorder& stats, bool record_grant = true) {
    WaitNotice notice(config, name);
    auto attempt = [&](Deadline until) {
        return request.mode == Mode::exclusive ? lock.mutex.try_lock_until(until)
                                               : lock.mutex.try_lock_shared_until(until);
    };
    bool granted = attempt(notice.started());
    const bool contended = !granted;
    if (!granted && notice.due() < request.deadline) {
        granted = attempt(notice.due());
        if (!granted) notice.send(lock.current_holder());
    }
    if (!granted) granted = attempt(request.deadline);
    const auto waited = std::chrono::steady_clock::now() - notice.started();
    if (!granted) {
        stats.timed_out(name, waited);
        throw timeout_error(name, request.mode, waited, lock.current_holder());
    }
    {
        std::lock_guard info(lock.info_mutex);
        ++lock.holders;
        lock.holder = Holder{static_cast<long>(::getpid()), host_name(), std::chrono::system_clock::now(),
                             std::string(request.purpose), request.mode};
    }
    if (record_grant) stats.granted(name, waited, contended);
    return contended;
}

inline void release_thread_lock(ThreadLock& lock, Mode mode) noexcept {
    {
        std::lock_guard info(lock.info_mutex);
        if (--lock.holders == 0) lock.holder.reset();
    }
    if (mode == Mode::exclusive) lock.mutex.unlock();
    else lock.mutex.unlock_shared();
}

} // namespace detail

/// Named timed reader/writer locks, one registry per process. Two Stores in one process on
/// the same database share locks (names are scoped by the database path). A waiting
/// exclusive request holds back new shared requests, so writers are not starved.
///
/// Does not coordinate other processes: a lock held here is invisible to them (use
/// lock::File or lock::Table for that). Not recursive: a thread that requests a lock it
/// already holds waits until its deadline and gets lock_timeout_error.
/// Thread-safety: all members may be called from any thread.
class InProcess {
public:
    static constexpr std::string_view name = "in-process";

    class guard {
    public:
        guard() = default;
        guard(guard&& other) noexcept : lock_(std::move(other.lock_)), mode_(other.mode_) {}
        guard& operator=(guard&& other) noexcept {
            if (this != &other) {
                release();
                lock_ = std::move(other.lock_);
                mode_ = other.mode_;
            }
            return *this;
        }
        ~guard() { release(); }

        /// Whether this guard holds a lock.
        bool owns_lock() const noexcept { return lock_ != nullptr; }

    private:
        friend class InProcess;
        guard(std::shared_ptr<detail::ThreadLock> lock, Mode mode) noexcept : lock_(std::move(lock)), mode_(mode) {}
        void release() noexcept {
            if (!lock_) return;
            detail::release_thread_lock(*lock_, mode_);
            lock_.reset();
        }
        std::shared_ptr<detail::ThreadLock> lock_;
        Mode mode_ = Mode::exclusive;
    };

    explicit InProcess(const Config& config) : config_(config), scope_(config.path() + "\n") {}

    /// Takes lock `lock_name` as `request` asks. Throws usage_error for an invalid name,
    /// lock_timeout_error naming the holder when the deadline passes.
    guard acquire(std::string_view lock_name, const Request& request) {
        validate_name(lock_name);
        auto lock = detail::thread_lock(scope_ + std::string(lock_name));
        detail::take_thread_lock(*lock, lock_name, request, config_, stats_);
        return guard(std::move(lock), request.mode);
    }

    /// Whether a thread of this process holds `lock_name`, and which request took it.
    Status status(std::string_view lock_name) const {
        validate_name(lock_name);
        auto lock = detail::thread_lock(scope_ + std::string(lock_name));
        return Status{lock->held(), lock->current_holder()};
    }

    /// In-process locks cannot be broken: the holder is a thread of this very process.
    /// Throws usage_error saying so when the lock is held; does nothing when it is free.
    void force_unlock(std::string_view lock_name) {
        const auto current = status(lock_name);
        if (current.held)
            throw usage_error("lock '" + std::string(lock_name) + "' is an in-process lock " +
                              describe_holder(current.holder) +
                              "; it cannot be forced: it is released when that thread's guard ends");
    }

    Stats stats() const { return stats_.snapshot(); }

private:
    Config config_;
    std::string scope_;
    StatsRecorder stats_;
};

static_assert(LockPolicy<InProcess>);

} // namespace persist::lock
