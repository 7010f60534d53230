//  ctl_plans - what agents say about plans, and the hosts' deadlines
//  SPDX-License-Identifier: MPL-2.0
//
//  Host states: pending (sent, not acknowledged), acked, applying,
//  healthy, failed. A host is finished when healthy or failed; the agent
//  marks the end of its work with a report whose step is "done".

#include "ctl_plans.h"
#include "ctl_agents_repo.h"
#include "ctl_decisions.h"
#include "ctl_plans_repo.h"
#include "ctl_deadlines.h"
#include "jad_log.h"
#include "jad_util.h"

#include <string.h>

struct _ctl_plans_t {
    ctl_store_t *store;  //  borrowed, as what follows up to dirty
    ctl_settings_t *settings;
    ctl_counters_t *counters;
    ctl_dispatch_t *dispatch;
    ctl_rollout_t *rollout;
    zhashx_t *dirty;  //  plan ids to advance after this burst
    //  per-report lookups a fleet's burst repeats for the same plan
    char progress_plan[JAD_NAME_MAX + 1];  //  plan whose progress was written last
    int64_t progress_ms;                   //  when
    char kind_plan[JAD_NAME_MAX + 1];      //  plan whose kind is known
    bool kind_task;                        //  it is a task
};

ctl_plans_t *ctl_plans_new (ctl_store_t *store, ctl_settings_t *settings, ctl_counters_t *counters,
                            ctl_dispatch_t *dispatch, ctl_rollout_t *rollout)
{
    ctl_plans_t *self = (ctl_plans_t *)calloc (1, sizeof (ctl_plans_t));
    if (!self)
        return NULL;
    self->store = store;
    self->settings = settings;
    self->counters = counters;
    self->dispatch = dispatch;
    self->rollout = rollout;
    self->dirty = zhashx_new ();
    if (!self->dirty)
        ctl_plans_destroy (&self);
    return self;
}

void ctl_plans_destroy (ctl_plans_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy (&(*self_p)->dirty);
    free (*self_p);
    *self_p = NULL;
}

//  Remember that plan_id must be advanced once the current burst of agent
//  messages is committed: a plan is advanced once per burst, not once per
//  report, so a fleet's reports cost O(N).
static void s_mark (ctl_plans_t *self, const char *plan_id)
{
    if (!zhashx_lookup (self->dirty, plan_id))
        zhashx_insert (self->dirty, plan_id, (void *)"");
}

void ctl_plans_advance_marked (ctl_plans_t *self)
{
    if (zhashx_size (self->dirty) == 0)
        return;
    //  Advancing may mark other plans (a task's parent): take the set first.
    zlistx_t *plans = zhashx_keys (self->dirty);
    zhashx_purge (self->dirty);
    for (const char *plan_id = plans ? zlistx_first (plans) : NULL; plan_id;
         plan_id = zlistx_next (plans))
        ctl_rollout_advance (self->rollout, plan_id);
    zlistx_destroy (&plans);
}

void ctl_plans_forget_marked (ctl_plans_t *self)
{
    zhashx_purge (self->dirty);
}

void ctl_plans_on_ack (ctl_plans_t *self, const char *agent, const char *plan_id)
{
    if (ctl_plans_repo_ack (self->store, plan_id, agent, jad_now_ms ()) == 0)
        self->counters->value[CTL_COUNT_ACKS]++;
}

//  Host state after a report, or NULL to keep the current one.
static const char *s_host_state (const jad_report_t *report)
{
    bool done = report->step && streq (report->step, "done");
    switch (report->status) {
        case JAD_REPORT_STARTED:
        case JAD_REPORT_INTERRUPTED:
            return "applying";
        case JAD_REPORT_HEALTHY:
            return "healthy";
        case JAD_REPORT_REFUSED:
            return "failed";
        case JAD_REPORT_FAILED:
            return done ? "failed" : NULL;
        default:
            return NULL;
    }
}

int ctl_plans_on_report (ctl_plans_t *self, const char *agent, const jad_report_t *report)
{
    int64_t now = jad_now_ms ();
    if (ctl_store_begin (self->store))
        return -1;
    int seen = ctl_plans_repo_report_seen (self->store, agent, report->incarnation,
                                           (int64_t)report->report_id);
    if (seen < 0)
        goto failed;
    if (seen == 0) {
        self->counters->value[CTL_COUNT_REPORTS_DUPLICATE]++;
        return ctl_store_commit (self->store);
    }
    ctl_plan_event_t event = {.plan_id = report->plan_id,
                              .agent = (char *)agent,
                              .time = report->time ? report->time : now,
                              .step = report->step,
                              .status = (char *)jad_report_status_name (report->status),
                              .detail = report->detail,
                              .output = report->output,
                              .duration_ms = report->duration_ms};
    if (ctl_plans_repo_event_add (self->store, &event) < 0)
        goto failed;
    const char *state = s_host_state (report);
    bool with_detail = report->status == JAD_REPORT_FAILED ||
                       report->status == JAD_REPORT_REFUSED ||
                       report->status == JAD_REPORT_ROLLED_BACK;
    int moved = ctl_plans_repo_host_report (self->store, report->plan_id, agent, state,
                                            report->step, with_detail ? report->detail : NULL, now);
    if (moved < 0)
        goto failed;
    //  Progress feeds a deadline of minutes: once a second per plan is
    //  plenty, not once per report of a 1000-host burst.
    if (!streq (self->progress_plan, report->plan_id) || now - self->progress_ms >= 1000) {
        if (ctl_plans_repo_progress (self->store, report->plan_id, now))
            goto failed;
        snprintf (self->progress_plan, sizeof self->progress_plan, "%s", report->plan_id);
        self->progress_ms = now;
    }
    //  A plan's kind never changes: look it up once per plan.
    if (!streq (self->kind_plan, report->plan_id)) {
        int task = ctl_plans_repo_is_task (self->store, report->plan_id);
        if (task < 0)
            goto failed;
        self->kind_task = task != 0;
        snprintf (self->kind_plan, sizeof self->kind_plan, "%s", report->plan_id);
    }
    bool is_task = self->kind_task;
    //  a host that just moved is one the plan targets: no need to ask again
    if (report->status == JAD_REPORT_HEALTHY && report->app && report->version && !is_task &&
        (moved ? ctl_agents_repo_app_put : ctl_agents_repo_app_set) (
            self->store, agent, report->app, report->version, "healthy", report->plan_id, now,
            ctl_settings_config (self->settings)->apps_per_agent) < 0)
        goto failed;
    if (ctl_store_commit (self->store))
        goto failed;
    //  Only a finished host can move the plan on.
    if (state && !streq (state, "applying"))
        s_mark (self, report->plan_id);
    self->counters->value[CTL_COUNT_REPORTS]++;
    jad_log_debug ("plans: report agent=%s plan=%s step=%s status=%s", agent, report->plan_id,
                   report->step ? report->step : "-", jad_report_status_name (report->status));
    return 0;

failed:
    ctl_store_rollback (self->store);
    jad_log_error ("plans: cannot store report agent=%s plan=%s", agent,
                   report->plan_id ? report->plan_id : "-");
    return -1;
}

//  Create a converge plan if `agent` lacks a release its environment last
//  deployed successfully, unless it already had a plan for that release
//  (one it was skipped in, being offline, does not count: it never tried).
static void s_converge (ctl_plans_t *self, const char *agent)
{
    zlistx_t *wanted = ctl_plans_repo_converge (self->store, agent);
    ctl_agent_t *row = NULL;
    ctl_agents_repo_by_name (self->store, agent, &row);
    const char *env = row ? row->env : NULL;
    for (ctl_plan_t *plan = wanted && env ? zlistx_first (wanted) : NULL; plan;
         plan = zlistx_next (wanted)) {
        const char *targets[] = {agent, NULL};
        char err[1024];
        ctl_plan_spec_t spec = {.door = CTL_DOOR_CONVERGE,
                                .app = plan->app,
                                .version = plan->version,
                                .env = env,
                                .deployer = "controller",
                                .targets = targets,
                                .strategy = "all"};
        char *plan_id = ctl_rollout_create (self->rollout, &spec, err, sizeof err);
        if (plan_id)
            jad_log_info ("plans: converging agent=%s app=%s version=%s plan=%s", agent, plan->app,
                          plan->version, plan_id);
        else
            jad_log_warning ("plans: cannot converge agent=%s app=%s reason=\"%s\"", agent,
                             plan->app, err);
        free (plan_id);
    }
    ctl_agent_destroy (&row);
    zlistx_destroy (&wanted);
}

void ctl_plans_on_hello (ctl_plans_t *self, const char *agent)
{
    zlistx_t *unfinished = ctl_plans_repo_unfinished_for (self->store, agent);
    for (char *plan_id = unfinished ? zlistx_first (unfinished) : NULL; plan_id;
         plan_id = zlistx_next (unfinished))
        ctl_dispatch_plan (self->dispatch, plan_id, agent);
    zlistx_destroy (&unfinished);
    s_converge (self, agent);
}

//  Fail hosts stuck in a step, or skip offline ones when the plan says so
//  (ctl_deadlines_step), then advance their plans. A plan's progress
//  deadline is the engine's: ctl_rollout_tick reconciles every running
//  plan, and ctl_reconcile fails one that cannot move and did not.
static void s_step_deadlines (ctl_plans_t *self, int64_t now)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    zlistx_t *touched = zlistx_new ();
    if (!touched)
        return;
    zlistx_set_destructor (touched, (zlistx_destructor_fn *)zstr_free);
    zlistx_set_comparator (touched, (zlistx_comparator_fn *)strcmp);
    zlistx_t *late =
        ctl_plans_repo_late_hosts (self->store, now - (int64_t)config->step_deadline_ms);
    for (ctl_plan_host_t *host = late ? zlistx_first (late) : NULL; host;
         host = zlistx_next (late)) {
        ctl_host_clock_t clock = {.agent = host->agent,
                                  .state = host->state,
                                  .updated = host->updated,
                                  .last_sent = host->last_sent,
                                  .last_seen = host->last_seen,
                                  .skip_offline = host->skip_offline};
        ctl_step_verdict_t verdict;
        if (!ctl_deadlines_step (&clock, now, config->step_deadline_ms, config->heartbeat_ms,
                                 &verdict))
            continue;
        ctl_plans_repo_host_finish (self->store, host->plan_id, host->agent, verdict.state,
                                    verdict.detail, now);
        ctl_decisions_record (self->store, host->plan_id, CTL_DEADLINES_STEP_RULE, verdict.state,
                              "%s", verdict.decision);
        if (!zlistx_find (touched, host->plan_id))
            zlistx_add_end (touched, strdup (host->plan_id));
    }
    zlistx_destroy (&late);
    for (char *plan_id = zlistx_first (touched); plan_id; plan_id = zlistx_next (touched))
        ctl_rollout_advance (self->rollout, plan_id);
    zlistx_destroy (&touched);
}

void ctl_plans_tick (ctl_plans_t *self)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    int64_t now = jad_now_ms ();
    zlistx_t *due = ctl_plans_repo_resend_due (self->store, now - config->resend_ms);
    for (ctl_plan_host_t *host = due ? zlistx_first (due) : NULL; host; host = zlistx_next (due)) {
        ctl_host_clock_t clock = {.agent = host->agent,
                                  .state = host->state,
                                  .updated = host->updated,
                                  .last_sent = host->last_sent,
                                  .last_seen = host->last_seen,
                                  .skip_offline = host->skip_offline};
        if (ctl_deadlines_resend (&clock, now, config->resend_ms, config->heartbeat_ms))
            ctl_dispatch_plan (self->dispatch, host->plan_id, host->agent);
    }
    zlistx_destroy (&due);
    s_step_deadlines (self, now);
    ctl_rollout_tick (self->rollout);
}
