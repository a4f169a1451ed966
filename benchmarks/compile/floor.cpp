// Compile-cost floor: SQLiteCpp's umbrella header plus the headers persist's public API cannot
// do without (sqlite3.h for the backend; std::function for callbacks, std::optional results,
// std::vector rows, and the mutexes, threads and condition variables of the pool and the
// in-process locks). Any header-only library with that API costs at least this much.
#include <SQLiteCpp/SQLiteCpp.h>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <sqlite3.h>
#include <thread>
#include <vector>

int main() { return 0; }
