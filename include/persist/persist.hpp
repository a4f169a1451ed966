// persist/persist.hpp: the umbrella header: the SQLite Store, schemas, migrations and locks
// (PostgreSQL, which needs libpq, is persist/postgres.hpp). The operator's functions are
// included where they are called: <persist/sqlite/backup.hpp> (backup, verify, restore),
// <persist/sqlite/dump.hpp> (dump, load), <persist/sqlite/info.hpp> (info).
#pragma once

// First, so that its compile-time checks report a short include chain.
#include "persist/detail/checks.hpp"
#include "persist/backend.hpp"
#include "persist/config.hpp"
#include "persist/dialect.hpp"
#include "persist/error.hpp"
#include "persist/lock/file.hpp"
#include "persist/lock/in_process.hpp"
#include "persist/lock/none.hpp"
#include "persist/lock/policy.hpp"
#include "persist/lock/table.hpp"
#include "persist/sqlite/leases.hpp"
#include "persist/migrate.hpp"
#include "persist/schema.hpp"
#include "persist/sqlite.hpp"
#include "persist/store.hpp"
#include "persist/value.hpp"
#include "persist/version.hpp"
