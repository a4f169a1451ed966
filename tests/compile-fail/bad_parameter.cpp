#include <persist/sqlite.hpp>
#include <vector>

void use(persist::Store<persist::sqlite::Backend>& store) {
#ifdef PERSIST_COMPILE_FAIL
    std::vector<int> ids{1, 2};   // a container is not a SQL value
#else
    int ids = 1;
#endif
    store.write([&](auto& tx) { tx.execute("DELETE FROM t WHERE id = ?", ids); });
}
