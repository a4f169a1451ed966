// persist/lock/boost_file_lock.hpp: the Boost.Interprocess file_lock mechanism for lock::File
// (needs Boost headers, Debian's libboost-dev).
//
// The portable mechanism: Boost implements it with POSIX fcntl record locks on POSIX systems
// and LockFileEx on Windows. fcntl record locks belong to the process, and closing ANY
// descriptor of the file in the process releases them; lock::File therefore keeps exactly one
// file_lock per lock file per process and never opens the lock file otherwise. Code outside
// persist that opens and closes the lock file would still release the lock: prefer lock::Ofd
// on Linux.
#pragma once

#include "persist/lock/mechanisms.hpp"

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/sync/file_lock.hpp>

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <unistd.h>

namespace persist::lock {

class BoostFileLock {
public:
    static constexpr std::string_view name = "boost";

    explicit BoostFileLock(const std::string& path) : lock_(create_then_open(path)) {}

    int try_lock(Mode mode) noexcept {
        return call([&] { return mode == Mode::exclusive ? lock_.try_lock() : lock_.try_lock_sharable(); });
    }
    int lock(Mode mode) noexcept {
        return call([&] {
            mode == Mode::exclusive ? lock_.lock() : lock_.lock_sharable();
            return true;
        });
    }
    void unlock() noexcept {
        // Unlocking either way releases the process's fcntl lock on the whole file.
        call([&] {
            lock_.unlock();
            return true;
        });
    }
    /// fcntl locks are not inherited by a child, so there is nothing to drop.
    void forget_after_fork() noexcept {}

private:
    static const char* create_then_open(const std::string& path) {
        // file_lock needs an existing file. Creating it here is safe: nothing in this process
        // holds a lock on it yet (this object is made once per file, before any locking).
        ::close(detail::open_lock_file(path));
        return path.c_str();
    }

    template <class Fn>
    static int call(Fn fn) noexcept {
        try {
            return fn() ? 0 : EWOULDBLOCK;
        } catch (const boost::interprocess::interprocess_exception& e) {
            const int native = e.get_native_error();
            return native != 0 ? native : EIO;
        }
    }

    boost::interprocess::file_lock lock_;
};

} // namespace persist::lock
