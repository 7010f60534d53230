//  ctl_store_internal - what store/'s repositories share (private)
//  SPDX-License-Identifier: MPL-2.0

#ifndef CTL_STORE_INTERNAL_H_INCLUDED
#define CTL_STORE_INTERNAL_H_INCLUDED

#include "ctl_sql.h"
#include "ctl_store.h"

//  The store's query layer.
ctl_sql_t *ctl_store_sql (ctl_store_t *self);

//  Free each string of a NULL-terminated field list: s_free_all (&a, &b, NULL).
void ctl_store_free_strings (char **first, ...);

#endif
