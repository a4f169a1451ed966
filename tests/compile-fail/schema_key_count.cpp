#include <persist/schema.hpp>
#include <persist/sqlite.hpp>
using namespace persist::schema;
struct M { std::int64_t a; std::int64_t b; };
using Ms = Table<"memberships", Column<&M::a, "a", primary_key>, Column<&M::b, "b", primary_key>>;
void use(persist::sqlite::Transaction& tx) {
#ifdef PERSIST_COMPILE_FAIL
    get<Ms>(tx, 1);
#else
    get<Ms>(tx, 1, 2);
#endif
}
