#include "schema_cross_checks.hpp"
#ifdef PERSIST_COMPILE_FAIL
using S = Schema<Teams, Users, Teams>;
#else
using S = Schema<Teams, Users>;
#endif
static_assert(std::tuple_size_v<S::tables> >= 2);
