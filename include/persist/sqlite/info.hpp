// persist/sqlite/info.hpp: what a database holds and how it is set up, in one call.
#pragma once

#include "persist/config.hpp"
#include "persist/lock/policy.hpp"
#include "persist/migrate.hpp"
#include "persist/sqlite/backup.hpp"
#include "persist/sqlite/wal_reset.hpp"

#include <filesystem>
#include <sqlite3.h>
#include <string>
#include <utility>
#include <vector>

namespace persist::sqlite {

/// One row of persist_schema_history (see migrate::AppliedMigration).
using AppliedMigration = migrate::AppliedMigration;

/// What info() reports.
struct Info {
    std::string path;
    std::int64_t file_bytes = 0;                           ///< the database file
    std::int64_t wal_bytes = 0;                            ///< its -wal file (0 when absent)
    std::int64_t page_size = 0;
    std::int64_t page_count = 0;
    std::int64_t free_pages = 0;                           ///< pages VACUUM would give back
    std::map<std::string, std::int64_t> row_counts;       ///< table -> rows
    std::vector<AppliedMigration> migrations;              ///< from persist_schema_history
    std::vector<std::pair<std::int64_t, std::string>> pending;  ///< version, name; info(store, source) only
    std::vector<std::pair<std::string, lock::Status>> locks;  ///< "migrate" and "persist.write"
    std::string sqlite_version;
    std::string wal_reset;                                 ///< the WAL-reset bug and persist's mitigation (wal_reset.hpp)
    std::string journal_mode;
    Durability durability = Durability::normal;            ///< as configured for this Store
};

/// The state of `store`'s database. Reads in one read transaction; changes nothing.
/// Throws what Store::read throws. Thread-safety: as Store::read.
template <SqliteStoreType Store>
Info info(Store& store) {
    Info result;
    result.path = store.path();
    result.durability = store.config().durability;
    result.sqlite_version = sqlite3_libversion();
    result.wal_reset = wal_reset_status();
    std::error_code ec;
    if (!persist::detail::is_memory_path(result.path)) {
        result.file_bytes = static_cast<std::int64_t>(std::filesystem::file_size(result.path, ec));
        const auto wal = std::filesystem::file_size(result.path + "-wal", ec);
        result.wal_bytes = ec ? 0 : static_cast<std::int64_t>(wal);
    }
    store.read([&](auto& tx) {
        auto number = [&](const char* sql) { return tx.template query<std::int64_t>(sql).at(0); };
        result.page_size = number("PRAGMA page_size");
        result.page_count = number("PRAGMA page_count");
        result.free_pages = number("PRAGMA freelist_count");
        // PRAGMA journal_mode counts as a write for sqlite3_stmt_readonly, which read() refuses;
        // asked directly, on a reader connection, it only reports.
        detail::each_row(tx.connection().handle(), "PRAGMA journal_mode",
                         [&](sqlite3_stmt* s) { result.journal_mode = detail::column_text(s, 0); });
        Manifest counted;
        detail::describe(tx.connection().handle(), counted);
        result.row_counts = std::move(counted.row_counts);
        if (result.row_counts.count("persist_schema_history")) result.migrations = migrate::read_applied(tx);
    });
    for (const char* name : {"migrate", "persist.write"}) result.locks.emplace_back(name, store.lock_status(name));
    return result;
}

/// info(store), plus the migrations of `source` not applied yet. Throws what
/// Migrator::status() throws for a malformed source.
template <class Store, class Source>
Info info(Store& store, Source source) {
    Info result = info(store);
    result.pending = migrate::pending(store, std::move(source));
    return result;
}

} // namespace persist::sqlite
