#include "schema_checks.hpp"
using namespace persist::schema;
#ifdef PERSIST_COMPILE_FAIL
using Users = Table<"users", Column<&User::id, "id">, Column<&User::email, "email">>;
#else
using Users = Table<"users", Column<&User::id, "id", primary_key>, Column<&User::email, "email">>;
#endif
static_assert(Users::column_count == 2);
