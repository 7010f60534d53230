//  ctl_incidents_repo - incidents, their notes and their post-mortem
//  timeline (DESIGN §11)
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_incidents_repo.h"
#include "ctl_store_internal.h"
#include "jad_log.h"

#include <stdlib.h>
#include <string.h>

void ctl_incident_destroy (ctl_incident_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_incident_t *self = *self_p;
    ctl_store_free_strings (&self->env, &self->title, &self->state, &self->opened_by,
                            &self->closed_by, &self->plan_id, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_incident_note_destroy (ctl_incident_note_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_store_free_strings (&(*self_p)->author, &(*self_p)->text, NULL);
    free (*self_p);
    *self_p = NULL;
}

void ctl_timeline_entry_destroy (ctl_timeline_entry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_store_free_strings (&(*self_p)->what, &(*self_p)->subject, &(*self_p)->text, NULL);
    free (*self_p);
    *self_p = NULL;
}

#define S_INCIDENT_COLUMNS                                                                         \
    "i.id, i.env, i.title, i.state, i.since, i.opened, i.opened_by, coalesce (i.closed, 0), "      \
    "i.closed_by, i.plan_id, (SELECT count (*) FROM incident_notes n WHERE n.incident = i.id)"

static ctl_incident_t *s_incident_read (ctl_query_t *query)
{
    ctl_incident_t *self = (ctl_incident_t *)calloc (1, sizeof (ctl_incident_t));
    if (!self)
        return NULL;
    self->id = ctl_query_int (query, 0);
    self->env = ctl_query_strdup (query, 1);
    self->title = ctl_query_strdup (query, 2);
    self->state = ctl_query_strdup (query, 3);
    self->since = ctl_query_int (query, 4);
    self->opened = ctl_query_int (query, 5);
    self->opened_by = ctl_query_strdup (query, 6);
    self->closed = ctl_query_int (query, 7);
    self->closed_by = ctl_query_strdup (query, 8);
    self->plan_id = ctl_query_strdup (query, 9);
    self->notes = ctl_query_int (query, 10);
    if (!self->env || !self->title || !self->state || !self->opened_by)
        ctl_incident_destroy (&self);
    return self;
}

int ctl_incidents_repo_open (ctl_store_t *store, const char *env, const char *title, const char *by,
                             const char *plan_id, int64_t since, int64_t now, int64_t *id)
{
    *id = 0;
    int rc = ctl_sql_int (ctl_store_sql (store), id,
                          "INSERT INTO incidents (env, title, state, since, opened, opened_by, "
                          "plan_id) VALUES ($1, $2, 'open', $3, $4, $5, $6) RETURNING id",
                          "ttiitt", env, title, since < now ? since : now, now, by, plan_id);
    if (rc != 0 || *id <= 0) {
        jad_log_error ("store: cannot open an incident env=%s", env);
        return -1;
    }
    return 0;
}

int ctl_incidents_repo_note (ctl_store_t *store, int64_t id, const char *author, const char *text,
                             int64_t now)
{
    int64_t rows = ctl_sql_exec (ctl_store_sql (store),
                                 "INSERT INTO incident_notes (incident, time, author, text) "
                                 "SELECT id, $2, $3, $4 FROM incidents WHERE id = $1",
                                 "iitt", id, now, author, text);
    return rows < 0 ? -1 : rows == 0 ? 1 : 0;
}

int ctl_incidents_repo_close (ctl_store_t *store, int64_t id, const char *by, int64_t now)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    if (ctl_sql_begin (sql))
        return -1;
    char *state = NULL;
    int rc = ctl_sql_text (sql, &state, "SELECT state FROM incidents WHERE id = $1", "i", id);
    if (rc == 0 && state && strcmp (state, "open") == 0)
        rc = ctl_sql_exec (sql,
                           "UPDATE incidents SET state = 'closed', closed = $2, closed_by = $3 "
                           "WHERE id = $1 AND state = 'open'",
                           "iit", id, now, by) == 1
                 ? 0
                 : -1;
    else if (rc == 0)
        rc = 2;
    free (state);
    if (rc < 0 || ctl_sql_commit (sql)) {
        ctl_sql_rollback (sql);
        return -1;
    }
    return rc;
}

int ctl_incidents_repo_get (ctl_store_t *store, int64_t id, ctl_incident_t **incident_p)
{
    *incident_p = NULL;
    ctl_query_t query;
    int rc =
        ctl_sql_query (ctl_store_sql (store), &query,
                       "SELECT " S_INCIDENT_COLUMNS " FROM incidents i WHERE i.id = $1", "i", id);
    int found = 1;
    if (rc == 0 && ctl_query_next (&query)) {
        *incident_p = s_incident_read (&query);
        found = *incident_p ? 0 : -1;
    }
    if (rc || ctl_query_end (&query) || found < 0) {
        ctl_incident_destroy (incident_p);
        return -1;
    }
    return found;
}

zlistx_t *ctl_incidents_repo_list (ctl_store_t *store, const char *env, bool open_only,
                                   int64_t limit)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_incident_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT " S_INCIDENT_COLUMNS " FROM incidents i WHERE ($1 IS "
                                   "NULL OR i.env = $1) AND ($2 = 0 OR i.state = 'open') ORDER "
                                   "BY i.id DESC LIMIT $3",
                                   "tbi", env, (int)open_only, limit)
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_incident_t *row = s_incident_read (&query);
        if (!row || !zlistx_add_end (list, row)) {
            ctl_incident_destroy (&row);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

zlistx_t *ctl_incidents_repo_notes (ctl_store_t *store, int64_t id)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_incident_note_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT id, time, author, text FROM incident_notes WHERE "
                                   "incident = $1 ORDER BY id",
                                   "i", id)
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_incident_note_t *row = (ctl_incident_note_t *)calloc (1, sizeof (ctl_incident_note_t));
        if (row) {
            row->id = ctl_query_int (&query, 0);
            row->time = ctl_query_int (&query, 1);
            row->author = ctl_query_strdup (&query, 2);
            row->text = ctl_query_strdup (&query, 3);
        }
        if (!row || !row->author || !row->text || !zlistx_add_end (list, row)) {
            ctl_incident_note_destroy (&row);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

zlistx_t *ctl_incidents_repo_timeline (ctl_store_t *store, int64_t id, const char *env,
                                       int64_t from, int64_t until, int64_t limit)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_timeline_entry_destroy);
    ctl_query_t query;
    //  one query over every source, ordered by time, then by what happens
    //  first at the same millisecond (a plan before its decisions)
    int rc =
        list ? ctl_sql_query (
                   ctl_store_sql (store), &query,
                   "SELECT time, what, subject, text FROM ("
                   "SELECT p.created AS time, 1 AS rank, 'plan' AS what, p.id AS subject, p.kind "
                   "|| ' ' || p.app || ' ' || p.version || ' by ' || coalesce (p.deployer, '-') "
                   "|| ' (' || p.strategy || ')' AS text FROM plans p WHERE p.env = $1 AND "
                   "p.created >= $2 AND p.created <= $3 "
                   "UNION ALL SELECT p.finished, 5, 'outcome', p.id, p.kind || ' ' || p.app || "
                   "' ' || p.version || ' ' || p.state || ': ' || coalesce (p.reason, '-') FROM "
                   "plans p WHERE p.env = $1 AND p.finished >= $2 AND p.finished <= $3 "
                   "UNION ALL SELECT e.time, 2, 'decision', e.plan_id, coalesce (e.step, '-') || "
                   "' ' || coalesce (e.status, '-') || ': ' || coalesce (e.detail, '') FROM "
                   "events e JOIN plans p ON p.id = e.plan_id WHERE e.agent = 'controller' AND "
                   "p.env = $1 AND e.time >= $2 AND e.time <= $3 "
                   "UNION ALL SELECT d.time, 2, 'decision', coalesce (d.plan_id, d.rule_id, '-'), "
                   "d.what || ': ' || d.detail FROM decisions d LEFT JOIN alert_rules r ON r.id "
                   "= d.rule_id LEFT JOIN plans p ON p.id = d.plan_id WHERE coalesce (p.env, "
                   "r.env) = $1 AND d.time >= $2 AND d.time <= $3 "
                   "UNION ALL SELECT a.time, 3, 'alert', a.rule_id, r.metric || ' ' || "
                   "a.from_state || ' -> ' || a.to_state || coalesce (' (value ' || CAST "
                   "(a.value AS TEXT) || ')', '') FROM alert_events a JOIN alert_rules r ON r.id "
                   "= a.rule_id WHERE r.env = $1 AND a.time >= $2 AND a.time <= $3 "
                   "UNION ALL SELECT ap.time, 4, 'approval', ap.plan_id, ap.operator || ' "
                   "approved as ' || ap.roles FROM approvals ap JOIN plans p ON p.id = "
                   "ap.plan_id WHERE p.env = $1 AND ap.time >= $2 AND ap.time <= $3 "
                   "UNION ALL SELECT au.time, 6, 'audit', au.operator, au.command || coalesce ("
                   "' ' || au.args, '') || ': ' || au.outcome FROM audit au WHERE au.time >= $2 "
                   "AND au.time <= $3 "
                   "UNION ALL SELECT n.time, 7, 'note', n.author, n.text FROM incident_notes n "
                   "WHERE n.incident = $4"
                   ") t ORDER BY time, rank LIMIT $5",
                   "tiiii", env, from, until, id, limit)
             : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_timeline_entry_t *row =
            (ctl_timeline_entry_t *)calloc (1, sizeof (ctl_timeline_entry_t));
        if (row) {
            row->time = ctl_query_int (&query, 0);
            row->what = ctl_query_strdup (&query, 1);
            row->subject = ctl_query_strdup (&query, 2);
            row->text = ctl_query_strdup (&query, 3);
        }
        if (!row || !row->what || !zlistx_add_end (list, row)) {
            ctl_timeline_entry_destroy (&row);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}
