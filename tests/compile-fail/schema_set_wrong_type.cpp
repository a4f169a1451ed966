#include <persist/schema.hpp>
#include <persist/sqlite.hpp>
using namespace persist::schema;
struct User { std::int64_t id; std::string email; };
using Users = Table<"users", Column<&User::id, "id", primary_key>, Column<&User::email, "email">>;
void use(persist::sqlite::Transaction& tx) {
#ifdef PERSIST_COMPILE_FAIL
    update<Users>(tx, set(col<&User::email>.to(42)), col<&User::id> == 1);
#else
    update<Users>(tx, set(col<&User::email>.to("42")), col<&User::id> == 1);
#endif
}
