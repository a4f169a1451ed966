// Shared by the libFuzzer targets: a scratch directory that is emptied between inputs, and
// the rule every target checks: hostile input ends in a persist::error (or success), never a
// crash, a sanitizer report, or another exception.
#pragma once

#include <persist/error.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace fuzz {

/// A directory of its own for this fuzzing process (under $TMPDIR), emptied by clear(), removed
/// at a normal exit (scripts/fuzz removes what libFuzzer's hard exits leave).
inline const std::string& scratch() {
    struct Directory {
        std::string path;
        Directory() {
            const char* base = std::getenv("TMPDIR");
            std::string name = std::string(base && *base ? base : "/tmp") + "/persist-fuzz-XXXXXX";
            const char* made = ::mkdtemp(name.data());
            if (!made) std::abort();
            path = made;
        }
        ~Directory() {
            std::error_code ignored;
            std::filesystem::remove_all(path, ignored);
        }
    };
    static const Directory directory;
    return directory.path;
}

inline void clear() {
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(scratch(), ignored)) std::filesystem::remove_all(entry.path(), ignored);
}

inline void write_file(const std::string& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Splits `input` at the first occurrence of `separator`: {before, after} (after empty if none).
inline std::pair<std::string_view, std::string_view> split(std::string_view input, std::string_view separator) {
    const auto at = input.find(separator);
    if (at == std::string_view::npos) return {input, {}};
    return {input.substr(0, at), input.substr(at + separator.size())};
}

/// Runs `fn`; a persist::error is an accepted outcome, anything else aborts (a finding).
template <class Fn>
void expect_typed(Fn&& fn) {
    try {
        fn();
    } catch (const persist::error&) {
    } catch (const std::exception& e) {
        std::fprintf(stderr, "untyped exception: %s\n", e.what());
        std::abort();
    }
}

} // namespace fuzz
