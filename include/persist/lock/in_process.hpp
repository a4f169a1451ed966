// persist/lock/in_process.hpp: named reader/writer locks shared by the threads of one process.
#pragma once

#include "persist/detail/process.hpp"
#include "persist/config.hpp"
#include "persist/settings.hpp"
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
    int holders = 0;
    // The latest holder; the host is added when reported (it is this machine).
    long holder_pid = 0;
    std::chrono::system_clock::time_point holder_since;
    std::string holder_purpose;
    Mode holder_mode = Mode::exclusive;

    std::optional<Holder> current_holder() {
        std::lock_guard lock(info_mutex);
        if (holders == 0) return std::nullopt;
        return Holder{holder_pid, this_host(), holder_since, holder_purpose, holder_mode};
    }
    bool held() {
        std::lock_guard lock(info_mutex);
        return holders > 0;
    }
    static const std::string& this_host() {
        static const std::string host = host_name();
        return host;
    }
};

/// The process-wide registry: one ThreadLock per key, never removed (a key is a database
/// path plus a lock name, so the set stays small). A forked child starts with an empty
/// registry, so its locks are its own instead of copies of its parent's, which no thread of
/// the child could ever release. A pthread_atfork handler keeps the registry consistent.
class ThreadLockRegistry {
public:
    /// The lock for `scope` + `name`; allocates only the first time a key is seen.
    static std::shared_ptr<ThreadLock> get(std::string_view scope, std::string_view name) {
        thread_local std::string key;
        key.assign(scope);
        key.append(name);
        auto& self = instance();
        std::lock_guard lock(self.mutex_);
        auto found = self.locks_.find(std::string_view(key));
        if (found == self.locks_.end()) found = self.locks_.emplace(key, std::make_shared<ThreadLock>()).first;
        return found->second;
    }

private:
    ThreadLockRegistry() { ::pthread_atfork(&prepare, &parent, &child); }
    static ThreadLockRegistry& instance() {
        static ThreadLockRegistry* registry = new ThreadLockRegistry; // lives until exit
        return *registry;
    }
    static void prepare() { instance().mutex_.lock(); }
    static void parent() { instance().mutex_.unlock(); }
    static void child() {
        instance().locks_.clear(); // guards copied from the parent keep their entries alive
        instance().mutex_.unlock();
    }

    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<ThreadLock>, std::less<>> locks_;
};

inline std::shared_ptr<ThreadLock> thread_lock(std::string_view key) { return ThreadLockRegistry::get(key, {}); }
inline std::shared_ptr<ThreadLock> thread_lock(std::string_view scope, std::string_view name) {
    return ThreadLockRegistry::get(scope, name);
}

/// Takes `lock` for `request`, sending the wait notice when due. Records a timeout in
/// `stats`, and the grant too when `record_grant`. Returns whether the request had to wait.
/// Throws lock_timeout_error at the deadline. The uncontended case reads no clock but the
/// one that stamps the holder.
inline bool take_thread_lock(ThreadLock& lock, std::string_view name, const Request& request,
                             const Config& config, StatsRecorder& stats, bool record_grant = true) {
    const bool exclusive = request.mode == Mode::exclusive;
    std::chrono::nanoseconds waited{0};
    const bool contended = !(exclusive ? lock.mutex.try_lock() : lock.mutex.try_lock_shared());
    if (contended) {
        WaitNotice notice(config, name);
        auto attempt = [&](Deadline until) {
            return exclusive ? lock.mutex.try_lock_until(until) : lock.mutex.try_lock_shared_until(until);
        };
        bool granted = false;
        if (notice.due() < request.deadline) {
            granted = attempt(notice.due());
            if (!granted) notice.send(lock.current_holder());
        }
        if (!granted) granted = attempt(request.deadline);
        waited = std::chrono::steady_clock::now() - notice.started();
        if (!granted) {
            stats.timed_out(name, waited);
            throw timeout_error(name, request.mode, waited, lock.current_holder());
        }
    }
    {
        std::lock_guard info(lock.info_mutex);
        ++lock.holders;
        lock.holder_pid = static_cast<long>(persist::detail::current_pid());
        lock.holder_since = std::chrono::system_clock::now();
        lock.holder_purpose.assign(request.purpose);
        lock.holder_mode = request.mode;
    }
    if (record_grant) stats.granted(name, waited, contended);
    return contended;
}

inline void release_thread_lock(ThreadLock& lock, Mode mode) noexcept {
    {
        std::lock_guard info(lock.info_mutex);
        --lock.holders;
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
    static constexpr Settings settings = Settings::none; ///< what it reads of Config

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
        auto lock = detail::thread_lock(scope_, lock_name);
        detail::take_thread_lock(*lock, lock_name, request, config_, stats_);
        return guard(std::move(lock), request.mode);
    }

    /// Whether a thread of this process holds `lock_name`, and which request took it.
    Status status(std::string_view lock_name) const {
        validate_name(lock_name);
        auto lock = detail::thread_lock(scope_, lock_name);
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
