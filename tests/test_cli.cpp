// The persist command-line tool, run as a process: every subcommand, bad input, a missing
// database and a locked one, exit codes and output (on PostgreSQL and for rotate-keys:
// test_cli_postgres.cpp).
#include "cli_runner.hpp"

using namespace persist;
using namespace cli_test;
namespace fs = std::filesystem;

TEST_CASE("bad arguments: one line on stderr, exit code 2, nothing created") {
    Fixture cli;
    for (const auto& args : std::vector<std::vector<std::string>>{{"bogus"}, {"info", "--what"}, {"down"}, {"verify"}, {}}) {
        const auto r = cli(args);
        CHECK(r.code == 2);
        CHECK(r.err.rfind("persist: ", 0) == 0);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    CHECK(cli({"bogus"}).err.find("unknown subcommand 'bogus'") != std::string::npos);
    CHECK(run({"--db", cli.db, "status"}, cli.dir.path).err.find("needs --migrations DIR") != std::string::npos);
    CHECK(cli({"--timeout", "-5", "info"}).code == 2);
    // A ~ no shell expanded (quoted): refused, and no directory named ~ is made.
    const auto tilde = run({"--db", "~/app.db", "--migrations", cli.migrations, "migrate"}, cli.dir.path);
    CHECK(tilde.code == 2);
    CHECK(tilde.err.find("persist: --db=\"~/app.db\" starts with ~, which only a shell expands") == 0);
    CHECK_FALSE(fs::exists(cli.dir / "~"));
    CHECK_FALSE(fs::exists(cli.db));
}

TEST_CASE("a missing database: exit code 3, and it is not created") {
    Fixture cli;
    for (const char* command : {"info", "status", "plan", "backup", "dump", "lock-status"}) {
        const auto r = cli({command});
        CHECK(r.code == 3);
        CHECK(r.err == "persist: no database at " + cli.db + " (give --db PATH, or set PERSIST_DB_PATH); nothing was created\n");
    }
    CHECK_FALSE(fs::exists(cli.db));
    const auto json = cli({"--json", "info"});
    CHECK(json.code == 3);
    CHECK(json.out.find("\"error\":\"no_database\"") != std::string::npos);
}

TEST_CASE("plan, migrate, status, info, down, baseline and repair") {
    Fixture cli;
    // Only migrate, baseline and load create a database.
    CHECK(cli({"plan"}).code == 3);
    auto r = cli({"migrate"});
    CHECK(r.code == 0);
    CHECK(r.out == "version 0 -> 2, applied [1,2]\n");
    r = cli({"plan"});
    CHECK(r.out == "nothing to apply\n");
    r = cli({"status"});
    CHECK(r.out.find("1  notes  applied") != std::string::npos);
    CHECK(r.out.find("2  seed  applied") != std::string::npos);
    r = cli({"--json", "status"});
    CHECK(r.out.find("{\"version\":2,\"name\":\"seed\",\"state\":\"applied\"") != std::string::npos);
    r = cli({"info"});
    CHECK(r.code == 0);
    CHECK(r.out.find("notes  2 rows") != std::string::npos);
    CHECK(r.out.find("journal mode wal, durability normal") != std::string::npos);
    r = cli({"--json", "info"});
    CHECK(r.out.find("{\"name\":\"notes\",\"rows\":2}") != std::string::npos);

    r = run({"--db", cli.db, "info"}, cli.dir.path); // without --migrations: nothing pending is known
    CHECK(r.out.find("pending") == std::string::npos);

    r = cli({"down", "--to", "1"});
    CHECK(r.code == 0);
    CHECK(r.out == "version 2 -> 1, reverted [2]\n");
    CHECK(cli({"plan"}).out == "would apply 2 seed\n");
    CHECK(cli({"info"}).out.find("  2 seed  pending\n") != std::string::npos);
    CHECK(cli({"--json", "info"}).out.find("\"pending\":[{\"version\":2,\"name\":\"seed\"}]") != std::string::npos);

    // A changed migration is refused (exit 5) until repaired.
    std::ofstream(cli.migrations + "/1_notes.up.sql") << "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n";
    r = cli({"migrate"});
    CHECK(r.code == 5);
    CHECK(r.err.find("migration 1 (notes) was applied with checksum") != std::string::npos);
    r = cli({"repair", "1"});
    CHECK(r.code == 0);
    CHECK(r.out == "repaired version 1\n");
    CHECK(cli({"migrate"}).code == 0);

    // baseline on a database persist did not create.
    Fixture other;
    {
        Store<sqlite::Backend> store(other.config());
        store.write([](auto& tx) { tx.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"); });
    }
    r = other({"baseline", "1"});
    CHECK(r.code == 0);
    CHECK(other({"plan"}).out == "would apply 2 seed\n");
}

TEST_CASE("backup, verify, restore, dump and load") {
    Fixture cli;
    REQUIRE(cli({"migrate"}).code == 0);
    auto r = cli({"backup", "--keep", "2"});
    CHECK(r.code == 0);
    const auto backups = cli.db + ".backups";
    std::vector<fs::path> made;
    for (const auto& entry : fs::directory_iterator(backups))
        if (entry.path().extension() == ".db") made.push_back(entry.path());
    REQUIRE(made.size() == 1);
    const std::string backup = made[0].string();
    CHECK(r.out.find("backup written to " + backup) != std::string::npos);
    CHECK(r.err.empty()); // no progress bar when stderr is not a terminal

    r = cli({"verify", backup});
    CHECK(r.code == 0);
    CHECK(r.out.find("verifies: schema version 2") != std::string::npos);

    // Change the live database, then restore the backup.
    {
        SqliteStore store(cli.config());
        store.write([](auto& tx) { tx.execute("INSERT INTO notes (body) VALUES ('third')"); });
    }
    r = cli({"restore", backup});
    CHECK(r.code == 0);
    CHECK(r.out.find("the previous database is kept in") != std::string::npos);
    {
        SqliteStore store(cli.config());
        CHECK(store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM notes")[0]; }) == 2);
    }

    // A damaged backup: verify and restore refuse with exit code 5; the database is unchanged.
    {
        std::ofstream(backup, std::ios::app) << "x";
    }
    r = cli({"verify", backup});
    CHECK(r.code == 5);
    CHECK(r.err.find("does not verify") != std::string::npos);
    CHECK(cli({"restore", backup}).code == 5);
    CHECK(cli({"--json", "verify", backup}).out.find("\"error\":\"backup\"") != std::string::npos);

    // dump to stdout and to a file; load into a new database, refused into a full one.
    r = cli({"dump"});
    CHECK(r.code == 0);
    CHECK(r.out.find("INSERT INTO \"notes\"(\"id\",\"body\") VALUES(2,'second');") != std::string::npos);
    r = cli({"dump", cli.dir / "app.sql"});
    CHECK(r.code == 0);
    r = run({"--db", cli.dir / "copy.db", "load", cli.dir / "app.sql"}, cli.dir.path);
    CHECK(r.code == 0);
    CHECK(run({"--db", cli.dir / "copy.db", "dump"}, cli.dir.path).out.find("INSERT INTO \"notes\"(\"id\",\"body\") VALUES(2,'second');") !=
          std::string::npos);
    r = cli({"load", cli.dir / "app.sql"});
    CHECK(r.code == 2);
    CHECK(r.err.find("needs an empty database") != std::string::npos);
}

TEST_CASE("lock-status, unlock, and a locked database") {
    Fixture cli;
    REQUIRE(cli({"migrate"}).code == 0);
    auto r = cli({"lock-status"});
    CHECK(r.out == "migrate  free\npersist.write  free\n");

    SqliteStore holder(cli.config());
    std::atomic<bool> release{false};
    std::atomic<bool> held{false};
    std::thread thread([&] {
        LockOptions options;
        options.purpose = "holding for the test";
        holder.with_lock("migrate", [&] {
            held = true;
            test::wait_for([&] { return release.load(); }); // released by the test, or after 60 s
        }, options);
    });
    REQUIRE(test::wait_for([&] { return held.load(); }));

    r = cli({"lock-status", "migrate"});
    CHECK(r.out.find("migrate  held by pid " + std::to_string(::getpid())) != std::string::npos);
    CHECK(r.out.find("holding for the test") != std::string::npos);

    // A new migration waits for the lock, says for whom, and gives up at the timeout (exit 4).
    std::ofstream(cli.migrations + "/3_more.up.sql") << "INSERT INTO notes (body) VALUES ('third');\n";
    r = cli({"--timeout", "1500", "migrate"});
    CHECK(r.code == 4);
    CHECK(r.err.find("waiting for lock 'migrate' held by pid " + std::to_string(::getpid())) != std::string::npos);
    CHECK(r.err.find("persist: ") != std::string::npos);
    CHECK(cli({"plan"}).out == "would apply 3 more\n"); // nothing changed

    r = cli({"unlock", "migrate"});
    CHECK(r.code == 2);
    CHECK(r.err.find("add --force") != std::string::npos);
    r = cli({"unlock", "--force", "migrate"});
    CHECK(r.code == 2); // an OS lock cannot be broken: the message says who holds it
    CHECK(r.err.find("pid " + std::to_string(::getpid())) != std::string::npos);

    release = true;
    thread.join();
    CHECK(cli({"migrate"}).out == "version 2 -> 3, applied [3]\n");
}

TEST_CASE("backup and verify draw a progress bar when stderr is a terminal") {
    Fixture cli;
    REQUIRE(cli({"migrate"}).code == 0);
    CommandLine command({"--db", cli.db, "backup", cli.dir / "tty.db"});
    int terminal = -1;
    const pid_t child = ::forkpty(&terminal, nullptr, nullptr, nullptr);
    REQUIRE(child >= 0);
    if (child == 0) command.exec();
    std::string screen;
    char buffer[512];
    for (ssize_t n; (n = ::read(terminal, buffer, sizeof buffer)) > 0;) screen.append(buffer, static_cast<std::size_t>(n));
    ::close(terminal);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    CHECK(screen.find("backup [") != std::string::npos);
    CHECK(screen.find("100%") != std::string::npos);
    CHECK(screen.find("backup written to") != std::string::npos);
}

TEST_CASE("with --lock table the tool sees and breaks the application's leases") {
    Fixture cli;
    REQUIRE(cli({"--lock", "table", "migrate"}).code == 0);
    Config config = cli.config();
    config.lease_ttl = std::chrono::seconds(60);
    const pid_t holder = ::fork();
    if (holder == 0) {
        // Takes the lease and dies without releasing it.
        SqliteLeaseStore store(config);
        auto guard = store.locks().acquire("migrate", lock::Request{lock::Mode::exclusive,
                                                                    std::chrono::steady_clock::now() + std::chrono::seconds(5), "crashed"});
        ::_exit(0);
    }
    ::waitpid(holder, nullptr, 0);
    auto r = cli({"--lock", "table", "lock-status", "migrate"});
    CHECK(r.out.find("migrate  held by pid " + std::to_string(holder)) != std::string::npos);
    r = cli({"--lock", "table", "unlock", "--force", "migrate"});
    CHECK(r.code == 0);
    CHECK(r.out == "lock migrate released\n");
    CHECK(cli({"--lock", "table", "lock-status", "migrate"}).out == "migrate  free\n");
    CHECK(cli({"--lock", "bogus", "info"}).code == 2);

    // Statistics of every process that took a lease, as the lease tables record them.
    {
        SqliteLeaseStore store(config);
        for (int i = 0; i < 3; ++i)
            store.locks().acquire("nightly", lock::Request{lock::Mode::shared,
                                                          std::chrono::steady_clock::now() + std::chrono::seconds(5), "job"});
    } // records its counters as it closes
    r = cli({"--lock", "table", "lock-status", "--stats", "nightly"});
    CHECK(r.code == 0);
    CHECK(r.out.find("nightly  3 acquired (0 after waiting), 0 timed out, waited ") == 0);
    r = cli({"--json", "--lock", "table", "lock-status", "--stats"});
    CHECK(r.code == 0);
    const auto stats = nlohmann::json::parse(r.out);
    bool found = false;
    for (const auto& row : stats)
        if (row["name"] == "nightly") {
            found = true;
            CHECK(row["acquisitions"] == 3);
            CHECK(row["timeouts"] == 0);
        }
    CHECK(found);
    r = cli({"lock-status", "--stats"});
    CHECK(r.code == 2);
    CHECK(r.err == "persist: --stats reads the statistics the lease tables record (--lock table); file and advisory locks "
                   "keep theirs in the process that takes them (Store::lock_stats())\n");
}

TEST_CASE("a bad environment value is exit code 2; a damaged live database is exit code 1") {
    Fixture cli;
    {
        test::EnvVar timeout("PERSIST_BUSY_TIMEOUT_MS", "soon");
        const auto r = cli({"info"});
        CHECK(r.code == 2);
        CHECK(r.err.find("persist: PERSIST_BUSY_TIMEOUT_MS") == 0);
        CHECK_FALSE(fs::exists(cli.db));
    }
    std::ofstream(cli.db, std::ios::binary) << std::string(8192, 'x');
    const auto r = cli({"info"});
    CHECK(r.code == 1);
    CHECK(r.err.rfind("persist: ", 0) == 0);
    CHECK(r.err.find("not a database") != std::string::npos);
    CHECK(cli({"--json", "info"}).out.find("\"exit_code\":1") != std::string::npos);
}

TEST_CASE("--json prints exactly one JSON document on stdout for every outcome") {
    Fixture cli;
    REQUIRE(cli({"migrate"}).code == 0);
    // Each parses as one document (nlohmann refuses trailing text) and says how it ended.
    auto document = [](const Result& r) {
        INFO("stdout: " << r.out << " stderr: " << r.err);
        nlohmann::json parsed;
        REQUIRE_NOTHROW(parsed = nlohmann::json::parse(r.out));
        return parsed;
    };
    const std::vector<std::vector<std::string>> refused = {
        {"--json", "frobnicate"},
        {"--json"},
        {"--json", "info", "--what"},
        {"--json", "--timeout", "abc", "info"},
        {"--json", "backup", "--keep", "-1"},
        {"--json", "backup", "--keep", "99999999999999999999"},
        {"--json", "backup", "--keep", "0"},
        {"--json", "backup", "--max-age-days", "106752"},
        {"--json", "backup", "--max-age-days", "-3"},
        {"--json", "down", "--to", "-3"},
        {"--json", "down", "--to", "99999999999999999999"},
        {"--json", "baseline", "0"},
        {"--json", "--env-prefix", std::string(5000, 'A'), "info"},
        {"--json", "--env-prefix", "1BAD", "info"},
        {"--json", "unlock", "--force", "migrate"}, // a free OS lock: nothing to unlock
    };
    for (const auto& args : refused) {
        CAPTURE(args.size() > 1 ? args[1] : std::string());
        const auto r = cli(args);
        CHECK(r.code == 2);
        const auto parsed = document(r);
        CHECK(parsed["ok"] == false);
        CHECK(parsed["exit_code"] == 2);
        CHECK(parsed["message"].get<std::string>().size() > 10);
    }
    const auto help = document(run({"--json", "--help"}, cli.dir.path));
    CHECK(help["help"].get<std::string>().find("backup") != std::string::npos);
    const auto dumped = document(cli({"--json", "dump"}));
    CHECK(dumped["sql"].get<std::string>().find("CREATE TABLE notes") != std::string::npos);
    CHECK(dumped["tables"] == 3); // notes and the two history tables
}

TEST_CASE("a database path that is not a regular file is refused, without JSON or with it") {
    test::TempDir dir;
    for (const char* path : {"/dev/null", "/dev/zero"}) {
        const auto r = run({"--db", path, "info"}, dir.path);
        CHECK(r.code == 2);
        CHECK(r.err == std::string("persist: ") + path + " is not a regular file, so it cannot be a database; give --db the "
                                                         "database file\n");
    }
    ::mkfifo((dir / "fifo").c_str(), 0600);
    CHECK(run({"--db", dir / "fifo", "migrate"}, dir.path).code == 2);
    // The library refuses it too, with a typed error.
    Config config = Config::for_app("cli-test");
    config.db_path = "/dev/null";
    CHECK_THROWS_WITH_AS(SqliteStore{config}, doctest::Contains("it is not a regular file"), config_error);
}

TEST_CASE("commands that only read leave a backup exactly as it was, and it still verifies") {
    Fixture cli;
    REQUIRE(cli({"migrate"}).code == 0);
    REQUIRE(cli({"backup", cli.dir / "backups/"}).code == 0);
    std::string backup;
    for (const auto& entry : fs::directory_iterator(cli.dir / "backups"))
        if (entry.path().string().ends_with(".backup.db")) backup = entry.path().string();
    REQUIRE_FALSE(backup.empty());
    auto listing = [&] {
        std::vector<std::pair<std::string, std::uintmax_t>> files;
        for (const auto& entry : fs::directory_iterator(cli.dir / "backups"))
            files.emplace_back(entry.path().filename().string(), fs::file_size(entry.path()));
        std::sort(files.begin(), files.end());
        return files;
    };
    const auto before = listing();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--db", backup, "info"},
             {"--db", backup, "lock-status"},
             {"--db", backup, "--lock", "table", "lock-status"},
             {"--db", backup, "dump"},
             {"--db", backup, "--migrations", cli.migrations, "status"},
             {"--db", backup, "backup", cli.dir / "again.db"}}) {
        CAPTURE(args.back());
        CHECK(run(args, cli.dir.path).code == 0);
    }
    CHECK(listing() == before); // no -wal, -shm, lock file, table or checkpoint
    CHECK(run({"verify", backup}, cli.dir.path).code == 0);
    CHECK(run({"verify", cli.dir / "again.db"}, cli.dir.path).code == 0);
}

TEST_CASE("<PREFIX>_MIGRATIONS_DIR and <PREFIX>_DB_PATH stand in for --migrations and --db, relative ones too") {
    Fixture cli;
    // Relative to the directory the tool starts in (run() starts it in cli.dir).
    test::EnvVar migrations("TOOLAPP_MIGRATIONS_DIR", "migrations");
    test::EnvVar path("TOOLAPP_DB_PATH", "app.db");
    const auto r = run({"--env-prefix", "TOOLAPP", "migrate"}, cli.dir.path);
    CHECK(r.code == 0);
    CHECK(fs::exists(cli.db));
    SqliteStore store(cli.config());
    CHECK(store.read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM notes")[0]; }) == 2);
}

TEST_CASE("names from a crafted database reach the terminal escaped, never as control characters") {
    Fixture cli;
    REQUIRE(cli({"migrate"}).code == 0);
    {
        lock::Table leases(cli.config()); // creates the lease tables
        SQLite::Database db(cli.db, SQLite::OPEN_READWRITE);
        db.exec("CREATE TABLE \"evil\x1b]0;pwned\x07\x1b[2J\nforged\" (a)");
        db.exec("INSERT INTO persist_locks VALUES ('migrate', 'token', 1, 'host\x1b[1A\rfake', 'purpose\xc2\x9b" "31m', "
                "'exclusive', '2026-11-30T12:00:00.000000Z', 9000000000000000000, 1)");
    }
    auto r = cli({"info"});
    CHECK(r.code == 0);
    CHECK(r.out.find("  evil\\x1b]0;pwned\\x07\\x1b[2J\\nforged  0 rows\n") != std::string::npos);
    CHECK(r.out.find('\x1b') == std::string::npos);
    r = cli({"--lock", "table", "lock-status", "migrate"});
    CHECK(r.out.find("on host\\x1b[1A\\rfake since") != std::string::npos);
    CHECK(r.out.find("purpose\\u009b31m") != std::string::npos);
    CHECK(r.out.find('\x1b') == std::string::npos);
    // An error message names a path as given, escaped the same way (bytes that are not UTF-8 too).
    r = run({"--db", cli.dir / "gone\x1b[2J\xff.db", "info"}, cli.dir.path);
    CHECK(r.code == 3);
    CHECK(r.err.find("gone\\x1b[2J\\xff.db") != std::string::npos);
    CHECK(r.err.find('\x1b') == std::string::npos);
    // JSON escapes them itself.
    r = cli({"--json", "info"});
    CHECK(r.out.find("evil\\u001b]0;pwned\\u0007\\u001b[2J\\nforged") != std::string::npos);
}
