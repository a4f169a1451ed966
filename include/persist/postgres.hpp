// persist/postgres.hpp: everything needed for a PostgreSQL Store: the backend, its advisory
// and lease locks, and migrations (link persist::postgres, which brings libpq).
#pragma once

// First, so that its compile-time checks report a short include chain.
#include "persist/detail/checks.hpp"
#include "persist/lock/in_process.hpp"
#include "persist/lock/none.hpp"
#include "persist/migrate.hpp"
#include "persist/postgres/advisory_lock.hpp"
#include "persist/postgres/backend.hpp"
#include "persist/postgres/table_lock.hpp"
#include "persist/store.hpp"

namespace persist {

/// A PostgreSQL store whose named locks are session advisory locks on the server: they
/// coordinate processes on every host that uses the database.
using PostgresStore = Store<postgres::Backend, postgres::AdvisoryLock>;

} // namespace persist
