#include <persist/migrate/embedded.hpp>
using namespace persist::migrate;
#ifdef PERSIST_COMPILE_FAIL
using Migrations = Embedded<Sql<1, "a", "x">, Sql<2, "", "y">>;
#else
using Migrations = Embedded<Sql<1, "a", "x">, Sql<2, "b", "y">>;
#endif
Migrations migrations;
