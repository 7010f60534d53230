//  ctl_store_legacy - SQL helpers for code not yet moved into repositories
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_store_legacy.h"
#include "ctl_store_internal.h"
#include "jad_db.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

sqlite3 *ctl_store_db (ctl_store_t *self)
{
    return (sqlite3 *)ctl_sql_conn (ctl_store_sql (self));
}

static sqlite3_stmt *s_vquery (sqlite3 *db, bool cached, const char *sql, const char *types,
                               va_list args)
{
    sqlite3_stmt *stmt = cached ? jad_db_cached (db, sql) : jad_db_prepare (db, sql);
    if (!stmt)
        return NULL;
    int column = 1;
    for (const char *type = types; type && *type; type++, column++) {
        if (*type == 't') {
            const char *text = va_arg (args, const char *);
            if (text)
                sqlite3_bind_text (stmt, column, text, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null (stmt, column);
        } else if (*type == 'i')
            sqlite3_bind_int64 (stmt, column, va_arg (args, int64_t));
    }
    return stmt;
}

sqlite3_stmt *ctl_store_query (sqlite3 *db, const char *sql, const char *types, ...)
{
    va_list args;
    va_start (args, types);
    sqlite3_stmt *stmt = s_vquery (db, false, sql, types, args);
    va_end (args);
    return stmt;
}

int ctl_store_run (sqlite3 *db, const char *sql, const char *types, ...)
{
    va_list args;
    va_start (args, types);
    //  run to completion at once: a cached statement is safe here
    sqlite3_stmt *stmt = s_vquery (db, true, sql, types, args);
    va_end (args);
    if (!stmt)
        return -1;
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        jad_log_error ("store: statement failed error=\"%s\"", sqlite3_errmsg (db));
        return -1;
    }
    return sqlite3_changes (db);
}
