// The program whose file changes the power-loss test records (tests/faults/recorder.hpp):
// it creates a database, migrates it, makes acknowledged writes, closes and reopens it (a
// checkpoint), writes more, and takes a backup. After each acknowledged step it writes a
// marker into the log: 0 for the migration, i for row i, 1000000 for the backup.
//
// Usage: crash_workload DIR off|normal|full ROWS
#include "faults/recorder.hpp"

#include <persist/migrate.hpp>
#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>

#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
    if (argc != 4) return 2;
    const std::string dir = argv[1], level = argv[2];
    const int rows = std::atoi(argv[3]);
    persist::Config config = persist::Config::for_app("crash");
    config.db_path = dir + "/app.db";
    config.durability = level == "off" ? persist::Durability::off
                        : level == "full" ? persist::Durability::full
                                          : persist::Durability::normal;
    using Migrations = persist::migrate::Embedded<
        persist::migrate::Sql<1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)">>;
    auto write_rows = [&](persist::SqliteStore& store, int from, int to) {
        for (int i = from; i <= to; ++i) {
            store.write([&](auto& tx) { tx.execute("INSERT INTO items (id, body) VALUES (?, ?)", i, std::string(300, char('a' + i % 26))); });
            crash::mark(static_cast<std::uint64_t>(i));
        }
    };
    {
        persist::SqliteStore store(config);
        store.migrate(Migrations{});
        crash::mark(0);
        write_rows(store, 1, rows / 2);
    } // the last connection closes: a checkpoint
    persist::SqliteStore store(config);
    write_rows(store, rows / 2 + 1, rows);
    persist::sqlite::backup(store, dir + "/copy.backup.db");
    crash::mark(1'000'000);
    return 0;
}
