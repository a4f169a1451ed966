#include <persist/migrate/embedded.hpp>
using namespace persist::migrate;
int backfill(int rows) { return rows; }
#ifdef PERSIST_COMPILE_FAIL
using Migrations = Embedded<Sql<1, "a", "x">, Code<2, "b", "b v1", &backfill>>;
#else
using Migrations = Embedded<Sql<1, "a", "x">, Code<2, "b", "b v1", [](auto&) {}>>;
#endif
Migrations migrations;
