// persist/postgres/backup.hpp: backup, verify and restore of a PostgreSQL database, with the
// same manifest as SQLite backups (persist/manifest.hpp).
//
//   auto made = persist::postgres::backup(store, "/var/backups/app/");  // pg_dump -Fc + manifest
//   persist::postgres::verify(made.path);          // throws backup_error listing every problem
//   persist::postgres::restore(store, made.path);  // verify, safety copy, one transaction
//
// backup() opens a REPEATABLE READ transaction of its own, exports its snapshot, counts the
// rows of every table of the current schema and reads persist_schema_history in it, and has
// pg_dump dump exactly that snapshot (--snapshot): the manifest describes the dump, whatever
// writers do meanwhile. The dump goes to a file persist creates (0600, exclusively, beside the
// final name, never following a symlink), is fsynced and renamed into place after its
// manifest. The lease tables (persist_lock*) are live state, not data: they are left out.
//
// verify() checks the file's size and SHA-256 against the manifest, then reads the dump back
// with pg_restore and counts the rows of each table and the applied migrations in it: a
// damaged, truncated or substituted dump is refused, with no server involved.
//
// restore() verifies, takes a safety backup of the database as it is, then runs the dump
// through psql in ONE transaction that first empties the current schema (tables, views,
// sequences, routines, types; not the lease tables): it either ends with the schema exactly as
// backed up, or changes nothing.
//
// The helpers are Debian's postgresql-client programs, found in PATH. Connection settings go
// to them through libpq's environment variables (PGHOST, PGPASSWORD, ...), never on their
// command line, where other users could read a password.
#pragma once

#include "persist/detail/checks.hpp"
#include "persist/detail/file_digest.hpp"
#include "persist/detail/private_files.hpp"
#include "persist/detail/subprocess.hpp"
#include "persist/error.hpp"
#include "persist/manifest.hpp"
#include "persist/postgres/backend.hpp"
#include "persist/postgres/connection.hpp"
#include "persist/value.hpp"
#include "persist/version.hpp"

#include <libpq-fe.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/stat.h>
#include <vector>

namespace persist::postgres {

/// A persist::Store over the PostgreSQL backend, whatever its lock policy.
template <class S>
concept PostgresStoreType = persist::detail::is_store_of<S, Backend>; // pass the Store itself, e.g. a persist::PostgresStore

/// How backup() and restore() work.
struct BackupOptions {
    /// How long pg_dump (or pg_restore and psql) may run before it is killed and the
    /// operation fails (the database is then unchanged).
    std::chrono::seconds timeout = std::chrono::hours(6);
    /// After a backup into a directory, keep only the newest `keep` dumps of this database
    /// there (0 or empty: keep all).
    std::optional<std::size_t> keep;
    /// After a backup into a directory, delete dumps of this database there older than this
    /// (more than 0, at most 100 years).
    std::optional<std::chrono::seconds> max_age;
};

/// What backup() made.
struct BackupResult {
    std::string path;          ///< the dump (pg_dump's custom format)
    std::string manifest_path; ///< path + ".manifest"
    Manifest manifest;
    std::vector<std::string> removed; ///< dumps (and orphan manifests) removed by keep / max_age
};

/// What restore() did.
struct RestoreResult {
    std::string safety_copy; ///< a backup (with manifest) of the database as it was before
};

namespace detail {

/// `url`'s connection settings as libpq environment variables ("PGHOST=..."), for a helper
/// program. Throws config_error for a malformed URL.
inline std::vector<std::string> connection_environment(const std::string& url) {
    char* why = nullptr;
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(url.c_str(), &why), &PQconninfoFree);
    if (!options) {
        const std::string message = why ? why : "out of memory";
        PQfreemem(why);
        throw config_error("the PostgreSQL connection string is malformed: " + message);
    }
    std::vector<std::string> environment;
    for (const PQconninfoOption* o = options.get(); o->keyword; ++o) {
        if (!o->val || !*o->val) continue;
        if (!o->envvar)
            throw config_error(std::string("the connection setting '") + o->keyword +
                               "' has no environment variable, so persist cannot hand it to pg_dump; set it in the "
                               "server's configuration or a service file instead");
        environment.push_back(std::string(o->envvar) + "=" + o->val);
    }
    return environment;
}

/// The tables whose rows the manifest counts: every table of the current schema but the
/// lease tables.
inline constexpr std::string_view tables_sql =
    "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE "
    "'persist\\_lock%' ORDER BY tablename";

/// Throws backup_error naming `what` and its errors unless the helper program succeeded.
inline void check_finished(const persist::detail::ProgramResult& result, const std::string& what) {
    if (result.timed_out) throw backup_error(what + " did not finish in time and was stopped");
    if (result.exit_code != 0)
        throw backup_error(what + " failed (exit " + std::to_string(result.exit_code) + ")" +
                           (result.errors.empty() ? "" : ": " + result.errors));
}

/// One identifier as pg_restore prints it (possibly "quoted"), read from `text` at `at`.
inline std::optional<std::string> read_identifier(std::string_view text, std::size_t& at) {
    std::string name;
    if (at < text.size() && text[at] == '"') {
        for (++at; at < text.size(); ++at) {
            if (text[at] == '"') {
                if (at + 1 < text.size() && text[at + 1] == '"') {
                    name += '"';
                    ++at;
                    continue;
                }
                ++at;
                return name;
            }
            name += text[at];
        }
        return std::nullopt;
    }
    while (at < text.size() && text[at] != '.' && text[at] != ' ' && text[at] != '(' && text[at] != ',') name += text[at++];
    if (name.empty()) return std::nullopt;
    return name;
}

/// Reads the SQL script pg_restore writes, counting the rows of each COPY block and keeping
/// the applied versions (and checksums) of persist_schema_history.
class DumpReader {
public:
    void feed(std::string_view chunk) {
        for (char c : chunk) {
            if (c != '\n') {
                line_ += c;
                continue;
            }
            take(line_);
            line_.clear();
        }
    }
    void finish(Manifest& found) {
        if (!line_.empty()) take(line_);
        found.row_counts = std::move(rows_);
        found.migrations = std::move(migrations_);
        found.schema_version = 0;
        for (const auto& [version, checksum] : found.migrations) found.schema_version = std::max(found.schema_version, version);
    }
    /// Whether persist_schema_history held a version that is not a number.
    bool bad_history() const noexcept { return bad_history_; }

private:
    void take(const std::string& line) {
        if (table_) {
            if (line == "\\.") {
                table_.reset();
                return;
            }
            ++rows_[*table_];
            if (*table_ == "persist_schema_history") history_row(line);
            return;
        }
        if (!line.starts_with("COPY ") || !line.ends_with(" FROM stdin;")) return;
        std::size_t at = 5;
        auto first = read_identifier(line, at);
        std::optional<std::string> table = first;
        if (first && at < line.size() && line[at] == '.') {
            ++at;
            table = read_identifier(line, at);
        }
        if (!table) return;
        table_ = *table;
        rows_[*table_] += 0;
        columns_.clear();
        if (at + 1 < line.size() && line[at] == ' ' && line[at + 1] == '(') {
            at += 2;
            while (auto column = read_identifier(line, at)) {
                columns_.push_back(*column);
                while (at < line.size() && (line[at] == ',' || line[at] == ' ')) ++at;
                if (at < line.size() && line[at] == ')') break;
            }
        }
    }

    void history_row(const std::string& line) {
        std::vector<std::string> fields;
        std::string field;
        for (char c : line) {
            if (c == '\t') {
                fields.push_back(std::move(field));
                field.clear();
            } else {
                field += c;
            }
        }
        fields.push_back(std::move(field));
        auto value = [&](std::string_view column) -> std::optional<std::string> {
            for (std::size_t i = 0; i < columns_.size() && i < fields.size(); ++i)
                if (columns_[i] == column) return fields[i];
            return std::nullopt;
        };
        const auto version = value("version"), checksum = value("checksum"), state = value("state");
        if (!version || !checksum || !state || (*state != "applied" && *state != "baseline")) return;
        try {
            migrations_[std::stoll(*version)] = *checksum;
        } catch (const std::exception&) {
            bad_history_ = true;
        }
    }

    std::string line_;
    std::optional<std::string> table_;
    std::vector<std::string> columns_;
    std::map<std::string, std::int64_t> rows_;
    std::map<std::int64_t, std::string> migrations_;
    bool bad_history_ = false;
};

/// `database` as a file name stem: letters, digits, '_' and '-' kept, anything else '_'.
inline std::string file_stem(const std::string& database) {
    std::string safe;
    for (char c : database) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
    return safe;
}

/// The backup file name for `database` in `directory`: "<database>-<time>.pgdump".
inline std::string backup_name(const std::string& directory, const std::string& database) {
    std::string stamp;
    for (char c : format_time(std::chrono::system_clock::now()))
        if (c != '-' && c != ':') stamp += c;
    const std::string safe = file_stem(database);
    std::string path = directory + "/" + safe + "-" + stamp + ".pgdump";
    struct stat st {};
    for (int n = 2; ::lstat(path.c_str(), &st) == 0; ++n) // two backups within one microsecond
        path = directory + "/" + safe + "-" + stamp + "-" + std::to_string(n) + ".pgdump";
    return path;
}

} // namespace detail

/// Dumps `store`'s database into `destination`: a directory (created 0700 when it ends with
/// '/'; persist names the file "<database>-<time>.pgdump", and the retention options apply to
/// such files) or a new file name. Writes the manifest beside it. Temporary files that a
/// killed backup left in the directory are swept first. Returns what it made. Throws
/// usage_error for an existing file or max_age outside (0, 100 years], backup_error when
/// pg_dump fails (its message included), io_error, and what the Store's connection throws.
/// Nothing is left behind on failure.
template <PostgresStoreType Store>
BackupResult backup(Store& store, const std::string& destination, const BackupOptions& options = {}) {
    persist::detail::check_max_age(options.max_age);
    if (destination.empty()) throw usage_error("backup() needs a destination: a directory or a new file name");
    const std::string url = store.config().db_url;
    const auto environment = detail::connection_environment(url);
    namespace fs = std::filesystem;
    std::error_code ec;
    if (destination.back() == '/') persist::detail::make_private_directories(destination.substr(0, destination.size() - 1));
    // A dedicated session: a REPEATABLE READ snapshot, exported for pg_dump.
    Connection session(url, 8, store.config().on_event, Connection::response_timeout_for(store.config()));
    session.execute_script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const std::string snapshot = session.query<std::string>("SELECT pg_export_snapshot()").at(0);
    const std::string database = session.query<std::string>("SELECT current_database()").at(0);
    const std::string schema = session.query<std::string>("SELECT current_schema()").at(0);
    std::string final_path = destination;
    const bool into_directory = fs::is_directory(destination, ec);
    if (into_directory) {
        const bool slash = destination.back() == '/';
        final_path = detail::backup_name(slash ? destination.substr(0, destination.size() - 1) : destination, database);
    } else if (fs::exists(fs::symlink_status(destination, ec))) {
        throw usage_error("backup destination " + destination +
                          " already exists; pass a directory (persist names the file) or a new file name");
    }

    BackupResult result;
    result.path = final_path;
    result.manifest_path = final_path + ".manifest";
    for (const auto& table : session.query<std::string>(std::string(detail::tables_sql)))
        result.manifest.row_counts[table] =
            session.query<std::int64_t>("SELECT count(*) FROM " + persist::detail::double_quote(table)).at(0);
    if (result.manifest.row_counts.count("persist_schema_history"))
        for (auto& [version, checksum] : session.query<std::tuple<std::int64_t, std::string>>(
                 "SELECT version, checksum FROM persist_schema_history WHERE state IN ('applied', 'baseline') ORDER BY version")) {
            result.manifest.migrations[version] = checksum;
            result.manifest.schema_version = std::max(result.manifest.schema_version, version);
        }

    const std::string stem = detail::file_stem(database);
    persist::detail::sweep_leftovers(persist::detail::directory_of(final_path),
                                     into_directory ? stem + "-" : fs::path(final_path).filename().string());
    persist::detail::TemporaryFile dump_file(final_path);
    {
        persist::detail::Program dump({"pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--snapshot=" + snapshot,
                                       "--schema=" + persist::detail::double_quote(schema),
                                       "--exclude-table=" + persist::detail::double_quote(schema) + ".persist_lock*"},
                                      environment, -1, dump_file.fd());
        detail::check_finished(dump.finish(std::chrono::steady_clock::now() + options.timeout), "pg_dump");
    }
    session.execute_script("COMMIT");
    dump_file.sync_and_close();
    const auto [sha, size] = persist::detail::file_sha256(dump_file.path());
    result.manifest.sha256 = sha;
    result.manifest.size = size;
    result.manifest.persist_version = PERSIST_VERSION_STRING;
    result.manifest.created_at = format_time(std::chrono::system_clock::now());
    persist::detail::publish_backup(dump_file, final_path, result.manifest_path, result.manifest);
    if (into_directory && (options.keep.value_or(0) > 0 || options.max_age))
        persist::detail::apply_retention(fs::path(final_path).parent_path(), stem, ".pgdump", final_path,
                                         options.keep.value_or(0), options.max_age, result.removed);
    return result;
}

/// Checks a dump made by backup() against its manifest, without a server: size, SHA-256,
/// and, read back with pg_restore, the rows of every table and the applied migrations.
/// Returns the manifest. Throws backup_error listing every problem.
inline Manifest verify(const std::string& path, const BackupOptions& options = {}) {
    const Manifest expected = read_manifest_of(path);
    std::vector<std::string> problems;
    persist::detail::check_digest(path, expected, problems);
    if (problems.empty()) {
        detail::DumpReader reader;
        persist::detail::Pipe out;
        persist::detail::Program restore({"pg_restore", "--data-only", "--file=-", "--", path}, {}, -1, out.write);
        out.close_write();
        const auto finished = restore.read_all(out.read, [&](std::string_view chunk) { reader.feed(chunk); },
                                               std::chrono::steady_clock::now() + options.timeout);
        if (finished.exit_code != 0 || finished.timed_out) {
            problems.push_back("pg_restore cannot read it" + (finished.errors.empty() ? std::string() : ": " + finished.errors));
        } else {
            Manifest actual;
            reader.finish(actual);
            if (reader.bad_history()) problems.push_back("persist_schema_history holds a version that is not a number");
            persist::detail::compare_contents(expected, actual, problems);
        }
    }
    persist::detail::throw_if_problems(path, problems);
    return expected;
}

/// Replaces the content of `store`'s database with the dump at `path`: verify() first (a
/// backup that does not verify changes nothing), then a safety backup beside `path`, then
/// one transaction that empties the current schema but for the lease tables
/// (detail::clear_schema_sql) and replays the dump (pg_restore's script, through psql). persist writes the COMMIT itself,
/// only after pg_restore has finished cleanly; whatever fails before, the transaction is
/// rolled back. Throws backup_error (nothing changed) or what backup() throws.
template <PostgresStoreType Store>
RestoreResult restore(Store& store, const std::string& path, const BackupOptions& options = {}) {
    verify(path, options);
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    // The dump's table of contents without its schema: the schema stays (with the leases in
    // it); only what it holds is replaced. A dump of another schema is refused.
    const std::string schema = store.read([](auto& tx) { return *tx.template query_one<std::string>("SELECT current_schema()"); });
    std::string contents;
    {
        persist::detail::Pipe out;
        persist::detail::Program lister({"pg_restore", "--list", "--", path}, {}, -1, out.write);
        out.close_write();
        detail::check_finished(lister.read_all(out.read, [&](std::string_view chunk) { contents += chunk; }, deadline),
                               "pg_restore --list (reading " + path + ")");
    }
    std::string kept;
    for (std::size_t at = 0; at < contents.size();) {
        const auto end = std::min(contents.find('\n', at), contents.size());
        const std::string line = contents.substr(at, end - at);
        at = end + 1;
        const auto marker = line.find(" SCHEMA - ");
        if (marker != std::string::npos && !line.starts_with(";")) {
            std::size_t name_at = marker + 10;
            const auto dumped = detail::read_identifier(line, name_at);
            if (dumped && *dumped != schema)
                throw backup_error("backup " + path + " holds schema " + *dumped + ", and this store works in schema " + schema +
                                   "; restore it into a store whose search_path starts with " + *dumped);
            continue;
        }
        kept += line + "\n";
    }
    persist::detail::TemporaryFile list(path + ".list");
    list.write(kept);
    list.sync_and_close();
    RestoreResult result;
    result.safety_copy = backup(store, persist::detail::directory_of(path) + "/", options).path;
    const auto environment = detail::connection_environment(store.config().db_url);
    // psql reads from a socket: writing to it after psql stopped is EPIPE, not SIGPIPE.
    int channel[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0)
        throw io_error(std::string("cannot make a socket pair: ") + std::strerror(errno));
    struct Closer {
        int* fds;
        ~Closer() {
            if (fds[0] >= 0) ::close(fds[0]);
            if (fds[1] >= 0) ::close(fds[1]);
        }
    } closer{channel};
    persist::detail::Program writer({"psql", "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--file=-"}, environment,
                                    channel[1], -1);
    ::close(channel[1]);
    channel[1] = -1;
    bool psql_stopped = false;
    auto send = [&](std::string_view bytes) {
        while (!bytes.empty() && !psql_stopped) {
            const auto sent = ::send(channel[0], bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (sent < 0 && errno == EINTR) continue;
            if (sent <= 0) {
                psql_stopped = true; // its error is in its exit status
                return;
            }
            bytes.remove_prefix(static_cast<std::size_t>(sent));
        }
    };
    send("BEGIN;\n");
    send(detail::clear_schema_sql);
    persist::detail::Pipe script;
    persist::detail::Program reader({"pg_restore", "--no-owner", "--no-privileges", "--clean", "--if-exists",
                                     "--use-list=" + list.path(), "--file=-", "--", path},
                                    {}, -1, script.write);
    script.close_write();
    const auto read = reader.read_all(script.read, send, deadline);
    if (read.exit_code == 0 && !read.timed_out) send("COMMIT;\n");
    ::close(channel[0]); // end of input: without the COMMIT, psql's session ends and the server rolls back
    channel[0] = -1;
    const auto written = writer.finish(deadline);
    if (written.exit_code == 2 && read.exit_code == 0 && !read.timed_out)
        throw commit_outcome_unknown("psql lost its connection to the server while replaying " + path +
                                     ", possibly during COMMIT: the restore may or may not have taken effect; check the "
                                     "data, and restore again if it did not. " + written.errors);
    detail::check_finished(read, "pg_restore (reading " + path + "; the database is unchanged)");
    detail::check_finished(written, "psql (replaying " + path + " in one transaction; the database is unchanged)");
    return result;
}

} // namespace persist::postgres
