//  ctl_approvals - emergency approvals: who covers which role
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_approvals.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define S_ROLES     CTL_APPROVALS_MAX_ROLES
#define S_APPROVERS CTL_APPROVALS_MAX_APPROVERS

size_t ctl_approvals_roles (const jad_env_config_t *env, bool security,
                            const char *roles[CTL_APPROVALS_MAX_ROLES])
{
    assert (env && roles);
    size_t count = 0;
    for (size_t index = 0; index < env->emergency_approval_count && count < S_ROLES; index++) {
        const jad_approver_config_t *approver = &env->emergency_approvals[index];
        if (!approver->when || (security && strcmp (approver->when, "security") == 0))
            roles[count++] = approver->role;
    }
    return count;
}

//  The first S_APPROVERS - reserve approvals as the shared matcher takes
//  them, into given. Returns how many.
static size_t s_given (const ctl_approver_t *approvals, size_t count, size_t reserve,
                       jad_approver_t given[S_APPROVERS])
{
    size_t total = count < S_APPROVERS - reserve ? count : S_APPROVERS - reserve;
    for (size_t index = 0; index < total; index++)
        given[index] =
            (jad_approver_t){.name = approvals[index].name, .roles = approvals[index].roles};
    return total;
}

size_t ctl_approvals_covered (const jad_env_config_t *env, bool security,
                              const ctl_approver_t *approvals, size_t count)
{
    assert (env);
    jad_approver_t given[S_APPROVERS];
    size_t total = s_given (approvals, count, 0, given);
    const char *roles[S_ROLES];
    size_t role_count = ctl_approvals_roles (env, security, roles);
    return jad_approval_match (roles, role_count, given, total, NULL);
}

int ctl_approvals_judge (const ctl_approval_plan_t *plan, const jad_env_config_t *env,
                         const ctl_approver_t *approvals, size_t count, const ctl_approver_t *who,
                         ctl_approval_t *result)
{
    assert (plan && who && result);
    memset (result, 0, sizeof *result);
    const char *state = plan->state ? plan->state : "-";
    if (!plan->emergency || strcmp (state, "approval") != 0 || !env) {
        snprintf (result->text, sizeof result->text,
                  "plan %s is not waiting for approval (state %s)", plan->id, state);
        return 2;
    }
    if (plan->deployer && strcmp (plan->deployer, who->name) == 0) {
        snprintf (result->text, sizeof result->text,
                  "refused: %s asked for this emergency deploy and cannot approve it", who->name);
        return 2;
    }
    for (size_t index = 0; index < count; index++)
        if (approvals[index].name && strcmp (approvals[index].name, who->name) == 0) {
            snprintf (result->text, sizeof result->text,
                      "refused: %s has already approved plan %s (one operator counts for one "
                      "role)",
                      who->name, plan->id);
            return 2;
        }
    //  approvers so far, then the new one last
    jad_approver_t given[S_APPROVERS];
    size_t approvers = s_given (approvals, count, 1, given);
    given[approvers++] = (jad_approver_t){.name = who->name, .roles = who->roles};
    const char *asked[S_ROLES];
    size_t roles = ctl_approvals_roles (env, plan->security, asked);
    int before_owner[S_ROLES], after_owner[S_ROLES];
    size_t before = jad_approval_match (asked, roles, given, approvers - 1, before_owner);
    size_t after = jad_approval_match (asked, roles, given, approvers, after_owner);
    result->required = roles;
    if (after == before) {
        char needed[512] = "";
        size_t used = 0;
        for (size_t role = 0; role < roles && used < sizeof needed; role++)
            if (before_owner[role] < 0)
                used += (size_t)snprintf (needed + used, sizeof needed - used, "%s%s",
                                          used ? ", " : "", asked[role]);
        snprintf (result->text, sizeof result->text,
                  "refused: %s (roles: %s) covers none of the roles still needed: %s "
                  "(one operator counts for one role)",
                  who->name, who->roles ? who->roles : "-", needed);
        result->covered = before;
        return 2;
    }
    result->accepted = true;
    result->covered = after;
    result->as_role = "?";
    for (size_t role = 0; role < roles; role++) {
        if (after_owner[role] == (int)approvers - 1)
            result->as_role = asked[role];
        if (after_owner[role] < 0)
            result->missing[result->missing_count++] = asked[role];
    }
    snprintf (result->decision, sizeof result->decision,
              "%s approved as %s (%zu of %zu roles covered)", who->name, result->as_role, after,
              roles);
    result->complete = after == roles;
    if (result->complete)
        snprintf (result->complete_decision, sizeof result->complete_decision,
                  "every listed role approved: starting the emergency deploy");
    return 0;
}
