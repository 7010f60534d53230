//  test_reconcile - the rollout engine as tables of cases: a stored plan
//  view, the alert verdicts and the time in, the exact actions out
//  SPDX-License-Identifier: MPL-2.0
//
//  Each case renders its actions one per line ("PLAN KIND ...") and
//  compares them with the expected lines: what the engine decides, in
//  which order, with which texts.

#include "engine/ctl_reconcile.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Rendering

static void s_append (char *buf, size_t len, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void s_append (char *buf, size_t len, const char *format, ...)
{
    size_t used = strlen (buf);
    va_list args;
    va_start (args, format);
    vsnprintf (buf + used, len - used, format, args);
    va_end (args);
}

static const char *s_targets (ctl_targets_t targets)
{
    static const char *names[] = {"-", "host", "canaries", "changed", "migration"};
    return names[targets];
}

#define S_OR(text) ((text) ? (text) : "-")

//  One line per action.
static void s_render (ctl_actions_t *actions, char *buf, size_t len)
{
    buf[0] = 0;
    for (size_t index = 0; index < ctl_actions_size (actions); index++) {
        const ctl_action_t *action = ctl_actions_get (actions, index);
        s_append (buf, len, "%s%s %s", index ? "\n" : "", action->plan_id,
                  ctl_action_kind_name (action->kind));
        switch (action->kind) {
            case CTL_ACTION_DECISION:
                s_append (buf, len, " %s/%s: %s", action->rule, action->decision, action->text);
                break;
            case CTL_ACTION_START_BATCH:
                s_append (buf, len, " %lld/%lld", (long long)action->number + 1,
                          (long long)action->batches);
                break;
            case CTL_ACTION_START_TASK:
                s_append (buf, len, " %s %s@%s on %s %s phase %s migrations %s",
                          action->task_action, action->app, action->version,
                          s_targets (action->targets), S_OR (action->host), action->phase,
                          S_OR (action->migrations));
                break;
            case CTL_ACTION_RECORD_MIGRATION:
                s_append (buf, len, " %s %s@%s in %s on %s by %s migrations %s",
                          action->task_action, action->app, action->version, action->env,
                          S_OR (action->host), action->task_id, S_OR (action->migrations));
                break;
            case CTL_ACTION_ROLL_BACK:
                s_append (buf, len, " %s to %s in %s on %s: %s", action->app, action->version,
                          action->env, s_targets (action->targets), action->text);
                break;
            case CTL_ACTION_PAUSE:
            case CTL_ACTION_RESUME:
            case CTL_ACTION_SUCCEED:
            case CTL_ACTION_FAIL:
            case CTL_ACTION_FAIL_TASK:
                s_append (buf, len, ": %s", action->text);
                break;
            default:
                break;
        }
    }
}

//  --------------------------------------------------------------------------
//  Views and verdicts

//  A case starts from a base view (S_DEPLOY, S_CANARY, ...) and overrides
//  the fields it is about: designated initializers overriding each other
//  on purpose.
#pragma GCC diagnostic ignored "-Woverride-init"

static const char *s_batch0[] = {"web-1"};
static const char *s_batch1[] = {"web-2", "web-3"};

static const ctl_task_host_t s_hosts_one_offline[] = {
    {"web-1", 0, false, "1.0"}, {"web-2", 1, true, "1.0"}, {"web-3", 1, true, "3.0"}};
static const ctl_task_host_t s_hosts_all_offline[] = {{"web-1", 0, false, "1.0"},
                                                      {"web-2", 0, false, "3.0"}};
static const ctl_task_host_t s_hosts_newest[] = {
    {"web-1", 0, true, "1.0"}, {"web-2", 0, false, "3.0"}, {"web-3", 0, true, "3.0"}};

static const ctl_crossed_t s_crossed[] = {{"3.0", true}, {"2.5", true}};
static const ctl_crossed_t s_irreversible[] = {{"3.0", true}, {"2.5", false}, {"2.2", false}};

static const ctl_pause_t s_pause_mid_bake[] = {{100000, 250000}};

//  Verdicts of the environment's rules (ordered by rule id).
static const ctl_rule_verdict_t s_none[] = {{"r0", CTL_RULE_OK, 0, ""}};
static const ctl_rule_verdict_t s_firing[] = {
    {"r1", CTL_RULE_INCONCLUSIVE, 5000, "alert r1 is inconclusive"},
    {"r2", CTL_RULE_FIRING, 5000, "alert r2 is firing: errors = 0.5 > 0.05"}};
//  became inconclusive at 5000: after the last resume of most cases
static const ctl_rule_verdict_t s_inconclusive[] = {
    {"r0", CTL_RULE_OK, 0, ""},
    {"r1", CTL_RULE_INCONCLUSIVE, 5000,
     "alert r1 is inconclusive since 1970-01-01T00:00:05Z: avg(queue_depth) had 0 samples in "
     "1m00s, it needs 3 to decide"}};

//  The canary analysis's verdicts on the plan's own canary hosts.
#define S_CANARY_WHY                                                                               \
    "canary analysis: alert r3 is firing: canary host web-1: avg(errors) = 0.4, > 0.05 (5 "        \
    "samples in 1m00s)"
#define S_SILENT_WHY                                                                               \
    "canary analysis: alert r3 is inconclusive since 1970-01-01T00:00:05Z: canary host web-1 had " \
    "0 samples of errors in 1m00s, it needs 3 to decide"
static const ctl_rule_verdict_t s_canary_firing[] = {{"r0", CTL_RULE_OK, 0, ""},
                                                     {"r3", CTL_RULE_FIRING, 1500, S_CANARY_WHY}};
static const ctl_rule_verdict_t s_canary_silent[] = {
    {"r0", CTL_RULE_OK, 0, ""}, {"r3", CTL_RULE_INCONCLUSIVE, 5000, S_SILENT_WHY}};

#define S_OVER "batch 2/2: web-1 (fetch: disk full); 2 hosts failed, more than max_failures (1)"

//  A running deploy of web 2.0 to prod (1.0 before it), six hosts.
#define S_DEPLOY                                                                                   \
    .id = "p1", .kind = "deploy", .state = "running", .app = "web", .version = "2.0",              \
    .env = "prod", .previous = "1.0", .hosts = 6, .batch_hosts = s_batch1, .batch_host_count = 2

//  A canary deploy: one canary, a 10 minute bake, then two batches.
#define S_CANARY S_DEPLOY, .strategy = "canary", .batches = 3, .bake_ms = 600000

//  A rollback of web 3.0 to 2.0.
#define S_ROLLBACK                                                                                 \
    .id = "p1", .kind = "rollback", .state = "running", .app = "web", .version = "2.0",            \
    .env = "prod", .previous = "2.0", .strategy = "rolling", .batches = 1, .hosts = 2,             \
    .reason = "rollback requested: web 3.0 -> 2.0", .batch_hosts = s_batch1, .batch_host_count = 2

//  A task of plan p1.
#define S_TASK                                                                                     \
    .id = "t1", .kind = "task", .state = "running", .phase = "rollout", .app = "web",              \
    .version = "2.0", .env = "prod", .parent = "p1", .strategy = "all", .batches = 1, .hosts = 2

//  jadctl db-rollback web --env prod --to 1.0, on web-2.
#define S_DB_ROLLBACK                                                                              \
    .id = "d1", .kind = "task", .state = "running", .phase = "rollout", .app = "web",              \
    .version = "1.0", .env = "prod", .strategy = "all", .batches = 1, .hosts = 1,                  \
    .action = "migrate_down", .migrations = "3.0,2.0", .host = "web-2"

typedef struct {
    const char *name;
    ctl_plan_view_t view;
    const ctl_rule_verdict_t *alerts;
    size_t alert_count;
    int64_t now;
    const char *actions;  //  expected, one per line
} s_case_t;

#define S_ALERTS(list) list, sizeof list / sizeof list[0]

#define S_ROLL_BACK(why) "p1 roll_back web to 1.0 in prod on changed: " why

static const s_case_t s_cases[] = {
    //  ----------------------------------------------------------------------
    //  not running
    {"awaiting approval",
     {S_DEPLOY, .state = "approval", .phase = "approval", .batches = 1},
     S_ALERTS (s_none),
     1000,
     ""},
    {"approved: starts",
     {S_DEPLOY, .state = "approval", .phase = "approval", .batches = 1, .approved = true,
      .batch_hosts = s_batch0, .batch_host_count = 1},
     S_ALERTS (s_none),
     1000,
     "p1 start\n"
     "p1 start_batch 1/1\n"
     "p1 decision batch/started: batch 1/1: web-1"},
    {"succeeded",
     {S_DEPLOY, .state = "succeeded", .phase = "done", .batches = 1},
     S_ALERTS (s_firing),
     1000,
     ""},
    {"failed",
     {S_DEPLOY, .state = "failed", .phase = "done", .failed = 2, .batches = 1},
     S_ALERTS (s_firing),
     1000,
     ""},
    {"no state",
     {S_DEPLOY, .state = NULL, .phase = "rollout", .batches = 1},
     S_ALERTS (s_none),
     1000,
     ""},

    //  ----------------------------------------------------------------------
    //  starting
    {"starting: the first batch",
     {S_DEPLOY, .phase = "starting", .batches = 3, .strategy = "rolling", .batch_hosts = s_batch0,
      .batch_host_count = 1},
     S_ALERTS (s_none),
     1000,
     "p1 start_batch 1/3\n"
     "p1 decision batch/started: batch 1/3: web-1"},
    {"starting: migrate_up first, on the first online host",
     {S_DEPLOY, .phase = "starting", .batches = 2, .has_migrate_up = true,
      .task_hosts = s_hosts_one_offline, .task_host_count = 3},
     S_ALERTS (s_none),
     1000,
     "p1 decision migrate_up/started: web 2.0 has migrate_up, not yet run in prod: running it "
     "once on web-2 before any host switches\n"
     "p1 start_task migrate_up web@2.0 on host web-2 phase migrate migrations -"},
    {"starting: migrate_up on the first host when all are offline",
     {S_DEPLOY, .phase = "starting", .batches = 2, .has_migrate_up = true,
      .task_hosts = s_hosts_all_offline, .task_host_count = 2},
     S_ALERTS (s_none),
     1000,
     "p1 decision migrate_up/started: web 2.0 has migrate_up, not yet run in prod: running it "
     "once on web-1 before any host switches\n"
     "p1 start_task migrate_up web@2.0 on host web-1 phase migrate migrations -"},
    {"starting: migrate_up with no host at all",
     {S_DEPLOY, .phase = "starting", .batches = 2, .has_migrate_up = true},
     S_ALERTS (s_none),
     1000,
     "p1 decision migrate_up/started: web 2.0 has migrate_up, not yet run in prod: running it "
     "once on - before any host switches\n"
     "p1 start_task migrate_up web@2.0 on host - phase migrate migrations -"},
    {"starting: a migration already up is not run again",
     {S_DEPLOY, .phase = "starting", .batches = 2, .has_migrate_up = true, .migrated = true,
      .batch_hosts = s_batch0, .batch_host_count = 1},
     S_ALERTS (s_none),
     1000,
     "p1 start_batch 1/2\n"
     "p1 decision batch/started: batch 1/2: web-1"},
    {"starting: a rollback runs migrate_down on a host that ran the newest",
     {S_ROLLBACK, .phase = "starting", .crossed = s_crossed, .crossed_count = 2,
      .task_hosts = s_hosts_newest, .task_host_count = 3},
     S_ALERTS (s_none),
     1000,
     "p1 decision migrate_down/started: rolling back to 2.0 crosses migrations of 3.0,2.5: "
     "running their migrate_down in that order on web-3 before switching code back\n"
     "p1 start_task migrate_down web@2.0 on host web-3 phase migrate migrations 3.0,2.5"},
    {"starting: migrate_down falls back to an online host, then any",
     {S_ROLLBACK, .phase = "starting", .crossed = s_crossed, .crossed_count = 1,
      .task_hosts = s_hosts_all_offline, .task_host_count = 2},
     S_ALERTS (s_none),
     1000,
     "p1 decision migrate_down/started: rolling back to 2.0 crosses migrations of 3.0: running "
     "their migrate_down in that order on web-2 before switching code back\n"
     "p1 start_task migrate_down web@2.0 on host web-2 phase migrate migrations 3.0"},
    {"starting: a rollback across an irreversible migration fails",
     {S_ROLLBACK, .phase = "starting", .crossed = s_irreversible, .crossed_count = 3},
     S_ALERTS (s_none),
     1000,
     "p1 fail: rollback requested: web 3.0 -> 2.0; cannot roll back across web 2.5: it ran "
     "migrate_up but has no migrate_down\n"
     "p1 decision outcome/failed: cannot roll back across web 2.5: it ran migrate_up but has no "
     "migrate_down"},
    {"starting: a rollback without migrations",
     {S_ROLLBACK, .phase = "starting"},
     S_ALERTS (s_none),
     1000,
     "p1 start_batch 1/1\n"
     "p1 decision batch/started: batch 1/1: web-2, web-3"},
    {"starting: a task records no batch decision",
     {S_TASK, .phase = "starting"},
     S_ALERTS (s_none),
     1000,
     "t1 start_batch 1/1"},

    //  ----------------------------------------------------------------------
    //  a host failed
    {"failed host: stop and roll back what changed",
     {S_DEPLOY, .phase = "rollout", .strategy = "rolling", .batches = 3, .current_batch = 1,
      .failed = 1, .changed = 2, .first_failure = "web-2 (smoke: exit 1)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/stop: web-2 (smoke: exit 1) failed; stopping the plan\n"
     "p1 fail: batch 2/3: web-2 (smoke: exit 1)\n"
     "p1 decision outcome/failed: batch 2/3: web-2 (smoke: exit 1)\n" S_ROLL_BACK (
         "batch 2/3: web-2 (smoke: exit 1)")},
    {"failed host without a detail",
     {S_DEPLOY, .phase = "rollout", .batches = 1, .failed = 1, .changed = 1},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/stop: a host failed; stopping the plan\n"
     "p1 fail: batch 1/1: a host failed\n"
     "p1 decision outcome/failed: batch 1/1: a host failed\n" S_ROLL_BACK (
         "batch 1/1: a host failed")},
    //  max_failures: a deploy goes on while its failed hosts stay within it
    {"max_failures: a failed host within it, the next batch starts",
     {S_DEPLOY, .phase = "rollout", .batches = 2, .failed = 1, .changed = 1, .max_failures = 1,
      .first_failure = "web-1 (fetch: disk full)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/tolerated: failed host 1 of at most 1 (max_failures): the plan goes on "
     "without it (first failed: web-1 (fetch: disk full))\n"
     "p1 start_batch 2/2\n"
     "p1 decision batch/started: batch 2/2: web-2, web-3"},
    {"max_failures: a failure it went on with is not told again",
     {S_DEPLOY, .phase = "rollout", .batches = 2, .current_batch = 1, .failed = 1, .changed = 3,
      .unfinished = 2, .max_failures = 2, .failures_tolerated = 1,
      .first_failure = "web-1 (fetch: disk full)"},
     S_ALERTS (s_none),
     1000,
     ""},
    {"max_failures: two more at once, each told",
     {S_DEPLOY, .phase = "rollout", .batches = 2, .current_batch = 1, .failed = 3, .changed = 1,
      .unfinished = 1, .max_failures = 3, .failures_tolerated = 1,
      .first_failure = "web-1 (fetch: disk full)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/tolerated: failed host 2 of at most 3 (max_failures): the plan goes on "
     "without it (first failed: web-1 (fetch: disk full))\n"
     "p1 decision health/tolerated: failed host 3 of at most 3 (max_failures): the plan goes on "
     "without it (first failed: web-1 (fetch: disk full))"},
    {"max_failures: done with a failed host, the plan succeeds and says so",
     {S_DEPLOY, .phase = "rollout", .batches = 2, .current_batch = 1, .failed = 1, .changed = 5,
      .max_failures = 1, .failures_tolerated = 1, .first_failure = "web-1 (fetch: disk full)"},
     S_ALERTS (s_none),
     1000,
     "p1 succeed: 5 of 6 hosts healthy, 1 failed (within max_failures 1)\n"
     "p1 decision outcome/succeeded: 5 of 6 hosts healthy"},
    {"max_failures: one more than it, the whole plan rolls back",
     {S_DEPLOY, .phase = "rollout", .batches = 2, .current_batch = 1, .failed = 2, .changed = 4,
      .max_failures = 1, .failures_tolerated = 1, .first_failure = "web-1 (fetch: disk full)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/stop: web-1 (fetch: disk full) failed; stopping the plan\n"
     "p1 fail: " S_OVER "\n"
     "p1 decision outcome/failed: " S_OVER "\n" S_ROLL_BACK (S_OVER)},
    {"max_failures: a canary's failure is never gone on with",
     {S_CANARY, .phase = "rollout", .failed = 1, .max_failures = 3,
      .first_failure = "web-1 (smoke: exit 1)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/stop: web-1 (smoke: exit 1) failed; stopping the plan\n"
     "p1 fail: batch 1/3: web-1 (smoke: exit 1)\n"
     "p1 decision outcome/failed: batch 1/3: web-1 (smoke: exit 1)\n"
     "p1 decision rollback/not needed: no host switched to 2.0 in this plan and no migration ran "
     "(a host whose "
     "own step failed went back by itself)"},
    {"max_failures: after the canaries, the later batches go on",
     {S_CANARY, .phase = "rollout", .current_batch = 1, .baked = true, .failed = 1, .changed = 2,
      .max_failures = 1, .first_failure = "web-2 (smoke: exit 1)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/tolerated: failed host 1 of at most 1 (max_failures): the plan goes on "
     "without it (first failed: web-2 (smoke: exit 1))\n"
     "p1 start_batch 3/3\n"
     "p1 decision batch/started: batch 3/3: web-2, web-3"},
    {"max_failures: a rollback's failure fails it",
     {S_ROLLBACK, .phase = "rollout", .failed = 1, .max_failures = 2,
      .first_failure = "web-1 (smoke: exit 1)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/stop: web-1 (smoke: exit 1) failed; stopping the plan\n"
     "p1 fail: rollback requested: web 3.0 -> 2.0; batch 1/1: web-1 (smoke: exit 1)\n"
     "p1 decision outcome/failed: batch 1/1: web-1 (smoke: exit 1)"},
    {"failed host, nothing switched but the migration ran: undo it",
     {S_DEPLOY, .phase = "rollout", .batches = 1, .failed = 1, .migrated_here = true,
      .first_failure = "web-1 (activate: exit 2)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/stop: web-1 (activate: exit 2) failed; stopping the plan\n"
     "p1 fail: batch 1/1: web-1 (activate: exit 2)\n"
     "p1 decision outcome/failed: batch 1/1: web-1 (activate: exit 2)\n"
     "p1 roll_back web to 1.0 in prod on migration: batch 1/1: web-1 (activate: exit 2)"},
    {"failed host, nothing else changed: no rollback needed",
     {S_DEPLOY, .phase = "rollout", .batches = 1, .failed = 1,
      .first_failure = "web-1 (smoke: exit 1)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/stop: web-1 (smoke: exit 1) failed; stopping the plan\n"
     "p1 fail: batch 1/1: web-1 (smoke: exit 1)\n"
     "p1 decision outcome/failed: batch 1/1: web-1 (smoke: exit 1)\n"
     "p1 decision rollback/not needed: no host switched to 2.0 in this plan and no migration ran "
     "(a host whose "
     "own step failed went back by itself)"},
    {"failed host, no release before: rollback impossible",
     {S_DEPLOY, .previous = NULL, .phase = "rollout", .batches = 1, .failed = 1, .changed = 3,
      .first_failure = "web-1 (smoke: exit 1)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/stop: web-1 (smoke: exit 1) failed; stopping the plan\n"
     "p1 fail: batch 1/1: web-1 (smoke: exit 1)\n"
     "p1 decision outcome/failed: batch 1/1: web-1 (smoke: exit 1)\n"
     "p1 decision rollback/impossible: no release ran in prod before 2.0: hosts that switched "
     "keep it"},
    {"failed host while a task runs: the task ends too",
     {S_DEPLOY, .phase = "verify", .batches = 2, .failed = 1, .changed = 1, .task = "t1",
      .task_state = "running", .first_failure = "web-1 (smoke: exit 1)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/stop: web-1 (smoke: exit 1) failed; stopping the plan\n"
     "p1 fail: batch 1/2: web-1 (smoke: exit 1)\n"
     "p1 decision outcome/failed: batch 1/2: web-1 (smoke: exit 1)\n"
     "t1 fail_task: the plan it served failed\n" S_ROLL_BACK ("batch 1/2: web-1 (smoke: exit 1)")},
    {"failed rollback: its reason keeps why it was made, nothing undoes it",
     {S_ROLLBACK, .phase = "rollout", .failed = 1, .changed = 1,
      .first_failure = "web-2 (fetch: 404)"},
     S_ALERTS (s_none),
     1000,
     "p1 decision health/stop: web-2 (fetch: 404) failed; stopping the plan\n"
     "p1 fail: rollback requested: web 3.0 -> 2.0; batch 1/1: web-2 (fetch: 404)\n"
     "p1 decision outcome/failed: batch 1/1: web-2 (fetch: 404)"},
    {"failed task host: the task fails, its plan looks",
     {S_TASK, .failed = 1, .first_failure = "web-1 (migrate_up: exit 3)"},
     S_ALERTS (s_none),
     1000,
     "t1 fail: web-1 (migrate_up: exit 3)\n"
     "p1 advance"},
    {"failed task host without a detail",
     {S_TASK, .failed = 1, .parent = NULL},
     S_ALERTS (s_none),
     1000,
     "t1 fail: a host failed"},

    //  ----------------------------------------------------------------------
    //  progress deadline
    {"progress deadline: the plan fails and rolls back",
     {S_DEPLOY, .phase = "rollout", .batches = 3, .unfinished = 2, .changed = 3, .progress = 1000,
      .progress_deadline_ms = 1800000},
     S_ALERTS (s_none),
     1801001,
     "p1 fail: no progress within the progress deadline (1800000ms)\n"
     "p1 decision outcome/failed: no progress within the progress deadline "
     "(1800000ms)\n" S_ROLL_BACK ("no progress within the progress deadline (1800000ms)")},
    {"progress deadline: a plan that can move now moves instead",
     {S_DEPLOY, .phase = "rollout", .strategy = "rolling", .batches = 3, .progress = 1000,
      .progress_deadline_ms = 1800000},
     S_ALERTS (s_none),
     9000000,
     "p1 start_batch 2/3\n"
     "p1 decision batch/started: batch 2/3: web-2, web-3"},
    {"progress deadline: a stuck migration fails",
     {S_DEPLOY, .phase = "migrate", .batches = 2, .task = "t1", .task_state = "running",
      .progress = 1000, .progress_deadline_ms = 1800000},
     S_ALERTS (s_none),
     1801001,
     "p1 fail: no progress within the progress deadline (1800000ms)\n"
     "p1 decision outcome/failed: no progress within the progress deadline (1800000ms)\n"
     "t1 fail_task: the plan it served failed\n"
     "p1 decision rollback/not needed: no host switched to 2.0 in this plan and no migration ran "
     "(a host whose "
     "own step failed went back by itself)"},
    {"progress deadline: not yet",
     {S_DEPLOY, .phase = "rollout", .batches = 3, .unfinished = 2, .progress = 1000,
      .progress_deadline_ms = 1800000},
     S_ALERTS (s_none),
     1801000,
     ""},
    {"progress deadline: a paused plan waits on purpose",
     {S_DEPLOY, .phase = "rollout", .batches = 3, .paused = true, .progress = 1000,
      .progress_deadline_ms = 1800000},
     S_ALERTS (s_none),
     9000000,
     ""},
    {"progress deadline: a task fails and its plan looks",
     {S_TASK, .unfinished = 1, .progress = 1000, .progress_deadline_ms = 1800000},
     S_ALERTS (s_none),
     1801001,
     "t1 fail: no progress within the progress deadline (1800000ms)\n"
     "p1 advance"},

    //  ----------------------------------------------------------------------
    //  tasks
    {"task: hosts still working", {S_TASK, .unfinished = 1}, S_ALERTS (s_none), 1000, ""},
    //  a db-rollback: a migrate_down task of its own (DESIGN §11)
    {"db-rollback: starts its one host",
     {S_DB_ROLLBACK, .phase = "starting"},
     S_ALERTS (s_firing),
     1000,
     "d1 start_batch 1/1"},
    {"db-rollback: done, the migrations are down",
     {S_DB_ROLLBACK},
     S_ALERTS (s_none),
     1000,
     "d1 record_migration migrate_down web@1.0 in prod on web-2 by d1 migrations 3.0,2.0\n"
     "d1 decision migrate_down/done: ran migrate_down of 3.0,2.0 on web-2: prod's database is "
     "back to web 1.0\n"
     "d1 succeed: 1 host healthy"},
    {"db-rollback: its host failed, nothing recorded",
     {S_DB_ROLLBACK, .failed = 1, .first_failure = "web-2 (migrate_down: 2.0: exit 1)"},
     S_ALERTS (s_none),
     1000,
     "d1 fail: web-2 (migrate_down: 2.0: exit 1)\n"
     "d1 decision outcome/failed: web-2 (migrate_down: 2.0: exit 1)"},
    {"task: done",
     {S_TASK},
     S_ALERTS (s_firing),
     1000,
     "t1 succeed: all 2 hosts healthy\n"
     "p1 advance"},
    {"task: one host",
     {S_TASK, .hosts = 1},
     S_ALERTS (s_none),
     1000,
     "t1 succeed: 1 host healthy\n"
     "p1 advance"},
    {"task: an offline host skipped",
     {S_TASK, .skipped = 1, .parent = NULL},
     S_ALERTS (s_none),
     1000,
     "t1 succeed: 1 of 2 hosts healthy, 1 offline skipped"},

    //  ----------------------------------------------------------------------
    //  rollout
    {"rollout: the current batch is still working",
     {S_DEPLOY, .phase = "rollout", .batches = 3, .unfinished = 1},
     S_ALERTS (s_firing),
     1000,
     ""},
    {"rollout: the next batch",
     {S_DEPLOY, .phase = "rollout", .strategy = "rolling", .batches = 3},
     S_ALERTS (s_none),
     1000,
     "p1 start_batch 2/3\n"
     "p1 decision batch/started: batch 2/3: web-2, web-3"},
    {"rollout: paused, no new batch",
     {S_DEPLOY, .phase = "rollout", .batches = 3, .paused = true},
     S_ALERTS (s_none),
     1000,
     ""},
    {"rollout: a rule that cannot decide pauses a deploy before its next batch",
     {S_DEPLOY, .phase = "rollout", .batches = 3},
     S_ALERTS (s_inconclusive),
     9000,
     "p1 pause: alert r1 is inconclusive since 1970-01-01T00:00:05Z: avg(queue_depth) had 0 "
     "samples in 1m00s, it needs 3 to decide\n"
     "p1 decision alert/paused: alert r1 is inconclusive since 1970-01-01T00:00:05Z: "
     "avg(queue_depth) had 0 samples in 1m00s, it needs 3 to decide; the plan waits for an "
     "operator: jadctl plan resume p1 goes on, jadctl plan abort p1 rolls back"},
    {"rollout: a rule the operator saw when resuming lets it go on",
     {S_DEPLOY, .phase = "rollout", .batches = 3, .resumed = 5000},
     S_ALERTS (s_inconclusive),
     9000,
     "p1 start_batch 2/3\n"
     "p1 decision batch/started: batch 2/3: web-2, web-3"},
    {"rollout: a rollback is never paused",
     {S_ROLLBACK, .phase = "rollout", .batches = 2},
     S_ALERTS (s_inconclusive),
     9000,
     "p1 start_batch 2/2\n"
     "p1 decision batch/started: batch 2/2: web-2, web-3"},
    {"rollout: the last batch is not a gate",
     {S_DEPLOY, .phase = "rollout", .batches = 3, .current_batch = 2},
     S_ALERTS (s_inconclusive),
     9000,
     "p1 succeed: all 6 hosts healthy\n"
     "p1 decision outcome/succeeded: 6 of 6 hosts healthy"},
    {"rollout: done with offline hosts skipped",
     {S_DEPLOY, .phase = "rollout", .batches = 1, .skipped = 2},
     S_ALERTS (s_none),
     1000,
     "p1 succeed: 4 of 6 hosts healthy, 2 offline skipped\n"
     "p1 decision outcome/succeeded: 4 of 6 hosts healthy"},
    {"rollout: a rollback's reason gets its outcome",
     {S_ROLLBACK, .phase = "rollout"},
     S_ALERTS (s_none),
     1000,
     "p1 succeed: rollback requested: web 3.0 -> 2.0; all 2 hosts healthy\n"
     "p1 decision outcome/succeeded: 2 of 2 hosts healthy"},
    {"rollout: no phase stored reads as rollout",
     {S_DEPLOY, .phase = NULL, .batches = 1, .hosts = 1},
     S_ALERTS (s_none),
     1000,
     "p1 succeed: 1 host healthy\n"
     "p1 decision outcome/succeeded: 1 of 1 hosts healthy"},

    //  ----------------------------------------------------------------------
    //  canary and bake
    {"canary: the canary is healthy, the bake begins",
     {S_CANARY, .phase = "rollout"},
     S_ALERTS (s_inconclusive),
     1000,
     "p1 enter_bake\n"
     "p1 decision bake/started: canary batch healthy; baking 600000ms while watching alerts of "
     "prod"},
    {"canary: no bake, the next batch",
     {S_CANARY, .bake_ms = 0, .phase = "rollout"},
     S_ALERTS (s_none),
     1000,
     "p1 start_batch 2/3\n"
     "p1 decision batch/started: batch 2/3: web-2, web-3"},
    {"bake: a firing rule fails the plan",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .changed = 1},
     S_ALERTS (s_firing),
     2000,
     "p1 decision alert/stop: alert r2 is firing: errors = 0.5 > 0.05\n"
     "p1 fail: alert firing during bake: alert r2 is firing: errors = 0.5 > 0.05\n"
     "p1 decision outcome/failed: alert firing during bake: alert r2 is firing: errors = 0.5 > "
     "0.05\n" S_ROLL_BACK ("alert firing during bake: alert r2 is firing: errors = 0.5 > 0.05")},
    {"bake: a firing rule fails even a paused plan",
     {S_CANARY, .phase = "bake", .paused = true, .changed = 1},
     S_ALERTS (s_firing),
     2000,
     "p1 decision alert/stop: alert r2 is firing: errors = 0.5 > 0.05\n"
     "p1 fail: alert firing during bake: alert r2 is firing: errors = 0.5 > 0.05\n"
     "p1 decision outcome/failed: alert firing during bake: alert r2 is firing: errors = 0.5 > "
     "0.05\n" S_ROLL_BACK ("alert firing during bake: alert r2 is firing: errors = 0.5 > 0.05")},
    {"bake: not over yet",
     {S_CANARY, .phase = "bake", .phase_started = 1000},
     S_ALERTS (s_none),
     600999,
     ""},
    {"bake: no samples yet is not judged at the start of the bake",
     {S_CANARY, .phase = "bake", .phase_started = 1000},
     S_ALERTS (s_inconclusive),
     9000,
     ""},
    {"bake: a paused bake never passes",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .paused = true, .canaries_healthy = 1},
     S_ALERTS (s_none),
     9000000,
     ""},
    {"bake: over, canaries check again",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .canaries_healthy = 1},
     S_ALERTS (s_none),
     601000,
     "p1 decision bake/verify: bake of 600000ms over, no alert firing: canaries run their checks "
     "again\n"
     "p1 start_task verify web@2.0 on canaries - phase verify migrations -"},
    {"bake: over, a rule that cannot decide pauses it at its end",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .canaries_healthy = 1},
     S_ALERTS (s_inconclusive),
     601000,
     "p1 pause: alert r1 is inconclusive since 1970-01-01T00:00:05Z: avg(queue_depth) had 0 "
     "samples in 1m00s, it needs 3 to decide\n"
     "p1 decision alert/paused: alert r1 is inconclusive since 1970-01-01T00:00:05Z: "
     "avg(queue_depth) had 0 samples in 1m00s, it needs 3 to decide; the plan waits for an "
     "operator: jadctl plan resume p1 goes on, jadctl plan abort p1 rolls back"},
    {"bake: over, resumed by an operator who saw the rule",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .canaries_healthy = 1, .resumed = 6000},
     S_ALERTS (s_inconclusive),
     601000,
     "p1 decision bake/verify: bake of 600000ms over, no alert firing: canaries run their checks "
     "again\n"
     "p1 start_task verify web@2.0 on canaries - phase verify migrations -"},
    {"bake: over, no healthy canary left: the bake is done, the next batch",
     {S_CANARY, .phase = "bake", .phase_started = 1000},
     S_ALERTS (s_none),
     601000,
     "p1 baked\n"
     "p1 start_batch 2/3\n"
     "p1 decision batch/started: batch 2/3: web-2, web-3"},
    {"bake: the clock stood still while paused",
     {S_CANARY, .phase = "bake", .phase_started = 0, .canaries_healthy = 1,
      .pauses = s_pause_mid_bake, .pause_count = 1, .resumed = 250000},
     S_ALERTS (s_none),
     749999,
     ""},
    {"bake: over once the paused time is served",
     {S_CANARY, .phase = "bake", .phase_started = 0, .canaries_healthy = 1,
      .pauses = s_pause_mid_bake, .pause_count = 1, .resumed = 250000},
     S_ALERTS (s_none),
     750000,
     "p1 decision bake/verify: bake of 600000ms over, no alert firing: canaries run their checks "
     "again\n"
     "p1 start_task verify web@2.0 on canaries - phase verify migrations -"},

    //  canary analysis: its verdicts come with the alerts during a bake
    {"canary analysis: one bad canary host fails the bake",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .changed = 1, .canary_rules = 1,
      .canary_judged = 1500},
     S_ALERTS (s_canary_firing),
     2000,
     "p1 decision alert/stop: " S_CANARY_WHY "\n"
     "p1 fail: alert firing during bake: " S_CANARY_WHY "\n"
     "p1 decision outcome/failed: alert firing during bake: " S_CANARY_WHY
     "\n" S_ROLL_BACK ("alert firing during bake: " S_CANARY_WHY)},
    {"canary analysis: a silent canary is not judged at the start of the bake",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .canaries_healthy = 1, .canary_rules = 1,
      .canary_judged = 9000},
     S_ALERTS (s_canary_silent),
     9000,
     ""},
    {"canary analysis: a silent canary pauses the bake at its end",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .canaries_healthy = 1, .canary_rules = 1,
      .canary_judged = 601000},
     S_ALERTS (s_canary_silent),
     601000,
     "p1 pause: " S_SILENT_WHY "\n"
     "p1 decision alert/paused: " S_SILENT_WHY "; the plan waits for an operator: jadctl plan "
     "resume p1 goes on, jadctl plan abort p1 rolls back"},
    {"canary analysis: the bake waits until its end was judged",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .canaries_healthy = 1, .canary_rules = 2,
      .canary_judged = 600999},
     S_ALERTS (s_none),
     601500,
     ""},
    {"canary analysis: a rule never judged holds the bake",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .canaries_healthy = 1, .canary_rules = 1,
      .canary_judged = 0},
     S_ALERTS (s_none),
     9000000,
     ""},
    {"canary analysis: judged at the end, the canaries check again",
     {S_CANARY, .phase = "bake", .phase_started = 1000, .canaries_healthy = 1, .canary_rules = 2,
      .canary_judged = 601000},
     S_ALERTS (s_none),
     601500,
     "p1 decision bake/verify: bake of 600000ms over, no alert firing: canaries run their checks "
     "again\n"
     "p1 start_task verify web@2.0 on canaries - phase verify migrations -"},
    {"canary analysis: after a pause, the end is later in wall time",
     {S_CANARY, .phase = "bake", .phase_started = 0, .canaries_healthy = 1,
      .pauses = s_pause_mid_bake, .pause_count = 1, .resumed = 250000, .canary_rules = 1,
      .canary_judged = 749000},
     S_ALERTS (s_none),
     760000,
     ""},

    //  ----------------------------------------------------------------------
    //  verify and migrate
    {"verify: passed, the next batch in the same call",
     {S_CANARY, .phase = "verify", .task = "t1", .task_state = "succeeded"},
     S_ALERTS (s_none),
     1000,
     "p1 baked\n"
     "p1 decision bake/passed: canary hosts stayed healthy for 600000ms and passed their checks "
     "again\n"
     "p1 start_batch 2/3\n"
     "p1 decision batch/started: batch 2/3: web-2, web-3"},
    {"verify: passed, but the next gate cannot decide",
     {S_CANARY, .phase = "verify", .task = "t1", .task_state = "succeeded"},
     S_ALERTS (s_inconclusive),
     9000,
     "p1 baked\n"
     "p1 decision bake/passed: canary hosts stayed healthy for 600000ms and passed their checks "
     "again\n"
     "p1 pause: alert r1 is inconclusive since 1970-01-01T00:00:05Z: avg(queue_depth) had 0 "
     "samples in 1m00s, it needs 3 to decide\n"
     "p1 decision alert/paused: alert r1 is inconclusive since 1970-01-01T00:00:05Z: "
     "avg(queue_depth) had 0 samples in 1m00s, it needs 3 to decide; the plan waits for an "
     "operator: jadctl plan resume p1 goes on, jadctl plan abort p1 rolls back"},
    {"verify: a canary failed its checks again",
     {S_CANARY, .phase = "verify", .task = "t1", .task_state = "failed", .changed = 1,
      .task_failure = "web-1 (smoke: exit 1)"},
     S_ALERTS (s_none),
     1000,
     "p1 fail: canary failed after bake: web-1 (smoke: exit 1)\n"
     "p1 decision outcome/failed: canary failed after bake: web-1 (smoke: exit 1)\n" S_ROLL_BACK (
         "canary failed after bake: web-1 (smoke: exit 1)")},
    {"verify: still running",
     {S_CANARY, .phase = "verify", .task = "t1", .task_state = "running"},
     S_ALERTS (s_firing),
     1000,
     ""},
    {"migrate: migrate_up done, hosts switch",
     {S_DEPLOY, .phase = "migrate", .batches = 2, .task = "t1", .task_state = "succeeded",
      .task_action = "migrate_up", .task_host = "web-2", .batch_hosts = s_batch0,
      .batch_host_count = 1},
     S_ALERTS (s_none),
     1000,
     "p1 record_migration migrate_up web@2.0 in prod on web-2 by t1 migrations -\n"
     "p1 decision migrate_up/done: ran on web-2; now switching hosts\n"
     "p1 start_batch 1/2\n"
     "p1 decision batch/started: batch 1/2: web-1"},
    {"migrate: migrate_down done, code goes back",
     {S_ROLLBACK, .phase = "migrate", .task = "t1", .task_state = "succeeded",
      .task_action = "migrate_down", .task_migrations = "3.0,2.5", .task_host = "web-3"},
     S_ALERTS (s_none),
     1000,
     "p1 record_migration migrate_down web@2.0 in prod on web-3 by t1 migrations 3.0,2.5\n"
     "p1 decision migrate_down/done: ran on web-3; now switching hosts\n"
     "p1 start_batch 1/1\n"
     "p1 decision batch/started: batch 1/1: web-2, web-3"},
    {"migrate: a task that records nothing",
     {S_DEPLOY, .phase = "migrate", .batches = 1, .task = "t1", .task_state = "succeeded"},
     S_ALERTS (s_none),
     1000,
     "p1 decision migrate/done: ran on -; now switching hosts\n"
     "p1 start_batch 1/1\n"
     "p1 decision batch/started: batch 1/1: web-2, web-3"},
    {"migrate: failed, no host switched",
     {S_DEPLOY, .phase = "migrate", .batches = 2, .task = "t1", .task_state = "failed",
      .task_failure = "web-2 (migrate_up: exit 3)", .task_reason = "web-2 (migrate_up: exit 3)"},
     S_ALERTS (s_none),
     1000,
     "p1 fail: migration failed, no host switched: web-2 (migrate_up: exit 3)\n"
     "p1 decision outcome/failed: migration failed, no host switched: web-2 (migrate_up: exit "
     "3)\n"
     "p1 decision rollback/not needed: no host switched to 2.0 in this plan and no migration ran "
     "(a host whose "
     "own step failed went back by itself)"},
    {"migrate: failed by a deadline, the task's reason says why",
     {S_DEPLOY, .phase = "migrate", .batches = 2, .task = "t1", .task_state = "failed",
      .task_reason = "no progress within the progress deadline (1800000ms)"},
     S_ALERTS (s_none),
     1000,
     "p1 fail: migration failed, no host switched: no progress within the progress deadline "
     "(1800000ms)\n"
     "p1 decision outcome/failed: migration failed, no host switched: no progress within the "
     "progress deadline (1800000ms)\n"
     "p1 decision rollback/not needed: no host switched to 2.0 in this plan and no migration ran "
     "(a host whose "
     "own step failed went back by itself)"},
    {"migrate: failed without a word",
     {S_ROLLBACK, .phase = "migrate", .task = "t1", .task_state = "failed"},
     S_ALERTS (s_none),
     1000,
     "p1 fail: rollback requested: web 3.0 -> 2.0; migration failed, no host switched: task "
     "failed\n"
     "p1 decision outcome/failed: migration failed, no host switched: task failed"},
    {"migrate: the task row is gone",
     {S_DEPLOY, .phase = "migrate", .batches = 2, .task = "t1"},
     S_ALERTS (s_none),
     1000,
     ""},
};

static void s_check (const char *name, ctl_actions_t *actions, const char *expected)
{
    char rendered[8192];
    s_render (actions, rendered, sizeof rendered);
    cr_assert_str_eq (rendered, expected, "%s:\n--- got\n%s\n--- expected\n%s", name, rendered,
                      expected);
}

Test (reconcile, every_phase_and_gate)
{
    ctl_actions_t *actions = ctl_actions_new ();
    cr_assert_not_null (actions);
    for (size_t index = 0; index < sizeof s_cases / sizeof s_cases[0]; index++) {
        const s_case_t *one = &s_cases[index];
        ctl_actions_purge (actions);
        cr_assert_eq (ctl_reconcile (&one->view, one->alerts, one->alert_count, one->now, actions),
                      0, "%s", one->name);
        s_check (one->name, actions, one->actions);
        //  a pure function: the same stored state gives the same actions
        ctl_actions_t *again = ctl_actions_new ();
        ctl_reconcile (&one->view, one->alerts, one->alert_count, one->now, again);
        s_check (one->name, again, one->actions);
        ctl_actions_destroy (&again);
    }
    ctl_actions_destroy (&actions);
    cr_assert_null (actions);
}

//  --------------------------------------------------------------------------
//  Operators, failures from outside, rollbacks carried out

static const ctl_plan_view_t s_running = {S_CANARY, .phase = "rollout", .current_batch = 1,
                                          .unfinished = 1, .changed = 2};

Test (reconcile, operators_pause_resume_and_abort)
{
    const struct {
        const char *name;
        ctl_plan_view_t view;
        const char *command;
        int status;
        const char *result;  //  the actions, or the refusal
    } cases[] = {
        {"pause", s_running, "pause", 0,
         "p1 pause: bob\n"
         "p1 decision operator/paused: paused by bob: no new batch starts until resumed"},
        {"pause twice",
         {S_CANARY, .phase = "rollout", .paused = true},
         "pause",
         2,
         "plan p1 is running and paused: cannot pause it"},
        {"resume what is not paused", s_running, "resume", 2,
         "plan p1 is running and not paused: cannot resume it"},
        {"pause a finished plan",
         {S_CANARY, .state = "succeeded", .phase = "done"},
         "pause",
         2,
         "plan p1 is succeeded: cannot pause it"},
        {"resume a plan awaiting approval",
         {S_CANARY, .state = "approval", .phase = "approval"},
         "resume",
         2,
         "plan p1 is approval: cannot resume it"},
        {"resume goes on at once, past the rule the operator saw",
         {S_CANARY, .phase = "bake", .paused = true, .phase_started = 1000, .canaries_healthy = 1},
         "resume",
         0,
         "p1 resume: bob\n"
         "p1 decision operator/resumed: resumed by bob\n"
         "p1 decision bake/verify: bake of 600000ms over, no alert firing: canaries run their "
         "checks again\n"
         "p1 start_task verify web@2.0 on canaries - phase verify migrations -"},
        {"resume after a long pause is progress, not a missed deadline",
         {S_DEPLOY, .phase = "rollout", .strategy = "rolling", .batches = 3, .paused = true,
          .progress = 1000, .progress_deadline_ms = 60000},
         "resume",
         0,
         "p1 resume: bob\n"
         "p1 decision operator/resumed: resumed by bob\n"
         "p1 start_batch 2/3\n"
         "p1 decision batch/started: batch 2/3: web-2, web-3"},
        {"abort rolls back", s_running, "abort", 0,
         "p1 fail: aborted by bob\n"
         "p1 decision outcome/failed: aborted by bob\n" S_ROLL_BACK ("aborted by bob")},
        {"abort an emergency awaiting approval",
         {S_DEPLOY, .state = "approval", .phase = "approval", .batches = 1},
         "abort",
         0,
         "p1 fail: aborted by bob\n"
         "p1 decision outcome/failed: aborted by bob\n"
         "p1 decision rollback/not needed: no host switched to 2.0 in this plan and no migration "
         "ran (a host "
         "whose own step failed went back by itself)"},
        {"abort a finished plan",
         {S_CANARY, .state = "failed", .phase = "done"},
         "abort",
         2,
         "plan p1 is failed: nothing to abort"},
        {"abort a plan without a state",
         {S_CANARY, .state = NULL},
         "abort",
         2,
         "plan p1 is -: nothing to abort"},
        {"an unknown command", s_running, "restart", 2,
         "unknown plan command 'restart' (pause, resume or abort)"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        ctl_actions_t *actions = ctl_actions_new ();
        char err[256] = "";
        int status = ctl_reconcile_operator (&cases[index].view, cases[index].command, "bob",
                                             s_inconclusive, 2, 601000, actions, err, sizeof err);
        cr_assert_eq (status, cases[index].status, "%s: %s", cases[index].name, err);
        if (status == 0) {
            cr_assert_str_empty (err, "%s", cases[index].name);
            s_check (cases[index].name, actions, cases[index].result);
        } else {
            cr_assert_str_eq (err, cases[index].result, "%s", cases[index].name);
            cr_assert_eq (ctl_actions_size (actions), 0, "%s", cases[index].name);
        }
        ctl_actions_destroy (&actions);
    }
}

Test (reconcile, failing_from_outside)
{
    ctl_actions_t *actions = ctl_actions_new ();
    //  the alert rules' rollback of a running deploy
    cr_assert_eq (ctl_reconcile_fail (&s_running, "alert r2 fired", 1000, actions), 0);
    s_check ("alert", actions,
             "p1 fail: alert r2 fired\n"
             "p1 decision outcome/failed: alert r2 fired\n" S_ROLL_BACK ("alert r2 fired"));
    ctl_actions_purge (actions);
    cr_assert_eq (ctl_actions_size (actions), 0);
    ctl_plan_view_t done = {S_CANARY, .state = "succeeded", .phase = "done"};
    cr_assert_eq (ctl_reconcile_fail (&done, "too late", 1000, actions), -1);
    cr_assert_eq (ctl_actions_size (actions), 0);
    //  a task the door or the store would not create
    cr_assert_eq (ctl_reconcile_task_refused (&s_running, "verify",
                                              "no agents in environment 'prod'", 1000, actions),
                  0);
    s_check ("refused", actions,
             "p1 fail: cannot start verify: no agents in environment 'prod'\n"
             "p1 decision outcome/failed: cannot start verify: no agents in environment "
             "'prod'\n" S_ROLL_BACK ("cannot start verify: no agents in environment 'prod'"));
    ctl_actions_purge (actions);
    ctl_reconcile_task_refused (&s_running, NULL, NULL, 1000, actions);
    cr_assert_str_eq (ctl_actions_get (actions, 0)->text, "cannot start task: refused");
    ctl_actions_destroy (&actions);
    ctl_actions_destroy (&actions);
}

Test (reconcile, a_carried_out_rollback_is_recorded)
{
    ctl_actions_t *actions = ctl_actions_new ();
    ctl_reconcile_fail (&s_running, "aborted by bob", 1000, actions);
    const ctl_action_t *roll_back = ctl_actions_get (actions, 2);
    cr_assert_eq (roll_back->kind, CTL_ACTION_ROLL_BACK);
    ctl_actions_t *outcome = ctl_actions_new ();
    const char *hosts[] = {"web-1", "web-2"};
    ctl_reconcile_rolled_back (roll_back, "r9", hosts, 2, NULL, outcome);
    ctl_reconcile_rolled_back (roll_back, NULL, NULL, 0,
                               "refused: web 1.0 is marked bad (alert a1 fired)", outcome);
    ctl_reconcile_rolled_back (roll_back, NULL, NULL, 0, NULL, outcome);
    s_check ("rolled back", outcome,
             "p1 decision rollback/started: plan r9 rolls prod back to 1.0 on web-1, web-2\n"
             "p1 decision rollback/failed: cannot create: refused: web 1.0 is marked bad (alert "
             "a1 fired)\n"
             "p1 decision rollback/failed: cannot create: out of memory");
    ctl_actions_destroy (&outcome);
    ctl_actions_destroy (&actions);
}

Test (reconcile, which_batch_comes_next_and_when_names_are_needed)
{
    static const struct {
        ctl_plan_view_t view;
        int64_t next;
        bool needs;
    } cases[] = {
        {{S_DEPLOY, .state = "approval", .phase = "approval"}, 0, false},
        {{S_DEPLOY, .state = "approval", .phase = "approval", .approved = true}, 0, true},
        {{S_DEPLOY, .phase = "starting"}, 0, true},
        {{S_DEPLOY, .phase = NULL}, 1, true},
        {{S_DEPLOY, .phase = "migrate", .unfinished = 0}, 0, true},
        {{S_DEPLOY, .phase = "rollout", .current_batch = 1, .unfinished = 2}, 2, false},
        {{S_DEPLOY, .phase = "rollout", .current_batch = 1}, 2, true},
        {{S_DEPLOY, .phase = "bake", .current_batch = 0}, 1, true},
        {{S_DEPLOY, .state = "succeeded", .phase = "done", .current_batch = 2}, 3, false},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        cr_assert_eq (ctl_reconcile_next_batch (&cases[index].view), cases[index].next, "case %zu",
                      index);
        cr_assert_eq (ctl_reconcile_needs_batch_hosts (&cases[index].view), cases[index].needs,
                      "case %zu", index);
    }
}

//  --------------------------------------------------------------------------
//  The bake clock and pauses

Test (reconcile, the_bake_clock_stops_while_paused)
{
    static const ctl_pause_t overlapping[] = {
        {50000, 150000}, {100000, 200000}, {500000, 0}, {0, 20000}, {300000, 300000}};
    static const struct {
        const ctl_pause_t *pauses;
        size_t count;
        int64_t now;
        int64_t elapsed;
    } cases[] = {
        {NULL, 0, 700000, 600000},              //  never paused
        {NULL, 0, 50000, -50000},               //  a clock stepped back
        {s_pause_mid_bake, 1, 700000, 450000},  //  150 s paused mid-bake
        {s_pause_mid_bake, 1, 200000, 0},       //  paused since 100 s
        {overlapping, 5, 400000, 200000},       //  100..200 counted once; before start ignored
        {overlapping, 5, 700000, 300000},       //  still paused since 500 s
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        ctl_plan_view_t view = {S_CANARY, .phase = "bake", .phase_started = 100000,
                                .pauses = cases[index].pauses, .pause_count = cases[index].count};
        cr_assert_eq (ctl_reconcile_bake_elapsed (&view, cases[index].now), cases[index].elapsed,
                      "case %zu: %lld", index,
                      (long long)ctl_reconcile_bake_elapsed (&view, cases[index].now));
    }
}

Test (reconcile, pauses_come_from_the_stored_decisions)
{
    static const ctl_decision_row_t rows[] = {
        {1000, "batch", "started"},    {2000, "operator", "paused"},  {2500, "alert", "paused"},
        {3000, "operator", "resumed"}, {4000, "operator", "resumed"}, {5000, "alert", "paused"},
        {6000, "operator", "resumed"}, {7000, "operator", "paused"},  {8000, "bake", "passed"},
    };
    ctl_pause_t pauses[9];
    int64_t resumed = -1;
    size_t count = ctl_reconcile_pauses (rows, 9, pauses, 9, &resumed);
    cr_assert_eq (count, 3);
    cr_assert_eq (pauses[0].from, 2000);
    cr_assert_eq (pauses[0].until, 3000);
    cr_assert_eq (pauses[1].from, 5000);
    cr_assert_eq (pauses[1].until, 6000);
    cr_assert_eq (pauses[2].from, 7000);
    cr_assert_eq (pauses[2].until, 0, "still paused");
    cr_assert_eq (resumed, 6000);
    //  bounded by the room given
    count = ctl_reconcile_pauses (rows, 9, pauses, 1, &resumed);
    cr_assert_eq (count, 1);
    cr_assert_eq (pauses[0].until, 3000);
    count = ctl_reconcile_pauses (rows, 0, pauses, 9, &resumed);
    cr_assert_eq (count, 0);
    cr_assert_eq (resumed, 0);
}

//  --------------------------------------------------------------------------
//  Texts and the list

Test (reconcile, a_rollbacks_reason_is_bounded_like_the_column)
{
    //  2100 characters, two bytes each past the first 1990
    char reason[1990 + 2 * 110 + 1];
    memset (reason, 'a', 1990);
    for (size_t index = 0; index < 110; index++)
        memcpy (reason + 1990 + 2 * index, "\xc3\xa9", 2);
    reason[sizeof reason - 1] = 0;
    ctl_plan_view_t view = {S_ROLLBACK, .phase = "rollout", .reason = reason};
    ctl_actions_t *actions = ctl_actions_new ();
    ctl_reconcile (&view, NULL, 0, 1000, actions);
    const ctl_action_t *succeed = ctl_actions_get (actions, 0);
    cr_assert_eq (succeed->kind, CTL_ACTION_SUCCEED);
    //  1990 + 10 characters kept: "...; all 2 hosts healthy" is cut off
    cr_assert_eq (strlen (succeed->text), 1990 + 2 * 10);
    ctl_actions_destroy (&actions);
}

Test (reconcile, a_failed_host_as_the_reason_tells_it)
{
    char buf[128];
    cr_assert_str_eq (ctl_reconcile_failure ("web-1", "smoke", "exit 1", buf, sizeof buf),
                      "web-1 (smoke: exit 1)");
    cr_assert_str_eq (ctl_reconcile_failure ("web-1", NULL, NULL, buf, sizeof buf),
                      "web-1 (?: failed)");
    cr_assert_str_eq (ctl_reconcile_failure (NULL, "fetch", "404", buf, sizeof buf),
                      "- (fetch: 404)");
    cr_assert_str_eq (ctl_reconcile_failure ("web-1", "smoke", "exit 1", buf, 8), "web-1 (");
}

Test (reconcile, batch_names_are_bounded)
{
    const char *names[200];
    for (size_t index = 0; index < 200; index++)
        names[index] = "a-rather-long-host-name";
    ctl_plan_view_t view = {S_DEPLOY, .phase = "starting", .batches = 1, .batch_hosts = names,
                            .batch_host_count = 200};
    ctl_actions_t *actions = ctl_actions_new ();
    ctl_reconcile (&view, NULL, 0, 1000, actions);
    const ctl_action_t *decision = ctl_actions_get (actions, 1);
    cr_assert_eq (decision->kind, CTL_ACTION_DECISION);
    cr_assert_lt (strlen (decision->text), 800);
    cr_assert (strncmp (decision->text, "batch 1/1: a-rather-long-host-name, a-rather", 40) == 0);
    ctl_actions_destroy (&actions);
}

Test (reconcile, the_action_list)
{
    static const char *names[] = {"decision",         "start",   "start_batch", "start_task",
                                  "enter_bake",       "baked",   "pause",       "resume",
                                  "record_migration", "succeed", "fail",        "fail_task",
                                  "roll_back",        "advance"};
    for (int kind = CTL_ACTION_DECISION; kind <= CTL_ACTION_ADVANCE; kind++)
        cr_assert_str_eq (ctl_action_kind_name ((ctl_action_kind_t)kind), names[kind]);
    cr_assert_str_eq (ctl_action_kind_name ((ctl_action_kind_t)99), "unknown");
    ctl_actions_t *actions = ctl_actions_new ();
    //  more than the first allocation: the list grows
    for (int round = 0; round < 11; round++)
        cr_assert_eq (ctl_reconcile_fail (&s_running, "x", 1000, actions), 0);
    cr_assert_eq (ctl_actions_size (actions), 33);
    for (size_t index = 0; index < 33; index++)
        cr_assert_eq (ctl_actions_get (actions, index)->kind, index % 3 == 0 ? CTL_ACTION_FAIL
                                                              : index % 3 == 1
                                                                  ? CTL_ACTION_DECISION
                                                                  : CTL_ACTION_ROLL_BACK);
    cr_assert_null (ctl_actions_get (actions, 33));
    cr_assert_not (ctl_actions_failed (actions));
    ctl_actions_purge (actions);
    cr_assert_eq (ctl_actions_size (actions), 0);
    cr_assert_null (ctl_actions_get (actions, 0));
    ctl_actions_destroy (&actions);
    ctl_actions_destroy (&actions);
}

//  --------------------------------------------------------------------------
//  Resuming from stored state: a whole rollout, with the engine asked
//  about a view rebuilt from the store every time (as after a restart)

#define S_WALK_HOSTS 4
#define S_WALK_ROWS  64

typedef struct {
    char state[16];
    char phase[16];
    int64_t current;
    int64_t batches;
    bool paused;
    bool baked;
    int64_t phase_started;
    int64_t progress;
    char host_state[S_WALK_HOSTS][12];
    int64_t host_batch[S_WALK_HOSTS];
    char task_state[16];
    //  the decisions, as stored
    ctl_decision_row_t rows[S_WALK_ROWS];
    char rules[S_WALK_ROWS][24];
    char decisions[S_WALK_ROWS][24];
    size_t row_count;
    //  what the view borrows
    const char *batch_names[S_WALK_HOSTS];
    ctl_pause_t pauses[S_WALK_ROWS];
} s_store_t;

static const char *s_walk_names[S_WALK_HOSTS] = {"web-1", "web-2", "web-3", "web-4"};

//  A canary deploy of four hosts laid out as ctl_batches would: 0,1,1,2.
static void s_store_init (s_store_t *store)
{
    memset (store, 0, sizeof *store);
    snprintf (store->state, sizeof store->state, "running");
    snprintf (store->phase, sizeof store->phase, "starting");
    store->batches = 3;
    const int64_t batch[S_WALK_HOSTS] = {0, 1, 1, 2};
    for (size_t index = 0; index < S_WALK_HOSTS; index++) {
        snprintf (store->host_state[index], sizeof store->host_state[index], "waiting");
        store->host_batch[index] = batch[index];
    }
}

static bool s_in (const char *state, const char *a, const char *b, const char *c, const char *d)
{
    return strcmp (state, a) == 0 || strcmp (state, b) == 0 || (c && strcmp (state, c) == 0) ||
           (d && strcmp (state, d) == 0);
}

//  The view a store would return.
static ctl_plan_view_t s_store_view (s_store_t *store)
{
    ctl_plan_view_t view = {.id = "p1",
                            .kind = "deploy",
                            .state = store->state,
                            .phase = store->phase,
                            .app = "web",
                            .version = "2.0",
                            .env = "prod",
                            .strategy = "canary",
                            .previous = "1.0",
                            .current_batch = store->current,
                            .batches = store->batches,
                            .paused = store->paused,
                            .baked = store->baked,
                            .bake_ms = 600000,
                            .phase_started = store->phase_started,
                            .progress = store->progress,
                            .hosts = S_WALK_HOSTS,
                            .progress_deadline_ms = 1800000};
    int64_t next = ctl_reconcile_next_batch (&view);
    for (size_t index = 0; index < S_WALK_HOSTS; index++) {
        const char *state = store->host_state[index];
        view.failed += strcmp (state, "failed") == 0;
        view.changed += s_in (state, "pending", "acked", "applying", "healthy");
        view.unfinished += store->host_batch[index] == store->current &&
                           s_in (state, "pending", "acked", "applying", NULL);
        view.canaries_healthy += store->host_batch[index] == 0 && strcmp (state, "healthy") == 0;
        if (store->host_batch[index] == next)
            store->batch_names[view.batch_host_count++] = s_walk_names[index];
    }
    view.batch_hosts = store->batch_names;
    if (*store->task_state) {
        view.task = "t1";
        view.task_state = store->task_state;
        view.task_action = "verify";
    }
    view.pause_count = ctl_reconcile_pauses (store->rows, store->row_count, store->pauses,
                                             S_WALK_ROWS, &view.resumed);
    view.pauses = store->pauses;
    return view;
}

//  Carry out the actions as the store and the sockets would.
static void s_store_apply (s_store_t *store, ctl_actions_t *actions, int64_t now)
{
    for (size_t index = 0; index < ctl_actions_size (actions); index++) {
        const ctl_action_t *action = ctl_actions_get (actions, index);
        switch (action->kind) {
            case CTL_ACTION_DECISION:
                cr_assert_lt (store->row_count, S_WALK_ROWS);
                snprintf (store->rules[store->row_count], 24, "%s", action->rule);
                snprintf (store->decisions[store->row_count], 24, "%s", action->decision);
                store->rows[store->row_count] = (ctl_decision_row_t){
                    now, store->rules[store->row_count], store->decisions[store->row_count]};
                store->row_count++;
                break;
            case CTL_ACTION_START_BATCH:
                for (size_t host = 0; host < S_WALK_HOSTS; host++)
                    if (store->host_batch[host] == action->number &&
                        strcmp (store->host_state[host], "waiting") == 0)
                        snprintf (store->host_state[host], 12, "pending");
                snprintf (store->phase, sizeof store->phase, "rollout");
                store->current = action->number;
                store->progress = now;
                break;
            case CTL_ACTION_START_TASK:
                cr_assert_str_eq (action->task_action, "verify");
                cr_assert_eq (action->targets, CTL_TARGETS_CANARIES);
                snprintf (store->task_state, sizeof store->task_state, "running");
                snprintf (store->phase, sizeof store->phase, "%s", action->phase);
                store->phase_started = store->progress = now;
                break;
            case CTL_ACTION_ENTER_BAKE:
                snprintf (store->phase, sizeof store->phase, "bake");
                store->phase_started = store->progress = now;
                break;
            case CTL_ACTION_BAKED:
                store->baked = true;
                snprintf (store->phase, sizeof store->phase, "rollout");
                store->progress = now;
                break;
            case CTL_ACTION_PAUSE:
            case CTL_ACTION_RESUME:
                store->paused = action->kind == CTL_ACTION_PAUSE;
                store->progress = now;
                break;
            case CTL_ACTION_SUCCEED:
            case CTL_ACTION_FAIL:
                snprintf (store->state, sizeof store->state, "%s",
                          action->kind == CTL_ACTION_SUCCEED ? "succeeded" : "failed");
                snprintf (store->phase, sizeof store->phase, "done");
                break;
            default:
                cr_assert_fail ("unexpected action %s", ctl_action_kind_name (action->kind));
        }
    }
}

//  The agents: every pending host turns healthy, a running task succeeds.
static void s_world (s_store_t *store)
{
    for (size_t host = 0; host < S_WALK_HOSTS; host++)
        if (strcmp (store->host_state[host], "pending") == 0)
            snprintf (store->host_state[host], 12, "healthy");
    if (strcmp (store->task_state, "running") == 0)
        snprintf (store->task_state, sizeof store->task_state, "succeeded");
}

//  An operator's command at a given minute of the walk.
typedef struct {
    int64_t minute;
    const char *command;
} s_command_t;

//  Walk the plan minute by minute until it ends. Every reconcile works
//  from a freshly built view, and a second one right after applying
//  must want nothing: a restart at any point repeats no step.
static void s_walk (s_store_t *store, const ctl_rule_verdict_t *alerts, size_t alert_count,
                    const s_command_t *commands, size_t command_count)
{
    ctl_actions_t *actions = ctl_actions_new ();
    for (int64_t minute = 1; minute < 120 && strcmp (store->state, "running") == 0; minute++) {
        int64_t now = minute * 60000;
        for (size_t index = 0; index < command_count; index++)
            if (commands[index].minute == minute) {
                ctl_plan_view_t view = s_store_view (store);
                char err[256];
                ctl_actions_purge (actions);
                cr_assert_eq (ctl_reconcile_operator (&view, commands[index].command, "bob", alerts,
                                                      alert_count, now, actions, err, sizeof err),
                              0, "minute %lld: %s", (long long)minute, err);
                s_store_apply (store, actions, now);
            }
        ctl_plan_view_t view = s_store_view (store);
        ctl_actions_purge (actions);
        cr_assert_eq (ctl_reconcile (&view, alerts, alert_count, now, actions), 0);
        s_store_apply (store, actions, now);
        view = s_store_view (store);
        ctl_actions_purge (actions);
        ctl_reconcile (&view, alerts, alert_count, now, actions);
        cr_assert_eq (ctl_actions_size (actions), 0,
                      "minute %lld: a second look wants more (%s first)", (long long)minute,
                      ctl_action_kind_name (ctl_actions_get (actions, 0)->kind));
        s_world (store);
    }
    ctl_actions_destroy (&actions);
}

//  The stored decisions as "MINUTE rule/decision" lines.
static void s_history (const s_store_t *store, char *buf, size_t len)
{
    buf[0] = 0;
    for (size_t index = 0; index < store->row_count; index++)
        s_append (buf, len, "%s%lld %s/%s", index ? "\n" : "",
                  (long long)(store->rows[index].time / 60000), store->rows[index].rule,
                  store->rows[index].decision);
}

Test (reconcile, a_canary_deploy_from_start_to_end)
{
    s_store_t store;
    s_store_init (&store);
    s_walk (&store, s_none, 1, NULL, 0);
    cr_assert_str_eq (store.state, "succeeded");
    char history[2048];
    s_history (&store, history, sizeof history);
    cr_assert_str_eq (history, "1 batch/started\n"
                               "2 bake/started\n"
                               "12 bake/verify\n"
                               "13 bake/passed\n"
                               "13 batch/started\n"
                               "14 batch/started\n"
                               "15 outcome/succeeded");
}

Test (reconcile, an_undecided_rule_pauses_at_the_end_of_the_bake_only)
{
    //  the rule had no samples before the deploy began (issue 13 item 4)
    static const ctl_rule_verdict_t undecided[] = {
        {"r1", CTL_RULE_INCONCLUSIVE, 1, "alert r1 is inconclusive"}};
    static const s_command_t commands[] = {{20, "resume"}};
    s_store_t store;
    s_store_init (&store);
    s_walk (&store, undecided, 1, commands, 1);
    cr_assert_str_eq (store.state, "succeeded");
    char history[2048];
    s_history (&store, history, sizeof history);
    //  baked its ten minutes, paused for the operator at the end, went on
    //  at once when resumed: the rule the operator saw passes later gates
    cr_assert_str_eq (history, "1 batch/started\n"
                               "2 bake/started\n"
                               "12 alert/paused\n"
                               "20 operator/resumed\n"
                               "20 bake/verify\n"
                               "21 bake/passed\n"
                               "21 batch/started\n"
                               "22 batch/started\n"
                               "23 outcome/succeeded");
}

Test (reconcile, a_paused_bake_does_not_run_down)
{
    static const s_command_t commands[] = {{5, "pause"}, {25, "resume"}};
    s_store_t store;
    s_store_init (&store);
    s_walk (&store, s_none, 1, commands, 2);
    cr_assert_str_eq (store.state, "succeeded");
    char history[2048];
    s_history (&store, history, sizeof history);
    //  three minutes baked, twenty paused, seven more: over at minute 32
    cr_assert_str_eq (history, "1 batch/started\n"
                               "2 bake/started\n"
                               "5 operator/paused\n"
                               "25 operator/resumed\n"
                               "32 bake/verify\n"
                               "33 bake/passed\n"
                               "33 batch/started\n"
                               "34 batch/started\n"
                               "35 outcome/succeeded");
}

Test (reconcile, a_firing_rule_during_the_bake_fails_the_walk)
{
    s_store_t store;
    s_store_init (&store);
    ctl_actions_t *actions = ctl_actions_new ();
    //  to the bake, quietly
    for (int64_t minute = 1; minute <= 3; minute++) {
        ctl_plan_view_t view = s_store_view (&store);
        ctl_actions_purge (actions);
        ctl_reconcile (&view, s_none, 1, minute * 60000, actions);
        s_store_apply (&store, actions, minute * 60000);
        s_world (&store);
    }
    cr_assert_str_eq (store.phase, "bake");
    ctl_plan_view_t view = s_store_view (&store);
    ctl_actions_purge (actions);
    ctl_reconcile (&view, s_firing, 2, 4 * 60000, actions);
    s_check ("firing", actions,
             "p1 decision alert/stop: alert r2 is firing: errors = 0.5 > 0.05\n"
             "p1 fail: alert firing during bake: alert r2 is firing: errors = 0.5 > 0.05\n"
             "p1 decision outcome/failed: alert firing during bake: alert r2 is firing: errors = "
             "0.5 > 0.05\n" S_ROLL_BACK (
                 "alert firing during bake: alert r2 is firing: errors = 0.5 > 0.05"));
    ctl_actions_destroy (&actions);
}
