//  ctl_snapshot - an online, consistent copy of a SQLite store
//  SPDX-License-Identifier: MPL-2.0
//
//  `jadugar-controller backup` copies a running controller's state.db with
//  SQLite's online backup API: one read transaction over the whole file,
//  which in WAL mode never blocks the controller's writes, so the copy is
//  the database as one commit left it.

#ifndef CTL_SNAPSHOT_H_INCLUDED
#define CTL_SNAPSHOT_H_INCLUDED

#include <stddef.h>

//  Copy the SQLite database at `db_path` into a new file `copy_path`
//  (mode 0600, which must not exist). Returns 0, or -1 with the reason in
//  err (copy_path removed).
int ctl_snapshot_sqlite (const char *db_path, const char *copy_path, char *err, size_t errlen);

//  Check the SQLite database at `db_path` (PRAGMA integrity_check), read
//  only. Returns 0 if it is sound, or -1 with the reason in err.
int ctl_snapshot_check (const char *db_path, char *err, size_t errlen);

#endif
