// persist/postgres/maintenance_jobs.hpp: maintenance jobs of the PostgreSQL backend, for
// persist::Maintenance (persist/maintenance.hpp): backups with retention.
#pragma once

#include "persist/postgres/backup.hpp"

#include <string>

namespace persist::postgres::jobs {

/// A job that dumps the Store's schema into the directory `destination` (see
/// postgres::backup, with `options.keep` and `options.max_age` pruning older dumps there):
/// "backup /var/backups/app/app-20261130T081500Z.pgdump (1 older removed)".
inline auto backup(std::string destination, BackupOptions options = {}) {
    return [destination = std::move(destination), options = std::move(options)](auto& store) -> std::string {
        const auto result = postgres::backup(store, destination, options);
        return "backup " + result.path +
               (result.removed.empty() ? "" : " (" + std::to_string(result.removed.size()) + " older removed)");
    };
}

} // namespace persist::postgres::jobs
