// persist/detail/interruptible_wait.hpp: block in a system call (fcntl F_OFD_SETLKW, flock)
// until it succeeds or a deadline passes, without polling.
//
// A per-call POSIX timer sends a signal to the waiting thread at the next point of interest
// (the wait notice, the deadline); the signal has a no-op handler installed without
// SA_RESTART, so the system call returns EINTR and the loop decides what to do. If the first
// signal lands just before the thread enters the system call, the timer repeats every 10 ms.
//
// The signal is SIGRTMIN + 5. If the application already handles it, or blocks it in the
// waiting thread, persist falls back to polling (50 µs growing to 2 ms) and says so in the
// README; nothing else in the process is affected.
#pragma once

#include "persist/error.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace persist::detail {

inline int wake_signal() noexcept { return SIGRTMIN + 5; }

inline void ignore_wake_signal(int) noexcept {}

/// Whether the wake signal is ours to use in this thread (installs the handler once).
inline bool wake_signal_usable() noexcept {
    static const bool installed = [] {
        struct sigaction current {};
        if (::sigaction(wake_signal(), nullptr, &current) != 0) return false;
        const bool free = !(current.sa_flags & SA_SIGINFO) &&
                          (current.sa_handler == SIG_DFL || current.sa_handler == ignore_wake_signal);
        if (!free) return false;
        struct sigaction action {};
        action.sa_handler = ignore_wake_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0; // no SA_RESTART: the blocked call must return EINTR
        return ::sigaction(wake_signal(), &action, nullptr) == 0;
    }();
    if (!installed) return false;
    sigset_t mask;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    return !sigismember(&mask, wake_signal());
}

/// A timer that signals the calling thread at a steady_clock time point.
class WakeTimer {
public:
    WakeTimer() {
        sigevent event {};
        event.sigev_notify = SIGEV_THREAD_ID;
        event.sigev_signo = wake_signal();
        event._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
        created_ = ::timer_create(CLOCK_MONOTONIC, &event, &timer_) == 0;
    }
    WakeTimer(const WakeTimer&) = delete;
    WakeTimer& operator=(const WakeTimer&) = delete;
    ~WakeTimer() {
        if (created_) ::timer_delete(timer_);
    }
    bool created() const noexcept { return created_; }

    /// Signals at `at` (steady_clock is CLOCK_MONOTONIC on Linux), then every 10 ms.
    void arm(std::chrono::steady_clock::time_point at) {
        const auto since_epoch = at.time_since_epoch();
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
        itimerspec spec {};
        spec.it_value.tv_sec = seconds.count();
        spec.it_value.tv_nsec = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count();
        if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
        spec.it_interval.tv_nsec = 10'000'000;
        ::timer_settime(timer_, TIMER_ABSTIME, &spec, nullptr);
    }

private:
    timer_t timer_ {};
    bool created_ = false;
};

/// Waits for a lock. `try_once()` returns 0 when granted, EWOULDBLOCK/EAGAIN/EACCES when
/// held elsewhere, another errno on failure; `block()` waits for it and returns 0 or an errno
/// (EINTR when the timer fired). `notice()` runs once when `notice_at` passes while waiting.
/// Returns true when granted, false at the deadline. Throws io_error for other failures.
template <class TryOnce, class Block, class Notice>
bool wait_for(TryOnce try_once, Block block, std::chrono::steady_clock::time_point deadline,
              std::chrono::steady_clock::time_point notice_at, Notice notice, const std::string& what) {
    using Clock = std::chrono::steady_clock;
    auto busy = [](int rc) { return rc == EWOULDBLOCK || rc == EAGAIN || rc == EACCES; };
    auto fail = [&](int rc) {
        return io_error("cannot lock " + what + ": " + std::strerror(rc), rc);
    };
    int rc = try_once();
    if (rc == 0) return true;
    if (!busy(rc)) throw fail(rc);
    bool noticed = false;
    auto maybe_notice = [&](Clock::time_point now) {
        if (!noticed && now >= notice_at) {
            noticed = true;
            notice();
        }
    };
    if (wake_signal_usable()) {
        WakeTimer timer;
        if (timer.created()) {
            for (;;) {
                const auto now = Clock::now();
                if (now >= deadline) return false;
                maybe_notice(now);
                timer.arm(noticed ? deadline : std::min(notice_at, deadline));
                rc = block();
                if (rc == 0) return true;
                if (rc != EINTR) throw fail(rc);
            }
        }
    }
    auto pause = std::chrono::microseconds(50);
    for (;;) {
        const auto now = Clock::now();
        if (now >= deadline) return false;
        maybe_notice(now);
        std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - now));
        pause = std::min(pause * 2, std::chrono::microseconds(2'000));
        rc = try_once();
        if (rc == 0) return true;
        if (!busy(rc)) throw fail(rc);
    }
}

} // namespace persist::detail
