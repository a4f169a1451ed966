#include "schema_checks.hpp"
using namespace persist::schema;
#ifdef PERSIST_COMPILE_FAIL
using Users = Table<"users", Column<&User::id, "id", primary_key>, Column<&User::tags, "tags">>;
#else
using Users = Table<"users", Column<&User::id, "id", primary_key>>;
#endif
static_assert(Users::column_count >= 1);
