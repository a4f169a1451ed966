// persist/postgres/info.hpp: what a PostgreSQL store's schema holds, in one call.
#pragma once

#include "persist/lock/policy.hpp"
#include "persist/migrate.hpp"
#include "persist/postgres/backup.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace persist::postgres {

/// One row of persist_schema_history (see migrate::AppliedMigration).
using AppliedMigration = migrate::AppliedMigration;

/// What info() reports.
struct Info {
    std::string server;                                        ///< the connection, password hidden
    std::string server_version;                                ///< e.g. "15.8"
    std::string database;                                      ///< current_database()
    std::string schema;                                        ///< current_schema(): where the store's tables are
    std::int64_t database_bytes = 0;                           ///< pg_database_size, the whole database
    std::map<std::string, std::int64_t> row_counts;            ///< table of the schema -> rows (lease tables left out)
    std::vector<AppliedMigration> migrations;                  ///< from persist_schema_history
    std::vector<std::pair<std::int64_t, std::string>> pending; ///< version, name; info(store, source) only
    std::vector<std::pair<std::string, lock::Status>> locks;   ///< "migrate" and "persist.write"
};

/// The state of `store`'s schema, read in one read transaction; changes nothing. Throws what
/// Store::read throws.
template <PostgresStoreType Store>
Info info(Store& store) {
    Info result;
    result.server = store.path();
    store.read([&](auto& tx) {
        auto text = [&](const char* sql) { return *tx.template query_one<std::string>(sql); };
        result.server_version = text("SHOW server_version");
        result.database = text("SELECT current_database()");
        result.schema = text("SELECT current_schema()");
        result.database_bytes = *tx.template query_one<std::int64_t>("SELECT pg_database_size(current_database())");
        for (const auto& table : tx.template query<std::string>(std::string(detail::tables_sql)))
            result.row_counts[table] =
                *tx.template query_one<std::int64_t>("SELECT count(*) FROM " + persist::detail::double_quote(table));
        if (result.row_counts.count("persist_schema_history")) result.migrations = migrate::read_applied(tx);
    });
    for (const char* name : {"migrate", "persist.write"}) result.locks.emplace_back(name, store.lock_status(name));
    return result;
}

/// info(store), plus the migrations of `source` not applied yet.
template <PostgresStoreType Store, class Source>
Info info(Store& store, Source source) {
    Info result = info(store);
    result.pending = migrate::pending(store, std::move(source));
    return result;
}

} // namespace persist::postgres
