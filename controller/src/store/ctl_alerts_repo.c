//  ctl_alerts_repo - alert rules and their transitions
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_alerts_repo.h"
#include "ctl_store_internal.h"
#include "jad_log.h"

#include <stdlib.h>
#include <string.h>

void ctl_alert_rule_destroy (ctl_alert_rule_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_alert_rule_t *self = *self_p;
    ctl_store_free_strings (&self->id, &self->origin, &self->env, &self->metric, &self->query,
                            &self->aggregate, &self->action, &self->state, &self->error,
                            &self->canary, &self->compare, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_canary_state_destroy (ctl_canary_state_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_canary_state_t *self = *self_p;
    ctl_store_free_strings (&self->plan_id, &self->rule_id, &self->state, &self->host,
                            &self->detail, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_alert_event_destroy (ctl_alert_event_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_alert_event_t *self = *self_p;
    ctl_store_free_strings (&self->rule_id, &self->from_state, &self->to_state, &self->error,
                            &self->detail, NULL);
    free (self);
    *self_p = NULL;
}

#define S_RULE_COLUMNS                                                                             \
    "r.id, r.origin, r.env, r.metric, r.query, r.aggregate, r.window_ms, r.above, r.threshold, "   \
    "r.for_ms, r.min_samples, r.action, r.state, coalesce (r.since, 0), r.value, "                 \
    "coalesce (r.samples, 0), coalesce (r.hosts, 0), coalesce (r.changed, 0), r.created, "         \
    "r.canary, r.compare_with, coalesce (r.ratio, 0), coalesce (r.difference, 0)"
#define S_RULE_COUNT 23

static ctl_alert_rule_t *s_rule_read (ctl_query_t *query)
{
    ctl_alert_rule_t *rule = (ctl_alert_rule_t *)calloc (1, sizeof (ctl_alert_rule_t));
    if (!rule)
        return NULL;
    rule->id = ctl_query_strdup (query, 0);
    rule->origin = ctl_query_strdup (query, 1);
    rule->env = ctl_query_strdup (query, 2);
    rule->metric = ctl_query_strdup (query, 3);
    rule->query = ctl_query_strdup (query, 4);
    rule->aggregate = ctl_query_strdup (query, 5);
    rule->window_ms = ctl_query_int (query, 6);
    rule->above = ctl_query_int (query, 7) != 0;
    rule->threshold = ctl_query_double (query, 8);
    rule->for_ms = ctl_query_int (query, 9);
    rule->min_samples = ctl_query_int (query, 10);
    rule->action = ctl_query_strdup (query, 11);
    rule->state = ctl_query_strdup (query, 12);
    rule->since = ctl_query_int (query, 13);
    rule->has_value = !ctl_query_null (query, 14);
    rule->value = ctl_query_double (query, 14);
    rule->samples = ctl_query_int (query, 15);
    rule->hosts = ctl_query_int (query, 16);
    rule->evaluated = ctl_query_int (query, 17);
    rule->created = ctl_query_int (query, 18);
    rule->canary = ctl_query_strdup (query, 19);
    rule->compare = ctl_query_strdup (query, 20);
    rule->ratio = ctl_query_double (query, 21);
    rule->difference = ctl_query_double (query, 22);
    if (!rule->id || !rule->origin || !rule->env || !rule->metric || !rule->aggregate ||
        !rule->state)
        ctl_alert_rule_destroy (&rule);
    return rule;
}

//  One rule from a query with S_RULE_COLUMNS (and the error after them
//  when `with_error`): 0, 1, -1.
static int s_rule_one (ctl_query_t *query, int rc, bool with_error, ctl_alert_rule_t **rule_p)
{
    *rule_p = NULL;
    int found = 1;
    if (rc == 0 && ctl_query_next (query)) {
        *rule_p = s_rule_read (query);
        if (*rule_p && with_error)
            (*rule_p)->error = ctl_query_strdup (query, S_RULE_COUNT);
        found = *rule_p ? 0 : -1;
    }
    if (ctl_query_end (query) || found < 0) {
        ctl_alert_rule_destroy (rule_p);
        return -1;
    }
    return found;
}

int ctl_alerts_repo_add (ctl_store_t *store, const ctl_alert_rule_t *rule, int64_t now)
{
    int64_t changed = ctl_sql_exec (
        ctl_store_sql (store),
        "INSERT INTO alert_rules (id, origin, env, metric, query, aggregate, window_ms, above, "
        "threshold, for_ms, min_samples, action, state, since, created, canary, compare_with, "
        "ratio, difference) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'ok', $13, "
        "$13, $14, $15, $16, $17) ON CONFLICT (id) DO NOTHING",
        "ttttttibdiitittdd", rule->id, rule->origin, rule->env, rule->metric, rule->query,
        rule->aggregate ? rule->aggregate : "avg", rule->window_ms, (int)rule->above,
        rule->threshold, rule->for_ms, rule->min_samples, rule->action, now, rule->canary,
        rule->compare, rule->ratio, rule->difference);
    return changed < 0 ? -1 : changed == 0 ? 1 : 0;
}

int ctl_alerts_repo_sync_config (ctl_store_t *store, const ctl_alert_rule_t *rules, size_t count,
                                 int64_t now)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    if (ctl_sql_begin (sql))
        return -1;
    for (size_t index = 0; index < count; index++)
        if (ctl_alerts_repo_add (store, &rules[index], now) < 0)
            goto failed;
    //  config rules no longer in the file go
    zlistx_t *stored = ctl_store_strings (store,
                                          "SELECT id FROM alert_rules WHERE origin = "
                                          "'config' ORDER BY id",
                                          "");
    if (!stored)
        goto failed;
    for (char *id = zlistx_first (stored); id; id = zlistx_next (stored)) {
        bool kept = false;
        for (size_t index = 0; index < count && !kept; index++)
            kept = streq (rules[index].id, id);
        if (!kept && ctl_alerts_repo_remove (store, id)) {
            zlistx_destroy (&stored);
            goto failed;
        }
    }
    zlistx_destroy (&stored);
    if (ctl_sql_commit (sql) == 0)
        return 0;
failed:
    ctl_sql_rollback (sql);
    jad_log_error ("store: cannot sync the alert rules of controller.yaml");
    return -1;
}

int ctl_alerts_repo_get (ctl_store_t *store, const char *id, ctl_alert_rule_t **rule_p)
{
    ctl_query_t query;
    int rc =
        ctl_sql_query (ctl_store_sql (store), &query,
                       "SELECT " S_RULE_COLUMNS " FROM alert_rules r WHERE r.id = $1", "t", id);
    return s_rule_one (&query, rc, false, rule_p);
}

zlistx_t *ctl_alerts_repo_rules (ctl_store_t *store, bool by_env)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_alert_rule_destroy);
    ctl_query_t query;
    int rc = !list ? -1
             : by_env
                 ? ctl_sql_query (
                       ctl_store_sql (store), &query,
                       "SELECT " S_RULE_COLUMNS " FROM alert_rules r ORDER BY r.env, r.id", "")
                 : ctl_sql_query (ctl_store_sql (store), &query,
                                  "SELECT " S_RULE_COLUMNS " FROM alert_rules r ORDER BY r.id", "");
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_alert_rule_t *rule = s_rule_read (&query);
        if (!rule || !zlistx_add_end (list, rule)) {
            ctl_alert_rule_destroy (&rule);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

int ctl_alerts_repo_remove (ctl_store_t *store, const char *id)
{
    return ctl_sql_exec (ctl_store_sql (store), "DELETE FROM alert_rules WHERE id = $1", "t", id) <
                   0
               ? -1
               : 0;
}

int ctl_alerts_repo_evaluated (ctl_store_t *store, const char *id, const char *state, int64_t since,
                               bool has_value, double value, int64_t samples, int64_t hosts,
                               int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE alert_rules SET state = $1, since = $2, value = CASE WHEN $3 = 1 "
                         "THEN $4 ELSE NULL END, samples = $5, hosts = $6, changed = $7 WHERE "
                         "id = $8",
                         "tibdiiit", state, since, (int)has_value, value, samples, hosts, now,
                         id) < 0
               ? -1
               : 0;
}

int ctl_alerts_repo_event_add (ctl_store_t *store, const ctl_alert_event_t *event)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO alert_events (rule_id, time, from_state, to_state, value, "
                         "samples, hosts, error, detail) VALUES ($1, $2, $3, $4, CASE WHEN $5 = 1 "
                         "THEN $6 ELSE NULL END, $7, $8, $9, $10)",
                         "tittbdiitt", event->rule_id, event->time, event->from_state,
                         event->to_state, (int)event->has_value, event->value, event->samples,
                         event->hosts, event->error, event->detail) == 1
               ? 0
               : -1;
}

zlistx_t *ctl_alerts_repo_events (ctl_store_t *store, int64_t limit)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_alert_event_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT id, rule_id, time, from_state, to_state, value, "
                                   "coalesce (samples, 0), coalesce (hosts, 0), error, detail "
                                   "FROM alert_events ORDER BY id DESC LIMIT $1",
                                   "i", limit)
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_alert_event_t *event = (ctl_alert_event_t *)calloc (1, sizeof (ctl_alert_event_t));
        if (event) {
            event->id = ctl_query_int (&query, 0);
            event->rule_id = ctl_query_strdup (&query, 1);
            event->time = ctl_query_int (&query, 2);
            event->from_state = ctl_query_strdup (&query, 3);
            event->to_state = ctl_query_strdup (&query, 4);
            event->has_value = !ctl_query_null (&query, 5);
            event->value = ctl_query_double (&query, 5);
            event->samples = ctl_query_int (&query, 6);
            event->hosts = ctl_query_int (&query, 7);
            event->error = ctl_query_strdup (&query, 8);
            event->detail = ctl_query_strdup (&query, 9);
        }
        if (!event || !event->rule_id || !event->from_state || !event->to_state ||
            !zlistx_add_end (list, event)) {
            ctl_alert_event_destroy (&event);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

int ctl_alerts_repo_firing (ctl_store_t *store, const char *env, ctl_alert_rule_t **rule_p)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_RULE_COLUMNS " FROM alert_rules r WHERE r.env = $1 AND "
                            "r.state = 'firing' ORDER BY r.id LIMIT 1",
                            "t", env);
    return s_rule_one (&query, rc, false, rule_p);
}

int ctl_alerts_repo_inconclusive (ctl_store_t *store, const char *env, int64_t after,
                                  ctl_alert_rule_t **rule_p)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_RULE_COLUMNS ", (SELECT e.error FROM alert_events e "
                            "WHERE e.rule_id = r.id ORDER BY e.id DESC LIMIT 1) FROM alert_rules "
                            "r WHERE r.env = $1 AND r.state = 'inconclusive' AND r.since > $2 "
                            "ORDER BY r.id LIMIT 1",
                            "ti", env, after);
    return s_rule_one (&query, rc, true, rule_p);
}

int ctl_alerts_repo_canary_put (ctl_store_t *store, const ctl_canary_state_t *state)
{
    //  a value the reading did not have is stored as NULL
    int64_t changed = ctl_sql_exec (
        ctl_store_sql (store),
        "INSERT INTO canary_states (plan_id, rule_id, state, since, value, baseline, samples, "
        "hosts, host, detail, evaluated) VALUES ($1, $2, $3, $4, CASE WHEN $5 = 1 THEN $6 END, "
        "CASE WHEN $7 = 1 THEN $8 END, $9, $10, $11, $12, $13) ON CONFLICT (plan_id, rule_id) "
        "DO UPDATE SET state = excluded.state, since = excluded.since, value = excluded.value, "
        "baseline = excluded.baseline, samples = excluded.samples, hosts = excluded.hosts, "
        "host = excluded.host, detail = excluded.detail, evaluated = excluded.evaluated",
        "tttiidbdiitti", state->plan_id, state->rule_id, state->state, state->since,
        (int64_t)state->has_value, state->has_value ? state->value : 0.0, (int)state->has_baseline,
        state->has_baseline ? state->baseline : 0.0, state->samples, state->hosts, state->host,
        state->detail, state->evaluated);
    return changed < 0 ? -1 : 0;
}

zlistx_t *ctl_alerts_repo_canary_states (ctl_store_t *store, const char *plan_id)
{
    zlistx_t *list = zlistx_new ();
    if (!list)
        return NULL;
    zlistx_set_destructor (list, (zlistx_destructor_fn *)ctl_canary_state_destroy);
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT plan_id, rule_id, state, since, value, baseline, samples, "
                            "hosts, host, detail, evaluated FROM canary_states WHERE plan_id = "
                            "$1 ORDER BY rule_id",
                            "t", plan_id);
    bool failed = rc != 0;
    while (!failed && ctl_query_next (&query)) {
        ctl_canary_state_t *state = (ctl_canary_state_t *)calloc (1, sizeof (ctl_canary_state_t));
        if (!state) {
            failed = true;
            break;
        }
        state->plan_id = ctl_query_strdup (&query, 0);
        state->rule_id = ctl_query_strdup (&query, 1);
        state->state = ctl_query_strdup (&query, 2);
        state->since = ctl_query_int (&query, 3);
        state->has_value = !ctl_query_null (&query, 4);
        state->value = ctl_query_double (&query, 4);
        state->has_baseline = !ctl_query_null (&query, 5);
        state->baseline = ctl_query_double (&query, 5);
        state->samples = ctl_query_int (&query, 6);
        state->hosts = ctl_query_int (&query, 7);
        state->host = ctl_query_strdup (&query, 8);
        state->detail = ctl_query_strdup (&query, 9);
        state->evaluated = ctl_query_int (&query, 10);
        if (!state->plan_id || !state->rule_id || !state->state || !zlistx_add_end (list, state)) {
            ctl_canary_state_destroy (&state);
            failed = true;
        }
    }
    if (ctl_query_end (&query) || failed)
        zlistx_destroy (&list);
    return list;
}
