#include <persist/sqlite.hpp>

void use(persist::Store<persist::sqlite::Backend>& store) {
#ifdef PERSIST_COMPILE_FAIL
    store.write([](int) {});   // the function must take the transaction
#else
    store.write([](auto&) {});
#endif
}
