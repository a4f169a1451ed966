// What the migrate helpers print, written and read in one place: each helper prints one line
// "applied <v1,v2,...,|-> head <version>", and a herd test tallies those lines.
#pragma once

#include "process.hpp"

#include <persist/migrate/migrator.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace test {

/// Prints `report` as the helper's one line of output.
inline void print_report(const persist::migrate::Report& report) {
    std::string applied;
    for (auto version : report.applied) applied += std::to_string(version) + ",";
    std::printf("applied %s head %lld\n", applied.empty() ? "-" : applied.c_str(), static_cast<long long>(report.to_version));
}

/// What a herd of helpers printed.
struct HerdOutcome {
    std::vector<std::string> unexpected;   ///< lines that are not "applied ... head <head>"
    std::map<int, int> applied_by_count;   ///< version -> how many processes applied it
};

/// Reads one line from each process of `herd` (waiting up to two minutes each) and tallies them.
inline HerdOutcome tally(std::vector<Process>& herd, int head) {
    HerdOutcome outcome;
    const std::string ending = " head " + std::to_string(head);
    for (auto& process : herd) {
        const auto line = process.line(std::chrono::seconds(120));
        if (!line.starts_with("applied ") || !line.ends_with(ending)) {
            outcome.unexpected.push_back(line);
            continue;
        }
        const auto list = line.substr(8, line.size() - 8 - ending.size());
        if (list == "-") continue;
        std::size_t start = 0;
        for (std::size_t comma; (comma = list.find(',', start)) != std::string::npos; start = comma + 1)
            ++outcome.applied_by_count[std::stoi(list.substr(start, comma - start))];
    }
    return outcome;
}

} // namespace test
