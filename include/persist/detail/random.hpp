// persist/detail/random.hpp: random tokens and backoff jitter without <random>.
//
// Lease owner tokens must be unpredictable and unique across processes and hosts: they come
// from the kernel (getrandom(2)). Backoff jitter only has to differ between threads: a
// per-thread xorshift seeded from the kernel is enough and costs a few instructions.
#pragma once

#include "persist/error.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/random.h>
#include <system_error>
#include <time.h>

namespace persist::detail {

/// `bytes` random bytes from the kernel, as 2 * bytes lowercase hex digits. Throws io_error
/// if the kernel's generator fails (getrandom(2) unavailable or refused).
inline std::string random_hex(std::size_t bytes) {
    unsigned char buffer[64];
    std::string hex;
    static constexpr char digits[] = "0123456789abcdef";
    while (bytes > 0) {
        const std::size_t want = bytes < sizeof buffer ? bytes : sizeof buffer;
        std::size_t got = 0;
        while (got < want) {
            const auto n = ::getrandom(buffer + got, want - got, 0);
            if (n > 0) got += static_cast<std::size_t>(n);
            else if (n < 0 && errno != EINTR)
                throw io_error("cannot make a random token: the kernel's random generator failed (getrandom: " +
                                   std::generic_category().message(errno) + ")",
                               errno);
        }
        for (std::size_t i = 0; i < want; ++i) {
            hex += digits[buffer[i] >> 4];
            hex += digits[buffer[i] & 0xf];
        }
        bytes -= want;
    }
    return hex;
}

/// A number in [low, high], different in each thread (not for secrets). Never fails: without
/// the kernel's generator the thread's seed comes from the clock and its stack address.
inline std::int64_t jitter(std::int64_t low, std::int64_t high) {
    thread_local std::uint64_t state = [] {
        std::uint64_t seed = 0;
        long got = -1;
        for (int attempt = 0; attempt < 8 && got != static_cast<long>(sizeof seed); ++attempt)
            got = ::getrandom(&seed, sizeof seed, GRND_NONBLOCK);
        if (got != static_cast<long>(sizeof seed)) { // no kernel generator: the clock and this thread's stack
            timespec now{};
            ::clock_gettime(CLOCK_MONOTONIC, &now);
            seed = static_cast<std::uint64_t>(now.tv_nsec) * 0x9e3779b97f4a7c15u ^
                   static_cast<std::uint64_t>(now.tv_sec) ^ reinterpret_cast<std::uintptr_t>(&seed);
        }
        return seed | 1;
    }();
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const auto span = static_cast<std::uint64_t>(high - low) + 1;
    return low + static_cast<std::int64_t>(state % span);
}

} // namespace persist::detail
