// How long a waiting process takes to get a lock after its holder releases it.
//
// Two processes share one lock. The parent holds it while the child is blocked in acquire();
// the parent stamps the time and releases; the child stamps the time it got the lock.
// Reported time per iteration is that hand-off latency (manual time). A pipe hands the lock
// back, so every iteration starts with the child waiting.
#include <benchmark/benchmark.h>
#include <persist/lock/boost_file_lock.hpp>
#include <persist/sqlite.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <utility>
#include <filesystem>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono;

namespace {
struct Shared {
    std::atomic<std::int64_t> released_at{0};
    std::atomic<std::int64_t> acquired_at{0};
};

std::int64_t now_ns() { return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count(); }

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

persist::lock::Request exclusive() {
    return {persist::lock::Mode::exclusive, steady_clock::now() + seconds(30), "benchmark"};
}

template <class Policy>
void handoff(benchmark::State& state) {
    const std::string dir = "/tmp/persist-bench-handoff-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    persist::Config config = persist::Config::for_app("bench");
    config.db_path = dir + "/bench.db";
    { persist::Store<persist::sqlite::Backend> create(config); }

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
    for (auto _ : state) {
        char byte = 1;
        if (::read(ready[0], &byte, 1) != 1) std::abort();
        std::this_thread::sleep_for(microseconds(300)); // let the child block in acquire()
        shared->released_at = now_ns();
        held = {};
        if (::read(got[0], &byte, 1) != 1) std::abort();
        held = parent_locks.acquire("handoff", exclusive());
        state.SetIterationTime(double(shared->acquired_at - shared->released_at) / 1e9);
        if (::write(go[1], &byte, 1) != 1) std::abort();
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    held = {};
    ::munmap(shared, sizeof(Shared));
    std::filesystem::remove_all(dir);
}
} // namespace

BENCHMARK(handoff<RawOfd>)->Name("handoff/raw_fcntl_ofd_baseline")->UseManualTime()->Iterations(300);
BENCHMARK(handoff<persist::lock::File<persist::lock::Ofd>>)->Name("handoff/file_ofd")->UseManualTime()->Iterations(300);
BENCHMARK(handoff<persist::lock::File<persist::lock::Flock>>)->Name("handoff/file_flock")->UseManualTime()->Iterations(300);
BENCHMARK(handoff<persist::lock::File<persist::lock::BoostFileLock>>)->Name("handoff/file_boost")->UseManualTime()->Iterations(300);
BENCHMARK(handoff<persist::lock::Table>)->Name("handoff/table")->UseManualTime()->Iterations(100);

BENCHMARK_MAIN();
