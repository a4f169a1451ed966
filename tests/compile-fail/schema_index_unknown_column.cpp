#include "schema_cross_checks.hpp"
#ifdef PERSIST_COMPILE_FAIL
using Indexed = Table<"users", Column<&User::id, "id", primary_key>, Column<&User::email, "email">, Index<"by_team", on<&User::team>>>;
#else
using Indexed = Table<"users", Column<&User::id, "id", primary_key>, Column<&User::email, "email">, Index<"by_email", on<&User::email>>>;
#endif
static_assert(Indexed::column_count == 2);
