// Typed operations and schema verification, each case over SQLite and PostgreSQL
// (TEST_CASE_TEMPLATE; shared_suite.hpp).
#include "shared_suite.hpp"

using namespace persist;
using namespace persist::schema;
using namespace shared;

TEST_CASE_TEMPLATE("typed insert, get, update, remove, count and all", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    store.write([](auto& tx) {
        CHECK(insert<Users>(tx, user("a@x")) == 1);
        auto bee = user("b@x", -0.25);
        bee.name = "Bee";
        bee.level = Level::high;
        bee.active = false;
        CHECK(insert<Users>(tx, bee) == 2);
    });
    store.read([](auto& tx) {
        const auto bee = get<Users>(tx, 2);
        REQUIRE(bee.has_value());
        CHECK(bee->email == "b@x");
        CHECK(bee->name == "Bee");
        CHECK(bee->level == Level::high);
        CHECK(bee->score == -0.25);
        CHECK_FALSE(bee->active);
        CHECK(bee->avatar == Blob{std::byte{0}, std::byte{0xff}});
        CHECK_FALSE(get<Users>(tx, 99).has_value());
        CHECK(count<Users>(tx) == 2);
    });
    store.write([](auto& tx) {
        auto bee = *get<Users>(tx, 2);
        bee.name.reset();
        bee.score = 1e300;
        CHECK(update<Users>(tx, bee));
        CHECK(get<Users>(tx, 2)->name == std::nullopt);
        CHECK(get<Users>(tx, 2)->score == 1e300);
        CHECK_FALSE(update<Users>(tx, User{42, "z@x", std::nullopt, Level::low, 0, true, {}}));
        CHECK(remove<Users>(tx, 1));
        CHECK_FALSE(remove<Users>(tx, 1));
        const auto rows = all<Users>(tx);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].id == 2);
    });
}

TEST_CASE_TEMPLATE("read(single_statement, fn) runs one lookup; a second statement is refused", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    store.write([](auto& tx) { insert<Users>(tx, user("a@x")); });
    const auto found = store.read(single_statement, [](auto& tx) { return get<Users>(tx, 1); });
    REQUIRE(found.has_value());
    CHECK(found->email == "a@x");
    CHECK(store.read(single_statement, [](auto& tx) { return tx.query_one(as<std::string>, "SELECT email FROM users"); }) ==
          "a@x");
    int calls = 0;
    CHECK(test::message_of<usage_error>([&] {
              store.read(single_statement, [&](auto& tx) {
                  ++calls;
                  tx.query_one(as<std::int64_t>, "SELECT count(*) FROM users");
                  return tx.query_one(as<std::int64_t>, "SELECT max(id) FROM users");
              });
          }) == "store.read(persist::single_statement, fn) runs one statement, and fn ran a second [SELECT max(id) FROM "
                "users]; use store.read(fn) for several statements in one snapshot");
    CHECK(calls == 1); // a usage error is not retried
    // The store goes on: the next read of either kind works.
    CHECK(store.read([](auto& tx) { return count<Users>(tx); }) == 1);
    CHECK(store.read(single_statement, [](auto& tx) { return count<Users>(tx); }) == 1);
    if constexpr (std::is_same_v<typename Fixture::backend, sqlite::Backend>) {
        // On SQLite no transaction is open around the statement (SQLite's autocommit); read()
        // opens one.
        CHECK(store.read(single_statement, [](auto& tx) { return sqlite3_get_autocommit(tx.connection().handle()); }) != 0);
        CHECK(store.read([](auto& tx) { return sqlite3_get_autocommit(tx.connection().handle()); }) == 0);
    }
}

TEST_CASE_TEMPLATE("a statement run through a transaction cannot commit, roll back or split it", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    for (std::string control : {"COMMIT", "end transaction", "ROLLBACK", "SAVEPOINT s", "RELEASE s", "BEGIN", "/* x */ commit"}) {
        INFO(control);
        CHECK(test::message_of<usage_error>([&] {
                  store.write([&](auto& tx) {
                      insert<Users>(tx, user("a@x"));
                      tx.execute(control);
                  });
              }) == "[" + control + "] controls the transaction, which persist owns: return from the function to commit, "
                                    "throw to roll back, and use tx.savepoint(fn) for a savepoint");
        CHECK_THROWS_WITH_AS(store.read([&](auto& tx) { tx.query(as<std::int64_t>, control); }),
                             doctest::Contains("controls the transaction, which persist owns"), usage_error);
    }
    // No refused statement made the insert before it durable: every write rolled back.
    CHECK(store.read([](auto& tx) { return count<Users>(tx); }) == 0);
}

TEST_CASE_TEMPLATE("persist::as<T> names the row type without the template keyword", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema_with_two_users<Fixture>(store);
    store.read([](auto& tx) {
        CHECK(tx.query(as<std::int64_t>, "SELECT id FROM users ORDER BY id") == std::vector<std::int64_t>{1, 2});
        const auto first = tx.query_one(as<std::tuple<std::int64_t, std::string>>, "SELECT id, email FROM users ORDER BY id");
        REQUIRE(first.has_value());
        CHECK(std::get<1>(*first) == "a@x");
        CHECK_FALSE(tx.query_one(as<std::int64_t>, "SELECT id FROM users WHERE id > 5").has_value());
        std::vector<std::string> emails;
        tx.for_each(as<std::string>, "SELECT email FROM users ORDER BY id", [&](std::string email) { emails.push_back(email); });
        CHECK(emails == std::vector<std::string>{"a@x", "b@x"});
    });
}

TEST_CASE_TEMPLATE("typed reads of every row, ordered and paged, need no predicate", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    store.write([](auto& tx) {
        for (const char* email : {"a@x", "b@x", "c@x"}) insert<Users>(tx, user(email));
    });
    store.read([](auto& tx) {
        const auto newest = select<Users>(tx, order_by(col<&User::id>.desc()), Page{.limit = 2});
        REQUIRE(newest.size() == 2);
        CHECK(newest[0].id == 3);
        CHECK(newest[1].id == 2);
        const auto second = select<Users>(tx, Page{.limit = 1, .offset = 1});
        REQUIRE(second.size() == 1);
        CHECK(second[0].email == "b@x");
        CHECK(select<Users>(tx, order_by(col<&User::email>.asc())).size() == 3);
        // A predicate and a page without an ordering: primary key order.
        const auto after_first = select<Users>(tx, col<&User::id> > std::int64_t{1}, Page{.limit = 1});
        REQUIRE(after_first.size() == 1);
        CHECK(after_first[0].email == "b@x");
    });
}

TEST_CASE_TEMPLATE("typed set-updates with a predicate: rows changed, RETURNING rows, claim the next one", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    store.write([](auto& tx) {
        for (const char* email : {"a@x", "b@x", "c@x", "d@x"}) insert<Users>(tx, user(email));
        CHECK(update<Users>(tx, set(col<&User::score>.to(9), col<&User::level>.to(Level::high)), col<&User::id> >= 3) == 2);
        CHECK(update<Users>(tx, set(col<&User::name>.to("nobody")), col<&User::id> > 100) == 0);
        CHECK(get<Users>(tx, 3)->score == 9);
        CHECK(get<Users>(tx, 4)->level == Level::high);
        CHECK(get<Users>(tx, 2)->score == 1.5);
    });
    // "Claim the next one" in one statement: the lowest id without a name.
    auto claim = [&](const std::string& who) {
        return store.write([&](auto& tx) {
            return update_returning<Users>(tx, set(col<&User::name>.to(who)), col<&User::name>.is_null(),
                                           order_by(col<&User::id>.asc()), Page{.limit = 1});
        });
    };
    const auto first = claim("first");
    REQUIRE(first.size() == 1);
    CHECK(first[0].id == 1);
    CHECK(first[0].name == "first");
    CHECK(claim("second").at(0).id == 2);
    store.write([](auto& tx) {
        CHECK(update<Users>(tx, set(col<&User::name>.to_null()), col<&User::id> == 1) == 1);
        CHECK_FALSE(get<Users>(tx, 1)->name.has_value());
    });
    CHECK(claim("again").at(0).id == 1);
    CHECK(claim("third").at(0).id == 3);
    CHECK(claim("fourth").at(0).id == 4);
    CHECK(claim("none").empty());
}

TEST_CASE_TEMPLATE("set-updates, remove and restore move updated_at; soft-deleted rows are not updated", Fixture,
                   BOTH_BACKENDS) {
    using D = typename Fixture::backend::dialect;
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    const Time long_ago = std::chrono::sys_days{std::chrono::year{2001} / 1 / 1};
    boost::uuids::uuid id{};
    const auto age = [&](auto& tx) { tx.execute("UPDATE documents SET updated_at = " + D::placeholder(1), long_ago); };
    const auto updated_at = [&](auto& tx) {
        return select<Documents>(tx, all_rows(), {}, {}, Deleted::include).at(0).updated_at;
    };
    store.write([&](auto& tx) {
        insert<Users>(tx, user("owner@x"));
        id = insert<Documents>(tx, Document{{}, 1, Json{"{}"}, {}, {}, std::nullopt});
        age(tx);
        CHECK(update<Documents>(tx, set(col<&Document::body>.to(Json{"[1]"})), col<&Document::owner> == 1) == 1);
        CHECK(updated_at(tx) > long_ago);
        age(tx);
        CHECK(remove<Documents>(tx, id));
        CHECK(updated_at(tx) > long_ago);
        CHECK(update<Documents>(tx, set(col<&Document::body>.to(Json{"[2]"})), all_rows()) == 0); // soft-deleted
        age(tx);
        CHECK(restore<Documents>(tx, id));
        CHECK(updated_at(tx) > long_ago);
        CHECK(get<Documents>(tx, id)->body == Json{"[1]"});
    });
}

TEST_CASE_TEMPLATE("a constraint violation is constraint_error naming the constraint, and changes nothing", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    store.write([](auto& tx) { insert<Users>(tx, user("a@x")); });
    auto duplicate = [&] {
        store.write([](auto& tx) {
            insert<Users>(tx, user("c@x"));
            insert<Users>(tx, user("a@x"));
        });
    };
    CHECK_THROWS_AS(duplicate(), constraint_error);
    try {
        duplicate();
    } catch (const constraint_error& e) {
        CHECK(std::string(e.what()).find("email") != std::string::npos);
    }
    auto bad_level = [&] {
        store.write([](auto& tx) {
            auto u = user("d@x");
            u.level = static_cast<Level>(7);
            insert<Users>(tx, u);
        });
    };
    CHECK_THROWS_AS(bad_level(), constraint_error);
    CHECK(store.read([](auto& tx) { return count<Users>(tx); }) == 1);
}

TEST_CASE_TEMPLATE("a statement error caught inside a savepoint is undone alone, the same on both backends", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    store.write([](auto& tx) { insert<Users>(tx, user("a@x")); });
    const bool conflicted = store.write([](auto& tx) {
        insert<Users>(tx, user("b@x"));
        try {
            tx.savepoint([&] {
                insert<Users>(tx, user("c@x"));
                insert<Users>(tx, user("a@x")); // conflicts: c@x goes back with it
            });
        } catch (const constraint_error&) {
            return true;
        }
        return false;
    });
    CHECK(conflicted);
    const auto emails =
        store.read([](auto& tx) { return tx.template query<std::string>("SELECT email FROM users ORDER BY email"); });
    CHECK(emails == std::vector<std::string>{"a@x", "b@x"});
    // Savepoints nest, and one that succeeds keeps its work.
    store.write([](auto& tx) {
        tx.savepoint([&] { tx.savepoint([&] { insert<Users>(tx, user("d@x")); }); });
    });
    CHECK(store.read([](auto& tx) { return count<Users>(tx); }) == 3);
}

TEST_CASE_TEMPLATE("a statement error caught without a savepoint is never acknowledged as committed", Fixture,
                   BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    store.write([](auto& tx) { insert<Users>(tx, user("a@x")); });
    auto catch_and_continue = [&] {
        store.write([](auto& tx) {
            insert<Users>(tx, user("b@x"));
            try {
                insert<Users>(tx, user("a@x"));
            } catch (const constraint_error&) {
                // expected to conflict; carry on
            }
        });
    };
    if constexpr (std::string_view(Fixture::name) == "postgres") {
        // The server aborted the transaction at the conflict, and its COMMIT answers ROLLBACK:
        // persist used to report success while nothing was committed.
        try {
            catch_and_continue();
            FAIL("a transaction PostgreSQL aborted was reported as committed");
        } catch (const transaction_aborted& e) {
            CHECK(e.code() == errc::aborted);
            CHECK_FALSE(e.retriable());
            const std::string message = e.what();
            CHECK(message.find("PostgreSQL aborted it at its first failed statement [INSERT INTO") != std::string::npos);
            CHECK(message.find("users_email_key") != std::string::npos);
            CHECK(message.find("tx.savepoint") != std::string::npos);
        }
        CHECK(store.read([](auto& tx) { return count<Users>(tx); }) == 1);
    } else {
        // SQLite undoes the failed statement alone; the rest commits (the difference
        // savepoint() hides).
        catch_and_continue();
        CHECK(store.read([](auto& tx) { return count<Users>(tx); }) == 2);
    }
}

TEST_CASE_TEMPLATE("select with typed predicates, ordering and paging", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    store.write([](auto& tx) {
        insert<Users>(tx, user("a@x", 3));
        auto b = user("b@x", 2);
        b.name = "Bee";
        insert<Users>(tx, b);
        auto c = user("c@y", 1);
        c.name = "Cee";
        c.level = Level::high;
        insert<Users>(tx, c);
    });
    store.read([](auto& tx) {
        auto emails = [](const std::vector<User>& rows) {
            std::vector<std::string> out;
            for (const auto& row : rows) out.push_back(row.email);
            return out;
        };
        using V = std::vector<std::string>;
        CHECK(emails(select<Users>(tx, col<&User::email> == "b@x")) == V{"b@x"});
        CHECK(emails(select<Users>(tx, col<&User::level> == Level::high)) == V{"c@y"});
        CHECK(emails(select<Users>(tx, col<&User::name>.is_null())) == V{"a@x"});
        CHECK(emails(select<Users>(tx, col<&User::name>.is_not_null() && col<&User::id> > 2)) == V{"c@y"});
        CHECK(emails(select<Users>(tx, col<&User::email>.like("%@x") || col<&User::id> == 3)) == V{"a@x", "b@x", "c@y"});
        CHECK(emails(select<Users>(tx, col<&User::id>.in(std::vector<int>{1, 3}))) == V{"a@x", "c@y"});
        CHECK(select<Users>(tx, col<&User::id>.in(std::vector<int>{})).empty());
        CHECK(emails(select<Users>(tx, all_rows(), order_by(col<&User::score>.asc()))) == V{"c@y", "b@x", "a@x"});
        CHECK(emails(select<Users>(tx, all_rows(), order_by(col<&User::id>.desc()), Page{2, 1})) == V{"b@x", "a@x"});
        CHECK(count<Users>(tx, col<&User::level> != Level::low) == 1);
    });
}

TEST_CASE_TEMPLATE("UUID keys, JSON, timestamps, soft delete and upsert", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    const auto before = std::chrono::system_clock::now();
    const auto id = store.write([](auto& tx) {
        insert<Users>(tx, user("owner@x"));
        return insert<Documents>(tx, Document{{}, 1, Json{R"({"title":"notes","tags":["a"]})"}, {}, {}, std::nullopt});
    });
    CHECK_FALSE(id.is_nil());
    store.read([&](auto& tx) {
        const auto document = get<Documents>(tx, id);
        REQUIRE(document.has_value());
        CHECK(document->id == id);
        CHECK(document->body.text.find("\"title\"") != std::string::npos);
        CHECK(document->created_at >= std::chrono::time_point_cast<std::chrono::microseconds>(before));
        CHECK(document->created_at == document->updated_at);
        CHECK_FALSE(document->deleted_at.has_value());
    });
    store.write([&](auto& tx) {
        auto document = *get<Documents>(tx, id);
        document.body = Json{R"({"title":"renamed"})"};
        upsert<Documents>(tx, document);
        const auto after = *get<Documents>(tx, id);
        CHECK(after.body.text.find("renamed") != std::string::npos);
        CHECK(after.created_at == document.created_at);
        CHECK(after.updated_at >= document.updated_at);
        CHECK(remove<Documents>(tx, id));
        CHECK_FALSE(get<Documents>(tx, id).has_value());
        CHECK(select<Documents>(tx, all_rows(), {}, {}, Deleted::only).size() == 1);
        CHECK(restore<Documents>(tx, id));
        CHECK(count<Documents>(tx) == 1);
        CHECK(purge<Documents>(tx, id));
        CHECK(count<Documents>(tx, all_rows(), Deleted::include) == 0);
    });
}

TEST_CASE_TEMPLATE("query_as maps result columns by name; an unknown one is schema_error", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    using D = typename Fixture::backend::dialect;
    store.write([](auto& tx) { insert<Users>(tx, user("a@x", 4)); });
    store.read([](auto& tx) {
        const auto rows = query_as<Users>(tx, "SELECT email, score FROM users WHERE id = " + D::placeholder(1), 1);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].email == "a@x");
        CHECK(rows[0].score == 4);
        CHECK(rows[0].id == 0);
        try {
            query_as<Users>(tx, "SELECT email AS mail FROM users");
            FAIL("expected schema_error");
        } catch (const schema_error& e) {
            CHECK(std::string(e.what()).find("result column \"mail\"") != std::string::npos);
        }
    });
}

TEST_CASE_TEMPLATE("verify: a matching database, then every kind of difference", Fixture, BOTH_BACKENDS) {
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    create_schema<Fixture>(store);
    CHECK(store.read([](auto& tx) { return verify<AppSchema>(tx); }).empty());
    CHECK_NOTHROW(require<AppSchema>(store));
    store.write([](auto& tx) {
        tx.execute_script("ALTER TABLE users ADD COLUMN extra TEXT");
        tx.execute_script("DROP INDEX documents_by_owner");
        tx.execute_script("CREATE INDEX users_by_email ON users (email)");
    });
    const auto differences = store.read([](auto& tx) { return verify<AppSchema>(tx); });
    REQUIRE(differences.size() == 3);
    CHECK(differences[0] == "column users.extra is in the database but not described");
    CHECK(differences[1] == "index users_by_email (email) on users is in the database but not described");
    CHECK(differences[2] == "index documents_by_owner (owner) on documents is missing or differs");
    try {
        require<AppSchema>(store);
        FAIL("expected schema_error");
    } catch (const schema_error& e) {
        CHECK(std::string(e.what()).find("does not match the schema (3 difference(s))") != std::string::npos);
    }
}

TEST_CASE_TEMPLATE("a partial index and a CHECK constraint are enforced by the database", Fixture, BOTH_BACKENDS) {
    using D = typename Fixture::backend::dialect;
    using Partial = Table<"slots", Column<&User::id, "id", primary_key>, Column<&User::email, "holder">,
                          Column<&User::active, "active">, Index<"one_active_holder", on<&User::email>, unique_index, where<"active">>>;
    Fixture fixture;
    StoreOf<Fixture> store(fixture.config());
    store.write([](auto& tx) {
        tx.execute_script(create_table<Partial, D>());
        tx.execute_script(render_create_index<D>("slots", Partial::index_infos[0]));
        insert<Partial>(tx, User{1, "h", {}, {}, 0, false, {}});
        insert<Partial>(tx, User{2, "h", {}, {}, 0, false, {}}); // inactive rows may share a holder
        insert<Partial>(tx, User{3, "h", {}, {}, 0, true, {}});
    });
    CHECK_THROWS_AS(store.write([](auto& tx) { insert<Partial>(tx, User{4, "h", {}, {}, 0, true, {}}); }), constraint_error);
    CHECK(store.read([](auto& tx) { return count<Partial>(tx); }) == 3);
}
