// Lock costs, per policy, next to what a program would otherwise use.
//
// Uncontended: one acquire + release with nobody else around, against std::mutex and bare
// flock(2) / fcntl(F_OFD_SETLK) calls.
//
// Hand-off: how long a waiting process takes to get a lock after its holder releases it.
// Two processes share one lock. The parent holds it while the child is blocked in acquire();
// the parent stamps the time and releases; the child stamps the time it got the lock.
// Reported time per iteration is that latency (manual time, mean), with the median and p99
// as counters. A pipe hands the lock back, so every iteration starts with the child waiting.
// Baselines: a bare OFD lock, and a lock file created with O_EXCL and polled every 100 ms
// (the design many applications write by hand).
#include "common.hpp"

#include <benchmark/benchmark.h>
#include <persist/lock/boost_file_lock.hpp>
#include <persist/sqlite.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

using namespace std::chrono;

namespace {
using bench::now_ns;

struct Shared {
    std::atomic<std::int64_t> released_at{0};
    std::atomic<std::int64_t> acquired_at{0};
};

// Baseline: a bare open-file-description lock, no persist code at all.
class RawOfd {
public:
    class guard {
    public:
        guard() = default;
        explicit guard(int fd) : fd_(fd) {}
        guard(guard&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
        guard& operator=(guard&& other) noexcept {
            unlock();
            fd_ = std::exchange(other.fd_, -1);
            return *this;
        }
        ~guard() { unlock(); }

    private:
        void unlock() {
            if (fd_ < 0) return;
            struct flock request {};
            request.l_type = F_UNLCK;
            ::fcntl(fd_, F_OFD_SETLK, &request);
            fd_ = -1;
        }
        int fd_ = -1;
    };
    explicit RawOfd(const persist::Config& config)
        : fd_(::open((config.db_path + ".raw.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {}
    guard acquire(std::string_view, const persist::lock::Request&) {
        struct flock request {};
        request.l_type = F_WRLCK;
        while (::fcntl(fd_, F_OFD_SETLKW, &request) != 0) {}
        return guard(fd_);
    }

private:
    int fd_;
};

// Baseline: the hand-written lock file. Created with O_EXCL by the holder, deleted on
// release; a waiter retries every 100 ms. (It also stays behind when the holder dies.)
class PolledLockFile {
public:
    static constexpr auto poll = milliseconds(100);
    class guard {
    public:
        guard() = default;
        explicit guard(std::string path) : path_(std::move(path)) {}
        guard(guard&& other) noexcept : path_(std::exchange(other.path_, {})) {}
        guard& operator=(guard&& other) noexcept {
            unlock();
            path_ = std::exchange(other.path_, {});
            return *this;
        }
        ~guard() { unlock(); }

    private:
        void unlock() {
            if (!path_.empty()) ::unlink(path_.c_str());
            path_.clear();
        }
        std::string path_;
    };
    explicit PolledLockFile(const persist::Config& config) : path_(config.db_path + ".polled.lock") {}
    guard acquire(std::string_view, const persist::lock::Request&) {
        for (;;) {
            const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd >= 0) {
                ::close(fd);
                return guard(path_);
            }
            std::this_thread::sleep_for(poll);
        }
    }

private:
    std::string path_;
};

template <class Policy>
constexpr bool polled = std::is_same_v<Policy, PolledLockFile>;

persist::lock::Request exclusive() {
    return {persist::lock::Mode::exclusive, steady_clock::now() + seconds(30), "benchmark"};
}

// A database in `dir` for the policies to put their lock files beside (lock::Table its table).
persist::Config database_in(const bench::ScratchDir& dir) {
    persist::Config config = persist::Config::for_app("bench");
    config.db_path = dir.file("bench.db");
    persist::Store<persist::sqlite::Backend> create(config);
    return config;
}

template <class Policy>
void handoff(benchmark::State& state) {
    bench::ScratchDir dir("handoff");
    const persist::Config config = database_in(dir);

    auto* shared = static_cast<Shared*>(
        ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    new (shared) Shared;
    // child -> parent: "about to wait", "got it and let go"; parent -> child: "next round"
    int ready[2], got[2], go[2];
    if (::pipe(ready) != 0 || ::pipe(got) != 0 || ::pipe(go) != 0) std::abort();

    Policy parent_locks(config);
    auto held = parent_locks.acquire("handoff", exclusive());
    const pid_t child = ::fork();
    if (child == 0) {
        Policy locks(config);
        for (char byte = 1;; ) {
            if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
            auto guard = locks.acquire("handoff", exclusive());
            shared->acquired_at = now_ns();
            guard = {};
            if (::write(got[1], &byte, 1) != 1) ::_exit(1);
            if (::read(go[0], &byte, 1) != 1) ::_exit(0);
        }
    }
    std::vector<double> latencies;
    std::mt19937 random(42);
    for (auto _ : state) {
        char byte = 1;
        if (::read(ready[0], &byte, 1) != 1) std::abort();
        std::this_thread::sleep_for(microseconds(300)); // let the child block in acquire()
        if constexpr (polled<Policy>) // release at a random point of the child's poll interval
            std::this_thread::sleep_for(microseconds(std::uniform_int_distribution<int>(0, 100'000)(random)));
        shared->released_at = now_ns();
        held = {};
        if (::read(got[0], &byte, 1) != 1) std::abort();
        held = parent_locks.acquire("handoff", exclusive());
        const double seconds = double(shared->acquired_at - shared->released_at) / 1e9;
        latencies.push_back(seconds * 1e6);
        state.SetIterationTime(seconds);
        if (::write(go[1], &byte, 1) != 1) std::abort();
    }
    state.counters["p50_us"] = bench::quantile(latencies, 0.5);
    state.counters["p99_us"] = bench::quantile(latencies, 0.99);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    held = {};
    ::munmap(shared, sizeof(Shared));
}

// ---- uncontended acquire + release -----------------------------------------------------------

template <class Policy>
void uncontended(benchmark::State& state) {
    bench::ScratchDir dir("uncontended");
    const persist::Config config = database_in(dir);
    Policy locks(config);
    const auto request = exclusive();
    for (auto _ : state) {
        auto guard = locks.acquire("uncontended", request);
        benchmark::DoNotOptimize(guard);
    }
}

void uncontended_std_mutex(benchmark::State& state) {
    std::mutex mutex;
    for (auto _ : state) {
        std::lock_guard guard(mutex);
        benchmark::ClobberMemory();
    }
}

void uncontended_raw_flock(benchmark::State& state) {
    bench::ScratchDir dir("uncontended-flock");
    const int fd = ::open(dir.file("flock.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    for (auto _ : state) {
        ::flock(fd, LOCK_EX);
        ::flock(fd, LOCK_UN);
    }
    ::close(fd);
}

void uncontended_raw_ofd(benchmark::State& state) {
    bench::ScratchDir dir("uncontended-ofd");
    const int fd = ::open(dir.file("ofd.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct flock lock {};
    lock.l_type = F_WRLCK;
    struct flock unlock {};
    unlock.l_type = F_UNLCK;
    for (auto _ : state) {
        ::fcntl(fd, F_OFD_SETLKW, &lock);
        ::fcntl(fd, F_OFD_SETLK, &unlock);
    }
    ::close(fd);
}

int handoff_iterations(int full) { return int(bench::scaled(full, 3)); }
} // namespace

using namespace persist::lock;
BENCHMARK(uncontended_std_mutex)->Name("uncontended/std_mutex");
BENCHMARK(uncontended_raw_flock)->Name("uncontended/raw_flock");
BENCHMARK(uncontended_raw_ofd)->Name("uncontended/raw_fcntl_ofd");
BENCHMARK(uncontended<None>)->Name("uncontended/none");
BENCHMARK(uncontended<InProcess>)->Name("uncontended/in_process");
BENCHMARK(uncontended<File<Ofd>>)->Name("uncontended/file_ofd");
BENCHMARK(uncontended<File<Flock>>)->Name("uncontended/file_flock");
BENCHMARK(uncontended<File<BoostFileLock>>)->Name("uncontended/file_boost");
BENCHMARK(uncontended<Table>)->Name("uncontended/table");

BENCHMARK(handoff<PolledLockFile>)->Name("handoff/polled_lock_file_100ms")->UseManualTime()->Iterations(handoff_iterations(30))->Unit(benchmark::kMicrosecond);
BENCHMARK(handoff<RawOfd>)->Name("handoff/raw_fcntl_ofd")->UseManualTime()->Iterations(handoff_iterations(300))->Unit(benchmark::kMicrosecond);
BENCHMARK(handoff<File<Ofd>>)->Name("handoff/file_ofd")->UseManualTime()->Iterations(handoff_iterations(300))->Unit(benchmark::kMicrosecond);
BENCHMARK(handoff<File<Flock>>)->Name("handoff/file_flock")->UseManualTime()->Iterations(handoff_iterations(300))->Unit(benchmark::kMicrosecond);
BENCHMARK(handoff<File<BoostFileLock>>)->Name("handoff/file_boost")->UseManualTime()->Iterations(handoff_iterations(300))->Unit(benchmark::kMicrosecond);
BENCHMARK(handoff<Table>)->Name("handoff/table")->UseManualTime()->Iterations(handoff_iterations(100))->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
