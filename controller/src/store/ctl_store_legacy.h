//  ctl_store_legacy - SQL helpers for code not yet moved into repositories
//  SPDX-License-Identifier: MPL-2.0
//
//  Transitional: goes away once every query lives in a repository.

#ifndef CTL_STORE_LEGACY_H_INCLUDED
#define CTL_STORE_LEGACY_H_INCLUDED

#include "ctl_store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The SQLite connection under a store.
sqlite3 *ctl_store_db (ctl_store_t *self);

//  Prepare `sql` and bind one value per character of `types`: 't' a text
//  (const char *, NULL binds NULL), 'i' an int64_t. Returns the statement
//  (caller finalizes) or NULL (logged).
sqlite3_stmt *ctl_store_query (sqlite3 *db, const char *sql, const char *types, ...);

//  Run `sql` with binds as ctl_store_query. Returns the number of rows
//  changed, or -1 on error (logged).
int ctl_store_run (sqlite3 *db, const char *sql, const char *types, ...);

#endif
