#include <persist/sqlite.hpp>

#ifdef PERSIST_COMPILE_FAIL
using MyMigrator = persist::migrate::Migrator<persist::Config, persist::migrate::Directory>;
#else
using MyMigrator = persist::migrate::Migrator<persist::SqliteStore, persist::migrate::Directory>;
#endif

MyMigrator* pointer = nullptr;
