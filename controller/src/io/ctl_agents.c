//  ctl_agents - agents: enrollment, acceptance, what their Status says
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_agents.h"
#include "ctl_agents_repo.h"
#include "ctl_plans_repo.h"
#include "jad_keys.h"
#include "jad_log.h"
#include "jad_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _ctl_agents_t {
    ctl_store_t *store;  //  borrowed, as what follows
    ctl_settings_t *settings;
    ctl_counters_t *counters;
    ctl_sessions_t *sessions;
    ctl_channel_t *channel;
    uint64_t apps_unlogged;  //  apps refused since the last line saying so
    int64_t apps_logged;     //  mono ms of that line
};

#define S_REFUSAL_LOG_MS 10000  //  one refusal line per this long, at most

ctl_agents_t *ctl_agents_new (ctl_store_t *store, ctl_settings_t *settings,
                              ctl_counters_t *counters, ctl_sessions_t *sessions,
                              ctl_channel_t *channel)
{
    ctl_agents_t *self = (ctl_agents_t *)calloc (1, sizeof (ctl_agents_t));
    if (!self)
        return NULL;
    self->store = store;
    self->settings = settings;
    self->counters = counters;
    self->sessions = sessions;
    self->channel = channel;
    return self;
}

void ctl_agents_destroy (ctl_agents_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

void ctl_agents_token_hash (const char *token, char *out)
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const uint8_t *)token, strlen (token));
    jad_hex (digest, sizeof digest, out);
    sodium_memzero (digest, sizeof digest);
}

//  Does `token` match the controller's enrollment token? Compared as
//  hashes in constant time; a state.db from before hashing keeps the
//  token itself.
static bool s_token_valid (ctl_agents_t *self, const char *token)
{
    if (!token || !*token)
        return false;
    char given[65], *stored = NULL, *plain = NULL;
    ctl_agents_token_hash (token, given);
    bool valid = false;
    if (ctl_agents_repo_token (self->store, &stored, &plain) != 0)
        return false;
    if (stored && strlen (stored) == 64)
        valid = sodium_memcmp (stored, given, 64) == 0;
    else if (plain && *plain) {
        char expected[65];
        ctl_agents_token_hash (plain, expected);
        valid = sodium_memcmp (expected, given, 64) == 0;
    }
    if (plain)
        jad_secret_wipe (plain);
    free (plain);
    free (stored);
    return valid;
}

static jad_ctl_msg_t *s_reply (const char *state, const char *name, const char *detail)
{
    jad_ctl_msg_t *reply = (jad_ctl_msg_t *)calloc (1, sizeof (jad_ctl_msg_t));
    if (!reply)
        return NULL;
    reply->kind = JAD_CTL_MSG_ENROLL_REPLY;
    reply->enroll_reply.state = strdup (state);
    reply->enroll_reply.name = name ? strdup (name) : NULL;
    reply->enroll_reply.detail = detail ? strdup (detail) : NULL;
    if (!reply->enroll_reply.state)
        jad_ctl_msg_destroy (&reply);
    return reply;
}

jad_ctl_msg_t *ctl_agents_enroll (ctl_agents_t *self, const char *key, const jad_enroll_t *enroll,
                                  char **name_p)
{
    *name_p = NULL;
    bool token_valid = s_token_valid (self, enroll->token);
    ctl_agent_t *known = NULL;
    int found = ctl_agents_repo_by_key (self->store, key, &known);
    if (found < 0)
        return NULL;
    if (found == 0) {
        //  A known key: its name and state stand, whatever it claims now.
        const char *state = known->state;
        if (streq (state, "pending") && token_valid &&
            ctl_agents_repo_set_state (self->store, known->name, "accepted") == 0) {
            jad_log_info ("agents: pending agent accepted by token name=%s", known->name);
            state = "accepted";
        }
        jad_ctl_msg_t *reply = s_reply (streq (state, "accepted")  ? "accepted"
                                        : streq (state, "pending") ? "pending"
                                                                   : "refused",
                                        known->name, NULL);
        *name_p = known->name;
        known->name = NULL;
        ctl_agent_destroy (&known);
        return reply;
    }
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    char detail[256] = "";
    ctl_agent_t *holder = NULL;
    int64_t now = jad_now_ms ();
    bool configured = jad_controller_config_env (config, enroll->environment) != NULL;
    int held = configured ? ctl_agents_repo_by_name (self->store, enroll->name, &holder) : 1;
    bool taken = held != 1 && !(held == 0 && streq (holder->state, "removed"));
    ctl_agent_destroy (&holder);
    if (!configured)
        snprintf (detail, sizeof detail, "environment '%s' is not configured on the controller",
                  enroll->environment);
    else if (taken)
        snprintf (detail, sizeof detail, "the name '%s' belongs to another key", enroll->name);
    //  A removed agent's name may be enrolled again with a new key (key
    //  rotation): the removed row is renamed, so that its old key stays
    //  refused.
    else if (ctl_agents_repo_retire_name (self->store, enroll->name, now) != 0)
        snprintf (detail, sizeof detail, "database error");
    if (*detail) {
        self->counters->value[CTL_COUNT_ENROLL_REFUSED]++;
        jad_log_warning ("agents: enrollment refused name=%s key=%s reason=\"%s\"", enroll->name,
                         key, detail);
        return s_reply ("refused", NULL, detail);
    }
    const char *new_state = token_valid ? "accepted" : "pending";
    if (ctl_agents_repo_add (self->store, enroll->name, key, enroll->environment, new_state, now) !=
        0)
        return NULL;
    self->counters->value[token_valid ? CTL_COUNT_ENROLL_ACCEPTED : CTL_COUNT_ENROLL_PENDING]++;
    if (token_valid)
        jad_log_info ("agents: agent enrolled name=%s env=%s key=%s by=token", enroll->name,
                      enroll->environment, key);
    else
        jad_log_info ("agents: agent pending name=%s env=%s key=%s token=%s "
                      "(accept with: jadctl agents accept %s)",
                      enroll->name, enroll->environment, key, enroll->token ? "invalid" : "none",
                      enroll->name);
    *name_p = strdup (enroll->name);
    return s_reply (new_state, enroll->name, NULL);
}

//  The agent's refusal counters as a JSON object text (caller frees).
static char *s_refusals_json (const jad_status_t *status)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&text, &size);
    if (!stream)
        return NULL;
    fprintf (stream, "{");
    for (size_t index = 0; status->refusals && index < status->refusal_count; index++)
        //  names are jad_name_valid: nothing to escape
        fprintf (stream, "%s\"%s\": %llu", index ? ", " : "", status->refusals[index].name,
                 (unsigned long long)status->refusals[index].value);
    fprintf (stream, "}");
    fclose (stream);
    return text;
}

//  Count apps refused over limits.apps-per-agent and log it, naming the
//  agent, at most once per S_REFUSAL_LOG_MS (the line sums what came
//  between).
static void s_apps_refused (ctl_agents_t *self, const char *name, uint64_t refused,
                            uint32_t max_apps)
{
    self->counters->value[CTL_COUNT_AGENT_APPS_REFUSED] += refused;
    self->apps_unlogged += refused;
    int64_t now = jad_mono_ms ();
    if (self->apps_logged && now - self->apps_logged < S_REFUSAL_LOG_MS)
        return;
    jad_log_warning ("server: apps refused agent=%s refused=%llu apps_per_agent=%u (counted since "
                     "the last such line, one line per %d s at most)",
                     name, (unsigned long long)self->apps_unlogged, max_apps,
                     S_REFUSAL_LOG_MS / 1000);
    self->apps_unlogged = 0;
    self->apps_logged = now;
}

char *ctl_agents_status (ctl_agents_t *self, const char *key, const jad_status_t *status,
                         zframe_t *route, int fd)
{
    int64_t now = jad_now_ms ();
    ctl_agent_t *agent = NULL;
    if (ctl_agents_repo_by_key (self->store, key, &agent) != 0) {
        self->counters->value[CTL_COUNT_AGENT_UNKNOWN]++;
        jad_log_debug ("server: status from a key that has not enrolled key=%s", key);
        return NULL;
    }
    if (!streq (agent->state, "accepted")) {
        //  Pending: seen, nothing more (no plans, no app state).
        self->counters->value[CTL_COUNT_AGENT_NOT_ACCEPTED]++;
        ctl_agents_repo_touch (self->store, agent->name, now);
        ctl_agent_destroy (&agent);
        return NULL;
    }
    char *name = agent->name;
    agent->name = NULL;
    ctl_agent_destroy (&agent);
    if (!streq (name, status->name)) {
        self->counters->value[CTL_COUNT_AGENT_NAME_MISMATCH]++;
        jad_log_warning ("server: agent claims another name key=%s name=%s claimed=%s", key, name,
                         status->name);
    }
    if (ctl_store_begin (self->store) == 0) {
        char *refusals = s_refusals_json (status);
        ctl_agent_seen_t seen = {.last_seen = now,
                                 .incarnation = status->incarnation,
                                 .last_sequence = (int64_t)status->last_sequence,
                                 .refusals = refusals,
                                 .stale = status->stale,
                                 .stale_alarms = (int64_t)(status->stale_alarms & INT64_MAX)};
        int rc = ctl_agents_repo_seen (self->store, name, &seen);
        free (refusals);
        uint32_t max_apps = ctl_settings_config (self->settings)->apps_per_agent;
        uint64_t refused = 0;
        for (size_t index = 0; rc >= 0 && index < status->app_count; index++) {
            const jad_app_state_t *app = &status->apps[index];
            rc = ctl_agents_repo_app_set (self->store, name, app->app, app->version, app->health,
                                          app->plan_id, now, max_apps);
            refused += rc == 1;
        }
        if (rc > 0)
            rc = 0;
        if (refused)
            s_apps_refused (self, name, refused, max_apps);
        if (rc == 0)
            rc = ctl_store_commit (self->store);
        if (rc != 0)
            ctl_store_rollback (self->store);
    }
    ctl_sessions_note (self->sessions, name, fd);
    ctl_channel_route (self->channel, name, route);
    return name;
}

char *ctl_agents_accepted (ctl_agents_t *self, const char *key, zframe_t *route, int fd)
{
    ctl_agent_t *agent = NULL;
    char *name = NULL;
    if (ctl_agents_repo_by_key (self->store, key, &agent) == 0 &&
        streq (agent->state, "accepted")) {
        name = agent->name;
        agent->name = NULL;
    }
    ctl_agent_destroy (&agent);
    if (!name) {
        self->counters->value[CTL_COUNT_AGENT_NOT_ACCEPTED]++;
        jad_log_debug ("server: message from a key that is not accepted key=%s", key);
        return NULL;
    }
    ctl_sessions_note (self->sessions, name, fd);
    ctl_channel_route (self->channel, name, route);
    return name;
}

char *ctl_agents_name (ctl_agents_t *self, const char *key)
{
    ctl_agent_t *agent = NULL;
    char *name = NULL;
    if (ctl_agents_repo_by_key (self->store, key, &agent) == 0) {
        name = agent->name;
        agent->name = NULL;
    }
    ctl_agent_destroy (&agent);
    return name;
}

int ctl_agents_decide (ctl_agents_t *self, const char *name, const char *action,
                       const char **state_p, char *err, size_t errlen)
{
    ctl_agent_t *agent = NULL;
    if (!jad_name_valid (name) || ctl_agents_repo_by_name (self->store, name, &agent) != 0) {
        snprintf (err, errlen, "no agent '%s' (see: jadctl agents)", name ? name : "");
        return 2;
    }
    const char *current = agent->state;
    const char *state = streq (action, "accept")   ? "accepted"
                        : streq (action, "reject") ? "rejected"
                        : streq (action, "remove") ? "removed"
                                                   : NULL;
    int status = 0;
    if (!state) {
        snprintf (err, errlen, "unknown action '%s' (accept, reject, remove)", action);
        status = 2;
    } else if (streq (state, "rejected") && !streq (current, "pending")) {
        snprintf (err, errlen, "agent '%s' is %s, not pending: use 'agents remove %s'", name,
                  current, name);
        status = 2;
    } else if (ctl_agents_repo_set_state (self->store, name, state) != 0) {
        snprintf (err, errlen, "database error");
        status = 1;
    }
    if (status) {
        ctl_agent_destroy (&agent);
        return status;
    }
    jad_log_info ("agents: agent %s name=%s was=%s", state, name, current);
    ctl_agent_destroy (&agent);
    *state_p = state;
    if (streq (state, "accepted")) {
        //  Tell a connected agent at once; it says hello and catches up.
        jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_ENROLL_REPLY};
        reply.enroll_reply.state = "accepted";
        reply.enroll_reply.name = (char *)name;
        ctl_channel_send_agent (self->channel, name, &reply);
    } else {
        //  Its unfinished plan hosts will never finish: fail them now.
        ctl_plans_repo_fail_agent (self->store, name, "agent removed", jad_now_ms ());
        ctl_sessions_cut (self->sessions, name);
        ctl_channel_forget (self->channel, name);
    }
    return 0;
}
