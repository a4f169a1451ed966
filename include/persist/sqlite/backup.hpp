// persist/sqlite/backup.hpp: online backup with a manifest, verification, and restore.
//
//   auto made = persist::sqlite::backup(store, "/var/backups/app", {.keep = 7});
//   persist::sqlite::verify(made.path);            // throws backup_error listing every problem
//   persist::sqlite::restore(store, made.path);    // verify, safety copy, atomic replace
//
// A backup is a consistent copy taken while other processes keep writing: SQLite's backup
// API copies every page under one read transaction of a reader connection, so outside
// writes never restart it. The copy is written under an unpredictable temporary name made
// exclusively (0600) beside the final one, switched to journal_mode=DELETE (a self-contained
// file) and fsynced. Then the manifest ("<backup>.manifest", persist/sqlite/manifest.hpp) is
// renamed into place and the directory fsynced, and only then the copy, and the directory
// fsynced again: after a crash or power loss there is the complete pair, a manifest alone
// (swept by the next backup), or nothing. A backup that fails removes what it made.
#pragma once

#include "persist/sqlite/trust.hpp"
#include "persist/detail/private_files.hpp"
#include "persist/dialect.hpp"
#include "persist/error.hpp"
#include "persist/migrate/sha256.hpp"
#include "persist/sqlite/backend.hpp"
#include "persist/detail/file_digest.hpp"
#include "persist/sqlite/manifest.hpp"
#include "persist/store.hpp"
#include "persist/value.hpp"
#include "persist/version.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sqlite3.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace persist::sqlite {

/// A persist::Store over the SQLite backend, whatever its lock policy: what backup, restore,
/// dump, load and info take.
template <class S>
concept SqliteStoreType = persist::detail::is_store_of<S, Backend>; // pass the Store itself, e.g. a persist::SqliteStore

/// How far a long operation has come: database pages for backup() and restore(), bytes
/// hashed for verify().
struct Progress {
    std::int64_t done = 0;
    std::int64_t total = 0;
};

/// Receives Progress; called from the thread doing the work.
using ProgressCallback = std::function<void(const Progress&)>;

/// How backup() works.
struct BackupOptions {
    /// After the backup, keep only the newest `keep` backups of this database in the
    /// destination directory (0 or empty: keep all).
    std::optional<std::size_t> keep;
    /// After the backup, delete backups of this database older than this.
    std::optional<std::chrono::seconds> max_age;
    /// Called after every step of the copy; the last call has done == total.
    ProgressCallback on_progress;
    /// Pages copied per step (between progress calls).
    int pages_per_step = 1024;
};

/// What backup() made.
struct BackupResult {
    std::string path;                   ///< the backup file
    std::string manifest_path;          ///< path + ".manifest"
    Manifest manifest;
    std::vector<std::string> removed;   ///< older backups deleted by the retention options
};

namespace detail {

/// SHA-256 and size of a file. Throws io_error if it cannot be read.
inline std::pair<std::string, std::int64_t> file_digest(const std::string& path, const ProgressCallback& on_progress = {}) {
    return persist::detail::file_sha256(path, [&](std::int64_t done, std::int64_t total) {
        if (on_progress) on_progress({done, total});
    });
}

/// An owned sqlite3 handle.
struct Handle {
    sqlite3* db = nullptr;
    Handle() = default;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { sqlite3_close_v2(db); }
};

/// Runs `sql` on `db` and calls `row(statement)` for each result row. Throws the mapped
/// persist error (naming the SQL) if it does not prepare or a step fails.
template <class Row>
void each_row(sqlite3* db, const std::string& sql, Row&& row) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
        sqlite3_finalize(statement);
        throw_last_error(db, sql);
    }
    int rc;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) row(statement);
    if (rc != SQLITE_DONE) {
        const int code = sqlite3_extended_errcode(db);
        const std::string message = sqlite3_errmsg(db);
        sqlite3_finalize(statement);
        throw_error(code, message, sql);
    }
    sqlite3_finalize(statement);
}

/// Column `i` of the current row as text ("" for NULL).
inline std::string column_text(sqlite3_stmt* statement, int i) {
    const auto* text = sqlite3_column_text(statement, i);
    return text ? reinterpret_cast<const char*>(text) : "";
}

/// The user tables of `db` (not SQLite's own), by name.
inline std::vector<std::string> table_names(sqlite3* db) {
    std::vector<std::string> tables;
    each_row(db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
             [&](sqlite3_stmt* s) { tables.push_back(column_text(s, 0)); });
    return tables;
}

/// The schema version, migrations and row counts of the database behind `db`.
inline void describe(sqlite3* db, Manifest& manifest) {
    for (const auto& table : table_names(db))
        each_row(db, "SELECT count(*) FROM " + persist::detail::double_quote(table),
                 [&](sqlite3_stmt* s) { manifest.row_counts[table] = sqlite3_column_int64(s, 0); });
    if (manifest.row_counts.count("persist_schema_history"))
        each_row(db, "SELECT version, checksum FROM persist_schema_history WHERE state IN ('applied', 'baseline') ORDER BY version",
              [&](sqlite3_stmt* s) {
                  const std::int64_t version = sqlite3_column_int64(s, 0);
                  manifest.migrations[version] = column_text(s, 1);
                  manifest.schema_version = std::max(manifest.schema_version, version);
              });
}

} // namespace detail

/// The longest BackupOptions::max_age accepted: 100 years.
inline constexpr std::chrono::seconds max_backup_age = persist::detail::max_backup_age;

namespace detail {

/// Opens `path` for reading only, through a URI with immutable=1: SQLite then creates no
/// -wal, -shm or -journal file, takes no lock and never writes, whatever the file's header
/// says. trusted_schema is off, so SQL functions named in a crafted schema do not run.
/// Returns SQLite's result code; `db` is set either way (close it).
inline int open_read_only(const std::string& path, sqlite3** db) {
    const int rc = sqlite3_open_v2(immutable_uri(path).c_str(), db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
    if (rc == SQLITE_OK) distrust_schema(*db);
    return rc;
}

} // namespace detail

/// Writes a consistent copy of `store`'s database, with its manifest, while other
/// connections and processes keep writing. `destination` is a directory (one ending in '/'
/// is created if missing, 0700; the file is named
/// "<database stem>-<UTC time to the microsecond>.backup.db" there, and the retention options
/// apply to such files) or a file path that does not exist yet. Files are created 0600,
/// exclusively, never through a symlink; temporary files that a killed backup left in the
/// destination directory are swept first. Throws usage_error for an in-memory database, an
/// existing destination file or max_age outside (0, 100 years]; permission_error or io_error
/// when the disk refuses or fails. A failed backup leaves nothing under the final names;
/// a killed one may leave a manifest without its backup, which the next backup with
/// retention options removes. Thread-safety: as Store::read (it uses one reader connection;
/// other threads and processes keep reading and writing).
template <SqliteStoreType Store>
BackupResult backup(Store& store, const std::string& destination, const BackupOptions& options = {}) {
    const std::string source = store.path();
    if (persist::detail::is_memory_path(source))
        throw usage_error("backup() needs a database file; an in-memory database has nothing to back up");
    persist::detail::check_max_age(options.max_age);
    if (destination.empty()) throw usage_error("backup() needs a destination: a directory or a new file name");
    namespace fs = std::filesystem;
    const fs::path database(source);
    const std::string stem = database.stem().string();
    std::error_code ec;
    fs::path target(destination);
    if (destination.back() == '/') persist::detail::make_private_directories(destination.substr(0, destination.size() - 1));
    const bool into_directory = fs::is_directory(target, ec);
    if (into_directory) {
        // format_time without '-' and ':': "20261123T081530.123456Z", sortable, one per microsecond.
        std::string stamp;
        for (char c : format_time(std::chrono::system_clock::now()))
            if (c != '-' && c != ':') stamp += c;
        target /= stem + "-" + stamp + ".backup.db";
        for (int n = 2; fs::exists(fs::symlink_status(target, ec)); ++n) // two backups within one microsecond
            target.replace_filename(stem + "-" + stamp + "-" + std::to_string(n) + ".backup.db");
    } else if (fs::exists(fs::symlink_status(target, ec))) {
        throw usage_error("backup destination " + destination +
                          " already exists; pass a directory (persist names the file) or a new file name");
    }
    const std::string final_path = target.string();
    const std::string directory = persist::detail::directory_of(final_path);
    persist::detail::sweep_leftovers(directory, into_directory ? stem + "-" : target.filename().string());

    BackupResult result;
    result.path = final_path;
    result.manifest_path = final_path + ".manifest";
    persist::detail::TemporaryFile copy_file(final_path);
    copy_file.close(); // SQLite opens it; an empty file is a new database to SQLite
    {
        detail::Handle copy;
        if (sqlite3_open_v2(copy_file.path().c_str(), &copy.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr) != SQLITE_OK)
            throw io_error("cannot open backup file " + copy_file.path() + ": " + sqlite3_errmsg(copy.db));
        distrust_schema(copy.db);
        store.read([&](auto& tx) {
            sqlite3* from = tx.connection().handle();
            // Start the read transaction now, so every step below copies the same snapshot
            // and outside writes never restart the backup.
            tx.template query<std::int64_t>("SELECT count(*) FROM sqlite_schema");
            sqlite3_backup* job = sqlite3_backup_init(copy.db, "main", from, "main");
            if (!job) throw io_error("cannot start the backup to " + copy_file.path() + ": " + sqlite3_errmsg(copy.db));
            int rc;
            do {
                rc = sqlite3_backup_step(job, options.pages_per_step > 0 ? options.pages_per_step : -1);
                if (options.on_progress) {
                    const std::int64_t total = sqlite3_backup_pagecount(job);
                    options.on_progress({total - sqlite3_backup_remaining(job), total});
                }
            } while (rc == SQLITE_OK);
            sqlite3_backup_finish(job);
            if (rc != SQLITE_DONE) throw_error(rc, sqlite3_errstr(rc), "backup to " + copy_file.path());
        });
        // A backup is one self-contained file.
        if (sqlite3_exec(copy.db, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr) != SQLITE_OK)
            throw_last_error(copy.db, "PRAGMA journal_mode=DELETE on " + copy_file.path());
        detail::describe(copy.db, result.manifest);
    }
    persist::detail::sync_file(copy_file.path());
    auto [sha, size] = detail::file_digest(copy_file.path());
    result.manifest.sha256 = sha;
    result.manifest.size = size;
    result.manifest.persist_version = PERSIST_VERSION_STRING;
    result.manifest.created_at = format_time(std::chrono::system_clock::now());

    persist::detail::publish_backup(copy_file, final_path, result.manifest_path, result.manifest);

    if (into_directory && (options.keep.value_or(0) > 0 || options.max_age))
        persist::detail::apply_retention(target.parent_path(), stem, ".backup.db", target, options.keep.value_or(0),
                                         options.max_age, result.removed);
    return result;
}

/// Checks a backup against its manifest without changing it: read-only open, integrity_check
/// "ok", foreign_key_check empty, and the file's SHA-256, size, schema version, migrations
/// and row counts as recorded. Returns the manifest. Throws backup_error listing every
/// problem (a corrupt, truncated or non-database file included; never a crash).
/// `on_progress` follows the hashing of the file, in bytes. Thread-safety: touches no
/// shared state; any thread may call it.
inline Manifest verify(const std::string& path, const ProgressCallback& on_progress = {}) {
    namespace fs = std::filesystem;
    const Manifest expected = read_manifest_of(path);
    std::vector<std::string> problems;
    persist::detail::check_digest(path, expected, problems, [&](std::int64_t done, std::int64_t total) {
        if (on_progress) on_progress({done, total});
    });

    detail::Handle db;
    if (detail::open_read_only(path, &db.db) != SQLITE_OK) {
        problems.push_back(std::string("cannot open it: ") + sqlite3_errmsg(db.db));
    } else {
        // Every row of `sql` as one line of text; a failure becomes a line starting "error: ".
        auto lines = [&](const char* sql) {
            std::vector<std::string> out;
            try {
                detail::each_row(db.db, sql, [&](sqlite3_stmt* statement) {
                    std::string row;
                    for (int i = 0; i < sqlite3_column_count(statement); ++i) {
                        if (i) row += ' ';
                        row += sqlite3_column_type(statement, i) == SQLITE_NULL ? "NULL" : detail::column_text(statement, i);
                    }
                    out.push_back(row);
                });
            } catch (const error& e) {
                out.push_back(std::string("error: ") + e.what());
            }
            return out;
        };
        const auto integrity = lines("PRAGMA integrity_check");
        if (integrity != std::vector<std::string>{"ok"}) {
            std::string joined;
            for (std::size_t i = 0; i < integrity.size() && i < 5; ++i) {
                if (i) joined += "; ";
                joined += integrity[i];
            }
            problems.push_back("integrity_check: " + (joined.empty() ? std::string("no answer") : joined));
        } else {
            const auto keys = lines("PRAGMA foreign_key_check");
            if (!keys.empty())
                problems.push_back("foreign_key_check found " + std::to_string(keys.size()) + " row(s) pointing nowhere, first: " + keys[0]);
            Manifest actual;
            try {
                detail::describe(db.db, actual);
                persist::detail::compare_contents(expected, actual, problems);
            } catch (const std::exception& e) {
                problems.push_back(std::string("cannot read it: ") + e.what());
            }
        }
    }
    persist::detail::throw_if_problems(path, problems);
    return expected;
}

/// What restore() did.
struct RestoreResult {
    Manifest manifest;        ///< of the restored backup
    std::string safety_copy;  ///< the database as it was before, a backup with a manifest
};

/// Replaces `store`'s database with the backup at `path`: verifies it first (a bad backup
/// never replaces a good database), takes the exclusive "migrate" lock so nobody migrates
/// meanwhile, backs the current database up beside it ("<db>.before-restore" directory), then
/// copies the backup in through SQLite's backup API inside one write transaction, so other
/// connections see the old database or the new one, never a mix. Throws backup_error (the
/// live database unchanged), lock_timeout_error, busy_error, io_error. Thread-safety: as
/// Store::write.
template <SqliteStoreType Store>
RestoreResult restore(Store& store, const std::string& path, const BackupOptions& options = {}) {
    // One resolved path for verifying and copying, opened without following a symlink:
    // what was verified is what is copied in.
    std::error_code ec;
    const auto resolved = std::filesystem::canonical(path, ec);
    if (ec) throw backup_error("backup " + path + " does not exist (" + ec.message() + ")");
    const std::string source = resolved.string();
    RestoreResult result;
    result.manifest = verify(source);
    LockOptions lock;
    lock.purpose = "restore from " + path;
    store.with_lock("migrate", [&] {
        const std::string directory = store.path() + ".before-restore";
        persist::detail::make_private_directories(directory);
        result.safety_copy = backup(store, directory, options).path;
        store.backend().restore_from(source, std::chrono::steady_clock::now() + store.config().busy_timeout);
    }, lock);
    return result;
}

} // namespace persist::sqlite
