// persist/schema/json.hpp: persist::Json, a JSON document as a column type.
//
//   struct Server { std::int64_t id; persist::Json settings; };
//   ... persist::schema::Column<&Server::settings, "settings"> ...
//
// SQLite keeps the text as given (TEXT; SQLite's json_* functions read it). PostgreSQL keeps
// it as JSONB, which checks that it is JSON when it is written and gives it back in its own
// normal form: keys sorted, duplicates dropped, ", " and ": " between items, so compare
// documents after parsing them, not as text.
#pragma once

#include "persist/schema/column_type.hpp"

#include <string>

namespace persist {

/// The text of a JSON document. persist neither parses nor validates it (PostgreSQL does).
struct Json {
    std::string text;
    bool operator==(const Json&) const = default;
};

} // namespace persist

namespace persist::schema {

template <>
struct column_type<Json> {
    using stored = std::string;
    static constexpr ColumnType sql_type = ColumnType::json;
    static const std::string& to_stored(const Json& value) { return value.text; }
    static Json from_stored(std::string text) { return Json{std::move(text)}; }
};

} // namespace persist::schema
