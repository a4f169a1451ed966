// Lock policies. Behaviour every policy shares is one TEST_CASE_TEMPLATE over all of them;
// cross-process behaviour uses tests/lock_helper as the other process. What the Store asks of
// its policy (guard_writes, refused requests, in-memory databases): test_lock_usage.cpp.
#include "lock_support.hpp"

using namespace persist;
using namespace std::chrono;
using namespace std::chrono_literals;
using namespace lock_test;

TEST_CASE_TEMPLATE("with_lock runs the function, returns its value and releases", P, lock::None, lock::InProcess, OfdFile,
                   FlockFile, BoostFile, lock::Table) {
    test::TempDir dir;
    Store<sqlite::Backend, P> store(for_policy<P>(file_config(dir)));
    CHECK(store.with_lock("job", [] { return 42; }) == 42);
    CHECK(store.with_lock("job", [] { return std::string("again"); }, {lock::Mode::exclusive, 10ms, "test"}) == "again");
    CHECK_FALSE(store.lock_status("job").held);
    CHECK_THROWS_AS(store.with_lock("job", []() -> int { throw std::runtime_error("fn failed"); }), std::runtime_error);
    CHECK(store.with_lock("job", [] { return 1; }, {lock::Mode::exclusive, 10ms, ""}) == 1);
    if constexpr (!std::is_same_v<P, lock::None>) {
        const auto stats = store.lock_stats();
        REQUIRE(stats.count("job") == 1);
        CHECK(stats.at("job").acquisitions == 4);
        CHECK(stats.at("job").timeouts == 0);
    }
}

TEST_CASE_TEMPLATE("threads: never two in an exclusive section", P, lock::InProcess, OfdFile, FlockFile, BoostFile,
                   lock::Table) {
    test::TempDir dir;
    Store<sqlite::Backend, P> store(for_policy<P>(file_config(dir)));
    std::atomic<int> inside{0}, overlaps{0}, entries{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i)
                store.with_lock("section", [&] {
                    if (++inside > 1) ++overlaps;
                    ++entries;
                    std::this_thread::sleep_for(50us);
                    --inside;
                });
        });
    for (auto& thread : threads) thread.join();
    CHECK(overlaps == 0);
    CHECK(entries == 100);
    CHECK(store.lock_stats().at("section").acquisitions == 100);
}

TEST_CASE_TEMPLATE("readers together, a writer alone", P, lock::InProcess, OfdFile, FlockFile, BoostFile, lock::Table) {
    test::TempDir dir;
    Config config = file_config(dir);
    P locks(config);
    auto first = locks.acquire("cfg", shared(1s));
    std::atomic<bool> second_in{false};
    std::thread reader([&] {
        auto second = locks.acquire("cfg", shared(1s)); // granted while `first` is held
        second_in = true;
    });
    reader.join();
    CHECK(second_in);
    std::thread writer([&] { CHECK_THROWS_AS(locks.acquire("cfg", exclusive(30ms)), lock_timeout_error); });
    writer.join();
    first = {};
    CHECK(locks.acquire("cfg", exclusive(100ms)).owns_lock());
    if constexpr (!std::is_same_v<P, lock::InProcess>) {
        // Another process can share it too, but not take it exclusively.
        auto held_shared = locks.acquire("cfg", shared(1s));
        test::Process other({PERSIST_LOCK_HELPER, helper_policy<P>(), config.db_path, "cfg", "try", "50"});
        CHECK(other.line().starts_with("timeout exclusive lock 'cfg' not granted within "));
        CHECK(locks.status("cfg").holder->mode == lock::Mode::shared);
        // Held exclusively here, another process cannot share it.
        held_shared = {};
        auto held = locks.acquire("cfg", exclusive(1s));
        test::Process reader_elsewhere({PERSIST_LOCK_HELPER, helper_policy<P>(), config.db_path, "cfg", "try-shared", "50"});
        CHECK(reader_elsewhere.line().starts_with("timeout shared lock 'cfg' not granted within "));
    }
}

TEST_CASE_TEMPLATE("a waiter hears who holds the lock, and the timeout names the holder", P, OfdFile, FlockFile, BoostFile,
                   lock::Table) {
    test::TempDir dir;
    Config config = file_config(dir);
    config.lease_ttl = 5s;
    std::vector<Event> events;
    std::mutex events_mutex;
    config.on_event = [&](const Event& event) {
        if (event.kind == Event::Kind::info) return; // opening steps; this test is about waiting
        std::lock_guard lock(events_mutex);
        events.push_back(event);
    };
    config.lock_wait_notice = 50ms;
    auto other = holder<P>(config, "migrate");
    const std::string pid = std::to_string(other.pid());
    Store<sqlite::Backend, P> store(for_policy<P>(config));

    const auto status = store.lock_status("migrate");
    CHECK(status.held);
    REQUIRE(status.holder.has_value());
    CHECK(status.holder->pid == other.pid());
    CHECK(status.holder->host == lock::host_name());
    CHECK(status.holder->purpose == "helper hold");
    CHECK(status.holder->mode == lock::Mode::exclusive);

    const auto message = message_of<lock_timeout_error>([&] {
        store.with_lock("migrate", [] {}, {lock::Mode::exclusive, 200ms, ""});
    });
    CHECK(message.starts_with("exclusive lock 'migrate' not granted within "));
    CHECK(message.find("ms: held by pid " + pid + " on host '" + lock::host_name() + "' since ") != std::string::npos);
    CHECK(message.ends_with(" UTC (exclusive, purpose: helper hold). Wait for it to finish, give a longer timeout, or see "
                            "lock_status()"));
    std::lock_guard lock(events_mutex);
    REQUIRE_FALSE(events.empty());
    CHECK(events.front().kind == Event::Kind::wait);
    CHECK(events.front().message.starts_with("waiting for lock 'migrate' held by pid " + pid + " on host '"));
    CHECK(events.front().message.ends_with(" s)"));
    CHECK(store.lock_stats().at("migrate").timeouts == 1);
}

TEST_CASE_TEMPLATE("a 200 ms deadline ends the wait, not before 200 ms, and leaves nothing held", P, lock::InProcess, OfdFile,
                   FlockFile, BoostFile, lock::Table) {
    test::TempDir dir;
    Config config = file_config(dir);
    config.lease_ttl = 5s;
    P locks(config);
    std::optional<test::Process> other;
    std::optional<typename P::guard> local;
    std::thread holder_thread;
    if constexpr (std::is_same_v<P, lock::InProcess>) local.emplace(locks.acquire("slow", exclusive(1s)));
    else other.emplace(holder<P>(config, "slow"));
    const auto started = steady_clock::now();
    std::thread waiter([&] { CHECK_THROWS_AS(locks.acquire("slow", exclusive(200ms)), lock_timeout_error); });
    waiter.join();
    const auto elapsed = duration_cast<milliseconds>(steady_clock::now() - started);
    CHECK(elapsed >= 200ms); // how soon after the deadline it ends is measured in benchmarks/
    // Nothing was left held by the waiter: once the holder lets go, the lock is free.
    local.reset();
    other.reset();
    if constexpr (is_table<P>) locks.force_unlock("slow"); // the killed helper's lease would last 5 s
    CHECK(locks.acquire("slow", exclusive(100ms)).owns_lock());
}

TEST_CASE_TEMPLATE("SIGKILL of the holder frees the lock", P, OfdFile, FlockFile, BoostFile, lock::Table) {
    test::TempDir dir;
    Config config = file_config(dir); // lease_ttl 300 ms
    auto other = holder<P>(config, "job");
    P locks(config);
    other.signal(SIGKILL);
    other.wait();
    // File locks: the kernel releases at once. Table: the lease ends within lease_ttl.
    const auto limit = is_table<P> ? config.lease_ttl + 1s : milliseconds(100);
    CHECK(locks.acquire("job", exclusive(limit)).owns_lock());
}

TEST_CASE("lock::Table: a killed shared holder's lease ends within lease_ttl; a live one keeps writers out") {
    test::TempDir dir;
    Config config = file_config(dir); // lease_ttl 300 ms
    auto reader = holder<lock::Table>(config, "cfg", "hold-shared");
    lock::Table locks(config);
    CHECK(locks.status("cfg").holder->mode == lock::Mode::shared);
    CHECK(locks.status("cfg").holder->pid == reader.pid());
    // Renewed by the live holder, its lease outlasts several lease_ttl.
    CHECK_THROWS_AS(locks.acquire("cfg", exclusive(config.lease_ttl * 3)), lock_timeout_error);
    auto also_reading = locks.acquire("cfg", shared(1s));
    CHECK(also_reading.fence() == 0);
    also_reading = {};
    reader.signal(SIGKILL);
    reader.wait();
    auto writer = locks.acquire("cfg", exclusive(config.lease_ttl + 5s));
    CHECK(writer.fence() >= 1);
    CHECK(locks.status("cfg").holder->mode == lock::Mode::exclusive);
}

TEST_CASE_TEMPLATE("SIGSTOP of the holder: the waiter's deadline passes with the holder's pid", P, OfdFile, FlockFile,
                   BoostFile, lock::Table) {
    test::TempDir dir;
    Config config = file_config(dir);
    config.lease_ttl = 10s;
    auto other = holder<P>(config, "job");
    other.signal(SIGSTOP);
    P locks(config);
    const auto message = message_of<lock_timeout_error>([&] { locks.acquire("job", exclusive(200ms)); });
    CHECK(message.find("held by pid " + std::to_string(other.pid()) + " ") != std::string::npos);
}

TEST_CASE_TEMPLATE("another descriptor and a second lock object in the holder's process do not release it", P, OfdFile,
                   FlockFile, BoostFile) {
    test::TempDir dir;
    Config config = file_config(dir);
    P first(config);
    auto held = first.acquire("job", exclusive(1s));
    {
        P second(config); // a second policy object on the same database
        CHECK(second.status("job").held);
        CHECK(second.acquire("other", exclusive(1s)).owns_lock()); // taken and released
        std::thread waiter([&] { CHECK_THROWS_AS(second.acquire("job", exclusive(20ms)), lock_timeout_error); });
        waiter.join();
    }
    if constexpr (!std::is_same_v<P, BoostFile>) {
        // fcntl record locks (the Boost mechanism) are dropped by any close in the process; OFD
        // and flock locks belong to their own open file description.
        const int fd = ::open(first.lock_path("job").c_str(), O_RDWR | O_CLOEXEC);
        REQUIRE(fd >= 0);
        ::close(fd);
    }
    test::Process child({PERSIST_LOCK_HELPER, helper_policy<P>(), config.db_path, "job", "try", "100"});
    CHECK(child.line().starts_with("timeout "));
    CHECK(child.wait() == 3);
}

TEST_CASE_TEMPLATE("the lock file is never deleted; an exec'd or forked child does not keep the lock", P, OfdFile, FlockFile,
                   BoostFile) {
    test::TempDir dir;
    Config config = file_config(dir);
    P locks(config);
    const std::string path = locks.lock_path("job");
    { auto guard = locks.acquire("job", exclusive(1s)); }
    struct stat before {};
    REQUIRE(::stat(path.c_str(), &before) == 0);
    for (const char* command : {"hold-exec", "hold-fork"}) {
        std::string line;
        auto other = holder<P>(config, "job", command, 60'000, &line);
        const pid_t grandchild = std::stoi(line.substr(line.find(" child ") + 7));
        other.signal(SIGKILL); // its child lives on with the inherited descriptor
        other.wait();
        CHECK_MESSAGE(locks.acquire("job", exclusive(100ms)).owns_lock(), command);
        CHECK(::kill(grandchild, 0) == 0); // it was alive all along
        ::kill(grandchild, SIGKILL);
    }
    struct stat after {};
    REQUIRE(::stat(path.c_str(), &after) == 0);
    CHECK(after.st_ino == before.st_ino);
    CHECK((after.st_mode & 0777) == 0600);
}

TEST_CASE_TEMPLATE("fork(): the child neither holds nor can release the parent's lock", P, OfdFile, FlockFile, BoostFile,
                   lock::Table) {
    test::TempDir dir;
    Config config = file_config(dir);
    config.lease_ttl = 5s;
    P locks(config);
    auto guard = locks.acquire("job", exclusive(1s));
    int released[2];
    REQUIRE(::pipe(released) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        int code = 0;
        try {
            locks.acquire("job", exclusive(100ms));
            code = 1; // the child must not get the parent's lock
        } catch (const lock_timeout_error&) {
            if (is_table<P>) code = 5;
        } catch (const usage_error& e) {
            // lock::Table's database connection must not cross fork(): it says so.
            if (!is_table<P> || !std::string(e.what()).ends_with(" after fork(); create a new one (or a new Store) in the child"))
                code = 6;
        } catch (...) {
            code = 2;
        }
        guard = {}; // releasing in the child must do nothing
        char byte;
        if (code == 0 && ::read(released[0], &byte, 1) == 1 && !is_table<P>) {
            // Once the parent lets go, the child competes like any other process.
            try {
                if (!locks.acquire("job", exclusive(2s)).owns_lock()) code = 3;
            } catch (...) {
                code = 4;
            }
        }
        ::_exit(code);
    }
    test::Process probe({PERSIST_LOCK_HELPER, helper_policy<P>(), config.db_path, "job", "try", "300"});
    CHECK(probe.line().starts_with("timeout ")); // still held by this process
    guard = {};
    REQUIRE(::write(released[1], "x", 1) == 1);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WEXITSTATUS(status) == 0);
    ::close(released[0]);
    ::close(released[1]);
    test::Process taker({PERSIST_LOCK_HELPER, helper_policy<P>(), config.db_path, "job", "try", "1000"});
    CHECK(taker.line().starts_with("acquired"));
}

TEST_CASE_TEMPLATE("a damaged holder record is not reported as a holder", P, OfdFile, FlockFile, BoostFile) {
    test::TempDir dir;
    Config config = file_config(dir);
    auto other = holder<P>(config, "job");
    P locks(config);
    {
        std::ofstream record(locks.lock_path("job") + ".holder", std::ios::binary | std::ios::trunc);
        record << "4242\nforged-host\n0\nexclusive\n\n12345\n";
    }
    const auto status = locks.status("job");
    CHECK(status.held);
    CHECK_FALSE(status.holder.has_value());
    CHECK(message_of<lock_timeout_error>([&] { locks.acquire("job", exclusive(20ms)); }).find("held by an unknown holder") !=
          std::string::npos);
}

TEST_CASE("lock::Table: 100 processes race for one expired lease; exactly one wins") {
    test::TempDir dir;
    Config config = file_config(dir);
    config.lease_ttl = 100ms;
    {
        auto other = holder<lock::Table>(config, "leader");
        other.signal(SIGKILL);
    }
    lock::Table probe(config);
    REQUIRE(test::wait_for([&] { return !probe.status("leader").held; })); // the dead holder's lease expired
    std::vector<test::Process> racers;
    for (int i = 0; i < 100; ++i)
        racers.emplace_back(std::vector<std::string>{PERSIST_LOCK_HELPER, "table", config.db_path, "leader", "race"},
                            std::vector<std::string>{"LEASE_TTL_MS=10000"});
    test::TempDir unused;
    { std::ofstream go(config.db_path + ".go"); }
    int won = 0, lost = 0;
    for (auto& racer : racers) {
        const auto line = racer.line(60s);
        won += line == "won";
        lost += line == "lost";
    }
    CHECK(won == 1);
    CHECK(lost == 99);
}

TEST_CASE("lock::Table: a holder paused past its lease can neither release nor write with its fence") {
    test::TempDir dir;
    Config config = file_config(dir);
    config.lease_ttl = 300ms;
    {
        Store<sqlite::Backend> setup(for_policy<OfdFile>(config));
        setup.write([](auto& tx) {
            tx.execute("CREATE TABLE data (v TEXT)");
            tx.execute("INSERT INTO data VALUES ('original')");
        });
    }
    auto stale = holder<lock::Table>(config, "leader", "fenced", 1'000);
    stale.signal(SIGSTOP);
    lock::Table probe(config);
    REQUIRE(test::wait_for([&] { return !probe.status("leader").held; })); // past its lease; its renewal is stopped too
    Config mine = config;
    mine.lease_ttl = 10s;
    Store<sqlite::Backend, lock::Table> store(mine);
    auto guard = store.locks().acquire("leader", exclusive(1s));
    CHECK(guard.fence() == 2);
    stale.signal(SIGCONT);
    CHECK(stale.line() == "fenced-write 0");
    CHECK(stale.line() == "released");
    const auto status = store.lock_status("leader");
    CHECK(status.held);
    CHECK(status.holder->pid == ::getpid());
    CHECK(store.read([](auto& tx) { return tx.template query<std::string>("SELECT v FROM data"); }) ==
          std::vector<std::string>{"original"});
    // The current holder's fenced write does go through.
    CHECK(store.write([&](auto& tx) {
        return tx.execute("UPDATE data SET v = 'current' WHERE " + std::string(lock::Table::fence_condition), "leader",
                          guard.owner(), guard.fence());
    }) == 1);
}

TEST_CASE("force_unlock: breaks a lease; refuses OS and in-process locks with the reason") {
    test::TempDir dir;
    Config config = file_config(dir);
    config.lease_ttl = 10s;
    SUBCASE("table") {
        std::vector<Event> events;
        config.on_event = [&](const Event& event) { events.push_back(event); };
        auto other = holder<lock::Table>(config, "job");
        other.signal(SIGSTOP);
        Store<sqlite::Backend, lock::Table> store(config);
        store.force_unlock("job");
        CHECK_FALSE(store.lock_status("job").held);
        REQUIRE_FALSE(events.empty());
        CHECK(events.back().message.starts_with("forced lock 'job' free; it was held by pid " + std::to_string(other.pid())));
        CHECK(store.with_lock("job", [] { return true; }, {lock::Mode::exclusive, 100ms, ""}));
    }
    SUBCASE("file") {
        auto other = holder<OfdFile>(config, "job");
        Store<sqlite::Backend, OfdFile> store(for_policy<OfdFile>(config));
        const auto pid = std::to_string(other.pid());
        const auto message = message_of<usage_error>([&] { store.force_unlock("job"); });
        CHECK(message.starts_with("lock 'job' is an operating-system lock held by pid " + pid));
        CHECK(message.ends_with("; it cannot be forced: the kernel releases it when that process exits. If pid " + pid +
                                " is hung, stop it (kill " + pid + ")"));
        store.force_unlock("free-one"); // a free lock: nothing to do
    }
    SUBCASE("in-process") {
        Store<sqlite::Backend, lock::InProcess> store(for_policy<lock::InProcess>(config));
        auto held = store.locks().acquire("job", exclusive(1s, "testing"));
        CHECK(message_of<usage_error>([&] { store.force_unlock("job"); })
                  .ends_with("(exclusive, purpose: testing); it cannot be forced: it is released when that thread's guard ends"));
    }
}
