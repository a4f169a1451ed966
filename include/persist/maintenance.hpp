// persist/maintenance.hpp: persist::Maintenance, a small scheduler that runs an application's
// periodic jobs (health checks, WAL checkpoints, retention, expiry, backups) so that each runs
// in one process at a time and about once per interval across every process sharing the
// database.
//
//   persist::SqliteStore store(config);
//   persist::Maintenance maintenance(store);                 // after the Store: stops first
//   maintenance.add("health", std::chrono::seconds(30), persist::jobs::health());
//   maintenance.add("logs", std::chrono::hours(1),
//                   persist::schema::jobs::retention<Logs, &Log::created_at>(std::chrono::days(30)));
//   maintenance.start();
//
// How a run is chosen: the table persist_jobs (name, last_started, last_finished,
// last_outcome, host, pid; times in ms since 1970 by the clock of the process that ran it)
// says when each job last started. A job is due when its interval has passed since then. A
// process that finds it due takes the lock "persist.job.<name>" of the Store's lock policy
// without waiting (another process running it means this one skips the round), checks again
// under the lock, records the start, runs the job, records the outcome. So two processes never
// run one job at once when the lock policy reaches across processes (lock::File, lock::Table,
// postgres::AdvisoryLock, postgres::TableLock), and a job that started within its interval
// anywhere is not started again. A job's outcome is reported through Config::on_event: info
// with the job's one-line summary, warning with the error of a job that threw.
#pragma once

#include "persist/config.hpp"
#include "persist/detail/process.hpp"
#include "persist/error.hpp"
#include "persist/lock/support.hpp"
#include "persist/store.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace persist {

/// Runs registered jobs of `StoreT` (a persist::Store) at intervals on a thread of its own.
/// Declare it after its Store: destroying it stops the jobs (waiting for one that is running),
/// and it must stop before the Store closes.
/// Thread-safety: add() before start(); run_now(), due() and stop() from any thread.
template <class StoreT>
class Maintenance {
public:
    /// A job: does its work through the Store and returns a one-line summary of it; an
    /// exception is the run's failure (reported, and the job runs again after its interval).
    using Job = std::function<std::string(StoreT&)>;

    /// Creates persist_jobs if needed. Throws usage_error for a read-only Store, or what the
    /// Store throws.
    explicit Maintenance(StoreT& store) : store_(store) {
        if (store.config().read_only)
            throw usage_error("maintenance jobs record their runs in the database; open the Store read-write");
        create_table();
    }
    Maintenance(const Maintenance&) = delete;
    Maintenance& operator=(const Maintenance&) = delete;
    ~Maintenance() { stop(); }

    /// Registers `job` under `name` (1-64 characters from A-Z, a-z, 0-9, '.', '_', '-'; unique)
    /// to run every `interval` (10 ms to 365 days). Throws usage_error otherwise, or after start().
    void add(std::string name, std::chrono::milliseconds interval, Job job) {
        lock::validate_name(name);
        std::lock_guard lock(mutex_);
        if (thread_.joinable()) throw usage_error("Maintenance::add(\"" + name + "\"): add every job before start()");
        if (interval < std::chrono::milliseconds(10))
            throw usage_error("maintenance job '" + name + "': the interval must be at least 10 ms");
        detail::check_wait<usage_error>("maintenance job '" + name + "': the interval", interval);
        if (!job) throw usage_error("maintenance job '" + name + "' has no function");
        for (const auto& entry : entries_)
            if (entry.name == name) throw usage_error("maintenance job '" + name + "' is already added");
        entries_.push_back({std::move(name), interval, std::move(job), std::chrono::steady_clock::now()});
    }

    /// Starts the scheduler thread: each job is considered at once, then after its interval.
    /// Throws usage_error when already started.
    void start() {
        std::lock_guard lock(mutex_);
        if (thread_.joinable()) throw usage_error("Maintenance::start(): already started");
        stopping_ = false;
        thread_ = std::thread([this] { loop(); });
    }

    /// Stops the scheduler, waiting for a job that is running to end. Idempotent.
    void stop() noexcept {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    }

    /// Runs job `name` now on this thread, due or not, under its lock (waiting for it up to
    /// Config::busy_timeout), and records it. Returns the job's summary; rethrows what the job
    /// threw. Throws usage_error for an unknown name, lock_timeout_error when another process
    /// keeps running it.
    std::string run_now(std::string_view name) {
        const Entry& entry = find(name);
        std::string summary;
        store_.with_lock(lock_name(entry.name), [&] { summary = run(entry); }, LockOptions{lock::Mode::exclusive, {}, purpose(entry)});
        return summary;
    }

    /// Whether job `name` is due: it never started, or its interval has passed since it last
    /// started in any process. Throws usage_error for an unknown name.
    bool due(std::string_view name) {
        const Entry& entry = find(name);
        const auto last = last_started(entry.name);
        return !last || now_ms() - *last >= entry.interval.count();
    }

private:
    struct Entry {
        std::string name;
        std::chrono::milliseconds interval;
        Job job;
        std::chrono::steady_clock::time_point next;
    };
    using D = typename StoreT::backend_type::dialect;

    static std::string lock_name(const std::string& name) { return "persist.job." + name; }
    static std::string purpose(const Entry& entry) { return "maintenance job " + entry.name; }
    static std::int64_t now_ms() {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    }

    const Entry& find(std::string_view name) {
        std::lock_guard lock(mutex_);
        for (const auto& entry : entries_)
            if (entry.name == name) return entry;
        throw usage_error("there is no maintenance job '" + std::string(name) + "'; add it first");
    }

    void create_table() {
        const std::string sql = "CREATE TABLE IF NOT EXISTS persist_jobs (name TEXT PRIMARY KEY, last_started BIGINT NOT "
                                "NULL, last_finished BIGINT, last_outcome TEXT, host TEXT NOT NULL, pid BIGINT NOT NULL)";
        try {
            store_.write([&](typename StoreT::write_transaction& tx) { tx.execute_script(sql); });
        } catch (const constraint_error&) {
            // PostgreSQL: another session created it at the same moment (a catalog collision).
            store_.write([&](typename StoreT::write_transaction& tx) { tx.execute_script(sql); });
        }
    }

    std::optional<std::int64_t> last_started(const std::string& name) {
        return store_.read([&](typename StoreT::read_transaction& tx) {
            return tx.template query_one<std::int64_t>("SELECT last_started FROM persist_jobs WHERE name = " + D::placeholder(1),
                                                       name);
        });
    }

    // Records the start, runs the job, records the outcome and reports it. Under the job's lock.
    std::string run(const Entry& entry) {
        store_.write([&](typename StoreT::write_transaction& tx) {
            tx.execute("INSERT INTO persist_jobs (name, last_started, host, pid) VALUES (" + D::placeholder(1) + ", " +
                           D::placeholder(2) + ", " + D::placeholder(3) + ", " + D::placeholder(4) +
                           ") ON CONFLICT (name) DO UPDATE SET last_started = excluded.last_started, host = "
                           "excluded.host, pid = excluded.pid",
                       entry.name, now_ms(), host_, static_cast<std::int64_t>(persist::detail::current_pid()));
        });
        const auto started = std::chrono::steady_clock::now();
        auto finish = [&](const std::string& outcome) {
            try {
                store_.write([&](typename StoreT::write_transaction& tx) {
                    tx.execute("UPDATE persist_jobs SET last_finished = " + D::placeholder(1) + ", last_outcome = " +
                                   D::placeholder(2) + " WHERE name = " + D::placeholder(3),
                               now_ms(), outcome, entry.name);
                });
            } catch (const error&) {
                // The outcome is reported below anyway; the start is what scheduling needs.
            }
        };
        const auto took = [&] {
            return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
                                      .count()) + " ms";
        };
        try {
            std::string summary = entry.job(store_);
            finish("ok: " + summary);
            persist::detail::notify(store_.config().on_event,
                                    {Event::Kind::info, "maintenance job '" + entry.name + "': " + summary + " (" + took() + ")"});
            return summary;
        } catch (const std::exception& e) {
            finish(std::string("failed: ") + e.what());
            persist::detail::notify(store_.config().on_event, {Event::Kind::warning, "maintenance job '" + entry.name +
                                                                                          "' failed after " + took() + ": " +
                                                                                          e.what()});
            throw;
        }
    }

    // One look at `entry`: runs it if it is due and no other process runs it. Returns when to
    // look again.
    std::chrono::steady_clock::time_point attempt(const Entry& entry) noexcept {
        const auto retry = std::chrono::steady_clock::now() + entry.interval;
        try {
            if (const auto last = last_started(entry.name)) {
                const auto since = now_ms() - *last;
                if (since >= 0 && since < entry.interval.count())
                    return std::chrono::steady_clock::now() + std::chrono::milliseconds(entry.interval.count() - since);
            }
            store_.with_lock(lock_name(entry.name), [&] {
                const auto last = last_started(entry.name); // another process may have run it meanwhile
                if (last && now_ms() - *last >= 0 && now_ms() - *last < entry.interval.count()) return;
                try {
                    run(entry);
                } catch (...) {
                    // Reported by run(); the job runs again after its interval.
                }
            }, LockOptions{lock::Mode::exclusive, std::chrono::milliseconds(0), purpose(entry)});
        } catch (const lock_timeout_error&) {
            // Another process is running it: this round is theirs.
        } catch (const std::exception& e) {
            // The database or the lock failed around the job (busy, unreachable, lock lost).
            persist::detail::notify(store_.config().on_event,
                                    {Event::Kind::warning, "maintenance job '" + entry.name + "': " + e.what()});
        } catch (...) {
            persist::detail::notify(store_.config().on_event,
                                    {Event::Kind::warning, "maintenance job '" + entry.name + "': an unknown exception"});
        }
        return retry;
    }

    void loop() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            auto next = std::chrono::steady_clock::time_point::max();
            for (auto& entry : entries_) {
                if (stopping_) break;
                if (entry.next <= std::chrono::steady_clock::now()) {
                    lock.unlock();
                    const auto when = attempt(entry);
                    lock.lock();
                    entry.next = when;
                }
                next = std::min(next, entry.next);
            }
            if (!stopping_) wake_.wait_until(lock, next, [&] { return stopping_; });
        }
    }

    StoreT& store_;
    std::string host_ = lock::host_name();
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<Entry> entries_;
    bool stopping_ = false;
    std::thread thread_;
};

namespace jobs {

/// A job that checks the Store with health() (which reopens the database when that is safe):
/// "ok", "reopened the database"; a Store that stays unusable is the job's failure (a warning
/// event naming what is wrong).
inline auto health() {
    return [](auto& store) -> std::string {
        const auto report = store.health();
        if (!report.ok) throw connection_error("health check: " + report.detail);
        return report.reopened ? "reopened the database" : "ok";
    };
}

} // namespace jobs
} // namespace persist
