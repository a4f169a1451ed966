// persist/value.hpp: the C++ types that can be bound as SQL parameters and read from
// result columns, shared by every backend.
//
//   integers (up to 64 bits), bool (0/1), float/double, std::string, std::string_view,
//   const char* (NULL when null), Blob / std::span<const std::byte>, std::optional<T>,
//   std::nullopt and nullptr (NULL), and std::chrono::system_clock time points.
//
// Time points are stored as UTC text in ISO 8601 with microseconds, e.g.
// "2026-11-23T08:15:30.123456Z": it sorts correctly as text, reads well in the sqlite3
// shell, and SQLite's date functions accept it. Reading also accepts SQLite's own
// CURRENT_TIMESTAMP form "2026-11-23 08:15:30" (seconds, no zone; taken as UTC). The form holds
// the years 0000-9999; a value is never wrapped into another date, either way (format_time,
// read_time).
#pragma once

#include "persist/error.hpp"

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace persist {

/// Bytes stored in a BLOB column.
using Blob = std::vector<std::byte>;

namespace detail {
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};

template <class T> struct is_time_point : std::false_type {};
template <class D>
struct is_time_point<std::chrono::time_point<std::chrono::system_clock, D>> : std::true_type {};
} // namespace detail

/// A C++ integer type persist stores as a 64-bit SQL integer (bool excluded).
template <class T>
concept SqlInteger = std::integral<T> && !std::same_as<T, bool> && sizeof(T) <= 8;

/// A type that can be read from a column (and, for all but none, bound as a parameter).
template <class T>
concept ColumnValue =
    SqlInteger<T> || std::same_as<T, bool> || std::floating_point<T> ||
    std::same_as<T, std::string> || std::same_as<T, Blob> || detail::is_time_point<T>::value ||
    (detail::is_optional<T>::value && !detail::is_optional<typename T::value_type>::value);

/// Several values bound to consecutive parameters, for IN (?, ?, ...) lists whose length is
/// known only at run time. Counts as values.size() parameters.
template <class V>
struct Many {
    std::vector<V> values;
};

namespace detail {
template <class T> struct is_many : std::false_type {};
template <class V> struct is_many<Many<V>> : std::true_type {};
} // namespace detail

/// A type that can be bound as a parameter.
template <class T>
concept Parameter = detail::is_many<std::remove_cvref_t<T>>::value ||
    ColumnValue<std::remove_cvref_t<T>> || std::convertible_to<T, std::string_view> ||
    std::convertible_to<T, std::span<const std::byte>> || std::same_as<std::remove_cvref_t<T>, std::nullptr_t> ||
    std::same_as<std::remove_cvref_t<T>, std::nullopt_t>;

namespace detail {
/// Seconds since the epoch, as a long double: computed without overflow whatever `time`'s
/// duration (converting a coarse one to microseconds could overflow).
template <class Duration>
long double epoch_seconds(std::chrono::time_point<std::chrono::system_clock, Duration> time) {
    return std::chrono::duration_cast<std::chrono::duration<long double>>(time.time_since_epoch()).count();
}
/// The span of persist's text form: 0000-01-01T00:00:00Z up to (excluding) 10000-01-01.
inline constexpr long double first_stored_second = -62167219200.0L;
inline constexpr long double end_stored_second = 253402300800.0L;
} // namespace detail

/// Formats a time point as persist stores it: "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC). Throws
/// data_error for one outside the years 0000-9999, which that form cannot hold (and which
/// persist could not read back).
template <class Duration>
std::string format_time(std::chrono::time_point<std::chrono::system_clock, Duration> time) {
    using namespace std::chrono;
    if (const long double at = detail::epoch_seconds(time);
        !(at >= detail::first_stored_second && at < detail::end_stored_second)) {
        char seconds_text[64];
        std::snprintf(seconds_text, sizeof seconds_text, "%.0Lf", at);
        throw data_error(std::string("a time point ") + seconds_text +
                         " s from 1970 is outside the years 0000-9999 that persist stores as text; store it "
                         "as an integer, or check the value before writing");
    }
    const auto micros = time_point_cast<microseconds>(time);
    const auto day = floor<days>(micros);
    const year_month_day date{day};
    const hh_mm_ss clock{micros - day};
    char text[40];
    std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02lld.%06lldZ", int(date.year()),
                  unsigned(date.month()), unsigned(date.day()), int(clock.hours().count()),
                  int(clock.minutes().count()), static_cast<long long>(clock.seconds().count()),
                  static_cast<long long>(clock.subseconds().count()));
    return text;
}

/// Parses the forms described at the top of this header. Throws schema_error naming the
/// text when it is not one of them. (read_time converts to another time point type.)
inline std::chrono::sys_time<std::chrono::microseconds> parse_time(std::string_view text) {
    using namespace std::chrono;
    auto fail = [&]() -> schema_error {
        return schema_error("cannot read \"" + std::string(text) +
                            "\" as a time point; persist expects UTC ISO 8601 such as "
                            "2026-11-23T08:15:30.123456Z (or SQLite's 2026-11-23 08:15:30)");
    };
    auto digits = [&](std::size_t at, std::size_t count) {
        if (at + count > text.size()) throw fail();
        int value = 0;
        for (std::size_t i = at; i < at + count; ++i) {
            if (text[i] < '0' || text[i] > '9') throw fail();
            value = value * 10 + (text[i] - '0');
        }
        return value;
    };
    if (text.size() < 19 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != ' ') ||
        text[13] != ':' || text[16] != ':')
        throw fail();
    const year_month_day date{year{digits(0, 4)}, month{unsigned(digits(5, 2))},
                              day{unsigned(digits(8, 2))}};
    if (!date.ok()) throw fail();
    const int hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
    if (hour > 23 || minute > 59 || second > 60) throw fail();
    std::size_t at = 19;
    long long micros = 0;
    if (at < text.size() && text[at] == '.') {
        ++at;
        int scale = 100000, count = 0;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            micros += (text[at] - '0') * scale;
            scale /= 10;
            ++at;
            ++count;
        }
        if (count == 0) throw fail();
    }
    if (at < text.size() && text[at] == 'Z') ++at;
    if (at != text.size()) throw fail();
    return sys_days{date} + hours{hour} + minutes{minute} + seconds{second} + microseconds{micros};
}

/// parse_time(text) as a time point of duration `Duration`. Throws schema_error naming the
/// text if that type cannot hold it: std::chrono::system_clock::time_point counts nanoseconds
/// in 64 bits, so it holds only 1677-09-21 to 2262-04-11, and "9999-12-31" read into it would
/// otherwise overflow into a wrong date.
template <class Duration>
std::chrono::time_point<std::chrono::system_clock, Duration> read_time(std::string_view text) {
    using namespace std::chrono;
    const auto parsed = parse_time(text);
    using Target = time_point<system_clock, Duration>;
    const long double at = detail::epoch_seconds(parsed);
    // A second inside the target's limits, so that rounding of the long doubles cannot matter.
    const long double low = detail::epoch_seconds(Target::min()) + 1, high = detail::epoch_seconds(Target::max()) - 1;
    if (at <= low || at >= high) {
        // Only a type narrower than the years 0000-9999 gets here: its limits are ordinary dates.
        auto date = [](long double s) { return format_time(sys_seconds(seconds(static_cast<long long>(s)))).substr(0, 10); };
        throw schema_error("cannot read \"" + std::string(text) + "\" into this time point type: it holds only " +
                           date(low) + " to " + date(high) +
                           "; read the column as std::chrono::sys_time<std::chrono::microseconds>");
    }
    return time_point_cast<Duration>(parsed);
}

/// Names the row type of a query by value, so that code in a generic lambda needs no
/// `template` keyword: tx.query(persist::as<Task>, "SELECT ..."), the same as
/// tx.template query<Task>("SELECT ..."). Also taken by query_one and for_each.
template <class RowType>
struct as_t {
    explicit as_t() = default;
};
template <class RowType>
inline constexpr as_t<RowType> as{};

} // namespace persist
