// persist/lock/file.hpp: lock::File<Mechanism>, named locks shared by processes on one machine
// through operating-system locks on separate lock files beside the database.
#pragma once

#include "persist/detail/process.hpp"
#include "persist/config.hpp"
#include "persist/settings.hpp"
#include "persist/detail/file_setup.hpp"
#include "persist/detail/interruptible_wait.hpp"
#include "persist/error.hpp"
#include "persist/lock/in_process.hpp"
#include "persist/lock/mechanisms.hpp"
#include "persist/lock/policy.hpp"
#include "persist/lock/support.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace persist::lock {

namespace detail {

/// One lock file of this process: its mechanism object, and how many threads of this
/// process share the OS lock (threads queue on a ThreadLock first, so the OS lock is taken
/// once per process: exclusively by one thread, or shared by the first of several readers).
template <class Mechanism>
struct OsLock {
    explicit OsLock(const std::string& lock_path)
        : path(lock_path), mechanism(lock_path),
          record_fd(::open((lock_path + ".holder").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) {}
    std::string path;
    Mechanism mechanism;
    int record_fd; // the holder record file; not locked, so closing it would be harmless
    std::mutex state;    // guards shared_holders and the OS lock calls
    int shared_holders = 0;
};

/// Holder records live in "<lock file>.holder", one fixed-size record written in place by
/// each new holder with a single pwrite, ending in a checksum so that a reader never takes a
/// half-written record for a real one. Records are read only while the lock is known to be
/// held, so a stale record is never reported.
inline constexpr std::size_t holder_record_size = 512;

inline std::string holder_record_checksum(std::string_view body) {
    std::uint32_t sum = 2166136261u; // FNV-1a
    for (unsigned char c : body) sum = (sum ^ c) * 16777619u;
    return std::to_string(sum);
}

inline void write_holder_record(int fd, const Holder& holder) {
    if (fd < 0) return; // the record is informative; the lock itself is held
    std::string body = std::to_string(holder.pid) + "\n" + holder.host + "\n" +
                       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          holder.since.time_since_epoch())
                                          .count()) +
                       "\n" + mode_name(holder.mode) + "\n" + holder.purpose.substr(0, 200) + "\n";
    std::string record = body + holder_record_checksum(body) + "\n";
    record.resize(holder_record_size, '\0');
    [[maybe_unused]] auto written = ::pwrite(fd, record.data(), record.size(), 0);
}

inline std::optional<Holder> read_holder_record(const std::string& lock_path) {
    std::FILE* file = std::fopen((lock_path + ".holder").c_str(), "re");
    if (!file) return std::nullopt;
    char buffer[holder_record_size + 1] = {};
    const std::size_t size = std::fread(buffer, 1, holder_record_size, file);
    std::fclose(file);
    std::string text(buffer, ::strnlen(buffer, size));
    std::string fields[6];
    std::size_t start = 0;
    for (auto& field : fields) {
        const auto end = text.find('\n', start);
        if (end == std::string::npos) return std::nullopt;
        field = text.substr(start, end - start);
        start = end + 1;
    }
    const auto body_end = text.rfind('\n', text.size() - 2);
    if (body_end == std::string::npos || holder_record_checksum(text.substr(0, body_end + 1)) != fields[5])
        return std::nullopt; // torn or foreign record
    try {
        Holder holder;
        holder.pid = std::stol(fields[0]);
        holder.host = fields[1];
        holder.since = std::chrono::system_clock::time_point(std::chrono::milliseconds(std::stoll(fields[2])));
        holder.mode = fields[3] == "shared" ? Mode::shared : Mode::exclusive;
        holder.purpose = fields[4];
        return holder;
    } catch (...) {
        return std::nullopt;
    }
}

/// The process-wide table of OsLock objects. Keys carry the pid: after fork() the child
/// starts afresh, and a pthread_atfork handler makes the child drop the descriptors it
/// inherited (with OFD and flock locks those descriptors would otherwise keep the
/// parent's locks alive after the parent dies).
template <class Mechanism>
class OsLockRegistry {
public:
    static std::shared_ptr<OsLock<Mechanism>> get(const std::string& lock_path) {
        auto& self = instance();
        std::lock_guard lock(self.mutex_);
        const std::string key = std::to_string(persist::detail::current_pid()) + ":" + lock_path;
        if (auto found = self.locks_.find(key); found != self.locks_.end()) return found->second;
        // Opened before it is entered: a lock file that cannot be opened leaves no empty entry
        // (the fork handler below would crash every later child on it).
        auto made = std::make_shared<OsLock<Mechanism>>(lock_path);
        self.locks_.emplace(key, made);
        return made;
    }

private:
    OsLockRegistry() { ::pthread_atfork(&prepare, &parent, &child); }
    static OsLockRegistry& instance() {
        static OsLockRegistry* registry = new OsLockRegistry; // never destroyed: locks live until exit
        return *registry;
    }
    static void prepare() { instance().mutex_.lock(); }
    static void parent() { instance().mutex_.unlock(); }
    static void child() {
        auto& self = instance();
        for (auto& [key, os_lock] : self.locks_) {
            os_lock->mechanism.forget_after_fork();
            ::close(os_lock->record_fd);
            os_lock->record_fd = -1;
        }
        self.locks_.clear(); // leaks nothing that matters: the objects stay owned by guards, if any
        self.mutex_.unlock();
    }

    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<OsLock<Mechanism>>> locks_;
};

} // namespace detail

/// Named locks shared by the processes of one machine (and the threads of each), using an
/// operating-system lock on "<database>.<name>.lock".
///
/// Guarantees: a lock is released by the kernel when its holder process exits, however it
/// exits (SIGKILL included). The lock file is opened with O_CLOEXEC and never deleted (deleting
/// it would let two processes lock two different files of the same name). The database file
/// and its -wal/-shm files are never opened or locked by this policy.
/// Does not guarantee: anything across machines (use lock::Table), anything on network file
/// systems whose locking is unreliable (NFS), or progress when the holder is alive but hung:
/// a stopped holder keeps its lock, and waiters get lock_timeout_error naming its pid.
///
/// Thread-safety: all members may be called from any thread. A guard released in a forked
/// child does nothing: only the process that took a lock can release it.
template <class Mechanism = Ofd>
class File {
public:
    static constexpr std::string_view name = "file";
    static constexpr Settings settings = Settings::none; ///< what it reads of Config

    class guard {
    public:
        guard() = default;
        guard(guard&& other) noexcept
            : threads_(std::move(other.threads_)), os_(std::move(other.os_)), mode_(other.mode_), pid_(other.pid_) {}
        guard& operator=(guard&& other) noexcept {
            if (this != &other) {
                release();
                threads_ = std::move(other.threads_);
                os_ = std::move(other.os_);
                mode_ = other.mode_;
                pid_ = other.pid_;
            }
            return *this;
        }
        ~guard() { release(); }
        bool owns_lock() const noexcept { return threads_ != nullptr; }

    private:
        friend class File;
        guard(std::shared_ptr<detail::ThreadLock> threads, std::shared_ptr<detail::OsLock<Mechanism>> os, Mode mode)
            : threads_(std::move(threads)), os_(std::move(os)), mode_(mode), pid_(persist::detail::current_pid()) {}
        void release() noexcept {
            if (!threads_) return;
            if (persist::detail::current_pid() == pid_) { // in a forked child the lock is not ours to release
                if (os_) { // none for an in-memory database
                    std::lock_guard state(os_->state);
                    if (mode_ == Mode::exclusive || --os_->shared_holders == 0) os_->mechanism.unlock();
                }
                detail::release_thread_lock(*threads_, mode_);
            }
            os_.reset();
            threads_.reset();
        }
        std::shared_ptr<detail::ThreadLock> threads_;
        std::shared_ptr<detail::OsLock<Mechanism>> os_;
        Mode mode_ = Mode::exclusive;
        pid_t pid_ = 0;
    };

    /// For an in-memory database (":memory:"), which no other process can open, the locks
    /// coordinate this process's threads alone, as lock::InProcess does, and no file is made.
    explicit File(const Config& config)
        : config_(config), database_(config.path()), memory_(persist::detail::is_memory_path(database_)) {}

    /// The lock file used for `lock_name`.
    std::string lock_path(std::string_view lock_name) const {
        return database_ + "." + std::string(lock_name) + ".lock";
    }

    /// Takes `lock_name` as `request` asks: first among this process's threads, then from the
    /// OS. Throws lock_timeout_error naming the holder (pid, host, since) at the deadline,
    /// usage_error for an invalid name, permission_error if the lock file cannot be opened.
    guard acquire(std::string_view lock_name, const Request& request) {
        validate_name(lock_name);
        if (config_.read_only)
            throw usage_error("lock '" + std::string(lock_name) + "' cannot be taken: the Store was opened read-only "
                              "(Config::read_only), and taking a file lock creates and writes its lock file");
        const std::string path = lock_path(lock_name);
        auto threads = detail::thread_lock(thread_key(path));
        WaitNotice notice(config_, lock_name);
        // Threads of this process queue here; the OS lock is then uncontended within the process.
        const bool waited_in_process = detail::take_thread_lock(*threads, lock_name, request, config_, stats_, false);
        if (memory_) {
            stats_.granted(lock_name, std::chrono::steady_clock::now() - notice.started(), waited_in_process);
            return guard(std::move(threads), nullptr, request.mode);
        }
        std::shared_ptr<detail::OsLock<Mechanism>> os;
        try {
            os = detail::OsLockRegistry<Mechanism>::get(path);
            std::lock_guard state(os->state);
            if (request.mode == Mode::exclusive || os->shared_holders == 0) {
                const bool granted = persist::detail::wait_for(
                    [&] { return os->mechanism.try_lock(request.mode); },
                    [&] { return os->mechanism.lock(request.mode); }, request.deadline, notice.due(),
                    [&] { notice.send(detail::read_holder_record(path)); }, "lock file " + path);
                if (!granted) {
                    const auto waited = std::chrono::steady_clock::now() - notice.started();
                    stats_.timed_out(lock_name, waited);
                    throw timeout_error(lock_name, request.mode, waited, detail::read_holder_record(path));
                }
                detail::write_holder_record(os->record_fd, *threads->current_holder());
            }
            if (request.mode == Mode::shared) ++os->shared_holders;
        } catch (...) {
            detail::release_thread_lock(*threads, request.mode);
            throw;
        }
        const auto waited = std::chrono::steady_clock::now() - notice.started();
        stats_.granted(lock_name, waited, waited_in_process || waited > std::chrono::microseconds(200));
        return guard(std::move(threads), std::move(os), request.mode);
    }

    /// Held or free, and by whom. Probes the OS lock without waiting, and only when no thread
    /// of this process holds or is taking it. A missing lock file means free; none is created.
    Status status(std::string_view lock_name) {
        validate_name(lock_name);
        const std::string path = lock_path(lock_name);
        // No lock file: nobody has ever taken the lock (a holder creates it first). Answer
        // without creating one.
        struct stat st {};
        if (!memory_ && ::lstat(path.c_str(), &st) != 0 && errno == ENOENT) return Status{};
        auto threads = detail::thread_lock(thread_key(path));
        if (threads->held()) return Status{true, threads->current_holder()};
        if (!threads->mutex.try_lock_until(std::chrono::steady_clock::now()))
            return Status{true, threads->current_holder()}; // a thread here is taking it right now
        Status result;
        if (!memory_) {
            auto os = detail::OsLockRegistry<Mechanism>::get(path);
            std::lock_guard state(os->state);
            if (os->mechanism.try_lock(Mode::exclusive) == 0) {
                os->mechanism.unlock();
            } else {
                result = Status{true, detail::read_holder_record(path)};
            }
        }
        threads->mutex.unlock();
        return result;
    }

    /// OS locks cannot be broken from outside: the kernel releases them when the holder exits.
    /// Throws usage_error naming the holder's pid when the lock is held; does nothing when free.
    void force_unlock(std::string_view lock_name) {
        const auto current = status(lock_name);
        if (!current.held) return;
        const std::string pid = current.holder ? std::to_string(current.holder->pid) : std::string("unknown");
        throw usage_error("lock '" + std::string(lock_name) + "' is an operating-system lock " +
                          describe_holder(current.holder) +
                          "; it cannot be forced: the kernel releases it when that process exits. If pid " + pid +
                          " is hung, stop it (kill " + pid + ")");
    }

    /// Stats per name; a wait counts from the request to the grant, among this process's
    /// threads and for the OS lock together.
    Stats stats() const { return stats_.snapshot(); }

private:
    static std::string thread_key(const std::string& path) { return std::string("file:") + std::string(Mechanism::name) + ":" + path; }

    Config config_;
    std::string database_;
    bool memory_; // an in-memory database: threads of this process only, no lock file
    StatsRecorder stats_;
};

static_assert(LockPolicy<File<Ofd>>);
static_assert(LockPolicy<File<Flock>>);

} // namespace persist::lock
