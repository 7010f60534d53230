//  ctl_dispatch - signs plans and heartbeats and sends them to the agents
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_dispatch.h"
#include "ctl_plans_repo.h"
#include "ctl_releases_repo.h"
#include "jad_envelope.h"
#include "jad_log.h"
#include "jad_policy.h"
#include "jad_util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

//  How soon a heartbeat follows a granted subscription (ctl_dispatch_beat_soon)
#define S_BEAT_SOON_MS 1000

struct _ctl_dispatch_t {
    ctl_store_t *store;  //  borrowed, as what follows
    ctl_settings_t *settings;
    ctl_channel_t *channel;
    const jad_keypair_t *signing;
    ctl_counters_t *counters;
    int64_t beat_next;    //  mono ms of the next signed heartbeat
    int64_t beat_issued;  //  issued_at of the last one (strictly increasing)
    uint64_t epoch;       //  leadership epoch, in every plan and heartbeat signed
};

ctl_dispatch_t *ctl_dispatch_new (ctl_store_t *store, ctl_settings_t *settings,
                                  ctl_channel_t *channel, const jad_keypair_t *signing,
                                  ctl_counters_t *counters)
{
    ctl_dispatch_t *self = (ctl_dispatch_t *)calloc (1, sizeof (ctl_dispatch_t));
    if (!self)
        return NULL;
    self->store = store;
    self->settings = settings;
    self->channel = channel;
    self->signing = signing;
    self->counters = counters;
    //  the epoch this controller leads under (0 on SQLite), read once: a
    //  controller that loses leadership stops (ctl_leader.h)
    int64_t epoch = ctl_store_epoch (store);
    if (epoch < 0) {
        jad_log_error ("dispatch: cannot read the leadership epoch");
        ctl_dispatch_destroy (&self);
        return NULL;
    }
    self->epoch = (uint64_t)epoch;
    return self;
}

void ctl_dispatch_destroy (ctl_dispatch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

//  The release's attestation bundle (jad_policy.h) for a plan that brings
//  app/version onto hosts of env: env's policy as pushed and the
//  release's attestations. Kept by its SHA-256 (agents fetch it by that)
//  and named in the plan. Nothing to send (no policy, no attestation)
//  leaves the plan without one. Returns 0 or -1.
static int s_plan_bundle (ctl_dispatch_t *self, jad_plan_t *plan)
{
    char *policy = NULL;
    int64_t policy_version = 0;
    if (ctl_releases_repo_policy (self->store, plan->environment, &policy, &policy_version) < 0)
        return -1;
    zlistx_t *attestations = ctl_releases_repo_attestations (self->store, plan->app, plan->version);
    if (!attestations) {
        free (policy);
        return -1;
    }
    size_t count = zlistx_size (attestations);
    int rc = 0;
    if (count == 0 && !policy)
        goto done;
    rc = -1;
    const char **envelopes = calloc (count + 1, sizeof (char *));
    size_t *lens = calloc (count + 1, sizeof (size_t));
    size_t index = 0;
    for (ctl_attestation_t *attestation = zlistx_first (attestations);
         envelopes && lens && attestation; attestation = zlistx_next (attestations)) {
        envelopes[index] = attestation->envelope;
        lens[index++] = strlen (attestation->envelope);
    }
    size_t len = 0;
    char *bundle =
        envelopes && lens ? jad_bundle_encode (policy, envelopes, lens, count, &len) : NULL;
    if (bundle) {
        char hex[65];
        crypto_hash_sha256 (plan->bundle_sha256, (const uint8_t *)bundle, len);
        jad_hex (plan->bundle_sha256, 32, hex);
        plan->bundle_length = len;
        plan->has_bundle = true;
        rc = ctl_releases_repo_bundle_put (self->store, hex, plan->app, plan->version,
                                           plan->environment, bundle, jad_now_ms ());
    } else
        jad_log_error ("plans: cannot build the attestation bundle of %s %s (%zu attestations)",
                       plan->app, plan->version, count);
    free (bundle);
    free (envelopes);
    free (lens);
done:
    zlistx_destroy (&attestations);
    free (policy);
    return rc;
}

//  Build the plan payload for plan_id (targets from the list). NULL on error.
static jad_plan_t *s_plan_load (ctl_dispatch_t *self, const char *plan_id)
{
    ctl_plan_t *row = NULL;
    ctl_release_t *release = NULL;
    jad_plan_t *plan = NULL;
    if (ctl_plans_repo_get (self->store, plan_id, &row) != 0 ||
        ctl_releases_repo_get (self->store, row->app, row->version, &release) != 0)
        goto done;
    plan = calloc (1, sizeof *plan);
    if (!plan)
        goto done;
    plan->plan_id = strdup (plan_id);
    plan->app = strdup (row->app);
    plan->version = strdup (row->version);
    plan->environment = strdup (row->env);
    plan->kind = streq (row->kind, "rollback") ? JAD_PLAN_ROLLBACK : JAD_PLAN_DEPLOY;
    plan->strategy = strdup (row->strategy);
    plan->undoes = row->undoes ? strdup (row->undoes) : NULL;
    //  signed: agents with a policy key judge not_deployer against it
    plan->deployer = row->deployer && *row->deployer ? strdup (row->deployer) : NULL;
    if ((row->deployer && *row->deployer && !plan->deployer) || !plan->plan_id || !plan->app ||
        !plan->version || !plan->environment || !plan->strategy ||
        jad_unhex (release->sha256, plan->artifact_sha256, 32) != 0) {
        jad_plan_destroy (&plan);
        goto done;
    }
    plan->artifact_length = (uint64_t)release->length;
    //  signed too: agents check their free space with it before unpacking
    plan->unpacked_size = release->unpacked_size > 0 ? (uint64_t)release->unpacked_size : 0;
    //  signed with the plan: agents refuse a release below the floor
    plan->release_counter = (uint64_t)release->counter;
    plan->min_release_counter = release->has_floor ? (uint64_t)release->floor : 0;
    const char *action = row->action;
    plan->action = streq (action, "apply")          ? JAD_PLAN_ACTION_APPLY
                   : streq (action, "migrate_up")   ? JAD_PLAN_ACTION_MIGRATE_UP
                   : streq (action, "migrate_down") ? JAD_PLAN_ACTION_MIGRATE_DOWN
                                                    : JAD_PLAN_ACTION_VERIFY;
    const char *list = row->migrations;
    if (list && *list) {
        char *copy = strdup (list);
        size_t count = 1;
        for (const char *cursor = list; *cursor; cursor++)
            count += *cursor == ',';
        plan->migrations = calloc (count, sizeof (char *));
        char *save = NULL;
        for (char *item = copy && plan->migrations ? strtok_r (copy, ",", &save) : NULL;
             item && plan->migration_count < count; item = strtok_r (NULL, ",", &save))
            plan->migrations[plan->migration_count++] = strdup (item);
        free (copy);
    }
    //  what brings a release onto a host carries its checks' evidence
    if ((plan->action == JAD_PLAN_ACTION_APPLY || plan->action == JAD_PLAN_ACTION_MIGRATE_UP) &&
        s_plan_bundle (self, plan))
        jad_plan_destroy (&plan);
done:
    ctl_release_destroy (&release);
    ctl_plan_destroy (&row);
    return plan;
}

//  Send the signed `envelope` to each of the `count` sorted `names`
//  (leaf i of `tree`) that is connected, with its own membership proof.
//  Returns the number of agents it went to.
static size_t s_send_each (ctl_dispatch_t *self, jad_envelope_t *envelope, jad_merkle_t *tree,
                           char **names, size_t count)
{
    size_t sent = 0;
    for (size_t index = 0; index < count; index++) {
        if (!ctl_channel_reachable (self->channel, names[index]))
            continue;  //  not connected: sent again on hello
        int depth = jad_merkle_proof (tree, index, envelope->proof);
        if (depth < 0)
            continue;  //  cannot happen: index < count
        envelope->proof_index = (uint32_t)index;
        envelope->proof_count = (size_t)depth;
        jad_ctl_msg_t message = {.kind = JAD_CTL_MSG_PLAN, .plan = envelope};
        if (ctl_channel_send_agent (self->channel, names[index], &message) == 0)
            sent++;
        else  //  the re-send timer tries again
            jad_log_debug ("plans: plan not sent to agent=%s", names[index]);
    }
    return sent;
}

int ctl_dispatch_plan (ctl_dispatch_t *self, const char *plan_id, const char *agent)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    jad_plan_t *plan = s_plan_load (self, plan_id);
    if (!plan) {
        jad_log_error ("plans: cannot load plan=%s for sending", plan_id);
        return -1;
    }
    zlistx_t *targets = NULL;
    if (agent) {
        targets = zlistx_new ();
        if (targets) {
            zlistx_set_destructor (targets, (zlistx_destructor_fn *)zstr_free);
            char *copy = strdup (agent);
            if (!copy || !zlistx_add_end (targets, copy)) {
                free (copy);
                zlistx_destroy (&targets);
            }
        }
    } else
        targets = ctl_plans_repo_host_names (self->store, plan_id, -1, CTL_HOSTS_UNFINISHED);
    int result = -1;
    zchunk_t *payload = NULL;
    jad_envelope_t *envelope = NULL;
    jad_merkle_t *tree = NULL;
    char **names = NULL;
    size_t count = 0;
    if (!targets)
        goto done;
    if (zlistx_size (targets) == 0) {
        result = 0;
        goto done;
    }
    if (agent && !ctl_channel_reachable (self->channel, agent)) {
        result = 0;  //  not connected: sent again on hello
        goto done;
    }
    count = zlistx_size (targets);
    names = calloc (count, sizeof (char *));
    if (!names)
        goto done;
    size_t index = 0;
    for (char *name = zlistx_first (targets); name; name = zlistx_next (targets))
        if (!(names[index++] = strdup (name)))
            goto done;
    //  A plan to all its hosts marks them sent before it is issued: one
    //  statement, and none between the plan's first and last copy (the
    //  resend timer goes by this mark; a host not reached now is sent the
    //  plan again on its hello).
    if (!agent && ctl_plans_repo_mark_sent (self->store, plan_id, NULL, jad_now_ms ()) != 0)
        goto done;
    plan->sequence = ctl_store_next_sequence (self->store);
    if (plan->sequence == 0)
        goto done;
    plan->epoch = self->epoch;
    plan->issued_at = jad_now_ms ();
    plan->expires_at = plan->issued_at + config->plan_ttl_ms;
    plan->hook_timeout_ms = 0;
    plan->step_deadline_ms = config->step_deadline_ms;
    //  The plan signs the root of its targets' tree and their count, not
    //  their names; each target gets its own proof (protocol.md, Targets).
    char err[JAD_ERR_LEN] = "";
    plan->targets = names;
    plan->target_count = count;
    tree = jad_plan_commit (plan, err);  //  sorts names: leaf i is names[i]
    plan->targets = NULL;                //  the encoder signs the root
    if (!tree) {
        jad_log_error ("plans: cannot commit to the targets of plan=%s: %s", plan_id, err);
        goto done;
    }
    payload = jad_plan_encode (plan);
    if (!payload)
        goto done;
    envelope = jad_envelope_sign (JAD_PAYLOAD_PLAN, zchunk_data (payload), zchunk_size (payload),
                                  self->signing);
    if (!envelope)
        goto done;
    envelope->proof = malloc (JAD_MERKLE_MAX_DEPTH * JAD_MERKLE_HASH);
    if (!envelope->proof)
        goto done;
    int64_t sending = jad_mono_ms ();
    size_t sent = s_send_each (self, envelope, tree, names, count);
    sending = jad_mono_ms () - sending;
    if (agent && sent == 0)
        goto done;
    self->counters->value[agent ? CTL_COUNT_PLANS_RESENT : CTL_COUNT_PLANS_SENT]++;
    if (agent)
        ctl_plans_repo_mark_sent (self->store, plan_id, agent, jad_now_ms ());
    jad_log_debug ("plans: sent plan=%s seq=%llu targets=%zu reached=%zu direct=%s took=%lldms",
                   plan_id, (unsigned long long)plan->sequence, count, sent, agent ? agent : "-",
                   (long long)sending);
    result = 0;

done:
    jad_envelope_destroy (&envelope);
    jad_merkle_destroy (&tree);
    zchunk_destroy (&payload);
    zlistx_destroy (&targets);
    if (names)
        for (size_t item = 0; item < count; item++)
            free (names[item]);
    free (names);
    jad_plan_destroy (&plan);
    return result;
}

//  One signed heartbeat for env on PUB. Returns 0 or -1.
static int s_beat_env (ctl_dispatch_t *self, const char *env, int64_t issued, int64_t expires)
{
    jad_heartbeat_t heartbeat = {.environment = (char *)env,
                                 .issued_at = issued,
                                 .expires_at = expires,
                                 .epoch = self->epoch};
    int rc = -1;
    jad_envelope_t *envelope = NULL;
    zchunk_t *wire = NULL;
    zchunk_t *payload = jad_heartbeat_encode (&heartbeat);
    if (payload)
        envelope = jad_envelope_sign (JAD_PAYLOAD_HEARTBEAT, zchunk_data (payload),
                                      zchunk_size (payload), self->signing);
    if (envelope)
        wire = jad_envelope_encode (envelope);
    if (wire) {
        char topic[JAD_NAME_MAX + 8];
        snprintf (topic, sizeof topic, "beat/%s/", env);
        if (ctl_channel_broadcast (self->channel, topic, zchunk_data (wire), zchunk_size (wire)) ==
            0) {
            self->counters->value[CTL_COUNT_HEARTBEATS_SENT]++;
            rc = 0;
        }
    }
    zchunk_destroy (&wire);
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&payload);
    return rc;
}

void ctl_dispatch_beat (ctl_dispatch_t *self)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    uint32_t interval = config->signed_heartbeat_ms;
    int64_t mono = jad_mono_ms ();
    if (interval == 0 || mono < self->beat_next)
        return;
    self->beat_next = mono + interval;
    int64_t issued = jad_now_ms ();
    if (issued <= self->beat_issued)
        issued = self->beat_issued + 1;  //  the wall clock stepped back
    self->beat_issued = issued;
    int64_t expires = issued + 3 * (int64_t)interval;
    for (size_t index = 0; index < config->environment_count; index++)
        if (s_beat_env (self, config->environments[index].name, issued, expires))
            jad_log_debug ("plans: heartbeat not sent env=%s", config->environments[index].name);
}

void ctl_dispatch_beat_soon (ctl_dispatch_t *self)
{
    int64_t soon = jad_mono_ms () + S_BEAT_SOON_MS;
    if (self->beat_next > soon)
        self->beat_next = soon;
}

void ctl_dispatch_beat_reset (ctl_dispatch_t *self)
{
    self->beat_next = 0;
}
