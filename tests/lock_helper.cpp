// lock_helper: a separate process for the multi-process lock tests.
//   lock_helper <ofd|flock|boost|table> <database> <lock name> <command> [argument]
// commands:
//   hold <ms>         take the lock, print "held <pid> <fence>", keep it <ms>, release, print "released"
//   hold-exec <ms>    as hold, but first start /bin/sleep 30 with fork+exec; prints "held <pid> child <pid>"
//   hold-fork <ms>    as hold, but first fork a child that sleeps 30 s;      prints "held <pid> child <pid>"
//   try <ms>          request the lock with a <ms> deadline: "acquired" (exit 0) or "timeout <message>" (exit 3)
//   try-shared <ms>   as try, in shared mode
//   hold-shared <ms>  as hold, in shared mode
//   race              wait for <database>.go to exist, then request once without waiting:
//                     "won" (keeps the lock 1 s) or "lost"
//   fenced <ms>       take the lock, print "held <pid> <fence>", sleep <ms>, then try a fenced write
//                     and print "fenced-write <rows changed>", release, print "released"
#include "support.hpp"

#include <persist/lock/boost_file_lock.hpp>
#include <persist/sqlite.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <unistd.h>

using namespace persist;
using namespace std::chrono;

namespace {
template <class Policy>
std::int64_t fence_of(const typename Policy::guard& guard) {
    if constexpr (std::is_same_v<Policy, lock::Table>) return guard.fence();
    else return 0;
}

template <class Policy>
int run(const Config& config, const std::string& name, const std::string& command, long argument) {
    Store<sqlite::Backend, Policy> store(config);
    auto& locks = store.locks();
    const std::string purpose = "helper " + command;
    const auto mode = command.ends_with("-shared") ? lock::Mode::shared : lock::Mode::exclusive;
    auto request = [&](milliseconds timeout) { return lock::Request{mode, steady_clock::now() + timeout, purpose}; };
    if (command == "hold" || command == "hold-shared" || command == "hold-exec" || command == "hold-fork" || command == "fenced") {
        auto guard = locks.acquire(name, request(seconds(30)));
        std::string extra;
        if (command == "hold-exec" || command == "hold-fork") {
            const pid_t child = ::fork();
            if (child == 0) {
                if (command == "hold-exec") ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
                else std::this_thread::sleep_for(seconds(30));
                ::_exit(0);
            }
            extra = " child " + std::to_string(child);
        }
        std::printf("held %d %lld%s\n", ::getpid(), static_cast<long long>(fence_of<Policy>(guard)), extra.c_str());
        std::fflush(stdout);
        std::this_thread::sleep_for(milliseconds(argument));
        if (command == "fenced") {
            if constexpr (std::is_same_v<Policy, lock::Table>) {
                const auto changed = store.write([&](auto& tx) {
                    return tx.execute("UPDATE data SET v = 'written by a stale holder' WHERE " +
                                          std::string(lock::Table::fence_condition),
                                      name, guard.owner(), guard.fence());
                });
                std::printf("fenced-write %lld\n", static_cast<long long>(changed));
            }
        }
        guard = {};
        std::printf("released\n");
        std::fflush(stdout);
        return 0;
    }
    if (command == "try" || command == "try-shared") {
        const auto started = steady_clock::now();
        try {
            auto guard = locks.acquire(name, request(milliseconds(argument)));
            std::printf("acquired %lld\n", static_cast<long long>(duration_cast<milliseconds>(steady_clock::now() - started).count()));
            return 0;
        } catch (const lock_timeout_error& e) {
            std::printf("timeout %s\n", e.what());
            return 3;
        }
    }
    if (command == "race") {
        if (!test::wait_for_file(config.db_path + ".go")) return 5;
        try {
            auto guard = locks.acquire(name, request(milliseconds(0)));
            std::printf("won\n");
            std::fflush(stdout);
            std::this_thread::sleep_for(seconds(1));
        } catch (const lock_timeout_error&) {
            std::printf("lost\n");
        }
        return 0;
    }
    std::fprintf(stderr, "unknown command %s\n", command.c_str());
    return 2;
}
} // namespace

int main(int argc, char** argv) try {
    if (argc < 5) {
        std::fprintf(stderr, "usage: lock_helper <ofd|flock|boost|table> <database> <name> <command> [argument]\n");
        return 2;
    }
    const std::string policy = argv[1];
    Config config = Config::for_app("lock-helper");
    config.db_path = argv[2];
    if (const char* ttl = std::getenv("LEASE_TTL_MS"); ttl && policy == "table") config.lease_ttl = milliseconds(std::atol(ttl));
    const long argument = argc > 5 ? std::atol(argv[5]) : 0;
    if (policy == "ofd") return run<lock::File<lock::Ofd>>(config, argv[3], argv[4], argument);
    if (policy == "flock") return run<lock::File<lock::Flock>>(config, argv[3], argv[4], argument);
    if (policy == "boost") return run<lock::File<lock::BoostFileLock>>(config, argv[3], argv[4], argument);
    if (policy == "table") return run<lock::Table>(config, argv[3], argv[4], argument);
    std::fprintf(stderr, "unknown policy %s\n", argv[1]);
    return 2;
} catch (const std::exception& e) {
    std::fprintf(stderr, "lock_helper: %s\n", e.what());
    return 1;
}
