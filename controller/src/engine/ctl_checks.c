//  ctl_checks - release checks: an environment's checks judged over a
//  release's attestations (DESIGN §10)
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_checks.h"
#include "jad_policy.h"
#include "jad_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ctl_check_state (jad_check_verdict_t verdict)
{
    return verdict == JAD_CHECK_OK ? "ok" : verdict == JAD_CHECK_MISSING ? "missing" : "invalid";
}

int ctl_checks_judge (const jad_controller_config_t *config, const jad_env_config_t *env,
                      const ctl_checks_facts_t *facts, int64_t now, ctl_check_result_t *results)
{
    for (size_t index = 0; index < env->check_count; index++) {
        const jad_check_config_t *check = &env->checks[index];
        ctl_check_result_t *result = &results[index];
        memset (result, 0, sizeof *result);
        result->name = check->name;
        if (!check->type) {
            result->approval = true;
            result->verdict =
                jad_approval_judge (check, env->name, facts->envelopes, facts->lens, facts->count,
                                    facts->sha256, facts->approvers, facts->approver_count,
                                    facts->deployer, result->why, sizeof result->why);
            continue;
        }
        //  the one rule builder, shared with the agents (jad_policy.h)
        jad_check_rule_t rule;
        if (jad_check_rule_build (check, config->attestation_keys, config->attestation_key_count,
                                  &rule))
            return -1;
        result->verdict =
            jad_check_judge (&rule, facts->envelopes, facts->lens, facts->count, facts->sha256, now,
                             NULL, result->why, sizeof result->why);
        if (result->verdict == JAD_CHECK_OK)
            result->why[0] = 0;
        jad_check_rule_clear (&rule);
    }
    return 0;
}

int ctl_checks_approval_arrival (const jad_env_config_t *env, const char *check_name,
                                 const char *app, const char *version, const char *sha256,
                                 const ctl_check_approver_t *approver, const char *text, size_t len,
                                 char *err, size_t errlen)
{
    int rc = -1;
    jad_statement_t *statement = NULL;
    jad_dsse_t *envelope = jad_dsse_parse (text, len, err, errlen);
    if (!envelope)
        return -1;
    statement = jad_statement_parse (envelope, err, errlen);
    if (!statement)
        goto done;
    const char *approved_check = jad_statement_predicate_text (statement, "check");
    const char *approved_env = jad_statement_predicate_text (statement, "env");
    const char *approved_app = jad_statement_predicate_text (statement, "app");
    const char *approved_version = jad_statement_predicate_text (statement, "version");
    const jad_check_config_t *check = jad_env_config_check (env, check_name);
    uint8_t key[32];
    if (strcmp (jad_statement_type (statement), JAD_ATTEST_APPROVAL) != 0)
        snprintf (err, errlen, "not an approval (%.128s)", jad_statement_type (statement));
    else if (!jad_statement_about (statement, sha256) || !approved_app || !approved_version ||
             strcmp (approved_app, app) != 0 || strcmp (approved_version, version) != 0)
        snprintf (err, errlen, "the approval is about another release");
    else if (!approved_env || strcmp (approved_env, env->name) != 0)
        snprintf (err, errlen, "the approval is for another environment");
    else if (!approved_check || strcmp (approved_check, check_name) != 0)
        snprintf (err, errlen, "the approval is for another check");
    else if (!check)
        snprintf (err, errlen, "%s has no check named '%.64s'", env->name,
                  check_name ? check_name : "");
    else if (check->type)
        snprintf (err, errlen,
                  "check '%s' takes attestations (jadctl release attest), not "
                  "approvals",
                  check->name);
    else if (!approver->signing_key || jad_unhex (approver->signing_key, key, 32) != 0)
        snprintf (err, errlen,
                  "operator %s has no signing key (register one: jadctl operator add ... "
                  "--signing-key)",
                  approver->name);
    else if (!jad_dsse_signed_by (envelope, key))
        snprintf (err, errlen, "not signed by %s's signing key", approver->name);
    else {
        bool holds = false;
        for (size_t role = 0; role < check->approval_count; role++)
            holds = holds || jad_approval_holds (approver->roles, check->approval[role]);
        char roles[160];
        jad_approval_roles (check, roles, sizeof roles);
        if (!holds)
            snprintf (err, errlen, "%s holds none of the roles check '%s' needs (%s)",
                      approver->name, check->name, roles);
        else
            rc = 0;
    }
done:
    jad_statement_destroy (&statement);
    jad_dsse_destroy (&envelope);
    return rc;
}

char *ctl_checks_arrival (const jad_controller_config_t *config, const char *text, size_t len,
                          const char *sha256, char **type_p, char *err, size_t errlen)
{
    *type_p = NULL;
    if (errlen)
        err[0] = 0;
    char *signer = NULL;
    jad_statement_t *statement = NULL;
    jad_dsse_t *envelope = jad_dsse_parse (text, len, err, errlen);
    if (!envelope)
        return NULL;
    statement = jad_statement_parse (envelope, err, errlen);
    if (!statement)
        goto done;
    const char *type = jad_statement_type (statement);
    if (!jad_statement_about (statement, sha256)) {
        snprintf (err, errlen, "the statement is about another release (no subject has sha256 %s)",
                  sha256);
        goto done;
    }
    //  the first key, in attestation_keys order, that signed it and that a
    //  check of this type trusts somewhere
    bool typed = false;
    for (size_t key_index = 0; !signer && key_index < config->attestation_key_count; key_index++) {
        const jad_attestation_key_t *key = &config->attestation_keys[key_index];
        bool trusted = false;
        for (size_t env_index = 0; env_index < config->environment_count; env_index++) {
            const jad_env_config_t *env = &config->environments[env_index];
            for (size_t index = 0; index < env->check_count; index++) {
                const jad_check_config_t *check = &env->checks[index];
                if (!check->type || !jad_str_equal (check->type, type))
                    continue;
                typed = true;
                for (size_t listed = 0; listed < check->key_count; listed++)
                    if (jad_str_equal (check->keys[listed], key->name))
                        trusted = true;
            }
        }
        uint8_t public_key[32];
        if (trusted && jad_unhex (key->ed25519, public_key, 32) == 0 &&
            jad_dsse_signed_by (envelope, public_key)) {
            signer = strdup (key->name);
            if (!signer)
                snprintf (err, errlen, "out of memory");
        }
    }
    if (!signer && errlen && !err[0]) {
        if (!typed)
            snprintf (err, errlen, "no check in controller.yaml needs a %.128s statement", type);
        else
            snprintf (err, errlen,
                      "not signed by any key a %.128s check trusts (a keyid decides nothing)",
                      type);
    }
    if (signer) {
        *type_p = strdup (type);
        if (!*type_p) {
            snprintf (err, errlen, "out of memory");
            free (signer);
            signer = NULL;
        }
    }
done:
    jad_statement_destroy (&statement);
    jad_dsse_destroy (&envelope);
    return signer;
}
