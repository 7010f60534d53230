//  ctl_rollout - the rollout engine: batches, canary and bake, migrations,
//  coordinated rollback
//  SPDX-License-Identifier: MPL-2.0
//
//  See ctl_rollout.h for the phases. Everything here reads the plan from
//  SQLite, decides, writes the decision back and returns: no rollout state
//  lives in memory between calls.

#include "ctl_rollout.h"
#include "ctl_agents_repo.h"
#include "ctl_releases_repo.h"
#include "ctl_plans.h"
#include "ctl_policy.h"
#include "ctl_store_legacy.h"
#include "jad_db.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdarg.h>
#include <string.h>

#define S_UNFINISHED "('pending', 'acked', 'applying')"
#define S_CHANGED    "('pending', 'acked', 'applying', 'healthy')"
//  plans.reason when a plan ends with outcome ?2: a rollback keeps its
//  reason and gets the outcome appended, other plans take the outcome
#define S_OUTCOME_REASON                                                                           \
    "(CASE WHEN kind = 'rollback' AND reason IS NOT NULL THEN substr (reason || '; ' || ?2, 1, "   \
    "2000) ELSE ?2 END)"

void ctl_rollout_decision (ctl_t *ctl, const char *plan_id, const char *rule, const char *decision,
                           const char *format, ...)
{
    char detail[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (detail, sizeof detail, format, args);
    va_end (args);
    ctl_store_run (ctl->db,
                   "INSERT INTO events (plan_id, agent, time, step, status, detail, duration_ms) "
                   "VALUES (?, 'controller', ?, ?, ?, ?, 0)",
                   "tittt", plan_id, jad_now_ms (), rule, decision, detail);
    jad_log_info ("rollout: plan=%s rule=%s decision=%s detail=\"%s\"", plan_id, rule, decision,
                  detail);
}

//  First column of every row as a list of strings.
static zlistx_t *s_list (sqlite3_stmt *stmt)
{
    zlistx_t *list = zlistx_new ();
    if (list)
        zlistx_set_destructor (list, (zlistx_destructor_fn *)zstr_free);
    while (stmt && list && sqlite3_step (stmt) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text (stmt, 0);
        if (text)
            zlistx_add_end (list, strdup (text));
    }
    sqlite3_finalize (stmt);
    return list;
}

//  "a, b, c" of a list, bounded.
static void s_join (zlistx_t *list, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (char *item = list ? zlistx_first (list) : NULL; item && used < len;
         item = zlistx_next (list))
        used += (size_t)snprintf (buf + used, len - used, "%s%s", used ? ", " : "", item);
}

static char *s_text (sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text (stmt, column);
    return text ? strdup (text) : NULL;
}

//  --------------------------------------------------------------------------
//  Create

//  Version the environment ran before: the last succeeded deploy or
//  rollback of app there, else the version most of its hosts report.
static char *s_previous_version (ctl_t *ctl, const char *app, const char *env)
{
    char *version = NULL;
    sqlite3_stmt *stmt = ctl_store_query (
        ctl->db,
        "SELECT version FROM plans WHERE app = ? AND env = ? AND kind IN ('deploy', 'rollback') "
        "AND state = 'succeeded' ORDER BY created DESC, seq DESC LIMIT 1",
        "tt", app, env);
    if (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        version = s_text (stmt, 0);
    sqlite3_finalize (stmt);
    if (version)
        return version;
    ctl_agents_repo_common_version (ctl->store, env, app, &version);
    return version;
}

//  Hosts per batch for `spec` ("N" or "N%") of `total` hosts, >= 1.
static size_t s_batch_size (const char *spec, size_t total)
{
    if (!spec || !*spec)
        return total;
    size_t len = strlen (spec);
    long value = atol (spec);
    if (value <= 0)
        return total;
    size_t size = spec[len - 1] == '%' ? ((size_t)value * total + 99) / 100 : (size_t)value;
    return size ? size : 1;
}

char *ctl_rollout_create (ctl_t *ctl, const ctl_plan_spec_t *spec, char *err, size_t errlen)
{
    const jad_env_config_t *env = jad_controller_config_env (ctl->config, spec->env);
    if (!env) {
        snprintf (err, errlen, "unknown environment '%s' (see controller.yaml)", spec->env);
        return NULL;
    }
    int64_t length = 0;
    ctl_release_t *release = NULL;
    if (ctl_releases_repo_get (ctl->store, spec->app, spec->version, &release) == 0)
        length = release->length;
    ctl_release_destroy (&release);
    if (length <= 0) {
        snprintf (err, errlen, "no release %s %s (add it with: jadctl release add)", spec->app,
                  spec->version);
        return NULL;
    }
    //  tasks belong to a plan that passed this check
    if (!streq (spec->kind, "task") &&
        ctl_policy_check_floor (ctl, spec->app, spec->version, err, errlen) != 0)
        return NULL;
    zlistx_t *hosts = NULL;
    if (spec->targets) {
        hosts = zlistx_new ();
        zlistx_set_destructor (hosts, (zlistx_destructor_fn *)zstr_free);
        for (const char *const *cursor = spec->targets; *cursor; cursor++)
            zlistx_add_end (hosts, strdup (*cursor));
    } else
        hosts = ctl_agents_repo_accepted (ctl->store, spec->env);
    if (!hosts || zlistx_size (hosts) == 0) {
        snprintf (err, errlen, "no agents in environment '%s'", spec->env);
        zlistx_destroy (&hosts);
        return NULL;
    }
    bool task = streq (spec->kind, "task");
    bool rollback = streq (spec->kind, "rollback");
    const char *strategy = spec->strategy ? spec->strategy : env->strategy;
    const char *batch = spec->batch ? spec->batch : env->batch;
    if (task || rollback) {
        //  a rollback skips canary and bake; only concurrency limits it
        strategy = task ? "all" : "rolling";
        batch = NULL;
    }
    if (!strategy)
        strategy = "all";
    size_t total = zlistx_size (hosts);
    uint32_t canary = 0, bake_ms = 0;
    if (streq (strategy, "canary")) {
        canary = spec->canary ? spec->canary : (env->canary ? env->canary : 1);
        bake_ms = spec->bake_set ? spec->bake_ms : env->bake_ms;
    }
    size_t per = streq (strategy, "all") ? total : s_batch_size (batch, total);
    if (!task && env->concurrency && per > env->concurrency)
        per = env->concurrency;
    if (!task && env->concurrency && canary > env->concurrency)
        canary = env->concurrency;
    if (canary > total)
        canary = (uint32_t)total;
    char *previous = NULL;
    if (!task)
        previous = spec->previous ? strdup (spec->previous)
                                  : s_previous_version (ctl, spec->app, spec->env);

    char plan_id[17];
    jad_random_id (4, plan_id);
    int64_t now = jad_now_ms ();
    size_t rest = total - canary;
    size_t batches = (canary ? 1 : 0) + (rest + per - 1) / per;
    if (jad_db_begin (ctl->db))
        goto failed;
    char bake_text[32];
    snprintf (bake_text, sizeof bake_text, "%u", bake_ms);
    if (ctl_store_run (
            ctl->db,
            "INSERT INTO plans (id, app, version, env, kind, strategy, state, reason, deployer, "
            "created, progress, undoes, batch, canary, bake_ms, phase, batches, emergency, "
            "skip_offline, previous, parent, action, migrations, seq) VALUES (?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce (max (seq), 0) + 1 "
            "FROM plans))",
            "tttttttttiittiitititttt", plan_id, spec->app, spec->version, spec->env, spec->kind,
            strategy, spec->awaiting_approval ? "approval" : "running",
            spec->reason ? spec->reason : "deploy requested", spec->deployer, now, now,
            spec->undoes, streq (strategy, "all") ? NULL : batch, (int64_t)canary, (int64_t)bake_ms,
            spec->awaiting_approval ? "approval" : "starting", (int64_t)batches, spec->emergency,
            (int64_t)spec->skip_offline, previous, spec->parent,
            spec->action ? spec->action : "apply", spec->migrations) != 1)
        goto failed;
    size_t index = 0;
    sqlite3_stmt *stmt =
        jad_db_prepare (ctl->db, "INSERT INTO plan_hosts (plan_id, agent, state, updated, "
                                 "batch) VALUES (?, ?, 'waiting', ?, ?)");
    if (!stmt)
        goto failed;
    for (char *host = zlistx_first (hosts); host; host = zlistx_next (hosts), index++) {
        size_t number = canary ? (index < canary ? 0 : 1 + (index - canary) / per) : index / per;
        sqlite3_reset (stmt);
        sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 2, host, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 3, now);
        sqlite3_bind_int64 (stmt, 4, (int64_t)number);
        if (sqlite3_step (stmt) != SQLITE_DONE) {
            sqlite3_finalize (stmt);
            goto failed;
        }
    }
    sqlite3_finalize (stmt);
    if (jad_db_commit (ctl->db))
        goto failed;
    jad_log_info ("plans: created plan=%s app=%s version=%s env=%s kind=%s hosts=%zu by=%s",
                  plan_id, spec->app, spec->version, spec->env, spec->kind, total, spec->deployer);
    if (!task) {
        char canary_text[64] = "";
        if (canary)
            snprintf (canary_text, sizeof canary_text, ", canary %u host%s, bake %s", canary,
                      canary == 1 ? "" : "s", bake_ms ? bake_text : "0");
        if (canary && bake_ms)
            snprintf (canary_text, sizeof canary_text, ", canary %u host%s, bake %ums", canary,
                      canary == 1 ? "" : "s", bake_ms);
        ctl_rollout_decision (
            ctl, plan_id, "strategy", "planned",
            "%s: %zu host%s in %zu batch%s (batch %s%s%s)%s; rollback target %s", strategy, total,
            total == 1 ? "" : "s", batches, batches == 1 ? "" : "es",
            batch && !streq (strategy, "all") ? batch : "all",
            env->concurrency ? ", concurrency " : "", env->concurrency ? "limited" : "",
            canary_text, previous ? previous : "none");
    }
    if (spec->awaiting_approval) {
        char roles[512] = "";
        size_t used = 0;
        for (size_t role = 0; role < env->emergency_approval_count && used < sizeof roles; role++)
            used += (size_t)snprintf (roles + used, sizeof roles - used, "%s%s", role ? ", " : "",
                                      env->emergency_approvals[role]);
        ctl_rollout_decision (ctl, plan_id, "emergency_approvals", "waiting",
                              "emergency deploy (reason: %s) waits for approval by: %s",
                              spec->emergency ? spec->emergency : "-", roles);
    }
    free (previous);
    zlistx_destroy (&hosts);
    if (!spec->awaiting_approval)
        ctl_rollout_start (ctl, plan_id);
    return strdup (plan_id);

failed:
    jad_db_rollback (ctl->db);
    free (previous);
    zlistx_destroy (&hosts);
    snprintf (err, errlen, "database error while creating the plan");
    return NULL;
}

//  --------------------------------------------------------------------------
//  Start, batches, tasks

//  Release hosts of batch `number` and send them the plan.
static void s_start_batch (ctl_t *ctl, const char *plan_id, int64_t number, int64_t batches)
{
    int64_t now = jad_now_ms ();
    zlistx_t *hosts = s_list (ctl_store_query (
        ctl->db, "SELECT agent FROM plan_hosts WHERE plan_id = ? AND batch = ? ORDER BY agent",
        "ti", plan_id, number));
    ctl_store_run (ctl->db,
                   "UPDATE plan_hosts SET state = 'pending', started = ?1, updated = ?1 WHERE "
                   "plan_id = ?2 AND batch = ?3 AND state = 'waiting'",
                   "iti", now, plan_id, number);
    ctl_store_run (ctl->db,
                   "UPDATE plans SET phase = 'rollout', current_batch = ?, progress = ? WHERE "
                   "id = ?",
                   "iit", number, now, plan_id);
    char names[768];
    s_join (hosts, names, sizeof names);
    char *kind = NULL;
    jad_db_get_text (ctl->db, "SELECT kind FROM plans WHERE id = ?", plan_id, &kind);
    if (kind && !streq (kind, "task"))
        ctl_rollout_decision (ctl, plan_id, "batch", "started", "batch %lld/%lld: %s",
                              (long long)number + 1, (long long)batches, names);
    free (kind);
    zlistx_destroy (&hosts);
    ctl_plans_send (ctl, plan_id, NULL);
}

//  One host to run a task on: the first online of `candidates` (SQL
//  returning names in preference order), else the first at all.
static char *s_choose_host (ctl_t *ctl, sqlite3_stmt *candidates)
{
    char *chosen = NULL, *fallback = NULL;
    while (candidates && sqlite3_step (candidates) == SQLITE_ROW) {
        if (!fallback)
            fallback = s_text (candidates, 0);
        if (ctl_plans_agent_online (ctl, sqlite3_column_int64 (candidates, 1))) {
            chosen = s_text (candidates, 0);
            break;
        }
    }
    sqlite3_finalize (candidates);
    if (chosen) {
        free (fallback);
        return chosen;
    }
    return fallback;
}

//  Create a task for plan_id and record it as the plan's task.
static int s_start_task (ctl_t *ctl, const char *plan_id, const char *app, const char *version,
                         const char *env, const char *action, const char *const *targets,
                         const char *migrations, const char *phase)
{
    char err[256];
    ctl_plan_spec_t spec = {.app = app,
                            .version = version,
                            .env = env,
                            .kind = "task",
                            .deployer = "controller",
                            .reason = action,
                            .targets = targets,
                            .parent = plan_id,
                            .action = action,
                            .migrations = migrations};
    char *task_id = ctl_rollout_create (ctl, &spec, err, sizeof err);
    if (!task_id) {
        char reason[400];
        snprintf (reason, sizeof reason, "cannot start %s: %s", action, err);
        ctl_rollout_fail (ctl, plan_id, reason);
        return -1;
    }
    ctl_store_run (ctl->db,
                   "UPDATE plans SET task = ?, phase = ?, phase_started = ?, progress = ? "
                   "WHERE id = ?",
                   "ttiit", task_id, phase, jad_now_ms (), jad_now_ms (), plan_id);
    free (task_id);
    return 0;
}

//  Versions whose migrations a rollback of app in env to `version`
//  crosses, newest first (comma list, caller frees), or NULL if none.
//  Sets *irreversible to a version without migrate_down if there is one.
static char *s_crossed_migrations (ctl_t *ctl, const char *app, const char *env,
                                   const char *version, char **irreversible)
{
    sqlite3_stmt *stmt = ctl_store_query (
        ctl->db,
        "SELECT m.version, r.migrate_down FROM migrations m JOIN releases r ON r.app = m.app AND "
        "r.version = m.version WHERE m.env = ?1 AND m.app = ?2 AND m.state = 'up' AND "
        "m.version != ?3 AND r.created > coalesce ((SELECT created FROM releases WHERE app = ?2 "
        "AND version = ?3), 0) ORDER BY r.created DESC, r.counter DESC",
        "ttt", env, app, version);
    char list[JAD_MAX_MIGRATIONS * 66] = "";
    size_t used = 0;
    int count = 0;
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW && count < JAD_MAX_MIGRATIONS) {
        const char *crossed = (const char *)sqlite3_column_text (stmt, 0);
        if (!sqlite3_column_int64 (stmt, 1) && !*irreversible)
            *irreversible = strdup (crossed);
        used +=
            (size_t)snprintf (list + used, sizeof list - used, "%s%s", used ? "," : "", crossed);
        count++;
    }
    sqlite3_finalize (stmt);
    return count ? strdup (list) : NULL;
}

int ctl_rollout_start (ctl_t *ctl, const char *plan_id)
{
    sqlite3_stmt *stmt = ctl_store_query (
        ctl->db,
        "SELECT p.kind, p.app, p.version, p.env, p.batches, r.migrate_up, "
        "EXISTS (SELECT 1 FROM migrations m WHERE m.env = p.env AND m.app = p.app AND "
        "m.version = p.version AND m.state = 'up') FROM plans p JOIN releases r ON r.app = p.app "
        "AND r.version = p.version WHERE p.id = ?",
        "t", plan_id);
    if (!stmt || sqlite3_step (stmt) != SQLITE_ROW) {
        sqlite3_finalize (stmt);
        return -1;
    }
    char *kind = s_text (stmt, 0), *app = s_text (stmt, 1), *version = s_text (stmt, 2),
         *env = s_text (stmt, 3);
    int64_t batches = sqlite3_column_int64 (stmt, 4);
    bool has_up = sqlite3_column_int64 (stmt, 5) != 0;
    bool migrated = sqlite3_column_int64 (stmt, 6) != 0;
    sqlite3_finalize (stmt);
    ctl_store_run (ctl->db,
                   "UPDATE plans SET state = 'running', progress = ? WHERE id = ? AND state = "
                   "'approval'",
                   "it", jad_now_ms (), plan_id);
    int rc = 0;
    if (streq (kind, "deploy") && has_up && !migrated) {
        //  migrate_up once per environment, on the first host of batch 0
        //  that is online, before any host switches
        char *host = s_choose_host (
            ctl, ctl_store_query (ctl->db,
                                  "SELECT h.agent, a.last_seen FROM plan_hosts h JOIN agents a "
                                  "ON a.name = h.agent WHERE h.plan_id = ? ORDER BY h.batch, "
                                  "h.agent",
                                  "t", plan_id));
        const char *targets[] = {host, NULL};
        ctl_rollout_decision (ctl, plan_id, "migrate_up", "started",
                              "%s %s has migrate_up, not yet run in %s: running it once on %s "
                              "before any host switches",
                              app, version, env, host ? host : "-");
        rc = s_start_task (ctl, plan_id, app, version, env, "migrate_up", targets, NULL, "migrate");
        free (host);
    } else if (streq (kind, "rollback")) {
        char *irreversible = NULL;
        char *crossed = s_crossed_migrations (ctl, app, env, version, &irreversible);
        if (irreversible) {
            char reason[256];
            snprintf (reason, sizeof reason,
                      "cannot roll back across %s %s: it ran migrate_up but has no migrate_down",
                      app, irreversible);
            ctl_rollout_fail (ctl, plan_id, reason);
            rc = -1;
        } else if (crossed) {
            //  on a host that ran the newest crossed release: it has them on disk
            char newest[JAD_NAME_MAX + 1];
            snprintf (newest, sizeof newest, "%.*s", (int)strcspn (crossed, ","), crossed);
            char *host = s_choose_host (
                ctl, ctl_store_query (ctl->db,
                                      "SELECT h.agent, a.last_seen FROM plan_hosts h JOIN agents "
                                      "a ON a.name = h.agent LEFT JOIN agent_apps x ON x.agent = "
                                      "h.agent AND x.app = ?2 WHERE h.plan_id = ?1 ORDER BY "
                                      "(x.version IS ?3) DESC, h.agent",
                                      "ttt", plan_id, app, newest));
            const char *targets[] = {host, NULL};
            ctl_rollout_decision (ctl, plan_id, "migrate_down", "started",
                                  "rolling back to %s crosses migrations of %s: running their "
                                  "migrate_down in that order on %s before switching code back",
                                  version, crossed, host ? host : "-");
            rc = s_start_task (ctl, plan_id, app, version, env, "migrate_down", targets, crossed,
                               "migrate");
            free (host);
        } else
            s_start_batch (ctl, plan_id, 0, batches);
        free (crossed);
        free (irreversible);
    } else
        s_start_batch (ctl, plan_id, 0, batches);
    free (kind), free (app), free (version), free (env);
    return rc;
}

//  --------------------------------------------------------------------------
//  Outcomes

static void s_succeed (ctl_t *ctl, const char *plan_id, int64_t total, int64_t skipped)
{
    char reason[256];
    if (skipped)
        snprintf (reason, sizeof reason, "%lld of %lld hosts healthy, %lld offline skipped",
                  (long long)(total - skipped), (long long)total, (long long)skipped);
    else
        snprintf (reason, sizeof reason, "%s%lld host%s healthy", total > 1 ? "all " : "",
                  (long long)total, total == 1 ? "" : "s");
    //  A rollback keeps why it was made (an alert's values, an operator's
    //  request) and gets its outcome appended.
    if (ctl_store_run (ctl->db,
                       "UPDATE plans SET state = 'succeeded', phase = 'done', finished = ?1, "
                       "reason = " S_OUTCOME_REASON " WHERE id = ?3 AND state = 'running'",
                       "itt", jad_now_ms (), reason, plan_id) > 0)
        jad_log_info ("plans: finished plan=%s outcome=succeeded reason=\"%s\"", plan_id, reason);
}

//  Coordinated rollback of a failed deploy: a rollback plan to the
//  release before it, on every host the plan touched.
static void s_roll_back (ctl_t *ctl, const char *plan_id, const char *reason)
{
    sqlite3_stmt *stmt = ctl_store_query (
        ctl->db,
        "SELECT app, version, env, previous, task, EXISTS (SELECT 1 FROM migrations m WHERE "
        "m.env = p.env AND m.app = p.app AND m.version = p.version AND m.state = 'up' AND "
        "m.plan_id IN (SELECT id FROM plans WHERE parent = p.id)) FROM plans p WHERE id = ?",
        "t", plan_id);
    if (!stmt || sqlite3_step (stmt) != SQLITE_ROW) {
        sqlite3_finalize (stmt);
        return;
    }
    char *app = s_text (stmt, 0), *version = s_text (stmt, 1), *env = s_text (stmt, 2),
         *previous = s_text (stmt, 3);
    bool migrated_here = sqlite3_column_int64 (stmt, 5) != 0;
    sqlite3_finalize (stmt);
    zlistx_t *changed = s_list (ctl_store_query (
        ctl->db,
        "SELECT agent FROM plan_hosts WHERE plan_id = ? AND state IN " S_CHANGED " ORDER BY agent",
        "t", plan_id));
    if (changed && zlistx_size (changed) == 0 && migrated_here) {
        //  no host switched, but the migration ran: undo it on its host
        zlistx_destroy (&changed);
        changed = s_list (ctl_store_query (
            ctl->db,
            "SELECT h.agent FROM plan_hosts h JOIN plans t ON t.id = h.plan_id WHERE "
            "t.parent = ? AND t.action = 'migrate_up'",
            "t", plan_id));
    }
    if (!changed || zlistx_size (changed) == 0)
        ctl_rollout_decision (ctl, plan_id, "rollback", "not needed",
                              "no other host runs %s and no migration ran (a host whose own "
                              "step failed went back by itself)",
                              version);
    else if (!previous)
        ctl_rollout_decision (ctl, plan_id, "rollback", "impossible",
                              "no release ran in %s before %s: hosts that switched keep it", env,
                              version);
    else {
        size_t count = zlistx_size (changed);
        const char **targets = calloc (count + 1, sizeof (char *));
        size_t index = 0;
        for (char *host = zlistx_first (changed); targets && host; host = zlistx_next (changed))
            targets[index++] = host;
        char why[600];
        snprintf (why, sizeof why, "automatic rollback: %s", reason);
        ctl_plan_spec_t spec = {.app = app,
                                .version = previous,
                                .env = env,
                                .kind = "rollback",
                                .deployer = "controller",
                                .reason = why,
                                .targets = targets,
                                .undoes = plan_id,
                                .previous = previous,
                                .skip_offline = true};
        char err[256];
        char *rollback_id = targets ? ctl_rollout_create (ctl, &spec, err, sizeof err) : NULL;
        if (rollback_id) {
            ctl_store_run (ctl->db, "UPDATE plans SET rolled_back_by = ? WHERE id = ?", "tt",
                           rollback_id, plan_id);
            char names[768];
            s_join (changed, names, sizeof names);
            ctl_rollout_decision (ctl, plan_id, "rollback", "started",
                                  "plan %s rolls %s back to %s on %s", rollback_id, env, previous,
                                  names);
        } else
            ctl_rollout_decision (ctl, plan_id, "rollback", "failed", "cannot create: %s",
                                  targets ? err : "out of memory");
        free (rollback_id);
        free (targets);
    }
    zlistx_destroy (&changed);
    free (app), free (version), free (env), free (previous);
}

int ctl_rollout_fail (ctl_t *ctl, const char *plan_id, const char *reason)
{
    char *kind = NULL, *task = NULL;
    jad_db_get_text (ctl->db, "SELECT kind FROM plans WHERE id = ?", plan_id, &kind);
    jad_db_get_text (ctl->db, "SELECT task FROM plans WHERE id = ?", plan_id, &task);
    int rc = -1;
    if (ctl_store_run (ctl->db,
                       "UPDATE plans SET state = 'failed', phase = 'done', finished = ?1, "
                       "reason = " S_OUTCOME_REASON " WHERE id = ?3 AND state IN ('running', "
                       "'approval')",
                       "itt", jad_now_ms (), reason, plan_id) <= 0)
        goto done;
    rc = 0;
    jad_log_info ("plans: finished plan=%s outcome=failed reason=\"%s\"", plan_id, reason);
    ctl_store_run (ctl->db,
                   "UPDATE plan_hosts SET state = 'cancelled', updated = ? WHERE plan_id = ? AND "
                   "state = 'waiting'",
                   "it", jad_now_ms (), plan_id);
    if (kind && streq (kind, "task"))
        goto done;
    ctl_rollout_decision (ctl, plan_id, "outcome", "failed", "%s", reason);
    if (task)
        ctl_rollout_fail (ctl, task, "the plan it served failed");
    if (kind && streq (kind, "deploy"))
        s_roll_back (ctl, plan_id, reason);
done:
    free (kind);
    free (task);
    return rc;
}

//  --------------------------------------------------------------------------
//  Advance

//  "host (step: detail)" of the first failed host, or NULL.
static char *s_first_failure (ctl_t *ctl, const char *plan_id)
{
    char *first = NULL;
    jad_db_get_text (ctl->db,
                     "SELECT agent || ' (' || coalesce (step, '?') || ': ' || "
                     "coalesce (detail, 'failed') || ')' FROM plan_hosts WHERE plan_id = ? "
                     "AND state = 'failed' ORDER BY updated, agent LIMIT 1",
                     plan_id, &first);
    return first;
}

//  An alert rule of env that cannot decide (too few samples) pauses a
//  deploy at its gates (end of bake, next batch) for an operator: it never
//  passes it. A rule that became inconclusive before the operator's last
//  resume was seen by the operator and is let through. Returns true if
//  the plan was paused.
static bool s_pause_if_inconclusive (ctl_t *ctl, const char *plan_id, const char *env)
{
    int64_t resumed = 0;
    sqlite3_stmt *stmt =
        ctl_store_query (ctl->db,
                         "SELECT coalesce (max (time), 0) FROM events WHERE plan_id = ? AND "
                         "agent = 'controller' AND step = 'operator' AND status = 'resumed'",
                         "t", plan_id);
    if (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        resumed = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    char why[512] = "";
    if (!ctl_alerts_inconclusive (ctl, env, resumed, why, sizeof why))
        return false;
    if (ctl_store_run (ctl->db,
                       "UPDATE plans SET paused = 1, progress = ? WHERE id = ? AND state = "
                       "'running' AND paused = 0",
                       "it", jad_now_ms (), plan_id) == 1)
        ctl_rollout_decision (ctl, plan_id, "alert", "paused",
                              "%s; the plan waits for an operator: jadctl plan resume %s goes on, "
                              "jadctl plan abort %s rolls back",
                              why, plan_id, plan_id);
    return true;
}

void ctl_rollout_advance (ctl_t *ctl, const char *plan_id)
{
    sqlite3_stmt *stmt = ctl_store_query (
        ctl->db,
        "SELECT kind, phase, current_batch, batches, paused, baked, bake_ms, phase_started, "
        "task, parent, env, strategy, app, version, "
        "(SELECT count(*) FROM plan_hosts h WHERE h.plan_id = p.id), "
        "(SELECT count(*) FROM plan_hosts h WHERE h.plan_id = p.id AND h.state = 'failed'), "
        "(SELECT count(*) FROM plan_hosts h WHERE h.plan_id = p.id AND h.state = 'skipped'), "
        "(SELECT count(*) FROM plan_hosts h WHERE h.plan_id = p.id AND h.batch = p.current_batch "
        "AND h.state IN " S_UNFINISHED ") "
        "FROM plans p WHERE id = ? AND state = 'running'",
        "t", plan_id);
    if (!stmt || sqlite3_step (stmt) != SQLITE_ROW) {
        sqlite3_finalize (stmt);
        return;
    }
    char *kind = s_text (stmt, 0), *phase = s_text (stmt, 1), *task = s_text (stmt, 8),
         *parent = s_text (stmt, 9), *env = s_text (stmt, 10), *strategy = s_text (stmt, 11),
         *app = s_text (stmt, 12), *version = s_text (stmt, 13);
    int64_t current = sqlite3_column_int64 (stmt, 2), batches = sqlite3_column_int64 (stmt, 3);
    bool paused = sqlite3_column_int64 (stmt, 4) != 0, baked = sqlite3_column_int64 (stmt, 5) != 0;
    int64_t bake_ms = sqlite3_column_int64 (stmt, 6),
            phase_started = sqlite3_column_int64 (stmt, 7);
    int64_t total = sqlite3_column_int64 (stmt, 14), failed = sqlite3_column_int64 (stmt, 15),
            skipped = sqlite3_column_int64 (stmt, 16), in_flight = sqlite3_column_int64 (stmt, 17);
    sqlite3_finalize (stmt);
    bool is_task = kind && streq (kind, "task");
    int64_t now = jad_now_ms ();

    if (failed > 0) {
        char *first = s_first_failure (ctl, plan_id);
        char reason[700];
        snprintf (reason, sizeof reason, "%s%s%s", is_task ? "" : "host ",
                  first ? first : "a host failed", "");
        if (!is_task) {
            snprintf (reason, sizeof reason, "batch %lld/%lld: %s", (long long)current + 1,
                      (long long)batches, first ? first : "a host failed");
            ctl_rollout_decision (ctl, plan_id, "health", "stop", "%s failed; stopping the plan",
                                  first ? first : "a host");
        }
        free (first);
        ctl_rollout_fail (ctl, plan_id, reason);
        if (is_task && parent)
            ctl_rollout_advance (ctl, parent);
        goto done;
    }
    if (is_task) {
        if (in_flight == 0) {
            s_succeed (ctl, plan_id, total, skipped);
            if (parent)
                ctl_rollout_advance (ctl, parent);
        }
        goto done;
    }
    if (streq (phase, "migrate") || streq (phase, "verify")) {
        char *task_state = NULL, *task_reason = NULL;
        jad_db_get_text (ctl->db, "SELECT state FROM plans WHERE id = ?", task, &task_state);
        jad_db_get_text (ctl->db, "SELECT reason FROM plans WHERE id = ?", task, &task_reason);
        char *failure = task ? s_first_failure (ctl, task) : NULL;
        bool migrate = streq (phase, "migrate");
        if (task_state && streq (task_state, "succeeded")) {
            if (migrate) {
                char *action = NULL, *list = NULL, *host = NULL;
                jad_db_get_text (ctl->db, "SELECT action FROM plans WHERE id = ?", task, &action);
                jad_db_get_text (ctl->db, "SELECT migrations FROM plans WHERE id = ?", task, &list);
                jad_db_get_text (ctl->db, "SELECT agent FROM plan_hosts WHERE plan_id = ?", task,
                                 &host);
                if (action && streq (action, "migrate_up"))
                    ctl_store_run (ctl->db,
                                   "INSERT OR REPLACE INTO migrations (env, app, version, state, "
                                   "host, plan_id, time) VALUES (?, ?, ?, 'up', ?, ?, ?)",
                                   "ttttti", env, app, version, host, task, now);
                else if (list) {
                    char *save = NULL;
                    for (char *item = strtok_r (list, ",", &save); item;
                         item = strtok_r (NULL, ",", &save))
                        ctl_store_run (ctl->db,
                                       "UPDATE migrations SET state = 'down', host = ?, plan_id = "
                                       "?, time = ? WHERE env = ? AND app = ? AND version = ?",
                                       "ttittt", host, task, now, env, app, item);
                }
                ctl_rollout_decision (ctl, plan_id, action ? action : "migrate", "done",
                                      "ran on %s; now switching hosts", host ? host : "-");
                free (action), free (list), free (host);
                s_start_batch (ctl, plan_id, 0, batches);
            } else {
                ctl_store_run (ctl->db,
                               "UPDATE plans SET baked = 1, phase = 'rollout', progress = ? "
                               "WHERE id = ?",
                               "it", now, plan_id);
                ctl_rollout_decision (ctl, plan_id, "bake", "passed",
                                      "canary hosts stayed healthy for %lldms and passed their "
                                      "checks again",
                                      (long long)bake_ms);
                free (task_state), free (task_reason), free (failure);
                ctl_rollout_advance (ctl, plan_id);
                goto done;
            }
        } else if (task_state && !streq (task_state, "running")) {
            char reason[800];
            snprintf (reason, sizeof reason, "%s: %s",
                      migrate ? "migration failed, no host switched" : "canary failed after bake",
                      failure ? failure : (task_reason ? task_reason : "task failed"));
            ctl_rollout_fail (ctl, plan_id, reason);
        }
        free (task_state), free (task_reason), free (failure);
        goto done;
    }
    if (streq (phase, "bake")) {
        char why[512] = "";
        if (ctl_alerts_firing (ctl, env, why, sizeof why)) {
            char reason[600];
            snprintf (reason, sizeof reason, "alert firing during bake: %s", why);
            ctl_rollout_decision (ctl, plan_id, "alert", "stop", "%s", why);
            ctl_rollout_fail (ctl, plan_id, reason);
        } else if (paused || s_pause_if_inconclusive (ctl, plan_id, env)) {
            //  a paused bake never passes: an operator resumes or aborts
        } else if (now - phase_started >= bake_ms) {
            zlistx_t *canaries = s_list (ctl_store_query (
                ctl->db,
                "SELECT agent FROM plan_hosts WHERE plan_id = ? AND batch = 0 AND state = "
                "'healthy' ORDER BY agent",
                "t", plan_id));
            size_t count = canaries ? zlistx_size (canaries) : 0;
            const char **targets = calloc (count + 1, sizeof (char *));
            size_t index = 0;
            for (char *host = canaries ? zlistx_first (canaries) : NULL; targets && host;
                 host = zlistx_next (canaries))
                targets[index++] = host;
            if (count == 0 || !targets) {
                ctl_store_run (ctl->db,
                               "UPDATE plans SET baked = 1, phase = 'rollout' WHERE id = ?", "t",
                               plan_id);
                free (targets);
                zlistx_destroy (&canaries);
                ctl_rollout_advance (ctl, plan_id);
                goto done;
            }
            ctl_rollout_decision (ctl, plan_id, "bake", "verify",
                                  "bake of %lldms over, no alert firing: canaries run their "
                                  "checks again",
                                  (long long)bake_ms);
            s_start_task (ctl, plan_id, app, version, env, "verify", targets, NULL, "verify");
            free (targets);
            zlistx_destroy (&canaries);
        }
        goto done;
    }
    //  rollout: the current batch must be done before anything moves
    if (in_flight > 0)
        goto done;
    if (strategy && streq (strategy, "canary") && !baked && bake_ms > 0 && current == 0) {
        ctl_store_run (ctl->db,
                       "UPDATE plans SET phase = 'bake', phase_started = ?1, progress = ?1 "
                       "WHERE id = ?2",
                       "it", now, plan_id);
        ctl_rollout_decision (ctl, plan_id, "bake", "started",
                              "canary batch healthy; baking %lldms while watching alerts of %s",
                              (long long)bake_ms, env);
        goto done;
    }
    if (current + 1 < batches) {
        if (paused ||
            (kind && streq (kind, "deploy") && s_pause_if_inconclusive (ctl, plan_id, env)))
            goto done;
        s_start_batch (ctl, plan_id, current + 1, batches);
        goto done;
    }
    s_succeed (ctl, plan_id, total, skipped);
    ctl_rollout_decision (ctl, plan_id, "outcome", "succeeded", "%lld of %lld hosts healthy",
                          (long long)(total - skipped), (long long)total);
done:
    free (kind), free (phase), free (task), free (parent), free (env), free (strategy), free (app),
        free (version);
}

void ctl_rollout_tick (ctl_t *ctl)
{
    zlistx_t *running = s_list (ctl_store_query (
        ctl->db, "SELECT id FROM plans WHERE state = 'running' ORDER BY created", NULL));
    for (char *plan_id = running ? zlistx_first (running) : NULL; plan_id;
         plan_id = zlistx_next (running)) {
        char *phase = NULL;
        jad_db_get_text (ctl->db, "SELECT phase FROM plans WHERE id = ?", plan_id, &phase);
        //  a plan created but not started (controller stopped in between)
        if (phase && streq (phase, "starting"))
            ctl_rollout_start (ctl, plan_id);
        else
            ctl_rollout_advance (ctl, plan_id);
        free (phase);
    }
    zlistx_destroy (&running);
}

char *ctl_rollout_rollback (ctl_t *ctl, const char *app, const char *env, const char *to,
                            const char *undoes, const char *deployer, const char *reason, char *err,
                            size_t errlen)
{
    char *undone = NULL, *undone_version = NULL;
    //  the plan undone: the one named, or the latest deploy of app to env
    sqlite3_stmt *stmt =
        undoes
            ? ctl_store_query (ctl->db, "SELECT id, version FROM plans WHERE id = ?", "t", undoes)
            : ctl_store_query (ctl->db,
                               "SELECT id, version FROM plans WHERE app = ? AND env = ? AND "
                               "kind IN ('deploy', 'rollback') AND state != 'approval' ORDER "
                               "BY created DESC, seq DESC LIMIT 1",
                               "tt", app, env);
    if (stmt && sqlite3_step (stmt) == SQLITE_ROW) {
        undone = strdup ((const char *)sqlite3_column_text (stmt, 0));
        undone_version = strdup ((const char *)sqlite3_column_text (stmt, 1));
    }
    sqlite3_finalize (stmt);
    char *plan_id = NULL;
    char *target = to ? strdup (to) : NULL;
    zlistx_t *hosts = NULL;
    const char **targets = NULL;
    if (!undone || !undone_version) {
        snprintf (err, errlen, "nothing to roll back: %s was never deployed to %s", app, env);
        goto done;
    }
    if (!target) {
        //  last known-good: the newest release that succeeded here, other
        //  than the one being undone, and not marked bad
        stmt = ctl_store_query (ctl->db,
                                "SELECT p.version FROM plans p JOIN releases r ON r.app = p.app "
                                "AND r.version = p.version WHERE p.app = ? AND p.env = ? AND "
                                "p.kind IN ('deploy', 'rollback') AND p.state = 'succeeded' AND "
                                "p.version != ? AND r.bad IS NULL AND r.counter >= (SELECT "
                                "coalesce (max (f.counter), 0) FROM floors f WHERE f.app = p.app) "
                                "ORDER BY p.created DESC, p.seq DESC LIMIT 1",
                                "ttt", app, env, undone_version);
        if (stmt && sqlite3_step (stmt) == SQLITE_ROW)
            target = strdup ((const char *)sqlite3_column_text (stmt, 0));
        sqlite3_finalize (stmt);
    }
    if (!target) {
        snprintf (err, errlen,
                  "no known-good release of %s in %s other than %s (name one with --to VERSION)",
                  app, env, undone_version);
        goto done;
    }
    //  every host of env that runs the app
    hosts = ctl_agents_repo_running (ctl->store, env, app);
    if (!hosts) {
        snprintf (err, errlen, "database error");
        goto done;
    }
    size_t count = zlistx_size (hosts);
    targets = calloc (count + 1, sizeof (char *));
    if (!targets) {
        snprintf (err, errlen, "out of memory");
        goto done;
    }
    size_t index = 0;
    for (char *host = zlistx_first (hosts); host; host = zlistx_next (hosts))
        targets[index++] = host;
    char why[300];
    if (!reason) {
        snprintf (why, sizeof why, "rollback requested: %s %s -> %s", app, undone_version, target);
        reason = why;
    }
    ctl_plan_spec_t spec = {.app = app,
                            .version = target,
                            .env = env,
                            .kind = "rollback",
                            .deployer = deployer,
                            .reason = reason,
                            .targets = count ? targets : NULL,
                            .undoes = undone,
                            .previous = target};
    plan_id = ctl_rollout_create (ctl, &spec, err, errlen);
    if (plan_id)
        ctl_store_run (ctl->db,
                       "UPDATE plans SET rolled_back_by = ? WHERE id = ? AND rolled_back_by IS "
                       "NULL",
                       "tt", plan_id, undone);
done:
    free (targets);
    zlistx_destroy (&hosts);
    free (target);
    free (undone);
    free (undone_version);
    return plan_id;
}
