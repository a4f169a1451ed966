// The process test_kill kills with SIGKILL at random points.
//   kill_helper write DB FIRST    inserts rows FIRST, FIRST+1, ... forever, printing each id
//                                 on stdout once its write transaction has returned
//   kill_helper backup DB DIR     takes backups into DIR forever, printing each path once
//                                 backup() has returned
#include <persist/sqlite.hpp>
#include <persist/sqlite/backup.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
    if (argc != 4) return 2;
    const std::string mode = argv[1];
    persist::Config config = persist::Config::for_app("kill");
    config.db_path = argv[2];
    persist::SqliteStore store(config);
    if (mode == "write") {
        store.write([](auto& tx) { tx.execute_script("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"); });
        for (long long id = std::atoll(argv[3]);; ++id) {
            store.write([&](auto& tx) { tx.execute("INSERT INTO items (id, body) VALUES (?, ?)", id, std::string(200, 'k')); });
            std::printf("%lld\n", id);
            std::fflush(stdout);
        }
    }
    if (mode == "backup") {
        persist::sqlite::BackupOptions options;
        options.keep = 3;
        options.pages_per_step = 1;
        for (;;) {
            const auto made = persist::sqlite::backup(store, argv[3], options);
            std::printf("%s\n", made.path.c_str());
            std::fflush(stdout);
        }
    }
    return 2;
}
