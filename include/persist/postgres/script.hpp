// persist/postgres/script.hpp: splitting an SQL script into its statements, for statements
// that must each run alone (CREATE INDEX CONCURRENTLY refuses to run in a multi-statement
// query, which PostgreSQL executes as one transaction).
#pragma once

#include "persist/error.hpp"

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace persist::postgres {

/// The statements of `script`, split at semicolons outside quotes ('...', "...", E'...'),
/// dollar quotes ($$...$$, $tag$...$tag$; a "$" inside a name such as a$b is part of the name)
/// and comments (-- and nested /* */). Statements that hold only whitespace and comments
/// are dropped. Throws usage_error for an unterminated quote or comment, naming where it
/// starts.
inline std::vector<std::string> split_statements(std::string_view script) {
    std::vector<std::string> statements;
    std::size_t start = 0, i = 0;
    bool meaningful = false; // the current statement has something besides space and comments
    std::size_t escape_string_at = std::string_view::npos; // where a quote opens an E'...' string
    auto identifier_start = [](char c) {
        return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
    };
    auto unterminated = [&](const char* what, std::size_t at) {
        return usage_error(std::string("the SQL script has an unterminated ") + what + " starting at byte " +
                           std::to_string(at) + "; close it");
    };
    auto finish = [&](std::size_t end) {
        if (meaningful) statements.emplace_back(script.substr(start, end - start));
        start = end + 1;
        meaningful = false;
    };
    while (i < script.size()) {
        const char c = script[i];
        if (c == '-' && i + 1 < script.size() && script[i + 1] == '-') {
            const auto end = script.find('\n', i);
            i = end == std::string_view::npos ? script.size() : end + 1;
        } else if (c == '/' && i + 1 < script.size() && script[i + 1] == '*') {
            const std::size_t at = i;
            int depth = 1;
            i += 2;
            while (depth > 0) {
                if (i + 1 >= script.size()) throw unterminated("comment", at);
                if (script[i] == '/' && script[i + 1] == '*') ++depth, i += 2;
                else if (script[i] == '*' && script[i + 1] == '/') --depth, i += 2;
                else ++i;
            }
        } else if (identifier_start(c)) {
            // A keyword or name, '$' included after its first character (a$b is one name, not
            // a dollar quote). A lone E before a quote makes the string an escape string.
            std::size_t j = i + 1;
            while (j < script.size() && (identifier_start(script[j]) || script[j] == '$' ||
                                         std::isdigit(static_cast<unsigned char>(script[j]))))
                ++j;
            escape_string_at = (j == i + 1 && (c == 'E' || c == 'e')) ? j : std::string_view::npos;
            meaningful = true;
            i = j;
        } else if (c == '\'' || c == '"') {
            // Doubled quotes stay inside; E'..' strings may also escape with a backslash.
            const bool escapes = c == '\'' && i == escape_string_at;
            const std::size_t at = i++;
            for (;;) {
                if (i >= script.size()) throw unterminated(c == '\'' ? "string" : "quoted identifier", at);
                if (escapes && script[i] == '\\') i += 2;
                else if (script[i] == c && i + 1 < script.size() && script[i + 1] == c) i += 2;
                else if (script[i++] == c) break;
            }
            meaningful = true;
        } else if (c == '$') {
            // $tag$ where tag is empty or an identifier not starting with a digit ($1 is a parameter).
            std::size_t j = i + 1;
            while (j < script.size() && (std::isalnum(static_cast<unsigned char>(script[j])) || script[j] == '_')) ++j;
            const bool tag = j < script.size() && script[j] == '$' &&
                             (j == i + 1 || !std::isdigit(static_cast<unsigned char>(script[i + 1])));
            if (tag) {
                const std::string_view delimiter = script.substr(i, j - i + 1);
                const auto end = script.find(delimiter, j + 1);
                if (end == std::string_view::npos) throw unterminated("dollar-quoted string", i);
                i = end + delimiter.size();
            } else {
                i = j;
            }
            meaningful = true;
        } else if (c == ';') {
            finish(i);
            ++i;
        } else {
            if (!std::isspace(static_cast<unsigned char>(c))) meaningful = true;
            ++i;
        }
    }
    finish(script.size());
    return statements;
}

} // namespace persist::postgres
