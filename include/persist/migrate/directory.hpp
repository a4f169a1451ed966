// persist/migrate/directory.hpp: migrations read from a directory of SQL files named the way
// golang-migrate names them: <version>_<name>.up.sql and <version>_<name>.down.sql.
#pragma once

#include "persist/migrate/migration.hpp"
#include "persist/detail/read_file.hpp"
#include "persist/migrate/sha256.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace persist::migrate {

/// A MigrationSource reading `directory` each time migrations() is called. Files not ending
/// in ".sql" are ignored. Throws migration_refused (Reason::malformed_source) listing every
/// problem: malformed names, duplicate versions, a down without an up, unreadable files.
class Directory {
public:
    /// The largest migration file read (256 MiB); a larger one is reported as a problem.
    static constexpr std::size_t max_file_bytes = std::size_t{256} << 20;

    explicit Directory(std::filesystem::path directory) : directory_(std::move(directory)) {}

    std::vector<Migration> migrations() const {
        std::vector<std::string> problems;
        struct Files {
            std::string name;
            std::vector<std::string> up, down; // file names, to report duplicates
            std::string up_text, down_text;
        };
        std::map<std::int64_t, Files> found;
        std::error_code error;
        std::vector<std::filesystem::path> entries;
        for (std::filesystem::directory_iterator it(directory_, error), end; !error && it != end; it.increment(error))
            entries.push_back(it->path());
        if (error)
            throw migration_refused(Reason::malformed_source, 0,
                                    "cannot read migration directory " + directory_.string() + ": " + error.message());
        std::sort(entries.begin(), entries.end());
        for (const auto& path : entries) {
            const std::string file = path.filename().string();
            if (!file.ends_with(".sql")) continue;
            const bool up = file.ends_with(".up.sql");
            const bool down = file.ends_with(".down.sql");
            const auto underscore = file.find('_');
            std::int64_t version = 0;
            bool digits = underscore != std::string::npos && underscore > 0 && underscore <= 18;
            for (std::size_t i = 0; digits && i < underscore; ++i) {
                if (!std::isdigit(static_cast<unsigned char>(file[i]))) digits = false;
                else version = version * 10 + (file[i] - '0');
            }
            const std::size_t suffix = up ? 7 : down ? 9 : 0;
            const std::string name =
                digits && suffix && file.size() > underscore + 1 + suffix ? file.substr(underscore + 1, file.size() - underscore - 1 - suffix) : "";
            if (!digits || !(up || down) || name.empty() || version <= 0) {
                problems.push_back(file + ": not <version>_<name>.up.sql or <version>_<name>.down.sql "
                                          "(version: digits above 0; name: not empty)");
                continue;
            }
            auto read = persist::detail::read_regular_file(path.string(), max_file_bytes);
            if (read.status == persist::detail::FileRead::Status::not_regular) {
                problems.push_back(file + ": cannot be read (not a regular file)");
                continue;
            }
            if (read.status == persist::detail::FileRead::Status::too_large) {
                problems.push_back(file + ": larger than " + std::to_string(max_file_bytes >> 20) +
                                   " MiB; split it into several migrations");
                continue;
            }
            if (read.status != persist::detail::FileRead::Status::ok) {
                problems.push_back(file + ": cannot be read (" + std::strerror(read.error) + ")");
                continue;
            }
            const std::string& text = read.text;
            if (text.find('\0') != std::string::npos) {
                problems.push_back(file + ": holds a NUL byte; SQL text never does, so the file is damaged or not SQL");
                continue;
            }
            auto& entry = found[version];
            auto& same_kind = up ? entry.up : entry.down;
            if (!entry.name.empty() && entry.name != name)
                problems.push_back(file + ": version " + std::to_string(version) + " is also used by \"" + entry.name + "\"");
            else if (!same_kind.empty()) // "1_a" and "01_a": one version, two files
                problems.push_back(file + ": version " + std::to_string(version) + " is also used by " + same_kind.front());
            entry.name = name;
            (up ? entry.up : entry.down).push_back(file);
            (up ? entry.up_text : entry.down_text) = text;
        }
        for (const auto& [version, entry] : found) {
            if (entry.up.empty())
                problems.push_back(entry.down.front() + ": a down file without its up file (" + std::to_string(version) +
                                   "_" + entry.name + ".up.sql)");
        }
        if (!problems.empty()) {
            std::string message = "migration directory " + directory_.string() + " has " +
                                  std::to_string(problems.size()) + " problem(s):";
            for (const auto& problem : problems) message += "\n  " + problem;
            throw migration_refused(Reason::malformed_source, 0, message);
        }
        std::vector<Migration> result;
        for (const auto& [version, entry] : found)
            result.push_back(Migration{version, entry.name, entry.up_text, entry.down_text,
                                       !marked_no_transaction(entry.up_text), checksum(entry.up_text).str(), {}});
        return result;
    }

private:
    std::filesystem::path directory_;
};

static_assert(MigrationSource<Directory>);

} // namespace persist::migrate
