#include "schema_checks.hpp"
using namespace persist::schema;
#ifdef PERSIST_COMPILE_FAIL
using Table1 = Table<"users", Column<&User::id, "id", primary_key>, Column<&User::name, "name">, soft_delete<&User::name>>;
#else
using Table1 = Table<"users", Column<&User::id, "id", primary_key>, Column<&User::name, "name">>;
#endif
static_assert(Table1::column_count == 2);
