// persist/sqlite/backend.hpp: the SQLite backend.
//
// Connections: one writer connection, used by one write transaction at a time (SQLite
// allows one writer per database anyway), plus up to Config::reader_connections read-only
// connections opened on demand. In WAL mode readers see a consistent snapshot and never
// wait for the writer. For ":memory:" there is a single connection: reads and writes take
// turns on it.
//
// A read that starts while no write runs borrows the writer connection, whose page cache its
// own commits keep valid: see persist/sqlite/writer_loans.hpp.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include "persist/sqlite/trust.hpp"
#include "persist/lock/file.hpp"
#include "persist/backend.hpp"
#include "persist/config.hpp"
#include "persist/detail/file_setup.hpp"
#include "persist/detail/pool.hpp"
#include "persist/detail/private_files.hpp"
#include "persist/detail/timed_mutex.hpp"
#include "persist/sqlite/checkpointer.hpp"
#include "persist/sqlite/connection.hpp"
#include "persist/sqlite/dialect.hpp"
#include "persist/sqlite/transaction.hpp"
#include "persist/sqlite/writer_loans.hpp"

#include <unistd.h>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace persist::sqlite {

class Backend {
public:
    using dialect = sqlite::Dialect;
    using write_transaction = Transaction;
    using read_transaction = ReadTransaction;
    static constexpr std::string_view name = "sqlite";
    static constexpr Settings settings = Settings::sqlite; ///< what it reads of Config
    /// Store's lock policy when none is named: processes on this machine (see persist/sqlite.hpp).
    using default_lock_policy = lock::File<lock::Ofd>;

    /// Prepares the path (first run: directories 0700, file 0600) and opens the writer.
    /// Throws config_error, permission_error (with a diagnosis), corrupt_error, io_error.
    explicit Backend(const Config& config)
        : config_(config), path_(config.path()), memory_(detail::is_memory_path(path_)) {
        if (config_.read_only) {
            // Inspection: no file is created and no writer opened; a first reader checks the file.
            if (memory_) throw usage_error("Config::read_only needs a database file, not \":memory:\"");
            auto first = std::make_unique<Connection>(path_, config_, Connection::Role::reader);
            read_only_identity_ = first->identity();
            readers_.add(std::move(first));
            return;
        }
        if (prepare_database(path_, config_.path_setting()) && config_.on_event)
            notify({Event::Kind::info, "created database " + path_});
        writer_ = std::make_unique<Connection>(path_, config_, Connection::Role::writer);
        if (!memory_ && wal_reset_mitigation_active()) notify({Event::Kind::info, wal_reset_status()});
    }

    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;

    /// One write transaction on the writer connection.
    class WriteSession {
    public:
        WriteSession(Backend& backend, Deadline deadline)
            : backend_(backend), lock_(backend.writer_mutex_, std::defer_lock) {
            if (!lock_.try_lock()) {
                backend.notify({Event::Kind::wait, "waiting for the writer connection of " + backend.path_ +
                                                       ", in use by another thread of this process"});
                if (!lock_.try_lock_until(deadline))
                    throw busy_error("the writer connection of " + backend.path_ +
                                     " stayed in use by another thread of this process until the deadline");
            }
            if (backend.config_.read_only)
                throw usage_error("database " + backend.path_ + " was opened read-only (Config::read_only); it cannot be "
                                  "written. Open a Store without read_only to write");
            backend.take_back_writer();
            if (!backend.writer_)
                throw connection_error("database " + backend.path_ +
                                       " is closed: reopening it failed; call health() to retry");
            transaction_.emplace(*backend.writer_);
        }
        WriteSession(WriteSession&&) = delete;
        ~WriteSession() {
            if (begun_ && !committed_) rollback(*backend_.writer_);
        }
        /// BEGIN IMMEDIATE. When SQLite reports the database read-only although the file is
        /// writable, the connection fell back to read-only shared memory after a failed open
        /// of the -shm file (a passing EIO or ENOSPC): the writer is replaced and BEGIN tried
        /// once more; if it still fails, io_error says so.
        void begin() {
            try {
                backend_.writer_->run_control(Connection::Control::begin_immediate);
            } catch (const permission_error& refused) {
                if ((refused.native_code() & 0xff) != SQLITE_READONLY || ::access(backend_.path_.c_str(), W_OK) != 0) throw;
                backend_.replace_writer_after(refused);
                if (!backend_.writer_)
                    throw connection_error("database " + backend_.path_ + " is closed: reopening it failed; call health() to retry");
                transaction_.emplace(*backend_.writer_);
                try {
                    backend_.writer_->run_control(Connection::Control::begin_immediate);
                } catch (const permission_error& again) {
                    if ((again.native_code() & 0xff) != SQLITE_READONLY) throw;
                    throw io_error("database " + backend_.path_ + " is writable, but SQLite could not open its shared-memory "
                                   "file " + backend_.path_ + "-shm for writing and can only read it (" + again.what() +
                                   "). Fix: check free space and the health of the disk, and that " + backend_.path_ +
                                   "-shm is a regular file this uid can write",
                                   again.native_code());
                }
            }
            begun_ = true;
        }
        /// COMMIT. A failure that leaves the transaction open (busy, a deferred foreign key) is
        /// rethrown as it is: nothing was committed, and the session rolls back. A failure
        /// after which SQLite ended the transaction (a failed write or fsync of the WAL) may
        /// leave the commit record on disk, to reappear when the WAL is recovered:
        /// commit_outcome_unknown, and the writer connection, whose state after the failure is
        /// not to be trusted, is replaced.
        void commit() {
            try {
                backend_.writer_->run_control(Connection::Control::commit);
            } catch (const error& failed) {
                // Still inside the transaction (busy, or a deferred foreign key refused at
                // COMMIT): nothing was committed; the destructor rolls back.
                if (!sqlite3_get_autocommit(backend_.writer_->handle())) throw;
                committed_ = true; // nothing to roll back on the connection being replaced
                backend_.replace_writer_after(failed);
                throw commit_outcome_unknown(
                    "COMMIT on " + backend_.path_ + " failed: " + failed.what() +
                        ". The transaction may or may not be committed: the commit may already be in the write-ahead "
                        "log and appear when the database is next opened. persist did not retry it; check the data "
                        "and the disk before doing it again",
                    failed.native_code());
            }
            committed_ = true;
            if (backend_.writer_->wal_frames() >= checkpoint_frames)
                backend_.checkpointer_.run(*backend_.writer_, backend_.path_, backend_.config_);
        }
        Transaction& transaction() noexcept { return *transaction_; }

        // Group commit (persist/detail/group_commit.hpp): other writes join this transaction,
        // each in a savepoint of its own.
        /// Whether the transaction is open (SQLite rolls it all back on some errors).
        bool transaction_open() const noexcept {
            return begun_ && backend_.writer_ && !sqlite3_get_autocommit(backend_.writer_->handle());
        }
        /// Whether other writes may join: open, and no foreign key left unresolved, which
        /// would fail the shared COMMIT (a deferred one: SQLite checks those at COMMIT).
        bool shareable() const noexcept { return transaction_open() && !unresolved_foreign_keys(); }
        void begin_member() {
            backend_.writer_->run_script("SAVEPOINT persist_group_member");
            member_open_ = true;
        }
        /// Releases the member's savepoint; if the member left a foreign key unresolved, rolls
        /// it back instead and throws the constraint_error its own COMMIT would have thrown.
        void finish_member() {
            if (unresolved_foreign_keys()) {
                rollback_member();
                throw_error(SQLITE_CONSTRAINT_FOREIGNKEY, "FOREIGN KEY constraint failed", "COMMIT");
            }
            member_open_ = false;
            backend_.writer_->run_script("RELEASE SAVEPOINT persist_group_member");
        }
        /// Undoes what the member did (nothing to undo if SQLite already rolled back everything).
        void rollback_member() noexcept {
            if (!member_open_) return;
            member_open_ = false;
            if (transaction_open())
                sqlite3_exec(backend_.writer_->handle(),
                             "ROLLBACK TO SAVEPOINT persist_group_member; RELEASE SAVEPOINT persist_group_member", nullptr,
                             nullptr, nullptr);
        }

    private:
        bool unresolved_foreign_keys() const noexcept {
            int current = 0, highest = 0;
            return sqlite3_db_status(backend_.writer_->handle(), SQLITE_DBSTATUS_DEFERRED_FKS, &current, &highest, 0) ==
                       SQLITE_OK && current != 0;
        }

        Backend& backend_;
        std::unique_lock<detail::TimedMutex> lock_;
        std::optional<Transaction> transaction_;
        bool begun_ = false;
        bool committed_ = false;
        bool member_open_ = false;
    };

    /// One read transaction on a reader connection (the writer for :memory:).
    class ReadSession {
    public:
        ReadSession(Backend& backend, Deadline deadline) : backend_(backend) {
            if (backend.memory_) {
                writer_lock_ = std::unique_lock(backend.writer_mutex_, std::defer_lock);
                if (!writer_lock_.try_lock_until(deadline))
                    throw busy_error("the only connection of the in-memory database stayed in use "
                                     "by another thread until the deadline");
                if (!backend.writer_)
                    throw connection_error("database " + backend.path_ +
                                           " is closed: reopening it failed; call health() to retry");
                connection_ = backend.writer_.get();
            } else {
                lease_ = backend.lend_writer();
                borrowed_writer_ = lease_ != nullptr;
                if (!lease_) {
                    ReaderHooks hooks{backend};
                    lease_ = backend.readers_.acquire(deadline, hooks, &generation_);
                }
                connection_ = lease_.get();
            }
            transaction_.emplace(*connection_);
        }
        ReadSession(ReadSession&&) = delete;
        ~ReadSession() {
            if (begun_ && !finished_) rollback(*connection_);
            if (borrowed_writer_) backend_.give_back_writer(std::move(lease_));
            else backend_.readers_.release(std::move(lease_), true, &generation_);
        }
        void begin() {
            connection_->run_control(Connection::Control::begin);
            begun_ = true;
        }
        /// For store.read(single_statement, fn): no BEGIN. The one statement is its own read
        /// transaction (SQLite's autocommit), ended when the statement is reset.
        void begin_single_statement() noexcept { transaction_->limit_to_one_statement(); }
        void commit() {
            if (begun_) connection_->run_control(Connection::Control::commit);
            finished_ = true;
        }
        ReadTransaction& transaction() noexcept { return *transaction_; }

    private:
        friend class Backend;
        Backend& backend_;
        std::unique_lock<detail::TimedMutex> writer_lock_;
        std::unique_ptr<Connection> lease_;
        bool borrowed_writer_ = false;
        std::uint64_t generation_ = 0;
        Connection* connection_ = nullptr;
        std::optional<ReadTransaction> transaction_;
        bool begun_ = false;
        bool finished_ = false;
    };

    WriteSession write_session(Deadline deadline) { return WriteSession(*this, deadline); }
    ReadSession read_session(Deadline deadline) { return ReadSession(*this, deadline); }

    /// Checks that the writer answers and that the path still names the opened file. If the
    /// file was replaced (another inode) or does not answer, reopens once no read is in
    /// progress, so every connection to the old file is closed first (an old connection keeps
    /// the old -wal, which SQLite could pair with the new file); until then ok=false. A deleted
    /// file is not reopened (that would create an empty database and hide the loss). Only this
    /// process's connections are handled: other processes may pair their -wal with a new file.
    Health health(Deadline deadline) {
        Health report;
        if (config_.read_only) {
            // Read-only: answer through a reader; never reopen (that could create a writer).
            try {
                ReadSession session(*this, deadline);
                report.answering = session.transaction().connection().query_text("SELECT 1") == "1";
            } catch (const error& e) {
                report.detail = e.what();
            }
            const auto now = Connection::current_identity(path_);
            report.same_file = now && *now == read_only_identity_;
            report.ok = report.answering && report.same_file;
            if (!report.ok && report.detail.empty()) report.detail = "database file " + path_ + " was replaced or deleted";
            return report;
        }
        std::unique_lock lock(writer_mutex_, std::defer_lock);
        if (!lock.try_lock_until(deadline)) {
            report.detail = "the writer connection stayed busy; try again later";
            return report;
        }
        try {
            take_back_writer();
            if (writer_) report.answering = writer_->query_text("SELECT 1") == "1";
        } catch (const error& e) {
            report.detail = e.what();
        }
        if (memory_) {
            report.same_file = true;
            report.ok = report.answering;
            return report;
        }
        const auto now = Connection::current_identity(path_);
        if (!now) {
            report.detail = "database file " + path_ +
                            " was deleted while open; new writes would be lost with it. Restore "
                            "the file from a backup or restart the application";
            notify({Event::Kind::warning, report.detail});
            return report;
        }
        report.same_file = writer_ && *now == writer_->identity();
        if (report.same_file && report.answering) {
            report.ok = true;
            return report;
        }
        const bool replaced = !report.same_file;
        if (!loans_.retire_if_none_out() || !readers_.retire_all_if_idle()) {
            report.detail = "database file " + path_ + (replaced ? " was replaced" : " does not answer") +
                            "; reopening waits until no read is in progress: call health() again";
            notify({Event::Kind::warning, report.detail});
            return report;
        }
        if (writer_) {
            // The old connection's -wal file sits at the path the new file will use. Move its
            // content into the old file and empty it, so the new file never sees it.
            try {
                writer_->run_script("PRAGMA wal_checkpoint(TRUNCATE)");
            } catch (const error&) {
                // A connection that does not answer cannot checkpoint; reopening is still right.
            }
        }
        checkpointer_.close();
        writer_.reset();
        try {
            writer_ = std::make_unique<Connection>(path_, config_, Connection::Role::writer);
            report = Health{true, true, true, true, ""};
            notify({Event::Kind::info,
                    "reopened database " + path_ + (replaced ? " (the file was replaced)" : "")});
        } catch (const error& e) {
            report.ok = false;
            report.detail = std::string("reopening failed: ") + e.what();
        }
        return report;
    }

    /// Runs parameterless SQL on the writer connection in autocommit mode, outside any
    /// transaction (for statements SQLite refuses inside one), one prepared statement at a
    /// time under the authorizer of persist/sqlite/script.hpp (VACUUM, foreign_keys and
    /// legacy_alter_table allowed; transaction control, ATTACH and VACUUM INTO refused).
    /// The connection's foreign_keys and legacy_alter_table settings are restored afterwards,
    /// however it ends. Waits for the writer connection until `deadline` (busy_error).
    void run_outside_transaction(const std::string& sql, Deadline deadline) {
        WriteSession session(*this, deadline);
        struct RestoreSettings {
            Connection& connection;
            ~RestoreSettings() {
                try {
                    if (!sqlite3_get_autocommit(connection.handle())) rollback(connection);
                    connection.run_script("PRAGMA foreign_keys=ON;PRAGMA legacy_alter_table=OFF");
                } catch (...) {
                }
            }
        } restore{*writer_};
        run_script(writer_->handle(), sql, ScriptPlace::outside_transaction, "statement outside a transaction");
    }

    /// Writes a consistent copy of the database to `path` (VACUUM INTO), which must not exist:
    /// into a temporary file made exclusively (0600) beside it, fsynced, renamed into place,
    /// the directory fsynced. Throws usage_error if `path` exists, io_error.
    void snapshot_to(const std::string& path, Deadline deadline) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0) throw usage_error("snapshot " + path + " already exists");
        // Temporaries of snapshots killed halfway (VACUUM INTO a large database takes a while).
        const std::string name = path.substr(path.find_last_of('/') + 1);
        if (const auto marker = name.find(".snapshot-"); marker != std::string::npos)
            detail::sweep_leftovers(detail::directory_of(path), name.substr(0, marker + 10));
        detail::TemporaryFile temporary(path);
        temporary.close();
        {
            WriteSession session(*this, deadline);
            sqlite3_stmt* statement = writer_->statements().get(writer_->database(), "VACUUM INTO ?");
            bind_value(statement, 1, temporary.path());
            const int rc = sqlite3_step(statement);
            sqlite3_reset(statement);
            sqlite3_clear_bindings(statement);
            if (rc != SQLITE_DONE) throw_last_error(writer_->handle(), "VACUUM INTO " + temporary.path());
        }
        detail::sync_file(temporary.path());
        temporary.rename_to(path);
        detail::sync_directory(detail::directory_of(path));
    }

    /// Replaces the database's content with that of the SQLite file `path`, online, through
    /// SQLite's backup API (readers then see the restored content).
    void restore_from(const std::string& path, Deadline deadline) {
        WriteSession session(*this, deadline);
        sqlite3* source = nullptr;
        // Read only, never through a symlink; a crafted schema's functions do not run.
        if (sqlite3_open_v2(path.c_str(), &source, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, nullptr) != SQLITE_OK) {
            const std::string message = sqlite3_errmsg(source);
            sqlite3_close(source);
            throw io_error("cannot open snapshot " + path + " to restore from: " + message);
        }
        distrust_schema(source);
        sqlite3_backup* backup = sqlite3_backup_init(writer_->handle(), "main", source, "main");
        int rc = backup ? sqlite3_backup_step(backup, -1) : sqlite3_errcode(writer_->handle());
        if (backup) sqlite3_backup_finish(backup);
        sqlite3_close(source);
        if (rc != SQLITE_DONE) throw_error(rc, sqlite3_errstr(rc), "restore from " + path);
    }

    /// Forgets every connection without closing it (see Connection::abandon).
    void abandon() noexcept {
        checkpointer_.abandon();
        if (writer_) writer_->abandon();
        loans_.abandon();
        readers_.abandon([](std::unique_ptr<Connection>& reader) { reader->abandon(); });
    }

    const std::string& path() const noexcept { return path_; }
    const Config& config() const noexcept { return config_; }
    /// What to do about a store that stayed busy (the end of Store's busy_error).
    std::string busy_advice() const {
        return "Another connection is holding a long write transaction: find it (e.g. fuser " + path_ +
               "), or raise busy_timeout";
    }

private:
    // After COMMIT failed, or the writer found itself read-only: close the writer (rolling back
    // whatever SQLite kept open) and open a new one, so later writes start from the database as
    // it is on disk. If reopening fails, writes report connection_error until health() reopens.
    void replace_writer_after(const error& failure) noexcept {
        if (writer_) rollback(*writer_);
        writer_.reset();
        try {
            writer_ = std::make_unique<Connection>(path_, config_, Connection::Role::writer);
            notify({Event::Kind::warning, "the writer connection of " + path_ + " failed (" + failure.what() +
                                              "); it was reopened"});
        } catch (const error& e) {
            notify({Event::Kind::warning, "the writer connection of " + path_ + " failed (" + failure.what() +
                                              ") and reopening it failed too: " + e.what()});
        }
    }

public:
    /// truncate_wal() on the writer connection once no write of this Store runs (until `deadline`).
    /// Throws busy_error at the deadline, usage_error for a read-only or in-memory Store.
    CheckpointResult checkpoint(Deadline deadline) {
        if (config_.read_only || memory_) throw usage_error("checkpoint() needs a database file opened for writing");
        std::unique_lock lock(writer_mutex_, std::defer_lock);
        if (!lock.try_lock_until(deadline))
            throw busy_error("checkpoint of " + path_ + ": the writer connection stayed busy until the deadline");
        take_back_writer();
        if (!writer_) throw connection_error("checkpoint of " + path_ + ": the writer connection is closed; call health()");
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        return truncate_wal(*writer_, std::max(left, std::chrono::milliseconds(0)), config_);
    }

private:
    // The writer connection for a read, if no write uses it now (never waits); nullptr if not.
    std::unique_ptr<Connection> lend_writer() {
        if (config_.read_only || !writer_mutex_.try_lock()) return nullptr;
        std::lock_guard unlock(writer_mutex_, std::adopt_lock);
        return loans_.lend(writer_);
    }
    void give_back_writer(std::unique_ptr<Connection> connection) noexcept {
        const bool held = writer_mutex_.try_lock();
        loans_.give_back(std::move(connection), held ? &writer_ : nullptr);
        if (held) writer_mutex_.unlock();
    }
    void take_back_writer() { loans_.take_back(writer_, path_, config_); }

    static void rollback(Connection& connection) noexcept {
        // SQLite may already have rolled back (e.g. on SQLITE_FULL); then there is nothing to do.
        if (!sqlite3_get_autocommit(connection.handle()))
            sqlite3_exec(connection.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

    void notify(const Event& event) const noexcept { persist::detail::notify(config_.on_event, event); }

    // How the reader pool opens readers and says it is exhausted.
    struct ReaderHooks {
        Backend& backend;
        bool usable(Connection&) const noexcept { return true; }
        std::unique_ptr<Connection> open(Deadline) const {
            return std::make_unique<Connection>(backend.path_, backend.config_, Connection::Role::reader);
        }
        void waiting() const {
            backend.notify({Event::Kind::wait, "waiting for a reader connection of " + backend.path_ + " (all " +
                                                   std::to_string(backend.readers_.limit()) + " in use)"});
        }
        [[noreturn]] void timed_out() const {
            throw busy_error("all " + std::to_string(backend.readers_.limit()) + " reader connections of " + backend.path_ +
                             " stayed in use until the deadline; raise reader_connections");
        }
        [[noreturn]] void unreachable() const { timed_out(); }
    };

    Config config_;
    std::string path_;
    bool memory_;
    detail::TimedMutex writer_mutex_;
    std::unique_ptr<Connection> writer_;
    WriterLoans loans_;
    Checkpointer checkpointer_; // WAL-reset mitigation only; used with writer_mutex_ held
    FileIdentity read_only_identity_; // Config::read_only: the file opened
    // Readers of the current file; health() retires them all when it reopens a replaced file.
    persist::detail::Pool<Connection> readers_{config_.reader_connections};
};

} // namespace persist::sqlite
