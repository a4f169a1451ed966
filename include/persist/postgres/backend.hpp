// persist/postgres/backend.hpp: the PostgreSQL Backend for Store, over libpq.
//
//   persist::Config config = persist::Config::from_env("APP", {});   // APP_DB_URL=postgresql://...
//   persist::Store<persist::postgres::Backend, persist::lock::InProcess> store(config);
//
// Connections come from a pool (up to Config::reader_connections + 1, opened on demand). A
// connection is checked before it is handed out and replaced when the server dropped it.
// Config::statement_timeout and Config::lock_timeout apply to every session.
// Transactions are READ COMMITTED (reads: READ ONLY). A serialization failure or deadlock
// (40001, 40P01) is a busy_error, so Store runs the whole transaction again. A connection
// lost while COMMIT was in flight is reported as commit_outcome_unknown, never retried.
#pragma once

#include "persist/backend.hpp"
#include "persist/config.hpp"
#include "persist/error.hpp"
#include "persist/postgres/connection.hpp"
#include "persist/postgres/dialect.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace persist::postgres {

/// The connection was lost after COMMIT was sent: the transaction may or may not have been
/// committed. persist does not run it again; check the data, then decide.
class commit_outcome_unknown : public connection_error {
public:
    explicit commit_outcome_unknown(const std::string& message) : connection_error(message) {}
};

/// What a Store function receives: queries and changes inside one transaction.
class Transaction {
public:
    using dialect = postgres::Dialect;

    explicit Transaction(Connection& connection) noexcept : connection_(&connection) {}
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    /// Runs one statement with `params` bound to $1, $2, ...; returns the rows it changed.
    template <class... Params>
    std::int64_t execute(std::string_view sql, const Params&... params) {
        return connection_->run(sql, params...).changes();
    }
    /// Every row of `sql` as RowType.
    template <class RowType, class... Params>
    std::vector<RowType> query(std::string_view sql, const Params&... params) {
        return connection_->query<RowType>(sql, params...);
    }
    /// The first row of `sql`, or nullopt.
    template <class RowType, class... Params>
    std::optional<RowType> query_one(std::string_view sql, const Params&... params) {
        auto rows = connection_->query<RowType>(sql, params...);
        if (rows.empty()) return std::nullopt;
        return std::move(rows.front());
    }
    /// Calls `visit(row)` for each row of `sql`.
    template <class RowType, class Visit, class... Params>
    void for_each(std::string_view sql, Visit&& visit, const Params&... params) {
        for (auto& row : connection_->query<RowType>(sql, params...)) visit(std::move(row));
    }
    /// Runs parameterless SQL holding one or more statements.
    void execute_script(const std::string& sql) { connection_->execute_script(sql); }

    Connection& connection() noexcept { return *connection_; }

private:
    friend class Backend;
    void rebind(Connection& connection) noexcept { connection_ = &connection; }
    Connection* connection_;
};

class Backend {
public:
    using dialect = postgres::Dialect;
    using write_transaction = Transaction;
    using read_transaction = Transaction;
    static constexpr std::string_view name = "postgres";

    /// Connects once to check the server. Throws config_error without Config::db_url,
    /// connection_error when the server cannot be reached.
    explicit Backend(const Config& config) : config_(config) {
        if (config.db_url.empty())
            throw config_error("postgres::Backend needs Config::db_url (or the <PREFIX>_DB_URL variable), e.g. "
                               "postgresql://app@localhost/app");
        idle_.push_back(connect());
        open_ = 1;
    }
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;

    /// One transaction on a pooled connection.
    class Session {
    public:
        Session(Backend& backend, Deadline deadline, bool read_only)
            : backend_(backend), connection_(backend.acquire(deadline)), read_only_(read_only), transaction_(*connection_) {}
        Session(Session&&) = delete;
        ~Session() {
            if (begun_ && !finished_ && connection_->ok()) {
                try {
                    connection_->execute_script("ROLLBACK");
                } catch (...) {
                }
            }
            backend_.release(std::move(connection_));
        }
        void begin() {
            const char* sql = read_only_ ? "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY" : "BEGIN ISOLATION LEVEL READ COMMITTED";
            try {
                connection_->execute_script(sql);
            } catch (const connection_error&) {
                // The pooled connection had died while idle (server restart, pg_terminate_backend,
                // a network cut). Nothing of this transaction ran, so a new connection is safe.
                backend_.release(std::move(connection_));
                connection_ = backend_.acquire(std::chrono::steady_clock::now() + backend_.config_.busy_timeout);
                transaction_.rebind(*connection_);
                connection_->execute_script(sql);
            }
            begun_ = true;
        }
        void commit() {
            try {
                connection_->execute_script("COMMIT");
            } catch (const connection_error& lost) {
                finished_ = true;
                throw commit_outcome_unknown(std::string("the connection was lost while COMMIT was in flight: the "
                                                         "transaction may or may not be committed, and persist will not "
                                                         "run it again; check the data. Cause: ") +
                                             lost.what());
            }
            finished_ = true;
        }
        Transaction& transaction() noexcept { return transaction_; }

    private:
        Backend& backend_;
        std::unique_ptr<Connection> connection_;
        bool read_only_;
        Transaction transaction_;
        bool begun_ = false;
        bool finished_ = false;
    };

    Session write_session(Deadline deadline) { return Session(*this, deadline, false); }
    Session read_session(Deadline deadline) { return Session(*this, deadline, true); }

    /// Whether the server answers; replaces dropped connections.
    Health health(Deadline deadline) {
        Health report;
        report.same_file = true;
        try {
            Session session(*this, deadline, true);
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

    /// Forgets every connection without closing it (after fork(): the parent's sockets).
    void abandon() noexcept {
        std::lock_guard lock(mutex_);
        for (auto& connection : idle_) (void)connection.release();
        idle_.clear();
    }

    /// The server and database, without any password.
    std::string path() const { return "postgres " + redacted_url(); }

private:
    std::size_t limit() const { return config_.reader_connections + 1; }

    // A new connection with the configured session limits.
    std::unique_ptr<Connection> connect() const {
        auto connection = std::make_unique<Connection>(config_.db_url);
        connection->execute("SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)",
                            {std::to_string(config_.statement_timeout.count()) + "ms",
                             std::to_string(config_.lock_timeout.count()) + "ms"});
        return connection;
    }

    std::string redacted_url() const {
        const auto& url = config_.db_url;
        const auto scheme = url.find("://");
        const auto at = url.find('@');
        if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
            const auto colon = url.find(':', scheme + 3);
            if (colon != std::string::npos && colon < at) return url.substr(0, colon) + ":***" + url.substr(at);
        }
        const auto password = url.find("password=");
        if (password == std::string::npos) return url;
        const auto end = url.find(' ', password);
        return url.substr(0, password) + "password=***" + (end == std::string::npos ? "" : url.substr(end));
    }

    std::unique_ptr<Connection> acquire(Deadline deadline) {
        std::unique_lock lock(mutex_);
        for (;;) {
            while (!idle_.empty()) {
                auto connection = std::move(idle_.back());
                idle_.pop_back();
                if (connection->alive()) return connection;
                --open_; // the server dropped it: replace it below
            }
            if (open_ < limit()) {
                ++open_;
                lock.unlock();
                try {
                    return connect();
                } catch (...) {
                    lock.lock();
                    --open_;
                    freed_.notify_one();
                    throw;
                }
            }
            if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= limit())
                throw busy_error("all " + std::to_string(limit()) + " connections to " + path() +
                                 " stayed in use until the deadline; raise reader_connections");
        }
    }

    void release(std::unique_ptr<Connection> connection) noexcept {
        std::lock_guard lock(mutex_);
        if (connection && connection->ok()) idle_.push_back(std::move(connection));
        else --open_;
        freed_.notify_one();
    }

    Config config_;
    std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::size_t open_ = 0;
};

static_assert(persist::Backend<Backend>);

} // namespace persist::postgres
