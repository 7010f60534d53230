//  ctl_plans - deployment plans: create, sign and send, track, decide
//  SPDX-License-Identifier: MPL-2.0
//
//  Host states: pending (sent, not acknowledged), acked, applying,
//  healthy, failed. A host is finished when healthy or failed; the agent
//  marks the end of its work with a report whose step is "done".

#include "ctl_plans.h"
#include "ctl_rollout.h"
#include "ctl_agents_repo.h"
#include "ctl_store_legacy.h"
#include "jad_db.h"
#include "jad_envelope.h"
#include "jad_log.h"
#include "jad_util.h"

#include <string.h>

#define S_UNFINISHED "('pending', 'acked', 'applying')"

bool ctl_plans_agent_online (ctl_t *ctl, int64_t last_seen)
{
    int64_t window = 3 * (int64_t)ctl->config->heartbeat_ms + 1000;
    return last_seen > 0 && jad_now_ms () - last_seen <= window;
}

//  Collect the first column of a query (one text bind) into a list.
static zlistx_t *s_column_list (sqlite3 *db, const char *sql, const char *param)
{
    zlistx_t *list = zlistx_new ();
    if (!list)
        return NULL;
    zlistx_set_destructor (list, (zlistx_destructor_fn *)zstr_free);
    sqlite3_stmt *stmt = jad_db_prepare (db, sql);
    if (!stmt) {
        zlistx_destroy (&list);
        return NULL;
    }
    if (param)
        sqlite3_bind_text (stmt, 1, param, -1, SQLITE_TRANSIENT);
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text (stmt, 0);
        if (text)
            zlistx_add_end (list, strdup (text));
    }
    sqlite3_finalize (stmt);
    return list;
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
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "SELECT p.app, p.version, p.env, p.kind, p.strategy, p.undoes, r.sha256, "
                 "r.length, p.action, p.migrations, r.counter, (SELECT f.counter FROM floors f "
                 "WHERE f.app = p.app) FROM plans p JOIN releases r ON r.app = p.app "
                 "AND r.version = p.version WHERE p.id = ?");
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
    jad_plan_t *plan = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        plan = calloc (1, sizeof *plan);
        if (plan) {
            plan->plan_id = strdup (plan_id);
            plan->app = strdup ((const char *)sqlite3_column_text (stmt, 0));
            plan->version = strdup ((const char *)sqlite3_column_text (stmt, 1));
            plan->environment = strdup ((const char *)sqlite3_column_text (stmt, 2));
            const char *kind = (const char *)sqlite3_column_text (stmt, 3);
            plan->kind = kind && streq (kind, "rollback") ? JAD_PLAN_ROLLBACK : JAD_PLAN_DEPLOY;
            plan->strategy = strdup ((const char *)sqlite3_column_text (stmt, 4));
            const char *undoes = (const char *)sqlite3_column_text (stmt, 5);
            plan->undoes = undoes ? strdup (undoes) : NULL;
            const char *sha = (const char *)sqlite3_column_text (stmt, 6);
            if (!sha || jad_unhex (sha, plan->artifact_sha256, 32) != 0)
                jad_plan_destroy (&plan);
            else
                plan->artifact_length = (uint64_t)sqlite3_column_int64 (stmt, 7);
        }
        if (plan) {
            const char *action = (const char *)sqlite3_column_text (stmt, 8);
            //  signed with the plan: agents refuse a release below the floor
            plan->release_counter = (uint64_t)sqlite3_column_int64 (stmt, 10);
            plan->min_release_counter = (uint64_t)sqlite3_column_int64 (stmt, 11);
            plan->action = !action || streq (action, "apply") ? JAD_PLAN_ACTION_APPLY
                           : streq (action, "migrate_up")     ? JAD_PLAN_ACTION_MIGRATE_UP
                           : streq (action, "migrate_down")   ? JAD_PLAN_ACTION_MIGRATE_DOWN
                                                              : JAD_PLAN_ACTION_VERIFY;
            const char *list = (const char *)sqlite3_column_text (stmt, 9);
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
        }
    }
    sqlite3_finalize (stmt);
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
        targets = s_column_list (
            ctl->db,
            "SELECT agent FROM plan_hosts WHERE plan_id = ? AND state IN " S_UNFINISHED
            " ORDER BY agent",
            plan_id);
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
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "UPDATE plan_hosts SET last_sent = ? WHERE plan_id = ? AND agent = ?");
    if (stmt) {
        jad_db_begin (ctl->db);
        int64_t now = jad_now_ms ();
        for (char *name = zlistx_first (targets); name; name = zlistx_next (targets)) {
            sqlite3_reset (stmt);
            sqlite3_bind_int64 (stmt, 1, now);
            sqlite3_bind_text (stmt, 2, plan_id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text (stmt, 3, name, -1, SQLITE_TRANSIENT);
            sqlite3_step (stmt);
        }
        sqlite3_finalize (stmt);
        jad_db_commit (ctl->db);
    }
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
    sqlite3_stmt *stmt = jad_db_cached (ctl->db, "UPDATE plan_hosts SET state = 'acked', "
                                                 "updated = ? WHERE plan_id = ? AND agent = ? "
                                                 "AND state = 'pending'");
    if (!stmt)
        return;
    sqlite3_bind_int64 (stmt, 1, jad_now_ms ());
    sqlite3_bind_text (stmt, 2, plan_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 3, agent, -1, SQLITE_TRANSIENT);
    sqlite3_step (stmt);
    sqlite3_reset (stmt);
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
    if (jad_db_begin (ctl->db))
        return -1;
    sqlite3_stmt *stmt = jad_db_cached (ctl->db, "INSERT OR IGNORE INTO reports_seen (agent, "
                                                 "incarnation, report_id) VALUES (?, ?, ?)");
    if (!stmt)
        goto failed;
    sqlite3_bind_text (stmt, 1, agent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, report->incarnation, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 3, (int64_t)report->report_id);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        goto failed;
    if (sqlite3_changes (ctl->db) == 0) {
        ctl->counters[CTL_COUNT_REPORTS_DUPLICATE]++;
        return jad_db_commit (ctl->db);
    }
    stmt = jad_db_cached (ctl->db, "INSERT INTO events (plan_id, agent, time, step, status, "
                                   "detail, output, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt)
        goto failed;
    sqlite3_bind_text (stmt, 1, report->plan_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, agent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 3, report->time ? report->time : now);
    sqlite3_bind_text (stmt, 4, report->step, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 5, jad_report_status_name (report->status), -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 6, report->detail, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 7, report->output, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 8, report->duration_ms);
    rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        goto failed;

    const char *state = s_host_state (report);
    stmt = jad_db_cached (
        ctl->db, "UPDATE plan_hosts SET state = coalesce (?1, state), step = ?2, "
                 "detail = coalesce (?3, detail), updated = ?4, finished = CASE WHEN ?1 IN "
                 "('healthy', 'failed') THEN ?4 ELSE finished END WHERE plan_id = ?5 AND "
                 "agent = ?6 AND state NOT IN ('healthy', 'failed', 'skipped', 'cancelled')");
    if (!stmt)
        goto failed;
    if (state)
        sqlite3_bind_text (stmt, 1, state, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null (stmt, 1);
    sqlite3_bind_text (stmt, 2, report->step, -1, SQLITE_TRANSIENT);
    if (report->status == JAD_REPORT_FAILED || report->status == JAD_REPORT_REFUSED ||
        report->status == JAD_REPORT_ROLLED_BACK)
        sqlite3_bind_text (stmt, 3, report->detail, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (stmt, 3);
    sqlite3_bind_int64 (stmt, 4, now);
    sqlite3_bind_text (stmt, 5, report->plan_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 6, agent, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        goto failed;
    //  Progress feeds a deadline of minutes: once a second per plan is
    //  plenty, not once per report of a 1000-host burst.
    if (!streq (ctl->progress_plan, report->plan_id) || now - ctl->progress_ms >= 1000) {
        stmt = jad_db_cached (ctl->db, "UPDATE plans SET progress = ? WHERE id = ?");
        if (!stmt)
            goto failed;
        sqlite3_bind_int64 (stmt, 1, now);
        sqlite3_bind_text (stmt, 2, report->plan_id, -1, SQLITE_TRANSIENT);
        sqlite3_step (stmt);
        sqlite3_reset (stmt);
        snprintf (ctl->progress_plan, sizeof ctl->progress_plan, "%s", report->plan_id);
        ctl->progress_ms = now;
    }
    //  A plan's kind never changes: look it up once per plan.
    if (!streq (ctl->kind_plan, report->plan_id)) {
        int64_t task = 0;
        if (jad_db_get_int (ctl->db, "SELECT kind = 'task' FROM plans WHERE id = ?",
                            report->plan_id, &task) < 0)
            goto failed;
        ctl->kind_task = task != 0;
        snprintf (ctl->kind_plan, sizeof ctl->kind_plan, "%s", report->plan_id);
    }
    bool is_task = ctl->kind_task;
    if (report->status == JAD_REPORT_HEALTHY && report->app && report->version && !is_task &&
        ctl_agents_repo_app_set (ctl->store, agent, report->app, report->version, "healthy",
                                 report->plan_id, now) != 0)
        goto failed;
    if (jad_db_commit (ctl->db))
        goto failed;
    //  Only a finished host can move the plan on.
    if (state && !streq (state, "applying"))
        ctl_plans_mark (ctl, report->plan_id);
    ctl->counters[CTL_COUNT_REPORTS]++;
    jad_log_debug ("plans: report agent=%s plan=%s step=%s status=%s", agent, report->plan_id,
                   report->step ? report->step : "-", jad_report_status_name (report->status));
    return 0;

failed:
    jad_db_rollback (ctl->db);
    jad_log_error ("plans: cannot store report agent=%s plan=%s", agent,
                   report->plan_id ? report->plan_id : "-");
    return -1;
}

//  Create a converge plan if `agent` lacks a release its environment last
//  deployed successfully, unless it already had a plan for that release
//  (one it was skipped in, being offline, does not count: it never tried).
static void s_converge (ctl_t *ctl, const char *agent)
{
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "SELECT p.app, p.version FROM plans p JOIN agents a ON a.env = p.env "
                 "WHERE a.name = ?1 AND p.state = 'succeeded' AND p.kind != 'task' AND p.created = "
                 "(SELECT max (q.created) FROM plans q WHERE q.env = p.env AND q.app = p.app AND "
                 "q.state = 'succeeded' AND q.kind != 'task') "
                 "AND NOT EXISTS (SELECT 1 FROM agent_apps x WHERE x.agent = ?1 AND x.app = p.app "
                 "AND x.version = p.version) "
                 "AND NOT EXISTS (SELECT 1 FROM plan_hosts h JOIN plans r ON r.id = h.plan_id "
                 "WHERE h.agent = ?1 AND r.app = p.app AND r.version = p.version AND r.created >= "
                 "p.created AND r.kind != 'task' AND (r.state = 'running' OR h.state NOT IN "
                 "('pending', 'skipped')))");
    if (!stmt)
        return;
    sqlite3_bind_text (stmt, 1, agent, -1, SQLITE_TRANSIENT);
    zlistx_t *wanted = zlistx_new ();
    zlistx_set_destructor (wanted, (zlistx_destructor_fn *)zstr_free);
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        zlistx_add_end (wanted, strdup ((const char *)sqlite3_column_text (stmt, 0)));
        zlistx_add_end (wanted, strdup ((const char *)sqlite3_column_text (stmt, 1)));
    }
    sqlite3_finalize (stmt);
    ctl_agent_t *row = NULL;
    ctl_agents_repo_by_name (ctl->store, agent, &row);
    const char *env = row ? row->env : NULL;
    for (char *app = zlistx_first (wanted); app && env; app = zlistx_next (wanted)) {
        char *version = zlistx_next (wanted);
        const char *targets[] = {agent, NULL};
        char err[256];
        char *plan_id = ctl_plans_create (ctl, app, version, env, "deploy", "controller",
                                          "converge: host lacks the environment's release", targets,
                                          err, sizeof err);
        if (plan_id)
            jad_log_info ("plans: converging agent=%s app=%s version=%s plan=%s", agent, app,
                          version, plan_id);
        else
            jad_log_warning ("plans: cannot converge agent=%s app=%s reason=\"%s\"", agent, app,
                             err);
        free (plan_id);
    }
    ctl_agent_destroy (&row);
    zlistx_destroy (&wanted);
}

void ctl_plans_on_hello (ctl_t *ctl, const char *agent)
{
    zlistx_t *unfinished = s_column_list (
        ctl->db,
        "SELECT h.plan_id FROM plan_hosts h JOIN plans p ON p.id = h.plan_id WHERE h.agent = ? "
        "AND p.state = 'running' AND h.state IN " S_UNFINISHED " ORDER BY p.created",
        agent);
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
    sqlite3_stmt *stmt = ctl_store_query (
        ctl->db,
        "SELECT h.plan_id, h.agent, h.state, p.skip_offline, coalesce (a.last_seen, 0) FROM "
        "plan_hosts h JOIN plans p ON p.id = h.plan_id LEFT JOIN agents a ON a.name = h.agent "
        "WHERE p.state = 'running' AND h.state IN " S_UNFINISHED " AND h.updated < ?",
        "i", now - (int64_t)ctl->config->step_deadline_ms);
    zlistx_t *late = zlistx_new ();
    zlistx_set_destructor (late, (zlistx_destructor_fn *)zstr_free);
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text (stmt, 2);
        bool offline = !ctl_plans_agent_online (ctl, sqlite3_column_int64 (stmt, 4));
        bool never_acked = streq (state, "pending");
        const char *verdict =
            offline && never_acked && sqlite3_column_int64 (stmt, 3) ? "skipped" : "failed";
        const char *detail = offline && never_acked ? "offline: no answer within the step deadline"
                                                    : "step deadline missed";
        zlistx_add_end (late, strdup ((const char *)sqlite3_column_text (stmt, 0)));
        zlistx_add_end (late, strdup ((const char *)sqlite3_column_text (stmt, 1)));
        zlistx_add_end (late, strdup (verdict));
        zlistx_add_end (late, strdup (detail));
    }
    sqlite3_finalize (stmt);
    for (char *plan_id = zlistx_first (late); plan_id; plan_id = zlistx_next (late)) {
        char *agent = zlistx_next (late), *verdict = zlistx_next (late),
             *detail = zlistx_next (late);
        ctl_store_run (ctl->db,
                       "UPDATE plan_hosts SET state = ?, detail = ?, updated = ?, finished = ? "
                       "WHERE plan_id = ? AND agent = ?",
                       "ttiitt", verdict, detail, now, now, plan_id, agent);
        ctl_rollout_decision (ctl, plan_id, "step_deadline", verdict, "%s: %s (deadline %ums)",
                              agent, detail, ctl->config->step_deadline_ms);
        if (!zlistx_find (touched, plan_id))
            zlistx_add_end (touched, strdup (plan_id));
    }
    zlistx_destroy (&late);
    for (char *plan_id = zlistx_first (touched); plan_id; plan_id = zlistx_next (touched))
        ctl_rollout_advance (ctl, plan_id);
    zlistx_purge (touched);
    //  the plan must move: paused plans and bakes wait on purpose
    stmt = ctl_store_query (ctl->db,
                            "SELECT id FROM plans WHERE state = 'running' AND paused = 0 AND "
                            "phase != 'bake' AND progress < ?",
                            "i", now - (int64_t)ctl->config->progress_deadline_ms);
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        zlistx_add_end (touched, strdup ((const char *)sqlite3_column_text (stmt, 0)));
    sqlite3_finalize (stmt);
    for (char *plan_id = zlistx_first (touched); plan_id; plan_id = zlistx_next (touched)) {
        char reason[128];
        snprintf (reason, sizeof reason, "no progress within the progress deadline (%ums)",
                  ctl->config->progress_deadline_ms);
        jad_log_warning ("plans: progress deadline missed plan=%s", plan_id);
        ctl_rollout_fail (ctl, plan_id, reason);
    }
    zlistx_destroy (&touched);
}

void ctl_plans_tick (ctl_t *ctl)
{
    int64_t now = jad_now_ms ();
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "SELECT h.plan_id, h.agent, a.last_seen FROM plan_hosts h "
                 "JOIN plans p ON p.id = h.plan_id JOIN agents a ON a.name = h.agent "
                 "WHERE p.state = 'running' AND h.state = 'pending' "
                 "AND coalesce (h.last_sent, 0) < ?");
    if (!stmt)
        return;
    sqlite3_bind_int64 (stmt, 1, now - ctl->config->resend_ms);
    zlistx_t *due = zlistx_new ();
    zlistx_set_destructor (due, (zlistx_destructor_fn *)zstr_free);
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        if (!ctl_plans_agent_online (ctl, sqlite3_column_int64 (stmt, 2)))
            continue;
        zlistx_add_end (due, strdup ((const char *)sqlite3_column_text (stmt, 0)));
        zlistx_add_end (due, strdup ((const char *)sqlite3_column_text (stmt, 1)));
    }
    sqlite3_finalize (stmt);
    for (char *plan_id = zlistx_first (due); plan_id; plan_id = zlistx_next (due)) {
        char *agent = zlistx_next (due);
        ctl_plans_send (ctl, plan_id, agent);
    }
    zlistx_destroy (&due);
    s_deadlines (ctl, now);
    ctl_rollout_tick (ctl);
}
