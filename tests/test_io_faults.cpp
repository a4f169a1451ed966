// I/O-error sweep: a scenario (open a new database, migrate, write, back up) runs once with
// the Nth write, sync or read failing, for every N until the scenario no longer reaches it,
// and with the disk full after every budget of 4 KiB. Each run must end in a typed persist
// error or success, never a crash or a foreign exception; afterwards, with the fault gone,
// the database passes integrity_check, holds every acknowledged write, and holds no write
// that was reported failed (outcome-unknown commits excepted).
#include "faults/vfs_shim.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/migrate.hpp>
#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>

#include <filesystem>
#include <set>

using namespace persist;
namespace fs = std::filesystem;

namespace {

using Migrations = migrate::Embedded<migrate::Sql<1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)">,
                                     migrate::Sql<2, "index", "CREATE INDEX items_body ON items (body)">>;

struct Outcome {
    std::set<std::int64_t> acknowledged, failed, unknown;
    bool migrated = false;
    std::string error; // the persist error that ended the run, if any
};

Config config_at(const std::string& path) {
    Config config = Config::for_app("io-faults");
    config.db_path = path;
    config.durability = Durability::full;
    config.busy_timeout = std::chrono::milliseconds(2000);
    return config;
}

Outcome scenario(const std::string& dir) {
    Outcome outcome;
    try {
        SqliteStore store(config_at(dir + "/app.db"));
        store.migrate(Migrations{});
        outcome.migrated = true;
        for (std::int64_t id = 1; id <= 8; ++id) {
            try {
                store.write([&](auto& tx) { tx.execute("INSERT INTO items (id, body) VALUES (?, ?)", id, std::string(900, 'x')); });
                outcome.acknowledged.insert(id);
            } catch (const commit_outcome_unknown&) {
                outcome.unknown.insert(id);
            } catch (const error&) {
                outcome.failed.insert(id);
            }
        }
        sqlite::backup(store, dir + "/copy.backup.db");
    } catch (const error& e) {
        outcome.error = e.what();
    }
    return outcome;
}

struct Sweep {
    int runs = 0, failed_runs = 0, violations = 0;
    std::string first_violation;
};

void check_after(const std::string& dir, const Outcome& outcome, Sweep& sweep, const std::string& where) {
    auto violation = [&](const std::string& what) {
        ++sweep.violations;
        if (sweep.first_violation.empty()) sweep.first_violation = where + ": " + what;
    };
    if (!fs::exists(dir + "/app.db")) {
        if (!outcome.acknowledged.empty() || outcome.migrated) violation("the database vanished");
        return;
    }
    try {
        SqliteStore store(config_at(dir + "/app.db"));
        const auto integrity = store.read([](auto& tx) { return tx.template query<std::string>("PRAGMA integrity_check")[0]; });
        if (integrity != "ok") violation("integrity_check: " + integrity);
        if (outcome.migrated) {
            const auto rows = store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT id FROM items"); });
            const std::set<std::int64_t> present(rows.begin(), rows.end());
            for (auto id : outcome.acknowledged)
                if (!present.count(id)) violation("acknowledged row " + std::to_string(id) + " is missing");
            for (auto id : outcome.failed)
                if (present.count(id)) violation("row " + std::to_string(id) + " was reported failed but is committed");
        }
        if (fs::exists(dir + "/copy.backup.db")) sqlite::verify(dir + "/copy.backup.db");
    } catch (const error& e) {
        violation(std::string("reopening or verifying failed: ") + e.what());
    }
}

Sweep sweep(faults::Kind kind, long step) {
    Sweep result;
    for (long n = step;; n += step) {
        test::TempDir dir;
        faults::plan.arm(kind, n);
        const Outcome outcome = scenario(dir.path);
        const bool fired = faults::plan.fired;
        faults::plan.disarm();
        ++result.runs;
        if (!outcome.error.empty() || !outcome.failed.empty() || !outcome.unknown.empty()) ++result.failed_runs;
        check_after(dir.path, outcome, result, "fault at " + std::to_string(n));
        if (!fired) break;
        REQUIRE(result.runs < 5000);
    }
    return result;
}

} // namespace

TEST_CASE("every failing write, sync and read ends in a typed error and loses nothing acknowledged") {
    faults::install();
    const std::pair<faults::Kind, const char*> kinds[] = {
        {faults::Kind::write, "write"}, {faults::Kind::sync, "sync"}, {faults::Kind::read, "read"}};
    for (const auto& [kind, name] : kinds) {
        const auto result = sweep(kind, 1);
        MESSAGE(std::string(name) << ": " << result.runs << " runs, " << result.failed_runs << " ended in an error, " << result.violations
                     << " violations");
        INFO(result.first_violation);
        CHECK(result.violations == 0);
        CHECK(result.failed_runs > 0);
    }
}

TEST_CASE("a full disk at any point ends in a typed error and loses nothing acknowledged") {
    faults::install();
    const auto result = sweep(faults::Kind::disk_full, 4096);
    MESSAGE("disk full: " << result.runs << " runs, " << result.failed_runs << " ended in an error, " << result.violations
                          << " violations");
    INFO(result.first_violation);
    CHECK(result.violations == 0);
    CHECK(result.failed_runs > 0);
}
