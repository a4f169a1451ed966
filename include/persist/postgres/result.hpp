// persist/postgres/result.hpp: what a statement on a Connection gives back: its result (owning
// libpq's PGresult) and a view of one row.
#pragma once

#include "persist/postgres/values.hpp"

#include <libpq-fe.h>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace persist::postgres {

/// A query result (owns the PGresult).
class Result {
public:
    explicit Result(PGresult* result) : result_(result, &PQclear) {}
    int rows() const noexcept { return PQntuples(result_.get()); }
    int columns() const noexcept { return PQnfields(result_.get()); }
    /// The text of row `r`, column `c`, or nullopt for NULL.
    std::optional<std::string> value(int r, int c) const {
        if (PQgetisnull(result_.get(), r, c)) return std::nullopt;
        return std::string(PQgetvalue(result_.get(), r, c), static_cast<std::size_t>(PQgetlength(result_.get(), r, c)));
    }
    /// Rows changed by an INSERT, UPDATE or DELETE.
    std::int64_t changes() const {
        const char* count = PQcmdTuples(result_.get());
        return count && *count ? std::stoll(count) : 0;
    }
    PGresult* get() const noexcept { return result_.get(); }

private:
    std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

/// One result row seen by Connection::for_each_row: column names and typed access.
class RowView {
public:
    RowView(const PGresult* result, int row) noexcept : result_(result), columns_(result, row), row_(row) {}
    int size() const noexcept { return PQnfields(result_); }
    std::string_view name(int index) const noexcept { return PQfname(result_, index); }
    bool is_null(int index) const noexcept { return PQgetisnull(result_, row_, index); }
    /// Column `index` as V; schema_error when the text is not a V (see Columns).
    template <class V>
    V get(int index) const { return columns_.get<V>(index); }

private:
    const PGresult* result_;
    Columns columns_;
    int row_;
};

} // namespace persist::postgres
