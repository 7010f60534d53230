//  ctl_plans - deployment plans: create, sign and send, track, decide
//  SPDX-License-Identifier: MPL-2.0
//
//  Host states: pending (sent, not acknowledged), acked, applying,
//  healthy, failed. A host is finished when healthy or failed; the agent
//  marks the end of its work with a report whose step is "done".

#include "ctl_plans.h"
#include "ctl_store.h"
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
    const jad_env_config_t *env_config = jad_controller_config_env (ctl->config, env);
    if (!env_config) {
        snprintf (err, errlen, "unknown environment '%s' (see controller.yaml)", env);
        return NULL;
    }
    int64_t length = 0;
    sqlite3_stmt *stmt =
        jad_db_prepare (ctl->db, "SELECT length FROM releases WHERE app = ? AND version = ?");
    if (!stmt) {
        snprintf (err, errlen, "database error");
        return NULL;
    }
    sqlite3_bind_text (stmt, 1, app, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, version, -1, SQLITE_TRANSIENT);
    bool found = sqlite3_step (stmt) == SQLITE_ROW;
    if (found)
        length = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    if (!found || length <= 0) {
        snprintf (err, errlen, "no release %s %s (add it with: jadctl release add)", app, version);
        return NULL;
    }
    zlistx_t *hosts = NULL;
    if (targets) {
        hosts = zlistx_new ();
        zlistx_set_destructor (hosts, (zlistx_destructor_fn *)zstr_free);
        for (const char *const *cursor = targets; *cursor; cursor++)
            zlistx_add_end (hosts, strdup (*cursor));
    } else
        hosts = s_column_list (ctl->db,
                               "SELECT name FROM agents WHERE env = ? AND state = 'accepted' "
                               "ORDER BY name",
                               env);
    if (!hosts || zlistx_size (hosts) == 0) {
        snprintf (err, errlen, "no agents in environment '%s'", env);
        zlistx_destroy (&hosts);
        return NULL;
    }
    char plan_id[17];
    jad_random_id (4, plan_id);
    int64_t now = jad_now_ms ();
    if (jad_db_begin (ctl->db))
        goto failed;
    stmt =
        jad_db_prepare (ctl->db, "INSERT INTO plans (id, app, version, env, kind, strategy, state, "
                                 "reason, deployer, created, progress) "
                                 "VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)");
    if (!stmt)
        goto failed;
    sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, app, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 3, version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 4, env, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 5, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 6, "all", -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 7, reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 8, deployer, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 9, now);
    sqlite3_bind_int64 (stmt, 10, now);
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE)
        goto failed;
    stmt = jad_db_prepare (ctl->db, "INSERT INTO plan_hosts (plan_id, agent, state, updated) "
                                    "VALUES (?, ?, 'pending', ?)");
    if (!stmt)
        goto failed;
    for (char *host = zlistx_first (hosts); host; host = zlistx_next (hosts)) {
        sqlite3_reset (stmt);
        sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 2, host, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 3, now);
        if (sqlite3_step (stmt) != SQLITE_DONE) {
            sqlite3_finalize (stmt);
            goto failed;
        }
    }
    sqlite3_finalize (stmt);
    if (jad_db_commit (ctl->db))
        goto failed;
    jad_log_info ("plans: created plan=%s app=%s version=%s env=%s kind=%s hosts=%zu by=%s",
                  plan_id, app, version, env, kind, zlistx_size (hosts), deployer);
    zlistx_destroy (&hosts);
    ctl_plans_send (ctl, plan_id, NULL);
    return strdup (plan_id);

failed:
    jad_db_rollback (ctl->db);
    zlistx_destroy (&hosts);
    snprintf (err, errlen, "database error while creating the plan");
    return NULL;
}

//  Build the plan payload for plan_id (targets from the list). NULL on error.
static jad_plan_t *s_plan_load (ctl_t *ctl, const char *plan_id)
{
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "SELECT p.app, p.version, p.env, p.kind, p.strategy, p.undoes, r.sha256, "
                 "r.length FROM plans p JOIN releases r ON r.app = p.app AND r.version = p.version "
                 "WHERE p.id = ?");
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
    plan->sequence = ctl_store_next_sequence (ctl->db);
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

void ctl_plans_on_ack (ctl_t *ctl, const char *agent, const char *plan_id)
{
    sqlite3_stmt *stmt = jad_db_prepare (ctl->db, "UPDATE plan_hosts SET state = 'acked', "
                                                  "updated = ? WHERE plan_id = ? AND agent = ? "
                                                  "AND state = 'pending'");
    if (!stmt)
        return;
    sqlite3_bind_int64 (stmt, 1, jad_now_ms ());
    sqlite3_bind_text (stmt, 2, plan_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 3, agent, -1, SQLITE_TRANSIENT);
    sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    ctl->counters[CTL_COUNT_ACKS]++;
}

//  If every host of the plan is finished, close the plan with its outcome.
static void s_plan_evaluate (ctl_t *ctl, const char *plan_id)
{
    sqlite3_stmt *stmt =
        jad_db_prepare (ctl->db, "SELECT count(*), sum(state = 'healthy'), sum(state = 'failed') "
                                 "FROM plan_hosts WHERE plan_id = ?");
    if (!stmt)
        return;
    sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
    int64_t total = 0, healthy = 0, failed = 0;
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        total = sqlite3_column_int64 (stmt, 0);
        healthy = sqlite3_column_int64 (stmt, 1);
        failed = sqlite3_column_int64 (stmt, 2);
    }
    sqlite3_finalize (stmt);
    if (total == 0 || healthy + failed < total)
        return;
    char reason[512];
    if (failed == 0)
        snprintf (reason, sizeof reason, "%s%lld host%s healthy", total > 1 ? "all " : "",
                  (long long)total, total == 1 ? "" : "s");
    else {
        char *first = NULL;
        jad_db_get_text (ctl->db,
                         "SELECT agent || ' (' || coalesce (step, '?') || ': ' || "
                         "coalesce (detail, 'failed') || ')' FROM plan_hosts WHERE plan_id = ? "
                         "AND state = 'failed' ORDER BY agent LIMIT 1",
                         plan_id, &first);
        snprintf (reason, sizeof reason, "%lld of %lld host%s failed: %s", (long long)failed,
                  (long long)total, total == 1 ? "" : "s", first ? first : "?");
        free (first);
    }
    stmt = jad_db_prepare (ctl->db, "UPDATE plans SET state = ?, finished = ?, reason = ? "
                                    "WHERE id = ? AND state = 'running'");
    if (!stmt)
        return;
    sqlite3_bind_text (stmt, 1, failed ? "failed" : "succeeded", -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, jad_now_ms ());
    sqlite3_bind_text (stmt, 3, reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 4, plan_id, -1, SQLITE_TRANSIENT);
    sqlite3_step (stmt);
    if (sqlite3_changes (ctl->db) > 0)
        jad_log_info ("plans: finished plan=%s outcome=%s reason=\"%s\"", plan_id,
                      failed ? "failed" : "succeeded", reason);
    sqlite3_finalize (stmt);
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
    sqlite3_stmt *stmt = jad_db_prepare (ctl->db, "INSERT OR IGNORE INTO reports_seen (agent, "
                                                  "incarnation, report_id) VALUES (?, ?, ?)");
    if (!stmt)
        goto failed;
    sqlite3_bind_text (stmt, 1, agent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, report->incarnation, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 3, (int64_t)report->report_id);
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE)
        goto failed;
    if (sqlite3_changes (ctl->db) == 0) {
        ctl->counters[CTL_COUNT_REPORTS_DUPLICATE]++;
        return jad_db_commit (ctl->db);
    }
    stmt = jad_db_prepare (ctl->db, "INSERT INTO events (plan_id, agent, time, step, status, "
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
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE)
        goto failed;

    const char *state = s_host_state (report);
    stmt =
        jad_db_prepare (ctl->db, "UPDATE plan_hosts SET state = coalesce (?, state), step = ?, "
                                 "detail = coalesce (?, detail), updated = ? WHERE plan_id = ? AND "
                                 "agent = ? AND state NOT IN ('healthy', 'failed')");
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
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE)
        goto failed;
    stmt = jad_db_prepare (ctl->db, "UPDATE plans SET progress = ? WHERE id = ?");
    if (!stmt)
        goto failed;
    sqlite3_bind_int64 (stmt, 1, now);
    sqlite3_bind_text (stmt, 2, report->plan_id, -1, SQLITE_TRANSIENT);
    sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (report->status == JAD_REPORT_HEALTHY && report->app && report->version) {
        stmt = jad_db_prepare (ctl->db,
                               "INSERT INTO agent_apps (agent, app, version, health, plan_id, "
                               "updated) VALUES (?, ?, ?, 'healthy', ?, ?) ON CONFLICT (agent, "
                               "app) DO UPDATE SET version = excluded.version, health = "
                               "excluded.health, plan_id = excluded.plan_id, updated = "
                               "excluded.updated");
        if (!stmt)
            goto failed;
        sqlite3_bind_text (stmt, 1, agent, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 2, report->app, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 3, report->version, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 4, report->plan_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 5, now);
        sqlite3_step (stmt);
        sqlite3_finalize (stmt);
    }
    if (state)
        s_plan_evaluate (ctl, report->plan_id);
    if (jad_db_commit (ctl->db))
        goto failed;
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
//  deployed successfully, unless it already had a plan for that release.
static void s_converge (ctl_t *ctl, const char *agent)
{
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db,
        "SELECT p.app, p.version FROM plans p JOIN agents a ON a.env = p.env "
        "WHERE a.name = ?1 AND p.state = 'succeeded' AND p.created = (SELECT max (q.created) "
        "FROM plans q WHERE q.env = p.env AND q.app = p.app AND q.state = 'succeeded') "
        "AND NOT EXISTS (SELECT 1 FROM agent_apps x WHERE x.agent = ?1 AND x.app = p.app "
        "AND x.version = p.version) "
        "AND NOT EXISTS (SELECT 1 FROM plan_hosts h JOIN plans r ON r.id = h.plan_id "
        "WHERE h.agent = ?1 AND r.app = p.app AND r.version = p.version AND r.created >= "
        "p.created AND (r.state = 'running' OR h.state != 'pending'))");
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
    char *env = NULL;
    jad_db_get_text (ctl->db, "SELECT env FROM agents WHERE name = ?", agent, &env);
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
    free (env);
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

//  Fail hosts stuck in a step and plans without progress.
static void s_deadlines (ctl_t *ctl, int64_t now)
{
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "UPDATE plan_hosts SET state = 'failed', detail = 'step deadline missed', "
                 "updated = ?1 WHERE state IN " S_UNFINISHED " AND updated < ?2 AND plan_id IN "
                 "(SELECT id FROM plans WHERE state = 'running') RETURNING plan_id");
    zlistx_t *touched = zlistx_new ();
    zlistx_set_destructor (touched, (zlistx_destructor_fn *)zstr_free);
    zlistx_set_comparator (touched, (zlistx_comparator_fn *)strcmp);
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, now);
        sqlite3_bind_int64 (stmt, 2, now - ctl->config->step_deadline_ms);
        while (sqlite3_step (stmt) == SQLITE_ROW) {
            const char *plan_id = (const char *)sqlite3_column_text (stmt, 0);
            if (plan_id && !zlistx_find (touched, (void *)plan_id))
                zlistx_add_end (touched, strdup (plan_id));
        }
        sqlite3_finalize (stmt);
    }
    for (char *plan_id = zlistx_first (touched); plan_id; plan_id = zlistx_next (touched)) {
        jad_log_warning ("plans: step deadline missed plan=%s", plan_id);
        s_plan_evaluate (ctl, plan_id);
    }
    zlistx_destroy (&touched);
    stmt = jad_db_prepare (ctl->db, "UPDATE plans SET state = 'failed', finished = ?1, reason = "
                                    "'no progress within the progress deadline' WHERE state = "
                                    "'running' AND progress < ?2");
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, now);
        sqlite3_bind_int64 (stmt, 2, now - ctl->config->progress_deadline_ms);
        sqlite3_step (stmt);
        if (sqlite3_changes (ctl->db) > 0)
            jad_log_warning ("plans: progress deadline missed plans=%d", sqlite3_changes (ctl->db));
        sqlite3_finalize (stmt);
    }
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
}
