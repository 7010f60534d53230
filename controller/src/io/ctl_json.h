//  ctl_json - small JSON helpers of the operator API and the HTTP pages
//  SPDX-License-Identifier: MPL-2.0

#ifndef CTL_JSON_H_INCLUDED
#define CTL_JSON_H_INCLUDED

#include "ctl_store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A time as an ISO 8601 string, or JSON null when it is not `known`
//  (a NULL column). New reference.
json_t *ctl_json_time (int64_t ms, bool known);

//  A string, or JSON null for NULL. New reference.
json_t *ctl_json_text (const char *text);

//  Alert rules as a JSON array (for `jadctl alerts` and /api/status),
//  read from `store` (the loop's, or the HTTP thread's own). Caller
//  decrefs.
json_t *ctl_json_rules (ctl_store_t *store);

#endif
