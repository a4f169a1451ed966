// persist/manifest.hpp: what a backup holds (on any backend), recorded beside it in
// "<backup>.manifest" as one JSON object (written and read with nlohmann-json).
//
//   {"format": "persist-backup-manifest", "format_version": 1, "persist_version": "0.1.0",
//    "created_at": "2026-11-23T02:00:00.000000Z", "size": 8192, "sha256": "<64 hex>",
//    "schema_version": 3, "migrations": [{"version": 1, "checksum": "<64 hex>"}, ...],
//    "tables": [{"name": "notes", "rows": 2500}, ...], "manifest_sha256": "<64 hex>"}
//
// Reading is strict, because a manifest is input persist did not necessarily write: every
// key must be present exactly once, nothing else may be, every value must have its type and
// form (canonical time, lowercase hex, non-negative counts, increasing versions, unique
// tables). "manifest_sha256" is the SHA-256 of the canonical text of every other field, so an
// edit made without recomputing it is refused. It is a checksum, not a signature: someone
// who can write the manifest and the backup can forge both; keep backups where only their
// owner can write (persist creates them 0600 in 0700 directories).
#pragma once

#include "persist/detail/file_digest.hpp"
#include "persist/detail/private_files.hpp"
#include "persist/detail/read_file.hpp"
#include "persist/error.hpp"
#include "persist/migrate/sha256.hpp"
#include "persist/value.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace persist {

/// What a backup holds, as recorded beside it in "<backup>.manifest".
struct Manifest {
    std::string persist_version;                       ///< the persist that wrote it
    std::int64_t schema_version = 0;                   ///< highest applied migration, 0 without history
    std::map<std::int64_t, std::string> migrations;    ///< applied version -> checksum
    std::map<std::string, std::int64_t> row_counts;    ///< table -> rows
    std::string sha256;                                ///< of the backup file
    std::int64_t size = 0;                             ///< of the backup file, in bytes
    std::string created_at;                            ///< UTC, ISO 8601 as persist::format_time writes it

    /// Manifests larger than this are refused unread.
    static constexpr std::size_t max_bytes = 64 << 20;

    /// The manifest file's text: one JSON object and a newline.
    std::string text() const {
        auto document = fields();
        document["manifest_sha256"] = migrate::checksum(document.dump()).str();
        return document.dump(1) + "\n";
    }

    /// Parses text(). Throws backup_error naming `path` and what is wrong; accepts nothing but
    /// what text() writes.
    static Manifest parse(std::string_view text, const std::string& path) {
        auto bad = [&](const std::string& why) {
            return backup_error("manifest " + path + ": " + why + "; it is not a manifest persist wrote, or it was edited");
        };
        if (text.size() > max_bytes) throw bad("it is larger than " + std::to_string(max_bytes) + " bytes");
        nlohmann::json document;
        std::vector<std::set<std::string>> keys; // per open object, to refuse a key given twice
        std::string duplicate;
        try {
            document = nlohmann::json::parse(
                text,
                [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
                    using event_t = nlohmann::json::parse_event_t;
                    if (event == event_t::object_start) keys.emplace_back();
                    else if (event == event_t::object_end && !keys.empty()) keys.pop_back();
                    else if (event == event_t::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second)
                        duplicate = parsed.get<std::string>();
                    return true;
                });
        } catch (const nlohmann::json::exception& e) {
            throw bad(std::string("not valid JSON (") + e.what() + ")");
        }
        if (!duplicate.empty()) throw bad("key \"" + duplicate + "\" appears more than once");
        if (!document.is_object()) throw bad("not a JSON object");
        static const std::set<std::string> expected_keys = {
            "format", "format_version", "persist_version", "created_at", "size", "sha256",
            "schema_version", "migrations", "tables", "manifest_sha256"};
        for (const auto& [key, value] : document.items())
            if (!expected_keys.count(key)) throw bad("unexpected key \"" + key + "\"");
        for (const auto& key : expected_keys)
            if (!document.contains(key)) throw bad("key \"" + key + "\" is missing");

        auto text_of = [&](const nlohmann::json& value, const std::string& what) {
            if (!value.is_string()) throw bad(what + " is not a string");
            return value.get<std::string>();
        };
        auto count_of = [&](const nlohmann::json& value, const std::string& what) {
            if (!value.is_number_integer()) throw bad(what + " is not an integer");
            if (value.is_number_unsigned() && value.get<std::uint64_t>() > std::uint64_t(INT64_MAX))
                throw bad(what + " is out of range");
            const auto number = value.get<std::int64_t>();
            if (number < 0) throw bad(what + " is negative");
            return number;
        };
        auto hex64 = [&](const nlohmann::json& value, const std::string& what) {
            auto digest = text_of(value, what);
            if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string::npos)
                throw bad(what + " is not 64 lowercase hexadecimal digits");
            return digest;
        };

        if (text_of(document["format"], "format") != "persist-backup-manifest") throw bad("format is not persist-backup-manifest");
        if (count_of(document["format_version"], "format_version") != 1)
            throw bad("format_version is not 1 (written by a newer persist? verify it with that version)");
        Manifest manifest;
        manifest.persist_version = text_of(document["persist_version"], "persist_version");
        if (!is_version(manifest.persist_version)) throw bad("persist_version is not of the form MAJOR.MINOR.PATCH");
        manifest.created_at = text_of(document["created_at"], "created_at");
        try {
            if (format_time(parse_time(manifest.created_at)) != manifest.created_at) throw bad("");
        } catch (const error&) {
            throw bad("created_at is not a UTC time of the form 2026-11-23T02:00:00.000000Z");
        }
        manifest.size = count_of(document["size"], "size");
        manifest.sha256 = hex64(document["sha256"], "sha256");
        manifest.schema_version = count_of(document["schema_version"], "schema_version");
        const auto& migrations = document["migrations"];
        if (!migrations.is_array()) throw bad("migrations is not an array");
        std::int64_t previous = 0;
        for (const auto& entry : migrations) {
            if (!entry.is_object() || entry.size() != 2 || !entry.contains("version") || !entry.contains("checksum"))
                throw bad("each migration must be {\"version\": N, \"checksum\": \"...\"}");
            const auto version = count_of(entry["version"], "a migration version");
            if (version <= previous) throw bad("migration versions are not positive and strictly increasing");
            previous = version;
            manifest.migrations[version] = hex64(entry["checksum"], "the checksum of migration " + std::to_string(version));
        }
        if (!manifest.migrations.empty() && manifest.schema_version != manifest.migrations.rbegin()->first)
            throw bad("schema_version is not the highest migration version");
        if (manifest.migrations.empty() && manifest.schema_version != 0) throw bad("schema_version is set but no migration is");
        const auto& tables = document["tables"];
        if (!tables.is_array()) throw bad("tables is not an array");
        for (const auto& entry : tables) {
            if (!entry.is_object() || entry.size() != 2 || !entry.contains("name") || !entry.contains("rows"))
                throw bad("each table must be {\"name\": \"...\", \"rows\": N}");
            const auto name = text_of(entry["name"], "a table name");
            if (name.empty()) throw bad("a table name is empty");
            if (!manifest.row_counts.emplace(name, count_of(entry["rows"], "the rows of table " + name)).second)
                throw bad("table \"" + name + "\" is listed twice");
        }
        if (hex64(document["manifest_sha256"], "manifest_sha256") != migrate::checksum(manifest.fields().dump()).str())
            throw bad("manifest_sha256 does not match its other fields");
        return manifest;
    }

private:
    // Every field but manifest_sha256, in a fixed order (nlohmann-json sorts object keys).
    nlohmann::json fields() const {
        nlohmann::json migrations_array = nlohmann::json::array();
        for (const auto& [version, checksum] : migrations) migrations_array.push_back({{"version", version}, {"checksum", checksum}});
        nlohmann::json tables_array = nlohmann::json::array();
        for (const auto& [table, rows] : row_counts) tables_array.push_back({{"name", table}, {"rows", rows}});
        return nlohmann::json{{"format", "persist-backup-manifest"},
                              {"format_version", 1},
                              {"persist_version", persist_version},
                              {"created_at", created_at},
                              {"size", size},
                              {"sha256", sha256},
                              {"schema_version", schema_version},
                              {"migrations", std::move(migrations_array)},
                              {"tables", std::move(tables_array)}};
    }

    static bool is_version(std::string_view text) {
        int parts = 0;
        std::size_t i = 0;
        while (i < text.size()) {
            const std::size_t start = i;
            while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
            if (i == start || i - start > 9 || (text[start] == '0' && i - start > 1)) return false;
            ++parts;
            if (i == text.size()) break;
            if (text[i] != '.') return false;
            ++i;
            if (i == text.size()) return false;
        }
        return parts == 3;
    }
};

/// The manifest beside the backup `path` ("<path>.manifest"), read and parsed. Throws
/// backup_error when the backup or its manifest is missing, not a regular file, too large,
/// unreadable or malformed.
inline Manifest read_manifest_of(const std::string& path) {
    namespace fs = std::filesystem;
    const std::string manifest_path = path + ".manifest";
    std::error_code ec;
    if (!fs::exists(path, ec)) throw backup_error("backup " + path + " does not exist");
    if (!fs::is_regular_file(path, ec)) throw backup_error("backup " + path + " is not a regular file");
    const auto read = detail::read_regular_file(manifest_path, Manifest::max_bytes);
    switch (read.status) {
    case detail::FileRead::Status::ok: break;
    case detail::FileRead::Status::missing:
        throw backup_error("backup " + path + " has no manifest (" + manifest_path +
                           "); without it the file cannot be checked. Make backups with persist backup");
    case detail::FileRead::Status::not_regular: throw backup_error("manifest " + manifest_path + " is not a regular file");
    case detail::FileRead::Status::too_large:
        throw backup_error("manifest " + manifest_path + " is larger than " + std::to_string(Manifest::max_bytes) +
                           " bytes; it is not a manifest persist wrote");
    case detail::FileRead::Status::unreadable:
        throw backup_error("cannot read manifest " + manifest_path + ": " + std::strerror(read.error));
    }
    const std::string& text = read.text;
    return Manifest::parse(text, manifest_path);
}

namespace detail {

/// Adds to `problems` how the file at `path` differs from `expected` in size and SHA-256.
inline void check_digest(const std::string& path, const Manifest& expected, std::vector<std::string>& problems,
                         const std::function<void(std::int64_t, std::int64_t)>& on_progress = {}) {
    const auto [sha, size] = file_sha256(path, on_progress);
    if (size != expected.size)
        problems.push_back("size is " + std::to_string(size) + " bytes, the manifest says " + std::to_string(expected.size));
    if (sha != expected.sha256) problems.push_back("SHA-256 is " + sha + ", the manifest says " + expected.sha256);
}

/// Adds to `problems` how what the backup holds (`actual`: schema version, migrations, rows
/// per table) differs from what its manifest says (`expected`).
inline void compare_contents(const Manifest& expected, const Manifest& actual, std::vector<std::string>& problems) {
    if (actual.schema_version != expected.schema_version)
        problems.push_back("schema version is " + std::to_string(actual.schema_version) + ", the manifest says " +
                           std::to_string(expected.schema_version));
    if (actual.migrations != expected.migrations)
        problems.push_back("the applied migrations or their checksums differ from the manifest");
    for (const auto& [table, rows] : expected.row_counts) {
        const auto found = actual.row_counts.find(table);
        if (found == actual.row_counts.end()) problems.push_back("table " + table + " is missing");
        else if (found->second != rows)
            problems.push_back("table " + table + " has " + std::to_string(found->second) + " rows, the manifest says " +
                               std::to_string(rows));
    }
    for (const auto& [table, rows] : actual.row_counts)
        if (!expected.row_counts.count(table)) problems.push_back("table " + table + " is not in the manifest");
}

/// Throws backup_error "backup <path> does not verify:" listing `problems`, if any.
inline void throw_if_problems(const std::string& path, const std::vector<std::string>& problems) {
    if (problems.empty()) return;
    std::string message = "backup " + path + " does not verify:";
    for (const auto& problem : problems) message += "\n  - " + problem;
    throw backup_error(message);
}

/// Puts a finished backup in place: `manifest` written beside `final_path` first, durably,
/// then `data` renamed to `final_path`, each rename followed by an fsync of the directory. A
/// crash in between leaves a manifest without a backup (swept later), never a backup without
/// its manifest; an error removes both names before it propagates.
inline void publish_backup(TemporaryFile& data, const std::string& final_path, const std::string& manifest_path,
                           const Manifest& manifest) {
    const std::string directory = directory_of(final_path);
    TemporaryFile manifest_file(manifest_path);
    manifest_file.write(manifest.text());
    manifest_file.sync_and_close();
    manifest_file.rename_to(manifest_path);
    try {
        sync_directory(directory);
        data.rename_to(final_path);
        sync_directory(directory);
    } catch (...) {
        // Neither name may stay behind an error: the caller was told the backup failed.
        ::unlink(final_path.c_str());
        ::unlink(manifest_path.c_str());
        try {
            sync_directory(directory);
        } catch (const error&) {
        }
        throw;
    }
}

/// The longest retention age accepted: 100 years.
inline constexpr std::chrono::seconds max_backup_age{std::chrono::hours(24) * 36'525};

/// Throws usage_error unless `max_age` (when set) is in (0, 100 years].
inline void check_max_age(const std::optional<std::chrono::seconds>& max_age) {
    if (max_age && (*max_age <= std::chrono::seconds::zero() || *max_age > max_backup_age))
        throw usage_error("backup max_age must be more than 0 and at most 100 years (36525 days); got " +
                          std::to_string(max_age->count()) + " s");
}

/// Whether `text` is the time stamp persist puts in a backup's name: "20261123T081530.123456Z",
/// with "-<n>" after it for a second backup within the same microsecond.
inline bool is_backup_stamp(std::string_view text) {
    constexpr std::string_view form = "ddddddddTdddddd.ddddddZ"; // d: a digit
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (text.size() < form.size()) return false;
    for (std::size_t i = 0; i < form.size(); ++i)
        if (form[i] == 'd' ? !digit(text[i]) : text[i] != form[i]) return false;
    const std::string_view rest = text.substr(form.size());
    if (rest.empty()) return true;
    return rest.size() >= 2 && rest[0] == '-' && std::all_of(rest.begin() + 1, rest.end(), digit);
}

/// The backups persist named in `directory` for `stem`, newest first: "<stem>-<time><suffix>"
/// (only those: "<stem>-test-<time><suffix>" belongs to another database).
inline std::vector<std::filesystem::path> backups_named(const std::filesystem::path& directory, const std::string& stem,
                                                        const std::string& suffix) {
    namespace fs = std::filesystem;
    std::error_code ignored;
    std::vector<std::pair<fs::file_time_type, fs::path>> dated;
    for (const auto& entry : fs::directory_iterator(directory, ignored)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > stem.size() + 1 + suffix.size() && name.starts_with(stem + "-") && name.ends_with(suffix) &&
            is_backup_stamp(std::string_view(name).substr(stem.size() + 1, name.size() - stem.size() - 1 - suffix.size())))
            dated.emplace_back(fs::last_write_time(entry.path(), ignored), entry.path());
    }
    // Newest first: by modification time, then by name (which holds the creation time).
    std::sort(dated.begin(), dated.end(), std::greater<>());
    std::vector<fs::path> found;
    for (auto& [time, path] : dated) found.push_back(std::move(path));
    return found;
}

/// Applies retention to the backups named "<stem>-<time><suffix>" in `directory`, `made`
/// (the backup just written) excepted: keeps the newest `keep` (0: all) and removes those
/// older than `max_age`, each with its manifest. Also removes manifests older than a minute
/// whose backup is missing (left by a backup killed between its two renames). Appends what
/// it removed to `removed`. Removal is best effort: the backup itself has succeeded.
inline void apply_retention(const std::filesystem::path& directory, const std::string& stem, const std::string& suffix,
                            const std::filesystem::path& made, std::size_t keep,
                            const std::optional<std::chrono::seconds>& max_age, std::vector<std::string>& removed) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto now = fs::file_time_type::clock::now();
    const auto existing = backups_named(directory, stem, suffix);
    for (std::size_t i = 0; i < existing.size(); ++i) {
        if (existing[i] == made) continue;
        const bool beyond_keep = keep > 0 && i >= keep;
        const bool too_old = max_age && now - fs::last_write_time(existing[i], ec) > *max_age;
        if (beyond_keep || too_old) {
            fs::remove(existing[i].string() + ".manifest", ec);
            fs::remove(existing[i], ec);
            removed.push_back(existing[i].string());
        }
    }
    for (const auto& manifest : backups_named(directory, stem, suffix + ".manifest")) {
        const std::string backup = manifest.string().substr(0, manifest.string().size() - 9);
        if (fs::exists(fs::symlink_status(backup, ec))) continue;
        const auto written = fs::last_write_time(manifest, ec);
        if (ec || now - written < std::chrono::minutes(1)) continue;
        if (fs::remove(manifest, ec)) removed.push_back(manifest.string());
    }
    if (!removed.empty()) {
        try {
            sync_directory(directory.string());
        } catch (const error&) {
        }
    }
}

} // namespace detail

} // namespace persist
