// persist/sqlite/checkpointer.hpp: the checkpoints of persist/sqlite/wal_reset.hpp's
// mitigation, run while the writer holds SQLite's write lock.
//
// Thread-safety: none; the Backend uses it with its writer mutex held.
#pragma once

#include "persist/config.hpp"
#include "persist/sqlite/connection.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

namespace persist::sqlite {

/// What a full checkpoint did (Backend::checkpoint()).
struct CheckpointResult {
    bool complete = false;    ///< every frame is in the database and the -wal file is empty
    int wal_frames = 0;       ///< frames the WAL held before
    int checkpointed = 0;     ///< frames copied into the database
};

/// Checkpoints every frame of `writer`'s WAL into the database and truncates the -wal file to
/// 0 bytes (TRUNCATE: SQLite takes the write lock for it, so no WAL reset can race a writer),
/// waiting up to `wait` for readers of other connections that still use old frames. Then not
/// complete: the frames stay, and a later checkpoint copies them.
inline CheckpointResult truncate_wal(Connection& writer, std::chrono::milliseconds wait, const Config& config) {
    sqlite3_busy_timeout(writer.handle(), static_cast<int>(std::max<std::int64_t>(0, wait.count())));
    struct RestoreBusyTimeout {
        sqlite3* db;
        int ms;
        ~RestoreBusyTimeout() { sqlite3_busy_timeout(db, ms); }
    } restore{writer.handle(), static_cast<int>(config.busy_timeout.count())};
    CheckpointResult result;
    const int rc =
        sqlite3_wal_checkpoint_v2(writer.handle(), "main", SQLITE_CHECKPOINT_TRUNCATE, &result.wal_frames, &result.checkpointed);
    if (rc == SQLITE_OK) {
        result.complete = true;
        writer.forget_wal_size();
    } else if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
        throw_error(sqlite3_extended_errcode(writer.handle()), sqlite3_errmsg(writer.handle()), "wal_checkpoint(TRUNCATE)");
    }
    return result;
}

/// A connection of its own that checkpoints the WAL, opened on first use.
class Checkpointer {
public:
    Checkpointer() = default;
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;
    ~Checkpointer() { close(); }

    /// With `writer` holding SQLite's write lock (BEGIN IMMEDIATE: no other writer, in any
    /// process, can commit and so reset the WAL), checkpoints PASSIVE; then `writer` rolls
    /// back. Called after a commit. It never waits: a lock held by another writer leaves the
    /// checkpoint to a later commit; another failure is reported to `config.on_event`.
    void run(Connection& writer, const std::string& path, const Config& config) noexcept {
        writer.forget_wal_size();
        // Without waiting: the write() that triggered this has already committed and must not
        // wait again. If another writer holds the lock, a later commit checkpoints instead.
        sqlite3_busy_timeout(writer.handle(), 0);
        struct RestoreBusyTimeout {
            sqlite3* db;
            int ms;
            ~RestoreBusyTimeout() { sqlite3_busy_timeout(db, ms); }
        } restore{writer.handle(), static_cast<int>(config.busy_timeout.count())};
        try {
            writer.run_control(Connection::Control::begin_immediate);
        } catch (const busy_error&) {
            return; // postponed: the WAL is still over the threshold at the next commit
        } catch (const error& e) {
            persist::detail::notify(config.on_event, {Event::Kind::warning, "checkpoint of " + path + " postponed: " + e.what()});
            return;
        }
        if (!db_) {
            // A connection opens the WAL on its first read; until then a checkpoint is a no-op.
            if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr) == SQLITE_OK)
                sqlite3_exec(db_, "PRAGMA wal_autocheckpoint=0; SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr);
        }
        const int rc = db_ ? sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) : SQLITE_CANTOPEN;
        if (rc != SQLITE_OK)
            persist::detail::notify(config.on_event, {Event::Kind::warning, "checkpoint of " + path + " failed: " +
                                                                                 (db_ ? sqlite3_errmsg(db_) : "cannot open a connection")});
        if (!sqlite3_get_autocommit(writer.handle())) sqlite3_exec(writer.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

    /// Closes the connection (a later run() opens another).
    void close() noexcept {
        if (db_) sqlite3_close_v2(db_);
        db_ = nullptr;
    }
    /// After fork(): forgets the connection without closing it (see Connection::abandon).
    void abandon() noexcept { db_ = nullptr; }

private:
    sqlite3* db_ = nullptr;
};

} // namespace persist::sqlite
