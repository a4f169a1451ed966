// persist/schema/partitions.hpp: the maintenance job of tables with the monthly_partitions
// mixin (persist/schema/table.hpp), for persist::Maintenance.
//
// On a dialect that partitions (PostgreSQL) the job creates the monthly partitions
// "<table>_pYYYYMM" of the current month and `ahead` months after it, so that rows land in a
// month of their own rather than in the default partition (rows of that month already in the
// default partition move into the new one, in the same transaction), and, with `keep_months`, drops the
// partitions wholly older than that many months before the current one (instant, whatever
// their size) and deletes such old rows from the default partition. Elsewhere (SQLite) the
// table is a plain one: the job deletes the same old rows in batches.
#pragma once

#include "persist/error.hpp"
#include "persist/schema/ddl.hpp"
#include "persist/schema/operations.hpp"
#include "persist/value.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace persist::schema::jobs {

namespace detail {
using std::chrono::year_month;

inline year_month month_of(std::chrono::system_clock::time_point time) {
    const std::chrono::year_month_day day{std::chrono::floor<std::chrono::days>(time)};
    return day.year() / day.month();
}
inline std::chrono::system_clock::time_point start_of(year_month month) { return std::chrono::sys_days{month / 1}; }
inline std::string rows(std::int64_t count) { return std::to_string(count) + (count == 1 ? " row" : " rows"); }
inline std::string suffix(year_month month) {
    char text[16];
    std::snprintf(text, sizeof text, "%04d%02u", static_cast<int>(month.year()), static_cast<unsigned>(month.month()));
    return text;
}
// The month of a partition name "<table>_pYYYYMM", or nullopt for any other name.
inline std::optional<year_month> month_of_partition(std::string_view table, std::string_view name) {
    const std::string prefix = std::string(table) + "_p";
    if (name.size() != prefix.size() + 6 || name.substr(0, prefix.size()) != prefix) return std::nullopt;
    int digits[6];
    for (int i = 0; i < 6; ++i) {
        const char c = name[prefix.size() + static_cast<std::size_t>(i)];
        if (c < '0' || c > '9') return std::nullopt;
        digits[i] = c - '0';
    }
    const int year = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3];
    const unsigned month = static_cast<unsigned>(digits[4] * 10 + digits[5]);
    if (month < 1 || month > 12) return std::nullopt;
    return std::chrono::year{year} / std::chrono::month{month};
}
} // namespace detail

/// See partitions().
template <TableType T>
struct Partitions {
    int ahead;
    std::optional<int> keep_months;
    std::size_t batch;
    std::function<std::chrono::system_clock::time_point()> clock;

    template <class StoreT>
    std::string operator()(StoreT& store) const {
        using D = typename StoreT::backend_type::dialect;
        const auto current = detail::month_of(clock());
        // A plain time point and a flag: GCC 12 -O2 warns an optional one "may be used uninitialized".
        const bool prune = keep_months.has_value();
        const auto cutoff = prune ? detail::start_of(current - std::chrono::months(*keep_months))
                                  : std::chrono::system_clock::time_point{};
        const std::string table(T::name);
        if constexpr (PartitioningDialect<D>) {
            const auto existing = store.read([&](typename StoreT::read_transaction& tx) {
                return tx.template query<std::string>(std::string(D::partitions_sql()), table);
            });
            const std::set<std::string> have(existing.begin(), existing.end());
            int created = 0, dropped = 0;
            for (int i = 0; i <= ahead; ++i) {
                const auto month = current + std::chrono::months(i);
                const std::string name = table + "_p" + detail::suffix(month);
                if (have.count(name)) continue;
                store.write([&](typename StoreT::write_transaction& tx) {
                    tx.execute_script(D::create_partition(table, default_partition_name(table), T::partition_column(), name,
                                                          format_time(detail::start_of(month)),
                                                          format_time(detail::start_of(month + std::chrono::months(1)))));
                });
                ++created;
            }
            std::int64_t old_rows = 0;
            if (prune) {
                for (const auto& name : existing) {
                    const auto month = detail::month_of_partition(table, name);
                    if (!month || detail::start_of(*month + std::chrono::months(1)) > cutoff) continue;
                    store.write([&](typename StoreT::write_transaction& tx) {
                        tx.execute_script("DROP TABLE " + D::quote_identifier(name));
                    });
                    ++dropped;
                }
                old_rows = delete_before(store, default_partition_name(table), cutoff);
            }
            return "created " + std::to_string(created) + " and dropped " + std::to_string(dropped) + " partitions of " +
                   table + (prune ? "; deleted " + detail::rows(old_rows) + " older than " +
                                        format_time(cutoff).substr(0, 10) + " from " +
                                         default_partition_name(table)
                                   : "");
        } else {
            if (!prune) return table + " is a plain table on " + std::string(D::name) + ": nothing to do";
            const auto deleted = delete_before(store, table, cutoff);
            return table + " is a plain table on " + std::string(D::name) + ": deleted " + detail::rows(deleted) +
                   " older than " + format_time(cutoff).substr(0, 10);
        }
    }

private:
    // Deletes the rows of `table` (T or one of its partitions) whose partition column is before
    // `cutoff`, `batch` per transaction.
    template <class StoreT>
    std::int64_t delete_before(StoreT& store, const std::string& table, std::chrono::system_clock::time_point cutoff) const {
        using D = typename StoreT::backend_type::dialect;
        const std::string keys = schema::detail::Sql<T, D>::names(true, false, false);
        const std::string sql = "DELETE FROM " + D::quote_identifier(table) + " WHERE (" + keys + ") IN (SELECT " + keys +
                                " FROM " + D::quote_identifier(table) + " WHERE " +
                                D::quote_identifier(T::partition_column()) + " < " + D::placeholder(1) + " ORDER BY " + keys +
                                " LIMIT " + std::to_string(batch) + ")";
        std::int64_t total = 0;
        for (;;) {
            const std::int64_t deleted =
                store.write([&](typename StoreT::write_transaction& tx) { return tx.execute(sql, cutoff); });
            total += deleted;
            if (deleted < static_cast<std::int64_t>(batch)) return total;
        }
    }
};

/// The maintenance job of T's monthly partitions (see the top of this header): creates the
/// current month's and `ahead` (0 to 24) following months' partitions; with `keep_months`
/// (0 to 1200), drops partitions that end before the first day of the month `keep_months`
/// before the current one and deletes older rows from the default partition (SQLite: from the
/// table, `batch` rows per transaction). `clock` gives the time (tests move it). Summary:
/// "created 3 and dropped 1 partitions of mcp_logs; deleted 0 rows older than 2026-10-01 from
/// mcp_logs_default" (SQLite: "mcp_logs is a plain table on sqlite: deleted 12 rows older than
/// 2026-10-01").
/// Throws usage_error for arguments out of range.
template <TableType T>
Partitions<T> partitions(int ahead = 2, std::optional<int> keep_months = {}, std::size_t batch = 1000,
                         std::function<std::chrono::system_clock::time_point()> clock = std::chrono::system_clock::now) {
    static_assert(T::is_partitioned, "persist: partitions<T> needs a table with the monthly_partitions<&Row::member> mixin");
    if (ahead < 0 || ahead > 24) throw usage_error("partitions: create 0 to 24 months ahead, not " + std::to_string(ahead));
    if (keep_months && (*keep_months < 0 || *keep_months > 1200))
        throw usage_error("partitions: keep 0 to 1200 months, not " + std::to_string(*keep_months));
    if (batch == 0) throw usage_error("partitions: the batch size must be at least 1");
    if (!clock) throw usage_error("partitions: the clock is empty");
    return {ahead, keep_months, batch, std::move(clock)};
}

} // namespace persist::schema::jobs
