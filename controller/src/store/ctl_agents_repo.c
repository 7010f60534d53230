//  ctl_agents_repo - agents, their apps, operators, the audit log and the
//  enrollment tokens
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_agents_repo.h"
#include "ctl_store_internal.h"
#include "jad_log.h"

#include <stdlib.h>
#include <string.h>

void ctl_agent_app_destroy (ctl_agent_app_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_agent_app_t *self = *self_p;
    ctl_store_free_strings (&self->app, &self->version, &self->health, &self->plan_id, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_agent_destroy (ctl_agent_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_agent_t *self = *self_p;
    ctl_store_free_strings (&self->name, &self->public_key, &self->env, &self->state,
                            &self->incarnation, &self->address, &self->refusals, NULL);
    zlistx_destroy (&self->apps);
    free (self);
    *self_p = NULL;
}

void ctl_operator_destroy (ctl_operator_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_operator_t *self = *self_p;
    ctl_store_free_strings (&self->name, &self->public_key, &self->roles, &self->signing_key,
                            &self->retired_as, &self->retired_name, NULL);
    free (self);
    *self_p = NULL;
}

const char *ctl_operator_shown_name (const ctl_operator_t *self)
{
    return self->retired_name ? self->retired_name : self->name;
}

void ctl_audit_entry_destroy (ctl_audit_entry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_audit_entry_t *self = *self_p;
    ctl_store_free_strings (&self->operator_name, &self->command, &self->args, &self->outcome,
                            NULL);
    free (self);
    *self_p = NULL;
}

void ctl_tally_destroy (ctl_tally_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_tally_t *self = *self_p;
    for (size_t index = 0; index < 4; index++)
        free (self->labels[index]);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Agents

#define S_AGENT_COLUMNS                                                                            \
    "a.name, a.public_key, a.env, a.state, a.incarnation, a.address, a.refusals, "                 \
    "coalesce (a.last_seen, 0), coalesce (a.last_sequence, 0), a.created, a.stale, "               \
    "a.stale_alarms"
#define S_AGENT_COUNT 12

//  An agent from the first S_AGENT_COUNT columns; NULL if out of memory.
static ctl_agent_t *s_agent_read (ctl_query_t *query)
{
    ctl_agent_t *agent = (ctl_agent_t *)calloc (1, sizeof (ctl_agent_t));
    if (!agent)
        return NULL;
    agent->name = ctl_query_strdup (query, 0);
    agent->public_key = ctl_query_strdup (query, 1);
    agent->env = ctl_query_strdup (query, 2);
    agent->state = ctl_query_strdup (query, 3);
    agent->incarnation = ctl_query_strdup (query, 4);
    agent->address = ctl_query_strdup (query, 5);
    agent->refusals = ctl_query_strdup (query, 6);
    agent->last_seen = ctl_query_int (query, 7);
    agent->last_sequence = ctl_query_int (query, 8);
    agent->created = ctl_query_int (query, 9);
    agent->stale = ctl_query_int (query, 10) != 0;
    agent->stale_alarms = ctl_query_int (query, 11);
    if (!agent->name || !agent->public_key || !agent->env || !agent->state)
        ctl_agent_destroy (&agent);
    return agent;
}

//  One agent from a query with S_AGENT_COLUMNS: 0, 1 none, -1 error.
static int s_agent_one (ctl_query_t *query, int rc, ctl_agent_t **agent_p)
{
    *agent_p = NULL;
    int found = 1;
    if (rc == 0 && ctl_query_next (query)) {
        *agent_p = s_agent_read (query);
        found = *agent_p ? 0 : -1;
    }
    if (ctl_query_end (query) || found < 0) {
        ctl_agent_destroy (agent_p);
        return -1;
    }
    return found;
}

int ctl_agents_repo_by_key (ctl_store_t *store, const char *key, ctl_agent_t **agent_p)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_AGENT_COLUMNS " FROM agents a WHERE a.public_key = $1", "t",
                            key);
    return s_agent_one (&query, rc, agent_p);
}

int ctl_agents_repo_by_name (ctl_store_t *store, const char *name, ctl_agent_t **agent_p)
{
    ctl_query_t query;
    int rc =
        ctl_sql_query (ctl_store_sql (store), &query,
                       "SELECT " S_AGENT_COLUMNS " FROM agents a WHERE a.name = $1", "t", name);
    return s_agent_one (&query, rc, agent_p);
}

int ctl_agents_repo_add (ctl_store_t *store, const char *name, const char *key, const char *env,
                         const char *state, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO agents (name, public_key, env, state, created, last_seen) "
                         "VALUES ($1, $2, $3, $4, $5, $5)",
                         "tttti", name, key, env, state, now) == 1
               ? 0
               : -1;
}

int ctl_agents_repo_set_state (ctl_store_t *store, const char *name, const char *state)
{
    return ctl_sql_exec (ctl_store_sql (store), "UPDATE agents SET state = $1 WHERE name = $2",
                         "tt", state, name) < 0
               ? -1
               : 0;
}

int ctl_agents_repo_retire_name (ctl_store_t *store, const char *name, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE agents SET name = name || '.removed-' || CAST ($1 AS TEXT) "
                         "WHERE name = $2 AND state = 'removed'",
                         "it", now, name) < 0
               ? -1
               : 0;
}

int ctl_agents_repo_touch (ctl_store_t *store, const char *name, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store), "UPDATE agents SET last_seen = $1 WHERE name = $2",
                         "it", now, name) < 0
               ? -1
               : 0;
}

int ctl_agents_repo_seen (ctl_store_t *store, const char *name, const ctl_agent_seen_t *seen)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE agents SET last_seen = $1, incarnation = $2, last_sequence = $3, "
                         "refusals = $4, stale = $5, stale_alarms = $6 WHERE name = $7",
                         "ititbit", seen->last_seen, seen->incarnation, seen->last_sequence,
                         seen->refusals, (int)seen->stale, seen->stale_alarms, name) < 0
               ? -1
               : 0;
}

int ctl_agents_repo_app_set (ctl_store_t *store, const char *agent, const char *app,
                             const char *version, const char *health, const char *plan_id,
                             int64_t now, uint32_t max_apps)
{
    //  a version from a plan that does not target the agent changes nothing
    if (plan_id) {
        ctl_query_t query;
        if (ctl_sql_query (ctl_store_sql (store), &query,
                           "SELECT 1 FROM plan_hosts WHERE plan_id = $1 AND agent = $2", "tt",
                           plan_id, agent) != 0)
            return -1;
        bool targets = ctl_query_next (&query);
        if (ctl_query_end (&query))
            return -1;
        if (!targets)
            return 0;
    }
    return ctl_agents_repo_app_put (store, agent, app, version, health, plan_id, now, max_apps);
}

int ctl_agents_repo_app_put (ctl_store_t *store, const char *agent, const char *app,
                             const char *version, const char *health, const char *plan_id,
                             int64_t now, uint32_t max_apps)
{
    //  the row is written when it exists or the agent is under its cap
    int64_t changed = ctl_sql_exec (
        ctl_store_sql (store),
        "INSERT INTO agent_apps (agent, app, version, health, plan_id, updated) SELECT $1, $2, "
        "$3, $4, $5, $6 WHERE $7 = 0 OR EXISTS (SELECT 1 FROM agent_apps WHERE agent = $1 AND "
        "app = $2) OR (SELECT count (*) FROM agent_apps WHERE agent = $1) < $7 ON CONFLICT "
        "(agent, app) DO UPDATE SET version = excluded.version, health = excluded.health, "
        "plan_id = excluded.plan_id, updated = excluded.updated",
        "tttttii", agent, app, version, health, plan_id, now, (int64_t)max_apps);
    return changed < 0 ? -1 : (changed == 0 ? 1 : 0);
}

zlistx_t *ctl_agents_repo_list (ctl_store_t *store)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_agent_destroy);
    ctl_query_t query;
    int rc =
        list ? ctl_sql_query (ctl_store_sql (store), &query,
                              "SELECT " S_AGENT_COLUMNS " FROM agents a ORDER BY a.env, a.name", "")
             : -1;
    if (rc)
        goto failed;
    while (ctl_query_next (&query)) {
        ctl_agent_t *agent = s_agent_read (&query);
        if (!agent || !zlistx_add_end (list, agent)) {
            ctl_agent_destroy (&agent);
            query.failed = true;
            break;
        }
    }
    if (ctl_query_end (&query) == 0)
        return list;
failed:
    zlistx_destroy (&list);
    return NULL;
}

zlistx_t *ctl_agents_repo_fleet (ctl_store_t *store, const char *env, const char *app)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_agent_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT " S_AGENT_COLUMNS ", x.app, x.version, x.health, "
                                   "x.plan_id, x.updated FROM agents a LEFT JOIN agent_apps x ON "
                                   "x.agent = a.name AND ($2 IS NULL OR x.app = $2) WHERE ($1 "
                                   "IS NULL OR a.env = $1) AND a.state != 'removed' ORDER BY "
                                   "a.env, a.name, x.app",
                                   "tt", env, app)
                  : -1;
    if (rc)
        goto failed;
    ctl_agent_t *current = NULL;
    while (ctl_query_next (&query)) {
        const char *name = ctl_query_text (&query, 0);
        if (!current || !name || strcmp (current->name, name) != 0) {
            current = s_agent_read (&query);
            if (current)
                current->apps = ctl_store_list ((zlistx_destructor_fn *)ctl_agent_app_destroy);
            if (!current || !current->apps || !zlistx_add_end (list, current)) {
                ctl_agent_destroy (&current);
                query.failed = true;
                break;
            }
        }
        if (ctl_query_null (&query, S_AGENT_COUNT))
            continue;
        ctl_agent_app_t *entry = (ctl_agent_app_t *)calloc (1, sizeof (ctl_agent_app_t));
        if (entry) {
            entry->app = ctl_query_strdup (&query, S_AGENT_COUNT);
            entry->version = ctl_query_strdup (&query, S_AGENT_COUNT + 1);
            entry->health = ctl_query_strdup (&query, S_AGENT_COUNT + 2);
            entry->plan_id = ctl_query_strdup (&query, S_AGENT_COUNT + 3);
            entry->updated = ctl_query_int (&query, S_AGENT_COUNT + 4);
        }
        if (!entry || !entry->app || !zlistx_add_end (current->apps, entry)) {
            ctl_agent_app_destroy (&entry);
            query.failed = true;
            break;
        }
    }
    if (ctl_query_end (&query) == 0)
        return list;
failed:
    zlistx_destroy (&list);
    return NULL;
}

zlistx_t *ctl_agents_repo_accepted (ctl_store_t *store, const char *env)
{
    return ctl_store_strings (store,
                              "SELECT name FROM agents WHERE env = $1 AND state = 'accepted' "
                              "ORDER BY name",
                              "t", env);
}

zlistx_t *ctl_agents_repo_running (ctl_store_t *store, const char *env, const char *app)
{
    return ctl_store_strings (store,
                              "SELECT a.name FROM agents a WHERE a.env = $1 AND a.state = "
                              "'accepted' AND EXISTS (SELECT 1 FROM agent_apps x WHERE x.agent = "
                              "a.name AND x.app = $2) ORDER BY a.name",
                              "tt", env, app);
}

int ctl_agents_repo_common_version (ctl_store_t *store, const char *env, const char *app,
                                    char **version_p)
{
    return ctl_sql_text (ctl_store_sql (store), version_p,
                         "SELECT x.version FROM agent_apps x JOIN agents a ON a.name = x.agent "
                         "WHERE a.env = $1 AND x.app = $2 AND x.version IS NOT NULL "
                         "GROUP BY x.version ORDER BY count(*) DESC, x.version LIMIT 1",
                         "tt", env, app);
}

//  Rows of (label..., count) as tallies.
static zlistx_t *s_tally (ctl_query_t *query, int rc, int labels)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_tally_destroy);
    if (!list)
        query->failed = true;
    while (rc == 0 && list && ctl_query_next (query)) {
        ctl_tally_t *tally = (ctl_tally_t *)calloc (1, sizeof (ctl_tally_t));
        for (int index = 0; tally && index < labels; index++)
            tally->labels[index] = ctl_query_strdup (query, index);
        if (tally)
            tally->count = ctl_query_int (query, labels);
        if (!tally || !zlistx_add_end (list, tally)) {
            ctl_tally_destroy (&tally);
            query->failed = true;
            break;
        }
    }
    if (ctl_query_end (query))
        zlistx_destroy (&list);
    return list;
}

zlistx_t *ctl_agents_repo_state_tally (ctl_store_t *store, int64_t online_after)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT env, CASE WHEN state != 'accepted' THEN state WHEN "
                            "coalesce (last_seen, 0) >= $1 THEN 'online' ELSE 'offline' END, "
                            "count (*) FROM agents WHERE state != 'removed' GROUP BY 1, 2 "
                            "ORDER BY 1, 2",
                            "i", online_after);
    return s_tally (&query, rc, 2);
}

zlistx_t *ctl_agents_repo_app_tally (ctl_store_t *store)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT a.env, x.app, coalesce (x.version, ''), coalesce (x.health, "
                            "'unknown'), count (*) FROM agent_apps x JOIN agents a ON a.name = "
                            "x.agent WHERE a.state != 'removed' GROUP BY 1, 2, 3, 4 "
                            "ORDER BY 1, 2, 3, 4",
                            "");
    return s_tally (&query, rc, 4);
}

//  --------------------------------------------------------------------------
//  Operators

#define S_OPERATOR_COLUMNS                                                                         \
    "SELECT name, public_key, roles, created, signing_key, expires, retired, retired_as, "         \
    "retired_name FROM operators "

static ctl_operator_t *s_operator_read (ctl_query_t *query)
{
    ctl_operator_t *operator_row = (ctl_operator_t *)calloc (1, sizeof (ctl_operator_t));
    if (!operator_row)
        return NULL;
    operator_row->name = ctl_query_strdup (query, 0);
    operator_row->public_key = ctl_query_strdup (query, 1);
    operator_row->roles = ctl_query_strdup (query, 2);
    operator_row->created = ctl_query_int (query, 3);
    operator_row->signing_key = ctl_query_strdup (query, 4);
    operator_row->expires = ctl_query_int (query, 5);
    operator_row->retired = ctl_query_int (query, 6);
    operator_row->retired_as = ctl_query_strdup (query, 7);
    operator_row->retired_name = ctl_query_strdup (query, 8);
    if (!operator_row->name || !operator_row->public_key || !operator_row->roles)
        ctl_operator_destroy (&operator_row);
    return operator_row;
}

static int s_operator_one (ctl_query_t *query, int rc, ctl_operator_t **operator_p)
{
    *operator_p = NULL;
    int found = 1;
    if (rc == 0 && ctl_query_next (query)) {
        *operator_p = s_operator_read (query);
        found = *operator_p ? 0 : -1;
    }
    if (ctl_query_end (query) || found < 0) {
        ctl_operator_destroy (operator_p);
        return -1;
    }
    return found;
}

int ctl_agents_repo_operator_by_key (ctl_store_t *store, const char *key,
                                     ctl_operator_t **operator_p)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            S_OPERATOR_COLUMNS "WHERE public_key = $1", "t", key);
    return s_operator_one (&query, rc, operator_p);
}

int ctl_agents_repo_operator_by_name (ctl_store_t *store, const char *name,
                                      ctl_operator_t **operator_p)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query, S_OPERATOR_COLUMNS "WHERE name = $1",
                            "t", name);
    return s_operator_one (&query, rc, operator_p);
}

int ctl_agents_repo_operator_add (ctl_store_t *store, const char *name, const char *key,
                                  const char *roles, const char *signing_key, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO operators (name, public_key, roles, created, signing_key) "
                         "VALUES ($1, $2, $3, $4, $5)",
                         "tttit", name, key, roles, now, signing_key) == 1
               ? 0
               : -1;
}

//  The rows a query yields, or NULL on error.
static zlistx_t *s_operator_list (zlistx_t *list, ctl_query_t *query, int rc)
{
    while (rc == 0 && ctl_query_next (query)) {
        ctl_operator_t *operator_row = s_operator_read (query);
        if (!operator_row || !zlistx_add_end (list, operator_row)) {
            ctl_operator_destroy (&operator_row);
            query->failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (query))
        zlistx_destroy (&list);
    return list;
}

zlistx_t *ctl_agents_repo_operators (ctl_store_t *store)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_operator_destroy);
    ctl_query_t query;
    int rc =
        list ? ctl_sql_query (ctl_store_sql (store), &query, S_OPERATOR_COLUMNS "ORDER BY name", "")
             : -1;
    return s_operator_list (list, &query, rc);
}

zlistx_t *ctl_agents_repo_operators_current (ctl_store_t *store, int64_t now)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_operator_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   S_OPERATOR_COLUMNS "WHERE retired = 0 AND (expires = 0 OR "
                                                      "expires > $1) ORDER BY name",
                                   "i", now)
                  : -1;
    return s_operator_list (list, &query, rc);
}

int ctl_agents_repo_operator_set_expires (ctl_store_t *store, const char *name, int64_t expires)
{
    int64_t changed = ctl_sql_exec (
        ctl_store_sql (store), "UPDATE operators SET expires = $1 WHERE name = $2 AND retired = 0",
        "it", expires, name);
    return changed < 0 ? -1 : changed == 1 ? 0 : 1;
}

int ctl_agents_repo_operator_set_signing_key (ctl_store_t *store, const char *name,
                                              const char *signing_key)
{
    int64_t changed = ctl_sql_exec (ctl_store_sql (store),
                                    "UPDATE operators SET signing_key = $1 WHERE name = $2 AND "
                                    "retired = 0 AND signing_key IS NULL",
                                    "tt", signing_key, name);
    return changed < 0 ? -1 : changed == 1 ? 0 : 1;
}

//  Retire current operator `name`'s row as `why` at now (renamed
//  NAME.WHY-NOW); with drop_signing, its signing key goes to no one.
//  Returns 0, 1 (none) or -1.
static int s_operator_retire (ctl_store_t *store, const char *name, const char *why,
                              bool drop_signing, int64_t now)
{
    int64_t changed =
        drop_signing
            ? ctl_sql_exec (ctl_store_sql (store),
                            "UPDATE operators SET name = name || '.' || $1 || '-' || CAST ($2 AS "
                            "TEXT), retired = $2, retired_as = $1, retired_name = name, "
                            "signing_key = NULL WHERE name = $3 AND retired = 0",
                            "tit", why, now, name)
            : ctl_sql_exec (ctl_store_sql (store),
                            "UPDATE operators SET name = name || '.' || $1 || '-' || CAST ($2 AS "
                            "TEXT), retired = $2, retired_as = $1, retired_name = name WHERE name "
                            "= $3 AND retired = 0",
                            "tit", why, now, name);
    return changed < 0 ? -1 : changed == 1 ? 0 : 1;
}

int ctl_agents_repo_operator_remove (ctl_store_t *store, const char *name, int64_t now)
{
    return s_operator_retire (store, name, "removed", false, now);
}

int ctl_agents_repo_operator_rotate (ctl_store_t *store, const char *name, const char *key,
                                     const char *signing_key, int64_t expires, int64_t now)
{
    ctl_operator_t *old = NULL;
    int found = ctl_agents_repo_operator_by_name (store, name, &old);
    if (found != 0 || old->retired) {
        ctl_operator_destroy (&old);
        return found < 0 ? -1 : 1;
    }
    if (ctl_store_begin (store) != 0) {
        ctl_operator_destroy (&old);
        return -1;
    }
    //  a signing key kept moves to the new row (it is unique)
    int rc = s_operator_retire (store, name, "rotated", signing_key == NULL, now);
    if (rc == 0 &&
        ctl_sql_exec (ctl_store_sql (store),
                      "INSERT INTO operators (name, public_key, roles, created, signing_key, "
                      "expires) VALUES ($1, $2, $3, $4, $5, $6)",
                      "tttiti", name, key, old->roles, old->created,
                      signing_key ? signing_key : old->signing_key,
                      expires >= 0 ? expires : old->expires) != 1)
        rc = -1;
    if (rc == 0 && ctl_store_commit (store) == 0) {
        ctl_operator_destroy (&old);
        return 0;
    }
    ctl_store_rollback (store);
    ctl_operator_destroy (&old);
    return rc == 1 ? 1 : -1;
}

int ctl_agents_repo_key_known (ctl_store_t *store, const char *key)
{
    int64_t found = 0;
    int rc = ctl_sql_int (ctl_store_sql (store), &found,
                          "SELECT 1 FROM operators WHERE public_key = $1 UNION ALL SELECT 1 FROM "
                          "agents WHERE public_key = $1",
                          "t", key);
    return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

//  --------------------------------------------------------------------------
//  Audit log

int ctl_agents_repo_audit_append (ctl_store_t *store, const char *operator_name,
                                  const char *command, const char *args, const char *outcome,
                                  int64_t now)
{
    if (ctl_sql_exec (ctl_store_sql (store),
                      "INSERT INTO audit (time, operator, command, args, outcome) VALUES ($1, $2, "
                      "$3, $4, $5)",
                      "itttt", now, operator_name, command, args, outcome) != 1) {
        jad_log_error ("store: audit append failed operator=%s command=%s", operator_name, command);
        return -1;
    }
    return 0;
}

zlistx_t *ctl_agents_repo_audit (ctl_store_t *store, int64_t since, int64_t limit)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_audit_entry_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT id, time, operator, command, args, outcome FROM "
                                   "(SELECT * FROM audit WHERE time >= $1 ORDER BY id DESC "
                                   "LIMIT $2) recent ORDER BY id",
                                   "ii", since, limit)
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_audit_entry_t *entry = (ctl_audit_entry_t *)calloc (1, sizeof (ctl_audit_entry_t));
        if (entry) {
            entry->id = ctl_query_int (&query, 0);
            entry->time = ctl_query_int (&query, 1);
            entry->operator_name = ctl_query_strdup (&query, 2);
            entry->command = ctl_query_strdup (&query, 3);
            entry->args = ctl_query_strdup (&query, 4);
            entry->outcome = ctl_query_strdup (&query, 5);
        }
        if (!entry || !zlistx_add_end (list, entry)) {
            ctl_audit_entry_destroy (&entry);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

//  --------------------------------------------------------------------------
//  Enrollment tokens

void ctl_enroll_token_destroy (ctl_enroll_token_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_enroll_token_t *self = *self_p;
    ctl_store_free_strings (&self->id, &self->envs, &self->created_by, NULL);
    free (self);
    *self_p = NULL;
}

#define S_TOKEN_COLUMNS                                                                            \
    "id, envs, expires, coalesce (uses_left, -1), created_by, created, coalesce (revoked, 0)"

static ctl_enroll_token_t *s_token_read (ctl_query_t *query)
{
    ctl_enroll_token_t *token = (ctl_enroll_token_t *)calloc (1, sizeof (ctl_enroll_token_t));
    if (!token)
        return NULL;
    token->id = ctl_query_strdup (query, 0);
    token->envs = ctl_query_strdup (query, 1);
    token->expires = ctl_query_int (query, 2);
    token->uses_left = ctl_query_int (query, 3);
    token->created_by = ctl_query_strdup (query, 4);
    token->created = ctl_query_int (query, 5);
    token->revoked = ctl_query_int (query, 6);
    if (!token->id || !token->envs || !token->created_by)
        ctl_enroll_token_destroy (&token);
    return token;
}

int ctl_agents_repo_token_add (ctl_store_t *store, const ctl_enroll_token_t *token,
                               const char *sha256_hex)
{
    //  uses_left NULL: no limit
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO enroll_tokens (id, sha256, envs, expires, uses_left, "
                         "created_by, created) VALUES ($1, $2, $3, $4, CASE WHEN $5 < 0 THEN NULL "
                         "ELSE $5 END, $6, $7)",
                         "tttiiti", token->id, sha256_hex, token->envs, token->expires,
                         token->uses_left, token->created_by, token->created) == 1
               ? 0
               : -1;
}

int ctl_agents_repo_token_by_hash (ctl_store_t *store, const char *sha256_hex,
                                   ctl_enroll_token_t **token_p)
{
    *token_p = NULL;
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_TOKEN_COLUMNS " FROM enroll_tokens WHERE sha256 = $1", "t",
                            sha256_hex);
    int found = 1;
    if (rc == 0 && ctl_query_next (&query)) {
        *token_p = s_token_read (&query);
        found = *token_p ? 0 : -1;
    }
    if (ctl_query_end (&query) || rc || found < 0) {
        ctl_enroll_token_destroy (token_p);
        return -1;
    }
    return found;
}

int ctl_agents_repo_token_spend (ctl_store_t *store, const char *id)
{
    int64_t left = 0;
    int rc =
        ctl_sql_int (ctl_store_sql (store), &left,
                     "SELECT coalesce (uses_left, -1) FROM enroll_tokens WHERE id = $1", "t", id);
    if (rc != 0)
        return rc < 0 ? -1 : 1;
    if (left < 0)
        return 0;
    int64_t changed = ctl_sql_exec (ctl_store_sql (store),
                                    "UPDATE enroll_tokens SET uses_left = uses_left - 1 "
                                    "WHERE id = $1 AND uses_left > 0",
                                    "t", id);
    return changed < 0 ? -1 : changed == 1 ? 0 : 1;
}

int ctl_agents_repo_token_revoke (ctl_store_t *store, const char *id, int64_t now)
{
    int64_t changed = ctl_sql_exec (ctl_store_sql (store),
                                    "UPDATE enroll_tokens SET revoked = $1 WHERE id = $2 AND "
                                    "revoked IS NULL",
                                    "it", now, id);
    return changed < 0 ? -1 : changed == 1 ? 0 : 1;
}

zlistx_t *ctl_agents_repo_tokens (ctl_store_t *store)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_enroll_token_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT " S_TOKEN_COLUMNS " FROM enroll_tokens "
                                   "ORDER BY created DESC, id",
                                   "")
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_enroll_token_t *token = s_token_read (&query);
        if (!token || !zlistx_add_end (list, token)) {
            ctl_enroll_token_destroy (&token);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

//  --------------------------------------------------------------------------
//  The pending table

int64_t ctl_agents_repo_pending_count (ctl_store_t *store, const char *address)
{
    int64_t count = 0;
    int rc = ctl_sql_int (ctl_store_sql (store), &count,
                          "SELECT count (*) FROM agents WHERE state = 'pending' AND "
                          "($1 IS NULL OR address = $1)",
                          "t", address);
    return rc < 0 ? -1 : count;
}

int ctl_agents_repo_set_address (ctl_store_t *store, const char *name, const char *address)
{
    return ctl_sql_exec (ctl_store_sql (store), "UPDATE agents SET address = $1 WHERE name = $2",
                         "tt", address, name) < 0
               ? -1
               : 0;
}

int ctl_agents_repo_drop_pending (ctl_store_t *store, const char *name)
{
    int64_t changed =
        ctl_sql_exec (ctl_store_sql (store),
                      "DELETE FROM agents WHERE name = $1 AND state = 'pending'", "t", name);
    return changed < 0 ? -1 : changed == 1 ? 0 : 1;
}
