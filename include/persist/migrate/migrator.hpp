// persist/migrate/migrator.hpp: applying migrations to a Store, safely when many processes
// start at once.
//
// Invariants: a transactional migration and its history row commit in one transaction, or
// neither does; at most one process applies a given migration (the "migrate" lock orders
// the processes, and each migration re-reads the history inside its own write transaction,
// which excludes every other migrating transaction: BEGIN IMMEDIATE on SQLite, a
// transaction-level advisory lock on PostgreSQL; so even without a cross-process lock policy
// nothing runs twice).
#pragma once

#include "persist/detail/checks.hpp"
#include "persist/config.hpp"
#include "persist/error.hpp"
#include "persist/lock/policy.hpp"
#include "persist/migrate/history.hpp"
#include "persist/migrate/migration.hpp"
#include "persist/migrate/plan.hpp"
#include "persist/migrate/snapshots.hpp"
#include "persist/version.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace persist::migrate {

/// Runs a MigrationSource against a Store. Thread-safe as the Store is; each call reads the
/// source afresh.
template <AnyStore StoreType, MigrationSource Source>
class Migrator {
public:
    Migrator(StoreType& store, Source source, Options options = {})
        : store_(store), source_(std::move(source)), options_(std::move(options)) {}
    Migrator(const Migrator&) = delete;
    Migrator& operator=(const Migrator&) = delete;

    /// Applies every pending migration. Returns at once, without the migrate lock, when
    /// nothing is pending. Throws migration_refused (see Reason) and leaves the database as
    /// it was before the failing migration (or as before the run, with snapshot_before).
    Report migrate() { return migrate_up(std::nullopt); }

    /// Migrates up or down to `target`. Going down runs down scripts newest first, each with
    /// its history row removal in one transaction; refused before anything runs if one is
    /// missing.
    Report migrate_to(std::int64_t target) {
        const auto list = migrations_of<typename StoreType::write_transaction>(source_);
        const auto history = read_history();
        validate(history, list);
        const auto head = detail::head_of(history);
        if (target >= head) return migrate_up(target);
        return locked("migrate down to version " + std::to_string(target), [&] {
            Report report;
            const auto current = read_history();
            report.from_version = detail::head_of(current);
            std::vector<const Migration*> downs;
            std::string missing;
            for (auto it = current.rbegin(); it != current.rend(); ++it) {
                if (it->version <= target) break;
                const auto* migration = detail::find_migration(list, it->version);
                if (!migration || !migration->has_down())
                    missing += (missing.empty() ? "" : ", ") + std::to_string(it->version);
                else downs.push_back(migration);
            }
            if (!missing.empty())
                throw migration_refused(Reason::no_down, target,
                                        "cannot migrate down to version " + std::to_string(target) +
                                            ": no down script for version(s) " + missing +
                                            "; add them (<version>_<name>.down.sql) or migrate to a higher version");
            for (const auto* migration : downs) detail::check_script<Dialect>(*migration, migration->down, "down script");
            for (const auto* migration : downs) {
                run_step(*migration, [&] {
                    store_.write([&](auto& tx) {
                        tx.execute_script(migration->down);
                        detail::begin_migrating(tx);
                        tx.execute(sql<decltype(tx)>("DELETE FROM persist_schema_history WHERE version = ?"), migration->version);
                        audit(tx, migration->version, "down", migration->checksum, "");
                    });
                });
                report.reverted.push_back(migration->version);
            }
            report.to_version = detail::head_of(read_history());
            return report;
        });
    }

    /// Every version the source or the database knows, with its state. Does not throw for
    /// a changed or missing migration: it reports them.
    std::vector<VersionStatus> status() {
        const auto list = migrations_of<typename StoreType::write_transaction>(source_);
        const auto history = read_history();
        std::map<std::int64_t, VersionStatus> merged;
        for (const auto& m : list) merged[m.version] = {m.version, m.name, VersionStatus::State::pending, "", "", m.checksum};
        for (const auto& row : history) {
            auto& entry = merged[row.version];
            const bool known = !entry.name.empty();
            entry.version = row.version;
            entry.name = row.name;
            entry.applied_at = row.applied_at;
            entry.database_checksum = row.checksum;
            using State = VersionStatus::State;
            if (!known) entry.state = State::missing_from_source;
            else if (row.state == "started") entry.state = State::incomplete;
            else if (row.checksum != entry.source_checksum) entry.state = State::changed;
            else entry.state = row.state == "baseline" ? State::baseline : State::applied;
        }
        std::vector<VersionStatus> result;
        for (auto& [version, entry] : merged) result.push_back(std::move(entry));
        return result;
    }

    /// The migrations migrate() would apply now, in order (a dry run: nothing is changed).
    /// Throws migration_refused like migrate() when the history does not validate.
    std::vector<Migration> plan() {
        const auto list = migrations_of<typename StoreType::write_transaction>(source_);
        const auto history = read_history();
        validate(history, list);
        return detail::pending(history, list, std::nullopt);
    }

    /// Records the source's migrations up to `version` as applied without running them, for a
    /// database created before persist managed it. Refused if the database has history or
    /// `version` is not in the source.
    void baseline(std::int64_t version) {
        const auto list = migrations_of<typename StoreType::write_transaction>(source_);
        if (!detail::find_migration(list, version))
            throw migration_refused(Reason::usage, version,
                                    "cannot baseline at version " + std::to_string(version) + ": the source has no such migration");
        locked("baseline at version " + std::to_string(version), [&] {
            store_.write([&](auto& tx) {
                detail::begin_migrating(tx);
                if (tx.template query<std::int64_t>("SELECT count(*) FROM persist_schema_history")[0] != 0)
                    throw migration_refused(Reason::usage, version,
                                            "cannot baseline: the database already has migration history; baseline is "
                                            "for databases persist has never migrated");
                for (const auto& m : list)
                    if (m.version <= version) {
                        insert_history(tx, m, "baseline", 0);
                        audit(tx, m.version, "baseline", "", m.checksum);
                    }
            });
            return 0;
        });
    }

    /// Accepts the current source for `version`: records its checksum if the text changed, and
    /// marks an incomplete non-transactional migration as completed. Each change is kept in
    /// persist_schema_audit. Returns whether anything changed.
    bool repair(std::int64_t version) {
        const auto list = migrations_of<typename StoreType::write_transaction>(source_);
        const auto* migration = detail::find_migration(list, version);
        if (!migration)
            throw migration_refused(Reason::usage, version,
                                    "cannot repair version " + std::to_string(version) + ": the source has no such migration");
        return locked("repair version " + std::to_string(version), [&] {
            return store_.write([&](auto& tx) {
                detail::begin_migrating(tx);
                auto row = tx.template query_one<std::tuple<std::string, std::string>>(
                    sql<decltype(tx)>("SELECT checksum, state FROM persist_schema_history WHERE version = ?"), version);
                if (!row)
                    throw migration_refused(Reason::usage, version,
                                            "cannot repair version " + std::to_string(version) + ": it was never applied");
                bool changed = false;
                if (std::get<1>(*row) == "started") {
                    tx.execute(sql<decltype(tx)>("UPDATE persist_schema_history SET state = 'applied' WHERE version = ?"), version);
                    audit(tx, version, "repair: marked completed", std::get<0>(*row), migration->checksum);
                    changed = true;
                }
                if (std::get<0>(*row) != migration->checksum) {
                    tx.execute(sql<decltype(tx)>("UPDATE persist_schema_history SET checksum = ? WHERE version = ?"),
                               migration->checksum, version);
                    audit(tx, version, "repair: accepted checksum", std::get<0>(*row), migration->checksum);
                    changed = true;
                }
                return changed;
            });
        });
    }

private:
    using Clock = std::chrono::steady_clock;
    using Dialect = typename StoreType::backend_type::dialect;
    static constexpr bool can_snapshot = persist::CanSnapshot<typename StoreType::backend_type>;

    // The migrator's SQL, written with "?", in the transaction's dialect.
    template <class Tx>
    static const std::string& sql(const char* text) {
        thread_local std::map<const char*, std::string> rendered;
        auto& entry = rendered[text];
        if (entry.empty()) entry = detail::numbered<typename std::remove_cvref_t<Tx>::dialect>(text);
        return entry;
    }

    // Refuses, before anything runs, what this backend cannot do.
    void check_backend(const std::vector<Migration>& list) const {
        if constexpr (!can_snapshot) {
            if (options_.snapshot_before)
                throw migration_refused(Reason::usage, 0,
                                        "snapshot_before needs a backend that can snapshot the database (SQLite); on this "
                                        "backend take a backup with the server's tools (pg_dump) before migrating");
        }
        using Tx = typename StoreType::write_transaction;
        for (const auto& m : list) {
            if (m.code && m.code.backend() == "any")
                throw migration_refused(Reason::usage, m.version,
                                        "migration " + std::to_string(m.version) + " (" + m.name +
                                            ") has a generic C++ function that its source did not bind to a transaction "
                                            "type; list it in migrate::Embedded, or make it with CodeFunction::bind<Tx>");
            if (m.code && !m.code.template runs_in<Tx>())
                throw migration_refused(
                    Reason::usage, m.version,
                    "migration " + std::to_string(m.version) + " (" + m.name + ") is C++ code for " + m.code.backend() +
                        " transactions, and this store writes " + std::string(Tx::dialect::name) +
                        " ones; write it for both as a generic lambda (Code<..., [](auto& tx) { ... }>), or as SQL");
        }
    }

    template <class Fn>
    auto locked(const std::string& purpose, Fn&& fn) {
        return store_.with_lock("migrate", fn, {lock::Mode::exclusive, options_.lock_timeout, purpose});
    }

    Report migrate_up(std::optional<std::int64_t> target) {
        const auto list = migrations_of<typename StoreType::write_transaction>(source_);
        check_backend(list);
        auto history = read_history();
        // A non-transactional migration "started" may be running in another process right
        // now: judge it only under the migrate lock, which that process holds while it runs.
        const bool in_progress = std::any_of(history.begin(), history.end(), [](const auto& r) { return r.state == "started"; });
        validate(history, list, !in_progress);
        detail::check_scripts<Dialect>(detail::pending(history, list, target));
        if (!in_progress && detail::pending(history, list, target).empty()) {
            const auto head = detail::head_of(history);
            return Report{head, head, {}, {}, ""};
        }
        return locked("migrate to version " + std::to_string(target.value_or(list.back().version)), [&] {
            Report report;
            history = read_history(); // another process may have done the work meanwhile
            validate(history, list);
            report.from_version = detail::head_of(history);
            const auto todo = detail::pending(history, list, target);
            detail::check_scripts<Dialect>(todo);
            if (todo.empty()) {
                report.to_version = report.from_version;
                return report;
            }
            if constexpr (can_snapshot)
                if (options_.snapshot_before) report.snapshot = snapshot(report.from_version, "");
            for (const auto& migration : todo) {
                try {
                    if (apply(migration)) report.applied.push_back(migration.version);
                } catch (const migration_refused&) {
                    restore(report.snapshot);
                    throw;
                } catch (const std::exception& e) {
                    const bool restored = restore(report.snapshot);
                    throw migration_refused(
                        Reason::failed, migration.version,
                        "migration " + std::to_string(migration.version) + " (" + migration.name + ") failed: " + e.what() +
                            (restored ? "; the database was restored from snapshot " + report.snapshot
                                      : migration.transactional ? "; it was rolled back, earlier migrations stay applied"
                                                                : ""));
                }
            }
            report.to_version = detail::head_of(read_history());
            return report;
        });
    }

    // After a COMMIT whose outcome is unknown: what the history says now. The migration and its
    // history row are one transaction, so the database is consistent either way; the message
    // says so instead of claiming a rollback.
    bool recorded_after(const commit_outcome_unknown& unknown, const Migration& migration) {
        const auto history = read_history();
        if (std::any_of(history.begin(), history.end(), [&](const auto& row) { return row.version == migration.version; }))
            return true;
        throw migration_refused(Reason::failed, migration.version,
                                "migration " + std::to_string(migration.version) + " (" + migration.name + "): " +
                                    unknown.what() + ". The history does not show version " +
                                    std::to_string(migration.version) +
                                    " now; since a migration and its history row commit together, the database holds "
                                    "all of it or none of it. Run migrate again once the disk is healthy: it applies "
                                    "the version only if it is still missing",
                                unknown.native_code());
    }

    // Applies one migration unless another process already did. Returns whether this call applied it.
    bool apply(const Migration& migration) {
        if (migration.transactional) {
            bool applied = false;
            try {
                apply_in_transaction(migration, applied);
            } catch (const commit_outcome_unknown& unknown) {
                return recorded_after(unknown, migration);
            }
            return applied;
        }
        return apply_outside_transaction(migration);
    }

    void apply_in_transaction(const Migration& migration, bool& applied) {
        run_step(migration, [&] {
            applied = store_.write([&](auto& tx) {
                detail::begin_migrating(tx);
                if (tx.template query_one<std::int64_t>(
                        sql<decltype(tx)>("SELECT 1 FROM persist_schema_history WHERE version = ?"), migration.version))
                    return false;
                const auto started = Clock::now();
                if (migration.code) {
                    migration.code(tx);
                } else {
                    tx.execute_script(migration.up);
                }
                insert_history(tx, migration, "applied", elapsed_ms(started));
                return true;
            });
        });
    }

    // Non-transactional: "started" before, "applied" after; a crash in between is reported for
    // this version on the next run instead of being re-run.
    bool apply_outside_transaction(const Migration& migration) {
        const auto head = detail::head_of(read_history());
        const bool claimed = store_.write([&](auto& tx) {
            detail::begin_migrating(tx);
            if (tx.template query_one<std::int64_t>(sql<decltype(tx)>("SELECT 1 FROM persist_schema_history WHERE version = ?"),
                                                    migration.version))
                return false;
            insert_history(tx, migration, "started", 0);
            return true;
        });
        if (!claimed) return false;
        if constexpr (can_snapshot) snapshot(head, "-before-v" + std::to_string(migration.version));
        run_step(migration, [&] {
            const auto started = Clock::now();
            store_.backend().run_outside_transaction(migration.up, Clock::now() + store_.config().busy_timeout);
            store_.write([&](auto& tx) {
                tx.execute(sql<decltype(tx)>("UPDATE persist_schema_history SET state = 'applied', execution_ms = ? WHERE version = ?"),
                           elapsed_ms(started), migration.version);
            });
        });
        return true;
    }

    template <class Fn>
    void run_step(const Migration& migration, Fn&& fn) {
        if (options_.before) options_.before(migration);
        const auto started = Clock::now();
        fn();
        if (options_.after) options_.after(migration, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started));
    }

    static std::int64_t elapsed_ms(Clock::time_point started) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    }

    template <class Tx>
    static void insert_history(Tx& tx, const Migration& migration, const char* state, std::int64_t execution_ms) {
        tx.execute(sql<Tx>("INSERT INTO persist_schema_history (version, name, checksum, state, applied_at, execution_ms, "
                           "applied_by, persist_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                   migration.version, migration.name, migration.checksum, state, detail::now_text(), execution_ms,
                   detail::applied_by(), PERSIST_VERSION_STRING);
    }

    template <class Tx>
    static void audit(Tx& tx, std::int64_t version, const char* action, const std::string& old_checksum,
                      const std::string& new_checksum) {
        tx.execute(sql<Tx>("INSERT INTO persist_schema_audit (version, action, old_checksum, new_checksum, at, by) "
                           "VALUES (?, ?, ?, ?, ?, ?)"),
                   version, action, old_checksum, new_checksum, detail::now_text(), detail::applied_by());
    }

    std::vector<detail::HistoryRow> read_history() {
        return store_.read([](auto& tx) {
            std::vector<detail::HistoryRow> rows;
            if (!tx.template query_one<std::int64_t>(std::string(std::remove_cvref_t<decltype(tx)>::dialect::table_exists_sql()),
                                                     "persist_schema_history"))
                return rows;
            for (auto& [version, name, checksum, state, applied_at] :
                 tx.template query<std::tuple<std::int64_t, std::string, std::string, std::string, std::string>>(
                     "SELECT version, name, checksum, state, applied_at FROM persist_schema_history ORDER BY version"))
                rows.push_back({version, name, checksum, state, applied_at});
            return rows;
        });
    }

    // Throws migration_refused for a history the source cannot continue; an incomplete
    // non-transactional migration counts only when `incomplete_is_error`.
    void validate(const std::vector<detail::HistoryRow>& history, const std::vector<Migration>& list,
                  bool incomplete_is_error = true) const {
        const std::int64_t known_max = list.empty() ? 0 : list.back().version;
        for (std::size_t i = 1; i < list.size(); ++i)
            if (list[i].version <= list[i - 1].version)
                throw migration_refused(Reason::malformed_source, list[i].version,
                                        "the migration source is not in strictly increasing version order at versions " +
                                            std::to_string(list[i - 1].version) + " and " + std::to_string(list[i].version));
        for (const auto& row : history) {
            if (row.state == "started" && incomplete_is_error)
                throw migration_refused(
                    Reason::incomplete, row.version,
                    "migration " + std::to_string(row.version) + " (" + row.name + ") is not transactional; it started at " +
                        row.applied_at + " and never completed, so the database may be partly migrated. Inspect it" +
                        (can_snapshot ? " (a snapshot was taken before it started)" : "") + ", then run repair(" +
                        std::to_string(row.version) + ") to mark it completed" +
                        (can_snapshot ? ", or restore the snapshot" : ", or undo what it did by hand"));
            const auto* migration = detail::find_migration(list, row.version);
            if (!migration) {
                if (row.version > known_max)
                    throw migration_refused(Reason::database_newer, row.version,
                                            "the database is at version " + std::to_string(history.back().version) +
                                                " but this program knows migrations only up to version " +
                                                std::to_string(known_max) +
                                                "; run a newer build of the program (it was migrated by one)");
                throw migration_refused(Reason::missing_from_source, row.version,
                                        "migration " + std::to_string(row.version) + " (" + row.name +
                                            ") was applied to the database but is missing from the source; restore it "
                                            "to the source");
            }
            if (migration->checksum != row.checksum)
                throw migration_refused(Reason::checksum_mismatch, row.version,
                                        "migration " + std::to_string(row.version) + " (" + row.name +
                                            ") was applied with checksum " + row.checksum +
                                            " but the source now has checksum " + migration->checksum +
                                            "; restore its original text, or accept the change with repair(" +
                                            std::to_string(row.version) + ")");
        }
        if (options_.allow_out_of_order) return;
        const auto head = detail::head_of(history);
        for (const auto& m : list) {
            const bool applied = std::any_of(history.begin(), history.end(), [&](const auto& r) { return r.version == m.version; });
            if (!applied && m.version < head)
                throw migration_refused(Reason::out_of_order, m.version,
                                        "migration " + std::to_string(m.version) + " (" + m.name +
                                            ") is new but the database is already at version " + std::to_string(head) +
                                            "; give it a version above " + std::to_string(head) +
                                            ", or set allow_out_of_order");
        }
    }

    // A consistent copy of the database (see migrate/snapshots.hpp).
    std::string snapshot(std::int64_t head, const std::string& tag)
        requires can_snapshot
    {
        return snapshots_.take(head, tag);
    }

    bool restore(const std::string& snapshot_path) {
        if constexpr (can_snapshot) {
            if (snapshot_path.empty()) return false;
            store_.backend().restore_from(snapshot_path, Clock::now() + store_.config().busy_timeout);
            return true;
        } else {
            return false;
        }
    }

    StoreType& store_;
    Source source_;
    Options options_;
    detail::Snapshots<StoreType> snapshots_{store_, options_.keep_snapshots};
};

/// The migrations of `source` not applied to `store` yet: version and name, in order.
/// Throws what Migrator::status() throws for a malformed source.
template <AnyStore StoreType, MigrationSource Source>
std::vector<std::pair<std::int64_t, std::string>> pending(StoreType& store, Source source) {
    std::vector<std::pair<std::int64_t, std::string>> result;
    for (const auto& version : Migrator(store, std::move(source)).status())
        if (version.state == VersionStatus::State::pending) result.emplace_back(version.version, version.name);
    return result;
}

} // namespace persist::migrate

namespace persist {

/// What Store::migrate(source, options) calls (found by argument-dependent lookup).
template <AnyStore StoreType, migrate::MigrationSource Source>
migrate::Report run_migrations(StoreType& store, const Source& source, migrate::Options options = {}) {
    return migrate::Migrator<StoreType, Source>(store, source, std::move(options)).migrate();
}

} // namespace persist
