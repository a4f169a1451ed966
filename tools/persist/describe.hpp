// persist CLI: how migrations, lock holders and backup manifests are shown, as text and JSON.
#pragma once
#include <persist/lock/support.hpp>
#include <persist/manifest.hpp>
#include <persist/migrate/history.hpp>

#include "output.hpp"

#include <string>
#include <vector>

namespace persist_cli {

inline const char* state_name(persist::migrate::VersionStatus::State state) {
    using State = persist::migrate::VersionStatus::State;
    switch (state) {
    case State::applied: return "applied";
    case State::baseline: return "baseline";
    case State::pending: return "pending";
    case State::incomplete: return "incomplete";
    case State::changed: return "changed";
    case State::missing_from_source: return "missing-from-source";
    }
    return "unknown";
}

inline std::string holder_text(const persist::lock::Status& status) {
    if (!status.held) return "free";
    if (!status.holder) return "held (holder unknown)";
    const auto& h = *status.holder;
    return "held by pid " + std::to_string(h.pid) + " on " + shown(h.host) + " since " + persist::lock::clock_time(h.since) +
           " (" + persist::lock::mode_name(h.mode) + (h.purpose.empty() ? "" : ", " + shown(h.purpose)) + ")";
}

inline JsonValue holder_json(const std::string& name, const persist::lock::Status& status) {
    Json j;
    j.text("name", name).boolean("held", status.held);
    if (status.holder) {
        j.number("pid", status.holder->pid).text("host", status.holder->host);
        j.text("since", persist::lock::clock_time(status.holder->since)).text("mode", persist::lock::mode_name(status.holder->mode));
        j.text("purpose", status.holder->purpose);
    }
    return j.value();
}

inline JsonValue manifest_json(const persist::Manifest& m) {
    std::vector<JsonValue> tables, migrations;
    for (const auto& [table, rows] : m.row_counts) tables.push_back(Json().text("name", table).number("rows", rows).value());
    for (const auto& [version, checksum] : m.migrations)
        migrations.push_back(Json().number("version", version).text("checksum", checksum).value());
    return Json()
        .text("persist_version", m.persist_version)
        .text("created_at", m.created_at)
        .number("size", m.size)
        .text("sha256", m.sha256)
        .number("schema_version", m.schema_version)
        .field("migrations", json_array(migrations))
        .field("tables", json_array(tables))
        .value();
}

/// The parts of `info` both backends report, as JSON arrays: tables with rows, applied
/// migrations, pending ones, lock holders.
struct ContentsJson {
    JsonValue tables, migrations, pending, locks;
};
template <class Info>
ContentsJson contents_json(const Info& i) {
    std::vector<JsonValue> tables, migrations, pending, locks;
    for (const auto& [table, rows] : i.row_counts) tables.push_back(Json().text("name", table).number("rows", rows).value());
    for (const auto& m : i.migrations)
        migrations.push_back(
            Json().number("version", m.version).text("name", m.name).text("state", m.state).text("applied_at", m.applied_at).value());
    for (const auto& [version, name] : i.pending) pending.push_back(Json().number("version", version).text("name", name).value());
    for (const auto& [name, status] : i.locks) locks.push_back(holder_json(name, status));
    return {json_array(tables), json_array(migrations), json_array(pending), json_array(locks)};
}

/// The same parts as text: the "tables", "migrations" and "locks" sections of `info`.
template <class Info>
std::string contents_text(const Info& i) {
    std::string out = "tables\n";
    for (const auto& [table, rows] : i.row_counts) out += "  " + shown(table) + "  " + std::to_string(rows) + " rows\n";
    out += "migrations\n";
    if (i.migrations.empty()) out += "  (none recorded)\n";
    for (const auto& m : i.migrations)
        out += "  " + std::to_string(m.version) + " " + shown(m.name) + "  " + shown(m.state) + " " + shown(m.applied_at) + "\n";
    for (const auto& [version, name] : i.pending) out += "  " + std::to_string(version) + " " + shown(name) + "  pending\n";
    out += "locks\n";
    for (const auto& [name, status] : i.locks) out += "  " + shown(name) + "  " + holder_text(status) + "\n";
    return out;
}

} // namespace persist_cli
