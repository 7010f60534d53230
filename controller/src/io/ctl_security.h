//  ctl_security - the controller's security series: refusals as metrics
//  alert rules can read
//  SPDX-License-Identifier: MPL-2.0
//
//  Each series of JAD_SECURITY_SERIES (jad_config.h) is one or more of the
//  controller's counters (ctl_counters): bad signatures, unknown keys and
//  stale epochs the agents reported, ZAP denials, refused API calls,
//  wrong enrollment tokens (and tries throttled for too many of them),
//  and their sum. Once a second (on the loop's thread, from
//  ctl_alerts_tick) the counters are sampled; a rule reads one value: how
//  many refusals of its series came within its `window` (so `above: 20,
//  window: 5m` fires on more than 20 in five minutes; `aggregate` changes
//  nothing). The last hour is kept, in memory: the counters start from
//  zero with the controller.

#ifndef CTL_SECURITY_H_INCLUDED
#define CTL_SECURITY_H_INCLUDED

#include "ctl_counters.h"

#include <stddef.h>
#include <stdint.h>

typedef struct _ctl_security_t ctl_security_t;

//  Series over `counters` (borrowed, the server's). NULL if out of memory.
ctl_security_t *ctl_security_new (const ctl_counters_t *counters);
void ctl_security_destroy (ctl_security_t **self_p);

//  Sample the totals if a second has passed since the last sample
//  (wall ms `now`).
void ctl_security_tick (ctl_security_t *self, int64_t now);

//  The reading of series `metric` over the samples taken at or after
//  `since` (wall ms): *values_p (caller frees) gets one value, how many
//  refusals they counted, and *hosts_p (caller frees) a 1 (one source:
//  the controller); *count_p is 1, or 0 before the first sample. Returns
//  0, or -1 if `metric` is not a security series or out of memory.
int ctl_security_values (ctl_security_t *self, const char *metric, int64_t since, double **values_p,
                         uint32_t **hosts_p, size_t *count_p);

#endif
