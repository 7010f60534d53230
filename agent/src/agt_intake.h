//  agt_intake - plan intake: verify, admit, persist (protocol.md order)
//  SPDX-License-Identifier: MPL-2.0
//
//  An envelope from SUB or from a direct re-send goes through: size cap,
//  decode, payload type, key id, signature (all before the payload is
//  parsed: jad_envelope_open_plan), then plan validation, environment,
//  target list, expiry and issue time (5 minutes of skew) and sequence
//  (jad_plan_admit). Only then does one transaction store the new last
//  sequence and, if new, the plan. A refusal changes nothing but a
//  per-reason counter (kept here and flushed to meta refused_<reason>)
//  and is logged, with at most a few lines per reason per 10 s. A plan
//  whose release_counter is below the app's security floor (the highest
//  min_release_counter accepted so far, or its own) is refused as
//  below_floor: no software rollback below a floor.

#ifndef AGT_INTAKE_H_INCLUDED
#define AGT_INTAKE_H_INCLUDED

#include "agt_store.h"
#include "jad_wire.h"

#include <stdint.h>

typedef struct _agt_intake_t agt_intake_t;

typedef enum {
    AGT_INTAKE_REFUSED = -1,  //  dropped, counted, logged
    AGT_INTAKE_NEW = 0,       //  accepted and stored (state accepted)
    AGT_INTAKE_KNOWN = 1,     //  accepted (new sequence) for a plan id already stored
} agt_intake_result_t;

#define AGT_SKEW_MS (5 * 60 * 1000)

//  Intake for agent `name` of environment `env`, pinned Ed25519 signing
//  key (32 bytes, copied), on store (borrowed). Loads the counters.
agt_intake_t *agt_intake_new (agt_store_t *store, const uint8_t *signing_key, const char *env,
                              const char *name);
void agt_intake_destroy (agt_intake_t **self_p);

//  Handle one envelope. On NEW or KNOWN returns the plan in *plan_p
//  (caller owns); ids of plans it superseded are appended to `superseded`
//  (may be NULL). `now_ms` is the wall clock.
agt_intake_result_t agt_intake_plan (agt_intake_t *self, const uint8_t *data, size_t size,
                                     int64_t now_ms, jad_plan_t **plan_p, zlist_t *superseded);

//  Handle one heartbeat envelope (topic beat/ENV/): signature before
//  parsing, then jad_heartbeat_admit against the last accepted heartbeat
//  (kept in memory). Returns 0 if accepted, -1 if refused (counted as
//  heartbeat_<reason>, logged).
int agt_intake_heartbeat (agt_intake_t *self, const uint8_t *data, size_t size, int64_t now_ms);

//  Monotonic ms of the last accepted plan or heartbeat (or of the
//  intake's creation): signed controller traffic, for the stale alarm.
int64_t agt_intake_last_signed (agt_intake_t *self);

//  Count and log (rate limited, as the intake's own) one refusal of plan
//  plan_id for `reason` decided after intake (the release checks of
//  agt_policy: reason "policy"), flushed with the others.
void agt_intake_refuse (agt_intake_t *self, const char *reason, const char *plan_id,
                        const char *why);

//  Refusals counted for a reason name ("bad_signature", "replay", ...).
uint64_t agt_intake_refused (agt_intake_t *self, const char *reason);
//  Total refusals.
uint64_t agt_intake_refused_total (agt_intake_t *self);

//  Call fn for every reason with a count (name as in the counter key).
typedef void (agt_counter_fn) (const char *reason, uint64_t count, void *arg);
void agt_intake_each (agt_intake_t *self, agt_counter_fn *fn, void *arg);

//  Write changed counters to meta. Returns 0 or -1.
int agt_intake_flush (agt_intake_t *self);

#endif
