// The row struct given where the table descriptor belongs.
#include "schema_common.hpp"
using namespace persist::schema;
void use(persist::SqliteStore& store, const User& user) {
#ifdef PERSIST_COMPILE_FAIL
    store.write([&](auto& tx) { return insert<User>(tx, user); });
#else
    store.write([&](auto& tx) { return insert<Users>(tx, user); });
#endif
}
