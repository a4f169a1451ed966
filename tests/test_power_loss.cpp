// Simulated power loss (tests/faults/): a workload runs with every change to its directory
// recorded; then, for every point of the recording, disk images are built as a power loss
// there could leave them (unsynced writes kept, lost or torn at random; names durable only
// once their directory was fsynced), and each image is opened as the next start would.
//   full:   no acknowledged write is lost, no image is corrupt;
//   normal: no image is corrupt (recent commits may roll back, as documented);
//   off:    the self-check: the simulator must find damage, or it could not find any;
//   all:    a backup is never found without its manifest, and always verifies.
#include "faults/log.hpp"
#include "faults/replay.hpp"
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/sqlite/backup.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct Tally {
    int images = 0, lost = 0, corrupt = 0, backup_problems = 0;
    std::string first_problem;
    void note(const std::string& problem) {
        if (first_problem.empty()) first_problem = problem;
    }
};

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Runs the workload with recording on; returns the log's records.
std::vector<crash::Op> record(const std::string& dir, const char* level, int rows) {
    const std::string log = dir + ".log";
    const pid_t child = ::fork();
    if (child == 0) {
        ::setenv("PERSIST_CRASH_DIR", dir.c_str(), 1);
        ::setenv("PERSIST_CRASH_LOG", log.c_str(), 1);
        const std::string count = std::to_string(rows);
        ::execl(PERSIST_CRASH_WORKLOAD, PERSIST_CRASH_WORKLOAD, dir.c_str(), level, count.c_str(), nullptr);
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    auto ops = crash::decode(read_all(log));
    fs::remove(log);
    return ops;
}

/// Opens the image in `scratch` as the next start would and checks it against the markers
/// acknowledged before the power loss.
void check_image(const std::map<std::string, std::string>& image, const std::string& dir, const std::string& scratch,
                 const std::set<std::uint64_t>& acked, Tally& tally, const std::string& where) {
    fs::remove_all(scratch);
    fs::create_directories(scratch);
    for (const auto& [name, content] : image) {
        std::ofstream out(scratch + name.substr(dir.size()), std::ios::binary);
        out << content;
    }
    ++tally.images;
    const std::string db = scratch + "/app.db";
    std::set<std::int64_t> present;
    bool migrated = false;
    if (fs::exists(db)) {
        sqlite3* handle = nullptr;
        sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr);
        std::string integrity = "no answer";
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v2(handle, "PRAGMA integrity_check", -1, &statement, nullptr) == SQLITE_OK &&
            sqlite3_step(statement) == SQLITE_ROW)
            integrity = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
        sqlite3_finalize(statement);
        if (integrity != "ok") {
            ++tally.corrupt;
            tally.note(where + ": integrity_check says " + integrity);
        }
        if (sqlite3_prepare_v2(handle, "SELECT id FROM items", -1, &statement, nullptr) == SQLITE_OK) {
            migrated = true;
            while (sqlite3_step(statement) == SQLITE_ROW) present.insert(sqlite3_column_int64(statement, 0));
        }
        sqlite3_finalize(statement);
        sqlite3_close(handle);
    }
    for (const auto marker : acked) {
        if (marker == 1'000'000) continue;
        const bool kept = marker == 0 ? migrated : present.count(static_cast<std::int64_t>(marker)) > 0;
        if (!kept) {
            ++tally.lost;
            tally.note(where + ": acknowledged step " + std::to_string(marker) + " is missing");
            break;
        }
    }
    const std::string backup = scratch + "/copy.backup.db";
    if (fs::exists(backup)) {
        try {
            persist::sqlite::verify(backup);
        } catch (const persist::error& e) {
            ++tally.backup_problems;
            tally.note(where + ": the backup does not verify: " + e.what());
        }
    } else if (acked.count(1'000'000)) {
        ++tally.backup_problems;
        tally.note(where + ": the acknowledged backup is missing");
    }
}

/// Every point of the recording, `per_point` images each.
Tally simulate(const char* level, int rows, int per_point) {
    test::TempDir base;
    const std::string dir = base / "work", scratch = base / "image";
    fs::create_directories(dir);
    const auto ops = record(dir, level, rows);
    REQUIRE(ops.size() > 50);
    crash::Disk disk;
    std::set<std::uint64_t> acked;
    std::mt19937_64 rng(20261129);
    Tally tally;
    for (std::size_t k = 0; k < ops.size(); ++k) {
        disk.apply(ops[k]);
        if (ops[k].kind == crash::Op::Kind::ack) acked.insert(ops[k].number);
        // Images after a write matter most; after the rest, one without any unsynced write.
        const std::string where = std::string(level) + ", power lost after record " + std::to_string(k);
        check_image(disk.image(rng, false), dir, scratch, acked, tally, where + " (unsynced writes lost)");
        for (int i = 0; i < per_point; ++i) check_image(disk.image(rng), dir, scratch, acked, tally, where);
    }
    MESSAGE(std::string(level) << ": " << ops.size() << " records, " << tally.images << " images, " << tally.lost << " with an acknowledged write lost, "
                  << tally.corrupt << " corrupt, " << tally.backup_problems << " with a backup problem");
    return tally;
}

int per_point() {
    const char* value = std::getenv("PERSIST_POWER_LOSS_IMAGES");
    return value ? std::max(1, std::atoi(value)) : 2;
}

} // namespace

TEST_CASE("durability full: no acknowledged write lost and nothing corrupt after a power loss at any point") {
    const auto tally = simulate("full", 24, per_point());
    INFO(tally.first_problem);
    CHECK(tally.lost == 0);
    CHECK(tally.corrupt == 0);
    CHECK(tally.backup_problems == 0);
}

TEST_CASE("a new database never has a rollback journal, and its name is durable before its first commit") {
    test::TempDir base;
    const std::string dir = base / "work";
    fs::create_directories(dir);
    const auto ops = record(dir, "full", 2);
    bool linked = false, synced_after_link = false;
    for (const auto& op : ops) {
        // The first transaction on a new file used to run with app.db-journal, whose deletion
        // a power loss could undo (a hot journal rolling the file back over the WAL).
        if (op.kind == crash::Op::Kind::create) CHECK(op.text != dir + "/app.db-journal");
        if (op.kind == crash::Op::Kind::link && op.text.ends_with("\n" + dir + "/app.db")) linked = true;
        if (op.kind == crash::Op::Kind::sync_directory && linked) synced_after_link = true;
        if (op.kind == crash::Op::Kind::ack) {
            CHECK(synced_after_link);
            break;
        }
    }
    CHECK(linked);
}

TEST_CASE("durability normal: recent commits may roll back, but nothing is corrupt") {
    const auto tally = simulate("normal", 24, per_point());
    INFO(tally.first_problem);
    CHECK(tally.corrupt == 0);
    CHECK(tally.backup_problems == 0);
}

TEST_CASE("self-check: at durability off the simulator does find damage") {
    const auto tally = simulate("off", 24, per_point());
    CHECK(tally.lost + tally.corrupt > 0);
}
