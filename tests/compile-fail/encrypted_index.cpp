#include "encrypted_common.hpp"
using namespace persist::schema;
#ifdef PERSIST_COMPILE_FAIL
using Accounts = Table<"accounts", Column<&Account::id, "id", primary_key>, Column<&Account::token, "token">,
                       Index<"by_token", on<&Account::token>>>;
#else
using Accounts = Table<"accounts", Column<&Account::id, "id", primary_key>, Column<&Account::name, "name">,
                       Column<&Account::token, "token">, Index<"by_name", on<&Account::name>>>;
#endif
static_assert(Accounts::has_sealed_columns);
