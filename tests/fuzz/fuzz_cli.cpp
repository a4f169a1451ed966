// The persist tool's arguments: the input is NUL-separated words given to run_cli() (with
// --json added), inside a scratch directory. Words holding '/' are dropped so that nothing is
// written outside it. Every run must print exactly one JSON document and return a documented
// exit code (0 to 5); a crash or an untyped exception is a finding.
#include "fuzz_support.hpp"

#include "../../tools/persist/cli.hpp"

#include <fcntl.h>
#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::clear();
    static const int home = [] {
        ::setenv("PERSIST_DB_PATH", "fuzz.db", 1);
        ::unsetenv("PERSIST_DB_DIR");
        return ::open(".", O_RDONLY | O_DIRECTORY);
    }();
    // Relative paths in the words land in the scratch directory; libFuzzer's own relative
    // paths need the original one back afterwards.
    if (home < 0 || ::chdir(fuzz::scratch().c_str()) != 0) std::abort();
    struct Back {
        ~Back() {
            if (::fchdir(home) != 0) std::abort();
        }
    } back;
    std::vector<std::string> words{"persist", "--json", "--timeout", "200"};
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    while (!rest.empty() && words.size() < 24) {
        const auto [word, next] = fuzz::split(rest, std::string_view("\0", 1));
        rest = next;
        if (word.find('/') == std::string_view::npos && word.size() < 300) words.emplace_back(word);
    }
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    std::ostringstream captured;
    auto* old = std::cout.rdbuf(captured.rdbuf());
    int code = -1;
    try {
        code = persist_cli::run_cli(static_cast<int>(words.size()), argv.data());
    } catch (...) {
        std::cout.rdbuf(old);
        std::abort();
    }
    std::cout.rdbuf(old);
    if (code < 0 || code > 5) std::abort();
    try {
        (void)nlohmann::json::parse(captured.str());
    } catch (const nlohmann::json::exception&) {
        std::fprintf(stderr, "not one JSON document: %s\n", captured.str().c_str());
        std::abort();
    }
    return 0;
}
