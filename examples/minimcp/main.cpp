// minimcp: the MiniMCP gateway's tables through persist's typed operations, on SQLite or, when
// MINIMCP_DB_URL is set, on PostgreSQL. Creates the schema, fills it (types, a user, a port
// pool, an instance and its logs), queries it the way the gateway does, runs 200 port
// allocations at once, and checks the live database against the descriptors. API keys are
// encrypted at rest (persist::Encrypted) under the keys of MINIMCP_KEYS, or else of a key file
// made on the first run beside the database (readable by this user only, never in a backup).
#include "schema.hpp"

#include <persist/maintenance.hpp>
#include <persist/postgres.hpp>
#include <persist/postgres/table_lock.hpp>
#include <persist/schema/maintenance_jobs.hpp>
#include <persist/schema/partitions.hpp>
#include <persist/sqlite.hpp>
#include <persist/sqlite/leases.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <filesystem>
#include <mutex>
#include <unistd.h>
#include <set>
#include <thread>

using namespace persist::schema;
using namespace minimcp;

namespace {

/// Gives `instance` the lowest free port and returns it, or nullopt when none is free. One
/// statement, safe under any number of concurrent callers: on PostgreSQL the candidate row is
/// taken FOR UPDATE SKIP LOCKED, so concurrent allocators pass over each other's rows instead
/// of queueing on them (and re-check a row that changed under them); on SQLite write
/// transactions run one at a time (BEGIN IMMEDIATE), so nothing can come between the choice
/// and the update.
template <class Tx>
std::optional<std::int64_t> allocate_port(Tx& tx, const Uuid& instance, Time now) {
    using D = typename Tx::dialect;
    static const std::string sql =
        "UPDATE port_allocations SET is_available = FALSE, mcp_instance_id = " + D::placeholder(1) +
        ", allocated_at = " + D::placeholder(2) +
        " WHERE port = (SELECT port FROM port_allocations WHERE is_available ORDER BY port LIMIT 1" +
        (D::name == std::string_view("postgres") ? " FOR UPDATE SKIP LOCKED" : "") + ") RETURNING port";
    return tx.template query_one<std::int64_t>(sql, persist::schema::uuid_text(instance), now);
}

/// A new random key as a keyring entry, "1:<64 hex digits>".
std::string new_key_entry() {
    static constexpr char hex[] = "0123456789abcdef";
    std::string entry = "1:";
    for (unsigned char byte : persist::crypto::random_bytes(32)) {
        entry += hex[byte >> 4];
        entry += hex[byte & 15];
    }
    return entry;
}

/// Creates `dir` and its missing parents readable by this user only (0700), as persist creates
/// the database's directory: the key file is made before the Store, so its directory may be.
void make_private_directories(const std::filesystem::path& dir) {
    if (dir.empty() || std::filesystem::exists(dir)) return;
    make_private_directories(dir.parent_path());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw persist::io_error("cannot create directory " + dir.string() + ": " + std::strerror(errno), errno);
}

/// The keys of the encrypted columns: MINIMCP_KEYS when set; for an in-memory database a key
/// that dies with it; else the key file beside the database, which the first run creates
/// (0600, refusing to follow a planted link) with a new random key.
std::shared_ptr<const persist::crypto::Keyring> keys_for(const persist::Config& config) {
    if (std::getenv("MINIMCP_KEYS")) return persist::crypto::Keyring::from_environment("MINIMCP_KEYS");
    if (config.path() == ":memory:") return persist::crypto::Keyring::from_text(new_key_entry());
    const std::string path = config.path() + ".keys";
    make_private_directories(std::filesystem::path(path).parent_path());
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        const std::string line = new_key_entry() + "\n";
        const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
        ::close(fd);
        if (!written) throw persist::io_error("cannot write the new key file " + path);
        std::printf("made a new key file %s\n", path.c_str());
    } else if (errno != EEXIST) {
        throw persist::io_error("cannot create the key file " + path + ": " + std::strerror(errno), errno);
    }
    return persist::crypto::Keyring::from_file(path);
}

/// Gateway workers serve under shared leases; an operator's exclusive lease (before a restore,
/// say) waits until none serves, and keeps new ones out. Leases live in the database, so they
/// reach every process (on PostgreSQL every host), and each process records its lock statistics
/// there (persist lock-status --stats --lock table shows them).
template <class Leases>
void show_leases(const persist::Config& config) {
    Leases leases(config);
    const auto within = [](std::chrono::milliseconds limit) { return std::chrono::steady_clock::now() + limit; };
    using persist::lock::Mode;
    {
        auto one = leases.acquire("gateway.serving", {Mode::shared, within(std::chrono::seconds(5)), "worker 1"});
        auto two = leases.acquire("gateway.serving", {Mode::shared, within(std::chrono::seconds(5)), "worker 2"});
        try {
            leases.acquire("gateway.serving", {Mode::exclusive, within(std::chrono::milliseconds(100)), "restore"});
            std::printf("leases: SHARED AND EXCLUSIVE AT ONCE\n");
        } catch (const persist::lock_timeout_error&) {
            std::printf("leases: 2 workers serve under shared leases; an exclusive one waits\n");
        }
    }
    auto admin = leases.acquire("gateway.serving", {Mode::exclusive, within(std::chrono::seconds(5)), "restore"});
    std::printf("leases: the exclusive lease was granted once the workers left\n");
    admin = {};
    const auto stats = leases.recorded_stats().at("gateway.serving");
    std::printf("leases: gateway.serving acquired %llu times, timed out %llu (all runs)\n",
                static_cast<unsigned long long>(stats.acquisitions), static_cast<unsigned long long>(stats.timeouts));
}

template <class StoreType>
void run(StoreType& store) {
    using D = typename StoreType::backend_type::dialect;
    const auto new_token = [] { return persist::schema::uuid_text(persist::schema::random_uuid()); };
    const auto now = std::chrono::system_clock::now();

    store.write([&](auto& tx) {
        tx.execute_script(minimcp::Schema::create_script<D>());
        if (count<McpTypes>(tx) > 0) return; // filled by an earlier run
        for (const char* name : {"gmail", "figma", "github"})
            insert<McpTypes>(tx, McpType{{}, name, std::string(name) + " MCP", std::nullopt, std::nullopt,
                                         "./mcp-servers/" + std::string(name) + "-mcp-server.js", {R"({"api_version": "v1"})"},
                                         {"[]"}, {R"({"cpu": "0.5", "memory": "512m"})"}, 60, true, now, now});
        for (std::int64_t port = 3001; port <= 3100; ++port)
            insert<PortAllocations>(tx, PortAllocation{port, std::nullopt, std::nullopt, std::nullopt, true, std::nullopt});
        upsert<SystemSettings>(tx, SystemSetting{"mcp.default_duration_minutes", "60", "Default MCP instance duration", now, now});
        // Generated UUID keys and the created_at/updated_at timestamps are filled in by insert.
        const auto ada = insert<Users>(tx, User{{}, "ada@example.com", "hash", "Ada", true, true, {}, {}, std::nullopt});

        // Start a gmail instance on the lowest free port.
        const auto gmail = select<McpTypes>(tx, col<&McpType::name> == "gmail").front();
        McpInstance instance{{}, ada, gmail.id, std::nullopt, 4242, new_token(),
                             "http://localhost", std::nullopt, "running", now + std::chrono::minutes(60), {"{}"},
                             std::nullopt, now, {"{}"}, {}, {}, std::nullopt};
        instance.id = insert<McpInstances>(tx, instance);
        instance.assigned_port = allocate_port(tx, instance.id, now);
        instance.access_url += ":" + std::to_string(*instance.assigned_port);
        update<McpInstances>(tx, instance);
        for (const char* message : {"process started", "listening", "token refreshed"})
            insert<McpLogs>(tx, McpLog{{}, instance.id, now, "info", "process", message, {"{}"}, now});

        // A second instance, stopped and soft-deleted: typed reads no longer see it.
        const auto stopped = insert<McpInstances>(
            tx, McpInstance{{}, ada, gmail.id, std::nullopt, std::nullopt, new_token(),
                            "http://localhost:0", std::nullopt, "expired", now, {"{}"}, std::nullopt, std::nullopt, {"{}"}, {}, {},
                            std::nullopt});
        remove<McpInstances>(tx, stopped);

        // An instance whose time is up: the expiry job below stops it.
        insert<McpInstances>(tx, McpInstance{{}, ada, gmail.id, std::nullopt, 4343, new_token(),
                                             "http://localhost", std::nullopt, "running", now - std::chrono::minutes(1),
                                             {"{}"}, std::nullopt, now, {"{}"}, {}, {}, std::nullopt});

        // Ada's GitHub token, encrypted with the current key; only its hint is readable in the database.
        const std::string token = "ghp_example0000000000000000000000000042";
        const auto github = select<McpTypes>(tx, col<&McpType::name> == "github").front();
        insert<ApiKeys>(tx, ApiKey{{}, ada, github.id, token, persist::key_hint(token), true, now, now, std::nullopt});
    });

    // The gateway's chores, each run by one process at a time across every process sharing the
    // database: expire instances past their time (handing them over to stop their processes)
    // and keep the monthly partitions of logs and events: next months made ahead, months older
    // than the retention dropped (on SQLite, old rows deleted). A daemon would call start().
    persist::Maintenance maintenance(store);
    maintenance.add("expire-instances", std::chrono::minutes(1),
                    persist::schema::jobs::expiry<McpInstances, &McpInstance::expires_at>(
                        set(col<&McpInstance::status>.to(std::string("expired"))), col<&McpInstance::status> == "running",
                        [](const std::vector<McpInstance>& expired) {
                            for (const auto& instance : expired)
                                std::printf("  stopping expired instance pid %lld\n",
                                            static_cast<long long>(instance.process_id.value_or(0)));
                        }));
    maintenance.add("log-partitions", std::chrono::hours(6), persist::schema::jobs::partitions<McpLogs>(2, 1));
    maintenance.add("event-partitions", std::chrono::hours(6), persist::schema::jobs::partitions<McpEvents>(2, 1));
    for (const char* job : {"expire-instances", "log-partitions", "event-partitions"})
        std::printf("maintenance: %s\n", maintenance.run_now(job).c_str());

    store.read([&](auto& tx) {
        const auto running = select<McpInstances>(tx, col<&McpInstance::status> == "running" &&
                                                          col<&McpInstance::deleted_at>.is_null());
        std::printf("data lives in %s\n", store.path().c_str());
        std::printf("%zu running instance(s) (%lld soft-deleted), %lld free port(s), %lld log line(s)\n", running.size(),
                    static_cast<long long>(count<McpInstances>(tx, all_rows(), Deleted::only)),
                    static_cast<long long>(count<PortAllocations>(tx, col<&PortAllocation::is_available> == true)),
                    static_cast<long long>(count<McpLogs>(tx)));
        for (const auto& instance : running)
            std::printf("  %s on port %lld (pid %lld)\n", instance.access_url.c_str(),
                        static_cast<long long>(instance.assigned_port.value_or(0)),
                        static_cast<long long>(instance.process_id.value_or(0)));
        for (const auto& key : all<ApiKeys>(tx))
            std::printf("api key %s: %zu characters decrypted (key id %u)\n", key.key_hint.value_or("").c_str(),
                        key.encrypted_key.value().size(), key.encrypted_key.key_id());
    });

    // 200 pending instances ask for a port at once, from 8 threads; the pool has 99 free.
    const auto ada = store.read([](auto& tx) { return select<Users>(tx, col<&User::email> == "ada@example.com").front().id; });
    const auto gmail = store.read([](auto& tx) { return select<McpTypes>(tx, col<&McpType::name> == "gmail").front().id; });
    std::vector<Uuid> pending(200);
    store.write([&](auto& tx) {
        for (auto& id : pending)
            id = insert<McpInstances>(tx, McpInstance{{}, ada, gmail, std::nullopt, std::nullopt, new_token(),
                                                      "http://localhost", std::nullopt, "pending", now, {"{}"}, std::nullopt,
                                                      std::nullopt, {"{}"}, {}, {}, std::nullopt});
    });
    std::mutex mutex;
    std::multiset<std::int64_t> given;
    int refused = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (std::size_t i = static_cast<std::size_t>(t); i < pending.size(); i += 8) {
                const auto port = store.write([&](auto& tx) { return allocate_port(tx, pending[i], now); });
                std::lock_guard lock(mutex);
                if (port) given.insert(*port);
                else ++refused;
            }
        });
    for (auto& thread : threads) thread.join();
    const auto distinct = std::set<std::int64_t>(given.begin(), given.end()).size();
    std::printf("port allocator: 200 concurrent allocations gave %zu port(s), %s; %d found none free\n", given.size(),
                distinct == given.size() ? "none twice" : "SOME TWICE", refused);
    // Give the ports back and drop the pending instances, so that the next run starts alike.
    store.write([&](auto& tx) {
        for (const auto& id : pending) purge<McpInstances>(tx, id);
        tx.execute(std::string("UPDATE port_allocations SET is_available = TRUE, allocated_at = NULL WHERE mcp_instance_id IS "
                               "NULL AND NOT is_available"));
    });

    if constexpr (std::is_same_v<typename StoreType::backend_type, persist::postgres::Backend>)
        show_leases<persist::postgres::TableLock>(store.config());
    else if (store.path() != ":memory:")
        show_leases<persist::lock::Table>(store.config());
    else
        std::printf("leases: an in-memory database holds no leases; skipped\n");

    store.read([&](auto& tx) {
        const auto differences = verify<minimcp::Schema>(tx);
        std::printf("schema check: %s\n", differences.empty() ? "the database matches the descriptors" : differences.front().c_str());
    });
}

} // namespace

int main() try {
    auto config = persist::Config::from_env("MINIMCP", persist::Config::for_app("minimcp-example"));
    config.keys = keys_for(config);
    if (!config.db_url.empty()) {
        persist::Store<persist::postgres::Backend, persist::lock::InProcess> store(config);
        run(store);
    } else {
        persist::SqliteStore store(config);
        run(store);
    }
    return 0;
} catch (const persist::error& e) {
    std::fprintf(stderr, "minimcp: %s\n", e.what());
    return 1;
}
