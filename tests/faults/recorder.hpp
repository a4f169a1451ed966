// Records every change a process makes to the files of one directory, for the power-loss
// simulation (tests/faults/replay.hpp). Include in exactly one translation unit of the
// recorded program: its definitions of open, write, pwrite, ftruncate, fsync, fdatasync,
// unlink, rename, link and close take the place of libc's for the program and for
// libsqlite3, record what they did, and forward to libc.
//
// The directory is PERSIST_CRASH_DIR, the log PERSIST_CRASH_LOG; files ending in "-shm"
// (SQLite's shared-memory index, rebuilt after a crash) are not recorded. The log is a
// sequence of records (see Op in replay.hpp); record() adds program markers (ACK n).
#pragma once

#include "faults/log.hpp"

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace crash {

class Recorder {
public:
    static Recorder& get() {
        static Recorder recorder;
        return recorder;
    }

    bool active() const { return log_ >= 0; }

    template <class Real>
    Real real(const char* name) {
        return reinterpret_cast<Real>(::dlsym(RTLD_NEXT, name));
    }

    /// The id of the file open as `fd`, registering it (as created now) when it is a file of
    /// the directory not seen before; -1 for files not recorded.
    long file_of(int fd) {
        if (auto found = fds_.find(fd); found != fds_.end()) return found->second;
        const std::string path = path_of_fd(fd);
        if (!tracked(path)) return -1;
        struct stat st {};
        if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) return -1;
        long id;
        if (auto known = inodes_.find(st.st_ino); known != inodes_.end()) {
            id = known->second;
        } else {
            id = next_id_++;
            inodes_[st.st_ino] = id;
            write_record(Op::Kind::create, id, 0, path, {});
        }
        fds_[fd] = id;
        return id;
    }

    void forget(int fd) { fds_.erase(fd); }
    void forget_inode_of(const std::string& path) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0 && st.st_nlink <= 1) inodes_.erase(st.st_ino);
    }

    bool tracked(const std::string& path) const {
        return active() && path.size() > dir_.size() && path.compare(0, dir_.size(), dir_) == 0 && path[dir_.size()] == '/' &&
               !(path.size() > 4 && path.compare(path.size() - 4, 4, "-shm") == 0);
    }

    std::string absolute(const char* path) const {
        if (!path) return {};
        if (path[0] == '/') return path;
        char cwd[4096];
        if (!::getcwd(cwd, sizeof cwd)) return path;
        return std::string(cwd) + "/" + path;
    }

    std::string path_of_fd(int fd) const {
        char link[64], target[4096];
        std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        const auto n = ::readlink(link, target, sizeof target - 1);
        if (n <= 0) return {};
        return std::string(target, static_cast<std::size_t>(n));
    }

    void write_record(Op::Kind kind, long id, std::uint64_t number, const std::string& text, std::string_view data) {
        const std::string bytes = encode(Op{kind, id, number, text, std::string(data)});
        using write_t = ssize_t (*)(int, const void*, size_t);
        static const auto real_write = real<write_t>("write");
        std::size_t done = 0;
        while (done < bytes.size()) {
            const auto n = real_write(log_, bytes.data() + done, bytes.size() - done);
            if (n <= 0) std::abort(); // a lost record would make the simulation lie
            done += static_cast<std::size_t>(n);
        }
    }

    std::recursive_mutex mutex;

private:
    Recorder() {
        const char* dir = std::getenv("PERSIST_CRASH_DIR");
        const char* log = std::getenv("PERSIST_CRASH_LOG");
        if (!dir || !log) return;
        dir_ = dir;
        using open_t = int (*)(const char*, int, ...);
        log_ = real<open_t>("open")(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }

    std::string dir_;
    int log_ = -1;
    long next_id_ = 1;
    std::map<int, long> fds_;
    std::map<ino_t, long> inodes_;
};

/// Adds a program marker to the log (an acknowledged write, say).
inline void mark(std::uint64_t number) {
    auto& r = Recorder::get();
    std::lock_guard lock(r.mutex);
    if (r.active()) r.write_record(Op::Kind::ack, 0, number, {}, {});
}

inline int open_recorded(const char* name, const char* path, int flags, mode_t mode) {
    auto& r = Recorder::get();
    using open_t = int (*)(const char*, int, ...);
    static const auto real_open = r.real<open_t>(name);
    std::lock_guard lock(r.mutex);
    const int fd = real_open(path, flags, mode);
    if (fd >= 0 && r.tracked(r.absolute(path))) r.file_of(fd);
    return fd;
}

} // namespace crash

extern "C" {

int open(const char* path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list args;
        va_start(args, flags);
        mode = static_cast<mode_t>(va_arg(args, int));
        va_end(args);
    }
    return crash::open_recorded("open", path, flags, mode);
}

int open64(const char* path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list args;
        va_start(args, flags);
        mode = static_cast<mode_t>(va_arg(args, int));
        va_end(args);
    }
    return crash::open_recorded("open64", path, flags, mode);
}

ssize_t write(int fd, const void* data, size_t size) {
    auto& r = crash::Recorder::get();
    using write_t = ssize_t (*)(int, const void*, size_t);
    static const auto real_write = r.real<write_t>("write");
    std::lock_guard lock(r.mutex);
    const long id = r.file_of(fd);
    const off_t at = id >= 0 ? ::lseek(fd, 0, SEEK_CUR) : 0;
    const auto n = real_write(fd, data, size);
    if (n > 0 && id >= 0)
        r.write_record(crash::Op::Kind::write, id, static_cast<std::uint64_t>(at), {},
                       std::string_view(static_cast<const char*>(data), static_cast<std::size_t>(n)));
    return n;
}

static ssize_t pwrite_recorded(const char* name, int fd, const void* data, size_t size, off_t offset) {
    auto& r = crash::Recorder::get();
    using pwrite_t = ssize_t (*)(int, const void*, size_t, off_t);
    const auto real_pwrite = r.real<pwrite_t>(name);
    std::lock_guard lock(r.mutex);
    const long id = r.file_of(fd);
    const auto n = real_pwrite(fd, data, size, offset);
    if (n > 0 && id >= 0)
        r.write_record(crash::Op::Kind::write, id, static_cast<std::uint64_t>(offset), {},
                       std::string_view(static_cast<const char*>(data), static_cast<std::size_t>(n)));
    return n;
}

ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) { return pwrite_recorded("pwrite", fd, data, size, offset); }
ssize_t pwrite64(int fd, const void* data, size_t size, off_t offset) { return pwrite_recorded("pwrite64", fd, data, size, offset); }

static int truncate_recorded(const char* name, int fd, off_t size) {
    auto& r = crash::Recorder::get();
    using truncate_t = int (*)(int, off_t);
    const auto real_truncate = r.real<truncate_t>(name);
    std::lock_guard lock(r.mutex);
    const long id = r.file_of(fd);
    const int rc = real_truncate(fd, size);
    if (rc == 0 && id >= 0) r.write_record(crash::Op::Kind::truncate, id, static_cast<std::uint64_t>(size), {}, {});
    return rc;
}

int ftruncate(int fd, off_t size) { return truncate_recorded("ftruncate", fd, size); }
int ftruncate64(int fd, off_t size) { return truncate_recorded("ftruncate64", fd, size); }

static int sync_recorded(const char* name, int fd) {
    auto& r = crash::Recorder::get();
    using sync_t = int (*)(int);
    const auto real_sync = r.real<sync_t>(name);
    std::lock_guard lock(r.mutex);
    const int rc = real_sync(fd);
    if (rc != 0) return rc;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        const std::string path = r.path_of_fd(fd);
        if (r.active()) r.write_record(crash::Op::Kind::sync_directory, 0, 0, path, {});
    } else if (const long id = r.file_of(fd); id >= 0) {
        r.write_record(crash::Op::Kind::sync, id, 0, {}, {});
    }
    return rc;
}

int fsync(int fd) { return sync_recorded("fsync", fd); }
int fdatasync(int fd) { return sync_recorded("fdatasync", fd); }

int close(int fd) {
    auto& r = crash::Recorder::get();
    using close_t = int (*)(int);
    static const auto real_close = r.real<close_t>("close");
    std::lock_guard lock(r.mutex);
    r.forget(fd);
    return real_close(fd);
}

int unlink(const char* path) {
    auto& r = crash::Recorder::get();
    using unlink_t = int (*)(const char*);
    static const auto real_unlink = r.real<unlink_t>("unlink");
    std::lock_guard lock(r.mutex);
    const std::string absolute = r.absolute(path);
    const bool tracked = r.tracked(absolute);
    if (tracked) r.forget_inode_of(absolute);
    const int rc = real_unlink(path);
    if (rc == 0 && tracked) r.write_record(crash::Op::Kind::unlink, 0, 0, absolute, {});
    return rc;
}

int rename(const char* from, const char* to) {
    auto& r = crash::Recorder::get();
    using rename_t = int (*)(const char*, const char*);
    static const auto real_rename = r.real<rename_t>("rename");
    std::lock_guard lock(r.mutex);
    const std::string source = r.absolute(from), target = r.absolute(to);
    if (r.tracked(target)) r.forget_inode_of(target);
    const int rc = real_rename(from, to);
    if (rc == 0 && (r.tracked(source) || r.tracked(target)))
        r.write_record(crash::Op::Kind::rename, 0, 0, source + '\n' + target, {});
    return rc;
}

int link(const char* from, const char* to) {
    auto& r = crash::Recorder::get();
    using link_t = int (*)(const char*, const char*);
    static const auto real_link = r.real<link_t>("link");
    std::lock_guard lock(r.mutex);
    const int rc = real_link(from, to);
    const std::string source = r.absolute(from), target = r.absolute(to);
    if (rc == 0 && (r.tracked(source) || r.tracked(target)))
        r.write_record(crash::Op::Kind::link, 0, 0, source + '\n' + target, {});
    return rc;
}

} // extern "C"
