// persist/detail/private_files.hpp: creating the files and directories persist makes
// (backups, manifests, dumps, safety copies) so that a planted symlink or a loose umask
// cannot redirect or expose them (ARCHITECTURE.md, invariant 6):
//   - directories persist creates are 0700, files 0600, whatever the umask;
//   - every file is created exclusively (O_CREAT|O_EXCL, which never follows a symlink) under
//     an unpredictable temporary name "<final>.tmp-<pid>-XXXXXX" in the destination directory,
//     then renamed over the final name (rename replaces a symlink, never follows it);
//   - the directory is fsynced after each rename or unlink a guarantee depends on;
//   - temporary files are removed on every failure path, and those left by a process that
//     died are swept by the next run (sweep_leftovers).
#pragma once

#include "persist/error.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

namespace persist::detail {

/// The directory part of `path` ("." for a bare name).
inline std::string directory_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

/// fsync of directory `directory`, so that the creations, renames and unlinks in it survive a
/// power loss. Throws io_error naming it.
inline void sync_directory(const std::string& directory) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        const int code = errno;
        if (fd >= 0) ::close(fd);
        throw io_error("cannot sync directory " + directory + " to disk: " + std::strerror(code) +
                           "; check free space and the health of the disk",
                       code);
    }
    ::close(fd);
}

/// fsync of regular file `path` (opened without following a symlink). Throws io_error.
inline void sync_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        const int code = errno;
        if (fd >= 0) ::close(fd);
        throw io_error("cannot sync " + path + " to disk: " + std::strerror(code) +
                           "; check free space and the health of the disk",
                       code);
    }
    ::close(fd);
}

/// Creates `directory` and its missing parents with mode 0700 (exactly, whatever the umask),
/// then fsyncs each parent that gained an entry. An existing directory is left as it is.
/// Throws config_error when a component is not a directory, permission_error or io_error.
inline void make_private_directories(const std::string& directory) {
    struct stat st {};
    if (::lstat(directory.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return;
        if (S_ISLNK(st.st_mode) && ::stat(directory.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
        throw config_error(directory + " exists and is not a directory; choose another destination", ENOTDIR);
    }
    const std::string parent = directory_of(directory);
    if (parent != directory && parent != "." && parent != "/") make_private_directories(parent);
    if (::mkdir(directory.c_str(), 0700) != 0) {
        const int code = errno;
        if (code == EEXIST) return make_private_directories(directory);
        if (code == EACCES || code == EPERM || code == EROFS)
            throw permission_error("cannot create directory " + directory + ": " + std::strerror(code) +
                                       ". Fix: make " + parent + " writable for uid " + std::to_string(::geteuid()) +
                                       ", or choose another destination",
                                   parent, -1, 0, code);
        throw io_error("cannot create directory " + directory + ": " + std::strerror(code), code);
    }
    ::chmod(directory.c_str(), 0700); // mkdir's mode is masked by the umask
    sync_directory(parent);
}

/// A temporary file beside `final_path`, created exclusively with mode 0600 under the name
/// "<final>.tmp-<pid>-XXXXXX". Owns the name: removes the file (and SQLite's -journal, -wal
/// and -shm beside it) on destruction unless release() was called.
class TemporaryFile {
public:
    /// Throws permission_error or io_error naming the directory.
    explicit TemporaryFile(const std::string& final_path) {
        std::string pattern = final_path + ".tmp-" + std::to_string(::getpid()) + "-XXXXXX";
        const int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
        if (fd < 0) {
            const int code = errno;
            const std::string directory = directory_of(final_path);
            if (code == EACCES || code == EPERM || code == EROFS)
                throw permission_error("cannot create a file in " + directory + ": " + std::strerror(code) +
                                           ". Fix: make it writable for uid " + std::to_string(::geteuid()) +
                                           ", or choose another destination",
                                       directory, -1, 0, code);
            throw io_error("cannot create a file in " + directory + ": " + std::strerror(code), code);
        }
        ::fchmod(fd, 0600);
        fd_ = fd;
        path_ = std::move(pattern);
    }
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;
    ~TemporaryFile() {
        close();
        if (!path_.empty()) remove_with_companions(path_);
    }

    const std::string& path() const noexcept { return path_; }
    /// The open descriptor (-1 after close()).
    int fd() const noexcept { return fd_; }

    /// Writes all of `bytes`. Throws io_error.
    void write(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto written = ::write(fd_, bytes.data(), bytes.size());
            if (written < 0) {
                if (errno == EINTR) continue;
                const int code = errno;
                throw io_error("cannot write " + path_ + ": " + std::strerror(code) +
                                   "; check free space and the health of the disk",
                               code);
            }
            bytes.remove_prefix(static_cast<std::size_t>(written));
        }
    }

    /// fsync, then close. Throws io_error.
    void sync_and_close() {
        if (::fsync(fd_) != 0) {
            const int code = errno;
            throw io_error("cannot sync " + path_ + " to disk: " + std::strerror(code) +
                               "; check free space and the health of the disk",
                           code);
        }
        close();
    }

    void close() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    /// Renames the file over `final_path` (replacing a file or symlink there, never following
    /// it); the name is no longer owned. Throws io_error, and the temporary stays owned.
    void rename_to(const std::string& final_path) {
        if (std::rename(path_.c_str(), final_path.c_str()) != 0) {
            const int code = errno;
            throw io_error("cannot rename " + path_ + " to " + final_path + ": " + std::strerror(code), code);
        }
        path_.clear();
    }

    /// Removes `path` and SQLite's companions of it, ignoring what is not there.
    static void remove_with_companions(const std::string& path) noexcept {
        for (const char* suffix : {"", "-journal", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
    }

private:
    std::string path_;
    int fd_ = -1;
};

/// Writes `text` to `path` atomically: a TemporaryFile beside it, fsync, rename over `path`,
/// fsync of the directory. Afterwards `path` holds `text` whole, or (on failure, with
/// io_error) what it held before. The file is 0600.
inline void write_file_atomically(const std::string& path, std::string_view text) {
    TemporaryFile temporary(path);
    temporary.write(text);
    temporary.sync_and_close();
    temporary.rename_to(path);
    sync_directory(directory_of(path));
}

/// Whether `name` is "<stem>.tmp-<pid>-XXXXXX" or the older "<stem>.tmp-<pid>" (with an
/// optional SQLite suffix) for a stem starting with `prefix`, made by a process that no
/// longer runs.
inline bool is_orphan_temporary(std::string_view name, std::string_view prefix) {
    if (!name.starts_with(prefix)) return false;
    const auto marker = name.rfind(".tmp-");
    if (marker == std::string_view::npos || marker < prefix.size()) return false;
    std::string_view rest = name.substr(marker + 5);
    long pid = 0;
    std::size_t i = 0;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9' && i < 10) pid = pid * 10 + (rest[i++] - '0');
    if (i == 0) return false;
    std::string_view suffix;
    if (i < rest.size() && rest[i] == '-' && rest.size() >= i + 7) suffix = rest.substr(i + 7); // "<pid>-XXXXXX"
    else suffix = rest.substr(i); // "<pid>": what persist 0.1 before these names left behind
    if (!(suffix.empty() || suffix == "-journal" || suffix == "-wal" || suffix == "-shm")) return false;
    if (pid <= 0) return false;
    return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

/// Removes, from `directory`, the temporary files of names starting with `prefix` that a
/// process which has since died left behind (a kill or power loss during a backup or a
/// dump). Returns how many it removed; never throws.
inline int sweep_leftovers(const std::string& directory, std::string_view prefix) noexcept {
    int removed = 0;
    DIR* dir = ::opendir(directory.c_str());
    if (!dir) return 0;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view name = entry->d_name;
        if (is_orphan_temporary(name, prefix) && ::unlinkat(::dirfd(dir), entry->d_name, 0) == 0) ++removed;
    }
    ::closedir(dir);
    if (removed) {
        try {
            sync_directory(directory);
        } catch (const error&) {
        }
    }
    return removed;
}

} // namespace persist::detail
