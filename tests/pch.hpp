// The precompiled header of the test executables (tests/CMakeLists.txt): what nearly every
// test parses, parsed once per build instead of once per test. Tests still include what they
// use; this only makes it cheaper.
#pragma once

#include <doctest/doctest.h>
#include <persist/crypto/encrypted.hpp>
#include <persist/migrate.hpp>
#include <persist/persist.hpp>
#include <persist/postgres.hpp>
#include <persist/schema.hpp>
#include <persist/sqlite/backup.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <ostream>
#include <thread>
