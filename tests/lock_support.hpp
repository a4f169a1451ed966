// Lock-policy test helpers for test_lock*.cpp: policy aliases, requests, configs, and holder(),
// which starts tests/lock_helper (PERSIST_LOCK_HELPER) holding a lock in another process.
#pragma once

#include "process.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/lock/boost_file_lock.hpp>
#include <persist/sqlite.hpp>

#include <atomic>
#include <fstream>
#include <fcntl.h>
#include <mutex>
#include <thread>

namespace lock_test {
using namespace persist;
using namespace std::chrono;
using namespace std::chrono_literals;

using OfdFile = lock::File<lock::Ofd>;
using FlockFile = lock::File<lock::Flock>;
using BoostFile = lock::File<lock::BoostFileLock>;

template <class P> constexpr const char* helper_policy() {
    if constexpr (std::is_same_v<P, OfdFile>) return "ofd";
    else if constexpr (std::is_same_v<P, FlockFile>) return "flock";
    else if constexpr (std::is_same_v<P, BoostFile>) return "boost";
    else return "table";
}
template <class P> constexpr bool is_table = std::is_same_v<P, lock::Table>;

inline lock::Request exclusive(milliseconds timeout, std::string_view purpose = "") {
    return {lock::Mode::exclusive, steady_clock::now() + timeout, purpose};
}
inline lock::Request shared(milliseconds timeout) { return {lock::Mode::shared, steady_clock::now() + timeout, ""}; }

inline Config file_config(const test::TempDir& dir) {
    Config config = Config::for_app("lock-test");
    config.db_path = dir / "locks.db";
    config.lease_ttl = 300ms;
    return config;
}

// `config` for a Store with policy P: lease_ttl only where P reads it (a Store refuses a
// setting its policy ignores).
template <class P>
Config for_policy(Config config) {
    if constexpr (!is_table<P>) config.lease_ttl = Config{}.lease_ttl;
    return config;
}

// Starts lock_helper holding `name` for `hold_ms` and waits until it says it holds it.
// `line`, if given, receives what the helper printed ("held <pid> <fence> [child <pid>]").
template <class P>
test::Process holder(const Config& config, const std::string& name, const char* command = "hold", long hold_ms = 60'000,
                     std::string* line = nullptr) {
    test::Process process({PERSIST_LOCK_HELPER, helper_policy<P>(), config.db_path, name, command, std::to_string(hold_ms)},
                          {"LEASE_TTL_MS=" + std::to_string(config.lease_ttl.count())});
    const auto first = process.line();
    REQUIRE_MESSAGE(first.starts_with("held " + std::to_string(process.pid())), first);
    if (line) *line = first;
    return process;
}

using test::message_of;
} // namespace lock_test
