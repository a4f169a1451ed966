#include "schema_cross_checks.hpp"
#ifdef PERSIST_COMPILE_FAIL
using S = Schema<Users>;
#else
using S = Schema<Teams, Users>;
#endif
S* schema = nullptr;
static_assert(std::tuple_size_v<S::tables> >= 1);
