// persist/lock/in_process.hpp: named reader/writer locks shared by the threads of one process.
#pragma once

#include "persist/config.hpp"
#include "persist/detail/timed_mutex.hpp"
#include "persist/error.hpp"
#include "persist/lock/policy.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace persist::lock {

/// Named timed reader/writer locks, one registry per process. Two Stores in one process on
/// the same database share locks (names are scoped by the database path).
///
/// Does not coordinate other processes: a lock held here is invisible to them (use
/// lock::File or lock::Table for that). Not recursive: acquiring a lock the same thread
/// already holds waits until the deadline and throws.
/// Thread-safety: all members may be called from any thread.
class InProcess {
public:
    static constexpr std::string_view name = "in-process";

    class guard {
    public:
        guard() = default;
        guard(guard&& other) noexcept
            : mutex_(std::move(other.mutex_)), mode_(other.mode_) {}
        guard& operator=(guard&& other) noexcept {
            if (this != &other) {
                release();
                mutex_ = std::move(other.mutex_);
                mode_ = other.mode_;
            }
            return *this;
        }
        ~guard() { release(); }

        /// Whether this guard holds a lock.
        bool owns_lock() const noexcept { return mutex_ != nullptr; }

    private:
        friend class InProcess;
        guard(std::shared_ptr<detail::TimedSharedMutex> mutex, Mode mode) noexcept
            : mutex_(std::move(mutex)), mode_(mode) {}
        void release() noexcept {
            if (!mutex_) return;
            if (mode_ == Mode::exclusive) mutex_->unlock();
            else mutex_->unlock_shared();
            mutex_.reset();
        }
        std::shared_ptr<detail::TimedSharedMutex> mutex_;
        Mode mode_ = Mode::exclusive;
    };

    explicit InProcess(const Config& config) : scope_(config.path() + "\n") {}

    /// Takes lock `lock_name` in `mode`, waiting until `deadline`.
    /// Throws lock_timeout_error naming the lock and the time waited.
    guard acquire(std::string_view lock_name, Mode mode, std::chrono::steady_clock::time_point deadline) {
        const auto started = std::chrono::steady_clock::now();
        auto mutex = registry(scope_ + std::string(lock_name));
        const bool granted = mode == Mode::exclusive ? mutex->try_lock_until(deadline)
                                                     : mutex->try_lock_shared_until(deadline);
        if (!granted) {
            const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started);
            throw lock_timeout_error(std::string(mode == Mode::exclusive ? "exclusive" : "shared") +
                                     " lock \"" + std::string(lock_name) +
                                     "\" was not granted within " + std::to_string(waited.count()) +
                                     " ms: another thread of this process holds it; let it finish "
                                     "or give a longer timeout");
        }
        return guard(std::move(mutex), mode);
    }

private:
    static std::shared_ptr<detail::TimedSharedMutex> registry(const std::string& key) {
        static std::mutex guard_mutex;
        static std::map<std::string, std::shared_ptr<detail::TimedSharedMutex>> locks;
        std::lock_guard lock(guard_mutex);
        auto& slot = locks[key];
        if (!slot) slot = std::make_shared<detail::TimedSharedMutex>();
        return slot;
    }

    std::string scope_;
};

static_assert(LockPolicy<InProcess>);

} // namespace persist::lock
