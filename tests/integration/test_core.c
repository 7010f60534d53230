//  test_core - the core path end to end: real controller and agent processes
//  SPDX-License-Identifier: MPL-2.0
//
//  Each test starts a controller and agents as processes on loopback, with
//  free ports and temporary directories, and drives them with jadctl.

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

TestSuite (core, .init = s_setup, .fini = s_teardown, .timeout = 180);

//  A release whose smoke test fails on the host named `failing_host` (or
//  nowhere when NULL) and whose activate hook sleeps `activate_sleep` s.
static char *s_release (const char *version, const char *failing_host, int activate_sleep)
{
    char smoke[512], activate[512], name[64];
    snprintf (smoke, sizeof smoke,
              "#!/bin/sh\n"
              "echo \"smoke on $JADUGAR_HOST for $JADUGAR_VERSION\"\n"
              "if [ \"$JADUGAR_HOST\" = \"%s\" ]; then echo 'health check failed'; exit 3; fi\n",
              failing_host ? failing_host : "");
    snprintf (
        activate, sizeof activate,
        "#!/bin/sh\nsleep %d\necho \"$JADUGAR_VERSION\" >> \"$JADUGAR_SHARED_DIR/activated\"\n",
        activate_sleep);
    const char *files[] = {"jadugar.yaml",
                           "hooks:\n  activate: ./hooks/activate.sh\n  smoke:\n"
                           "    - run: ./hooks/smoke.sh\n      timeout: 20s\n",
                           "hooks/activate.sh",
                           activate,
                           "hooks/smoke.sh",
                           smoke,
                           "VERSION",
                           version,
                           NULL};
    snprintf (name, sizeof name, "web-%s", version);
    return jt_make_release (fleet->dir, name, files);
}

static void s_add_release (const char *version, const char *failing_host, int activate_sleep)
{
    char *archive = s_release (version, failing_host, activate_sleep);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "release add web %s %s", version, archive);
    cr_assert_eq (rc, 0, "release add failed (%d): %s", rc, output);
    free (output);
    free (archive);
}

//  Where ROOT/web/current points for agent index ("" if nowhere).
static char *s_current (int index)
{
    char *root = jt_fleet_root (fleet, index);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/current", root);
    free (root);
    char target[PATH_MAX] = "";
    ssize_t len = readlink (path, target, sizeof target - 1);
    target[len > 0 ? len : 0] = 0;
    return strdup (target);
}

//  current must name a whole release: the old one or the new one.
static bool streq_either (const char *current)
{
    return strcmp (current, "releases/1.0") == 0 || strcmp (current, "releases/2.0") == 0;
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

Test (core, deploy_reaches_every_host)
{
    s_start_agents (3, "dev");
    s_add_release ("1.0", NULL, 0);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env dev --wait");
    cr_assert_eq (rc, 0, "deploy --wait exited %d:\n%s", rc, output);
    cr_assert (strstr (output, "succeeded"), "no success line:\n%s", output);
    free (output);
    for (int index = 0; index < 3; index++) {
        char *current = s_current (index);
        cr_assert_str_eq (current, "releases/1.0");
        free (current);
    }
    cr_assert (jt_fleet_wait_status (fleet, "\"version\": \"1.0\"", 3, 10000));
    rc = jt_jadctl (fleet, &output, "--json status");
    cr_assert_eq (rc, 0);
    cr_assert_eq (jt_count (output, "\"health\": \"healthy\""), 3, "%s", output);
    free (output);
}

Test (core, failing_smoke_rolls_that_host_back)
{
    s_start_agents (3, "dev");
    s_add_release ("1.0", NULL, 0);
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env dev --wait"), 0);
    s_add_release ("2.0", "host-2", 0);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "deploy web 2.0 --env dev --wait");
    cr_assert_eq (rc, 1, "a failed deploy must exit 1, got %d:\n%s", rc, output);
    cr_assert (strstr (output, "health check failed"), "hook output missing:\n%s", output);
    cr_assert (strstr (output, "rolling back with plan"), "no coordinated rollback:\n%s", output);
    free (output);
    char *current = s_current (1);
    cr_assert_str_eq (current, "releases/1.0", "host-2 was not rolled back");
    free (current);
    //  The failure stopped the plan and the controller rolled back the
    //  hosts it had switched (deploy --wait follows that rollback).
    current = s_current (0);
    cr_assert_str_eq (current, "releases/1.0", "host-1 was not rolled back with the plan");
    free (current);
    //  The rollback re-ran the previous release's activate hook.
    char *root = jt_fleet_root (fleet, 1);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/shared/activated", root);
    free (root);
    char *activated = jt_read_file (path);
    cr_assert_not_null (activated);
    cr_assert_str_eq (activated, "1.0\n2.0\n1.0\n");
    free (activated);
}

Test (core, agent_started_after_deploy_converges)
{
    s_start_agents (2, "dev");
    s_add_release ("1.0", NULL, 0);
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env dev --wait"), 0);
    jt_fleet_add_agent (fleet, "late", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"version\": \"1.0\"", 3, 30000),
               "the late agent did not converge");
    char *current = s_current (2);
    cr_assert_str_eq (current, "releases/1.0");
    free (current);
}

Test (core, agent_killed_mid_deploy_converges)
{
    s_start_agents (1, "dev");
    s_add_release ("1.0", NULL, 0);
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env dev --wait"), 0);
    s_add_release ("2.0", NULL, 3);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 2.0 --env dev"), 0, "%s", output);
    free (output);
    //  Kill the agent while the activate hook sleeps.
    usleep (2500 * 1000);
    jt_kill9 (fleet->agents[0]);
    fleet->agents[0] = 0;
    char *current = s_current (0);
    cr_assert (streq_either (current), "current points at '%s'", current);
    free (current);
    jt_fleet_start_agent (fleet, 0);
    cr_assert (jt_fleet_wait_status (fleet, "\"version\": \"2.0\"", 1, 40000),
               "the restarted agent did not converge");
    cr_assert (jt_fleet_wait_status (fleet, "\"health\": \"healthy\"", 1, 20000));
    current = s_current (0);
    cr_assert_str_eq (current, "releases/2.0");
    free (current);
}

Test (core, bad_requests_exit_with_clear_codes)
{
    s_start_agents (1, "dev");
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "deploy web 9.9 --env dev");
    cr_assert_eq (rc, 2, "unknown release: %d %s", rc, output);
    cr_assert (strstr (output, "no release web 9.9"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env nowhere");
    cr_assert_eq (rc, 2);
    cr_assert (strstr (output, "unknown environment 'nowhere'"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env dev --bogus");
    cr_assert_eq (rc, 2);
    cr_assert (strstr (output, "--bogus"), "%s", output);
    free (output);
    //  A release without jadugar.yaml is refused with the reason.
    const char *files[] = {"README", "no manifest here\n", NULL};
    char *archive = jt_make_release (fleet->dir, "nomanifest", files);
    rc = jt_jadctl (fleet, &output, "release add web 3.0 %s", archive);
    cr_assert_eq (rc, 2, "%s", output);
    cr_assert (strstr (output, "jadugar.yaml"), "%s", output);
    free (output);
    free (archive);
    //  Controller down: exit 3.
    jt_stop (fleet->controller);
    fleet->controller = 0;
    setenv ("JADCTL_TIMEOUT_MS", "1500", 1);
    rc = jt_jadctl (fleet, &output, "status");
    cr_assert_eq (rc, 3, "unreachable controller: %d %s", rc, output);
    free (output);
}
