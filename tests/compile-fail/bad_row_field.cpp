#include <persist/sqlite.hpp>
#include <cstdint>
#include <vector>

#ifdef PERSIST_COMPILE_FAIL
struct Tagged { std::int64_t id; std::vector<int> tags; };   // a vector is not a column value
#else
struct Tagged { std::int64_t id; std::string tags; };
#endif

void use(persist::SqliteStore& store) {
    store.read([](auto& tx) { return tx.query(persist::as<Tagged>, "SELECT id, tags FROM t"); });
}
