// persist/postgres/connection.hpp: one libpq connection, with TCP keepalives so that a dead
// server or network is noticed in seconds, a cache of prepared statements, and errors mapped
// to persist's types.
#pragma once

#include "persist/config.hpp"
#include "persist/error.hpp"
#include "persist/detail/lru_cache.hpp"
#include "persist/detail/row.hpp"
#include "persist/detail/sql_text.hpp"
#include "persist/postgres/async.hpp"
#include "persist/postgres/errors.hpp"
#include "persist/postgres/result.hpp"
#include "persist/postgres/values.hpp"

#include <libpq-fe.h>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// libpq 14 added pipeline mode, which sends a transaction's BEGIN with its first statement.
// With an older libpq, or PERSIST_POSTGRES_NO_PIPELINE defined, BEGIN goes out on its own
// (one more round trip per transaction; the tests build both ways).
#if defined(LIBPQ_HAS_PIPELINING) && !defined(PERSIST_POSTGRES_NO_PIPELINE)
#define PERSIST_POSTGRES_PIPELINE 1
#endif

namespace persist::postgres {

/// One connection to the server.
///
/// Statements with parameters are prepared once per connection (PQprepare, named p1, p2, ...)
/// and run with PQexecPrepared afterwards; the least recently used are deallocated beyond
/// the cache's capacity. A prepared SELECT whose tables later change their column types fails
/// once with "cached plan must not change result type"; persist then drops it from the cache,
/// so the next run prepares it afresh.
/// Thread-safety: one thread at a time (a Store's pool hands each connection to one session).
class Connection {
public:
    /// The response timeout of a connection made without one (Config::response_timeout's default
    /// when statement_timeout is unset).
    static constexpr std::chrono::milliseconds default_response_timeout{65'000};

    /// The response timeout `config` asks for (see Config::response_timeout). Throws
    /// config_error for a negative one.
    static std::chrono::milliseconds response_timeout_for(const Config& config) {
        return detail::response_timeout_for(config, default_response_timeout);
    }

    /// Connects with `conninfo` (a libpq connection string or URI). What the string (or
    /// libpq's environment: PGAPPNAME, PGCONNECT_TIMEOUT) sets is kept; persist adds only what
    /// it leaves out: keepalives on, so a silent peer is given up on after about 5 + 3 * 2 =
    /// 11 s instead of the kernel's 2 hours, tcp_user_timeout 10 s (data the peer never
    /// acknowledges), connect_timeout 10 s, application_name "persist". The server side of the
    /// session gets the same keepalives (tcp_keepalives_idle 5, _interval 2, _count 3,
    /// tcp_user_timeout 10 s) and client_connection_check_interval 2 s, where the server's own
    /// configuration leaves them at their built-in defaults: a client whose host vanished
    /// loses its session, and the advisory locks it held, within about 15 s.
    /// Connecting ends by `connect_deadline` or connect_timeout, whichever is first; every
    /// request afterwards must be answered within `response_timeout` (see
    /// Config::response_timeout), or response_timeout_error. Keeps up to
    /// `statement_cache_capacity` prepared statements (0: prepare none). Server notices and
    /// warnings go to `on_notice` (as Event::Kind::info, or warning for WARNING and worse),
    /// never to stderr.
    /// Throws config_error for a malformed connection string, connection_error saying why the
    /// server could not be reached.
    explicit Connection(const std::string& conninfo, std::size_t statement_cache_capacity = 64,
                        EventCallback on_notice = {}, std::chrono::milliseconds response_timeout = default_response_timeout,
                        Deadline connect_deadline = Deadline::max())
        : on_notice_(std::make_unique<EventCallback>(std::move(on_notice))), connection_(nullptr, &PQfinish),
          capacity_(statement_cache_capacity), response_timeout_(response_timeout), statements_(statement_cache_capacity) {
        if (response_timeout.count() <= 0)
            throw config_error("the PostgreSQL response timeout must be positive (it is " +
                               std::to_string(response_timeout.count()) + " ms)");
        std::vector<const char*> keys{"dbname"}, values{conninfo.c_str()};
        for (const auto& [key, value] : detail::defaults_missing_from(conninfo)) {
            keys.push_back(key);
            values.push_back(value);
        }
        keys.push_back(nullptr);
        values.push_back(nullptr);
        // expand_dbname = 1: the first value is a full connection string; the keys after it
        // are only those it does not set. Connecting asynchronously, so that the deadline holds.
        connection_.reset(PQconnectStartParams(keys.data(), values.data(), 1));
        std::string why = "out of memory";
        if (connection_) {
            // Before connecting: a server ending the session during startup sends a notice too.
            PQsetNoticeReceiver(connection_.get(), &detail::receive_notice, on_notice_.get());
            if (const auto limit = detail::connect_timeout_of(connection_.get()))
                connect_deadline = std::min(connect_deadline, std::chrono::steady_clock::now() + *limit);
            why = detail::finish_connecting(connection_.get(), connect_deadline);
        }
        if (!why.empty())
            throw connection_error("cannot connect to PostgreSQL (" + detail::redacted(conninfo) + "): " + detail::trimmed(why));
        // Requests are sent without blocking and awaited with a deadline (see await()).
        if (PQsetnonblocking(connection_.get(), 1) != 0)
            throw connection_error("PostgreSQL: cannot make the connection non-blocking: " +
                                   detail::trimmed(PQerrorMessage(connection_.get())));
        execute_script(detail::session_setup);
    }

    PGconn* handle() const noexcept { return connection_.get(); }

    /// Runs `sql` with text parameters ($1, $2, ...; nullopt is NULL) as a prepared
    /// statement from the cache. Throws the mapped error; usage_error for text holding a NUL byte.
    Result execute(std::string_view sql, const std::vector<std::optional<std::string>>& params = {}) {
        persist::detail::refuse_nul(sql); // libpq reads the text up to a NUL
        const auto values = detail::pointers(params);
        const int count = static_cast<int>(values.size());
        const char* const* data = values.empty() ? nullptr : values.data();
        if (deferred_begin_) {
#ifdef PERSIST_POSTGRES_PIPELINE
            return execute_after_begin(sql, count, data);
#else
            send_deferred_begin(); // libpq before 14 has no pipeline mode
#endif
        }
        if (capacity_ == 0) {
            const std::string text(sql);
            return checked(await(PQsendQueryParams(connection_.get(), text.c_str(), count, nullptr, data, nullptr, nullptr, 0), sql), sql);
        }
        const std::string& name = prepared(sql);
        return statement_result(Result(await(PQsendQueryPrepared(connection_.get(), name.c_str(), count, data, nullptr, nullptr, 0), sql)), sql);
    }

    /// Prepared statements in the cache now.
    std::size_t cached_statements() const noexcept { return statements_.size(); }

    /// Runs parameterless SQL that may hold several statements (DDL scripts). Returns the
    /// command status of the last one ("COMMIT", or "ROLLBACK" for a COMMIT of an aborted
    /// transaction).
    std::string execute_script(const std::string& sql) {
        persist::detail::refuse_nul(sql);
        send_deferred_begin();
        const Result result = checked(await(PQsendQuery(connection_.get(), sql.c_str()), sql), sql);
        return PQcmdStatus(result.get());
    }

    /// Holds `begin_sql` (a BEGIN without parameters, which must outlive the transaction: a
    /// string literal) back, to send it with the transaction's first statement in one round
    /// trip (libpq's pipeline mode; see execute). A script sends it on its own first, as does
    /// send_deferred_begin(). A transaction that runs no statement never sends it.
    /// With `commit_after_first`, COMMIT goes in the same round trip, after that statement (for
    /// a transaction of one statement; see pipelined_commit()).
    void defer_begin(const char* begin_sql, bool commit_after_first = false) noexcept {
        deferred_begin_ = begin_sql;
        begin_unconfirmed_ = true;
        commit_after_first_ = commit_after_first;
        committed_ = false;
    }
    /// Whether a deferred BEGIN has not been sent yet (the transaction has run nothing).
    bool begin_deferred() const noexcept { return deferred_begin_ != nullptr; }
    /// Forgets a deferred BEGIN that was never sent.
    void drop_deferred_begin() noexcept {
        deferred_begin_ = nullptr;
        begin_unconfirmed_ = commit_after_first_ = false;
    }
    /// Sends a deferred BEGIN now, on its own (and no COMMIT after the first statement); does
    /// nothing when none is deferred. Throws as execute_script does (connection_error when the
    /// connection is gone: then lost_before_begin() is true).
    void send_deferred_begin() {
        if (!deferred_begin_) return;
        commit_after_first_ = false;
        execute_script(std::exchange(deferred_begin_, nullptr));
        begin_unconfirmed_ = false;
    }
    /// Whether the transaction was committed with its first statement (defer_begin's
    /// commit_after_first, and the statement succeeded); answers once.
    bool pipelined_commit() noexcept { return std::exchange(committed_, false); }
    /// Whether the connection was lost before the server confirmed the transaction's BEGIN:
    /// then nothing of the transaction ran, and it may start afresh on another connection.
    bool lost_before_begin() const noexcept { return begin_unconfirmed_ && !ok(); }

    /// The time each request has to be answered in (see the constructor).
    std::chrono::milliseconds response_timeout() const noexcept { return response_timeout_; }

    /// Whether libpq still considers the connection usable (false after a response timeout,
    /// which closes it).
    bool ok() const noexcept { return connection_ && PQstatus(connection_.get()) == CONNECTION_OK; }

    /// ok(), after reading whatever the server sent meanwhile without waiting: a backend the
    /// server terminated (pg_terminate_backend, restart) shows up here as not alive.
    bool alive() noexcept { return connection_ && PQconsumeInput(connection_.get()) == 1 && ok(); }

    /// The keys of encrypted columns this connection's transactions use (Config::keys).
    void use_keys(std::shared_ptr<const crypto::Keyring> keys) noexcept { keys_ = std::move(keys); }
    const crypto::Keyring* keyring() const noexcept { return keys_.get(); }

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

    /// Calls `visit(row)` with a RowView for each row of `sql` as it arrives (libpq's
    /// single-row mode), for code that maps columns by name: a large result is never held
    /// whole, and the response deadline starts again at each row. Rows before a failing one
    /// may have been visited. If `visit` throws, the remaining rows are read and dropped (the
    /// connection and its transaction stay usable) and the exception propagates; a statement
    /// error the server reports meanwhile is thrown instead.
    template <class Visit, class... Params>
    void for_each_row(std::string_view sql, Visit&& visit, const Params&... params) {
        stream(sql, text_params(params...), [&](const PGresult* row) { visit(RowView(row, 0)); });
    }

    /// Every row of `sql` read as RowType and handed to `visit` as it arrives (see
    /// for_each_row).
    template <class RowType, class Visit, class... Params>
    void for_each(std::string_view sql, Visit&& visit, const Params&... params) {
        stream(sql, text_params(params...), [&](const PGresult* row) {
            Columns columns(row, 0);
            visit(persist::detail::read_row<RowType>(columns));
        });
    }

    /// Calls `visit(row)` with a RowView for the first row of `sql` only; whether there was one.
    template <class Visit, class... Params>
    bool query_row(std::string_view sql, Visit&& visit, const Params&... params) {
        const Result result = run(sql, params...);
        if (result.rows() == 0) return false;
        const RowView row(result.get(), 0);
        visit(row);
        return true;
    }

    /// The server process serving this connection (for pg_terminate_backend in tests).
    int backend_pid() const noexcept { return PQbackendPID(connection_.get()); }

private:
    // Waits for the answer to the request just sent (`sent`: what PQsend* returned) until
    // response_timeout from now, and returns its last result, as PQexec would. A connection
    // lost on the way is connection_error; no answer in time closes the connection (after a
    // cancel request) and is response_timeout_error.
    PGresult* await(int sent, std::string_view sql) {
        PGconn* connection = connection_.get();
        if (!sent) throw_result_error(connection, nullptr, sql);
        const auto deadline = std::chrono::steady_clock::now() + response_timeout_;
        refused_copy_ = false;
        flush(deadline, sql);
        PGresult* last = nullptr;
        try {
            while (PGresult* result = next_result(deadline, sql)) {
                PQclear(last);
                last = result;
            }
        } catch (...) {
            PQclear(last);
            throw;
        }
        if (!last) throw_result_error(connection, nullptr, sql);
        return last;
    }

    // The deferred BEGIN and `sql` (prepared first when the cache does not hold it) sent as
    // one pipeline: one flush, one wait, and the results in order (BEGIN's, the PREPARE's, the
    // statement's, the end of the pipeline). A failed statement is thrown once the pipeline has
    // ended, leaving the connection usable (its transaction aborted, as without pipelining);
    // anything else closes the connection, so that none is reused in an unknown state.
#ifdef PERSIST_POSTGRES_PIPELINE
    Result execute_after_begin(std::string_view sql, int count, const char* const* data) {
        const std::string begin = std::exchange(deferred_begin_, nullptr);
        PGconn* connection = connection_.get();
        const std::string text(sql);
        const std::string* cached = capacity_ ? statements_.find(sql) : nullptr;
        const std::string name = capacity_ && !cached ? "p" + std::to_string(prepared_count_ + 1) : std::string();
        const char* statement = cached ? cached->c_str() : name.c_str();
        try {
            bool sent = PQenterPipelineMode(connection) == 1 &&
                        PQsendQueryParams(connection, begin.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
            if (!name.empty()) sent = sent && PQsendPrepare(connection, statement, text.c_str(), 0, nullptr) == 1;
            sent = sent && (capacity_ ? PQsendQueryPrepared(connection, statement, count, data, nullptr, nullptr, 0)
                                      : PQsendQueryParams(connection, text.c_str(), count, nullptr, data, nullptr, nullptr, 0)) == 1;
            const bool commit = std::exchange(commit_after_first_, false);
            if (commit) sent = sent && PQsendQueryParams(connection, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
            if (!sent || PQpipelineSync(connection) != 1) throw_result_error(connection, nullptr, sql);
            const auto deadline = std::chrono::steady_clock::now() + response_timeout_;
            refused_copy_ = false;
            flush(deadline, sql);
            const Result begun = command_result(deadline, sql);
            const bool begin_ok = PQresultStatus(begun.get()) == PGRES_COMMAND_OK;
            if (begin_ok) begin_unconfirmed_ = false;
            std::optional<Result> prepare;
            if (!name.empty()) prepare.emplace(command_result(deadline, sql));
            Result result = command_result(deadline, sql);
            // After a failed statement the COMMIT did not run (the transaction stays, aborted).
            std::optional<Result> committed;
            if (commit) committed.emplace(command_result(deadline, sql));
            const Result end(next_result(deadline, sql));
            if (PQresultStatus(end.get()) != PGRES_PIPELINE_SYNC || PQexitPipelineMode(connection) != 1)
                throw_result_error(connection, nullptr, sql);
            if (!begin_ok) throw_result_error(connection, begun.get(), begin);
            if (prepare && PQresultStatus(prepare->get()) != PGRES_COMMAND_OK) throw_result_error(connection, prepare->get(), sql);
            if (prepare) insert_prepared(text, name);
            result = statement_result(std::move(result), sql);
            if (committed && PQresultStatus(committed->get()) != PGRES_COMMAND_OK) throw_result_error(connection, committed->get(), "COMMIT");
            committed_ = committed.has_value();
            return result;
        } catch (...) {
            // A server error in one of the statements came after the pipeline ended: the
            // connection is fine. Anything else leaves it in pipeline mode, or broken: closed.
            if (connection_ && PQpipelineStatus(connection) == PQ_PIPELINE_OFF && ok()) throw;
            connection_.reset();
            statements_.clear();
            throw;
        }
    }
#endif

    // Sends everything (non-blocking mode buffers what the socket does not take at once).
    void flush(Deadline deadline, std::string_view sql) {
        PGconn* connection = connection_.get();
        for (;;) {
            const int flushed = PQflush(connection);
            if (flushed == 0) return;
            if (flushed < 0) throw_result_error(connection, nullptr, sql);
            if (!detail::wait_socket(PQsocket(connection), POLLIN | POLLOUT, deadline)) give_up(sql);
            if (!PQconsumeInput(connection)) throw_result_error(connection, nullptr, sql);
        }
    }
    // The next result, waiting for it until `deadline`: null at the end of a command's results.
    // persist sends no COPY data and reads none: a COPY FROM STDIN is ended with an error (the
    // server rolls it back), the rows of a COPY TO STDOUT are read and dropped.
    PGresult* next_result(Deadline deadline, std::string_view sql) {
        PGconn* connection = connection_.get();
        for (;;) {
            while (PQisBusy(connection)) wait_for_input(deadline, sql);
            PGresult* result = PQgetResult(connection);
            const auto status = result ? PQresultStatus(result) : PGRES_COMMAND_OK;
            if (status != PGRES_COPY_IN && status != PGRES_COPY_OUT && status != PGRES_COPY_BOTH) return result;
            PQclear(result);
            if (status != PGRES_COPY_OUT) {
                refused_copy_ = true;
                if (PQputCopyEnd(connection, "persist does not run COPY ... FROM STDIN") < 0) throw_result_error(connection, nullptr, sql);
                flush(deadline, sql);
                continue;
            }
            for (;;) {
                char* row = nullptr;
                const int got = PQgetCopyData(connection, &row, 1);
                if (got > 0) PQfreemem(row);
                else if (got == 0) wait_for_input(deadline, sql);
                else if (got == -1) break; // the end of the rows; the COPY's result follows
                else throw_result_error(connection, nullptr, sql);
            }
        }
    }
    void wait_for_input(Deadline deadline, std::string_view sql) {
        if (!detail::wait_socket(PQsocket(connection_.get()), POLLIN, deadline)) give_up(sql);
        if (!PQconsumeInput(connection_.get())) throw_result_error(connection_.get(), nullptr, sql);
    }
    // for_each_row's work: `sql` sent alone (after any deferred BEGIN) in single-row mode, and
    // `on_row` called with each row's result (row 0) as it comes.
    void stream(std::string_view sql, const std::vector<std::optional<std::string>>& params,
                const std::function<void(const PGresult*)>& on_row) {
        persist::detail::refuse_nul(sql);
        send_deferred_begin(); // single-row mode applies to a query sent on its own
        const auto values = detail::pointers(params);
        const int count = static_cast<int>(values.size());
        const char* const* data = values.empty() ? nullptr : values.data();
        PGconn* connection = connection_.get();
        const std::string text(sql), name = capacity_ ? prepared(sql) : std::string();
        const int sent = capacity_ ? PQsendQueryPrepared(connection, name.c_str(), count, data, nullptr, nullptr, 0)
                                   : PQsendQueryParams(connection, text.c_str(), count, nullptr, data, nullptr, nullptr, 0);
        if (!sent || !PQsetSingleRowMode(connection)) throw_result_error(connection, nullptr, sql);
        auto deadline = std::chrono::steady_clock::now() + response_timeout_;
        refused_copy_ = false;
        flush(deadline, sql);
        std::optional<Result> failed;
        std::exception_ptr thrown;
        while (PGresult* raw = next_result(deadline, sql)) {
            Result result(raw);
            deadline = std::chrono::steady_clock::now() + response_timeout_;
            const auto status = PQresultStatus(raw);
            if (status == PGRES_SINGLE_TUPLE) {
                if (thrown) continue; // the rest is read and dropped
                try {
                    on_row(raw);
                } catch (...) {
                    thrown = std::current_exception();
                }
            } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && !failed) {
                failed.emplace(std::move(result));
            }
        }
        if (failed) statement_result(std::move(*failed), sql); // throws the statement's error
        if (thrown) std::rethrow_exception(thrown);
    }
    // The (last) result of the next command of a pipeline; connection_error if there is none.
    Result command_result(Deadline deadline, std::string_view sql) {
        Result last(next_result(deadline, sql));
        if (!last.get()) throw_result_error(connection_.get(), nullptr, sql);
        while (PGresult* more = next_result(deadline, sql)) last = Result(more);
        return last;
    }
    // `result` of a statement, or its error thrown (see execute).
    Result statement_result(Result result, std::string_view sql) {
        const auto status = PQresultStatus(result.get());
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
            // A plan invalidated by DDL, or a statement the session lost (DISCARD ALL).
            if (state && (std::string_view(state) == "0A000" || std::string_view(state) == "26000")) forget(sql);
            throw_failed(result.get(), sql);
        }
        return result;
    }

    // No answer within response_timeout: ask the server to cancel, close the connection (the
    // server rolls back whatever transaction was open), and say so.
    [[noreturn]] void give_up(std::string_view sql) {
        const bool cancelled = detail::send_cancel(connection_.get());
        connection_.reset();
        statements_.clear();
        throw response_timeout_error(
            "PostgreSQL did not answer within response_timeout (" + std::to_string(response_timeout_.count()) +
            " ms) [" + std::string(sql.substr(0, 200)) + "]: the server or the network path to it is stuck. persist " +
            (cancelled ? "sent a cancel request and " : "") +
            "closed the connection, so its open transaction was not committed. Raise Config::response_timeout if "
            "statements legitimately take longer");
    }

    Result checked(PGresult* raw, std::string_view sql) {
        Result result(raw);
        const auto status = PQresultStatus(result.get());
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw_failed(result.get(), sql);
        return result;
    }
    // The error of a failed statement: usage_error for a COPY FROM STDIN, which next_result ended.
    [[noreturn]] void throw_failed(const PGresult* result, std::string_view sql) {
        if (std::exchange(refused_copy_, false))
            throw usage_error("persist does not run COPY ... FROM STDIN (it sends no COPY data), so the server rolled it "
                              "back [" + std::string(sql.substr(0, 200)) + "]; insert the rows with tx.execute(), many in one "
                              "write, or load them with psql's \\copy");
        throw_result_error(connection_.get(), result, sql);
    }

    // The server-side name of `sql`, preparing it first if needed.
    const std::string& prepared(std::string_view sql) {
        if (const auto* name = statements_.find(sql)) return *name;
        std::string name = "p" + std::to_string(prepared_count_ + 1);
        std::string key(sql);
        checked(await(PQsendPrepare(connection_.get(), name.c_str(), key.c_str(), 0, nullptr), sql), sql);
        insert_prepared(std::move(key), std::move(name));
        return *statements_.find(sql);
    }
    // Caches a statement prepared on the server, deallocating the one it evicts.
    void insert_prepared(std::string sql, std::string name) {
        ++prepared_count_;
        if (auto evicted = statements_.insert(std::move(sql), std::move(name))) {
            // Best effort: a failure here (an aborted transaction) leaves a harmless statement
            // behind. A timeout has closed the connection: that one is passed on.
            try {
                execute_script("DEALLOCATE " + evicted->second);
            } catch (const response_timeout_error&) {
                throw;
            } catch (const error&) {
            }
        }
    }

    void forget(std::string_view sql) { statements_.erase(sql); }

    std::unique_ptr<EventCallback> on_notice_; // a stable address for libpq; outlives the connection
    std::shared_ptr<const crypto::Keyring> keys_;
    std::unique_ptr<PGconn, decltype(&PQfinish)> connection_;
    std::size_t capacity_;
    std::chrono::milliseconds response_timeout_;
    persist::detail::LruCache<std::string> statements_; // SQL text -> server-side statement name
    std::uint64_t prepared_count_ = 0;
    const char* deferred_begin_ = nullptr; // see defer_begin()
    bool begin_unconfirmed_ = false;       // BEGIN deferred or sent, and not yet answered
    bool refused_copy_ = false;            // the request being answered was a COPY FROM STDIN
    bool commit_after_first_ = false;      // see defer_begin()
    bool committed_ = false;               // see pipelined_commit()
};

} // namespace persist::postgres
