//  ctl_checks - release checks: an environment's checks judged over a
//  release's attestations (DESIGN §10)
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_checks.h"
#include "ctl_approvals.h"
#include "jad_policy.h"
#include "jad_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ctl_check_state (jad_check_verdict_t verdict)
{
    return verdict == JAD_CHECK_OK ? "ok" : verdict == JAD_CHECK_MISSING ? "missing" : "invalid";
}

//  "tech-lead, product-owner" of an approval's roles, bounded.
static void s_roles (const jad_check_config_t *check, char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t index = 0; index < check->approval_count && used < len; index++)
        used += (size_t)snprintf (out + used, len - used, "%s%s", index ? ", " : "",
                                  check->approval[index]);
}

//  The approver whose signing key signed the envelope, or NULL.
static const ctl_check_approver_t *s_signer (const ctl_checks_facts_t *facts,
                                             const jad_dsse_t *envelope)
{
    for (size_t index = 0; index < facts->approver_count; index++) {
        uint8_t key[32];
        const ctl_check_approver_t *approver = &facts->approvers[index];
        if (approver->signing_key && jad_unhex (approver->signing_key, key, 32) == 0 &&
            jad_dsse_signed_by (envelope, key))
            return approver;
    }
    return NULL;
}

//  An approval check: OK when each listed role has its own approver.
static void s_judge_approval (const jad_env_config_t *env, const jad_check_config_t *check,
                              const ctl_checks_facts_t *facts, ctl_check_result_t *result)
{
    const ctl_check_approver_t *valid[JAD_ATTEST_MAX_SIGNATURES * 4];
    size_t valid_count = 0, seen = 0;
    char reason[200] = "";
    for (size_t index = 0; index < facts->count; index++) {
        char err[256];
        jad_dsse_t *envelope =
            jad_dsse_parse (facts->envelopes[index], facts->lens[index], err, sizeof err);
        jad_statement_t *statement =
            envelope ? jad_statement_parse (envelope, err, sizeof err) : NULL;
        const char *approved_env =
            statement ? jad_statement_predicate_text (statement, "env") : NULL;
        const char *approved_check =
            statement ? jad_statement_predicate_text (statement, "check") : NULL;
        if (statement && strcmp (jad_statement_type (statement), JAD_ATTEST_APPROVAL) == 0 &&
            jad_statement_about (statement, facts->sha256) && approved_env && approved_check &&
            strcmp (approved_env, env->name) == 0 && strcmp (approved_check, check->name) == 0) {
            seen++;
            const ctl_check_approver_t *approver = s_signer (facts, envelope);
            if (!approver)
                snprintf (reason, sizeof reason,
                          "approval %zu is signed by no operator's current signing key", index + 1);
            else if (check->not_deployer && facts->deployer &&
                     strcmp (approver->name, facts->deployer) == 0)
                snprintf (reason, sizeof reason, "approval by %.64s, who deploys (not_deployer)",
                          approver->name);
            else if (valid_count < sizeof valid / sizeof valid[0])
                valid[valid_count++] = approver;
        }
        jad_statement_destroy (&statement);
        jad_dsse_destroy (&envelope);
    }
    //  each role its own operator (ctl_approvals' matching), each operator once
    ctl_approver_t distinct[sizeof valid / sizeof valid[0]] = {{0}};
    size_t distinct_count = 0;
    for (size_t index = 0; index < valid_count; index++) {
        bool again = false;
        for (size_t earlier = 0; earlier < distinct_count && !again; earlier++)
            again = strcmp (distinct[earlier].name, valid[index]->name) == 0;
        if (!again)
            distinct[distinct_count++] =
                (ctl_approver_t){.name = valid[index]->name, .roles = valid[index]->roles};
    }
    const char *uncovered = NULL;
    ctl_approvals_cover ((const char *const *)check->approval, check->approval_count, distinct,
                         distinct_count, &uncovered);
    if (!uncovered) {
        result->verdict = JAD_CHECK_OK;
        return;
    }
    char roles[160];
    s_roles (check, roles, sizeof roles);
    if (seen == 0) {
        result->verdict = JAD_CHECK_MISSING;
        snprintf (result->why, sizeof result->why, "no approval by %s yet%s", roles,
                  check->not_deployer ? " (never the deployer)" : "");
        return;
    }
    result->verdict = JAD_CHECK_INVALID;
    if (*reason)
        snprintf (result->why, sizeof result->why, "%s; still needs %s", reason, uncovered);
    else
        snprintf (result->why, sizeof result->why,
                  "still needs an approval by %s (an operator covers one role, and holds it "
                  "now)",
                  uncovered);
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
            s_judge_approval (env, check, facts, result);
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
            holds = holds || ctl_approvals_holds (approver->roles, check->approval[role]);
        char roles[160];
        s_roles (check, roles, sizeof roles);
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
