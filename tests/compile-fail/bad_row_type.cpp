#include <persist/sqlite.hpp>
#include <vector>

#ifdef PERSIST_COMPILE_FAIL
using RowType = std::vector<int>;
#else
using RowType = int;
#endif

void use(persist::Store<persist::sqlite::Backend>& store) {
    store.read([](auto& tx) { return tx.template query<RowType>("SELECT 1"); });
}
