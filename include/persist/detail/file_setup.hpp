// persist/detail/file_setup.hpp: first-run creation of the database directory and file,
// and a diagnosis of why a database path cannot be used, in words a user can act on.
//
// Invariant 6 (ARCHITECTURE.md): SQLite holds POSIX locks on the database file, and closing
// any descriptor of that file drops them. So this code never opens an existing database
// file: it uses stat()/access(), and opens only a file it has just created (O_EXCL).
#pragma once

#include "persist/config.hpp"
#include "persist/detail/private_files.hpp"
#include "persist/error.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace persist::detail {

inline std::string octal_mode(unsigned mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", mode & 07777u);
    return text;
}

inline std::string describe(const struct stat& st) {
    return "owner uid " + std::to_string(st.st_uid) + ", mode " + octal_mode(st.st_mode);
}

inline std::string parent_of(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

inline bool is_memory_path(const std::string& path) { return path == ":memory:"; }

/// Throws the permission_error for a directory that this process cannot create files in.
[[noreturn]] inline void throw_directory_not_writable(const std::string& database,
                                                      const std::string& directory,
                                                      const std::string& setting = "db_path") {
    struct stat st {};
    const bool known = ::stat(directory.c_str(), &st) == 0;
    const auto uid = std::to_string(::geteuid());
    throw permission_error(
        "cannot use database " + database + ": directory " + directory + " (" +
            (known ? describe(st) : std::string("not examinable")) +
            ") is not writable by uid " + uid + ", and SQLite must create files there. Fix: sudo chown " +
            uid + " " + directory + " (or chmod u+w), or point " + setting + " at a writable directory",
        directory, known ? static_cast<long>(st.st_uid) : -1L, known ? st.st_mode & 07777u : 0u,
        EACCES);
}

/// Checks every existing ancestor of `directory` is a directory; throws config_error naming
/// the first one that is a file.
inline void check_ancestors(const std::string& database, const std::string& directory,
                            const std::string& setting = "db_path") {
    std::string prefix;
    std::size_t start = directory[0] == '/' ? 1 : 0;
    while (start <= directory.size()) {
        auto end = directory.find('/', start);
        if (end == std::string::npos) end = directory.size();
        prefix = directory.substr(0, end);
        start = end + 1;
        if (prefix.empty()) continue;
        struct stat st {};
        if (::stat(prefix.c_str(), &st) != 0) return; // missing (created later) or unreadable
        if (!S_ISDIR(st.st_mode))
            throw config_error("cannot use database " + database + ": " + prefix +
                                   " is a file, not a directory (" + describe(st) +
                                   "; current uid " + std::to_string(::geteuid()) +
                                   "). Fix: move " + prefix +
                                   " aside, or point " + setting + " somewhere else",
                               ENOTDIR);
    }
}

/// Creates `directory` and its missing parents with mode 0700.
inline void make_directories(const std::string& database, const std::string& directory,
                             const std::string& setting = "db_path") {
    struct stat st {};
    if (::stat(directory.c_str(), &st) == 0) return;
    const std::string parent = parent_of(directory);
    if (parent != directory) make_directories(database, parent, setting);
    if (::mkdir(directory.c_str(), 0700) != 0) {
        if (errno == EEXIST) return;
        if (errno == EACCES || errno == EROFS || errno == EPERM)
            throw_directory_not_writable(database, parent, setting);
        throw io_error("cannot create directory " + directory + " for database " + database +
                           ": " + std::strerror(errno),
                       errno);
    }
    ::chmod(directory.c_str(), 0700); // exactly, whatever the umask
    sync_directory(parent);           // the new directory survives a power loss
}

/// Checks that an existing file next to the database (the database itself, -wal, -shm) is
/// owned by this process's uid. root may use any file.
inline void check_owner(const std::string& database, const std::string& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return;
    const uid_t uid = ::geteuid();
    if (uid == 0 || st.st_uid == uid) return;
    throw permission_error(
        "cannot use database " + database + ": " + file + " is owned by uid " +
            std::to_string(st.st_uid) + " (mode " + octal_mode(st.st_mode) +
            ") but this process runs as uid " + std::to_string(uid) +
            "; SQLite would fail to write it or leave files with mixed owners. Fix: sudo chown " +
            std::to_string(uid) + " " + database + " " + database + "-wal " + database +
            "-shm, or run as uid " + std::to_string(st.st_uid),
        file, static_cast<long>(st.st_uid), st.st_mode & 07777u, EACCES);
}

/// Checks an existing database file without creating anything: throws what
/// prepare_database_file would (a directory, not a regular file, another uid's file, read-only,
/// directory not writable). Returns false if the file does not exist.
inline bool check_existing_database(const std::string& database, const std::string& setting = "db_path") {
    if (is_memory_path(database)) return true;
    if (!database.empty() && database.front() == '~') throw config_error(tilde_message(setting, database));
    const std::string directory = parent_of(database);
    check_ancestors(database, directory, setting);
    struct stat st {};
    if (::stat(database.c_str(), &st) != 0) {
        const int code = errno;
        struct stat link {};
        if (::lstat(database.c_str(), &link) != 0 || !S_ISLNK(link.st_mode)) return false;
        // A link to nothing: creating the database would put it wherever the link points.
        char target[4096];
        const ssize_t length = ::readlink(database.c_str(), target, sizeof target);
        throw config_error("cannot use database " + database + ": it is a symbolic link to " +
                               (length > 0 ? std::string(target, static_cast<std::size_t>(length)) : "?") +
                               (code == ENOENT ? ", which does not exist"
                                               : ", which cannot be followed (" + std::string(std::strerror(code)) + ")") +
                               ", and persist does not create a database through a link. Fix: create the database "
                               "where the link points, or point " + setting + " at a path that names nothing yet",
                           code);
    }
    if (S_ISDIR(st.st_mode))
        throw config_error("cannot use database " + database + ": it is a directory (" +
                               describe(st) + "; current uid " + std::to_string(::geteuid()) +
                               "). Fix: point " + setting + " at a file inside it, e.g. " + database +
                               "/data.db",
                           EISDIR);
    if (!S_ISREG(st.st_mode))
        throw config_error("cannot use database " + database +
                               ": it is not a regular file (a device, FIFO or socket; " + describe(st) +
                               "). Fix: point " + setting + " at a database file",
                           EINVAL);
    check_owner(database, database);
    check_owner(database, database + "-wal");
    check_owner(database, database + "-shm");
    if (::access(database.c_str(), R_OK | W_OK) != 0)
        throw permission_error("cannot use database " + database + ": the file is read-only (" +
                                   describe(st) + ") for uid " + std::to_string(::geteuid()) +
                                   ". Fix: chmod u+rw " + database,
                               database, static_cast<long>(st.st_uid), st.st_mode & 07777u,
                               EACCES);
    if (::access(directory.c_str(), W_OK | X_OK) != 0)
        throw_directory_not_writable(database, directory, setting);
    return true;
}

/// Makes `database` usable: creates missing directories (0700) and the file (0600) so that
/// SQLite's -wal and -shm files inherit 0600; otherwise explains what is wrong.
/// A new file appears whole: it is made under a temporary name beside the final one,
/// `initialize`d there if given (the SQLite backend writes a database already in WAL mode,
/// so that no first transaction ever runs with a rollback journal whose deletion a power
/// loss could undo), fsynced, linked to the final name (which fails if another process
/// created it first), and the directory fsynced.
/// Returns true if the file was created by this call.
/// Throws config_error (path is a directory or another non-regular file, a symbolic link to
/// nothing, a parent is a file, it starts with ~), permission_error
/// (directory not writable, file owned by another uid, read-only file), io_error.
/// `setting` names what chose the path in the fix the errors suggest (Config::path_setting()).
inline bool prepare_database_file(const std::string& database,
                                  const std::function<void(const std::string&)>& initialize = {},
                                  const std::string& setting = "db_path") {
    if (is_memory_path(database)) return false;
    if (check_existing_database(database, setting)) return false;
    const std::string directory = parent_of(database);

    make_directories(database, directory, setting);
    if (::access(directory.c_str(), W_OK | X_OK) != 0)
        throw_directory_not_writable(database, directory, setting);
    // Temporaries of a creation killed halfway (none in the normal case).
    sweep_leftovers(directory, database.substr(database.find_last_of('/') + 1));
    std::optional<TemporaryFile> fresh;
    try {
        fresh.emplace(database);
    } catch (const permission_error&) {
        throw_directory_not_writable(database, directory, setting);
    }
    fresh->close();
    if (initialize) initialize(fresh->path());
    sync_file(fresh->path());
    if (::link(fresh->path().c_str(), database.c_str()) != 0) {
        const int code = errno;
        if (code == EEXIST) return false; // another process created it first; ours is removed
        if (code == EACCES || code == EROFS || code == EPERM) throw_directory_not_writable(database, directory, setting);
        throw io_error("cannot create database " + database + ": " + std::strerror(code), code);
    }
    sync_directory(directory);
    fresh.reset(); // unlinks the temporary name
    sync_directory(directory);
    return true;
}

} // namespace persist::detail
