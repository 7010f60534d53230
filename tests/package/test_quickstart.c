//  test_quickstart - deploy/quickstart.sh --stop stops the demo's own
//  processes and nothing else
//  SPDX-License-Identifier: MPL-2.0
//
//  A demo directory as quickstart.sh leaves it (run/NAME.pid files) with a
//  real controller started exactly as quickstart starts one, beside pid
//  files that point at an unrelated process of ours (a `sleep`), at a pid
//  that is gone, and at no pid at all. --stop must stop the controller and
//  leave the sleep running.

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_QUICKSTART JAD_SOURCE_DIR "/deploy/quickstart.sh"
#define S_CONTROLLER JAD_BIN_DIR "/controller/jadugar-controller"
#define S_JADCTL     JAD_BIN_DIR "/controller/jadctl"

//  Write "PID\n" to DEMO/run/NAME.pid.
static void s_pidfile (const char *demo, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/run/%s.pid", demo, name);
    jt_write_file (path, text, 0644);
}

//  Still running (not exited, not a zombie of ours)?
static bool s_alive (pid_t pid)
{
    int status = 0;
    return waitpid (pid, &status, WNOHANG) == 0;
}

static bool s_answers (void *arg)
{
    return jt_run (NULL, "%s --config %s/controller/admin.jadctl.yaml status", S_JADCTL,
                   (const char *)arg) == 0;
}

Test (quickstart, stop_signals_only_the_demos_own_processes, .timeout = 120)
{
    char *demo = jt_tempdir ("jadugar-qs");
    char *output = NULL;
    int port = jt_free_port_base (4);
    cr_assert_eq (
        jt_run (&output, "%s init --data %s/controller --port %d", S_CONTROLLER, demo, port), 0,
        "%s", output);
    free (output);
    //  the controller as quickstart.sh runs it: BUILD/controller/... run --data DEMO/controller
    char data[PATH_MAX], log[PATH_MAX];
    snprintf (data, sizeof data, "%s/controller", demo);
    snprintf (log, sizeof log, "%s/controller.log", demo);
    char *controller_argv[] = {S_CONTROLLER, "run", "--data", data, NULL};
    pid_t controller = jt_spawn (log, controller_argv);
    //  ... up and serving before it is asked to stop
    cr_assert (jt_wait_for (s_answers, demo, 30000), "the controller did not start");

    //  an unrelated process in a pid file of the demo: reused pid
    char *sleep_argv[] = {"/bin/sleep", "300", NULL};
    snprintf (log, sizeof log, "%s/sleep.log", demo);
    pid_t sleeper = jt_spawn (log, sleep_argv);
    char text[32];
    snprintf (text, sizeof text, "%d\n", (int)controller);
    s_pidfile (demo, "controller", text);
    snprintf (text, sizeof text, "%d\n", (int)sleeper);
    s_pidfile (demo, "dev-1", text);
    //  a pid that is gone: a child of ours, exited and reaped
    pid_t gone = fork ();
    if (gone == 0)
        _exit (0);
    cr_assert_eq (waitpid (gone, NULL, 0), gone);
    snprintf (text, sizeof text, "%d\n", (int)gone);
    s_pidfile (demo, "staging-1", text);
    s_pidfile (demo, "prod-1", "not-a-pid\n");

    int rc = jt_run (&output, "JADUGAR_DEMO_DIR=%s JADUGAR_BUILD_DIR=%s %s --stop", demo,
                     JAD_BIN_DIR, S_QUICKSTART);
    cr_expect_eq (rc, 0, "%s", output);
    cr_expect (s_alive (sleeper), "quickstart --stop killed an unrelated process:\n%s", output);
    char says[128];
    snprintf (says, sizeof says, "dev-1.pid: pid %d is not the demo's dev-1 (/bin/sleep 300",
              (int)sleeper);
    cr_expect (output && strstr (output, says), "no \"%s\" in:\n%s", says, output);
    snprintf (says, sizeof says, "staging-1.pid: pid %d is gone", (int)gone);
    cr_expect (output && strstr (output, says), "no \"%s\" in:\n%s", says, output);
    cr_expect (output && strstr (output, "prod-1.pid holds 'not-a-pid', not a pid"), "%s", output);
    cr_expect (output && strstr (output, "demo stopped"), "%s", output);
    free (output);
    //  --stop returns once the controller has exited: it got SIGTERM and
    //  stopped cleanly
    int status = 0;
    pid_t reaped = waitpid (controller, &status, WNOHANG);
    cr_expect_eq (reaped, controller, "the demo's controller still runs");
    if (reaped == controller)
        cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                   "the demo's controller did not stop cleanly (%d)", status);
    else
        jt_kill9 (controller);
    char *pids = NULL;
    jt_run (&pids, "ls %s/run", demo);
    cr_expect_str_eq (pids ? pids : "?", "", "pid files left: %s", pids);
    free (pids);

    cr_expect_eq (kill (sleeper, SIGTERM), 0);
    jt_stop (sleeper);
    jt_rmtree (demo);
    free (demo);
}

//  The whole tour, against the binaries of this build (JADUGAR_NO_BUILD):
//  the fleet comes up, prod's schedule is shown, a schema change is rolled
//  back on its own under an incident that is opened, noted, closed and
//  reported, the broken releases are caught; then --stop ends it all.
Test (quickstart, the_tour_shows_a_schedule_a_db_rollback_and_an_incident_report, .timeout = 600)
{
    char *demo = jt_tempdir ("jadugar-qs");
    int port = jt_free_port_base (4);
    char *output = NULL;
    int rc = jt_run (&output,
                     "JADUGAR_NO_BUILD=1 JADUGAR_DEMO_DIR=%s JADUGAR_BUILD_DIR=%s JADUGAR_PORT=%d "
                     "%s </dev/null",
                     demo, JAD_BIN_DIR, port, S_QUICKSTART);
    char *stopped = NULL;
    int stop_rc = jt_run (&stopped, "JADUGAR_DEMO_DIR=%s JADUGAR_BUILD_DIR=%s %s --stop", demo,
                          JAD_BIN_DIR, S_QUICKSTART);
    cr_expect_eq (stop_rc, 0, "%s", stopped);
    cr_expect (stopped && strstr (stopped, "demo stopped"), "%s", stopped);
    free (stopped);
    cr_assert_eq (rc, 0, "quickstart failed (%d):\n%s", rc, output);
    //  the calendar: 1.0 on main waits for prod's slot; the slots are shown
    cr_expect (strstr (output, "auto-deploy to prod: waits for prod's next slot: Tue "), "%s",
               output);
    cr_expect (strstr (output, "every 2 weeks Tue 10:00 from 2026-12-08"), "%s", output);
    cr_expect (strstr (output, "Europe/Berlin"), "%s", output);
    //  the schema change, refused while 1.0.1 is active, then rolled back
    cr_expect (strstr (output, "staging's schema: 1.0 1.0.1 \n"), "%s", output);
    cr_expect (strstr (output, "(refused, exit 2: "), "%s", output);
    cr_expect (strstr (output, "staging's schema: 1.0 (the code stays 1.0.1)"), "%s", output);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/hosts/staging-1/srv/hello/shared/schema", demo);
    char *schema = jt_read_file (path);
    cr_expect_str_eq (schema ? schema : "?", "1.0\n");
    free (schema);
    //  the incident's report: its notes and the db-rollback in the timeline
    cr_expect (strstr (output, "# Incident 1: reports fail after hello 1.0.1's schema change"),
               "%s", output);
    cr_expect (strstr (output, "| note | admin | 1.0.1's code is fine"), "%s", output);
    cr_expect (strstr (output, "| note | admin | schema back to 1.0"), "%s", output);
    cr_expect (strstr (output, "- closed: "), "%s", output);
    cr_expect (strstr (output, "db-rollback"), "%s", output);
    //  the broken releases were caught
    cr_expect (strstr (output, "dev-1 rolled itself back to 1.0"), "%s", output);
    //  ... and the plan shown is the alert's rollback of 1.2, not 1.1's
    cr_expect (strstr (output, "automatic rollback: alert "), "%s", output);
    cr_expect (strstr (output, "rolling back hello 1.2"), "%s", output);
    cr_expect (strstr (output, "The demo fleet is running."), "%s", output);
    free (output);
    jt_rmtree (demo);
    free (demo);
}
