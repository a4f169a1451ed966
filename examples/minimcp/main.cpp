// minimcp: the MiniMCP gateway's tables through persist's typed operations. Creates the
// schema, fills it (types, a user, a port pool, an instance and its logs), queries it the way
// the gateway does, and checks the live database against the descriptors.
#include "schema.hpp"

#include <persist/sqlite.hpp>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cstdio>

using namespace persist::schema;
using namespace minimcp;

int main() try {
    auto config = persist::Config::from_env("MINIMCP", persist::Config::for_app("minimcp-example"));
    persist::SqliteStore store(config);
    boost::uuids::random_generator new_uuid;
    const auto now = std::chrono::system_clock::now();

    store.write([&](auto& tx) {
        tx.execute_script(minimcp::Schema::create_script<persist::sqlite::Dialect>());
        if (count<McpTypes>(tx) > 0) return; // filled by an earlier run
        for (const char* name : {"gmail", "figma", "github"})
            insert<McpTypes>(tx, McpType{{}, name, std::string(name) + " MCP", std::nullopt, std::nullopt,
                                         "./mcp-servers/" + std::string(name) + "-mcp-server.js", R"({"api_version": "v1"})",
                                         "[]", R"({"cpu": "0.5", "memory": "512m"})", 60, true, now, now});
        for (std::int64_t port = 3001; port <= 3100; ++port)
            insert<PortAllocations>(tx, PortAllocation{port, std::nullopt, std::nullopt, std::nullopt, true, std::nullopt});
        upsert<SystemSettings>(tx, SystemSetting{"mcp.default_duration_minutes", "60", "Default MCP instance duration", now, now});
        // Generated UUID keys and the created_at/updated_at timestamps are filled in by insert.
        const auto ada = insert<Users>(tx, User{{}, "ada@example.com", "hash", "Ada", true, true, {}, {}, std::nullopt});

        // Start a gmail instance on the lowest free port.
        const auto gmail = select<McpTypes>(tx, col<&McpType::name> == "gmail").front();
        auto port = select<PortAllocations>(tx, col<&PortAllocation::is_available> == true,
                                            order_by(col<&PortAllocation::port>.asc()), Page{1, 0})
                        .front();
        McpInstance instance{{}, ada, gmail.id, std::nullopt, 4242, boost::uuids::to_string(new_uuid()),
                                   "http://localhost:" + std::to_string(port.port), port.port, "running",
                             now + std::chrono::minutes(60), "{}", std::nullopt, now, "{}", {}, {}, std::nullopt};
        instance.id = insert<McpInstances>(tx, instance);
        port.is_available = false;
        port.mcp_instance_id = instance.id;
        port.allocated_at = now;
        update<PortAllocations>(tx, port);
        for (const char* message : {"process started", "listening", "token refreshed"})
            insert<McpLogs>(tx, McpLog{{}, instance.id, now, "info", "process", message, "{}", now});

        // A second instance, stopped and soft-deleted: typed reads no longer see it.
        const auto stopped = insert<McpInstances>(
            tx, McpInstance{{}, ada, gmail.id, std::nullopt, std::nullopt, boost::uuids::to_string(new_uuid()),
                            "http://localhost:0", std::nullopt, "expired", now, "{}", std::nullopt, std::nullopt, "{}", {}, {},
                            std::nullopt});
        remove<McpInstances>(tx, stopped);
    });

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
        const auto differences = verify<minimcp::Schema>(tx);
        std::printf("schema check: %s\n", differences.empty() ? "the database matches the descriptors" : differences.front().c_str());
    });
    return 0;
} catch (const persist::error& e) {
    std::fprintf(stderr, "minimcp: %s\n", e.what());
    return 1;
}
