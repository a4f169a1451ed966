// persist/migrate/migration.hpp: what a migration is, the MigrationSource concept, and the
// migration error with the reason a user can act on.
#pragma once

#include "persist/error.hpp"
#include "persist/migrate/sha256.hpp"
#include "persist/sqlite/transaction.hpp"

#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
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

/// One migration, as the runner sees it.
struct Migration {
    std::int64_t version = 0;
    std::string name;
    std::string up;                    ///< SQL run by migrate (empty for code migrations)
    std::string down;                  ///< SQL run by migrate_to a lower version; empty if none
    bool transactional = true;         ///< false: run outside a transaction (see README)
    std::string checksum;              ///< SHA-256 hex of the normalised up text (or the code's checksum text)
    /// For code migrations: run inside the migration's transaction instead of `up`.
    std::function<void(sqlite::Transaction&)> code;

    bool has_down() const { return !down.empty(); }
};

/// A MigrationSource gives the migrations in order of version:
///   source.migrations() -> std::vector<Migration>
/// It may throw migration_error (reason malformed_source) listing every problem it found.
template <class S>
concept MigrationSource = requires(const S& source) {
    { source.migrations() } -> std::same_as<std::vector<Migration>>;
};

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
