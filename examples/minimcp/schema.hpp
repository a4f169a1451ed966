// The MiniMCP schema (../shared/seeds/minimcp-schema.md) described for persist: eight tables
// with UUID keys, foreign keys, checks, defaults and partial indexes, for SQLite and
// PostgreSQL alike. JSONB columns are persist::Json (JSONB on PostgreSQL, TEXT on SQLite);
// INET becomes TEXT. Defaults and index conditions are written so both accept them (TRUE,
// not 1). There is no CHECK (json_valid(...)): with trusted_schema=OFF, which persist sets,
// SQLite refuses json_valid() inside the schema ("unsafe use of json_valid()").
#pragma once

#include <persist/crypto/encrypted.hpp>
#include <persist/schema.hpp>
#include <persist/schema/json.hpp>
#include <persist/schema/uuid.hpp>

#include <boost/uuid/uuid.hpp>
#include <chrono>
#include <optional>
#include <string>

namespace minimcp {

using persist::schema::Action;
using persist::schema::check;
using persist::schema::Column;
using persist::schema::default_value;
using persist::schema::generated;
using persist::schema::soft_delete;
using persist::schema::timestamps;
using persist::schema::Index;
using persist::schema::monthly_partitions;
using persist::schema::on;
using persist::schema::primary_key;
using persist::schema::references;
using persist::schema::Table;
using persist::schema::unique;
using persist::schema::unique_index;
using persist::schema::where;
using Uuid = boost::uuids::uuid;
using Time = std::chrono::system_clock::time_point;
using persist::Json;

struct User {
    Uuid id;
    std::string email;
    std::string password_hash;
    std::string name;
    bool is_active = true;
    bool email_verified = false;
    Time created_at;
    Time updated_at;
    std::optional<Time> deleted_at;
};
using Users = Table<"users", Column<&User::id, "id", primary_key, generated>, Column<&User::email, "email", unique>,
                    Column<&User::password_hash, "password_hash">, Column<&User::name, "name">,
                    Column<&User::is_active, "is_active", default_value<"TRUE">>,
                    Column<&User::email_verified, "email_verified", default_value<"FALSE">>,
                    Column<&User::created_at, "created_at">, Column<&User::updated_at, "updated_at">,
                    Column<&User::deleted_at, "deleted_at">, timestamps<&User::created_at, &User::updated_at>,
                    soft_delete<&User::deleted_at>, Index<"idx_users_email", on<&User::email>, where<"deleted_at IS NULL">>>;

struct McpType {
    Uuid id;
    std::string name;
    std::string display_name;
    std::optional<std::string> description;
    std::optional<std::string> icon_url;
    std::string server_script;
    Json config_template{"{}"};
    Json required_scopes{"[]"};
    Json resource_limits{R"({"cpu": "0.5", "memory": "512m"})"};
    std::int64_t max_duration_minutes = 60;
    bool is_active = true;
    Time created_at;
    Time updated_at;
};
using McpTypes = Table<"mcp_types", Column<&McpType::id, "id", primary_key, generated>, Column<&McpType::name, "name", unique>,
                       Column<&McpType::display_name, "display_name">, Column<&McpType::description, "description">,
                       Column<&McpType::icon_url, "icon_url">, Column<&McpType::server_script, "server_script">,
                       Column<&McpType::config_template, "config_template">,
                       Column<&McpType::required_scopes, "required_scopes">,
                       Column<&McpType::resource_limits, "resource_limits">,
                       Column<&McpType::max_duration_minutes, "max_duration_minutes", default_value<"60">>,
                       Column<&McpType::is_active, "is_active">, Column<&McpType::created_at, "created_at">,
                       Column<&McpType::updated_at, "updated_at">, timestamps<&McpType::created_at, &McpType::updated_at>>;

struct ApiKey {
    Uuid id;
    std::optional<Uuid> user_id;
    Uuid mcp_type_id;
    persist::Encrypted<std::string> encrypted_key; // AES-256-GCM; nonce, key id and tag inside
    std::optional<std::string> key_hint;           // persist::key_hint: the last 4 characters
    bool is_active = true;
    Time created_at;
    Time updated_at;
    std::optional<Time> expires_at;
};
using ApiKeys = Table<"api_keys", Column<&ApiKey::id, "id", primary_key, generated>,
                      Column<&ApiKey::user_id, "user_id", references<&User::id, Action::cascade>>,
                      Column<&ApiKey::mcp_type_id, "mcp_type_id", references<&McpType::id, Action::cascade>>,
                      Column<&ApiKey::encrypted_key, "encrypted_key">, Column<&ApiKey::key_hint, "key_hint">,
                      Column<&ApiKey::is_active, "is_active">,
                      Column<&ApiKey::created_at, "created_at">, Column<&ApiKey::updated_at, "updated_at">,
                      Column<&ApiKey::expires_at, "expires_at">,
                      Index<"uq_api_keys_user_type", on<&ApiKey::user_id, &ApiKey::mcp_type_id>, unique_index>,
                      Index<"idx_api_keys_user_type", on<&ApiKey::user_id, &ApiKey::mcp_type_id>, where<"is_active">>>;

struct McpInstance {
    Uuid id;
    std::optional<Uuid> user_id;
    Uuid mcp_type_id;
    std::optional<Uuid> api_key_id;
    std::optional<std::int64_t> process_id;
    std::string access_token;
    std::string access_url;
    std::optional<std::int64_t> assigned_port;
    std::string status = "pending";
    Time expires_at;
    Json config{"{}"};
    std::optional<std::string> error_message;
    std::optional<Time> last_accessed;
    Json stats{"{}"};
    Time created_at;
    Time updated_at;
    std::optional<Time> deleted_at;
};
using McpInstances = Table<
    "mcp_instances", Column<&McpInstance::id, "id", primary_key, generated>,
    Column<&McpInstance::user_id, "user_id", references<&User::id, Action::cascade>>,
    Column<&McpInstance::mcp_type_id, "mcp_type_id", references<&McpType::id>>,
    Column<&McpInstance::api_key_id, "api_key_id", references<&ApiKey::id>>,
    Column<&McpInstance::process_id, "process_id">, Column<&McpInstance::access_token, "access_token", unique>,
    Column<&McpInstance::access_url, "access_url">,
    Column<&McpInstance::assigned_port, "assigned_port", unique, check<"assigned_port BETWEEN 3001 AND 65535">>,
    Column<&McpInstance::status, "status", check<"status IN ('pending', 'running', 'expired', 'disconnected', 'error')">>,
    Column<&McpInstance::expires_at, "expires_at">, Column<&McpInstance::config, "config">,
    Column<&McpInstance::error_message, "error_message">, Column<&McpInstance::last_accessed, "last_accessed">,
    Column<&McpInstance::stats, "stats">, Column<&McpInstance::created_at, "created_at">,
    Column<&McpInstance::updated_at, "updated_at">, Column<&McpInstance::deleted_at, "deleted_at">,
    timestamps<&McpInstance::created_at, &McpInstance::updated_at>, soft_delete<&McpInstance::deleted_at>,
    Index<"idx_mcp_instances_status", on<&McpInstance::status>, where<"deleted_at IS NULL">>,
    Index<"idx_mcp_instances_expires_at", on<&McpInstance::expires_at>, where<"deleted_at IS NULL">>,
    Index<"idx_mcp_instances_user_status", on<&McpInstance::user_id, &McpInstance::status>, where<"deleted_at IS NULL">>>;

struct McpLog {
    Uuid id;
    Uuid mcp_instance_id;
    Time timestamp;
    std::string level = "info";
    std::string source = "process";
    std::string message;
    Json metadata{"{}"};
    Time created_at;
};
// Partitioned by month on PostgreSQL (a plain table on SQLite), as the seed asks; the key
// includes created_at because PostgreSQL requires a partitioned table's key to.
using McpLogs = Table<"mcp_logs", Column<&McpLog::id, "id", primary_key, generated>,
                      Column<&McpLog::mcp_instance_id, "mcp_instance_id", references<&McpInstance::id, Action::cascade>>,
                      Column<&McpLog::timestamp, "timestamp">,
                      Column<&McpLog::level, "level", check<"level IN ('debug', 'info', 'warn', 'error')">>,
                      Column<&McpLog::source, "source">, Column<&McpLog::message, "message">,
                      Column<&McpLog::metadata, "metadata">, Column<&McpLog::created_at, "created_at", primary_key>,
                      monthly_partitions<&McpLog::created_at>,
                      Index<"idx_mcp_logs_instance_timestamp", on<&McpLog::mcp_instance_id, &McpLog::timestamp>>,
                      Index<"idx_mcp_logs_level", on<&McpLog::level>, where<"level IN ('warn', 'error')">>>;

struct McpEvent {
    Uuid id;
    Uuid mcp_instance_id;
    std::optional<Uuid> user_id;
    std::string event_type;
    Json event_data{"{}"};
    std::optional<std::string> ip_address;
    std::optional<std::string> user_agent;
    Time created_at;
};
using McpEvents = Table<"mcp_events", Column<&McpEvent::id, "id", primary_key>,
                        Column<&McpEvent::mcp_instance_id, "mcp_instance_id", references<&McpInstance::id, Action::cascade>>,
                        Column<&McpEvent::user_id, "user_id", references<&User::id>>,
                        Column<&McpEvent::event_type, "event_type">, Column<&McpEvent::event_data, "event_data">,
                        Column<&McpEvent::ip_address, "ip_address">, Column<&McpEvent::user_agent, "user_agent">,
                        Column<&McpEvent::created_at, "created_at", primary_key>, monthly_partitions<&McpEvent::created_at>,
                        Index<"idx_mcp_events_instance", on<&McpEvent::mcp_instance_id, &McpEvent::created_at>>>;

struct PortAllocation {
    std::int64_t port;
    std::optional<Uuid> mcp_instance_id;
    std::optional<Time> allocated_at;
    std::optional<Time> released_at;
    bool is_available = false;
    std::optional<Time> last_health_check;
};
using PortAllocations =
    Table<"port_allocations", Column<&PortAllocation::port, "port", primary_key, check<"port BETWEEN 3001 AND 65535">>,
          Column<&PortAllocation::mcp_instance_id, "mcp_instance_id", references<&McpInstance::id, Action::set_null>>,
          Column<&PortAllocation::allocated_at, "allocated_at">, Column<&PortAllocation::released_at, "released_at">,
          Column<&PortAllocation::is_available, "is_available">,
          Column<&PortAllocation::last_health_check, "last_health_check">,
          Index<"idx_port_allocations_available", on<&PortAllocation::is_available, &PortAllocation::port>>,
          Index<"idx_port_allocations_mcp", on<&PortAllocation::mcp_instance_id>>>;

struct SystemSetting {
    std::string key;
    std::string value;
    std::optional<std::string> description;
    Time created_at;
    Time updated_at;
};
using SystemSettings = Table<"system_settings", Column<&SystemSetting::key, "key", primary_key>,
                             Column<&SystemSetting::value, "value">,
                             Column<&SystemSetting::description, "description">,
                             Column<&SystemSetting::created_at, "created_at">, Column<&SystemSetting::updated_at, "updated_at">>;

using Schema = persist::schema::Schema<Users, McpTypes, ApiKeys, McpInstances, McpLogs, McpEvents, PortAllocations,
                                       SystemSettings>;

} // namespace minimcp
