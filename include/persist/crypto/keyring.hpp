// persist/crypto/keyring.hpp: the keys encrypted columns use, supplied by the application.
//
//   // MYAPP_KEYS="1:<64 hex digits>,2:<64 hex digits>"   (the highest id encrypts)
//   config.keys = persist::crypto::Keyring::from_environment("MYAPP_KEYS");
//
// A keyring holds several live keys, each with a numeric id; the current key (the highest id)
// encrypts, every key it holds decrypts. Rotation: add a key with a higher id, run
// persist::schema::rotate_keys (or `persist rotate-keys`), then drop the old key. Keys come from
// a text ("id:hex" entries), an environment variable, a file only its owner can read, or a
// callback (a secrets manager). persist never writes a key anywhere and wipes its copies.
#pragma once

#include "persist/crypto/aes_gcm.hpp"
#include "persist/error.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace persist::crypto {

/// A 256-bit key. Its bytes are wiped when it is destroyed.
class Key {
public:
    Key() = default;
    /// Throws config_error unless `bytes` holds exactly 32 bytes.
    explicit Key(ByteView bytes) {
        if (bytes.size() != key_size)
            throw config_error("an encryption key must be 32 bytes (256 bits), not " + std::to_string(bytes.size()));
        std::copy(bytes.begin(), bytes.end(), bytes_.begin());
    }
    /// The key written as 64 hexadecimal digits. Throws config_error naming `source` otherwise.
    static Key from_hex(std::string_view hex, std::string_view source = "the key") {
        if (hex.size() != 2 * key_size)
            throw config_error(std::string(source) + ": a key is 64 hexadecimal digits (32 bytes), not " +
                               std::to_string(hex.size()) + " characters. Make one with: openssl rand -hex 32");
        Key key;
        for (std::size_t i = 0; i < key_size; ++i) {
            const int high = digit(hex[2 * i]), low = digit(hex[2 * i + 1]);
            if (high < 0 || low < 0)
                throw config_error(std::string(source) + ": a key is 64 hexadecimal digits; character " +
                                   std::to_string(2 * i + (high < 0 ? 1 : 2)) + " is not one");
            key.bytes_[i] = static_cast<unsigned char>(high * 16 + low);
        }
        return key;
    }
    Key(const Key&) = default;
    Key& operator=(const Key&) = default;
    ~Key() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }
    ByteView bytes() const noexcept { return bytes_; }

private:
    static int digit(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }
    std::array<unsigned char, key_size> bytes_{};
};

/// The keys of encrypted columns: several live ones, one current. Immutable once built and
/// safe to share between threads (a callback given to from_callback must be thread-safe too).
class Keyring {
public:
    /// Looks a key up by id for from_callback: the key, or nullopt when there is none.
    using Lookup = std::function<std::optional<Key>(std::uint32_t id)>;

    /// Keys given as text: entries "id:hex" (id 1..4294967295, then 64 hexadecimal digits)
    /// separated by commas, spaces or newlines; lines starting with '#' are comments. The
    /// highest id is the current key. Throws config_error naming `source` and the entry.
    static std::shared_ptr<const Keyring> from_text(std::string_view text, std::string_view source = "the key list") {
        auto ring = std::make_shared<Keyring>();
        std::size_t at = 0;
        while (at < text.size()) {
            const char c = text[at];
            if (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                ++at;
                continue;
            }
            if (c == '#') {
                at = text.find('\n', at);
                if (at == std::string_view::npos) break;
                continue;
            }
            std::size_t end = text.find_first_of(", \t\r\n", at);
            if (end == std::string_view::npos) end = text.size();
            const std::string_view entry = text.substr(at, end - at);
            at = end;
            const auto colon = entry.find(':');
            const std::string where = std::string(source) + ", entry " + std::to_string(ring->keys_.size() + 1);
            if (colon == std::string_view::npos || colon == 0 || colon > 10)
                throw config_error(where + ": write each key as id:hex, e.g. 1:" + std::string(64, '0').replace(0, 4, "00ff") +
                                   " (an id from 1 to 4294967295, then 64 hexadecimal digits)");
            std::uint64_t id = 0;
            for (char d : entry.substr(0, colon)) {
                if (d < '0' || d > '9') throw config_error(where + ": the key id must be a number from 1 to 4294967295");
                id = id * 10 + static_cast<unsigned>(d - '0');
            }
            if (id == 0 || id > 0xffffffffu)
                throw config_error(where + ": the key id must be a number from 1 to 4294967295");
            if (ring->holds(static_cast<std::uint32_t>(id)))
                throw config_error(where + ": key id " + std::to_string(id) + " appears twice");
            ring->keys_.emplace_back(static_cast<std::uint32_t>(id), Key::from_hex(entry.substr(colon + 1), where));
            ring->current_ = std::max(ring->current_, static_cast<std::uint32_t>(id));
        }
        if (ring->keys_.empty())
            throw config_error(std::string(source) + " holds no key; give at least one as id:hex (make a key with: "
                               "openssl rand -hex 32)");
        return ring;
    }

    /// Keys from the environment variable `name` (see from_text). Throws config_error when it is
    /// unset or malformed; the message never contains key material.
    static std::shared_ptr<const Keyring> from_environment(const std::string& name) {
        const char* value = std::getenv(name.c_str());
        if (!value || !*value)
            throw config_error("the environment variable " + name + " that should hold the encryption keys is " +
                               (value ? "empty" : "not set") + "; set it to id:hex entries, e.g. " + name +
                               "=1:$(openssl rand -hex 32)");
        return from_text(value, "environment variable " + name);
    }

    /// Keys from the file at `path` (see from_text). The file must be a regular file owned by
    /// this user (or root) that nobody else may read or write, and is opened without following
    /// a symbolic link. Throws permission_error or config_error saying what to fix.
    static std::shared_ptr<const Keyring> from_file(const std::string& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
            const int code = errno;
            if (code == ELOOP)
                throw permission_error("key file " + path + " is a symbolic link; persist reads keys only from the "
                                       "file itself. Point to the real file",
                                       path, -1, 0, code);
            throw config_error("cannot open key file " + path + ": " + std::strerror(code), code);
        }
        struct Closer {
            int fd;
            ~Closer() { ::close(fd); }
        } closer{fd};
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
            throw config_error("key file " + path + " is not a regular file");
        if (st.st_uid != ::geteuid() && st.st_uid != 0)
            throw permission_error("key file " + path + " is owned by uid " + std::to_string(st.st_uid) +
                                       ", not by this process's uid " + std::to_string(::geteuid()) +
                                       " or root; someone else could have written its keys",
                                   path, static_cast<long>(st.st_uid), st.st_mode & 07777u, EACCES);
        if (st.st_mode & 077)
            throw permission_error("key file " + path + " may be read or written by other users (mode " +
                                       std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                                       std::to_string(st.st_mode & 7) + "). Fix: chmod 600 " + path,
                                   path, static_cast<long>(st.st_uid), st.st_mode & 07777u, EACCES);
        if (st.st_size > 1 << 20) throw config_error("key file " + path + " is larger than 1 MiB; it is not a key list");
        std::string text(static_cast<std::size_t>(st.st_size), '\0');
        std::size_t got = 0;
        while (got < text.size()) {
            const auto n = ::read(fd, text.data() + got, text.size() - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw config_error("cannot read key file " + path + ": " + std::strerror(n < 0 ? errno : EIO));
            got += static_cast<std::size_t>(n);
        }
        auto ring = from_text(text, "key file " + path);
        OPENSSL_cleanse(text.data(), text.size());
        return ring;
    }

    /// Keys looked up by `lookup` (a secrets manager, a hardware module) each time one is
    /// needed, that is for every value sealed or opened: cache inside the lookup if it is slow.
    /// `current` is the id that encrypts. Throws config_error for id 0 or no lookup.
    static std::shared_ptr<const Keyring> from_callback(std::uint32_t current, Lookup lookup) {
        if (current == 0 || !lookup)
            throw config_error("Keyring::from_callback needs a current key id from 1 and a lookup function");
        auto ring = std::make_shared<Keyring>();
        ring->current_ = current;
        ring->lookup_ = std::move(lookup);
        return ring;
    }

    /// The id of the key that encrypts.
    std::uint32_t current() const noexcept { return current_; }

    /// The key with `id`, or nullopt when this keyring does not hold it.
    std::optional<Key> find(std::uint32_t id) const {
        if (lookup_) return lookup_(id);
        for (const auto& [key_id, key] : keys_)
            if (key_id == id) return key;
        return std::nullopt;
    }

    Keyring() = default; // empty; use the factories above

private:
    bool holds(std::uint32_t id) const {
        for (const auto& entry : keys_)
            if (entry.first == id) return true;
        return false;
    }
    std::vector<std::pair<std::uint32_t, Key>> keys_; // a handful: a vector beats a map

    std::uint32_t current_ = 0;
    Lookup lookup_;
};

} // namespace persist::crypto
