//  agt_policy - release checks at this host
//  SPDX-License-Identifier: MPL-2.0

#include "agt_policy.h"
#include "jad_log.h"
#include "jad_policy.h"
#include "jad_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _agt_policy_t {
    agt_store_t *store;  //  borrowed
    uint8_t key[32];     //  the offline policy key
    char *env;           //  this agent's environment
};

agt_policy_t *agt_policy_new (agt_store_t *store, const uint8_t *key, const char *env)
{
    agt_policy_t *self = (agt_policy_t *)calloc (1, sizeof (agt_policy_t));
    if (!self)
        return NULL;
    self->store = store;
    memcpy (self->key, key, 32);
    self->env = strdup (env);
    if (!self->env)
        agt_policy_destroy (&self);
    return self;
}

void agt_policy_destroy (agt_policy_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->env);
        free (*self_p);
        *self_p = NULL;
    }
}

bool agt_policy_needed (const jad_plan_t *plan)
{
    return plan->action == JAD_PLAN_ACTION_APPLY || plan->action == JAD_PLAN_ACTION_MIGRATE_UP;
}

uint64_t agt_policy_version (agt_policy_t *self)
{
    char *text = NULL;
    uint64_t version = 0;
    agt_store_policy (self->store, &text, &version);
    free (text);
    return version;
}

//  The policy in force: the one kept, or the bundle's if it is newer
//  (kept now). Returns it (caller destroys) or NULL with why.
static jad_policy_t *s_policy (agt_policy_t *self, const char *offered, char *why, size_t whylen)
{
    char *kept_text = NULL;
    uint64_t kept_version = 0;
    char err[256];
    int found = agt_store_policy (self->store, &kept_text, &kept_version);
    if (found < 0) {
        snprintf (why, whylen, "cannot read the policy kept in state.db");
        return NULL;
    }
    jad_policy_t *kept = NULL;
    if (found == 0) {
        kept = jad_policy_open (kept_text, strlen (kept_text), self->key, err, sizeof err);
        if (!kept) {
            //  state.db is ours: a kept policy that does not verify is damage
            snprintf (why, whylen, "the policy kept in state.db does not verify: %s", err);
            free (kept_text);
            return NULL;
        }
    }
    free (kept_text);
    if (!offered) {
        if (!kept)
            snprintf (why, whylen,
                      "no policy signed by the policy key has reached this agent yet "
                      "(jadctl policy sign, then jadctl policy push)");
        return kept;
    }
    jad_policy_t *policy = jad_policy_open (offered, strlen (offered), self->key, err, sizeof err);
    if (!policy) {
        snprintf (why, whylen, "the bundle's policy is refused: %s", err);
        jad_policy_destroy (&kept);
        return NULL;
    }
    if (!streq (policy->environment, self->env)) {
        snprintf (why, whylen, "the bundle's policy is for environment %.64s, this agent is in %s",
                  policy->environment, self->env);
        jad_policy_destroy (&policy);
        jad_policy_destroy (&kept);
        return NULL;
    }
    if (policy->version < kept_version) {
        snprintf (why, whylen,
                  "the bundle's policy version %llu is older than version %llu, the highest "
                  "this agent has verified (versions only go up)",
                  (unsigned long long)policy->version, (unsigned long long)kept_version);
        jad_policy_destroy (&policy);
        jad_policy_destroy (&kept);
        return NULL;
    }
    if (policy->version > kept_version) {
        if (agt_store_policy_raise (self->store, policy->version, offered)) {
            snprintf (why, whylen, "cannot keep policy version %llu in state.db",
                      (unsigned long long)policy->version);
            jad_policy_destroy (&policy);
            jad_policy_destroy (&kept);
            return NULL;
        }
        jad_log_info ("agent: policy version=%llu env=%s checks=%zu previous=%llu",
                      (unsigned long long)policy->version, policy->environment, policy->check_count,
                      (unsigned long long)kept_version);
    }
    if (policy->version == kept_version) {
        //  the one kept decides: two policies signed with one version
        //  (a signer's mistake) never alternate
        jad_policy_destroy (&policy);
        return kept;
    }
    jad_policy_destroy (&kept);
    return policy;
}

int agt_policy_judge (agt_policy_t *self, const jad_plan_t *plan, const uint8_t *bundle, size_t len,
                      int64_t now, char *why, size_t whylen)
{
    assert (self);
    char err[256];
    jad_bundle_t *decoded = NULL;
    if (bundle) {
        decoded = jad_bundle_decode (bundle, len, err, sizeof err);
        if (!decoded) {
            snprintf (why, whylen, "attestation bundle refused: %s", err);
            return -1;
        }
    }
    int rc = -1;
    jad_policy_t *policy = s_policy (self, decoded ? decoded->policy : NULL, why, whylen);
    if (!policy)
        goto done;
    bool rollback = plan->kind == JAD_PLAN_ROLLBACK;
    if (!rollback && !plan->deployer && jad_policy_not_deployer (policy)) {
        snprintf (why, whylen,
                  "%s %s: the plan names no deployer, and policy version %llu has a "
                  "not_deployer check",
                  plan->app, plan->version, (unsigned long long)policy->version);
        goto done;
    }
    char sha[65];
    jad_hex (plan->artifact_sha256, 32, sha);
    char reasons[768];
    //  a rollback goes back to a release deployed before: neither max_age
    //  nor not_deployer blocks the way back (as at the controller's door)
    int failed =
        jad_policy_judge (policy, decoded ? (const char *const *)decoded->envelopes : NULL,
                          decoded ? decoded->lens : NULL, decoded ? decoded->count : 0, sha, now,
                          rollback, rollback ? NULL : plan->deployer, reasons, sizeof reasons);
    if (failed < 0)
        snprintf (why, whylen, "out of memory judging the release checks");
    else if (failed > 0)
        snprintf (why, whylen, "%s %s lacks %d of the checks of policy version %llu: %s", plan->app,
                  plan->version, failed, (unsigned long long)policy->version, reasons);
    else
        rc = 0;
done:
    jad_policy_destroy (&policy);
    jad_bundle_destroy (&decoded);
    return rc;
}
