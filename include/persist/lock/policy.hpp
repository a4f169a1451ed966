// persist/lock/policy.hpp: the LockPolicy concept and the vocabulary every policy shares.
// A lock policy decides who may go now when threads, processes or hosts want the same named
// lock: "migrate", "backup", or any name an application picks.
#pragma once

#include "persist/config.hpp"

#include <chrono>
#include <concepts>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace persist::lock {

/// Shared: many holders at once. Exclusive: one holder, no shared holders.
enum class Mode { shared, exclusive };

using Deadline = std::chrono::steady_clock::time_point;

/// One acquisition: the mode, the deadline and, for lock_status and wait messages, what the
/// holder is doing.
struct Request {
    Mode mode = Mode::exclusive;
    Deadline deadline;
    std::string_view purpose;
};

/// Who holds a lock. For shared locks, one of the holders.
struct Holder {
    long pid = 0;
    std::string host;
    std::chrono::system_clock::time_point since;
    std::string purpose;
    Mode mode = Mode::exclusive;
};

/// What lock_status() reports. holder is empty when the lock is free, or when it is held but
/// the policy cannot tell by whom.
struct Status {
    bool held = false;
    std::optional<Holder> holder;
};

/// Counters for one lock name, since the policy object was created.
struct NameStats {
    std::uint64_t acquisitions = 0;             ///< granted requests
    std::uint64_t contended = 0;                ///< granted requests that had to wait
    std::uint64_t timeouts = 0;                 ///< requests refused at their deadline
    std::chrono::nanoseconds total_wait{0};     ///< time spent waiting, granted or not
    std::chrono::nanoseconds max_wait{0};       ///< longest single wait
};

/// Counters per lock name.
using Stats = std::map<std::string, NameStats, std::less<>>;

namespace detail {
template <class L>
inline constexpr bool names_lock_parts = requires {
    L::name;
    typename L::guard;
};
} // namespace detail

/// What Store<B, L> needs from a lock policy L:
///   L::name                          "none", "in-process", "file(ofd)", "table"
///   L(const Config&)                 the configuration of the Store it serves
///   l.acquire(name, request)         an L::guard holding the lock until destroyed; throws
///                                    lock_timeout_error at the deadline, naming the holder
///   l.status(name)                   a Status
///   l.force_unlock(name)             break a lock left by a holder that cannot release it, or
///                                    throw usage_error explaining why this policy cannot
///   l.stats()                        Stats per name
///   L::guard                         movable, releases on destruction
template <class L>
concept LockPolicy =
    detail::names_lock_parts<L> && // L is not a lock policy: use lock::File<lock::Ofd>, lock::InProcess, lock::None, ...
    requires(L& policy, std::string_view name, const Request& request) {
        { L::name } -> std::convertible_to<std::string_view>;
        { policy.acquire(name, request) } -> std::same_as<typename L::guard>;
        { policy.status(name) } -> std::same_as<Status>;
        policy.force_unlock(name);
        { policy.stats() } -> std::same_as<Stats>;
    } && std::constructible_from<L, const Config&> && std::movable<typename L::guard>;

} // namespace persist::lock
