// persist/sqlite/script.hpp: running SQL text persist did not write (migrations, dumps,
// Transaction::execute_script) one prepared statement at a time, under an authorizer.
//
// sqlite3_exec would run whatever the text holds: a COMMIT that ends persist's transaction
// early, an ATTACH or VACUUM INTO that writes files anywhere, a PRAGMA that turns off
// journaling. Here each statement is prepared alone while an authorizer refuses, at prepare
// time: transaction control and savepoints, ATTACH/DETACH (and so VACUUM, which attaches a
// scratch database; plain VACUUM is allowed outside a transaction), and PRAGMAs other than
// reads and a short list of harmless writes. A refusal is a usage_error naming the statement;
// nothing of that statement runs. Text holding a NUL byte is refused whole: SQLite would stop
// reading at the NUL and silently skip the rest.
#pragma once

#include "persist/detail/sql_text.hpp"
#include "persist/error.hpp"
#include "persist/sqlite/errors.hpp"

#include <algorithm>
#include <sqlite3.h>
#include <string>
#include <string_view>
#include <vector>

namespace persist::sqlite {

using persist::detail::ScriptPlace;

namespace script_detail {

/// PRAGMAs a script may read without an argument.
inline bool readable_pragma(std::string_view name) {
    static constexpr std::string_view names[] = {
        "application_id", "collation_list", "compile_options", "data_version", "database_list", "defer_foreign_keys",
        "encoding", "foreign_keys", "freelist_count", "function_list", "journal_mode", "module_list", "page_count",
        "page_size", "pragma_list", "schema_version", "table_list", "user_version", "foreign_key_check",
        "integrity_check", "quick_check"};
    return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

/// PRAGMAs whose argument names what to read (a table, an index), not a new value.
inline bool pragma_reads_argument(std::string_view name) {
    static constexpr std::string_view names[] = {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                                                 "foreign_key_list", "foreign_key_check", "integrity_check",
                                                 "quick_check", "table_list"};
    return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

/// PRAGMAs a script may set. In a transaction: only what belongs to it (defer_foreign_keys)
/// or to the file's header (user_version, application_id). Outside a transaction, also the
/// settings SQLite's table-rebuild recipe needs; persist restores them afterwards.
inline bool writable_pragma(std::string_view name, ScriptPlace place) {
    if (name == "defer_foreign_keys" || name == "user_version" || name == "application_id") return true;
    return place == ScriptPlace::outside_transaction && (name == "foreign_keys" || name == "legacy_alter_table");
}

/// Lower-cased copy, for PRAGMA names (SQLite passes them as written).
inline std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

/// Why the authorizer refuses action `code` with arguments `a`, `b`, or "" to allow it.
inline std::string refusal(int code, const char* a, const char* b, ScriptPlace place) {
    switch (code) {
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        return "it controls the transaction, which persist owns";
    case SQLITE_ATTACH:
        // VACUUM attaches a scratch database with an empty name; VACUUM INTO names its file.
        if (place == ScriptPlace::outside_transaction && a && *a == '\0') return "";
        return a && *a ? "it writes or attaches another file (" + std::string(a) + ")" : "it attaches another database";
    case SQLITE_DETACH:
        return "it detaches a database";
    case SQLITE_PRAGMA: {
        const std::string name = lower(a ? a : "");
        if (b == nullptr && readable_pragma(name)) return "";
        if (b != nullptr && pragma_reads_argument(name)) return "";
        if (writable_pragma(name, place)) return "";
        return "PRAGMA " + name + (b ? " with a value" : "") + " is not allowed in SQL persist runs from a file or script";
    }
    case SQLITE_FUNCTION:
        if (b && lower(b) == "load_extension") return "it loads a shared library";
        return "";
    default:
        return "";
    }
}

struct Authorizer {
    ScriptPlace place;
    bool preparing = false;
    std::string refused;

    static int callback(void* self, int code, const char* a, const char* b, const char*, const char*) {
        auto* state = static_cast<Authorizer*>(self);
        // Statements are judged when they are prepared. While one runs, SQLite's own inner
        // statements (VACUUM's BEGIN, reads and writes of its scratch copy) pass; but VACUUM
        // asks to attach its target only then, so ATTACH is judged in both phases.
        if (!state->preparing && code != SQLITE_ATTACH) return SQLITE_OK;
        auto why = refusal(code, a, b, state->place);
        if (why.empty()) return SQLITE_OK;
        if (state->refused.empty()) state->refused = std::move(why);
        return SQLITE_DENY;
    }
};

/// Installs an authorizer for the lifetime of the object, and removes it afterwards.
class AuthorizerScope {
public:
    AuthorizerScope(sqlite3* db, Authorizer& authorizer) : db_(db) {
        sqlite3_set_authorizer(db_, &Authorizer::callback, &authorizer);
    }
    ~AuthorizerScope() { sqlite3_set_authorizer(db_, nullptr, nullptr); }
    AuthorizerScope(const AuthorizerScope&) = delete;
    AuthorizerScope& operator=(const AuthorizerScope&) = delete;

private:
    sqlite3* db_;
};

} // namespace script_detail

/// The statements of `script`, split where SQLite would end them (sqlite3_complete, which
/// knows quotes, comments and CREATE TRIGGER ... END). Trailing text without a semicolon is
/// the last statement; statements holding only white space and comments are dropped.
/// Throws usage_error when the text holds a NUL byte.
inline std::vector<std::string> split_statements(std::string_view script) {
    if (script.find('\0') != std::string_view::npos)
        throw usage_error("the SQL text holds a NUL byte at offset " + std::to_string(script.find('\0')) +
                          "; SQLite would stop reading there and silently skip the rest. Remove it");
    std::vector<std::string> statements;
    std::string current;
    auto keep = [&] {
        if (persist::detail::has_content(current)) statements.push_back(current);
        current.clear();
    };
    for (char c : script) {
        current += c;
        if (c == ';' && sqlite3_complete(current.c_str())) keep();
    }
    keep();
    return statements;
}

/// Every reason `script` may not run at `place`, found without a database: a NUL byte,
/// transaction control, ATTACH/DETACH, VACUUM in a transaction, PRAGMAs that write. Empty
/// when nothing is wrong. What a statement does beyond its first words is judged again by
/// run_script() when it is prepared.
inline std::vector<std::string> script_problems(std::string_view script, ScriptPlace place) {
    std::vector<std::string> problems;
    std::vector<std::string> statements;
    try {
        statements = split_statements(script);
    } catch (const usage_error& e) {
        problems.push_back(e.what());
        return problems;
    }
    for (const auto& statement : statements) {
        auto problem = persist::detail::statement_problem(statement, place);
        const auto words = persist::detail::leading_words(statement, 3);
        if (problem.empty() && !words.empty() && words[0] == "PRAGMA" && words.size() > 1) {
            // PRAGMA [schema.]name [= value | (argument)]
            const auto at = statement.find_first_of("=(");
            const std::string name = script_detail::lower(statement.find('.') < at && words.size() > 2 ? words[2] : words[1]);
            const bool has_value = at != std::string::npos;
            const bool allowed = has_value ? script_detail::pragma_reads_argument(name) || script_detail::writable_pragma(name, place)
                                           : script_detail::readable_pragma(name) || script_detail::writable_pragma(name, place);
            if (!allowed) problem = "PRAGMA " + name + " is not allowed in SQL persist runs from a file or script";
        }
        if (!problem.empty()) problems.push_back(persist::detail::problem_line(statement, problem));
    }
    return problems;
}

/// Runs `script` on `db`: first script_problems() on the whole text (nothing runs if it finds
/// any), then one prepared statement at a time, under the authorizer described at the top of
/// this file. `what` names the script's origin in messages ("migration 3",
/// "dump app.sql"). Statements before a failing one stay done (run it in a transaction to
/// undo them). Throws usage_error for a NUL byte or a refused statement (nothing of it ran),
/// otherwise the mapped SQLite error naming the statement.
inline void run_script(sqlite3* db, std::string_view script, ScriptPlace place, std::string_view what) {
    if (const auto problems = script_problems(script, place); !problems.empty()) {
        std::string message = std::string(what) + ": refused before anything ran:";
        for (const auto& problem : problems) message += "\n  " + problem;
        throw usage_error(message);
    }
    script_detail::Authorizer authorizer{place, false, {}};
    script_detail::AuthorizerScope scope(db, authorizer);
    const char* next = script.data();
    const char* end = script.data() + script.size();
    while (next < end) {
        sqlite3_stmt* statement = nullptr;
        const char* tail = nullptr;
        authorizer.preparing = true;
        const int prepared = sqlite3_prepare_v2(db, next, static_cast<int>(end - next), &statement, &tail);
        authorizer.preparing = false;
        const std::string_view text(next, static_cast<std::size_t>((tail ? tail : end) - next));
        if (prepared != SQLITE_OK) {
            sqlite3_finalize(statement);
            if (!authorizer.refused.empty())
                throw usage_error(std::string(what) + ": refused [" + persist::detail::excerpt(text) + "]: " +
                                  authorizer.refused + "; nothing of this statement ran");
            throw_last_error(db, std::string(what) + ": " + persist::detail::excerpt(text));
        }
        next = tail ? tail : end;
        if (!statement) continue; // white space or a comment
        // While it steps, SQLite's own inner statements (VACUUM's) pass; a re-prepare after a
        // schema change compiles the same approved text again.
        int rc;
        while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        }
        if (rc != SQLITE_DONE) {
            const int code = sqlite3_extended_errcode(db);
            const std::string message = sqlite3_errmsg(db);
            sqlite3_finalize(statement);
            if (!authorizer.refused.empty())
                throw usage_error(std::string(what) + ": refused [" + persist::detail::excerpt(text) + "]: " +
                                  authorizer.refused + "; nothing of this statement ran");
            throw_error(code, message, std::string(what) + ": " + persist::detail::excerpt(text));
        }
        sqlite3_finalize(statement);
    }
}

} // namespace persist::sqlite
