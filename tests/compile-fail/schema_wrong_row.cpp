// A row of another table's struct.
#include "schema_common.hpp"
using namespace persist::schema;
void use(persist::SqliteStore& store, const Team& team) {
#ifdef PERSIST_COMPILE_FAIL
    store.write([&](auto& tx) { return insert<Users>(tx, team); });
#else
    store.write([&](auto& tx) { return insert<Teams>(tx, team); });
#endif
}
