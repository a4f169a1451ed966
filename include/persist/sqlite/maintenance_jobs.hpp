// persist/sqlite/maintenance_jobs.hpp: maintenance jobs of the SQLite backend, for
// persist::Maintenance (persist/maintenance.hpp): a full WAL checkpoint, and backups with
// retention.
#pragma once

#include "persist/sqlite/backend.hpp"
#include "persist/sqlite/backup.hpp"

#include <chrono>
#include <string>

namespace persist::sqlite::jobs {

/// A job that copies the whole WAL into the database and empties the -wal file (see
/// Backend::checkpoint), for a daemon whose WAL otherwise stays at its largest size: "WAL of
/// 1840 frames checkpointed; -wal emptied", or, while another process reads old frames,
/// "WAL of 1840 frames still read by another connection; 1200 checkpointed, the rest next time".
inline auto checkpoint() {
    return [](auto& store) -> std::string {
        const auto done = store.backend().checkpoint(std::chrono::steady_clock::now() + store.config().busy_timeout);
        const std::string frames = "WAL of " + std::to_string(done.wal_frames) + " frames";
        if (done.complete) return frames + " checkpointed; -wal emptied";
        return frames + " still read by another connection; " + std::to_string(done.checkpointed) +
               " checkpointed, the rest next time";
    };
}

/// A job that backs the database up into `destination` (see sqlite::backup: a directory,
/// with `options.keep` and `options.max_age` pruning older backups there): "backup
/// /var/backups/app/app-20261130T081500Z.db (2 older removed)".
inline auto backup(std::string destination, BackupOptions options = {}) {
    return [destination = std::move(destination), options = std::move(options)](auto& store) -> std::string {
        const auto result = sqlite::backup(store, destination, options);
        return "backup " + result.path +
               (result.removed.empty() ? "" : " (" + std::to_string(result.removed.size()) + " older removed)");
    };
}

} // namespace persist::sqlite::jobs
