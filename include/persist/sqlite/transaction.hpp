// persist/sqlite/transaction.hpp: what a function passed to Store::read / Store::write
// receives. Values reach SQL only as bound parameters ("?" placeholders, in order).
//
// Thread-safety: a transaction object belongs to the thread running the function; it must
// not be kept or used after the function returns.
#pragma once

#include "persist/detail/checks.hpp"
#include "persist/detail/row.hpp"
#include "persist/detail/savepoint.hpp"
#include "persist/sqlite/catalog.hpp"
#include "persist/sqlite/connection.hpp"
#include "persist/transaction.hpp"
#include "persist/sqlite/dialect.hpp"
#include "persist/sqlite/script.hpp"
#include "persist/sqlite/values.hpp"

#include <cstdint>
#include <optional>
#include <sqlite3.h>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace persist::sqlite {

/// A read transaction: every query sees the same consistent snapshot of the database.
class ReadTransaction {
public:
    /// The SQL dialect of this backend (typed operations render their SQL with it).
    using dialect = sqlite::Dialect;

    explicit ReadTransaction(Connection& connection) noexcept : connection_(&connection) {}
    /// The keys of encrypted columns (Config::keys), or nullptr when the Store has none.
    const crypto::Keyring* keyring() const noexcept { return connection_->keyring(); }
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;

    /// Every row of `sql` with `params` bound to its "?" placeholders, as `RowType`
    /// (a column value, a std::tuple or an aggregate struct; see persist/detail/row.hpp).
    /// Throws schema_error if the SQL is wrong or the columns do not fit RowType,
    /// usage_error if the SQL would write while this is a read transaction.
    template <class RowType, class... Params>
    std::vector<RowType> query(std::string_view sql, const Params&... params) {
        std::vector<RowType> rows;
        if constexpr (detail::check_query<RowType, Params...>())
            run<RowType>(sql, [&](sqlite3_stmt* statement) {
                Columns columns{statement};
                rows.push_back(detail::read_row<RowType>(columns));
                return true;
            }, params...);
        return rows;
    }

    /// The first row of `sql`, or nullopt if there is none. Same rules as query().
    template <class RowType, class... Params>
    std::optional<RowType> query_one(std::string_view sql, const Params&... params) {
        std::optional<RowType> row;
        if constexpr (detail::check_query<RowType, Params...>())
            run<RowType>(sql, [&](sqlite3_stmt* statement) {
                Columns columns{statement};
                row = detail::read_row<RowType>(columns);
                return false;
            }, params...);
        return row;
    }

    /// Calls `visit(row)` for each row as it is read, without collecting them. `visit` must
    /// not run other statements on this transaction.
    template <class RowType, class Visit, class... Params>
    void for_each(std::string_view sql, Visit&& visit, const Params&... params) {
        if constexpr (detail::check_query<RowType, Params...>())
            run<RowType>(sql, [&](sqlite3_stmt* statement) {
                Columns columns{statement};
                visit(detail::read_row<RowType>(columns));
                return true;
            }, params...);
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

    /// One result row seen by for_each_row: column names and typed access by position.
    class RowView {
    public:
        explicit RowView(sqlite3_stmt* statement) noexcept : statement_(statement) {}
        int size() const noexcept { return sqlite3_column_count(statement_); }
        std::string_view name(int index) const noexcept { return sqlite3_column_name(statement_, index); }
        bool is_null(int index) const noexcept { return sqlite3_column_type(statement_, index) == SQLITE_NULL; }
        /// Column `index` as V; schema_error as for query().
        template <ColumnValue V>
        V get(int index) const { return read_column<V>(statement_, index); }

    private:
        sqlite3_stmt* statement_;
    };

    /// Calls `visit(row)` with a RowView for each row of `sql`, for code that maps columns by
    /// name. `visit` must not run other statements on this transaction.
    template <class Visit, class... Params>
    void for_each_row(std::string_view sql, Visit&& visit, const Params&... params) {
        if constexpr (detail::check_parameters<Params...>())
            run<void>(sql, [&](sqlite3_stmt* statement) {
                const RowView row(statement);
                visit(row);
                return true;
            }, params...);
    }

    /// Calls `visit(row)` with a RowView for the first row of `sql` only, and returns whether
    /// there was one: a lookup that reads its columns straight into their destination.
    /// `visit` must not run other statements on this transaction. Throws as query() does
    /// (usage_error when the values do not match the placeholders, a write in a read, a second
    /// statement in a single-statement read; the mapped error of a failing statement); what
    /// `visit` throws (schema_error from row.get<V>() for a column that is no V) propagates.
    template <class Visit, class... Params>
    bool query_row(std::string_view sql, Visit&& visit, const Params&... params) {
        bool found = false;
        if constexpr (detail::check_parameters<Params...>())
            run<void>(sql, [&](sqlite3_stmt* statement) {
                found = true;
                const RowView row(statement);
                visit(row);
                return false;
            }, params...);
        return found;
    }

    /// The table `table` as the catalog describes it (see persist::TableDescription).
    TableDescription describe_table(const std::string& table) { return sqlite::describe_table(*this, table); }

    /// The connection underneath, for code that needs SQLite directly. Do not begin, commit
    /// or roll back transactions on it, and in a read do not write or change settings through
    /// it: a read may run on the writer connection.
    Connection& connection() noexcept { return *connection_; }

protected:
    friend class Backend;
    ReadTransaction(Connection& connection, bool allows_writes) noexcept
        : connection_(&connection), allows_writes_(allows_writes) {}

    // store.read(single_statement, fn): one statement may run, then none.
    void limit_to_one_statement() noexcept { statements_left_ = 1; }

    template <class RowType, class OnRow, class... Params>
    void run(std::string_view sql, OnRow&& on_row, const Params&... params) {
        int columns = -1;
        if constexpr (!std::is_void_v<RowType>) columns = static_cast<int>(row_width<RowType>());
        sqlite3_stmt* statement = prepare(sql, (parameter_width(params) + ... + 0), columns);
        Reset reset{statement};
        [[maybe_unused]] int index = 1;
        ((check_bind(bind_value(statement, index, params), sql), index += parameter_width(params)), ...);
        while (step(statement, sql))
            if (!on_row(statement)) return;
    }

    // The statement for `sql`, checked before anything is bound (all that does not depend on
    // the parameters' types, compiled once rather than per run() instance): the transaction
    // still usable, `parameters` values for its parameters, `columns` (-1: any) in its rows,
    // nothing written or reconfigured in a read.
    sqlite3_stmt* prepare(std::string_view sql, int parameters, int columns) {
        if (statements_left_ == 0)
            throw usage_error("store.read(persist::single_statement, fn) runs one statement, and fn ran a second [" +
                              std::string(sql) + "]; use store.read(fn) for several statements in one snapshot");
        if (statements_left_ > 0) --statements_left_;
        if (allows_writes_ && sqlite3_get_autocommit(connection_->handle())) {
            std::string message = "SQLite rolled this write transaction back after an earlier statement in it failed (a "
                                  "full disk, an I/O error, or a conflict clause of ROLLBACK), and fn went on; nothing of "
                                  "it will be committed and this statement was not run [";
            message.append(sql);
            throw transaction_aborted(message + "]. Let the error propagate: the Store reports it");
        }
        bool changes_settings = false;
        sqlite3_stmt* statement = connection_->statements().get(connection_->database(), sql, &changes_settings);
        if (!allows_writes_ && !sqlite3_stmt_readonly(statement))
            throw usage_error("store.read() runs read-only statements, but this one writes [" +
                              std::string(sql) + "]; do it inside store.write()");
        if (!allows_writes_ && changes_settings)
            throw usage_error("store.read() does not change connection settings or run maintenance, but this PRAGMA "
                              "does [" + std::string(sql) + "]: a read may run on the connection that writes. Set "
                              "connection settings through persist::Config; persist checkpoints the WAL itself");
        const int expected = sqlite3_bind_parameter_count(statement);
        if (expected != parameters)
            throw usage_error("the SQL has " + std::to_string(expected) + " parameter(s) but " +
                              std::to_string(parameters) + " value(s) were given [" +
                              std::string(sql) + "]");
        if (columns >= 0 && sqlite3_column_count(statement) != columns)
            throw schema_error("the query returns " + std::to_string(sqlite3_column_count(statement)) +
                               " column(s) but the row type reads " + std::to_string(columns) + " [" +
                               std::string(sql) + "]; make the SELECT list and the row type agree");
        return statement;
    }

    // Steps `statement`: true for a row, false when done; throws the mapped error.
    bool step(sqlite3_stmt* statement, std::string_view sql) {
        const int rc = sqlite3_step(statement);
        if (rc == SQLITE_ROW) return true;
        if (rc != SQLITE_DONE) throw_last_error(connection_->handle(), sql);
        return false;
    }

    void check_bind(int rc, std::string_view sql) {
        if (rc != SQLITE_OK) throw_error(rc, sqlite3_errstr(rc), sql);
    }

    // Leaves the statement ready for its next use. Bindings are not cleared: they may point
    // at the caller's (now gone) text, but every use binds all parameters again before
    // stepping (run() checks the count), so they are never read.
    struct Reset {
        sqlite3_stmt* statement;
        ~Reset() { sqlite3_reset(statement); }
    };

    Connection* connection_;
    bool allows_writes_ = false;
    int statements_left_ = -1; // -1: no limit
};

/// A write transaction (BEGIN IMMEDIATE): it can query like a ReadTransaction and also change
/// the database. Its changes become visible to others only when the function returns.
class Transaction : public ReadTransaction {
public:
    explicit Transaction(Connection& connection) noexcept : ReadTransaction(connection, true) {}

    /// Runs one statement with `params` bound; returns the number of rows it changed.
    /// Throws constraint_error naming the constraint, schema_error, busy_error.
    template <class... Params>
    std::int64_t execute(std::string_view sql, const Params&... params) {
        if constexpr (detail::check_parameters<Params...>())
            run<void>(sql, [](sqlite3_stmt*) { return true; }, params...);
        return sqlite3_changes64(connection_->handle());
    }

    /// Runs parameterless SQL holding one or more statements (DDL scripts), one prepared
    /// statement at a time. It accepts no values, so none can be spliced in. The text may not
    /// take over the transaction or reach outside the database (persist/sqlite/script.hpp):
    /// BEGIN/COMMIT/ROLLBACK/SAVEPOINT, ATTACH/DETACH, VACUUM and PRAGMAs that write (except
    /// defer_foreign_keys, user_version, application_id) are refused with usage_error before
    /// they run, and so is text holding a NUL byte. Statements before a failing one are undone
    /// with the transaction. Throws usage_error, and the mapped error of a failing statement.
    void execute_script(std::string_view sql) {
        run_script(connection_->handle(), sql, ScriptPlace::in_transaction, "execute_script");
    }

    /// Runs `fn()` inside a savepoint and returns what it returns. If `fn` throws, the
    /// transaction goes back to the savepoint (undoing exactly what `fn` did) and the exception
    /// propagates: catch it outside savepoint() to recover from a failed statement and go on.
    /// The same call behaves the same on PostgreSQL, where a failed statement outside a
    /// savepoint aborts the whole transaction. Savepoints nest.
    template <class Fn>
    auto savepoint(Fn&& fn) -> decltype(fn()) {
        return persist::detail::run_in_savepoint([this](const std::string& sql) { connection_->run_script(sql); },
                                                 savepoints_, fn, [] {});
    }

    /// The rowid of the last row this connection inserted.
    std::int64_t last_insert_id() const noexcept {
        return sqlite3_last_insert_rowid(connection_->handle());
    }

    /// Nothing to do: a write transaction (BEGIN IMMEDIATE) already keeps every other writer
    /// out until it ends (see persist::WriteTransaction).
    void exclude_writers(std::string_view) noexcept {}

private:
    int savepoints_ = 0;
};

static_assert(persist::ReadTransaction<ReadTransaction>);
static_assert(persist::WriteTransaction<Transaction>);

} // namespace persist::sqlite
