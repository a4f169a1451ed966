// persist/postgres/catalog.hpp: reading a table's description from PostgreSQL's catalogs, and
// emptying a schema through them before a restore.
#pragma once

#include "persist/catalog.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

namespace persist::postgres {

/// The table `table` of the current schema as PostgreSQL's catalogs describe it (what
/// ReadTransaction::describe_table returns). Indexes that back a constraint (primary key,
/// UNIQUE columns) are left out, as SQLite's origin = 'c' does.
template <class Tx>
TableDescription describe_table(Tx& tx, const std::string& table) {
    TableDescription live;
    const auto oid = tx.template query_one<std::int64_t>(
        "SELECT c.oid::bigint FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND c.relname = $1 AND n.nspname = current_schema()", table);
    live.exists = oid.has_value();
    if (!live.exists) return live;
    for (auto& [name, type, not_null, pk] : tx.template query<std::tuple<std::string, std::string, bool, bool>>(
             "SELECT a.attname, upper(format_type(a.atttypid, NULL)), a.attnotnull, EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
             "WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY (i.indkey)) "
             "FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::bigint::oid AND a.attnum > 0 AND NOT a.attisdropped "
             "ORDER BY a.attnum", *oid))
        live.columns.push_back({name, type, not_null, pk});
    static const std::string action =
        "WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' "
        "WHEN 'd' THEN 'SET DEFAULT' END";
    static const std::string keys_sql =
        "SELECT a.attname || ' -> ' || t.relname || '.' || fa.attname || ' ON DELETE ' || CASE c.confdeltype " + action +
        " || ' ON UPDATE ' || CASE c.confupdtype " + action +
        " FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = "
        "c.conkey[1] JOIN pg_catalog.pg_class t ON t.oid = c.confrelid JOIN pg_catalog.pg_attribute fa ON "
        "fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1] WHERE c.contype = 'f' AND c.conrelid = $1::bigint::oid";
    for (auto& text : tx.template query<std::string>(keys_sql, *oid)) live.foreign_keys.insert(text);
    for (auto& text : tx.template query<std::string>(
             "SELECT ic.relname || CASE WHEN i.indisunique THEN ' UNIQUE (' ELSE ' (' END || (SELECT string_agg(a.attname, ',' "
             "ORDER BY k.ord) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) JOIN pg_catalog.pg_attribute a "
             "ON a.attrelid = i.indrelid AND a.attnum = k.attnum) || ')' FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic "
             "ON ic.oid = i.indexrelid WHERE i.indrelid = $1::bigint::oid AND NOT EXISTS (SELECT 1 FROM "
             "pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid)",
             *oid))
        live.indexes.insert(text);
    return live;
}

namespace detail {

/// Empties the current schema before a restore replays a dump into it: tables (with what
/// CASCADE takes along: views on them, triggers, owned sequences), then the views,
/// materialized views and sequences left, routines, and types. Kept: the lease tables
/// persist_lock*, objects of an extension, and parts of another object (a range type's
/// constructor functions), which go with it. Each object is looked up by oid
/// just before its DROP, since an earlier CASCADE may have taken it.
inline constexpr std::string_view clear_schema_sql = R"sql(DO $persist$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.oid,
                    CASE c.relkind WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'v' THEN 'VIEW'
                                   WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
             FROM pg_catalog.pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
               AND c.relname NOT LIKE 'persist\_lock%'
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                               WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'i'))
             ORDER BY c.relkind IN ('r', 'p', 'f') DESC
    LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = r.oid) THEN
            EXECUTE format('DROP %s %s CASCADE', r.kind, r.oid::regclass);
        END IF;
    END LOOP;
    FOR r IN SELECT p.oid FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = current_schema()::regnamespace
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                               WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
    LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE oid = r.oid) THEN
            EXECUTE format('DROP ROUTINE %s CASCADE', r.oid::regprocedure);
        END IF;
    END LOOP;
    FOR r IN SELECT t.oid, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
             FROM pg_catalog.pg_type t
             WHERE t.typnamespace = current_schema()::regnamespace
               AND (t.typtype IN ('e', 'r', 'd')
                    OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                                    WHERE c.oid = t.typrelid AND c.relkind = 'c')))
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                               WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid AND d.deptype IN ('e', 'i'))
    LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_type WHERE oid = r.oid) THEN
            EXECUTE format('DROP %s %s CASCADE', r.kind, r.oid::regtype);
        END IF;
    END LOOP;
END
$persist$;
)sql";

} // namespace detail

} // namespace persist::postgres
