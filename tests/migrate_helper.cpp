// migrate_helper: one of many processes migrating the same database at once.
//   migrate_helper <ofd|table> <database> <upto version> [barrier file] [slow]
// Waits until the barrier file exists (if given), migrates with the embedded test
// migrations up to <upto>, and prints "applied <versions...> head <version>".
// With "slow", migration 3 sleeps 30 s inside its transaction after printing "applying 3".
#include "herd.hpp"
#include "support.hpp"

#include <persist/persist.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

using namespace persist;

namespace {
bool slow = false;

void seed(sqlite::Transaction& tx) {
    tx.execute("INSERT INTO events (what) VALUES ('seeded once')");
    if (slow) {
        std::printf("applying 3\n");
        std::fflush(stdout);
        std::this_thread::sleep_for(std::chrono::seconds(30));
    }
}

using Migrations = migrate::Embedded<
    migrate::Sql<1, "create_events", "CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT NOT NULL)", "DROP TABLE events">,
    migrate::Sql<2, "add_at", "ALTER TABLE events ADD COLUMN at TEXT", "ALTER TABLE events DROP COLUMN at">,
    migrate::Code<3, "seed", "seed v1", &seed>,
    migrate::Sql<4, "index_what", "CREATE INDEX events_what ON events (what)", "DROP INDEX events_what">>;

template <class Policy>
int run(const std::string& path, std::int64_t upto) {
    Config config = Config::for_app("migrate-helper");
    config.db_path = path;
    if constexpr (std::is_same_v<Policy, lock::Table>) config.lease_ttl = std::chrono::milliseconds(2000);
    Store<sqlite::Backend, Policy> store(config);
    migrate::Migrator migrator(store, Migrations{});
    test::print_report(migrator.migrate_to(upto));
    return 0;
}
} // namespace

int main(int argc, char** argv) try {
    if (argc < 4) return 2;
    const std::string policy = argv[1];
    if (argc > 4 && std::string(argv[4]) != "-") {
        if (!test::wait_for_file(argv[4])) return 5;
    }
    slow = argc > 5 && std::string(argv[5]) == "slow";
    const std::int64_t upto = std::atoll(argv[3]);
    if (policy == "ofd") return run<lock::File<lock::Ofd>>(argv[2], upto);
    if (policy == "table") return run<lock::Table>(argv[2], upto);
    if (policy == "none") return run<lock::None>(argv[2], upto);
    return 2;
} catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
    return 1;
}
