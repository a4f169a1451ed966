#include "schema_checks.hpp"
#include <chrono>
using namespace persist::schema;
struct Reading { std::int64_t id; std::chrono::system_clock::time_point at; };
#ifdef PERSIST_COMPILE_FAIL
using Readings = Table<"readings", Column<&Reading::id, "id", primary_key>, Column<&Reading::at, "at">,
                       monthly_partitions<&Reading::at>>;
#else
using Readings = Table<"readings", Column<&Reading::id, "id", primary_key>, Column<&Reading::at, "at", primary_key>,
                       monthly_partitions<&Reading::at>>;
#endif
static_assert(Readings::is_partitioned);
