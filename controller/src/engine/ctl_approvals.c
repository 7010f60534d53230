//  ctl_approvals - emergency approvals: who covers which role
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_approvals.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define S_ROLES     CTL_APPROVALS_MAX_ROLES
#define S_APPROVERS CTL_APPROVALS_MAX_APPROVERS

bool ctl_approvals_holds (const char *roles, const char *role)
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

//  Maximum matching of approvers to roles; role_owner[role] = approver
//  index or -1. Returns the number of roles covered.
static size_t s_match (bool can[S_APPROVERS][S_ROLES], size_t approvers, size_t roles,
                       int *role_owner)
{
    size_t covered = 0;
    for (size_t role = 0; role < roles; role++)
        role_owner[role] = -1;
    for (size_t who = 0; who < approvers; who++) {
        bool seen[S_ROLES] = {false};
        if (s_augment (can, roles, who, role_owner, seen))
            covered++;
    }
    return covered;
}

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

//  Who can cover which of `roles`, for up to S_APPROVERS approvers.
static size_t s_table (const char *const *roles, size_t role_count, const ctl_approver_t *approvals,
                       size_t count, const ctl_approver_t *who, bool can[S_APPROVERS][S_ROLES])
{
    size_t limit = S_APPROVERS - (who ? 1 : 0);
    size_t approvers = 0;
    for (size_t index = 0; index < count && approvers < limit; index++, approvers++)
        for (size_t role = 0; role < role_count; role++)
            can[approvers][role] = ctl_approvals_holds (approvals[index].roles, roles[role]);
    if (who) {
        for (size_t role = 0; role < role_count; role++)
            can[approvers][role] = ctl_approvals_holds (who->roles, roles[role]);
        approvers++;
    }
    return approvers;
}

size_t ctl_approvals_covered (const jad_env_config_t *env, bool security,
                              const ctl_approver_t *approvals, size_t count)
{
    assert (env);
    const char *roles[S_ROLES];
    size_t role_count = ctl_approvals_roles (env, security, roles);
    bool can[S_APPROVERS][S_ROLES];
    int owner[S_ROLES];
    size_t approvers = s_table (roles, role_count, approvals, count, NULL, can);
    return s_match (can, approvers, role_count, owner);
}

size_t ctl_approvals_cover (const char *const *roles, size_t role_count,
                            const ctl_approver_t *approvers, size_t count, const char **missing)
{
    bool can[S_APPROVERS][S_ROLES];
    int owner[S_ROLES];
    size_t role_total = role_count < S_ROLES ? role_count : S_ROLES;
    size_t approver_total = count < S_APPROVERS ? count : S_APPROVERS;
    for (size_t index = 0; index < approver_total; index++)
        for (size_t role = 0; role < role_total; role++)
            can[index][role] = ctl_approvals_holds (approvers[index].roles, roles[role]);
    size_t covered = s_match (can, approver_total, role_total, owner);
    if (missing) {
        *missing = NULL;
        for (size_t role = 0; role < role_total && !*missing; role++)
            if (owner[role] < 0)
                *missing = roles[role];
    }
    return covered;
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
    const char *asked[S_ROLES];
    size_t roles = ctl_approvals_roles (env, plan->security, asked);
    bool can[S_APPROVERS][S_ROLES];
    size_t approvers = s_table (asked, roles, approvals, count, who, can);
    int before_owner[S_ROLES], after_owner[S_ROLES];
    size_t before = s_match (can, approvers - 1, roles, before_owner);
    size_t after = s_match (can, approvers, roles, after_owner);
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
