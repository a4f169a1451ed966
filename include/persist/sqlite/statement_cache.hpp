// persist/sqlite/statement_cache.hpp: prepared statements kept per connection, keyed by SQL
// text, least recently used dropped first.
//
// Statements are raw sqlite3_stmt handles in a small RAII owner rather than
// SQLite::Statement: SQLiteCpp 3.2 keeps the handle private, and persist needs it for
// zero-copy text binding, sqlite3_stmt_readonly and parameter counts.
//
// Thread-safety: none; a cache belongs to one connection, which one thread uses at a time.
#pragma once

#include "persist/detail/lru_cache.hpp"
#include "persist/detail/sql_text.hpp"
#include "persist/sqlite/errors.hpp"

#include <SQLiteCpp/Database.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace persist::sqlite {

/// Owns one prepared statement; finalizes it on destruction.
class PreparedStatement {
public:
    /// Prepares exactly one statement. Throws the mapped persist error if it does not
    /// prepare, usage_error if `sql` holds more than one statement or a NUL byte.
    PreparedStatement(sqlite3* db, const std::string& sql) {
        persist::detail::refuse_nul(sql);
        const char* tail = nullptr;
        if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                               &statement_, &tail) != SQLITE_OK) {
            sqlite3_finalize(statement_);
            throw_last_error(db, sql);
        }
        if (statement_ == nullptr)
            throw usage_error("the SQL text holds no statement [" + sql + "]");
        if (tail != nullptr && *tail != '\0') {
            // Anything but whitespace or comments after the first statement would be
            // silently ignored; refuse it instead.
            sqlite3_stmt* next = nullptr;
            const int rc = sqlite3_prepare_v2(db, tail, -1, &next, nullptr);
            sqlite3_finalize(next);
            if (rc != SQLITE_OK || next != nullptr) {
                sqlite3_finalize(statement_);
                throw usage_error("one call runs one SQL statement, but this text holds more [" + sql +
                                  "]; split it into separate calls, or use execute_script() for "
                                  "parameterless DDL");
            }
        }
    }
    PreparedStatement(const PreparedStatement&) = delete;
    PreparedStatement& operator=(const PreparedStatement&) = delete;
    ~PreparedStatement() { sqlite3_finalize(statement_); }

    sqlite3_stmt* get() const noexcept { return statement_; }
    /// Whether the statement is a PRAGMA that changes a setting of the connection or runs
    /// maintenance (as recorded by StatementCache, which prepares under an authorizer).
    bool changes_settings() const noexcept { return changes_settings_; }

private:
    friend class StatementCache;
    sqlite3_stmt* statement_ = nullptr;
    bool changes_settings_ = false;
};

/// The prepared statements of one connection (a detail::LruCache of PreparedStatement).
class StatementCache {
public:
    /// A cache holding at most `capacity` statements (at least 1).
    explicit StatementCache(std::size_t capacity) : cache_(capacity) {}

    StatementCache(const StatementCache&) = delete;
    StatementCache& operator=(const StatementCache&) = delete;

    /// The prepared statement for `sql` on `database`, prepared now if not cached. Users
    /// reset it and clear its bindings after use. The handle stays valid until the next call
    /// to get() or clear().
    /// Throws schema_error (and the other SQLite-mapped errors) if `sql` does not prepare,
    /// usage_error if `sql` holds more than one statement.
    /// `changes_settings`, if given, receives PreparedStatement::changes_settings().
    sqlite3_stmt* get(SQLite::Database& database, std::string_view sql, bool* changes_settings = nullptr) {
        if (auto* cached = cache_.find(sql)) {
            ++hits_;
            if (changes_settings) *changes_settings = (*cached)->changes_settings();
            return (*cached)->get();
        }
        ++misses_;
        std::string text(sql);
        auto statement = prepare_without_transaction_control(database.getHandle(), text);
        sqlite3_stmt* handle = statement->get();
        if (changes_settings) *changes_settings = statement->changes_settings();
        cache_.insert(std::move(text), std::move(statement)); // an evicted statement is finalized here
        return handle;
    }

    /// Finalizes every statement (needed before the connection closes).
    void clear() noexcept { cache_.clear(); }

    std::size_t size() const noexcept { return cache_.size(); }
    std::size_t capacity() const noexcept { return cache_.capacity(); }
    std::size_t hits() const noexcept { return hits_; }
    std::size_t misses() const noexcept { return misses_; }

private:
    // Statements run through a transaction object (query, execute) must not end or split the
    // transaction persist owns: a COMMIT there would make a write durable before its function
    // returned, and under group commit before other writes' functions did. SQLite's authorizer
    // sees BEGIN, COMMIT, ROLLBACK, SAVEPOINT and RELEASE however they are spelt.
    // It also notes a PRAGMA given an argument that is not a table or index to describe (or a
    // row limit for the checks), and the maintenance PRAGMAs: such a PRAGMA changes a setting
    // of the connection or acts on the database, which a read must not do (it may run on the
    // connection that writes).
    static std::unique_ptr<PreparedStatement> prepare_without_transaction_control(sqlite3* db, const std::string& sql) {
        struct Refusal {
            bool refused = false;
            bool changes_settings = false;
            static int callback(void* self, int code, const char* name, const char* argument, const char*, const char*) {
                auto& refusal = *static_cast<Refusal*>(self);
                if (code == SQLITE_PRAGMA && ((argument != nullptr && !describes(name)) || maintains(name)))
                    refusal.changes_settings = true;
                if (code != SQLITE_TRANSACTION && code != SQLITE_SAVEPOINT) return SQLITE_OK;
                refusal.refused = true;
                return SQLITE_DENY;
            }
            // Maintenance that acts without an argument and that sqlite3_stmt_readonly() does
            // not count as writing (it does count wal_checkpoint and incremental_vacuum).
            static bool maintains(const char* pragma) {
                for (const char* acting : {"optimize", "shrink_memory"})
                    if (sqlite3_stricmp(pragma, acting) == 0) return true;
                return false;
            }
            static bool describes(const char* pragma) {
                for (const char* reading : {"table_info", "table_xinfo", "table_list", "index_info", "index_xinfo",
                                            "index_list", "foreign_key_list", "foreign_key_check", "integrity_check",
                                            "quick_check"})
                    if (sqlite3_stricmp(pragma, reading) == 0) return true;
                return false;
            }
        } refusal;
        sqlite3_set_authorizer(db, &Refusal::callback, &refusal);
        struct Remove {
            sqlite3* db;
            ~Remove() { sqlite3_set_authorizer(db, nullptr, nullptr); }
        } remove{db};
        try {
            auto statement = std::make_unique<PreparedStatement>(db, sql);
            statement->changes_settings_ = refusal.changes_settings;
            return statement;
        } catch (const error&) {
            if (!refusal.refused) throw;
        }
        throw usage_error(persist::detail::transaction_control_refused(sql));
    }

    persist::detail::LruCache<std::unique_ptr<PreparedStatement>> cache_;
    std::size_t hits_ = 0;
    std::size_t misses_ = 0;
};

} // namespace persist::sqlite
