//  test_policy - the policy door and plan ids, end to end: refusals that
//  name their rule, emergency approvals and emergency_skips per
//  environment, plan commands by a unique prefix of the id
//  SPDX-License-Identifier: MPL-2.0
//
//  Real controller and agent processes on loopback (jt_fleet_*). The door's
//  every rule and kind are tables in tests/engine/test_door.c; a rollback
//  to a release the environment refuses is SECURITY-TESTS row 29
//  (test_security.c).

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static jt_fleet_t *fleet;

static void s_setup (void)
{
    fleet = jt_fleet_new ();
}

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

TestSuite (policy, .init = s_setup, .fini = s_teardown, .timeout = 240);

//  Add web VERSION: a release with no hooks.
static void s_add_release (const char *version)
{
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", "VERSION", version, NULL};
    char name[64];
    snprintf (name, sizeof name, "web-%s", version);
    char *archive = jt_make_release (fleet->dir, name, files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web %s %s", version, archive), 0, "%s",
                  output);
    free (output);
    free (archive);
}

static bool s_has_release (int index, const char *version)
{
    char *root = jt_fleet_root (fleet, index);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/releases/%s", root, version);
    free (root);
    return access (path, F_OK) == 0;
}

static void s_start_agents (int count, const char *env)
{
    for (int index = 0; index < count; index++) {
        char name[32];
        snprintf (name, sizeof name, "host-%d", index + 1);
        jt_fleet_add_agent (fleet, name, env);
    }
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", count, 30000),
               "%d agents did not come online", count);
}

static void s_environments (const char *yaml)
{
    jt_fleet_set_environments (fleet, yaml);
    jt_fleet_restart_controller (fleet);
}

//  Three-letter name of a weekday that is not today.
static const char *s_other_day (void)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    time_t now = time (NULL);
    struct tm local;
    localtime_r (&now, &local);
    return days[(local.tm_wday + 3) % 7];
}

Test (policy, policy_refusals_name_their_rule)
{
    char yaml[1024];
    snprintf (yaml, sizeof yaml,
              "environments:\n"
              "  staging: { strategy: all }\n"
              "  prod: { requires: staging, strategy: all, windows: [\"%s 00:00-24:00\"], "
              "emergency_approvals: [tech-lead] }\n"
              "  closed: { strategy: all, windows: [\"%s 00:00-24:00\"] }\n",
              s_other_day (), s_other_day ());
    s_environments (yaml);
    jt_fleet_add_agent (fleet, "stage-1", "staging");
    jt_fleet_add_agent (fleet, "prod-1", "prod");
    jt_fleet_add_agent (fleet, "closed-1", "closed");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 3, 30000));
    s_add_release ("1.0");
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env prod");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "refused by requires"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env staging --wait"), 0);
    rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env prod");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "refused by windows"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env closed --emergency --reason outage");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "refused by emergency_approvals"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env staging --emergency");
    cr_assert_eq (rc, 2, "--emergency without --reason: %d %s", rc, output);
    free (output);
    //  nothing reached the refused environments
    cr_assert (!s_has_release (1, "1.0") && !s_has_release (2, "1.0"));
}

//  A notify command that appends "EVENT JSON" lines to DIR/events.txt;
//  returns the notify: section for controller.yaml (static buffer).
static const char *s_notify_yaml (void)
{
    static char yaml[PATH_MAX * 2 + 256];
    char script[PATH_MAX], events[PATH_MAX];
    snprintf (script, sizeof script, "%s/notify.sh", fleet->dir);
    snprintf (events, sizeof events, "%s/events.txt", fleet->dir);
    snprintf (yaml, sizeof yaml, "#!/bin/sh\necho \"$JADUGAR_EVENT $JADUGAR_EVENT_JSON\" >> '%s'\n",
              events);
    jt_write_file (script, yaml, 0755);
    snprintf (yaml, sizeof yaml, "notify:\n  - { command: '%s' }\n", script);
    return yaml;
}

//  True if DIR/events.txt has the string `arg`.
static bool s_events_have (void *arg)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/events.txt", fleet->dir);
    char *text = jt_read_file (path);
    bool found = text && strstr (text, (const char *)arg);
    free (text);
    return found;
}

Test (policy, emergency_deploy_waits_for_each_role)
{
    char yaml[PATH_MAX * 3];
    snprintf (yaml, sizeof yaml,
              "environments:\n"
              "  prod: { strategy: all, windows: [\"%s 09:00-17:00\"], "
              "emergency_approvals: [tech-lead, product-owner] }\n%s",
              s_other_day (), s_notify_yaml ());
    s_environments (yaml);
    s_start_agents (2, "prod");
    jt_fleet_add_operator (fleet, "alice", "tech-lead");
    jt_fleet_add_operator (fleet, "carol", "tech-lead");
    jt_fleet_add_operator (fleet, "bob", "tech-lead,product-owner");
    s_add_release ("1.0");
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output,
                        "--json deploy web 1.0 --env prod --emergency --reason 'payments down'");
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    cr_assert (strstr (output, "\"state\": \"approval\""), "%s", output);
    char plan_id[16] = "";
    const char *id = strstr (output, "\"id\": \"");
    cr_assert_not_null (id);
    snprintf (plan_id, sizeof plan_id, "%.8s", id + 7);
    free (output);
    //  someone is told that it waits (issue 13 item 4)
    char told[64];
    snprintf (told, sizeof told, "approval.needed {\"plan\":\"%s\"", plan_id);
    cr_assert (jt_wait_for (s_events_have, told, 20000), "no approval.needed notification");
    cr_assert (s_events_have ("\"roles\":\"tech-lead, product-owner\""));
    cr_assert (s_events_have ("\"reason\":\"payments down\""));
    //  the deployer cannot approve their own emergency
    rc = jt_jadctl (fleet, &output, "plan approve %s", plan_id);
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    free (output);
    rc = jt_jadctl_as (fleet, "alice", &output, "plan approve %s", plan_id);
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    cr_assert (strstr (output, "as tech-lead"), "%s", output);
    free (output);
    //  one operator counts once
    rc = jt_jadctl_as (fleet, "alice", &output, "plan approve %s", plan_id);
    cr_assert_eq (rc, 2, "duplicate approval: %d %s", rc, output);
    cr_assert (strstr (output, "already approved"), "%s", output);
    free (output);
    //  a second tech-lead covers no missing role
    rc = jt_jadctl_as (fleet, "carol", &output, "plan approve %s", plan_id);
    cr_assert_eq (rc, 2, "duplicate role: %d %s", rc, output);
    cr_assert (strstr (output, "product-owner"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "--json plan show %s", plan_id);
    cr_assert (strstr (output, "\"state\": \"approval\""), "ran before approval: %s", output);
    free (output);
    cr_assert (!s_has_release (0, "1.0"), "a host got the release before approval");
    rc = jt_jadctl_as (fleet, "bob", &output, "plan approve %s", plan_id);
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    cr_assert (strstr (output, "as product-owner"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "rollback web --env prod");
    cr_assert_eq (rc, 2, "%s", output);  //  no known-good release yet: refused, not crashed
    free (output);
    char wait[64];
    snprintf (wait, sizeof wait, "\"version\": \"1.0\"");
    cr_assert (jt_fleet_wait_status (fleet, wait, 2, 30000), "the approved deploy did not run");
}

//  Issue 17 item 7: a role listed with `when: security` is asked only of
//  a security emergency (deploy --emergency --security)
Test (policy, a_security_emergency_also_waits_for_the_security_role)
{
    s_environments ("environments:\n"
                    "  prod: { strategy: all, emergency_approvals: [{role: security, when: "
                    "security}, tech-lead] }\n");
    s_start_agents (1, "prod");
    jt_fleet_add_operator (fleet, "tina", "tech-lead");
    jt_fleet_add_operator (fleet, "sam", "security");
    s_add_release ("1.0");
    s_add_release ("2.0");
    //  an ordinary emergency: the tech lead alone starts it
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output,
                        "--json deploy web 1.0 --env prod --emergency --reason 'payments down'");
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    cr_assert (strstr (output, "\"security\": false"), "%s", output);
    char plan_id[16] = "";
    const char *id = strstr (output, "\"id\": \"");
    cr_assert_not_null (id);
    snprintf (plan_id, sizeof plan_id, "%.8s", id + 7);
    free (output);
    rc = jt_jadctl_as (fleet, "sam", &output, "plan approve %s", plan_id);
    cr_assert_eq (rc, 2, "the security role is not asked: %d %s", rc, output);
    cr_assert (strstr (output, "still needed: tech-lead"), "%s", output);
    free (output);
    rc = jt_jadctl_as (fleet, "tina", &output, "plan approve %s", plan_id);
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    free (output);
    cr_assert (jt_fleet_wait_status (fleet, "\"version\": \"1.0\"", 1, 30000),
               "the approved deploy did not run");

    //  a security emergency waits for both, and says so
    rc = jt_jadctl (fleet, &output,
                    "--json deploy web 2.0 --env prod --emergency --reason 'CVE-1' --security");
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    cr_assert (strstr (output, "\"security\": true"), "%s", output);
    cr_assert (strstr (output, "security emergency deploy: CVE-1"), "%s", output);
    id = strstr (output, "\"id\": \"");
    cr_assert_not_null (id);
    snprintf (plan_id, sizeof plan_id, "%.8s", id + 7);
    free (output);
    rc = jt_jadctl_as (fleet, "tina", &output, "plan approve %s", plan_id);
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    free (output);
    rc = jt_jadctl (fleet, &output, "--json plan show %s", plan_id);
    cr_assert (strstr (output, "\"state\": \"approval\""), "ran without security: %s", output);
    free (output);
    rc = jt_jadctl_as (fleet, "sam", &output, "plan approve %s", plan_id);
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    cr_assert (strstr (output, "as security"), "%s", output);
    free (output);
    cr_assert (jt_fleet_wait_status (fleet, "\"version\": \"2.0\"", 1, 30000),
               "the approved security deploy did not run");
    rc = jt_jadctl (fleet, &output, "audit");
    cr_assert (output && strstr (output, "security=true"), "the audit lacks it: %s", output);
    free (output);

    //  --security belongs to an emergency
    rc = jt_jadctl (fleet, &output, "deploy web 2.0 --env prod --security");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "--security"), "%s", output);
    free (output);
}

//  Issue 13 item 12: emergency_skips says per environment what an
//  emergency does not apply; by default it meets `requires` like a deploy
Test (policy, emergency_skips_requires_only_where_the_environment_says_so)
{
    s_environments ("environments:\n"
                    "  staging: { strategy: all }\n"
                    "  prod: { requires: staging, strategy: canary, canary: 1, bake: 1h, "
                    "emergency_approvals: [tech-lead], emergency_skips: [requires, bake] }\n"
                    "  dr: { requires: staging, strategy: all, emergency_approvals: [tech-lead] "
                    "}\n");
    jt_fleet_add_agent (fleet, "prod-1", "prod");
    jt_fleet_add_agent (fleet, "prod-2", "prod");
    jt_fleet_add_agent (fleet, "dr-1", "dr");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 3, 30000));
    jt_fleet_add_operator (fleet, "tina", "tech-lead");
    s_add_release ("1.0");
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env dr --emergency --reason fire");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "refused by requires"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env prod");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "refused by requires"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "--json deploy web 1.0 --env prod --emergency --reason fire");
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    cr_assert (strstr (output, "\"state\": \"approval\""), "%s", output);
    cr_assert (strstr (output, "emergency_skips: requires (web 1.0 has not succeeded in staging), "
                               "bake"),
               "the plan does not say what it skipped: %s", output);
    cr_assert (strstr (output, "\"bake_ms\": 0"), "the bake was not waived: %s", output);
    const char *id = strstr (output, "\"id\": \"");
    cr_assert_not_null (id);
    char plan_id[16];
    snprintf (plan_id, sizeof plan_id, "%.8s", id + 7);
    free (output);
    rc = jt_jadctl_as (fleet, "tina", &output, "plan approve %s", plan_id);
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    free (output);
    //  a bake of 1h waived: both hosts switch
    cr_assert (jt_fleet_wait_status (fleet, "\"version\": \"1.0\"", 2, 60000),
               "the emergency did not reach both prod hosts");
    cr_assert (!s_has_release (2, "1.0"), "dr got the release");
}

//  Issue 13 item 13: every plan command takes a unique prefix of a plan id
Test (policy, plan_commands_take_a_unique_prefix_of_the_id)
{
    s_environments ("environments:\n  dev: { strategy: all }\n");
    s_start_agents (1, "dev");
    s_add_release ("1.0");
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env dev --wait"), 0, "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "--json plans --env dev"), 0, "%s", output);
    json_t *root = json_loads (output, 0, NULL);
    free (output);
    const char *id = json_string_value (
        json_object_get (json_array_get (json_object_get (root, "plans"), 0), "id"));
    cr_assert (id && strlen (id) > 4, "no plan id");
    char *whole = strdup (id);
    json_decref (root);
    char prefix[8];
    snprintf (prefix, sizeof prefix, "%.4s", whole);
    cr_assert_eq (jt_jadctl (fleet, &output, "plan show %s", prefix), 0, "%s", output);
    cr_assert (strstr (output, whole), "%s", output);
    free (output);
    //  two plans sharing a prefix: it names neither, and lists both
    char *sql = NULL;
    cr_assert_eq (jt_fleet_sql (fleet, &sql,
                                "INSERT INTO plans (id, app, version, env, kind, strategy, state, "
                                "created, progress, seq) VALUES ('fee1dead01', 'web', '1.0', "
                                "'dev', 'deploy', 'all', 'succeeded', 1, 1, 900001), "
                                "('fee1dead02', 'web', '1.0', 'dev', 'deploy', 'all', "
                                "'succeeded', 2, 2, 900002)"),
                  0, "%s", sql);
    free (sql);
    int rc = jt_jadctl (fleet, &output, "plan show fee1");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "ambiguous") && strstr (output, "fee1dead01") &&
                   strstr (output, "fee1dead02"),
               "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "plan pause fee1d");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "ambiguous"), "%s", output);
    free (output);
    //  a unique prefix reaches the plan (which is over: nothing to pause)
    rc = jt_jadctl (fleet, &output, "plan pause fee1dead02");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "plan fee1dead02 is succeeded"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "plan abort %s", prefix);
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, whole) && strstr (output, "nothing to abort"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "plan show 0fffffff");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "no plan '0fffffff'"), "%s", output);
    free (output);
    free (whole);
}
