//  test_schedule - the release calendar end to end: a release on a
//  tracked branch waits for its environment's next slot, `jadctl
//  schedule` shows the slot and what waits, and the controller deploys it
//  at the slot by itself
//  SPDX-License-Identifier: MPL-2.0
//
//  Real controller and agent processes on loopback (jt_fleet_*). Slot
//  arithmetic (zones, clock changes, weeks) is in tests/engine/test_calendar.c.

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

TestSuite (schedule, .init = s_setup, .fini = s_teardown, .timeout = 280);

//  True once `plans --json` lists a plan of web 1.0 in staging.
static bool s_planned (void *arg)
{
    (void)arg;
    char *output = NULL;
    bool found = jt_jadctl (fleet, &output, "plans --env staging --json") == 0 && output &&
                 strstr (output, "\"version\": \"1.0\"") != NULL;
    free (output);
    return found;
}

Test (schedule, a_tracked_release_waits_for_the_slot_and_deploys_at_it)
{
    //  the slot: the next whole minute at least 20 s away, UTC
    time_t now = time (NULL);
    time_t slot = (now + 20) / 60 * 60 + 60;
    struct tm clock;
    gmtime_r (&slot, &clock);
    char yaml[512];
    snprintf (yaml, sizeof yaml,
              "environments:\n"
              "  staging: { track: \"release/*\", auto_deploy: true, strategy: all,\n"
              "             timezone: UTC, schedule: \"daily %02d:%02d\" }\n",
              clock.tm_hour, clock.tm_min);
    jt_fleet_set_environments (fleet, yaml);
    jt_fleet_restart_controller (fleet);
    jt_fleet_add_agent (fleet, "host-1", "staging");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));

    const char *files[] = {"jadugar.yaml", "hooks: {}\n", "VERSION", "1.0", NULL};
    char *archive = jt_make_release (fleet->dir, "web-1.0", files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web 1.0 %s --branch release/1", archive),
                  0, "%s", output);
    char when[64];
    strftime (when, sizeof when, "%a %Y-%m-%d %H:%M UTC", &clock);
    char expected[256];
    snprintf (expected, sizeof expected,
              "auto-deploy to staging: waits for staging's next slot: %s (schedule: daily "
              "%02d:%02d UTC)",
              when, clock.tm_hour, clock.tm_min);
    cr_assert (strstr (output, expected), "want \"%s\" in:\n%s", expected, output);
    free (output);
    free (archive);

    //  jadctl schedule: the slot, and web 1.0 waiting for it
    cr_assert_eq (jt_jadctl (fleet, &output, "schedule --json"), 0, "%s", output);
    json_t *shown = json_loads (output, 0, NULL);
    cr_assert_not_null (shown, "%s", output);
    json_t *env = json_array_get (json_object_get (shown, "environments"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (env, "env")), "staging");
    cr_assert_str_eq (json_string_value (json_object_get (env, "timezone")), "UTC");
    char iso[32];
    strftime (iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &clock);
    json_t *first = json_array_get (json_object_get (env, "slots"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (first, "time")), iso, "%s", output);
    cr_assert_eq (json_array_size (json_object_get (env, "slots")), 5);
    json_t *waiting = json_array_get (json_object_get (env, "waiting"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (waiting, "version")), "1.0", "%s",
                      output);
    json_decref (shown);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "schedule"), 0);
    cr_assert (strstr (output, "staging: daily"), "%s", output);
    cr_assert (strstr (output, "web 1.0 (branch release/1)"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "schedule --env nowhere"), 2, "%s", output);
    cr_assert (strstr (output, "schedule: unknown environment 'nowhere'"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "schedule --count 0"), 2, "%s", output);
    free (output);
    cr_assert_not (s_planned (NULL), "nothing is deployed before the slot");

    //  at the slot the controller deploys it, saying why
    cr_assert (jt_wait_for (s_planned, NULL, 150000), "no plan of web 1.0 at the slot");
    cr_assert_eq (jt_jadctl (fleet, &output, "plans --env staging --json"), 0);
    cr_assert (strstr (output, "\"deployer\": \"controller\""), "%s", output);
    free (output);
    char path[4096];
    snprintf (path, sizeof path, "%s/controller.log", fleet->dir);
    FILE *log = fopen (path, "r");
    cr_assert_not_null (log);
    static char text[1 << 20];
    text[fread (text, 1, sizeof text - 1, log)] = 0;
    fclose (log);
    cr_assert (strstr (text, "policy: slot env=staging app=web version=1.0 plan="), "%s", text);
    cr_assert_eq (jt_jadctl (fleet, &output, "schedule --json"), 0, "%s", output);
    shown = json_loads (output, 0, NULL);
    env = json_array_get (json_object_get (shown, "environments"), 0);
    cr_assert_eq (json_array_size (json_object_get (env, "waiting")), 0, "%s", output);
    cr_assert_str_eq (json_string_value (json_object_get (env, "last_slot")), iso, "%s", output);
    json_decref (shown);
    free (output);
}
