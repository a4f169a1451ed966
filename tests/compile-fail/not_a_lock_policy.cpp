#include <persist/sqlite.hpp>

struct NotALock {};

#ifdef PERSIST_COMPILE_FAIL
using MyStore = persist::Store<persist::sqlite::Backend, NotALock>;
#else
using MyStore = persist::Store<persist::sqlite::Backend, persist::lock::InProcess>;
#endif

MyStore* pointer = nullptr;
