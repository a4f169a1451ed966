// Group commit (Config::group_commit): writes that arrive while another runs share its
// transaction and its COMMIT, and each keeps its own outcome: its function's exception, a
// constraint error at COMMIT, a rerun when another member made SQLite roll back, outcome
// unknown when the COMMIT failed.
#include "posix_faults.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <sqlite3.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace persist;
using namespace std::chrono_literals;

namespace {

struct Refused {}; // what a test's own function throws (persist's errors are runtime_errors)

// A store whose "joining" events are counted, and a table t(id, v).
struct GroupFixture {
    test::TempDir dir;
    std::atomic<int> joined{0};
    std::atomic<int> retries{0};
    std::mutex retry_messages_mutex;
    std::vector<std::string> retry_messages;
    Config config;
    std::optional<Store<sqlite::Backend>> store;

    explicit GroupFixture(Durability durability = Durability::normal, bool group = true) {
        config = Config::for_app("group-test");
        config.db_path = dir / "app.db";
        config.durability = durability;
        config.group_commit = group;
        config.on_event = [this](const Event& event) {
            if (event.kind == Event::Kind::wait && event.message.find("(group commit)") != std::string::npos) ++joined;
            if (event.kind == Event::Kind::retry) {
                ++retries;
                std::lock_guard lock(retry_messages_mutex);
                retry_messages.push_back(event.message);
            }
        };
        store.emplace(config);
        store->write([](auto& tx) { tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"); });
    }

    // Rows committed, as a connection of its own sees them (not persist's).
    std::int64_t committed() const {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open_v2(config.db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
        sqlite3_stmt* statement = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &statement, nullptr) == SQLITE_OK);
        REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
        const auto count = sqlite3_column_int64(statement, 0);
        sqlite3_finalize(statement);
        sqlite3_close(db);
        return count;
    }

    std::int64_t count(const std::string& where = "1") {
        return store->read([&](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM t WHERE " + where)[0]; });
    }

    // Runs `members` on threads of their own while the leader's write is running; the
    // leader's function returns once all of them wait to join it, then `leader_tail` runs.
    template <class LeaderTail>
    void with_members(std::vector<std::function<void()>> members, LeaderTail leader_tail) {
        std::vector<std::thread> threads;
        struct Join { // also when the leader's write throws
            std::vector<std::thread>& threads;
            ~Join() {
                for (auto& thread : threads) thread.join();
            }
        } join{threads};
        store->write([&](auto& tx) {
            tx.execute("INSERT INTO t (id, v) VALUES (1, 'leader')");
            for (auto& member : members) threads.emplace_back(member);
            REQUIRE(test::wait_for([&] { return joined.load() == static_cast<int>(members.size()); }));
            leader_tail();
        });
    }
};

} // namespace

TEST_CASE("writes that arrive while another runs join its transaction and commit with it") {
    GroupFixture fixture;
    std::atomic<int> saw_leader_uncommitted{0};
    std::vector<std::function<void()>> members;
    for (int id = 2; id <= 4; ++id)
        members.emplace_back([&, id] {
            fixture.store->write([&](auto& tx) {
                // Inside the leader's transaction: its row is there, and not yet committed.
                if (tx.template query<std::int64_t>("SELECT count(*) FROM t WHERE id = 1")[0] == 1 && fixture.committed() == 0)
                    ++saw_leader_uncommitted;
                tx.execute("INSERT INTO t (id, v) VALUES (?, 'member')", id);
            });
        });
    fixture.with_members(members, [] {});
    CHECK(saw_leader_uncommitted == 3);
    CHECK(fixture.committed() == 4);
}

TEST_CASE("without group commit every write commits alone") {
    GroupFixture fixture(Durability::normal, false);
    std::atomic<bool> waiting{false};
    fixture.store.reset();
    fixture.config.on_event = [&](const Event& event) {
        if (event.kind == Event::Kind::wait && event.message.find("waiting for the writer connection") != std::string::npos)
            waiting = true;
    };
    fixture.store.emplace(fixture.config);
    std::int64_t seen_committed = -1;
    std::thread other;
    fixture.store->write([&](auto& tx) {
        tx.execute("INSERT INTO t (id, v) VALUES (1, 'first')");
        other = std::thread([&] {
            fixture.store->write([&](auto& tx2) {
                seen_committed = fixture.committed();
                tx2.execute("INSERT INTO t (id, v) VALUES (2, 'second')");
            });
        });
        REQUIRE(test::wait_for([&] { return waiting.load(); }));
    });
    other.join();
    CHECK(seen_committed == 1); // the first write had committed before the second began
    CHECK(fixture.committed() == 2);
}

TEST_CASE("a member whose function throws is rolled back alone and gets its exception unchanged") {
    GroupFixture fixture;
    std::string thrown;
    std::vector<std::function<void()>> members{
        [&] {
            try {
                fixture.store->write([](auto& tx) {
                    tx.execute("INSERT INTO t (id, v) VALUES (2, 'thrower')");
                    throw std::runtime_error("the member's own failure");
                });
            } catch (const std::runtime_error& e) {
                thrown = e.what();
            }
        },
        [&] { fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (3, 'member')"); }); }};
    fixture.with_members(members, [] {});
    CHECK(thrown == "the member's own failure");
    CHECK(fixture.count("id = 2") == 0);
    CHECK(fixture.count("id IN (1, 3)") == 2);
}

TEST_CASE("a member that leaves a deferred foreign key unresolved gets COMMIT's constraint error, alone") {
    GroupFixture fixture;
    fixture.store->write([](auto& tx) {
        tx.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)");
        tx.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)");
    });
    std::string message;
    std::vector<std::function<void()>> members{
        [&] {
            message = test::message_of<constraint_error>([&] {
                fixture.store->write([](auto& tx) { tx.execute("INSERT INTO child (id, parent) VALUES (1, 42)"); });
            });
        },
        [&] { fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (3, 'member')"); }); }};
    fixture.with_members(members, [] {});
    CHECK(message == "constraint FOREIGN KEY rejected the write (FOREIGN KEY constraint failed) [COMMIT]; check the values, or "
                     "use an upsert for rows that may exist");
    CHECK(fixture.store->read([](auto& tx) { return tx.template query<std::int64_t>("SELECT count(*) FROM child")[0]; }) == 0);
    CHECK(fixture.count("id IN (1, 3)") == 2);
}

TEST_CASE("a member whose error makes SQLite roll back the whole transaction: the others run again and commit") {
    GroupFixture fixture;
    fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (100, 'old')"); });
    std::atomic<int> member_runs{0};
    std::vector<std::function<void()>> members{
        [&] {
            // A conflict clause of ROLLBACK ends the whole transaction, the leader's row with it.
            CHECK_THROWS_AS(fixture.store->write([](auto& tx) { tx.execute("INSERT OR ROLLBACK INTO t (id, v) VALUES (100, 'x')"); }),
                            constraint_error);
        },
        [&] {
            fixture.store->write([&](auto& tx) {
                ++member_runs;
                tx.execute("INSERT INTO t (id, v) VALUES (3, 'member')");
            });
        }};
    int leader_runs = 0;
    std::vector<std::thread> threads;
    fixture.store->write([&](auto& tx) {
        ++leader_runs;
        tx.execute("INSERT INTO t (id, v) VALUES (1, 'leader')");
        if (leader_runs == 1) {
            for (auto& member : members) threads.emplace_back(member);
            REQUIRE(test::wait_for([&] { return fixture.joined.load() == 2; }));
        }
    });
    for (auto& thread : threads) thread.join();
    CHECK(fixture.count("id IN (1, 3, 100)") == 3);
    CHECK(fixture.count("v = 'x'") == 0);
    // The leader always runs again; the other member too if it had run before the failing one.
    CHECK(leader_runs == 2);
    CHECK(member_runs >= 1);
    REQUIRE(fixture.retries >= 1);
    // The leader learns it from the transaction; a member that had run, from the leader.
    const std::string rolled_back = "store.write() retrying: database " + fixture.config.db_path +
                                    ": the transaction this write shared with others (group commit) was rolled back by "
                                    "the backend after an error in one of them; running it again";
    const std::string not_committed = "store.write() retrying: database " + fixture.config.db_path +
                                      ": the transaction this write shared with others (group commit) was not committed, "
                                      "through no fault of this write; running it again";
    for (const auto& message : fixture.retry_messages) CHECK((message == rolled_back || message == not_committed));
    CHECK(std::count(fixture.retry_messages.begin(), fixture.retry_messages.end(), rolled_back) == 1);
    CHECK(std::count(fixture.retry_messages.begin(), fixture.retry_messages.end(), not_committed) == member_runs - 1);
}

TEST_CASE("a group is at most 64 writes besides the leader; the next write waits for the next group until its deadline") {
    GroupFixture fixture;
    fixture.store.reset();
    fixture.config.busy_timeout = std::chrono::milliseconds(2000);
    fixture.store.emplace(fixture.config);
    constexpr int writers = 65;
    std::mutex messages_mutex;
    std::vector<std::string> messages;
    std::vector<std::thread> threads;
    const auto writer = [&] {
        const auto message = test::message_of<busy_error>(
            [&] { fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (v) VALUES ('late')"); }); });
        std::lock_guard lock(messages_mutex);
        messages.push_back(message);
    };
    fixture.store->write([&](auto&) {
        for (int i = 0; i < writers - 1; ++i) threads.emplace_back(writer);
        REQUIRE(test::wait_for([&] { return fixture.joined.load() == writers - 1; }));
        threads.emplace_back(writer); // the queue is full: this one waits for the next group
        // The leader holds its group open until every other write gave up.
        REQUIRE(test::wait_for([&] {
            std::lock_guard lock(messages_mutex);
            return messages.size() == writers;
        }));
    });
    for (auto& thread : threads) thread.join();
    const auto with = [&](const std::string& text) {
        return std::count_if(messages.begin(), messages.end(),
                             [&](const std::string& m) { return m.find(text) != std::string::npos; });
    };
    CHECK(with("Last cause: the write transaction of another thread of this process, which this write was waiting to "
               "join (group commit), did not reach it before the deadline") == 64);
    CHECK(with("Last cause: the write transactions of other threads of this process held the writer until the deadline") == 1);
    CHECK(fixture.count() == 0);
}

TEST_CASE("a statement after SQLite rolled the write transaction back is refused, and nothing commits") {
    GroupFixture fixture(Durability::normal, false);
    fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (100, 'old')"); });
    const auto message = test::message_of<transaction_aborted>([&] {
        fixture.store->write([](auto& tx) {
            tx.execute("INSERT INTO t (id, v) VALUES (1, 'before')");
            try {
                tx.execute("INSERT OR ROLLBACK INTO t (id, v) VALUES (100, 'x')");
            } catch (const constraint_error&) {
                // swallowed: the transaction is gone, and the next statement must not autocommit
            }
            tx.execute("INSERT INTO t (id, v) VALUES (2, 'after')");
        });
    });
    CHECK(message == "SQLite rolled this write transaction back after an earlier statement in it failed (a full disk, an I/O "
                     "error, or a conflict clause of ROLLBACK), and fn went on; nothing of it will be committed and this "
                     "statement was not run [INSERT INTO t (id, v) VALUES (2, 'after')]. Let the error propagate: the Store "
                     "reports it");
    CHECK(fixture.count() == 1);
}

TEST_CASE("the leader's function throws: the writes that queued behind it still commit") {
    GroupFixture fixture;
    std::vector<std::thread> threads;
    CHECK_THROWS_WITH_AS(fixture.store->write([&](auto& tx) {
        tx.execute("INSERT INTO t (id, v) VALUES (1, 'leader')");
        for (int id = 2; id <= 3; ++id)
            threads.emplace_back([&, id] {
                fixture.store->write([id](auto& member) { member.execute("INSERT INTO t (id, v) VALUES (?, 'member')", id); });
            });
        REQUIRE(test::wait_for([&] { return fixture.joined.load() == 2; }));
        throw std::logic_error("the leader's own failure");
    }), "the leader's own failure", std::logic_error);
    for (auto& thread : threads) thread.join();
    CHECK(fixture.count("id = 1") == 0);
    CHECK(fixture.count("id IN (2, 3)") == 2);
}

TEST_CASE("a COMMIT that fails reaches every write of the group as outcome unknown") {
    using namespace test::posix_faults;
    GroupFixture fixture(Durability::full);
    std::atomic<int> unknown{0};
    std::vector<std::function<void()>> members;
    for (int id = 2; id <= 3; ++id)
        members.emplace_back([&, id] {
            try {
                fixture.store->write([id](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (?, 'member')", id); });
            } catch (const commit_outcome_unknown& e) {
                if (std::string(e.what()).find("may or may not be committed") != std::string::npos) ++unknown;
            }
        });
    try {
        fixture.with_members(members, [] { fsync_fault.arm(1); });
        FAIL("the failed COMMIT was reported as success");
    } catch (const commit_outcome_unknown&) {
        ++unknown;
    }
    fsync_fault.arm(0);
    CHECK(unknown == 3);
    // The store goes on with a new writer.
    fixture.store->write([](auto& tx) { tx.execute("INSERT INTO t (id, v) VALUES (10, 'after')"); });
    CHECK(fixture.count("id = 10") == 1);
}

TEST_CASE("many threads writing at once: every acknowledged write is there, and no failed one") {
    GroupFixture fixture;
    constexpr int threads_count = 8, writes = 60;
    std::vector<std::thread> threads;
    std::atomic<int> acknowledged{0};
    for (int t = 0; t < threads_count; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < writes; ++i) {
                const int id = 1000 + t * writes + i;
                try {
                    fixture.store->write([&](auto& tx) {
                        tx.execute("INSERT INTO t (id, v) VALUES (?, 'row')", id);
                        if (i % 7 == 3) throw Refused{};
                    });
                    ++acknowledged;
                } catch (const Refused&) {
                }
            }
        });
    for (auto& thread : threads) thread.join();
    CHECK(fixture.count("id >= 1000") == acknowledged.load());
    CHECK(fixture.count("id >= 1000 AND (id - 1000) % 60 % 7 = 3") == 0);
}
