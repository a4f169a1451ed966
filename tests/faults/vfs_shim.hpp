// A test-only SQLite VFS that wraps the default one and fails chosen I/O: the Nth write,
// sync or read from now (once), or every write once a byte budget is spent (a full disk).
// install() registers it as the default VFS of this process, so every connection persist
// opens goes through it. It counts what it sees, so a sweep can stop when N passes the end.
#pragma once

#include <atomic>
#include <cstring>
#include <sqlite3.h>

namespace faults {

enum class Kind { none, write, sync, read, disk_full };

struct Plan {
    std::atomic<Kind> kind{Kind::none};
    std::atomic<long> countdown{0};   ///< write/sync/read: fail when it reaches 0
    std::atomic<long> budget{0};      ///< disk_full: bytes still writable
    std::atomic<bool> fired{false};

    void arm(Kind what, long nth_or_bytes) {
        fired = false;
        countdown = nth_or_bytes;
        budget = nth_or_bytes;
        kind = what;
    }
    void disarm() { kind = Kind::none; }

    /// Whether this operation of kind `what` (of `bytes`, for writes) fails.
    bool fail(Kind what, long bytes = 0) {
        const Kind armed = kind.load();
        if (armed == Kind::disk_full && what == Kind::write) {
            if (budget.fetch_sub(bytes) < bytes) {
                fired = true;
                return true;
            }
            return false;
        }
        if (armed != what) return false;
        if (--countdown == 0) {
            fired = true;
            return true;
        }
        return false;
    }
};

inline Plan plan;

namespace shim {

struct File {
    sqlite3_file base;
    sqlite3_file* real;
};

inline sqlite3_vfs* real_vfs = nullptr;

inline sqlite3_file* real_of(sqlite3_file* file) { return reinterpret_cast<File*>(file)->real; }

inline int close(sqlite3_file* f) { return real_of(f)->pMethods->xClose(real_of(f)); }
inline int read(sqlite3_file* f, void* buffer, int amount, sqlite3_int64 offset) {
    if (plan.fail(Kind::read)) return SQLITE_IOERR_READ;
    return real_of(f)->pMethods->xRead(real_of(f), buffer, amount, offset);
}
inline int write(sqlite3_file* f, const void* buffer, int amount, sqlite3_int64 offset) {
    if (plan.fail(Kind::write, amount)) return plan.kind == Kind::disk_full ? SQLITE_FULL : SQLITE_IOERR_WRITE;
    return real_of(f)->pMethods->xWrite(real_of(f), buffer, amount, offset);
}
inline int truncate(sqlite3_file* f, sqlite3_int64 size) { return real_of(f)->pMethods->xTruncate(real_of(f), size); }
inline int sync(sqlite3_file* f, int flags) {
    if (plan.fail(Kind::sync)) return SQLITE_IOERR_FSYNC;
    return real_of(f)->pMethods->xSync(real_of(f), flags);
}
inline int file_size(sqlite3_file* f, sqlite3_int64* size) { return real_of(f)->pMethods->xFileSize(real_of(f), size); }
inline int lock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xLock(real_of(f), level); }
inline int unlock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xUnlock(real_of(f), level); }
inline int check_reserved(sqlite3_file* f, int* out) { return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out); }
inline int file_control(sqlite3_file* f, int op, void* arg) { return real_of(f)->pMethods->xFileControl(real_of(f), op, arg); }
inline int sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
inline int device_characteristics(sqlite3_file* f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
inline int shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
    return real_of(f)->pMethods->xShmMap(real_of(f), page, size, extend, out);
}
inline int shm_lock(sqlite3_file* f, int offset, int n, int flags) { return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags); }
inline void shm_barrier(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
inline int shm_unmap(sqlite3_file* f, int delete_flag) { return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag); }
inline int fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
    return real_of(f)->pMethods->xFetch(real_of(f), offset, amount, out);
}
inline int unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) { return real_of(f)->pMethods->xUnfetch(real_of(f), offset, p); }

inline const sqlite3_io_methods methods = {
    3, close, read, write, truncate, sync, file_size, lock, unlock, check_reserved, file_control, sector_size,
    device_characteristics, shm_map, shm_lock, shm_barrier, shm_unmap, fetch, unfetch};

inline int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    auto* wrapper = reinterpret_cast<File*>(file);
    wrapper->real = reinterpret_cast<sqlite3_file*>(wrapper + 1);
    wrapper->base.pMethods = nullptr;
    const int rc = real_vfs->xOpen(real_vfs, name, wrapper->real, flags, out_flags);
    if (wrapper->real->pMethods) wrapper->base.pMethods = &methods;
    return rc;
}

inline int remove(sqlite3_vfs*, const char* name, int sync_dir) { return real_vfs->xDelete(real_vfs, name, sync_dir); }
inline int access(sqlite3_vfs*, const char* name, int flags, int* out) { return real_vfs->xAccess(real_vfs, name, flags, out); }
inline int full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
    return real_vfs->xFullPathname(real_vfs, name, size, out);
}
inline void* dl_open(sqlite3_vfs*, const char* name) { return real_vfs->xDlOpen(real_vfs, name); }
inline void dl_error(sqlite3_vfs*, int size, char* out) { real_vfs->xDlError(real_vfs, size, out); }
inline void (*dl_sym(sqlite3_vfs*, void* handle, const char* name))(void) { return real_vfs->xDlSym(real_vfs, handle, name); }
inline void dl_close(sqlite3_vfs*, void* handle) { real_vfs->xDlClose(real_vfs, handle); }
inline int randomness(sqlite3_vfs*, int size, char* out) { return real_vfs->xRandomness(real_vfs, size, out); }
inline int sleep(sqlite3_vfs*, int micros) { return real_vfs->xSleep(real_vfs, micros); }
inline int current_time(sqlite3_vfs*, double* out) { return real_vfs->xCurrentTime(real_vfs, out); }
inline int last_error(sqlite3_vfs*, int size, char* out) { return real_vfs->xGetLastError(real_vfs, size, out); }
inline int current_time_int64(sqlite3_vfs*, sqlite3_int64* out) { return real_vfs->xCurrentTimeInt64(real_vfs, out); }

} // namespace shim

/// Registers the shim as this process's default VFS (once).
inline void install() {
    static sqlite3_vfs v{};
    static const bool registered = [] {
        shim::real_vfs = sqlite3_vfs_find(nullptr);
        v.iVersion = 2;
        v.szOsFile = static_cast<int>(sizeof(shim::File)) + shim::real_vfs->szOsFile;
        v.mxPathname = shim::real_vfs->mxPathname;
        v.zName = "persist-faults";
        v.xOpen = shim::open;
        v.xDelete = shim::remove;
        v.xAccess = shim::access;
        v.xFullPathname = shim::full_pathname;
        v.xDlOpen = shim::dl_open;
        v.xDlError = shim::dl_error;
        v.xDlSym = shim::dl_sym;
        v.xDlClose = shim::dl_close;
        v.xRandomness = shim::randomness;
        v.xSleep = shim::sleep;
        v.xCurrentTime = shim::current_time;
        v.xGetLastError = shim::last_error;
        v.xCurrentTimeInt64 = shim::current_time_int64;
        return sqlite3_vfs_register(&v, 1) == SQLITE_OK;
    }();
    (void)registered;
}

} // namespace faults
