//  ctl_store_internal - what store/'s repositories share (private)
//  SPDX-License-Identifier: MPL-2.0

#ifndef CTL_STORE_INTERNAL_H_INCLUDED
#define CTL_STORE_INTERNAL_H_INCLUDED

#include "ctl_sql.h"

#include <czmq.h>

//  The store handle (ctl_store.h); declared again here so that this
//  header, which ctl_store.c implements, does not include it back.
typedef struct _ctl_store_t ctl_store_t;

//  The store's query layer.
ctl_sql_t *ctl_store_sql (ctl_store_t *self);

//  A new list destroying its items with `destructor` (a T_destroy (T **),
//  or NULL.
zlistx_t *ctl_store_list (zlistx_destructor_fn *destructor);

//  The first column of every row of `sql` (binds as ctl_sql_query) as a
//  list of strings (NULL values skipped), or NULL on error (logged).
zlistx_t *ctl_store_strings (ctl_store_t *self, const char *sql, const char *types, ...);

//  Free each string of a NULL-terminated field list: s_free_all (&a, &b, NULL).
void ctl_store_free_strings (char **first, ...);

#endif
