// persist/postgres/values.hpp: persist's value types to and from PostgreSQL's text format.
//
// Parameters go as text ($1, $2, ...), which the server converts to the column's type:
// integers and reals as decimal text (reals to 17 significant digits, so they read back
// bit for bit; Infinity and NaN by name), bool as t/f, Blob as bytea hex (\x...), time
// points as UTC ISO 8601. Results come back as text and are parsed the same way; persist
// sets TimeZone=UTC and DateStyle=ISO on every connection so timestamptz reads as UTC.
#pragma once

#include "persist/error.hpp"
#include "persist/value.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <libpq-fe.h>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace persist::postgres {

/// Parameters in text form; nullopt is NULL.
using TextParams = std::vector<std::optional<std::string>>;

namespace detail {

inline std::string hex_bytes(std::span<const std::byte> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text = "\\x";
    for (auto b : bytes) {
        text += digits[static_cast<unsigned>(b) >> 4];
        text += digits[static_cast<unsigned>(b) & 0xf];
    }
    return text;
}

template <class T>
void append(TextParams& out, const T& value) {
    if constexpr (persist::detail::is_optional<T>::value) {
        if (value) append(out, *value);
        else out.emplace_back(std::nullopt);
    } else if constexpr (std::is_same_v<T, std::nullptr_t> || std::is_same_v<T, std::nullopt_t>) {
        out.emplace_back(std::nullopt);
    } else if constexpr (std::is_same_v<T, bool>) {
        out.emplace_back(value ? "t" : "f");
    } else if constexpr (SqlInteger<T>) {
        out.emplace_back(std::to_string(value));
    } else if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(value)) out.emplace_back("NaN");
        else if (std::isinf(value)) out.emplace_back(value > 0 ? "Infinity" : "-Infinity");
        else {
            char text[40];
            std::snprintf(text, sizeof text, "%.17g", static_cast<double>(value));
            out.emplace_back(text);
        }
    } else if constexpr (std::is_same_v<T, Blob>) {
        out.emplace_back(hex_bytes(std::span<const std::byte>(value)));
    } else if constexpr (std::is_convertible_v<const T&, std::span<const std::byte>>) {
        out.emplace_back(hex_bytes(std::span<const std::byte>(value)));
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        if constexpr (std::is_pointer_v<T>) { // a null const char* is NULL (a string_view of it would crash)
            if (value == nullptr) {
                out.emplace_back(std::nullopt);
                return;
            }
        }
        const std::string_view text(value);
        if (text.find('\0') != std::string_view::npos) // libpq sends text parameters up to a NUL
            throw data_error("parameter " + std::to_string(out.size() + 1) +
                             " holds a NUL byte, which PostgreSQL text cannot store (it would be cut there); store "
                             "such bytes as persist::Blob (BYTEA)");
        out.emplace_back(text);
    } else if constexpr (persist::detail::is_time_point<T>::value) {
        out.emplace_back(format_time(value));
    } else if constexpr (requires { value.values; }) { // Many<V>
        for (const auto& v : value.values) append(out, v);
    } else {
        static_assert(sizeof(T) == 0, "persist: this type cannot be bound as a PostgreSQL parameter");
    }
}

} // namespace detail

/// The text form of `params...`.
template <class... Params>
TextParams text_params(const Params&... params) {
    TextParams out;
    out.reserve(sizeof...(Params));
    (detail::append(out, params), ...);
    return out;
}

/// Reads column values of one row of a result, for persist::detail::read_row.
class Columns {
public:
    Columns(const PGresult* result, int row) : result_(result), row_(row) {}

    template <class V>
    V get(int column) const {
        if (column >= PQnfields(result_))
            throw schema_error("the query returns " + std::to_string(PQnfields(result_)) + " columns, but the row type reads more");
        const bool null = PQgetisnull(result_, row_, column);
        if constexpr (persist::detail::is_optional<V>::value) {
            if (null) return std::nullopt;
            return get<typename V::value_type>(column);
        } else {
            if (null)
                throw schema_error("column " + std::to_string(column + 1) + " (\"" + PQfname(result_, column) +
                                   "\") is NULL; read it as std::optional");
            return parse<V>(std::string_view(PQgetvalue(result_, row_, column),
                                             static_cast<std::size_t>(PQgetlength(result_, row_, column))),
                            column);
        }
    }

private:
    template <class V>
    V parse(std::string_view text, int column) const {
        auto fail = [&](const char* what) {
            return schema_error("column " + std::to_string(column + 1) + " (\"" + PQfname(result_, column) + "\") holds \"" +
                                std::string(text.substr(0, 40)) + "\", which is not " + what);
        };
        if constexpr (std::is_same_v<V, bool>) {
            if (text == "t" || text == "true" || text == "1") return true;
            if (text == "f" || text == "false" || text == "0") return false;
            throw fail("a boolean");
        } else if constexpr (SqlInteger<V>) {
            long long value = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (ec != std::errc{} || end != text.data() + text.size()) throw fail("an integer");
            if (value < static_cast<long long>(std::numeric_limits<V>::min()) ||
                (value > 0 && static_cast<unsigned long long>(value) > static_cast<unsigned long long>(std::numeric_limits<V>::max())))
                throw fail("in the range of the C++ type");
            return static_cast<V>(value);
        } else if constexpr (std::is_floating_point_v<V>) {
            const std::string copy(text);
            char* end = nullptr;
            const double value = std::strtod(copy.c_str(), &end); // also reads Infinity and NaN
            if (end != copy.c_str() + copy.size()) throw fail("a number");
            if constexpr (sizeof(V) < sizeof(double))
                if (std::isfinite(value) && std::fabs(value) > static_cast<double>(std::numeric_limits<V>::max()))
                    throw fail("in the range of the C++ type (float overflows to infinity; read it as double)");
            return static_cast<V>(value);
        } else if constexpr (std::is_same_v<V, std::string>) {
            return std::string(text);
        } else if constexpr (std::is_same_v<V, Blob>) {
            if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) throw fail("bytea in hex form");
            Blob bytes;
            bytes.reserve((text.size() - 2) / 2);
            auto nibble = [&](char c) -> unsigned {
                if (c >= '0' && c <= '9') return unsigned(c - '0');
                if (c >= 'a' && c <= 'f') return unsigned(c - 'a' + 10);
                if (c >= 'A' && c <= 'F') return unsigned(c - 'A' + 10);
                throw fail("bytea in hex form");
            };
            for (std::size_t i = 2; i < text.size(); i += 2) bytes.push_back(std::byte(nibble(text[i]) << 4 | nibble(text[i + 1])));
            return bytes;
        } else if constexpr (persist::detail::is_time_point<V>::value) {
            // timestamptz with TimeZone=UTC prints "2026-11-23 08:15:30.123456+00".
            std::string_view clean = text;
            if (clean.ends_with("+00")) clean.remove_suffix(3);
            return read_time<typename V::duration>(clean);
        } else {
            static_assert(sizeof(V) == 0, "persist: this type cannot be read from a PostgreSQL column");
        }
    }

    const PGresult* result_;
    int row_;
};

} // namespace persist::postgres
