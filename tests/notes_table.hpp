// A notes(id, body) table for the backup and dump tests: fill it, count it.
#pragma once

#include <persist/sqlite.hpp>

#include <cstdint>
#include <string>

namespace test {

/// Adds `count` notes, creating the table if needed.
inline void seed(persist::SqliteStore& store, int count) {
    store.write([&](auto& tx) {
        tx.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
        for (int i = 0; i < count; ++i) tx.execute("INSERT INTO notes (body) VALUES (?)", "note " + std::to_string(i));
    });
}

/// How many notes there are.
inline std::int64_t rows(persist::SqliteStore& store) {
    return store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM notes")[0]; });
}

} // namespace test
