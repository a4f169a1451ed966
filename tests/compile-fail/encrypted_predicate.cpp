#include "encrypted_common.hpp"
using namespace persist::schema;
using Accounts = Table<"accounts", Column<&Account::id, "id", primary_key>, Column<&Account::name, "name">,
                       Column<&Account::token, "token">>;
void find(persist::Store<persist::sqlite::Backend>& store) {
    store.read([](persist::sqlite::ReadTransaction& tx) {
#ifdef PERSIST_COMPILE_FAIL
        return select<Accounts>(tx, col<&Account::token> == persist::Encrypted<std::string>("x"));
#else
        return select<Accounts>(tx, col<&Account::name> == "x");
#endif
    });
}
