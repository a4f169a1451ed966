// persist/detail/read_file.hpp: reading a whole file persist did not write (a migration, a
// manifest, a dump) with POSIX calls: one open, and the checks made on the descriptor that is
// then read, so the file cannot be swapped between check and read. A FIFO or a device is
// refused rather than read (opened non-blocking, so a planted FIFO cannot hang the caller).
#pragma once

#include <cerrno>
#include <cstddef>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace persist::detail {

/// What read_regular_file found.
struct FileRead {
    enum class Status { ok, missing, not_regular, too_large, unreadable };
    Status status = Status::unreadable;
    std::string text; ///< the whole file when status is ok
    int error = 0;    ///< errno when status is missing or unreadable
};

/// Reads the regular file at `path` (symlinks followed, as for any path a user names), at most
/// `max_bytes` of it: a larger file is too_large and is not read.
inline FileRead read_regular_file(const std::string& path, std::size_t max_bytes) {
    FileRead result;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        result.error = errno;
        result.status = result.error == ENOENT ? FileRead::Status::missing : FileRead::Status::unreadable;
        return result;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        result.error = errno;
        ::close(fd);
        return result;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        result.status = FileRead::Status::not_regular;
        return result;
    }
    if (static_cast<unsigned long long>(st.st_size) > max_bytes) {
        ::close(fd);
        result.status = FileRead::Status::too_large;
        return result;
    }
    std::string text;
    text.reserve(static_cast<std::size_t>(st.st_size));
    char buffer[65536];
    for (;;) {
        const ::ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            result.error = errno;
            ::close(fd);
            return result;
        }
        if (got == 0) break;
        if (text.size() + static_cast<std::size_t>(got) > max_bytes) { // grew while being read
            ::close(fd);
            result.status = FileRead::Status::too_large;
            return result;
        }
        text.append(buffer, static_cast<std::size_t>(got));
    }
    ::close(fd);
    result.status = FileRead::Status::ok;
    result.text = std::move(text);
    return result;
}

} // namespace persist::detail
