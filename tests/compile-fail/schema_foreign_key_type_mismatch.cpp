#include "schema_cross_checks.hpp"
#ifdef PERSIST_COMPILE_FAIL
using Wrong = Table<"users", Column<&Bad::id, "id", primary_key>, Column<&Bad::team, "team", references<&Team::id>>>;
#else
using Wrong = Table<"users", Column<&Bad::id, "id", primary_key>, Column<&Bad::team, "team">>;
#endif
using S = Schema<Teams, Wrong>;
static_assert(std::tuple_size_v<S::tables> == 2);
