//  jad_approval - human approvals: who covers which role, and the judge of
//  an approval check
//  SPDX-License-Identifier: MPL-2.0

#include "jad_approval.h"
#include "jad_util.h"

#include <stdio.h>
#include <string.h>

#define S_ROLES     JAD_APPROVAL_MAX_ROLES
#define S_APPROVERS JAD_APPROVAL_MAX_APPROVERS

bool jad_approval_holds (const char *roles, const char *role)
{
    //  walk "a,b,c" without copying: each item is compared in place
    for (const char *item = roles; item && *item;) {
        size_t len = strcspn (item, ",");
        if ((len == strlen (role) && strncmp (item, role, len) == 0) ||
            (len == 5 && strncmp (item, "admin", 5) == 0))
            return true;
        item += len;
        if (*item == ',')
            item++;
    }
    return false;
}

//  Kuhn's augmenting path: try to give approver `who` a role.
static bool s_augment (bool can[S_APPROVERS][S_ROLES], size_t roles, size_t who, int *role_owner,
                       bool *seen)
{
    for (size_t role = 0; role < roles; role++) {
        if (!can[who][role] || seen[role])
            continue;
        seen[role] = true;
        if (role_owner[role] < 0 ||
            s_augment (can, roles, (size_t)role_owner[role], role_owner, seen)) {
            role_owner[role] = (int)who;
            return true;
        }
    }
    return false;
}

size_t jad_approval_match (const char *const *roles, size_t role_count,
                           const jad_approver_t *approvers, size_t count, int *role_owner)
{
    bool can[S_APPROVERS][S_ROLES];
    int owner[S_ROLES];
    size_t role_total = role_count < S_ROLES ? role_count : S_ROLES;
    size_t approver_total = count < S_APPROVERS ? count : S_APPROVERS;
    for (size_t index = 0; index < approver_total; index++)
        for (size_t role = 0; role < role_total; role++)
            can[index][role] = jad_approval_holds (approvers[index].roles, roles[role]);
    for (size_t role = 0; role < role_total; role++)
        owner[role] = -1;
    size_t covered = 0;
    for (size_t who = 0; who < approver_total; who++) {
        bool seen[S_ROLES] = {false};
        if (s_augment (can, role_total, who, owner, seen))
            covered++;
    }
    if (role_owner)
        for (size_t role = 0; role < role_count; role++)
            role_owner[role] = role < role_total ? owner[role] : -1;
    return covered;
}

size_t jad_approval_cover (const char *const *roles, size_t role_count,
                           const jad_approver_t *approvers, size_t count, const char **missing)
{
    int owner[S_ROLES];
    size_t role_total = role_count < S_ROLES ? role_count : S_ROLES;
    size_t covered = jad_approval_match (roles, role_total, approvers, count, owner);
    if (missing) {
        *missing = NULL;
        for (size_t role = 0; role < role_total && !*missing; role++)
            if (owner[role] < 0)
                *missing = roles[role];
    }
    return covered;
}

const char *jad_approval_roles (const jad_check_config_t *check, char *out, size_t len)
{
    size_t used = 0;
    if (len)
        out[0] = 0;
    for (size_t index = 0; index < check->approval_count && used < len; index++)
        used += (size_t)snprintf (out + used, len - used, "%s%s", index ? ", " : "",
                                  check->approval[index]);
    return out;
}

//  The approver whose signing key signed the envelope, or NULL.
static const jad_approver_t *s_signer (const jad_approver_t *approvers, size_t count,
                                       const jad_dsse_t *envelope)
{
    for (size_t index = 0; index < count; index++) {
        uint8_t key[32];
        const jad_approver_t *approver = &approvers[index];
        if (approver->signing_key && jad_unhex (approver->signing_key, key, 32) == 0 &&
            jad_dsse_signed_by (envelope, key))
            return approver;
    }
    return NULL;
}

jad_check_verdict_t jad_approval_judge (const jad_check_config_t *check, const char *env,
                                        const char *const *envelopes, const size_t *lens,
                                        size_t count, const char *sha256_hex,
                                        const jad_approver_t *approvers, size_t approver_count,
                                        const char *deployer, char *why, size_t whylen)
{
    const jad_approver_t *valid[S_APPROVERS];
    size_t valid_count = 0, seen = 0;
    char reason[200] = "";
    if (whylen)
        why[0] = 0;
    for (size_t index = 0; index < count; index++) {
        char err[256];
        jad_dsse_t *envelope = jad_dsse_parse (envelopes[index], lens[index], err, sizeof err);
        jad_statement_t *statement =
            envelope ? jad_statement_parse (envelope, err, sizeof err) : NULL;
        const char *approved_env =
            statement ? jad_statement_predicate_text (statement, "env") : NULL;
        const char *approved_check =
            statement ? jad_statement_predicate_text (statement, "check") : NULL;
        if (statement && strcmp (jad_statement_type (statement), JAD_ATTEST_APPROVAL) == 0 &&
            jad_statement_about (statement, sha256_hex) && approved_env && approved_check &&
            strcmp (approved_env, env) == 0 && strcmp (approved_check, check->name) == 0) {
            seen++;
            const jad_approver_t *approver = s_signer (approvers, approver_count, envelope);
            if (!approver)
                snprintf (reason, sizeof reason,
                          "approval %zu is signed by no operator's current signing key", index + 1);
            else if (check->not_deployer && deployer && strcmp (approver->name, deployer) == 0)
                snprintf (reason, sizeof reason, "approval by %.64s, who deploys (not_deployer)",
                          approver->name);
            else if (valid_count < S_APPROVERS)
                valid[valid_count++] = approver;
        }
        jad_statement_destroy (&statement);
        jad_dsse_destroy (&envelope);
    }
    //  each role its own operator, each operator once
    jad_approver_t distinct[S_APPROVERS] = {{0}};
    size_t distinct_count = 0;
    for (size_t index = 0; index < valid_count; index++) {
        bool again = false;
        for (size_t earlier = 0; earlier < distinct_count && !again; earlier++)
            again = strcmp (distinct[earlier].name, valid[index]->name) == 0;
        if (!again)
            distinct[distinct_count++] = *valid[index];
    }
    const char *uncovered = NULL;
    jad_approval_cover ((const char *const *)check->approval, check->approval_count, distinct,
                        distinct_count, &uncovered);
    if (!uncovered)
        return JAD_CHECK_OK;
    char roles[160];
    jad_approval_roles (check, roles, sizeof roles);
    if (seen == 0) {
        snprintf (why, whylen, "no approval by %s yet%s", roles,
                  check->not_deployer ? " (never the deployer)" : "");
        return JAD_CHECK_MISSING;
    }
    if (*reason)
        snprintf (why, whylen, "%s; still needs %s", reason, uncovered);
    else
        snprintf (why, whylen,
                  "still needs an approval by %s (an operator covers one role, and holds it "
                  "now)",
                  uncovered);
    return JAD_CHECK_INVALID;
}
