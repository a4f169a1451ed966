// persist/schema/uuid.hpp: boost::uuids::uuid as a column type (needs Boost headers,
// Debian's libboost-dev). Stored as TEXT in the canonical 36-character form, which sorts
// and compares like the UUID and reads well in the sqlite3 shell; PostgreSQL stores it as UUID.
#pragma once

#include "persist/error.hpp"
#include "persist/schema/column_type.hpp"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/string_generator.hpp>
#include <boost/uuid/uuid.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <string>

namespace persist::schema {

template <>
struct column_type<boost::uuids::uuid> {
    using stored = std::string;
    static constexpr ColumnType sql_type = ColumnType::uuid;
    static std::string to_stored(const boost::uuids::uuid& value) { return boost::uuids::to_string(value); }
    /// A new random (version 4) UUID, for columns marked generated.
    static boost::uuids::uuid generate() {
        thread_local boost::uuids::random_generator generator;
        return generator();
    }
    /// Whether `value` is the nil UUID, which a generated column replaces on insert.
    static bool empty(const boost::uuids::uuid& value) { return value.is_nil(); }
    /// Throws schema_error for text that is not a UUID.
    static boost::uuids::uuid from_stored(const std::string& text) {
        try {
            if (text.size() != 36) throw std::runtime_error("length");
            return boost::uuids::string_generator()(text);
        } catch (const std::exception&) {
            throw schema_error("cannot read \"" + text + "\" as a UUID; expected the 36-character form "
                               "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
        }
    }
};

} // namespace persist::schema
