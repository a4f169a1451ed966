// persist/postgres/async.hpp: libpq's asynchronous API with a deadline on every wait, so that
// no call blocks on a network path that stopped answering while its sockets stay open (a hung
// middlebox, a vanished host before TCP notices), and the rest of connecting: persist's
// defaults for the connection string, server notices. Used by Connection; not part of the API.
#pragma once

#include "persist/backend.hpp"
#include "persist/config.hpp"
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
#include <utility>
#include <vector>

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

/// `conninfo` with its passwords replaced by ***: the one in a URI's user info
/// (postgresql://user:***@host/db) and every password=... value (keyword form, or a URI
/// parameter up to the next '&'). Connection strings may hold a password, which never goes into
/// a message.
inline std::string redacted(const std::string& conninfo) {
    std::string text = conninfo;
    if (const auto scheme = text.find("://"); scheme != std::string::npos) {
        const auto start = scheme + 3;
        const auto end = std::min(text.find_first_of("/?", start), text.size()); // the authority ends
        const auto at = end > start ? text.rfind('@', end - 1) : std::string::npos;
        const auto colon = text.find(':', start);
        if (at != std::string::npos && at >= start && colon < at) text = text.substr(0, colon) + ":***" + text.substr(at);
    }
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto found = text.find("password=", i);
        if (found == std::string::npos) {
            out += text.substr(i);
            break;
        }
        out += text.substr(i, found - i) + "password=***";
        i = found + 9;
        if (i < text.size() && text[i] == '\'') { // a quoted value, \' and \\ escaped inside
            for (++i; i < text.size() && text[i] != '\''; ++i)
                if (text[i] == '\\') ++i;
            ++i;
        } else {
            i = text.find_first_of(" &", i);
        }
        if (i >= text.size()) break;
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

/// The response timeout `config` asks for: Config::response_timeout, else statement_timeout
/// plus 5 s, else `fallback`. Throws config_error for a negative one.
inline std::chrono::milliseconds response_timeout_for(const Config& config, std::chrono::milliseconds fallback) {
    if (config.response_timeout.count() < 0)
        throw config_error("response_timeout is " + std::to_string(config.response_timeout.count()) +
                           " ms; it must be positive, or 0 for the default");
    if (config.response_timeout.count() > 0) return config.response_timeout;
    if (config.statement_timeout.count() > 0) return config.statement_timeout + std::chrono::seconds(5);
    return fallback;
}

/// What each new session runs first. Time points are exchanged as UTC text (see values.hpp).
/// Server-side keepalives where the server's configuration leaves them unset (see Connection;
/// unknown names are skipped).
inline constexpr const char* session_setup =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; "
    "SELECT set_config(s.name, d.value, false) FROM (VALUES ('tcp_keepalives_idle', '5'), "
    "('tcp_keepalives_interval', '2'), ('tcp_keepalives_count', '3'), ('tcp_user_timeout', '10000'), "
    "('client_connection_check_interval', '2000')) AS d(name, value) "
    "JOIN pg_settings s ON s.name = d.name WHERE s.source = 'default'";

/// Text parameters as libpq takes them: C strings, null for NULL.
inline std::vector<const char*> pointers(const std::vector<std::optional<std::string>>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    return values;
}

/// persist's connection defaults that neither `conninfo` nor libpq's environment sets, as
/// keyword/value pairs. Throws config_error for a connection string libpq cannot parse.
inline std::vector<std::pair<const char*, const char*>> defaults_missing_from(const std::string& conninfo) {
    static constexpr std::pair<const char*, const char*> defaults[] = {
        {"keepalives", "1"},         {"keepalives_idle", "5"},      {"keepalives_interval", "2"},
        {"keepalives_count", "3"},   {"tcp_user_timeout", "10000"}, {"connect_timeout", "10"},
        {"application_name", "persist"}};
    char* message = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &message);
    if (!parsed) {
        const std::string why = message ? trimmed(message) : "out of memory";
        PQfreemem(message);
        throw config_error("the PostgreSQL connection string (" + redacted(conninfo) + ") is malformed: " + why);
    }
    std::vector<std::pair<const char*, const char*>> missing;
    for (const auto& [key, value] : defaults) {
        bool given = false;
        for (const PQconninfoOption* option = parsed; option->keyword; ++option)
            if (std::string_view(option->keyword) == key && option->val && *option->val) given = true;
        // libpq's environment variables for these; keepalives have none.
        const char* variable = std::string_view(key) == "application_name" ? "PGAPPNAME"
                               : std::string_view(key) == "connect_timeout" ? "PGCONNECT_TIMEOUT"
                                                                             : nullptr;
        if (variable && std::getenv(variable)) given = true;
        if (!given) missing.emplace_back(key, value);
    }
    PQconninfoFree(parsed);
    return missing;
}

/// Server notices and warnings: to `callback` (an EventCallback*) as Event::Kind::info, or
/// warning for WARNING and worse; never to stderr (libpq's default).
inline void receive_notice(void* callback, const PGresult* notice) {
    const auto* on_notice = static_cast<const EventCallback*>(callback);
    if (!on_notice || !*on_notice) return;
    const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char* primary = PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY);
    const std::string level = severity ? severity : "NOTICE";
    const bool serious = level == "WARNING" || level == "ERROR" || level == "FATAL" || level == "PANIC";
    try {
        (*on_notice)(Event{serious ? Event::Kind::warning : Event::Kind::info,
                           "PostgreSQL " + level + ": " + (primary ? primary : PQresultErrorMessage(notice))});
    } catch (...) {
    }
}

} // namespace persist::postgres::detail
