//  ctl_sql_sqlite - the SQLite backend of the query layer
//  SPDX-License-Identifier: MPL-2.0
//
//  common's jad_db is the driver underneath: WAL, busy timeout, the
//  migration runner, the per-connection statement cache and savepoints.
//  Parameters are written $1, $2 ... (PostgreSQL's style); SQLite takes
//  them as named parameters, numbered in the order they first appear, so
//  a parameter is bound through its name unless its number already
//  matches (the common case, checked without a lookup).

#include "ctl_schema.h"
#include "ctl_sql.h"
#include "ctl_store.h"
#include "jad_db.h"
#include "jad_log.h"

#include <sqlite3.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static void *s_open (const char *target, int flags)
{
    if (flags & CTL_STORE_READONLY) {
        sqlite3 *db = NULL;
        if (sqlite3_open_v2 (target, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, NULL) !=
            SQLITE_OK) {
            jad_log_error ("store: cannot open path=%s read-only error=\"%s\"", target,
                           db ? sqlite3_errmsg (db) : "out of memory");
            sqlite3_close (db);
            return NULL;
        }
        sqlite3_busy_timeout (db, 2000);
        sqlite3_extended_result_codes (db, 1);
        return db;
    }
    const char *scripts[CTL_SCHEMA_SQLITE_MAX];
    int count = 0;
    for (; count < CTL_SCHEMA_SQLITE_MAX && ctl_schema_sqlite[count].sql; count++)
        scripts[count] = ctl_schema_sqlite[count].sql;
    //  A burst is one transaction with a savepoint per agent message, and
    //  each savepoint journals the pages it changes. By default a journal
    //  past 64 KiB moves to a temporary file for the rest of the
    //  transaction, a pwrite per page from then on (9 % of a deploy
    //  round's samples). In memory it is cut back as each savepoint is
    //  released, so it stays as small as the largest unit (metrics
    //  batches and retention slices are bounded).
    sqlite3 *db = jad_db_open (target, (flags & CTL_STORE_CREATE) != 0, scripts, count);
    if (db && jad_db_exec (db, "PRAGMA temp_store=MEMORY")) {
        jad_db_close (&db);
        return NULL;
    }
    return db;
}

static void s_close (void *conn)
{
    sqlite3 *db = (sqlite3 *)conn;
    jad_db_close (&db);
}

static void *s_statement (void *conn, const char *sql)
{
    return jad_db_cached ((sqlite3 *)conn, sql);
}

//  The index of parameter $n in stmt.
static int s_index (sqlite3_stmt *stmt, int n)
{
    const char *name = sqlite3_bind_parameter_name (stmt, n);
    if (name && name[0] == '$' && atoi (name + 1) == n)
        return n;
    char wanted[16];
    snprintf (wanted, sizeof wanted, "$%d", n);
    return sqlite3_bind_parameter_index (stmt, wanted);
}

static int s_bound (int rc)
{
    return rc == SQLITE_OK ? 0 : -1;
}

//  Bound texts are the caller's, valid until the query ends (ctl_sql.h).
static int s_bind_text (void *stmt, int n, const char *text)
{
    return s_bound (sqlite3_bind_text (stmt, s_index (stmt, n), text, -1, SQLITE_STATIC));
}

static int s_bind_int (void *stmt, int n, int64_t value)
{
    return s_bound (sqlite3_bind_int64 (stmt, s_index (stmt, n), value));
}

static int s_bind_double (void *stmt, int n, double value)
{
    return s_bound (sqlite3_bind_double (stmt, s_index (stmt, n), value));
}

static int s_bind_null (void *stmt, int n)
{
    return s_bound (sqlite3_bind_null (stmt, s_index (stmt, n)));
}

static int s_bind_blob (void *stmt, int n, const void *data, size_t size)
{
    if (size > INT_MAX)
        return -1;
    //  a zero-length blob, not NULL
    return s_bound (
        sqlite3_bind_blob (stmt, s_index (stmt, n), size ? data : "", (int)size, SQLITE_STATIC));
}

static int s_param_count (void *stmt)
{
    return sqlite3_bind_parameter_count (stmt);
}

static int s_step (void *stmt)
{
    int rc = sqlite3_step (stmt);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static const char *s_column_text (void *stmt, int column)
{
    return (const char *)sqlite3_column_text (stmt, column);
}

static int64_t s_column_int (void *stmt, int column)
{
    return sqlite3_column_int64 (stmt, column);
}

static double s_column_double (void *stmt, int column)
{
    return sqlite3_column_double (stmt, column);
}

static bool s_column_null (void *stmt, int column)
{
    return sqlite3_column_type (stmt, column) == SQLITE_NULL;
}

static const void *s_column_blob (void *stmt, int column, size_t *size)
{
    const void *data = sqlite3_column_blob (stmt, column);
    int bytes = sqlite3_column_bytes (stmt, column);
    *size = data && bytes > 0 ? (size_t)bytes : 0;
    //  a zero-length blob reads as NULL in SQLite: tell it from a NULL
    if (!data && sqlite3_column_type (stmt, column) != SQLITE_NULL)
        return "";
    return data;
}

static void s_reset (void *stmt)
{
    sqlite3_reset (stmt);
}

static int64_t s_changes (void *conn)
{
    return sqlite3_changes64 ((sqlite3 *)conn);
}

static const char *s_error (void *conn)
{
    return sqlite3_errmsg ((sqlite3 *)conn);
}

static int s_begin (void *conn)
{
    return jad_db_begin ((sqlite3 *)conn);
}

static int s_commit (void *conn)
{
    return jad_db_commit ((sqlite3 *)conn);
}

static void s_rollback (void *conn)
{
    jad_db_rollback ((sqlite3 *)conn);
}

static int s_schema_version (void *conn)
{
    int64_t version = -1;
    return jad_db_get_int ((sqlite3 *)conn, "PRAGMA user_version", NULL, &version) == 0
               ? (int)version
               : -1;
}

const ctl_sql_ops_t ctl_sql_sqlite_ops = {
    .scheme = "sqlite",
    .open = s_open,
    .close = s_close,
    .statement = s_statement,
    .bind_text = s_bind_text,
    .bind_int = s_bind_int,
    .bind_double = s_bind_double,
    .bind_null = s_bind_null,
    .bind_blob = s_bind_blob,
    .param_count = s_param_count,
    .step = s_step,
    .column_text = s_column_text,
    .column_int = s_column_int,
    .column_double = s_column_double,
    .column_null = s_column_null,
    .column_blob = s_column_blob,
    .reset = s_reset,
    .changes = s_changes,
    .error = s_error,
    .begin = s_begin,
    .commit = s_commit,
    .rollback = s_rollback,
    .schema_version = s_schema_version,
};
