//  test_approval - the one approval matcher the controller and the agents
//  share (jad_approval.h): roles read from comma-separated lists, admin
//  holds every role, each role its own operator, order-free, bounded
//  SPDX-License-Identifier: MPL-2.0

#include "jad_approval.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test (approval, holds_reads_comma_separated_roles)
{
    static const struct {
        const char *roles;
        const char *role;
        bool held;
    } cases[] = {
        {"tech-lead", "tech-lead", true},
        {"viewer,tech-lead", "tech-lead", true},
        {"tech-lead,viewer", "tech-lead", true},
        {",tech-lead,", "tech-lead", true},
        {"tech-leads", "tech-lead", false},
        {"tech", "tech-lead", false},
        {"admin", "anything", true},
        {"viewer,admin", "anything", true},
        {"administrator", "anything", false},
        {"", "tech-lead", false},
        {NULL, "tech-lead", false},
        {"deployer,,viewer", "viewer", true},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        cr_assert_eq (jad_approval_holds (cases[index].roles, cases[index].role), cases[index].held,
                      "'%s' holds '%s'", cases[index].roles ? cases[index].roles : "(null)",
                      cases[index].role);
}

Test (approval, each_role_its_own_operator_whatever_the_order)
{
    static const char *const roles[] = {"tech-lead", "product-owner"};
    static const struct {
        const char *name;
        jad_approver_t approvers[3];
        size_t count;
        size_t covered;
        const char *missing;  //  first role left uncovered, or NULL
    } cases[] = {
        {"nobody", {{0}}, 0, 0, "tech-lead"},
        {"one role", {{.name = "amy", .roles = "tech-lead"}}, 1, 1, "product-owner"},
        {"one operator with both roles covers one",
         {{.name = "amy", .roles = "tech-lead,product-owner"}},
         1,
         1,
         "product-owner"},
        {"both roles by one operator twice is still one",
         {{.name = "amy", .roles = "admin"}},
         1,
         1,
         "product-owner"},
        {"two operators, each their role",
         {{.name = "amy", .roles = "tech-lead"}, {.name = "pete", .roles = "product-owner"}},
         2,
         2,
         NULL},
        //  amy takes tech-lead first; pete can only be tech-lead: amy moves
        {"augmenting path",
         {{.name = "amy", .roles = "tech-lead,product-owner"},
          {.name = "pete", .roles = "tech-lead"}},
         2,
         2,
         NULL},
        {"the same the other way round",
         {{.name = "pete", .roles = "tech-lead"},
          {.name = "amy", .roles = "tech-lead,product-owner"}},
         2,
         2,
         NULL},
        {"a role nobody holds",
         {{.name = "amy", .roles = "tech-lead"}, {.name = "vic", .roles = "viewer"}},
         2,
         1,
         "product-owner"},
        {"two admins cover both",
         {{.name = "r1", .roles = "admin"}, {.name = "r2", .roles = "viewer,admin"}},
         2,
         2,
         NULL},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        const char *missing = "unset";
        size_t covered =
            jad_approval_cover (roles, 2, cases[index].approvers, cases[index].count, &missing);
        cr_assert_eq (covered, cases[index].covered, "%s: %zu covered", cases[index].name, covered);
        if (cases[index].missing)
            cr_assert_str_eq (missing, cases[index].missing, "%s", cases[index].name);
        else
            cr_assert_null (missing, "%s: %s missing", cases[index].name, missing);
    }
}

Test (approval, match_says_who_covers_which_role)
{
    static const char *const roles[] = {"a", "b", "c"};
    jad_approver_t given[] = {{.name = "x", .roles = "a,b"},
                              {.name = "y", .roles = "a"},
                              {.name = "z", .roles = "b,c"},
                              {.name = "w", .roles = "c"}};
    int owner[3];
    cr_assert_eq (jad_approval_match (roles, 3, given, 1, owner), 1);
    cr_assert_eq (owner[0], 0);
    cr_assert_eq (owner[1], -1);
    //  y can only be a: x moves to b
    cr_assert_eq (jad_approval_match (roles, 3, given, 2, owner), 2);
    cr_assert_eq (owner[0], 1);
    cr_assert_eq (owner[1], 0);
    cr_assert_eq (owner[2], -1);
    cr_assert_eq (jad_approval_match (roles, 3, given, 3, owner), 3);
    cr_assert_eq (owner[2], 2);
    //  a fourth covers nothing new
    cr_assert_eq (jad_approval_match (roles, 3, given, 4, owner), 3);
    cr_assert_eq (jad_approval_match (roles, 3, given, 4, NULL), 3);
    cr_assert_eq (jad_approval_match (roles, 0, given, 4, owner), 0);
}

Test (approval, bounded_by_the_limits)
{
    //  more roles and approvers than the limits: only the first ones count
    char names[JAD_APPROVAL_MAX_ROLES + 2][8];
    const char *roles[JAD_APPROVAL_MAX_ROLES + 2];
    for (size_t index = 0; index < JAD_APPROVAL_MAX_ROLES + 2; index++) {
        snprintf (names[index], sizeof names[index], "r%zu", index);
        roles[index] = names[index];
    }
    char who[JAD_APPROVAL_MAX_APPROVERS + 4][8];
    jad_approver_t given[JAD_APPROVAL_MAX_APPROVERS + 4];
    for (size_t index = 0; index < JAD_APPROVAL_MAX_APPROVERS + 4; index++) {
        snprintf (who[index], sizeof who[index], "op%zu", index);
        given[index] = (jad_approver_t){.name = who[index], .roles = "admin"};
    }
    int owner[JAD_APPROVAL_MAX_ROLES + 2];
    cr_assert_eq (jad_approval_match (roles, JAD_APPROVAL_MAX_ROLES + 2, given,
                                      JAD_APPROVAL_MAX_APPROVERS + 4, owner),
                  JAD_APPROVAL_MAX_ROLES);
    cr_assert_eq (owner[JAD_APPROVAL_MAX_ROLES], -1);
    cr_assert_eq (owner[JAD_APPROVAL_MAX_ROLES + 1], -1);
    const char *missing = "unset";
    cr_assert_eq (jad_approval_cover (roles, JAD_APPROVAL_MAX_ROLES + 2, given, 3, &missing), 3);
    cr_assert_str_eq (missing, "r3");
}
