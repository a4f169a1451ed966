// Schema descriptors: DDL rendering without a database, and typed operations.
#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/schema.hpp>
#include <persist/schema/uuid.hpp>
#include <persist/sqlite.hpp>

#include "no_getrandom.hpp"
#include "support.hpp"

using namespace persist;
using namespace persist::schema;

namespace {
enum class Level { low = 1, high = 2 };
struct User {
    std::int64_t id;
    std::string email;
    std::optional<std::string> name;
    Level level;
};
using Users = Table<"users", Column<&User::id, "id", primary_key, autoincrement>,
                    Column<&User::email, "email", unique, collate<"NOCASE">>, Column<&User::name, "name">,
                    Column<&User::level, "level", default_value<"1">, check<"level IN (1, 2)">>>;

struct Membership {
    std::int64_t user;
    std::int64_t team;
    std::string role;
};
using Memberships = Table<"memberships", Column<&Membership::user, "user", primary_key>,
                          Column<&Membership::team, "team", primary_key>, Column<&Membership::role, "role">>;

SqliteStore memory_store() {
    Config config;
    config.db_path = ":memory:";
    return SqliteStore(config);
}
} // namespace

TEST_CASE("DDL is rendered from the descriptor") {
    CHECK(create_table<Users, sqlite::Dialect>() ==
          "CREATE TABLE IF NOT EXISTS \"users\" (\"id\" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, \"email\" TEXT NOT NULL "
          "UNIQUE COLLATE NOCASE, \"name\" TEXT, \"level\" INTEGER NOT NULL DEFAULT (1) CHECK (level IN (1, 2)))");
    CHECK(create_table<Memberships, sqlite::Dialect>() ==
          "CREATE TABLE IF NOT EXISTS \"memberships\" (\"user\" INTEGER NOT NULL, \"team\" INTEGER NOT NULL, \"role\" TEXT "
          "NOT NULL, PRIMARY KEY (\"user\", \"team\"))");
}

TEST_CASE("typed insert, get, update, remove, count and all") {
    auto store = memory_store();
    store.write([](auto& tx) {
        tx.execute(create_table<Users, sqlite::Dialect>());
        CHECK(insert<Users>(tx, User{0, "a@x", std::nullopt, Level::high}) == 1);
        CHECK(insert<Users>(tx, User{0, "b@x", "Bee", Level::low}) == 2);
        const auto bee = get<Users>(tx, 2);
        REQUIRE(bee.has_value());
        CHECK(bee->email == "b@x");
        CHECK(bee->name == "Bee");
        CHECK(bee->level == Level::low);
        CHECK_FALSE(get<Users>(tx, 99).has_value());
        auto changed = *bee;
        changed.name.reset();
        changed.level = Level::high;
        CHECK(update<Users>(tx, changed));
        CHECK(get<Users>(tx, 2)->name == std::nullopt);
        CHECK(get<Users>(tx, 2)->level == Level::high);
        CHECK_FALSE(update<Users>(tx, User{42, "z@x", std::nullopt, Level::low}));
        CHECK(count<Users>(tx) == 2);
        CHECK(remove<Users>(tx, 1));
        CHECK_FALSE(remove<Users>(tx, 1));
        const auto rows = all<Users>(tx);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].id == 2);
    });
}

TEST_CASE("composite keys and constraint errors through typed operations") {
    auto store = memory_store();
    store.write([](auto& tx) {
        tx.execute(create_table<Memberships, sqlite::Dialect>());
        tx.execute(create_table<Users, sqlite::Dialect>());
        insert<Memberships>(tx, Membership{1, 7, "owner"});
        CHECK(get<Memberships>(tx, 1, 7)->role == "owner");
        CHECK_FALSE(get<Memberships>(tx, 7, 1).has_value());
        CHECK(update<Memberships>(tx, Membership{1, 7, "member"}));
        CHECK(get<Memberships>(tx, 1, 7)->role == "member");
        insert<Users>(tx, User{0, "a@x", std::nullopt, Level::low});
    });
    try {
        store.write([](auto& tx) { insert<Users>(tx, User{0, "A@X", std::nullopt, Level::low}); }); // NOCASE duplicate
        FAIL("no constraint_error");
    } catch (const constraint_error& e) {
        CHECK(e.constraint() == "users.email");
    }
    try {
        store.write([](auto& tx) { insert<Memberships>(tx, Membership{1, 7, "again"}); });
        FAIL("no constraint_error");
    } catch (const constraint_error& e) {
        CHECK(e.constraint() == "memberships.user, memberships.team");
    }
}

namespace {
struct Team {
    std::int64_t id;
    std::string name;
};
struct Member {
    std::int64_t id;
    std::string email;
    std::optional<std::int64_t> team;
};
using Teams = Table<"teams", Column<&Team::id, "id", primary_key>, Column<&Team::name, "name">>;
using Members = Table<"members", Column<&Member::id, "id", primary_key>, Column<&Member::email, "email">,
                      Column<&Member::team, "team", references<&Team::id, Action::cascade>>,
                      Index<"members_email", on<&Member::email>, unique_index, where<"email <> ''">>,
                      Index<"members_team", on<&Member::team, &Member::email>>>;
using TeamSchema = Schema<Teams, Members>;
} // namespace

TEST_CASE("a schema renders tables with foreign keys, then indexes") {
    CHECK(TeamSchema::create_statements<sqlite::Dialect>() ==
          std::vector<std::string>{
              "CREATE TABLE IF NOT EXISTS \"teams\" (\"id\" INTEGER NOT NULL PRIMARY KEY, \"name\" TEXT NOT NULL)",
              "CREATE TABLE IF NOT EXISTS \"members\" (\"id\" INTEGER NOT NULL PRIMARY KEY, \"email\" TEXT NOT NULL, "
              "\"team\" INTEGER, FOREIGN KEY (\"team\") REFERENCES \"teams\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)",
              "CREATE UNIQUE INDEX IF NOT EXISTS \"members_email\" ON \"members\" (\"email\") WHERE email <> ''",
              "CREATE INDEX IF NOT EXISTS \"members_team\" ON \"members\" (\"team\", \"email\")"});
}

TEST_CASE("the rendered schema runs: foreign keys and unique indexes are enforced") {
    auto store = memory_store();
    store.write([](auto& tx) {
        tx.execute_script(TeamSchema::create_script<sqlite::Dialect>());
        insert<Teams>(tx, Team{1, "core"});
        insert<Members>(tx, Member{1, "a@x", 1});
        insert<Members>(tx, Member{2, "b@x", std::nullopt});
    });
    CHECK_THROWS_AS(store.write([](auto& tx) { insert<Members>(tx, Member{3, "c@x", 99}); }), constraint_error);
    CHECK_THROWS_AS(store.write([](auto& tx) { insert<Members>(tx, Member{3, "a@x", std::nullopt}); }), constraint_error);
    store.write([](auto& tx) { CHECK(remove<Teams>(tx, 1)); });
    CHECK(store.read([](auto& tx) { return count<Members>(tx); }) == 1); // cascaded
}

TEST_CASE("select with typed predicates, ordering and paging") {
    auto store = memory_store();
    store.write([](auto& tx) {
        tx.execute(create_table<Users, sqlite::Dialect>());
        insert<Users>(tx, User{0, "a@x", std::nullopt, Level::high});
        insert<Users>(tx, User{0, "b@x", "Bee", Level::low});
        insert<Users>(tx, User{0, "c@y", "Cee", Level::high});
    });
    store.read([](auto& tx) {
        auto emails = [](const std::vector<User>& rows) {
            std::vector<std::string> result;
            for (const auto& row : rows) result.push_back(row.email);
            return result;
        };
        using V = std::vector<std::string>;
        CHECK(emails(select<Users>(tx, col<&User::email> == "b@x")) == V{"b@x"});
        CHECK(emails(select<Users>(tx, col<&User::level> == Level::high)) == V{"a@x", "c@y"});
        CHECK(emails(select<Users>(tx, col<&User::name>.is_null())) == V{"a@x"});
        CHECK(emails(select<Users>(tx, col<&User::name>.is_not_null() && col<&User::id> > 2)) == V{"c@y"});
        CHECK(emails(select<Users>(tx, col<&User::email>.like("%@x") || col<&User::id> == 3)) == V{"a@x", "b@x", "c@y"});
        CHECK(emails(select<Users>(tx, col<&User::id>.in(std::vector<int>{1, 3}))) == V{"a@x", "c@y"});
        CHECK(select<Users>(tx, col<&User::id>.in(std::vector<int>{})).empty());
        CHECK(emails(select<Users>(tx, all_rows(), order_by(col<&User::email>.desc()))) == V{"c@y", "b@x", "a@x"});
        CHECK(emails(select<Users>(tx, all_rows(), order_by(col<&User::id>.asc()), Page{2, 1})) == V{"b@x", "c@y"});
        CHECK(count<Users>(tx, col<&User::level> != Level::low) == 2);
        CHECK(count<Users>(tx, col<&User::email> == std::string("nobody")) == 0);
    });
}

TEST_CASE("Many binds a run-time list to consecutive parameters") {
    auto store = memory_store();
    const auto total = store.read([](auto& tx) {
        return tx.template query_one<std::int64_t>("SELECT ? + ? + ? + ?", 1, Many<int>{{2, 3}}, 4);
    });
    CHECK(total == 10);
}

TEST_CASE("upsert inserts or updates by primary key; raw SQL maps onto the struct by name") {
    auto store = memory_store();
    store.write([](auto& tx) {
        tx.execute(create_table<Memberships, sqlite::Dialect>());
        upsert<Memberships>(tx, Membership{1, 2, "member"});
        upsert<Memberships>(tx, Membership{1, 2, "owner"});
        upsert<Memberships>(tx, Membership{3, 2, "member"});
        CHECK(count<Memberships>(tx) == 2);
        CHECK(get<Memberships>(tx, 1, 2)->role == "owner");
        const auto rows = query_as<Memberships>(tx, "SELECT role, team AS team FROM memberships WHERE user = ?", 3);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].role == "member");
        CHECK(rows[0].team == 2);
        CHECK(rows[0].user == 0); // not selected: default
        CHECK_THROWS_WITH_AS(query_as<Memberships>(tx, "SELECT role, 1 AS extra FROM memberships"),
                             "result column \"extra\" of [SELECT role, 1 AS extra FROM memberships] is not a column of "
                             "table memberships; rename it with AS to one of its columns or leave it out",
                             schema_error);
    });
}

TEST_CASE("verify lists every difference between the descriptors and the database") {
    auto store = memory_store();
    store.write([](auto& tx) { tx.execute_script(TeamSchema::create_script<sqlite::Dialect>()); });
    CHECK(store.read([](auto& tx) { return verify<TeamSchema>(tx); }).empty());
    require<TeamSchema>(store); // no drift: nothing thrown

    store.write([](auto& tx) {
        tx.execute_script("DROP INDEX members_team;"
                          "CREATE INDEX members_extra ON members (team);"
                          "DROP TABLE members;"
                          "CREATE TABLE members (id INTEGER PRIMARY KEY, email INTEGER, nickname TEXT);"
                          "CREATE UNIQUE INDEX members_email ON members (email) WHERE email <> '';");
    });
    const auto differences = store.read([](auto& tx) { return verify<TeamSchema>(tx); });
    CHECK(differences == std::vector<std::string>{
                             "column members.id is nullable, expected NOT NULL",
                             "column members.email has type INTEGER, expected TEXT",
                             "column members.email is nullable, expected NOT NULL",
                             "column members.team is missing",
                             "column members.nickname is in the database but not described",
                             "foreign key members.team -> teams.id ON DELETE CASCADE ON UPDATE NO ACTION is missing",
                             "index members_team (team,email) on members is missing or differs"});
    try {
        require<TeamSchema>(store);
        FAIL("no schema_error");
    } catch (const schema_error& e) {
        CHECK(std::string(e.what()).starts_with("database :memory: does not match the schema (7 difference(s)):\n"
                                                "  column members.id is nullable, expected NOT NULL\n"));
        CHECK(std::string(e.what()).ends_with("\nMigrate the database, or fix the descriptors"));
    }
    store.write([](auto& tx) { tx.execute("DROP TABLE teams"); });
    CHECK(store.read([](auto& tx) { return verify<TeamSchema>(tx); }).front() == "table teams is missing");
}

namespace {
struct Note {
    boost::uuids::uuid id;
    std::string text;
    std::chrono::system_clock::time_point created_at;
    std::chrono::system_clock::time_point updated_at;
    std::optional<std::chrono::system_clock::time_point> deleted_at;
};
using Notes = Table<"notes", Column<&Note::id, "id", primary_key, generated>, Column<&Note::text, "text">,
                    Column<&Note::created_at, "created_at">, Column<&Note::updated_at, "updated_at">,
                    Column<&Note::deleted_at, "deleted_at">, timestamps<&Note::created_at, &Note::updated_at>,
                    soft_delete<&Note::deleted_at>>;
} // namespace

TEST_CASE("mixins: generated UUID keys, maintained timestamps, soft delete") {
    auto store = memory_store();
    store.write([](auto& tx) {
        tx.execute(create_table<Notes, sqlite::Dialect>());
        const auto before = std::chrono::system_clock::now();
        const boost::uuids::uuid id = insert<Notes>(tx, Note{{}, "first", {}, {}, std::nullopt});
        CHECK_FALSE(id.is_nil());
        auto note = get<Notes>(tx, id);
        REQUIRE(note.has_value());
        CHECK(note->created_at >= std::chrono::time_point_cast<std::chrono::microseconds>(before));
        CHECK(note->updated_at == note->created_at);

        note->text = "edited";
        CHECK(update<Notes>(tx, *note));
        const auto edited = get<Notes>(tx, id);
        CHECK(edited->text == "edited");
        CHECK(edited->created_at == note->created_at);
        CHECK(edited->updated_at >= note->updated_at);

        upsert<Notes>(tx, Note{id, "upserted", {}, {}, std::nullopt});
        CHECK(get<Notes>(tx, id)->created_at == note->created_at); // kept on conflict

        const boost::uuids::uuid second = insert<Notes>(tx, Note{{}, "second", {}, {}, std::nullopt});
        CHECK(second != id);
        CHECK(remove<Notes>(tx, id));
        CHECK_FALSE(remove<Notes>(tx, id)); // already removed
        CHECK_FALSE(get<Notes>(tx, id).has_value());
        CHECK(count<Notes>(tx) == 1);
        CHECK(all<Notes>(tx).size() == 1);
        CHECK(select<Notes>(tx, all_rows()).size() == 1);
        CHECK(select<Notes>(tx, all_rows(), {}, {}, Deleted::only).front().text == "upserted");
        CHECK(count<Notes>(tx, all_rows(), Deleted::include) == 2);
        CHECK(tx.template query_one<std::int64_t>("SELECT count(*) FROM notes WHERE deleted_at IS NOT NULL") == 1);
        CHECK(restore<Notes>(tx, id));
        CHECK(count<Notes>(tx) == 2);
        CHECK(purge<Notes>(tx, id));
        CHECK(count<Notes>(tx, all_rows(), Deleted::include) == 1);
    });
}

TEST_CASE("a null const char* as a value in a predicate or an assignment is usage_error, not a crash") {
    const char* unset = nullptr;
    const std::string message = "a column was compared with (or set to) a null const char*; for NULL write "
                                "col<...>.is_null() or col<...>.to_null(), otherwise pass the text";
    CHECK(test::message_of<usage_error>([&] { (void)(col<&Note::text> == unset); }) == message);
    CHECK(test::message_of<usage_error>([&] { (void)col<&Note::text>.to(unset); }) == message);
    CHECK(test::message_of<usage_error>([&] { (void)col<&Note::text>.in(std::vector<const char*>{unset}); }) == message);
}

TEST_CASE("random_uuid: a kernel random generator that fails is an io_error saying so") {
    const auto result = test::run_in_child(
        [] {
            test::deny_getrandom();
            persist::schema::random_uuid();
        },
        false);
    CHECK(result == "io_error: cannot make a random UUID: the kernel's random generator failed (getrandom: "
                    "Input/output error)");
}

TEST_CASE("UUID columns: the canonical text both ways, version 4 keys, and a typed error for other text") {
    const auto id = persist::schema::random_uuid();
    CHECK(id.version() == boost::uuids::uuid::version_random_number_based);
    CHECK(id.variant() == boost::uuids::uuid::variant_rfc_4122);
    CHECK(persist::schema::random_uuid() != id);
    const std::string text = persist::schema::uuid_text(id);
    CHECK(text.size() == 36);
    CHECK(persist::schema::parse_uuid(text) == id);

    boost::uuids::uuid known{};
    for (std::size_t i = 0; i < 16; ++i) known.data[i] = static_cast<std::uint8_t>(i * 17);
    CHECK(persist::schema::uuid_text(known) == "00112233-4455-6677-8899-aabbccddeeff");
    CHECK(persist::schema::parse_uuid("00112233-4455-6677-8899-AABBCCDDEEFF") == known);

    for (const std::string bad : {"", "00112233-4455-6677-8899-aabbccddeef", "00112233-4455-6677-8899-aabbccddeeffa",
                                  "00112233+4455-6677-8899-aabbccddeeff", "0011223-34455-6677-8899-aabbccddeeff",
                                  "00112233-4455-6677-8899-aabbccddeefg", "{0112233-4455-6677-8899-aabbccddeef}",
                                  "0011223344556677-8899-aabbccddeeff--"})
        CHECK(test::message_of<schema_error>([&] { persist::schema::parse_uuid(bad); }) ==
              "cannot read \"" + bad + "\" as a UUID; expected the 36-character form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");

    // Text another program wrote into a UUID column reads as that error, and changes nothing.
    auto store = memory_store();
    store.write([](auto& tx) {
        tx.execute(create_table<Notes, sqlite::Dialect>());
        tx.execute("INSERT INTO notes (id, text, created_at, updated_at) VALUES ('not-a-uuid', 'planted', 0, 0)");
    });
    CHECK(test::message_of<schema_error>([&] { store.read([](auto& tx) { return all<Notes>(tx); }); })
              .starts_with("cannot read \"not-a-uuid\" as a UUID"));
    CHECK(store.read([](auto& tx) { return tx.template query_one<std::string>("SELECT id FROM notes"); }) == "not-a-uuid");
}

TEST_CASE("the initial migration is the schema's DDL, and migrate() applies it once") {
    auto store = memory_store();
    const InitialMigration<TeamSchema, sqlite::Dialect> initial;
    const auto list = initial.migrations();
    REQUIRE(list.size() == 1);
    CHECK(list[0].up == TeamSchema::create_script<sqlite::Dialect>());
    CHECK(list[0].checksum == migrate::checksum(list[0].up).str());
    CHECK(store.migrate(initial).applied == std::vector<std::int64_t>{1});
    CHECK(store.migrate(initial).applied.empty());
    CHECK(store.read([](auto& tx) { return verify<TeamSchema>(tx); }).empty());
}

namespace {
// A user type with its own column_type specialisation: stored as text.
struct Email {
    std::string address;
    bool operator==(const Email&) const = default;
};
struct Contact {
    std::int64_t id;
    Email email;
};
} // namespace

template <>
struct persist::schema::column_type<Email> {
    using stored = std::string;
    static constexpr persist::ColumnType sql_type = persist::ColumnType::text;
    static std::string to_stored(const Email& value) { return value.address; }
    static Email from_stored(std::string text) { return Email{std::move(text)}; }
};

namespace {
using Contacts = Table<"contacts", Column<&Contact::id, "id", primary_key>, Column<&Contact::email, "email", unique>>;
} // namespace

TEST_CASE("user types plug in through column_type") {
    auto store = memory_store();
    store.write([](auto& tx) {
        tx.execute(create_table<Contacts, sqlite::Dialect>());
        insert<Contacts>(tx, Contact{1, Email{"ada@example.com"}});
        CHECK(get<Contacts>(tx, 1)->email == Email{"ada@example.com"});
        CHECK(select<Contacts>(tx, col<&Contact::email> == Email{"ada@example.com"}).size() == 1);
        CHECK(tx.template query_one<std::string>("SELECT typeof(email) FROM contacts") == "text");
    });
}
