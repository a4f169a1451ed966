// load() on a hostile dump, then the round trip: whatever load accepted, dump -> load -> dump
// gives the same text (after the header line). Refusals are typed errors; no statement may
// escape the load's transaction or touch another file.
#include "fuzz_support.hpp"

#include <persist/sqlite.hpp>
#include <persist/sqlite/dump.hpp>

namespace {
persist::Config memory() {
    persist::Config config = persist::Config::for_app("fuzz");
    config.db_path = ":memory:";
    return config;
}
std::string body(const std::string& dump) { return dump.substr(dump.find('\n') + 1); }
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::clear();
    const std::string file = fuzz::scratch() + "/input.sql";
    fuzz::write_file(file, std::string_view(reinterpret_cast<const char*>(data), size));
    persist::SqliteStore first(memory());
    bool loaded = false;
    fuzz::expect_typed([&] {
        persist::sqlite::load(first, file);
        loaded = true;
    });
    if (!loaded) return 0;
    std::string dumped;
    fuzz::expect_typed([&] { dumped = persist::sqlite::dump_text(first).text; });
    if (dumped.empty()) return 0; // a schema dump refuses to copy (a typed error above)
    fuzz::write_file(file, dumped);
    persist::SqliteStore second(memory());
    persist::sqlite::load(second, file); // what dump wrote must load: an exception here is a finding
    if (body(persist::sqlite::dump_text(second).text) != body(dumped)) std::abort();
    return 0;
}
