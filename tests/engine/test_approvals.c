//  test_approvals - emergency approvals: each role its own operator,
//  admin holds every role, the deployer never approves, order-free
//  SPDX-License-Identifier: MPL-2.0

#include "engine/ctl_approvals.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static jad_approver_config_t s_two[] = {{"tech-lead", NULL}, {"product-owner", NULL}};
static jad_env_config_t s_prod = {
    .name = "prod", .emergency_approvals = s_two, .emergency_approval_count = 2};
static const ctl_approval_plan_t s_plan = {"p1", "approval", true, "alice", false};

Test (approvals, refusals_say_why)
{
    static const ctl_approver_t bob = {"bob", "tech-lead"};
    static const struct {
        const char *name;
        ctl_approval_plan_t plan;
        const jad_env_config_t *env;
        ctl_approver_t who;
        const char *text;
    } cases[] = {
        {"not an emergency",
         {"p1", "approval", false, "alice", false},
         &s_prod,
         {"carol", "admin"},
         "plan p1 is not waiting for approval (state approval)"},
        {"already running",
         {"p1", "running", true, "alice", false},
         &s_prod,
         {"carol", "admin"},
         "plan p1 is not waiting for approval (state running)"},
        {"no state",
         {"p1", NULL, true, "alice", false},
         &s_prod,
         {"carol", "admin"},
         "plan p1 is not waiting for approval (state -)"},
        {"environment gone",
         {"p1", "approval", true, "alice", false},
         NULL,
         {"carol", "admin"},
         "plan p1 is not waiting for approval (state approval)"},
        {"the deployer",
         {"p1", "approval", true, "alice", false},
         &s_prod,
         {"alice", "admin"},
         "refused: alice asked for this emergency deploy and cannot approve it"},
        {"twice",
         {"p1", "approval", true, "alice", false},
         &s_prod,
         {"bob", "tech-lead,product-owner"},
         "refused: bob has already approved plan p1 (one operator counts for one role)"},
        {"a role already covered",
         {"p1", "approval", true, "alice", false},
         &s_prod,
         {"carol", "tech-lead"},
         "refused: carol (roles: tech-lead) covers none of the roles still needed: product-owner "
         "(one operator counts for one role)"},
        {"no roles at all",
         {"p1", "approval", true, "alice", false},
         &s_prod,
         {"dave", NULL},
         "refused: dave (roles: -) covers none of the roles still needed: product-owner (one "
         "operator counts for one role)"},
        {"a role not listed",
         {"p1", "approval", true, "alice", false},
         &s_prod,
         {"erin", "viewer"},
         "refused: erin (roles: viewer) covers none of the roles still needed: product-owner (one "
         "operator counts for one role)"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        ctl_approval_t result;
        int rc = ctl_approvals_judge (&cases[index].plan, cases[index].env, &bob, 1,
                                      &cases[index].who, &result);
        cr_assert_eq (rc, 2, "%s", cases[index].name);
        cr_assert_not (result.accepted, "%s", cases[index].name);
        cr_assert_not (result.complete, "%s", cases[index].name);
        cr_assert_str_eq (result.text, cases[index].text, "%s", cases[index].name);
        cr_assert_str_empty (result.decision, "%s", cases[index].name);
    }
}

Test (approvals, each_role_needs_its_own_operator)
{
    ctl_approver_t given[3];
    size_t count = 0;
    ctl_approval_t result;
    //  alice asked; bob (tech-lead) approves first
    given[count] = (ctl_approver_t){"bob", "tech-lead"};
    cr_assert_eq (ctl_approvals_judge (&s_plan, &s_prod, given, count, &given[count], &result), 0);
    cr_assert (result.accepted);
    cr_assert_str_eq (result.as_role, "tech-lead");
    cr_assert_eq (result.covered, 1);
    cr_assert_eq (result.required, 2);
    cr_assert_eq (result.missing_count, 1);
    cr_assert_str_eq (result.missing[0], "product-owner");
    cr_assert_not (result.complete);
    cr_assert_str_eq (result.decision, "bob approved as tech-lead (1 of 2 roles covered)");
    cr_assert_str_empty (result.complete_decision);
    count++;
    cr_assert_eq (ctl_approvals_covered (&s_prod, false, given, count), 1);
    //  carol holds both: she covers the role still missing
    given[count] = (ctl_approver_t){"carol", "tech-lead,product-owner"};
    cr_assert_eq (ctl_approvals_judge (&s_plan, &s_prod, given, count, &given[count], &result), 0);
    cr_assert_str_eq (result.as_role, "product-owner");
    cr_assert_eq (result.covered, 2);
    cr_assert_eq (result.missing_count, 0);
    cr_assert (result.complete);
    cr_assert_str_eq (result.decision, "carol approved as product-owner (2 of 2 roles covered)");
    cr_assert_str_eq (result.complete_decision,
                      "every listed role approved: starting the emergency deploy");
    count++;
    cr_assert_eq (ctl_approvals_covered (&s_prod, false, given, count), 2);
}

Test (approvals, order_does_not_matter)
{
    //  carol (both roles) first takes tech-lead; bob (tech-lead) then
    //  moves her to product-owner: the matching is recomputed
    ctl_approver_t given[] = {{"carol", "tech-lead,product-owner"}, {"bob", "tech-lead"}};
    ctl_approval_t result;
    cr_assert_eq (ctl_approvals_judge (&s_plan, &s_prod, given, 0, &given[0], &result), 0);
    cr_assert_str_eq (result.as_role, "tech-lead");
    cr_assert_eq (ctl_approvals_judge (&s_plan, &s_prod, given, 1, &given[1], &result), 0);
    cr_assert_str_eq (result.as_role, "tech-lead");
    cr_assert (result.complete);
    cr_assert_eq (ctl_approvals_covered (&s_prod, false, given, 2), 2);
}

Test (approvals, admin_holds_every_role_but_counts_once)
{
    ctl_approver_t given[] = {{"root", "admin"}, {"root2", "viewer,admin"}};
    ctl_approval_t result;
    cr_assert_eq (ctl_approvals_judge (&s_plan, &s_prod, given, 0, &given[0], &result), 0);
    cr_assert_str_eq (result.as_role, "tech-lead");
    cr_assert_not (result.complete);
    //  the augmenting path moves root to product-owner: root2 takes tech-lead
    cr_assert_eq (ctl_approvals_judge (&s_plan, &s_prod, given, 1, &given[1], &result), 0);
    cr_assert_str_eq (result.as_role, "tech-lead");
    cr_assert_eq (result.covered, 2);
    cr_assert (result.complete);
}

Test (approvals, augmenting_paths_across_three_roles)
{
    static jad_approver_config_t three[] = {{"a", NULL}, {"b", NULL}, {"c", NULL}};
    jad_env_config_t env = {
        .name = "x", .emergency_approvals = three, .emergency_approval_count = 3};
    ctl_approver_t given[] = {{"x", "a,b"}, {"y", "a"}, {"z", "b,c"}, {"w", "c"}};
    ctl_approval_t result;
    cr_assert_eq (ctl_approvals_judge (&s_plan, &env, given, 0, &given[0], &result), 0);
    cr_assert_str_eq (result.as_role, "a");
    //  y can only be a: x moves to b
    cr_assert_eq (ctl_approvals_judge (&s_plan, &env, given, 1, &given[1], &result), 0);
    cr_assert_str_eq (result.as_role, "a");
    cr_assert_eq (result.covered, 2);
    cr_assert_str_eq (result.missing[0], "c");
    cr_assert_eq (ctl_approvals_judge (&s_plan, &env, given, 2, &given[2], &result), 0);
    cr_assert_str_eq (result.as_role, "c");
    cr_assert (result.complete);
    //  with every role covered, a fourth operator covers nothing new
    cr_assert_eq (ctl_approvals_judge (&s_plan, &env, given, 3, &given[3], &result), 2);
    cr_assert_str_eq (result.text, "refused: w (roles: c) covers none of the roles still needed:  "
                                   "(one operator counts for one role)");
    cr_assert_eq (result.covered, 3);
    cr_assert_eq (ctl_approvals_covered (&env, false, given, 4), 3);
    cr_assert_eq (ctl_approvals_covered (&env, false, given, 0), 0);
}

Test (approvals, bounded_by_the_limits)
{
    //  more roles than the limit: only the first CTL_APPROVALS_MAX_ROLES count
    jad_approver_config_t roles[CTL_APPROVALS_MAX_ROLES + 2];
    char names[CTL_APPROVALS_MAX_ROLES + 2][8];
    for (size_t index = 0; index < CTL_APPROVALS_MAX_ROLES + 2; index++) {
        snprintf (names[index], sizeof names[index], "r%zu", index);
        roles[index] = (jad_approver_config_t){names[index], NULL};
    }
    jad_env_config_t env = {.name = "x",
                            .emergency_approvals = roles,
                            .emergency_approval_count = CTL_APPROVALS_MAX_ROLES + 2};
    //  more approvers than the limit, all admins
    ctl_approver_t given[CTL_APPROVALS_MAX_APPROVERS + 4];
    char who[CTL_APPROVALS_MAX_APPROVERS + 4][8];
    for (size_t index = 0; index < CTL_APPROVALS_MAX_APPROVERS + 4; index++) {
        snprintf (who[index], sizeof who[index], "op%zu", index);
        given[index] = (ctl_approver_t){who[index], "admin"};
    }
    cr_assert_eq (ctl_approvals_covered (&env, false, given, CTL_APPROVALS_MAX_APPROVERS + 4),
                  CTL_APPROVALS_MAX_ROLES);
    ctl_approval_t result;
    cr_assert_eq (ctl_approvals_judge (&s_plan, &env, given, 10, &given[10], &result), 0);
    cr_assert_eq (result.required, CTL_APPROVALS_MAX_ROLES);
    cr_assert_eq (result.covered, 11);
}

Test (approvals, a_security_role_is_asked_only_of_a_security_emergency)
{
    //  emergency_approvals: [{role: security, when: security}, tech-lead]
    static jad_approver_config_t listed[] = {{"security", "security"}, {"tech-lead", NULL}};
    jad_env_config_t env = {
        .name = "prod", .emergency_approvals = listed, .emergency_approval_count = 2};
    const char *roles[CTL_APPROVALS_MAX_ROLES];
    cr_assert_eq (ctl_approvals_roles (&env, false, roles), 1);
    cr_assert_str_eq (roles[0], "tech-lead");
    cr_assert_eq (ctl_approvals_roles (&env, true, roles), 2);
    cr_assert_str_eq (roles[0], "security");
    cr_assert_str_eq (roles[1], "tech-lead");

    //  an ordinary emergency: the tech lead alone starts it
    ctl_approver_t given[] = {{"bob", "tech-lead"}, {"sam", "security"}};
    ctl_approval_t result;
    cr_assert_eq (ctl_approvals_judge (&s_plan, &env, given, 0, &given[0], &result), 0);
    cr_assert (result.complete);
    cr_assert_eq (result.required, 1);
    cr_assert_str_eq (result.decision, "bob approved as tech-lead (1 of 1 roles covered)");
    //  ... and the security role is not asked of it
    cr_assert_eq (ctl_approvals_judge (&s_plan, &env, given, 0, &given[1], &result), 2);
    cr_assert_str_eq (result.text, "refused: sam (roles: security) covers none of the roles "
                                   "still needed: tech-lead (one operator counts for one role)");

    //  a security emergency waits for both
    ctl_approval_plan_t security = s_plan;
    security.security = true;
    cr_assert_eq (ctl_approvals_judge (&security, &env, given, 0, &given[0], &result), 0);
    cr_assert_not (result.complete);
    cr_assert_eq (result.required, 2);
    cr_assert_eq (result.missing_count, 1);
    cr_assert_str_eq (result.missing[0], "security");
    cr_assert_eq (ctl_approvals_judge (&security, &env, given, 1, &given[1], &result), 0);
    cr_assert_str_eq (result.as_role, "security");
    cr_assert (result.complete);
    cr_assert_eq (ctl_approvals_covered (&env, true, given, 1), 1);
    cr_assert_eq (ctl_approvals_covered (&env, true, given, 2), 2);
    cr_assert_eq (ctl_approvals_covered (&env, false, given, 2), 1);
}
