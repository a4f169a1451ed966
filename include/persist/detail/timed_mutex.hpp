// persist/detail/timed_mutex.hpp: timed exclusive and shared mutexes built on std::mutex,
// std::condition_variable and (for the exclusive one's uncontended path) std::atomic.
//
// Why not std::timed_mutex / std::shared_timed_mutex: with glibc >= 2.30 libstdc++ implements
// their timed waits with pthread_mutex_clocklock / pthread_rwlock_clock*lock, which the
// ThreadSanitizer of GCC 12 does not intercept, so it reports false "unlock of an unlocked
// mutex" errors and cannot check the code around them. These are small, fair enough for
// persist's use (few waiters, coarse critical sections) and fully visible to TSan.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace persist::detail {

/// A non-recursive mutex whose lock can give up at a deadline. Meets Lockable and
/// TimedLockable for std::unique_lock.
///
/// Taking it free and releasing it with nobody waiting are one atomic operation each (the
/// SQLite backend does both for every read). Waiters sleep on the condition variable. A
/// waiter counts itself in sleepers_ before it tests the flag, and unlock() clears the flag
/// before it reads sleepers_, both sequentially consistent, so either the waiter sees the
/// flag clear or unlock() sees the waiter and wakes it (taking state_, which the waiter holds
/// until it sleeps).
class TimedMutex {
public:
    void lock() {
        if (try_lock()) return;
        std::unique_lock guard(state_);
        sleepers_.fetch_add(1);
        released_.wait(guard, [&] { return try_lock(); });
        sleepers_.fetch_sub(1);
    }
    bool try_lock() noexcept {
        bool expected = false;
        return locked_.compare_exchange_strong(expected, true);
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
        if (try_lock()) return true;
        std::unique_lock guard(state_);
        sleepers_.fetch_add(1);
        const bool granted = released_.wait_until(guard, deadline, [&] { return try_lock(); });
        sleepers_.fetch_sub(1);
        return granted;
    }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
        return try_lock_until(std::chrono::steady_clock::now() + timeout);
    }
    void unlock() {
        locked_.store(false);
        if (sleepers_.load() == 0) return;
        std::lock_guard guard(state_);
        released_.notify_one();
    }

private:
    std::mutex state_; // held by a waiter from its count in sleepers_ until it sleeps
    std::condition_variable released_;
    std::atomic<bool> locked_{false};
    std::atomic<int> sleepers_{0}; // threads waiting in lock() or try_lock_until()
};

/// A reader/writer mutex with deadlines. A waiting exclusive locker blocks new shared
/// lockers, so a stream of readers cannot starve a writer.
class TimedSharedMutex {
public:
    /// Exclusive, without waiting: whether it was granted.
    bool try_lock() {
        std::lock_guard guard(state_);
        if (writer_ || readers_ != 0) return false;
        writer_ = true;
        return true;
    }
    /// Shared, without waiting: whether it was granted.
    bool try_lock_shared() {
        std::lock_guard guard(state_);
        if (writer_ || waiting_writers_ != 0) return false;
        ++readers_;
        return true;
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
        std::unique_lock guard(state_);
        ++waiting_writers_;
        ++sleepers_;
        const bool granted = changed_.wait_until(guard, deadline, [&] { return !writer_ && readers_ == 0; });
        --sleepers_;
        --waiting_writers_;
        if (granted) writer_ = true;
        else changed_.notify_all(); // readers held back by this waiter may go now
        return granted;
    }
    template <class Clock, class Duration>
    bool try_lock_shared_until(const std::chrono::time_point<Clock, Duration>& deadline) {
        std::unique_lock guard(state_);
        ++sleepers_;
        const bool granted =
            changed_.wait_until(guard, deadline, [&] { return !writer_ && waiting_writers_ == 0; });
        --sleepers_;
        if (granted) ++readers_;
        return granted;
    }
    void unlock() {
        bool wake = false;
        {
            std::lock_guard guard(state_);
            writer_ = false;
            wake = sleepers_ != 0;
        }
        if (wake) changed_.notify_all();
    }
    void unlock_shared() {
        bool wake = false;
        {
            std::lock_guard guard(state_);
            --readers_;
            wake = sleepers_ != 0;
        }
        if (wake) changed_.notify_all();
    }

private:
    std::mutex state_;
    std::condition_variable changed_;
    bool writer_ = false;
    int readers_ = 0;
    int waiting_writers_ = 0;
    int sleepers_ = 0; // threads in a wait: unlock notifies only when there are some
};

} // namespace persist::detail
