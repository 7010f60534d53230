//  ctl_snapshot - an online, consistent copy of a SQLite store
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_BUSY_MS 10000  //  how long a copy waits for a lock the controller holds

int ctl_snapshot_sqlite (const char *db_path, const char *copy_path, char *err, size_t errlen)
{
    sqlite3 *source = NULL, *copy = NULL;
    int rc = -1;
    //  the copy's file first, created 0600 and new
    int fd = open (copy_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf (err, errlen, "%s: %s", copy_path, strerror (errno));
        return -1;
    }
    close (fd);
    if (sqlite3_open_v2 (db_path, &source, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf (err, errlen, "%s: %s", db_path, source ? sqlite3_errmsg (source) : "cannot open");
        goto done;
    }
    if (sqlite3_open_v2 (copy_path, &copy, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf (err, errlen, "%s: %s", copy_path, copy ? sqlite3_errmsg (copy) : "cannot open");
        goto done;
    }
    sqlite3_busy_timeout (source, S_BUSY_MS);
    sqlite3_backup *backup = sqlite3_backup_init (copy, "main", source, "main");
    if (!backup) {
        snprintf (err, errlen, "%s: %s", copy_path, sqlite3_errmsg (copy));
        goto done;
    }
    //  every page in one step: one read transaction, one consistent state
    int step = sqlite3_backup_step (backup, -1);
    for (int tries = 0; (step == SQLITE_BUSY || step == SQLITE_LOCKED) && tries < 100; tries++) {
        sqlite3_sleep (100);
        step = sqlite3_backup_step (backup, -1);
    }
    int finished = sqlite3_backup_finish (backup);
    if (step != SQLITE_DONE || finished != SQLITE_OK) {
        snprintf (err, errlen, "copying %s: %s", db_path,
                  sqlite3_errstr (step != SQLITE_DONE ? step : finished));
        goto done;
    }
    rc = 0;
done:
    sqlite3_close (copy);
    sqlite3_close (source);
    if (rc != 0)
        unlink (copy_path);
    return rc;
}

int ctl_snapshot_check (const char *db_path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf (err, errlen, "%s: %s", db_path, db ? sqlite3_errmsg (db) : "cannot open");
        goto done;
    }
    if (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL) != SQLITE_OK) {
        snprintf (err, errlen, "%s: %s", db_path, sqlite3_errmsg (db));
        goto done;
    }
    if (sqlite3_step (stmt) != SQLITE_ROW) {
        snprintf (err, errlen, "%s: %s", db_path, sqlite3_errmsg (db));
        goto done;
    }
    const char *verdict = (const char *)sqlite3_column_text (stmt, 0);
    if (!verdict || strcmp (verdict, "ok") != 0) {
        snprintf (err, errlen, "%s: damaged: %.200s", db_path, verdict ? verdict : "?");
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return rc;
}
