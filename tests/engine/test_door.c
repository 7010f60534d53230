//  test_door - the policy door: every plan kind through every rule, with
//  each refusal's exact text (tests/integration and operators match them)
//  SPDX-License-Identifier: MPL-2.0

#include "engine/ctl_door.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  Windows are in the controller's local time: the tests run in UTC.
static void s_utc (void)
{
    setenv ("TZ", "UTC", 1);
    tzset ();
}

TestSuite (door, .init = s_utc);

#define S_TUE_1000 1796724000000LL  //  Tue 2026-12-08 10:00 UTC
#define S_TUE_0900 1796720400000LL
#define S_TUE_0859 1796720340000LL
#define S_TUE_1700 1796749200000LL
#define S_WED_1000 1796810400000LL
#define S_THU_1659 1796921940000LL
#define S_MON_1000 (S_TUE_1000 - 86400000LL)

static char *s_prod_windows[] = {"Tue 09:00-17:00", "Thu 09:00-17:00"};
static char *s_closed_windows[] = {"Mon 00:00-24:00"};
static jad_approver_config_t s_roles[] = {{"tech-lead", NULL}, {"product-owner", NULL}};
//  emergency_approvals: [{role: security, when: security}, tech-lead]
static jad_approver_config_t s_secure_roles[] = {{"security", "security"}, {"tech-lead", NULL}};
//  emergency_approvals: [{role: security, when: security}]
static jad_approver_config_t s_security_only[] = {{"security", "security"}};

static jad_env_config_t s_envs[] = {
    {.name = "dev", .track = "develop", .auto_deploy = true, .strategy = "all"},
    {.name = "staging",
     .track = "release/*",
     .auto_deploy = true,
     .strategy = "rolling",
     .batch = "50%"},
    {.name = "prod",
     .track = "main",
     .auto_deploy = true,
     .requires = "staging",
     .strategy = "canary",
     .batch = "25%",
     .canary = 1,
     .bake_ms = 600000,
     .windows = s_prod_windows,
     .window_count = 2,
     .emergency_approvals = s_roles,
     .emergency_approval_count = 2},
    {.name = "closed", .strategy = "all", .windows = s_closed_windows, .window_count = 1},
    {.name = "secure",
     .strategy = "all",
     .emergency_approvals = s_secure_roles,
     .emergency_approval_count = 2},
    {.name = "security-only",
     .strategy = "all",
     .emergency_approvals = s_security_only,
     .emergency_approval_count = 1},
};

static const jad_env_config_t *s_env (const char *name)
{
    for (size_t index = 0; name && index < sizeof s_envs / sizeof s_envs[0]; index++)
        if (strcmp (s_envs[index].name, name) == 0)
            return &s_envs[index];
    return NULL;
}

//  Facts about a release.
#define S_GOOD                                                                                     \
    {                                                                                              \
        .exists = true, .counter = 7, .promoted = true                                             \
    }
#define S_UNVETTED                                                                                 \
    {                                                                                              \
        .exists = true, .counter = 7                                                               \
    }
#define S_BAD                                                                                      \
    {                                                                                              \
        .exists = true, .counter = 7, .promoted = true, .bad = "alert a1 fired: x"                 \
    }
#define S_BAD_UNVETTED                                                                             \
    {                                                                                              \
        .exists = true, .counter = 7, .bad = "alert a1 fired: x"                                   \
    }
#define S_LOW                                                                                      \
    {                                                                                              \
        .exists = true, .counter = 3, .has_floor = true, .floor = 5, .floor_version = "1.5",       \
        .promoted = true                                                                           \
    }
#define S_AT_FLOOR                                                                                 \
    {                                                                                              \
        .exists = true, .counter = 5, .has_floor = true, .floor = 5, .floor_version = "1.5",       \
        .promoted = true                                                                           \
    }
#define S_MISSING                                                                                  \
    {                                                                                              \
        .exists = false, .promoted = true                                                          \
    }
#define S_ACTIVE                                                                                   \
    {                                                                                              \
        .exists = true, .counter = 7, .promoted = true, .active_above = "3.0"                      \
    }

typedef struct {
    const char *name;
    ctl_door_kind_t kind;
    const char *env;
    const char *version;
    bool force;
    const char *skips;  //  emergency_skips, comma-separated
    ctl_release_facts_t facts;
    int64_t now;
    ctl_door_outcome_t outcome;
    const char *rule;  //  refused: the rule
    const char *text;  //  refused: the exact message; else the plan's reason
} s_case_t;

#define S_REQ_TEXT                                                                                 \
    "refused by requires: web 2.0 has not succeeded in staging (prod requires staging)"
#define S_WIN_TEXT                                                                                 \
    "refused by windows: prod accepts deploys only in Tue 09:00-17:00, Thu 09:00-17:00"
#define S_BAD_TEXT                                                                                 \
    "refused: web 2.0 is marked bad (alert a1 fired: x); deploy it anyway with --force"
#define S_LOW_TEXT                                                                                 \
    "refused by security floor: web 2.0 has release counter 3, below the floor 5 (web 1.5, set "   \
    "with jadctl release floor)"
#define S_NONE_TEXT "no release web 2.0 (add it with: jadctl release add)"

static const s_case_t s_cases[] = {
    //  deploy
    {"deploy: unknown environment", CTL_DOOR_DEPLOY, NULL, "2.0", false, NULL, S_GOOD, S_TUE_1000,
     CTL_DOOR_REFUSED, "environment", "unknown environment 'nowhere' (see controller.yaml)"},
    {"deploy: allowed", CTL_DOOR_DEPLOY, "dev", "2.0", false, NULL, S_GOOD, S_WED_1000,
     CTL_DOOR_ALLOWED, NULL, "deploy requested"},
    {"deploy: bad mark", CTL_DOOR_DEPLOY, "dev", "2.0", false, NULL, S_BAD, S_TUE_1000,
     CTL_DOOR_REFUSED, "bad mark", S_BAD_TEXT},
    {"deploy: --force overrides a bad mark", CTL_DOOR_DEPLOY, "dev", "2.0", true, NULL, S_BAD,
     S_TUE_1000, CTL_DOOR_ALLOWED, NULL, "deploy requested (--force: the release is marked bad)"},
    {"deploy: bad mark before requires", CTL_DOOR_DEPLOY, "prod", "2.0", false, NULL,
     S_BAD_UNVETTED, S_TUE_1000, CTL_DOOR_REFUSED, "bad mark", S_BAD_TEXT},
    {"deploy: requires", CTL_DOOR_DEPLOY, "prod", "2.0", false, NULL, S_UNVETTED, S_TUE_1000,
     CTL_DOOR_REFUSED, "requires", S_REQ_TEXT},
    {"deploy: --force never overrides requires", CTL_DOOR_DEPLOY, "prod", "2.0", true, NULL,
     S_BAD_UNVETTED, S_TUE_1000, CTL_DOOR_REFUSED, "requires", S_REQ_TEXT},
    {"deploy: requires before windows", CTL_DOOR_DEPLOY, "prod", "2.0", false, NULL, S_UNVETTED,
     S_WED_1000, CTL_DOOR_REFUSED, "requires", S_REQ_TEXT},
    {"deploy: windows", CTL_DOOR_DEPLOY, "prod", "2.0", false, NULL, S_GOOD, S_WED_1000,
     CTL_DOOR_REFUSED, "windows", S_WIN_TEXT " (now Wed 10:00); use --emergency --reason TEXT"},
    {"deploy: --force never overrides windows", CTL_DOOR_DEPLOY, "prod", "2.0", true, NULL, S_BAD,
     S_WED_1000, CTL_DOOR_REFUSED, "windows",
     S_WIN_TEXT " (now Wed 10:00); use --emergency --reason TEXT"},
    {"deploy: a window's first minute", CTL_DOOR_DEPLOY, "prod", "2.0", false, NULL, S_GOOD,
     S_TUE_0900, CTL_DOOR_ALLOWED, NULL, "deploy requested"},
    {"deploy: before a window", CTL_DOOR_DEPLOY, "prod", "2.0", false, NULL, S_GOOD, S_TUE_0859,
     CTL_DOOR_REFUSED, "windows", S_WIN_TEXT " (now Tue 08:59); use --emergency --reason TEXT"},
    {"deploy: a window's end is outside", CTL_DOOR_DEPLOY, "prod", "2.0", false, NULL, S_GOOD,
     S_TUE_1700, CTL_DOOR_REFUSED, "windows",
     S_WIN_TEXT " (now Tue 17:00); use --emergency --reason TEXT"},
    {"deploy: the second window", CTL_DOOR_DEPLOY, "prod", "2.0", false, NULL, S_GOOD, S_THU_1659,
     CTL_DOOR_ALLOWED, NULL, "deploy requested"},
    {"deploy: no such release", CTL_DOOR_DEPLOY, "dev", "2.0", false, NULL, S_MISSING, S_TUE_1000,
     CTL_DOOR_REFUSED, "release", S_NONE_TEXT},
    {"deploy: below the floor", CTL_DOOR_DEPLOY, "dev", "2.0", false, NULL, S_LOW, S_TUE_1000,
     CTL_DOOR_REFUSED, "security floor", S_LOW_TEXT},
    {"deploy: --force never overrides the floor", CTL_DOOR_DEPLOY, "dev", "2.0", true, NULL, S_LOW,
     S_TUE_1000, CTL_DOOR_REFUSED, "security floor", S_LOW_TEXT},
    {"deploy: at the floor", CTL_DOOR_DEPLOY, "prod", "2.0", false, NULL, S_AT_FLOOR, S_TUE_1000,
     CTL_DOOR_ALLOWED, NULL, "deploy requested"},

    //  auto-deploy
    {"auto-deploy: allowed", CTL_DOOR_AUTO_DEPLOY, "dev", "2.0", false, NULL, S_GOOD, S_WED_1000,
     CTL_DOOR_ALLOWED, NULL, "auto_deploy: dev tracks develop, release on branch develop"},
    {"auto-deploy: requires", CTL_DOOR_AUTO_DEPLOY, "prod", "2.0", false, NULL, S_UNVETTED,
     S_TUE_1000, CTL_DOOR_REFUSED, "requires", S_REQ_TEXT},
    {"auto-deploy: windows", CTL_DOOR_AUTO_DEPLOY, "prod", "2.0", false, NULL, S_GOOD, S_WED_1000,
     CTL_DOOR_REFUSED, "windows", S_WIN_TEXT " (now Wed 10:00); use --emergency --reason TEXT"},
    {"auto-deploy: bad mark", CTL_DOOR_AUTO_DEPLOY, "dev", "2.0", false, NULL, S_BAD, S_TUE_1000,
     CTL_DOOR_REFUSED, "bad mark", S_BAD_TEXT},
    {"auto-deploy: below the floor", CTL_DOOR_AUTO_DEPLOY, "dev", "2.0", false, NULL, S_LOW,
     S_TUE_1000, CTL_DOOR_REFUSED, "security floor", S_LOW_TEXT},

    //  emergency
    {"emergency: skips windows, waits for approvals", CTL_DOOR_EMERGENCY, "prod", "2.0", false,
     NULL, S_GOOD, S_WED_1000, CTL_DOOR_NEEDS_APPROVAL, NULL, "emergency deploy: payments down"},
    {"emergency: refused by requires unless listed", CTL_DOOR_EMERGENCY, "prod", "2.0", false, NULL,
     S_UNVETTED, S_WED_1000, CTL_DOOR_REFUSED, "requires", S_REQ_TEXT},
    {"emergency: emergency_skips bake only keeps requires", CTL_DOOR_EMERGENCY, "prod", "2.0",
     false, "bake", S_UNVETTED, S_WED_1000, CTL_DOOR_REFUSED, "requires", S_REQ_TEXT},
    {"emergency: emergency_skips requires", CTL_DOOR_EMERGENCY, "prod", "2.0", false, "requires",
     S_UNVETTED, S_WED_1000, CTL_DOOR_NEEDS_APPROVAL, NULL,
     "emergency deploy: payments down; emergency_skips: requires (web 2.0 has not succeeded in "
     "staging)"},
    {"emergency: emergency_skips requires and bake", CTL_DOOR_EMERGENCY, "prod", "2.0", false,
     "requires,bake", S_UNVETTED, S_WED_1000, CTL_DOOR_NEEDS_APPROVAL, NULL,
     "emergency deploy: payments down; emergency_skips: requires (web 2.0 has not succeeded in "
     "staging), bake"},
    {"emergency: a promoted release waives only the bake", CTL_DOOR_EMERGENCY, "prod", "2.0", false,
     "requires,bake", S_GOOD, S_WED_1000, CTL_DOOR_NEEDS_APPROVAL, NULL,
     "emergency deploy: payments down; emergency_skips: bake"},
    {"emergency: no approver roles", CTL_DOOR_EMERGENCY, "closed", "2.0", false, NULL, S_GOOD,
     S_WED_1000, CTL_DOOR_REFUSED, "emergency_approvals",
     "refused by emergency_approvals: closed lists no approver roles, so it takes no emergency "
     "deploys"},
    {"emergency: bad mark", CTL_DOOR_EMERGENCY, "prod", "2.0", false, NULL, S_BAD, S_WED_1000,
     CTL_DOOR_REFUSED, "bad mark", S_BAD_TEXT},
    {"emergency: --force on a bad release", CTL_DOOR_EMERGENCY, "prod", "2.0", true, NULL, S_BAD,
     S_WED_1000, CTL_DOOR_NEEDS_APPROVAL, NULL,
     "emergency deploy of a release marked bad: payments down"},
    {"emergency: below the floor", CTL_DOOR_EMERGENCY, "prod", "2.0", false, NULL, S_LOW,
     S_WED_1000, CTL_DOOR_REFUSED, "security floor", S_LOW_TEXT},
    {"emergency: no such release", CTL_DOOR_EMERGENCY, "prod", "2.0", false, NULL, S_MISSING,
     S_WED_1000, CTL_DOOR_REFUSED, "release", S_NONE_TEXT},

    //  rollback (SECURITY-TESTS row 29: only to a release that passes)
    {"rollback: allowed outside windows", CTL_DOOR_ROLLBACK, "prod", "2.0", false, NULL, S_GOOD,
     S_WED_1000, CTL_DOOR_ALLOWED, NULL, "rollback requested: web 3.0 -> 2.0"},
    {"rollback: to an unvetted release", CTL_DOOR_ROLLBACK, "prod", "2.0", false, NULL, S_UNVETTED,
     S_WED_1000, CTL_DOOR_REFUSED, "requires", S_REQ_TEXT},
    {"rollback: to a bad release", CTL_DOOR_ROLLBACK, "prod", "2.0", false, NULL, S_BAD, S_WED_1000,
     CTL_DOOR_REFUSED, "bad mark",
     "refused: web 2.0 is marked bad (alert a1 fired: x); roll back to it anyway with --force"},
    {"rollback: --force to a bad release", CTL_DOOR_ROLLBACK, "prod", "2.0", true, NULL, S_BAD,
     S_WED_1000, CTL_DOOR_ALLOWED, NULL,
     "rollback requested: web 3.0 -> 2.0 (--force: the release is marked bad)"},
    {"rollback: below the floor", CTL_DOOR_ROLLBACK, "prod", "2.0", false, NULL, S_LOW, S_WED_1000,
     CTL_DOOR_REFUSED, "security floor", S_LOW_TEXT},
    {"rollback: no such release", CTL_DOOR_ROLLBACK, "prod", "2.0", false, NULL, S_MISSING,
     S_WED_1000, CTL_DOOR_REFUSED, "release", S_NONE_TEXT},
    {"automatic rollback: allowed", CTL_DOOR_AUTO_ROLLBACK, "prod", "2.0", false, NULL, S_GOOD,
     S_WED_1000, CTL_DOOR_ALLOWED, NULL, "automatic rollback: payments down"},
    {"automatic rollback: to a bad release", CTL_DOOR_AUTO_ROLLBACK, "prod", "2.0", false, NULL,
     S_BAD, S_WED_1000, CTL_DOOR_REFUSED, "bad mark",
     "refused: web 2.0 is marked bad (alert a1 fired: x)"},
    {"automatic rollback: to an unvetted release", CTL_DOOR_AUTO_ROLLBACK, "prod", "2.0", false,
     NULL, S_UNVETTED, S_WED_1000, CTL_DOOR_REFUSED, "requires", S_REQ_TEXT},
    {"automatic rollback: below the floor", CTL_DOOR_AUTO_ROLLBACK, "prod", "2.0", false, NULL,
     S_LOW, S_WED_1000, CTL_DOOR_REFUSED, "security floor", S_LOW_TEXT},

    //  tasks: their plan passed the door
    {"task: outside windows, unvetted, marked bad", CTL_DOOR_TASK, "prod", "2.0", false, NULL,
     S_BAD_UNVETTED, S_WED_1000, CTL_DOOR_ALLOWED, NULL, "payments down"},
    {"task: below the floor", CTL_DOOR_TASK, "prod", "2.0", false, NULL, S_LOW, S_WED_1000,
     CTL_DOOR_REFUSED, "security floor", S_LOW_TEXT},
    {"task: no such release", CTL_DOOR_TASK, "prod", "2.0", false, NULL, S_MISSING, S_WED_1000,
     CTL_DOOR_REFUSED, "release", S_NONE_TEXT},
    {"task: unknown environment", CTL_DOOR_TASK, NULL, "2.0", false, NULL, S_GOOD, S_WED_1000,
     CTL_DOOR_REFUSED, "environment", "unknown environment 'nowhere' (see controller.yaml)"},

    //  db-rollback
    {"db-rollback: allowed outside windows", CTL_DOOR_DB_ROLLBACK, "prod", "2.0", false, NULL,
     S_UNVETTED, S_WED_1000, CTL_DOOR_ALLOWED, NULL,
     "db-rollback requested: migrate_down of web above 2.0"},
    {"db-rollback: a release above is active", CTL_DOOR_DB_ROLLBACK, "prod", "2.0", false, NULL,
     S_ACTIVE, S_WED_1000, CTL_DOOR_REFUSED, "active",
     "refused: web 3.0 is active in prod, above 2.0: roll the code back first (jadctl rollback web "
     "--env prod --to 2.0) or use --force"},
    {"db-rollback: --force", CTL_DOOR_DB_ROLLBACK, "prod", "2.0", true, NULL, S_ACTIVE, S_WED_1000,
     CTL_DOOR_ALLOWED, NULL, "db-rollback requested: migrate_down of web above 2.0"},
    {"db-rollback: no such release", CTL_DOOR_DB_ROLLBACK, "prod", "2.0", false, NULL, S_MISSING,
     S_WED_1000, CTL_DOOR_REFUSED, "release", S_NONE_TEXT},

    //  converge
    {"converge: outside windows", CTL_DOOR_CONVERGE, "prod", "2.0", false, NULL, S_GOOD, S_WED_1000,
     CTL_DOOR_ALLOWED, NULL, "payments down"},
    {"converge: bad mark", CTL_DOOR_CONVERGE, "prod", "2.0", false, NULL, S_BAD, S_WED_1000,
     CTL_DOOR_REFUSED, "bad mark", S_BAD_TEXT},
    {"converge: below the floor", CTL_DOOR_CONVERGE, "prod", "2.0", false, NULL, S_LOW, S_WED_1000,
     CTL_DOOR_REFUSED, "security floor", S_LOW_TEXT},
};

//  Split "a,b" into skips (at most 4).
static size_t s_skips (const char *text, char copy[64], const char *skips[4])
{
    size_t count = 0;
    snprintf (copy, 64, "%s", text ? text : "");
    for (char *save = NULL, *item = strtok_r (copy, ",", &save); item && count < 4;
         item = strtok_r (NULL, ",", &save))
        skips[count++] = item;
    return count;
}

static ctl_door_request_t s_request (const s_case_t *one)
{
    ctl_door_request_t request = {.kind = one->kind,
                                  .app = "web",
                                  .version = one->version,
                                  .env = one->env ? one->env : "nowhere",
                                  .operator_name = "alice",
                                  .reason = "payments down",
                                  .force = one->force,
                                  .branch = "develop",
                                  .undone_version = "3.0"};
    if (one->kind == CTL_DOOR_ROLLBACK)
        request.reason = NULL;  //  an operator's rollback gets the default reason
    return request;
}

Test (door, every_kind_meets_its_rules_in_order)
{
    for (size_t index = 0; index < sizeof s_cases / sizeof s_cases[0]; index++) {
        const s_case_t *one = &s_cases[index];
        char copy[64];
        const char *skips[4];
        ctl_door_policy_t policy = {.env = s_env (one->env)};
        policy.emergency_skips = skips;
        policy.emergency_skip_count = s_skips (one->skips, copy, skips);
        ctl_door_request_t request = s_request (one);
        ctl_door_verdict_t verdict;
        ctl_door_outcome_t outcome =
            ctl_door_check (&request, &policy, &one->facts, one->now, &verdict);
        cr_assert_eq (outcome, one->outcome, "%s: outcome %d (%s)", one->name, outcome,
                      verdict.text);
        cr_assert_eq (verdict.outcome, outcome, "%s", one->name);
        if (outcome == CTL_DOOR_REFUSED) {
            cr_assert_str_eq (verdict.rule, one->rule, "%s", one->name);
            cr_assert_str_eq (verdict.text, one->text, "%s", one->name);
            cr_assert_str_empty (verdict.plan_reason, "%s", one->name);
            cr_assert_eq (verdict.role_count, 0, "%s", one->name);
        } else {
            cr_assert_null (verdict.rule, "%s", one->name);
            cr_assert_str_empty (verdict.text, "%s", one->name);
            cr_assert_str_eq (verdict.plan_reason, one->text, "%s", one->name);
        }
    }
}

static ctl_door_verdict_t s_judge (ctl_door_kind_t kind, const char *env, const char *skips,
                                   ctl_release_facts_t facts, int64_t now)
{
    s_case_t one = {.kind = kind, .env = env, .version = "2.0", .skips = skips};
    char copy[64];
    const char *list[4];
    ctl_door_policy_t policy = {.env = s_env (env), .emergency_skips = list};
    policy.emergency_skip_count = s_skips (skips, copy, list);
    ctl_door_request_t request = s_request (&one);
    ctl_door_verdict_t verdict;
    ctl_door_check (&request, &policy, &facts, now, &verdict);
    return verdict;
}

Test (door, a_security_role_is_asked_only_of_a_security_emergency)
{
    const struct {
        const char *env;
        bool security;
        ctl_door_outcome_t outcome;
        const char *roles;  //  asked, comma-separated; refused: the text
        const char *reason;
    } cases[] = {
        {"secure", false, CTL_DOOR_NEEDS_APPROVAL, "tech-lead", "emergency deploy: payments down"},
        {"secure", true, CTL_DOOR_NEEDS_APPROVAL, "security,tech-lead",
         "security emergency deploy: payments down"},
        {"prod", true, CTL_DOOR_NEEDS_APPROVAL, "tech-lead,product-owner",
         "security emergency deploy: payments down"},
        {"security-only", true, CTL_DOOR_NEEDS_APPROVAL, "security",
         "security emergency deploy: payments down"},
        {"security-only", false, CTL_DOOR_REFUSED,
         "refused by emergency_approvals: security-only asks approvers only of a security "
         "emergency (deploy --emergency --security)",
         NULL},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        s_case_t one = {.kind = CTL_DOOR_EMERGENCY, .env = cases[index].env, .version = "2.0"};
        ctl_door_policy_t policy = {.env = s_env (cases[index].env)};
        ctl_door_request_t request = s_request (&one);
        request.security = cases[index].security;
        ctl_release_facts_t facts = S_GOOD;
        ctl_door_verdict_t verdict;
        cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_WED_1000, &verdict),
                      cases[index].outcome, "%s %d: %s", cases[index].env, cases[index].security,
                      verdict.text);
        if (cases[index].outcome == CTL_DOOR_REFUSED) {
            cr_assert_str_eq (verdict.rule, "emergency_approvals");
            cr_assert_str_eq (verdict.text, cases[index].roles);
            cr_assert_eq (verdict.role_count, 0);
            continue;
        }
        char asked[128] = "";
        for (size_t role = 0; role < verdict.role_count; role++)
            snprintf (asked + strlen (asked), sizeof asked - strlen (asked), "%s%s",
                      role ? "," : "", verdict.roles[role]);
        cr_assert_str_eq (asked, cases[index].roles, "%s %d", cases[index].env,
                          cases[index].security);
        cr_assert_str_eq (verdict.plan_reason, cases[index].reason);
    }
}

Test (door, an_emergency_waits_for_the_listed_roles)
{
    ctl_door_verdict_t verdict =
        s_judge (CTL_DOOR_EMERGENCY, "prod", NULL, (ctl_release_facts_t)S_GOOD, S_WED_1000);
    cr_assert_eq (verdict.outcome, CTL_DOOR_NEEDS_APPROVAL);
    cr_assert_eq (verdict.role_count, 2);
    cr_assert_str_eq (verdict.roles[0], "tech-lead");
    cr_assert_str_eq (verdict.roles[1], "product-owner");
    cr_assert (verdict.skip_windows);
    cr_assert_not (verdict.skip_bake);
    cr_assert_not (verdict.skip_canary_bake);
    cr_assert_str_empty (verdict.waived);
}

Test (door, emergency_skips_bake_waives_the_bake)
{
    ctl_door_verdict_t verdict =
        s_judge (CTL_DOOR_EMERGENCY, "prod", "bake", (ctl_release_facts_t)S_GOOD, S_WED_1000);
    cr_assert_eq (verdict.outcome, CTL_DOOR_NEEDS_APPROVAL);
    cr_assert (verdict.skip_bake);
    cr_assert_str_eq (verdict.waived, "bake");
    //  only an emergency may skip the bake
    verdict = s_judge (CTL_DOOR_DEPLOY, "prod", "bake", (ctl_release_facts_t)S_GOOD, S_TUE_1000);
    cr_assert_eq (verdict.outcome, CTL_DOOR_ALLOWED);
    cr_assert_not (verdict.skip_bake);
    cr_assert_str_empty (verdict.waived);
    //  nor requires
    verdict =
        s_judge (CTL_DOOR_DEPLOY, "prod", "requires", (ctl_release_facts_t)S_UNVETTED, S_TUE_1000);
    cr_assert_eq (verdict.outcome, CTL_DOOR_REFUSED);
    cr_assert_str_eq (verdict.rule, "requires");
}

Test (door, what_each_kind_may_skip)
{
    static const struct {
        ctl_door_kind_t kind;
        bool skip_windows;
        bool skip_canary_bake;
    } kinds[] = {
        {CTL_DOOR_DEPLOY, false, false},      {CTL_DOOR_AUTO_DEPLOY, false, false},
        {CTL_DOOR_EMERGENCY, true, false},    {CTL_DOOR_ROLLBACK, true, true},
        {CTL_DOOR_AUTO_ROLLBACK, true, true}, {CTL_DOOR_TASK, true, false},
        {CTL_DOOR_DB_ROLLBACK, true, false},  {CTL_DOOR_CONVERGE, true, false},
    };
    for (size_t index = 0; index < sizeof kinds / sizeof kinds[0]; index++) {
        ctl_door_verdict_t verdict =
            s_judge (kinds[index].kind, "prod", NULL, (ctl_release_facts_t)S_GOOD, S_TUE_1000);
        cr_assert_neq (verdict.outcome, CTL_DOOR_REFUSED, "%s: %s",
                       ctl_door_kind_name (kinds[index].kind), verdict.text);
        cr_assert_eq (verdict.skip_windows, kinds[index].skip_windows, "%s",
                      ctl_door_kind_name (kinds[index].kind));
        cr_assert_eq (verdict.skip_canary_bake, kinds[index].skip_canary_bake, "%s",
                      ctl_door_kind_name (kinds[index].kind));
    }
}

Test (door, kinds_have_names)
{
    static const char *names[] = {
        "deploy", "auto-deploy", "emergency", "rollback", "automatic rollback",
        "task",   "db-rollback", "converge"};
    for (int kind = CTL_DOOR_DEPLOY; kind <= CTL_DOOR_CONVERGE; kind++)
        cr_assert_str_eq (ctl_door_kind_name ((ctl_door_kind_t)kind), names[kind]);
    cr_assert_str_eq (ctl_door_kind_name ((ctl_door_kind_t)99), "unknown");
}

Test (door, the_default_reasons_of_automatic_plans)
{
    ctl_door_policy_t policy = {.env = s_env ("prod")};
    ctl_release_facts_t facts = S_GOOD;
    ctl_door_verdict_t verdict;
    ctl_door_request_t request = {
        .kind = CTL_DOOR_AUTO_ROLLBACK, .app = "web", .version = "2.0", .env = "prod"};
    ctl_door_check (&request, &policy, &facts, S_WED_1000, &verdict);
    cr_assert_str_eq (verdict.plan_reason, "automatic rollback: requested by the controller");
    request.kind = CTL_DOOR_CONVERGE;
    ctl_door_check (&request, &policy, &facts, S_WED_1000, &verdict);
    cr_assert_str_eq (verdict.plan_reason, "converge: host lacks the environment's release");
    request.kind = CTL_DOOR_TASK;
    ctl_door_check (&request, &policy, &facts, S_WED_1000, &verdict);
    cr_assert_str_eq (verdict.plan_reason, "task");
    request.kind = CTL_DOOR_ROLLBACK;
    request.reason = "undo the outage";
    ctl_door_check (&request, &policy, &facts, S_WED_1000, &verdict);
    cr_assert_str_eq (verdict.plan_reason, "undo the outage");
    request.reason = NULL;
    ctl_door_check (&request, &policy, &facts, S_WED_1000, &verdict);
    cr_assert_str_eq (verdict.plan_reason, "rollback requested: web - -> 2.0");
    //  an auto-deploy into an environment without a track pattern
    policy.env = s_env ("closed");
    request.kind = CTL_DOOR_AUTO_DEPLOY;
    cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_MON_1000, &verdict),
                  CTL_DOOR_ALLOWED, "%s", verdict.text);
    cr_assert_str_eq (verdict.plan_reason, "auto_deploy: closed tracks -, release on branch -");
}

//  --------------------------------------------------------------------------
//  Rollbacks: the target

static const ctl_door_candidate_t s_history[] = {
    {"3.0", 900, S_GOOD},                           //  the deploy being undone
    {"2.9", 800, S_BAD},                            //  marked bad by an automatic rollback
    {"2.8", 700, S_LOW},                            //  below the floor raised since
    {"2.7", 600, S_UNVETTED},                       //  never succeeded in staging
    {"2.6", 500, S_GOOD},                           //  last known-good
    {"2.5", 400, S_GOOD},     {NULL, 300, S_GOOD},  //  a row without a version is ignored
};

static ctl_door_request_t s_rollback_request (ctl_door_kind_t kind)
{
    return (ctl_door_request_t){.kind = kind,
                                .app = "web",
                                .env = "prod",
                                .operator_name = kind == CTL_DOOR_ROLLBACK ? "alice" : "controller",
                                .reason = kind == CTL_DOOR_ROLLBACK ? NULL : "alert a1 fired"};
}

Test (door, rollback_goes_to_the_last_known_good_release)
{
    ctl_door_policy_t policy = {.env = s_env ("prod")};
    ctl_door_rollback_t rollback = {.undone_plan = "p3",
                                    .undone_version = "3.0",
                                    .candidates = s_history,
                                    .candidate_count = sizeof s_history / sizeof s_history[0]};
    ctl_door_request_t request = s_rollback_request (CTL_DOOR_ROLLBACK);
    ctl_door_verdict_t verdict;
    //  outside the window: rollbacks may skip windows
    const char *target = ctl_door_rollback (&request, &policy, &rollback, S_WED_1000, &verdict);
    cr_assert_str_eq (target, "2.6", "%s", verdict.text);
    cr_assert_eq (verdict.outcome, CTL_DOOR_ALLOWED);
    cr_assert_str_eq (verdict.plan_reason, "rollback requested: web 3.0 -> 2.6");
    cr_assert (verdict.skip_canary_bake);
    //  --force never makes a bad release known-good
    request.force = true;
    target = ctl_door_rollback (&request, &policy, &rollback, S_WED_1000, &verdict);
    cr_assert_str_eq (target, "2.6");
    //  an alert's rollback looks only before the plan it undoes
    request = s_rollback_request (CTL_DOOR_AUTO_ROLLBACK);
    rollback.before = 500;
    target = ctl_door_rollback (&request, &policy, &rollback, S_WED_1000, &verdict);
    cr_assert_str_eq (target, "2.5");
    cr_assert_str_eq (verdict.plan_reason, "automatic rollback: alert a1 fired");
    rollback.before = 400;
    target = ctl_door_rollback (&request, &policy, &rollback, S_WED_1000, &verdict);
    cr_assert_null (target);
    cr_assert_eq (verdict.outcome, CTL_DOOR_REFUSED);
    cr_assert_str_eq (verdict.rule, "rollback");
    cr_assert_str_eq (verdict.text, "no known-good release of web in prod other than 3.0 (name "
                                    "one with --to VERSION)");
}

Test (door, rollback_without_a_known_good_release_is_refused)
{
    ctl_door_policy_t policy = {.env = s_env ("prod")};
    ctl_door_rollback_t rollback = {.undone_plan = "p3",
                                    .undone_version = "3.0",
                                    .candidates = s_history,
                                    .candidate_count = 4};
    ctl_door_request_t request = s_rollback_request (CTL_DOOR_ROLLBACK);
    ctl_door_verdict_t verdict;
    cr_assert_null (ctl_door_rollback (&request, &policy, &rollback, S_TUE_1000, &verdict));
    cr_assert_str_eq (verdict.text, "no known-good release of web in prod other than 3.0 (name "
                                    "one with --to VERSION)");
    cr_assert_str_empty (verdict.plan_reason);
    rollback.candidate_count = 0;
    cr_assert_null (ctl_door_rollback (&request, &policy, &rollback, S_TUE_1000, &verdict));
    cr_assert_str_eq (verdict.rule, "rollback");
}

Test (door, rollback_of_nothing_or_nowhere_is_refused)
{
    ctl_door_policy_t policy = {.env = s_env ("prod")};
    ctl_door_rollback_t rollback = {.candidates = s_history, .candidate_count = 6};
    ctl_door_request_t request = s_rollback_request (CTL_DOOR_ROLLBACK);
    ctl_door_verdict_t verdict;
    cr_assert_null (ctl_door_rollback (&request, &policy, &rollback, S_TUE_1000, &verdict));
    cr_assert_eq (verdict.outcome, CTL_DOOR_REFUSED);
    cr_assert_str_eq (verdict.text, "nothing to roll back: web was never deployed to prod");
    policy.env = NULL;
    request.env = "nowhere";
    rollback.undone_plan = "p3";
    rollback.undone_version = "3.0";
    cr_assert_null (ctl_door_rollback (&request, &policy, &rollback, S_TUE_1000, &verdict));
    cr_assert_str_eq (verdict.rule, "environment");
    cr_assert_str_eq (verdict.text, "unknown environment 'nowhere' (see controller.yaml)");
}

Test (door, rollback_to_the_version_it_undoes_is_refused)
{
    ctl_door_policy_t policy = {.env = s_env ("prod")};
    //  --to the version prod's latest plan put in place, however good
    //  (--force changes nothing, nor does the kind)
    ctl_door_rollback_t rollback = {.undone_plan = "p3",
                                    .undone_version = "3.0",
                                    .to = "3.0",
                                    .to_facts = S_GOOD,
                                    .candidates = s_history,
                                    .candidate_count = 6};
    ctl_door_kind_t kinds[] = {CTL_DOOR_ROLLBACK, CTL_DOOR_AUTO_ROLLBACK};
    for (size_t index = 0; index < 2; index++)
        for (int force = 0; force < 2; force++) {
            ctl_door_request_t request = s_rollback_request (kinds[index]);
            request.force = force;
            ctl_door_verdict_t verdict;
            cr_assert_null (ctl_door_rollback (&request, &policy, &rollback, S_TUE_1000, &verdict),
                            "kind %zu force %d", index, force);
            cr_assert_eq (verdict.outcome, CTL_DOOR_REFUSED);
            cr_assert_str_eq (verdict.rule, "rollback");
            cr_assert_str_eq (verdict.text, "nothing to roll back: web 3.0 is already current in "
                                            "prod (plan p3); name another version with --to "
                                            "VERSION");
            cr_assert_str_empty (verdict.plan_reason);
        }
    //  another version is decided as before
    rollback.to = "2.5";
    ctl_door_request_t request = s_rollback_request (CTL_DOOR_ROLLBACK);
    ctl_door_verdict_t verdict;
    cr_assert_str_eq (ctl_door_rollback (&request, &policy, &rollback, S_TUE_1000, &verdict), "2.5",
                      "%s", verdict.text);
}

//  SECURITY-TESTS row 29: a deployer's rollback --to an unvetted, bad or
//  too-old release into prod is refused like a deploy would be.
Test (door, rollback_to_a_named_release_passes_the_door)
{
    static const struct {
        ctl_release_facts_t facts;
        bool force;
        const char *rule;  //  NULL: allowed
    } cases[] = {
        {S_GOOD, false, NULL},
        {S_UNVETTED, false, "requires"},
        {S_BAD, false, "bad mark"},
        {S_BAD, true, NULL},
        {S_BAD_UNVETTED, true, "requires"},
        {S_LOW, false, "security floor"},
        {S_LOW, true, "security floor"},
        {S_MISSING, false, "release"},
    };
    ctl_door_policy_t policy = {.env = s_env ("prod")};
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        ctl_door_rollback_t rollback = {.undone_plan = "p3",
                                        .undone_version = "3.0",
                                        .to = "6.6-unvetted",
                                        .to_facts = cases[index].facts,
                                        .candidates = s_history,
                                        .candidate_count = 6};
        ctl_door_request_t request = s_rollback_request (CTL_DOOR_ROLLBACK);
        request.force = cases[index].force;
        ctl_door_verdict_t verdict;
        //  the window is closed: that alone never refuses a rollback
        const char *target = ctl_door_rollback (&request, &policy, &rollback, S_WED_1000, &verdict);
        if (cases[index].rule) {
            cr_assert_null (target, "case %zu", index);
            cr_assert_str_eq (verdict.rule, cases[index].rule, "case %zu", index);
        } else {
            cr_assert_str_eq (target, "6.6-unvetted", "case %zu: %s", index, verdict.text);
            cr_assert (strstr (verdict.plan_reason, "rollback requested: web 3.0 -> 6.6-unvetted"),
                       "%s", verdict.plan_reason);
        }
    }
    //  the texts, word for word
    ctl_door_rollback_t rollback = {
        .undone_plan = "p3", .undone_version = "3.0", .to = "6.6", .to_facts = S_UNVETTED};
    ctl_door_request_t request = s_rollback_request (CTL_DOOR_ROLLBACK);
    ctl_door_verdict_t verdict;
    cr_assert_null (ctl_door_rollback (&request, &policy, &rollback, S_WED_1000, &verdict));
    cr_assert_str_eq (verdict.text, "refused by requires: web 6.6 has not succeeded in staging "
                                    "(prod requires staging)");
    rollback.to_facts = (ctl_release_facts_t)S_BAD;
    cr_assert_null (ctl_door_rollback (&request, &policy, &rollback, S_WED_1000, &verdict));
    cr_assert_str_eq (verdict.text, "refused: web 6.6 is marked bad (alert a1 fired: x); roll "
                                    "back to it anyway with --force");
}

//  --------------------------------------------------------------------------
//  Windows and tracks

Test (door, windows_in_local_time)
{
    static char *one[] = {"Tue 09:00-17:00"};
    static char *odd[] = {"Tue 9:00-17:00", "Tuesday 09:00-17:00"};
    static char *whole[] = {"Wed 00:00-24:00"};
    static const struct {
        char **windows;
        size_t count;
        int64_t now;
        bool inside;
        const char *which;
    } cases[] = {
        {NULL, 0, S_WED_1000, true, ""},
        {one, 1, S_TUE_1000, true, "Tue 09:00-17:00"},
        {one, 1, S_TUE_0900, true, "Tue 09:00-17:00"},
        {one, 1, S_TUE_0859, false, "Tue 09:00-17:00"},
        {one, 1, S_TUE_1700, false, "Tue 09:00-17:00"},
        {one, 1, S_WED_1000, false, "Tue 09:00-17:00"},
        {odd, 2, S_TUE_1000, false, "Tue 9:00-17:00, Tuesday 09:00-17:00"},
        {whole, 1, S_WED_1000, true, "Wed 00:00-24:00"},
        {whole, 1, S_TUE_1000 + 14 * 3600000LL - 1, false, "Wed 00:00-24:00"},
        {whole, 1, S_TUE_1000 + 14 * 3600000LL, true, "Wed 00:00-24:00"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        jad_env_config_t env = {
            .name = "e", .windows = cases[index].windows, .window_count = cases[index].count};
        char which[128] = "x";
        cr_assert_eq (ctl_door_in_window (&env, cases[index].now, which, sizeof which),
                      cases[index].inside, "case %zu", index);
        cr_assert_str_eq (which, cases[index].which, "case %zu", index);
    }
    //  the list is bounded by the buffer
    jad_env_config_t env = {.name = "e", .windows = odd, .window_count = 2};
    char which[8];
    cr_assert_not (ctl_door_in_window (&env, S_TUE_1000, which, sizeof which));
    cr_assert_str_eq (which, "Tue 9:0");
}

Test (door, tracks_by_branch_pattern)
{
    static const struct {
        const char *env;
        const char *branch;
        bool tracked;
    } cases[] = {
        {"dev", "develop", true},      {"dev", "develop2", false}, {"staging", "release/1.2", true},
        {"staging", "release", false}, {"staging", "main", false}, {"prod", "main", true},
        {"closed", "main", false},     {"dev", NULL, false},       {NULL, "develop", false},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        cr_assert_eq (ctl_door_tracks (s_env (cases[index].env), cases[index].branch),
                      cases[index].tracked, "case %zu", index);
    //  auto_deploy off: tracked by nothing
    jad_env_config_t env = {.name = "x", .track = "*", .auto_deploy = false};
    cr_assert_not (ctl_door_tracks (&env, "main"));
    env.auto_deploy = true;
    cr_assert (ctl_door_tracks (&env, "main"));
}

Test (door, emergency_skips_lookup)
{
    const char *skips[] = {"requires", NULL, "bake"};
    ctl_door_policy_t policy = {
        .env = s_env ("prod"), .emergency_skips = skips, .emergency_skip_count = 3};
    cr_assert (ctl_door_emergency_skips (&policy, "requires"));
    cr_assert (ctl_door_emergency_skips (&policy, "bake"));
    cr_assert_not (ctl_door_emergency_skips (&policy, "windows"));
    policy.emergency_skip_count = 0;
    cr_assert_not (ctl_door_emergency_skips (&policy, "requires"));
}

// --------------------------------------------------------------------------
//  Release checks (DESIGN §10): every missing and invalid check named in
//  one refusal; --force never bypasses; an emergency skips only what
//  emergency_waives lists, and says so in the plan's reason

static char *s_tech_lead[] = {"tech-lead"};
static char *s_ci[] = {"ci"};
static jad_check_config_t s_checks[] = {
    {.name = "tests",
     .type = "https://in-toto.io/attestation/test-result/v0.1",
     .keys = s_ci,
     .key_count = 1},
    {.name = "security-scan",
     .type = "https://in-toto.io/attestation/vulns/v0.2",
     .keys = s_ci,
     .key_count = 1},
    {.name = "code-review", .approval = s_tech_lead, .approval_count = 1},
};
static char *s_waives[] = {"code-review"};
static jad_approver_config_t s_approver[] = {{"release-manager", NULL}};
static const jad_env_config_t s_checked = {.name = "checked",
                                           .strategy = "all",
                                           .emergency_approvals = s_approver,
                                           .emergency_approval_count = 1,
                                           .checks = s_checks,
                                           .check_count = 3,
                                           .emergency_waives = s_waives,
                                           .emergency_waive_count = 1};

static const char *const S_NO_TESTS =
    "no attestation of type https://in-toto.io/attestation/test-result/v0.1";
static const char *const S_SEVERE = "attestation 1 vulns: finding CVE-1 is high, above "
                                    "max_severity medium";
static const char *const S_NO_REVIEW = "no approval by tech-lead yet";

//  The door's verdict for kind on `checked` with the three checks' states
//  (o ok, m missing, i invalid), or with no judged checks when states is NULL.
static ctl_door_verdict_t s_judge_checks (ctl_door_kind_t kind, const char *states, bool force)
{
    static ctl_check_result_t results[3];
    const char *const whys[] = {S_NO_TESTS, S_SEVERE, S_NO_REVIEW};
    for (size_t index = 0; states && index < 3; index++) {
        memset (&results[index], 0, sizeof results[index]);
        results[index].name = s_checks[index].name;
        results[index].approval = s_checks[index].approval != NULL;
        results[index].verdict = states[index] == 'o'   ? JAD_CHECK_OK
                                 : states[index] == 'm' ? JAD_CHECK_MISSING
                                                        : JAD_CHECK_INVALID;
        if (states[index] != 'o')
            snprintf (results[index].why, sizeof results[index].why, "%s", whys[index]);
    }
    ctl_release_facts_t facts = {.exists = true,
                                 .counter = 7,
                                 .promoted = true,
                                 .bad = force ? "alert a1 fired: x" : NULL,
                                 .checks = states ? results : NULL,
                                 .check_count = states ? 3 : 0};
    ctl_door_policy_t policy = {.env = &s_checked};
    ctl_door_request_t request = {.kind = kind,
                                  .app = "web",
                                  .version = "2.0",
                                  .env = "checked",
                                  .operator_name = "alice",
                                  .reason = kind == CTL_DOOR_EMERGENCY ? "payments down" : NULL,
                                  .force = force,
                                  .undone_version = "3.0"};
    ctl_door_verdict_t verdict;
    ctl_door_check (&request, &policy, &facts, S_TUE_1000, &verdict);
    return verdict;
}

Test (door, a_deploy_is_refused_naming_every_check_that_is_not_ok)
{
    static const struct {
        const char *states;
        const char *text;  //  refused: the text; NULL: allowed
    } cases[] = {
        {"mmm",
         "refused by checks: web 2.0 lacks 3 of checked's 3 checks: tests (missing: no "
         "attestation of type https://in-toto.io/attestation/test-result/v0.1); security-scan "
         "(missing: attestation 1 vulns: finding CVE-1 is high, above max_severity medium); "
         "code-review (missing: no approval by tech-lead yet)"},
        {"oim",
         "refused by checks: web 2.0 lacks 2 of checked's 3 checks: security-scan (invalid: "
         "attestation 1 vulns: finding CVE-1 is high, above max_severity medium); code-review "
         "(missing: no approval by tech-lead yet)"},
        {"oom",
         "refused by checks: web 2.0 lacks 1 of checked's 3 checks: code-review (missing: no "
         "approval by tech-lead yet)"},
        {"ooo", NULL},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        for (int kind = CTL_DOOR_DEPLOY; kind <= CTL_DOOR_AUTO_DEPLOY; kind++) {
            ctl_door_verdict_t verdict =
                s_judge_checks ((ctl_door_kind_t)kind, cases[index].states, false);
            if (!cases[index].text) {
                cr_assert_eq (verdict.outcome, CTL_DOOR_ALLOWED, "%s: %s", cases[index].states,
                              verdict.text);
                continue;
            }
            cr_assert_eq (verdict.outcome, CTL_DOOR_REFUSED, "%s", cases[index].states);
            cr_assert_str_eq (verdict.rule, "checks");
            cr_assert_str_eq (verdict.text, cases[index].text);
        }
    }
}

Test (door, force_never_bypasses_checks)
{
    ctl_door_verdict_t verdict = s_judge_checks (CTL_DOOR_DEPLOY, "moo", true);
    cr_assert_eq (verdict.outcome, CTL_DOOR_REFUSED);
    cr_assert_str_eq (verdict.rule, "checks", "--force passed the bad mark, not the checks");
    cr_assert_str_eq (verdict.text, "refused by checks: web 2.0 lacks 1 of checked's 3 checks: "
                                    "tests (missing: no attestation of type "
                                    "https://in-toto.io/attestation/test-result/v0.1)");
}

Test (door, checks_that_could_not_be_judged_refuse)
{
    ctl_door_verdict_t verdict = s_judge_checks (CTL_DOOR_DEPLOY, NULL, false);
    cr_assert_eq (verdict.outcome, CTL_DOOR_REFUSED);
    cr_assert_str_eq (verdict.rule, "checks");
    cr_assert_str_eq (verdict.text, "refused by checks: the checks of web 2.0 for checked could "
                                    "not be judged (see the controller's log)");
    //  an environment without checks needs none
    ctl_release_facts_t facts = S_GOOD;
    ctl_door_policy_t policy = {.env = s_env ("dev")};
    ctl_door_request_t request = {
        .kind = CTL_DOOR_DEPLOY, .app = "web", .version = "2.0", .env = "dev"};
    ctl_door_verdict_t plain;
    cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_TUE_1000, &plain), CTL_DOOR_ALLOWED);
}

Test (door, an_emergency_skips_only_the_waived_checks_and_says_so)
{
    ctl_door_verdict_t verdict = s_judge_checks (CTL_DOOR_EMERGENCY, "oom", false);
    cr_assert_eq (verdict.outcome, CTL_DOOR_NEEDS_APPROVAL, "%s", verdict.text);
    cr_assert_str_eq (verdict.waived_checks, "code-review (missing)");
    cr_assert_str_eq (verdict.plan_reason,
                      "emergency deploy: payments down; emergency_waives: code-review (missing)");
    verdict = s_judge_checks (CTL_DOOR_EMERGENCY, "mim", false);
    cr_assert_eq (verdict.outcome, CTL_DOOR_REFUSED);
    cr_assert_str_eq (verdict.text, "refused by checks: web 2.0 lacks 2 of checked's 3 checks: "
                                    "tests (missing: no attestation of type "
                                    "https://in-toto.io/attestation/test-result/v0.1); "
                                    "security-scan (invalid: attestation 1 vulns: finding CVE-1 "
                                    "is high, above max_severity medium)");
    //  a waiver is for emergencies only
    verdict = s_judge_checks (CTL_DOOR_DEPLOY, "oom", false);
    cr_assert_eq (verdict.outcome, CTL_DOOR_REFUSED);
    cr_assert_str_empty (verdict.waived_checks);
}

Test (door, rollbacks_and_converge_do_not_meet_checks)
{
    static const ctl_door_kind_t kinds[] = {CTL_DOOR_ROLLBACK, CTL_DOOR_AUTO_ROLLBACK,
                                            CTL_DOOR_CONVERGE, CTL_DOOR_TASK};
    for (size_t index = 0; index < sizeof kinds / sizeof kinds[0]; index++) {
        ctl_door_verdict_t verdict = s_judge_checks (kinds[index], "mmm", false);
        cr_assert_eq (verdict.outcome, CTL_DOOR_ALLOWED, "%s: %s",
                      ctl_door_kind_name (kinds[index]), verdict.text);
    }
}

//  An environment with `timezone:` reads its windows there, and says so:
//  Tue 08:30 UTC is 09:30 in Berlin, inside; Tue 16:30 UTC is 17:30, out.
Test (door, windows_are_read_in_the_environments_time_zone)
{
    static char *windows[] = {"Mon-Fri 09:00-17:00"};
    jad_env_config_t berlin = {.name = "prod",
                               .strategy = "all",
                               .windows = windows,
                               .window_count = 1,
                               .timezone = "Europe/Berlin"};
    char err[256] = "";
    berlin.tz = jad_tz_load ("Europe/Berlin", NULL, err, sizeof err);
    cr_assert_not_null (berlin.tz, "%s", err);
    ctl_door_policy_t policy = {.env = &berlin};
    ctl_release_facts_t facts = S_GOOD;
    ctl_door_request_t request = {.kind = CTL_DOOR_DEPLOY,
                                  .app = "web",
                                  .version = "2.0",
                                  .env = "prod",
                                  .operator_name = "alice"};
    ctl_door_verdict_t verdict;
    cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_TUE_0900 - 1800000, &verdict),
                  CTL_DOOR_ALLOWED, "%s", verdict.text);
    cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_TUE_1700 - 1800000, &verdict),
                  CTL_DOOR_REFUSED);
    cr_assert_str_eq (verdict.rule, "windows");
    cr_assert_str_eq (verdict.text,
                      "refused by windows: prod accepts deploys only in Mon-Fri 09:00-17:00 "
                      "Europe/Berlin (now Tue 17:30 CET); use --emergency --reason TEXT");
    //  the same instant without a zone is the controller's (UTC here): inside
    jad_tz_destroy (&berlin.tz);
    cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_TUE_1700 - 1800000, &verdict),
                  CTL_DOOR_ALLOWED, "%s", verdict.text);
}

//  With a schedule, an auto-deploy happens only at a slot that has come;
//  otherwise the release waits and the verdict names the next slot. A
//  deploy by hand is not held by the schedule (windows hold it).
Test (door, auto_deploy_waits_for_the_schedules_slot)
{
    jad_env_config_t staging = {.name = "staging",
                                .track = "release/*",
                                .auto_deploy = true,
                                .strategy = "all",
                                .schedule = "every 2 weeks Tue 10:00 from 2026-12-08"};
    cr_assert_eq (jad_schedule_parse (staging.schedule, &staging.slots, NULL, 0), 0);
    ctl_door_policy_t policy = {.env = &staging};
    ctl_release_facts_t facts = S_GOOD;
    ctl_door_request_t request = {.kind = CTL_DOOR_AUTO_DEPLOY,
                                  .app = "web",
                                  .version = "2.0",
                                  .env = "staging",
                                  .operator_name = "alice",
                                  .branch = "release/2"};
    ctl_door_verdict_t verdict;
    cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_MON_1000, &verdict),
                  CTL_DOOR_REFUSED);
    cr_assert_str_eq (verdict.rule, "schedule");
    cr_assert_eq (verdict.next_slot_ms, S_TUE_1000);
    cr_assert_str_eq (verdict.text, "waits for staging's next slot: Tue 2026-12-08 10:00 UTC "
                                    "(schedule: every 2 weeks Tue 10:00 from 2026-12-08)");
    //  at the slot (fired by the controller), and a little after it
    request.slot_ms = S_TUE_1000;
    cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_TUE_1000 + 5000, &verdict),
                  CTL_DOOR_ALLOWED, "%s", verdict.text);
    cr_assert_str_eq (verdict.plan_reason,
                      "auto_deploy: staging tracks release/*, release on branch release/2, at "
                      "the slot Tue 2026-12-08 10:00 UTC");
    //  a slot not yet come, or a time that is not a slot, is no slot
    cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_TUE_1000 - 1, &verdict),
                  CTL_DOOR_REFUSED);
    request.slot_ms = S_WED_1000;
    cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_WED_1000 + 1, &verdict),
                  CTL_DOOR_REFUSED);
    cr_assert_str_eq (verdict.rule, "schedule");
    //  by hand: allowed at any time
    request.kind = CTL_DOOR_DEPLOY;
    request.slot_ms = 0;
    cr_assert_eq (ctl_door_check (&request, &policy, &facts, S_MON_1000, &verdict),
                  CTL_DOOR_ALLOWED, "%s", verdict.text);
}
