// A table with an encrypted column, shared by the encrypted_* compile-fail tests.
#pragma once
#include <persist/crypto/encrypted.hpp>
#include <persist/schema.hpp>
#include <persist/sqlite.hpp>
#include <cstdint>
#include <string>

struct Account { std::int64_t id; std::string name; persist::Encrypted<std::string> token; };
