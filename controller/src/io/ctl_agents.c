//  ctl_agents - agents: enrollment, acceptance, what their Status says
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_agents.h"
#include "ctl_agents_repo.h"
#include "ctl_plans_repo.h"
#include "jad_keys.h"
#include "jad_log.h"
#include "jad_util.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  What one source (a key, or an address) did lately: wrong tokens and
//  new pending enrollments in the current window, and when it was last
//  logged (refusals are logged at most once per S_LOG_EVERY_MS each).
typedef struct {
    int64_t window_start;  //  monotonic ms
    uint32_t wrong_tokens;
    uint32_t pending_new;
    int64_t logged;     //  monotonic ms, 0 never
    uint64_t unlogged;  //  refusals since the last line
} s_source_t;

#define S_LOG_EVERY_MS 10000

struct _ctl_agents_t {
    ctl_store_t *store;  //  borrowed, as what follows
    ctl_settings_t *settings;
    ctl_counters_t *counters;
    ctl_sessions_t *sessions;
    ctl_channel_t *channel;
    uint64_t apps_unlogged;  //  apps refused since the last line saying so
    int64_t apps_logged;     //  mono ms of that line
    ctl_agents_limits_t limits;
    zhashx_t *sources;   //  "key:KEY" or "address:IP" -> s_source_t
    int64_t swept;       //  mono ms the full table of sources was last swept
    zhashx_t *accepted;  //  CURVE key -> name of an accepted agent (char *)
};

#define S_REFUSAL_LOG_MS 10000  //  one refusal line per this long, at most

static void s_source_free (void **item)
{
    free (*item);
    *item = NULL;
}

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
    self->limits =
        (ctl_agents_limits_t){.pending_max = CTL_AGENTS_PENDING_MAX,
                              .pending_per_address = CTL_AGENTS_PENDING_PER_ADDRESS,
                              .pending_per_minute = CTL_AGENTS_PENDING_PER_MINUTE,
                              .wrong_tokens_per_minute = CTL_AGENTS_WRONG_TOKENS_PER_MINUTE,
                              .window_ms = 60000};
    self->sources = zhashx_new ();
    self->accepted = zhashx_new ();
    if (!self->sources || !self->accepted) {
        ctl_agents_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->sources, s_source_free);
    zhashx_set_destructor (self->accepted, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator (self->accepted, (zhashx_duplicator_fn *)strdup);
    return self;
}

void ctl_agents_destroy (ctl_agents_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy (&(*self_p)->sources);
    zhashx_destroy (&(*self_p)->accepted);
    free (*self_p);
    *self_p = NULL;
}

void ctl_agents_set_limits (ctl_agents_t *self, const ctl_agents_limits_t *limits)
{
    self->limits = *limits;
}

void ctl_agents_token_hash (const char *token, char *out)
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const uint8_t *)token, strlen (token));
    jad_hex (digest, sizeof digest, out);
    sodium_memzero (digest, sizeof digest);
}

const char *ctl_agents_fingerprint (const char *key, char *out)
{
    uint8_t raw[32], id[8];
    if (!key || jad_key_from_z85 (key, raw) != 0)
        snprintf (out, CTL_FINGERPRINT_LEN + 1, "?");
    else {
        jad_key_id (raw, id);
        jad_hex (id, sizeof id, out);
    }
    return out;
}

bool ctl_agents_token_envs_valid (const char *envs)
{
    if (!envs || !*envs || strlen (envs) > 512)
        return false;
    if (streq (envs, "*"))
        return true;
    char copy[513];
    snprintf (copy, sizeof copy, "%s", envs);
    char *save = NULL;
    int count = 0;
    for (char *env = strtok_r (copy, ",", &save); env; env = strtok_r (NULL, ",", &save), count++)
        if (!jad_name_valid (env))
            return false;
    //  no empty members ("a,,b", ",a", "a,")
    return count > 0 && envs[0] != ',' && envs[strlen (envs) - 1] != ',' && !strstr (envs, ",,");
}

//  Does a token's scope ("*" or "a,b") include env?
static bool s_scope_has (const char *envs, const char *env)
{
    if (streq (envs, "*"))
        return true;
    size_t length = strlen (env);
    for (const char *cursor = envs; cursor && *cursor;) {
        const char *comma = strchr (cursor, ',');
        size_t span = comma ? (size_t)(comma - cursor) : strlen (cursor);
        if (span == length && strncmp (cursor, env, length) == 0)
            return true;
        cursor = comma ? comma + 1 : NULL;
    }
    return false;
}

//  The table's key of `kind:name` into id (128 bytes).
static void s_source_id (char *id, const char *kind, const char *name)
{
    snprintf (id, 128, "%s:%.100s", kind, name && *name ? name : "-");
}

//  The record of `kind:name` if it has one (its window restarted when
//  over), else NULL. Only sources that did something limited have one.
static s_source_t *s_source_find (ctl_agents_t *self, const char *kind, const char *name,
                                  int64_t now)
{
    char id[128];
    s_source_id (id, kind, name);
    s_source_t *source = (s_source_t *)zhashx_lookup (self->sources, id);
    if (source && now - source->window_start >= self->limits.window_ms) {
        source->window_start = now;
        source->wrong_tokens = 0;
        source->pending_new = 0;
    }
    return source;
}

//  The record of `kind:name`, made if it has none; NULL if out of memory
//  or the table is full of sources still in their window. A full table is
//  swept of sources whose window is over at most once a second: the sweep
//  reads every record.
static s_source_t *s_source (ctl_agents_t *self, const char *kind, const char *name, int64_t now)
{
    s_source_t *source = s_source_find (self, kind, name, now);
    if (source)
        return source;
    if (zhashx_size (self->sources) >= CTL_AGENTS_SOURCES_MAX) {
        if (now - self->swept < 1000)
            return NULL;
        self->swept = now;
        zlistx_t *keys = zhashx_keys (self->sources);
        for (const char *old = keys ? (const char *)zlistx_first (keys) : NULL; old;
             old = (const char *)zlistx_next (keys)) {
            s_source_t *entry = (s_source_t *)zhashx_lookup (self->sources, old);
            if (now - entry->window_start >= self->limits.window_ms)
                zhashx_delete (self->sources, old);
        }
        zlistx_destroy (&keys);
        if (zhashx_size (self->sources) >= CTL_AGENTS_SOURCES_MAX)
            return NULL;
    }
    char id[128];
    s_source_id (id, kind, name);
    source = (s_source_t *)calloc (1, sizeof (s_source_t));
    if (!source || zhashx_insert (self->sources, id, source) != 0) {
        free (source);
        return NULL;
    }
    source->window_start = now;
    return source;
}

//  Log a refusal of this source at most once per S_LOG_EVERY_MS, with the
//  number of refusals not logged since.
static void s_log_limited (s_source_t *source, int64_t now, const char *what, const char *name,
                           const char *key, const char *address, const char *reason)
{
    if (source && source->logged && now - source->logged < S_LOG_EVERY_MS) {
        source->unlogged++;
        return;
    }
    jad_log_warning ("agents: %s name=%s key=%s address=%s reason=\"%s\" unlogged=%llu", what, name,
                     key, address && *address ? address : "-", reason,
                     (unsigned long long)(source ? source->unlogged : 0));
    if (source) {
        source->logged = now;
        source->unlogged = 0;
    }
}

//  The result of checking a presented token.
typedef enum { S_TOKEN_NONE, S_TOKEN_VALID, S_TOKEN_WRONG, S_TOKEN_THROTTLED } s_token_t;

//  Check the token an enrollment presents for env. S_TOKEN_VALID sets
//  *id_p (caller frees). Wrong and throttled tokens are counted, logged
//  (rate-limited, never the token) and explained in why.
static s_token_t s_token_check (ctl_agents_t *self, const char *key, const char *address,
                                const char *name, const char *token, const char *env, char **id_p,
                                char *why, size_t whylen)
{
    *id_p = NULL;
    if (!token || !*token)
        return S_TOKEN_NONE;
    //  Only a source that presented wrong tokens has a record: a fleet
    //  enrolling with its token never fills the table.
    int64_t mono = jad_mono_ms ();
    s_source_t *by_key = s_source_find (self, "key", key, mono);
    s_source_t *by_address = s_source_find (self, "address", address, mono);
    uint32_t limit = self->limits.wrong_tokens_per_minute;
    if ((by_key && by_key->wrong_tokens >= limit) ||
        (by_address && by_address->wrong_tokens >= limit)) {
        self->counters->value[CTL_COUNT_ENROLL_THROTTLED]++;
        snprintf (why, whylen,
                  "too many wrong enrollment tokens from this key or address; try again later");
        s_log_limited (by_key && by_key->wrong_tokens >= limit ? by_key : by_address, mono,
                       "enrollment throttled", name, key, address, why);
        return S_TOKEN_THROTTLED;
    }
    char given[65];
    ctl_agents_token_hash (token, given);
    ctl_enroll_token_t *row = NULL;
    int found = ctl_agents_repo_token_by_hash (self->store, given, &row);
    int64_t now = jad_now_ms ();
    if (found < 0)
        snprintf (why, whylen, "database error");
    else if (found == 1)
        snprintf (why, whylen, "unknown enrollment token");
    else if (row->revoked)
        snprintf (why, whylen, "enrollment token %s was revoked", row->id);
    else if (row->expires <= now)
        snprintf (why, whylen, "enrollment token %s has expired", row->id);
    else if (row->uses_left == 0)
        snprintf (why, whylen, "enrollment token %s has no use left", row->id);
    else if (!s_scope_has (row->envs, env))
        snprintf (why, whylen, "enrollment token %s is not for environment '%s' (it is for %s)",
                  row->id, env, row->envs);
    else {
        *id_p = row->id;
        row->id = NULL;
    }
    ctl_enroll_token_destroy (&row);
    if (*id_p)
        return S_TOKEN_VALID;
    //  Recorded when there is room: a table full of sources still in
    //  their window (thousands of addresses guessing) leaves a new one
    //  unrecorded; its token was checked and refused all the same.
    by_key = s_source (self, "key", key, mono);
    by_address = s_source (self, "address", address, mono);
    if (by_key)
        by_key->wrong_tokens++;
    if (by_address)
        by_address->wrong_tokens++;
    self->counters->value[CTL_COUNT_ENROLL_TOKEN_WRONG]++;
    s_log_limited (by_key, mono, "enrollment token refused", name, key, address, why);
    return S_TOKEN_WRONG;
}

//  May one more key from address wait in the pending table? 0, or -1
//  with the reason in why (counted, logged rate-limited).
static int s_pending_room (ctl_agents_t *self, const char *key, const char *address,
                           const char *name, char *why, size_t whylen)
{
    int64_t mono = jad_mono_ms ();
    s_source_t *source = s_source (self, "address", address, mono);
    int64_t total = ctl_agents_repo_pending_count (self->store, NULL);
    int64_t here = address && *address ? ctl_agents_repo_pending_count (self->store, address) : 0;
    if (total < 0 || here < 0)
        snprintf (why, whylen, "database error");
    else if (total >= self->limits.pending_max)
        snprintf (why, whylen,
                  "the pending table is full (%lld agents wait for 'jadctl agents accept'); "
                  "enroll with a token",
                  (long long)total);
    else if (here >= self->limits.pending_per_address)
        snprintf (why, whylen, "too many pending agents from this address (%lld)", (long long)here);
    else if (!source || source->pending_new >= self->limits.pending_per_minute)
        snprintf (why, whylen, "too many new pending agents from this address; try again later");
    else {
        source->pending_new++;
        return 0;
    }
    self->counters->value[CTL_COUNT_ENROLL_PENDING_LIMITED]++;
    s_log_limited (source, mono, "pending enrollment refused", name, key, address, why);
    return -1;
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

//  A known key enrolls again: its name and state stand, whatever it
//  claims now; a pending one with a valid token for its environment is
//  accepted.
static jad_ctl_msg_t *s_enroll_known (ctl_agents_t *self, ctl_agent_t *known, const char *key,
                                      const char *address, const jad_enroll_t *enroll,
                                      char **name_p)
{
    const char *state = known->state;
    char why[256] = "";
    if (streq (state, "pending") && enroll->token) {
        char *token_id = NULL;
        if (s_token_check (self, key, address, known->name, enroll->token, known->env, &token_id,
                           why, sizeof why) == S_TOKEN_VALID &&
            ctl_agents_repo_token_spend (self->store, token_id) == 0 &&
            ctl_agents_repo_set_state (self->store, known->name, "accepted") == 0) {
            jad_log_info ("agents: pending agent accepted by token name=%s token=%s", known->name,
                          token_id);
            state = "accepted";
            *why = 0;
        }
        free (token_id);
    }
    jad_ctl_msg_t *reply = s_reply (streq (state, "accepted")  ? "accepted"
                                    : streq (state, "pending") ? "pending"
                                                               : "refused",
                                    known->name, *why ? why : NULL);
    *name_p = known->name;
    known->name = NULL;
    return reply;
}

jad_ctl_msg_t *ctl_agents_enroll (ctl_agents_t *self, const char *key, const char *address,
                                  const jad_enroll_t *enroll, char **name_p)
{
    *name_p = NULL;
    char detail[256] = "";
    char fingerprint[CTL_FINGERPRINT_LEN + 1];
    ctl_agents_fingerprint (key, fingerprint);
    //  An operator's key is no agent's: one key, one kind of identity.
    ctl_operator_t *operator_row = NULL;
    int operator_found = ctl_agents_repo_operator_by_key (self->store, key, &operator_row);
    ctl_operator_destroy (&operator_row);
    if (operator_found < 0)
        return NULL;
    if (operator_found == 0) {
        self->counters->value[CTL_COUNT_ENROLL_REFUSED]++;
        snprintf (detail, sizeof detail, "this key is an operator's: it cannot enroll as an agent");
        jad_log_warning ("agents: enrollment refused name=%s key=%s address=%s reason=\"%s\"",
                         enroll->name, key, address && *address ? address : "-", detail);
        return s_reply ("refused", NULL, detail);
    }
    ctl_agent_t *known = NULL;
    int found = ctl_agents_repo_by_key (self->store, key, &known);
    if (found < 0)
        return NULL;
    if (found == 0) {
        jad_ctl_msg_t *reply = s_enroll_known (self, known, key, address, enroll, name_p);
        ctl_agent_destroy (&known);
        return reply;
    }
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    int64_t now = jad_now_ms ();
    char *token_id = NULL;
    s_token_t token = S_TOKEN_NONE;
    ctl_agent_t *holder = NULL;
    bool configured = jad_controller_config_env (config, enroll->environment) != NULL;
    if (!configured)
        snprintf (detail, sizeof detail, "environment '%s' is not configured on the controller",
                  enroll->environment);
    else
        token = s_token_check (self, key, address, enroll->name, enroll->token, enroll->environment,
                               &token_id, detail, sizeof detail);
    int held = *detail ? 1 : ctl_agents_repo_by_name (self->store, enroll->name, &holder);
    if (*detail)
        ;  //  refused above; a wrong token is already counted and logged
    else if (held < 0)
        snprintf (detail, sizeof detail, "database error");
    else if (held == 0 && streq (holder->state, "pending") && token == S_TOKEN_VALID) {
        //  A stranger squatting the name never blocks the token holder.
        if (ctl_agents_repo_drop_pending (self->store, enroll->name) != 0)
            snprintf (detail, sizeof detail, "database error");
        else {
            self->counters->value[CTL_COUNT_ENROLL_SQUATTERS_DROPPED]++;
            jad_log_warning ("agents: pending agent dropped for a token holder name=%s "
                             "dropped_key=%s dropped_address=%s key=%s",
                             enroll->name, holder->public_key,
                             holder->address ? holder->address : "-", key);
            if (self->sessions)
                ctl_sessions_cut (self->sessions, enroll->name);
            if (self->channel)
                ctl_channel_forget (self->channel, enroll->name);
        }
    } else if (held == 0 && !streq (holder->state, "removed"))
        snprintf (detail, sizeof detail, "the name '%s' belongs to another key", enroll->name);
    //  A removed agent's name may be enrolled again with a new key (key
    //  rotation): the removed row is renamed, so that its old key stays
    //  refused.
    else if (ctl_agents_repo_retire_name (self->store, enroll->name, now) != 0)
        snprintf (detail, sizeof detail, "database error");
    ctl_agent_destroy (&holder);
    if (!*detail && token != S_TOKEN_VALID &&
        s_pending_room (self, key, address, enroll->name, detail, sizeof detail) != 0)
        token = S_TOKEN_THROTTLED;  //  logged and counted there
    if (!*detail && token == S_TOKEN_VALID) {
        int spent = ctl_agents_repo_token_spend (self->store, token_id);
        if (spent != 0)
            snprintf (detail, sizeof detail,
                      spent < 0 ? "database error" : "enrollment token has no use left");
    }
    if (*detail) {
        self->counters->value[CTL_COUNT_ENROLL_REFUSED]++;
        if (token != S_TOKEN_WRONG && token != S_TOKEN_THROTTLED)
            jad_log_warning ("agents: enrollment refused name=%s key=%s address=%s "
                             "reason=\"%s\"",
                             enroll->name, key, address && *address ? address : "-", detail);
        free (token_id);
        return s_reply ("refused", NULL, detail);
    }
    const char *new_state = token == S_TOKEN_VALID ? "accepted" : "pending";
    if (ctl_agents_repo_add (self->store, enroll->name, key, enroll->environment, new_state, now) !=
            0 ||
        (address && *address && ctl_agents_repo_set_address (self->store, enroll->name, address))) {
        free (token_id);
        return NULL;
    }
    self->counters
        ->value[token == S_TOKEN_VALID ? CTL_COUNT_ENROLL_ACCEPTED : CTL_COUNT_ENROLL_PENDING]++;
    if (token == S_TOKEN_VALID)
        jad_log_info ("agents: agent enrolled name=%s env=%s key=%s fingerprint=%s by=token "
                      "token=%s",
                      enroll->name, enroll->environment, key, fingerprint, token_id);
    else
        jad_log_info ("agents: agent pending name=%s env=%s key=%s fingerprint=%s address=%s "
                      "(compare with 'jadugar-agent fingerprint' on the host, then: jadctl "
                      "agents accept %s)",
                      enroll->name, enroll->environment, key, fingerprint,
                      address && *address ? address : "-", enroll->name);
    free (token_id);
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

//  Count what the agent refused since its last Status (its counters only
//  grow: a smaller one, from a reinstalled agent, counts from zero): the
//  security refusals rules can alert on (ctl_security).
static void s_refusals_count (ctl_agents_t *self, const char *before, const jad_status_t *status)
{
    static const struct {
        const char *reason;
        ctl_counter_t counter;
    } counted[] = {{"bad_signature", CTL_COUNT_AGENT_BAD_SIGNATURE},
                   {"unknown_key", CTL_COUNT_AGENT_UNKNOWN_KEY},
                   {"stale_epoch", CTL_COUNT_AGENT_STALE_EPOCH}};
    json_t *old = before ? json_loads (before, 0, NULL) : NULL;
    for (size_t index = 0; status->refusals && index < status->refusal_count; index++)
        for (size_t which = 0; which < sizeof counted / sizeof *counted; which++) {
            if (!streq (status->refusals[index].name, counted[which].reason))
                continue;
            json_int_t was = json_integer_value (json_object_get (old, counted[which].reason));
            uint64_t now = status->refusals[index].value;
            uint64_t since = was >= 0 && now >= (uint64_t)was ? now - (uint64_t)was : now;
            self->counters->value[counted[which].counter] += since;
        }
    json_decref (old);
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
    s_refusals_count (self, agent->refusals, status);
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
    const char *known = (const char *)zhashx_lookup (self->accepted, key);
    char *name = known ? strdup (known) : NULL;
    if (!known) {
        ctl_agent_t *agent = NULL;
        if (ctl_agents_repo_by_key (self->store, key, &agent) == 0 &&
            streq (agent->state, "accepted")) {
            name = agent->name;
            agent->name = NULL;
            zhashx_update (self->accepted, key, name);
        }
        ctl_agent_destroy (&agent);
    }
    if (!name) {
        self->counters->value[CTL_COUNT_AGENT_NOT_ACCEPTED]++;
        jad_log_debug ("server: message from a key that is not accepted key=%s", key);
        return NULL;
    }
    if (self->sessions)
        ctl_sessions_note (self->sessions, name, fd);
    if (self->channel)
        ctl_channel_route (self->channel, name, route);
    return name;
}

void ctl_agents_forget_accepted (ctl_agents_t *self)
{
    zhashx_purge (self->accepted);
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
    //  whatever happens next, no key is taken as accepted from memory
    ctl_agents_forget_accepted (self);
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
        if (self->channel)
            ctl_channel_send_agent (self->channel, name, &reply);
    } else {
        //  Its unfinished plan hosts will never finish: fail them now.
        ctl_plans_repo_fail_agent (self->store, name, "agent removed", jad_now_ms ());
        if (self->sessions)
            ctl_sessions_cut (self->sessions, name);
        if (self->channel)
            ctl_channel_forget (self->channel, name);
    }
    return 0;
}
