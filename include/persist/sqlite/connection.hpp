// persist/sqlite/connection.hpp: one SQLite connection, configured the persist way.
//
// Every connection gets, explicitly (never trusting compile-time defaults):
//   journal_mode=WAL       readers never block the writer, the writer never blocks readers
//   synchronous=...        from Config::durability (NORMAL by default; see Durability)
//   busy_timeout           from Config::busy_timeout (30 s by default)
//   foreign_keys=ON        declared foreign keys are enforced
//   temp_store=MEMORY      temporary tables and indices stay off the disk
//   cache_size=-KiB        from Config::cache_size_kib
//   trusted_schema=OFF     SQL functions in the schema cannot be abused by a crafted file
//   DQS off (DML and DDL)  "text" is an identifier, never silently a string literal
//   wal_autocheckpoint=0   only where SQLite has the WAL-reset bug (persist/sqlite/wal_reset.hpp)
//
// Thread-safety: a Connection is used by one thread at a time (the backend guarantees it).
// Destruction finalizes cached statements, then closes the connection.
#pragma once

#include "persist/sqlite/trust.hpp"
#include "persist/config.hpp"
#include "persist/detail/file_setup.hpp"
#include "persist/sqlite/errors.hpp"
#include "persist/sqlite/statement_cache.hpp"
#include "persist/sqlite/wal_reset.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <optional>
#include <sqlite3.h>
#include <string>
#include <sys/stat.h>

namespace persist::sqlite {

/// Device and inode of a file: tells whether a path still names the file that was opened.
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const FileIdentity&) const = default;
};

/// Writes a new, empty database at `path` (an empty file persist just created) already in WAL
/// mode: page 1 says so from the start, so no transaction on it ever uses a rollback journal
/// (whose deletion, not yet durable at a power loss, would come back "hot" and roll the file
/// back over committed WAL frames). Throws io_error.
inline void initialize_wal_database(const std::string& path) {
    sqlite3* db = nullptr;
    std::string mode;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
    if (rc == SQLITE_OK) {
        sqlite3_stmt* statement = nullptr;
        rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &statement, nullptr);
        if (rc == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW)
            mode = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
        sqlite3_finalize(statement);
    }
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    if (mode != "wal")
        throw io_error("cannot create database " + path + " in WAL mode (" + (mode.empty() ? message : "journal_mode is " + mode) +
                           "); WAL needs a local file system with shared memory, not a network share",
                       SQLITE_IOERR);
}

/// persist::detail::prepare_database_file, creating a missing database in WAL mode.
inline bool prepare_database(const std::string& path, const std::string& setting = "db_path") {
    return persist::detail::prepare_database_file(path, initialize_wal_database, setting);
}

/// A URI opening `path` read-only and immutable (SQLITE_OPEN_URI): SQLite then creates no
/// -wal, -shm or journal, takes no lock and never writes. The path is percent-encoded.
inline std::string immutable_uri(const std::string& path) {
    std::string uri = "file:";
    static constexpr char hex[] = "0123456789ABCDEF";
    for (unsigned char c : path) {
        if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) {
            uri += '%';
            uri += hex[c >> 4];
            uri += hex[c & 0xf];
        } else {
            uri += static_cast<char>(c);
        }
    }
    return uri + "?mode=ro&immutable=1";
}

class Connection {
public:
    enum class Role { writer, reader };

    /// Opens `path` (already prepared by detail::prepare_database_file) and applies the pragmas.
    /// Throws permission_error (with a diagnosis of the path), corrupt_error, io_error;
    /// connection_error when the file no longer exists (a connection never creates it).
    Connection(const std::string& path, const Config& config, Role role)
        : path_(path), keys_(config.keys),
          database_(config.read_only ? open_read_only(path, config) : open(path, config, role)),
          statements_(std::make_unique<StatementCache>(config.statement_cache_capacity)) {
        sqlite3* db = database_->getHandle();
        sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
        sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);
        distrust_schema(db);
        const char* synchronous = config.durability == Durability::off    ? "OFF"
                                  : config.durability == Durability::full ? "FULL"
                                                                          : "NORMAL";
        const std::string pragmas =
            "PRAGMA busy_timeout=" + std::to_string(config.busy_timeout.count()) +
            ";PRAGMA foreign_keys=ON;PRAGMA temp_store=MEMORY;PRAGMA trusted_schema=OFF;"
            "PRAGMA cache_size=-" + std::to_string(config.cache_size_kib) +
            (role == Role::reader && path != ":memory:" ? ";PRAGMA query_only=ON" : "");
        run_script(pragmas);
        if (config.read_only) {
            // Inspection: no checkpoint when the last connection closes, nothing else set up.
            sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
            identity_ = current_identity(path).value_or(FileIdentity{});
            return;
        }
        if (path != ":memory:") {
            // Keep the -wal file when the last connection closes (it is truncated to 0 bytes
            // then, see journal_size_limit) instead of deleting it and creating it again on
            // the next open: a process that opens the database briefly (a CLI) saves a file
            // creation and deletion, about half of its open cost on ext4.
            int persist_wal = 1;
            sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);
            run_script("PRAGMA journal_size_limit=67108864");
        }
        if (path != ":memory:" && wal_reset_mitigation_active()) {
            // See persist/sqlite/wal_reset.hpp: no checkpoint without the write lock.
            run_script("PRAGMA wal_autocheckpoint=0");
            sqlite3_wal_hook(db, &Connection::record_wal_size, this);
        }
        if (path != ":memory:" && role == Role::writer) {
            const auto mode = switch_to_wal(config.busy_timeout);
            if (mode != "wal")
                throw io_error("cannot switch " + path + " to WAL mode (journal_mode is " + mode +
                               "); WAL needs a local file system with shared memory, not a network share",
                               SQLITE_IOERR);
        }
        // synchronous is applied after journal_mode: its meaning depends on the journal mode.
        run_script(std::string("PRAGMA synchronous=") + synchronous);
        if (path != ":memory:") identity_ = current_identity(path).value_or(FileIdentity{});
    }

    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() {
        // finalize statements before the database closes
        for (auto& statement : control_) statement.reset();
        if (statements_) statements_->clear();
    }

    sqlite3* handle() const noexcept { return database_->getHandle(); }
    SQLite::Database& database() noexcept { return *database_; }
    StatementCache& statements() noexcept { return *statements_; }
    const std::string& path() const noexcept { return path_; }
    /// The file identity when the connection was opened.
    FileIdentity identity() const noexcept { return identity_; }
    /// The keys of encrypted columns (Config::keys), or nullptr.
    const crypto::Keyring* keyring() const noexcept { return keys_.get(); }

    /// Runs parameterless SQL (one or more statements). Throws the mapped persist error.
    void run_script(const std::string& sql) {
        char* message = nullptr;
        const int rc = sqlite3_exec(handle(), sql.c_str(), nullptr, nullptr, &message);
        if (rc != SQLITE_OK) {
            std::string text = message ? message : sqlite3_errstr(rc);
            sqlite3_free(message);
            throw_error(sqlite3_extended_errcode(handle()), text, sql);
        }
    }

    /// The statements that open and close transactions.
    enum class Control { begin, begin_immediate, commit };

    /// Runs BEGIN, BEGIN IMMEDIATE or COMMIT from a statement prepared once per connection:
    /// sqlite3_exec would parse the text again for every transaction. Throws the mapped error.
    void run_control(Control which) {
        static constexpr const char* sql[] = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT"};
        auto& slot = control_[static_cast<int>(which)];
        if (!slot) slot = std::make_unique<PreparedStatement>(handle(), sql[static_cast<int>(which)]);
        sqlite3_stmt* statement = slot->get();
        const int rc = sqlite3_step(statement);
        if (rc != SQLITE_DONE) {
            const int code = sqlite3_extended_errcode(handle());
            const std::string message = sqlite3_errmsg(handle());
            sqlite3_reset(statement);
            throw_error(code, message, sql[static_cast<int>(which)]);
        }
        sqlite3_reset(statement);
    }

    /// The first column of the first row of parameterless `sql`, as text.
    std::string query_text(const std::string& sql) {
        sqlite3_stmt* raw = statements_->get(*database_, sql);
        const int rc = sqlite3_step(raw);
        std::string result;
        if (rc == SQLITE_ROW) {
            if (auto text = sqlite3_column_text(raw, 0)) result = reinterpret_cast<const char*>(text);
        } else if (rc != SQLITE_DONE) {
            sqlite3_reset(raw);
            throw_last_error(handle(), sql);
        }
        sqlite3_reset(raw);
        return result;
    }

    /// Releases the connection without closing it. Used in a child after fork(): closing
    /// there could disturb the parent's locks and WAL, so the memory is deliberately leaked.
    /// The Connection must not be used afterwards except to destroy it.
    void abandon() noexcept {
        for (auto& statement : control_) (void)statement.release();
        (void)statements_.release();
        (void)database_.release();
    }

    /// Frames in the WAL after this connection's last commit (0 until one, and when the WAL
    /// reset mitigation is off). Reset by forget_wal_size().
    int wal_frames() const noexcept { return wal_frames_; }
    void forget_wal_size() noexcept { wal_frames_ = 0; }

    /// The identity of the file at `path` now, or nullopt if it does not exist.
    static std::optional<FileIdentity> current_identity(const std::string& path) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) return std::nullopt;
        return FileIdentity{st.st_dev, st.st_ino};
    }

private:
    // Switching a new database to WAL needs an exclusive lock, and SQLite reports SQLITE_BUSY
    // at once (without its busy handler) when another connection is opening the same file:
    // seen with 100 processes starting together. Retry with backoff until the busy timeout.
    std::string switch_to_wal(std::chrono::milliseconds busy_timeout) {
        const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
        auto pause = std::chrono::microseconds(500);
        for (;;) {
            try {
                return query_text("PRAGMA journal_mode=WAL");
            } catch (const busy_error&) {
                if (std::chrono::steady_clock::now() + pause > deadline) throw;
            }
            std::this_thread::sleep_for(pause);
            pause = std::min(pause * 2, std::chrono::microseconds(50'000));
        }
    }

    // Config::read_only: an existing regular file, opened SQLITE_OPEN_READONLY. A file in WAL
    // mode whose -shm is missing would make SQLite create one: when there is no WAL content to
    // read (no -wal, or an empty one) it is opened immutable instead; with WAL content it is
    // refused, since reading it needs the -shm persist promised not to create.
    static std::unique_ptr<SQLite::Database> open_read_only(const std::string& path, const Config& config) {
        struct stat st {};
        if (path == ":memory:") throw usage_error("Config::read_only needs a database file, not \":memory:\"");
        if (::stat(path.c_str(), &st) != 0)
            throw config_error("no database at " + path + " (opened read-only, so nothing was created)", errno);
        if (!S_ISREG(st.st_mode))
            throw config_error("cannot use database " + path + ": it is not a regular file", EINVAL);
        const int flags = SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX;
        std::unique_ptr<SQLite::Database> database;
        try {
            database = std::make_unique<SQLite::Database>(path, flags, static_cast<int>(config.busy_timeout.count()));
        } catch (const SQLite::Exception& e) {
            throw_error(e.getExtendedErrorCode(), e.what(), path);
        }
        // Bytes 18 and 19 of the header are 2 in WAL mode. Read through SQLite's own file
        // handle (SQLite opens the file at once, reads it only at the first statement): a
        // descriptor of our own, once closed, could drop SQLite's locks (invariant 9).
        bool wal_mode = false;
        sqlite3_file* file = nullptr;
        unsigned char header[20] = {};
        if (sqlite3_file_control(database->getHandle(), "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK && file &&
            file->pMethods && file->pMethods->xRead(file, header, sizeof header, 0) == SQLITE_OK)
            wal_mode = header[18] == 2 && header[19] == 2;
        struct stat wal {}, shm {};
        const bool has_wal_content = ::stat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0;
        const bool has_shm = ::stat((path + "-shm").c_str(), &shm) == 0;
        if (!wal_mode || has_shm) return database;
        if (has_wal_content)
            throw config_error("cannot inspect " + path + " read-only: it has a write-ahead log (" + path +
                                   "-wal) but no shared-memory index (" + path +
                                   "-shm), and SQLite would have to create one to read it. Open it with a command that "
                                   "writes (persist migrate), or let the application that owns it run once",
                               EINVAL);
        database.reset();
        try {
            return std::make_unique<SQLite::Database>(immutable_uri(path), flags | SQLITE_OPEN_URI,
                                                      static_cast<int>(config.busy_timeout.count()));
        } catch (const SQLite::Exception& e) {
            throw_error(e.getExtendedErrorCode(), e.what(), path);
        }
    }

    // Only prepare_database creates the database file, whole and in WAL mode. Connections open
    // a file that exists and never create it: one missing now was deleted or moved while open
    // (or between preparing and opening), and an empty database in its place would hide that.
    static std::unique_ptr<SQLite::Database> open(const std::string& path, const Config& config, Role) {
        const bool memory = path == ":memory:";
        const auto missing = [&] {
            return connection_error("database file " + path + " does not exist: it was deleted or moved while the "
                                    "Store had it open, and persist does not create an empty one in its place. "
                                    "Restore the file from a backup or restart the application");
        };
        if (!memory && !current_identity(path)) throw missing();
        try {
            return std::make_unique<SQLite::Database>(
                path, SQLite::OPEN_READWRITE | (memory ? SQLite::OPEN_CREATE : 0) | SQLite::OPEN_NOMUTEX,
                static_cast<int>(config.busy_timeout.count()));
        } catch (const SQLite::Exception& e) {
            // SQLite only says "unable to open database file"; find the real reason.
            if (!memory && !persist::detail::check_existing_database(path, config.path_setting())) throw missing();
            throw_error(e.getExtendedErrorCode(), e.what(), path);
        }
    }

    static int record_wal_size(void* self, sqlite3*, const char*, int frames) {
        static_cast<Connection*>(self)->wal_frames_ = frames;
        return SQLITE_OK;
    }

    std::string path_;
    std::shared_ptr<const crypto::Keyring> keys_;
    int wal_frames_ = 0;
    std::unique_ptr<SQLite::Database> database_;
    std::unique_ptr<StatementCache> statements_;
    std::unique_ptr<PreparedStatement> control_[3];
    FileIdentity identity_;
};

} // namespace persist::sqlite
