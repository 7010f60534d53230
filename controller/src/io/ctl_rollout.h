//  ctl_rollout - the rollout driver: plans created through the policy
//  door, moved on by the engine (ctl_reconcile)
//  SPDX-License-Identifier: MPL-2.0
//
//  A plan's hosts are split into batches when it is created (canary hosts
//  first, then batches of N or N% of the hosts, never more than the
//  environment's concurrency). Hosts of later batches wait ('waiting')
//  until every host of the batch before is healthy. Phases of a plan:
//  approval (emergency deploys) -> migrate (a migrate_up or migrate_down
//  task on one host) -> rollout (batches) -> bake (canary) -> verify (the
//  canaries run their smoke checks again) -> rollout ... -> done.
//
//  Every piece of that state is a column in SQLite (plans.phase,
//  current_batch, phase_started, baked, paused, task; plan_hosts.state and
//  batch), so a controller killed mid-rollout resumes from the database on
//  its next tick and never re-sends to a host that already finished.
//
//  A task is a plan row with a parent and an action (migrate_up,
//  migrate_down, verify): agents run it without moving `current`.
//
//  A failed host, a missed deadline, a firing alert during bake or an
//  operator's abort fails the plan; a failed deploy is then undone by a
//  new rollback plan (linked both ways: rollback.undoes, plan
//  rolled_back_by) to the release the environment ran before, on every
//  host the plan touched, after the migrate_down hooks of the releases it
//  crosses.
//
//  Every decision is stored as an event of agent "controller" (step = the
//  rule, status = the decision, detail = the values it was made on;
//  ctl_decisions).
//
//  What happens to a plan is decided by ctl_reconcile (engine/): the
//  driver here reads the plan's view from the store (its row, hosts,
//  task, migrations, pauses and its environment's alert verdicts), calls
//  the engine and applies its actions in order through the store,
//  ctl_dispatch and ctl_notify; plans it must create (a task, a
//  coordinated rollback) pass the door like any other.

#ifndef CTL_ROLLOUT_H_INCLUDED
#define CTL_ROLLOUT_H_INCLUDED

#include "ctl_dispatch.h"
#include "ctl_door.h"
#include "ctl_notify.h"
#include "ctl_settings.h"
#include "ctl_store.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct _ctl_rollout_t ctl_rollout_t;

//  What to create. NULL / 0 fields take the environment's policy. Every
//  plan passes the policy door (ctl_door) as `door` says: a refusal
//  creates nothing; an emergency that needs approvals waits in state
//  approval; the plan's reason is the door's.
typedef struct {
    ctl_door_kind_t door;  //  which kind of plan: the rules it meets
    const char *app;
    const char *version;
    const char *env;
    const char *deployer;        //  operator name, or "controller"
    const char *reason;          //  rollbacks, converge: why (NULL: a default); task: its action
    bool force;                  //  --force: overrides a bad mark (and db-rollback's active)
    const char *branch;          //  auto-deploy: the release's branch
    const char *undone_version;  //  rollback: the version undone (for the reason)
    const char *const *targets;  //  NULL-terminated, NULL: every accepted agent of env
    const char *strategy;        //  all | rolling | canary; NULL: env's
    const char *batch;           //  N or N%; NULL: env's
    uint32_t canary;             //  0: env's
    bool bake_set;               //  bake_ms given (may be 0)
    uint32_t bake_ms;
    const char *emergency;        //  emergency: the operator's reason
    bool security;                //  emergency: a security one (--security)
    bool skip_offline;            //  offline hosts are skipped at the step deadline
    const char *undoes;           //  rollback: the plan it undoes
    const char *previous;         //  version to roll back to if this fails; NULL: computed
    const char *parent;           //  task: the plan it serves
    const char *action;           //  task: migrate_up | migrate_down | verify
    const char *migrations;       //  migrate_down: versions, comma-separated, in order
    const char *above;            //  db-rollback: a release above `version` active in env
    int64_t slot_ms;              //  auto-deploy: the schedule slot it runs at (0: none)
    ctl_door_verdict_t *verdict;  //  if set, gets the door's verdict (dry runs, waits)
    //  if set: a dry run. The door judges and the batches are laid out as
    //  for the real plan, *dry_run gets what would happen (caller decrefs),
    //  nothing is stored or sent and ctl_rollout_create returns NULL with
    //  err "" (a refusal still returns NULL with its text)
    json_t **dry_run;
} ctl_plan_spec_t;

//  The rollout on `store`, sending through `dispatch` and telling
//  `notify` (plan.paused, approval.needed) (all borrowed). NULL if out of
//  memory.
ctl_rollout_t *ctl_rollout_new (ctl_store_t *store, ctl_settings_t *settings,
                                ctl_dispatch_t *dispatch, ctl_notify_t *notify);
void ctl_rollout_destroy (ctl_rollout_t **self_p);

//  Create a plan and start it (unless it awaits approval). Returns its id
//  (caller frees) or NULL with the reason in err.
char *ctl_rollout_create (ctl_rollout_t *self, const ctl_plan_spec_t *spec, char *err,
                          size_t errlen);

//  Move plan_id on as far as its hosts' states allow. Call after anything
//  about the plan changed; harmless otherwise. Never call inside a
//  transaction.
void ctl_rollout_advance (ctl_rollout_t *self, const char *plan_id);

//  Advance every running plan (bake timers, restart resume), and deploy
//  at the slots of environments' schedules.
void ctl_rollout_tick (ctl_rollout_t *self);

//  The API's `schedule` (env optional): {"environments": [{env, schedule,
//  timezone, last_slot, slots: [{time, local}], waiting: [{app, version,
//  branch}]}]} for each environment with a schedule, the next `count`
//  slots (1..50, default 5) and the tracked releases waiting for them.
//  Returns 0, or 2 with err for an unknown env or bad count.
int ctl_rollout_schedule (ctl_rollout_t *self, const char *env, const char *count, json_t **result,
                          char *err, size_t errlen);

//  Fail plan_id (running or awaiting approval) with `reason` and roll back
//  what it changed. Returns 0, or -1 if the plan was not running.
int ctl_rollout_fail (ctl_rollout_t *self, const char *plan_id, const char *reason);

//  Start a plan that was awaiting approval (every role it needs is
//  covered). Returns 0 or -1.
int ctl_rollout_start (ctl_rollout_t *self, const char *plan_id);

//  An operator's `command` (pause, resume or abort) on plan_id. Returns
//  0, 2 with "plan ID is STATE...: cannot CMD it" / "plan ID is STATE:
//  nothing to abort" in err (nothing changed), or 1 on a database error.
int ctl_rollout_operator (ctl_rollout_t *self, const char *plan_id, const char *command,
                          const char *operator_name, char *err, size_t errlen);

//  Roll app in env back: a new rollback plan (door kind `door`:
//  CTL_DOOR_ROLLBACK for an operator, CTL_DOOR_AUTO_ROLLBACK for the
//  controller) to `to` (NULL: the last known-good release, never one
//  marked bad), undoing `undoes` (NULL: the latest deploy of app to env),
//  on every host of env that runs app, reusing releases on disk. The
//  target passes the policy door: a rollback goes only to a release that
//  passes the environment's rules (SECURITY-TESTS row 29); `force`
//  overrides a bad mark only. `reason` NULL: a default one. Returns the
//  new plan id (caller frees) or NULL with the reason in err.
//  ctl_rollout_rollback as a dry run (see ctl_plan_spec_t.dry_run): 0
//  with *dry_run set, or -1 with why in err (a refusal's text).
int ctl_rollout_rollback_dry (ctl_rollout_t *self, const char *app, const char *env_name,
                              const char *to, const char *deployer, bool force, json_t **dry_run,
                              char *err, size_t errlen);

char *ctl_rollout_rollback (ctl_rollout_t *self, ctl_door_kind_t door, const char *app,
                            const char *env, const char *to, const char *undoes,
                            const char *deployer, const char *reason, bool force, char *err,
                            size_t errlen);

//  jadctl db-rollback (DESIGN §11): a plan (kind task, no parent) that
//  runs only the migrate_down hooks of the releases of app above `to`
//  whose migration is up in env, newest first, once, on one host of env
//  that runs app (online and on the newest of them if it can). Through
//  the door (CTL_DOOR_DB_ROLLBACK): refused while a host of env runs a
//  release above `to`, unless `force`. Refused too when no such
//  migration is up, or one of them has no migrate_down. Returns the plan
//  id (caller frees) or NULL with why in err.
char *ctl_rollout_db_rollback (ctl_rollout_t *self, const char *app, const char *env,
                               const char *to, const char *deployer, bool force, char *err,
                               size_t errlen);

//  A release was added with `branch`: deploy it to every environment that
//  tracks the branch with auto_deploy, within policy. Returns a JSON list
//  of {env, plan} or {env, refused} (caller owns).
json_t *ctl_rollout_auto_deploy (ctl_rollout_t *self, const char *app, const char *version,
                                 const char *branch, const char *operator_name);

#endif
