// get<T> with too many key values, inside store.read() as the README writes it.
#include "schema_common.hpp"
using namespace persist::schema;
void use(persist::SqliteStore& store) {
#ifdef PERSIST_COMPILE_FAIL
    store.read([](auto& tx) { return get<Users>(tx, 1, 2); });
#else
    store.read([](auto& tx) { return get<Memberships>(tx, 1, 2); });
#endif
}
