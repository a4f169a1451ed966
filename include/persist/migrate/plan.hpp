// persist/migrate/plan.hpp: what the Migrator works out before it runs anything: the head
// of the history, the pending migrations, and whether their SQL is allowed to run.
#pragma once

#include "persist/detail/sql_text.hpp"
#include "persist/migrate/history.hpp"
#include "persist/migrate/migration.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace persist::migrate::detail {

/// The highest applied version, 0 without history.
inline std::int64_t head_of(const std::vector<HistoryRow>& history) { return history.empty() ? 0 : history.back().version; }

/// The migration of `version` in `list`, or nullptr.
inline const Migration* find_migration(const std::vector<Migration>& list, std::int64_t version) {
    for (const auto& m : list)
        if (m.version == version) return &m;
    return nullptr;
}

/// The migrations of `list` not in `history`, in order, up to `target` when given.
inline std::vector<Migration> pending(const std::vector<HistoryRow>& history, const std::vector<Migration>& list,
                                      std::optional<std::int64_t> target) {
    std::vector<Migration> result;
    for (const auto& m : list) {
        if (target && m.version > *target) break;
        if (std::none_of(history.begin(), history.end(), [&](const auto& r) { return r.version == m.version; }))
            result.push_back(m);
    }
    return result;
}

/// Refuses, before anything runs, SQL text of `migration` (`which`: "up script" or "down
/// script") that would take over the transaction or reach outside the database (a COMMIT,
/// ATTACH, a writing PRAGMA, a NUL byte), as Dialect::script_problems finds without a
/// database. The backend judges each statement again as it runs it. Throws migration_refused
/// (Reason::malformed_source) listing every problem.
template <class Dialect>
void check_script(const Migration& migration, const std::string& text, const char* which) {
    const auto place = migration.transactional ? persist::detail::ScriptPlace::in_transaction
                                               : persist::detail::ScriptPlace::outside_transaction;
    const auto problems = Dialect::script_problems(text, place);
    if (problems.empty()) return;
    std::string message = "migration " + std::to_string(migration.version) + " (" + migration.name + ") has a " + which +
                          " persist will not run:";
    for (const auto& problem : problems) message += "\n  " + problem;
    throw migration_refused(Reason::malformed_source, migration.version, message);
}

/// check_script() of every SQL migration's up script in `todo`.
template <class Dialect>
void check_scripts(const std::vector<Migration>& todo) {
    for (const auto& migration : todo)
        if (!migration.code) check_script<Dialect>(migration, migration.up, "up script");
}

} // namespace persist::migrate::detail
