// persist/schema/maintenance_jobs.hpp: maintenance jobs over described tables, for
// persist::Maintenance (persist/maintenance.hpp): retention (delete rows older than an age)
// and expiry (a typed update of rows past their deadline, handing them to the application).
// Both work in bounded batches, one write transaction each, so that the application's own
// writes wait at most one batch.
#pragma once

#include "persist/error.hpp"
#include "persist/schema/operations.hpp"
#include "persist/schema/set_update.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace persist::schema::jobs {

namespace detail {
inline std::string age_text(std::chrono::seconds age) {
    const auto s = age.count();
    if (s % 86400 == 0) return std::to_string(s / 86400) + (s == 86400 ? " day" : " days");
    if (s % 3600 == 0) return std::to_string(s / 3600) + (s == 3600 ? " hour" : " hours");
    return std::to_string(s) + " s";
}

template <class T, auto Member>
constexpr bool is_time_column() {
    using M = typename schema::detail::member_traits<std::remove_cv_t<decltype(Member)>>::type;
    using V = typename unwrap_optional<M>::type;
    return std::is_same_v<V, std::chrono::system_clock::time_point> && T::template has_member<Member>();
}
} // namespace detail

/// See retention().
template <TableType T, auto Time>
struct Retention {
    std::chrono::seconds max_age;
    std::size_t batch;

    template <class StoreT>
    std::string operator()(StoreT& store) const {
        using D = typename StoreT::backend_type::dialect;
        const auto where = col<Time> < std::chrono::system_clock::now() - max_age;
        int index = 0;
        const std::string table = schema::detail::Sql<T, D>::table();
        const std::string keys = schema::detail::Sql<T, D>::names(true, false, false);
        const std::string sql = "DELETE FROM " + table + " WHERE (" + keys + ") IN (SELECT " + keys + " FROM " + table +
                                " WHERE " + where.template render<T, D>(index) + " ORDER BY " + keys + " LIMIT " +
                                std::to_string(batch) + ")";
        std::int64_t total = 0;
        for (;;) {
            const std::int64_t deleted = store.write([&](typename StoreT::write_transaction& tx) {
                return std::apply([&](const auto&... value) { return tx.execute(sql, value...); }, where.values());
            });
            total += deleted;
            if (deleted < static_cast<std::int64_t>(batch)) break;
        }
        return "deleted " + std::to_string(total) + " row" + (total == 1 ? "" : "s") + " of " + std::string(T::name) +
               " older than " + detail::age_text(max_age);
    }
};

/// A job that deletes the rows of T whose `Time` column (a system_clock time_point, optional
/// or not; NULL never matches) is older than `max_age`, `batch` rows per transaction, until
/// none is left; soft-deleted rows too (this is deletion for real). Summary: "deleted 120 rows
/// of mcp_logs older than 30 days". Throws usage_error for a batch of 0 or an age under 1 s.
template <TableType T, auto Time>
Retention<T, Time> retention(std::chrono::seconds max_age, std::size_t batch = 1000) {
    static_assert(detail::is_time_column<T, Time>(),
                  "persist: retention<T, &Row::member> needs a column of T of type std::chrono::system_clock::time_point "
                  "(or std::optional of it)");
    if (batch == 0) throw usage_error("retention: the batch size must be at least 1");
    if (max_age < std::chrono::seconds(1)) throw usage_error("retention: the age must be at least 1 s");
    return {max_age, batch};
}

/// See expiry().
template <TableType T, auto Deadline, class S, class Where, class OnExpired>
struct Expiry {
    S assignments;
    Where where;
    OnExpired on_expired;
    std::size_t batch;

    template <class StoreT>
    std::string operator()(StoreT& store) const {
        using Row = typename T::row_type;
        const auto matching = col<Deadline> < std::chrono::system_clock::now() && where;
        // At most the rows matching now: `assignments` should make a row stop matching, but a
        // set that does not must not loop forever.
        const std::int64_t limit = store.read([&](typename StoreT::read_transaction& tx) { return count<T>(tx, matching); });
        std::int64_t total = 0;
        while (total < limit) {
            const std::vector<Row> rows = store.write([&](typename StoreT::write_transaction& tx) {
                return update_returning<T>(tx, assignments, matching, order_by(col<Deadline>.asc()),
                                           Page{static_cast<std::int64_t>(batch), 0});
            });
            if (rows.empty()) break;
            total += static_cast<std::int64_t>(rows.size());
            on_expired(rows);
            if (rows.size() < batch) break;
        }
        return "expired " + std::to_string(total) + " row" + (total == 1 ? "" : "s") + " of " + std::string(T::name);
    }
};

/// A job that applies `assignments` (set(col<&Row::status>.to("expired")), ...) to the rows of
/// T whose `Deadline` column is in the past and that match `where`, earliest first, `batch` per
/// transaction, and after each transaction commits hands the changed rows to `on_expired`
/// (const std::vector<Row>&), e.g. to stop the processes they describe. `assignments` should
/// make a row stop matching `where` (as setting the status that `where` tests does); a run
/// changes at most the rows that matched when it began. If `on_expired` throws, the job fails
/// with that batch already committed. Summary: "expired 3 rows of mcp_instances".
template <TableType T, auto Deadline, class S, class Where, class OnExpired>
    requires schema::detail::is_predicate<Where>::value
Expiry<T, Deadline, S, Where, OnExpired> expiry(S assignments, Where where, OnExpired on_expired, std::size_t batch = 100) {
    static_assert(detail::is_time_column<T, Deadline>(),
                  "persist: expiry<T, &Row::member> needs a column of T of type std::chrono::system_clock::time_point "
                  "(or std::optional of it)");
    if (batch == 0) throw usage_error("expiry: the batch size must be at least 1");
    return {std::move(assignments), std::move(where), std::move(on_expired), batch};
}

} // namespace persist::schema::jobs
