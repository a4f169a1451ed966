// persist/detail/savepoint.hpp: the savepoint scope both backends' transactions offer as
// tx.savepoint(fn), written once over "run this SQL".
#pragma once

#include "persist/error.hpp"

#include <string>
#include <type_traits>

namespace persist::detail {

/// Runs `fn()` between SAVEPOINT and RELEASE; if `fn` throws, rolls back to the savepoint,
/// releases it, calls `undone()` and rethrows. `run(sql)` runs one statement on the
/// transaction's connection; `depth` counts the savepoints open on it, so nested ones get
/// names of their own. If the connection fails while undoing, the original exception still
/// propagates (it says more; the Store then rolls the whole transaction back).
template <class Run, class Fn, class Undone>
auto run_in_savepoint(Run&& run, int& depth, Fn&& fn, Undone&& undone) -> decltype(fn()) {
    struct Depth {
        int& count;
        ~Depth() { --count; }
    } open{++depth};
    const std::string name = "persist_savepoint_" + std::to_string(depth);
    run("SAVEPOINT " + name);
    try {
        if constexpr (std::is_void_v<decltype(fn())>) {
            fn();
            run("RELEASE SAVEPOINT " + name);
        } else {
            auto result = fn();
            run("RELEASE SAVEPOINT " + name);
            return result;
        }
    } catch (...) {
        try {
            run("ROLLBACK TO SAVEPOINT " + name);
            run("RELEASE SAVEPOINT " + name);
        } catch (const error&) {
        }
        undone();
        throw;
    }
}

} // namespace persist::detail
