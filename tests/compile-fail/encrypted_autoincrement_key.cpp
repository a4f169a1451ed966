#include "encrypted_common.hpp"
using namespace persist::schema;
#ifdef PERSIST_COMPILE_FAIL
using Accounts = Table<"accounts", Column<&Account::id, "id", primary_key, autoincrement>, Column<&Account::token, "token">>;
#else
using Accounts = Table<"accounts", Column<&Account::id, "id", primary_key>, Column<&Account::token, "token">>;
#endif
static_assert(Accounts::has_sealed_columns);
