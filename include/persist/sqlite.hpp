// persist/sqlite.hpp: everything needed for a SQLite Store (link persist::sqlite).
#pragma once

#include "persist/lock/in_process.hpp"
#include "persist/lock/none.hpp"
#include "persist/sqlite/backend.hpp"
#include "persist/store.hpp"

namespace persist {

static_assert(Backend<sqlite::Backend>);

/// A SQLite store whose named locks coordinate the threads of one process.
using SqliteStore = Store<sqlite::Backend, lock::InProcess>;

} // namespace persist
