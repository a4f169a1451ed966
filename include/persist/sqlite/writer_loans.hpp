// persist/sqlite/writer_loans.hpp: the writer connection a Backend lends to reads.
//
// Every commit empties the page cache of SQLite's other connections; the connection that
// committed keeps its own. So a read that starts while no write runs borrows the writer
// connection (see persist/sqlite/backend.hpp), and reads right after writes do not read every
// page again. Writes never wait for such a read: a write that starts meanwhile takes the spare
// (a borrowed connection given back while a write ran) or opens another one. The count of
// connections out with reads lets reopening a replaced file wait for them.
//
// Thread-safety: every member may be called from any thread; those that take the Backend's
// writer connection say that its writer mutex must be held.
#pragma once

#include "persist/config.hpp"
#include "persist/error.hpp"
#include "persist/sqlite/connection.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

namespace persist::sqlite {

class WriterLoans {
public:
    /// With the writer mutex held: `writer` for a read; nullptr if there is none, or while
    /// another read has one (so at most two writer connections ever exist: the one out and
    /// the one a write took meanwhile, which a later write reuses as the spare).
    std::unique_ptr<Connection> lend(std::unique_ptr<Connection>& writer) noexcept {
        if (!writer || out_ != 0) return nullptr;
        identity_ = writer->identity();
        writer_out_ = true;
        ++out_;
        return std::move(writer);
    }

    /// A borrowed connection back from its read. `writer` is the Backend's writer slot if its
    /// writer mutex is held (nullptr if a write holds it): the connection is the writer again
    /// unless a write took another meanwhile; else it is kept as the spare if there is none,
    /// or closed.
    void give_back(std::unique_ptr<Connection> connection, std::unique_ptr<Connection>* writer) noexcept {
        if (writer && !*writer && writer_out_) {
            *writer = std::move(connection);
            writer_out_ = false;
        }
        if (!connection) {
            --out_; // with the writer mutex held: no reopening can look at it meanwhile
            return;
        }
        std::unique_ptr<Connection> surplus; // closed after the lock is released
        std::lock_guard lock(mutex_);
        --out_; // under the lock, with the spare: retire_if_none_out sees both or neither
        if (!spare_) spare_ = std::move(connection);
        else surplus = std::move(connection);
    }

    /// With the writer mutex held: if a read has the writer connection, the spare or a new one
    /// takes its place in `writer`. A new one only on the file the borrowed one has open:
    /// opening a replacement while that one is open could pair it with the old -wal (see
    /// Backend::health). Throws connection_error, or what opening throws (a later call tries
    /// again).
    void take_back(std::unique_ptr<Connection>& writer, const std::string& path, const Config& config) {
        if (writer || !writer_out_) return;
        {
            std::lock_guard lock(mutex_);
            writer = std::move(spare_);
        }
        if (!writer && Connection::current_identity(path) != identity_)
            throw connection_error("database file " + path + " was replaced or deleted while open; call health(), "
                                   "which reopens it once no read is in progress");
        if (!writer) writer = std::make_unique<Connection>(path, config, Connection::Role::writer);
        writer_out_ = false;
    }

    /// Before the database is reopened: closes the spare and returns true, or returns false
    /// while a read still has a connection to the old file.
    bool retire_if_none_out() noexcept {
        std::unique_ptr<Connection> spare;
        std::lock_guard lock(mutex_);
        if (out_ != 0) return false;
        spare = std::move(spare_);
        return true;
    }
    /// After fork(): forgets the spare without closing it (see Connection::abandon).
    void abandon() noexcept {
        std::lock_guard lock(mutex_);
        if (spare_) spare_->abandon();
        spare_.reset();
    }

private:
    bool writer_out_ = false; // with the writer mutex: the writer slot is empty because a read has it
    FileIdentity identity_;   // with the writer mutex: the file the borrowed writer has open
    std::mutex mutex_; // guards spare_; held only to move pointers
    std::unique_ptr<Connection> spare_;
    std::atomic<int> out_{0}; // writer connections out with reads
};

} // namespace persist::sqlite
