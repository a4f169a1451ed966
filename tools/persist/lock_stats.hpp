// persist CLI: lock-status --stats, the lock statistics the lease tables record
// (lock::BasicTable::recorded_stats), as text for people and as JSON.
#pragma once
#include <persist/lock/policy.hpp>

#include "output.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace persist_cli {

/// The lines (one per name, all names when `names` is empty) and the JSON array of `stats`.
inline std::pair<std::string, JsonValue> stats_report(const persist::lock::Stats& stats,
                                                      const std::vector<std::string>& names) {
    std::vector<JsonValue> rows;
    std::string human;
    for (const auto& [name, s] : stats) {
        if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
        const auto total_us = std::chrono::duration_cast<std::chrono::microseconds>(s.total_wait).count();
        const auto max_us = std::chrono::duration_cast<std::chrono::microseconds>(s.max_wait).count();
        const auto requests = s.acquisitions + s.timeouts;
        char waits[96];
        std::snprintf(waits, sizeof waits, "waited %.1f ms on average, %.1f ms at most",
                      requests ? static_cast<double>(total_us) / 1000.0 / static_cast<double>(requests) : 0.0,
                      static_cast<double>(max_us) / 1000.0);
        human += shown(name) + "  " + std::to_string(s.acquisitions) + " acquired (" + std::to_string(s.contended) +
                 " after waiting), " + std::to_string(s.timeouts) + " timed out, " + waits + "\n";
        rows.push_back(Json()
                           .text("name", name)
                           .number("acquisitions", static_cast<std::int64_t>(s.acquisitions))
                           .number("contended", static_cast<std::int64_t>(s.contended))
                           .number("timeouts", static_cast<std::int64_t>(s.timeouts))
                           .number("total_wait_us", total_us)
                           .number("max_wait_us", max_us)
                           .value());
    }
    if (human.empty()) human = "no lock statistics recorded\n";
    return {human.substr(0, human.size() - 1), json_array(rows)};
}

} // namespace persist_cli
