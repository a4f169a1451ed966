// quickstart: open the default database, record this run, show every run so far.
// Run it twice: the second run lists the first one too, read back from disk.
#include <persist/sqlite.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

struct Visit {
    std::int64_t id;
    std::string note;
    std::chrono::system_clock::time_point at;
};

int main() try {
    // QUICKSTART_DB_PATH, QUICKSTART_DB_DIR, ... override the defaults.
    auto config = persist::Config::from_env("QUICKSTART", persist::Config::for_app("persist-quickstart"));
    persist::SqliteStore store(config);

    store.write([](auto& tx) {
        tx.execute("CREATE TABLE IF NOT EXISTS visits ("
                   " id INTEGER PRIMARY KEY, note TEXT NOT NULL, at TEXT NOT NULL)");
        tx.execute("INSERT INTO visits (note, at) VALUES (?, ?)",
                   "hello from process " + std::to_string(::getpid()),
                   std::chrono::system_clock::now());
    });

    const auto visits = store.read([](auto& tx) {
        return tx.template query<Visit>("SELECT id, note, at FROM visits ORDER BY id");
    });

    std::printf("data lives in %s\n", store.path().c_str());
    std::printf("%zu run(s) recorded:\n", visits.size());
    for (const auto& visit : visits)
        std::printf("  #%lld  %s  %s\n", static_cast<long long>(visit.id),
                    persist::format_time(visit.at).c_str(), visit.note.c_str());
    if (visits.size() == 1) std::printf("run it again: the next run reads this one back from disk\n");
    return 0;
} catch (const persist::error& e) {
    std::fprintf(stderr, "quickstart: %s\n", e.what());
    return 1;
}
