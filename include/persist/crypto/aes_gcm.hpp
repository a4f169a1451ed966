// persist/crypto/aes_gcm.hpp: AES-256-GCM through OpenSSL's EVP interface (Debian: libssl-dev).
// persist writes no cryptography of its own; this header only drives OpenSSL and turns its
// failures into persist errors. Encrypted columns (persist/crypto/encrypted.hpp) use it with
// 96-bit random nonces and 128-bit tags.
#pragma once

#include "persist/error.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>

#include <climits>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace persist::crypto {

using Bytes = std::vector<unsigned char>;
using ByteView = std::span<const unsigned char>;

/// AES-256 key length in bytes.
inline constexpr std::size_t key_size = 32;
/// GCM tag length persist writes and reads, in bytes.
inline constexpr std::size_t tag_size = 16;
/// The longest nonce OpenSSL 3 accepts for GCM, in bytes.
inline constexpr std::size_t max_nonce_size = 128;

namespace detail {
using Context = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

inline int length_of(std::size_t size, const char* what) {
    if (size > static_cast<std::size_t>(INT_MAX))
        throw usage_error(std::string("AES-256-GCM: the ") + what + " is larger than OpenSSL takes in one call (2 GiB)");
    return static_cast<int>(size);
}

// The cipher. With OpenSSL 3, fetched from its providers once: EVP_aes_256_gcm() makes every
// initialisation fetch it again (callgrind: 18% of sealing and opening a short value). Kept for
// the process's life.
inline const EVP_CIPHER* aes_256_gcm() {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (cipher) return cipher;
#endif
    return EVP_aes_256_gcm();
}

inline Context start(ByteView key, ByteView iv, bool encrypt) {
    if (key.size() != key_size)
        throw usage_error("AES-256-GCM needs a 32-byte key, not " + std::to_string(key.size()) + " bytes");
    if (iv.empty()) throw decryption_error("AES-256-GCM: a zero-length nonce is not allowed");
    if (iv.size() > max_nonce_size)
        throw usage_error("AES-256-GCM: a nonce of " + std::to_string(iv.size()) +
                          " bytes is longer than OpenSSL takes (128 bytes); persist's own nonces are 12 bytes");
    Context context(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    const int ivlen = length_of(iv.size(), "nonce");
    auto init = encrypt ? &EVP_EncryptInit_ex : &EVP_DecryptInit_ex;
    if (!context || init(context.get(), aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_IVLEN, ivlen, nullptr) != 1 ||
        init(context.get(), nullptr, nullptr, key.data(), iv.data()) != 1)
        throw usage_error("AES-256-GCM: OpenSSL could not set up the cipher (nonce of " + std::to_string(iv.size()) +
                          " bytes)");
    return context;
}
} // namespace detail

/// Encrypts `plaintext` with `key` (32 bytes) and `nonce` (1 to 128 bytes; persist uses 12
/// random bytes), authenticating `aad` too. Returns the ciphertext followed by the 16-byte
/// tag. A nonce must never be used twice with one key.
inline Bytes seal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext) {
    auto context = detail::start(key, nonce, true);
    Bytes out(plaintext.size() + tag_size);
    int length = 0;
    bool ok = aad.empty() || EVP_EncryptUpdate(context.get(), nullptr, &length, aad.data(),
                                               detail::length_of(aad.size(), "associated data")) == 1;
    int written = 0;
    if (ok && !plaintext.empty()) {
        ok = EVP_EncryptUpdate(context.get(), out.data(), &length, plaintext.data(),
                               detail::length_of(plaintext.size(), "plaintext")) == 1;
        written = length;
    }
    ok = ok && EVP_EncryptFinal_ex(context.get(), out.data() + written, &length) == 1 &&
         EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                             out.data() + plaintext.size()) == 1;
    if (!ok) throw usage_error("AES-256-GCM: OpenSSL failed to encrypt");
    return out;
}

/// Decrypts `sealed` (ciphertext followed by the 16-byte tag) made by seal() with the same key,
/// nonce and associated data. Throws decryption_error when the tag does not match: a wrong
/// key, nonce or associated data, or a changed, truncated or extended ciphertext. Never
/// returns unauthenticated bytes.
inline Bytes open(ByteView key, ByteView nonce, ByteView aad, ByteView sealed) {
    if (sealed.size() < tag_size)
        throw decryption_error("AES-256-GCM: the sealed value is " + std::to_string(sealed.size()) +
                               " bytes, shorter than its 16-byte tag: it was truncated");
    auto context = detail::start(key, nonce, false);
    const std::size_t size = sealed.size() - tag_size;
    Bytes out(size);
    int length = 0;
    bool ok = aad.empty() || EVP_DecryptUpdate(context.get(), nullptr, &length, aad.data(),
                                               detail::length_of(aad.size(), "associated data")) == 1;
    int written = 0;
    if (ok && size > 0) {
        ok = EVP_DecryptUpdate(context.get(), out.data(), &length, sealed.data(), detail::length_of(size, "ciphertext")) == 1;
        written = length;
    }
    // OpenSSL's ctrl takes a non-const pointer for the tag it only reads.
    Bytes tag(sealed.begin() + static_cast<std::ptrdiff_t>(size), sealed.end());
    ok = ok && EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size), tag.data()) == 1 &&
         EVP_DecryptFinal_ex(context.get(), out.data() + written, &length) == 1;
    if (!ok) {
        OPENSSL_cleanse(out.data(), out.size());
        throw decryption_error("AES-256-GCM: authentication failed (wrong key, or the value was changed, truncated "
                               "or moved)");
    }
    return out;
}

/// `size` bytes from OpenSSL's cryptographically secure generator. Throws io_error if it
/// cannot be seeded.
inline Bytes random_bytes(std::size_t size) {
    Bytes out(size);
    if (RAND_bytes(out.data(), static_cast<int>(size)) != 1)
        throw io_error("OpenSSL's random generator failed (not seeded?); nothing was encrypted");
    return out;
}

} // namespace persist::crypto
