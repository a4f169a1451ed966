// Keyrings and encrypted values on hostile input: the input is a key list (Keyring::from_text),
// the separator "\n--VALUE--\n", then the bytes of a stored encrypted value. Parsing must end
// in config_error or a keyring whose current key it holds; opening the value must end in
// decryption_error, never in a crash or in plaintext that did not authenticate (a forged tag
// would mean opening succeeded, which a random input cannot do).
#include "fuzz_support.hpp"

#include <persist/crypto/encrypted.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto parts = fuzz::split(input, "\n--VALUE--\n");
    const std::string_view keys = parts.first, value = parts.second; // lambdas cannot capture bindings in C++20
    std::shared_ptr<const persist::crypto::Keyring> ring;
    fuzz::expect_typed([&] { ring = persist::crypto::Keyring::from_text(keys, "fuzz"); });
    if (!ring) ring = persist::crypto::Keyring::from_text("1:" + std::string(64, '0'), "fallback");
    if (!ring->find(ring->current())) std::abort();
    persist::Blob stored;
    for (char c : value) stored.push_back(static_cast<std::byte>(c));
    const persist::schema::SealContext where{"t", "c", std::string("\0\0\0\1", 4) + "7", "(7)"};
    try {
        std::uint32_t key_id = 0;
        persist::crypto::open_value(ring.get(), where, stored, key_id);
        std::abort(); // authenticated bytes nobody sealed
    } catch (const persist::decryption_error&) {
    }
    // What persist seals opens again, under the same context only.
    const auto sealed = persist::crypto::seal_value(ring.get(), where, persist::crypto::ByteView(data, size));
    std::uint32_t key_id = 0;
    if (persist::crypto::open_value(ring.get(), where, sealed, key_id) != persist::crypto::Bytes(data, data + size) ||
        key_id != ring->current())
        std::abort();
    return 0;
}
