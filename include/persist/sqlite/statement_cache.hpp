// persist/sqlite/statement_cache.hpp: prepared statements kept per connection, keyed by SQL
// text, least recently used dropped first.
//
// Statements are raw sqlite3_stmt handles in a small RAII owner rather than
// SQLite::Statement: SQLiteCpp 3.2 keeps the handle private, and persist needs it for
// zero-copy text binding, sqlite3_stmt_readonly and parameter counts.
//
// Thread-safety: none; a cache belongs to one connection, which one thread uses at a time.
#pragma once

#include "persist/sqlite/errors.hpp"

#include <SQLiteCpp/Database.h>

#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace persist::sqlite {

/// Owns one prepared statement; finalizes it on destruction.
class PreparedStatement {
public:
    /// Prepares exactly one statement. Throws the mapped persist error if it does not
    /// prepare, usage_error if `sql` holds more than one statement.
    PreparedStatement(sqlite3* db, const std::string& sql) {
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

private:
    sqlite3_stmt* statement_ = nullptr;
};

class StatementCache {
public:
    /// A cache holding at most `capacity` statements (at least 1).
    explicit StatementCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

    StatementCache(const StatementCache&) = delete;
    StatementCache& operator=(const StatementCache&) = delete;

    /// The prepared statement for `sql` on `database`, prepared now if not cached. Users
    /// reset it and clear its bindings after use. The handle stays valid until the next call
    /// to get() or clear().
    /// Throws schema_error (and the other SQLite-mapped errors) if `sql` does not prepare,
    /// usage_error if `sql` holds more than one statement.
    sqlite3_stmt* get(SQLite::Database& database, std::string_view sql) {
        // Fast path: the same SQL as the previous call (loops, typed operations), found by one
        // comparison instead of hashing.
        if (!entries_.empty() && entries_.front().sql == sql) {
            ++hits_;
            return entries_.front().statement->get();
        }
        if (auto found = index_.find(sql); found != index_.end()) {
            entries_.splice(entries_.begin(), entries_, found->second);
            ++hits_;
            return found->second->statement->get();
        }
        ++misses_;
        auto entry = Entry{std::string(sql), nullptr};
        entry.statement = std::make_unique<PreparedStatement>(database.getHandle(), entry.sql);
        if (entries_.size() >= capacity_) {
            index_.erase(std::string_view(entries_.back().sql));
            entries_.pop_back();
        }
        entries_.push_front(std::move(entry));
        index_.emplace(std::string_view(entries_.front().sql), entries_.begin());
        return entries_.front().statement->get();
    }

    /// Finalizes every statement (needed before the connection closes).
    void clear() noexcept {
        index_.clear();
        entries_.clear();
    }

    std::size_t size() const noexcept { return entries_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t hits() const noexcept { return hits_; }
    std::size_t misses() const noexcept { return misses_; }

private:
    struct Entry {
        std::string sql;
        std::unique_ptr<PreparedStatement> statement;
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const noexcept {
            return std::hash<std::string_view>{}(text);
        }
    };
    std::size_t capacity_;
    std::list<Entry> entries_;
    std::unordered_map<std::string_view, std::list<Entry>::iterator, Hash, std::equal_to<>> index_;
    std::size_t hits_ = 0;
    std::size_t misses_ = 0;
};

} // namespace persist::sqlite
