// persist/schema/uuid.hpp: boost::uuids::uuid as a column type (needs Boost headers,
// Debian's libboost-dev). Stored as TEXT in the canonical 36-character form, which sorts
// and compares like the UUID and reads well in the sqlite3 shell; PostgreSQL stores it as UUID.
//
// Only <boost/uuid/uuid.hpp> (the 16-byte type) is included: Boost's generator and text
// conversions pull in Boost.Random and iostreams, which cost a program that includes this
// header more than half a second of compile time each. The text form and version 4 are
// fixed by RFC 4122 (section 3 and 4.4), which is what the three functions below follow.
#pragma once

#include "persist/error.hpp"
#include "persist/schema/column_type.hpp"

#include <boost/uuid/uuid.hpp>

#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <sys/random.h>

namespace persist::schema {

namespace detail {
inline int hex_digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
// Whether a hyphen belongs after byte `i` of the 8-4-4-4-12 form.
constexpr bool hyphen_after(std::size_t i) { return i == 3 || i == 5 || i == 7 || i == 9; }
} // namespace detail

/// `id` in the canonical form: 36 characters, lowercase hex digits in groups 8-4-4-4-12.
inline std::string uuid_text(const boost::uuids::uuid& id) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    text.reserve(36);
    for (std::size_t i = 0; i < 16; ++i) {
        text += digits[id.data[i] >> 4];
        text += digits[id.data[i] & 0xf];
        if (detail::hyphen_after(i)) text += '-';
    }
    return text;
}

/// The UUID written in `text` in the canonical 36-character form (hex digits of either
/// case). Throws schema_error naming the text and the expected form for anything else.
inline boost::uuids::uuid parse_uuid(std::string_view text) {
    boost::uuids::uuid id{};
    std::size_t at = 0;
    bool ok = text.size() == 36;
    for (std::size_t i = 0; ok && i < 16; ++i) {
        const int high = detail::hex_digit_value(text[at]);
        const int low = detail::hex_digit_value(text[at + 1]);
        ok = high >= 0 && low >= 0;
        id.data[i] = static_cast<boost::uuids::uuid::value_type>(high * 16 + low);
        at += 2;
        if (ok && detail::hyphen_after(i)) ok = text[at++] == '-';
    }
    if (!ok)
        throw schema_error("cannot read \"" + std::string(text) + "\" as a UUID; expected the 36-character form "
                           "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
    return id;
}

/// A new random (version 4, RFC 4122 variant) UUID: 122 bits from the kernel's generator
/// (getrandom(2)). Throws io_error if the kernel gives none.
inline boost::uuids::uuid random_uuid() {
    boost::uuids::uuid id{};
    std::size_t got = 0;
    while (got < sizeof id.data) {
        const auto n = ::getrandom(id.data + got, sizeof id.data - got, 0);
        if (n > 0) got += static_cast<std::size_t>(n);
        else if (n < 0 && errno != EINTR)
            throw io_error("cannot make a random UUID: the kernel's random generator failed (getrandom: " +
                               std::generic_category().message(errno) + ")",
                           errno);
    }
    id.data[6] = static_cast<boost::uuids::uuid::value_type>((id.data[6] & 0x0f) | 0x40); // version 4
    id.data[8] = static_cast<boost::uuids::uuid::value_type>((id.data[8] & 0x3f) | 0x80); // RFC 4122 variant
    return id;
}

template <>
struct column_type<boost::uuids::uuid> {
    using stored = std::string;
    static constexpr ColumnType sql_type = ColumnType::uuid;
    static std::string to_stored(const boost::uuids::uuid& value) { return uuid_text(value); }
    /// A new random (version 4) UUID, for columns marked generated.
    static boost::uuids::uuid generate() { return random_uuid(); }
    /// Whether `value` is the nil UUID, which a generated column replaces on insert.
    static bool empty(const boost::uuids::uuid& value) { return value.is_nil(); }
    /// Throws schema_error for text that is not a UUID.
    static boost::uuids::uuid from_stored(const std::string& text) { return parse_uuid(text); }
};

} // namespace persist::schema
