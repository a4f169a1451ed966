// persist: the command-line tool. Inspect, migrate, back up, verify and restore a persist
// database from a shell. `persist --help` lists the subcommands; docs/backup-and-cli.md has the reference
// and the exit codes. run_cli() is the whole tool (main.cpp calls it; so does the fuzz target
// for its arguments, tests/fuzz/fuzz_cli.cpp).
#pragma once
#include <persist/persist.hpp>
#include <persist/sqlite/backup.hpp>
#include <persist/sqlite/dump.hpp>
#include <persist/sqlite/info.hpp>

#include "describe.hpp"
#include "output.hpp"
#include "postgres_commands.hpp"
#include "lock_stats.hpp"
#include "rotate.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <limits>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace persist_cli {

/// Exit codes (documented in docs/backup-and-cli.md).
enum Exit : int {
    ok = 0,
    failure = 1,      ///< a persist error not listed below (I/O, corrupt database, ...)
    bad_usage = 2,    ///< unknown subcommand or option, missing or malformed argument
    no_database = 3,  ///< no database at the path (nothing was created)
    busy = 4,         ///< the database or a lock stayed held by another process past the timeout
    refused = 5,      ///< a backup does not verify, or the migrations do not validate
};

/// A usage problem found after parsing (exit code 2).
struct usage_problem : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// No database at the path (exit code 3).
struct missing_database : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string db;
    std::string db_url;
    std::string env_prefix = "PERSIST";
    std::string migrations;
    bool json = false;
    int timeout_ms = 30'000;
    // subcommand arguments
    std::int64_t version = 0;
    std::string file;
    std::int64_t keep = 0;
    std::int64_t max_age_days = 0;
    std::string lock_name;
    bool force = false;
    bool stats = false; // lock-status --stats
    std::vector<std::string> lock_names;
    std::string lock; // empty: the backend's default (file on SQLite, advisory on PostgreSQL)
    std::string table;                // rotate-keys
    std::vector<std::string> columns; // rotate-keys
    std::string keys_env;             // rotate-keys: empty means <PREFIX>_KEYS
    std::string keys_file;            // rotate-keys
    std::int64_t batch = 100;         // rotate-keys
};

/// Whether StoreT keeps its data on a PostgreSQL server.
template <class StoreT>
constexpr bool on_postgres = persist::detail::is_store_of<StoreT, persist::postgres::Backend>;

persist::Config make_config(const Options& options) {
    persist::Config defaults;
    persist::Config config = persist::Config::from_env(options.env_prefix, defaults);
    if (!options.db.empty()) {
        config.db_path = options.db;
        config.db_path_source = "--db";
    }
    if (!options.db_url.empty()) config.db_url = options.db_url;
    config.busy_timeout = std::chrono::milliseconds(options.timeout_ms);
    config.lock_wait_notice = std::chrono::milliseconds(1000);
    config.on_event = [](const persist::Event& event) {
        if (event.kind == persist::Event::Kind::wait) std::fprintf(stderr, "%s\n", terminal_text(event.message).c_str());
    };
    return config;
}

/// Opens the store; refuses (exit 3) when the database file does not exist, unless `create`.
/// With `read_only`, nothing is created or written (Config::read_only).
template <class StoreT>
std::unique_ptr<StoreT> open_store(const Options& options, bool create, bool read_only) {
    persist::Config config = make_config(options);
    if constexpr (on_postgres<StoreT>) return std::make_unique<StoreT>(config); // read-only commands only read
    config.db_url.clear(); // --db (a SQLite file) was chosen over <PREFIX>_DB_URL
    config.read_only = read_only;
    const std::string path = config.path();
    std::error_code ec;
    const auto kind = std::filesystem::status(path, ec).type();
    if (!create && !persist::detail::is_memory_path(path) && kind == std::filesystem::file_type::not_found)
        throw missing_database("no database at " + path + " (give --db PATH, or set " + options.env_prefix +
                               "_DB_PATH); nothing was created");
    if (kind != std::filesystem::file_type::not_found && kind != std::filesystem::file_type::regular &&
        !persist::detail::is_memory_path(path))
        throw usage_problem(path + " is not a regular file, so it cannot be a database; give --db the database file");
    return std::make_unique<StoreT>(config);
}


/// info, backup, restore, dump and load on a SQLite store (`say(human, json)` prints).
template <class StoreT, class Say>
int run_on_sqlite(const std::string& command, StoreT& storage, const Options& options, Say&& say) {
    auto* store = &storage;
    if (command == "info") {
        const auto i = options.migrations.empty() ? persist::sqlite::info(*store)
                                                  : persist::sqlite::info(*store, persist::migrate::Directory(options.migrations));
        const char* durability = i.durability == persist::Durability::full ? "full"
                                 : i.durability == persist::Durability::off ? "off" : "normal";
        if (options.json) {
            const auto parts = contents_json(i);
            say("", Json()
                        .text("path", i.path)
                        .number("file_bytes", i.file_bytes)
                        .number("wal_bytes", i.wal_bytes)
                        .number("page_size", i.page_size)
                        .number("page_count", i.page_count)
                        .number("free_pages", i.free_pages)
                        .text("journal_mode", i.journal_mode)
                        .text("sqlite_version", i.sqlite_version)
                        .text("wal_reset", i.wal_reset)
                        .text("durability", durability)
                        .field("tables", parts.tables)
                        .field("migrations", parts.migrations)
                        .field("pending", parts.pending)
                        .field("locks", parts.locks)
                        .value());
        } else {
            std::ostringstream out;
            out << "database     " << i.path << "\n"
                << "size         " << i.file_bytes << " bytes (+ " << i.wal_bytes << " bytes of WAL)\n"
                << "pages        " << i.page_count << " of " << i.page_size << " bytes, " << i.free_pages << " free\n"
                << "journal mode " << i.journal_mode << ", durability " << durability << ", SQLite " << i.sqlite_version << "\n"
                << "wal reset    " << i.wal_reset << "\n"
                << contents_text(i);
            std::cout << terminal_text(out.str());
        }
        return ok;
    }
    if (command == "backup") {
        persist::sqlite::BackupOptions backup;
        if (options.keep > 0) backup.keep = static_cast<std::size_t>(options.keep);
        if (options.max_age_days > 0) backup.max_age = std::chrono::hours(24) * options.max_age_days;
        ProgressBar bar("backup");
        backup.on_progress = std::ref(bar);
        std::string destination = options.file;
        if (destination.empty()) destination = store->path() + ".backups/"; // created 0700 when missing
        const auto made = persist::sqlite::backup(*store, destination, backup);
        std::vector<JsonValue> removed;
        for (const auto& r : made.removed) removed.push_back(r);
        say("backup written to " + made.path + " (" + std::to_string(made.manifest.size) + " bytes, manifest " + made.manifest_path +
                ")" + (made.removed.empty() ? "" : ", removed " + std::to_string(made.removed.size()) + " older"),
            Json().text("path", made.path).text("manifest", made.manifest_path).field("removed", json_array(removed)).field("manifest_contents", manifest_json(made.manifest)).value());
        return ok;
    }
    if (command == "restore") {
        persist::sqlite::BackupOptions safety;
        ProgressBar bar("safety copy");
        safety.on_progress = std::ref(bar);
        const auto restored = persist::sqlite::restore(*store, options.file, safety);
        say("restored " + store->path() + " from " + options.file + "; the previous database is kept in " + restored.safety_copy,
            Json().text("restored_from", options.file).text("safety_copy", restored.safety_copy).value());
        return ok;
    }
    if (command == "dump") {
        if (options.file.empty()) {
            const auto dumped = persist::sqlite::dump_text(*store);
            if (options.json)
                std::cout << Json().text("sql", dumped.text).number("tables", static_cast<std::int64_t>(dumped.row_counts.size())).str()
                          << "\n";
            else
                std::cout << dumped.text;
        } else {
            const auto dumped = persist::sqlite::dump(*store, options.file);
            say("dumped " + std::to_string(dumped.row_counts.size()) + " tables to " + options.file,
                Json().text("path", options.file).number("tables", static_cast<std::int64_t>(dumped.row_counts.size())).value());
        }
        return ok;
    }
    if (command == "load") {
        persist::sqlite::load(*store, options.file);
        say("loaded " + options.file + " into " + store->path(), Json().text("loaded", options.file).text("into", store->path()).value());
        return ok;
    }
    throw usage_problem("unknown subcommand " + command);
}

template <class StoreT>
int run(const std::string& command, Options options) {
    // --migrations, or else <PREFIX>_MIGRATIONS_DIR.
    if (options.migrations.empty()) options.migrations = make_config(options).migrations_dir;
    auto say = [&](const std::string& human, const JsonValue& json) {
        std::cout << (options.json ? dump_json(json) : terminal_text(human)) << "\n";
    };
    if (command == "verify" && is_pg_dump(options.file)) {
        const auto m = persist::postgres::verify(options.file);
        say("backup " + options.file + " verifies: schema version " + std::to_string(m.schema_version) + ", " +
                std::to_string(m.row_counts.size()) + " tables, sha256 " + m.sha256,
            Json().text("backup", options.file).boolean("ok", true).field("manifest", manifest_json(m)).value());
        return ok;
    }
    if (command == "verify") {
        ProgressBar bar("verify");
        const auto m = persist::sqlite::verify(options.file, std::ref(bar));
        say("backup " + options.file + " verifies: schema version " + std::to_string(m.schema_version) + ", " +
                std::to_string(m.row_counts.size()) + " tables, sha256 " + m.sha256,
            Json().text("backup", options.file).boolean("ok", true).field("manifest", manifest_json(m)).value());
        return ok;
    }
    const bool migrates = command == "status" || command == "plan" || command == "migrate" || command == "down" ||
                          command == "baseline" || command == "repair";
    if (migrates && options.migrations.empty())
        throw usage_problem(command + " needs --migrations DIR (the <version>_<name>.up.sql files), or " +
                            options.env_prefix + "_MIGRATIONS_DIR");
    const bool creates = command == "migrate" || command == "baseline" || command == "load";
    // Commands that only read open the file read-only: on a backup or another application's
    // database they create no -wal, -shm, lock file or table, and never checkpoint.
    const bool reads_only = command == "info" || command == "status" || command == "plan" || command == "dump" ||
                            command == "lock-status" || command == "backup";
    auto store = open_store<StoreT>(options, creates, reads_only);
    const bool differs = command == "info" || command == "backup" || command == "restore" || command == "dump" ||
                         command == "load";
    if constexpr (on_postgres<StoreT>) {
        if (differs) {
            try {
                return run_on_postgres(command, *store, options.file, options.migrations, options.keep, options.max_age_days,
                                       options.json, say);
            } catch (const std::invalid_argument& e) {
                throw usage_problem(e.what());
            }
        }
    } else {
        if (differs) return run_on_sqlite(command, *store, options, say);
    }
    if (migrates) {
        persist::migrate::Options how;
        how.lock_timeout = std::chrono::milliseconds(options.timeout_ms);
        persist::migrate::Migrator migrator(*store, persist::migrate::Directory(options.migrations), how);
        if (command == "status") {
            std::vector<JsonValue> rows;
            std::ostringstream out;
            for (const auto& v : migrator.status()) {
                out << v.version << "  " << shown(v.name) << "  " << state_name(v.state) << (v.applied_at.empty() ? "" : "  " + shown(v.applied_at)) << "\n";
                rows.push_back(Json().number("version", v.version).text("name", v.name).text("state", state_name(v.state)).text("applied_at", v.applied_at).value());
            }
            const std::string human = out.str().empty() ? "no migrations in the source or the database" : out.str();
            say(options.json ? "" : human.substr(0, human.size() - (human.back() == '\n' ? 1 : 0)), json_array(rows));
        } else if (command == "plan") {
            std::vector<JsonValue> rows;
            std::string human;
            for (const auto& m : migrator.plan()) {
                human += "would apply " + std::to_string(m.version) + " " + shown(m.name) + "\n";
                rows.push_back(Json().number("version", m.version).text("name", m.name).value());
            }
            if (human.empty()) human = "nothing to apply\n";
            say(human.substr(0, human.size() - 1), json_array(rows));
        } else if (command == "migrate" || command == "down") {
            const auto report = command == "migrate" ? migrator.migrate() : migrator.migrate_to(options.version);
            const JsonValue applied(report.applied), reverted(report.reverted);
            std::string human = "version " + std::to_string(report.from_version) + " -> " + std::to_string(report.to_version);
            if (!applied.empty()) human += ", applied " + dump_json(applied);
            if (!reverted.empty()) human += ", reverted " + dump_json(reverted);
            say(human, Json()
                           .number("from_version", report.from_version)
                           .number("to_version", report.to_version)
                           .field("applied", applied)
                           .field("reverted", reverted)
                           .value());
        } else if (command == "baseline") {
            migrator.baseline(options.version);
            say("baselined at version " + std::to_string(options.version), Json().number("baseline", options.version).value());
        } else {
            const bool changed = migrator.repair(options.version);
            say(changed ? "repaired version " + std::to_string(options.version) : "version " + std::to_string(options.version) + " needed no repair",
                Json().number("version", options.version).boolean("changed", changed).value());
        }
        return ok;
    }
    if (command == "lock-status" && options.stats) {
        if constexpr (requires { store->locks().recorded_stats(); }) {
            const auto [human, json] = stats_report(store->locks().recorded_stats(), options.lock_names);
            say(human, json);
            return ok;
        } else {
            throw usage_problem("--stats reads the statistics the lease tables record (--lock table); file and advisory "
                                "locks keep theirs in the process that takes them (Store::lock_stats())");
        }
    }
    if (command == "lock-status") {
        const std::vector<std::string> names = options.lock_names.empty() ? std::vector<std::string>{"migrate", "persist.write"} : options.lock_names;
        std::vector<JsonValue> rows;
        std::string human;
        for (const auto& name : names) {
            const auto status = store->lock_status(name);
            human += shown(name) + "  " + holder_text(status) + "\n";
            rows.push_back(holder_json(name, status));
        }
        say(human.substr(0, human.size() - 1), json_array(rows));
        return ok;
    }
    if (command == "rotate-keys") {
        if (!options.keys_env.empty() && !options.keys_file.empty())
            throw usage_problem("give --keys-env or --keys-file, not both");
        const auto ring = !options.keys_file.empty()
                              ? persist::crypto::Keyring::from_file(options.keys_file)
                              : persist::crypto::Keyring::from_environment(
                                    options.keys_env.empty() ? options.env_prefix + "_KEYS" : options.keys_env);
        Rotation done;
        try {
            done = rotate_columns(*store, options.table, options.columns, static_cast<std::size_t>(options.batch), *ring);
        } catch (const std::invalid_argument& e) {
            throw usage_problem(e.what());
        }
        say("rotate-keys " + options.table + ": " + std::to_string(done.rows_rewritten) + " of " +
                std::to_string(done.rows_seen) + " rows re-encrypted under key " + std::to_string(ring->current()),
            Json()
                .text("table", options.table)
                .number("rows_seen", static_cast<std::int64_t>(done.rows_seen))
                .number("rows_rewritten", static_cast<std::int64_t>(done.rows_rewritten))
                .number("current_key", static_cast<std::int64_t>(ring->current()))
                .value());
        return ok;
    }
    if (command == "unlock") {
        if (!options.force)
            throw usage_problem("unlock breaks a lock another process may still hold; add --force if you are sure");
        if (!on_postgres<StoreT> && options.lock != "table" && !store->lock_status(options.lock_name).held)
            throw usage_problem("lock '" + options.lock_name + "' is an operating-system lock and it is free: there is "
                                "nothing to unlock (the kernel releases such locks when their holder exits)");
        store->force_unlock(options.lock_name);
        say("lock " + options.lock_name + " released", Json().text("unlocked", options.lock_name).value());
        return ok;
    }
    throw usage_problem("unknown subcommand " + command);
}

int report(int code, const std::string& kind, const std::string& message, bool json) {
    if (json) std::cout << Json().boolean("ok", false).text("error", kind).text("message", message).number("exit_code", code).str() << "\n";
    else std::cerr << "persist: " << terminal_text(message) << "\n";
    return code;
}

/// The tool: parses `argv`, runs the command, prints to stdout/stderr, returns the exit code.
inline int run_cli(int argc, char** argv) {
    CLI::App app{"persist: inspect, migrate, back up, verify and restore a persist database (SQLite or PostgreSQL)"};
    app.require_subcommand(1, 1);
    Options options;
    app.add_option("--db", options.db, "database file (default: the <PREFIX>_DB_PATH / <PREFIX>_DB_DIR variables)");
    app.add_option("--db-url", options.db_url,
                   "PostgreSQL connection string, postgresql://... (default: the <PREFIX>_DB_URL variable)");
    app.add_option("--env-prefix", options.env_prefix, "prefix of the environment variables to read (default PERSIST)");
    app.add_option("--migrations", options.migrations,
                   "directory of <version>_<name>.up.sql / .down.sql files (default: <PREFIX>_MIGRATIONS_DIR)");
    app.add_flag("--json", options.json, "print JSON instead of text");
    app.add_option("--lock", options.lock,
                   "the application's lock policy: SQLite file (lock::File, default) or table (lock::Table); PostgreSQL "
                   "advisory (postgres::AdvisoryLock, default) or table (postgres::TableLock)")
        ->check(CLI::IsMember({"file", "table", "advisory"}));
    app.add_option("--timeout", options.timeout_ms, "milliseconds to wait for the database or a lock (default 30000)")
        ->check(whole_number(0, 86'400'000));

    app.add_subcommand("info", "sizes, tables with row counts, migrations, lock holders, settings");
    app.add_subcommand("status", "every migration with its state (needs --migrations)");
    app.add_subcommand("migrate", "apply every pending migration (needs --migrations)");
    app.add_subcommand("plan", "what migrate would apply, without changing anything (needs --migrations)");
    constexpr auto max_version = std::numeric_limits<std::int64_t>::max();
    app.add_subcommand("down", "migrate down to a version with the down scripts (needs --migrations)")
        ->add_option("--to", options.version, "the version to end at (0: before every migration)")->required()
        ->check(whole_number(0, max_version));
    app.add_subcommand("baseline", "record migrations up to N as applied, for an existing database")
        ->add_option("N", options.version, "version")->required()->check(whole_number(1, max_version));
    app.add_subcommand("repair", "accept the current text of migration N (recorded in persist_schema_audit)")
        ->add_option("N", options.version, "version")->required()->check(whole_number(1, max_version));
    auto* backup = app.add_subcommand("backup", "consistent online backup with a manifest (default: <db>.backups/)");
    backup->add_option("DESTINATION", options.file, "directory, or a new file name");
    backup->add_option("--keep", options.keep, "keep only the newest N backups in the directory (1 to 1000000)")
        ->check(whole_number(1, 1'000'000));
    backup->add_option("--max-age-days", options.max_age_days, "delete backups older than this many days (1 to 36525)")
        ->check(whole_number(1, 36'525));
    app.add_subcommand("verify", "check a backup against its manifest")->add_option("FILE", options.file, "backup file")->required();
    app.add_subcommand("restore", "verify a backup, then replace the database with it")->add_option("FILE", options.file, "backup file")->required();
    app.add_subcommand("dump", "the database as SQL text (to stdout, or FILE)")->add_option("FILE", options.file, "output file");
    app.add_subcommand("load", "run a dump into an empty database")->add_option("FILE", options.file, "SQL dump")->required();
    auto* lock_status = app.add_subcommand("lock-status", "who holds the locks (default: migrate and persist.write)");
    lock_status->add_option("NAME", options.lock_names, "lock names");
    lock_status->add_flag("--stats", options.stats,
                          "acquisitions, waits and timeouts of every process, as the lease tables record them (--lock table)");
    auto* unlock = app.add_subcommand("unlock", "break a lock left by a holder that cannot release it");
    unlock->add_option("NAME", options.lock_name, "lock name")->required();
    unlock->add_flag("--force", options.force, "confirm");
    auto* rotate = app.add_subcommand("rotate-keys", "re-encrypt encrypted columns under the current key (keys from "
                                                     "<PREFIX>_KEYS, --keys-env or --keys-file)");
    rotate->add_option("TABLE", options.table, "table")->required();
    rotate->add_option("COLUMN", options.columns, "its encrypted columns")->required();
    rotate->add_option("--keys-env", options.keys_env, "environment variable holding the keys (default <PREFIX>_KEYS)");
    rotate->add_option("--keys-file", options.keys_file, "file holding the keys, readable by its owner only");
    rotate->add_option("--batch", options.batch, "rows per transaction (1 to 1000000, default 100)")
        ->check(whole_number(1, 1'000'000));

    // --json is honoured even when the rest of the command line does not parse: every outcome
    // is then one JSON document on stdout.
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "--json") options.json = true;
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        if (!options.json) return app.exit(e);
        std::cout << Json().boolean("ok", true).text("help", app.help()).str() << "\n";
        return ok;
    } catch (const CLI::ParseError& e) {
        // CLI11 reports a misspelt subcommand as "a subcommand is required"; name the word.
        const auto extra = app.remaining();
        const std::string message = app.get_subcommands().empty() && !extra.empty()
                                        ? "unknown subcommand '" + extra.front() + "' (see persist --help)"
                                        : std::string(e.what()) + " (see persist --help)";
        return report(bad_usage, "usage", message, options.json);
    }
    const std::string command = app.get_subcommands().front()->get_name();
    if (!valid_prefix(options.env_prefix))
        return report(bad_usage, "usage",
                      "--env-prefix must be a letter or '_' followed by letters, digits and '_' (at most 64 characters)",
                      options.json);
    try {
        // PostgreSQL when --db-url is given, or when <PREFIX>_DB_URL is set and --db is not.
        const bool postgres = !options.db_url.empty() || (options.db.empty() && !make_config(options).db_url.empty());
        if (postgres && !options.db.empty())
            throw usage_problem("give --db (a SQLite file) or --db-url (a PostgreSQL server), not both");
        if (postgres && options.lock == "file")
            throw usage_problem("--lock file is for SQLite databases; on PostgreSQL use advisory (the default) or table");
        if (!postgres && options.lock == "advisory")
            throw usage_problem("--lock advisory is for PostgreSQL (--db-url); on SQLite use file (the default) or table");
        if (postgres)
            return options.lock == "table" ? run<persist::Store<persist::postgres::Backend, persist::postgres::TableLock>>(command, options)
                                           : run<persist::PostgresStore>(command, options);
        return options.lock == "table" ? run<persist::SqliteLeaseStore>(command, options)
                                       : run<persist::SqliteStore>(command, options);
    } catch (const usage_problem& e) {
        return report(bad_usage, "usage", e.what(), options.json);
    } catch (const missing_database& e) {
        return report(no_database, "no_database", e.what(), options.json);
    } catch (const persist::backup_error& e) {
        return report(refused, "backup", e.what(), options.json);
    } catch (const persist::migration_error& e) {
        return report(refused, "migration", e.what(), options.json);
    } catch (const persist::busy_error& e) {
        return report(busy, "busy", e.what(), options.json);
    } catch (const persist::lock_timeout_error& e) {
        return report(busy, "lock_timeout", e.what(), options.json);
    } catch (const persist::config_error& e) {
        return report(bad_usage, "config", e.what(), options.json);
    } catch (const persist::usage_error& e) {
        return report(bad_usage, "usage", e.what(), options.json);
    } catch (const persist::decryption_error& e) {
        return report(failure, "decryption", e.what(), options.json);
    } catch (const persist::error& e) {
        return report(failure, "error", e.what(), options.json);
    } catch (const std::filesystem::filesystem_error& e) {
        return report(failure, "io", e.what(), options.json);
    } catch (const std::exception& e) {
        return report(failure, "error", e.what(), options.json);
    }
}

} // namespace persist_cli
