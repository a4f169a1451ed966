#include <persist/migrate/embedded.hpp>
using namespace persist::migrate;
#ifdef PERSIST_COMPILE_FAIL
using Migrations = Embedded<>;
#else
using Migrations = Embedded<Sql<1, "one", "x">>;
#endif
Migrations migrations;
