// persist/migrate/migration.hpp: what a migration is, the MigrationSource concept, and the
// migration error with the reason a user can act on.
#pragma once

#include "persist/error.hpp"
#include "persist/migrate/sha256.hpp"

#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

namespace persist::migrate {

/// The comment that marks a SQL migration as one that cannot run inside a transaction
/// (for example a statement SQLite refuses in a transaction). It may appear on any line.
inline constexpr std::string_view no_transaction_marker = "-- persist:no-transaction";

/// Whether `sql` carries the no-transaction marker.
constexpr bool marked_no_transaction(std::string_view sql) {
    // A plain loop: GCC 12 with -fsanitize=address cannot constant-evaluate string_view::find
    // on a template argument object.
    const std::string_view marker = no_transaction_marker;
    for (std::size_t at = 0; at + marker.size() <= sql.size(); ++at) {
        std::size_t i = 0;
        while (i < marker.size() && sql[at + i] == marker[i]) ++i;
        if (i == marker.size()) return true;
    }
    return false;
}

/// A code migration's C++ function, bound to the write transaction type it runs in: a plain
/// function `void f(Tx&)` is bound to its Tx; a generic callable (`[](auto& tx) {...}`, or
/// an object with a templated call operator) is bound by its source to the transaction of the
/// store that runs it (Embedded does; see migrations_of). Copyable; empty for SQL migrations.
class CodeFunction {
public:
    CodeFunction() = default;
    /// A function for write transactions of type Tx.
    template <class Tx>
    CodeFunction(void (*function)(Tx&)) : CodeFunction(bind<Tx>(function)) {}
    /// A function object for write transactions of type Tx.
    template <class Tx>
    CodeFunction(std::function<void(Tx&)> function) : CodeFunction(bind<Tx>(std::move(function))) {}

    /// `function` (callable with a Tx&), for write transactions of type Tx.
    template <class Tx, class F>
    static CodeFunction bind(F function) {
        CodeFunction code;
        code.run_ = [function = std::move(function)](void* tx) { function(*static_cast<Tx*>(tx)); };
        code.transaction_ = &typeid(Tx);
        code.backend_ = std::string(Tx::dialect::name);
        return code;
    }

    /// A generic function not bound to a transaction type yet: its source must bind it.
    static CodeFunction unbound() {
        CodeFunction code;
        code.backend_ = "any";
        return code;
    }

    /// Whether this is a code migration's function (bound or not).
    explicit operator bool() const noexcept { return !backend_.empty(); }
    /// Whether it can run in a Tx.
    template <class Tx>
    bool runs_in() const noexcept {
        return transaction_ != nullptr && *transaction_ == typeid(Tx);
    }
    /// The backend whose transactions it takes ("sqlite", "postgres"), "any" when unbound.
    const std::string& backend() const noexcept { return backend_; }

    /// Runs it in `tx`. Throws usage_error when it was written for another transaction type.
    template <class Tx>
    void operator()(Tx& tx) const {
        if (!runs_in<Tx>())
            throw usage_error("this code migration takes " + backend_ + " transactions and cannot run in a " +
                              std::string(Tx::dialect::name) + " one");
        run_(&tx);
    }

private:
    std::function<void(void*)> run_;
    const std::type_info* transaction_ = nullptr;
    std::string backend_;
};

/// One migration, as the runner sees it.
struct Migration {
    std::int64_t version = 0;
    std::string name;
    std::string up;                    ///< SQL run by migrate (empty for code migrations)
    std::string down;                  ///< SQL run by migrate_to a lower version; empty if none
    bool transactional = true;         ///< false: run outside a transaction (see README)
    std::string checksum;              ///< SHA-256 hex of the normalised up text (or the code's checksum text)
    /// For code migrations: run inside the migration's transaction instead of `up`.
    CodeFunction code;

    bool has_down() const { return !down.empty(); }
};

/// A MigrationSource gives the migrations in order of version:
///   source.migrations() -> std::vector<Migration>
/// It may throw migration_error (reason malformed_source) listing every problem it found.
template <class S>
concept MigrationSource = requires(const S& source) {
    { source.migrations() } -> std::same_as<std::vector<Migration>>;
};

/// The migrations of `source` with their code bound to write transactions of type Tx: those
/// of source.migrations_for<Tx>() when the source has it (Embedded), else source.migrations().
template <class Tx, MigrationSource S>
std::vector<Migration> migrations_of(const S& source) {
    if constexpr (requires { source.template migrations_for<Tx>(); })
        return source.template migrations_for<Tx>();
    else
        return source.migrations();
}

/// Why a migration run was refused or failed.
enum class Reason {
    malformed_source,   ///< bad file names, duplicate or unordered versions, down without up
    checksum_mismatch,  ///< an applied migration's text changed since it was applied
    missing_from_source,///< the database has a migration the code does not know
    database_newer,     ///< the database's head is above every migration the code knows
    out_of_order,       ///< a new migration sorts below the applied head
    incomplete,         ///< a non-transactional migration started and never completed
    no_down,            ///< migrate_to below a migration that has no down script
    failed,             ///< the migration's SQL or code threw
    usage,              ///< baseline on a database with history, repair of an unknown version
};

/// A migration_error that says which rule was broken, on which version.
class migration_refused : public migration_error {
public:
    migration_refused(Reason reason, std::int64_t version, const std::string& message, int native_code = 0)
        : migration_error(message, native_code), reason_(reason), version_(version) {}
    Reason reason() const noexcept { return reason_; }
    /// The version at fault (0 when the problem is not about one version).
    std::int64_t version() const noexcept { return version_; }

private:
    Reason reason_;
    std::int64_t version_;
};

} // namespace persist::migrate
