// Fails chosen POSIX calls of this test executable: persist is header-only, so its calls to
// rename(), fsync() and fdatasync() resolve to these definitions, which forward to libc's unless a fault
// is armed; so do SQLite's, since the executable exports the symbols libsqlite3 uses.
// Include in exactly one translation unit of an executable.
#pragma once

#include <atomic>
#include <cstdarg>
#include <fcntl.h>
#include <string>
#include <cerrno>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

namespace test::posix_faults {

/// The n-th call from now (1 = the next) fails with `error`; 0 disarms.
struct Fault {
    std::atomic<int> countdown{0};
    std::atomic<int> error{EIO};
    std::atomic<int> calls{0};
    bool fire() {
        ++calls;
        int left = countdown.load();
        while (left > 0 && !countdown.compare_exchange_weak(left, left - 1)) {
        }
        return left == 1;
    }
    void arm(int nth, int code = EIO) {
        error = code;
        countdown = nth;
        calls = 0;
    }
};

inline Fault rename_fault, fsync_fault, directory_fsync_fault;
/// Fails opens of paths ending in `open_suffix` (counted only for those).
inline Fault open_fault;
inline std::string open_suffix = "-shm";

} // namespace test::posix_faults

extern "C" int rename(const char* from, const char* to) {
    using real_t = int (*)(const char*, const char*);
    static const auto real = reinterpret_cast<real_t>(::dlsym(RTLD_NEXT, "rename"));
    if (test::posix_faults::rename_fault.fire()) {
        errno = test::posix_faults::rename_fault.error;
        return -1;
    }
    return real(from, to);
}

namespace test::posix_faults {
/// fsync and fdatasync share the file and directory faults: SQLite may use either.
inline int sync_through(int fd, const char* name) {
    using real_t = int (*)(int);
    const auto real = reinterpret_cast<real_t>(::dlsym(RTLD_NEXT, name));
    struct stat st {};
    const bool directory = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    auto& fault = directory ? directory_fsync_fault : fsync_fault;
    if (fault.fire()) {
        errno = fault.error;
        return -1;
    }
    return real(fd);
}
} // namespace test::posix_faults

extern "C" int fsync(int fd) { return test::posix_faults::sync_through(fd, "fsync"); }
extern "C" int fdatasync(int fd) { return test::posix_faults::sync_through(fd, "fdatasync"); }

namespace test::posix_faults {
inline int open_through(const char* name, const char* path, int flags, mode_t mode) {
    using real_t = int (*)(const char*, int, ...);
    const auto real = reinterpret_cast<real_t>(::dlsym(RTLD_NEXT, name));
    const std::string_view text(path ? path : "");
    if (text.size() >= open_suffix.size() && text.substr(text.size() - open_suffix.size()) == open_suffix && open_fault.fire()) {
        errno = open_fault.error;
        return -1;
    }
    return real(path, flags, mode);
}
} // namespace test::posix_faults

extern "C" int open(const char* path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list args;
        va_start(args, flags);
        mode = static_cast<mode_t>(va_arg(args, int));
        va_end(args);
    }
    return test::posix_faults::open_through("open", path, flags, mode);
}

extern "C" int open64(const char* path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list args;
        va_start(args, flags);
        mode = static_cast<mode_t>(va_arg(args, int));
        va_end(args);
    }
    return test::posix_faults::open_through("open64", path, flags, mode);
}
