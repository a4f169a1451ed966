// persist/detail/timed_mutex.hpp: timed exclusive and shared mutexes built on std::mutex and
// std::condition_variable.
//
// Why not std::timed_mutex / std::shared_timed_mutex: with glibc >= 2.30 libstdc++ implements
// their timed waits with pthread_mutex_clocklock / pthread_rwlock_clock*lock, which the
// ThreadSanitizer of GCC 12 does not intercept, so it reports false "unlock of an unlocked
// mutex" errors and cannot check the code around them. These are small, fair enough for
// persist's use (few waiters, coarse critical sections) and fully visible to TSan.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace persist::detail {

/// A non-recursive mutex whose lock can give up at a deadline. Meets Lockable and
/// TimedLockable for std::unique_lock.
class TimedMutex {
public:
    void lock() {
        std::unique_lock guard(state_);
        ++sleepers_;
        released_.wait(guard, [&] { return !locked_; });
        --sleepers_;
        locked_ = true;
    }
    bool try_lock() {
        std::lock_guard guard(state_);
        if (locked_) return false;
        locked_ = true;
        return true;
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
        std::unique_lock guard(state_);
        ++sleepers_;
        const bool granted = released_.wait_until(guard, deadline, [&] { return !locked_; });
        --sleepers_;
        if (granted) locked_ = true;
        return granted;
    }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
        return try_lock_until(std::chrono::steady_clock::now() + timeout);
    }
    void unlock() {
        bool waited_for = false;
        {
            std::lock_guard guard(state_);
            locked_ = false;
            waited_for = sleepers_ != 0;
        }
        if (waited_for) released_.notify_one(); // a signal costs even when nobody waits
    }

private:
    std::mutex state_;
    std::condition_variable released_;
    bool locked_ = false;
    int sleepers_ = 0; // threads waiting in lock() or try_lock_until()
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
