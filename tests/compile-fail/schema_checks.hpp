// Shared by the schema compile-fail tests.
#include <persist/schema/table.hpp>
#include <optional>
#include <string>
#include <vector>
struct User { std::int64_t id; std::string email; std::optional<std::string> name; std::vector<int> tags; };
struct Other { int x; };
