// persist/detail/fixed_string.hpp: a string literal usable as a template argument, shared by
// the embedded migrations (migrate::Sql<1, "name", "...">) and the schema descriptors
// (Table<"users", ...>, Column<&User::id, "id">).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace persist::detail {

/// A string usable as a template argument.
template <std::size_t N>
struct FixedString {
    char text[N]{};
    constexpr FixedString(const char (&literal)[N]) { std::copy_n(literal, N, text); }
    constexpr std::string_view view() const { return {text, N - 1}; }
};

} // namespace persist::detail
