#include "schema_checks.hpp"
#include <chrono>
using namespace persist::schema;
struct Stamped { std::int64_t id; std::chrono::system_clock::time_point created; std::string updated; };
#ifdef PERSIST_COMPILE_FAIL
using Table1 = Table<"stamped", Column<&Stamped::id, "id", primary_key>, Column<&Stamped::created, "created">, Column<&Stamped::updated, "updated">, timestamps<&Stamped::created, &Stamped::updated>>;
#else
using Table1 = Table<"stamped", Column<&Stamped::id, "id", primary_key>, Column<&Stamped::created, "created">, Column<&Stamped::updated, "updated">>;
#endif
static_assert(Table1::column_count == 3);
