//  ctl_api - the operator API: authorise, dispatch, audit
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_api.h"
#include "ctl_alerts.h"
#include "ctl_metrics.h"
#include "ctl_agents.h"
#include "ctl_artifacts.h"
#include "ctl_server.h"
#include "ctl_plans.h"
#include "ctl_policy.h"
#include "ctl_rollout.h"
#include "ctl_store.h"
#include "jad_db.h"
#include "jad_log.h"
#include "jad_role.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <jansson.h>
#include <string.h>

//  What a command needs: each role grants a set of these.
typedef enum {
    S_NEED_VIEW = 1,    //  read fleet state
    S_NEED_DEPLOY = 2,  //  add releases, deploy
    S_NEED_ADMIN = 4,   //  operators, agents
    S_NEED_AUDIT = 8,   //  read the audit log
} s_need_t;

typedef int (s_handler_fn) (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                            json_t **result, char *err, size_t errlen);

typedef struct {
    const char *name;
    s_need_t need;
    bool audit;  //  false only for bulk upload chunks
    s_handler_fn *handler;
} s_command_t;

//  Permissions a role string ("admin,deployer") grants.
static unsigned s_role_grants (const char *roles)
{
    unsigned grants = 0;
    char *copy = strdup (roles ? roles : "");
    char *save = NULL;
    for (char *role = strtok_r (copy, ",", &save); role; role = strtok_r (NULL, ",", &save)) {
        if (streq (role, "admin"))
            grants |= S_NEED_VIEW | S_NEED_DEPLOY | S_NEED_ADMIN | S_NEED_AUDIT;
        else if (streq (role, "security"))
            grants |= S_NEED_VIEW | S_NEED_AUDIT;
        else if (streq (role, "deployer"))
            grants |= S_NEED_VIEW | S_NEED_DEPLOY;
        else
            grants |= S_NEED_VIEW;  //  viewer and approval roles read
    }
    free (copy);
    return grants;
}

static json_t *s_text_or_null (sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text (stmt, column);
    return text ? json_string (text) : json_null ();
}

static json_t *s_time_or_null (sqlite3_stmt *stmt, int column)
{
    if (sqlite3_column_type (stmt, column) == SQLITE_NULL)
        return json_null ();
    char buf[32];
    return json_string (ctl_store_iso_time (sqlite3_column_int64 (stmt, column), buf, sizeof buf));
}

//  An agent's refusal counters (stored as JSON object text) as an object.
static json_t *s_refusals (sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text (stmt, column);
    json_t *value = text ? json_loads (text, 0, NULL) : NULL;
    if (!json_is_object (value)) {
        json_decref (value);
        value = json_object ();
    }
    return value;
}

static int s_ping (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                   json_t **result, char *err, size_t errlen)
{
    (void)ctl, (void)request, (void)err, (void)errlen;
    *result = json_pack ("{s:s, s:i, s:s}", "controller", JADUGAR_VERSION, "protocol", JAD_PROTOCOL,
                         "operator", operator_name);
    return 0;
}

static int s_status (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                     json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *env = jad_api_request_arg (request, "env");
    const char *app = jad_api_request_arg (request, "app");
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "SELECT a.name, a.env, a.state, a.last_seen, x.app, x.version, x.health, "
                 "a.refusals, a.stale, a.stale_alarms FROM agents a "
                 "LEFT JOIN agent_apps x ON x.agent = a.name "
                 "AND (?2 IS NULL OR x.app = ?2) "
                 "WHERE (?1 IS NULL OR a.env = ?1) AND a.state != 'removed' "
                 "ORDER BY a.env, a.name, x.app");
    if (!stmt) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    sqlite3_bind_text (stmt, 1, env, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, app, -1, SQLITE_TRANSIENT);
    json_t *agents = json_array ();
    json_t *current = NULL;
    const char *current_name = NULL;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text (stmt, 0);
        if (!current_name || !streq (current_name, name)) {
            const char *state = (const char *)sqlite3_column_text (stmt, 2);
            int64_t last_seen = sqlite3_column_int64 (stmt, 3);
            const char *shown =
                streq (state, "accepted")
                    ? (ctl_plans_agent_online (ctl, last_seen) ? "online" : "offline")
                    : state;
            current = json_pack ("{s:s, s:s, s:s, s:o, s:o}", "name", name, "env",
                                 sqlite3_column_text (stmt, 1), "state", shown, "last_seen",
                                 s_time_or_null (stmt, 3), "apps", json_object ());
            json_object_set_new (current, "refusals", s_refusals (stmt, 7));
            json_object_set_new (current, "stale", json_boolean (sqlite3_column_int (stmt, 8)));
            json_object_set_new (current, "stale_alarms",
                                 json_integer (sqlite3_column_int64 (stmt, 9)));
            json_array_append_new (agents, current);
            current_name = json_string_value (json_object_get (current, "name"));
        }
        const char *app_name = (const char *)sqlite3_column_text (stmt, 4);
        if (app_name)
            json_object_set_new (json_object_get (current, "apps"), app_name,
                                 json_pack ("{s:o, s:o}", "version", s_text_or_null (stmt, 5),
                                            "health", s_text_or_null (stmt, 6)));
    }
    sqlite3_finalize (stmt);
    json_t *counters = json_object ();
    for (int index = 0; index < CTL_COUNT_MAX; index++)
        json_object_set_new (counters, ctl_counter_name ((ctl_counter_t)index),
                             json_integer ((json_int_t)ctl->counters[index]));
    char started[32];
    *result = json_pack ("{s:o, s:{s:o, s:s, s:s}}", "agents", agents, "controller", "counters",
                         counters, "version", JADUGAR_VERSION, "started",
                         ctl_store_iso_time (ctl->started_ms, started, sizeof started));
    return 0;
}

static int s_agents (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                     json_t **result, char *err, size_t errlen)
{
    (void)request, (void)operator_name;
    sqlite3_stmt *stmt = jad_db_prepare (ctl->db, "SELECT name, env, state, public_key, last_seen, "
                                                  "address FROM agents ORDER BY env, name");
    if (!stmt) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    json_t *agents = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text (stmt, 2);
        const char *shown =
            streq (state, "accepted")
                ? (ctl_plans_agent_online (ctl, sqlite3_column_int64 (stmt, 4)) ? "online"
                                                                                : "offline")
                : state;
        json_array_append_new (
            agents,
            json_pack ("{s:o, s:o, s:s, s:o, s:o, s:o}", "name", s_text_or_null (stmt, 0), "env",
                       s_text_or_null (stmt, 1), "state", shown, "key", s_text_or_null (stmt, 3),
                       "last_seen", s_time_or_null (stmt, 4), "address", s_text_or_null (stmt, 5)));
    }
    sqlite3_finalize (stmt);
    *result = json_pack ("{s:o}", "agents", agents);
    return 0;
}

static int s_release_begin (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                            json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_artifacts_begin (ctl, request, result, err, errlen);
}

static int s_release_chunk (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                            json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_artifacts_chunk (ctl, request, result, err, errlen);
}

static int s_release_commit (ctl_t *ctl, const jad_api_request_t *request,
                             const char *operator_name, json_t **result, char *err, size_t errlen)
{
    int status = ctl_artifacts_commit (ctl, request, result, err, errlen);
    json_t *release = status == 0 && *result ? json_object_get (*result, "release") : NULL;
    const char *app = json_string_value (json_object_get (release, "app"));
    const char *version = json_string_value (json_object_get (release, "version"));
    if (app && version) {
        //  a tracked branch deploys itself (DESIGN §5)
        char *branch = NULL;
        sqlite3_stmt *stmt =
            ctl_store_query (ctl->db, "SELECT branch FROM releases WHERE app = ? AND version = ?",
                             "tt", app, version);
        if (stmt && sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0))
            branch = strdup ((const char *)sqlite3_column_text (stmt, 0));
        sqlite3_finalize (stmt);
        if (branch)
            json_object_set_new (*result, "auto_deploy",
                                 ctl_policy_auto_deploy (ctl, app, version, branch, operator_name));
        free (branch);
    }
    return status;
}

static int s_release_list (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                           json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *app = jad_api_request_arg (request, "app");
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "SELECT app, version, sha256, length, branch, commit_id, notes, created, "
                 "(SELECT group_concat (env, ',') FROM (SELECT DISTINCT p.env FROM plans p "
                 "WHERE p.app = r.app AND p.version = r.version AND p.state = 'succeeded')), "
                 "bad, counter, (SELECT f.counter FROM floors f WHERE f.app = r.app) "
                 "FROM releases r WHERE (?1 IS NULL OR app = ?1) ORDER BY app, counter, created");
    if (!stmt) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    sqlite3_bind_text (stmt, 1, app, -1, SQLITE_TRANSIENT);
    json_t *releases = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        int64_t counter = sqlite3_column_int64 (stmt, 10);
        int64_t floor = sqlite3_column_int64 (stmt, 11);
        const char *security = counter < floor ? "below" : counter == floor ? "floor" : NULL;
        json_array_append_new (
            releases,
            json_pack ("{s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:s?}", "app",
                       s_text_or_null (stmt, 0), "version", s_text_or_null (stmt, 1), "sha256",
                       s_text_or_null (stmt, 2), "length",
                       (json_int_t)sqlite3_column_int64 (stmt, 3), "branch",
                       s_text_or_null (stmt, 4), "commit", s_text_or_null (stmt, 5), "notes",
                       s_text_or_null (stmt, 6), "created", s_time_or_null (stmt, 7),
                       "succeeded_in", s_text_or_null (stmt, 8), "bad", s_text_or_null (stmt, 9),
                       "counter", (json_int_t)counter, "security", security));
    }
    sqlite3_finalize (stmt);
    *result = json_pack ("{s:o}", "releases", releases);
    return 0;
}

//  release.floor: raise app's security floor to version's release counter.
//  Floors only go up; deploys and rollbacks below it are refused here and
//  by every agent that has seen it (plans carry it, signed).
static int s_release_floor (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                            json_t **result, char *err, size_t errlen)
{
    const char *app = jad_api_request_arg (request, "app");
    const char *version = jad_api_request_arg (request, "version");
    if (!jad_name_valid (app) || !jad_name_valid (version)) {
        snprintf (err, errlen, "release floor needs APP and VERSION as valid names");
        return 2;
    }
    int64_t counter = 0;
    sqlite3_stmt *stmt = ctl_store_query (
        ctl->db, "SELECT counter FROM releases WHERE app = ? AND version = ?", "tt", app, version);
    int found = stmt ? sqlite3_step (stmt) : SQLITE_ERROR;
    if (found == SQLITE_ROW)
        counter = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    if (found != SQLITE_ROW) {
        snprintf (err, errlen, "no release %s %s (add it with: jadctl release add)", app, version);
        return 2;
    }
    int64_t previous = 0;
    char *previous_version = NULL;
    stmt = ctl_store_query (ctl->db, "SELECT counter, version FROM floors WHERE app = ?", "t", app);
    if (stmt && sqlite3_step (stmt) == SQLITE_ROW) {
        previous = sqlite3_column_int64 (stmt, 0);
        previous_version = strdup ((const char *)sqlite3_column_text (stmt, 1));
    }
    sqlite3_finalize (stmt);
    int status = 0;
    if (counter < previous) {
        snprintf (err, errlen,
                  "refused: the security floor of %s is %s (counter %lld); %s has counter %lld "
                  "and a floor only goes up",
                  app, previous_version ? previous_version : "?", (long long)previous, version,
                  (long long)counter);
        status = 2;
    } else if (counter > previous &&
               ctl_store_run (ctl->db,
                              "INSERT INTO floors (app, counter, version, operator, time) VALUES "
                              "(?1, ?2, ?3, ?4, ?5) ON CONFLICT (app) DO UPDATE SET counter = ?2, "
                              "version = ?3, operator = ?4, time = ?5",
                              "titti", app, counter, version, operator_name, jad_now_ms ()) < 0) {
        snprintf (err, errlen, "database error");
        status = 1;
    } else {
        jad_log_info ("api: security floor app=%s version=%s counter=%lld previous=%lld "
                      "operator=%s",
                      app, version, (long long)counter, (long long)previous, operator_name);
        *result = json_pack ("{s:s, s:s, s:I, s:s?, s:I}", "app", app, "version", version,
                             "counter", (json_int_t)counter, "previous", previous_version,
                             "previous_counter", (json_int_t)previous);
    }
    free (previous_version);
    return status;
}

//  PLAN as docs/api.md describes; hosts, events and approvals only when
//  `full`. Events include those of the plan's tasks (migrations, verify).
static json_t *s_plan_json (ctl_t *ctl, const char *plan_id, bool full, int64_t since)
{
    sqlite3_stmt *stmt = ctl_store_query (
        ctl->db,
        "SELECT id, app, version, env, kind, strategy, state, created, finished, reason, "
        "undoes, deployer, phase, current_batch, batches, paused, batch, canary, bake_ms, "
        "emergency, skip_offline, rolled_back_by, previous, phase_started, "
        "(SELECT count(*) FROM plan_hosts h WHERE h.plan_id = p.id), "
        "(SELECT count(*) FROM plan_hosts h WHERE h.plan_id = p.id AND h.state = 'healthy'), "
        "(SELECT count(*) FROM plan_hosts h WHERE h.plan_id = p.id AND h.state = 'failed'), "
        "(SELECT count(*) FROM plan_hosts h WHERE h.plan_id = p.id AND h.batch = "
        "p.current_batch), "
        "(SELECT count(*) FROM plan_hosts h WHERE h.plan_id = p.id AND h.batch = "
        "p.current_batch AND h.state = 'healthy'), "
        "(SELECT notes FROM releases r WHERE r.app = p.app AND r.version = p.version) "
        "FROM plans p WHERE id = ?",
        "t", plan_id);
    if (!stmt)
        return NULL;
    json_t *plan = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        plan = json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                          s_text_or_null (stmt, 0), "app", s_text_or_null (stmt, 1), "version",
                          s_text_or_null (stmt, 2), "env", s_text_or_null (stmt, 3), "kind",
                          s_text_or_null (stmt, 4), "strategy", s_text_or_null (stmt, 5), "state",
                          s_text_or_null (stmt, 6), "created", s_time_or_null (stmt, 7), "finished",
                          s_time_or_null (stmt, 8), "reason", s_text_or_null (stmt, 9), "undoes",
                          s_text_or_null (stmt, 10), "deployer", s_text_or_null (stmt, 11));
        json_object_set_new (plan, "phase", s_text_or_null (stmt, 12));
        json_object_set_new (plan, "batch",
                             json_integer ((json_int_t)sqlite3_column_int64 (stmt, 13) + 1));
        json_object_set_new (plan, "batches",
                             json_integer ((json_int_t)sqlite3_column_int64 (stmt, 14)));
        json_object_set_new (plan, "paused", json_boolean (sqlite3_column_int64 (stmt, 15)));
        json_object_set_new (plan, "batch_size", s_text_or_null (stmt, 16));
        json_object_set_new (plan, "canary",
                             json_integer ((json_int_t)sqlite3_column_int64 (stmt, 17)));
        json_object_set_new (plan, "bake_ms",
                             json_integer ((json_int_t)sqlite3_column_int64 (stmt, 18)));
        json_object_set_new (plan, "emergency", s_text_or_null (stmt, 19));
        json_object_set_new (plan, "skip_offline", json_boolean (sqlite3_column_int64 (stmt, 20)));
        json_object_set_new (plan, "rolled_back_by", s_text_or_null (stmt, 21));
        json_object_set_new (plan, "previous", s_text_or_null (stmt, 22));
        json_object_set_new (plan, "phase_started", s_time_or_null (stmt, 23));
        json_object_set_new (plan, "hosts_total",
                             json_integer ((json_int_t)sqlite3_column_int64 (stmt, 24)));
        json_object_set_new (plan, "hosts_healthy",
                             json_integer ((json_int_t)sqlite3_column_int64 (stmt, 25)));
        json_object_set_new (plan, "hosts_failed",
                             json_integer ((json_int_t)sqlite3_column_int64 (stmt, 26)));
        json_object_set_new (plan, "batch_hosts",
                             json_integer ((json_int_t)sqlite3_column_int64 (stmt, 27)));
        json_object_set_new (plan, "batch_healthy",
                             json_integer ((json_int_t)sqlite3_column_int64 (stmt, 28)));
        json_object_set_new (plan, "notes", s_text_or_null (stmt, 29));
        const char *state = (const char *)sqlite3_column_text (stmt, 6);
        const char *kind = (const char *)sqlite3_column_text (stmt, 4);
        //  the deployment log's outcome: succeeded, failed, rolled-back
        const char *outcome = state;
        if (streq (state, "failed") && sqlite3_column_type (stmt, 21) != SQLITE_NULL)
            outcome = "rolled-back";
        json_object_set_new (plan, "outcome", json_string (outcome));
        (void)kind;
    }
    sqlite3_finalize (stmt);
    if (!plan || !full)
        return plan;
    json_t *hosts = json_array ();
    stmt = ctl_store_query (ctl->db,
                            "SELECT agent, state, step, detail, updated, batch, started, finished "
                            "FROM plan_hosts WHERE plan_id = ? ORDER BY batch, agent",
                            "t", plan_id);
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW) {
        json_t *host =
            json_pack ("{s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "name", s_text_or_null (stmt, 0),
                       "state", s_text_or_null (stmt, 1), "step", s_text_or_null (stmt, 2),
                       "detail", s_text_or_null (stmt, 3), "updated", s_time_or_null (stmt, 4),
                       "batch", (json_int_t)sqlite3_column_int64 (stmt, 5) + 1, "started",
                       s_time_or_null (stmt, 6), "finished", s_time_or_null (stmt, 7));
        if (sqlite3_column_type (stmt, 6) != SQLITE_NULL &&
            sqlite3_column_type (stmt, 7) != SQLITE_NULL)
            json_object_set_new (host, "duration_ms",
                                 json_integer ((json_int_t)(sqlite3_column_int64 (stmt, 7) -
                                                            sqlite3_column_int64 (stmt, 6))));
        json_array_append_new (hosts, host);
    }
    sqlite3_finalize (stmt);
    json_object_set_new (plan, "hosts", hosts);
    json_t *events = json_array ();
    stmt = ctl_store_query (
        ctl->db,
        "SELECT e.id, e.time, e.agent, e.step, e.status, e.detail, e.output, e.duration_ms, "
        "e.plan_id FROM events e WHERE (e.plan_id = ?1 OR e.plan_id IN (SELECT id FROM plans "
        "WHERE parent = ?1)) AND e.id > ?2 ORDER BY e.id LIMIT 1000",
        "ti", plan_id, since);
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (
            events,
            json_pack ("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o}", "id",
                       (json_int_t)sqlite3_column_int64 (stmt, 0), "time", s_time_or_null (stmt, 1),
                       "host", s_text_or_null (stmt, 2), "step", s_text_or_null (stmt, 3), "status",
                       s_text_or_null (stmt, 4), "detail", s_text_or_null (stmt, 5), "output",
                       s_text_or_null (stmt, 6), "duration_ms",
                       (json_int_t)sqlite3_column_int64 (stmt, 7), "plan",
                       s_text_or_null (stmt, 8)));
    sqlite3_finalize (stmt);
    json_object_set_new (plan, "events", events);
    json_t *approvals = json_array ();
    stmt = ctl_store_query (ctl->db,
                            "SELECT operator, roles, time FROM approvals WHERE plan_id = ? ORDER "
                            "BY time",
                            "t", plan_id);
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (
            approvals, json_pack ("{s:o, s:o, s:o}", "operator", s_text_or_null (stmt, 0), "role",
                                  s_text_or_null (stmt, 1), "time", s_time_or_null (stmt, 2)));
    sqlite3_finalize (stmt);
    json_object_set_new (plan, "approvals", approvals);
    json_t *decisions = ctl_alerts_decisions_json (ctl->db, plan_id);
    if (decisions)
        json_object_set_new (plan, "decisions", decisions);
    return plan;
}

static int s_deploy (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                     json_t **result, char *err, size_t errlen)
{
    const char *app = jad_api_request_arg (request, "app");
    const char *version = jad_api_request_arg (request, "version");
    const char *env_name = jad_api_request_arg (request, "env");
    const char *strategy = jad_api_request_arg (request, "strategy");
    const char *batch = jad_api_request_arg (request, "batch");
    const char *canary = jad_api_request_arg (request, "canary");
    const char *bake = jad_api_request_arg (request, "bake");
    const char *emergency = jad_api_request_arg (request, "emergency");
    const char *reason = jad_api_request_arg (request, "reason");
    const char *skip_offline = jad_api_request_arg (request, "skip_offline");
    const char *force = jad_api_request_arg (request, "force");
    if (!jad_name_valid (app) || !jad_name_valid (version) || !jad_name_valid (env_name)) {
        snprintf (err, errlen, "deploy needs APP, VERSION and --env ENV as valid names");
        return 2;
    }
    if (strategy && !streq (strategy, "all") && !streq (strategy, "rolling") &&
        !streq (strategy, "canary")) {
        snprintf (err, errlen, "--strategy '%.64s' is not all, rolling or canary", strategy);
        return 2;
    }
    if (batch) {
        size_t len = strlen (batch);
        char *end = NULL;
        long value = strtol (batch, &end, 10);
        bool percent = end && *end == '%' && end[1] == 0;
        if (len == 0 || len > 8 || value < 1 || (!percent && *end) || (percent && value > 100)) {
            snprintf (err, errlen, "--batch '%.16s' is not N or N%% (1%% to 100%%)", batch);
            return 2;
        }
    }
    uint32_t canary_count = 0;
    if (canary) {
        char *end = NULL;
        long value = strtol (canary, &end, 10);
        if (!*canary || *end || value < 1 || value > 100000) {
            snprintf (err, errlen, "--canary '%.16s' is not a host count of 1 or more", canary);
            return 2;
        }
        canary_count = (uint32_t)value;
    }
    uint32_t bake_ms = 0;
    if (bake && jad_duration_parse (bake, &bake_ms) != 0) {
        snprintf (err, errlen, "--bake '%.32s' is not a duration (e.g. 10m)", bake);
        return 2;
    }
    if (emergency && (!reason || !*reason || strlen (reason) > 500)) {
        snprintf (err, errlen, "--emergency needs --reason TEXT (up to 500 characters)");
        return 2;
    }
    const jad_env_config_t *env = jad_controller_config_env (ctl->config, env_name);
    if (!env) {
        snprintf (err, errlen, "unknown environment '%s' (see controller.yaml)", env_name);
        return 2;
    }
    //  A release an automatic rollback marked bad goes out again only on
    //  purpose: it failed somewhere, and the mark says where and why.
    char *bad = NULL;
    sqlite3_stmt *stmt = ctl_store_query (
        ctl->db, "SELECT bad FROM releases WHERE app = ? AND version = ?", "tt", app, version);
    if (stmt && sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0))
        bad = strdup ((const char *)sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    if (bad && !force) {
        snprintf (err, errlen,
                  "refused: %s %s is marked bad (%.300s); deploy it anyway with --force", app,
                  version, bad);
        free (bad);
        return 2;
    }
    bool needs_approval = false;
    int status = ctl_policy_check_deploy (ctl, env, app, version, emergency != NULL,
                                          &needs_approval, err, errlen);
    if (status != 0) {
        free (bad);
        return status;
    }
    char why[600];
    if (emergency)
        snprintf (why, sizeof why, "emergency deploy%s: %s", bad ? " of a release marked bad" : "",
                  reason);
    else
        snprintf (why, sizeof why, "deploy requested%s",
                  bad ? " (--force: the release is marked bad)" : "");
    free (bad);
    ctl_plan_spec_t spec = {.app = app,
                            .version = version,
                            .env = env_name,
                            .kind = "deploy",
                            .deployer = operator_name,
                            .reason = why,
                            .strategy = strategy,
                            .batch = batch,
                            .canary = canary_count,
                            .bake_set = bake != NULL,
                            .bake_ms = bake_ms,
                            .emergency = emergency ? reason : NULL,
                            .awaiting_approval = needs_approval,
                            .skip_offline = skip_offline != NULL};
    char *plan_id = ctl_rollout_create (ctl, &spec, err, errlen);
    if (!plan_id)
        return 2;
    *result = json_pack ("{s:o}", "plan", s_plan_json (ctl, plan_id, true, 0));
    free (plan_id);
    return 0;
}

static int s_rollback (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                       json_t **result, char *err, size_t errlen)
{
    const char *app = jad_api_request_arg (request, "app");
    const char *env_name = jad_api_request_arg (request, "env");
    const char *to = jad_api_request_arg (request, "to");
    if (!jad_name_valid (app) || !jad_name_valid (env_name) || (to && !jad_name_valid (to))) {
        snprintf (err, errlen,
                  "rollback needs APP and --env ENV (and --to VERSION) as valid names");
        return 2;
    }
    if (!jad_controller_config_env (ctl->config, env_name)) {
        snprintf (err, errlen, "unknown environment '%s' (see controller.yaml)", env_name);
        return 2;
    }
    char *plan_id =
        ctl_rollout_rollback (ctl, app, env_name, to, NULL, operator_name, NULL, err, errlen);
    if (!plan_id)
        return 2;
    *result = json_pack ("{s:o}", "plan", s_plan_json (ctl, plan_id, true, 0));
    free (plan_id);
    return 0;
}

//  plan.pause, plan.resume, plan.abort, plan.approve
static int s_plan_control (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                           json_t **result, char *err, size_t errlen)
{
    const char *plan_id = jad_api_request_arg (request, "id");
    const char *action = request->command + strlen ("plan.");
    char *state = NULL;
    if (!plan_id || !jad_name_valid (plan_id) ||
        jad_db_get_text (ctl->db, "SELECT state FROM plans WHERE id = ?", plan_id, &state) != 0) {
        snprintf (err, errlen, "no plan '%s' (see: jadctl plans)", plan_id ? plan_id : "");
        free (state);
        return 2;
    }
    int status = 0;
    if (streq (action, "approve")) {
        char *roles = NULL;
        jad_db_get_text (ctl->db, "SELECT roles FROM operators WHERE name = ?", operator_name,
                         &roles);
        status = ctl_policy_approve (ctl, plan_id, operator_name, roles, result, err, errlen);
        free (roles);
    } else if (streq (action, "abort")) {
        char reason[160];
        snprintf (reason, sizeof reason, "aborted by %s", operator_name);
        if (ctl_rollout_fail (ctl, plan_id, reason) != 0) {
            snprintf (err, errlen, "plan %s is %s: nothing to abort", plan_id, state);
            status = 2;
        }
    } else {
        bool pause = streq (action, "pause");
        if (!streq (state, "running") ||
            ctl_store_run (ctl->db,
                           "UPDATE plans SET paused = ?, progress = ? WHERE id = ? AND state = "
                           "'running' AND paused = ?",
                           "iiti", (int64_t)pause, jad_now_ms (), plan_id, (int64_t)!pause) != 1) {
            snprintf (err, errlen, "plan %s is %s%s: cannot %s it", plan_id, state,
                      streq (state, "running") ? (pause ? " and paused" : " and not paused") : "",
                      action);
            status = 2;
        } else {
            ctl_rollout_decision (ctl, plan_id, "operator", pause ? "paused" : "resumed",
                                  "%s by %s%s", pause ? "paused" : "resumed", operator_name,
                                  pause ? ": no new batch starts until resumed" : "");
            if (!pause)
                ctl_rollout_advance (ctl, plan_id);
        }
    }
    if (status == 0 && !*result)
        *result = json_pack ("{s:o}", "plan", s_plan_json (ctl, plan_id, false, 0));
    free (state);
    return status;
}

static int s_plans (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                    json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *env = jad_api_request_arg (request, "env");
    sqlite3_stmt *stmt = jad_db_prepare (ctl->db, "SELECT id FROM plans WHERE (?1 IS NULL OR "
                                                  "env = ?1) AND parent IS NULL ORDER BY "
                                                  "created DESC, rowid DESC LIMIT 100");
    if (!stmt) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    sqlite3_bind_text (stmt, 1, env, -1, SQLITE_TRANSIENT);
    json_t *plans = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        json_t *plan = s_plan_json (ctl, (const char *)sqlite3_column_text (stmt, 0), false, 0);
        if (plan)
            json_array_append_new (plans, plan);
    }
    sqlite3_finalize (stmt);
    *result = json_pack ("{s:o}", "plans", plans);
    return 0;
}

static int s_plan_show (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                        json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *plan_id = jad_api_request_arg (request, "id");
    const char *since = jad_api_request_arg (request, "since");
    json_t *plan = plan_id ? s_plan_json (ctl, plan_id, true, since ? atoll (since) : 0) : NULL;
    if (!plan) {
        snprintf (err, errlen, "no plan '%s' (see: jadctl plans)", plan_id ? plan_id : "");
        return 2;
    }
    *result = json_pack ("{s:o}", "plan", plan);
    return 0;
}

static int s_alerts (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                     json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_alerts_api_list (ctl, request, result, err, errlen);
}

static int s_alert_add (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                        json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_alerts_api_add (ctl, request, result, err, errlen);
}

static int s_alert_rm (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                       json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_alerts_api_rm (ctl, request, result, err, errlen);
}

static int s_metrics (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                      json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *host = jad_api_request_arg (request, "host");
    const char *env = jad_api_request_arg (request, "env");
    const char *name = jad_api_request_arg (request, "name");
    const char *since = jad_api_request_arg (request, "since");
    uint32_t since_ms = 3600 * 1000;
    if ((host != NULL) == (env != NULL)) {
        snprintf (err, errlen, "give exactly one of --host H or --env E");
        return 2;
    }
    if ((host && !jad_name_valid (host)) || (env && !jad_name_valid (env)) ||
        (name && !jad_series_valid (name))) {
        snprintf (err, errlen, "--host, --env and --name must be valid names");
        return 2;
    }
    if (since && (jad_duration_parse (since, &since_ms) || since_ms == 0)) {
        snprintf (err, errlen, "--since must be a duration like 10m or 2h (got '%s')", since);
        return 2;
    }
    int64_t now = jad_now_ms ();
    *result = ctl_metrics_query (ctl->metrics, host, env, name, now - since_ms, now,
                                 ctl->config->metrics_retention_ms, 40);
    if (!*result) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    return 0;
}

//  agents.accept|reject|remove NAME
static int s_agent_decide (ctl_t *ctl, const jad_api_request_t *request, const char *action,
                           json_t **result, char *err, size_t errlen)
{
    const char *name = jad_api_request_arg (request, "name");
    const char *state = NULL;
    int status = ctl_agents_decide (ctl, name, action, &state, err, errlen);
    if (status != 0)
        return status;
    if (streq (state, "accepted")) {
        //  Tell a connected agent at once; it says hello and catches up.
        jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_ENROLL_REPLY};
        reply.enroll_reply.state = "accepted";
        reply.enroll_reply.name = (char *)name;
        ctl_server_send_to_agent (ctl, name, &reply);
    }
    *result = json_pack ("{s:s, s:s}", "name", name, "state", state);
    return 0;
}

static int s_agents_accept (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                            json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return s_agent_decide (ctl, request, "accept", result, err, errlen);
}

static int s_agents_reject (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                            json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return s_agent_decide (ctl, request, "reject", result, err, errlen);
}

static int s_agents_remove (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                            json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return s_agent_decide (ctl, request, "remove", result, err, errlen);
}

static int s_operator_add (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                           json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *name = jad_api_request_arg (request, "name");
    const char *roles = jad_api_request_arg (request, "roles");
    const char *key = jad_api_request_arg (request, "public-key");
    uint8_t raw[32];
    if (!jad_name_valid (name)) {
        snprintf (err, errlen, "operator add needs NAME as a valid name");
        return 2;
    }
    if (!key || strlen (key) != 40 || jad_key_from_z85 (key, raw) != 0) {
        snprintf (err, errlen,
                  "--public-key must be a CURVE public key (40 characters Z85, "
                  "as printed by jadctl keygen)");
        return 2;
    }
    if (!roles || !*roles || strlen (roles) > 256) {
        snprintf (err, errlen, "operator add needs at least one --role");
        return 2;
    }
    char *copy = strdup (roles);
    char *save = NULL;
    int bad = 0;
    for (char *role = strtok_r (copy, ",", &save); role && !bad; role = strtok_r (NULL, ",", &save))
        if (!jad_role_known (role)) {
            char known[256];
            snprintf (err, errlen, "unknown role '%.64s' (known: %s)", role,
                      jad_roles_join (known, sizeof known));
            bad = 1;
        }
    free (copy);
    if (bad)
        return 2;
    int64_t found = 0;
    if (jad_db_get_int (ctl->db, "SELECT 1 FROM operators WHERE name = ?", name, &found) == 0) {
        snprintf (err, errlen, "operator '%s' exists", name);
        return 2;
    }
    if (jad_db_get_int (ctl->db, "SELECT 1 FROM operators WHERE public_key = ?", key, &found) ==
            0 ||
        jad_db_get_int (ctl->db, "SELECT 1 FROM agents WHERE public_key = ?", key, &found) == 0) {
        snprintf (err, errlen, "that public key is already registered");
        return 2;
    }
    sqlite3_stmt *stmt = jad_db_prepare (ctl->db, "INSERT INTO operators (name, public_key, "
                                                  "roles, created) VALUES (?, ?, ?, ?)");
    if (!stmt) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 3, roles, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 4, jad_now_ms ());
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    jad_log_info ("api: operator added name=%s roles=%s", name, roles);
    *result = json_pack ("{s:s, s:s, s:s}", "name", name, "roles", roles, "public_key", key);
    return 0;
}

static int s_operator_list (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                            json_t **result, char *err, size_t errlen)
{
    (void)request, (void)operator_name;
    sqlite3_stmt *stmt = jad_db_prepare (ctl->db, "SELECT name, roles, public_key, created FROM "
                                                  "operators ORDER BY name");
    if (!stmt) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    json_t *operators = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (
            operators, json_pack ("{s:o, s:o, s:o, s:o}", "name", s_text_or_null (stmt, 0), "roles",
                                  s_text_or_null (stmt, 1), "public_key", s_text_or_null (stmt, 2),
                                  "created", s_time_or_null (stmt, 3)));
    sqlite3_finalize (stmt);
    *result = json_pack ("{s:o}", "operators", operators);
    return 0;
}

static int s_audit (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                    json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *since = jad_api_request_arg (request, "since");
    uint32_t window = 0;
    if (since && jad_duration_parse (since, &window) != 0) {
        snprintf (err, errlen, "--since '%.64s' is not a duration (e.g. 30m, 2h, 7d)", since);
        return 2;
    }
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "SELECT id, time, operator, command, args, outcome FROM (SELECT * FROM audit "
                 "WHERE time >= ? ORDER BY id DESC LIMIT 1000) ORDER BY id");
    if (!stmt) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    sqlite3_bind_int64 (stmt, 1, since ? jad_now_ms () - (int64_t)window : 0);
    json_t *entries = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (
            entries,
            json_pack ("{s:I, s:o, s:o, s:o, s:o, s:o}", "id",
                       (json_int_t)sqlite3_column_int64 (stmt, 0), "time", s_time_or_null (stmt, 1),
                       "operator", s_text_or_null (stmt, 2), "command", s_text_or_null (stmt, 3),
                       "args", s_text_or_null (stmt, 4), "outcome", s_text_or_null (stmt, 5)));
    sqlite3_finalize (stmt);
    *result = json_pack ("{s:o}", "audit", entries);
    return 0;
}

static const s_command_t s_commands[] = {
    {"ping", S_NEED_VIEW, false, s_ping},
    {"status", S_NEED_VIEW, true, s_status},
    {"agents", S_NEED_VIEW, true, s_agents},
    {"release.begin", S_NEED_DEPLOY, true, s_release_begin},
    {"release.chunk", S_NEED_DEPLOY, false, s_release_chunk},
    {"release.commit", S_NEED_DEPLOY, true, s_release_commit},
    {"release.list", S_NEED_VIEW, true, s_release_list},
    {"release.floor", S_NEED_DEPLOY, true, s_release_floor},
    {"deploy", S_NEED_DEPLOY, true, s_deploy},
    {"plans", S_NEED_VIEW, true, s_plans},
    {"plan.show", S_NEED_VIEW, false, s_plan_show},
    {"rollback", S_NEED_DEPLOY, true, s_rollback},
    {"plan.pause", S_NEED_DEPLOY, true, s_plan_control},
    {"plan.resume", S_NEED_DEPLOY, true, s_plan_control},
    {"plan.abort", S_NEED_DEPLOY, true, s_plan_control},
    {"plan.approve", S_NEED_VIEW, true, s_plan_control},
    {"alerts", S_NEED_VIEW, true, s_alerts},
    {"alert.add", S_NEED_DEPLOY, true, s_alert_add},
    {"alert.rm", S_NEED_DEPLOY, true, s_alert_rm},
    {"metrics", S_NEED_VIEW, false, s_metrics},
    {"agents.accept", S_NEED_ADMIN, true, s_agents_accept},
    {"agents.reject", S_NEED_ADMIN, true, s_agents_reject},
    {"agents.remove", S_NEED_ADMIN, true, s_agents_remove},
    {"operator.add", S_NEED_ADMIN, true, s_operator_add},
    {"operator.list", S_NEED_VIEW, true, s_operator_list},
    {"audit", S_NEED_AUDIT, true, s_audit},
};

//  "key=value key=value" of a request's arguments for the audit log
//  (values are bounded; notes are summarised by length).
static char *s_args_summary (const jad_api_request_t *request)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&text, &size);
    if (!stream)
        return NULL;
    for (size_t index = 0; index < request->arg_count; index++) {
        const jad_arg_t *arg = &request->args[index];
        if (streq (arg->key, "notes"))
            fprintf (stream, "%snotes=(%zu bytes)", index ? " " : "", strlen (arg->value));
        else
            fprintf (stream, "%s%s=%.120s", index ? " " : "", arg->key, arg->value);
    }
    fclose (stream);
    return text;
}

static void s_reply (ctl_t *ctl, zframe_t *route, uint64_t request_id, int status,
                     const char *error, json_t *result)
{
    char *json = result ? json_dumps (result, JSON_COMPACT) : NULL;
    jad_api_response_t response = {.request_id = request_id,
                                   .status = status,
                                   .error = error && *error ? (char *)error : NULL,
                                   .json = json};
    zchunk_t *wire = jad_api_response_encode (&response);
    free (json);
    if (!wire) {
        jad_log_error ("api: cannot encode a response request=%llu",
                       (unsigned long long)request_id);
        return;
    }
    zmsg_t *msg = zmsg_new ();
    zframe_t *copy = zframe_dup (route);
    zmsg_append (msg, &copy);
    zmsg_addmem (msg, zchunk_data (wire), zchunk_size (wire));
    zchunk_destroy (&wire);
    if (zmsg_send (&msg, ctl->api) != 0)
        zmsg_destroy (&msg);
}

void ctl_api_handle (ctl_t *ctl, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    ctl->counters[CTL_COUNT_API_REQUESTS]++;
    zframe_t *route = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    jad_api_request_t *request = NULL;
    char *operator_name = NULL;
    char *roles = NULL;
    json_t *result = NULL;
    if (!route || !body || zmsg_size (msg) != 0) {
        ctl->counters[CTL_COUNT_API_MALFORMED]++;
        goto done;
    }
    char err[2048] = "";
    request = jad_api_request_decode (zframe_data (body), zframe_size (body), err);
    if (!request) {
        ctl->counters[CTL_COUNT_API_MALFORMED]++;
        jad_log_warning ("api: malformed request reason=\"%s\"", err);
        s_reply (ctl, route, 0, 2, err, NULL);
        goto done;
    }
    //  Who is asking: the CURVE key the ZAP handler authenticated.
    const char *key = zframe_meta (body, "User-Id");
    sqlite3_stmt *stmt =
        jad_db_prepare (ctl->db, "SELECT name, roles FROM operators WHERE public_key = ?");
    if (stmt && key) {
        sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step (stmt) == SQLITE_ROW) {
            operator_name = strdup ((const char *)sqlite3_column_text (stmt, 0));
            roles = strdup ((const char *)sqlite3_column_text (stmt, 1));
        }
    }
    sqlite3_finalize (stmt);
    const s_command_t *command = NULL;
    for (size_t index = 0; index < sizeof s_commands / sizeof s_commands[0]; index++)
        if (streq (s_commands[index].name, request->command))
            command = &s_commands[index];
    int status;
    if (!operator_name) {
        ctl->counters[CTL_COUNT_API_DENIED]++;
        snprintf (err, sizeof err, "your key is not a registered operator");
        status = 2;
    } else if (!command) {
        ctl->counters[CTL_COUNT_API_MALFORMED]++;
        snprintf (err, sizeof err, "unknown command '%s'", request->command);
        status = 2;
    } else if ((s_role_grants (roles) & command->need) != command->need) {
        ctl->counters[CTL_COUNT_API_DENIED]++;
        snprintf (err, sizeof err, "operator '%s' (roles: %s) may not run '%s'", operator_name,
                  roles, request->command);
        status = 2;
    } else
        status = command->handler (ctl, request, operator_name, &result, err, sizeof err);
    if (!command || command->audit || status != 0) {
        char *args = s_args_summary (request);
        char outcome[160];
        snprintf (outcome, sizeof outcome, "%s%s%.120s",
                  status == 0 ? "ok" : (status == 2 ? "refused" : "failed"), status ? ": " : "",
                  status ? err : "");
        ctl_store_audit (ctl->db, operator_name ? operator_name : (key ? key : "?"),
                         request->command, args, outcome);
        free (args);
    }
    s_reply (ctl, route, request->request_id, status, status ? err : NULL, result);

done:
    json_decref (result);
    free (operator_name);
    free (roles);
    jad_api_request_destroy (&request);
    zframe_destroy (&route);
    zframe_destroy (&body);
    zmsg_destroy (&msg);
}
