// persist/sqlite/wal_reset.hpp: keeping SQLite's WAL-reset bug from happening.
//
// SQLite documents a data race in WAL mode (https://sqlite.org/wal.html#walresetbug),
// present from 3.7.0 through 3.51.2 and fixed in 3.51.3 (backported to 3.44.6 and 3.50.7):
// when a checkpoint starts while another connection commits a transaction that resets the
// WAL, the checkpoint can miss the reset, and a later checkpoint can then skip frames of a
// committed transaction, losing it or corrupting the database. It needs WAL mode and two or
// more connections, which is how persist always runs. Debian 12 ships SQLite 3.40.1.
//
// On an affected SQLite, persist keeps the trigger from happening. A WAL reset happens only
// inside a write transaction, which holds SQLite's WAL write lock; so no checkpoint may run
// unless that lock is held:
//   - every connection persist opens has automatic checkpoints off (wal_autocheckpoint=0):
//     SQLite's automatic checkpoint is PASSIVE and runs without the write lock;
//   - after a commit leaves the WAL at checkpoint_frames frames or more, the writer takes the
//     write lock (BEGIN IMMEDIATE, so every writer of every process waits; the writer itself
//     does not wait for it: if another writer has it, a later commit checkpoints) and a
//     connection of its own checkpoints while it is held, then the writer rolls back;
//   - the checkpoint SQLite makes when the last connection closes holds an exclusive lock on
//     the database file, and health()'s TRUNCATE checkpoint takes the write lock itself.
// Processes that do not use persist (an sqlite3 shell) still checkpoint automatically; on an
// affected SQLite, do not keep one writing to a persist database while persist runs.
#pragma once

#include <sqlite3.h>
#include <string>

namespace persist::sqlite {

/// Whether SQLite `version` (as sqlite3_libversion_number(): 3040001 for 3.40.1) has the
/// WAL-reset bug.
constexpr bool has_wal_reset_bug(int version) noexcept {
    if (version < 3007000 || version >= 3051003) return false;
    if (version >= 3044006 && version < 3045000) return false; // the 3.44 backport
    if (version >= 3050007 && version < 3051000) return false; // the 3.50 backport
    return true;
}

/// Whether the SQLite this process runs has the bug, so persist's mitigation is on.
inline bool wal_reset_mitigation_active() noexcept { return has_wal_reset_bug(sqlite3_libversion_number()); }

/// The WAL size, in frames, at which persist checkpoints under the write lock when the
/// mitigation is on (SQLite's own automatic threshold).
inline constexpr int checkpoint_frames = 1000;

/// One line for info() and events: the SQLite version and what persist does about the bug.
inline std::string wal_reset_status() {
    const std::string version = sqlite3_libversion();
    if (!wal_reset_mitigation_active())
        return "SQLite " + version + " does not have the WAL-reset bug; checkpoints are automatic";
    return "SQLite " + version + " has the WAL-reset bug (fixed in 3.51.3, 3.50.7, 3.44.6); persist turns automatic "
           "checkpoints off and checkpoints only while holding the write lock";
}

} // namespace persist::sqlite
