#include <persist/sqlite.hpp>

struct NotABackend {};

#ifdef PERSIST_COMPILE_FAIL
using MyStore = persist::Store<NotABackend>;
#else
using MyStore = persist::Store<persist::sqlite::Backend>;
#endif

MyStore* pointer = nullptr;
