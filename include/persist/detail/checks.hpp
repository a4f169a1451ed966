// persist/detail/checks.hpp: compile-time checks of what user code hands a transaction.
//
// Each check is a static_assert whose message says what is wrong and how to fix it; the
// offending type is named on the "In instantiation of ... [with ...]" line just above it.
// Callers test the result with `if constexpr` and compile nothing else when it is false, so
// one mistake gives one short diagnostic (tests/compile-fail caps each at 20 lines of g++ 12
// output) rather than a cascade of errors from deep inside persist.
#pragma once

#include "persist/backend.hpp"
#include "persist/detail/row.hpp"
#include "persist/lock/policy.hpp"
#include "persist/value.hpp"

#include <type_traits>

namespace persist::detail {

/// True when every type in Params can be bound as a SQL parameter; a static_assert otherwise.
template <class... Params>
consteval bool check_parameters() {
    constexpr bool bindable = (Parameter<Params> && ...);
    static_assert(bindable, "persist: a parameter type in 'Params = {...}' above cannot be bound to SQL. Pass "
                            "integers, bool, floating point, strings, persist::Blob, system_clock time points or "
                            "std::optional of them; for an IN (...) list pass persist::Many<T>{values}");
    return bindable;
}

/// True when Field, a field type of row struct RowType, is void (meaning: every field can be
/// read); a static_assert otherwise.
template <class RowType, class Field>
consteval bool check_row_fields() {
    constexpr bool readable = std::is_void_v<Field>;
    static_assert(readable, "persist: row struct 'RowType' above has a field of type 'Field' above, which cannot be "
                            "read from a column. Give every field a column value type (integer, bool, floating "
                            "point, std::string, persist::Blob, time point, std::optional of one)");
    return readable;
}

/// True when rows can be read as RowType; a static_assert otherwise.
template <class RowType>
consteval bool check_row() {
    constexpr bool readable = Row<RowType>;
    static_assert(readable, "persist: rows cannot be read as 'RowType' above. Read them as a column value type "
                            "(integer, bool, floating point, std::string, persist::Blob, time point, std::optional), "
                            "a std::tuple of those, or an aggregate struct of those");
    if constexpr (readable && RowStruct<RowType>) {
        constexpr bool narrow = field_count<RowType>() <= 16;
        static_assert(narrow, "persist: a row struct may have at most 16 fields; read wider rows as a std::tuple "
                              "or split the query");
        if constexpr (narrow) return check_row_fields<RowType, unreadable_field<RowType>>();
        else return false;
    } else {
        return readable;
    }
}

/// check_row<RowType>() && check_parameters<Params...>(), each mistake reported.
template <class RowType, class... Params>
consteval bool check_query() {
    constexpr bool row = check_row<RowType>();
    constexpr bool parameters = check_parameters<Params...>();
    return row && parameters;
}

/// True when Fn can be called with a Tx&, the function given to Store::write/read.
/// A generic function (a template operator(), such as [](auto& tx) {...}) is called here
/// in an unevaluated context: that compiles its body, and a mistake in it is then reported
/// from the user's line with only a few lines of context, once.
template <class Fn, class Tx>
consteval bool check_transaction_function() {
    using F = std::remove_cvref_t<Fn>;
    if constexpr (std::is_class_v<F> && !requires { &F::operator(); }) {
        if constexpr (requires(Fn& fn, Tx& tx) { fn(tx); }) {
            return true;
        } else {
            // Reports why the call fails (unless the body's own error was just reported).
            using Result [[maybe_unused]] = decltype(std::declval<Fn&>()(std::declval<Tx&>()));
            return false;
        }
    } else {
        constexpr bool takes_transaction = std::is_invocable_v<Fn&, Tx&>;
        static_assert(takes_transaction, "persist: the function given to store.write() / store.read() must take the "
                                         "transaction ('Tx' above) by reference: [&](auto& tx) { ... }");
        return takes_transaction;
    }
}

/// The backend of persist::Store<B, L> (specialised in persist/store.hpp); void otherwise.
template <class S>
struct store_backend {
    using type = void;
};

/// Whether S is a persist::Store whose backend is B.
template <class S, class B>
inline constexpr bool is_store_of = std::is_same_v<typename store_backend<S>::type, B>;

/// Whether S is a persist::Store (any backend, any lock policy).
template <class S>
inline constexpr bool is_store = !std::is_void_v<typename store_backend<S>::type>;

/// True when Source has migrations(), the migrations to apply; a static_assert otherwise.
template <class Source>
consteval bool check_migration_source() {
    constexpr bool is_source = requires(const Source& source) { source.migrations(); };
    static_assert(is_source, "persist: 'Source' above is not a migration source: pass "
                             "persist::migrate::Directory(\"path/to/migrations\") for .sql files, or "
                             "persist::migrate::Embedded<...> for migrations compiled in");
    return is_source;
}

} // namespace persist::detail

namespace persist {
/// A persist::Store of any backend and lock policy: what Migrator, run_migrations and
/// schema::require take.
template <class S>
concept AnyStore = detail::is_store<S>; // pass the Store itself, e.g. a persist::SqliteStore
} // namespace persist
