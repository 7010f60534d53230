//  ctl_api - the operator API: authorise, dispatch, audit
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_api.h"
#include "ctl_agents.h"
#include "ctl_artifacts.h"
#include "ctl_server.h"
#include "ctl_plans.h"
#include "ctl_store.h"
#include "jad_db.h"
#include "jad_log.h"
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

//  Roles an operator may hold (DESIGN §3 and the approval roles).
static const char *const s_roles[] = {"admin",     "deployer",      "viewer", "security",
                                      "tech-lead", "product-owner", "qa",     "release-manager"};

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
                 "a.refusals FROM agents a LEFT JOIN agent_apps x ON x.agent = a.name "
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
    (void)operator_name;
    return ctl_artifacts_commit (ctl, request, result, err, errlen);
}

static int s_release_list (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                           json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *app = jad_api_request_arg (request, "app");
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "SELECT app, version, sha256, length, branch, commit_id, notes, created, "
                 "(SELECT group_concat (env, ',') FROM (SELECT DISTINCT p.env FROM plans p "
                 "WHERE p.app = r.app AND p.version = r.version AND p.state = 'succeeded')) "
                 "FROM releases r WHERE (?1 IS NULL OR app = ?1) ORDER BY app, created");
    if (!stmt) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    sqlite3_bind_text (stmt, 1, app, -1, SQLITE_TRANSIENT);
    json_t *releases = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        json_array_append_new (
            releases,
            json_pack (
                "{s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o}", "app", s_text_or_null (stmt, 0),
                "version", s_text_or_null (stmt, 1), "sha256", s_text_or_null (stmt, 2), "length",
                (json_int_t)sqlite3_column_int64 (stmt, 3), "branch", s_text_or_null (stmt, 4),
                "commit", s_text_or_null (stmt, 5), "notes", s_text_or_null (stmt, 6), "created",
                s_time_or_null (stmt, 7), "succeeded_in", s_text_or_null (stmt, 8)));
    }
    sqlite3_finalize (stmt);
    *result = json_pack ("{s:o}", "releases", releases);
    return 0;
}

//  PLAN as docs/api.md describes; hosts and events only when `full`.
static json_t *s_plan_json (ctl_t *ctl, const char *plan_id, bool full, int64_t since)
{
    sqlite3_stmt *stmt = jad_db_prepare (
        ctl->db, "SELECT id, app, version, env, kind, strategy, state, created, finished, reason, "
                 "undoes, deployer FROM plans WHERE id = ?");
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
    json_t *plan = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        plan = json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                          s_text_or_null (stmt, 0), "app", s_text_or_null (stmt, 1), "version",
                          s_text_or_null (stmt, 2), "env", s_text_or_null (stmt, 3), "kind",
                          s_text_or_null (stmt, 4), "strategy", s_text_or_null (stmt, 5), "state",
                          s_text_or_null (stmt, 6), "created", s_time_or_null (stmt, 7), "finished",
                          s_time_or_null (stmt, 8), "reason", s_text_or_null (stmt, 9), "undoes",
                          s_text_or_null (stmt, 10), "deployer", s_text_or_null (stmt, 11));
    sqlite3_finalize (stmt);
    if (!plan || !full)
        return plan;
    json_t *hosts = json_array ();
    stmt = jad_db_prepare (ctl->db, "SELECT agent, state, step, detail, updated FROM plan_hosts "
                                    "WHERE plan_id = ? ORDER BY agent");
    if (stmt) {
        sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
        while (sqlite3_step (stmt) == SQLITE_ROW)
            json_array_append_new (
                hosts,
                json_pack ("{s:o, s:o, s:o, s:o, s:o}", "name", s_text_or_null (stmt, 0), "state",
                           s_text_or_null (stmt, 1), "step", s_text_or_null (stmt, 2), "detail",
                           s_text_or_null (stmt, 3), "updated", s_time_or_null (stmt, 4)));
        sqlite3_finalize (stmt);
    }
    json_object_set_new (plan, "hosts", hosts);
    json_t *events = json_array ();
    stmt = jad_db_prepare (ctl->db, "SELECT id, time, agent, step, status, detail, output, "
                                    "duration_ms FROM events WHERE plan_id = ? AND id > ? "
                                    "ORDER BY id LIMIT 1000");
    if (stmt) {
        sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 2, since);
        while (sqlite3_step (stmt) == SQLITE_ROW)
            json_array_append_new (
                events,
                json_pack ("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "id",
                           (json_int_t)sqlite3_column_int64 (stmt, 0), "time",
                           s_time_or_null (stmt, 1), "host", s_text_or_null (stmt, 2), "step",
                           s_text_or_null (stmt, 3), "status", s_text_or_null (stmt, 4), "detail",
                           s_text_or_null (stmt, 5), "output", s_text_or_null (stmt, 6),
                           "duration_ms", (json_int_t)sqlite3_column_int64 (stmt, 7)));
        sqlite3_finalize (stmt);
    }
    json_object_set_new (plan, "events", events);
    return plan;
}

static int s_deploy (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                     json_t **result, char *err, size_t errlen)
{
    const char *app = jad_api_request_arg (request, "app");
    const char *version = jad_api_request_arg (request, "version");
    const char *env = jad_api_request_arg (request, "env");
    const char *strategy = jad_api_request_arg (request, "strategy");
    if (!jad_name_valid (app) || !jad_name_valid (version) || !jad_name_valid (env)) {
        snprintf (err, errlen, "deploy needs APP, VERSION and --env ENV as valid names");
        return 2;
    }
    if (strategy && !streq (strategy, "all")) {
        snprintf (err, errlen, "--strategy %s is not supported yet (only 'all')", strategy);
        return 2;
    }
    char *plan_id = ctl_plans_create (ctl, app, version, env, "deploy", operator_name,
                                      "deploy requested", NULL, err, errlen);
    if (!plan_id)
        return 2;
    *result = json_pack ("{s:o}", "plan", s_plan_json (ctl, plan_id, true, 0));
    free (plan_id);
    return 0;
}

static int s_plans (ctl_t *ctl, const jad_api_request_t *request, const char *operator_name,
                    json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *env = jad_api_request_arg (request, "env");
    sqlite3_stmt *stmt = jad_db_prepare (ctl->db, "SELECT id FROM plans WHERE (?1 IS NULL OR "
                                                  "env = ?1) ORDER BY created DESC LIMIT 100");
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

//  Is `role` one an operator may hold: a built-in role or an approval
//  role some environment asks for?
static bool s_role_known (ctl_t *ctl, const char *role)
{
    for (size_t index = 0; index < sizeof s_roles / sizeof s_roles[0]; index++)
        if (streq (s_roles[index], role))
            return true;
    for (size_t index = 0; index < ctl->config->environment_count; index++) {
        const jad_env_config_t *env = &ctl->config->environments[index];
        for (size_t role_index = 0; role_index < env->emergency_approval_count; role_index++)
            if (streq (env->emergency_approvals[role_index], role))
                return true;
    }
    return false;
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
        if (!s_role_known (ctl, role)) {
            snprintf (err, errlen,
                      "unknown role '%.64s' (admin, deployer, viewer, security, tech-lead, "
                      "product-owner, qa, release-manager, or an environment's approval role)",
                      role);
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
    {"deploy", S_NEED_DEPLOY, true, s_deploy},
    {"plans", S_NEED_VIEW, true, s_plans},
    {"plan.show", S_NEED_VIEW, false, s_plan_show},
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
