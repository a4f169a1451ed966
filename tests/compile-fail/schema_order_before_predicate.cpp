// order_by(...) before the predicate.
#include "schema_common.hpp"
using namespace persist::schema;
void use(persist::SqliteStore& store) {
#ifdef PERSIST_COMPILE_FAIL
    store.read([](auto& tx) { return select<Users>(tx, order_by(col<&User::email>.asc()), col<&User::id> > 1); });
#else
    store.read([](auto& tx) { return select<Users>(tx, col<&User::id> > 1, order_by(col<&User::email>.asc())); });
#endif
}
