// persist/crypto/encrypted.hpp: persist::Encrypted<T>, a column whose value is encrypted at
// rest with AES-256-GCM (OpenSSL), and persist::key_hint for showing which secret a row holds.
//
//   struct ApiKey { boost::uuids::uuid id; persist::Encrypted<std::string> secret; std::string hint; };
//   using ApiKeys = Table<"api_keys", Column<&ApiKey::id, "id", primary_key, generated>,
//                         Column<&ApiKey::secret, "secret">, Column<&ApiKey::hint, "hint">>;
//   config.keys = persist::crypto::Keyring::from_environment("MYAPP_KEYS");
//   insert<ApiKeys>(tx, ApiKey{{}, std::string(token), persist::key_hint(token)});
//   get<ApiKeys>(tx, id)->secret.value();   // the plaintext again
//
// Stored as one BLOB (BYTEA): format version (1 byte, 1), key id (4 bytes, big-endian), a
// random 96-bit nonce, the ciphertext, the 128-bit tag. The associated data binds the format
// byte and key id, the table, the column and the row's primary key, so a value copied into
// another row or column fails authentication. Reading a value that does not authenticate, or
// whose key is not in the keyring, throws decryption_error; persist never returns such bytes.
//
// What an encrypted column cannot do: be a primary key, unique or indexed, appear in a
// predicate, ORDER BY or set(...) (its bytes are random), be read by query_as; its table's key
// cannot be autoincrement (the key is bound before the row is written). Update it with update().
#pragma once

#include "persist/crypto/aes_gcm.hpp"
#include "persist/crypto/keyring.hpp"
#include "persist/schema/column_type.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace persist {

/// A secret column value: holds the plaintext in memory (wiped when destroyed), stored
/// encrypted. T is std::string or persist::Blob.
template <class T>
class Encrypted {
    static_assert(std::is_same_v<T, std::string> || std::is_same_v<T, Blob>,
                  "persist: Encrypted<T> holds a std::string or a persist::Blob");

public:
    Encrypted() = default;
    Encrypted(T value) : value_(std::move(value)) {}
    /// A plaintext that converts to T, e.g. a string literal.
    template <class U>
        requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::remove_cvref_t<U>, T> &&
                 !std::is_same_v<std::remove_cvref_t<U>, Encrypted>)
    Encrypted(U&& value) : value_(std::forward<U>(value)) {}
    /// A value read from the database, encrypted there with key `key_id`.
    Encrypted(T value, std::uint32_t key_id) : value_(std::move(value)), key_id_(key_id) {}
    Encrypted(const Encrypted&) = default;
    Encrypted(Encrypted&&) noexcept = default;
    Encrypted& operator=(const Encrypted&) = default;
    Encrypted& operator=(Encrypted&&) noexcept = default;
    ~Encrypted() { OPENSSL_cleanse(value_.data(), value_.size()); }

    /// The plaintext.
    const T& value() const noexcept { return value_; }
    T& value() noexcept { return value_; }
    /// The id of the key the value was encrypted with when it was read from the database; 0 for
    /// a value made by the application.
    std::uint32_t key_id() const noexcept { return key_id_; }
    /// Compares the plaintexts.
    bool operator==(const Encrypted& other) const { return value_ == other.value_; }

private:
    T value_{};
    std::uint32_t key_id_ = 0;
};

/// What to show of a secret so that a person can tell which one a row holds: "..." and its last
/// `shown` characters, or only "..." when the secret is shorter than 3 × `shown` (too short to
/// give part of it away). Store the hint in a plain column beside the encrypted one.
inline std::string key_hint(std::string_view secret, std::size_t shown = 4) {
    if (shown == 0 || secret.size() < 3 * shown) return "...";
    return "..." + std::string(secret.substr(secret.size() - shown));
}

namespace crypto {
/// The stored form's layout.
inline constexpr unsigned char format_version = 1;
inline constexpr std::size_t nonce_size = 12;
inline constexpr std::size_t header_size = 1 + 4;
inline constexpr std::size_t overhead = header_size + nonce_size + tag_size;

namespace detail {
inline Bytes associated_data(ByteView header, const schema::SealContext& where) {
    Bytes aad(header.begin(), header.end());
    auto add = [&](std::string_view part) {
        for (int shift = 24; shift >= 0; shift -= 8) aad.push_back(static_cast<unsigned char>(part.size() >> shift));
        aad.insert(aad.end(), part.begin(), part.end());
    };
    add("persist.encrypted");
    add(where.table);
    add(where.column);
    add(where.key);
    return aad;
}

inline std::string describe(const schema::SealContext& where) {
    return "column " + std::string(where.table) + "." + std::string(where.column) + " of the row " + where.row;
}

inline const Keyring& keyring_or_throw(const Keyring* ring, const schema::SealContext& where) {
    if (!ring)
        throw config_error("table " + std::string(where.table) + " has an encrypted column (" + std::string(where.column) +
                           ") but the Store has no keys: set Config::keys, e.g. to "
                           "persist::crypto::Keyring::from_environment(\"MYAPP_KEYS\")");
    return *ring;
}
} // namespace detail

/// Encrypts `plaintext` for `where` under the keyring's current key.
inline Blob seal_value(const Keyring* ring, const schema::SealContext& where, ByteView plaintext) {
    const Keyring& keys = detail::keyring_or_throw(ring, where);
    const std::uint32_t id = keys.current();
    const auto key = keys.find(id);
    if (id == 0 || !key)
        throw config_error("the keyring's current key (id " + std::to_string(id) + ") is not available; nothing in " +
                           detail::describe(where) + " was written");
    const unsigned char header[header_size] = {format_version, static_cast<unsigned char>(id >> 24),
                                               static_cast<unsigned char>(id >> 16), static_cast<unsigned char>(id >> 8),
                                               static_cast<unsigned char>(id)};
    const Bytes nonce = random_bytes(nonce_size);
    const Bytes sealed = seal(key->bytes(), nonce, detail::associated_data(header, where), plaintext);
    Blob out;
    out.reserve(header_size + nonce_size + sealed.size());
    for (unsigned char b : header) out.push_back(static_cast<std::byte>(b));
    for (unsigned char b : nonce) out.push_back(static_cast<std::byte>(b));
    for (unsigned char b : sealed) out.push_back(static_cast<std::byte>(b));
    return out;
}

/// Decrypts a stored value of `where`; `key_id` receives the id of the key that sealed it.
/// Throws decryption_error (not a value persist encrypted, key not in the keyring, failed
/// authentication), config_error when there is no keyring.
inline Bytes open_value(const Keyring* ring, const schema::SealContext& where, const Blob& stored,
                        std::uint32_t& key_id) {
    const Keyring& keys = detail::keyring_or_throw(ring, where);
    const ByteView bytes(reinterpret_cast<const unsigned char*>(stored.data()), stored.size());
    if (bytes.size() < overhead || bytes[0] != format_version)
        throw decryption_error("cannot decrypt " + detail::describe(where) + ": its " + std::to_string(bytes.size()) +
                               " bytes are not a value persist encrypted (" +
                               (bytes.size() < overhead ? "shorter than the " + std::to_string(overhead) + "-byte minimum"
                                                        : "unknown format version " + std::to_string(bytes[0])) +
                               "): it was truncated, changed or written by something else");
    key_id = (std::uint32_t{bytes[1]} << 24) | (std::uint32_t{bytes[2]} << 16) | (std::uint32_t{bytes[3]} << 8) |
             std::uint32_t{bytes[4]};
    const auto key = keys.find(key_id);
    if (!key)
        throw decryption_error("cannot decrypt " + detail::describe(where) + ": it was encrypted with key id " +
                               std::to_string(key_id) + ", which the keyring does not hold (its current key is id " +
                               std::to_string(keys.current()) + "). Add that key to the keyring");
    try {
        return open(key->bytes(), bytes.subspan(header_size, nonce_size),
                    detail::associated_data(bytes.first(header_size), where), bytes.subspan(header_size + nonce_size));
    } catch (const decryption_error&) {
        throw decryption_error("cannot decrypt " + detail::describe(where) + ": authentication failed. Key id " +
                               std::to_string(key_id) + " is not the key it was encrypted with, or the stored bytes "
                               "were changed, or copied from another row or column");
    }
}

} // namespace crypto

namespace schema {

/// Encrypted values: a BLOB (BYTEA) sealed with the transaction's keyring by the typed operations.
template <class T>
struct column_type<Encrypted<T>> {
    using stored = Blob;
    static constexpr ColumnType sql_type = ColumnType::blob;
    static constexpr bool sealed = true;
    static Blob seal(const crypto::Keyring* ring, const SealContext& where, const Encrypted<T>& value) {
        const auto& plain = value.value();
        return crypto::seal_value(ring, where,
                                  crypto::ByteView(reinterpret_cast<const unsigned char*>(plain.data()), plain.size()));
    }
    static Encrypted<T> open(const crypto::Keyring* ring, const SealContext& where, const Blob& stored) {
        std::uint32_t key_id = 0;
        crypto::Bytes plain = crypto::open_value(ring, where, stored, key_id);
        T value(reinterpret_cast<const typename T::value_type*>(plain.data()),
                reinterpret_cast<const typename T::value_type*>(plain.data() + plain.size()));
        OPENSSL_cleanse(plain.data(), plain.size());
        return Encrypted<T>(std::move(value), key_id);
    }
};

} // namespace schema
} // namespace persist
