//  jad_db - SQLite helpers shared by the controller and the agent
//  SPDX-License-Identifier: MPL-2.0
//
//  Databases are opened in WAL mode with foreign keys on, a busy timeout,
//  and synchronous=NORMAL (FULL for the agent's outbox is the caller's
//  choice). Schemas are a list of migration scripts: migration i brings
//  user_version from i to i+1, each in its own transaction.

#ifndef JAD_DB_H_INCLUDED
#define JAD_DB_H_INCLUDED

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Open (creating if asked) and migrate. Returns the handle or NULL, with
//  the reason logged.
sqlite3 *jad_db_open (const char *path, bool create, const char *const *migrations,
                      int migration_count);
void jad_db_close (sqlite3 **db_p);

//  Run SQL without results. Returns 0 or -1 (logged with the SQL's first
//  words).
int jad_db_exec (sqlite3 *db, const char *sql);

//  Prepare; logs and returns NULL on error.
sqlite3_stmt *jad_db_prepare (sqlite3 *db, const char *sql);

//  A statement prepared once per connection and SQL text and kept for
//  reuse: returned reset, with no bindings. The caller binds and steps it
//  and must NOT finalize it (jad_db_close does); it must not be used
//  re-entrantly (a nested call for the same SQL resets it). For constant
//  SQL on hot paths. Returns NULL (logged) when the SQL does not prepare
//  or when JAD_DB_CACHE_MAX statements are cached already.
#define JAD_DB_CACHE_MAX 512
sqlite3_stmt *jad_db_cached (sqlite3 *db, const char *sql);

//  Transactions, as savepoints: they nest, and the outermost one commits.
//  A caller may wrap many units of work in one transaction. Return 0 or -1.
int jad_db_begin (sqlite3 *db);
int jad_db_commit (sqlite3 *db);
void jad_db_rollback (sqlite3 *db);

//  Single integer or text value from a query with optional text bind of
//  one parameter. Return 0 if a row was found, 1 if none, -1 on error.
int jad_db_get_int (sqlite3 *db, const char *sql, const char *param, int64_t *value);
int jad_db_get_text (sqlite3 *db, const char *sql, const char *param, char **value);

//  Copy of a row's text column; NULL if the column is NULL (or out of
//  memory). Caller frees.
char *jad_db_column_dup (sqlite3_stmt *stmt, int column);

//  meta(key TEXT PRIMARY KEY, value TEXT) helpers.
int jad_db_meta_get (sqlite3 *db, const char *key, char **value);
int jad_db_meta_set (sqlite3 *db, const char *key, const char *value);

#ifdef __cplusplus
}
#endif

#endif
