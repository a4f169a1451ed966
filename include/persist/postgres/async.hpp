// persist/postgres/async.hpp: libpq's asynchronous API with a deadline on every wait, so that
// no call blocks on a network path that stopped answering while its sockets stay open (a hung
// middlebox, a vanished host before TCP notices). Used by Connection; not part of the API.
#pragma once

#include "persist/backend.hpp"
#include "persist/error.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

namespace persist::postgres::detail {

/// Waits until `socket` is ready for `events` (POLLIN, POLLOUT) or `deadline` passes. Returns
/// false at the deadline. Throws connection_error when poll() itself fails.
inline bool wait_socket(int socket, short events, Deadline deadline) {
    if (socket < 0) throw connection_error("PostgreSQL: the connection has no socket; it is gone");
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return false;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
        pollfd descriptor{socket, events, 0};
        const int ready = ::poll(&descriptor, 1, static_cast<int>(std::min<long long>(left, INT_MAX)));
        if (ready > 0) return true;
        if (ready < 0 && errno != EINTR)
            throw connection_error(std::string("PostgreSQL: waiting for the server's socket failed: ") + std::strerror(errno));
    }
}

/// Cancel requests still being delivered by background threads.
inline std::atomic<int>& cancels_in_flight() noexcept {
    static std::atomic<int> count{0};
    return count;
}

/// Asks the server to cancel what `connection` is running (PQcancel over a new connection),
/// from a background thread, so that the caller's deadline holds even when the cancel request
/// cannot get through either: then the thread ends when TCP gives up. At most 4 are in flight;
/// beyond that the request is dropped (the server still ends the statement at its own
/// statement_timeout, or when it notices the closed connection). Never throws.
inline bool send_cancel(PGconn* connection) noexcept {
    PGcancel* cancel = PQgetCancel(connection);
    if (!cancel) return false;
    if (cancels_in_flight().fetch_add(1) >= 4) {
        cancels_in_flight().fetch_sub(1);
        PQfreeCancel(cancel);
        return false;
    }
    try {
        std::thread([cancel] {
            char why[256];
            PQcancel(cancel, why, sizeof why);
            PQfreeCancel(cancel);
            cancels_in_flight().fetch_sub(1);
        }).detach();
        return true;
    } catch (...) {
        cancels_in_flight().fetch_sub(1);
        PQfreeCancel(cancel);
        return false;
    }
}

/// The connect_timeout libpq would apply to `connection` (seconds; values below 2 count as 2,
/// as in libpq), or nullopt when it is unset or 0 (no limit).
inline std::optional<std::chrono::seconds> connect_timeout_of(PGconn* connection) {
    std::optional<std::chrono::seconds> timeout;
    PQconninfoOption* options = PQconninfo(connection);
    if (!options) return timeout;
    for (const PQconninfoOption* option = options; option->keyword; ++option) {
        if (std::strcmp(option->keyword, "connect_timeout") != 0 || !option->val || !*option->val) continue;
        const long seconds = std::strtol(option->val, nullptr, 10);
        if (seconds > 0) timeout = std::chrono::seconds(std::max(seconds, 2L));
    }
    PQconninfoFree(options);
    return timeout;
}

/// `text` without the newlines and spaces libpq ends its messages with.
inline std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

/// `conninfo` with every password=... value replaced by ***: connection strings may hold a
/// password, which never goes into a message.
inline std::string redacted(const std::string& conninfo) {
    std::string out;
    std::size_t i = 0;
    while (i < conninfo.size()) {
        const auto at = conninfo.find("password=", i);
        if (at == std::string::npos) {
            out += conninfo.substr(i);
            break;
        }
        out += conninfo.substr(i, at - i) + "password=***";
        i = conninfo.find(' ', at);
        if (i == std::string::npos) break;
    }
    return out;
}

/// Drives PQconnectStartParams's connection to the end, waiting on its socket until `deadline`.
/// Returns an empty string when connected, otherwise why not.
inline std::string finish_connecting(PGconn* connection, Deadline deadline) {
    if (PQstatus(connection) == CONNECTION_BAD) return PQerrorMessage(connection);
    // As if PQconnectPoll had last returned PGRES_POLLING_WRITING (libpq's documented start).
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    for (;;) {
        if (state == PGRES_POLLING_OK) return {};
        if (state == PGRES_POLLING_FAILED) return PQerrorMessage(connection);
        const short events = state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        // The socket may change between polls (another address of the host, SSL retry).
        if (!wait_socket(PQsocket(connection), events, deadline))
            return "no answer before the deadline (connect_timeout, or the transaction's deadline)";
        state = PQconnectPoll(connection);
    }
}

} // namespace persist::postgres::detail
