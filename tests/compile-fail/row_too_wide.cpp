#include <persist/sqlite.hpp>

struct Sixteen { int a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p; };
#ifdef PERSIST_COMPILE_FAIL
struct Wide { int a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q; };
#else
using Wide = Sixteen;
#endif

void use(persist::Store<persist::sqlite::Backend>& store) {
    store.read([](auto& tx) { return tx.template query<Wide>("SELECT 1"); });
}
