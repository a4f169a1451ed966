// persist/lock/support.hpp: pieces every lock policy shares: name rules, holder
// descriptions, the slow-wait event, and the statistics recorder.
#pragma once

#include "persist/config.hpp"
#include "persist/error.hpp"
#include "persist/lock/policy.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <unistd.h>

namespace persist::lock {

/// Throws usage_error unless `name` is 1-64 characters from [A-Za-z0-9._-] (names become
/// parts of file names for lock::File).
inline void validate_name(std::string_view name) {
    bool ok = !name.empty() && name.size() <= 64 && name != "." && name != "..";
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            ok = false;
    if (!ok)
        throw usage_error("lock name \"" + std::string(name) +
                          "\" is not valid; use 1-64 characters from A-Z, a-z, 0-9, '.', '_' and '-'");
}

inline const char* mode_name(Mode mode) { return mode == Mode::exclusive ? "exclusive" : "shared"; }

/// This machine's host name.
inline std::string host_name() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
    return name;
}

/// "12:00:01 UTC" for a time point.
inline std::string clock_time(std::chrono::system_clock::time_point time) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
    std::tm parts{};
    ::gmtime_r(&seconds, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%H:%M:%S UTC", &parts);
    return text;
}

/// "held by pid 4242 on host 'x' since 12:00:01 UTC (exclusive, purpose: migrate)", or
/// "held by an unknown holder" when the policy cannot tell.
inline std::string describe_holder(const std::optional<Holder>& holder) {
    if (!holder) return "held by an unknown holder";
    std::string text = "held by pid " + std::to_string(holder->pid) + " on host '" + holder->host + "' since " +
                       clock_time(holder->since) + " (" + mode_name(holder->mode);
    if (!holder->purpose.empty()) text += ", purpose: " + holder->purpose;
    return text + ")";
}

inline std::string seconds_text(std::chrono::nanoseconds waited) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(waited).count());
    return text;
}

/// The lock_timeout_error for `name`, with the holder's facts.
inline lock_timeout_error timeout_error(std::string_view name, Mode mode, std::chrono::nanoseconds waited,
                                        const std::optional<Holder>& holder) {
    return lock_timeout_error(std::string(mode_name(mode)) + " lock '" + std::string(name) + "' not granted within " +
                              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()) +
                              " ms: " + describe_holder(holder) +
                              ". Wait for it to finish, give a longer timeout, or see lock_status()");
}

/// Sends the "waiting for lock" event once a wait has lasted Config::lock_wait_notice.
class WaitNotice {
public:
    WaitNotice(const Config& config, std::string_view name)
        : config_(config), name_(name), started_(std::chrono::steady_clock::now()) {}

    /// When the event is due.
    Deadline due() const { return started_ + config_.lock_wait_notice; }
    std::chrono::steady_clock::time_point started() const { return started_; }

    void send(const std::optional<Holder>& holder) const noexcept {
        if (!config_.on_event) return;
        try {
            const auto waited = std::chrono::steady_clock::now() - started_;
            Event event{Event::Kind::wait,
                        "waiting for lock '" + name_ + "' " + describe_holder(holder) + " (" + seconds_text(waited) + ")",
                        0, std::chrono::duration_cast<std::chrono::milliseconds>(waited)};
            config_.on_event(event);
        } catch (...) {
        }
    }

private:
    const Config& config_;
    std::string name_;
    std::chrono::steady_clock::time_point started_;
};

/// Thread-safe per-name counters.
class StatsRecorder {
public:
    void granted(std::string_view name, std::chrono::nanoseconds waited, bool contended) {
        std::lock_guard lock(mutex_);
        auto& entry = entry_for(name);
        ++entry.acquisitions;
        if (contended) ++entry.contended;
        add_wait(entry, waited);
    }
    void timed_out(std::string_view name, std::chrono::nanoseconds waited) {
        std::lock_guard lock(mutex_);
        auto& entry = entry_for(name);
        ++entry.timeouts;
        add_wait(entry, waited);
    }
    Stats snapshot() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }
    /// The counters so far, leaving none.
    Stats drain() {
        std::lock_guard lock(mutex_);
        return std::exchange(stats_, Stats{});
    }
    /// Adds `other`'s counters (those drain() took and could not hand on).
    void merge(const Stats& other) {
        std::lock_guard lock(mutex_);
        for (const auto& [name, add] : other) {
            auto& entry = entry_for(name);
            entry.acquisitions += add.acquisitions;
            entry.contended += add.contended;
            entry.timeouts += add.timeouts;
            entry.total_wait += add.total_wait;
            if (add.max_wait > entry.max_wait) entry.max_wait = add.max_wait;
        }
    }

private:
    NameStats& entry_for(std::string_view name) { // allocates only for a new name
        auto found = stats_.find(name);
        if (found == stats_.end()) found = stats_.emplace(std::string(name), NameStats{}).first;
        return found->second;
    }
    static void add_wait(NameStats& entry, std::chrono::nanoseconds waited) {
        entry.total_wait += waited;
        if (waited > entry.max_wait) entry.max_wait = waited;
    }
    mutable std::mutex mutex_;
    Stats stats_;
};

} // namespace persist::lock
