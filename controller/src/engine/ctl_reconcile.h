//  ctl_reconcile - the rollout engine: one plan's stored state, its
//  environment's alert verdicts and the time in, the changes to make out
//  SPDX-License-Identifier: MPL-2.0
//
//  A reconciler in the manner of Nomad's scheduler: it never sends,
//  stores or logs anything. The caller (the controller's rollout loop)
//  reads a plan view from the store, calls ctl_reconcile, and applies the
//  actions in order; then it calls it again whenever anything about the
//  plan changed, and on every tick. Since the view is the stored state,
//  a controller restarted mid-rollout resumes by calling it: resuming is
//  a pure function of what was stored.
//
//  Phases of a plan (plans.phase):
//
//      approval (an emergency waits for its roles: ctl_approvals)
//        -> starting -> migrate (a migrate_up or migrate_down task on one
//        host) -> rollout (batches) -> bake (canary) -> verify (the
//        canaries run their smoke checks again) -> rollout ... -> done
//
//  A plan that cannot move and made no progress within the progress
//  deadline fails (paused plans and bakes wait on purpose); one that can
//  move, say after a long controller outage, moves instead.
//
//  A host failing (beyond the environment's max_failures, for a deploy
//  past its canary batch), a missed deadline, a rule firing during the
//  bake, a failed migration or re-check, or an operator's abort fails the
//  plan;
//  a failed deploy is then undone by a coordinated rollback (a new plan of
//  kind rollback, through the door) to the release the environment ran
//  before, on every host it changed, after the migrate_down hooks of the
//  releases it crosses.
//
//  Alert rules that cannot decide (inconclusive) pause a deploy for an
//  operator at its gates: the end of its bake and before its next batch,
//  never at the start of a bake ("no samples yet" is judged at the end,
//  issue 13 item 4), and a rule the operator already saw when resuming
//  does not pause it again. A paused plan's bake does not run down: the
//  bake clock stops while the plan is paused (pause and resume times are
//  part of the view). Rollbacks are never paused.
//
//  During a bake the alerts include the canary analysis's verdicts on
//  the plan's own canary hosts (ctl_rules): one firing fails the bake,
//  one inconclusive at its end pauses it, and the bake waits for the
//  analysis to have judged its end.
//
//  Every decision comes out as a DECISION action (rule, decision, detail)
//  to store as an event of agent "controller" and to log; `jadctl plan
//  show` prints them. Texts are today's, word for word.
//
//  Replaces ctl_rollout_advance, ctl_rollout_tick, ctl_rollout_start,
//  ctl_rollout_fail, s_roll_back, s_succeed, s_pause_if_inconclusive,
//  s_choose_host and the decisions of s_start_batch
//  (controller/src/ctl_rollout.c), the pause/resume/abort decisions of
//  ctl_api.c's s_plan_control, and the progress deadline of ctl_plans.c.

#ifndef CTL_RECONCILE_H_INCLUDED
#define CTL_RECONCILE_H_INCLUDED

#include "ctl_rules.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A stretch of time the plan was paused; until 0: still paused.
typedef struct {
    int64_t from;
    int64_t until;
} ctl_pause_t;

//  A host the plan may run a task on. Strings are borrowed.
typedef struct {
    const char *name;
    int64_t batch;        //  plan_hosts.batch
    bool online;          //  ctl_deadlines_online
    const char *version;  //  the app's version the host runs (agent_apps), or NULL
} ctl_task_host_t;

//  A release whose migration a rollback crosses (newest first).
typedef struct {
    const char *version;
    bool has_down;  //  the release has a migrate_down hook
} ctl_crossed_t;

//  One plan as stored, with what the engine needs about its hosts, its
//  task and its migrations. Strings are borrowed; NULL where the column
//  is NULL.
typedef struct {
    //  the plan (plans row)
    const char *id;
    const char *kind;   //  deploy | rollback | task
    const char *state;  //  approval | running | succeeded | failed
    const char *phase;  //  approval | starting | migrate | rollout | bake | verify | done
    const char *app;
    const char *version;
    const char *env;
    const char *strategy;  //  all | rolling | canary
    const char *reason;    //  plans.reason (a rollback's outcome is appended to it)
    const char *parent;    //  task: the plan it serves
    const char *previous;  //  the version to roll back to if it fails, or NULL

    //  what it runs (plans.action: apply, migrate_up, migrate_down,
    //  verify; migrate_down: plans.migrations, versions comma-separated)
    //  and, for a task without a parent (a db-rollback, DESIGN §11), its
    //  one host
    const char *action;
    const char *migrations;
    const char *host;
    int64_t current_batch;
    int64_t batches;
    bool paused;
    bool baked;
    int64_t bake_ms;
    int64_t phase_started;  //  wall ms the phase began
    int64_t progress;       //  wall ms of the last progress
    bool approved;          //  state approval: every listed role covered (ctl_approvals_covered)

    //  its hosts (plan_hosts): counts by state
    int64_t hosts;              //  all of them
    int64_t failed;             //  failed
    int64_t skipped;            //  skipped
    int64_t changed;            //  pending, acked, applying or healthy
    int64_t unfinished;         //  of the current batch: pending, acked or applying
    int64_t canaries_healthy;   //  of batch 0: healthy
    const char *first_failure;  //  the first failed host (by updated, then name) as
                                //  ctl_reconcile_failure says it, or NULL
    //  names of the hosts of the batch the plan would start next
    //  (ctl_reconcile_next_batch), by name; needed only when
    //  ctl_reconcile_needs_batch_hosts says so
    const char *const *batch_hosts;
    size_t batch_host_count;

    //  its current task (plans row of plans.task), NULL fields if none
    const char *task;
    const char *task_state;
    const char *task_reason;
    const char *task_action;      //  migrate_up | migrate_down | verify
    const char *task_migrations;  //  migrate_down: versions, comma-separated
    const char *task_host;        //  the (first) host of the task
    const char *task_failure;     //  the task's first failure, as first_failure

    //  migrations (needed in phases approval and starting)
    bool has_migrate_up;                //  the release has a migrate_up hook
    bool migrated;                      //  its migration is up in env
    bool migrated_here;                 //  ... and a task of this plan ran it (for its rollback)
    const ctl_crossed_t *crossed;       //  rollback: releases whose migration it crosses,
    size_t crossed_count;               //  newest first
    const ctl_task_host_t *task_hosts;  //  every host of the plan, by batch then name
    size_t task_host_count;

    //  pauses and deadlines
    int64_t resumed;            //  wall ms of the operator's last resume, 0 if none
    const ctl_pause_t *pauses;  //  every pause of the plan, oldest first
    size_t pause_count;
    uint32_t progress_deadline_ms;  //  controller.yaml progress-deadline; 0: none

    //  canary analysis (phase bake): the rules of the environment that
    //  judge the canary hosts, and the oldest of their last judgments of
    //  this plan (wall ms, 0 if one has none). A bake passes only once
    //  every one judged its end; their verdicts come with the alerts.
    int64_t canary_rules;
    int64_t canary_judged;

    //  max_failures (a deploy): the failed hosts it goes on with
    //  (ctl_batches_max_failures of the environment's), and how many
    //  failures it already went on with (its (health, tolerated) decisions)
    int64_t max_failures;
    int64_t failures_tolerated;
} ctl_plan_view_t;

typedef enum {
    //  store (rule, decision, text) about plan_id: events row of agent
    //  "controller" (step = rule, status = decision, detail = text), and log it
    CTL_ACTION_DECISION = 0,
    //  state approval -> running, progress = now
    CTL_ACTION_START,
    //  hosts of batch `number` waiting -> pending (started = updated = now);
    //  phase rollout, current_batch = number, progress = now; send the plan
    CTL_ACTION_START_BATCH,
    //  create a task plan for plan_id: through the door (CTL_DOOR_TASK,
    //  reason = task_action), kind task, deployer "controller", parent =
    //  plan_id, action = task_action, migrations, targets; then plans.task
    //  = its id, phase = `phase`, phase_started = progress = now. If it
    //  cannot be created: ctl_reconcile_task_refused
    CTL_ACTION_START_TASK,
    //  phase bake, phase_started = progress = now
    CTL_ACTION_ENTER_BAKE,
    //  baked = 1, phase rollout, progress = now
    CTL_ACTION_BAKED,
    //  paused = 1, progress = now (where running and not paused)
    CTL_ACTION_PAUSE,
    //  paused = 0, progress = now (where running and paused)
    CTL_ACTION_RESUME,
    //  task_action migrate_up: migration (env, app, version) up, on host,
    //  by task_id, at now; migrate_down: each version of `migrations` down
    CTL_ACTION_RECORD_MIGRATION,
    //  state succeeded, phase done, finished = now, reason = text
    CTL_ACTION_SUCCEED,
    //  state failed, phase done, finished = now, reason = text, where the
    //  state is running or approval; its waiting hosts become cancelled
    CTL_ACTION_FAIL,
    //  the same for the task plan_id (a task's failure does nothing else)
    CTL_ACTION_FAIL_TASK,
    //  coordinated rollback of plan_id: a plan of kind rollback to
    //  `version` through the door (CTL_DOOR_AUTO_ROLLBACK, reason = text),
    //  on `targets`, undoes = plan_id, previous = version, skip_offline,
    //  deployer "controller"; then plan_id's rolled_back_by = its id; then
    //  ctl_reconcile_rolled_back records the outcome
    CTL_ACTION_ROLL_BACK,
    //  reconcile plan_id (a task's parent) next
    CTL_ACTION_ADVANCE,
} ctl_action_kind_t;

//  Which hosts a task or a rollback targets.
typedef enum {
    CTL_TARGETS_NONE = 0,
    CTL_TARGETS_HOST,       //  `host`
    CTL_TARGETS_CANARIES,   //  the healthy hosts of batch 0, by name
    CTL_TARGETS_CHANGED,    //  the hosts pending, acked, applying or healthy, by name
    CTL_TARGETS_MIGRATION,  //  the host of the plan's migrate_up task
} ctl_targets_t;

//  One change to make. The action owns its strings; NULL where unused.
typedef struct {
    ctl_action_kind_t kind;
    char *plan_id;          //  the plan it applies to
    char *rule;             //  DECISION: the rule (events.step)
    char *decision;         //  DECISION: the decision (events.status)
    char *text;             //  DECISION: its detail; SUCCEED, FAIL, FAIL_TASK: the plan's
                            //  reason; PAUSE: the rule's verdict, or the operator (as RESUME);
                            //  ROLL_BACK: why (the door prefixes "automatic rollback: ")
    int64_t number;         //  START_BATCH: the batch (0-based)
    int64_t batches;        //  START_BATCH: the plan's batches
    char *task_action;      //  START_TASK, RECORD_MIGRATION: migrate_up | migrate_down | verify
    char *phase;            //  START_TASK: the plan's phase while the task runs
    ctl_targets_t targets;  //  START_TASK, ROLL_BACK
    char *host;             //  targets HOST; RECORD_MIGRATION: the host it ran on
    char *task_id;          //  RECORD_MIGRATION: the task that ran it
    char *migrations;       //  START_TASK, RECORD_MIGRATION (migrate_down): versions
    char *app;              //  START_TASK, RECORD_MIGRATION, ROLL_BACK
    char *version;          //  START_TASK, RECORD_MIGRATION; ROLL_BACK: the target
    char *env;              //  START_TASK, RECORD_MIGRATION, ROLL_BACK
} ctl_action_t;

//  An ordered list of actions.
typedef struct _ctl_actions_t ctl_actions_t;

//  New empty list, or NULL if out of memory.
ctl_actions_t *ctl_actions_new (void);
//  Destroy the list and its actions; NULL-safe, nulls *self_p.
void ctl_actions_destroy (ctl_actions_t **self_p);
//  Number of actions.
size_t ctl_actions_size (ctl_actions_t *self);
//  The index-th action (borrowed), NULL past the end.
const ctl_action_t *ctl_actions_get (ctl_actions_t *self, size_t index);
//  Remove every action.
void ctl_actions_purge (ctl_actions_t *self);
//  True if the list ran out of memory while actions were added: the
//  caller must not apply a partial list.
bool ctl_actions_failed (ctl_actions_t *self);

//  "decision", "start", "start_batch", ... for logs and tests.
const char *ctl_action_kind_name (ctl_action_kind_t kind);

//  Append to `actions` what plan `view` needs at wall time `now`, given
//  the verdicts of its environment's alert rules (ordered by rule id).
//  A plan that is not running (or approved) needs nothing. Returns 0,
//  or -1 if out of memory (ctl_actions_failed).
int ctl_reconcile (const ctl_plan_view_t *view, const ctl_rule_verdict_t *alerts,
                   size_t alert_count, int64_t now, ctl_actions_t *actions);

//  Append what failing plan `view` (running or awaiting approval) with
//  `reason` takes: its outcome, its task's end, and for a deploy its
//  coordinated rollback. Returns 0, or -1 (nothing appended) if the plan
//  is neither running nor awaiting approval.
int ctl_reconcile_fail (const ctl_plan_view_t *view, const char *reason, int64_t now,
                        ctl_actions_t *actions);

//  An operator's `command` ("pause", "resume" or "abort") on plan `view`.
//  Appends its actions (a resume goes on reconciling at once) and returns
//  0; returns 2 with "plan ID is STATE...: cannot CMD it" / "plan ID is
//  STATE: nothing to abort" in err (nothing appended); -1 if out of
//  memory. `alerts` as for ctl_reconcile.
int ctl_reconcile_operator (const ctl_plan_view_t *view, const char *command,
                            const char *operator_name, const ctl_rule_verdict_t *alerts,
                            size_t alert_count, int64_t now, ctl_actions_t *actions, char *err,
                            size_t errlen);

//  A START_TASK could not be carried out (`err` from the door or the
//  store): append the plan's failure, "cannot start ACTION: ERR".
int ctl_reconcile_task_refused (const ctl_plan_view_t *view, const char *task_action,
                                const char *err, int64_t now, ctl_actions_t *actions);

//  A ROLL_BACK was carried out: append its decision, naming rollback_id
//  and its hosts, or (rollback_id NULL) why it could not be created.
void ctl_reconcile_rolled_back (const ctl_action_t *roll_back, const char *rollback_id,
                                const char *const *hosts, size_t host_count, const char *err,
                                ctl_actions_t *actions);

//  The batch the plan would start next: 0 before its first batch (phases
//  approval, starting, migrate), else current_batch + 1.
int64_t ctl_reconcile_next_batch (const ctl_plan_view_t *view);

//  True if ctl_reconcile may start a batch of `view` (so its batch_hosts
//  must be filled): a running or approved plan before its first batch,
//  or one whose current batch has no unfinished host.
bool ctl_reconcile_needs_batch_hosts (const ctl_plan_view_t *view);

//  How long plan `view` has baked at `now`: since phase_started, less
//  the time it was paused meanwhile.
int64_t ctl_reconcile_bake_elapsed (const ctl_plan_view_t *view, int64_t now);

//  A failed host as a plan's reason tells it: "HOST (STEP: DETAIL)", with
//  "?" for a missing step and "failed" for a missing detail. Returns buf.
const char *ctl_reconcile_failure (const char *host, const char *step, const char *detail,
                                   char *buf, size_t len);

//  A decision as stored (events of agent "controller"). Strings borrowed.
typedef struct {
    int64_t time;
    const char *rule;      //  events.step
    const char *decision;  //  events.status
} ctl_decision_row_t;

//  The pauses and last resume of a plan from its decisions, oldest first:
//  a pause begins with (operator, paused) or (alert, paused) and ends with
//  (operator, resumed). Writes at most `max` pauses; returns how many.
//  *resumed gets the last resume's time (0 if none).
size_t ctl_reconcile_pauses (const ctl_decision_row_t *rows, size_t count, ctl_pause_t *pauses,
                             size_t max, int64_t *resumed);

#endif
