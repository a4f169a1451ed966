// Shared by the schema-level compile-fail tests.
#include <persist/schema/schema.hpp>
#include <optional>
#include <string>
using namespace persist::schema;
struct Team { std::int64_t id; std::string name; };
struct User { std::int64_t id; std::string email; std::optional<std::int64_t> team; };
struct Bad { std::int64_t id; std::string team; };
using Teams = Table<"teams", Column<&Team::id, "id", primary_key>, Column<&Team::name, "name">>;
using Users = Table<"users", Column<&User::id, "id", primary_key>, Column<&User::email, "email">,
                    Column<&User::team, "team", references<&Team::id>>>;
