// persist/migrate/sha256.hpp: SHA-256 (FIPS 180-4), usable at compile time, of migration text
// after normalisation: a leading UTF-8 byte order mark is dropped and CRLF / CR line endings
// become LF, so a file checked out on Windows has the checksum it had on Linux.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace persist::migrate {

/// A SHA-256 digest as 64 lowercase hex digits, usable in constant expressions.
struct Checksum {
    std::array<char, 64> hex{};

    constexpr std::string_view view() const { return {hex.data(), hex.size()}; }
    std::string str() const { return std::string(view()); }
    constexpr bool operator==(const Checksum&) const = default;
};

namespace detail {

inline constexpr std::uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::uint32_t rotate_right(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

class Sha256 {
public:
    constexpr void add(unsigned char byte) {
        block_[used_++] = byte;
        ++length_;
        if (used_ == 64) compress();
    }

    constexpr Checksum finish() {
        const std::uint64_t bits = length_ * 8;
        block_[used_++] = 0x80;
        if (used_ > 56) {
            while (used_ < 64) block_[used_++] = 0;
            compress();
        }
        while (used_ < 56) block_[used_++] = 0;
        for (int i = 7; i >= 0; --i) block_[used_++] = static_cast<unsigned char>(bits >> (i * 8));
        compress();
        Checksum result;
        constexpr char digits[] = "0123456789abcdef";
        for (int i = 0; i < 8; ++i)
            for (int j = 0; j < 8; ++j) result.hex[i * 8 + j] = digits[(state_[i] >> (28 - 4 * j)) & 0xf];
        return result;
    }

private:
    constexpr void compress() {
        std::uint32_t w[64] = {};
        for (int i = 0; i < 16; ++i)
            w[i] = (std::uint32_t(block_[i * 4]) << 24) | (std::uint32_t(block_[i * 4 + 1]) << 16) |
                   (std::uint32_t(block_[i * 4 + 2]) << 8) | std::uint32_t(block_[i * 4 + 3]);
        for (int i = 16; i < 64; ++i) {
            const auto s0 = rotate_right(w[i - 15], 7) ^ rotate_right(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const auto s1 = rotate_right(w[i - 2], 17) ^ rotate_right(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        auto a = state_[0], b = state_[1], c = state_[2], d = state_[3];
        auto e = state_[4], f = state_[5], g = state_[6], h = state_[7];
        for (int i = 0; i < 64; ++i) {
            const auto t1 = h + (rotate_right(e, 6) ^ rotate_right(e, 11) ^ rotate_right(e, 25)) + ((e & f) ^ (~e & g)) +
                            sha256_k[i] + w[i];
            const auto t2 = (rotate_right(a, 2) ^ rotate_right(a, 13) ^ rotate_right(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state_[0] += a; state_[1] += b; state_[2] += c; state_[3] += d;
        state_[4] += e; state_[5] += f; state_[6] += g; state_[7] += h;
        used_ = 0;
    }

    std::uint32_t state_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    unsigned char block_[64] = {};
    int used_ = 0;
    std::uint64_t length_ = 0;
};

} // namespace detail

/// SHA-256 of `text` exactly as given.
constexpr Checksum sha256(std::string_view text) {
    detail::Sha256 hash;
    for (char c : text) hash.add(static_cast<unsigned char>(c));
    return hash.finish();
}

/// SHA-256 of `text` after dropping a leading BOM and turning CRLF and CR into LF.
constexpr Checksum checksum(std::string_view text) {
    if (text.size() >= 3 && text[0] == '\xEF' && text[1] == '\xBB' && text[2] == '\xBF') text.remove_prefix(3);
    detail::Sha256 hash;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') {
            hash.add('\n');
            if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        } else {
            hash.add(static_cast<unsigned char>(text[i]));
        }
    }
    return hash.finish();
}

} // namespace persist::migrate
