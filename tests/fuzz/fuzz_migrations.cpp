// Migration directories on hostile input: entries separated by "\n--FILE--\n", each a file
// name, a newline, and the file's text. The directory is read (malformed_source or a list),
// then applied to an in-memory database: any outcome but a typed error or success is a
// finding, and SQL from the files must never escape its transaction.
#include "fuzz_support.hpp"

#include <persist/migrate.hpp>
#include <persist/sqlite.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::clear();
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    const std::string dir = fuzz::scratch() + "/migrations";
    std::filesystem::create_directory(dir);
    for (int files = 0; !rest.empty() && files < 16; ++files) {
        const auto [entry, next] = fuzz::split(rest, "\n--FILE--\n");
        rest = next;
        const auto [name, text] = fuzz::split(entry, "\n");
        // A name stays inside the directory: one component, no NUL.
        if (name.empty() || name.size() > 200 || name == "." || name == ".." ||
            name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos)
            continue;
        fuzz::write_file(dir + "/" + std::string(name), text);
    }
    fuzz::expect_typed([&] {
        persist::Config config = persist::Config::for_app("fuzz");
        config.db_path = ":memory:";
        persist::SqliteStore store(config);
        store.migrate(persist::migrate::Directory(dir));
        // Still inside persist's control: no transaction was left open by the files.
        store.write([](auto& tx) { tx.execute_script("CREATE TABLE IF NOT EXISTS fuzz_after (x)"); });
    });
    return 0;
}
