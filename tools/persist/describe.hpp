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
    return "held by pid " + std::to_string(h.pid) + " on " + h.host + " since " + persist::lock::clock_time(h.since) + " (" +
           persist::lock::mode_name(h.mode) + (h.purpose.empty() ? "" : ", " + h.purpose) + ")";
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

} // namespace persist_cli
