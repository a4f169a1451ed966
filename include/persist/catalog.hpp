// persist/catalog.hpp: a table as the database's catalog describes it, whatever the backend.
#pragma once

#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace persist {

/// What the database's catalog says of one table, whatever the backend: what
/// tx.describe_table(name) returns (see persist::ReadTransaction), and what schema::verify
/// compares with a Schema. Types are upper case, as the backend spells them.
struct TableDescription {
    bool exists = false; ///< false: no such table (and everything else is empty)
    /// One column, in table order.
    struct Column {
        std::string name;         ///< as created
        std::string type;         ///< declared type, upper case ("INTEGER", "BIGINT")
        bool not_null = false;    ///< declared NOT NULL
        bool primary_key = false; ///< part of the primary key
    };
    std::vector<Column> columns;        ///< in table order
    std::set<std::string> foreign_keys; ///< "column -> table.column ON DELETE x ON UPDATE y"
    std::set<std::string> indexes;      ///< "name [UNIQUE ](a,b)", created by CREATE INDEX only
};

namespace detail {
/// `text` in ASCII upper case.
inline std::string upper(std::string text) {
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}
} // namespace detail

} // namespace persist
