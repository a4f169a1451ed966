#include "encrypted_common.hpp"
using namespace persist::schema;
using Accounts = Table<"accounts", Column<&Account::id, "id", primary_key>, Column<&Account::token, "token">>;
void find(persist::Store<persist::sqlite::Backend>& store) {
    store.read([](persist::sqlite::ReadTransaction& tx) {
#ifdef PERSIST_COMPILE_FAIL
        return query_as<Accounts>(tx, "SELECT id, token FROM accounts");
#else
        return all<Accounts>(tx);
#endif
    });
}
