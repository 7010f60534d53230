//  ctl_migrate - a SQLite controller's whole state copied into PostgreSQL
//  SPDX-License-Identifier: MPL-2.0
//
//  `jadugar-controller migrate-store` (DESIGN §9): the way from one
//  controller on SQLite to two on PostgreSQL. Both stores are brought to
//  this program's schema first, so their tables are the same; every table
//  of the SQLite file is then copied whole (COPY) in one PostgreSQL
//  transaction, referenced tables before those that refer to them, and
//  each identity column's sequence is moved past the highest id copied.
//  The release archives of DATA/artifacts go into the store's chunks
//  (ctl_releases_repo.h) before the tables: named by content, so a run
//  that failed later leaves nothing a second run trips on.

#ifndef CTL_MIGRATE_H_INCLUDED
#define CTL_MIGRATE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int tables;    //  tables copied
    int64_t rows;  //  rows copied
    int archives;  //  release archives copied
} ctl_migrate_counts_t;

//  Copy the store at sqlite_path (read in one read transaction: a
//  consistent state; stop the controller first so that nothing is written
//  after) and the archives of artifacts_dir (SHA256.tar.gz; a missing
//  directory has none) into the PostgreSQL database at url, which must
//  hold no controller's state (its schema is created if it has none).
//  All or nothing for the tables. Returns 0, 2 if refused (the reason in
//  err), 1 on an error (err; details logged).
int ctl_migrate_store (const char *sqlite_path, const char *artifacts_dir, const char *url,
                       ctl_migrate_counts_t *counts, char *err, size_t errlen);

#endif
