// persist/detail/random.hpp: random tokens and backoff jitter without <random>.
//
// Lease owner tokens must be unpredictable and unique across processes and hosts: they come
// from the kernel (getrandom(2)). Backoff jitter only has to differ between threads: a
// per-thread xorshift seeded from the kernel is enough and costs a few instructions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/random.h>

namespace persist::detail {

/// `bytes` random bytes from the kernel, as 2 * bytes lowercase hex digits.
inline std::string random_hex(std::size_t bytes) {
    unsigned char buffer[64];
    std::string hex;
    static constexpr char digits[] = "0123456789abcdef";
    while (bytes > 0) {
        const std::size_t want = bytes < sizeof buffer ? bytes : sizeof buffer;
        std::size_t got = 0;
        while (got < want) {
            const auto n = ::getrandom(buffer + got, want - got, 0);
            if (n > 0) got += static_cast<std::size_t>(n); // EINTR: try again
        }
        for (std::size_t i = 0; i < want; ++i) {
            hex += digits[buffer[i] >> 4];
            hex += digits[buffer[i] & 0xf];
        }
        bytes -= want;
    }
    return hex;
}

/// A number in [low, high], different in each thread (not for secrets).
inline std::int64_t jitter(std::int64_t low, std::int64_t high) {
    thread_local std::uint64_t state = [] {
        std::uint64_t seed = 0;
        while (::getrandom(&seed, sizeof seed, 0) != static_cast<long>(sizeof seed)) {
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
