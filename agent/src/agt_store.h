//  agt_store - the agent's SQLite state: sequence, plans, releases, apps
//  SPDX-License-Identifier: MPL-2.0
//
//  DATA/state.db, opened with synchronous=FULL: a plan the agent
//  acknowledged, the last sequence it accepted and a report in the outbox
//  must survive a power cut. Only the main thread touches the store; the
//  apply worker reports to the main thread, which writes here.
//
//  Tables: meta (last_sequence, epoch, incarnation, refused_<reason> counters),
//  plans (every accepted plan and its state), outbox (see agt_outbox.h),
//  releases (unpacked releases and their artifact SHA-256), apps (what runs
//  now, for Status), floors (the highest security floor seen per app),
//  metric_outbox (metric batches not acked yet, see agt_mstream.h).

#ifndef AGT_STORE_H_INCLUDED
#define AGT_STORE_H_INCLUDED

#include "jad_wire.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _agt_store_t agt_store_t;

//  Plan states as stored.
#define AGT_PLAN_ACCEPTED   "accepted"
#define AGT_PLAN_APPLYING   "applying"
#define AGT_PLAN_DONE       "done"
#define AGT_PLAN_FAILED     "failed"
#define AGT_PLAN_SUPERSEDED "superseded"

//  Open (creating if `create`) and migrate the database at path; creates
//  the incarnation once. Returns NULL (logged) on error.
agt_store_t *agt_store_new (const char *path, bool create);
void agt_store_destroy (agt_store_t **self_p);

//  The database handle, borrowed (for agt_outbox).
sqlite3 *agt_store_db (agt_store_t *self);

//  Random 16-hex identity of this database, borrowed.
const char *agt_store_incarnation (agt_store_t *self);

//  Security floor of app: the highest min_release_counter of an accepted
//  plan for it (0 if none; UINT64_MAX if the database cannot say).
uint64_t agt_store_floor (agt_store_t *self, const char *app);

//  Last accepted plan sequence (0 if none).
uint64_t agt_store_last_sequence (agt_store_t *self);

//  The highest leadership epoch seen in an accepted plan or heartbeat (0
//  if none; UINT64_MAX if the database cannot say: everything is refused).
uint64_t agt_store_epoch (agt_store_t *self);

//  Record `epoch` if it is higher than the one on record. Returns 0 or -1.
int agt_store_epoch_raise (agt_store_t *self, uint64_t epoch);

//  In one transaction: store plan->sequence as the last sequence and, if
//  the plan id is new, the plan (state accepted) with its envelope bytes;
//  the app's floor raised to the plan's min_release_counter. A new plan
//  supersedes older accepted (not applying) plans of the same app, whose
//  ids are appended to `superseded` (strings the list owns, if the list
//  is not NULL). Sets *is_new. Returns 0 or -1 (nothing changed).
int agt_store_accept_plan (agt_store_t *self, const jad_plan_t *plan, const uint8_t *envelope,
                           size_t envelope_size, bool *is_new, zlist_t *superseded);

//  Oldest plan in state accepted; caller frees the id. NULL if none.
char *agt_store_next_plan (agt_store_t *self);

//  Load a stored plan (decoded from its stored envelope). Caller owns.
jad_plan_t *agt_store_load_plan (agt_store_t *self, const char *plan_id);

//  State and step of a plan into new strings (caller frees). Returns 0, 1
//  if unknown, -1 on error.
int agt_store_plan_state (agt_store_t *self, const char *plan_id, char **state, char **step);

//  Set state and step (step may be NULL to keep it) and an optional detail.
int agt_store_set_plan_state (agt_store_t *self, const char *plan_id, const char *state,
                              const char *step, const char *detail);

//  Plans left in state applying (by a crash), as "plan_id\tstep" strings in
//  a new list the caller destroys. NULL on error.
zlist_t *agt_store_applying_plans (agt_store_t *self);

//  Final detail stored for a finished plan, or NULL. Caller frees.
char *agt_store_plan_detail (agt_store_t *self, const char *plan_id);

//  True if release app/version is recorded with artifact sha256_hex.
bool agt_store_release_known (agt_store_t *self, const char *app, const char *version,
                              const char *sha256_hex);
int agt_store_release_add (agt_store_t *self, const char *app, const char *version,
                           const char *sha256_hex);
int agt_store_release_remove (agt_store_t *self, const char *app, const char *version);

//  Record what runs for app (version may be NULL).
int agt_store_app_set (agt_store_t *self, const char *app, const char *version, const char *health,
                       const char *plan_id);
//  Version recorded for app, or NULL. Caller frees.
char *agt_store_app_version (agt_store_t *self, const char *app);

//  All apps as a new array (caller frees with agt_store_apps_free).
//  Returns 0 or -1.
int agt_store_apps (agt_store_t *self, jad_app_state_t **apps_p, size_t *count_p);
void agt_store_apps_free (jad_app_state_t **apps_p, size_t count);

//  The highest policy (jad_policy.h) this agent verified: its signed text
//  (caller frees) and version, in meta. Returns 0, 1 if there is none
//  (*text_p NULL, *version_p 0), -1 on error.
int agt_store_policy (agt_store_t *self, char **text_p, uint64_t *version_p);

//  Keep a verified policy's text at `version` if it is higher than the
//  one kept (versions only go up). Returns 0 or -1.
int agt_store_policy_raise (agt_store_t *self, uint64_t version, const char *text);

//  Named counters in meta ("refused_replay"). Return 0 or -1.
int agt_store_counter_get (agt_store_t *self, const char *name, uint64_t *value);
int agt_store_counter_set (agt_store_t *self, const char *name, uint64_t value);

#endif
