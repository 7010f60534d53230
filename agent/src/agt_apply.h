//  agt_apply - apply one release on this host: unpack, hooks, switch,
//  smoke, rollback, prune
//  SPDX-License-Identifier: MPL-2.0
//
//  Layout below the root: ROOT/APP/releases/VERSION/, ROOT/APP/current ->
//  releases/VERSION (relative symlink, replaced atomically with a
//  current.tmp symlink and rename(2)), ROOT/APP/shared/. A release is
//  unpacked into releases/.staging-VERSION-RANDOM and renamed into place
//  only once it is complete and its jadugar.yaml is valid, so `current`
//  never points at a half-unpacked release.
//
//  agt_apply_run is synchronous and touches no database: it tells its
//  caller what happens through events (step progress, releases added or
//  removed, the outcome), so it runs in the apply worker (agt_worker) and
//  directly in tests. Every step is idempotent, so a plan interrupted by a
//  crash is simply applied again from the start.

#ifndef AGT_APPLY_H_INCLUDED
#define AGT_APPLY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  What to apply; plain data, strings owned (freed by agt_job_destroy).
typedef struct {
    char *plan_id;
    char *app;
    char *version;
    char *sha256_hex;          //  signed artifact hash (hex)
    uint64_t artifact_length;  //  signed artifact length
    uint64_t unpacked_size;    //  signed unpacked size of the release, 0: unknown
    char *archive;             //  verified artifact, NULL: reuse releases/VERSION
    char *url;                 //  download the artifact here first (may be NULL)
    bool release_known;        //  releases/VERSION holds this artifact already
    char *previous_hint;       //  version last recorded as running, may be NULL
    char *environment;
    char *host;                 //  agent name
    char *root;                 //  release root
    char *downloads;            //  DATA/downloads, for URL artifacts
    char *hook_user;            //  may be NULL
    uint32_t hook_timeout_ms;   //  hooks without their own timeout
    uint32_t step_deadline_ms;  //  URL download deadline
    uint32_t keep_releases;
    uint32_t action;    //  jad_plan_action_t: apply (default) or a task; or AGT_ACTION_ROLLBACK
    char **migrations;  //  MIGRATE_DOWN: versions, in the order to run
    size_t migration_count;
} agt_job_t;

//  An agent-local action (never in a plan): roll `app` back from
//  `version` to the release it replaced (previous_hint when `version` is
//  current), exactly as a step failing after the switch does. The daemon
//  runs it when the helper applying `version` was lost after the switch.
#define AGT_ACTION_ROLLBACK 100

agt_job_t *agt_job_new (void);
void agt_job_destroy (agt_job_t **self_p);

typedef enum {
    AGT_EVENT_STEP = 1,         //  step progress: a report
    AGT_EVENT_RELEASE_ADDED,    //  releases/VERSION holds artifact sha256_hex
    AGT_EVENT_RELEASE_REMOVED,  //  releases/VERSION is gone
    AGT_EVENT_DONE,             //  outcome: status healthy or failed
} agt_event_kind_t;

//  One event; plain data, strings owned.
typedef struct {
    agt_event_kind_t kind;
    char *plan_id;
    char *app;
    char *version;     //  DONE: version now current (NULL if none)
    char *sha256_hex;  //  RELEASE_ADDED
    char *step;        //  STEP; DONE: AGT_STEP_DONE
    uint32_t status;   //  jad_report_status_t (STEP, DONE)
    char *detail;      //  one line, may be NULL
    char *output;      //  hook output, may be NULL
    uint32_t duration_ms;
} agt_event_t;

//  Step name of the final per-plan report (healthy or failed), as the
//  controller expects it.
#define AGT_STEP_DONE "done"

agt_event_t *agt_event_new (agt_event_kind_t kind);
void agt_event_destroy (agt_event_t **self_p);

//  Receives each event; takes ownership of *event_p (and nulls it).
typedef void (agt_apply_emit_fn) (agt_event_t **event_p, void *arg);

//  Apply job; returns 0 if the release is healthy, -1 if the plan failed
//  (and the host is back on its previous release if the switch happened).
//  The last event is always AGT_EVENT_DONE.
//  Tasks never touch `current`: MIGRATE_UP unpacks the release if needed
//  and runs its migrate_up hook (step "migrate_up"); MIGRATE_DOWN runs the
//  migrate_down hook of each listed release already on disk, in the given
//  order (step "migrate_down", one report per release); VERIFY runs the
//  smoke checks of the current release again (step "verify") and fails if
//  `version` is not current. AGT_ACTION_ROLLBACK runs the rollback step
//  only and always fails (its plan did); DONE says where current is.
int agt_apply_run (const agt_job_t *job, agt_apply_emit_fn *emit, void *arg);

#endif
