// An ordering term passed where select() expects a predicate or order_by(...).
#include "schema_common.hpp"
using namespace persist::schema;
void use(persist::SqliteStore& store) {
#ifdef PERSIST_COMPILE_FAIL
    store.read([](auto& tx) { return select<Users>(tx, col<&User::email>.asc()); });
#else
    store.read([](auto& tx) { return select<Users>(tx, order_by(col<&User::email>.asc())); });
    store.read([](auto& tx) { return select<Users>(tx, col<&User::id> > 1, Page{.limit = 2}); });
#endif
}
