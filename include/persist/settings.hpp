// persist/settings.hpp: which Config settings each backend and lock policy reads, so that a
// setting nothing reads is an error instead of being ignored.
//
// Config is one aggregate for every backend and policy. A setting that the chosen backend and
// lock policy never read (a PostgreSQL pool size on a SQLite Store, a lease_ttl under
// lock::File, a <PREFIX>_DB_URL in the environment of an application that opened SQLite) is
// almost always a mistake: the Store's constructor refuses it with config_error naming the
// setting and what reads it.
#pragma once

#include "persist/config.hpp"
#include "persist/error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace persist {

/// Groups of Config settings, by what reads them (a bit set).
enum class Settings : unsigned {
    none = 0,
    sqlite = 1,   ///< durability, cache_size_kib, read_only, group_commit (and reader_connections)
    postgres = 2, ///< db_url, statement_timeout, lock_timeout, response_timeout, pool (and reader_connections)
    leases = 4,   ///< lease_ttl (lock::Table, postgres::TableLock)
    all = 7,
};
constexpr Settings operator|(Settings a, Settings b) {
    return static_cast<Settings>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool reads(Settings set, Settings group) {
    return (static_cast<unsigned>(set) & static_cast<unsigned>(group)) != 0;
}

namespace detail {

/// What T (a backend or lock policy) reads: T::settings, or everything for a type that does
/// not say (a backend or policy of the application's own is not second-guessed).
template <class T>
constexpr Settings settings_read_by() {
    if constexpr (requires { T::settings; }) return T::settings;
    else return Settings::all;
}

struct ChangedSetting {
    std::string_view name;
    Settings group;
    std::string_view readers;
};

/// The settings of `config` that differ from their defaults and belong to a group.
inline std::vector<ChangedSetting> changed_settings(const Config& config) {
    const Config d;
    std::vector<ChangedSetting> changed;
    constexpr std::string_view sqlite = "sqlite::Backend", postgres = "postgres::Backend",
                               leases = "lock::Table and postgres::TableLock", both = "sqlite::Backend and postgres::Backend";
    auto note = [&](bool differs, std::string_view name, Settings group, std::string_view readers) {
        if (differs) changed.push_back({name, group, readers});
    };
    note(config.durability != d.durability, "durability", Settings::sqlite, sqlite);
    note(config.cache_size_kib != d.cache_size_kib, "cache_size_kib", Settings::sqlite, sqlite);
    note(config.read_only != d.read_only, "read_only", Settings::sqlite, sqlite);
    note(config.group_commit != d.group_commit, "group_commit", Settings::sqlite, sqlite);
    note(config.reader_connections != d.reader_connections, "reader_connections", Settings::sqlite | Settings::postgres, both);
    note(!config.db_url.empty(), "db_url", Settings::postgres, postgres);
    note(config.statement_timeout != d.statement_timeout, "statement_timeout", Settings::postgres, postgres);
    note(config.lock_timeout != d.lock_timeout, "lock_timeout", Settings::postgres, postgres);
    note(config.response_timeout != d.response_timeout, "response_timeout", Settings::postgres, postgres);
    note(config.pool.min_connections != d.pool.min_connections, "pool.min_connections", Settings::postgres, postgres);
    note(config.pool.max_connections != d.pool.max_connections, "pool.max_connections", Settings::postgres, postgres);
    note(config.pool.acquire_timeout != d.pool.acquire_timeout, "pool.acquire_timeout", Settings::postgres, postgres);
    note(config.pool.reconnect_backoff != d.pool.reconnect_backoff, "pool.reconnect_backoff", Settings::postgres, postgres);
    note(config.pool.reconnect_backoff_max != d.pool.reconnect_backoff_max, "pool.reconnect_backoff_max", Settings::postgres,
         postgres);
    note(config.lease_ttl != d.lease_ttl, "lease_ttl", Settings::leases, leases);
    return changed;
}

/// Throws config_error for the first setting of `config` that neither `backend` nor
/// `policy` reads (`read` is what they read together).
inline void check_settings(const Config& config, Settings read, std::string_view backend, std::string_view policy) {
    for (const auto& setting : changed_settings(config)) {
        if (reads(read, setting.group)) continue;
        std::string message = "Config::" + std::string(setting.name) + " is set, but this Store (backend " +
                              std::string(backend) + ", lock policy " + std::string(policy) + ") never reads it; it is a " +
                              "setting of " + std::string(setting.readers) + ". Remove it, or choose the backend or lock " +
                              "policy it belongs to";
        if (setting.name == "db_url")
            message += " (db_url also comes from <PREFIX>_DB_URL: unset that variable for a SQLite application)";
        throw config_error(message);
    }
}

/// The longest wait persist takes: deadlines are steady_clock time points (64-bit
/// nanoseconds), and a wait of ~292 years would overflow them.
inline constexpr std::chrono::milliseconds longest_wait = std::chrono::days(365);

/// Throws config_error (usage_error for a per-call `what`) when `wait` is negative or longer
/// than longest_wait; `what` names it in the message.
template <class Error = config_error>
void check_wait(std::string_view what, std::chrono::milliseconds wait) {
    if (wait.count() >= 0 && wait <= longest_wait) return;
    throw Error(std::string(what) + " is " + std::to_string(wait.count()) + " ms; it must be 0 to " +
                std::to_string(longest_wait.count()) + " ms (365 days: longer would overflow persist's "
                "deadlines). For \"as long as it takes\", use std::chrono::days(365)");
}

/// check_wait for every duration of `config`.
inline void check_waits(const Config& config) {
    check_wait("Config::busy_timeout", config.busy_timeout);
    check_wait("Config::lock_wait_notice", config.lock_wait_notice);
    check_wait("Config::lease_ttl", config.lease_ttl);
    check_wait("Config::statement_timeout", config.statement_timeout);
    check_wait("Config::lock_timeout", config.lock_timeout);
    check_wait("Config::response_timeout", config.response_timeout);
    check_wait("Config::pool.acquire_timeout", config.pool.acquire_timeout);
    check_wait("Config::pool.reconnect_backoff", config.pool.reconnect_backoff);
    check_wait("Config::pool.reconnect_backoff_max", config.pool.reconnect_backoff_max);
}

} // namespace detail
} // namespace persist
