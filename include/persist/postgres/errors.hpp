// persist/postgres/errors.hpp: PostgreSQL errors (SQLSTATE codes) mapped onto persist's
// exception types, so code written against the SQLite backend handles them unchanged.
//
//   40001 serialization_failure, 40P01 deadlock_detected   busy_error (retriable: Store runs
//                                                          the whole transaction again)
//   55P03 lock_not_available (lock_timeout)                 lock_timeout_error
//   57014 query_canceled (statement_timeout)                statement_timeout_error
//   23xxx integrity constraint violations                   constraint_error
//   22xxx data exceptions (invalid text, out of range)      data_error
//   42xxx syntax errors and undefined objects               schema_error (42601 with a ? and no $n:
//                                                          says to write $1, $2, ...)
//   08xxx, 57P01-57P03 connection lost, server shut down    connection_error (retriable)
//   25006 read_only_sql_transaction (a write in read())    usage_error, as on SQLite
//   08P01 "bind message supplies N parameters" (wrong count) usage_error, as on SQLite
//   53xxx insufficient resources (disk full, memory)        io_error
//   XX001, XX002 data corrupted                              corrupt_error
//   no answer within Config::response_timeout                response_timeout_error (a connection_error)
//   anything else                                           io_error, naming the SQLSTATE
// Every one carries the SQLSTATE: error::sql_state(), and packed in native_code().
#pragma once

#include "persist/error.hpp"

#include <libpq-fe.h>
#include <cstdlib>
#include <string>
#include <string_view>

namespace persist::postgres {

/// The server did not answer a request within Config::response_timeout. persist sent a cancel
/// request and closed the connection, so the transaction was not committed (a COMMIT that got
/// no answer is commit_outcome_unknown instead). Retriable: the network path or the server was
/// stuck, and a new connection may work.
class response_timeout_error : public connection_error {
public:
    explicit response_timeout_error(const std::string& message) : connection_error(message) {}
};

namespace detail {
/// Whether `sql` looks written for SQLite's parameters: a `?` outside quotes and no `$1`-style
/// placeholder. (On PostgreSQL `?` is a jsonb operator, which a statement with $n beside it
/// may well use.)
inline bool has_sqlite_placeholders(std::string_view sql) {
    bool question = false;
    char quote = 0;
    for (std::size_t i = 0; i < sql.size(); ++i) {
        const char c = sql[i];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            return false;
        } else if (c == '?') {
            question = true;
        }
    }
    return question;
}
} // namespace detail

/// Throws the persist error for SQLSTATE `state` with the server's `message`; `context` (the
/// SQL, or what was being done) is appended in brackets. `constraint` names the violated
/// constraint, for constraint_error.
[[noreturn]] inline void throw_error(std::string_view state, const std::string& message, std::string_view context,
                                     const std::string& constraint = {}) {
    const std::string text = message + " (SQLSTATE " + std::string(state) + ") [" + std::string(context) + "]";
    auto starts = [&](std::string_view prefix) { return state.substr(0, prefix.size()) == prefix; };
    auto raise = [&](auto failure) {
        failure.attach_sql_state(state);
        throw failure;
    };
    if (state == "40001" || state == "40P01")
        raise(busy_error(text + "; the transaction conflicted with another and is safe to run again"));
    if (state == "55P03") raise(lock_timeout_error(text + "; another transaction held the row or table lock past lock_timeout"));
    if (state == "57014") raise(statement_timeout_error(text + "; raise statement_timeout or make the statement cheaper"));
    if (starts("23"))
        raise(constraint_error(text + "; check the values, or use an upsert for rows that may exist", constraint));
    if (starts("22")) raise(data_error(text + "; the value does not fit its column's type: check it before writing"));
    const char* placeholders = detail::has_sqlite_placeholders(context)
                                   ? "; PostgreSQL numbers parameters $1, $2, ... where SQLite takes ?: write $1 for "
                                     "the first (docs/postgresql.md, \"Moving an application from SQLite to PostgreSQL\")"
                                   : "";
    if (state == "42601") raise(schema_error(text + placeholders));
    if (starts("42")) raise(schema_error(text));
    if (state == "25006") raise(usage_error(text + "; store.read() runs READ ONLY transactions: do it inside store.write()"));
    // A parameter count that does not match the statement: the server reports a protocol
    // violation, but the connection is fine and the mistake is the caller's (as on SQLite).
    if (state == "08P01" && message.find("bind message supplies") != std::string::npos)
        raise(usage_error(text + "; give one value per $n placeholder" + placeholders));
    if (starts("08") || state == "57P01" || state == "57P02" || state == "57P03")
        raise(connection_error(text + "; the connection to the server is gone"));
    if (starts("53")) raise(io_error(text));
    if (state == "XX001" || state == "XX002") raise(corrupt_error(text));
    raise(io_error(text));
    std::abort(); // not reached: raise throws
}

/// Throws the persist error for a failed `result` (which may be null: then the connection's
/// own message is used and the error is connection_error).
[[noreturn]] inline void throw_result_error(PGconn* connection, const PGresult* result, std::string_view context) {
    const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    const char* constraint = result ? PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME) : nullptr;
    const std::string message = primary ? primary : (connection ? PQerrorMessage(connection) : "no connection");
    if (!state || PQstatus(connection) == CONNECTION_BAD)
        throw connection_error("PostgreSQL: " + message + " [" + std::string(context) + "]; the connection to the server is gone");
    throw_error(state, "PostgreSQL: " + message, context, constraint ? constraint : "");
}

} // namespace persist::postgres
