// persist/lock/none.hpp: the null lock policy.
#pragma once

#include "persist/config.hpp"
#include "persist/settings.hpp"
#include "persist/lock/policy.hpp"

#include <string_view>

namespace persist::lock {

/// Grants every request at once and coordinates nothing. For a single-threaded program, or
/// one that coordinates by other means. The database's own write lock still applies.
/// status() always reports free; stats() is always empty; force_unlock() does nothing.
class None {
public:
    static constexpr std::string_view name = "none";
    static constexpr Settings settings = Settings::none; ///< what it reads of Config
    struct guard {};

    explicit None(const Config&) noexcept {}
    guard acquire(std::string_view, const Request&) noexcept { return {}; }
    Status status(std::string_view) const { return {}; }
    void force_unlock(std::string_view) noexcept {}
    Stats stats() const { return {}; }
};

static_assert(LockPolicy<None>);

} // namespace persist::lock
