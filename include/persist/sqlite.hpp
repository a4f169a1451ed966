// persist/sqlite.hpp: everything needed for a SQLite Store, its locks and migrations (link
// persist::sqlite). The operator's functions have headers of their own, so that a program that
// does not call them does not compile them: backup, verify and restore in
// <persist/sqlite/backup.hpp>, dump and load in <persist/sqlite/dump.hpp>, info in
// <persist/sqlite/info.hpp>.
#pragma once

// First, so that its compile-time checks report a short include chain.
#include "persist/detail/checks.hpp"
#include "persist/lock/file.hpp"
#include "persist/lock/in_process.hpp"
#include "persist/lock/none.hpp"
#include "persist/sqlite/leases.hpp"
#include "persist/migrate.hpp"
#include "persist/sqlite/backend.hpp"
#include "persist/store.hpp"

namespace persist {

static_assert(Backend<sqlite::Backend>);

/// The SQLite store: its named locks (with_lock, the migration lock) coordinate every process
/// on this machine that opens the database, and their threads (lock::File<lock::Ofd>, the
/// default lock policy of sqlite::Backend, as in the persist tool). For ":memory:", which no
/// other process can open, they coordinate this process's threads.
using SqliteStore = Store<sqlite::Backend, lock::File<lock::Ofd>>;
/// A SQLite store for a database that only this process ever opens: its named locks
/// coordinate this process's threads and nothing else (lock::InProcess).
using SqliteSingleProcessStore = Store<sqlite::Backend, lock::InProcess>;
/// The former name of SqliteStore.
using SqliteProcessStore [[deprecated("persist::SqliteStore now coordinates processes: use it")]] = SqliteStore;
/// A SQLite store whose named locks are leases in the database (lock::Table).
using SqliteLeaseStore = Store<sqlite::Backend, lock::Table>;

} // namespace persist
