//  ctl_api - the operator API: authorise, dispatch, audit
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_api.h"
#include "ctl_agents_repo.h"
#include "ctl_attestations.h"
#include "ctl_init.h"
#include "ctl_decisions.h"
#include "ctl_json.h"
#include "ctl_metrics_repo.h"
#include "ctl_plans_repo.h"
#include "ctl_approvals.h"
#include "ctl_deadlines.h"
#include "ctl_leader.h"
#include "ctl_incidents.h"
#include "ctl_releases_repo.h"
#include "ctl_zap.h"
#include "jad_log.h"
#include "jad_role.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

//  What a command needs: each role grants a set of these.
struct _ctl_api_t {
    zsock_t *socket;     //  operator API ROUTER, BASE+2
    ctl_store_t *store;  //  borrowed, as what follows (ctl_api_deps_t)
    ctl_settings_t *settings;
    ctl_counters_t *counters;
    int64_t started_ms;
    ctl_agents_t *agents;
    ctl_artifacts_t *artifacts;
    ctl_alerts_t *alerts;
    ctl_rollout_t *rollout;
    ctl_notify_t *notify;
    zhashx_t *waiting;  //  upload id -> s_waiting_t: commits the archive checker has
};

//  A request answered later (a release commit, once its archive is checked).
typedef struct {
    zframe_t *route;
    uint64_t request_id;
    char *operator_name;
    char *args;  //  audit summary
} s_waiting_t;

static void s_waiting_destroy (s_waiting_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zframe_destroy (&(*self_p)->route);
    free ((*self_p)->operator_name);
    free ((*self_p)->args);
    free (*self_p);
    *self_p = NULL;
}

ctl_api_t *ctl_api_new (zsock_t **socket_p, const ctl_api_deps_t *deps)
{
    ctl_api_t *self = (ctl_api_t *)calloc (1, sizeof (ctl_api_t));
    if (!self) {
        zsock_destroy (socket_p);
        return NULL;
    }
    self->socket = *socket_p;
    *socket_p = NULL;
    self->store = deps->store;
    self->settings = deps->settings;
    self->counters = deps->counters;
    self->started_ms = deps->started_ms;
    self->agents = deps->agents;
    self->artifacts = deps->artifacts;
    self->alerts = deps->alerts;
    self->rollout = deps->rollout;
    self->notify = deps->notify;
    self->waiting = zhashx_new ();
    if (!self->waiting) {
        ctl_api_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->waiting, (zhashx_destructor_fn *)s_waiting_destroy);
    return self;
}

void ctl_api_destroy (ctl_api_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy (&(*self_p)->socket);
    zhashx_destroy (&(*self_p)->waiting);
    free (*self_p);
    *self_p = NULL;
}

zsock_t *ctl_api_socket (ctl_api_t *self)
{
    return self->socket;
}

typedef enum {
    S_NEED_VIEW = 1,    //  read fleet state
    S_NEED_DEPLOY = 2,  //  add releases, deploy
    S_NEED_ADMIN = 4,   //  operators, agents
    S_NEED_AUDIT = 8,   //  read the audit log
} s_need_t;

typedef int (s_handler_fn) (ctl_api_t *self, const jad_api_request_t *request,
                            const char *operator_name, json_t **result, char *err, size_t errlen);

typedef struct {
    const char *name;
    s_need_t need;
    bool audit;  //  false only for bulk upload chunks (begin and commit are)
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

//  An agent's refusal counters (stored as JSON object text) as an object.
static json_t *s_refusals (const char *text)
{
    json_t *value = text ? json_loads (text, 0, NULL) : NULL;
    if (!json_is_object (value)) {
        json_decref (value);
        value = json_object ();
    }
    return value;
}

static int s_ping (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
                   json_t **result, char *err, size_t errlen)
{
    (void)request, (void)err, (void)errlen;
    //  the environments' names: cheap, for jadctl's completion
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    json_t *envs = json_array ();
    for (size_t index = 0; envs && index < config->environment_count; index++)
        json_array_append_new (envs, json_string (config->environments[index].name));
    *result =
        json_pack ("{s:s, s:i, s:s, s:o}", "controller", JADUGAR_VERSION, "protocol", JAD_PROTOCOL,
                   "operator", operator_name, "environments", envs ? envs : json_array ());
    return 0;
}

//  A controller seen this long ago is down (a standby records itself
//  every CTL_LEADER_POLL_MS, the leader every CTL_LEADER_RENEW_MS).
#define S_CONTROLLER_DOWN_MS (2 * CTL_LEADER_LEASE_MS)

//  Every controller of the store: endpoint, role, epoch, last seen. A
//  SQLite store records none: its one controller, this one, leads.
static json_t *s_controllers (ctl_api_t *self)
{
    zlistx_t *list = ctl_leader_controllers (self->store);
    if (!list)
        return NULL;
    int64_t now = jad_now_ms ();
    json_t *controllers = json_array ();
    for (ctl_controller_t *entry = zlistx_first (list); entry; entry = zlistx_next (list))
        json_array_append_new (
            controllers,
            json_pack ("{s:s, s:s, s:I, s:o, s:s}", "endpoint", entry->name, "role",
                       entry->leader ? "leader" : "standby", "epoch", (json_int_t)entry->epoch,
                       "last_seen", ctl_json_time (entry->seen, entry->seen > 0), "state",
                       now - entry->seen < S_CONTROLLER_DOWN_MS ? "up" : "down"));
    if (zlistx_size (list) == 0) {
        const jad_controller_config_t *config = ctl_settings_config (self->settings);
        char endpoint[320];
        snprintf (endpoint, sizeof endpoint, "%s:%d", config->listen, config->port);
        json_int_t epoch = (json_int_t)ctl_store_epoch (self->store);
        json_array_append_new (controllers,
                               json_pack ("{s:s, s:s, s:I, s:o, s:s}", "endpoint", endpoint, "role",
                                          "leader", "epoch", epoch < 0 ? 0 : epoch, "last_seen",
                                          ctl_json_time (now, true), "state", "up"));
    }
    zlistx_destroy (&list);
    return controllers;
}

static int s_controllers_list (ctl_api_t *self, const jad_api_request_t *request,
                               const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)request, (void)operator_name;
    json_t *controllers = s_controllers (self);
    if (!controllers) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    *result = json_pack ("{s:o}", "controllers", controllers);
    return 0;
}

static int s_status (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
                     json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *env = jad_api_request_arg (request, "env");
    const char *app = jad_api_request_arg (request, "app");
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    int64_t now = jad_now_ms ();
    zlistx_t *fleet = ctl_agents_repo_fleet (self->store, env, app);
    if (!fleet) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    json_t *agents = json_array ();
    for (ctl_agent_t *agent = zlistx_first (fleet); agent; agent = zlistx_next (fleet)) {
        const char *shown =
            streq (agent->state, "accepted")
                ? (ctl_deadlines_online (agent->last_seen, now, config->heartbeat_ms) ? "online"
                                                                                      : "offline")
                : agent->state;
        json_t *apps = json_object ();
        for (ctl_agent_app_t *entry = zlistx_first (agent->apps); entry;
             entry = zlistx_next (agent->apps))
            json_object_set_new (apps, entry->app,
                                 json_pack ("{s:o, s:o}", "version", ctl_json_text (entry->version),
                                            "health", ctl_json_text (entry->health)));
        json_t *current = json_pack (
            "{s:s, s:s, s:s, s:o, s:o}", "name", agent->name, "env", agent->env, "state", shown,
            "last_seen", ctl_json_time (agent->last_seen, agent->last_seen != 0), "apps", apps);
        json_object_set_new (current, "refusals", s_refusals (agent->refusals));
        json_object_set_new (current, "stale", json_boolean (agent->stale));
        json_object_set_new (current, "stale_alarms", json_integer (agent->stale_alarms));
        json_array_append_new (agents, current);
    }
    zlistx_destroy (&fleet);
    json_t *controllers = s_controllers (self);
    if (!controllers) {
        json_decref (agents);
        snprintf (err, errlen, "database error");
        return 1;
    }
    json_t *counters = json_object ();
    for (int index = 0; index < CTL_COUNT_MAX; index++)
        json_object_set_new (counters, ctl_counter_name ((ctl_counter_t)index),
                             json_integer ((json_int_t)self->counters->value[index]));
    char started[32];
    *result = json_pack ("{s:o, s:{s:o, s:s, s:s}}", "agents", agents, "controller", "counters",
                         counters, "version", JADUGAR_VERSION, "started",
                         jad_iso_time (self->started_ms, started, sizeof started));
    json_object_set_new (*result, "controllers", controllers);
    return 0;
}

static int s_agents (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
                     json_t **result, char *err, size_t errlen)
{
    (void)request, (void)operator_name;
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    int64_t now = jad_now_ms ();
    zlistx_t *list = ctl_agents_repo_list (self->store);
    if (!list) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    json_t *agents = json_array ();
    for (ctl_agent_t *agent = zlistx_first (list); agent; agent = zlistx_next (list)) {
        const char *shown =
            streq (agent->state, "accepted")
                ? (ctl_deadlines_online (agent->last_seen, now, config->heartbeat_ms) ? "online"
                                                                                      : "offline")
                : agent->state;
        char fingerprint[CTL_FINGERPRINT_LEN + 1];
        json_array_append_new (
            agents, json_pack ("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "name", agent->name, "env",
                               agent->env, "state", shown, "key", agent->public_key, "fingerprint",
                               ctl_agents_fingerprint (agent->public_key, fingerprint), "last_seen",
                               ctl_json_time (agent->last_seen, agent->last_seen != 0), "address",
                               ctl_json_text (agent->address)));
    }
    zlistx_destroy (&list);
    *result = json_pack ("{s:o}", "agents", agents);
    return 0;
}

static int s_release_begin (ctl_api_t *self, const jad_api_request_t *request,
                            const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_artifacts_begin (self->artifacts, request, result, err, errlen);
}

static int s_release_chunk (ctl_api_t *self, const jad_api_request_t *request,
                            const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_artifacts_chunk (self->artifacts, request, result, err, errlen);
}

//  A release was added: a tracked branch deploys itself (DESIGN §5).
static void s_release_added (ctl_api_t *self, const char *operator_name, json_t *result)
{
    json_t *release = json_object_get (result, "release");
    const char *app = json_string_value (json_object_get (release, "app"));
    const char *version = json_string_value (json_object_get (release, "version"));
    if (app && version) {
        ctl_release_t *stored = NULL;
        if (ctl_releases_repo_get (self->store, app, version, &stored) == 0 && stored->branch)
            json_object_set_new (result, "auto_deploy",
                                 ctl_rollout_auto_deploy (self->rollout, app, version,
                                                          stored->branch, operator_name));
        ctl_release_destroy (&stored);
    }
}

//  The archive is checked beside the loop (ctl_artifacts): the answer
//  goes out from ctl_api_checked.
static int s_release_commit (ctl_api_t *self, const jad_api_request_t *request,
                             const char *operator_name, json_t **result, char *err, size_t errlen)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    jad_archive_limits_t limits = {.max_bytes = (uint64_t)config->release_unpacked_mib << 20,
                                   .max_ratio = config->release_ratio};
    int status = ctl_artifacts_commit (self->artifacts, request, &limits, result, err, errlen);
    if (status == 0 && *result)
        s_release_added (self, operator_name, *result);
    return status;
}

static int s_release_list (ctl_api_t *self, const jad_api_request_t *request,
                           const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *app = jad_api_request_arg (request, "app");
    zlistx_t *list = ctl_releases_repo_list (self->store, app);
    if (!list) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    json_t *releases = json_array ();
    for (ctl_release_t *release = zlistx_first (list); release; release = zlistx_next (list)) {
        int64_t floor = release->has_floor ? release->floor : 0;
        const char *security = release->counter < floor    ? "below"
                               : release->counter == floor ? "floor"
                                                           : NULL;
        json_array_append_new (
            releases,
            json_pack ("{s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:s?}", "app",
                       release->app, "version", release->version, "sha256", release->sha256,
                       "length", (json_int_t)release->length, "unpacked_size",
                       (json_int_t)release->unpacked_size, "branch",
                       ctl_json_text (release->branch), "commit",
                       ctl_json_text (release->commit_id), "notes", ctl_json_text (release->notes),
                       "created", ctl_json_time (release->created, true), "succeeded_in",
                       ctl_json_text (release->succeeded_in), "bad", ctl_json_text (release->bad),
                       "counter", (json_int_t)release->counter, "security", security));
    }
    zlistx_destroy (&list);
    *result = json_pack ("{s:o}", "releases", releases);
    return 0;
}

//  release.floor: raise app's security floor to version's release counter.
//  Floors only go up; deploys and rollbacks below it are refused here and
//  by every agent that has seen it (plans carry it, signed).
static int s_release_floor (ctl_api_t *self, const jad_api_request_t *request,
                            const char *operator_name, json_t **result, char *err, size_t errlen)
{
    const char *app = jad_api_request_arg (request, "app");
    const char *version = jad_api_request_arg (request, "version");
    if (!jad_name_valid (app) || !jad_name_valid (version)) {
        snprintf (err, errlen, "release floor needs APP and VERSION as valid names");
        return 2;
    }
    ctl_release_t *release = NULL;
    if (ctl_releases_repo_get (self->store, app, version, &release) != 0) {
        snprintf (err, errlen, "no release %s %s (add it with: jadctl release add)", app, version);
        return 2;
    }
    int64_t counter = release->counter;
    int64_t previous = release->has_floor ? release->floor : 0;
    char *previous_version = release->floor_version;
    release->floor_version = NULL;
    ctl_release_destroy (&release);
    int status = 0;
    if (counter < previous) {
        snprintf (err, errlen,
                  "refused: the security floor of %s is %s (counter %lld); %s has counter %lld "
                  "and a floor only goes up",
                  app, previous_version ? previous_version : "?", (long long)previous, version,
                  (long long)counter);
        status = 2;
    } else if (counter > previous &&
               ctl_releases_repo_floor_set (self->store, app, counter, version, operator_name,
                                            jad_now_ms ()) != 0) {
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

//  release.attest and release.checks: DESIGN §10 (ctl_attestations.h)
static int s_release_attest (ctl_api_t *self, const jad_api_request_t *request,
                             const char *operator_name, json_t **result, char *err, size_t errlen)
{
    return ctl_attestations_attest (self->store, ctl_settings_config (self->settings), request,
                                    operator_name, result, err, errlen);
}

static int s_release_approve (ctl_api_t *self, const jad_api_request_t *request,
                              const char *operator_name, json_t **result, char *err, size_t errlen)
{
    return ctl_attestations_approve (self->store, ctl_settings_config (self->settings), request,
                                     operator_name, result, err, errlen);
}

static int s_policy_push (ctl_api_t *self, const jad_api_request_t *request,
                          const char *operator_name, json_t **result, char *err, size_t errlen)
{
    return ctl_attestations_policy_push (self->store, ctl_settings_config (self->settings), request,
                                         operator_name, result, err, errlen);
}

static int s_release_checks (ctl_api_t *self, const jad_api_request_t *request,
                             const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_attestations_checks (self->store, ctl_settings_config (self->settings), request,
                                    result, err, errlen);
}

//  Automatic decisions about plan_id (made by it or undoing it), as a
//  JSON array, or NULL if none.
static json_t *s_decisions_json (ctl_api_t *self, const char *plan_id)
{
    zlistx_t *rows = ctl_plans_repo_decisions (self->store, plan_id);
    if (!rows || zlistx_size (rows) == 0) {
        zlistx_destroy (&rows);
        return NULL;
    }
    json_t *list = json_array ();
    for (ctl_decision_t *row = zlistx_first (rows); row; row = zlistx_next (rows)) {
        json_t *detail = row->detail ? json_loads (row->detail, 0, NULL) : NULL;
        json_array_append_new (list,
                               json_pack ("{s:s, s:o, s:s?, s:s?, s:s?, s:o}", "what", row->what,
                                          "time", ctl_json_time (row->time, row->time > 0), "plan",
                                          row->plan_id, "undoes", row->undoes, "rule", row->rule_id,
                                          "values", detail ? detail : json_object ()));
    }
    zlistx_destroy (&rows);
    return list;
}

//  PLAN as docs/api.md describes; hosts, events and approvals only when
//  `full`. Events include those of the plan's tasks (migrations, verify).
static json_t *s_plan_json (ctl_api_t *self, const char *plan_id, bool full, int64_t since)
{
    ctl_plan_snapshot_t *snapshot = NULL;
    if (ctl_plans_repo_snapshot (self->store, plan_id, &snapshot) != 0)
        return NULL;
    const ctl_plan_t *row = snapshot->plan;
    json_t *plan = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "id",
                              row->id, "app", row->app, "version", row->version, "env", row->env,
                              "kind", row->kind, "strategy", row->strategy, "state", row->state,
                              "created", ctl_json_time (row->created, true), "finished",
                              ctl_json_time (row->finished, row->finished != 0), "reason",
                              ctl_json_text (row->reason), "undoes", ctl_json_text (row->undoes),
                              "deployer", ctl_json_text (row->deployer));
    json_object_set_new (plan, "phase", json_string (row->phase));
    json_object_set_new (plan, "batch", json_integer ((json_int_t)row->current_batch + 1));
    json_object_set_new (plan, "batches", json_integer ((json_int_t)row->batches));
    json_object_set_new (plan, "paused", json_boolean (row->paused));
    json_object_set_new (plan, "batch_size", ctl_json_text (row->batch));
    json_object_set_new (plan, "canary", json_integer ((json_int_t)row->canary));
    json_object_set_new (plan, "bake_ms", json_integer ((json_int_t)row->bake_ms));
    json_object_set_new (plan, "emergency", ctl_json_text (row->emergency));
    json_object_set_new (plan, "skip_offline", json_boolean (row->skip_offline));
    json_object_set_new (plan, "security", json_boolean (row->security));
    json_object_set_new (plan, "rolled_back_by", ctl_json_text (row->rolled_back_by));
    json_object_set_new (plan, "previous", ctl_json_text (row->previous));
    json_object_set_new (plan, "action", ctl_json_text (row->action));
    json_object_set_new (plan, "migrations", ctl_json_text (row->migrations));
    json_object_set_new (plan, "phase_started",
                         ctl_json_time (row->phase_started, row->phase_started != 0));
    json_object_set_new (plan, "hosts_total", json_integer ((json_int_t)snapshot->hosts));
    json_object_set_new (plan, "hosts_healthy", json_integer ((json_int_t)snapshot->healthy));
    json_object_set_new (plan, "hosts_failed", json_integer ((json_int_t)snapshot->failed));
    json_object_set_new (plan, "batch_hosts", json_integer ((json_int_t)snapshot->batch_hosts));
    json_object_set_new (plan, "batch_healthy", json_integer ((json_int_t)snapshot->batch_healthy));
    json_object_set_new (plan, "notes", ctl_json_text (snapshot->notes));
    //  the deployment log's outcome: succeeded, failed, rolled-back
    const char *outcome = row->state;
    if (streq (row->state, "failed") && row->rolled_back_by)
        outcome = "rolled-back";
    json_object_set_new (plan, "outcome", json_string (outcome));
    ctl_plan_snapshot_destroy (&snapshot);
    if (!full)
        return plan;
    json_t *hosts = json_array ();
    zlistx_t *rows = ctl_plans_repo_hosts (self->store, plan_id);
    for (ctl_plan_host_t *host = rows ? zlistx_first (rows) : NULL; host;
         host = zlistx_next (rows)) {
        json_t *entry = json_pack (
            "{s:s, s:s, s:o, s:o, s:o, s:I, s:o, s:o}", "name", host->agent, "state", host->state,
            "step", ctl_json_text (host->step), "detail", ctl_json_text (host->detail), "updated",
            ctl_json_time (host->updated, host->updated != 0), "batch", (json_int_t)host->batch + 1,
            "started", ctl_json_time (host->started, host->started != 0), "finished",
            ctl_json_time (host->finished, host->finished != 0));
        if (host->started && host->finished)
            json_object_set_new (entry, "duration_ms",
                                 json_integer ((json_int_t)(host->finished - host->started)));
        json_array_append_new (hosts, entry);
    }
    zlistx_destroy (&rows);
    json_object_set_new (plan, "hosts", hosts);
    json_t *events = json_array ();
    rows = ctl_plans_repo_events (self->store, plan_id, since, 1000);
    for (ctl_plan_event_t *event = rows ? zlistx_first (rows) : NULL; event;
         event = zlistx_next (rows))
        json_array_append_new (
            events,
            json_pack ("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o}", "id", (json_int_t)event->id,
                       "time", ctl_json_time (event->time, true), "host",
                       ctl_json_text (event->agent), "step", ctl_json_text (event->step), "status",
                       ctl_json_text (event->status), "detail", ctl_json_text (event->detail),
                       "output", ctl_json_text (event->output), "duration_ms",
                       (json_int_t)event->duration_ms, "plan", ctl_json_text (event->plan_id)));
    zlistx_destroy (&rows);
    json_object_set_new (plan, "events", events);
    json_t *approvals = json_array ();
    rows = ctl_plans_repo_approvals (self->store, plan_id);
    for (ctl_approval_row_t *approval = rows ? zlistx_first (rows) : NULL; approval;
         approval = zlistx_next (rows))
        json_array_append_new (approvals,
                               json_pack ("{s:s, s:o, s:o}", "operator", approval->operator_name,
                                          "role", ctl_json_text (approval->role), "time",
                                          ctl_json_time (approval->time, true)));
    zlistx_destroy (&rows);
    json_object_set_new (plan, "approvals", approvals);
    json_t *decisions = s_decisions_json (self, plan_id);
    if (decisions)
        json_object_set_new (plan, "decisions", decisions);
    return plan;
}

//  release.show: one release with its checks in every environment and
//  every plan of it (where it ran and how it ended), oldest first.
static int s_release_show (ctl_api_t *self, const jad_api_request_t *request,
                           const char *operator_name, json_t **result, char *err, size_t errlen)
{
    const char *app = jad_api_request_arg (request, "app");
    const char *version = jad_api_request_arg (request, "version");
    if (!jad_name_valid (app) || !jad_name_valid (version)) {
        snprintf (err, errlen, "release show needs APP and VERSION as valid names");
        return 2;
    }
    json_t *listed = NULL, *found = NULL;
    int status = s_release_list (self, request, operator_name, &listed, err, errlen);
    size_t index;
    json_t *release;
    json_array_foreach (json_object_get (listed, "releases"), index, release)
    {
        if (streq (json_string_value (json_object_get (release, "version")), version))
            found = json_incref (release);
    }
    json_decref (listed);
    if (status != 0 || !found) {
        if (status == 0)
            snprintf (err, errlen, "no release %s %s (see: jadctl release list %s)", app, version,
                      app);
        return status ? status : 2;
    }
    json_t *checks = NULL;
    char check_err[256] = "";
    if (ctl_attestations_checks (self->store, ctl_settings_config (self->settings), request,
                                 &checks, check_err, sizeof check_err) != 0)
        checks = json_pack ("{s:s}", "error", check_err);
    zlistx_t *ids = ctl_plans_repo_of_release (self->store, app, version, 1000);
    json_t *plans = json_array ();
    for (char *id = ids ? zlistx_first (ids) : NULL; id; id = zlistx_next (ids)) {
        json_t *plan = s_plan_json (self, id, false, 0);
        if (plan)
            json_array_append_new (plans, plan);
    }
    zlistx_destroy (&ids);
    //  checks in every environment, or why they could not be judged
    json_t *list = json_incref (json_object_get (checks, "checks"));
    if (!list)
        list = json_pack ("[{s:s}]", "error", *check_err ? check_err : "no checks");
    json_decref (checks);
    *result = json_pack ("{s:o, s:o, s:o}", "release", found, "checks", list, "plans", plans);
    return 0;
}

//  A deploy's dry run: the door and the layout of ctl_rollout_create,
//  nothing stored (the request's audit row says it was asked).
static int s_dry_run (ctl_plan_spec_t *spec, ctl_api_t *self, json_t **result, char *err,
                      size_t errlen)
{
    json_t *dry = NULL;
    spec->dry_run = &dry;
    char *plan_id = ctl_rollout_create (self->rollout, spec, err, errlen);
    free (plan_id);  //  never one: a dry run stores nothing
    if (!dry)
        return 2;
    *result = json_pack ("{s:o}", "dry_run", dry);
    return 0;
}

static int s_deploy (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
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
    const char *security = jad_api_request_arg (request, "security");
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
    if (security && !emergency) {
        snprintf (err, errlen,
                  "--security says an emergency is a security one: it needs --emergency "
                  "--reason TEXT");
        return 2;
    }
    //  the policy door (ctl_door, through ctl_rollout_create) decides
    ctl_plan_spec_t spec = {.door = emergency ? CTL_DOOR_EMERGENCY : CTL_DOOR_DEPLOY,
                            .app = app,
                            .version = version,
                            .env = env_name,
                            .deployer = operator_name,
                            .force = force != NULL,
                            .strategy = strategy,
                            .batch = batch,
                            .canary = canary_count,
                            .bake_set = bake != NULL,
                            .bake_ms = bake_ms,
                            .emergency = emergency ? reason : NULL,
                            .security = security != NULL,
                            .skip_offline = skip_offline != NULL};
    if (jad_api_request_arg (request, "dry_run"))
        return s_dry_run (&spec, self, result, err, errlen);
    char *plan_id = ctl_rollout_create (self->rollout, &spec, err, errlen);
    if (!plan_id)
        return 2;
    *result = json_pack ("{s:o}", "plan", s_plan_json (self, plan_id, true, 0));
    free (plan_id);
    return 0;
}

static int s_rollback (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
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
    const char *force = jad_api_request_arg (request, "force");
    if (jad_api_request_arg (request, "dry_run")) {
        json_t *dry = NULL;
        if (ctl_rollout_rollback_dry (self->rollout, app, env_name, to, operator_name,
                                      force && streq (force, "true"), &dry, err, errlen) != 0)
            return 2;
        *result = json_pack ("{s:o}", "dry_run", dry);
        return 0;
    }
    char *plan_id =
        ctl_rollout_rollback (self->rollout, CTL_DOOR_ROLLBACK, app, env_name, to, NULL,
                              operator_name, NULL, force && streq (force, "true"), err, errlen);
    if (!plan_id)
        return 2;
    *result = json_pack ("{s:o}", "plan", s_plan_json (self, plan_id, true, 0));
    free (plan_id);
    return 0;
}

//  jadctl db-rollback APP --env E --to VERSION [--force] (DESIGN §11)
static int s_db_rollback (ctl_api_t *self, const jad_api_request_t *request,
                          const char *operator_name, json_t **result, char *err, size_t errlen)
{
    const char *app = jad_api_request_arg (request, "app");
    const char *env_name = jad_api_request_arg (request, "env");
    const char *to = jad_api_request_arg (request, "to");
    if (!jad_name_valid (app) || !jad_name_valid (env_name) || !jad_name_valid (to)) {
        snprintf (err, errlen, "db-rollback needs APP, --env ENV and --to VERSION as valid names");
        return 2;
    }
    const char *force = jad_api_request_arg (request, "force");
    char *plan_id = ctl_rollout_db_rollback (self->rollout, app, env_name, to, operator_name,
                                             force && streq (force, "true"), err, errlen);
    if (!plan_id)
        return 2;
    *result = json_pack ("{s:o}", "plan", s_plan_json (self, plan_id, true, 0));
    free (plan_id);
    return 0;
}

//  incident.open, .note, .close, .list, .report (ctl_incidents)
static int s_incident (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
                       json_t **result, char *err, size_t errlen)
{
    return ctl_incidents_api (self->store, self->notify, ctl_settings_config (self->settings),
                              request, operator_name, result, err, errlen);
}

//  The plan `given` names: its whole id, or a prefix of exactly one
//  plan's id (issue 13 item 13). Fills id and returns 0, or returns 2
//  with why in err (no such plan; an ambiguous prefix lists candidates).
static int s_resolve_plan (ctl_api_t *self, const char *given, char *id, size_t idlen, char *err,
                           size_t errlen)
{
    if (!given || !jad_name_valid (given)) {
        snprintf (err, errlen, "no plan '%s' (see: jadctl plans)", given ? given : "");
        return 2;
    }
    zlistx_t *ids = ctl_plans_repo_by_prefix (self->store, given, 6);
    if (!ids) {
        snprintf (err, errlen, "database error while looking up plan '%s'", given);
        return 2;
    }
    size_t count = zlistx_size (ids);
    const char *first = zlistx_first (ids);
    int status = 0;
    if (count == 0) {
        snprintf (err, errlen, "no plan '%s' (see: jadctl plans)", given);
        status = 2;
    } else if (count == 1 || streq (first, given))
        snprintf (id, idlen, "%s", first);
    else {
        size_t used = (size_t)snprintf (err, errlen,
                                        "plan id '%s' is ambiguous: it starts %s%zu plans:", given,
                                        count > 5 ? "more than " : "", count > 5 ? 5 : count);
        size_t shown = 0;
        for (const char *candidate = first; candidate && shown < 5 && used < errlen;
             candidate = zlistx_next (ids), shown++)
            used += (size_t)snprintf (err + used, errlen - used, " %s", candidate);
        if (used < errlen)
            snprintf (err + used, errlen - used, " (give more of the id)");
        status = 2;
    }
    zlistx_destroy (&ids);
    return status;
}

//  Operator `operator_name` approves emergency plan plan_id (ctl_approvals
//  decides who covers which role). Returns 0 (stored; *complete: every
//  role is covered, start the plan) or 2 (refused, why in err).
static int s_approve (ctl_api_t *self, const char *plan_id, const char *operator_name,
                      json_t **result, bool *complete, char *err, size_t errlen)
{
    *complete = false;
    ctl_plan_t *plan = NULL;
    if (ctl_plans_repo_get (self->store, plan_id, &plan) != 0) {
        snprintf (err, errlen, "no plan '%s' (see: jadctl plans)", plan_id);
        return 2;
    }
    const jad_env_config_t *env =
        jad_controller_config_env (ctl_settings_config (self->settings), plan->env);
    ctl_operator_t *approver = NULL;
    ctl_agents_repo_operator_by_name (self->store, operator_name, &approver);
    zlistx_t *given = ctl_plans_repo_approvals (self->store, plan_id);
    //  an approval counts while its operator's key is current (row 42)
    zlistx_t *current = ctl_agents_repo_operators_current (self->store, jad_now_ms ());
    size_t count = given ? zlistx_size (given) : 0;
    ctl_approver_t *rows = calloc (count + 1, sizeof (ctl_approver_t));
    int status = 2;
    if (!given || !current || !rows) {
        snprintf (err, errlen, "database error while reading the approvals of plan %s", plan_id);
        goto done;
    }
    size_t index = 0;
    for (ctl_approval_row_t *row = zlistx_first (given); row; row = zlistx_next (given)) {
        bool holds = false;
        for (ctl_operator_t *now_row = zlistx_first (current); now_row && !holds;
             now_row = zlistx_next (current))
            holds = streq (now_row->name, row->operator_name);
        rows[index++] =
            (ctl_approver_t){.name = row->operator_name, .roles = holds ? row->operator_roles : ""};
    }
    ctl_approval_plan_t judged = {.id = plan->id,
                                  .state = plan->state,
                                  .emergency = plan->emergency != NULL,
                                  .deployer = plan->deployer,
                                  .security = plan->security};
    ctl_approver_t who = {.name = operator_name, .roles = approver ? approver->roles : NULL};
    ctl_approval_t verdict;
    if (ctl_approvals_judge (&judged, env, rows, count, &who, &verdict) != 0) {
        snprintf (err, errlen, "%s", verdict.text);
        goto done;
    }
    if (ctl_plans_repo_approval_add (self->store, plan_id, operator_name, verdict.as_role,
                                     jad_now_ms ()) != 0) {
        snprintf (err, errlen, "database error while storing the approval of plan %s", plan_id);
        goto done;
    }
    status = 0;
    ctl_decisions_record (self->store, plan_id, "emergency_approvals", "approved", "%s",
                          verdict.decision);
    json_t *missing = json_array ();
    for (size_t role = 0; missing && role < verdict.missing_count; role++)
        json_array_append_new (missing, json_string (verdict.missing[role]));
    *result =
        json_pack ("{s:s, s:s, s:s, s:I, s:I, s:o*}", "plan", plan_id, "operator", operator_name,
                   "role", verdict.as_role, "covered", (json_int_t)verdict.covered, "required",
                   (json_int_t)verdict.required, "missing", missing);
    if (verdict.complete) {
        ctl_decisions_record (self->store, plan_id, "emergency_approvals", "complete", "%s",
                              verdict.complete_decision);
        *complete = true;
    }
done:
    free (rows);
    zlistx_destroy (&given);
    zlistx_destroy (&current);
    ctl_operator_destroy (&approver);
    ctl_plan_destroy (&plan);
    return status;
}

//  plan.pause, plan.resume, plan.abort, plan.approve
static int s_plan_control (ctl_api_t *self, const jad_api_request_t *request,
                           const char *operator_name, json_t **result, char *err, size_t errlen)
{
    char plan_id[JAD_NAME_MAX + 1];
    if (s_resolve_plan (self, jad_api_request_arg (request, "id"), plan_id, sizeof plan_id, err,
                        errlen) != 0)
        return 2;
    const char *action = request->command + strlen ("plan.");
    char *state = NULL;
    ctl_plan_t *row = NULL;
    if (ctl_plans_repo_get (self->store, plan_id, &row) == 0) {
        state = row->state;
        row->state = NULL;
    }
    ctl_plan_destroy (&row);
    if (!state) {
        snprintf (err, errlen, "no plan '%s' (see: jadctl plans)", plan_id);
        return 2;
    }
    int status = 0;
    if (streq (action, "approve")) {
        bool complete = false;
        status = s_approve (self, plan_id, operator_name, result, &complete, err, errlen);
        if (status == 0 && complete)
            ctl_rollout_start (self->rollout, plan_id);
    } else
        status = ctl_rollout_operator (self->rollout, plan_id, action, operator_name, err, errlen);
    if (status == 0 && !*result)
        *result = json_pack ("{s:o}", "plan", s_plan_json (self, plan_id, false, 0));
    free (state);
    return status;
}

static int s_plans (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
                    json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *env = jad_api_request_arg (request, "env");
    zlistx_t *ids = ctl_plans_repo_list (self->store, env, 100);
    if (!ids) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    json_t *plans = json_array ();
    for (char *id = zlistx_first (ids); id; id = zlistx_next (ids)) {
        json_t *plan = s_plan_json (self, id, false, 0);
        if (plan)
            json_array_append_new (plans, plan);
    }
    zlistx_destroy (&ids);
    *result = json_pack ("{s:o}", "plans", plans);
    return 0;
}

static int s_plan_show (ctl_api_t *self, const jad_api_request_t *request,
                        const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    char plan_id[JAD_NAME_MAX + 1];
    if (s_resolve_plan (self, jad_api_request_arg (request, "id"), plan_id, sizeof plan_id, err,
                        errlen) != 0)
        return 2;
    const char *since = jad_api_request_arg (request, "since");
    json_t *plan = s_plan_json (self, plan_id, true, since ? atoll (since) : 0);
    if (!plan) {
        snprintf (err, errlen, "no plan '%s' (see: jadctl plans)", plan_id);
        return 2;
    }
    *result = json_pack ("{s:o}", "plan", plan);
    return 0;
}

static int s_schedule (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
                       json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_rollout_schedule (self->rollout, jad_api_request_arg (request, "env"),
                                 jad_api_request_arg (request, "count"), result, err, errlen);
}

static int s_alerts (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
                     json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_alerts_api_list (self->alerts, request, result, err, errlen);
}

static int s_alert_add (ctl_api_t *self, const jad_api_request_t *request,
                        const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_alerts_api_add (self->alerts, request, result, err, errlen);
}

static int s_alert_rm (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
                       json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return ctl_alerts_api_rm (self->alerts, request, result, err, errlen);
}

static int s_metrics (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
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
    //  nothing is kept longer than the rollups: no wider span is read
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    if (since_ms > config->rollup_retention_ms)
        since_ms = (uint32_t)config->rollup_retention_ms;
    ctl_metric_query_t *query = ctl_metrics_repo_query (
        self->store, host, env, name, now - since_ms, now, config->metrics_retention_ms, 40);
    if (!query) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    json_t *list = json_array ();
    for (ctl_metric_series_t *series = zlistx_first (query->series); series;
         series = zlistx_next (query->series)) {
        json_t *points = json_array ();
        for (size_t index = 0; index < series->points; index++)
            json_array_append_new (points, json_pack ("[I, f]", (json_int_t)series->times[index],
                                                      series->averages[index]));
        json_array_append_new (
            list, json_pack ("{s:s, s:s, s:o, s:f, s:f, s:f, s:I}", "host", series->host, "name",
                             series->name, "points", points, "min", series->min, "max", series->max,
                             "avg", series->avg, "count", (json_int_t)series->count));
    }
    *result = json_pack (
        "{s:I, s:I, s:I, s:s, s:o, s:b, s:I, s:i}", "since", (json_int_t)query->since, "until",
        (json_int_t)query->until, "bucket_ms", (json_int_t)query->bucket_ms, "source",
        query->raw ? "raw" : "rollup", "series", list, "truncated", query->truncated, "max_rows",
        (json_int_t)CTL_METRICS_QUERY_ROWS, "max_series", CTL_METRICS_QUERY_SERIES);
    ctl_metric_query_destroy (&query);
    return 0;
}

//  agents.accept|reject|remove NAME
static int s_agent_decide (ctl_api_t *self, const jad_api_request_t *request, const char *action,
                           json_t **result, char *err, size_t errlen)
{
    const char *name = jad_api_request_arg (request, "name");
    const char *state = NULL;
    int status = ctl_agents_decide (self->agents, name, action, &state, err, errlen);
    if (status != 0)
        return status;
    //  the operator compares it with `jadugar-agent fingerprint` on the host
    ctl_agent_t *agent = NULL;
    char fingerprint[CTL_FINGERPRINT_LEN + 1] = "?";
    if (ctl_agents_repo_by_name (self->store, name, &agent) == 0)
        ctl_agents_fingerprint (agent->public_key, fingerprint);
    *result = json_pack ("{s:s, s:s, s:s, s:s?}", "name", name, "state", state, "fingerprint",
                         fingerprint, "key", agent ? agent->public_key : NULL);
    ctl_agent_destroy (&agent);
    return 0;
}

static int s_agents_accept (ctl_api_t *self, const jad_api_request_t *request,
                            const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return s_agent_decide (self, request, "accept", result, err, errlen);
}

static int s_agents_reject (ctl_api_t *self, const jad_api_request_t *request,
                            const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return s_agent_decide (self, request, "reject", result, err, errlen);
}

static int s_agents_remove (ctl_api_t *self, const jad_api_request_t *request,
                            const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    return s_agent_decide (self, request, "remove", result, err, errlen);
}

//  agents.token.create --env E[,E2] [--expires DURATION] [--uses N]: a
//  new enrollment token, its secret in the reply only (the store keeps
//  its SHA-256).
static int s_token_create (ctl_api_t *self, const jad_api_request_t *request,
                           const char *operator_name, json_t **result, char *err, size_t errlen)
{
    const char *envs = jad_api_request_arg (request, "env");
    const char *expires = jad_api_request_arg (request, "expires");
    const char *uses = jad_api_request_arg (request, "uses");
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    if (!envs || streq (envs, "*") || !ctl_agents_token_envs_valid (envs)) {
        snprintf (err, errlen, "agents token create needs --env E[,E2...] (environment names)");
        return 2;
    }
    char copy[513];
    snprintf (copy, sizeof copy, "%s", envs);
    char *save = NULL;
    for (char *env = strtok_r (copy, ",", &save); env; env = strtok_r (NULL, ",", &save))
        if (!jad_controller_config_env (config, env)) {
            snprintf (err, errlen, "--env: environment '%s' is not configured on the controller",
                      env);
            return 2;
        }
    uint32_t ttl_ms = CTL_INIT_TOKEN_TTL_MS;
    if (expires && (jad_duration_parse (expires, &ttl_ms) != 0 || ttl_ms == 0)) {
        snprintf (err, errlen, "--expires '%.64s' is not a duration (e.g. 30m, 24h, 7d)", expires);
        return 2;
    }
    char *end = NULL;
    long long count = uses ? strtoll (uses, &end, 10) : 1;
    if (uses && (!*uses || *end || count < 1 || count > 100000)) {
        snprintf (err, errlen, "--uses '%.64s' must be a number from 1 to 100000", uses);
        return 2;
    }
    char secret[33], id[9], hash[65];
    int64_t now = jad_now_ms ();
    ctl_enroll_token_t token = {.id = id,
                                .envs = (char *)envs,
                                .expires = now + (int64_t)ttl_ms,
                                .uses_left = count,
                                .created_by = (char *)operator_name,
                                .created = now};
    int rc = -1;
    for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
        jad_random_id (16, secret);
        jad_random_id (4, id);
        ctl_agents_token_hash (secret, hash);
        rc = ctl_agents_repo_token_add (self->store, &token, hash);
    }
    if (rc != 0) {
        sodium_memzero (secret, sizeof secret);
        snprintf (err, errlen, "database error");
        return 1;
    }
    jad_log_info ("api: enrollment token created id=%s envs=%s expires_in=%us uses=%lld "
                  "operator=%s",
                  id, envs, (unsigned)(ttl_ms / 1000), count, operator_name);
    *result = json_pack ("{s:s, s:s, s:s, s:o, s:I}", "token", secret, "id", id, "envs", envs,
                         "expires", ctl_json_time (token.expires, true), "uses", (json_int_t)count);
    sodium_memzero (secret, sizeof secret);
    return 0;
}

//  agents.token.list: every token's id, scope, expiry, uses left, state
//  and creator; never a secret (the store has none).
static int s_token_list (ctl_api_t *self, const jad_api_request_t *request,
                         const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)request, (void)operator_name;
    zlistx_t *list = ctl_agents_repo_tokens (self->store);
    if (!list) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    int64_t now = jad_now_ms ();
    json_t *tokens = json_array ();
    for (ctl_enroll_token_t *row = zlistx_first (list); row; row = zlistx_next (list)) {
        const char *state = row->revoked          ? "revoked"
                            : row->expires <= now ? "expired"
                            : row->uses_left == 0 ? "used"
                                                  : "active";
        json_array_append_new (
            tokens,
            json_pack ("{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o}", "id", row->id, "envs", row->envs,
                       "state", state, "expires", ctl_json_time (row->expires, true), "uses_left",
                       row->uses_left < 0 ? json_null () : json_integer (row->uses_left),
                       "created_by", row->created_by, "created", ctl_json_time (row->created, true),
                       "revoked", ctl_json_time (row->revoked, row->revoked != 0)));
    }
    zlistx_destroy (&list);
    *result = json_pack ("{s:o}", "tokens", tokens);
    return 0;
}

//  agents.token.revoke ID
static int s_token_revoke (ctl_api_t *self, const jad_api_request_t *request,
                           const char *operator_name, json_t **result, char *err, size_t errlen)
{
    const char *id = jad_api_request_arg (request, "id");
    if (!jad_name_valid (id)) {
        snprintf (err, errlen,
                  "agents token revoke needs a token ID (see: jadctl agents token "
                  "list)");
        return 2;
    }
    int rc = ctl_agents_repo_token_revoke (self->store, id, jad_now_ms ());
    if (rc < 0) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    if (rc == 1) {
        snprintf (err, errlen, "no active token '%s' (see: jadctl agents token list)", id);
        return 2;
    }
    jad_log_info ("api: enrollment token revoked id=%s operator=%s", id, operator_name);
    *result = json_pack ("{s:s, s:s}", "id", id, "state", "revoked");
    return 0;
}

//  Checks of the operator commands' arguments: each writes why into err
//  and returns false when the value is bad.
static bool s_curve_key_ok (const char *key, char *err, size_t errlen)
{
    uint8_t raw[32];
    if (key && strlen (key) == 40 && jad_key_from_z85 (key, raw) == 0)
        return true;
    snprintf (err, errlen,
              "--public-key must be a CURVE public key (40 characters Z85, as printed by jadctl "
              "keygen)");
    return false;
}

static bool s_signing_key_ok (const char *signing_key, char *err, size_t errlen)
{
    uint8_t raw[32];
    if (!signing_key || (strlen (signing_key) == 64 && jad_key_from_hex (signing_key, raw) == 0))
        return true;
    snprintf (err, errlen,
              "--signing-key must be an Ed25519 public key (64 hex characters, as printed by "
              "jadctl keygen as signing-key)");
    return false;
}

//  --expires DURATION (from now) or "never" (0) into *expires; absent: -1.
static bool s_expires_ok (const char *text, int64_t now, int64_t *expires, char *err, size_t errlen)
{
    uint64_t ms = 0;
    *expires = -1;
    if (!text)
        return true;
    if (streq (text, "never")) {
        *expires = 0;
        return true;
    }
    if (jad_long_duration_parse (text, &ms) == 0) {
        *expires = now + (int64_t)ms;
        return true;
    }
    snprintf (err, errlen,
              "--expires '%.64s' is not a duration (e.g. 90d, 12h; at most 3650d) or never", text);
    return false;
}

//  A CURVE key or a signing key held by any operator row (retired ones
//  too: a key once retired is never registered again) or agent: why in
//  err.
static bool s_keys_free (ctl_api_t *self, const char *key, const char *signing_key, char *err,
                         size_t errlen)
{
    if (key && ctl_agents_repo_key_known (self->store, key) != 0) {
        snprintf (err, errlen,
                  "that public key is already registered (an operator's or an agent's, now or "
                  "before: make a new one with jadctl keygen)");
        return false;
    }
    zlistx_t *rows = signing_key ? ctl_agents_repo_operators (self->store) : NULL;
    bool taken = false;
    for (ctl_operator_t *row = rows ? zlistx_first (rows) : NULL; row; row = zlistx_next (rows))
        taken = taken || jad_text_is (row->signing_key, signing_key);
    zlistx_destroy (&rows);
    if (taken)
        snprintf (err, errlen, "that signing key is already registered");
    return !taken;
}

static json_t *s_operator_json (const ctl_operator_t *row, int64_t now);

static int s_operator_add (ctl_api_t *self, const jad_api_request_t *request,
                           const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *name = jad_api_request_arg (request, "name");
    const char *roles = jad_api_request_arg (request, "roles");
    const char *key = jad_api_request_arg (request, "public-key");
    const char *signing_key = jad_api_request_arg (request, "signing-key");
    int64_t now = jad_now_ms ();
    int64_t expires = -1;
    if (!jad_name_valid (name)) {
        snprintf (err, errlen, "operator add needs NAME as a valid name");
        return 2;
    }
    if (!s_curve_key_ok (key, err, errlen))
        return 2;
    if (!roles || !*roles || strlen (roles) > 256) {
        snprintf (err, errlen, "operator add needs at least one --role");
        return 2;
    }
    if (!s_signing_key_ok (signing_key, err, errlen) ||
        !s_expires_ok (jad_api_request_arg (request, "expires"), now, &expires, err, errlen))
        return 2;
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
    ctl_operator_t *existing = NULL;
    int found = ctl_agents_repo_operator_by_name (self->store, name, &existing);
    ctl_operator_destroy (&existing);
    if (found == 0) {
        snprintf (err, errlen, "operator '%s' exists", name);
        return 2;
    }
    if (!s_keys_free (self, key, signing_key, err, errlen))
        return 2;
    if (ctl_store_begin (self->store) != 0 ||
        ctl_agents_repo_operator_add (self->store, name, key, roles, signing_key, now) != 0 ||
        (expires > 0 && ctl_agents_repo_operator_set_expires (self->store, name, expires) != 0) ||
        ctl_store_commit (self->store) != 0) {
        ctl_store_rollback (self->store);
        snprintf (err, errlen, "database error");
        return 1;
    }
    char until[32] = "never";
    if (expires > 0)
        jad_iso_time (expires, until, sizeof until);
    jad_log_info ("api: operator added name=%s roles=%s signing_key=%s expires=%s", name, roles,
                  signing_key ? signing_key : "-", until);
    //  the row as operator list shows it (state active, created...)
    ctl_operator_t *row = NULL;
    if (ctl_agents_repo_operator_by_name (self->store, name, &row) != 0) {
        snprintf (err, errlen, "operator %s was added, but reading it back failed: database error",
                  name);
        return 1;
    }
    *result = s_operator_json (row, now);
    ctl_operator_destroy (&row);
    return 0;
}

//  The state an operator row shows: active, expired, removed, rotated.
static const char *s_operator_state (const ctl_operator_t *row, int64_t now)
{
    if (row->retired)
        return row->retired_as ? row->retired_as : "removed";
    return row->expires > 0 && row->expires <= now ? "expired" : "active";
}

//  One operator row as the API shows it (under its operator's name).
static json_t *s_operator_json (const ctl_operator_t *row, int64_t now)
{
    return json_pack ("{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o}", "name",
                      ctl_operator_shown_name (row), "roles", row->roles, "public_key",
                      row->public_key, "created", ctl_json_time (row->created, true), "signing_key",
                      ctl_json_text (row->signing_key), "state", s_operator_state (row, now),
                      "expires", ctl_json_time (row->expires, row->expires > 0), "retired",
                      ctl_json_time (row->retired, row->retired > 0));
}

//  The current, unexpired operator `name` (0), none (2) or a database
//  error (1), why in err.
static int s_operator_current (ctl_api_t *self, const char *name, ctl_operator_t **row_p, char *err,
                               size_t errlen)
{
    *row_p = NULL;
    int found =
        jad_name_valid (name) ? ctl_agents_repo_operator_by_name (self->store, name, row_p) : 1;
    if (found == 0 && !(*row_p)->retired)
        return 0;
    ctl_operator_destroy (row_p);
    if (found < 0)
        snprintf (err, errlen, "database error");
    else
        snprintf (err, errlen, "no operator '%.64s' (see: jadctl operator list)", name ? name : "");
    return found < 0 ? 1 : 2;
}

//  operator.remove NAME: its keys are refused from now on (ZAP refuses
//  new connections, ctl_api_handle the next request on an open one) and
//  its approvals stop counting. The last admin whose key is current
//  cannot be removed.
static int s_operator_remove (ctl_api_t *self, const jad_api_request_t *request,
                              const char *operator_name, json_t **result, char *err, size_t errlen)
{
    const char *name = jad_api_request_arg (request, "name");
    ctl_operator_t *row = NULL;
    int status = s_operator_current (self, name, &row, err, errlen);
    if (status)
        return status;
    int64_t now = jad_now_ms ();
    zlistx_t *current = ctl_agents_repo_operators_current (self->store, now);
    size_t admins = 0;
    for (ctl_operator_t *other = current ? zlistx_first (current) : NULL; other;
         other = zlistx_next (current))
        if (!streq (other->name, name) && (s_role_grants (other->roles) & S_NEED_ADMIN))
            admins++;
    if (!current) {
        snprintf (err, errlen, "database error");
        status = 1;
    } else if (admins == 0 && (s_role_grants (row->roles) & S_NEED_ADMIN)) {
        snprintf (err, errlen,
                  "refused: '%s' is the last admin whose key is current; add another admin "
                  "first",
                  name);
        status = 2;
    } else if (ctl_agents_repo_operator_remove (self->store, name, now) != 0) {
        snprintf (err, errlen, "database error");
        status = 1;
    } else {
        jad_log_info ("api: operator removed name=%s key=%s by=%s", name, row->public_key,
                      operator_name);
        row->retired = now;
        row->retired_as = strdup ("removed");
        *result = s_operator_json (row, now);
    }
    zlistx_destroy (&current);
    ctl_operator_destroy (&row);
    return status;
}

//  operator.rotate NAME --public-key KEY [--signing-key HEX] [--expires
//  D]: the old keys are refused from now on, the name, roles and
//  approvals signed with a signing key kept stay.
static int s_operator_rotate (ctl_api_t *self, const jad_api_request_t *request,
                              const char *operator_name, json_t **result, char *err, size_t errlen)
{
    const char *name = jad_api_request_arg (request, "name");
    const char *key = jad_api_request_arg (request, "public-key");
    const char *signing_key = jad_api_request_arg (request, "signing-key");
    int64_t now = jad_now_ms ();
    int64_t expires = -1;
    ctl_operator_t *row = NULL;
    int status = s_operator_current (self, name, &row, err, errlen);
    if (status)
        return status;
    char until[32];
    status = 2;
    if (!s_curve_key_ok (key, err, errlen) || !s_signing_key_ok (signing_key, err, errlen) ||
        !s_expires_ok (jad_api_request_arg (request, "expires"), now, &expires, err, errlen) ||
        !s_keys_free (self, key, signing_key, err, errlen))
        goto done;
    if (expires < 0 && row->expires > 0 && row->expires <= now) {
        snprintf (err, errlen, "operator '%s' expired at %s: give --expires DURATION (or never)",
                  name, jad_iso_time (row->expires, until, sizeof until));
        goto done;
    }
    int rc = ctl_agents_repo_operator_rotate (self->store, name, key, signing_key, expires, now);
    status = rc == 0 ? 0 : 1;
    if (rc != 0) {
        snprintf (err, errlen, "database error");
        goto done;
    }
    jad_log_info ("api: operator key rotated name=%s old=%s new=%s signing_key=%s by=%s", name,
                  row->public_key, key, signing_key ? signing_key : "(kept)", operator_name);
    ctl_operator_t *fresh = NULL;
    if (ctl_agents_repo_operator_by_name (self->store, name, &fresh) == 0) {
        *result = s_operator_json (fresh, now);
        json_object_set_new (*result, "replaced", json_string (row->public_key));
    }
    ctl_operator_destroy (&fresh);
done:
    ctl_operator_destroy (&row);
    return status;
}

//  operator.update NAME [--signing-key HEX] [--expires D|never]: a signing
//  key for an operator who has none (a replaced one goes through rotate),
//  a new expiry (renewing an expired key too).
static int s_operator_update (ctl_api_t *self, const jad_api_request_t *request,
                              const char *operator_name, json_t **result, char *err, size_t errlen)
{
    const char *name = jad_api_request_arg (request, "name");
    const char *signing_key = jad_api_request_arg (request, "signing-key");
    int64_t now = jad_now_ms ();
    int64_t expires = -1;
    ctl_operator_t *row = NULL;
    int status = s_operator_current (self, name, &row, err, errlen);
    if (status)
        return status;
    status = 2;
    if (!s_signing_key_ok (signing_key, err, errlen) ||
        !s_expires_ok (jad_api_request_arg (request, "expires"), now, &expires, err, errlen))
        goto done;
    if (!signing_key && expires < 0) {
        snprintf (err, errlen, "operator update needs --signing-key HEX or --expires DURATION");
        goto done;
    }
    if (signing_key && row->signing_key) {
        snprintf (err, errlen,
                  "operator '%s' has a signing key: replace keys with jadctl operator rotate %s "
                  "--public-key KEY --signing-key HEX",
                  name, name);
        goto done;
    }
    if (signing_key && !s_keys_free (self, NULL, signing_key, err, errlen))
        goto done;
    status = 1;
    if (ctl_store_begin (self->store) != 0 ||
        (signing_key &&
         ctl_agents_repo_operator_set_signing_key (self->store, name, signing_key) != 0) ||
        (expires >= 0 && ctl_agents_repo_operator_set_expires (self->store, name, expires) != 0) ||
        ctl_store_commit (self->store) != 0) {
        ctl_store_rollback (self->store);
        snprintf (err, errlen, "database error");
        goto done;
    }
    char until[32] = "never";
    if (expires > 0)
        jad_iso_time (expires, until, sizeof until);
    jad_log_info ("api: operator updated name=%s signing_key=%s expires=%s by=%s", name,
                  signing_key ? signing_key : "(same)", expires >= 0 ? until : "(same)",
                  operator_name);
    ctl_operator_t *fresh = NULL;
    if (ctl_agents_repo_operator_by_name (self->store, name, &fresh) == 0)
        *result = s_operator_json (fresh, now);
    ctl_operator_destroy (&fresh);
    status = *result ? 0 : 1;
    if (status)
        snprintf (err, errlen, "database error");
done:
    ctl_operator_destroy (&row);
    return status;
}

//  operator.list [all]: current operators (active and expired), with
//  `all` the retired keys too (removed and rotated).
static int s_operator_list (ctl_api_t *self, const jad_api_request_t *request,
                            const char *operator_name, json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    bool all = jad_api_request_arg (request, "all") != NULL;
    int64_t now = jad_now_ms ();
    zlistx_t *list = ctl_agents_repo_operators (self->store);
    if (!list) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    json_t *operators = json_array ();
    for (ctl_operator_t *row = zlistx_first (list); row; row = zlistx_next (list))
        if (all || !row->retired)
            json_array_append_new (operators, s_operator_json (row, now));
    zlistx_destroy (&list);
    *result = json_pack ("{s:o}", "operators", operators);
    return 0;
}

static int s_audit (ctl_api_t *self, const jad_api_request_t *request, const char *operator_name,
                    json_t **result, char *err, size_t errlen)
{
    (void)operator_name;
    const char *since = jad_api_request_arg (request, "since");
    uint32_t window = 0;
    if (since && jad_duration_parse (since, &window) != 0) {
        snprintf (err, errlen, "--since '%.64s' is not a duration (e.g. 30m, 2h, 7d)", since);
        return 2;
    }
    zlistx_t *list =
        ctl_agents_repo_audit (self->store, since ? jad_now_ms () - (int64_t)window : 0, 1000);
    if (!list) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    json_t *entries = json_array ();
    for (ctl_audit_entry_t *entry = zlistx_first (list); entry; entry = zlistx_next (list))
        json_array_append_new (
            entries, json_pack ("{s:I, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)entry->id,
                                "time", ctl_json_time (entry->time, true), "operator",
                                ctl_json_text (entry->operator_name), "command",
                                ctl_json_text (entry->command), "args", ctl_json_text (entry->args),
                                "outcome", ctl_json_text (entry->outcome)));
    zlistx_destroy (&list);
    *result = json_pack ("{s:o}", "audit", entries);
    return 0;
}

static const s_command_t s_commands[] = {
    {"ping", S_NEED_VIEW, true, s_ping},
    {"status", S_NEED_VIEW, true, s_status},
    {"agents", S_NEED_VIEW, true, s_agents},
    {"controllers", S_NEED_VIEW, true, s_controllers_list},
    {"release.begin", S_NEED_DEPLOY, true, s_release_begin},
    {"release.chunk", S_NEED_DEPLOY, false, s_release_chunk},
    {"release.commit", S_NEED_DEPLOY, true, s_release_commit},
    {"release.list", S_NEED_VIEW, true, s_release_list},
    {"release.floor", S_NEED_DEPLOY, true, s_release_floor},
    {"release.attest", S_NEED_DEPLOY, true, s_release_attest},
    {"release.checks", S_NEED_VIEW, true, s_release_checks},
    {"release.show", S_NEED_VIEW, true, s_release_show},
    //  approvers hold approval roles, which grant view: the check's roles
    //  are checked by ctl_checks_approval_arrival
    {"release.approve", S_NEED_VIEW, true, s_release_approve},
    //  the offline-signed policy agents enforce (jad_policy.h)
    {"policy.push", S_NEED_ADMIN, true, s_policy_push},
    {"deploy", S_NEED_DEPLOY, true, s_deploy},
    {"plans", S_NEED_VIEW, true, s_plans},
    {"plan.show", S_NEED_VIEW, true, s_plan_show},
    {"rollback", S_NEED_DEPLOY, true, s_rollback},
    {"db-rollback", S_NEED_DEPLOY, true, s_db_rollback},
    {"incident.open", S_NEED_DEPLOY, true, s_incident},
    {"incident.note", S_NEED_DEPLOY, true, s_incident},
    {"incident.close", S_NEED_DEPLOY, true, s_incident},
    {"incident.list", S_NEED_VIEW, true, s_incident},
    {"incident.report", S_NEED_VIEW, true, s_incident},
    {"plan.pause", S_NEED_DEPLOY, true, s_plan_control},
    {"plan.resume", S_NEED_DEPLOY, true, s_plan_control},
    {"plan.abort", S_NEED_DEPLOY, true, s_plan_control},
    {"plan.approve", S_NEED_VIEW, true, s_plan_control},
    {"schedule", S_NEED_VIEW, true, s_schedule},
    {"alerts", S_NEED_VIEW, true, s_alerts},
    {"alert.add", S_NEED_DEPLOY, true, s_alert_add},
    {"alert.rm", S_NEED_DEPLOY, true, s_alert_rm},
    {"metrics", S_NEED_VIEW, true, s_metrics},
    {"agents.accept", S_NEED_ADMIN, true, s_agents_accept},
    {"agents.reject", S_NEED_ADMIN, true, s_agents_reject},
    {"agents.remove", S_NEED_ADMIN, true, s_agents_remove},
    {"agents.token.create", S_NEED_ADMIN, true, s_token_create},
    {"agents.token.list", S_NEED_ADMIN, true, s_token_list},
    {"agents.token.revoke", S_NEED_ADMIN, true, s_token_revoke},
    {"operator.add", S_NEED_ADMIN, true, s_operator_add},
    {"operator.remove", S_NEED_ADMIN, true, s_operator_remove},
    {"operator.rotate", S_NEED_ADMIN, true, s_operator_rotate},
    {"operator.update", S_NEED_ADMIN, true, s_operator_update},
    {"operator.list", S_NEED_VIEW, true, s_operator_list},
    {"audit", S_NEED_AUDIT, true, s_audit},
};

//  Write text to stream with control characters and C1 controls as
//  visible escapes (\n, \e, \x07, \u009b: jadctl's own vocabulary, see
//  cli_escape), at most max bytes of text: an audit row stays one line,
//  and nothing in it can clear a terminal or pass for another row.
static void s_audit_escape (FILE *stream, const char *text, size_t max)
{
    const unsigned char *cursor = (const unsigned char *)(text ? text : "");
    //  past max, only the rest of a character begun before it
    for (size_t index = 0; cursor[index] && (index < max || (cursor[index] & 0xC0) == 0x80);
         index++) {
        unsigned char byte = cursor[index];
        if (byte == '\n')
            fputs ("\\n", stream);
        else if (byte == '\r')
            fputs ("\\r", stream);
        else if (byte == '\t')
            fputs ("\\t", stream);
        else if (byte == 0x1B)
            fputs ("\\e", stream);
        else if (byte < 0x20 || byte == 0x7F)
            fprintf (stream, "\\x%02x", byte);
        else if (byte == 0xC2 && cursor[index + 1] >= 0x80 && cursor[index + 1] <= 0x9F)
            fprintf (stream, "\\u%04x", cursor[++index]);
        else
            fputc (byte, stream);
    }
}

//  Escaped copy of text for the audit log (caller frees; NULL if out of
//  memory).
static char *s_audit_text (const char *text, size_t max)
{
    char *copy = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&copy, &size);
    if (!stream)
        return NULL;
    s_audit_escape (stream, text, max);
    fclose (stream);
    return copy;
}

//  "key=value key=value" of a request's arguments for the audit log
//  (values are bounded and escaped; notes are summarised by length).
static char *s_args_summary (const jad_api_request_t *request)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&text, &size);
    if (!stream)
        return NULL;
    for (size_t index = 0; request && index < request->arg_count; index++) {
        const jad_arg_t *arg = &request->args[index];
        fputs (index ? " " : "", stream);
        s_audit_escape (stream, arg->key, 64);
        if (streq (arg->key, "notes"))
            fprintf (stream, "=(%zu bytes)", strlen (arg->value));
        else {
            fputc ('=', stream);
            s_audit_escape (stream, arg->value, 120);
        }
    }
    fclose (stream);
    return text;
}

//  Append an audit row: who asked for command with args, and its outcome
//  (err escaped and bounded).
static void s_audit_write (ctl_api_t *self, const char *who, const char *command, const char *args,
                           int status, const char *err)
{
    char *shown_err = s_audit_text (status && err ? err : "", 120);
    char outcome[200];
    snprintf (outcome, sizeof outcome, "%s%s%s",
              status == 0 ? "ok" : (status == 1 ? "failed" : "refused"), status ? ": " : "",
              shown_err ? shown_err : "");
    ctl_agents_repo_audit_append (self->store, who, command, args, outcome, jad_now_ms ());
    free (shown_err);
}

//  Append an audit row for a request (request NULL: it could not be
//  decoded) by operator_name (NULL: by the key, or "?").
static void s_audit_row (ctl_api_t *self, const char *operator_name, const char *key,
                         const jad_api_request_t *request, int status, const char *err)
{
    char *args = s_args_summary (request);
    char *command = s_audit_text (request ? request->command : "(malformed)", 64);
    s_audit_write (self, operator_name ? operator_name : (key ? key : "?"),
                   command && *command ? command : "(empty)", args, status, err);
    free (command);
    free (args);
}

static void s_reply (ctl_api_t *self, zframe_t *route, uint64_t request_id, int status,
                     const char *error, json_t *result)
{
    char *json = result ? json_dumps (result, JSON_COMPACT | JAD_JSON_REAL) : NULL;
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
    if (zmsg_send (&msg, self->socket) != 0)
        zmsg_destroy (&msg);
}

void ctl_api_checked (ctl_api_t *self)
{
    char *upload = NULL;
    json_t *result = NULL;
    char err[2048] = "";
    int status = ctl_artifacts_checked (self->artifacts, &upload, &result, err, sizeof err);
    s_waiting_t *waiting = upload ? zhashx_lookup (self->waiting, upload) : NULL;
    if (waiting) {
        if (status == 0 && result)
            s_release_added (self, waiting->operator_name, result);
        s_audit_write (self, waiting->operator_name, "release.commit", waiting->args, status, err);
        s_reply (self, waiting->route, waiting->request_id, status, status ? err : NULL, result);
        zhashx_delete (self->waiting, upload);
    }
    json_decref (result);
    free (upload);
}

void ctl_api_handle (ctl_api_t *self)
{
    zmsg_t *msg = zmsg_recv (self->socket);
    if (!msg)
        return;
    self->counters->value[CTL_COUNT_API_REQUESTS]++;
    zframe_t *route = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    jad_api_request_t *request = NULL;
    char *operator_name = NULL;
    char *refused_name = NULL;  //  a retired or expired key's operator
    char *roles = NULL;
    json_t *result = NULL;
    if (!route || !body || zmsg_size (msg) != 0) {
        self->counters->value[CTL_COUNT_API_MALFORMED]++;
        goto done;
    }
    char err[2048] = "";
    //  Who is asking: the CURVE key the ZAP handler authenticated, checked
    //  again now: ZAP is asked once per connection, and a key removed,
    //  replaced or expired since must not be served on it (row 42).
    const char *key = zframe_meta (body, "User-Id");
    char key_refused[512] = "";
    int64_t now = jad_now_ms ();
    ctl_operator_t *asking = NULL;
    int found = key ? ctl_agents_repo_operator_by_key (self->store, key, &asking) : 1;
    if (found == 0 && ctl_zap_key_refused (asking, now, key_refused, sizeof key_refused))
        //  named in the audit row, never authorised
        refused_name = strdup (ctl_operator_shown_name (asking));
    else if (found == 0) {
        operator_name = asking->name;
        roles = asking->roles;
        asking->name = asking->roles = NULL;
    } else
        snprintf (key_refused, sizeof key_refused, "%s",
                  found < 0 ? "database error while looking up your key"
                            : "your key is not a registered operator");
    ctl_operator_destroy (&asking);
    const char *who = operator_name ? operator_name : refused_name;
    request = jad_api_request_decode (zframe_data (body), zframe_size (body), err);
    if (!request) {
        self->counters->value[CTL_COUNT_API_MALFORMED]++;
        char *shown = s_audit_text (err, 200);
        jad_log_warning ("api: malformed request operator=%s reason=\"%s\"", who ? who : "?",
                         shown ? shown : "");
        free (shown);
        //  authenticated all the same: it leaves an audit row
        s_audit_row (self, who, key, NULL, 2, err);
        s_reply (self, route, 0, 2, err, NULL);
        goto done;
    }
    const s_command_t *command = NULL;
    for (size_t index = 0; index < sizeof s_commands / sizeof s_commands[0]; index++)
        if (streq (s_commands[index].name, request->command))
            command = &s_commands[index];
    int status;
    if (!operator_name) {
        //  exit 3, as when the handshake is refused: this key is done
        self->counters->value[CTL_COUNT_API_DENIED]++;
        snprintf (err, sizeof err, "%s", key_refused);
        jad_log_warning ("api: key refused operator=%s key=%s command=%.64s reason=\"%s\"",
                         who ? who : "?", key ? key : "-", request->command, key_refused);
        status = 3;
    } else if (!command) {
        self->counters->value[CTL_COUNT_API_MALFORMED]++;
        char *shown = s_audit_text (request->command, 64);
        snprintf (err, sizeof err, "unknown command '%s'", shown ? shown : "?");
        free (shown);
        status = 2;
    } else if ((s_role_grants (roles) & command->need) != command->need) {
        self->counters->value[CTL_COUNT_API_DENIED]++;
        snprintf (err, sizeof err, "operator '%s' (roles: %s) may not run '%s'", operator_name,
                  roles, request->command);
        status = 2;
    } else
        status = command->handler (self, request, operator_name, &result, err, sizeof err);
    if (status == CTL_ARTIFACTS_CHECKING) {
        //  answered (and audited) when the archive checker is done
        s_waiting_t *waiting = calloc (1, sizeof *waiting);
        const char *upload = jad_api_request_arg (request, "upload");
        if (waiting) {
            waiting->route = zframe_dup (route);
            waiting->request_id = request->request_id;
            waiting->operator_name = strdup (operator_name);
            waiting->args = s_args_summary (request);
        }
        if (waiting && waiting->route && waiting->operator_name && upload) {
            zhashx_update (self->waiting, upload, waiting);
            goto done;
        }
        s_waiting_destroy (&waiting);
        snprintf (err, sizeof err, "out of memory");
        status = 1;
    }
    //  Every request leaves a row but upload chunks and the follow-up
    //  polls of `--wait` (plan.show since an event): their begin, commit
    //  and first poll do.
    const char *since = jad_api_request_arg (request, "since");
    bool polling = command && streq (command->name, "plan.show") && since && atoll (since) > 0;
    if (!command || (command->audit && !polling) || status != 0)
        s_audit_row (self, who, key, request, status, err);
    s_reply (self, route, request->request_id, status, status ? err : NULL, result);

done:
    json_decref (result);
    free (operator_name);
    free (refused_name);
    free (roles);
    jad_api_request_destroy (&request);
    zframe_destroy (&route);
    zframe_destroy (&body);
    zmsg_destroy (&msg);
}
