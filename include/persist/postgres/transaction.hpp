// persist/postgres/transaction.hpp: what a Store function receives on PostgreSQL.
//
// store.read() gives a ReadTransaction (queries only, in a READ ONLY transaction); store.write()
// a Transaction, which adds statements that change data, scripts, savepoints and
// transaction-scoped advisory locks. A change inside read() is a compile error, as on SQLite.
#pragma once

#include "persist/detail/checks.hpp"
#include "persist/detail/savepoint.hpp"
#include "persist/detail/sql_text.hpp"
#include "persist/error.hpp"
#include "persist/postgres/advisory_key.hpp"
#include "persist/postgres/catalog.hpp"
#include "persist/postgres/connection.hpp"
#include "persist/postgres/dialect.hpp"
#include "persist/transaction.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace persist::postgres {

class Backend;

namespace detail {
// What a transaction whose connection was lost before the server answered its BEGIN asks of
// its session: another connection, with the BEGIN deferred on it again (see Backend::Session).
class Reconnect {
public:
    virtual void reconnect() = 0;

protected:
    ~Reconnect() = default;
};
} // namespace detail

/// The connection was lost after COMMIT was sent: the transaction may or may not have been
/// committed. persist does not run it again; check the data, then decide. The same error as
/// on SQLite (persist::commit_outcome_unknown).
using persist::commit_outcome_unknown;

/// What store.read() receives: queries inside one READ ONLY transaction, on the one pooled
/// connection its session holds. Errors are the mapped SQLSTATE errors (see
/// persist/postgres/errors.hpp); any error aborts the transaction, which Store then rolls back.
/// Thread-safety: one thread at a time (the thread running the Store function).
class ReadTransaction {
public:
    using dialect = postgres::Dialect;

    explicit ReadTransaction(Connection& connection) noexcept : connection_(&connection) {}
    /// The keys of encrypted columns (Config::keys), or nullptr when the Store has none.
    const crypto::Keyring* keyring() const noexcept { return connection_->keyring(); }
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;

    /// Every row of `sql` as RowType.
    template <class RowType, class... Params>
    std::vector<RowType> query(std::string_view sql, const Params&... params) {
        if constexpr (persist::detail::check_query<RowType, Params...>())
            return noting_failure(sql, [&] { return connection_->query<RowType>(sql, params...); });
        else return {};
    }
    /// The first row of `sql`, or nullopt.
    template <class RowType, class... Params>
    std::optional<RowType> query_one(std::string_view sql, const Params&... params) {
        if constexpr (persist::detail::check_query<RowType, Params...>()) {
            auto rows = query<RowType>(sql, params...);
            if (rows.empty()) return std::optional<RowType>();
            return std::optional<RowType>(std::move(rows.front()));
        } else {
            return std::optional<RowType>();
        }
    }
    /// Calls `visit(row)` for each row of `sql`, as the rows arrive: a large result is never
    /// held whole (see Connection::for_each_row).
    template <class RowType, class Visit, class... Params>
    void for_each(std::string_view sql, Visit&& visit, const Params&... params) {
        if constexpr (persist::detail::check_query<RowType, Params...>())
            noting_failure(sql, [&] {
                connection_->template for_each<RowType>(sql, visit, params...);
                return 0;
            });
    }
    /// query, query_one and for_each with the row type given as persist::as<RowType>, for
    /// generic lambdas: tx.query(persist::as<Task>, "SELECT ...") needs no `template`.
    template <class RowType, class... Params>
    std::vector<RowType> query(as_t<RowType>, std::string_view sql, const Params&... params) {
        return query<RowType>(sql, params...);
    }
    template <class RowType, class... Params>
    std::optional<RowType> query_one(as_t<RowType>, std::string_view sql, const Params&... params) {
        return query_one<RowType>(sql, params...);
    }
    template <class RowType, class Visit, class... Params>
    void for_each(as_t<RowType>, std::string_view sql, Visit&& visit, const Params&... params) {
        for_each<RowType>(sql, std::forward<Visit>(visit), params...);
    }
    /// Calls `visit(row)` with a RowView (size(), name(i), is_null(i), get<V>(i)) for each
    /// row of `sql`, as the rows arrive.
    template <class Visit, class... Params>
    void for_each_row(std::string_view sql, Visit&& visit, const Params&... params) {
        if constexpr (persist::detail::check_parameters<Params...>())
            noting_failure(sql, [&] {
                connection_->for_each_row(sql, visit, params...);
                return 0;
            });
    }
    /// Calls `visit(row)` for the first row of `sql` only, and returns whether there was one.
    /// Throws as query() does (usage_error for statements that control the transaction or a
    /// second statement in a single-statement read; the mapped error of a failing statement,
    /// which also aborts the transaction); what `visit` throws (schema_error from
    /// row.get<V>()) propagates.
    template <class Visit, class... Params>
    bool query_row(std::string_view sql, Visit&& visit, const Params&... params) {
        if constexpr (persist::detail::check_parameters<Params...>())
            return noting_failure(sql, [&] { return connection_->query_row(sql, visit, params...); });
        else return false;
    }
    /// The first statement that failed in this transaction outside a savepoint, with its
    /// error, or nullopt.
    const std::optional<std::string>& first_failure() const noexcept { return first_failure_; }

    /// The table `table` of the current schema as the catalogs describe it (see
    /// persist::TableDescription).
    TableDescription describe_table(const std::string& table) { return postgres::describe_table(*this, table); }

    /// The session's connection, for what persist does not wrap (the transaction's BEGIN has
    /// been sent when this returns, on a new connection if the pooled one had died). Throws
    /// connection_error when no connection answers, busy_error when none is free in time.
    Connection& connection() {
        start_now();
        return *connection_;
    }

protected:
    friend class Backend;
    void rebind(Connection& connection) noexcept { connection_ = &connection; }
    void reconnect_with(detail::Reconnect* session) noexcept { reconnect_ = session; }

    // store.read(single_statement, fn): one statement may run, then none.
    void limit_to_one_statement() noexcept { statements_left_ = 1; }

    // Runs `run`; a persist error is noted (the server aborted the transaction) and rethrown.
    // The first statement, whose BEGIN goes with it, runs again on a new connection when the
    // one it was sent on turned out to be dead (dropped while idle in the pool): nothing of
    // the transaction had run.
    template <class Run>
    auto noting_failure(std::string_view sql, Run&& run) -> decltype(run()) {
        before_statement(sql);
        for (;;) {
            try {
                return run();
            } catch (const error& e) {
                if (!start_again_elsewhere(e)) {
                    note_failure(sql, e);
                    throw;
                }
            }
        }
    }

    // Sends a deferred BEGIN on its own (before a savepoint, or raw use of the connection).
    void start_now() {
        for (;;) {
            try {
                connection_->send_deferred_begin();
                return;
            } catch (const error& e) {
                if (!start_again_elsewhere(e)) throw;
            }
        }
    }

    bool start_again_elsewhere(const error& e) {
        const bool lost = dynamic_cast<const connection_error*>(&e) && !dynamic_cast<const response_timeout_error*>(&e);
        if (!reconnect_ || !lost || !connection_->lost_before_begin()) return false;
        std::exchange(reconnect_, nullptr)->reconnect(); // once, as a BEGIN sent on its own was
        return true;
    }

    // The checks before a statement (compiled once, not per noting_failure instance).
    void before_statement(std::string_view sql) {
        if (statements_left_ == 0)
            throw usage_error("store.read(persist::single_statement, fn) runs one statement, and fn ran a second [" +
                              std::string(sql) + "]; use store.read(fn) for several statements in one snapshot");
        if (statements_left_ > 0) --statements_left_;
        // A COMMIT here would make the writes before it durable before fn returned.
        if (persist::detail::controls_transaction(sql)) throw usage_error(persist::detail::transaction_control_refused(sql));
    }

    void note_failure(std::string_view sql, const error& e) {
        if (failures_++ == 0) first_failure_ = "[" + std::string(sql.substr(0, 200)) + "]: " + e.what();
    }

    Connection* connection_;
    detail::Reconnect* reconnect_ = nullptr;
    std::optional<std::string> first_failure_;
    int failures_ = 0;
    int savepoints_ = 0;
    int statements_left_ = -1; // -1: no limit
};

/// What store.write() receives: a ReadTransaction that may also change data.
class Transaction : public ReadTransaction {
public:
    explicit Transaction(Connection& connection) noexcept : ReadTransaction(connection) {}

    /// Runs one statement with `params` bound to $1, $2, ...; returns the rows it changed.
    template <class... Params>
    std::int64_t execute(std::string_view sql, const Params&... params) {
        if constexpr (persist::detail::check_parameters<Params...>())
            return noting_failure(sql, [&] { return connection_->run(sql, params...).changes(); });
        else return 0;
    }
    /// Runs parameterless SQL holding one or more statements.
    void execute_script(const std::string& sql) {
        noting_failure(sql, [&] { return connection_->execute_script(sql); });
    }

    /// Runs `fn()` inside a savepoint and returns what it returns. If `fn` throws, the
    /// transaction goes back to the savepoint (undoing exactly what `fn` did) and stays usable,
    /// and the exception propagates: catch it outside savepoint() to recover from a failed
    /// statement. This is how a statement error is recovered on both backends: on PostgreSQL a
    /// failed statement outside a savepoint aborts the whole transaction (its COMMIT then
    /// throws transaction_aborted); on SQLite it undoes only itself. Savepoints nest.
    template <class Fn>
    auto savepoint(Fn&& fn) -> decltype(fn()) {
        start_now();
        const auto failures_before = failures_;
        return persist::detail::run_in_savepoint(
            [this](const std::string& sql) { connection_->execute_script(sql); },
            savepoints_, fn, [&] {
                // What failed inside is undone: the transaction can commit.
                failures_ = failures_before;
                if (failures_ == 0) first_failure_.reset();
            });
    }

    /// Takes the transaction-level advisory lock of `name` (pg_advisory_xact_lock with
    /// xact_key(name)): concurrent transactions taking it run one after the other; the server
    /// releases it at COMMIT or ROLLBACK. Waits as long as lock_timeout allows
    /// (lock_timeout_error after it).
    void advisory_xact_lock(std::string_view name) {
        const std::string_view sql = "SELECT pg_advisory_xact_lock($1)";
        noting_failure(sql, [&] {
            connection_->run(sql, xact_key(name));
            return 0;
        });
    }

    /// The key advisory_xact_lock(name) locks: the first 8 bytes of SHA-256("persist:xact:" +
    /// name), big-endian, as a signed integer.
    static std::int64_t xact_key(std::string_view name) { return detail::advisory_key("persist:xact:" + std::string(name)); }

    /// Excludes every other transaction that asks for `name` until this one ends (what a
    /// migrating transaction needs): a transaction-level advisory lock.
    void exclude_writers(std::string_view name) { advisory_xact_lock(name); }
};

static_assert(persist::ReadTransaction<ReadTransaction>);
static_assert(persist::WriteTransaction<Transaction>);

} // namespace persist::postgres
