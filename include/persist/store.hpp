// persist/store.hpp: Store<Backend, LockPolicy>, the object an application keeps.
#pragma once

#include "persist/detail/process.hpp"
#include "persist/backend.hpp"
#include "persist/detail/checks.hpp"
#include "persist/detail/group_commit.hpp"
#include "persist/config.hpp"
#include "persist/error.hpp"
#include "persist/lock/none.hpp"
#include "persist/lock/policy.hpp"
#include "persist/detail/random.hpp"
#include "persist/settings.hpp"
#include "persist/transaction.hpp"

#include <algorithm>
#include <chrono>
#include <concepts>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <utility>
#include <vector>

namespace persist {

/// How Store::with_lock takes its lock.
struct LockOptions {
    lock::Mode mode = lock::Mode::exclusive;
    /// How long to wait; Config::busy_timeout when empty.
    std::optional<std::chrono::milliseconds> timeout;
    /// What the holder is doing, shown by lock_status() and in waiters' messages.
    std::string purpose;
};

namespace detail {
/// Stores with a transaction open on this thread, to refuse nested transactions.
inline thread_local std::vector<const void*> open_transactions;

struct TransactionScope {
    explicit TransactionScope(const void* store) { open_transactions.push_back(store); }
    ~TransactionScope() { open_transactions.pop_back(); }
    TransactionScope(const TransactionScope&) = delete;
    TransactionScope& operator=(const TransactionScope&) = delete;
};
/// A backend's default lock policy (Backend::default_lock_policy), or lock::None for a
/// backend that names none.
template <class B>
struct default_lock_policy {
    using type = lock::None;
};
template <class B>
    requires requires { typename B::default_lock_policy; }
struct default_lock_policy<B> {
    using type = typename B::default_lock_policy;
};
} // namespace detail

/// A database plus a lock policy: by default the backend's (SQLite: lock::File<lock::Ofd>,
/// processes on this machine; PostgreSQL: postgres::AdvisoryLock, processes on every host).
///
/// Thread-safety: one Store may be shared by any number of threads; how the connections are
/// shared is the backend's business (SQLite: one writer connection, pooled readers).
/// A Store must not be used in a child process after fork(): every call there throws
/// usage_error, and destroying it there leaks its connections instead of closing them (which
/// could disturb the parent's locks). SQLite's own bookkeeping of locks is per process and
/// is inherited by the child, so a child should not open the same database either unless
/// it forked before the parent opened it, or exec()s first.
template <Backend B, lock::LockPolicy L = typename detail::default_lock_policy<B>::type>
class Store {
public:
    using backend_type = B;
    using lock_policy = L;
    using write_transaction = typename B::write_transaction;
    using read_transaction = typename B::read_transaction;

    /// Opens (and on first run creates) the database `config` describes.
    /// Throws config_error (also for a setting neither B nor L reads: see persist/settings.hpp,
    /// and for a duration that is negative or over 365 days), permission_error, corrupt_error,
    /// io_error, connection_error.
    explicit Store(Config config = {})
        : config_(checked(std::move(config))), owner_pid_(persist::detail::current_pid()), backend_(config_), locks_(config_) {}

    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    ~Store() {
        if (persist::detail::current_pid() != owner_pid_) backend_.abandon();
    }

    /// Runs `fn(tx)` in one write transaction and commits; returns what `fn` returns.
    ///
    /// If the database is busy (another writer holds it), the whole transaction is rolled
    /// back and run again, with exponential backoff and jitter, until Config::busy_timeout
    /// has passed since the call began; so `fn` may run more than once and must not have
    /// effects outside the transaction that cannot be repeated. Each retry is reported as an
    /// Event::Kind::retry.
    /// With a backend that groups commits (SQLite, Config::group_commit, on by default), a
    /// write that starts while another runs joins its transaction: `fn` then runs in a savepoint
    /// of its own, possibly on the other write's thread, and write() returns once the shared
    /// COMMIT did (see docs/getting-started.md, "Group commit").
    /// Throws busy_error when the deadline passes; any exception from `fn` rolls the
    /// transaction back (under group commit: `fn`'s own changes) and propagates unchanged;
    /// commit_outcome_unknown when COMMIT failed after the backend ended the transaction;
    /// usage_error when called inside another transaction of this Store on the same thread,
    /// or after fork().
    template <class Fn>
    auto write(Fn&& fn) {
        if constexpr (detail::check_transaction_function<Fn, write_transaction>())
            return run_typed<true>(false, std::nullopt, fn);
    }

    /// write(fn) at isolation level `isolation` (see persist::Isolation): on PostgreSQL,
    /// Isolation::serializable runs the transaction SERIALIZABLE, and a serialization failure
    /// runs it again like a busy database. SQLite's writes are always serializable.
    template <class Fn>
    auto write(Isolation isolation, Fn&& fn) {
        if constexpr (detail::check_transaction_function<Fn, write_transaction>())
            return run_typed<true>(false, isolation, fn);
    }

    /// Runs `fn(tx)` in one read transaction: every query in it sees the same snapshot.
    /// Batch lookups into one read() rather than one read() each: a transaction per lookup
    /// costs far more than the lookup. Retries like write() (rarely needed in WAL mode).
    /// Throws like write(); usage_error if `fn` tries to write.
    template <class Fn>
    auto read(Fn&& fn) {
        if constexpr (detail::check_transaction_function<Fn, read_transaction>())
            return run_typed<false>(false, std::nullopt, fn);
    }

    /// read(fn) for a function that runs exactly one statement: a point lookup such as
    /// tx.query_one(...) or schema::get<T>(tx, key). On SQLite the statement runs without
    /// BEGIN and COMMIT, as its own implicit read transaction (SQLite's autocommit): two
    /// statement executions fewer per lookup, and still a consistent snapshot, since one
    /// statement always reads one. On PostgreSQL it runs as read(fn) does (a READ ONLY
    /// transaction, which keeps the statement from writing), with BEGIN, the statement and
    /// COMMIT in one round trip. On both, a second statement throws usage_error; otherwise it
    /// throws like read(fn).
    template <class Fn>
    auto read(single_statement_t, Fn&& fn) {
        if constexpr (detail::check_transaction_function<Fn, read_transaction>())
            return run_typed<false>(true, std::nullopt, fn);
    }

    /// Checks the database answers and is still the file that was opened; reopens the
    /// connections when that is safe (see the backend's health()). Never throws busy_error:
    /// a busy store reports ok=false. Throws usage_error after fork().
    Health health() {
        check_process();
        return backend_.health(std::chrono::steady_clock::now() + config_.busy_timeout);
    }

    /// Runs `fn()` while holding lock `name` of the lock policy, as `options` ask (mode,
    /// timeout — default Config::busy_timeout —, purpose shown to waiters). Returns what `fn`
    /// returns; the lock is released however `fn` ends.
    /// Throws lock_timeout_error naming the holder when the lock is not granted in time,
    /// usage_error for an invalid name or after fork(). With a policy whose guards can tell
    /// whether they still hold their lock (postgres::AdvisoryLock: its session may end), a lock
    /// lost while `fn` ran is reported after `fn` returns by the guard's check(), which throws.
    template <class Fn>
        requires std::invocable<Fn&>
    std::remove_cvref_t<std::invoke_result_t<Fn&>> with_lock(std::string_view name, Fn&& fn,
                                                             const LockOptions& options = {}) {
        check_process();
        if (options.timeout) persist::detail::check_wait<usage_error>("LockOptions::timeout", *options.timeout);
        [[maybe_unused]] auto guard = locks_.acquire(
            name, lock::Request{options.mode,
                                std::chrono::steady_clock::now() + options.timeout.value_or(config_.busy_timeout),
                                options.purpose});
        if constexpr (std::is_void_v<std::invoke_result_t<Fn&>>) {
            fn();
            if constexpr (requires { guard.check(); }) guard.check();
        } else {
            auto result = fn();
            if constexpr (requires { guard.check(); }) guard.check();
            return result;
        }
    }

    /// Applies the pending migrations of `source` (include persist/migrate.hpp); `options`,
    /// if given, is a persist::migrate::Options. Returns a persist::migrate::Report. See
    /// persist::migrate::Migrator for status, plan, migrate_to, baseline and repair.
    template <class Source, class... Options>
    auto migrate(const Source& source, Options&&... options) {
        if constexpr (detail::check_migration_source<Source>())
            return run_migrations(*this, source, std::forward<Options>(options)...);
    }

    /// Whether lock `name` is held, and by whom when the policy can tell.
    lock::Status lock_status(std::string_view name) {
        check_process();
        return locks_.status(name);
    }

    /// Breaks lock `name` when the policy can (lock::Table); otherwise throws usage_error that
    /// explains who releases it (for OS locks: the kernel, when the named pid exits).
    void force_unlock(std::string_view name) {
        check_process();
        locks_.force_unlock(name);
    }

    /// Acquisitions, contended acquisitions, timeouts, total and longest wait, per lock name.
    lock::Stats lock_stats() const { return locks_.stats(); }

    /// The configuration the Store was opened with.
    const Config& config() const noexcept { return config_; }
    /// Where the data lives (a file path, ":memory:", or a server description).
    std::string path() const { return backend_.path(); }
    /// The backend, for backend-specific operations.
    B& backend() noexcept { return backend_; }
    /// The lock policy instance.
    L& locks() noexcept { return locks_; }

private:
    using Clock = std::chrono::steady_clock;
    using write_session = decltype(std::declval<B&>().write_session(Deadline{}));
    static constexpr bool groupable = detail::GroupableSession<write_session>;
    using Group = std::conditional_t<groupable, detail::GroupCommit<write_session>, detail::NoGroupCommit>;

    void check_process() const {
        if (persist::detail::current_pid() != owner_pid_)
            throw usage_error("this Store was opened in process " + std::to_string(owner_pid_) +
                              " and is being used in process " + std::to_string(persist::detail::current_pid()) +
                              " after fork(); database connections must not cross fork(). Fork "
                              "before opening the Store, or exec() in the child and open a Store there");
    }

    void check_not_nested(const char* what) const {
        const auto& open = detail::open_transactions;
        if (std::find(open.begin(), open.end(), static_cast<const void*>(this)) != open.end())
            throw usage_error(std::string("store.") + what +
                              "() was called inside another transaction of the same Store on this "
                              "thread; use the transaction object you already have (it can query "
                              "and, in a write, execute)");
    }

    void notify(const Event& event) const noexcept { persist::detail::notify(config_.on_event, event); }

    static Config checked(Config config) {
        persist::detail::check_waits(config);
        persist::detail::check_settings(config, persist::detail::settings_read_by<B>() | persist::detail::settings_read_by<L>(),
                                        B::name, L::name);
        return config;
    }

    /// A transaction function with its type erased: `call(context, tx)` runs it.
    template <class Tx>
    struct Body {
        void* context;
        void (*call)(void* context, Tx& tx);
    };

    // The only part of a transaction compiled per call site: `fn` behind a Body, and its
    // result. Everything else (retries, sessions, group commit) is in run(), compiled once
    // per Store type, so that each store.write(...) costs little to compile.
    template <bool Write, class Fn>
    auto run_typed(bool single_statement, std::optional<Isolation> isolation, Fn& fn) {
        using Tx = std::conditional_t<Write, write_transaction, read_transaction>;
        using Result = std::remove_cvref_t<std::invoke_result_t<Fn&, Tx&>>;
        // Fn may be const (a const lambda object): the context pointer drops that, the call restores it.
        if constexpr (std::is_void_v<Result>) {
            run<Write>(single_statement, isolation,
                       Body<Tx>{const_cast<void*>(static_cast<const void*>(&fn)),
                                [](void* context, Tx& tx) { (*static_cast<Fn*>(context))(tx); }});
        } else {
            struct Call {
                Fn& fn;
                std::optional<Result> result; // the last attempt's: the one that committed
            } call{fn, std::nullopt};
            run<Write>(single_statement, isolation, Body<Tx>{&call, [](void* context, Tx& tx) {
                           auto& c = *static_cast<Call*>(context);
                           c.result.emplace(c.fn(tx));
                       }});
            return std::move(*call.result);
        }
    }

    template <bool Write>
    auto open_session(Deadline deadline, [[maybe_unused]] std::optional<Isolation> isolation) {
        if constexpr (!Write)
            return backend_.read_session(deadline);
        else if constexpr (requires { backend_.write_session(deadline, Isolation{}); })
            return isolation ? backend_.write_session(deadline, *isolation) : backend_.write_session(deadline);
        else
            return backend_.write_session(deadline); // SQLite's writes are serializable anyway
    }

    template <bool Write>
    void run(bool single_statement, std::optional<Isolation> isolation,
             Body<std::conditional_t<Write, write_transaction, read_transaction>> body) {
        const char* what = Write ? "write" : "read";
        check_process();
        check_not_nested(what);
        detail::TransactionScope scope(this);
        const auto started = Clock::now();
        const auto deadline = started + config_.busy_timeout;
        for (int attempt = 1;; ++attempt) {
            try {
                if constexpr (Write && groupable)
                    if (config_.group_commit) return run_in_group(body, isolation, deadline);
                std::optional<typename L::guard> write_guard;
                if constexpr (Write) write_guard = guard_write(deadline);
                auto session = open_session<Write>(deadline, isolation);
                if (single_statement) {
                    if constexpr (!Write) session.begin_single_statement();
                } else {
                    session.begin();
                }
                body.call(body.context, session.transaction());
                session.commit();
                return;
            } catch (const busy_error& busy) {
                const auto now = Clock::now();
                const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - started);
                if (now >= deadline)
                    throw busy_error("database " + backend_.path() + " stayed busy for " +
                                         std::to_string(waited.count()) + " ms over " +
                                         std::to_string(attempt) + " attempt(s) of store." + what +
                                         "() (busy_timeout " +
                                         std::to_string(config_.busy_timeout.count()) +
                                         " ms). Last cause: " + busy.what() +
                                         ". " + backend_.busy_advice(),
                                     busy.native_code());
                notify({Event::Kind::retry,
                        std::string("store.") + what + "() retrying: " + busy.what(), attempt, waited});
                std::this_thread::sleep_for(std::min<Clock::duration>(backoff(attempt), deadline - now));
            }
        }
    }

    // With guard_writes, writers queue on the lock policy (a hand-off in microseconds with
    // lock::File) rather than in SQLite's sleeping busy handler.
    std::optional<typename L::guard> guard_write(Deadline deadline) {
        if (!config_.guard_writes) return std::nullopt;
        try {
            return locks_.acquire("persist.write", lock::Request{lock::Mode::exclusive, deadline, "write transaction"});
        } catch (const lock_timeout_error& timeout) {
            throw busy_error("database " + backend_.path() + ": store.write() could not start within busy_timeout (" +
                                 std::to_string(config_.busy_timeout.count()) + " ms): the write guard " + timeout.what(),
                             timeout.native_code());
        }
    }

    // One attempt of a write under group commit (persist/detail/group_commit.hpp): as the
    // leader, which opens the transaction, runs `fn`, runs the functions of the writes that
    // queued meanwhile and commits; or as a member, whose `fn` a leader runs. Throws
    // busy_error for a write that must run again.
    void run_in_group(Body<write_transaction> body, std::optional<Isolation> isolation, Deadline deadline) {
        typename Group::Member me;
        me.run = body.call;
        me.context = body.context;
        if (group_.enter(me, deadline, [&] {
                notify({Event::Kind::wait, "joining the write transaction in progress on " + backend_.path() + " (group commit)"});
            }) == Group::Role::member) {
            if (me.outcome == Group::Member::Outcome::failed) std::rethrow_exception(me.failure);
            if (me.outcome == Group::Member::Outcome::rerun)
                throw busy_error("database " + backend_.path() + ": the transaction this write shared with others (group "
                                 "commit) was not committed, through no fault of this write; running it again");
        } else {
            struct Abandon { // until the members have run: the queue goes on without this leader
                Group& group;
                bool armed = true;
                ~Abandon() {
                    if (armed) group.abandon();
                }
            } abandon{group_};
            [[maybe_unused]] auto write_guard = guard_write(deadline); // held until the COMMIT returned
            auto session = open_session<true>(deadline, isolation);
            session.begin();
            body.call(body.context, session.transaction());
            abandon.armed = false;
            if (!group_.serve(session)) {
                group_.finish_rerun();
                throw busy_error("database " + backend_.path() + ": the transaction this write shared with others (group "
                                 "commit) was rolled back by the backend after an error in one of them; running it again");
            }
            try {
                session.commit();
            } catch (const commit_outcome_unknown&) {
                group_.finish_unknown(std::current_exception());
                throw;
            } catch (...) {
                group_.finish_rerun(); // nothing was committed: the members run again
                throw;
            }
            group_.finish_committed();
        }
    }

    // Exponential backoff from 1 ms, capped at 100 ms, with jitter in [50 %, 100 %] so that
    // writers that collided once do not collide again in lockstep.
    static std::chrono::microseconds backoff(int attempt) {
        const long long cap = 100'000;
        const long long base = std::min<long long>(cap, 1'000LL << std::min(attempt - 1, 20));
        return std::chrono::microseconds(persist::detail::jitter(base / 2, base));
    }

    Config config_;
    pid_t owner_pid_;
    B backend_;
    L locks_;
    [[no_unique_address]] Group group_;
};

namespace detail {
template <Backend B, lock::LockPolicy L>
struct store_backend<Store<B, L>> {
    using type = B;
};
} // namespace detail

} // namespace persist
