//  test_dry_run - `deploy --dry-run` and `rollback --dry-run` end to end:
//  they say what would happen (policy, checks, batches, hosts, rollback
//  target) through the same door as the real command, and change nothing
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static jt_fleet_t *fleet;

static void s_setup (void)
{
    fleet = jt_fleet_new ();
}

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

TestSuite (dry_run, .init = s_setup, .fini = s_teardown, .timeout = 240);

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

//  How many plans the controller has.
static size_t s_plan_count (void)
{
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "plans --json"), 0, "%s", output);
    json_t *plans = json_loads (output, 0, NULL);
    cr_assert_not_null (plans, "%s", output);
    size_t count = json_array_size (json_object_get (plans, "plans"));
    json_decref (plans);
    free (output);
    return count;
}

Test (dry_run, says_what_would_happen_and_changes_nothing)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    time_t now = time (NULL);
    struct tm local;
    localtime_r (&now, &local);
    char yaml[512];
    snprintf (yaml, sizeof yaml,
              "environments:\n"
              "  staging: { strategy: rolling, batch: 1 }\n"
              "  prod: { strategy: all, windows: [\"%s 00:00-24:00\"] }\n",
              days[(local.tm_wday + 3) % 7]);
    jt_fleet_set_environments (fleet, yaml);
    jt_fleet_restart_controller (fleet);
    jt_fleet_add_agent (fleet, "host-1", "staging");
    jt_fleet_add_agent (fleet, "host-2", "staging");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    s_add_release ("1.0");

    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env staging --dry-run --json"), 0,
                  "%s", output);
    json_t *answer = json_loads (output, 0, NULL);
    cr_assert_not_null (answer, "%s", output);
    json_t *dry = json_object_get (answer, "dry_run");
    cr_assert_str_eq (json_string_value (json_object_get (dry, "kind")), "deploy");
    cr_assert_str_eq (json_string_value (json_object_get (dry, "policy")), "allowed");
    cr_assert_str_eq (json_string_value (json_object_get (dry, "strategy")), "rolling");
    cr_assert_eq (json_integer_value (json_object_get (dry, "hosts_total")), 2);
    json_t *batches = json_object_get (dry, "batches");
    cr_assert_eq (json_array_size (batches), 2, "%s", output);
    json_t *first = json_object_get (json_array_get (batches, 0), "hosts");
    cr_assert_str_eq (json_string_value (json_array_get (first, 0)), "host-1", "%s", output);
    json_decref (answer);
    free (output);
    cr_assert_eq (s_plan_count (), 0, "a dry run makes no plan");

    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env staging --dry-run"), 0);
    cr_assert (strstr (output, "dry run: deploy web 1.0 to staging: nothing was changed"), "%s",
               output);
    cr_assert (strstr (output, "batch 2: host-2"), "%s", output);
    free (output);
    //  the door refuses a dry run as it refuses the deploy
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env prod --dry-run"), 2, "%s",
                  output);
    cr_assert (strstr (output, "refused by windows"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env staging --dry-run --wait"), 2);
    free (output);

    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env staging --wait"), 0);
    s_add_release ("2.0");
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 2.0 --env staging --wait"), 0);
    cr_assert_eq (s_plan_count (), 2);
    cr_assert_eq (jt_jadctl (fleet, &output, "rollback web --env staging --dry-run --json"), 0,
                  "%s", output);
    answer = json_loads (output, 0, NULL);
    dry = json_object_get (answer, "dry_run");
    cr_assert_str_eq (json_string_value (json_object_get (dry, "kind")), "rollback", "%s", output);
    cr_assert_str_eq (json_string_value (json_object_get (dry, "version")), "1.0", "%s", output);
    json_decref (answer);
    free (output);
    cr_assert_eq (s_plan_count (), 2, "a dry rollback makes no plan");
    //  the audit keeps the request, with what was asked
    cr_assert_eq (jt_jadctl (fleet, &output, "audit"), 0);
    cr_assert (strstr (output, "rollback"), "%s", output);
    free (output);
}

//  release show: what the release is and every plan of it, where it ran
//  and how it ended (here beside the dry runs: both answer "what about
//  this release" without changing anything)
Test (dry_run, release_show_says_where_it_ran_and_how_it_ended)
{
    jt_fleet_set_environments (fleet, "environments:\n"
                                      "  staging: { strategy: all }\n"
                                      "  prod: { strategy: all }\n");
    jt_fleet_restart_controller (fleet);
    jt_fleet_add_agent (fleet, "host-1", "staging");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    s_add_release ("1.0");
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release show web 1.0"), 0, "%s", output);
    cr_assert (strstr (output, "ran:      nowhere yet"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env staging --wait"), 0);
    cr_assert_eq (jt_jadctl (fleet, &output, "release show web 1.0 --json"), 0, "%s", output);
    json_t *shown = json_loads (output, 0, NULL);
    cr_assert_not_null (shown, "%s", output);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_object_get (shown, "release"), "version")), "1.0");
    json_t *plans = json_object_get (shown, "plans");
    cr_assert_eq (json_array_size (plans), 1, "%s", output);
    json_t *plan = json_array_get (plans, 0);
    cr_assert_str_eq (json_string_value (json_object_get (plan, "env")), "staging");
    cr_assert_str_eq (json_string_value (json_object_get (plan, "outcome")), "succeeded", "%s",
                      output);
    cr_assert (json_is_array (json_object_get (shown, "checks")), "%s", output);
    json_decref (shown);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "release show web 1.0"), 0, "%s", output);
    cr_assert (strstr (output, "staging"), "%s", output);
    cr_assert (strstr (output, "succeeded"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "release show web 9.9"), 2, "%s", output);
    cr_assert (strstr (output, "no release web 9.9"), "%s", output);
    free (output);
}
