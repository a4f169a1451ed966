// persist/postgres/connection.hpp: one libpq connection, with TCP keepalives so that a dead
// server or network is noticed in seconds, and errors mapped to persist's types.
#pragma once

#include "persist/error.hpp"
#include "persist/detail/row.hpp"
#include "persist/postgres/errors.hpp"
#include "persist/postgres/values.hpp"

#include <libpq-fe.h>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace persist::postgres {

/// A query result (owns the PGresult).
class Result {
public:
    explicit Result(PGresult* result) : result_(result, &PQclear) {}
    int rows() const noexcept { return PQntuples(result_.get()); }
    int columns() const noexcept { return PQnfields(result_.get()); }
    /// The text of row `r`, column `c`, or nullopt for NULL.
    std::optional<std::string> value(int r, int c) const {
        if (PQgetisnull(result_.get(), r, c)) return std::nullopt;
        return std::string(PQgetvalue(result_.get(), r, c), static_cast<std::size_t>(PQgetlength(result_.get(), r, c)));
    }
    /// Rows changed by an INSERT, UPDATE or DELETE.
    std::int64_t changes() const {
        const char* count = PQcmdTuples(result_.get());
        return count && *count ? std::stoll(count) : 0;
    }
    PGresult* get() const noexcept { return result_.get(); }

private:
    std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

/// One connection to the server.
class Connection {
public:
    /// Connects with `conninfo` (a libpq connection string or URI). Keepalives are on, so a
    /// silent peer is given up on after about 5 + 3 * 2 = 11 s instead of the kernel's 2 hours.
    /// Throws connection_error saying why the server could not be reached.
    explicit Connection(const std::string& conninfo) : connection_(nullptr, &PQfinish) {
        const char* keys[] = {"dbname", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                              "connect_timeout", "application_name", nullptr};
        const char* values[] = {conninfo.c_str(), "1", "5", "2", "3", "10", "persist", nullptr};
        // expand_dbname = 1: the first value is a full connection string; later keys add to it.
        connection_.reset(PQconnectdbParams(keys, values, 1));
        if (!connection_ || PQstatus(connection_.get()) != CONNECTION_OK) {
            const std::string why = connection_ ? PQerrorMessage(connection_.get()) : "out of memory";
            throw connection_error("cannot connect to PostgreSQL (" + redacted(conninfo) + "): " + trimmed(why));
        }
        // Server notices (e.g. "table does not exist, skipping") are not errors; libpq would
        // print them on stderr.
        PQsetNoticeProcessor(connection_.get(), [](void*, const char*) {}, nullptr);
        // Time points are exchanged as UTC text (see values.hpp).
        execute("SET TimeZone = 'UTC'");
        execute("SET DateStyle = 'ISO'");
    }

    PGconn* handle() const noexcept { return connection_.get(); }

    /// Runs `sql` with text parameters ($1, $2, ...; nullopt is NULL). Throws the mapped error.
    Result execute(std::string_view sql, const std::vector<std::optional<std::string>>& params = {}) {
        std::vector<const char*> values;
        for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
        const std::string text(sql);
        Result result(PQexecParams(connection_.get(), text.c_str(), static_cast<int>(values.size()), nullptr,
                                   values.empty() ? nullptr : values.data(), nullptr, nullptr, 0));
        const auto status = PQresultStatus(result.get());
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw_result_error(connection_.get(), result.get(), sql);
        return result;
    }

    /// Runs parameterless SQL that may hold several statements (DDL scripts).
    void execute_script(const std::string& sql) {
        Result result(PQexec(connection_.get(), sql.c_str()));
        const auto status = PQresultStatus(result.get());
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw_result_error(connection_.get(), result.get(), sql);
    }

    /// Whether libpq still considers the connection usable.
    bool ok() const noexcept { return PQstatus(connection_.get()) == CONNECTION_OK; }

    /// ok(), after reading whatever the server sent meanwhile without waiting: a backend the
    /// server terminated (pg_terminate_backend, restart) shows up here as not alive.
    bool alive() noexcept { return PQconsumeInput(connection_.get()) == 1 && ok(); }

    /// Runs `sql` with `params` bound to $1, $2, ... (persist value types).
    template <class... Params>
    Result run(std::string_view sql, const Params&... params) {
        return execute(sql, text_params(params...));
    }

    /// Every row of `sql`, read as RowType (a value, a tuple or an aggregate; see
    /// persist/detail/row.hpp).
    template <class RowType, class... Params>
    std::vector<RowType> query(std::string_view sql, const Params&... params) {
        const Result result = run(sql, params...);
        std::vector<RowType> rows;
        rows.reserve(static_cast<std::size_t>(result.rows()));
        for (int r = 0; r < result.rows(); ++r) {
            Columns columns(result.get(), r);
            rows.push_back(persist::detail::read_row<RowType>(columns));
        }
        return rows;
    }

    /// The server process serving this connection (for pg_terminate_backend in tests).
    int backend_pid() const noexcept { return PQbackendPID(connection_.get()); }

private:
    static std::string trimmed(std::string text) {
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        return text;
    }
    // Connection strings may hold a password: never put it in a message.
    static std::string redacted(const std::string& conninfo) {
        std::string out;
        std::size_t i = 0;
        while (i < conninfo.size()) {
            const auto at = conninfo.find("password=", i);
            if (at == std::string::npos) {
                out += conninfo.substr(i);
                break;
            }
            out += conninfo.substr(i, at - i) + "password=***";
            i = conninfo.find(' ', at);
            if (i == std::string::npos) break;
        }
        return out;
    }

    std::unique_ptr<PGconn, decltype(&PQfinish)> connection_;
};

} // namespace persist::postgres
