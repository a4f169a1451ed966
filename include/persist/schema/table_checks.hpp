// persist/schema/table_checks.hpp: the compile-time checks of table descriptors
// (persist/schema/table.hpp). Each is a class template whose arguments name the table (and
// column or index), so that the compiler prints them with the message.
#pragma once

#include "persist/detail/fixed_string.hpp"

namespace persist::schema::detail {

using persist::detail::FixedString;

template <FixedString TableName, FixedString ColumnName, bool Supported>
struct check_column_type {
    static_assert(Supported, "persist: this column's member type is not a column type; use an integer, floating "
                             "point, bool, std::string, persist::Blob, a system_clock time_point, an enum or "
                             "std::optional of one, or specialise persist::schema::column_type<T>");
    static constexpr bool value = true;
};

template <FixedString TableName, FixedString ColumnName, bool SameStruct>
struct check_member_of_row {
    static_assert(SameStruct, "persist: this column is a member of another struct than the table's first column; "
                              "every Column<&Row::member, ...> of a table must use the same Row");
    static constexpr bool value = true;
};

template <FixedString TableName, FixedString ColumnName, bool Unique>
struct check_unique_column {
    static_assert(Unique, "persist: this column name appears twice in the table; give each Column its own name");
    static constexpr bool value = true;
};

template <FixedString TableName, bool HasKey>
struct check_has_primary_key {
    static_assert(HasKey, "persist: this table has no primary key; add persist::schema::primary_key to a column");
    static constexpr bool value = true;
};

template <FixedString TableName, FixedString ColumnName, bool NotNull>
struct check_primary_key_not_nullable {
    static_assert(NotNull, "persist: this primary key column is std::optional; a primary key cannot be NULL, so "
                           "declare the member without std::optional");
    static constexpr bool value = true;
};

template <FixedString TableName, bool Ok>
struct check_partition_column {
    static_assert(Ok, "persist: monthly_partitions<&Row::member> needs a column of this table of type "
                      "std::chrono::system_clock::time_point (not optional) that is part of the primary key (PostgreSQL "
                      "requires a partitioned table's keys to include the partition column), and no unique column or "
                      "unique index without it");
    static constexpr bool value = true;
};

template <FixedString TableName, bool Ok>
struct check_timestamps_columns {
    static_assert(Ok, "persist: timestamps<&Row::created_at, &Row::updated_at> needs two columns of this table of type "
                      "std::chrono::system_clock::time_point (not optional)");
    static constexpr bool value = true;
};

template <FixedString TableName, bool Ok>
struct check_soft_delete_column {
    static_assert(Ok, "persist: soft_delete<&Row::deleted_at> needs a column of this table of type "
                      "std::optional<std::chrono::system_clock::time_point>");
    static constexpr bool value = true;
};

template <FixedString TableName, FixedString ColumnName, bool Ok>
struct check_generated_column {
    static_assert(Ok, "persist: a generated column needs a type whose column_type<T> has generate() and empty(value), "
                      "such as boost::uuids::uuid (include persist/schema/uuid.hpp)");
    static constexpr bool value = true;
};

template <FixedString TableName, FixedString ColumnName, bool Ok>
struct check_encrypted_column {
    static_assert(Ok, "persist: an encrypted column cannot be a primary key or unique: its stored bytes differ every "
                      "time the same value is written. Key the table by another column");
    static constexpr bool value = true;
};

template <FixedString TableName, FixedString IndexName, bool Ok>
struct check_encrypted_index {
    static_assert(Ok, "persist: this index covers an encrypted column, whose stored bytes are random; an index on it "
                      "finds nothing. Index a plain column (a hash or hint of the secret, if you must look it up)");
    static constexpr bool value = true;
};

template <FixedString TableName, bool Ok>
struct check_encrypted_table_key {
    static_assert(Ok, "persist: a table with encrypted columns needs a primary key known before the row is written "
                      "(a UUID, text or an integer the application chooses; not autoincrement), of integers, text or "
                      "blobs: each encrypted value is bound to its row's key");
    static constexpr bool value = true;
};

template <FixedString TableName, FixedString IndexName, bool Known>
struct check_index_columns {
    static_assert(Known, "persist: this index names a member that is not a column of the table; list only members "
                         "that have a Column<...> in the table");
    static constexpr bool value = true;
};

} // namespace persist::schema::detail
