// persist/lock/policy.hpp: the LockPolicy concept. A lock policy decides who may go now
// when several threads (or, with later policies, processes and hosts) want the same named
// lock: "migrate", "backup", or any name an application picks.
#pragma once

#include "persist/config.hpp"

#include <chrono>
#include <concepts>
#include <string_view>

namespace persist::lock {

/// Shared: many holders at once. Exclusive: one holder, no shared holders.
enum class Mode { shared, exclusive };

/// What Store<B, L> needs from a lock policy L:
///   L::name                                 "none", "in-process", ...
///   L(const Config&)                        the configuration of the Store it serves
///   l.acquire(name, mode, deadline)         an L::guard holding the lock until destroyed;
///                                           throws lock_timeout_error at the deadline
///   L::guard                                movable, releases on destruction
template <class L>
concept LockPolicy =
    std::constructible_from<L, const Config&> && std::movable<typename L::guard> &&
    requires(L& policy, std::string_view name, Mode mode, std::chrono::steady_clock::time_point deadline) {
        { L::name } -> std::convertible_to<std::string_view>;
        { policy.acquire(name, mode, deadline) } -> std::same_as<typename L::guard>;
    };

} // namespace persist::lock
