//  ctl_plans_repo - plans and their hosts, events, approvals, automatic
//  decisions and database migrations
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_plans_repo.h"
#include "ctl_agents_repo.h"
#include "ctl_store_internal.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdlib.h>
#include <string.h>

#define S_UNFINISHED "('pending', 'acked', 'applying')"
#define S_CHANGED    "('pending', 'acked', 'applying', 'healthy')"

void ctl_plan_destroy (ctl_plan_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_plan_t *self = *self_p;
    ctl_store_free_strings (&self->id, &self->app, &self->version, &self->env, &self->kind,
                            &self->strategy, &self->state, &self->reason, &self->undoes,
                            &self->deployer, &self->batch, &self->phase, &self->emergency,
                            &self->rolled_back_by, &self->previous, &self->parent, &self->task,
                            &self->action, &self->migrations, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_plan_host_destroy (ctl_plan_host_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_plan_host_t *self = *self_p;
    ctl_store_free_strings (&self->plan_id, &self->agent, &self->state, &self->step, &self->detail,
                            &self->version, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_plan_event_destroy (ctl_plan_event_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_plan_event_t *self = *self_p;
    ctl_store_free_strings (&self->plan_id, &self->agent, &self->step, &self->status, &self->detail,
                            &self->output, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_approval_row_destroy (ctl_approval_row_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_approval_row_t *self = *self_p;
    ctl_store_free_strings (&self->plan_id, &self->operator_name, &self->role,
                            &self->operator_roles, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_decision_destroy (ctl_decision_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_decision_t *self = *self_p;
    ctl_store_free_strings (&self->plan_id, &self->undoes, &self->rule_id, &self->what,
                            &self->detail, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_succeeded_destroy (ctl_succeeded_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_succeeded_t *self = *self_p;
    ctl_store_free_strings (&self->plan_id, &self->kind, &self->version, &self->bad, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_crossed_row_destroy (ctl_crossed_row_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->version);
    free (*self_p);
    *self_p = NULL;
}

void ctl_plan_snapshot_destroy (ctl_plan_snapshot_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_plan_snapshot_t *self = *self_p;
    ctl_plan_destroy (&self->plan);
    ctl_plan_host_destroy (&self->first_failure);
    ctl_plan_destroy (&self->task);
    ctl_plan_host_destroy (&self->task_failure);
    ctl_store_free_strings (&self->task_host, &self->notes, &self->host, NULL);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Readers

#define S_PLAN_COLUMNS                                                                             \
    "p.id, p.app, p.version, p.env, p.kind, p.strategy, p.state, p.reason, p.undoes, "             \
    "p.deployer, p.created, coalesce (p.finished, 0), p.progress, p.batch, p.canary, p.bake_ms, "  \
    "p.phase, coalesce (p.phase_started, 0), p.baked, p.current_batch, p.batches, p.paused, "      \
    "p.emergency, p.skip_offline, p.rolled_back_by, p.previous, p.parent, p.task, p.action, "      \
    "p.migrations, coalesce (p.seq, 0), p.security"
#define S_PLAN_COUNT 32

static ctl_plan_t *s_plan_read (ctl_query_t *query)
{
    ctl_plan_t *plan = (ctl_plan_t *)calloc (1, sizeof (ctl_plan_t));
    if (!plan)
        return NULL;
    plan->id = ctl_query_strdup (query, 0);
    plan->app = ctl_query_strdup (query, 1);
    plan->version = ctl_query_strdup (query, 2);
    plan->env = ctl_query_strdup (query, 3);
    plan->kind = ctl_query_strdup (query, 4);
    plan->strategy = ctl_query_strdup (query, 5);
    plan->state = ctl_query_strdup (query, 6);
    plan->reason = ctl_query_strdup (query, 7);
    plan->undoes = ctl_query_strdup (query, 8);
    plan->deployer = ctl_query_strdup (query, 9);
    plan->created = ctl_query_int (query, 10);
    plan->finished = ctl_query_int (query, 11);
    plan->progress = ctl_query_int (query, 12);
    plan->batch = ctl_query_strdup (query, 13);
    plan->canary = ctl_query_int (query, 14);
    plan->bake_ms = ctl_query_int (query, 15);
    plan->phase = ctl_query_strdup (query, 16);
    plan->phase_started = ctl_query_int (query, 17);
    plan->baked = ctl_query_int (query, 18) != 0;
    plan->current_batch = ctl_query_int (query, 19);
    plan->batches = ctl_query_int (query, 20);
    plan->paused = ctl_query_int (query, 21) != 0;
    plan->emergency = ctl_query_strdup (query, 22);
    plan->skip_offline = ctl_query_int (query, 23) != 0;
    plan->rolled_back_by = ctl_query_strdup (query, 24);
    plan->previous = ctl_query_strdup (query, 25);
    plan->parent = ctl_query_strdup (query, 26);
    plan->task = ctl_query_strdup (query, 27);
    plan->action = ctl_query_strdup (query, 28);
    plan->migrations = ctl_query_strdup (query, 29);
    plan->seq = ctl_query_int (query, 30);
    plan->security = ctl_query_int (query, 31) != 0;
    if (!plan->id || !plan->app || !plan->version || !plan->env || !plan->kind || !plan->strategy ||
        !plan->state || !plan->phase || !plan->action)
        ctl_plan_destroy (&plan);
    return plan;
}

//  Plans from a query with S_PLAN_COLUMNS first; `undone` in column
//  S_PLAN_COUNT when asked.
static zlistx_t *s_plans (ctl_query_t *query, int rc, bool undone)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_plan_destroy);
    if (!list)
        query->failed = true;
    while (rc == 0 && list && ctl_query_next (query)) {
        ctl_plan_t *plan = s_plan_read (query);
        if (plan && undone)
            plan->undone = ctl_query_int (query, S_PLAN_COUNT) != 0;
        if (!plan || !zlistx_add_end (list, plan)) {
            ctl_plan_destroy (&plan);
            query->failed = true;
            break;
        }
    }
    if (ctl_query_end (query) || rc)
        zlistx_destroy (&list);
    return list;
}

#define S_HOST_COLUMNS                                                                             \
    "h.plan_id, h.agent, h.state, h.step, h.detail, h.batch, coalesce (h.last_sent, 0), "          \
    "coalesce (h.updated, 0), coalesce (h.started, 0), coalesce (h.finished, 0)"

//  A host from S_HOST_COLUMNS, then `joined` of: last_seen, version,
//  skip_offline.
static ctl_plan_host_t *s_host_read (ctl_query_t *query, int joined)
{
    ctl_plan_host_t *host = (ctl_plan_host_t *)calloc (1, sizeof (ctl_plan_host_t));
    if (!host)
        return NULL;
    host->plan_id = ctl_query_strdup (query, 0);
    host->agent = ctl_query_strdup (query, 1);
    host->state = ctl_query_strdup (query, 2);
    host->step = ctl_query_strdup (query, 3);
    host->detail = ctl_query_strdup (query, 4);
    host->batch = ctl_query_int (query, 5);
    host->last_sent = ctl_query_int (query, 6);
    host->updated = ctl_query_int (query, 7);
    host->started = ctl_query_int (query, 8);
    host->finished = ctl_query_int (query, 9);
    if (joined > 0)
        host->last_seen = ctl_query_int (query, 10);
    if (joined > 1)
        host->version = ctl_query_strdup (query, 11);
    if (joined > 2)
        host->skip_offline = ctl_query_int (query, 12) != 0;
    if (!host->plan_id || !host->agent || !host->state)
        ctl_plan_host_destroy (&host);
    return host;
}

static zlistx_t *s_hosts (ctl_query_t *query, int rc, int joined)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_plan_host_destroy);
    if (!list)
        query->failed = true;
    while (rc == 0 && list && ctl_query_next (query)) {
        ctl_plan_host_t *host = s_host_read (query, joined);
        if (!host || !zlistx_add_end (list, host)) {
            ctl_plan_host_destroy (&host);
            query->failed = true;
            break;
        }
    }
    if (ctl_query_end (query) || rc)
        zlistx_destroy (&list);
    return list;
}

//  --------------------------------------------------------------------------
//  Plans

int ctl_plans_repo_create (ctl_store_t *store, const ctl_plan_t *plan, const char *const *names,
                           const int64_t *batches, size_t count, int64_t now)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    if (ctl_sql_begin (sql))
        return -1;
    if (ctl_sql_exec (sql,
                      "INSERT INTO plans (id, app, version, env, kind, strategy, state, reason, "
                      "deployer, created, progress, undoes, batch, canary, bake_ms, phase, "
                      "batches, emergency, skip_offline, previous, parent, action, migrations, "
                      "security, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, "
                      "$12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, (SELECT "
                      "coalesce (max (seq), 0) + 1 FROM plans))",
                      "tttttttttittiititbttttb", plan->id, plan->app, plan->version, plan->env,
                      plan->kind, plan->strategy, plan->state, plan->reason, plan->deployer, now,
                      plan->undoes, plan->batch, plan->canary, plan->bake_ms, plan->phase,
                      plan->batches, plan->emergency, (int)plan->skip_offline, plan->previous,
                      plan->parent, plan->action, plan->migrations, (int)plan->security) != 1)
        goto failed;
    for (size_t index = 0; index < count; index++)
        if (ctl_sql_exec (sql,
                          "INSERT INTO plan_hosts (plan_id, agent, state, updated, batch) VALUES "
                          "($1, $2, 'waiting', $3, $4)",
                          "ttii", plan->id, names[index], now, batches[index]) != 1)
            goto failed;
    if (ctl_sql_commit (sql) == 0)
        return 0;
failed:
    ctl_sql_rollback (sql);
    jad_log_error ("store: cannot create plan=%s", plan->id);
    return -1;
}

int ctl_plans_repo_get (ctl_store_t *store, const char *id, ctl_plan_t **plan_p)
{
    *plan_p = NULL;
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_PLAN_COLUMNS " FROM plans p WHERE p.id = $1", "t", id);
    int found = 1;
    if (rc == 0 && ctl_query_next (&query)) {
        *plan_p = s_plan_read (&query);
        found = *plan_p ? 0 : -1;
    }
    if (ctl_query_end (&query) || found < 0) {
        ctl_plan_destroy (plan_p);
        return -1;
    }
    return found;
}

//  The first failed host of a plan (by updated, then name): 0, 1, -1.
static int s_first_failure (ctl_sql_t *sql, const char *id, ctl_plan_host_t **host_p)
{
    ctl_query_t query;
    int rc = ctl_sql_query (sql, &query,
                            "SELECT " S_HOST_COLUMNS " FROM plan_hosts h WHERE h.plan_id = $1 AND "
                            "h.state = 'failed' ORDER BY h.updated, h.agent LIMIT 1",
                            "t", id);
    int found = 1;
    if (rc == 0 && ctl_query_next (&query)) {
        *host_p = s_host_read (&query, 0);
        found = *host_p ? 0 : -1;
    }
    return ctl_query_end (&query) ? -1 : found;
}

int ctl_plans_repo_snapshot (ctl_store_t *store, const char *id, ctl_plan_snapshot_t **snapshot_p)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    *snapshot_p = NULL;
    ctl_plan_snapshot_t *self = (ctl_plan_snapshot_t *)calloc (1, sizeof (ctl_plan_snapshot_t));
    if (!self)
        return -1;
    ctl_query_t query;
    int rc = ctl_sql_query (
        sql, &query,
        "SELECT " S_PLAN_COLUMNS ", r.notes, coalesce (r.migrate_up, 0), CASE WHEN EXISTS "
        "(SELECT 1 FROM migrations m WHERE m.env = p.env AND m.app = p.app AND m.version = "
        "p.version AND m.state = 'up') THEN 1 ELSE 0 END, CASE WHEN EXISTS (SELECT 1 FROM "
        "migrations m WHERE m.env = p.env AND m.app = p.app AND m.version = p.version AND "
        "m.state = 'up' AND m.plan_id IN (SELECT t.id FROM plans t WHERE t.parent = p.id)) THEN 1 "
        "ELSE 0 END FROM plans p LEFT JOIN releases r ON r.app = p.app AND r.version = p.version "
        "WHERE p.id = $1",
        "t", id);
    int found = 1;
    if (rc == 0 && ctl_query_next (&query)) {
        self->plan = s_plan_read (&query);
        self->notes = ctl_query_strdup (&query, S_PLAN_COUNT);
        self->has_migrate_up = ctl_query_int (&query, S_PLAN_COUNT + 1) != 0;
        self->migrated = ctl_query_int (&query, S_PLAN_COUNT + 2) != 0;
        self->migrated_here = ctl_query_int (&query, S_PLAN_COUNT + 3) != 0;
        found = self->plan ? 0 : -1;
    }
    if (ctl_query_end (&query) || found != 0)
        goto done;
    found = -1;
    //  its hosts by state and batch
    int64_t current = self->plan->current_batch;
    rc = ctl_sql_query (sql, &query,
                        "SELECT state, batch, count (*) FROM plan_hosts WHERE plan_id = $1 "
                        "GROUP BY state, batch",
                        "t", id);
    while (rc == 0 && ctl_query_next (&query)) {
        const char *state = ctl_query_text (&query, 0);
        int64_t batch = ctl_query_int (&query, 1);
        int64_t count = ctl_query_int (&query, 2);
        if (!state)
            continue;
        bool unfinished =
            streq (state, "pending") || streq (state, "acked") || streq (state, "applying");
        self->hosts += count;
        self->waiting += streq (state, "waiting") ? count : 0;
        self->pending += streq (state, "pending") ? count : 0;
        self->acked += streq (state, "acked") ? count : 0;
        self->applying += streq (state, "applying") ? count : 0;
        self->healthy += streq (state, "healthy") ? count : 0;
        self->failed += streq (state, "failed") ? count : 0;
        self->skipped += streq (state, "skipped") ? count : 0;
        self->cancelled += streq (state, "cancelled") ? count : 0;
        self->changed += unfinished || streq (state, "healthy") ? count : 0;
        if (batch == current) {
            self->batch_hosts += count;
            self->batch_healthy += streq (state, "healthy") ? count : 0;
            self->unfinished += unfinished ? count : 0;
        }
        if (batch == 0 && streq (state, "healthy"))
            self->canaries_healthy += count;
    }
    if (ctl_query_end (&query) || rc)
        goto done;
    if (self->failed > 0 && s_first_failure (sql, id, &self->first_failure) < 0)
        goto done;
    if (self->plan->task) {
        if (ctl_plans_repo_get (store, self->plan->task, &self->task) < 0)
            goto done;
        if (ctl_sql_text (sql, &self->task_host,
                          "SELECT agent FROM plan_hosts WHERE plan_id = $1 ORDER BY agent LIMIT 1",
                          "t", self->plan->task) < 0 ||
            s_first_failure (sql, self->plan->task, &self->task_failure) < 0)
            goto done;
    }
    if (jad_text_is (self->plan->kind, "task") && !self->plan->parent &&
        ctl_sql_text (sql, &self->host,
                      "SELECT agent FROM plan_hosts WHERE plan_id = $1 ORDER BY agent LIMIT 1", "t",
                      id) < 0)
        goto done;
    found = 0;
done:
    if (found != 0)
        ctl_plan_snapshot_destroy (&self);
    *snapshot_p = self;
    return found;
}

zlistx_t *ctl_plans_repo_list (ctl_store_t *store, const char *env, int64_t limit)
{
    return ctl_store_strings (store,
                              "SELECT id FROM plans WHERE ($1 IS NULL OR env = $1) AND parent IS "
                              "NULL ORDER BY created DESC, seq DESC LIMIT $2",
                              "ti", env, limit);
}

zlistx_t *ctl_plans_repo_of_release (ctl_store_t *store, const char *app, const char *version,
                                     int64_t limit)
{
    return ctl_store_strings (store,
                              "SELECT id FROM plans WHERE app = $1 AND version = $2 AND parent IS "
                              "NULL ORDER BY created, seq LIMIT $3",
                              "tti", app, version, limit);
}

zlistx_t *ctl_plans_repo_by_prefix (ctl_store_t *store, const char *prefix, int64_t limit)
{
    return ctl_store_strings (store,
                              "SELECT id FROM plans WHERE substr(id, 1, length($1)) = $1 "
                              "ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END, id LIMIT $2",
                              "ti", prefix, limit);
}

zlistx_t *ctl_plans_repo_running (ctl_store_t *store)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_PLAN_COLUMNS " FROM plans p WHERE p.state = 'running' "
                            "ORDER BY p.created, p.seq",
                            "");
    return s_plans (&query, rc, false);
}

zlistx_t *ctl_plans_repo_recent (ctl_store_t *store, bool running, int64_t limit)
{
    ctl_query_t query;
    int rc = running ? ctl_sql_query (ctl_store_sql (store), &query,
                                      "SELECT " S_PLAN_COLUMNS " FROM plans p WHERE p.state = "
                                      "'running' ORDER BY p.created DESC, p.seq DESC LIMIT $1",
                                      "i", limit)
                     : ctl_sql_query (ctl_store_sql (store), &query,
                                      "SELECT " S_PLAN_COLUMNS " FROM plans p WHERE coalesce "
                                      "(p.reason, '') NOT LIKE 'converge:%' ORDER BY p.created "
                                      "DESC, p.seq DESC LIMIT $1",
                                      "i", limit);
    return s_plans (&query, rc, false);
}

zlistx_t *ctl_plans_repo_changed (ctl_store_t *store, int64_t since, int64_t until)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_PLAN_COLUMNS " FROM plans p WHERE (p.created >= $1 AND "
                            "p.created < $2) OR (p.finished >= $1 AND p.finished < $2) ORDER BY "
                            "p.created, p.seq",
                            "ii", since, until);
    return s_plans (&query, rc, false);
}

zlistx_t *ctl_plans_repo_since (ctl_store_t *store, const char *env, int64_t since)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_PLAN_COLUMNS ", CASE WHEN EXISTS (SELECT 1 FROM plans u "
                            "WHERE u.undoes = p.id) THEN 1 ELSE 0 END FROM plans p WHERE p.env = "
                            "$1 AND p.created >= $2 ORDER BY p.created DESC, p.seq DESC",
                            "ti", env, since);
    return s_plans (&query, rc, true);
}

zlistx_t *ctl_plans_repo_tally (ctl_store_t *store)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_tally_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT kind, state, count (*) FROM plans GROUP BY 1, 2 ORDER "
                                   "BY 1, 2",
                                   "")
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_tally_t *tally = (ctl_tally_t *)calloc (1, sizeof (ctl_tally_t));
        if (tally) {
            tally->labels[0] = ctl_query_strdup (&query, 0);
            tally->labels[1] = ctl_query_strdup (&query, 1);
            tally->count = ctl_query_int (&query, 2);
        }
        if (!tally || !zlistx_add_end (list, tally)) {
            ctl_tally_destroy (&tally);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

int ctl_plans_repo_latest (ctl_store_t *store, const char *app, const char *env,
                           ctl_plan_t **plan_p)
{
    *plan_p = NULL;
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_PLAN_COLUMNS " FROM plans p WHERE p.app = $1 AND p.env = "
                            "$2 AND p.kind IN ('deploy', 'rollback') AND p.state != 'approval' "
                            "ORDER BY p.created DESC, p.seq DESC LIMIT 1",
                            "tt", app, env);
    int found = 1;
    if (rc == 0 && ctl_query_next (&query)) {
        *plan_p = s_plan_read (&query);
        found = *plan_p ? 0 : -1;
    }
    if (ctl_query_end (&query) || found < 0) {
        ctl_plan_destroy (plan_p);
        return -1;
    }
    return found;
}

zlistx_t *ctl_plans_repo_succeeded (ctl_store_t *store, const char *app, const char *env)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_succeeded_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT p.id, p.kind, p.version, p.created, coalesce (p.seq, "
                                   "0), r.bad, coalesce (r.counter, 0), coalesce ((SELECT "
                                   "f.counter FROM floors f WHERE f.app = p.app), 0) FROM plans p "
                                   "LEFT JOIN releases r ON r.app = p.app AND r.version = "
                                   "p.version WHERE p.app = $1 AND p.env = $2 AND p.state = "
                                   "'succeeded' ORDER BY p.created DESC, p.seq DESC",
                                   "tt", app, env)
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_succeeded_t *row = (ctl_succeeded_t *)calloc (1, sizeof (ctl_succeeded_t));
        if (row) {
            row->plan_id = ctl_query_strdup (&query, 0);
            row->kind = ctl_query_strdup (&query, 1);
            row->version = ctl_query_strdup (&query, 2);
            row->created = ctl_query_int (&query, 3);
            row->seq = ctl_query_int (&query, 4);
            row->bad = ctl_query_strdup (&query, 5);
            row->counter = ctl_query_int (&query, 6);
            row->floor = ctl_query_int (&query, 7);
        }
        if (!row || !row->plan_id || !row->kind || !row->version || !zlistx_add_end (list, row)) {
            ctl_succeeded_destroy (&row);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

int ctl_plans_repo_succeeded_in (ctl_store_t *store, const char *env, const char *app,
                                 const char *version, const char *kind)
{
    int64_t found = 0;
    int rc = ctl_sql_int (ctl_store_sql (store), &found,
                          "SELECT 1 FROM plans WHERE env = $1 AND app = $2 AND version = $3 AND "
                          "kind = $4 AND state = 'succeeded' LIMIT 1",
                          "tttt", env, app, version, kind);
    return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

zlistx_t *ctl_plans_repo_converge (ctl_store_t *store, const char *agent)
{
    ctl_query_t query;
    int rc = ctl_sql_query (
        ctl_store_sql (store), &query,
        "SELECT " S_PLAN_COLUMNS " FROM plans p JOIN agents a ON a.env = p.env WHERE a.name = $1 "
        "AND p.state = 'succeeded' AND p.kind != 'task' AND p.created = (SELECT max (q.created) "
        "FROM plans q WHERE q.env = p.env AND q.app = p.app AND q.state = 'succeeded' AND q.kind "
        "!= 'task') AND NOT EXISTS (SELECT 1 FROM agent_apps x WHERE x.agent = $1 AND x.app = "
        "p.app AND x.version = p.version) AND NOT EXISTS (SELECT 1 FROM plan_hosts h JOIN plans r "
        "ON r.id = h.plan_id WHERE h.agent = $1 AND r.app = p.app AND r.version = p.version AND "
        "r.created >= p.created AND r.kind != 'task' AND (r.state = 'running' OR h.state NOT IN "
        "('pending', 'skipped'))) ORDER BY p.app, p.created, p.seq",
        "t", agent);
    return s_plans (&query, rc, false);
}

zlistx_t *ctl_plans_repo_unfinished_for (ctl_store_t *store, const char *agent)
{
    return ctl_store_strings (store,
                              "SELECT h.plan_id FROM plan_hosts h JOIN plans p ON p.id = "
                              "h.plan_id WHERE h.agent = $1 AND p.state = 'running' AND h.state "
                              "IN " S_UNFINISHED " ORDER BY p.created, p.seq",
                              "t", agent);
}

int64_t ctl_plans_repo_set_running (ctl_store_t *store, const char *id, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plans SET state = 'running', progress = $1 WHERE id = $2 AND "
                         "state = 'approval'",
                         "it", now, id);
}

int64_t ctl_plans_repo_finish (ctl_store_t *store, const char *id, const char *state,
                               const char *reason, int64_t now)
{
    //  A rollback keeps why it was made (an alert's values, an operator's
    //  request) and gets its outcome appended.
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plans SET state = $4, phase = 'done', finished = $1, reason = "
                         "(CASE WHEN kind = 'rollback' AND reason IS NOT NULL THEN substr (reason "
                         "|| '; ' || $2, 1, 2000) ELSE $2 END) WHERE id = $3 AND (state = "
                         "'running' OR ($4 = 'failed' AND state = 'approval'))",
                         "ittt", now, reason, id, state);
}

int ctl_plans_repo_start_batch (ctl_store_t *store, const char *id, int64_t number, int64_t now)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    if (ctl_sql_begin (sql))
        return -1;
    if (ctl_sql_exec (sql,
                      "UPDATE plan_hosts SET state = 'pending', started = $1, updated = $1 WHERE "
                      "plan_id = $2 AND batch = $3 AND state = 'waiting'",
                      "iti", now, id, number) < 0 ||
        ctl_sql_exec (sql,
                      "UPDATE plans SET phase = 'rollout', current_batch = $1, progress = $2 "
                      "WHERE id = $3",
                      "iit", number, now, id) < 0 ||
        ctl_sql_commit (sql)) {
        ctl_sql_rollback (sql);
        return -1;
    }
    return 0;
}

int ctl_plans_repo_set_task (ctl_store_t *store, const char *id, const char *task_id,
                             const char *phase, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plans SET task = $1, phase = $2, phase_started = $3, progress = "
                         "$3 WHERE id = $4",
                         "ttit", task_id, phase, now, id) < 0
               ? -1
               : 0;
}

int ctl_plans_repo_enter_bake (ctl_store_t *store, const char *id, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plans SET phase = 'bake', phase_started = $1, progress = $1 "
                         "WHERE id = $2",
                         "it", now, id) < 0
               ? -1
               : 0;
}

int ctl_plans_repo_baked (ctl_store_t *store, const char *id, int64_t progress)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plans SET baked = 1, phase = 'rollout', progress = CASE WHEN $1 "
                         "> 0 THEN $1 ELSE progress END WHERE id = $2",
                         "it", progress, id) < 0
               ? -1
               : 0;
}

int64_t ctl_plans_repo_set_paused (ctl_store_t *store, const char *id, bool paused, int64_t now)
{
    //  the bake's start stays: the engine subtracts the pauses
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plans SET paused = $1, progress = $2 WHERE id = $3 AND state = "
                         "'running' AND paused = $4",
                         "bitb", (int)paused, now, id, (int)!paused);
}

int ctl_plans_repo_progress (ctl_store_t *store, const char *id, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store), "UPDATE plans SET progress = $1 WHERE id = $2",
                         "it", now, id) < 0
               ? -1
               : 0;
}

int ctl_plans_repo_rolled_back_by (ctl_store_t *store, const char *id, const char *rollback_id,
                                   bool once)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plans SET rolled_back_by = $1 WHERE id = $2 AND ($3 = 0 OR "
                         "rolled_back_by IS NULL)",
                         "ttb", rollback_id, id, (int)once) < 0
               ? -1
               : 0;
}

int ctl_plans_repo_is_task (ctl_store_t *store, const char *id)
{
    int64_t task = 0;
    int rc = ctl_sql_int (ctl_store_sql (store), &task,
                          "SELECT CASE WHEN kind = 'task' THEN 1 ELSE 0 END FROM plans WHERE id = "
                          "$1",
                          "t", id);
    return rc < 0 ? -1 : rc == 0 && task ? 1 : 0;
}

//  --------------------------------------------------------------------------
//  Hosts

zlistx_t *ctl_plans_repo_hosts (ctl_store_t *store, const char *id)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_HOST_COLUMNS " FROM plan_hosts h WHERE h.plan_id = $1 "
                            "ORDER BY h.batch, h.agent",
                            "t", id);
    return s_hosts (&query, rc, 0);
}

zlistx_t *ctl_plans_repo_host_names (ctl_store_t *store, const char *id, int64_t batch,
                                     ctl_hosts_filter_t filter)
{
    switch (filter) {
        case CTL_HOSTS_UNFINISHED:
            return ctl_store_strings (store,
                                      "SELECT agent FROM plan_hosts WHERE plan_id = $1 AND ($2 < "
                                      "0 OR batch = $2) AND state IN " S_UNFINISHED
                                      " ORDER BY agent",
                                      "ti", id, batch);
        case CTL_HOSTS_CHANGED:
            return ctl_store_strings (store,
                                      "SELECT agent FROM plan_hosts WHERE plan_id = $1 AND ($2 < "
                                      "0 OR batch = $2) AND state IN " S_CHANGED " ORDER BY agent",
                                      "ti", id, batch);
        case CTL_HOSTS_HEALTHY:
            return ctl_store_strings (store,
                                      "SELECT agent FROM plan_hosts WHERE plan_id = $1 AND ($2 < "
                                      "0 OR batch = $2) AND state = 'healthy' ORDER BY agent",
                                      "ti", id, batch);
        case CTL_HOSTS_ALL:
        default:
            return ctl_store_strings (store,
                                      "SELECT agent FROM plan_hosts WHERE plan_id = $1 AND ($2 < "
                                      "0 OR batch = $2) ORDER BY agent",
                                      "ti", id, batch);
    }
}

zlistx_t *ctl_plans_repo_migration_hosts (ctl_store_t *store, const char *id)
{
    return ctl_store_strings (store,
                              "SELECT h.agent FROM plan_hosts h JOIN plans t ON t.id = h.plan_id "
                              "WHERE t.parent = $1 AND t.action = 'migrate_up' ORDER BY h.agent",
                              "t", id);
}

zlistx_t *ctl_plans_repo_candidates (ctl_store_t *store, const char *id, const char *app)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_HOST_COLUMNS ", coalesce (a.last_seen, 0), x.version FROM "
                            "plan_hosts h JOIN agents a ON a.name = h.agent LEFT JOIN agent_apps "
                            "x ON x.agent = h.agent AND x.app = $2 WHERE h.plan_id = $1 ORDER BY "
                            "h.agent",
                            "tt", id, app);
    return s_hosts (&query, rc, 2);
}

int ctl_plans_repo_mark_sent (ctl_store_t *store, const char *id, const char *agent, int64_t now)
{
    int64_t changed =
        agent ? ctl_sql_exec (
                    ctl_store_sql (store),
                    "UPDATE plan_hosts SET last_sent = $1 WHERE plan_id = $2 AND agent = $3", "itt",
                    now, id, agent)
              : ctl_sql_exec (ctl_store_sql (store),
                              "UPDATE plan_hosts SET last_sent = $1 WHERE plan_id = $2 AND state "
                              "IN " S_UNFINISHED,
                              "it", now, id);
    return changed < 0 ? -1 : 0;
}

int ctl_plans_repo_ack (ctl_store_t *store, const char *id, const char *agent, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plan_hosts SET state = 'acked', updated = $1 WHERE plan_id = $2 "
                         "AND agent = $3 AND state = 'pending'",
                         "itt", now, id, agent) < 0
               ? -1
               : 0;
}

int ctl_plans_repo_report_seen (ctl_store_t *store, const char *agent, const char *incarnation,
                                int64_t report_id)
{
    int64_t changed = ctl_sql_exec (ctl_store_sql (store),
                                    "INSERT INTO reports_seen (agent, incarnation, report_id) "
                                    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                    "tti", agent, incarnation, report_id);
    return changed < 0 ? -1 : changed > 0 ? 1 : 0;
}

int ctl_plans_repo_host_report (ctl_store_t *store, const char *id, const char *agent,
                                const char *state, const char *step, const char *detail,
                                int64_t now)
{
    int64_t changed =
        ctl_sql_exec (ctl_store_sql (store),
                      "UPDATE plan_hosts SET state = coalesce ($1, state), step = $2, detail = "
                      "coalesce ($3, detail), updated = $4, finished = CASE WHEN $1 IN "
                      "('healthy', 'failed') THEN $4 ELSE finished END WHERE plan_id = $5 AND "
                      "agent = $6 AND state NOT IN ('healthy', 'failed', 'skipped', "
                      "'cancelled')",
                      "tttitt", state, step, detail, now, id, agent);
    return changed < 0 ? -1 : changed > 0 ? 1 : 0;
}

int ctl_plans_repo_host_finish (ctl_store_t *store, const char *id, const char *agent,
                                const char *state, const char *detail, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plan_hosts SET state = $1, detail = $2, updated = $3, finished = "
                         "$3 WHERE plan_id = $4 AND agent = $5",
                         "ttitt", state, detail, now, id, agent) < 0
               ? -1
               : 0;
}

int ctl_plans_repo_fail_agent (ctl_store_t *store, const char *agent, const char *detail,
                               int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plan_hosts SET state = 'failed', detail = $1, updated = $2 "
                         "WHERE agent = $3 AND state NOT IN ('healthy', 'failed')",
                         "tit", detail, now, agent) < 0
               ? -1
               : 0;
}

zlistx_t *ctl_plans_repo_late_hosts (ctl_store_t *store, int64_t before)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_HOST_COLUMNS ", coalesce (a.last_seen, 0), NULL, "
                            "p.skip_offline FROM plan_hosts h JOIN plans p ON p.id = h.plan_id "
                            "LEFT JOIN agents a ON a.name = h.agent WHERE p.state = 'running' AND "
                            "h.state IN " S_UNFINISHED " AND h.updated < $1 ORDER BY p.created, "
                            "p.seq, h.agent",
                            "i", before);
    return s_hosts (&query, rc, 3);
}

zlistx_t *ctl_plans_repo_resend_due (ctl_store_t *store, int64_t before)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_HOST_COLUMNS ", coalesce (a.last_seen, 0) FROM plan_hosts "
                            "h JOIN plans p ON p.id = h.plan_id JOIN agents a ON a.name = h.agent "
                            "WHERE p.state = 'running' AND h.state = 'pending' AND coalesce "
                            "(h.last_sent, 0) < $1 ORDER BY p.created, p.seq, h.agent",
                            "i", before);
    return s_hosts (&query, rc, 1);
}

int ctl_plans_repo_cancel_waiting (ctl_store_t *store, const char *id, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE plan_hosts SET state = 'cancelled', updated = $1 WHERE plan_id = "
                         "$2 AND state = 'waiting'",
                         "it", now, id) < 0
               ? -1
               : 0;
}

//  --------------------------------------------------------------------------
//  Events, approvals, decisions

int ctl_plans_repo_event_add (ctl_store_t *store, const ctl_plan_event_t *event)
{
    //  an outcome the host's log already ends with is not written again
    if (event->step && streq (event->step, "done") && event->status) {
        int64_t repeated = 0;
        int rc = ctl_sql_int (ctl_store_sql (store), &repeated,
                              "SELECT count (*) FROM events WHERE id = (SELECT max (id) FROM "
                              "events WHERE plan_id = $1 AND agent = $2) AND step = 'done' AND "
                              "status = $3",
                              "ttt", event->plan_id, event->agent, event->status);
        if (rc != 0)
            return -1;
        if (repeated)
            return 1;
    }
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO events (plan_id, agent, time, step, status, detail, output, "
                         "duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                         "ttitttti", event->plan_id, event->agent, event->time, event->step,
                         event->status, event->detail, event->output, event->duration_ms) == 1
               ? 0
               : -1;
}

int ctl_plans_repo_last_resume (ctl_store_t *store, const char *id, int64_t *time_p)
{
    *time_p = 0;
    return ctl_sql_int (ctl_store_sql (store), time_p,
                        "SELECT coalesce (max (time), 0) FROM events WHERE plan_id = $1 AND agent "
                        "= 'controller' AND step = 'operator' AND status = 'resumed'",
                        "t", id) < 0
               ? -1
               : 0;
}

//  Events from a query of (id, plan_id, agent, time, step, status,
//  detail, output, duration_ms).
static zlistx_t *s_events (ctl_query_t *query, int rc, zlistx_t *list)
{
    while (rc == 0 && list && ctl_query_next (query)) {
        ctl_plan_event_t *event = (ctl_plan_event_t *)calloc (1, sizeof (ctl_plan_event_t));
        if (event) {
            event->id = ctl_query_int (query, 0);
            event->plan_id = ctl_query_strdup (query, 1);
            event->agent = ctl_query_strdup (query, 2);
            event->time = ctl_query_int (query, 3);
            event->step = ctl_query_strdup (query, 4);
            event->status = ctl_query_strdup (query, 5);
            event->detail = ctl_query_strdup (query, 6);
            event->output = ctl_query_strdup (query, 7);
            event->duration_ms = ctl_query_int (query, 8);
        }
        if (!event || !zlistx_add_end (list, event)) {
            ctl_plan_event_destroy (&event);
            query->failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (query))
        zlistx_destroy (&list);
    return list;
}

zlistx_t *ctl_plans_repo_decision_events (ctl_store_t *store, const char *id)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_plan_event_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT e.id, e.plan_id, e.agent, e.time, e.step, e.status, "
                                   "e.detail, e.output, coalesce (e.duration_ms, 0) FROM events e "
                                   "WHERE e.plan_id = $1 AND e.agent = 'controller' ORDER BY e.id",
                                   "t", id)
                  : -1;
    return s_events (&query, rc, list);
}

zlistx_t *ctl_plans_repo_events (ctl_store_t *store, const char *id, int64_t after_id,
                                 int64_t limit)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_plan_event_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT e.id, e.plan_id, e.agent, e.time, e.step, e.status, "
                                   "e.detail, e.output, coalesce (e.duration_ms, 0) FROM events e "
                                   "WHERE (e.plan_id = $1 OR e.plan_id IN (SELECT id FROM plans "
                                   "WHERE parent = $1)) AND e.id > $2 ORDER BY e.id LIMIT $3",
                                   "tii", id, after_id, limit)
                  : -1;
    return s_events (&query, rc, list);
}

zlistx_t *ctl_plans_repo_approvals (ctl_store_t *store, const char *id)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_approval_row_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT a.plan_id, a.operator, a.roles, coalesce (o.roles, ''), "
                                   "a.time FROM approvals a LEFT JOIN operators o ON o.name = "
                                   "a.operator WHERE a.plan_id = $1 ORDER BY a.time, a.operator",
                                   "t", id)
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_approval_row_t *row = (ctl_approval_row_t *)calloc (1, sizeof (ctl_approval_row_t));
        if (row) {
            row->plan_id = ctl_query_strdup (&query, 0);
            row->operator_name = ctl_query_strdup (&query, 1);
            row->role = ctl_query_strdup (&query, 2);
            row->operator_roles = ctl_query_strdup (&query, 3);
            row->time = ctl_query_int (&query, 4);
        }
        if (!row || !row->operator_name || !zlistx_add_end (list, row)) {
            ctl_approval_row_destroy (&row);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

int ctl_plans_repo_approval_add (ctl_store_t *store, const char *id, const char *operator_name,
                                 const char *role, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO approvals (plan_id, operator, roles, time) VALUES ($1, $2, "
                         "$3, $4)",
                         "ttti", id, operator_name, role, now) == 1
               ? 0
               : -1;
}

int ctl_plans_repo_decision_add (ctl_store_t *store, const char *plan_id, const char *undoes,
                                 const char *rule_id, const char *what, const char *detail,
                                 int64_t now)
{
    if (ctl_sql_exec (ctl_store_sql (store),
                      "INSERT INTO decisions (plan_id, undoes, rule_id, time, what, detail) "
                      "VALUES ($1, $2, $3, $4, $5, $6)",
                      "tttitt", plan_id, undoes, rule_id, now, what, detail) != 1) {
        jad_log_error ("store: cannot store a decision rule=%s", rule_id ? rule_id : "-");
        return -1;
    }
    return 0;
}

zlistx_t *ctl_plans_repo_decisions (ctl_store_t *store, const char *plan_id)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_decision_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT id, plan_id, undoes, rule_id, time, what, detail FROM "
                                   "decisions WHERE plan_id = $1 OR undoes = $1 ORDER BY id",
                                   "t", plan_id)
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_decision_t *row = (ctl_decision_t *)calloc (1, sizeof (ctl_decision_t));
        if (row) {
            row->id = ctl_query_int (&query, 0);
            row->plan_id = ctl_query_strdup (&query, 1);
            row->undoes = ctl_query_strdup (&query, 2);
            row->rule_id = ctl_query_strdup (&query, 3);
            row->time = ctl_query_int (&query, 4);
            row->what = ctl_query_strdup (&query, 5);
            row->detail = ctl_query_strdup (&query, 6);
        }
        if (!row || !row->what || !zlistx_add_end (list, row)) {
            ctl_decision_destroy (&row);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

//  --------------------------------------------------------------------------
//  Database migrations

int ctl_plans_repo_migration_up (ctl_store_t *store, const char *env, const char *app,
                                 const char *version, const char *host, const char *plan_id,
                                 int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO migrations (env, app, version, state, host, plan_id, time) "
                         "VALUES ($1, $2, $3, 'up', $4, $5, $6) ON CONFLICT (env, app, version) "
                         "DO UPDATE SET state = 'up', host = excluded.host, plan_id = "
                         "excluded.plan_id, time = excluded.time",
                         "ttttti", env, app, version, host, plan_id, now) < 0
               ? -1
               : 0;
}

int ctl_plans_repo_migration_down (ctl_store_t *store, const char *env, const char *app,
                                   const char *version, const char *host, const char *plan_id,
                                   int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE migrations SET state = 'down', host = $1, plan_id = $2, time = "
                         "$3 WHERE env = $4 AND app = $5 AND version = $6",
                         "ttittt", host, plan_id, now, env, app, version) < 0
               ? -1
               : 0;
}

zlistx_t *ctl_plans_repo_crossed (ctl_store_t *store, const char *env, const char *app,
                                  const char *version)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_crossed_row_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT m.version, r.migrate_down FROM migrations m JOIN "
                                   "releases r ON r.app = m.app AND r.version = m.version WHERE "
                                   "m.env = $1 AND m.app = $2 AND m.state = 'up' AND m.version != "
                                   "$3 AND r.created > coalesce ((SELECT created FROM releases "
                                   "WHERE app = $2 AND version = $3), 0) ORDER BY r.created DESC, "
                                   "r.counter DESC",
                                   "ttt", env, app, version)
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_crossed_row_t *row = (ctl_crossed_row_t *)calloc (1, sizeof (ctl_crossed_row_t));
        if (row) {
            row->version = ctl_query_strdup (&query, 0);
            row->has_down = ctl_query_int (&query, 1) != 0;
        }
        if (!row || !row->version || !zlistx_add_end (list, row)) {
            ctl_crossed_row_destroy (&row);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}
