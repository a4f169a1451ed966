// persist/lock/mechanisms.hpp: the operating-system lock mechanisms lock::File can use.
//
// A Mechanism is a class with
//   static constexpr std::string_view name;
//   explicit Mechanism(const std::string& path)   opens (creating, 0600) the lock file once
//   int try_lock(Mode)    0, or EWOULDBLOCK/EAGAIN when held elsewhere, or an errno
//   int lock(Mode)        blocks; 0, or EINTR when interrupted, or an errno
//   void unlock() noexcept
//   void forget_after_fork() noexcept   in a forked child: drop the inherited descriptor so
//                                       the child does not keep the parent's lock alive
// lock::File keeps one Mechanism object per lock file per process and never destroys it.
#pragma once

#include "persist/error.hpp"
#include "persist/lock/policy.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <sys/file.h>
#include <unistd.h>

namespace persist::lock {

namespace detail {
/// Opens (creating, 0600) lock file `path`. Throws, by errno: permission_error for EACCES,
/// EPERM and EROFS (the directory or file refuses this uid); config_error for ELOOP (a
/// symlink planted at the lock file's name); io_error for the rest (EIO, ENOSPC, EMFILE,
/// ENFILE, ...), naming what to check.
inline int open_lock_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) return fd;
    const int code = errno;
    const std::string what = "cannot open lock file " + path + ": " + std::strerror(code);
    switch (code) {
    case EACCES:
    case EPERM:
    case EROFS:
        throw permission_error(what + ". Fix: make its directory writable for uid " + std::to_string(::geteuid()), path, -1,
                               0, code);
    case ELOOP:
        throw config_error(what + " (it is a symbolic link, which persist never follows). Fix: remove it", code);
    case EMFILE:
    case ENFILE:
        throw io_error(what + ". Fix: this process (or the system) has too many open files; raise the limit (ulimit -n) "
                              "or close files",
                       code);
    case ENOSPC:
    case EDQUOT:
        throw io_error(what + ". Fix: free space (or quota) on the disk holding it", code);
    default:
        throw io_error(what + ". Fix: check the disk holding it", code);
    }
}
} // namespace detail

/// Linux open-file-description locks (fcntl F_OFD_SETLK[W]): owned by the open file
/// description, so another descriptor opened and closed elsewhere in the process does not
/// release them; released by the kernel when the holder exits. The Linux default.
class Ofd {
public:
    static constexpr std::string_view name = "ofd";
    explicit Ofd(const std::string& path) : fd_(detail::open_lock_file(path)) {}
    int try_lock(Mode mode) noexcept { return apply(F_OFD_SETLK, mode == Mode::exclusive ? F_WRLCK : F_RDLCK); }
    int lock(Mode mode) noexcept { return apply(F_OFD_SETLKW, mode == Mode::exclusive ? F_WRLCK : F_RDLCK); }
    void unlock() noexcept { apply(F_OFD_SETLK, F_UNLCK); }
    void forget_after_fork() noexcept {
        ::close(fd_);
        fd_ = -1;
    }

private:
    int apply(int command, short type) noexcept {
        struct flock request {};
        request.l_type = type;
        request.l_whence = SEEK_SET; // l_start = l_len = 0: the whole file
        return ::fcntl(fd_, command, &request) == 0 ? 0 : errno;
    }
    int fd_;
};

/// BSD flock(2): also owned by the open file description; released when the holder exits.
/// Not reliable over NFS on older kernels (emulated with fcntl locks there).
class Flock {
public:
    static constexpr std::string_view name = "flock";
    explicit Flock(const std::string& path) : fd_(detail::open_lock_file(path)) {}
    int try_lock(Mode mode) noexcept { return apply((mode == Mode::exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB); }
    int lock(Mode mode) noexcept { return apply(mode == Mode::exclusive ? LOCK_EX : LOCK_SH); }
    void unlock() noexcept { apply(LOCK_UN); }
    void forget_after_fork() noexcept {
        ::close(fd_);
        fd_ = -1;
    }

private:
    int apply(int operation) noexcept { return ::flock(fd_, operation) == 0 ? 0 : errno; }
    int fd_;
};

} // namespace persist::lock
