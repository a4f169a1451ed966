// Lock policies: behaviour shared by all policies once, then what is specific to each.
#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite.hpp>

#include <atomic>
#include <thread>

using namespace persist;
using namespace std::chrono_literals;

namespace {
Config memory() {
    Config config;
    config.db_path = ":memory:";
    return config;
}
auto in(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }
} // namespace

TEST_CASE_TEMPLATE("with_lock runs the function and returns its value", Policy, lock::None, lock::InProcess) {
    Store<sqlite::Backend, Policy> store(memory());
    CHECK(store.with_lock("job", [] { return 42; }) == 42);
    CHECK(store.with_lock("job", [] { return std::string("shared"); }, lock::Mode::shared) == "shared");
    // Released afterwards: taking it again does not wait.
    CHECK(store.with_lock("job", [] { return 1; }, lock::Mode::exclusive, 10ms) == 1);
}

TEST_CASE("lock::None never waits") {
    lock::None none(memory());
    auto first = none.acquire("x", lock::Mode::exclusive, in(0ms));
    auto second = none.acquire("x", lock::Mode::exclusive, in(0ms));
    (void)first;
    (void)second;
}

TEST_CASE("lock::InProcess: exclusive excludes, with a lock_timeout_error at the deadline") {
    Config config = memory();
    lock::InProcess locks(config);
    auto held = locks.acquire("migrate", lock::Mode::exclusive, in(1s));
    CHECK(held.owns_lock());
    std::string message;
    std::thread other([&] {
        try {
            locks.acquire("migrate", lock::Mode::shared, in(50ms));
        } catch (const lock_timeout_error& e) {
            CHECK(e.retriable());
            CHECK(e.code() == errc::lock_timeout);
            message = e.what();
        }
    });
    other.join();
    CHECK(message.starts_with("shared lock \"migrate\" was not granted within "));
    CHECK(message.ends_with(" ms: another thread of this process holds it; let it finish or give a longer timeout"));
    // Other names are independent.
    auto unrelated = locks.acquire("backup", lock::Mode::exclusive, in(0ms));
    CHECK(unrelated.owns_lock());
}

TEST_CASE("lock::InProcess: shared holders coexist; exclusive waits for them") {
    lock::InProcess locks(memory());
    auto reader1 = locks.acquire("cfg", lock::Mode::shared, in(1s));
    auto reader2 = locks.acquire("cfg", lock::Mode::shared, in(1s));
    CHECK_THROWS_AS(locks.acquire("cfg", lock::Mode::exclusive, in(20ms)), lock_timeout_error);
    std::atomic<bool> granted{false};
    std::thread writer([&] {
        auto guard = locks.acquire("cfg", lock::Mode::exclusive, in(5s));
        granted = true;
    });
    reader1 = {};
    CHECK_FALSE(granted.load());
    reader2 = {};
    writer.join();
    CHECK(granted);
}

TEST_CASE("lock::InProcess: two Stores on one database share locks; other databases do not") {
    Config a;
    a.db_path = "/tmp/persist-lock-test-a.db";
    Config b;
    b.db_path = "/tmp/persist-lock-test-b.db";
    lock::InProcess first(a), second(a), elsewhere(b);
    auto held = first.acquire("migrate", lock::Mode::exclusive, in(1s));
    std::thread other([&] {
        CHECK_THROWS_AS(second.acquire("migrate", lock::Mode::exclusive, in(20ms)), lock_timeout_error);
        CHECK(elsewhere.acquire("migrate", lock::Mode::exclusive, in(20ms)).owns_lock());
    });
    other.join();
}

TEST_CASE("Store::with_lock reports the timeout and does not run the function") {
    Store<sqlite::Backend, lock::InProcess> store(memory());
    auto held = store.locks().acquire("job", lock::Mode::exclusive, in(1s));
    bool ran = false;
    std::thread other([&] {
        CHECK_THROWS_AS(store.with_lock("job", [&] { ran = true; }, lock::Mode::exclusive, 20ms), lock_timeout_error);
    });
    other.join();
    CHECK_FALSE(ran);
}
