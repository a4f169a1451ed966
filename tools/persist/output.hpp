// tools/persist/output.hpp: what the persist tool prints and how it reads numbers: a JSON
// object builder over nlohmann-json, a progress bar for terminals, and the checks of
// --env-prefix and of numeric arguments.
#pragma once

#include <persist/sqlite/backup.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace persist_cli {

using JsonValue = nlohmann::ordered_json;

/// Compact JSON text; bytes that are not UTF-8 (a table name in a crafted database) become
/// U+FFFD instead of making the document invalid.
inline std::string dump_json(const JsonValue& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// `text` made safe to print on a terminal. A crafted database can hold names with control
/// characters that move the cursor, rewrite the terminal's title or clipboard, or forge lines
/// of output. Those (C0 and DEL, the C1 controls U+0080-U+009F, and bytes that are not UTF-8)
/// are shown escaped: \n, \t, \r, \xNN, \u0080. With `keep_newlines`, '\n' stays a line break
/// (for whole messages; names in a listing are escaped with it false).
inline std::string terminal_text(std::string_view text, bool keep_newlines = true) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    const auto escape_byte = [&](unsigned char c) {
        out += "\\x";
        out += digits[c >> 4];
        out += digits[c & 0xf];
    };
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f) {
            if (c == '\n' && keep_newlines) out += '\n';
            else if (c == '\n') out += "\\n";
            else if (c == '\t') out += "\\t";
            else if (c == '\r') out += "\\r";
            else escape_byte(c);
            ++i;
            continue;
        }
        if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        // A UTF-8 sequence: its length from the lead byte, then continuation bytes 10xxxxxx.
        const std::size_t length = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        bool valid = length > 0 && i + length <= text.size();
        for (std::size_t k = 1; valid && k < length; ++k) valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
        if (!valid) {
            escape_byte(c);
            ++i;
        } else if (c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) { // U+0080-U+009F
            out += "\\u00";
            out += digits[static_cast<unsigned char>(text[i + 1]) >> 4];
            out += digits[static_cast<unsigned char>(text[i + 1]) & 0xf];
            i += 2;
        } else {
            out.append(text.substr(i, length));
            i += length;
        }
    }
    return out;
}

/// A name from the database (table, migration, lock holder's host) for one line of a listing:
/// terminal_text with line breaks escaped too.
inline std::string shown(std::string_view name) { return terminal_text(name, false); }

/// A JSON object built field by field, keys in insertion order.
class Json {
public:
    Json& field(std::string_view key, JsonValue value) {
        value_[std::string(key)] = std::move(value);
        return *this;
    }
    Json& text(std::string_view key, std::string_view value) { return field(key, std::string(value)); }
    Json& number(std::string_view key, std::int64_t value) { return field(key, value); }
    Json& boolean(std::string_view key, bool value) { return field(key, value); }
    const JsonValue& value() const { return value_; }
    std::string str() const { return dump_json(value_); }

private:
    JsonValue value_ = JsonValue::object();
};

inline JsonValue json_array(std::vector<JsonValue> items) { return JsonValue(std::move(items)); }

/// A progress bar on stderr, drawn only when stderr is a terminal.
class ProgressBar {
public:
    explicit ProgressBar(std::string label) : label_(std::move(label)), shown_(::isatty(2) == 1) {}
    ~ProgressBar() {
        if (drawn_) std::fputs("\n", stderr);
    }
    void operator()(const persist::sqlite::Progress& progress) {
        if (!shown_ || progress.total <= 0) return;
        const int percent = static_cast<int>(progress.done * 100 / progress.total);
        if (percent == last_) return;
        last_ = percent;
        const int width = 30, filled = percent * width / 100;
        std::fprintf(stderr, "\r%s [%s%s] %3d%%", label_.c_str(), std::string(static_cast<std::size_t>(filled), '#').c_str(),
                     std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), percent);
        std::fflush(stderr);
        drawn_ = true;
    }

private:
    std::string label_;
    bool shown_;
    bool drawn_ = false;
    int last_ = -1;
};

/// Whether `prefix` can start environment variable names: a letter or '_', then letters,
/// digits and '_', at most 64 characters.
inline bool valid_prefix(const std::string& prefix) {
    if (prefix.empty() || prefix.size() > 64 || std::isdigit(static_cast<unsigned char>(prefix[0]))) return false;
    return std::all_of(prefix.begin(), prefix.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

/// A command-line number: digits only (no sign, no space), within [low, high]. Checked on the
/// text, before CLI11 converts it, so a value beyond 64 bits is refused instead of saturated.
inline CLI::Validator whole_number(std::int64_t low, std::int64_t high) {
    return CLI::Validator(
        [low, high](std::string& text) -> std::string {
            std::int64_t value = 0;
            const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
            const bool digits = !text.empty() && std::isdigit(static_cast<unsigned char>(text[0]));
            if (!digits || parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() || value < low || value > high)
                return "'" + text + "' is not a whole number from " + std::to_string(low) + " to " + std::to_string(high);
            return "";
        },
        "INTEGER in [" + std::to_string(low) + " - " + std::to_string(high) + "]");
}

} // namespace persist_cli
