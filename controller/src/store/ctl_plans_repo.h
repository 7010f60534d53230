//  ctl_plans_repo - plans and their hosts, events, approvals, automatic
//  decisions and database migrations
//  SPDX-License-Identifier: MPL-2.0
//
//  A plan row holds what to deploy where and where the rollout is (phase,
//  current batch, bake, pause, its task); plan_hosts holds each target's
//  state and step; events every agent report and every decision the
//  controller made (agent "controller"); approvals the emergency
//  approvals; decisions the automatic ones with the values they were made
//  on; migrations which release's migrate_up ran in which environment.
//
//  Host states: waiting (a later batch), pending (sent, not acknowledged),
//  acked, applying, healthy, failed, skipped (offline past the step
//  deadline), cancelled (the plan ended first). Plans are ordered newest
//  first by (created, seq): seq is a strictly increasing plan sequence.
//
//  The rollout reads one plan with one call, ctl_plans_repo_snapshot: the
//  row, its hosts counted by state, its current batch, its first failure,
//  its task, the migration facts and the operator's last resume.
//
//  Lookups return 0 (found, *result owned by the caller), 1 (none) or -1
//  (database error, logged). Lists are zlistx_t (destructors set; caller
//  destroys), NULL on error. Updates return 0 or -1 unless said otherwise.
//  Times are wall ms; 0 stands for NULL.

#ifndef CTL_PLANS_REPO_H_INCLUDED
#define CTL_PLANS_REPO_H_INCLUDED

#include "ctl_store.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  A plan (plans row).
typedef struct {
    char *id;
    char *app;
    char *version;
    char *env;
    char *kind;      //  deploy | rollback | task
    char *strategy;  //  all | rolling | canary
    char *state;     //  approval | running | succeeded | failed
    char *reason;
    char *undoes;  //  rollback: the plan it undoes
    char *deployer;
    int64_t created;
    int64_t finished;
    int64_t progress;  //  last progress (deadlines)
    char *batch;       //  hosts per batch, "N" or "N%", or NULL
    int64_t canary;    //  hosts in the canary batch
    int64_t bake_ms;
    char *phase;  //  approval | starting | migrate | rollout | bake | verify | done
    int64_t phase_started;
    bool baked;
    int64_t current_batch;  //  0-based
    int64_t batches;
    bool paused;
    char *emergency;  //  the emergency's reason, or NULL
    bool security;    //  emergency: a security one (--security)
    bool skip_offline;
    char *rolled_back_by;  //  the rollback plan that undid it
    char *previous;        //  the version to roll back to
    char *parent;          //  task: the plan it serves
    char *task;            //  the plan's current task
    char *action;          //  apply | migrate_up | migrate_down | verify
    char *migrations;      //  migrate_down: versions, comma-separated
    int64_t seq;           //  plan sequence: newest first is (created, seq) descending
    bool undone;           //  only from ctl_plans_repo_since: a plan undoes it
} ctl_plan_t;

void ctl_plan_destroy (ctl_plan_t **self_p);

//  A plan's host (plan_hosts row).
typedef struct {
    char *plan_id;
    char *agent;
    char *state;
    char *step;
    char *detail;
    int64_t batch;
    int64_t last_sent;
    int64_t updated;
    int64_t started;
    int64_t finished;
    //  joined where said: the agent's last_seen, the version of the plan's
    //  app it runs, the plan's skip_offline
    int64_t last_seen;
    char *version;
    bool skip_offline;
} ctl_plan_host_t;

void ctl_plan_host_destroy (ctl_plan_host_t **self_p);

//  An event: an agent's report, or a decision of agent "controller"
//  (step = the rule, status = the decision, detail = what it was made on).
typedef struct {
    int64_t id;  //  strictly increasing
    char *plan_id;
    char *agent;
    int64_t time;
    char *step;
    char *status;
    char *detail;
    char *output;
    int64_t duration_ms;
} ctl_plan_event_t;

void ctl_plan_event_destroy (ctl_plan_event_t **self_p);

//  An emergency approval.
typedef struct {
    char *plan_id;
    char *operator_name;
    char *role;            //  the role it covers
    char *operator_roles;  //  the operator's roles now ("" if the operator is gone)
    int64_t time;
} ctl_approval_row_t;

void ctl_approval_row_destroy (ctl_approval_row_t **self_p);

//  An automatic decision (an alert's rollback), with its values as JSON.
typedef struct {
    int64_t id;
    char *plan_id;  //  the plan it made, or NULL
    char *undoes;   //  the plan it undoes
    char *rule_id;
    int64_t time;
    char *what;    //  rollback | no-rollback
    char *detail;  //  JSON object text
} ctl_decision_t;

void ctl_decision_destroy (ctl_decision_t **self_p);

//  A succeeded plan of an app in an environment, with its release's facts.
typedef struct {
    char *plan_id;
    char *kind;
    char *version;
    int64_t created;
    int64_t seq;
    char *bad;        //  the release's bad mark, or NULL
    int64_t counter;  //  the release's counter
    int64_t floor;    //  the app's floor counter, 0 if none
} ctl_succeeded_t;

void ctl_succeeded_destroy (ctl_succeeded_t **self_p);

//  A release whose migration a rollback crosses.
typedef struct {
    char *version;
    bool has_down;  //  the release has a migrate_down hook
} ctl_crossed_row_t;

void ctl_crossed_row_destroy (ctl_crossed_row_t **self_p);

//  Everything stored about one plan that the rollout decides on.
typedef struct {
    ctl_plan_t *plan;
    //  its hosts by state
    int64_t hosts;
    int64_t waiting, pending, acked, applying, healthy, failed, skipped, cancelled;
    int64_t changed;  //  pending, acked, applying or healthy
    //  its current batch
    int64_t batch_hosts;
    int64_t batch_healthy;
    int64_t unfinished;  //  pending, acked or applying
    //  its canary batch (0)
    int64_t canaries_healthy;
    //  its first failed host (by updated, then name), or NULL
    ctl_plan_host_t *first_failure;
    //  its current task (plans.task), its (first) host and first failure
    ctl_plan_t *task;
    char *task_host;
    ctl_plan_host_t *task_failure;
    //  a task without a parent (a db-rollback): its (first) host
    char *host;
    //  its release
    char *notes;
    bool has_migrate_up;  //  the release has a migrate_up hook
    bool migrated;        //  its migration is up in the plan's environment
    bool migrated_here;   //  ... and one of this plan's tasks ran it
    //  the operator's last resume (events: controller, operator, resumed)
    int64_t resumed;
} ctl_plan_snapshot_t;

void ctl_plan_snapshot_destroy (ctl_plan_snapshot_t **self_p);

//  Which hosts ctl_plans_repo_host_names lists.
typedef enum {
    CTL_HOSTS_ALL = 0,
    CTL_HOSTS_UNFINISHED,  //  pending, acked, applying
    CTL_HOSTS_CHANGED,     //  pending, acked, applying, healthy
    CTL_HOSTS_HEALTHY,
} ctl_hosts_filter_t;

//  --------------------------------------------------------------------------
//  Plans

//  Create `plan` (id, app, version, env, kind, strategy, state, reason,
//  deployer, undoes, batch, canary, bake_ms, phase, batches, emergency,
//  skip_offline, previous, parent, action, migrations are taken; the next
//  seq is given) created now, with its hosts (names[i] in batch
//  batches[i], waiting), in one transaction. Returns 0 or -1.
int ctl_plans_repo_create (ctl_store_t *store, const ctl_plan_t *plan, const char *const *names,
                           const int64_t *batches, size_t count, int64_t now);

int ctl_plans_repo_get (ctl_store_t *store, const char *id, ctl_plan_t **plan_p);

//  One plan as the rollout sees it (see ctl_plan_snapshot_t).
int ctl_plans_repo_snapshot (ctl_store_t *store, const char *id, ctl_plan_snapshot_t **snapshot_p);

//  Ids (char *) of the newest `limit` plans that are no task, of env (NULL:
//  all), newest first.
zlistx_t *ctl_plans_repo_list (ctl_store_t *store, const char *env, int64_t limit);

//  Ids of plans whose id starts with `prefix` (the plan whose id is
//  `prefix` first, then by id), at most `limit` of them; NULL on error.
zlistx_t *ctl_plans_repo_by_prefix (ctl_store_t *store, const char *prefix, int64_t limit);

//  Running plans, oldest first.
zlistx_t *ctl_plans_repo_running (ctl_store_t *store);

//  The newest `limit` running plans (running) or plans that are no
//  converge plan (!running), newest first.
zlistx_t *ctl_plans_repo_recent (ctl_store_t *store, bool running, int64_t limit);

//  Plans created or finished in [since, until), by creation.
zlistx_t *ctl_plans_repo_changed (ctl_store_t *store, int64_t since, int64_t until);

//  Plans of env created at or after `since`, newest first, with `undone`.
zlistx_t *ctl_plans_repo_since (ctl_store_t *store, const char *env, int64_t since);

//  Ids of the plans (not tasks) of release app/version in any
//  environment, oldest first, at most limit.
zlistx_t *ctl_plans_repo_of_release (ctl_store_t *store, const char *app, const char *version,
                                     int64_t limit);

//  Plans by kind and state (labels: kind, state; ctl_tally_t of
//  ctl_agents_repo.h).
zlistx_t *ctl_plans_repo_tally (ctl_store_t *store);

//  The newest deploy or rollback of app in env not awaiting approval.
int ctl_plans_repo_latest (ctl_store_t *store, const char *app, const char *env,
                           ctl_plan_t **plan_p);

//  Succeeded plans of app in env (every kind), newest first.
zlistx_t *ctl_plans_repo_succeeded (ctl_store_t *store, const char *app, const char *env);

//  1 if a plan of `kind` for app/version succeeded in env, 0 if not, -1.
int ctl_plans_repo_succeeded_in (ctl_store_t *store, const char *env, const char *app,
                                 const char *version, const char *kind);

//  Plans (rows) of releases env last deployed successfully that `agent`
//  lacks and never had a plan for since (one it was skipped in does not
//  count): what a returning host must converge to.
zlistx_t *ctl_plans_repo_converge (ctl_store_t *store, const char *agent);

//  Ids of running plans in which `agent` is unfinished, by creation.
zlistx_t *ctl_plans_repo_unfinished_for (ctl_store_t *store, const char *agent);

//  approval -> running, progress now. Returns rows changed or -1.
int64_t ctl_plans_repo_set_running (ctl_store_t *store, const char *id, int64_t now);

//  End the plan: `state` succeeded (if running) or failed (if running or
//  awaiting approval), phase done, finished now, reason `reason` (a
//  rollback keeps its reason and gets `reason` appended). Returns rows
//  changed (0: it was not in such a state) or -1.
int64_t ctl_plans_repo_finish (ctl_store_t *store, const char *id, const char *state,
                               const char *reason, int64_t now);

//  Hosts of batch `number` waiting -> pending (started now); phase
//  rollout, current_batch `number`, progress now.
int ctl_plans_repo_start_batch (ctl_store_t *store, const char *id, int64_t number, int64_t now);

//  The plan's task is task_id and it is in `phase` since now.
int ctl_plans_repo_set_task (ctl_store_t *store, const char *id, const char *task_id,
                             const char *phase, int64_t now);

//  phase bake since now.
int ctl_plans_repo_enter_bake (ctl_store_t *store, const char *id, int64_t now);

//  baked, phase rollout; progress = `progress` unless 0.
int ctl_plans_repo_baked (ctl_store_t *store, const char *id, int64_t progress);

//  Pause or resume a running plan (progress now). phase_started stays:
//  the engine's bake clock subtracts the pauses (ctl_reconcile_bake_elapsed).
//  Returns rows changed (0: not running, or already so) or -1.
int64_t ctl_plans_repo_set_paused (ctl_store_t *store, const char *id, bool paused, int64_t now);

//  progress = now.
int ctl_plans_repo_progress (ctl_store_t *store, const char *id, int64_t now);

//  rolled_back_by = rollback_id (only if not set yet when `once`).
int ctl_plans_repo_rolled_back_by (ctl_store_t *store, const char *id, const char *rollback_id,
                                   bool once);

//  1 if plan `id` is a task, 0 if not (or no such plan), -1 on error.
int ctl_plans_repo_is_task (ctl_store_t *store, const char *id);

//  --------------------------------------------------------------------------
//  Hosts

//  The plan's hosts, by batch then name.
zlistx_t *ctl_plans_repo_hosts (ctl_store_t *store, const char *id);

//  Names of the plan's hosts of batch `batch` (-1: any) matching `filter`,
//  by name.
zlistx_t *ctl_plans_repo_host_names (ctl_store_t *store, const char *id, int64_t batch,
                                     ctl_hosts_filter_t filter);

//  Names of the hosts of the plan's migrate_up tasks.
zlistx_t *ctl_plans_repo_migration_hosts (ctl_store_t *store, const char *id);

//  The plan's hosts by name, with last_seen and the version of `app` they
//  run (a task's host candidates).
zlistx_t *ctl_plans_repo_candidates (ctl_store_t *store, const char *id, const char *app);

//  last_sent = now for the plan's host `agent`, or for every unfinished
//  host of the plan when `agent` is NULL (one statement: a plan to 1,000
//  hosts is marked at once).
int ctl_plans_repo_mark_sent (ctl_store_t *store, const char *id, const char *agent, int64_t now);

//  An agent acknowledged the plan: pending -> acked.
int ctl_plans_repo_ack (ctl_store_t *store, const char *id, const char *agent, int64_t now);

//  Remember report (agent, incarnation, report_id). Returns 1 if it is
//  new, 0 if it was seen before, -1 on error.
int ctl_plans_repo_report_seen (ctl_store_t *store, const char *agent, const char *incarnation,
                                int64_t report_id);

//  A report moved a host that has not finished: state (NULL: unchanged),
//  step, detail (NULL: unchanged), updated now; finished now when the new
//  state is healthy or failed. Returns 1 if the host moved, 0 if there is
//  no such unfinished host, -1 on error.
int ctl_plans_repo_host_report (ctl_store_t *store, const char *id, const char *agent,
                                const char *state, const char *step, const char *detail,
                                int64_t now);

//  A host is decided: state and detail, updated and finished now.
int ctl_plans_repo_host_finish (ctl_store_t *store, const char *id, const char *agent,
                                const char *state, const char *detail, int64_t now);

//  Every unfinished host of `agent` in any plan fails with `detail`.
int ctl_plans_repo_fail_agent (ctl_store_t *store, const char *agent, const char *detail,
                               int64_t now);

//  Hosts of running plans still waiting (pending, acked, applying) that
//  have not moved since `before`, with last_seen and skip_offline.
zlistx_t *ctl_plans_repo_late_hosts (ctl_store_t *store, int64_t before);

//  Pending hosts of running plans last sent before `before` (never sent
//  counts), with last_seen.
zlistx_t *ctl_plans_repo_resend_due (ctl_store_t *store, int64_t before);

//  The plan's waiting hosts become cancelled.
int ctl_plans_repo_cancel_waiting (ctl_store_t *store, const char *id, int64_t now);

//  --------------------------------------------------------------------------
//  Events, approvals, decisions

//  Append an event (event->id is ignored). A host's outcome (step "done")
//  is written once: one that repeats the host's last event of the plan
//  (step "done", same status) is not written again, as when an agent
//  reports again the outcome of a plan it finished because the plan came
//  again (the controller's resend, a new leader's). A different outcome,
//  or the same after other events of the host (a run again), is written.
//  Returns 0, 1 if not written (a repeated outcome), or -1.
int ctl_plans_repo_event_add (ctl_store_t *store, const ctl_plan_event_t *event);

//  When the plan was last resumed by an operator (its last decision
//  operator/resumed), 0 if never. Returns 0 or -1.
int ctl_plans_repo_last_resume (ctl_store_t *store, const char *id, int64_t *time_p);

//  The plan's own decisions (events of agent "controller"), oldest first:
//  what the rollout decided, with when (the engine reads its pauses and
//  resumes from them).
zlistx_t *ctl_plans_repo_decision_events (ctl_store_t *store, const char *id);

//  Events of the plan and its tasks with id > after_id, oldest first, at
//  most `limit`.
zlistx_t *ctl_plans_repo_events (ctl_store_t *store, const char *id, int64_t after_id,
                                 int64_t limit);

//  Approvals of the plan, in the order they were given.
zlistx_t *ctl_plans_repo_approvals (ctl_store_t *store, const char *id);

//  Store operator_name's approval of the plan, covering `role`.
int ctl_plans_repo_approval_add (ctl_store_t *store, const char *id, const char *operator_name,
                                 const char *role, int64_t now);

//  Store an automatic decision (detail: a JSON object text).
int ctl_plans_repo_decision_add (ctl_store_t *store, const char *plan_id, const char *undoes,
                                 const char *rule_id, const char *what, const char *detail,
                                 int64_t now);

//  Automatic decisions made by the plan or undoing it, oldest first.
zlistx_t *ctl_plans_repo_decisions (ctl_store_t *store, const char *plan_id);

//  --------------------------------------------------------------------------
//  Database migrations

//  app/version's migration ran up (or down) in env, on host, by plan_id.
int ctl_plans_repo_migration_up (ctl_store_t *store, const char *env, const char *app,
                                 const char *version, const char *host, const char *plan_id,
                                 int64_t now);
int ctl_plans_repo_migration_down (ctl_store_t *store, const char *env, const char *app,
                                   const char *version, const char *host, const char *plan_id,
                                   int64_t now);

//  Releases of app newer than `version` whose migration is up in env,
//  newest first: what a rollback to `version` crosses.
zlistx_t *ctl_plans_repo_crossed (ctl_store_t *store, const char *env, const char *app,
                                  const char *version);

#endif
