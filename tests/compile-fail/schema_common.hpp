// Tables shared by the compile-fail tests of typed operations.
#pragma once
#include <persist/schema.hpp>
#include <persist/sqlite.hpp>
#include <cstdint>
#include <string>

struct User { std::int64_t id; std::string email; };
using Users = persist::schema::Table<"users", persist::schema::Column<&User::id, "id", persist::schema::primary_key>,
                                     persist::schema::Column<&User::email, "email">>;
struct Team { std::int64_t id; std::string name; };
using Teams = persist::schema::Table<"teams", persist::schema::Column<&Team::id, "id", persist::schema::primary_key>,
                                     persist::schema::Column<&Team::name, "name">>;
struct Membership { std::int64_t user; std::int64_t team; };
using Memberships = persist::schema::Table<"memberships",
                                           persist::schema::Column<&Membership::user, "user", persist::schema::primary_key>,
                                           persist::schema::Column<&Membership::team, "team", persist::schema::primary_key>>;
