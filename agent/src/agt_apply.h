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

#include "jad_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  What to apply is a jad_apply_job_t and what happens is told by
//  jad_apply_event_t (jad_wire.h): the same structs cross the pipe to the
//  apply helper (agt_pipe, agt_worker).

//  The agent-local rollback after a lost apply helper (jad_wire.h).
#define AGT_ACTION_ROLLBACK JAD_APPLY_ACTION_ROLLBACK

//  Step name of the final per-plan report (healthy or failed), as the
//  controller expects it.
#define AGT_STEP_DONE "done"

//  Receives each event; takes ownership of *event_p (and nulls it).
typedef void (agt_apply_emit_fn) (jad_apply_event_t **event_p, void *arg);

//  Apply job; returns 0 if the release is healthy, -1 if the plan failed
//  (and the host is back on its previous release if the switch happened).
//  The last event is always JAD_APPLY_EVENT_DONE.
//  Tasks never touch `current`: MIGRATE_UP unpacks the release if needed
//  and runs its migrate_up hook (step "migrate_up"); MIGRATE_DOWN runs the
//  migrate_down hook of each listed release already on disk, in the given
//  order (step "migrate_down", one report per release); VERIFY runs the
//  smoke checks of the current release again (step "verify") and fails if
//  `version` is not current. AGT_ACTION_ROLLBACK runs the rollback step
//  only and always fails (its plan did); DONE says where current is.
int agt_apply_run (const jad_apply_job_t *job, agt_apply_emit_fn *emit, void *arg);

#endif
