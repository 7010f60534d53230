//  ctl_reconcile - the rollout engine: one plan's stored state, its
//  environment's alert verdicts and the time in, the changes to make out
//  SPDX-License-Identifier: MPL-2.0
//
//  ctl_reconcile works on a small local copy of what its own actions
//  change (state, phase, baked, paused), so that one call goes as far as
//  the plan can go now: a verify task that passed marks the bake done and
//  starts the next batch in the same call, as the old code did by
//  re-reading the database. It stops at anything that waits for the world
//  (a batch started, a task started, a bake begun, a pause).

#include "ctl_reconcile.h"
#include "jad_util.h"
#include "ctl_deadlines.h"
#include "jad_wire.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  SQLite's substr bound on a rollback's reason with its outcome
#define S_REASON_CHARS 2000

struct _ctl_actions_t {
    ctl_action_t *items;  //  the actions, in order
    size_t size;          //  actions in use
    size_t allocated;     //  room in items
    bool failed;          //  an allocation failed: the list is partial
};

ctl_actions_t *ctl_actions_new (void)
{
    return (ctl_actions_t *)calloc (1, sizeof (ctl_actions_t));
}

static void s_action_clear (ctl_action_t *action)
{
    free (action->plan_id);
    free (action->rule);
    free (action->decision);
    free (action->text);
    free (action->task_action);
    free (action->phase);
    free (action->host);
    free (action->task_id);
    free (action->migrations);
    free (action->app);
    free (action->version);
    free (action->env);
    memset (action, 0, sizeof *action);
}

void ctl_actions_purge (ctl_actions_t *self)
{
    assert (self);
    for (size_t index = 0; index < self->size; index++)
        s_action_clear (&self->items[index]);
    self->size = 0;
    self->failed = false;
}

void ctl_actions_destroy (ctl_actions_t **self_p)
{
    assert (self_p);
    ctl_actions_t *self = *self_p;
    if (self) {
        ctl_actions_purge (self);
        free (self->items);
        free (self);
        *self_p = NULL;
    }
}

size_t ctl_actions_size (ctl_actions_t *self)
{
    assert (self);
    return self->size;
}

const ctl_action_t *ctl_actions_get (ctl_actions_t *self, size_t index)
{
    assert (self);
    return index < self->size ? &self->items[index] : NULL;
}

bool ctl_actions_failed (ctl_actions_t *self)
{
    assert (self);
    return self->failed;
}

const char *ctl_action_kind_name (ctl_action_kind_t kind)
{
    static const char *names[] = {"decision",         "start",   "start_batch", "start_task",
                                  "enter_bake",       "baked",   "pause",       "resume",
                                  "record_migration", "succeed", "fail",        "fail_task",
                                  "roll_back",        "advance"};
    return kind <= CTL_ACTION_ADVANCE ? names[kind] : "unknown";
}

//  A copy of text (NULL stays NULL); a failed copy marks the list.
static char *s_copy (ctl_actions_t *self, const char *text)
{
    if (!text)
        return NULL;
    char *copy = strdup (text);
    if (!copy)
        self->failed = true;
    return copy;
}

//  Append an action of `kind` about plan_id; NULL if out of memory.
static ctl_action_t *s_add (ctl_actions_t *self, ctl_action_kind_t kind, const char *plan_id)
{
    if (self->size == self->allocated) {
        size_t allocated = self->allocated ? self->allocated * 2 : 8;
        ctl_action_t *grown = realloc (self->items, allocated * sizeof (ctl_action_t));
        if (!grown) {
            self->failed = true;
            return NULL;
        }
        self->items = grown;
        self->allocated = allocated;
    }
    ctl_action_t *action = &self->items[self->size++];
    memset (action, 0, sizeof *action);
    action->kind = kind;
    action->plan_id = s_copy (self, plan_id);
    return action;
}

static void s_decision (ctl_actions_t *self, const char *plan_id, const char *rule,
                        const char *decision, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

//  Append a decision about plan_id; the detail is bounded as it always was.
static void s_decision (ctl_actions_t *self, const char *plan_id, const char *rule,
                        const char *decision, const char *format, ...)
{
    char detail[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (detail, sizeof detail, format, args);
    va_end (args);
    ctl_action_t *action = s_add (self, CTL_ACTION_DECISION, plan_id);
    if (action) {
        action->rule = s_copy (self, rule);
        action->decision = s_copy (self, decision);
        action->text = s_copy (self, detail);
    }
}

//  "a, b, c" of names, bounded as the stored decision always was.
static void s_join (const char *const *names, size_t count, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t index = 0; names && index < count && used < len; index++)
        used += (size_t)snprintf (buf + used, len - used, "%s%s", used ? ", " : "",
                                  names[index] ? names[index] : "-");
}

//  --------------------------------------------------------------------------
//  What one call changes as it goes

typedef struct {
    const ctl_plan_view_t *view;
    const char *state;  //  plans.state as the actions so far leave it
    const char *phase;  //  plans.phase as the actions so far leave it
    bool baked;
    bool paused;
    int64_t resumed;   //  the operator's last resume
    int64_t progress;  //  the plan's last progress
    const ctl_rule_verdict_t *alerts;
    size_t alert_count;
    int64_t now;
    ctl_actions_t *actions;
} s_plan_t;

static void s_plan_init (s_plan_t *plan, const ctl_plan_view_t *view,
                         const ctl_rule_verdict_t *alerts, size_t alert_count, int64_t now,
                         ctl_actions_t *actions)
{
    plan->view = view;
    plan->state = view->state;
    plan->phase = view->phase ? view->phase : "rollout";
    plan->baked = view->baked;
    plan->paused = view->paused;
    plan->resumed = view->resumed;
    plan->progress = view->progress;
    plan->alerts = alerts;
    plan->alert_count = alert_count;
    plan->now = now;
    plan->actions = actions;
}

//  A plan's reason once it ends with `outcome`: a rollback keeps why it
//  was made (an alert's values, an operator's request) and gets its
//  outcome appended (at most S_REASON_CHARS characters); other plans
//  take the outcome. Caller frees; NULL if out of memory.
static char *s_outcome_reason (const ctl_plan_view_t *view, const char *outcome)
{
    if (!jad_text_is (view->kind, "rollback") || !view->reason)
        return strdup (outcome);
    size_t len = strlen (view->reason) + 2 + strlen (outcome);
    char *text = malloc (len + 1);
    if (!text)
        return NULL;
    snprintf (text, len + 1, "%s; %s", view->reason, outcome);
    //  cut after S_REASON_CHARS UTF-8 characters, as substr does
    size_t chars = 0;
    for (char *cursor = text; *cursor; cursor++)
        if (((unsigned char)*cursor & 0xC0) != 0x80 && ++chars > S_REASON_CHARS) {
            *cursor = 0;
            break;
        }
    return text;
}

static void s_outcome (s_plan_t *plan, ctl_action_kind_t kind, const char *outcome)
{
    ctl_action_t *action = s_add (plan->actions, kind, plan->view->id);
    if (!action)
        return;
    action->text = s_outcome_reason (plan->view, outcome);
    if (!action->text)
        plan->actions->failed = true;
}

//  The first rule of the environment that is firing, or NULL.
static const ctl_rule_verdict_t *s_firing (const s_plan_t *plan)
{
    for (size_t index = 0; index < plan->alert_count; index++)
        if (plan->alerts[index].state == CTL_RULE_FIRING)
            return &plan->alerts[index];
    return NULL;
}

//  The first rule that became inconclusive after the operator's last
//  resume (one the operator saw when resuming is let through), or NULL.
static const ctl_rule_verdict_t *s_inconclusive (const s_plan_t *plan)
{
    for (size_t index = 0; index < plan->alert_count; index++)
        if (plan->alerts[index].state == CTL_RULE_INCONCLUSIVE &&
            plan->alerts[index].since > plan->resumed)
            return &plan->alerts[index];
    return NULL;
}

//  Pause for an operator because a rule cannot decide: never passes it.
static void s_pause (s_plan_t *plan, const ctl_rule_verdict_t *rule)
{
    const char *id = plan->view->id;
    ctl_action_t *action = s_add (plan->actions, CTL_ACTION_PAUSE, id);
    if (action)
        action->text = s_copy (plan->actions, rule->why);
    s_decision (plan->actions, id, "alert", "paused",
                "%s; the plan waits for an operator: jadctl plan resume %s goes on, "
                "jadctl plan abort %s rolls back",
                rule->why, id, id);
    plan->paused = true;
}

//  --------------------------------------------------------------------------
//  Failing

//  Coordinated rollback of a failed deploy: a rollback plan to the
//  release before it, on every host the plan touched.
static void s_roll_back (s_plan_t *plan, const char *reason)
{
    const ctl_plan_view_t *view = plan->view;
    ctl_targets_t targets = CTL_TARGETS_CHANGED;
    int64_t changed = view->changed;
    if (changed == 0 && view->migrated_here) {
        //  no host switched, but the migration ran: undo it on its host
        targets = CTL_TARGETS_MIGRATION;
        changed = 1;
    }
    if (changed == 0)
        s_decision (plan->actions, view->id, "rollback", "not needed",
                    "no host switched to %s in this plan and no migration ran (a host whose own "
                    "step failed went back by itself)",
                    view->version);
    else if (!view->previous)
        s_decision (plan->actions, view->id, "rollback", "impossible",
                    "no release ran in %s before %s: hosts that switched keep it", view->env,
                    view->version);
    else {
        ctl_action_t *action = s_add (plan->actions, CTL_ACTION_ROLL_BACK, view->id);
        if (!action)
            return;
        action->targets = targets;
        action->text = s_copy (plan->actions, reason);
        action->app = s_copy (plan->actions, view->app);
        action->version = s_copy (plan->actions, view->previous);
        action->env = s_copy (plan->actions, view->env);
    }
}

//  A db-rollback (DESIGN §11): a migrate_down task of its own, no parent.
static bool s_db_rollback (const ctl_plan_view_t *view)
{
    return jad_text_is (view->kind, "task") && !view->parent &&
           jad_text_is (view->action, "migrate_down");
}

//  Fail the plan with `reason`. Returns 0, or -1 if it is neither running
//  nor awaiting approval.
static int s_fail (s_plan_t *plan, const char *reason)
{
    const ctl_plan_view_t *view = plan->view;
    if (!jad_text_is (plan->state, "running") && !jad_text_is (plan->state, "approval"))
        return -1;
    s_outcome (plan, CTL_ACTION_FAIL, reason);
    plan->state = "failed";
    plan->phase = "done";
    if (jad_text_is (view->kind, "task") && !s_db_rollback (view))
        return 0;
    s_decision (plan->actions, view->id, "outcome", "failed", "%s", reason);
    if (view->task && !jad_text_is (view->task_state, "succeeded") &&
        !jad_text_is (view->task_state, "failed")) {
        ctl_action_t *action = s_add (plan->actions, CTL_ACTION_FAIL_TASK, view->task);
        if (action)
            action->text = s_copy (plan->actions, "the plan it served failed");
    }
    if (jad_text_is (view->kind, "deploy"))
        s_roll_back (plan, reason);
    return 0;
}

static void s_succeed (s_plan_t *plan)
{
    const ctl_plan_view_t *view = plan->view;
    long long total = view->hosts, skipped = view->skipped, failed = view->failed;
    char reason[256];
    if (failed && jad_text_is (view->kind, "deploy"))
        snprintf (reason, sizeof reason,
                  "%lld of %lld hosts healthy, %lld failed (within max_failures %lld)%s",
                  total - skipped - failed, total, failed, (long long)view->max_failures,
                  skipped ? ", offline skipped" : "");
    else if (skipped)
        snprintf (reason, sizeof reason, "%lld of %lld hosts healthy, %lld offline skipped",
                  total - skipped, total, skipped);
    else
        snprintf (reason, sizeof reason, "%s%lld host%s healthy", total > 1 ? "all " : "", total,
                  total == 1 ? "" : "s");
    s_outcome (plan, CTL_ACTION_SUCCEED, reason);
    plan->state = "succeeded";
    plan->phase = "done";
}

static void s_advance_parent (s_plan_t *plan)
{
    if (plan->view->parent)
        s_add (plan->actions, CTL_ACTION_ADVANCE, plan->view->parent);
}

//  --------------------------------------------------------------------------
//  Starting

static void s_start_batch (s_plan_t *plan, int64_t number)
{
    const ctl_plan_view_t *view = plan->view;
    ctl_action_t *action = s_add (plan->actions, CTL_ACTION_START_BATCH, view->id);
    if (action) {
        action->number = number;
        action->batches = view->batches;
    }
    if (!jad_text_is (view->kind, "task")) {
        char names[768];
        s_join (view->batch_hosts, view->batch_host_count, names, sizeof names);
        s_decision (plan->actions, view->id, "batch", "started", "batch %lld/%lld: %s",
                    (long long)number + 1, (long long)view->batches, names);
    }
    plan->phase = "rollout";
}

static void s_start_task (s_plan_t *plan, const char *task_action, ctl_targets_t targets,
                          const char *host, const char *migrations, const char *phase)
{
    const ctl_plan_view_t *view = plan->view;
    ctl_action_t *action = s_add (plan->actions, CTL_ACTION_START_TASK, view->id);
    if (!action)
        return;
    action->task_action = s_copy (plan->actions, task_action);
    action->phase = s_copy (plan->actions, phase);
    action->targets = targets;
    action->host = s_copy (plan->actions, host);
    action->migrations = s_copy (plan->actions, migrations);
    action->app = s_copy (plan->actions, view->app);
    action->version = s_copy (plan->actions, view->version);
    action->env = s_copy (plan->actions, view->env);
}

//  One host to run a task on: the first online host, preferring those
//  that run `prefer` (if not NULL), else the first at all.
static const char *s_choose_host (const ctl_plan_view_t *view, const char *prefer)
{
    const char *fallback = NULL;
    for (int pass = prefer ? 0 : 1; pass < 2; pass++)
        for (size_t index = 0; index < view->task_host_count; index++) {
            const ctl_task_host_t *host = &view->task_hosts[index];
            if (pass == 0 && !jad_text_is (host->version, prefer))
                continue;
            if (pass == 1 && prefer && jad_text_is (host->version, prefer))
                continue;
            if (!fallback)
                fallback = host->name;
            if (host->online)
                return host->name;
        }
    return fallback;
}

static void s_start (s_plan_t *plan)
{
    const ctl_plan_view_t *view = plan->view;
    if (jad_text_is (view->kind, "deploy") && view->has_migrate_up && !view->migrated) {
        //  migrate_up once per environment, on the first host of batch 0
        //  that is online, before any host switches
        const char *host = s_choose_host (view, NULL);
        s_decision (plan->actions, view->id, "migrate_up", "started",
                    "%s %s has migrate_up, not yet run in %s: running it once on %s before any "
                    "host switches",
                    view->app, view->version, view->env, host ? host : "-");
        s_start_task (plan, "migrate_up", CTL_TARGETS_HOST, host, NULL, "migrate");
        return;
    }
    if (jad_text_is (view->kind, "rollback") && view->crossed_count) {
        size_t count =
            view->crossed_count < JAD_MAX_MIGRATIONS ? view->crossed_count : JAD_MAX_MIGRATIONS;
        char list[JAD_MAX_MIGRATIONS * 66] = "";
        size_t used = 0;
        const char *irreversible = NULL;
        for (size_t index = 0; index < count; index++) {
            const ctl_crossed_t *crossed = &view->crossed[index];
            if (!crossed->has_down && !irreversible)
                irreversible = crossed->version;
            used += (size_t)snprintf (list + used, sizeof list - used, "%s%s", used ? "," : "",
                                      crossed->version);
        }
        if (irreversible) {
            char reason[256];
            snprintf (reason, sizeof reason,
                      "cannot roll back across %s %s: it ran migrate_up but has no migrate_down",
                      view->app, irreversible);
            s_fail (plan, reason);
            return;
        }
        //  on a host that ran the newest crossed release: it has them on disk
        const char *host = s_choose_host (view, view->crossed[0].version);
        s_decision (plan->actions, view->id, "migrate_down", "started",
                    "rolling back to %s crosses migrations of %s: running their migrate_down in "
                    "that order on %s before switching code back",
                    view->version, list, host ? host : "-");
        s_start_task (plan, "migrate_down", CTL_TARGETS_HOST, host, list, "migrate");
        return;
    }
    s_start_batch (plan, 0);
}

//  --------------------------------------------------------------------------
//  Advancing

//  A plan in phase migrate or verify: its task decides. Returns true if
//  the plan goes on in this call.
static bool s_task_phase (s_plan_t *plan)
{
    const ctl_plan_view_t *view = plan->view;
    bool migrate = jad_text_is (plan->phase, "migrate");
    if (jad_text_is (view->task_state, "succeeded")) {
        if (!migrate) {
            s_add (plan->actions, CTL_ACTION_BAKED, view->id);
            s_decision (plan->actions, view->id, "bake", "passed",
                        "canary hosts stayed healthy for %lldms and passed their checks again",
                        (long long)view->bake_ms);
            plan->baked = true;
            plan->phase = "rollout";
            return true;
        }
        bool up = jad_text_is (view->task_action, "migrate_up");
        if (up || view->task_migrations) {
            ctl_action_t *action = s_add (plan->actions, CTL_ACTION_RECORD_MIGRATION, view->id);
            if (action) {
                action->task_action = s_copy (plan->actions, view->task_action);
                action->host = s_copy (plan->actions, view->task_host);
                action->task_id = s_copy (plan->actions, view->task);
                action->migrations = s_copy (plan->actions, up ? NULL : view->task_migrations);
                action->app = s_copy (plan->actions, view->app);
                action->version = s_copy (plan->actions, view->version);
                action->env = s_copy (plan->actions, view->env);
            }
        }
        s_decision (plan->actions, view->id, view->task_action ? view->task_action : "migrate",
                    "done", "ran on %s; now switching hosts",
                    view->task_host ? view->task_host : "-");
        s_start_batch (plan, 0);
    } else if (view->task_state && !jad_text_is (view->task_state, "running")) {
        char reason[800];
        snprintf (reason, sizeof reason, "%s: %s",
                  migrate ? "migration failed, no host switched" : "canary failed after bake",
                  view->task_failure  ? view->task_failure
                  : view->task_reason ? view->task_reason
                                      : "task failed");
        s_fail (plan, reason);
    }
    return false;
}

//  A plan in phase bake. Returns true if the plan goes on in this call.
static bool s_bake_phase (s_plan_t *plan)
{
    const ctl_plan_view_t *view = plan->view;
    const ctl_rule_verdict_t *rule = s_firing (plan);
    if (rule) {
        char reason[600];
        snprintf (reason, sizeof reason, "alert firing during bake: %s", rule->why);
        s_decision (plan->actions, view->id, "alert", "stop", "%s", rule->why);
        s_fail (plan, reason);
        return false;
    }
    //  a paused bake never passes, and its clock stands still
    int64_t elapsed = ctl_reconcile_bake_elapsed (view, plan->now);
    if (plan->paused || elapsed < view->bake_ms)
        return false;
    //  the canary analysis judges the canaries up to the bake's end before
    //  it passes (its rules' verdicts are among `alerts`)
    if (view->canary_rules > 0 && view->canary_judged < plan->now - (elapsed - view->bake_ms))
        return false;
    //  judged at the end of the bake, never at its start: the canaries'
    //  first samples take their time (issue 13 item 4)
    rule = s_inconclusive (plan);
    if (rule) {
        s_pause (plan, rule);
        return false;
    }
    if (view->canaries_healthy == 0) {
        s_add (plan->actions, CTL_ACTION_BAKED, view->id);
        plan->baked = true;
        plan->phase = "rollout";
        return true;
    }
    s_decision (plan->actions, view->id, "bake", "verify",
                "bake of %lldms over, no alert firing: canaries run their checks again",
                (long long)view->bake_ms);
    s_start_task (plan, "verify", CTL_TARGETS_CANARIES, NULL, NULL, "verify");
    return false;
}

//  A plan rolling out batches.
static void s_rollout_phase (s_plan_t *plan)
{
    const ctl_plan_view_t *view = plan->view;
    //  the current batch must be done before anything moves
    if (view->unfinished > 0)
        return;
    if (jad_text_is (view->strategy, "canary") && !plan->baked && view->bake_ms > 0 &&
        view->current_batch == 0) {
        s_add (plan->actions, CTL_ACTION_ENTER_BAKE, view->id);
        s_decision (plan->actions, view->id, "bake", "started",
                    "canary batch healthy; baking %lldms while watching alerts of %s",
                    (long long)view->bake_ms, view->env);
        plan->phase = "bake";
        return;
    }
    if (view->current_batch + 1 < view->batches) {
        if (plan->paused)
            return;
        const ctl_rule_verdict_t *rule =
            jad_text_is (view->kind, "deploy") ? s_inconclusive (plan) : NULL;
        if (rule)
            s_pause (plan, rule);
        else
            s_start_batch (plan, view->current_batch + 1);
        return;
    }
    s_succeed (plan);
    if (!jad_text_is (view->kind, "task"))
        s_decision (plan->actions, view->id, "outcome", "succeeded", "%lld of %lld hosts healthy",
                    (long long)(view->hosts - view->skipped -
                                (jad_text_is (view->kind, "deploy") ? view->failed : 0)),
                    (long long)view->hosts);
}

//  A db-rollback (a task of its own, DESIGN §11) ran every migrate_down:
//  the migrations are down in its environment.
static void s_db_rolled_back (s_plan_t *plan)
{
    const ctl_plan_view_t *view = plan->view;
    if (!view->migrations)
        return;
    ctl_action_t *action = s_add (plan->actions, CTL_ACTION_RECORD_MIGRATION, view->id);
    if (action) {
        action->task_action = s_copy (plan->actions, "migrate_down");
        action->host = s_copy (plan->actions, view->host);
        action->task_id = s_copy (plan->actions, view->id);
        action->migrations = s_copy (plan->actions, view->migrations);
        action->app = s_copy (plan->actions, view->app);
        action->version = s_copy (plan->actions, view->version);
        action->env = s_copy (plan->actions, view->env);
    }
    s_decision (plan->actions, view->id, "migrate_down", "done",
                "ran migrate_down of %s on %s: %s's database is back to %s %s", view->migrations,
                view->host ? view->host : "-", view->env, view->app, view->version);
}

static void s_run (s_plan_t *plan)
{
    const ctl_plan_view_t *view = plan->view;
    bool is_task = jad_text_is (view->kind, "task");
    if (jad_text_is (plan->state, "approval")) {
        if (!view->approved)
            return;
        s_add (plan->actions, CTL_ACTION_START, view->id);
        plan->state = "running";
    }
    if (!jad_text_is (plan->state, "running"))
        return;
    //  created but not started (or approved): the controller may have
    //  stopped in between
    if (jad_text_is (plan->phase, "starting") || jad_text_is (plan->phase, "approval")) {
        s_start (plan);
        return;
    }
    //  within max_failures a deploy goes on without its failed hosts
    //  (a host whose own step failed went back by itself); never in a
    //  canary batch, whose failure is the canary's verdict
    bool canaries = jad_text_is (view->strategy, "canary") && view->current_batch == 0;
    if (view->failed > 0 && jad_text_is (view->kind, "deploy") && !canaries &&
        view->failed <= view->max_failures) {
        for (int64_t count = view->failures_tolerated + 1; count <= view->failed; count++)
            s_decision (plan->actions, view->id, "health", "tolerated",
                        "failed host %lld of at most %lld (max_failures): the plan goes on "
                        "without it (first failed: %s)",
                        (long long)count, (long long)view->max_failures,
                        view->first_failure ? view->first_failure : "-");
    } else if (view->failed > 0) {
        const char *first = view->first_failure;
        char reason[700];
        if (is_task)
            snprintf (reason, sizeof reason, "%s", first ? first : "a host failed");
        else {
            snprintf (reason, sizeof reason, "batch %lld/%lld: %s",
                      (long long)view->current_batch + 1, (long long)view->batches,
                      first ? first : "a host failed");
            if (view->max_failures > 0 && !canaries && jad_text_is (view->kind, "deploy"))
                snprintf (reason + strlen (reason), sizeof reason - strlen (reason),
                          "; %lld hosts failed, more than max_failures (%lld)",
                          (long long)view->failed, (long long)view->max_failures);
            s_decision (plan->actions, view->id, "health", "stop", "%s failed; stopping the plan",
                        first ? first : "a host");
        }
        s_fail (plan, reason);
        if (is_task)
            s_advance_parent (plan);
        return;
    }
    size_t before = plan->actions->size;
    if (is_task) {
        if (view->unfinished == 0) {
            if (s_db_rollback (view))
                s_db_rolled_back (plan);
            s_succeed (plan);
            s_advance_parent (plan);
        }
    } else
        for (bool again = true; again;) {
            if (jad_text_is (plan->phase, "migrate") || jad_text_is (plan->phase, "verify"))
                again = s_task_phase (plan);
            else if (jad_text_is (plan->phase, "bake"))
                again = s_bake_phase (plan);
            else {
                s_rollout_phase (plan);
                again = false;
            }
        }
    //  A plan that cannot move now and has not moved for the progress
    //  deadline fails; one that can move (after a long controller outage,
    //  say) moves instead.
    char reason[128];
    if (plan->actions->size == before &&
        ctl_deadlines_progress (plan->state, plan->paused, plan->phase, plan->progress, plan->now,
                                view->progress_deadline_ms, reason, sizeof reason)) {
        s_fail (plan, reason);
        if (is_task)
            s_advance_parent (plan);
    }
}

int ctl_reconcile (const ctl_plan_view_t *view, const ctl_rule_verdict_t *alerts,
                   size_t alert_count, int64_t now, ctl_actions_t *actions)
{
    assert (view && actions);
    s_plan_t plan;
    s_plan_init (&plan, view, alerts, alert_count, now, actions);
    s_run (&plan);
    return actions->failed ? -1 : 0;
}

int ctl_reconcile_fail (const ctl_plan_view_t *view, const char *reason, int64_t now,
                        ctl_actions_t *actions)
{
    assert (view && reason && actions);
    s_plan_t plan;
    s_plan_init (&plan, view, NULL, 0, now, actions);
    return s_fail (&plan, reason);
}

int ctl_reconcile_task_refused (const ctl_plan_view_t *view, const char *task_action,
                                const char *err, int64_t now, ctl_actions_t *actions)
{
    char reason[400];
    snprintf (reason, sizeof reason, "cannot start %s: %s", task_action ? task_action : "task",
              err ? err : "refused");
    return ctl_reconcile_fail (view, reason, now, actions);
}

int ctl_reconcile_operator (const ctl_plan_view_t *view, const char *command,
                            const char *operator_name, const ctl_rule_verdict_t *alerts,
                            size_t alert_count, int64_t now, ctl_actions_t *actions, char *err,
                            size_t errlen)
{
    assert (view && command && operator_name && actions);
    s_plan_t plan;
    s_plan_init (&plan, view, alerts, alert_count, now, actions);
    const char *state = view->state ? view->state : "-";
    if (jad_text_is (command, "abort")) {
        char reason[160];
        snprintf (reason, sizeof reason, "aborted by %s", operator_name);
        if (s_fail (&plan, reason) != 0) {
            snprintf (err, errlen, "plan %s is %s: nothing to abort", view->id, state);
            return 2;
        }
        return 0;
    }
    bool pause = jad_text_is (command, "pause");
    if (!pause && !jad_text_is (command, "resume")) {
        snprintf (err, errlen, "unknown plan command '%s' (pause, resume or abort)", command);
        return 2;
    }
    bool running = jad_text_is (state, "running");
    if (!running || view->paused == pause) {
        snprintf (err, errlen, "plan %s is %s%s: cannot %s it", view->id, state,
                  running ? (pause ? " and paused" : " and not paused") : "", command);
        return 2;
    }
    ctl_action_t *action = s_add (actions, pause ? CTL_ACTION_PAUSE : CTL_ACTION_RESUME, view->id);
    if (action)
        action->text = s_copy (actions, operator_name);
    s_decision (actions, view->id, "operator", pause ? "paused" : "resumed", "%s by %s%s",
                pause ? "paused" : "resumed", operator_name,
                pause ? ": no new batch starts until resumed" : "");
    if (!pause) {
        //  a resume is progress: a plan paused for long does not miss its
        //  deadline by being resumed
        plan.paused = false;
        plan.resumed = now;
        plan.progress = now;
        s_run (&plan);
    }
    return actions->failed ? -1 : 0;
}

void ctl_reconcile_rolled_back (const ctl_action_t *roll_back, const char *rollback_id,
                                const char *const *hosts, size_t host_count, const char *err,
                                ctl_actions_t *actions)
{
    assert (roll_back && actions);
    if (rollback_id) {
        char names[768];
        s_join (hosts, host_count, names, sizeof names);
        s_decision (actions, roll_back->plan_id, "rollback", "started",
                    "plan %s rolls %s back to %s on %s", rollback_id, roll_back->env,
                    roll_back->version, names);
    } else
        s_decision (actions, roll_back->plan_id, "rollback", "failed", "cannot create: %s",
                    err ? err : "out of memory");
}

const char *ctl_reconcile_failure (const char *host, const char *step, const char *detail,
                                   char *buf, size_t len)
{
    snprintf (buf, len, "%s (%s: %s)", host ? host : "-", step ? step : "?",
              detail ? detail : "failed");
    return buf;
}

int64_t ctl_reconcile_next_batch (const ctl_plan_view_t *view)
{
    //  no phase stored reads as rollout, as in ctl_reconcile
    const char *phase = view->phase;
    if (jad_text_is (phase, "approval") || jad_text_is (phase, "starting") ||
        jad_text_is (phase, "migrate"))
        return 0;
    return view->current_batch + 1;
}

bool ctl_reconcile_needs_batch_hosts (const ctl_plan_view_t *view)
{
    bool live = jad_text_is (view->state, "running") ||
                (jad_text_is (view->state, "approval") && view->approved);
    return live && (ctl_reconcile_next_batch (view) == 0 || view->unfinished == 0);
}

//  --------------------------------------------------------------------------
//  Pauses

static int s_compare_pause (const void *left, const void *right)
{
    const ctl_pause_t *a = (const ctl_pause_t *)left, *b = (const ctl_pause_t *)right;
    return a->from < b->from ? -1 : a->from > b->from;
}

int64_t ctl_reconcile_bake_elapsed (const ctl_plan_view_t *view, int64_t now)
{
    int64_t start = view->phase_started;
    int64_t elapsed = now - start;
    if (view->pause_count == 0 || elapsed <= 0)
        return elapsed;
    //  the time paused within [start, now], overlapping pauses counted once
    ctl_pause_t *clipped = calloc (view->pause_count, sizeof (ctl_pause_t));
    if (!clipped)
        return 0;  //  out of memory: the bake waits, it never passes early
    size_t count = 0;
    for (size_t index = 0; index < view->pause_count; index++) {
        int64_t from = view->pauses[index].from;
        int64_t until = view->pauses[index].until ? view->pauses[index].until : now;
        from = from < start ? start : from;
        until = until > now ? now : until;
        if (until > from)
            clipped[count++] = (ctl_pause_t){from, until};
    }
    qsort (clipped, count, sizeof (ctl_pause_t), s_compare_pause);
    int64_t paused = 0, reach = start;
    for (size_t index = 0; index < count; index++) {
        int64_t from = clipped[index].from > reach ? clipped[index].from : reach;
        if (clipped[index].until > from) {
            paused += clipped[index].until - from;
            reach = clipped[index].until;
        }
    }
    free (clipped);
    return elapsed - paused;
}

size_t ctl_reconcile_pauses (const ctl_decision_row_t *rows, size_t count, ctl_pause_t *pauses,
                             size_t max, int64_t *resumed)
{
    size_t used = 0;
    bool open = false;
    *resumed = 0;
    for (size_t index = 0; index < count; index++) {
        const ctl_decision_row_t *row = &rows[index];
        bool paused = jad_text_is (row->decision, "paused") &&
                      (jad_text_is (row->rule, "operator") || jad_text_is (row->rule, "alert"));
        bool resume = jad_text_is (row->decision, "resumed") && jad_text_is (row->rule, "operator");
        if (paused && !open && used < max) {
            pauses[used++] = (ctl_pause_t){row->time, 0};
            open = true;
        } else if (resume) {
            *resumed = row->time;
            if (open)
                pauses[used - 1].until = row->time;
            open = false;
        }
    }
    return used;
}
