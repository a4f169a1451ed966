// persist/schema/initial_migration.hpp: the first migration of a project, derived from its
// schema: the CREATE statements, with the checksum of their text.
#pragma once

#include "persist/migrate/migration.hpp"
#include "persist/schema/schema.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace persist::schema {

/// A MigrationSource holding one migration that creates schema `S` in dialect `D`. Later
/// changes go into ordinary migrations after it; the checksum changes if the descriptors do,
/// so an edited schema is caught instead of silently diverging from databases created earlier.
template <class S, Dialect D>
struct InitialMigration {
    std::int64_t version = 1;
    std::string name = "initial_schema";

    std::vector<migrate::Migration> migrations() const {
        const std::string up = S::template create_script<D>();
        return {migrate::Migration{version, name, up, {}, true, migrate::checksum(up).str(), {}}};
    }
};

} // namespace persist::schema
