//  agt_drops - count dropped input by reason, log it rate-limited
//  SPDX-License-Identifier: MPL-2.0
//
//  Malformed or unexpected messages are dropped and counted; a peer that
//  floods us must not flood the log too, so each reason logs at most a
//  few lines per window and then one line saying how many were not logged.

#ifndef AGT_DROPS_H_INCLUDED
#define AGT_DROPS_H_INCLUDED

#include <stdint.h>

typedef struct _agt_drops_t agt_drops_t;

agt_drops_t *agt_drops_new (void);
void agt_drops_destroy (agt_drops_t **self_p);

//  Count one drop for `reason` (a fixed string, borrowed for the object's
//  lifetime) and log "agent: message dropped reason=R detail" unless the
//  reason already logged enough in this window.
void agt_drops_hit (agt_drops_t *self, const char *reason, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Drops counted for reason (0 if none); total of all reasons.
uint64_t agt_drops_count (agt_drops_t *self, const char *reason);
uint64_t agt_drops_total (agt_drops_t *self);

//  Call fn for every reason with a count.
typedef void (agt_drops_fn) (const char *reason, uint64_t count, void *arg);
void agt_drops_each (agt_drops_t *self, agt_drops_fn *fn, void *arg);

#endif
