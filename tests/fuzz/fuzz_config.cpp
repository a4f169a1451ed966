// Config::from_env on hostile environment values: the input is up to six NUL-separated
// values for FUZZ_DB_PATH, FUZZ_DB_DIR, FUZZ_BUSY_TIMEOUT_MS, FUZZ_DURABILITY,
// FUZZ_CACHE_SIZE_KIB and FUZZ_MIGRATIONS_DIR. Every outcome is a Config within its documented
// ranges (paths from the environment made absolute), or a config_error.
#include "fuzz_support.hpp"

#include <persist/config.hpp>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const char* names[] = {"FUZZ_DB_PATH", "FUZZ_DB_DIR", "FUZZ_BUSY_TIMEOUT_MS", "FUZZ_DURABILITY",
                                  "FUZZ_CACHE_SIZE_KIB", "FUZZ_MIGRATIONS_DIR"};
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    for (const char* name : names) {
        if (rest.empty()) {
            ::unsetenv(name);
            continue;
        }
        const auto [value, next] = fuzz::split(rest, std::string_view("\0", 1));
        rest = next;
        ::setenv(name, std::string(value).c_str(), 1);
    }
    fuzz::expect_typed([] {
        const auto config = persist::Config::from_env("FUZZ", persist::Config::for_app("fuzz"));
        if (config.busy_timeout.count() < 0 || config.busy_timeout.count() > 86'400'000) std::abort();
        if (config.cache_size_kib < 16 || config.cache_size_kib > 16'777'216) std::abort();
        (void)config.path();
        // Relative paths from the environment are resolved, so every process opens one file.
        if (!config.db_path.empty() && config.db_path != ":memory:" && config.db_path.front() != '/') std::abort();
        if (!config.migrations_dir.empty() && config.migrations_dir.front() != '/') std::abort();
    });
    return 0;
}
