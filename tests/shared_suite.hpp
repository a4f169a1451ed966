// The schema and helpers of the suites both backends share (test_shared*.cpp): each case runs
// over SQLite and PostgreSQL with TEST_CASE_TEMPLATE over BOTH_BACKENDS.
#pragma once

#include "backends.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/schema.hpp>
#include <persist/schema/json.hpp>
#include <persist/schema/uuid.hpp>

#include <string>

namespace shared {
using namespace persist;
using namespace persist::schema;

enum class Level { low = 1, high = 2 };

struct User {
    std::int64_t id;
    std::string email;
    std::optional<std::string> name;
    Level level;
    double score;
    bool active;
    Blob avatar;
};
using Users = Table<"users", Column<&User::id, "id", primary_key, autoincrement>, Column<&User::email, "email", unique>,
                    Column<&User::name, "name">, Column<&User::level, "level", default_value<"1">, check<"level IN (1, 2)">>,
                    Column<&User::score, "score">, Column<&User::active, "active">, Column<&User::avatar, "avatar">,
                    Index<"users_by_score", on<&User::score>, where<"active">>>;

using Time = std::chrono::system_clock::time_point;
struct Document {
    boost::uuids::uuid id;
    std::int64_t owner;
    Json body;
    Time created_at;
    Time updated_at;
    std::optional<Time> deleted_at;
};
using Documents = Table<"documents", Column<&Document::id, "id", primary_key, generated>,
                        Column<&Document::owner, "owner", references<&User::id, Action::cascade>>,
                        Column<&Document::body, "body">, Column<&Document::created_at, "created_at">,
                        Column<&Document::updated_at, "updated_at">, Column<&Document::deleted_at, "deleted_at">,
                        timestamps<&Document::created_at, &Document::updated_at>, soft_delete<&Document::deleted_at>,
                        Index<"documents_by_owner", on<&Document::owner>>>;

using AppSchema = Schema<Users, Documents>;

template <class Fixture>
using StoreOf = Store<typename Fixture::backend, lock::InProcess>;

template <class Fixture>
void create_schema(StoreOf<Fixture>& store) {
    using D = typename Fixture::backend::dialect;
    store.write([](auto& tx) {
        for (const auto& statement : AppSchema::template create_statements<D>()) tx.execute_script(statement);
    });
}

inline User user(std::string email, double score = 1.5) {
    return User{0, std::move(email), std::nullopt, Level::low, score, true, Blob{std::byte{0}, std::byte{0xff}}};
}


// The schema, with users a@x (id 1) and b@x (id 2).
template <class Fixture>
void create_schema_with_two_users(StoreOf<Fixture>& store) {
    create_schema<Fixture>(store);
    store.write([](auto& tx) {
        insert<Users>(tx, user("a@x"));
        insert<Users>(tx, user("b@x"));
    });
}

// Parameters in the backend's placeholders: "?" becomes $1, $2, ... on PostgreSQL.
template <class Tx>
std::string sql_for(const std::string& text) {
    using D = typename std::remove_cvref_t<Tx>::dialect;
    std::string out;
    int n = 0;
    for (char c : text) out += c == '?' ? D::placeholder(++n) : std::string(1, c);
    return out;
}

template <class Store>
std::int64_t count_of(Store& store, const std::string& sql) {
    return store.read([&](auto& tx) { return *tx.template query_one<std::int64_t>(sql); });
}
} // namespace shared
