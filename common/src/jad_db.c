//  jad_db - SQLite helpers shared by the controller and the agent
//  SPDX-License-Identifier: MPL-2.0

#include "jad_db.h"
#include "jad_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  First words of a SQL text for log lines (never whole statements).
static void s_sql_head (const char *sql, char *buf, size_t len)
{
    size_t index = 0;
    while (sql[index] && index + 1 < len && index < 40) {
        buf[index] = sql[index] == '\n' ? ' ' : sql[index];
        index++;
    }
    buf[index] = 0;
}

//  The statement cache: few entries (one per constant SQL text of a hot
//  path), found by the connection and the SQL text's address, confirmed
//  by its text. Shared by threads with their own connections, so locked.
typedef struct {
    sqlite3 *db;
    const char *sql;  //  the caller's pointer (a literal)
    sqlite3_stmt *stmt;
} s_cached_t;

static s_cached_t s_cache[JAD_DB_CACHE_MAX];
static size_t s_cache_count;
static pthread_mutex_t s_cache_lock = PTHREAD_MUTEX_INITIALIZER;

sqlite3_stmt *jad_db_cached (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    pthread_mutex_lock (&s_cache_lock);
    for (size_t index = 0; index < s_cache_count; index++)
        if (s_cache[index].db == db && s_cache[index].sql == sql &&
            strcmp (sqlite3_sql (s_cache[index].stmt), sql) == 0) {
            stmt = s_cache[index].stmt;
            break;
        }
    pthread_mutex_unlock (&s_cache_lock);
    if (stmt) {
        sqlite3_reset (stmt);
        sqlite3_clear_bindings (stmt);
        return stmt;
    }
    if (s_cache_count >= JAD_DB_CACHE_MAX) {
        jad_log_error ("db: statement cache is full (%d): not caching", JAD_DB_CACHE_MAX);
        return NULL;
    }
    if (sqlite3_prepare_v3 (db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK) {
        char head[48];
        s_sql_head (sql, head, sizeof head);
        jad_log_error ("db: prepare failed sql=\"%s...\" error=\"%s\"", head, sqlite3_errmsg (db));
        sqlite3_finalize (stmt);
        return NULL;
    }
    pthread_mutex_lock (&s_cache_lock);
    if (s_cache_count < JAD_DB_CACHE_MAX)
        s_cache[s_cache_count++] = (s_cached_t){db, sql, stmt};
    else {
        sqlite3_finalize (stmt);
        stmt = NULL;
    }
    pthread_mutex_unlock (&s_cache_lock);
    return stmt;
}

//  Finalize and forget the cached statements of db.
static void s_cache_drop (sqlite3 *db)
{
    pthread_mutex_lock (&s_cache_lock);
    size_t kept = 0;
    for (size_t index = 0; index < s_cache_count; index++) {
        if (s_cache[index].db == db)
            sqlite3_finalize (s_cache[index].stmt);
        else
            s_cache[kept++] = s_cache[index];
    }
    s_cache_count = kept;
    pthread_mutex_unlock (&s_cache_lock);
}

int jad_db_exec (sqlite3 *db, const char *sql)
{
    char *message = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK) {
        char head[48];
        s_sql_head (sql, head, sizeof head);
        jad_log_error ("db: statement failed sql=\"%s...\" error=\"%s\"", head,
                       message ? message : sqlite3_errmsg (db));
        sqlite3_free (message);
        return -1;
    }
    return 0;
}

sqlite3_stmt *jad_db_prepare (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        char head[48];
        s_sql_head (sql, head, sizeof head);
        jad_log_error ("db: prepare failed sql=\"%s...\" error=\"%s\"", head, sqlite3_errmsg (db));
        return NULL;
    }
    return stmt;
}

//  Savepoints nest: inside a caller's transaction (a burst of messages) a
//  unit of work commits or rolls back on its own, and outside any
//  transaction the outermost savepoint is an ordinary transaction.
//  Run a cached one-step statement (a savepoint's begin or release): every
//  report and acknowledgement is a unit of work, and parsing these two
//  each time was a measurable part of the controller's cost per message.
static int s_db_step_cached (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = jad_db_cached (db, sql);
    if (!stmt)
        return jad_db_exec (db, sql);
    int rc = sqlite3_step (stmt);
    //  reset at once: a statement left running would block the commit
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE) {
        jad_log_error ("db: statement failed sql=\"%s\" error=\"%s\"", sql, sqlite3_errmsg (db));
        return -1;
    }
    return 0;
}

int jad_db_begin (sqlite3 *db)
{
    return s_db_step_cached (db, "SAVEPOINT jad");
}

int jad_db_commit (sqlite3 *db)
{
    return s_db_step_cached (db, "RELEASE jad");
}

void jad_db_rollback (sqlite3 *db)
{
    if (!sqlite3_get_autocommit (db)) {
        sqlite3_exec (db, "ROLLBACK TO jad", NULL, NULL, NULL);
        sqlite3_exec (db, "RELEASE jad", NULL, NULL, NULL);
    }
}

sqlite3 *jad_db_open (const char *path, bool create, const char *const *migrations,
                      int migration_count)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2 (path, &db, flags, NULL) != SQLITE_OK) {
        jad_log_error ("db: cannot open path=%s error=\"%s\"", path,
                       db ? sqlite3_errmsg (db) : "out of memory");
        s_cache_drop (db);
        sqlite3_close (db);
        return NULL;
    }
    sqlite3_busy_timeout (db, 5000);
    sqlite3_extended_result_codes (db, 1);
    if (jad_db_exec (db, "PRAGMA journal_mode=WAL") || jad_db_exec (db, "PRAGMA foreign_keys=ON") ||
        jad_db_exec (db, "PRAGMA synchronous=NORMAL"))
        goto failed;

    int64_t version = 0;
    if (jad_db_get_int (db, "PRAGMA user_version", NULL, &version) != 0)
        goto failed;
    if (version > migration_count) {
        jad_log_error ("db: schema is newer than this program path=%s schema=%lld known=%d", path,
                       (long long)version, migration_count);
        goto failed;
    }
    for (int step = (int)version; step < migration_count; step++) {
        char pragma[64];
        snprintf (pragma, sizeof pragma, "PRAGMA user_version=%d", step + 1);
        if (jad_db_begin (db) || jad_db_exec (db, migrations[step]) || jad_db_exec (db, pragma) ||
            jad_db_commit (db)) {
            jad_db_rollback (db);
            jad_log_error ("db: migration failed path=%s to=%d", path, step + 1);
            goto failed;
        }
    }
    return db;

failed:
    s_cache_drop (db);
    sqlite3_close (db);
    return NULL;
}

void jad_db_close (sqlite3 **db_p)
{
    if (db_p && *db_p) {
        s_cache_drop (*db_p);
        sqlite3_close (*db_p);
        *db_p = NULL;
    }
}

char *jad_db_column_dup (sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text (stmt, column);
    return text ? strdup (text) : NULL;
}

static int s_get_value (sqlite3 *db, const char *sql, const char *param, int64_t *int_value,
                        char **text_value)
{
    //  These run to completion at once: safe to reuse a cached statement.
    sqlite3_stmt *stmt = jad_db_cached (db, sql);
    if (!stmt)
        return -1;
    if (param)
        sqlite3_bind_text (stmt, 1, param, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt);
    int result;
    if (rc == SQLITE_ROW) {
        if (int_value)
            *int_value = sqlite3_column_int64 (stmt, 0);
        if (text_value)
            *text_value = jad_db_column_dup (stmt, 0);
        result = 0;
    } else if (rc == SQLITE_DONE)
        result = 1;
    else {
        jad_log_error ("db: query failed error=\"%s\"", sqlite3_errmsg (db));
        result = -1;
    }
    sqlite3_reset (stmt);
    return result;
}

int jad_db_get_int (sqlite3 *db, const char *sql, const char *param, int64_t *value)
{
    return s_get_value (db, sql, param, value, NULL);
}

int jad_db_get_text (sqlite3 *db, const char *sql, const char *param, char **value)
{
    return s_get_value (db, sql, param, NULL, value);
}

int jad_db_meta_get (sqlite3 *db, const char *key, char **value)
{
    return jad_db_get_text (db, "SELECT value FROM meta WHERE key = ?", key, value);
}

int jad_db_meta_set (sqlite3 *db, const char *key, const char *value)
{
    sqlite3_stmt *stmt =
        jad_db_prepare (db, "INSERT INTO meta (key, value) VALUES (?, ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, value, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE) {
        jad_log_error ("db: meta update failed key=%s error=\"%s\"", key, sqlite3_errmsg (db));
        return -1;
    }
    return 0;
}
