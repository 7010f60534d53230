//  ctl_plans - deployment plans: create, sign and send, track, decide
//  SPDX-License-Identifier: MPL-2.0
//
//  Host states: pending (sent, not acknowledged), acked, applying,
//  healthy, failed. A host is finished when healthy or failed; the agent
//  marks the end of its work with a report whose step is "done".

#include "ctl_plans.h"
#include "ctl_agents_repo.h"
#include "ctl_plans_repo.h"
#include "ctl_releases_repo.h"
#include "ctl_rollout.h"
#include "jad_envelope.h"
#include "jad_log.h"
#include "jad_util.h"

#include <string.h>

bool ctl_plans_agent_online (ctl_t *ctl, int64_t last_seen)
{
    int64_t window = 3 * (int64_t)ctl->config->heartbeat_ms + 1000;
    return last_seen > 0 && jad_now_ms () - last_seen <= window;
}

char *ctl_plans_create (ctl_t *ctl, const char *app, const char *version, const char *env,
                        const char *kind, const char *deployer, const char *reason,
                        const char *const *targets, char *err, size_t errlen)
{
    ctl_plan_spec_t spec = {.app = app,
                            .version = version,
                            .env = env,
                            .kind = kind,
                            .deployer = deployer,
                            .reason = reason,
                            .targets = targets,
                            .strategy = "all"};
    return ctl_rollout_create (ctl, &spec, err, errlen);
}

//  Build the plan payload for plan_id (targets from the list). NULL on error.
static jad_plan_t *s_plan_load (ctl_t *ctl, const char *plan_id)
{
    ctl_plan_t *row = NULL;
    ctl_release_t *release = NULL;
    jad_plan_t *plan = NULL;
    if (ctl_plans_repo_get (ctl->store, plan_id, &row) != 0 ||
        ctl_releases_repo_get (ctl->store, row->app, row->version, &release) != 0)
        goto done;
    plan = calloc (1, sizeof *plan);
    if (!plan)
        goto done;
    plan->plan_id = strdup (plan_id);
    plan->app = strdup (row->app);
    plan->version = strdup (row->version);
    plan->environment = strdup (row->env);
    plan->kind = streq (row->kind, "rollback") ? JAD_PLAN_ROLLBACK : JAD_PLAN_DEPLOY;
    plan->strategy = strdup (row->strategy);
    plan->undoes = row->undoes ? strdup (row->undoes) : NULL;
    if (jad_unhex (release->sha256, plan->artifact_sha256, 32) != 0) {
        jad_plan_destroy (&plan);
        goto done;
    }
    plan->artifact_length = (uint64_t)release->length;
    //  signed with the plan: agents refuse a release below the floor
    plan->release_counter = (uint64_t)release->counter;
    plan->min_release_counter = release->has_floor ? (uint64_t)release->floor : 0;
    const char *action = row->action;
    plan->action = streq (action, "apply")          ? JAD_PLAN_ACTION_APPLY
                   : streq (action, "migrate_up")   ? JAD_PLAN_ACTION_MIGRATE_UP
                   : streq (action, "migrate_down") ? JAD_PLAN_ACTION_MIGRATE_DOWN
                                                    : JAD_PLAN_ACTION_VERIFY;
    const char *list = row->migrations;
    if (list && *list) {
        char *copy = strdup (list);
        size_t count = 1;
        for (const char *cursor = list; *cursor; cursor++)
            count += *cursor == ',';
        plan->migrations = calloc (count, sizeof (char *));
        char *save = NULL;
        for (char *item = copy && plan->migrations ? strtok_r (copy, ",", &save) : NULL;
             item && plan->migration_count < count; item = strtok_r (NULL, ",", &save))
            plan->migrations[plan->migration_count++] = strdup (item);
        free (copy);
    }
done:
    ctl_release_destroy (&release);
    ctl_plan_destroy (&row);
    return plan;
}

int ctl_plans_send (ctl_t *ctl, const char *plan_id, const char *agent)
{
    jad_plan_t *plan = s_plan_load (ctl, plan_id);
    if (!plan) {
        jad_log_error ("plans: cannot load plan=%s for sending", plan_id);
        return -1;
    }
    zlistx_t *targets = NULL;
    if (agent) {
        targets = zlistx_new ();
        zlistx_set_destructor (targets, (zlistx_destructor_fn *)zstr_free);
        zlistx_add_end (targets, strdup (agent));
    } else
        targets = ctl_plans_repo_host_names (ctl->store, plan_id, -1, CTL_HOSTS_UNFINISHED);
    int result = -1;
    zchunk_t *payload = NULL;
    jad_envelope_t *envelope = NULL;
    zchunk_t *wire = NULL;
    if (!targets)
        goto done;
    if (zlistx_size (targets) == 0) {
        result = 0;
        goto done;
    }
    plan->target_count = zlistx_size (targets);
    plan->targets = calloc (plan->target_count, sizeof (char *));
    if (!plan->targets)
        goto done;
    size_t index = 0;
    for (char *name = zlistx_first (targets); name; name = zlistx_next (targets))
        plan->targets[index++] = strdup (name);
    plan->sequence = ctl_store_next_sequence (ctl->store);
    if (plan->sequence == 0)
        goto done;
    plan->issued_at = jad_now_ms ();
    plan->expires_at = plan->issued_at + ctl->config->plan_ttl_ms;
    plan->hook_timeout_ms = 0;
    plan->step_deadline_ms = ctl->config->step_deadline_ms;
    payload = jad_plan_encode (plan);
    if (!payload)
        goto done;
    envelope = jad_envelope_sign (JAD_PAYLOAD_PLAN, zchunk_data (payload), zchunk_size (payload),
                                  ctl->signing);
    if (!envelope)
        goto done;
    if (agent) {
        zframe_t *route = zhashx_lookup (ctl->routes, agent);
        if (!route) {
            result = 0;  //  not connected: sent again on hello
            goto done;
        }
        jad_ctl_msg_t message = {.kind = JAD_CTL_MSG_PLAN, .plan = envelope};
        wire = jad_ctl_msg_encode (&message);
        if (!wire)
            goto done;
        zmsg_t *msg = zmsg_new ();
        zmsg_append (msg, &(zframe_t *){zframe_dup (route)});
        zmsg_addmem (msg, zchunk_data (wire), zchunk_size (wire));
        if (zmsg_send (&msg, ctl->agents) != 0) {
            zmsg_destroy (&msg);
            goto done;
        }
        ctl->counters[CTL_COUNT_PLANS_RESENT]++;
    } else {
        wire = jad_envelope_encode (envelope);
        if (!wire)
            goto done;
        char topic[JAD_NAME_MAX + 8];
        snprintf (topic, sizeof topic, "plan/%s/", plan->environment);
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, topic);
        zmsg_addmem (msg, zchunk_data (wire), zchunk_size (wire));
        if (zmsg_send (&msg, ctl->pub) != 0) {
            zmsg_destroy (&msg);
            goto done;
        }
        ctl->counters[CTL_COUNT_PLANS_SENT]++;
    }
    ctl_plans_repo_mark_sent (ctl->store, plan_id, targets, jad_now_ms ());
    jad_log_debug ("plans: sent plan=%s seq=%llu targets=%zu direct=%s", plan_id,
                   (unsigned long long)plan->sequence, zlistx_size (targets), agent ? agent : "-");
    result = 0;

done:
    zchunk_destroy (&wire);
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&payload);
    zlistx_destroy (&targets);
    jad_plan_destroy (&plan);
    return result;
}

//  One signed heartbeat for env on PUB. Returns 0 or -1.
static int s_beat_env (ctl_t *ctl, const char *env, int64_t issued, int64_t expires)
{
    jad_heartbeat_t heartbeat = {
        .environment = (char *)env, .issued_at = issued, .expires_at = expires};
    int rc = -1;
    jad_envelope_t *envelope = NULL;
    zchunk_t *wire = NULL;
    zchunk_t *payload = jad_heartbeat_encode (&heartbeat);
    if (payload)
        envelope = jad_envelope_sign (JAD_PAYLOAD_HEARTBEAT, zchunk_data (payload),
                                      zchunk_size (payload), ctl->signing);
    if (envelope)
        wire = jad_envelope_encode (envelope);
    if (wire) {
        char topic[JAD_NAME_MAX + 8];
        snprintf (topic, sizeof topic, "beat/%s/", env);
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, topic);
        zmsg_addmem (msg, zchunk_data (wire), zchunk_size (wire));
        if (zmsg_send (&msg, ctl->pub) == 0) {
            ctl->counters[CTL_COUNT_HEARTBEATS_SENT]++;
            rc = 0;
        } else
            zmsg_destroy (&msg);
    }
    zchunk_destroy (&wire);
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&payload);
    return rc;
}

void ctl_plans_beat (ctl_t *ctl)
{
    uint32_t interval = ctl->config->signed_heartbeat_ms;
    int64_t mono = jad_mono_ms ();
    if (interval == 0 || mono < ctl->beat_next)
        return;
    ctl->beat_next = mono + interval;
    int64_t issued = jad_now_ms ();
    if (issued <= ctl->beat_issued)
        issued = ctl->beat_issued + 1;  //  the wall clock stepped back
    ctl->beat_issued = issued;
    int64_t expires = issued + 3 * (int64_t)interval;
    for (size_t index = 0; index < ctl->config->environment_count; index++)
        if (s_beat_env (ctl, ctl->config->environments[index].name, issued, expires))
            jad_log_debug ("plans: heartbeat not sent env=%s",
                           ctl->config->environments[index].name);
}

void ctl_plans_mark (ctl_t *ctl, const char *plan_id)
{
    if (!ctl->dirty) {
        ctl_rollout_advance (ctl, plan_id);  //  no burst: at once
        return;
    }
    if (!zhashx_lookup (ctl->dirty, plan_id))
        zhashx_insert (ctl->dirty, plan_id, (void *)"");
}

void ctl_plans_advance_marked (ctl_t *ctl)
{
    if (!ctl->dirty || zhashx_size (ctl->dirty) == 0)
        return;
    //  Advancing may mark other plans (a task's parent): take the set first.
    zlistx_t *plans = zhashx_keys (ctl->dirty);
    zhashx_purge (ctl->dirty);
    for (const char *plan_id = plans ? zlistx_first (plans) : NULL; plan_id;
         plan_id = zlistx_next (plans))
        ctl_rollout_advance (ctl, plan_id);
    zlistx_destroy (&plans);
}

void ctl_plans_on_ack (ctl_t *ctl, const char *agent, const char *plan_id)
{
    if (ctl_plans_repo_ack (ctl->store, plan_id, agent, jad_now_ms ()) == 0)
        ctl->counters[CTL_COUNT_ACKS]++;
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

int ctl_plans_on_report (ctl_t *ctl, const char *agent, const jad_report_t *report)
{
    int64_t now = jad_now_ms ();
    if (ctl_store_begin (ctl->store))
        return -1;
    int seen = ctl_plans_repo_report_seen (ctl->store, agent, report->incarnation,
                                           (int64_t)report->report_id);
    if (seen < 0)
        goto failed;
    if (seen == 0) {
        ctl->counters[CTL_COUNT_REPORTS_DUPLICATE]++;
        return ctl_store_commit (ctl->store);
    }
    ctl_plan_event_t event = {.plan_id = report->plan_id,
                              .agent = (char *)agent,
                              .time = report->time ? report->time : now,
                              .step = report->step,
                              .status = (char *)jad_report_status_name (report->status),
                              .detail = report->detail,
                              .output = report->output,
                              .duration_ms = report->duration_ms};
    if (ctl_plans_repo_event_add (ctl->store, &event))
        goto failed;
    const char *state = s_host_state (report);
    bool with_detail = report->status == JAD_REPORT_FAILED ||
                       report->status == JAD_REPORT_REFUSED ||
                       report->status == JAD_REPORT_ROLLED_BACK;
    if (ctl_plans_repo_host_report (ctl->store, report->plan_id, agent, state, report->step,
                                    with_detail ? report->detail : NULL, now))
        goto failed;
    //  Progress feeds a deadline of minutes: once a second per plan is
    //  plenty, not once per report of a 1000-host burst.
    if (!streq (ctl->progress_plan, report->plan_id) || now - ctl->progress_ms >= 1000) {
        if (ctl_plans_repo_progress (ctl->store, report->plan_id, now))
            goto failed;
        snprintf (ctl->progress_plan, sizeof ctl->progress_plan, "%s", report->plan_id);
        ctl->progress_ms = now;
    }
    //  A plan's kind never changes: look it up once per plan.
    if (!streq (ctl->kind_plan, report->plan_id)) {
        int task = ctl_plans_repo_is_task (ctl->store, report->plan_id);
        if (task < 0)
            goto failed;
        ctl->kind_task = task != 0;
        snprintf (ctl->kind_plan, sizeof ctl->kind_plan, "%s", report->plan_id);
    }
    bool is_task = ctl->kind_task;
    if (report->status == JAD_REPORT_HEALTHY && report->app && report->version && !is_task &&
        ctl_agents_repo_app_set (ctl->store, agent, report->app, report->version, "healthy",
                                 report->plan_id, now) != 0)
        goto failed;
    if (ctl_store_commit (ctl->store))
        goto failed;
    //  Only a finished host can move the plan on.
    if (state && !streq (state, "applying"))
        ctl_plans_mark (ctl, report->plan_id);
    ctl->counters[CTL_COUNT_REPORTS]++;
    jad_log_debug ("plans: report agent=%s plan=%s step=%s status=%s", agent, report->plan_id,
                   report->step ? report->step : "-", jad_report_status_name (report->status));
    return 0;

failed:
    ctl_store_rollback (ctl->store);
    jad_log_error ("plans: cannot store report agent=%s plan=%s", agent,
                   report->plan_id ? report->plan_id : "-");
    return -1;
}

//  Create a converge plan if `agent` lacks a release its environment last
//  deployed successfully, unless it already had a plan for that release
//  (one it was skipped in, being offline, does not count: it never tried).
static void s_converge (ctl_t *ctl, const char *agent)
{
    zlistx_t *wanted = ctl_plans_repo_converge (ctl->store, agent);
    ctl_agent_t *row = NULL;
    ctl_agents_repo_by_name (ctl->store, agent, &row);
    const char *env = row ? row->env : NULL;
    for (ctl_plan_t *plan = wanted && env ? zlistx_first (wanted) : NULL; plan;
         plan = zlistx_next (wanted)) {
        const char *targets[] = {agent, NULL};
        char err[256];
        char *plan_id = ctl_plans_create (
            ctl, plan->app, plan->version, env, "deploy", "controller",
            "converge: host lacks the environment's release", targets, err, sizeof err);
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

void ctl_plans_on_hello (ctl_t *ctl, const char *agent)
{
    zlistx_t *unfinished = ctl_plans_repo_unfinished_for (ctl->store, agent);
    for (char *plan_id = unfinished ? zlistx_first (unfinished) : NULL; plan_id;
         plan_id = zlistx_next (unfinished))
        ctl_plans_send (ctl, plan_id, agent);
    zlistx_destroy (&unfinished);
    s_converge (ctl, agent);
}

//  Fail hosts stuck in a step (or skip offline ones when the plan says
//  so) and plans without progress; failing rolls back through the engine.
static void s_deadlines (ctl_t *ctl, int64_t now)
{
    zlistx_t *touched = zlistx_new ();
    zlistx_set_destructor (touched, (zlistx_destructor_fn *)zstr_free);
    zlistx_set_comparator (touched, (zlistx_comparator_fn *)strcmp);
    zlistx_t *late =
        ctl_plans_repo_late_hosts (ctl->store, now - (int64_t)ctl->config->step_deadline_ms);
    for (ctl_plan_host_t *host = late ? zlistx_first (late) : NULL; host;
         host = zlistx_next (late)) {
        bool offline = !ctl_plans_agent_online (ctl, host->last_seen);
        bool never_acked = streq (host->state, "pending");
        const char *verdict = offline && never_acked && host->skip_offline ? "skipped" : "failed";
        const char *detail = offline && never_acked ? "offline: no answer within the step deadline"
                                                    : "step deadline missed";
        ctl_plans_repo_host_finish (ctl->store, host->plan_id, host->agent, verdict, detail, now);
        ctl_rollout_decision (ctl, host->plan_id, "step_deadline", verdict,
                              "%s: %s (deadline %ums)", host->agent, detail,
                              ctl->config->step_deadline_ms);
        if (!zlistx_find (touched, host->plan_id))
            zlistx_add_end (touched, strdup (host->plan_id));
    }
    zlistx_destroy (&late);
    for (char *plan_id = zlistx_first (touched); plan_id; plan_id = zlistx_next (touched))
        ctl_rollout_advance (ctl, plan_id);
    zlistx_destroy (&touched);
    //  the plan must move: paused plans and bakes wait on purpose
    zlistx_t *stalled =
        ctl_plans_repo_stalled (ctl->store, now - (int64_t)ctl->config->progress_deadline_ms);
    for (char *plan_id = stalled ? zlistx_first (stalled) : NULL; plan_id;
         plan_id = zlistx_next (stalled)) {
        char reason[128];
        snprintf (reason, sizeof reason, "no progress within the progress deadline (%ums)",
                  ctl->config->progress_deadline_ms);
        jad_log_warning ("plans: progress deadline missed plan=%s", plan_id);
        ctl_rollout_fail (ctl, plan_id, reason);
    }
    zlistx_destroy (&stalled);
}

void ctl_plans_tick (ctl_t *ctl)
{
    int64_t now = jad_now_ms ();
    zlistx_t *due = ctl_plans_repo_resend_due (ctl->store, now - ctl->config->resend_ms);
    for (ctl_plan_host_t *host = due ? zlistx_first (due) : NULL; host; host = zlistx_next (due))
        if (ctl_plans_agent_online (ctl, host->last_seen))
            ctl_plans_send (ctl, host->plan_id, host->agent);
    zlistx_destroy (&due);
    s_deadlines (ctl, now);
    ctl_rollout_tick (ctl);
}
