// persist CLI: the commands whose work differs on PostgreSQL (info, backup, restore; dump
// and load are SQLite's), and recognising a PostgreSQL dump for verify.
#pragma once
#include <persist/postgres.hpp>
#include <persist/postgres/backup.hpp>
#include <persist/postgres/info.hpp>

#include "describe.hpp"
#include "output.hpp"

#include <cstring>
#include <fcntl.h>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace persist_cli {

/// Whether `path` starts like a pg_dump archive ("PGDMP"), for verify.
inline bool is_pg_dump(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char magic[5] = {};
    const bool dump = ::read(fd, magic, sizeof magic) == 5 && std::memcmp(magic, "PGDMP", 5) == 0;
    ::close(fd);
    return dump;
}

/// Runs `command` (info, backup, restore, dump, load) on a PostgreSQL store; `say(human,
/// json)` prints. Throws std::invalid_argument for what PostgreSQL does not do.
template <class StoreT, class Say>
int run_on_postgres(const std::string& command, StoreT& store, const std::string& file, const std::string& migrations,
                    std::int64_t keep, std::int64_t max_age_days, bool json, Say&& say) {
    if (command == "info") {
        const auto i = migrations.empty() ? persist::postgres::info(store)
                                          : persist::postgres::info(store, persist::migrate::Directory(migrations));
        if (json) {
            const auto parts = contents_json(i);
            say("", Json()
                        .text("server", i.server)
                        .text("server_version", i.server_version)
                        .text("database", i.database)
                        .text("schema", i.schema)
                        .number("database_bytes", i.database_bytes)
                        .field("tables", parts.tables)
                        .field("migrations", parts.migrations)
                        .field("pending", parts.pending)
                        .field("locks", parts.locks)
                        .value());
        } else {
            std::cout << terminal_text("server       " + i.server + " (PostgreSQL " + i.server_version + ")\n" +
                                       "database     " + i.database + ", schema " + i.schema + ", " +
                                       std::to_string(i.database_bytes) + " bytes\n" + contents_text(i));
        }
        return 0;
    }
    if (command == "backup") {
        if (file.empty()) throw std::invalid_argument("backup on PostgreSQL needs a DESTINATION: a directory (ending in /) or a new file name");
        persist::postgres::BackupOptions backup;
        if (keep > 0) backup.keep = static_cast<std::size_t>(keep);
        if (max_age_days > 0) backup.max_age = std::chrono::hours(24) * max_age_days;
        const auto made = persist::postgres::backup(store, file, backup);
        std::vector<JsonValue> removed;
        for (const auto& r : made.removed) removed.push_back(r);
        say("backup written to " + made.path + " (" + std::to_string(made.manifest.size) + " bytes, manifest " +
                made.manifest_path + ")" +
                (made.removed.empty() ? "" : ", removed " + std::to_string(made.removed.size()) + " older"),
            Json()
                .text("path", made.path)
                .text("manifest", made.manifest_path)
                .field("removed", json_array(removed))
                .field("manifest_contents", manifest_json(made.manifest))
                .value());
        return 0;
    }
    if (command == "restore") {
        const auto restored = persist::postgres::restore(store, file);
        say("restored " + store.path() + " from " + file + "; the previous content is kept in " + restored.safety_copy,
            Json().text("restored_from", file).text("safety_copy", restored.safety_copy).value());
        return 0;
    }
    throw std::invalid_argument(command + " is for SQLite databases; on PostgreSQL use backup and restore (pg_dump archives)");
}

} // namespace persist_cli
