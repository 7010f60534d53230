//  agt_intake - plan intake: verify, admit, persist (protocol.md order)
//  SPDX-License-Identifier: MPL-2.0

#include "agt_intake.h"
#include "jad_db.h"
#include "jad_envelope.h"
#include "jad_log.h"
#include "jad_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX     24     //  distinct reasons we count
#define LOG_WINDOW     10000  //  rate limit window, ms
#define LOG_PER_WINDOW 5

typedef struct {
    char name[40];  //  refused_<reason> key, e.g. "replay"
    uint64_t count;
    bool dirty;            //  not yet in meta
    int64_t window_start;  //  log rate limit
    int logged;
    uint64_t suppressed;
} s_reason_t;

struct _agt_intake_t {
    agt_store_t *store;       //  borrowed
    uint8_t signing_key[32];  //  pinned controller key
    char *env;
    char *name;
    s_reason_t reasons[REASON_MAX];
    size_t reason_count;
    int64_t last_heartbeat;  //  issued_at of the last accepted heartbeat (wall ms)
    int64_t last_signed;     //  mono ms of the last accepted plan or heartbeat
};

static void s_load_counters (agt_intake_t *self);

agt_intake_t *agt_intake_new (agt_store_t *store, const uint8_t *signing_key, const char *env,
                              const char *name)
{
    assert (store);
    agt_intake_t *self = (agt_intake_t *)calloc (1, sizeof (agt_intake_t));
    if (!self)
        return NULL;
    self->store = store;
    memcpy (self->signing_key, signing_key, 32);
    self->env = strdup (env);
    self->name = strdup (name);
    self->last_signed = jad_mono_ms ();  //  the stale window starts with us
    if (!self->env || !self->name)
        agt_intake_destroy (&self);
    else
        s_load_counters (self);
    return self;
}

void agt_intake_destroy (agt_intake_t **self_p)
{
    if (self_p && *self_p) {
        agt_intake_t *self = *self_p;
        free (self->env);
        free (self->name);
        free (self);
        *self_p = NULL;
    }
}

//  Reason names as counter keys: lower case, [a-z0-9_].
static void s_reason_key (const char *reason, char *out, size_t len)
{
    size_t index = 0;
    for (; reason[index] && index + 1 < len; index++) {
        char c = (char)tolower ((unsigned char)reason[index]);
        out[index] = isalnum ((unsigned char)c) ? c : '_';
    }
    out[index] = 0;
}

static s_reason_t *s_reason (agt_intake_t *self, const char *reason)
{
    char key[40];
    s_reason_key (reason, key, sizeof key);
    for (size_t index = 0; index < self->reason_count; index++)
        if (streq (self->reasons[index].name, key))
            return &self->reasons[index];
    if (self->reason_count == REASON_MAX)
        return NULL;
    s_reason_t *entry = &self->reasons[self->reason_count++];
    snprintf (entry->name, sizeof entry->name, "%s", key);
    return entry;
}

//  Counters of earlier runs, from meta refused_<reason>.
static void s_load_counters (agt_intake_t *self)
{
    sqlite3_stmt *stmt =
        jad_db_prepare (agt_store_db (self->store), "SELECT substr (key, 9), value FROM meta"
                                                    " WHERE key LIKE 'refused\\_%' ESCAPE '\\'");
    if (!stmt)
        return;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text (stmt, 0);
        const char *value = (const char *)sqlite3_column_text (stmt, 1);
        s_reason_t *entry = name && *name ? s_reason (self, name) : NULL;
        if (entry && value)
            entry->count = strtoull (value, NULL, 10);
    }
    sqlite3_finalize (stmt);
}

//  Count and log (rate limited) one refusal of a `what` ("plan",
//  "heartbeat") for `reason`. Plans for other hosts are normal on an
//  environment's shared broadcast (every batch of a rollout reaches every
//  host): counted, logged at debug level only; every other refusal is a
//  warning.
static void s_refuse_what (agt_intake_t *self, const char *what, const char *reason,
                           const char *plan_id, const char *why)
{
    s_reason_t *entry = s_reason (self, reason);
    if (!entry)
        return;
    entry->count++;
    entry->dirty = true;
    bool normal = streq (entry->name, jad_admit_name (JAD_ADMIT_NOT_TARGET));
    int64_t now = jad_mono_ms ();
    if (now - entry->window_start >= LOG_WINDOW) {
        if (entry->suppressed && normal)
            jad_log_debug ("agent: %s refusals not logged reason=%s count=%llu", what, entry->name,
                           (unsigned long long)entry->suppressed);
        else if (entry->suppressed)
            jad_log_warning ("agent: %s refusals not logged reason=%s count=%llu", what,
                             entry->name, (unsigned long long)entry->suppressed);
        entry->window_start = now;
        entry->logged = 0;
        entry->suppressed = 0;
    }
    if (entry->logged < LOG_PER_WINDOW) {
        entry->logged++;
        if (normal)
            jad_log_debug ("agent: %s refused reason=%s plan=%s detail=\"%s\"", what, entry->name,
                           plan_id ? plan_id : "-", why);
        else
            jad_log_warning ("agent: %s refused reason=%s plan=%s detail=\"%s\"", what, entry->name,
                             plan_id ? plan_id : "-", why);
    } else
        entry->suppressed++;
}

static void s_refuse (agt_intake_t *self, const char *reason, const char *plan_id, const char *why)
{
    s_refuse_what (self, "plan", reason, plan_id, why);
}

void agt_intake_refuse (agt_intake_t *self, const char *reason, const char *plan_id,
                        const char *why)
{
    assert (self);
    s_refuse (self, reason, plan_id, why);
}

agt_intake_result_t agt_intake_plan (agt_intake_t *self, const uint8_t *data, size_t size,
                                     int64_t now_ms, jad_plan_t **plan_p, zlist_t *superseded)
{
    assert (self);
    assert (plan_p);
    *plan_p = NULL;
    char err[JAD_ERR_LEN] = "";
    if (size > JAD_MAX_PLAN_BYTES) {
        s_refuse (self, jad_verify_name (JAD_VERIFY_TOO_LARGE), NULL, "envelope too large");
        return AGT_INTAKE_REFUSED;
    }
    jad_verify_t verified = JAD_VERIFY_MALFORMED;
    jad_plan_t *plan = jad_envelope_open_plan (data, size, self->signing_key, &verified, err);
    if (!plan) {
        if (verified == JAD_VERIFY_OK)
            verified = JAD_VERIFY_BAD_PAYLOAD;
        s_refuse (self, jad_verify_name (verified), NULL, err);
        return AGT_INTAKE_REFUSED;
    }
    //  a deposed controller's plan (DESIGN §9, SECURITY-TESTS row 41)
    uint64_t epoch = agt_store_epoch (self->store);
    if (plan->epoch < epoch) {
        snprintf (err, sizeof err, "plan %s: epoch %llu is below %llu, the highest seen",
                  plan->plan_id, (unsigned long long)plan->epoch, (unsigned long long)epoch);
        s_refuse (self, "stale_epoch", plan->plan_id, err);
        jad_plan_destroy (&plan);
        return AGT_INTAKE_REFUSED;
    }
    uint64_t last = agt_store_last_sequence (self->store);
    jad_admit_t admitted =
        jad_plan_admit (plan, self->env, self->name, last, now_ms, AGT_SKEW_MS, err);
    if (admitted != JAD_ADMIT_OK) {
        s_refuse (self, jad_admit_name (admitted), plan->plan_id, err);
        jad_plan_destroy (&plan);
        return AGT_INTAKE_REFUSED;
    }
    //  Software rollback: never below the highest floor seen for the app,
    //  nor below the floor this plan itself carries
    uint64_t floor = agt_store_floor (self->store, plan->app);
    if (plan->min_release_counter > floor)
        floor = plan->min_release_counter;
    if (plan->release_counter < floor) {
        snprintf (err, sizeof err,
                  "plan %s: release %s of %s has counter %llu, below the security floor %llu",
                  plan->plan_id, plan->version, plan->app,
                  (unsigned long long)plan->release_counter, (unsigned long long)floor);
        s_refuse (self, "below_floor", plan->plan_id, err);
        jad_plan_destroy (&plan);
        return AGT_INTAKE_REFUSED;
    }
    bool is_new = false;
    if (agt_store_accept_plan (self->store, plan, data, size, &is_new, superseded)) {
        s_refuse (self, "store_failed", plan->plan_id, "cannot store the plan");
        jad_plan_destroy (&plan);
        return AGT_INTAKE_REFUSED;
    }
    self->last_signed = jad_mono_ms ();
    *plan_p = plan;
    return is_new ? AGT_INTAKE_NEW : AGT_INTAKE_KNOWN;
}

int agt_intake_heartbeat (agt_intake_t *self, const uint8_t *data, size_t size, int64_t now_ms)
{
    assert (self);
    char err[JAD_ERR_LEN] = "";
    char reason[48];
    jad_verify_t verified = JAD_VERIFY_MALFORMED;
    jad_heartbeat_t *heartbeat =
        jad_envelope_open_heartbeat (data, size, self->signing_key, &verified, err);
    if (!heartbeat) {
        if (verified == JAD_VERIFY_OK)
            verified = JAD_VERIFY_BAD_PAYLOAD;
        snprintf (reason, sizeof reason, "heartbeat_%s", jad_verify_name (verified));
        s_refuse_what (self, "heartbeat", reason, NULL, err);
        return -1;
    }
    //  a deposed controller's heartbeat; a new leader's restarts the order
    //  of issued_at (its clock is another host's)
    uint64_t epoch = agt_store_epoch (self->store);
    if (heartbeat->epoch < epoch) {
        snprintf (err, sizeof err, "heartbeat: epoch %llu is below %llu, the highest seen",
                  (unsigned long long)heartbeat->epoch, (unsigned long long)epoch);
        s_refuse_what (self, "heartbeat", "stale_epoch", NULL, err);
        jad_heartbeat_destroy (&heartbeat);
        return -1;
    }
    int64_t last = heartbeat->epoch > epoch ? 0 : self->last_heartbeat;
    jad_admit_t admitted =
        jad_heartbeat_admit (heartbeat, self->env, last, now_ms, AGT_SKEW_MS, err);
    if (admitted != JAD_ADMIT_OK) {
        snprintf (reason, sizeof reason, "heartbeat_%s", jad_admit_name (admitted));
        s_refuse_what (self, "heartbeat", reason, NULL, err);
        jad_heartbeat_destroy (&heartbeat);
        return -1;
    }
    if (agt_store_epoch_raise (self->store, heartbeat->epoch)) {
        s_refuse_what (self, "heartbeat", "store_failed", NULL, "cannot store the epoch");
        jad_heartbeat_destroy (&heartbeat);
        return -1;
    }
    self->last_heartbeat = heartbeat->issued_at;
    self->last_signed = jad_mono_ms ();
    jad_heartbeat_destroy (&heartbeat);
    return 0;
}

int64_t agt_intake_last_signed (agt_intake_t *self)
{
    assert (self);
    return self->last_signed;
}

uint64_t agt_intake_refused (agt_intake_t *self, const char *reason)
{
    assert (self);
    char key[40];
    s_reason_key (reason, key, sizeof key);
    for (size_t index = 0; index < self->reason_count; index++)
        if (streq (self->reasons[index].name, key))
            return self->reasons[index].count;
    return 0;
}

uint64_t agt_intake_refused_total (agt_intake_t *self)
{
    assert (self);
    uint64_t total = 0;
    for (size_t index = 0; index < self->reason_count; index++)
        total += self->reasons[index].count;
    return total;
}

void agt_intake_each (agt_intake_t *self, agt_counter_fn *fn, void *arg)
{
    assert (self);
    for (size_t index = 0; index < self->reason_count; index++)
        if (self->reasons[index].count)
            fn (self->reasons[index].name, self->reasons[index].count, arg);
}

int agt_intake_flush (agt_intake_t *self)
{
    assert (self);
    int rc = 0;
    for (size_t index = 0; index < self->reason_count; index++) {
        s_reason_t *entry = &self->reasons[index];
        if (!entry->dirty)
            continue;
        char meta[64];
        snprintf (meta, sizeof meta, "refused_%s", entry->name);
        if (agt_store_counter_set (self->store, meta, entry->count))
            rc = -1;
        else
            entry->dirty = false;
    }
    return rc;
}
