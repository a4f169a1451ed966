// persist/detail/file_digest.hpp: SHA-256 of a whole file, through OpenSSL's EVP interface
// (Debian: libssl-dev). The constexpr SHA-256 of persist/migrate/sha256.hpp is kept for
// checksums the compiler computes; files are hashed at OpenSSL's speed.
#pragma once

#include "persist/error.hpp"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace persist::detail {

/// SHA-256 (lowercase hex) and size of the file at `path`. `on_progress(done, total)` is called after each 64 KiB read. Throws io_error if it
/// cannot be read.
inline std::pair<std::string, std::int64_t> file_sha256(
    const std::string& path, const std::function<void(std::int64_t, std::int64_t)>& on_progress = {}) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw io_error("cannot read " + path + ": " + std::strerror(errno), errno);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    const std::int64_t total = ::fstat(fd, &st) == 0 ? static_cast<std::int64_t>(st.st_size) : 0;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1)
        throw io_error("cannot hash " + path + ": OpenSSL could not set up SHA-256");
    std::vector<unsigned char> buffer(1 << 16);
    std::int64_t size = 0;
    for (;;) {
        const auto got = ::read(fd, buffer.data(), buffer.size());
        if (got < 0) {
            if (errno == EINTR) continue;
            throw io_error("cannot read " + path + ": " + std::strerror(errno), errno);
        }
        if (got == 0) break;
        EVP_DigestUpdate(context.get(), buffer.data(), static_cast<std::size_t>(got));
        size += got;
        if (on_progress) on_progress(size, size > total ? size : total);
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context.get(), digest, &length);
    static constexpr char hex[] = "0123456789abcdef";
    std::string text;
    for (unsigned int i = 0; i < length; ++i) {
        text += hex[digest[i] >> 4];
        text += hex[digest[i] & 0xf];
    }
    return {text, size};
}

} // namespace persist::detail
