// persist/sqlite/trust.hpp: how persist lets SQLite trust a database's schema, on every
// connection it opens (its own, backups, verification, restore, dump checks).
//
// trusted_schema is off, so a crafted database cannot make persist run SQL functions with side
// effects from its CHECK constraints, defaults, indexes, triggers or views. That also refuses
// SQLite 3.40's own JSON functions there ("unsafe use of json_valid()"), since they are not
// marked innocuous; yet CHECK (json_valid(column)) is the common way to keep a JSON column
// valid. So persist defines json_valid(X) on each connection as innocuous and deterministic,
// and answers it with SQLite's own json_valid, run on a private in-memory connection of the
// calling thread: the same answers, with nothing from the database able to reach further.
#pragma once

#include <sqlite3.h>

namespace persist::sqlite {

/// Turns trusted_schema off on `db` and defines the innocuous json_valid(X) described above.
/// Returns SQLite's result code of defining it.
inline int distrust_schema(sqlite3* db) {
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
    auto json_valid = [](sqlite3_context* context, int, sqlite3_value** arguments) {
        // SQLite's built-in json_valid, on this thread's own in-memory connection.
        struct Builtin {
            sqlite3* db = nullptr;
            sqlite3_stmt* statement = nullptr;
            Builtin() {
                if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) == SQLITE_OK)
                    sqlite3_prepare_v2(db, "SELECT json_valid(?1)", -1, &statement, nullptr);
            }
            ~Builtin() {
                sqlite3_finalize(statement);
                sqlite3_close(db);
            }
        };
        thread_local Builtin builtin;
        if (!builtin.statement) {
            sqlite3_result_error(context, "json_valid: cannot open SQLite's JSON functions", -1);
            return;
        }
        sqlite3_bind_value(builtin.statement, 1, arguments[0]);
        if (sqlite3_step(builtin.statement) == SQLITE_ROW) sqlite3_result_value(context, sqlite3_column_value(builtin.statement, 0));
        else sqlite3_result_error(context, sqlite3_errmsg(builtin.db), -1);
        sqlite3_reset(builtin.statement);
        sqlite3_clear_bindings(builtin.statement);
    };
    return sqlite3_create_function_v2(db, "json_valid", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                      nullptr, +json_valid, nullptr, nullptr, nullptr);
}

} // namespace persist::sqlite
