// Backup verification on hostile input: the input is a manifest, the separator "\n--DB--\n",
// then the bytes of the backup file. Manifest::parse and verify() must end in backup_error (or
// accept), never crash; a manifest that parses must survive text() -> parse() unchanged.
#include "fuzz_support.hpp"

#include <persist/sqlite/backup.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto parts = fuzz::split(input, "\n--DB--\n");
    const std::string_view manifest = parts.first, database = parts.second; // lambdas cannot capture bindings in C++20
    fuzz::expect_typed([&] {
        const auto parsed = persist::sqlite::Manifest::parse(manifest, "fuzz.manifest");
        const auto again = persist::sqlite::Manifest::parse(parsed.text(), "fuzz.manifest");
        if (again.text() != parsed.text() || again.row_counts != parsed.row_counts || again.migrations != parsed.migrations)
            std::abort();
    });
    fuzz::clear();
    const std::string backup = fuzz::scratch() + "/backup.db";
    fuzz::write_file(backup, database);
    fuzz::write_file(backup + ".manifest", manifest);
    fuzz::expect_typed([&] { persist::sqlite::verify(backup); });
    return 0;
}
