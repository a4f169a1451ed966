// persist/sqlite/values.hpp: binding parameters to and reading columns from a SQLite statement.
#pragma once

#include "persist/detail/row.hpp"
#include "persist/error.hpp"
#include "persist/value.hpp"

#include <cstdint>
#include <cstdio>
#include <cmath>
#include <limits>
#include <sqlite3.h>
#include <span>
#include <string>
#include <string_view>

namespace persist::sqlite {

/// Binds `value` to parameter `index` (1-based) of `statement`. Text and blobs are copied
/// only when the statement outlives them (SQLITE_TRANSIENT); see bind_all.
template <class T>
int bind_value(sqlite3_stmt* statement, int index, const T& value) {
    using V = std::remove_cvref_t<T>;
    if constexpr (detail::is_many<V>::value) {
        for (std::size_t i = 0; i < value.values.size(); ++i)
            if (const int rc = bind_value(statement, index + static_cast<int>(i), value.values[i]); rc != SQLITE_OK) return rc;
        return SQLITE_OK;
    } else if constexpr (std::same_as<V, std::nullptr_t> || std::same_as<V, std::nullopt_t>) {
        return sqlite3_bind_null(statement, index);
    } else if constexpr (detail::is_optional<V>::value) {
        return value ? bind_value(statement, index, *value) : sqlite3_bind_null(statement, index);
    } else if constexpr (std::same_as<V, bool>) {
        return sqlite3_bind_int(statement, index, value ? 1 : 0);
    } else if constexpr (SqlInteger<V>) {
        if constexpr (std::is_unsigned_v<V> && sizeof(V) == 8) {
            if (value > static_cast<V>(std::numeric_limits<std::int64_t>::max()))
                throw usage_error("parameter " + std::to_string(index) + " is " + std::to_string(value) +
                                  ", larger than a SQL integer can hold (2^63-1); store it as text "
                                  "or a blob");
        }
        return sqlite3_bind_int64(statement, index, static_cast<sqlite3_int64>(value));
    } else if constexpr (std::floating_point<V>) {
        if (std::isnan(value)) // SQLite would store NULL in its place (PostgreSQL stores NaN)
            throw data_error("parameter " + std::to_string(index) + " is NaN, which SQLite stores as NULL; pass "
                             "std::nullopt for NULL, or check the value before writing");
        return sqlite3_bind_double(statement, index, static_cast<double>(value));
    } else if constexpr (detail::is_time_point<V>::value) {
        const std::string text = format_time(value);
        return sqlite3_bind_text(statement, index, text.data(), static_cast<int>(text.size()),
                                 SQLITE_TRANSIENT);
    } else if constexpr (std::convertible_to<const V&, std::string_view>) {
        if constexpr (std::is_pointer_v<V>) // a null const char* is NULL (a string_view of it would crash)
            if (value == nullptr) return sqlite3_bind_null(statement, index);
        const std::string_view text = value;
        return sqlite3_bind_text64(statement, index, text.data(), text.size(), SQLITE_STATIC,
                                   SQLITE_UTF8);
    } else if constexpr (std::convertible_to<const V&, std::span<const std::byte>>) {
        const std::span<const std::byte> bytes = value;
        // A zero-length blob with a null pointer would bind NULL; bind an empty blob instead.
        if (bytes.empty()) return sqlite3_bind_zeroblob(statement, index, 0);
        return sqlite3_bind_blob64(statement, index, bytes.data(), bytes.size(), SQLITE_STATIC);
    } else {
        static_assert(sizeof(V) == 0, "persist: this type cannot be bound as a SQL parameter");
    }
}

/// How many parameters `value` fills.
template <class T>
int parameter_width(const T& value) {
    if constexpr (detail::is_many<std::remove_cvref_t<T>>::value) return static_cast<int>(value.values.size());
    else return 1;
}

} // namespace persist::sqlite

namespace persist::detail {
// The errors of sqlite::read_column, out of line: the reading itself stays small enough to inline.
[[gnu::cold, gnu::noinline]] inline schema_error column_mismatch(sqlite3_stmt* statement, int index, int type,
                                                                 const char* wanted) {
    const char* name = sqlite3_column_name(statement, index);
    static constexpr const char* type_names[] = {"", "INTEGER", "REAL", "TEXT", "BLOB", "NULL"};
    // Columns are numbered from 1 in messages, as on PostgreSQL.
    return schema_error("column " + std::to_string(index + 1) + " (\"" + (name ? name : "?") + "\") holds " +
                            type_names[type] + " but the row type expects " + wanted +
                            (type == SQLITE_NULL ? "; declare the field as std::optional"
                                                 : "; fix the query or the field type"),
                        SQLITE_MISMATCH);
}
[[gnu::cold, gnu::noinline]] inline schema_error column_out_of_range(sqlite3_stmt* statement, int index,
                                                                     std::int64_t value) {
    const char* name = sqlite3_column_name(statement, index);
    return schema_error("column " + std::to_string(index + 1) + " (\"" + (name ? name : "?") + "\") holds " +
                            std::to_string(value) + ", which does not fit the row type's integer field; widen it",
                        SQLITE_RANGE);
}
[[gnu::cold, gnu::noinline]] inline schema_error column_float_out_of_range(sqlite3_stmt* statement, int index,
                                                                           double value) {
    const char* name = sqlite3_column_name(statement, index);
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);
    return schema_error("column " + std::to_string(index + 1) + " (\"" + (name ? name : "?") + "\") holds " + text +
                            ", beyond the row type's float field (it would read as infinity); read it as double",
                        SQLITE_RANGE);
}
} // namespace persist::detail

namespace persist::sqlite {

/// Reads column `index` (0-based) of the current row of `statement` as a T.
/// Throws schema_error when the column is NULL and T is not a std::optional, or when the
/// stored value cannot be a T (text where an integer is expected, and so on).
/// The column is read through sqlite3_column_value once: each sqlite3_column_* call enters
/// and leaves the connection's API guard, the sqlite3_value_* calls do not. (SQLite calls
/// that value "unprotected", which means not safe across threads: a connection, with its
/// statements, belongs to one thread at a time in persist.)
template <ColumnValue T>
T read_column(sqlite3_stmt* statement, int index) {
    sqlite3_value* column = sqlite3_column_value(statement, index);
    const int type = sqlite3_value_type(column);
    auto mismatch = [&](const char* wanted) { return persist::detail::column_mismatch(statement, index, type, wanted); };
    if constexpr (detail::is_optional<T>::value) {
        if (type == SQLITE_NULL) return std::nullopt;
        return read_column<typename T::value_type>(statement, index);
    } else if constexpr (std::same_as<T, bool> || SqlInteger<T>) {
        if (type != SQLITE_INTEGER) throw mismatch(std::same_as<T, bool> ? "a bool (INTEGER 0/1)" : "an integer");
        const auto value = sqlite3_value_int64(column);
        if constexpr (std::same_as<T, bool>) {
            return value != 0;
        } else {
            if ((std::is_unsigned_v<T> && value < 0) ||
                (sizeof(T) < 8 && (value < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
                                   value > static_cast<std::int64_t>(std::numeric_limits<T>::max()))))
                throw persist::detail::column_out_of_range(statement, index, value);
            return static_cast<T>(value);
        }
    } else if constexpr (std::floating_point<T>) {
        if (type != SQLITE_FLOAT && type != SQLITE_INTEGER) throw mismatch("a number");
        const double value = sqlite3_value_double(column);
        if constexpr (sizeof(T) < sizeof(double))
            if (std::isfinite(value) && std::fabs(value) > static_cast<double>(std::numeric_limits<T>::max()))
                throw persist::detail::column_float_out_of_range(statement, index, value);
        return static_cast<T>(value);
    } else if constexpr (std::same_as<T, std::string>) {
        if (type != SQLITE_TEXT) throw mismatch("text");
        const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(column));
        return std::string(text, static_cast<std::size_t>(sqlite3_value_bytes(column)));
    } else if constexpr (std::same_as<T, Blob>) {
        if (type != SQLITE_BLOB) throw mismatch("a blob");
        const auto* bytes = static_cast<const std::byte*>(sqlite3_value_blob(column));
        return Blob(bytes, bytes + sqlite3_value_bytes(column));
    } else if constexpr (detail::is_time_point<T>::value) {
        if (type != SQLITE_TEXT) throw mismatch("a time point (ISO 8601 text)");
        const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(column));
        return read_time<typename T::duration>(std::string_view(text, static_cast<std::size_t>(sqlite3_value_bytes(column))));
    }
}

/// The row reader handed to detail::read_row.
struct Columns {
    sqlite3_stmt* statement;
    template <class V>
    V get(int index) {
        return read_column<V>(statement, index);
    }
};

} // namespace persist::sqlite
