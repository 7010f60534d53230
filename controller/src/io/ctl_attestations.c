//  ctl_attestations - the operator API's release checks: upload an
//  attestation, list a release's checks (DESIGN §10)
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_attestations.h"
#include "ctl_agents_repo.h"
#include "ctl_checks.h"
#include "ctl_json.h"
#include "ctl_releases_repo.h"
#include "jad_attest.h"
#include "jad_log.h"
#include "jad_util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

//  The release app/version named by the request, or NULL with err set
//  and *status the exit status.
static ctl_release_t *s_release (ctl_store_t *store, const jad_api_request_t *request,
                                 const char *command, int *status, char *err, size_t errlen)
{
    const char *app = jad_api_request_arg (request, "app");
    const char *version = jad_api_request_arg (request, "version");
    *status = 2;
    if (!jad_name_valid (app) || !jad_name_valid (version)) {
        snprintf (err, errlen, "%s needs APP and VERSION as valid names", command);
        return NULL;
    }
    ctl_release_t *release = NULL;
    int found = ctl_releases_repo_get (store, app, version, &release);
    if (found == 1)
        snprintf (err, errlen, "no release %s %s (add it with: jadctl release add)", app, version);
    else if (found < 0) {
        snprintf (err, errlen, "database error");
        *status = 1;
    }
    return release;
}

//  Keep an upload about release (text, its bytes, already verified): its
//  SHA-256 into sha256. 0: kept now, 1: kept before; -1: not kept, err
//  says why (`what` refused: the release holds the most it may) and
//  *status is 1 when the store failed.
static int s_keep (ctl_store_t *store, const ctl_release_t *release, const char *what,
                   const char *type, const char *signer, const char *operator_name,
                   const char *text, char sha256[65], int *status, char *err, size_t errlen)
{
    uint8_t digest[32];
    crypto_hash_sha256 (digest, (const uint8_t *)text, strlen (text));
    jad_hex (digest, sizeof digest, sha256);
    ctl_attestation_t attestation = {.app = release->app,
                                     .version = release->version,
                                     .sha256 = sha256,
                                     .type = (char *)type,
                                     .signer = (char *)signer,
                                     .added_by = (char *)operator_name,
                                     .envelope = (char *)text};
    int kept = ctl_releases_repo_attest (store, &attestation, jad_now_ms ());
    if (kept < 0) {
        snprintf (err, errlen, "database error");
        *status = 1;
        return -1;
    }
    if (kept == 2) {
        snprintf (err, errlen,
                  "%s refused: %s %s holds %d attestations already, the most a release may hold",
                  what, release->app, release->version, CTL_ATTESTATIONS_MAX);
        return -1;
    }
    return kept;
}

int ctl_attestations_attest (ctl_store_t *store, const jad_controller_config_t *config,
                             const jad_api_request_t *request, const char *operator_name,
                             json_t **result, char *err, size_t errlen)
{
    int status;
    ctl_release_t *release = s_release (store, request, "release attest", &status, err, errlen);
    if (!release)
        return status;
    char *text = NULL, *type = NULL, *signer = NULL;
    status = 2;
    if (request->blob_size == 0 || request->blob_size > JAD_ATTEST_MAX_BYTES) {
        snprintf (err, errlen, "attestation refused: %zu bytes (1 to %d bytes of JSON)",
                  request->blob_size, JAD_ATTEST_MAX_BYTES);
        goto done;
    }
    text = jad_text_copy (request->blob, request->blob_size);
    if (!text) {
        snprintf (err, errlen, "out of memory");
        status = 1;
        goto done;
    }
    if (strlen (text) != request->blob_size) {
        snprintf (err, errlen, "attestation refused: it holds a NUL byte (not JSON text)");
        goto done;
    }
    char why[512] = "";
    signer = ctl_checks_arrival (config, text, request->blob_size, release->sha256, &type, why,
                                 sizeof why);
    if (!signer) {
        snprintf (err, errlen, "attestation refused for %s %s: %s", release->app, release->version,
                  why);
        goto done;
    }
    char sha256[65];
    int kept = s_keep (store, release, "attestation", type, signer, operator_name, text, sha256,
                       &status, err, errlen);
    if (kept >= 0) {
        jad_log_info ("api: attestation app=%s version=%s type=%s signer=%s sha256=%s "
                      "operator=%s exists=%d",
                      release->app, release->version, type, signer, sha256, operator_name,
                      kept == 1);
        *result = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:b}", "app", release->app, "version",
                             release->version, "sha256", sha256, "type", type, "signer", signer,
                             "exists", kept == 1);
        status = *result ? 0 : 1;
        if (status)
            snprintf (err, errlen, "out of memory");
    }
done:
    free (text);
    free (type);
    free (signer);
    ctl_release_destroy (&release);
    return status;
}

//  Append the verdicts of env's checks to checks. Returns 0 or -1.
static int s_env_checks (const jad_controller_config_t *config, const jad_env_config_t *env,
                         const ctl_checks_facts_t *facts, json_t *checks)
{
    if (env->check_count == 0)
        return 0;
    ctl_check_result_t *results = calloc (env->check_count, sizeof (ctl_check_result_t));
    if (!results || ctl_checks_judge (config, env, facts, jad_now_ms (), results)) {
        free (results);
        return -1;
    }
    int rc = 0;
    for (size_t index = 0; index < env->check_count && rc == 0; index++) {
        const ctl_check_result_t *check = &results[index];
        rc = json_array_append_new (
            checks, json_pack ("{s:s, s:s, s:s, s:s, s:o}", "env", env->name, "check", check->name,
                               "kind", check->approval ? "approval" : "attestation", "state",
                               ctl_check_state (check->verdict), "why",
                               ctl_json_text (check->why[0] ? check->why : NULL)));
    }
    free (results);
    return rc;
}

int ctl_attestations_checks (ctl_store_t *store, const jad_controller_config_t *config,
                             const jad_api_request_t *request, json_t **result, char *err,
                             size_t errlen)
{
    const char *env_name = jad_api_request_arg (request, "env");
    const jad_env_config_t *only = env_name ? jad_controller_config_env (config, env_name) : NULL;
    if (env_name && !only) {
        char *echo = jad_text_sanitize (env_name, strlen (env_name), 64);
        snprintf (err, errlen, "release checks: unknown environment '%s'", echo ? echo : "?");
        free (echo);
        return 2;
    }
    int status;
    ctl_release_t *release = s_release (store, request, "release checks", &status, err, errlen);
    if (!release)
        return status;
    ctl_attestations_facts_t facts;
    json_t *checks = json_array ();
    status = 1;
    if (ctl_attestations_facts_read (store, release, NULL, &facts) != 0 || !checks) {
        snprintf (err, errlen, "database error");
        goto done;
    }
    for (size_t env = 0; env < config->environment_count; env++) {
        const jad_env_config_t *each = &config->environments[env];
        if ((only && each != only) || s_env_checks (config, each, &facts.facts, checks) == 0)
            continue;
        snprintf (err, errlen, "out of memory");
        goto done;
    }
    *result = json_pack ("{s:s, s:s, s:s, s:O}", "app", release->app, "version", release->version,
                         "sha256", release->sha256, "checks", checks);
    status = *result ? 0 : 1;
    if (status)
        snprintf (err, errlen, "out of memory");
done:
    json_decref (checks);
    ctl_attestations_facts_free (&facts);
    ctl_release_destroy (&release);
    return status;
}

int ctl_attestations_facts_read (ctl_store_t *store, const ctl_release_t *release,
                                 const char *deployer, ctl_attestations_facts_t *self)
{
    memset (self, 0, sizeof *self);
    self->attestations = ctl_releases_repo_attestations (store, release->app, release->version);
    //  removed, replaced and expired keys approve nothing (row 42)
    self->operators = ctl_agents_repo_operators_current (store, jad_now_ms ());
    if (!self->attestations || !self->operators)
        return -1;
    size_t count = zlistx_size (self->attestations);
    size_t operators = zlistx_size (self->operators);
    self->envelopes = calloc (count + 1, sizeof (char *));
    self->lens = calloc (count + 1, sizeof (size_t));
    self->approvers = calloc (operators + 1, sizeof (ctl_check_approver_t));
    if (!self->envelopes || !self->lens || !self->approvers) {
        jad_log_error ("checks: out of memory reading the facts of app=%s version=%s", release->app,
                       release->version);
        return -1;
    }
    size_t index = 0;
    for (ctl_attestation_t *item = zlistx_first (self->attestations); item;
         item = zlistx_next (self->attestations)) {
        self->envelopes[index] = item->envelope;
        self->lens[index++] = strlen (item->envelope);
    }
    index = 0;
    for (ctl_operator_t *row = zlistx_first (self->operators); row;
         row = zlistx_next (self->operators))
        self->approvers[index++] = (ctl_check_approver_t){
            .name = row->name, .roles = row->roles, .signing_key = row->signing_key};
    self->facts = (ctl_checks_facts_t){.sha256 = release->sha256,
                                       .envelopes = self->envelopes,
                                       .lens = self->lens,
                                       .count = count,
                                       .approvers = self->approvers,
                                       .approver_count = operators,
                                       .deployer = deployer};
    return 0;
}

void ctl_attestations_facts_free (ctl_attestations_facts_t *self)
{
    zlistx_destroy (&self->attestations);
    zlistx_destroy (&self->operators);
    free (self->envelopes);
    free (self->lens);
    free (self->approvers);
    memset (self, 0, sizeof *self);
}

int ctl_attestations_approve (ctl_store_t *store, const jad_controller_config_t *config,
                              const jad_api_request_t *request, const char *operator_name,
                              json_t **result, char *err, size_t errlen)
{
    const char *env_name = jad_api_request_arg (request, "env");
    const char *check = jad_api_request_arg (request, "check");
    const jad_env_config_t *env = env_name ? jad_controller_config_env (config, env_name) : NULL;
    if (!env || !jad_name_valid (check)) {
        snprintf (err, errlen,
                  "release approve needs --env (a known environment) and --check NAME");
        return 2;
    }
    int status;
    ctl_release_t *release = s_release (store, request, "release approve", &status, err, errlen);
    if (!release)
        return status;
    ctl_operator_t *approver_row = NULL;
    char *text = NULL;
    status = 2;
    if (request->blob_size == 0 || request->blob_size > JAD_ATTEST_MAX_BYTES) {
        snprintf (err, errlen, "approval refused: %zu bytes", request->blob_size);
        goto done;
    }
    text = jad_text_copy (request->blob, request->blob_size);
    if (!text || strlen (text) != request->blob_size) {
        snprintf (err, errlen, "approval refused: not JSON text");
        goto done;
    }
    if (ctl_agents_repo_operator_by_name (store, operator_name, &approver_row) != 0) {
        snprintf (err, errlen, "database error");
        status = 1;
        goto done;
    }
    ctl_check_approver_t approver = {.name = approver_row->name,
                                     .roles = approver_row->roles,
                                     .signing_key = approver_row->signing_key};
    char why[512] = "";
    if (ctl_checks_approval_arrival (env, check, release->app, release->version, release->sha256,
                                     &approver, text, request->blob_size, why, sizeof why) != 0) {
        snprintf (err, errlen, "approval refused for %s %s: %s", release->app, release->version,
                  why);
        goto done;
    }
    char sha256[65];
    int kept = s_keep (store, release, "approval", JAD_ATTEST_APPROVAL, operator_name,
                       operator_name, text, sha256, &status, err, errlen);
    if (kept >= 0) {
        jad_log_info ("api: approval app=%s version=%s env=%s check=%s operator=%s", release->app,
                      release->version, env->name, check, operator_name);
        *result = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "app", release->app, "version",
                             release->version, "env", env->name, "check", check, "operator",
                             operator_name, "sha256", sha256, "exists", kept == 1);
        status = *result ? 0 : 1;
    }
done:
    free (text);
    ctl_operator_destroy (&approver_row);
    ctl_release_destroy (&release);
    return status;
}

int ctl_attestations_policy_push (ctl_store_t *store, const jad_controller_config_t *config,
                                  const jad_api_request_t *request, const char *operator_name,
                                  json_t **result, char *err, size_t errlen)
{
    if (request->blob_size == 0 || request->blob_size > JAD_POLICY_MAX_BYTES) {
        snprintf (err, errlen, "policy refused: %zu bytes (1 to %d bytes of JSON)",
                  request->blob_size, JAD_POLICY_MAX_BYTES);
        return 2;
    }
    char why[256];
    //  not verified here: the controller has no policy key, agents verify
    jad_dsse_t *envelope = jad_dsse_parse_as ((const char *)request->blob, request->blob_size,
                                              JAD_POLICY_PAYLOAD_TYPE, why, sizeof why);
    size_t payload_len = 0;
    const uint8_t *payload = envelope ? jad_dsse_payload (envelope, &payload_len) : NULL;
    jad_policy_t *policy =
        payload ? jad_policy_decode (payload, payload_len, why, sizeof why) : NULL;
    char *text = policy ? jad_text_copy (request->blob, request->blob_size) : NULL;
    int status = 2;
    int64_t kept = 0;
    if (!policy)
        snprintf (err, errlen, "policy refused: %s", why);
    else if (!text || strlen (text) != request->blob_size) {
        snprintf (err, errlen, "policy refused: %s",
                  text ? "it holds a NUL byte" : "out of memory");
        status = text ? 2 : 1;
    } else if (!jad_controller_config_env (config, policy->environment))
        snprintf (err, errlen, "policy refused: controller.yaml has no environment '%s'",
                  policy->environment);
    else {
        int stored =
            ctl_releases_repo_policy_set (store, policy->environment, (int64_t)policy->version,
                                          text, operator_name, jad_now_ms (), &kept);
        if (stored == 1)
            snprintf (err, errlen,
                      "policy refused: %s holds version %lld already; versions only go up",
                      policy->environment, (long long)kept);
        else if (stored < 0) {
            snprintf (err, errlen, "database error");
            status = 1;
        } else {
            status = 0;
            jad_log_info ("api: policy pushed env=%s version=%llu operator=%s", policy->environment,
                          (unsigned long long)policy->version, operator_name);
            *result = json_pack ("{s:s, s:I, s:I}", "env", policy->environment, "version",
                                 (json_int_t)policy->version, "previous", (json_int_t)kept);
        }
    }
    free (text);
    jad_policy_destroy (&policy);
    jad_dsse_destroy (&envelope);
    return status;
}
