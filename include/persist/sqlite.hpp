// persist/sqlite.hpp: everything needed for a SQLite Store, migrations, backup, verify,
// restore, dump, load and info included (link persist::sqlite).
#pragma once

#include "persist/lock/file.hpp"
#include "persist/lock/in_process.hpp"
#include "persist/lock/none.hpp"
#include "persist/lock/table.hpp"
#include "persist/migrate.hpp"
#include "persist/sqlite/backend.hpp"
#include "persist/sqlite/backup.hpp"
#include "persist/sqlite/dump.hpp"
#include "persist/sqlite/info.hpp"
#include "persist/store.hpp"

namespace persist {

static_assert(Backend<sqlite::Backend>);

/// A SQLite store whose named locks coordinate the threads of one process.
using SqliteStore = Store<sqlite::Backend, lock::InProcess>;
/// A SQLite store whose named locks coordinate the processes of one machine (OFD file locks).
using SqliteProcessStore = Store<sqlite::Backend, lock::File<lock::Ofd>>;
/// A SQLite store whose named locks are leases in the database (lock::Table).
using SqliteLeaseStore = Store<sqlite::Backend, lock::Table>;

} // namespace persist
