// persist/config.hpp: where the database lives and how it behaves.
//
// Config is a plain value: build one with Config::for_app("name") or
// Config::from_env("PREFIX", defaults), adjust fields, hand it to a Store.
#pragma once

#include "persist/error.hpp"

#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <filesystem>
#include <optional>
#include <pwd.h>
#include <string>
#include <string_view>
#include <unistd.h>

namespace persist {

namespace crypto {
class Keyring; // persist/crypto/keyring.hpp
}

/// How hard a commit works to survive a power loss or operating-system crash.
/// A crash of the application alone never loses a committed transaction at any level.
/// (Semantics from https://www.sqlite.org/pragma.html#pragma_synchronous and
/// https://www.sqlite.org/wal.html, for WAL mode, which persist always uses on files.)
enum class Durability {
    /// synchronous=OFF: no fsync at all. A power loss or OS crash can lose recent
    /// transactions and can corrupt the database file. For scratch data only.
    off,
    /// synchronous=NORMAL (the default): the WAL is synced at checkpoints, not at each
    /// commit. A power loss or OS crash can roll back the most recent commits (those not
    /// yet checkpointed); the database is never corrupted. Commits are several times faster.
    normal,
    /// synchronous=FULL: the WAL is synced at every commit. A committed transaction survives
    /// a power loss, provided the disk honours fsync.
    full,
};

/// Something an application may want to log or show: a retry, a wait, a warning.
struct Event {
    enum class Kind {
        retry,    ///< a transaction hit a busy database and will run again
        wait,     ///< persist is waiting for a lock or a connection
        warning,  ///< something is off but persist carried on (e.g. a stale file)
        info,     ///< a notable step: database created, connection reopened
    };
    Kind kind;
    std::string message;
    int attempt = 0;                        ///< for retry: the attempt that failed (1-based)
    std::chrono::milliseconds waited{0};    ///< time spent so far in the operation
};

/// Called for every Event. May be called from any thread that uses the Store, so it must be
/// thread-safe; it must not call back into the Store. Exceptions it throws are ignored.
using EventCallback = std::function<void(const Event&)>;

namespace detail {
/// Calls `on_event` (if set) with `event`, ignoring what it throws.
inline void notify(const EventCallback& on_event, const Event& event) noexcept {
    if (!on_event) return;
    try {
        on_event(event);
    } catch (...) {
    }
}

/// Why `path`, given by `setting`, is refused when it starts with '~': only a shell expands
/// that, so the path would name a directory called "~" under the current one.
inline std::string tilde_message(const std::string& setting, const std::string& path) {
    const char* home = std::getenv("HOME");
    const bool mine = path == "~" || path.starts_with("~/");
    return setting + "=\"" + path + "\" starts with ~, which only a shell expands: persist would make a directory "
           "named ~ in the current one. Write the full path" +
           (mine && home && *home ? ", e.g. " + std::string(home) + path.substr(1) : std::string());
}
} // namespace detail

/// postgres::Backend's connection pool. (SQLite uses one writer and reader_connections readers.)
struct PoolOptions {
    /// Connections opened when the Store opens and kept open (at least 1).
    std::size_t min_connections = 1;
    /// Most connections open at once; 0: reader_connections + 1.
    std::size_t max_connections = 0;
    /// How long a transaction waits for a free connection (busy_error after it);
    /// 0: busy_timeout.
    std::chrono::milliseconds acquire_timeout{0};
    /// Pause after a failed reconnection, doubled after each further failure up to
    /// reconnect_backoff_max, until acquire_timeout runs out.
    std::chrono::milliseconds reconnect_backoff{50};
    std::chrono::milliseconds reconnect_backoff_max{2'000};
};

/// The configuration of a Store. A plain aggregate; every field has a sensible default.
struct Config {
    /// Application name: chooses the default directory and file name. Letters, digits,
    /// '-', '_' and '.'.
    std::string app_name = "persist";
    /// Database file, ":memory:" for a private in-memory database, or empty for the default
    /// path (see default_path()).
    std::string db_path;
    /// What set db_path, named in errors about the path ("Config::db_path" when empty);
    /// from_env sets it to the variable it read, e.g. "MYAPP_DB_PATH".
    std::string db_path_source;
    /// Directory of SQL migration files for tools that take one (the persist tool's
    /// --migrations); from_env reads PREFIX_MIGRATIONS_DIR (made absolute). Empty: none.
    std::string migrations_dir;
    /// PostgreSQL connection string or URI (postgres::Backend only), e.g.
    /// "postgresql://app@db.internal/app" or "host=/run/postgresql dbname=app".
    std::string db_url;
    /// PostgreSQL: cancel a statement that runs longer than this (statement_timeout_error);
    /// 0 = no limit.
    std::chrono::milliseconds statement_timeout{0};
    /// PostgreSQL: give up waiting for a row or table lock after this (lock_timeout_error);
    /// 0 = wait as long as the statement may run.
    std::chrono::milliseconds lock_timeout{0};
    /// PostgreSQL: the longest persist waits for the server to answer one request (a statement,
    /// BEGIN, COMMIT) before it gives up on the connection: it sends a cancel request, closes
    /// the connection and throws postgres::response_timeout_error (commit_outcome_unknown for
    /// COMMIT). This bounds every call when the network path hangs with its sockets open, where
    /// TCP keepalives cannot help. 0 = statement_timeout + 5 s when statement_timeout is set,
    /// otherwise 65 s. Keep it above statement_timeout and lock_timeout, so that the server's own
    /// limits act first. Connecting is bounded by libpq's connect_timeout (10 s unless the
    /// connection string sets it) and by the transaction's deadline.
    std::chrono::milliseconds response_timeout{0};
    /// Longest time a read or write waits for the database before throwing busy_error. Like
    /// every duration here, 0 to 365 days: a Store refuses longer ones (config_error) rather
    /// than overflow its deadlines; std::chrono::days(365) stands for "as long as it takes".
    std::chrono::milliseconds busy_timeout{30'000};
    /// See Durability. Default: normal.
    Durability durability = Durability::normal;
    /// SQLite page cache per connection, in KiB.
    int cache_size_kib = 8'192;
    /// Prepared statements kept per connection (least recently used are dropped first).
    std::size_t statement_cache_capacity = 64;
    /// Read-only connections used by Store::read in parallel with the writer (a read that
    /// starts while no write runs borrows the writer connection instead; see
    /// persist/sqlite/backend.hpp).
    std::size_t reader_connections = 4;
    /// Optional observer for retries, waits and warnings.
    EventCallback on_event;
    /// A lock wait that lasts this long is reported as an Event::Kind::wait naming the holder.
    std::chrono::milliseconds lock_wait_notice{1'000};
    /// Take the lock policy's exclusive lock "persist.write" around every write transaction,
    /// so that writers (in other processes too, with lock::File) queue on a lock that hands
    /// over at once instead of polling in SQLite's busy handler.
    bool guard_writes = false;
    /// SQLite: group commit. A write that starts while another write of the same Store is
    /// running joins its transaction instead of waiting to run one of its own, so one COMMIT
    /// (one fsync at Durability::full) serves both; each keeps its own atomicity (it runs in a
    /// savepoint: if its function throws, only its changes are undone) and returns only once
    /// that COMMIT did. Concurrent durable writes then go several times faster, at the price
    /// of latency (a write also waits for the writes that joined after it), and the function
    /// of a write that joined runs on the thread of the write it joined, so it must not depend
    /// on its thread. A lone writer is unaffected. false: every write commits on its own, its
    /// function on its caller's thread. See docs/getting-started.md, "Group commit".
    bool group_commit = true;
    /// SQLite: open an existing database for reading only, for inspection (info, dump,
    /// lock status, backup of a backup). Nothing is created, written, checkpointed or
    /// switched to WAL: connections are SQLITE_OPEN_READONLY and do not checkpoint on close,
    /// a database in WAL mode without its -wal is opened immutable (no -shm is made), lock
    /// status reads lock files and lease tables without creating them. A missing file is a
    /// config_error; Store::write and lock acquisition throw usage_error.
    bool read_only = false;
    /// lock::Table: how long a lease lasts without renewal (renewed every lease_ttl / 3).
    std::chrono::milliseconds lease_ttl{10'000};
    /// PostgreSQL: the connection pool (see PoolOptions).
    PoolOptions pool;
    /// The keys of encrypted columns (persist::Encrypted, persist/crypto/encrypted.hpp), e.g.
    /// persist::crypto::Keyring::from_environment("MYAPP_KEYS"). Empty: sealing or opening an
    /// encrypted value throws config_error (NULLs and other columns are unaffected).
    std::shared_ptr<const crypto::Keyring> keys;

    /// A default configuration for the application `app`.
    /// Throws config_error if `app` is empty or holds characters unsafe in a file name.
    static Config for_app(std::string app) {
        validate_app_name(app);
        Config config;
        config.app_name = std::move(app);
        return config;
    }

    /// `defaults` with overrides from the environment, for the variable prefix `prefix`:
    ///   PREFIX_DB_PATH          database file, or :memory:          (wins over PREFIX_DB_DIR)
    ///   PREFIX_DB_DIR           directory for `<app>.db`
    ///   PREFIX_MIGRATIONS_DIR   migrations_dir
    ///   PREFIX_DB_URL           PostgreSQL connection string or URI (postgres::Backend)
    ///   PREFIX_BUSY_TIMEOUT_MS  busy_timeout in milliseconds (0..86400000)
    ///   PREFIX_DURABILITY       off | normal | full
    ///   PREFIX_CACHE_SIZE_KIB   cache_size_kib (16..16777216)
    /// Relative paths are made absolute against the current directory, so that processes
    /// started in different directories open the same database; db_path_source then names the
    /// variable, which errors about the path cite.
    /// If defaults.app_name is "persist" (untouched), the app name becomes the lowercased prefix.
    /// Throws config_error naming the variable, its value and what is allowed.
    static Config from_env(std::string_view prefix, Config defaults) {
        if (prefix.empty())
            throw config_error("Config::from_env: the prefix is empty; pass your application's "
                               "variable prefix, e.g. from_env(\"MYAPP\")");
        for (char c : prefix)
            if (!(std::isupper(static_cast<unsigned char>(c)) ||
                  std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
                throw config_error("Config::from_env: prefix \"" + std::string(prefix) +
                                   "\" must use only A-Z, 0-9 and '_', e.g. \"MYAPP\"");
        Config config = std::move(defaults);
        if (config.app_name == "persist") {
            config.app_name.clear();
            for (char c : prefix)
                config.app_name += c == '_' ? '-' : static_cast<char>(std::tolower(c));
        }
        validate_app_name(config.app_name);
        const std::string p(prefix);
        if (auto dir = env(p + "_DB_DIR")) {
            if (dir->empty())
                throw config_error(p + "_DB_DIR is set but empty; unset it or give a directory");
            config.db_path = absolute(p + "_DB_DIR", *dir) + "/" + config.app_name + ".db";
            config.db_path_source = p + "_DB_DIR";
        }
        if (auto path = env(p + "_DB_PATH")) {
            if (path->empty())
                throw config_error(p + "_DB_PATH is set but empty; unset it or give a file "
                                       "path or :memory:");
            config.db_path = *path == ":memory:" ? *path : absolute(p + "_DB_PATH", *path);
            config.db_path_source = p + "_DB_PATH";
        }
        if (auto dir = env(p + "_MIGRATIONS_DIR")) {
            if (dir->empty())
                throw config_error(p + "_MIGRATIONS_DIR is set but empty; unset it or give a directory of migration files");
            config.migrations_dir = absolute(p + "_MIGRATIONS_DIR", *dir);
        }
        if (auto url = env(p + "_DB_URL")) {
            if (url->empty())
                throw config_error(p + "_DB_URL is set but empty; unset it or give a PostgreSQL connection string");
            config.db_url = *url;
        }
        if (auto value = env(p + "_BUSY_TIMEOUT_MS"))
            config.busy_timeout = std::chrono::milliseconds(
                parse_integer(p + "_BUSY_TIMEOUT_MS", *value, 0, 86'400'000));
        if (auto value = env(p + "_DURABILITY")) {
            if (*value == "off") config.durability = Durability::off;
            else if (*value == "normal") config.durability = Durability::normal;
            else if (*value == "full") config.durability = Durability::full;
            else
                throw config_error(p + "_DURABILITY=\"" + *value +
                                   "\" is not a durability level; use off, normal or full");
        }
        if (auto value = env(p + "_CACHE_SIZE_KIB"))
            config.cache_size_kib =
                static_cast<int>(parse_integer(p + "_CACHE_SIZE_KIB", *value, 16, 16'777'216));
        return config;
    }

    /// from_env(prefix, Config{}).
    static Config from_env(std::string_view prefix) { return from_env(prefix, Config{}); }

    /// What chose the database path, as errors about it name it: db_path_source, or
    /// "Config::db_path".
    std::string path_setting() const { return db_path_source.empty() ? "Config::db_path" : db_path_source; }

    /// The database path a Store opens: db_path if set, otherwise
    /// `$XDG_DATA_HOME/<app>/<app>.db` when XDG_DATA_HOME is an absolute path, otherwise
    /// `$HOME/.local/share/<app>/<app>.db` (HOME from the password database if unset).
    /// Throws config_error if no home directory can be found.
    std::string path() const {
        if (!db_path.empty()) return db_path;
        return default_path(app_name);
    }

    /// The default database path for `app` (see path()).
    static std::string default_path(const std::string& app) {
        validate_app_name(app);
        std::string base;
        if (auto xdg = env("XDG_DATA_HOME"); xdg && !xdg->empty() && (*xdg)[0] == '/') {
            base = *xdg;
        } else {
            std::string home;
            if (auto h = env("HOME"); h && !h->empty()) home = *h;
            else if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) home = pw->pw_dir;
            if (home.empty())
                throw config_error("cannot find a home directory for the default database path "
                                   "(HOME is unset and uid " + std::to_string(::getuid()) +
                                   " has no passwd entry); set db_path or XDG_DATA_HOME");
            base = home + "/.local/share";
        }
        return base + "/" + app + "/" + app + ".db";
    }

private:
    // `path` made absolute against the current directory (lexically: symlinks are kept).
    static std::string absolute(const std::string& name, const std::string& path) {
        if (path.find('\0') != std::string::npos) throw config_error(name + " holds a NUL byte");
        if (path.front() == '~') throw config_error(detail::tilde_message(name, path));
        if (path.front() == '/') return path;
        std::error_code failed;
        const auto whole = std::filesystem::absolute(path, failed);
        if (failed)
            throw config_error(name + "=\"" + path + "\" is relative, and the current directory cannot be read (" +
                               failed.message() + "); give an absolute path");
        return whole.lexically_normal().string();
    }

private:
    static std::optional<std::string> env(const std::string& name) {
        if (const char* value = std::getenv(name.c_str())) return std::string(value);
        return std::nullopt;
    }

    static long long parse_integer(const std::string& name, const std::string& value, long long low,
                                   long long high) {
        // Digits only (no sign, space or "0x"); from_chars reports an overflow instead of
        // wrapping, so 99999999999999999999 is refused like any other out-of-range value.
        long long result = 0;
        const char* end = value.data() + value.size();
        const auto parsed = std::from_chars(value.data(), end, result);
        const bool ok = !value.empty() && std::isdigit(static_cast<unsigned char>(value[0])) &&
                        parsed.ec == std::errc() && parsed.ptr == end;
        if (!ok || result < low || result > high)
            throw config_error(name + "=\"" + value + "\" is not a whole number between " +
                               std::to_string(low) + " and " + std::to_string(high));
        return result;
    }

    static void validate_app_name(const std::string& app) {
        bool ok = !app.empty() && app != "." && app != "..";
        for (char c : app)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
                ok = false;
        if (!ok)
            throw config_error("app name \"" + app + "\" is not usable as a directory name; use "
                               "letters, digits, '-', '_' and '.', e.g. \"my-app\"");
    }
};

} // namespace persist
