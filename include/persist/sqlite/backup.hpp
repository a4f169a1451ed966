// persist/sqlite/backup.hpp: online backup with a manifest, verification, and restore.
//
//   auto made = persist::sqlite::backup(store, "/var/backups/app", {.keep = 7});
//   persist::sqlite::verify(made.path);            // throws backup_error listing every problem
//   persist::sqlite::restore(store, made.path);    // verify, safety copy, atomic replace
//
// A backup is a consistent copy taken while other processes keep writing: SQLite's backup
// API copies every page under one read transaction of a reader connection, so outside
// writes never restart it. The copy is written under a temporary name, switched to
// journal_mode=DELETE (a self-contained file), fsynced, renamed into place, and its
// directory fsynced. The manifest beside it, "<backup>.manifest", records what verify()
// checks later.
#pragma once

#include "persist/dialect.hpp"
#include "persist/error.hpp"
#include "persist/migrate/sha256.hpp"
#include "persist/sqlite/backend.hpp"
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
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace persist::sqlite {

/// What a backup holds, as recorded beside it in "<backup>.manifest".
struct Manifest {
    std::string persist_version;                       ///< the persist that wrote it
    std::int64_t schema_version = 0;                   ///< highest applied migration, 0 without history
    std::map<std::int64_t, std::string> migrations;    ///< applied version -> checksum
    std::map<std::string, std::int64_t> row_counts;    ///< table -> rows
    std::string sha256;                                ///< of the backup file
    std::int64_t size = 0;                             ///< of the backup file, in bytes
    std::string created_at;                            ///< UTC, ISO 8601

    /// The manifest file's text: one "key value" line each, tables and migrations one per line.
    std::string text() const {
        std::ostringstream out;
        out << "persist-backup-manifest 1\n"
            << "persist-version " << persist_version << "\n"
            << "created-at " << created_at << "\n"
            << "size " << size << "\n"
            << "sha256 " << sha256 << "\n"
            << "schema-version " << schema_version << "\n";
        for (const auto& [version, checksum] : migrations) out << "migration " << version << " " << checksum << "\n";
        for (const auto& [table, rows] : row_counts) out << "table " << table << " " << rows << "\n";
        return out.str();
    }

    /// Parses text(). Throws backup_error naming `path` and the first line it cannot read.
    static Manifest parse(const std::string& text, const std::string& path) {
        Manifest manifest;
        std::istringstream in(text);
        std::string line;
        int number = 0;
        bool header = false;
        auto bad = [&](const std::string& why) {
            return backup_error("manifest " + path + " line " + std::to_string(number) + ": " + why +
                                "; it is not a manifest persist wrote, or it was edited");
        };
        while (std::getline(in, line)) {
            ++number;
            std::istringstream fields(line);
            std::string key;
            fields >> key;
            if (number == 1) {
                std::string version;
                fields >> version;
                if (key != "persist-backup-manifest" || version != "1") throw bad("expected 'persist-backup-manifest 1'");
                header = true;
                continue;
            }
            auto integer = [&]() {
                std::int64_t value = 0;
                if (!(fields >> value)) throw bad("expected a number after '" + key + "'");
                return value;
            };
            auto word = [&]() {
                std::string value;
                if (!(fields >> value)) throw bad("expected a value after '" + key + "'");
                return value;
            };
            if (key == "persist-version") manifest.persist_version = word();
            else if (key == "created-at") manifest.created_at = word();
            else if (key == "size") manifest.size = integer();
            else if (key == "sha256") manifest.sha256 = word();
            else if (key == "schema-version") manifest.schema_version = integer();
            else if (key == "migration") {
                const auto version = integer();
                manifest.migrations[version] = word();
            } else if (key == "table") {
                const auto table = word();
                manifest.row_counts[table] = integer();
            } else if (!key.empty()) throw bad("unknown key '" + key + "'");
        }
        if (!header) throw backup_error("manifest " + path + " is empty");
        if (manifest.sha256.size() != 64) throw backup_error("manifest " + path + " has no sha256 line");
        return manifest;
    }
};

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
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error("cannot read " + path + ": " + std::strerror(errno));
    std::error_code ec;
    const auto total = static_cast<std::int64_t>(std::filesystem::file_size(path, ec));
    migrate::detail::Sha256 sha;
    std::vector<char> buffer(1 << 16);
    std::int64_t size = 0;
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto got = in.gcount();
        for (std::streamsize i = 0; i < got; ++i) sha.add(static_cast<unsigned char>(buffer[static_cast<std::size_t>(i)]));
        size += got;
        if (on_progress) on_progress({size, std::max(total, size)});
    }
    return {sha.finish().str(), size};
}

/// fsync of a file or directory. Throws io_error.
inline void sync_path(const std::string& path, bool directory) {
    const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        const std::string why = std::strerror(errno);
        if (fd >= 0) ::close(fd);
        throw io_error("cannot sync " + path + " to disk: " + why);
    }
    ::close(fd);
}

/// Writes `text` to `path` through a temporary file, fsync and rename.
inline void write_file_atomically(const std::string& path, const std::string& text) {
    const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) throw io_error("cannot write " + temporary + ": " + std::strerror(errno));
    }
    sync_path(temporary, false);
    if (std::rename(temporary.c_str(), path.c_str()) != 0)
        throw io_error("cannot rename " + temporary + " to " + path + ": " + std::strerror(errno));
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

/// Backups of `stem` in `directory`, newest first: files "<stem>-<time>.backup.db".
inline std::vector<std::filesystem::path> backups_of(const std::filesystem::path& directory, const std::string& stem) {
    std::vector<std::filesystem::path> found;
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(directory, ignored)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(stem + "-", 0) == 0 && name.size() > 10 && name.ends_with(".backup.db")) found.push_back(entry.path());
    }
    // Newest first: by modification time, then by name (which holds the creation time).
    std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> dated;
    for (auto& path : found) dated.emplace_back(std::filesystem::last_write_time(path, ignored), std::move(path));
    std::sort(dated.begin(), dated.end(), std::greater<>());
    found.clear();
    for (auto& [time, path] : dated) found.push_back(std::move(path));
    return found;
}

} // namespace detail

/// Writes a consistent copy of `store`'s database, with its manifest, while other
/// connections and processes keep writing. `destination` is a directory (one ending in '/'
/// is created if missing; the file is named
/// "<database stem>-<UTC time to the microsecond>.backup.db" there, and the retention options apply to such
/// files) or a file path that does not exist yet. Throws usage_error for an in-memory
/// database or an existing destination file, io_error when the disk fails; a failed or
/// killed backup leaves nothing under the final name. Thread-safety: as Store::read (it
/// uses one reader connection; other threads and processes keep reading and writing).
template <class Store>
BackupResult backup(Store& store, const std::string& destination, const BackupOptions& options = {}) {
    const std::string source = store.path();
    if (persist::detail::is_memory_path(source))
        throw usage_error("backup() needs a database file; an in-memory database has nothing to back up");
    namespace fs = std::filesystem;
    const fs::path database(source);
    const std::string stem = database.stem().string();
    std::error_code ec;
    fs::path target(destination);
    if (!destination.empty() && destination.back() == '/') fs::create_directories(target, ec); // "dir/": a directory
    const bool into_directory = fs::is_directory(target, ec);
    if (into_directory) {
        // format_time without '-' and ':': "20261123T081530.123456Z", sortable, one per microsecond.
        std::string stamp;
        for (char c : format_time(std::chrono::system_clock::now()))
            if (c != '-' && c != ':') stamp += c;
        target /= stem + "-" + stamp + ".backup.db";
        for (int n = 2; fs::exists(target, ec); ++n) // two backups within one microsecond
            target.replace_filename(stem + "-" + stamp + "-" + std::to_string(n) + ".backup.db");
    } else if (fs::exists(target, ec)) {
        throw usage_error("backup destination " + destination +
                          " already exists; pass a directory (persist names the file) or a new file name");
    }
    const std::string final_path = target.string();
    const std::string temporary = final_path + ".tmp-" + std::to_string(::getpid());

    BackupResult result;
    result.path = final_path;
    result.manifest_path = final_path + ".manifest";
    try {
        detail::Handle copy;
        if (sqlite3_open_v2(temporary.c_str(), &copy.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
            throw io_error("cannot create backup file " + temporary + ": " + sqlite3_errmsg(copy.db));
        store.read([&](auto& tx) {
            sqlite3* from = tx.connection().handle();
            // Start the read transaction now, so every step below copies the same snapshot
            // and outside writes never restart the backup.
            tx.template query<std::int64_t>("SELECT count(*) FROM sqlite_schema");
            sqlite3_backup* job = sqlite3_backup_init(copy.db, "main", from, "main");
            if (!job) throw io_error("cannot start the backup to " + temporary + ": " + sqlite3_errmsg(copy.db));
            int rc;
            do {
                rc = sqlite3_backup_step(job, options.pages_per_step > 0 ? options.pages_per_step : -1);
                if (options.on_progress) {
                    const std::int64_t total = sqlite3_backup_pagecount(job);
                    options.on_progress({total - sqlite3_backup_remaining(job), total});
                }
            } while (rc == SQLITE_OK);
            sqlite3_backup_finish(job);
            if (rc != SQLITE_DONE) throw_error(rc, sqlite3_errstr(rc), "backup to " + temporary);
        });
        // A backup is one self-contained file.
        if (sqlite3_exec(copy.db, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr) != SQLITE_OK)
            throw_last_error(copy.db, "PRAGMA journal_mode=DELETE on " + temporary);
        detail::describe(copy.db, result.manifest);
    } catch (...) {
        fs::remove(temporary, ec);
        fs::remove(temporary + "-journal", ec);
        throw;
    }
    try {
        detail::sync_path(temporary, false);
        auto [sha, size] = detail::file_digest(temporary);
        result.manifest.sha256 = sha;
        result.manifest.size = size;
        result.manifest.persist_version = PERSIST_VERSION_STRING;
        result.manifest.created_at = format_time(std::chrono::system_clock::now());
        detail::write_file_atomically(result.manifest_path, result.manifest.text());
        if (std::rename(temporary.c_str(), final_path.c_str()) != 0)
            throw io_error("cannot rename " + temporary + " to " + final_path + ": " + std::strerror(errno));
        detail::sync_path(target.parent_path().empty() ? std::string(".") : target.parent_path().string(), true);
    } catch (...) {
        fs::remove(temporary, ec);
        throw;
    }

    if (into_directory && (options.keep.value_or(0) > 0 || options.max_age)) {
        const auto now = fs::file_time_type::clock::now();
        const auto existing = detail::backups_of(target.parent_path(), stem);
        for (std::size_t i = 0; i < existing.size(); ++i) {
            if (existing[i] == target) continue;
            const bool beyond_keep = options.keep.value_or(0) > 0 && i >= *options.keep;
            const bool too_old = options.max_age && now - fs::last_write_time(existing[i], ec) > *options.max_age;
            if (beyond_keep || too_old) {
                fs::remove(existing[i], ec);
                fs::remove(existing[i].string() + ".manifest", ec);
                result.removed.push_back(existing[i].string());
            }
        }
    }
    return result;
}

/// Checks a backup against its manifest without changing it: read-only open, integrity_check
/// "ok", foreign_key_check empty, and the file's SHA-256, size, schema version, migrations
/// and row counts as recorded. Returns the manifest. Throws backup_error listing every
/// problem (a corrupt, truncated or non-database file included; never a crash).
/// `on_progress` follows the hashing of the file, in bytes. Thread-safety: touches no
/// shared state; any thread may call it.
inline Manifest verify(const std::string& path, const ProgressCallback& on_progress = {}) {
    const std::string manifest_path = path + ".manifest";
    std::ifstream manifest_file(manifest_path, std::ios::binary);
    if (!std::filesystem::exists(path))
        throw backup_error("backup " + path + " does not exist");
    if (!manifest_file)
        throw backup_error("backup " + path + " has no manifest (" + manifest_path +
                           "); without it the file cannot be checked. Make backups with persist backup");
    const std::string text((std::istreambuf_iterator<char>(manifest_file)), std::istreambuf_iterator<char>());
    const Manifest expected = Manifest::parse(text, manifest_path);

    std::vector<std::string> problems;
    const auto [sha, size] = detail::file_digest(path, on_progress);
    if (size != expected.size)
        problems.push_back("size is " + std::to_string(size) + " bytes, the manifest says " + std::to_string(expected.size));
    if (sha != expected.sha256)
        problems.push_back("SHA-256 is " + sha + ", the manifest says " + expected.sha256);

    detail::Handle db;
    if (sqlite3_open_v2(path.c_str(), &db.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
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
                if (actual.schema_version != expected.schema_version)
                    problems.push_back("schema version is " + std::to_string(actual.schema_version) + ", the manifest says " +
                                       std::to_string(expected.schema_version));
                if (actual.migrations != expected.migrations)
                    problems.push_back("the applied migrations or their checksums differ from the manifest");
                for (const auto& [table, rows] : expected.row_counts) {
                    auto found = actual.row_counts.find(table);
                    if (found == actual.row_counts.end()) problems.push_back("table " + table + " is missing");
                    else if (found->second != rows)
                        problems.push_back("table " + table + " has " + std::to_string(found->second) + " rows, the manifest says " +
                                           std::to_string(rows));
                }
                for (const auto& [table, rows] : actual.row_counts)
                    if (!expected.row_counts.count(table)) problems.push_back("table " + table + " is not in the manifest");
            } catch (const std::exception& e) {
                problems.push_back(std::string("cannot read it: ") + e.what());
            }
        }
    }
    if (!problems.empty()) {
        std::string message = "backup " + path + " does not verify:";
        for (const auto& problem : problems) message += "\n  - " + problem;
        throw backup_error(message);
    }
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
template <class Store>
RestoreResult restore(Store& store, const std::string& path, const BackupOptions& options = {}) {
    RestoreResult result;
    result.manifest = verify(path);
    LockOptions lock;
    lock.purpose = "restore from " + path;
    store.with_lock("migrate", [&] {
        const std::string directory = store.path() + ".before-restore";
        std::filesystem::create_directories(directory);
        result.safety_copy = backup(store, directory, options).path;
        store.backend().restore_from(path, std::chrono::steady_clock::now() + store.config().busy_timeout);
    }, lock);
    return result;
}

} // namespace persist::sqlite
