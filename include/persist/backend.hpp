// persist/backend.hpp: the Backend concept, the seam between Store and a database.
//
// A Backend owns the connections and knows its SQL dialect. Store adds what is common to
// all backends: retry with backoff, fork detection, nesting checks, events and locks.
#pragma once

#include "persist/config.hpp"
#include "persist/dialect.hpp"
#include "persist/settings.hpp"

#include <chrono>
#include <concepts>
#include <string>

namespace persist {

/// The result of Store::health().
struct Health {
    bool ok = false;         ///< the store is usable now
    bool answering = false;  ///< the database answered a trivial query
    bool same_file = false;  ///< the path still names the file that was opened (always true
                             ///< for :memory: and for server databases)
    bool reopened = false;   ///< health() reopened the connections to recover
    std::string detail;      ///< what is wrong and what to do; empty when ok
};

using Deadline = std::chrono::steady_clock::time_point;

/// The isolation a write transaction asks for (Store::write(isolation, fn)).
/// SQLite runs one writer at a time, so its transactions are serializable whatever is asked.
/// PostgreSQL runs READ COMMITTED by default; serializable makes the server detect conflicts
/// between concurrent transactions and fail one with 40001, which Store retries.
enum class Isolation { read_committed, serializable };

/// A session is one transaction on one connection, held for the duration of one attempt:
/// begin() starts it, transaction() is what the user's function receives, commit() ends it.
/// Destroying a session that was begun but not committed rolls the transaction back.
template <class S, class Transaction>
concept Session = requires(S& session) {
    session.begin();
    session.commit();
    { session.transaction() } -> std::same_as<Transaction&>;
};

/// What Store<B, L> needs from a backend B:
///   B::dialect, B::write_transaction, B::read_transaction  types (dialect satisfies Dialect)
///   B::name                                    "sqlite", "postgres"
///   B(const Config&)                           opens (and on first run creates) the database
///   b.write_session(deadline)                  a Session for one write attempt; busy_error if
///                                              no writer is free before `deadline`
///   b.write_session(deadline, isolation)       optional: the same at an Isolation level
///   b.read_session(deadline)                   a Session for one read attempt, which also
///                                              has begin_single_statement(): begin() for a
///                                              function that runs one statement (see
///                                              Store::read(single_statement, fn))
///   b.health(deadline)                         a Health report, reopening when safe
///   b.abandon()                                forget connections without closing them (used
///                                              in a child after fork())
///   b.path()                                   where the data lives, for messages
///   b.busy_advice()                            what to do about a store that stayed busy
///   b.run_outside_transaction(script, deadline)  runs a script in no transaction (for a
///                                              migration marked no-transaction)
/// Use persist::sqlite::Backend or persist::postgres::Backend, or implement all of the above.
namespace detail {
template <class B>
inline constexpr bool names_backend_parts = requires {
    B::name;
    typename B::dialect;
    typename B::write_transaction;
    typename B::read_transaction;
};
} // namespace detail
template <class B>
concept Backend =
    detail::names_backend_parts<B> && // B is not a backend: use persist::sqlite::Backend or persist::postgres::Backend
    requires(B& backend, const B& const_backend, Deadline deadline) {
        { B::name } -> std::convertible_to<std::string_view>;
        { backend.write_session(deadline) } -> Session<typename B::write_transaction>;
        { backend.read_session(deadline) } -> Session<typename B::read_transaction>;
        backend.read_session(deadline).begin_single_statement();
        { backend.health(deadline) } -> std::same_as<Health>;
        { backend.abandon() } noexcept;
        { const_backend.path() } -> std::convertible_to<std::string>;
        { const_backend.busy_advice() } -> std::convertible_to<std::string>;
        backend.run_outside_transaction(std::string(), deadline);
    } && std::constructible_from<B, const Config&> && Dialect<typename B::dialect>;

/// A capability some backends have: consistent copies of the whole database taken while it is
/// in use (snapshot_to, restore_from), for a Migrator's snapshot_before. SQLite has it; on
/// PostgreSQL the server's own tools do this.
template <class B>
concept CanSnapshot = requires(B& backend, const std::string& path, Deadline deadline) {
    backend.snapshot_to(path, deadline);
    backend.restore_from(path, deadline);
};

} // namespace persist
