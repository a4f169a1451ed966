// persist/detail/sql_text.hpp: what persist reads from SQL text it did not write (migration
// files, dumps) before anything runs: NUL bytes, and statements that would take control of
// the transaction or reach outside the database. Each backend splits its own scripts (its
// quoting rules differ); the rules for one statement are shared here.
#pragma once

#include "persist/error.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace persist::detail {

/// Where SQL from a file runs: inside the transaction persist opened for it, or on its own
/// (a migration marked "-- persist:no-transaction").
enum class ScriptPlace { in_transaction, outside_transaction };

/// The index of the first character at or after `i` that is not white space or part of a
/// comment (-- to the end of the line, /* ... */); `also` names more characters to skip.
inline std::size_t skip_blank(std::string_view statement, std::size_t i, std::string_view also = {}) {
    while (i < statement.size()) {
        const char c = statement[i];
        if (std::isspace(static_cast<unsigned char>(c)) || also.find(c) != std::string_view::npos) {
            ++i;
        } else if (c == '-' && i + 1 < statement.size() && statement[i + 1] == '-') {
            const auto end = statement.find('\n', i);
            i = end == std::string_view::npos ? statement.size() : end + 1;
        } else if (c == '/' && i + 1 < statement.size() && statement[i + 1] == '*') {
            const auto end = statement.find("*/", i + 2);
            i = end == std::string_view::npos ? statement.size() : end + 2;
        } else {
            break;
        }
    }
    return i;
}

/// The first `count` words of `statement`, upper-cased, skipping white space and comments
/// and the dot of "schema.name". A word is letters, digits and '_'; anything else ends the
/// scan ("PRAGMA main.user_version = 1" gives PRAGMA, MAIN, USER_VERSION).
inline std::vector<std::string> leading_words(std::string_view statement, std::size_t count) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (words.size() < count) {
        i = skip_blank(statement, i, words.empty() ? std::string_view() : std::string_view("."));
        if (i >= statement.size() || !(std::isalnum(static_cast<unsigned char>(statement[i])) || statement[i] == '_')) break;
        std::string word;
        while (i < statement.size() && (std::isalnum(static_cast<unsigned char>(statement[i])) || statement[i] == '_'))
            word += static_cast<char>(std::toupper(static_cast<unsigned char>(statement[i++])));
        words.push_back(std::move(word));
    }
    return words;
}

/// Throws usage_error if the statement text `sql` holds a NUL byte: SQLite and libpq stop
/// reading there, so only the text before it would run ("DELETE FROM t\0 WHERE id = 1" would
/// empty the table).
inline void refuse_nul(std::string_view sql) {
    if (const auto at = sql.find('\0'); at != std::string_view::npos)
        throw usage_error("the SQL text holds a NUL byte at offset " + std::to_string(at) +
                          ", where it would end, and only the text before it would run [" + std::string(sql.substr(0, at)) +
                          "]; remove it");
}

/// 'text' with embedded quotes doubled, as an SQL string literal. Throws usage_error for a
/// NUL byte, which would end the SQL text.
inline std::string single_quote(std::string_view text) {
    if (text.find('\0') != std::string_view::npos) throw usage_error("an SQL string literal cannot hold a NUL byte");
    std::string quoted = "'";
    for (char c : text) {
        if (c == '\'') quoted += '\'';
        quoted += c;
    }
    return quoted + "'";
}

/// Whether `statement` holds anything besides white space, comments and semicolons.
inline bool has_content(std::string_view statement) { return skip_blank(statement, 0, ";") < statement.size(); }

/// Why `statement` may not run from a file at `place`, or "" when it may. Refused: transaction
/// control (BEGIN, START, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE
/// TRANSACTION), ATTACH and DETACH, and VACUUM inside a transaction. The backends check PRAGMA
/// and what a statement really does when they prepare it; this is the check that needs no
/// database, so a bad migration is refused before anything runs.
inline std::string statement_problem(std::string_view statement, ScriptPlace place) {
    const auto words = leading_words(statement, 3);
    if (words.empty()) return "";
    const std::string& first = words[0];
    static constexpr std::string_view control[] = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK",
                                                   "ABORT", "SAVEPOINT", "RELEASE"};
    if (std::find(std::begin(control), std::end(control), first) != std::end(control) ||
        (first == "PREPARE" && words.size() > 1 && words[1] == "TRANSACTION"))
        return first + " controls the transaction, which persist owns: a migration or dump must not begin, "
                       "commit or roll back (persist runs each migration in a transaction of its own; mark one "
                       "that cannot run in a transaction with '-- persist:no-transaction')";
    if (first == "ATTACH" || first == "DETACH")
        return first + " reaches another database file; SQL from a migration or dump may only change this database";
    if (first == "VACUUM" && std::find(words.begin(), words.end(), "INTO") != words.end())
        return "VACUUM INTO writes another file; SQL from a migration or dump may only change this database";
    if (first == "VACUUM" && place == ScriptPlace::in_transaction)
        return "VACUUM cannot run inside a transaction; put it in a migration of its own marked "
               "'-- persist:no-transaction'";
    return "";
}

/// Whether `statement` begins, ends or splits a transaction (BEGIN, START, COMMIT, END,
/// ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION), comments and case aside.
inline bool controls_transaction(std::string_view statement) {
    return statement_problem(statement, ScriptPlace::in_transaction).find(" controls the transaction") != std::string::npos;
}

/// The message for a statement run through a transaction object that would control the
/// transaction itself.
inline std::string transaction_control_refused(std::string_view sql) {
    std::string message = "["; // appended, not "[" + std::string: GCC 12 -O3 warns falsely (-Wrestrict) on that
    message.append(sql);
    message += "] controls the transaction, which persist owns: return from the function to commit, throw to roll "
               "back, and use tx.savepoint(fn) for a savepoint";
    return message;
}

/// The first line of `statement`, shortened for messages.
inline std::string excerpt(std::string_view statement) {
    std::size_t start = 0;
    while (start < statement.size() && std::isspace(static_cast<unsigned char>(statement[start]))) ++start;
    std::string_view rest = statement.substr(start);
    const auto end = rest.find('\n');
    if (end != std::string_view::npos) rest = rest.substr(0, end);
    if (rest.size() > 80) return std::string(rest.substr(0, 77)) + "...";
    return std::string(rest);
}

/// "[<excerpt of statement>]: <problem>", a line of a script's problem list. (Built by
/// appending: GCC 12 at -O2 reports a bogus -Wrestrict for "literal" + std::string&&, GCC
/// bug 105329.)
inline std::string problem_line(std::string_view statement, std::string_view problem) {
    std::string line = "[";
    line += excerpt(statement);
    line += "]: ";
    line += problem;
    return line;
}

} // namespace persist::detail
