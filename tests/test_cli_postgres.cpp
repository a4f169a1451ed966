// The persist command-line tool against PostgreSQL (--db-url), and rotate-keys on both
// backends, run as a process.
#include "cli_runner.hpp"

using namespace persist;
using namespace cli_test;
namespace fs = std::filesystem;

namespace {
// The same migrations against a schema of the throwaway PostgreSQL server, through --db-url.
struct PgFixture {
    test::PostgresBackend server;
    std::string migrations = server.dir / "migrations";
    PgFixture() {
        fs::create_directories(migrations);
        std::ofstream(migrations + "/1_notes.up.sql") << "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL);\n";
        std::ofstream(migrations + "/1_notes.down.sql") << "DROP TABLE notes;\n";
        std::ofstream(migrations + "/2_seed.up.sql") << "INSERT INTO notes VALUES (1, 'first'), (2, 'second');\n";
        std::ofstream(migrations + "/2_seed.down.sql") << "DELETE FROM notes;\n";
    }
    Result operator()(std::vector<std::string> args) {
        args.insert(args.begin(), {"--db-url", server.url(), "--migrations", migrations});
        return run(args, server.dir.path);
    }
    std::int64_t notes() {
        return postgres::Connection(server.url()).query<std::int64_t>("SELECT count(*) FROM notes").at(0);
    }
};
} // namespace

TEST_CASE("on PostgreSQL (--db-url): plan, migrate, status, info, down, baseline, repair") {
    PgFixture pg;
    auto r = pg({"plan"});
    CHECK(r.code == 0);
    CHECK(r.out == "would apply 1 notes\nwould apply 2 seed\n");
    r = pg({"migrate"});
    CHECK(r.code == 0);
    CHECK(r.out == "version 0 -> 2, applied [1,2]\n");
    CHECK(pg.notes() == 2);
    r = pg({"--json", "status"});
    CHECK(r.code == 0);
    const auto status = nlohmann::json::parse(r.out);
    CHECK(status.size() == 2);
    CHECK(status[1]["state"] == "applied");
    r = pg({"info"});
    CHECK(r.code == 0);
    CHECK(r.out.find("database     ") != std::string::npos);
    CHECK(r.out.find(", schema " + pg.server.schema + ", ") != std::string::npos);
    CHECK(r.out.find("  notes  2 rows\n") != std::string::npos);
    CHECK(r.out.find("  2 seed  applied ") != std::string::npos);
    r = pg({"--json", "info"});
    CHECK(nlohmann::json::parse(r.out)["schema"] == pg.server.schema);
    r = pg({"down", "--to", "1"});
    CHECK(r.code == 0);
    CHECK(r.out == "version 2 -> 1, reverted [2]\n");
    CHECK(pg.notes() == 0);
    std::ofstream(pg.migrations + "/1_notes.up.sql") << "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT);\n";
    r = pg({"migrate"});
    CHECK(r.code == 5);
    CHECK(r.err.find("checksum") != std::string::npos);
    r = pg({"repair", "1"});
    CHECK(r.code == 0);
    CHECK(r.out == "repaired version 1\n");
    CHECK(pg({"migrate"}).code == 0);

    PgFixture fresh;
    postgres::Connection(fresh.server.url()).execute_script("CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)");
    r = fresh({"baseline", "1"});
    CHECK(r.code == 0);
    CHECK(r.out == "baselined at version 1\n");
    CHECK(fresh({"plan"}).out == "would apply 2 seed\n");
}

TEST_CASE("on PostgreSQL: backup, verify, restore, lock-status and unlock; dump is refused") {
    PgFixture pg;
    REQUIRE(pg({"migrate"}).code == 0);
    auto r = pg({"backup", pg.server.dir / "backups/"});
    REQUIRE(r.code == 0);
    REQUIRE(r.out.starts_with("backup written to " + pg.server.dir / "backups/"));
    const std::string dump = r.out.substr(18, r.out.find(" (") - 18);
    r = run({"verify", dump}, pg.server.dir.path); // no server needed
    CHECK(r.code == 0);
    CHECK(r.out.starts_with("backup " + dump + " verifies: schema version 2, 3 tables, sha256 "));
    postgres::Connection(pg.server.url()).execute_script("DELETE FROM notes");
    r = pg({"restore", dump});
    CHECK(r.code == 0);
    CHECK(r.out.find("; the previous content is kept in ") != std::string::npos);
    CHECK(pg.notes() == 2);
    r = pg({"--keep", "3", "backup", pg.server.dir / "more/"}); // an option of backup, not of the tool
    CHECK(r.code == 2);
    r = pg({"backup", pg.server.dir / "more/", "--keep", "1"});
    REQUIRE(r.code == 0);
    const std::string first = r.out.substr(18, r.out.find(" (") - 18);
    r = pg({"backup", pg.server.dir / "more/", "--keep", "1", "--max-age-days", "30"});
    REQUIRE(r.code == 0);
    CHECK(r.out.ends_with(", removed 1 older\n"));
    CHECK_FALSE(fs::exists(first));
    CHECK_FALSE(fs::exists(first + ".manifest"));
    r = pg({"dump"});
    CHECK(r.code == 2);
    CHECK(r.err == "persist: dump is for SQLite databases; on PostgreSQL use backup and restore (pg_dump archives)\n");

    // A lease left by a holder: lock-status names it, unlock --force breaks it.
    Config config = pg.server.config();
    postgres::TableLock leases(config);
    auto held = leases.acquire("nightly", {lock::Mode::exclusive, std::chrono::steady_clock::now() + std::chrono::seconds(5), "report"});
    r = pg({"--lock", "table", "lock-status", "nightly"});
    CHECK(r.code == 0);
    CHECK(r.out.starts_with("nightly  held by pid " + std::to_string(::getpid()) + " on "));
    CHECK(r.out.find("(exclusive, report)") != std::string::npos);
    CHECK(pg({"--lock", "table", "unlock", "nightly"}).code == 2); // without --force
    r = pg({"--lock", "table", "unlock", "nightly", "--force"});
    CHECK(r.code == 0);
    CHECK_FALSE(leases.status("nightly").held);
    r = pg({"--lock", "file", "status"});
    CHECK(r.code == 2);
    CHECK(r.err == "persist: --lock file is for SQLite databases; on PostgreSQL use advisory (the default) or table\n");
    r = run({"--db", "x.db", "--db-url", pg.server.url(), "status"}, pg.server.dir.path);
    CHECK(r.code == 2);
    CHECK(r.err == "persist: give --db (a SQLite file) or --db-url (a PostgreSQL server), not both\n");
}

namespace {
struct Vault {
    boost::uuids::uuid id;
    std::string label;
    Encrypted<std::string> secret;
    std::optional<Encrypted<std::string>> spare;
};
using Vaults = schema::Table<"vault", schema::Column<&Vault::id, "id", schema::primary_key, schema::generated>,
                             schema::Column<&Vault::label, "label">, schema::Column<&Vault::secret, "secret">,
                             schema::Column<&Vault::spare, "spare">>;
struct Slot {
    std::int64_t owner;
    std::string name;
    Encrypted<std::string> value;
};
using Slots = schema::Table<"slots", schema::Column<&Slot::owner, "owner", schema::primary_key>,
                            schema::Column<&Slot::name, "name", schema::primary_key>, schema::Column<&Slot::value, "value">>;

const std::string rotate_one = "1:" + std::string(64, 'a');
const std::string rotate_two = "2:" + std::string(64, 'b');

template <class Fixture>
std::vector<std::string> target(const Fixture& fixture) {
    if constexpr (std::is_same_v<typename Fixture::backend, sqlite::Backend>) return {"--db", fixture.config().db_path};
    else return {"--db-url", fixture.url()};
}
} // namespace

TEST_CASE_TEMPLATE("rotate-keys re-encrypts encrypted columns under the current key", Fixture, test::SqliteBackend,
                   test::PostgresBackend) {
    using D = typename Fixture::backend::dialect;
    Fixture fixture;
    Config config = fixture.config();
    config.keys = crypto::Keyring::from_text(rotate_one);
    {
        Store<typename Fixture::backend, lock::InProcess> store(config);
        store.write([](auto& tx) {
            for (const auto& sql : schema::Schema<Vaults, Slots>::template create_statements<D>()) tx.execute_script(sql);
            for (int i = 0; i < 5; ++i) {
                schema::insert<Vaults>(tx, Vault{{}, "v" + std::to_string(i), "secret " + std::to_string(i),
                                                 i % 2 ? std::optional<Encrypted<std::string>>("spare") : std::nullopt});
                schema::insert<Slots>(tx, Slot{i, "k", "slot " + std::to_string(i)});
            }
        });
    }
    auto tool = [&](std::vector<std::string> args) {
        auto words = target(fixture);
        words.insert(words.end(), args.begin(), args.end());
        return run(words, fixture.dir.path);
    };
    ::setenv("PERSIST_TEST_ROTATE", (rotate_one + "," + rotate_two).c_str(), 1);
    auto r = tool({"rotate-keys", "vault", "secret", "spare", "--keys-env", "PERSIST_TEST_ROTATE", "--batch", "2"});
    CHECK(r.code == 0);
    CHECK(r.err == "");
    CHECK(r.out == "rotate-keys vault: 5 of 5 rows re-encrypted under key 2\n");
    r = tool({"--json", "rotate-keys", "slots", "value", "--keys-env", "PERSIST_TEST_ROTATE"});
    CHECK(r.code == 0);
    const auto report = nlohmann::json::parse(r.out);
    CHECK(report["rows_rewritten"] == 5);
    CHECK(report["current_key"] == 2);
    CHECK(tool({"rotate-keys", "slots", "value", "--keys-env", "PERSIST_TEST_ROTATE"}).out ==
          "rotate-keys slots: 0 of 5 rows re-encrypted under key 2\n");

    config.keys = crypto::Keyring::from_text(rotate_two); // the old key is gone
    Store<typename Fixture::backend, lock::InProcess> store(config);
    store.read([](auto& tx) {
        const auto vaults = schema::all<Vaults>(tx);
        REQUIRE(vaults.size() == 5);
        int spares = 0;
        for (const auto& v : vaults) {
            CHECK(v.secret.key_id() == 2);
            CHECK(v.secret.value() == "secret " + v.label.substr(1));
            if (v.spare) {
                ++spares;
                CHECK(v.spare->value() == "spare");
            }
        }
        CHECK(spares == 2);
        CHECK(schema::get<Slots>(tx, 3, "k")->value.value() == "slot 3");
    });

    r = tool({"rotate-keys", "vault", "label", "--keys-env", "PERSIST_TEST_ROTATE"});
    CHECK(r.code == 2);
    CHECK(r.err.find("persist: column vault.label (TEXT) cannot hold encrypted values; they are BLOB (BYTEA) columns") == 0);
    r = tool({"rotate-keys", "vault", "nothing", "--keys-env", "PERSIST_TEST_ROTATE"});
    CHECK(r.code == 2);
    CHECK(r.err == "persist: table vault has no column nothing\n");
    r = tool({"rotate-keys", "absent", "x", "--keys-env", "PERSIST_TEST_ROTATE"});
    CHECK(r.code == 2);
    CHECK(r.err == "persist: there is no table absent\n");
    ::setenv("PERSIST_TEST_ROTATE", ("3:" + std::string(64, 'c')).c_str(), 1);
    r = tool({"--json", "rotate-keys", "slots", "value", "--keys-env", "PERSIST_TEST_ROTATE"});
    CHECK(r.code == 1);
    const auto failed = nlohmann::json::parse(r.out);
    CHECK(failed["error"] == "decryption");
    CHECK(failed["message"].template get<std::string>().find("cannot decrypt column slots.value of the row (0, k): it was "
                                                    "encrypted with key id 2, which the keyring does not hold") == 0);
    ::unsetenv("PERSIST_TEST_ROTATE");
    r = tool({"rotate-keys", "slots", "value"});
    CHECK(r.code == 2);
    CHECK(r.err == "persist: the environment variable PERSIST_KEYS that should hold the encryption keys is not set; set "
                   "it to id:hex entries, e.g. PERSIST_KEYS=1:$(openssl rand -hex 32)\n");
}
