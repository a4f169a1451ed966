// persist/migrate/embedded.hpp: migrations compiled into the binary, checked by the compiler.
//
//   using Migrations = persist::migrate::Embedded<
//       persist::migrate::Sql<1, "create_users", "CREATE TABLE users (id INTEGER PRIMARY KEY)">,
//       persist::migrate::Sql<2, "add_email", "ALTER TABLE users ADD COLUMN email TEXT",
//                             "ALTER TABLE users DROP COLUMN email">,
//       persist::migrate::Code<3, "backfill", "backfill v1", &backfill>,
//       persist::migrate::Code<4, "touch", "touch v1", [](auto& tx) { tx.execute("..."); }>>;
//   store.migrate(Migrations{});
//
// At compile time: versions are positive, unique and strictly increasing, names are
// non-empty, and every checksum is computed (Migrations::checksum<I>() is constexpr).
#pragma once

#include "persist/detail/fixed_string.hpp"
#include "persist/migrate/migration.hpp"
#include "persist/migrate/sha256.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

namespace persist::migrate {

using persist::detail::FixedString;

/// A SQL migration. Down is optional; the no-transaction marker in Up makes it
/// non-transactional.
template <std::int64_t Version, FixedString Name, FixedString Up, FixedString Down = "">
struct Sql {
    static constexpr std::int64_t version = Version;
    static constexpr std::string_view name = Name.view();
    static constexpr std::string_view up = Up.view();
    static constexpr std::string_view down = Down.view();
    static constexpr bool transactional = !marked_no_transaction(Up.view());
    static constexpr Checksum checksum = migrate::checksum(Up.view());

    static Migration make() {
        return Migration{version, std::string(name), std::string(up), std::string(down), transactional, checksum.str(), {}};
    }
    template <class Tx>
    static Migration make_for() {
        return make();
    }
};

namespace detail {
template <class F>
struct takes_one_transaction : std::false_type {};
template <class Tx>
struct takes_one_transaction<void (*)(Tx&)> : std::true_type {};
} // namespace detail

/// A code migration: `Function(tx)` runs inside the migration's transaction. Function is a
/// function `void f(Tx&)` for one backend's write transaction, or a captureless lambda (or
/// other callable object) taking `auto& tx`, which runs on every backend. ChecksumText stands
/// for the code: change it when the function's effect changes.
template <std::int64_t Version, FixedString Name, FixedString ChecksumText, auto Function>
struct Code {
    static_assert(std::is_class_v<decltype(Function)> || detail::takes_one_transaction<decltype(Function)>::value,
                  "persist: a code migration's function must be `void f(Tx& tx)` or a captureless lambda "
                  "`[](auto& tx) { ... }`");
    static constexpr std::int64_t version = Version;
    static constexpr std::string_view name = Name.view();
    static constexpr Checksum checksum = migrate::checksum(ChecksumText.view());

    static Migration make() {
        if constexpr (std::is_class_v<decltype(Function)>)
            return {version, std::string(name), {}, {}, true, checksum.str(), CodeFunction::unbound()};
        else
            return {version, std::string(name), {}, {}, true, checksum.str(), CodeFunction(Function)};
    }
    template <class Tx>
    static Migration make_for() {
        if constexpr (std::is_class_v<decltype(Function)>)
            return {version, std::string(name), {}, {}, true, checksum.str(), CodeFunction::bind<Tx>(Function)};
        else
            return make();
    }
};

namespace detail {

// Each check is a template whose arguments are the versions at fault, so the compiler's
// "required from" line names them next to the message.
template <std::int64_t Version>
struct check_version_positive {
    static_assert(Version > 0, "persist: migration versions must be positive (see the version in the instantiation above)");
    static constexpr bool value = true;
};

template <std::int64_t Earlier, std::int64_t Later>
struct check_versions_increase {
    static_assert(Earlier != Later, "persist: two migrations have the same version (named in the instantiation above)");
    static_assert(Earlier < Later, "persist: migration versions must be strictly increasing in the list: the later "
                                   "one (second argument above) is lower than the one before it");
    static constexpr bool value = true;
};

template <std::int64_t Version, bool NameNonEmpty>
struct check_name_present {
    static_assert(NameNonEmpty, "persist: a migration needs a non-empty name (the version is named above)");
    static constexpr bool value = true;
};

template <class... M>
constexpr bool check_all() {
    bool ok = (check_version_positive<M::version>::value && ...) &&
              (check_name_present<M::version, !M::name.empty()>::value && ...);
    if constexpr (sizeof...(M) > 1) {
        constexpr std::int64_t versions[] = {M::version...};
        ok = ok && [&]<std::size_t... I>(std::index_sequence<I...>) {
            return (check_versions_increase<versions[I], versions[I + 1]>::value && ...);
        }(std::make_index_sequence<sizeof...(M) - 1>{});
    }
    return ok;
}

} // namespace detail

/// A MigrationSource of migrations compiled into the binary.
template <class... M>
struct Embedded {
    static_assert(sizeof...(M) > 0, "persist: Embedded<> needs at least one migration");
    static_assert(detail::check_all<M...>(), "persist: the migration list is invalid (see the errors above)");

    /// The checksum of the I-th migration, at compile time.
    template <std::size_t I>
    static constexpr Checksum checksum() {
        constexpr Checksum all[] = {M::checksum...};
        return all[I];
    }
    static constexpr std::size_t size() { return sizeof...(M); }

    std::vector<Migration> migrations() const { return {M::make()...}; }
    /// The migrations with every generic code function bound to Tx (see migrations_of).
    template <class Tx>
    std::vector<Migration> migrations_for() const {
        return {M::template make_for<Tx>()...};
    }
};

} // namespace persist::migrate
