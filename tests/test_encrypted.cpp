// Encrypted columns (persist/crypto/encrypted.hpp): AES-256-GCM against Wycheproof's vectors,
// keyrings and their sources, and the column on both backends: round trips, tampering, moved
// values, wrong and missing keys, rotation.
#include "backends.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <persist/crypto/encrypted.hpp>
#include <persist/schema.hpp>
#include <persist/schema/rotate_keys.hpp>
#include <persist/schema/uuid.hpp>

#include <cstdlib>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace persist;
using namespace persist::schema;

namespace {

crypto::Bytes from_hex(const std::string& hex) {
    crypto::Bytes out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<unsigned char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

const std::string key_one = std::string(62, '1') + "01";
const std::string key_two = std::string(62, '2') + "02";

struct Secret {
    boost::uuids::uuid id;
    std::string name;
    Encrypted<std::string> token;
    std::optional<Encrypted<Blob>> extra;
    std::string hint;
};
using Secrets = Table<"secrets", Column<&Secret::id, "id", primary_key, generated>, Column<&Secret::name, "name">,
                      Column<&Secret::token, "token">, Column<&Secret::extra, "extra">, Column<&Secret::hint, "hint">>;

struct Note {
    std::int64_t owner;
    std::string slot;
    Encrypted<std::string> body;
};
using Notes = Table<"notes", Column<&Note::owner, "owner", primary_key>, Column<&Note::slot, "slot", primary_key>,
                    Column<&Note::body, "body">>;

using AppSchema = Schema<Secrets, Notes>;

template <class Fixture>
using StoreOf = Store<typename Fixture::backend, lock::InProcess>;

template <class Fixture>
Config keyed(const Fixture& fixture, std::shared_ptr<const crypto::Keyring> keys) {
    Config config = fixture.config();
    config.keys = std::move(keys);
    return config;
}

template <class Fixture>
void create_schema(StoreOf<Fixture>& store) {
    using D = typename Fixture::backend::dialect;
    store.write([](auto& tx) {
        for (const auto& statement : AppSchema::template create_statements<D>()) tx.execute_script(statement);
    });
}

Blob blob_of(std::string_view text) {
    Blob out;
    for (char c : text) out.push_back(static_cast<std::byte>(c));
    return out;
}

} // namespace

TEST_CASE("AES-256-GCM passes every Wycheproof case with a 256-bit key") {
    std::ifstream file(PERSIST_VECTORS "/wycheproof_aes_gcm_test.json");
    REQUIRE(file);
    const auto vectors = nlohmann::json::parse(file);
    int valid = 0, invalid = 0, too_long = 0;
    for (const auto& group : vectors["testGroups"]) {
        if (group["keySize"] != 256) continue;
        for (const auto& test : group["tests"]) {
            CAPTURE(test["tcId"].get<int>());
            const auto key = from_hex(test["key"]), iv = from_hex(test["iv"]), aad = from_hex(test["aad"]),
                       msg = from_hex(test["msg"]);
            auto sealed = from_hex(test["ct"]);
            const auto tag = from_hex(test["tag"]);
            sealed.insert(sealed.end(), tag.begin(), tag.end());
            if (iv.size() > crypto::max_nonce_size) {
                // OpenSSL 3 takes GCM nonces of at most 128 bytes: refused, never mis-encrypted.
                ++too_long;
                CHECK(test::message_of<usage_error>([&] { crypto::seal(key, iv, aad, msg); }) ==
                      "AES-256-GCM: a nonce of " + std::to_string(iv.size()) +
                          " bytes is longer than OpenSSL takes (128 bytes); persist's own nonces are 12 bytes");
                CHECK_THROWS_AS(crypto::open(key, iv, aad, sealed), usage_error);
            } else if (test["result"] == "valid") {
                ++valid;
                CHECK(crypto::seal(key, iv, aad, msg) == sealed);
                CHECK(crypto::open(key, iv, aad, sealed) == msg);
            } else {
                ++invalid;
                CHECK_THROWS_AS(crypto::open(key, iv, aad, sealed), decryption_error);
            }
        }
    }
    CHECK(valid == 75);
    CHECK(invalid == 29);
    CHECK(too_long == 1); // tcId 276, a valid 257-byte nonce
}

TEST_CASE("AES-256-GCM refuses a short key, a zero-length nonce and a value shorter than its tag") {
    const crypto::Bytes key(32, 7), nonce(12, 1);
    CHECK(test::message_of<usage_error>([&] { crypto::seal(crypto::Bytes(16, 0), nonce, {}, {}); }) ==
          "AES-256-GCM needs a 32-byte key, not 16 bytes");
    CHECK(test::message_of<decryption_error>([&] { crypto::seal(key, {}, {}, {}); }) ==
          "AES-256-GCM: a zero-length nonce is not allowed");
    CHECK(test::message_of<decryption_error>([&] { crypto::open(key, nonce, {}, crypto::Bytes(15, 0)); }) ==
          "AES-256-GCM: the sealed value is 15 bytes, shorter than its 16-byte tag: it was truncated");
    const auto sealed = crypto::seal(key, nonce, {}, {});
    CHECK(sealed.size() == 16);
    CHECK(crypto::open(key, nonce, {}, sealed).empty());
}

TEST_CASE("a keyring from text: the highest id encrypts; malformed entries are config_error naming the entry") {
    const auto ring = crypto::Keyring::from_text("# keys\n2:" + key_two + ", 1:" + key_one + "\n", "MYAPP_KEYS");
    CHECK(ring->current() == 2);
    REQUIRE(ring->find(1));
    CHECK(ring->find(1)->bytes()[31] == 0x01);
    CHECK_FALSE(ring->find(3));
    CHECK(test::message_of<config_error>([] { crypto::Keyring::from_text("", "MYAPP_KEYS"); }) ==
          "MYAPP_KEYS holds no key; give at least one as id:hex (make a key with: openssl rand -hex 32)");
    CHECK(test::message_of<config_error>([] { crypto::Keyring::from_text("1:abc", "MYAPP_KEYS"); }) ==
          "MYAPP_KEYS, entry 1: a key is 64 hexadecimal digits (32 bytes), not 3 characters. Make one with: openssl "
          "rand -hex 32");
    CHECK(test::message_of<config_error>([] { crypto::Keyring::from_text("1:" + std::string(63, 'a') + "g", "K"); }) ==
          "K, entry 1: a key is 64 hexadecimal digits; character 64 is not one");
    CHECK(test::message_of<config_error>([] { crypto::Keyring::from_text("1:" + key_one + " 1:" + key_two, "K"); }) ==
          "K, entry 2: key id 1 appears twice");
    CHECK(test::message_of<config_error>([] { crypto::Keyring::from_text("0:" + key_one, "K"); }) ==
          "K, entry 1: the key id must be a number from 1 to 4294967295");
    CHECK(test::message_of<config_error>([] { crypto::Keyring::from_text("x1:" + key_one, "K"); }) ==
          "K, entry 1: the key id must be a number from 1 to 4294967295");
    const auto no_colon = test::message_of<config_error>([] { crypto::Keyring::from_text(key_one, "K"); });
    CHECK(no_colon.find("K, entry 1: write each key as id:hex") == 0);
    CHECK(no_colon.find(key_one) == std::string::npos); // never echoes key material
}

TEST_CASE("a keyring from the environment, a private file, or a callback") {
    ::unsetenv("PERSIST_TEST_KEYS");
    CHECK(test::message_of<config_error>([] { crypto::Keyring::from_environment("PERSIST_TEST_KEYS"); }) ==
          "the environment variable PERSIST_TEST_KEYS that should hold the encryption keys is not set; set it to "
          "id:hex entries, e.g. PERSIST_TEST_KEYS=1:$(openssl rand -hex 32)");
    ::setenv("PERSIST_TEST_KEYS", ("7:" + key_one).c_str(), 1);
    CHECK(crypto::Keyring::from_environment("PERSIST_TEST_KEYS")->current() == 7);
    ::unsetenv("PERSIST_TEST_KEYS");

    test::TempDir dir;
    const std::string path = dir / "keys";
    {
        std::ofstream out(path);
        out << "1:" << key_one << "\n3:" << key_two << "\n";
    }
    ::chmod(path.c_str(), 0644);
    CHECK(test::message_of<permission_error>([&] { crypto::Keyring::from_file(path); }) ==
          "key file " + path + " may be read or written by other users (mode 644). Fix: chmod 600 " + path);
    ::chmod(path.c_str(), 0600);
    CHECK(crypto::Keyring::from_file(path)->current() == 3);
    const std::string link = dir / "link";
    REQUIRE(::symlink(path.c_str(), link.c_str()) == 0);
    CHECK(test::message_of<permission_error>([&] { crypto::Keyring::from_file(link); }) ==
          "key file " + link + " is a symbolic link; persist reads keys only from the file itself. Point to the real file");
    CHECK(test::message_of<config_error>([&] { crypto::Keyring::from_file(dir.path); }) ==
          "key file " + dir.path + " is not a regular file");
    CHECK(test::message_of<config_error>([&] { crypto::Keyring::from_file(dir / "missing"); }) ==
          "cannot open key file " + (dir / "missing") + ": No such file or directory");

    int lookups = 0;
    const auto ring = crypto::Keyring::from_callback(5, [&](std::uint32_t id) -> std::optional<crypto::Key> {
        ++lookups;
        if (id == 5) return crypto::Key::from_hex(key_two);
        return std::nullopt;
    });
    CHECK(ring->current() == 5);
    CHECK(ring->find(5));
    CHECK_FALSE(ring->find(4));
    CHECK(lookups == 2);
    CHECK(test::message_of<config_error>([] { crypto::Keyring::from_callback(0, {}); }) ==
          "Keyring::from_callback needs a current key id from 1 and a lookup function");
}

TEST_CASE("key_hint shows the last characters of a long enough secret, nothing of a short one") {
    CHECK(key_hint("ghp_abcdefghijklmnop1234") == "...1234");
    CHECK(key_hint("abcdefghijkl") == "...ijkl");
    CHECK(key_hint("abcdefghijk") == "...");
    CHECK(key_hint("secret-token", 2) == "...en");
    CHECK(key_hint("anything", 0) == "...");
}

TEST_CASE_TEMPLATE("an encrypted column round-trips and stores no plaintext", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(keyed(fixture, crypto::Keyring::from_text("1:" + key_one)));
    create_schema<Fixture>(store);
    const std::string token = "ghp_0123456789abcdefSECRET";
    const auto id = store.write([&](auto& tx) {
        return insert<Secrets>(tx, Secret{{}, "github", token, std::nullopt, key_hint(token)});
    });
    store.write([&](auto& tx) { insert<Notes>(tx, Note{7, "a", Encrypted<std::string>("")}); });
    store.read([&](auto& tx) {
        const auto row = get<Secrets>(tx, id);
        REQUIRE(row);
        CHECK(row->token.value() == token);
        CHECK(row->token.key_id() == 1);
        CHECK_FALSE(row->extra);
        CHECK(row->hint == "...CRET");
        const auto stored = *tx.template query_one<Blob>("SELECT token FROM secrets");
        CHECK(stored.size() == token.size() + crypto::overhead);
        const std::string raw(reinterpret_cast<const char*>(stored.data()), stored.size());
        CHECK(raw.find("SECRET") == std::string::npos);
        CHECK(get<Notes>(tx, 7, "a")->body.value().empty());
        CHECK(all<Secrets>(tx).at(0).token.value() == token);
        CHECK(select<Secrets>(tx, col<&Secret::name> == "github").at(0).token.value() == token);
    });
    store.write([&](auto& tx) {
        auto row = *get<Secrets>(tx, id);
        row.extra = Encrypted<Blob>(blob_of(std::string("\0binary\xff", 8)));
        row.token = Encrypted<std::string>("rotated-token-value");
        CHECK(update<Secrets>(tx, row));
    });
    store.read([&](auto& tx) {
        const auto row = *get<Secrets>(tx, id);
        CHECK(row.token.value() == "rotated-token-value");
        REQUIRE(row.extra);
        CHECK(row.extra->value() == blob_of(std::string("\0binary\xff", 8)));
    });
    // A value copied into another column of its own row does not open there.
    store.write([](auto& tx) { tx.execute("UPDATE secrets SET extra = token"); });
    CHECK(test::message_of<decryption_error>([&] { store.read([&](auto& tx) { get<Secrets>(tx, id); }); })
              .find("cannot decrypt column secrets.extra of the row (" + persist::schema::uuid_text(id) +
                    "): authentication failed") == 0);
    // The same plaintext twice: different bytes (a fresh nonce each time).
    store.write([&](auto& tx) { upsert<Notes>(tx, Note{7, "b", Encrypted<std::string>("same")}); });
    store.write([&](auto& tx) { upsert<Notes>(tx, Note{7, "c", Encrypted<std::string>("same")}); });
    store.read([&](auto& tx) {
        CHECK(*tx.template query_one<Blob>("SELECT body FROM notes WHERE slot = 'b'") !=
              *tx.template query_one<Blob>("SELECT body FROM notes WHERE slot = 'c'"));
    });
}

TEST_CASE_TEMPLATE("a changed, truncated or moved value is decryption_error, never garbage", Fixture, BOTH_BACKENDS) {
    using D = typename Fixture::backend::dialect;
    Fixture fixture;
    StoreOf<Fixture> store(keyed(fixture, crypto::Keyring::from_text("1:" + key_one)));
    create_schema<Fixture>(store);
    store.write([&](auto& tx) {
        insert<Notes>(tx, Note{1, "a", Encrypted<std::string>("first secret")});
        insert<Notes>(tx, Note{2, "a", Encrypted<std::string>("second secret")});
        insert<Notes>(tx, Note{1, "b", Encrypted<std::string>("third secret")});
    });
    auto stored = [&](std::int64_t owner, const char* slot) {
        return store.read([&](auto& tx) {
            return *tx.template query_one<Blob>("SELECT body FROM notes WHERE owner = " + D::placeholder(1) +
                                                    " AND slot = " + D::placeholder(2),
                                                owner, std::string(slot));
        });
    };
    auto put = [&](std::int64_t owner, const char* slot, const Blob& bytes) {
        store.write([&](auto& tx) {
            tx.execute("UPDATE notes SET body = " + D::placeholder(1) + " WHERE owner = " + D::placeholder(2) +
                           " AND slot = " + D::placeholder(3),
                       bytes, owner, std::string(slot));
        });
    };
    auto read_note = [&](std::int64_t owner, const char* slot) {
        return test::message_of<decryption_error>([&] { store.read([&](auto& tx) { get<Notes>(tx, owner, slot); }); });
    };
    const Blob original = stored(2, "a");

    SUBCASE("another row's value") {
        put(2, "a", stored(1, "a"));
        CHECK(read_note(2, "a") == "cannot decrypt column notes.body of the row (2, a): authentication failed. Key id 1 "
                                   "is not the key it was encrypted with, or the stored bytes were changed, or copied "
                                   "from another row or column");
        put(1, "b", stored(1, "a")); // same owner, other slot: the whole key is bound
        CHECK(read_note(1, "b").find("cannot decrypt column notes.body of the row (1, b): authentication failed") == 0);
    }
    SUBCASE("a flipped bit anywhere") {
        for (std::size_t at : {std::size_t{5}, std::size_t{20}, original.size() - 1}) {
            Blob changed = original;
            changed[at] ^= std::byte{0x01};
            put(2, "a", changed);
            CHECK(read_note(2, "a").find("authentication failed") != std::string::npos);
        }
        Blob other_key_id = original;
        other_key_id[4] = std::byte{9};
        put(2, "a", other_key_id);
        CHECK(read_note(2, "a") == "cannot decrypt column notes.body of the row (2, a): it was encrypted with key id 9, "
                                   "which the keyring does not hold (its current key is id 1). Add that key to the keyring");
    }
    SUBCASE("truncated, or not persist's format") {
        put(2, "a", Blob(original.begin(), original.begin() + 32));
        CHECK(read_note(2, "a") == "cannot decrypt column notes.body of the row (2, a): its 32 bytes are not a value "
                                   "persist encrypted (shorter than the 33-byte minimum): it was truncated, changed or "
                                   "written by something else");
        Blob shortened(original.begin(), original.end() - 1);
        put(2, "a", shortened);
        CHECK(read_note(2, "a").find("authentication failed") != std::string::npos);
        Blob version = original;
        version[0] = std::byte{2};
        put(2, "a", version);
        CHECK(read_note(2, "a").find("unknown format version 2") != std::string::npos);
    }
    // Whatever was tried, the untouched row still reads.
    CHECK(store.read([&](auto& tx) { return get<Notes>(tx, 1, "a")->body.value(); }) == "first secret");
}

TEST_CASE_TEMPLATE("wrong keys and missing keys are typed errors; writing without keys writes nothing", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    {
        StoreOf<Fixture> store(keyed(fixture, crypto::Keyring::from_text("1:" + key_one)));
        create_schema<Fixture>(store);
        store.write([&](auto& tx) { insert<Notes>(tx, Note{1, "a", Encrypted<std::string>("kept")}); });
    }
    {
        StoreOf<Fixture> wrong(keyed(fixture, crypto::Keyring::from_text("1:" + key_two)));
        CHECK(test::message_of<decryption_error>([&] { wrong.read([](auto& tx) { get<Notes>(tx, 1, "a"); }); })
                  .find("authentication failed. Key id 1 is not the key it was encrypted with") != std::string::npos);
    }
    {
        StoreOf<Fixture> none(fixture.config());
        const std::string expected = "table notes has an encrypted column (body) but the Store has no keys: set "
                                     "Config::keys, e.g. to persist::crypto::Keyring::from_environment(\"MYAPP_KEYS\")";
        CHECK(test::message_of<config_error>([&] { none.read([](auto& tx) { get<Notes>(tx, 1, "a"); }); }) == expected);
        CHECK(test::message_of<config_error>([&] {
                  none.write([](auto& tx) { insert<Notes>(tx, Note{2, "a", Encrypted<std::string>("x")}); });
              }) == expected);
        CHECK(none.read([](auto& tx) { return count<Notes>(tx); }) == 1);
    }
}

TEST_CASE_TEMPLATE("rotate_keys re-encrypts under the current key in batches; the old key can then go", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    {
        StoreOf<Fixture> store(keyed(fixture, crypto::Keyring::from_text("1:" + key_one)));
        create_schema<Fixture>(store);
        store.write([&](auto& tx) {
            for (int i = 0; i < 7; ++i)
                insert<Notes>(tx, Note{i, "s", Encrypted<std::string>("secret " + std::to_string(i))});
            insert<Secrets>(tx, Secret{{}, "n", Encrypted<std::string>("t"), Encrypted<Blob>(blob_of("x")), "..."});
        });
    }
    StoreOf<Fixture> both(keyed(fixture, crypto::Keyring::from_text("1:" + key_one + ",2:" + key_two)));
    both.write([&](auto& tx) { insert<Notes>(tx, Note{100, "s", Encrypted<std::string>("already new")}); });
    const auto report = rotate_keys<Notes>(both, 3);
    CHECK(report.rows_seen == 8);
    CHECK(report.rows_rewritten == 7);
    CHECK(rotate_keys<Notes>(both, 3).rows_rewritten == 0);
    CHECK(rotate_keys<Secrets>(both).rows_rewritten == 1);
    CHECK(test::message_of<usage_error>([&] { rotate_keys<Notes>(both, 0); }) ==
          "rotate_keys: the batch size must be at least 1");

    StoreOf<Fixture> only_new(keyed(fixture, crypto::Keyring::from_text("2:" + key_two)));
    only_new.read([&](auto& tx) {
        const auto rows = all<Notes>(tx);
        REQUIRE(rows.size() == 8);
        for (const auto& row : rows) CHECK(row.body.key_id() == 2);
        CHECK(rows[3].body.value() == "secret 3");
        const auto secret = all<Secrets>(tx).at(0);
        CHECK(secret.token.key_id() == 2);
        CHECK(secret.extra->key_id() == 2);
        CHECK(secret.extra->value() == blob_of("x"));
    });
}

TEST_CASE_TEMPLATE("rotation stops at a value no key opens and keeps the batches before it", Fixture, BOTH_BACKENDS) {
    using D = typename Fixture::backend::dialect;
    Fixture fixture;
    StoreOf<Fixture> store(keyed(fixture, crypto::Keyring::from_text("1:" + key_one + ",2:" + key_two)));
    create_schema<Fixture>(store);
    {
        StoreOf<Fixture> old(keyed(fixture, crypto::Keyring::from_text("1:" + key_one)));
        old.write([&](auto& tx) {
            for (int i = 0; i < 4; ++i) insert<Notes>(tx, Note{i, "s", Encrypted<std::string>("v")});
        });
    }
    store.write([&](auto& tx) {
        tx.execute("UPDATE notes SET body = (SELECT body FROM notes WHERE owner = 0) WHERE owner = " + D::placeholder(1),
                   std::int64_t{3});
    });
    CHECK(test::message_of<decryption_error>([&] { rotate_keys<Notes>(store, 2); })
              .find("cannot decrypt column notes.body of the row (3, s): authentication failed") == 0);
    store.read([&](auto& tx) {
        CHECK(get<Notes>(tx, 0, "s")->body.key_id() == 2);
        CHECK(get<Notes>(tx, 1, "s")->body.key_id() == 2);
        CHECK(get<Notes>(tx, 2, "s")->body.key_id() == 1); // its batch rolled back with row 3's failure
    });
}
