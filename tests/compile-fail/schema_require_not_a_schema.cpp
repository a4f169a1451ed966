// require<S> with a table where a schema belongs.
#include "schema_common.hpp"
void use(persist::SqliteStore& store) {
#ifdef PERSIST_COMPILE_FAIL
    persist::schema::require<Users>(store);
#else
    persist::schema::require<persist::schema::Schema<Users>>(store);
#endif
}
