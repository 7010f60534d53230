//  ctl_migrate - a SQLite controller's whole state copied into PostgreSQL
//  SPDX-License-Identifier: MPL-2.0
//
//  Design notes
//  - The query layer takes literal SQL only (its statement caches are
//    keyed by the text's address, ctl_sql.h), and this copy is generic
//    over tables: it speaks to both databases directly, sqlite3 and libpq,
//    as the backends under ctl_sql do. Table and column names come from
//    the SQLite schema and are checked to be plain identifiers before they
//    are put into SQL text.
//  - Values go in COPY's text format: NULL as \N, integers and doubles
//    (17 digits) as text, text escaped (backslash, tab, newline, carriage
//    return), BLOBs as bytea hex.

#include "ctl_migrate.h"
#include "ctl_agents_repo.h"
#include "ctl_releases_repo.h"
#include "ctl_store.h"
#include "jad_log.h"
#include "jad_util.h"

#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TABLES_MAX 128        //  tables of a store
#define S_FLUSH      (1 << 20)  //  bytes of COPY data sent at once
#define S_NAME_MAX   64         //  bytes of a table or column name

typedef struct {
    char *data;
    size_t size;
    size_t capacity;
    bool failed;  //  out of memory
} s_buf_t;

static void s_put (s_buf_t *buf, const char *text, size_t len)
{
    if (buf->failed)
        return;
    if (buf->size + len + 1 > buf->capacity) {
        size_t capacity = buf->capacity ? buf->capacity : 4096;
        while (capacity < buf->size + len + 1)
            capacity *= 2;
        char *data = realloc (buf->data, capacity);
        if (!data) {
            buf->failed = true;
            return;
        }
        buf->data = data;
        buf->capacity = capacity;
    }
    memcpy (buf->data + buf->size, text, len);
    buf->size += len;
    buf->data[buf->size] = 0;
}

static void s_puts (s_buf_t *buf, const char *text)
{
    s_put (buf, text, strlen (text));
}

//  A plain identifier: letters, digits and _, not starting with a digit.
static bool s_identifier (const char *name)
{
    if (!name || !*name || strlen (name) >= S_NAME_MAX || (*name >= '0' && *name <= '9'))
        return false;
    for (const char *at = name; *at; at++)
        if (!((*at >= 'a' && *at <= 'z') || (*at >= 'A' && *at <= 'Z') ||
              (*at >= '0' && *at <= '9') || *at == '_'))
            return false;
    return true;
}

//  One value of the current row in COPY's text format.
static void s_value (s_buf_t *buf, sqlite3_stmt *stmt, int column)
{
    char number[40];
    switch (sqlite3_column_type (stmt, column)) {
        case SQLITE_NULL:
            s_puts (buf, "\\N");
            break;
        case SQLITE_INTEGER:
            snprintf (number, sizeof number, "%lld",
                      (long long)sqlite3_column_int64 (stmt, column));
            s_puts (buf, number);
            break;
        case SQLITE_FLOAT:
            snprintf (number, sizeof number, "%.17g", sqlite3_column_double (stmt, column));
            s_puts (buf, number);
            break;
        case SQLITE_BLOB: {
            const uint8_t *data = sqlite3_column_blob (stmt, column);
            size_t size = (size_t)sqlite3_column_bytes (stmt, column);
            //  bytea's \x, its backslash doubled for COPY
            s_puts (buf, "\\\\x");
            char hex[3];
            for (size_t index = 0; index < size; index++) {
                snprintf (hex, sizeof hex, "%02x", data[index]);
                s_put (buf, hex, 2);
            }
            break;
        }
        default: {
            const char *text = (const char *)sqlite3_column_text (stmt, column);
            for (const char *at = text ? text : ""; *at; at++) {
                if (*at == '\\')
                    s_puts (buf, "\\\\");
                else if (*at == '\t')
                    s_puts (buf, "\\t");
                else if (*at == '\n')
                    s_puts (buf, "\\n");
                else if (*at == '\r')
                    s_puts (buf, "\\r");
                else
                    s_put (buf, at, 1);
            }
        }
    }
}

//  libpq's messages end in a newline: not in ours.
static void s_trim (char *err)
{
    size_t len = strlen (err);
    while (len && (err[len - 1] == '\n' || err[len - 1] == ' '))
        err[--len] = 0;
}

//  Run a command on PostgreSQL. Returns 0 or -1 (reason in err).
static int s_pg (PGconn *pg, const char *sql, char *err, size_t errlen)
{
    PGresult *result = PQexec (pg, sql);
    ExecStatusType status = PQresultStatus (result);
    int rc = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? 0 : -1;
    if (rc)
        snprintf (err, errlen, "postgresql: %s", PQresultErrorMessage (result));
    PQclear (result);
    return rc;
}

//  The names of sqlite's tables, in an order where each comes after the
//  tables it refers to. Returns the count, or -1 (err).
static int s_tables (sqlite3 *db, char names[][S_NAME_MAX], char *err, size_t errlen)
{
    char found[S_TABLES_MAX][S_NAME_MAX];
    int count = 0;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2 (db,
                                 "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                 "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                                 -1, &stmt, NULL);
    while (rc == SQLITE_OK && sqlite3_step (stmt) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text (stmt, 0);
        if (!s_identifier (name) || count == S_TABLES_MAX) {
            snprintf (err, errlen, "the SQLite store has a table this program cannot copy: %s",
                      name ? name : "?");
            sqlite3_finalize (stmt);
            return -1;
        }
        snprintf (found[count++], S_NAME_MAX, "%s", name);
    }
    sqlite3_finalize (stmt);
    if (rc != SQLITE_OK) {
        snprintf (err, errlen, "cannot list the SQLite store's tables: %s", sqlite3_errmsg (db));
        return -1;
    }
    //  referenced first: pass after pass, a table whose references are all
    //  placed is placed
    bool placed[S_TABLES_MAX] = {false};
    int ordered = 0;
    for (int pass = 0; pass < count && ordered < count; pass++) {
        for (int index = 0; index < count; index++) {
            if (placed[index])
                continue;
            bool ready = true;
            stmt = NULL;
            if (sqlite3_prepare_v2 (db, "SELECT \"table\" FROM pragma_foreign_key_list (?1)", -1,
                                    &stmt, NULL) != SQLITE_OK ||
                sqlite3_bind_text (stmt, 1, found[index], -1, SQLITE_STATIC) != SQLITE_OK) {
                snprintf (err, errlen, "cannot read the references of %s: %s", found[index],
                          sqlite3_errmsg (db));
                sqlite3_finalize (stmt);
                return -1;
            }
            while (ready && sqlite3_step (stmt) == SQLITE_ROW) {
                const char *target = (const char *)sqlite3_column_text (stmt, 0);
                for (int other = 0; other < count; other++)
                    if (target && strcmp (found[other], target) == 0 && other != index &&
                        !placed[other])
                        ready = false;
            }
            sqlite3_finalize (stmt);
            if (ready) {
                placed[index] = true;
                snprintf (names[ordered++], S_NAME_MAX, "%s", found[index]);
            }
        }
    }
    if (ordered < count) {
        snprintf (err, errlen, "the SQLite store's tables refer to each other in a circle");
        return -1;
    }
    return count;
}

//  True if sqlite's `table` (an identifier) has a row.
static bool s_sqlite_rows (sqlite3 *db, const char *table)
{
    char sql[160];
    snprintf (sql, sizeof sql, "SELECT 1 FROM \"%s\" LIMIT 1", table);
    sqlite3_stmt *stmt = NULL;
    bool rows = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK &&
                sqlite3_step (stmt) == SQLITE_ROW;
    sqlite3_finalize (stmt);
    return rows;
}

//  Copy one table. Returns rows copied, or -1 (err).
static int64_t s_copy_table (sqlite3 *db, PGconn *pg, const char *table, char *err, size_t errlen)
{
    s_buf_t columns = {0}, sql = {0}, rows = {0};
    sqlite3_stmt *stmt = NULL;
    int64_t copied = -1;
    int count = 0;
    if (sqlite3_prepare_v2 (db, "SELECT name FROM pragma_table_info (?1) ORDER BY cid", -1, &stmt,
                            NULL) != SQLITE_OK ||
        sqlite3_bind_text (stmt, 1, table, -1, SQLITE_STATIC) != SQLITE_OK) {
        snprintf (err, errlen, "cannot read the columns of %s: %s", table, sqlite3_errmsg (db));
        goto done;
    }
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text (stmt, 0);
        if (!s_identifier (name)) {
            snprintf (err, errlen, "table %s has a column this program cannot copy: %s", table,
                      name ? name : "?");
            goto done;
        }
        s_puts (&columns, count++ ? ", \"" : "\"");
        s_puts (&columns, name);
        s_puts (&columns, "\"");
    }
    sqlite3_finalize (stmt);
    stmt = NULL;
    if (count == 0 || columns.failed) {
        snprintf (err, errlen, "table %s: no columns, or out of memory", table);
        goto done;
    }
    //  COPY "table" (columns) FROM STDIN
    s_puts (&sql, "COPY \"");
    s_puts (&sql, table);
    s_puts (&sql, "\" (");
    s_puts (&sql, columns.data);
    s_puts (&sql, ") FROM STDIN");
    if (sql.failed) {
        snprintf (err, errlen, "out of memory");
        goto done;
    }
    PGresult *result = PQexec (pg, sql.data);
    bool copying = PQresultStatus (result) == PGRES_COPY_IN;
    if (!copying)
        snprintf (err, errlen, "postgresql: cannot copy into %s: %s", table,
                  PQresultErrorMessage (result));
    PQclear (result);
    if (!copying)
        goto done;
    //  SELECT columns FROM "table"
    sql.size = 0;
    s_puts (&sql, "SELECT ");
    s_puts (&sql, columns.data);
    s_puts (&sql, " FROM \"");
    s_puts (&sql, table);
    s_puts (&sql, "\"");
    int64_t seen = 0;
    bool failed = sql.failed || sqlite3_prepare_v2 (db, sql.data, -1, &stmt, NULL) != SQLITE_OK;
    int step = SQLITE_DONE;
    while (!failed && (step = sqlite3_step (stmt)) == SQLITE_ROW) {
        for (int column = 0; column < count; column++) {
            if (column)
                s_put (&rows, "\t", 1);
            s_value (&rows, stmt, column);
        }
        s_put (&rows, "\n", 1);
        seen++;
        failed = rows.failed;
        if (!failed && rows.size >= S_FLUSH) {
            failed = PQputCopyData (pg, rows.data, (int)rows.size) != 1;
            rows.size = 0;
        }
    }
    if (!failed && step != SQLITE_DONE)
        failed = true;
    if (failed)
        snprintf (err, errlen, "cannot read table %s: %s", table,
                  rows.failed || sql.failed ? "out of memory" : sqlite3_errmsg (db));
    if (!failed && rows.size > 0)
        failed = PQputCopyData (pg, rows.data, (int)rows.size) != 1;
    //  end the copy (cancelled on a failure) and take its outcome
    bool ended = PQputCopyEnd (pg, failed ? "migrate-store failed" : NULL) == 1;
    bool done_ok = ended;
    while ((result = PQgetResult (pg))) {
        if (PQresultStatus (result) != PGRES_COMMAND_OK) {
            if (!failed)
                snprintf (err, errlen, "postgresql: copy into %s: %s", table,
                          PQresultErrorMessage (result));
            done_ok = false;
        }
        PQclear (result);
    }
    if (!failed && done_ok)
        copied = seen;
    else if (!failed && !ended)
        snprintf (err, errlen, "postgresql: copy into %s: %s", table, PQerrorMessage (pg));

done:
    sqlite3_finalize (stmt);
    free (columns.data);
    free (sql.data);
    free (rows.data);
    return copied;
}

//  Move every identity column's sequence past the highest value copied.
static int s_sequences (PGconn *pg, char *err, size_t errlen)
{
    PGresult *result =
        PQexec (pg, "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema () AND is_identity = 'YES'");
    if (PQresultStatus (result) != PGRES_TUPLES_OK) {
        snprintf (err, errlen, "postgresql: %s", PQresultErrorMessage (result));
        PQclear (result);
        return -1;
    }
    int rc = 0;
    for (int row = 0; rc == 0 && row < PQntuples (result); row++) {
        const char *table = PQgetvalue (result, row, 0), *column = PQgetvalue (result, row, 1);
        if (!s_identifier (table) || !s_identifier (column))
            continue;
        char sql[512];
        snprintf (sql, sizeof sql,
                  "SELECT setval (pg_get_serial_sequence ('\"%s\"', '%s'), "
                  "COALESCE ((SELECT MAX (\"%s\") FROM \"%s\"), 0) + 1, false)",
                  table, column, column, table);
        rc = s_pg (pg, sql, err, errlen);
    }
    PQclear (result);
    return rc;
}

//  PostgreSQL keeps raw samples in a partition per UTC day, and drops a
//  past day whole (ctl_schema_pg.c, jadugar_samples_day): make the
//  partition of every day SQLite has samples of before they are copied,
//  so that none lands in the DEFAULT partition. Returns 0 or -1 (err).
static int s_sample_days (sqlite3 *db, PGconn *pg, char *err, size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (db,
                            "SELECT DISTINCT ts - ((ts % 86400000) + 86400000) % 86400000 FROM "
                            "samples ORDER BY 1",
                            -1, &stmt, NULL) != SQLITE_OK) {
        snprintf (err, errlen, "sqlite: the samples' days: %s", sqlite3_errmsg (db));
        return -1;
    }
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step (stmt)) == SQLITE_ROW) {
        char sql[96];
        snprintf (sql, sizeof sql, "SELECT jadugar_samples_day (%lld)",
                  (long long)sqlite3_column_int64 (stmt, 0));
        rc = s_pg (pg, sql, err, errlen);
    }
    if (rc == 0 && step != SQLITE_DONE) {
        snprintf (err, errlen, "sqlite: the samples' days: %s", sqlite3_errmsg (db));
        rc = -1;
    }
    sqlite3_finalize (stmt);
    return rc;
}

//  Copy each DIR/SHA256.tar.gz into the store's chunks. Returns the count
//  or -1 (err).
static int s_archives (ctl_store_t *store, const char *dir, char *err, size_t errlen)
{
    DIR *listing = opendir (dir);
    if (!listing) {
        if (errno == ENOENT)
            return 0;
        snprintf (err, errlen, "cannot read %s: %s", dir, strerror (errno));
        return -1;
    }
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (listing))) {
        uint8_t digest[32];
        char sha[65], path[4096];
        if (strlen (entry->d_name) != 64 + 7 || strcmp (entry->d_name + 64, ".tar.gz") != 0)
            continue;
        snprintf (sha, sizeof sha, "%.64s", entry->d_name);
        if (jad_unhex (sha, digest, 32) != 0)
            continue;
        if (snprintf (path, sizeof path, "%s/%s", dir, entry->d_name) >= (int)sizeof path ||
            ctl_releases_repo_chunks_from_file (store, sha, path, err, errlen) != 0) {
            closedir (listing);
            return -1;
        }
        count++;
    }
    closedir (listing);
    return count;
}

int ctl_migrate_store (const char *sqlite_path, const char *artifacts_dir, const char *url,
                       ctl_migrate_counts_t *counts, char *err, size_t errlen)
{
    *counts = (ctl_migrate_counts_t){0};
    int status = 1;
    sqlite3 *db = NULL;
    PGconn *pg = NULL;
    ctl_operator_t *admin = NULL;
    char (*tables)[S_NAME_MAX] = calloc (S_TABLES_MAX, S_NAME_MAX);
    //  both at this program's schema: the same tables on both sides
    ctl_store_t *source = ctl_store_open (sqlite_path, 0);
    ctl_store_t *target = source ? ctl_store_open (url, CTL_STORE_CREATE) : NULL;
    if (!tables) {
        snprintf (err, errlen, "out of memory");
        goto done;
    }
    if (!source || !target) {
        snprintf (err, errlen, "cannot open the %s store (the log line above says why)",
                  source ? "PostgreSQL" : "SQLite");
        goto done;
    }
    if (ctl_store_schema_version (source) != ctl_store_schema_version (target)) {
        snprintf (err, errlen, "the two stores' schemas differ (%d and %d)",
                  ctl_store_schema_version (source), ctl_store_schema_version (target));
        goto done;
    }
    int found = ctl_agents_repo_operator_by_name (target, "admin", &admin);
    if (found < 0) {
        snprintf (err, errlen, "cannot read the PostgreSQL store");
        goto done;
    }
    if (found == 0) {
        snprintf (err, errlen,
                  "the PostgreSQL database already holds a controller's state: "
                  "use an empty database");
        status = 2;
        goto done;
    }
    ctl_store_destroy (&source);
    int archives = s_archives (target, artifacts_dir, err, errlen);
    if (archives < 0)
        goto done;
    counts->archives = archives;
    //  the copy: one read transaction on SQLite, one transaction on PostgreSQL
    if (sqlite3_open_v2 (sqlite_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout (db, 5000) != SQLITE_OK ||
        sqlite3_exec (db, "BEGIN; SELECT COUNT(*) FROM sqlite_master", NULL, NULL, NULL) !=
            SQLITE_OK) {
        snprintf (err, errlen, "cannot read %s: %s", sqlite_path,
                  db ? sqlite3_errmsg (db) : "out of memory");
        goto done;
    }
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *values[] = {url, "jadugar-controller migrate-store", NULL};
    pg = PQconnectdbParams (keys, values, 1);
    if (!pg || PQstatus (pg) != CONNECTION_OK) {
        snprintf (err, errlen, "cannot connect to the PostgreSQL store");
        goto done;
    }
    if (s_pg (pg, "SET client_encoding = 'UTF8'", err, errlen) || s_pg (pg, "BEGIN", err, errlen))
        goto done;
    int count = s_tables (db, tables, err, errlen);
    if (count < 0)
        goto done;
    //  the rows PostgreSQL's migrations wrote (meta, the lease) give way to
    //  SQLite's; a table SQLite has no row in keeps what PostgreSQL has (the
    //  archives' chunks), and an empty one is left alone (audit refuses a
    //  TRUNCATE)
    s_buf_t wipe = {0};
    s_puts (&wipe, "TRUNCATE ");
    int filled = 0, rc = 0;
    for (int index = 0; rc == 0 && index < count; index++) {
        char sql[160];
        snprintf (sql, sizeof sql, "SELECT 1 FROM \"%s\" LIMIT 1", tables[index]);
        PGresult *result = PQexec (pg, sql);
        if (PQresultStatus (result) != PGRES_TUPLES_OK) {
            snprintf (err, errlen, "postgresql: table %s: %s", tables[index],
                      PQresultErrorMessage (result));
            rc = -1;
        } else if (PQntuples (result) > 0 && s_sqlite_rows (db, tables[index])) {
            s_puts (&wipe, filled++ ? ", \"" : "\"");
            s_puts (&wipe, tables[index]);
            s_puts (&wipe, "\"");
        }
        PQclear (result);
    }
    if (rc == 0 && filled)
        rc = wipe.failed ? -1 : s_pg (pg, wipe.data, err, errlen);
    free (wipe.data);
    if (rc == 0)
        rc = s_sample_days (db, pg, err, errlen);
    for (int index = 0; rc == 0 && index < count; index++) {
        int64_t rows = s_copy_table (db, pg, tables[index], err, errlen);
        if (rows < 0)
            rc = -1;
        else {
            counts->tables++;
            counts->rows += rows;
        }
    }
    if (rc == 0)
        rc = s_sequences (pg, err, errlen);
    if (rc == 0)
        rc = s_pg (pg, "COMMIT", err, errlen);
    if (rc == 0)
        status = 0;

done:
    if (pg && status != 0)
        PQclear (PQexec (pg, "ROLLBACK"));
    PQfinish (pg);
    if (db)
        sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close (db);
    ctl_operator_destroy (&admin);
    ctl_store_destroy (&source);
    ctl_store_destroy (&target);
    free (tables);
    s_trim (err);
    if (status == 1)
        jad_log_error ("migrate-store: %s", err);
    return status;
}
