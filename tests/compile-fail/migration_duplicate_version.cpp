#include <persist/migrate/embedded.hpp>
using namespace persist::migrate;
#ifdef PERSIST_COMPILE_FAIL
using Migrations = Embedded<Sql<1, "a", "CREATE TABLE a (x)">, Sql<1, "b", "CREATE TABLE b (x)">>;
#else
using Migrations = Embedded<Sql<1, "a", "CREATE TABLE a (x)">, Sql<2, "b", "CREATE TABLE b (x)">>;
#endif
Migrations migrations;
