// persist/error.hpp: the one exception hierarchy every persist function throws.
//
// Every error derives from persist::error, carries a std::error_code in the persist
// category (what kind of failure), the native code of the layer below (a SQLite result
// code, a SQLSTATE as an integer, an errno), and whether retrying the same operation
// later can succeed. Messages say what failed, on which object, and how to fix it.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace persist {

/// What kind of failure an error is. Values are stable; 0 is never used.
enum class errc {
    config = 1,    ///< the configuration is invalid (bad environment value, bad path shape)
    permission,    ///< the operating system refuses access to a file or directory
    busy,          ///< the database stayed locked by someone else past the deadline
    constraint,    ///< a UNIQUE, NOT NULL, CHECK or FOREIGN KEY constraint rejected a write
    schema,        ///< the SQL does not match the schema (no such table, wrong column type)
    migration,     ///< a migration set is malformed or the database history disagrees with it
    lock_timeout,  ///< a persist lock was not granted before its deadline
    corrupt,       ///< the database file is damaged or is not a database
    io,            ///< the disk failed or is full
    connection,    ///< the connection to the database is gone or cannot be made
    usage,         ///< persist was called in a way its contract forbids (after fork(), nested write)
    timeout,       ///< a statement ran past its time limit and was cancelled (PostgreSQL statement_timeout)
    outcome_unknown, ///< COMMIT failed after it may have taken effect: the transaction may or may not be committed
    aborted,       ///< the server aborted the transaction at a failed statement; COMMIT rolled it back
    data,          ///< a value does not fit its SQL type: invalid text for the type, out of range, division by zero
    decryption,    ///< an encrypted value cannot be opened: unknown or wrong key, changed, truncated or moved
};

namespace detail {
class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "persist"; }
    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::config: return "invalid configuration";
        case errc::permission: return "permission denied";
        case errc::busy: return "database busy";
        case errc::constraint: return "constraint violated";
        case errc::schema: return "schema mismatch";
        case errc::migration: return "migration failed";
        case errc::lock_timeout: return "lock timeout";
        case errc::corrupt: return "database corrupt";
        case errc::io: return "input/output error";
        case errc::connection: return "connection failed";
        case errc::usage: return "usage error";
        case errc::timeout: return "statement timed out";
        case errc::outcome_unknown: return "commit outcome unknown";
        case errc::aborted: return "transaction aborted";
        case errc::data: return "invalid data";
        case errc::decryption: return "decryption failed";
        }
        return "unknown persist error";
    }
};
} // namespace detail

/// The persist error category. Thread-safe; the same object for the whole program.
inline const std::error_category& error_category() noexcept {
    static const detail::error_category_impl category;
    return category;
}

inline std::error_code make_error_code(errc value) noexcept {
    return {static_cast<int>(value), error_category()};
}

/// Base of every exception persist throws.
///
/// code(): the kind of failure, in persist's category, comparable with persist::errc.
/// native_code(): the code of the layer below (SQLite extended result code, errno, ...),
///   0 when there is none.
/// retriable(): true when the same operation may succeed if tried again later
///   (busy database, lock timeout, lost connection), false when it will fail the same way.
class error : public std::runtime_error {
public:
    error(errc kind, const std::string& message, int native_code = 0, bool retriable = false)
        : std::runtime_error(message), code_(make_error_code(kind)), native_code_(native_code),
          retriable_(retriable) {}

    const std::error_code& code() const noexcept { return code_; }
    int native_code() const noexcept { return native_code_; }
    bool retriable() const noexcept { return retriable_; }
    /// The SQLSTATE of a PostgreSQL error ("23505"); empty for errors that have none (SQLite's,
    /// persist's own). native_code() then holds it packed as PostgreSQL's MAKE_SQLSTATE does:
    /// six bits per character, (c - '0') & 0x3F, the first character lowest.
    const std::string& sql_state() const noexcept { return sql_state_; }
    /// Records the SQLSTATE (and its packed native_code()); used by the PostgreSQL backend.
    void attach_sql_state(std::string_view state) {
        sql_state_ = std::string(state);
        int packed = 0;
        for (std::size_t i = 0; i < state.size() && i < 5; ++i)
            packed |= ((static_cast<int>(state[i]) - '0') & 0x3F) << (6 * i);
        native_code_ = packed;
    }

private:
    std::error_code code_;
    int native_code_;
    bool retriable_;
    std::string sql_state_;
};

/// The configuration is invalid: an environment variable with a bad value, a database
/// path that is a directory or whose parent is a file.
class config_error : public error {
public:
    explicit config_error(const std::string& message, int native_code = 0)
        : error(errc::config, message, native_code) {}
};

/// The operating system refuses access. path() names the file or directory at fault,
/// owner_uid() and mode() describe it as found (mode is the permission bits; both are
/// -1 / 0 when the object could not be examined).
class permission_error : public error {
public:
    permission_error(const std::string& message, std::string path, long owner_uid, unsigned mode,
                     int native_code = 0)
        : error(errc::permission, message, native_code), path_(std::move(path)),
          owner_uid_(owner_uid), mode_(mode) {}

    const std::string& path() const noexcept { return path_; }
    long owner_uid() const noexcept { return owner_uid_; }
    unsigned mode() const noexcept { return mode_; }

private:
    std::string path_;
    long owner_uid_;
    unsigned mode_;
};

/// The database stayed locked past the deadline. Retriable.
class busy_error : public error {
public:
    explicit busy_error(const std::string& message, int native_code = 0)
        : error(errc::busy, message, native_code, true) {}
};

/// A constraint rejected the write. constraint() names it as the database reports it,
/// e.g. "users.email" for a UNIQUE constraint, or "FOREIGN KEY" when the database does not
/// say which one.
class constraint_error : public error {
public:
    constraint_error(const std::string& message, std::string constraint, int native_code = 0)
        : error(errc::constraint, message, native_code), constraint_(std::move(constraint)) {}

    const std::string& constraint() const noexcept { return constraint_; }

private:
    std::string constraint_;
};

/// The SQL or the row type does not match the database schema.
class schema_error : public error {
public:
    explicit schema_error(const std::string& message, int native_code = 0)
        : error(errc::schema, message, native_code) {}
};

/// A migration set is malformed or disagrees with the database's history.
class migration_error : public error {
public:
    explicit migration_error(const std::string& message, int native_code = 0)
        : error(errc::migration, message, native_code) {}
};

/// A persist lock was not granted before its deadline. Retriable.
class lock_timeout_error : public error {
public:
    explicit lock_timeout_error(const std::string& message, int native_code = 0)
        : error(errc::lock_timeout, message, native_code, true) {}
};

/// The database file is damaged or is not a database.
class corrupt_error : public error {
public:
    explicit corrupt_error(const std::string& message, int native_code = 0)
        : error(errc::corrupt, message, native_code) {}
};

/// A backup file or its manifest is missing, damaged, or does not match (errc::corrupt).
/// The message lists every problem found.
class backup_error : public corrupt_error {
public:
    explicit backup_error(const std::string& message) : corrupt_error(message) {}
};

/// A value does not fit its SQL type: text that is not a valid UUID, number or time for its
/// column, a number out of range, a division by zero (PostgreSQL SQLSTATE class 22). Not
/// retriable: the same value fails the same way.
class data_error : public error {
public:
    explicit data_error(const std::string& message, int native_code = 0)
        : error(errc::data, message, native_code) {}
};

/// An encrypted value cannot be opened (persist/crypto/encrypted.hpp): its key is not in the
/// keyring, or authentication failed because the key is wrong or the stored bytes were
/// changed, truncated, or copied from another row or column. persist never returns such bytes.
/// Not retriable.
class decryption_error : public error {
public:
    explicit decryption_error(const std::string& message) : error(errc::decryption, message) {}
};

/// The disk failed or is full.
class io_error : public error {
public:
    explicit io_error(const std::string& message, int native_code = 0)
        : error(errc::io, message, native_code) {}
};

/// The connection is gone or cannot be made. Retriable.
class connection_error : public error {
public:
    explicit connection_error(const std::string& message, int native_code = 0)
        : error(errc::connection, message, native_code, true) {}
};

/// A statement ran past its time limit and the server cancelled it. Not retried: the same
/// statement would run as long again.
class statement_timeout_error : public error {
public:
    explicit statement_timeout_error(const std::string& message, int native_code = 0)
        : error(errc::timeout, message, native_code) {}
};

/// COMMIT itself failed (SQLite: the disk reported an error while writing or syncing the
/// commit; PostgreSQL: the connection was lost while COMMIT was in flight), so the
/// transaction may or may not be committed: it may be visible now, or only after the database
/// is reopened, or never. persist never runs such a transaction again and never reports it as
/// rolled back. Not retriable as such: check the data (or the disk), then decide.
class commit_outcome_unknown : public error {
public:
    explicit commit_outcome_unknown(const std::string& message, int native_code = 0)
        : error(errc::outcome_unknown, message, native_code) {}
};

/// The transaction was not committed because the database had aborted it at a failed
/// statement whose error the Store function caught and did not rethrow (PostgreSQL aborts the
/// whole transaction at the first failed statement; its COMMIT then answers ROLLBACK). The
/// message names that statement and its error. Nothing of the transaction was committed. To
/// recover from a statement error inside a transaction, run the statement in tx.savepoint().
class transaction_aborted : public error {
public:
    explicit transaction_aborted(const std::string& message, int native_code = 0)
        : error(errc::aborted, message, native_code) {}
};

/// persist was used against its contract: a Store used after fork(), a write started
/// inside another write on the same thread, a write attempted in a read transaction.
class usage_error : public error {
public:
    explicit usage_error(const std::string& message, int native_code = 0)
        : error(errc::usage, message, native_code) {}
};

} // namespace persist

template <>
struct std::is_error_code_enum<persist::errc> : std::true_type {};
