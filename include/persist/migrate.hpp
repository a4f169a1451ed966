// persist/migrate.hpp: migrations: sources (embedded, directory), the Migrator, and
// Store::migrate(source).
#pragma once

// First, so that its compile-time checks report a short include chain.
#include "persist/detail/checks.hpp"
#include "persist/migrate/directory.hpp"
#include "persist/migrate/embedded.hpp"
#include "persist/migrate/migration.hpp"
#include "persist/migrate/migrator.hpp"
#include "persist/migrate/sha256.hpp"
