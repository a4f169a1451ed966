#include <persist/migrate/embedded.hpp>
using namespace persist::migrate;
#ifdef PERSIST_COMPILE_FAIL
using Migrations = Embedded<Sql<1, "a", "x">, Sql<3, "b", "y">, Sql<2, "c", "z">>;
#else
using Migrations = Embedded<Sql<1, "a", "x">, Sql<2, "c", "z">, Sql<3, "b", "y">>;
#endif
Migrations migrations;
