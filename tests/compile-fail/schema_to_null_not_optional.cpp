#include <persist/schema.hpp>
#include <persist/sqlite.hpp>
using namespace persist::schema;
struct User { std::int64_t id; std::string email; std::optional<std::string> name; };
using Users = Table<"users", Column<&User::id, "id", primary_key>, Column<&User::email, "email">, Column<&User::name, "name">>;
void use(persist::sqlite::Transaction& tx) {
#ifdef PERSIST_COMPILE_FAIL
    update<Users>(tx, set(col<&User::email>.to_null()), col<&User::id> == 1);
#else
    update<Users>(tx, set(col<&User::name>.to_null()), col<&User::id> == 1);
#endif
}
