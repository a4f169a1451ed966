#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>

void use(persist::SqliteStore& store, const persist::Config& config) {
#ifdef PERSIST_COMPILE_FAIL
    persist::sqlite::backup(config, "backups/");   // the Config, not the Store
    (void)store;
#else
    persist::sqlite::backup(store, "backups/");
    (void)config;
#endif
}
