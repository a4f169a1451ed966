// persist/postgres/backend.hpp: the PostgreSQL Backend for Store, over libpq.
//
//   persist::Config config = persist::Config::from_env("APP", {});   // APP_DB_URL=postgresql://...
//   persist::Store<persist::postgres::Backend, persist::lock::InProcess> store(config);
//
// Connections come from a pool (Config::pool: min_connections opened at start, up to
// max_connections on demand, acquire_timeout for a free one). A connection is checked before
// it is handed out and replaced when the server dropped it; reconnecting after a failure
// backs off from pool.reconnect_backoff, doubling up to reconnect_backoff_max, until the
// acquire deadline. Config::statement_timeout and Config::lock_timeout apply to every session.
// Transactions are READ COMMITTED (reads: READ ONLY), SERIALIZABLE when store.write() asks
// for Isolation::serializable. A serialization failure or deadlock (40001, 40P01) is a
// busy_error, so Store runs the whole transaction again. A connection lost while COMMIT was
// in flight is reported as commit_outcome_unknown, never retried.
#pragma once

#include "persist/backend.hpp"
#include "persist/config.hpp"
#include "persist/detail/checks.hpp"
#include "persist/error.hpp"
#include "persist/postgres/advisory_key.hpp"
#include "persist/detail/pool.hpp"
#include "persist/postgres/advisory_lock.hpp"
#include "persist/postgres/connection.hpp"
#include "persist/postgres/dialect.hpp"
#include "persist/postgres/transaction.hpp"
#include "persist/postgres/script.hpp"

#include <algorithm>
#include <thread>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace persist::postgres {

/// The PostgreSQL Backend of Store (see the top of this header). Thread-safety: every member
/// may be called from any thread; the pool is guarded by a mutex, and each session's
/// connection belongs to the thread that holds the session.
class Backend {
public:
    using dialect = postgres::Dialect;
    using write_transaction = Transaction;
    using read_transaction = ReadTransaction;
    static constexpr std::string_view name = "postgres";
    static constexpr Settings settings = Settings::postgres; ///< what it reads of Config
    /// Store's lock policy when none is named: processes on every host using the server.
    using default_lock_policy = AdvisoryLock;

    /// Opens pool.min_connections connections (failing fast: no backoff at start). Throws
    /// config_error without Config::db_url or for pool sizes that cannot work,
    /// connection_error when the server cannot be reached.
    explicit Backend(const Config& config) : config_(config), response_timeout_(Connection::response_timeout_for(config)) {
        if (config.db_url.empty())
            throw config_error("postgres::Backend needs Config::db_url (or the <PREFIX>_DB_URL variable), e.g. "
                               "postgresql://app@localhost/app");
        if (config.pool.min_connections == 0 || config.pool.min_connections > limit())
            throw config_error("pool.min_connections is " + std::to_string(config.pool.min_connections) +
                               " but must be between 1 and the pool's maximum (" + std::to_string(limit()) +
                               "); lower it or raise pool.max_connections");
        if (config.pool.reconnect_backoff.count() <= 0 || config.pool.reconnect_backoff_max < config.pool.reconnect_backoff)
            throw config_error("pool.reconnect_backoff must be positive and at most pool.reconnect_backoff_max");
        for (std::size_t i = 0; i < config.pool.min_connections; ++i) pool_.add(connect(Deadline::max()));
    }
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;

    /// One transaction on a pooled connection; its function receives a Tx (Transaction, or
    /// ReadTransaction for a READ ONLY one).
    template <class Tx>
    class Session : private detail::Reconnect {
    public:
        Session(Backend& backend, Deadline deadline, bool read_only, Isolation isolation = Isolation::read_committed)
            : backend_(backend), connection_(backend.acquire(deadline)), read_only_(read_only), isolation_(isolation),
              transaction_(*connection_) {}
        Session(Session&&) = delete;
        ~Session() {
            if (begun_ && !finished_ && connection_ && connection_->ok()) {
                if (connection_->begin_deferred()) {
                    connection_->drop_deferred_begin(); // nothing was sent: nothing to roll back
                } else if (!connection_->pipelined_commit()) { // a committed read has nothing to undo
                    try {
                        connection_->execute_script("ROLLBACK");
                    } catch (...) {
                    }
                }
            }
            backend_.release(std::move(connection_));
        }
        /// Starts the transaction: its BEGIN goes to the server with the first statement, in one
        /// round trip (see Connection::defer_begin). A pooled connection found dead then (the
        /// server restarted, or ended it, while it was idle) is replaced and the statement sent
        /// again, since nothing of the transaction had run; a response timeout is not retried.
        void begin() {
            connection_->defer_begin(begin_sql(), single_statement_);
            transaction_.reconnect_with(this);
            begun_ = true;
        }
        /// COMMIT. A lost connection is commit_outcome_unknown. A COMMIT the server answers with
        /// ROLLBACK (the transaction had been aborted by a failed statement whose error the
        /// Store function caught) is transaction_aborted, naming that statement: nothing was
        /// committed, and the caller must not be told otherwise.
        void commit() {
            // No statement ran, or the one statement of a single-statement read was committed
            // with it: there is nothing left to commit.
            if (connection_->begin_deferred() || connection_->pipelined_commit()) {
                connection_->drop_deferred_begin();
                finished_ = true;
                return;
            }
            std::string status;
            try {
                status = connection_->execute_script("COMMIT");
            } catch (const connection_error& lost) {
                finished_ = true;
                throw commit_outcome_unknown(std::string("the connection was lost while COMMIT was in flight: the "
                                                         "transaction may or may not be committed, and persist will not "
                                                         "run it again; check the data. Cause: ") +
                                             lost.what());
            }
            finished_ = true;
            if (status == "ROLLBACK")
                throw transaction_aborted(
                    "the transaction was not committed: PostgreSQL aborted it at its first failed statement " +
                    transaction_.first_failure().value_or("(not run through persist)") +
                    ", and COMMIT rolled it back. An error caught inside store.write() still aborts the transaction on "
                    "PostgreSQL: run the statement in tx.savepoint(...) to undo just it and go on");
        }
        /// For store.read(single_statement, fn): the same READ ONLY transaction as begin(),
        /// limited to one statement as on SQLite. (Without it, PostgreSQL could not keep the
        /// statement read-only.)
        /// Its COMMIT goes in the same round trip as BEGIN and the statement: one in all.
        void begin_single_statement() {
            single_statement_ = read_only_;
            begin();
            transaction_.limit_to_one_statement();
        }
        Tx& transaction() noexcept { return transaction_; }

    private:
        const char* begin_sql() const noexcept {
            const bool serializable = isolation_ == Isolation::serializable;
            return read_only_ ? (serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY"
                                              : "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY")
                              : (serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE" : "BEGIN ISOLATION LEVEL READ COMMITTED");
        }
        // The connection was lost before its BEGIN was answered: another, with BEGIN deferred.
        void reconnect() override {
            backend_.release(std::move(connection_));
            connection_ = backend_.acquire(std::chrono::steady_clock::now() + backend_.acquire_timeout());
            transaction_.rebind(*connection_);
            connection_->defer_begin(begin_sql(), single_statement_);
        }

        Backend& backend_;
        std::unique_ptr<Connection> connection_;
        bool read_only_;
        Isolation isolation_;
        Transaction transaction_;
        bool begun_ = false;
        bool finished_ = false;
        bool single_statement_ = false; // a read of one statement: COMMIT goes with it
    };

    /// A session for one write transaction (READ COMMITTED, or `isolation`) on a pooled
    /// connection, waiting for one until the earlier of `deadline` and pool.acquire_timeout.
    /// Throws busy_error when none was free in time, connection_error when no connection
    /// could be made (after backing off).
    Session<Transaction> write_session(Deadline deadline) { return Session<Transaction>(*this, deadline, false); }
    Session<Transaction> write_session(Deadline deadline, Isolation isolation) {
        return Session<Transaction>(*this, deadline, false, isolation);
    }
    /// The same for a READ ONLY transaction.
    Session<ReadTransaction> read_session(Deadline deadline) { return Session<ReadTransaction>(*this, deadline, true); }

    /// Whether the server answers one query before `deadline`; replaces dropped connections on
    /// the way. Never throws: a failure is ok = false with the cause in detail.
    Health health(Deadline deadline) {
        Health report;
        report.same_file = true;
        try {
            Session<ReadTransaction> session(*this, deadline, true);
            session.begin();
            session.transaction().query<int>("SELECT 1");
            session.commit();
            report.answering = true;
            report.ok = true;
        } catch (const std::exception& e) {
            report.detail = std::string("the server does not answer: ") + e.what();
        }
        return report;
    }

    /// What to do about a store that stayed busy (the end of Store's busy_error).
    std::string busy_advice() const {
        return "Other transactions kept conflicting with this one (serialization failures or deadlocks): find them in "
               "pg_stat_activity and pg_locks, shorten them, or raise busy_timeout";
    }

    /// Runs `sql` outside any transaction, one statement at a time (split as split_statements
    /// does), for statements PostgreSQL refuses inside one, such as CREATE INDEX CONCURRENTLY.
    /// A failing statement stops the script; those before it stay done.
    void run_outside_transaction(const std::string& sql, Deadline deadline) {
        const auto statements = split_statements(sql);
        auto connection = acquire(deadline);
        try {
            for (const auto& statement : statements) connection->execute_script(statement);
        } catch (...) {
            release(std::move(connection));
            throw;
        }
        release(std::move(connection));
    }

    /// Connections open now (idle or in use), for tests and diagnostics.
    std::size_t open_connections() const { return pool_.open(); }

    /// Forgets every connection without closing it (after fork(): the parent's sockets).
    void abandon() noexcept {
        pool_.abandon([](std::unique_ptr<Connection>& connection) { (void)connection.release(); });
    }

    /// The server and database, without any password.
    std::string path() const { return "postgres " + redacted_url(); }

private:
    std::size_t limit() const {
        return config_.pool.max_connections ? config_.pool.max_connections : config_.reader_connections + 1;
    }
    std::chrono::milliseconds acquire_timeout() const {
        return config_.pool.acquire_timeout.count() > 0 ? config_.pool.acquire_timeout : config_.busy_timeout;
    }

    // A new connection with the configured session limits.
    std::unique_ptr<Connection> connect(Deadline deadline) const {
        auto connection = std::make_unique<Connection>(config_.db_url, config_.statement_cache_capacity, config_.on_event,
                                                       response_timeout_, deadline);
        connection->execute("SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)",
                            {std::to_string(config_.statement_timeout.count()) + "ms",
                             std::to_string(config_.lock_timeout.count()) + "ms"});
        connection->use_keys(config_.keys);
        return connection;
    }

    std::string redacted_url() const { return detail::redacted(config_.db_url); }

    // How the pool checks, opens and waits for connections: an idle one the server dropped is
    // replaced; a failed connect backs off (reconnect_backoff doubling up to
    // reconnect_backoff_max); a failure that outlasts the deadline is a connection_error with
    // the last cause.
    struct PoolHooks {
        Backend& backend;
        bool usable(Connection& connection) const noexcept { return connection.alive(); }
        std::unique_ptr<Connection> open(Deadline deadline) const {
            try {
                auto connection = backend.connect(deadline);
                std::lock_guard lock(backend.backoff_mutex_);
                backend.failures_ = 0;
                return connection;
            } catch (const connection_error& e) {
                std::unique_lock lock(backend.backoff_mutex_);
                backend.last_failure_ = e.what();
                const auto& pool = backend.config_.pool;
                const auto pause = std::min<std::chrono::milliseconds>(
                    pool.reconnect_backoff_max, pool.reconnect_backoff * (1LL << std::min(backend.failures_, 16)));
                const int failures = ++backend.failures_;
                const std::string cause = backend.last_failure_;
                lock.unlock();
                backend.pool_.delay_opening(std::chrono::steady_clock::now() + pause);
                backend.notify({Event::Kind::retry,
                                "reconnecting to " + backend.path() + " in " + std::to_string(pause.count()) + " ms: " + cause,
                                failures, {}});
                return nullptr;
            }
        }
        void waiting() const noexcept {}
        [[noreturn]] void timed_out() const {
            throw busy_error("all " + std::to_string(backend.limit()) + " connections to " + backend.path() +
                             " stayed in use for " + std::to_string(backend.acquire_timeout().count()) +
                             " ms (pool.acquire_timeout, or the transaction's deadline); raise pool.max_connections "
                             "or shorten the transactions that hold them");
        }
        [[noreturn]] void unreachable() const {
            std::lock_guard lock(backend.backoff_mutex_);
            throw connection_error("cannot reconnect to " + backend.path() + " before the deadline after " +
                                   std::to_string(backend.failures_) + " failed attempt(s) (backing off up to " +
                                   std::to_string(backend.config_.pool.reconnect_backoff_max.count()) +
                                   " ms between them); last cause: " + backend.last_failure_);
        }
    };

    // A checked connection, waiting at most until the earlier of `deadline` and the pool's
    // acquire_timeout for one to be free (see PoolHooks).
    std::unique_ptr<Connection> acquire(Deadline deadline) {
        PoolHooks hooks{*this};
        return pool_.acquire(std::min(deadline, std::chrono::steady_clock::now() + acquire_timeout()), hooks);
    }

    void notify(const Event& event) const noexcept { persist::detail::notify(config_.on_event, event); }

    // Returns a connection to the pool; a broken one is closed and leaves room for a new one.
    // Nothing to do for an empty pointer (a session whose reconnection failed).
    void release(std::unique_ptr<Connection> connection) noexcept {
        const bool keep = connection && connection->ok();
        pool_.release(std::move(connection), keep);
    }

    Config config_;
    std::chrono::milliseconds response_timeout_;
    persist::detail::Pool<Connection> pool_{limit()};
    std::mutex backoff_mutex_;  // guards the two below
    int failures_ = 0;          // consecutive failed connects
    std::string last_failure_;
};

static_assert(persist::Backend<Backend>);

} // namespace persist::postgres
