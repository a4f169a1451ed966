#include <persist/sqlite.hpp>

void use(persist::SqliteStore& store) {
#ifdef PERSIST_COMPILE_FAIL
    store.migrate("db/migrations");   // a path, not a source
#else
    store.migrate(persist::migrate::Directory("db/migrations"));
#endif
}
