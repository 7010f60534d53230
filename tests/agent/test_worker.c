//  test_worker - the apply worker and its helper process (jadugar-apply)
//  SPDX-License-Identifier: MPL-2.0
//
//  Runs the real helper binary of this build on real tarballs: the job
//  goes down a pipe, events come back, each started step waits for the
//  go-ahead; a helper that dies says how and where; a helper dies with
//  the process that started it; the scrape mode names URL and failure.

#include "agt_pipe.h"
#include "agt_worker.h"
#include "jad_testlib.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HELPER JAD_BIN_DIR "/agent/jadugar-apply"

static char *s_dir;   //  temp dir: sources, archives, root
static char *s_root;  //  release root

static void setup (void)
{
    s_dir = jt_tempdir ("agt-worker");
    s_root = jad_strdup_printf ("%s/root", s_dir);
}

static void teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
    free (s_root);
}

TestSuite (worker, .init = setup, .fini = teardown);

//  web-1.0.tgz whose pre_activate hook runs `script` (a shell body).
static char *s_release (const char *script)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/src/hooks/pre.sh", s_dir);
    char *text = jad_strdup_printf ("#!/bin/sh\n%s\n", script);
    jt_write_file (path, text, 0755);
    free (text);
    snprintf (path, sizeof path, "%s/src/jadugar.yaml", s_dir);
    jt_write_file (path, "hooks:\n  pre_activate: ./hooks/pre.sh\n", 0644);
    char *archive = jad_strdup_printf ("%s/web-1.0.tgz", s_dir);
    cr_assert_eq (jt_run (NULL, "tar -C '%s/src' -czf '%s' .", s_dir, archive), 0);
    return archive;
}

static jad_apply_job_t *s_job (const char *archive)
{
    jad_apply_job_t *job = jad_apply_job_new ();
    cr_assert_not_null (job);
    job->plan_id = strdup ("plan-1");
    job->app = strdup ("web");
    job->version = strdup ("1.0");
    uint8_t sha[32];
    char hex[65];
    cr_assert_eq (jad_sha256_file (archive, sha, &job->artifact_length), 0);
    job->sha256_hex = strdup (jad_hex (sha, 32, hex));
    job->archive = strdup (archive);
    job->environment = strdup ("dev");
    job->host = strdup ("host-1");
    job->root = strdup (s_root);
    job->downloads = jad_strdup_printf ("%s/downloads", s_dir);
    job->hook_timeout_ms = 30000;
    job->keep_releases = 5;
    return job;
}

static bool s_exists (void *arg)
{
    return access ((const char *)arg, F_OK) == 0;
}

typedef struct {
    char marker[PATH_MAX];  //  the pre_activate hook creates it
    int started;            //  step starts seen
    bool marker_early;      //  the hook ran before its go-ahead
    uint32_t done_status;
    char done_detail[JAD_MAX_DETAIL];
    char steps[512];  //  "step:status " for each step event
} s_seen_t;

//  Runs before the worker writes the go-ahead of a started step.
static void s_handle (jad_apply_event_t **event_p, void *arg)
{
    s_seen_t *seen = (s_seen_t *)arg;
    jad_apply_event_t *event = *event_p;
    if (event->kind == JAD_APPLY_EVENT_STEP) {
        size_t used = strlen (seen->steps);
        snprintf (seen->steps + used, sizeof seen->steps - used, "%s:%s ", event->step,
                  jad_report_status_name (event->status));
    }
    if (event->kind == JAD_APPLY_EVENT_STEP && event->status == JAD_REPORT_STARTED) {
        seen->started++;
        //  held here, the helper must not run the hook: give it the time
        if (streq (event->step, "pre_activate") && jt_wait_for (s_exists, seen->marker, 300))
            seen->marker_early = true;
    }
    if (event->kind == JAD_APPLY_EVENT_DONE) {
        seen->done_status = event->status;
        snprintf (seen->done_detail, sizeof seen->done_detail, "%s",
                  event->detail ? event->detail : "");
    }
    jad_apply_event_destroy (event_p);
}

Test (worker, runs_the_job_in_the_helper_each_step_after_its_go_ahead)
{
    s_seen_t seen = {.started = 0};
    snprintf (seen.marker, sizeof seen.marker, "%s/pre-ran", s_dir);
    char *script = jad_strdup_printf ("touch '%s'", seen.marker);
    char *archive = s_release (script);
    free (script);
    jad_apply_job_t *job = s_job (archive);
    agt_worker_t *worker = agt_worker_new (HELPER, NULL);
    cr_assert_not_null (worker);
    char err[JAD_MAX_DETAIL] = "";
    cr_assert_eq (agt_worker_start (worker, job, err, sizeof err), 0, "%s", err);
    cr_expect (agt_worker_busy (worker));
    cr_expect_geq (agt_worker_fd (worker), 0);
    cr_expect_eq (agt_worker_start (worker, job, err, sizeof err), -1, "one job at a time");
    cr_expect (strstr (err, "busy") != NULL, "%s", err);
    //  as the daemon does: poll the fd (events, then the helper's exit),
    //  read what is there
    agt_worker_state_t state = AGT_WORKER_RUNNING;
    while (state == AGT_WORKER_RUNNING || state == AGT_WORKER_EXITING) {
        cr_expect (agt_worker_busy (worker), "busy until the helper is reaped");
        struct pollfd item = {.fd = agt_worker_fd (worker), .events = POLLIN};
        cr_assert_geq (poll (&item, 1, 30000), 1, "the helper went quiet");
        state = agt_worker_read (worker, s_handle, &seen);
    }
    cr_expect_eq (state, AGT_WORKER_FINISHED, "%s", agt_worker_lost_detail (worker));
    cr_expect_not (agt_worker_busy (worker));
    cr_expect_eq (agt_worker_fd (worker), -1);
    cr_expect_eq (seen.done_status, JAD_REPORT_HEALTHY, "%s", seen.done_detail);
    cr_expect_str_eq (seen.steps, "unpack:started unpack:ok pre_activate:started pre_activate:ok "
                                  "switch:started switch:ok ");
    cr_expect_eq (seen.started, 3);
    cr_expect_not (seen.marker_early, "the hook ran before the step was recorded");
    cr_expect (s_exists (seen.marker), "the hook never ran");
    cr_expect_str_eq (agt_worker_step (worker), "switch");
    char current[PATH_MAX], target[64] = "";
    snprintf (current, sizeof current, "%s/web/current", s_root);
    ssize_t size = readlink (current, target, sizeof target - 1);
    target[size > 0 ? size : 0] = 0;
    cr_expect_str_eq (target, "releases/1.0");
    agt_worker_destroy (&worker);
    cr_expect_null (worker);
    jad_apply_job_destroy (&job);
    free (archive);
}

Test (worker, a_helper_that_dies_fails_the_job_saying_how_and_where)
{
    //  the hook's parent is the helper
    char *archive = s_release ("kill -KILL $PPID\nexit 0");
    jad_apply_job_t *job = s_job (archive);
    agt_worker_t *worker = agt_worker_new (HELPER, NULL);
    cr_assert_not_null (worker);
    char err[JAD_MAX_DETAIL] = "";
    cr_assert_eq (agt_worker_start (worker, job, err, sizeof err), 0, "%s", err);
    s_seen_t seen = {.started = 0};
    snprintf (seen.marker, sizeof seen.marker, "%s/never", s_dir);
    agt_worker_state_t state = agt_worker_drain (worker, s_handle, &seen);
    cr_expect_eq (state, AGT_WORKER_LOST);
    cr_expect_str_eq (agt_worker_lost_detail (worker),
                      "apply helper exited with signal 9 during pre_activate");
    cr_expect_eq (seen.done_status, 0, "no outcome came");
    cr_expect_not (agt_worker_busy (worker));
    //  the worker is idle again: the next job runs
    free (archive);
    archive = s_release ("exit 0");
    jad_apply_job_destroy (&job);
    job = s_job (archive);
    cr_assert_eq (agt_worker_start (worker, job, err, sizeof err), 0, "%s", err);
    cr_expect_eq (agt_worker_drain (worker, s_handle, &seen), AGT_WORKER_FINISHED);
    cr_expect_eq (seen.done_status, JAD_REPORT_HEALTHY, "%s", seen.done_detail);
    agt_worker_destroy (&worker);
    jad_apply_job_destroy (&job);
    free (archive);
}

Test (worker, a_missing_helper_is_named_with_the_paths_tried)
{
    char err[JAD_MAX_DETAIL] = "";
    //  this test binary has no jadugar-apply beside it
    char *path = agt_worker_helper_path (err, sizeof err);
    cr_expect_null (path);
    cr_expect (strstr (err, "/tests/jadugar-apply and ") != NULL, "%s", err);
    cr_expect (strstr (err, "/tests/../lib/jadugar/jadugar-apply") != NULL, "%s", err);
    agt_worker_t *worker = agt_worker_new (NULL, err);
    cr_assert_not_null (worker);
    char *archive = s_release ("exit 0");
    jad_apply_job_t *job = s_job (archive);
    char why[JAD_MAX_DETAIL] = "";
    cr_expect_eq (agt_worker_start (worker, job, why, sizeof why), -1);
    cr_expect_str_eq (why, err);
    cr_expect_not (agt_worker_busy (worker));
    agt_worker_destroy (&worker);
    jad_apply_job_destroy (&job);
    free (archive);
    free (path);
}

static bool s_gone (void *arg)
{
    pid_t pid = *(pid_t *)arg;
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    char *text = jt_read_file (path);
    //  gone, or a zombie nobody reaped yet
    const char *state = text ? strrchr (text, ')') : NULL;
    bool gone = !text || (state && state[1] == ' ' && state[2] == 'Z');
    free (text);
    return gone;
}

Test (worker, the_helper_dies_with_the_process_that_started_it)
{
    char pids[PATH_MAX];
    snprintf (pids, sizeof pids, "%s/pids", s_dir);
    char *script = jad_strdup_printf ("echo \"$PPID $$\" > '%s.tmp'\nmv '%s.tmp' '%s'\nsleep 60",
                                      pids, pids, pids);
    char *archive = s_release (script);
    free (script);
    jad_apply_job_t *job = s_job (archive);
    pid_t agent = fork ();
    cr_assert_geq (agent, 0);
    if (agent == 0) {
        //  the "agent": starts the job and waits on it
        agt_worker_t *worker = agt_worker_new (HELPER, NULL);
        char err[JAD_MAX_DETAIL];
        if (!worker || agt_worker_start (worker, job, err, sizeof err))
            _exit (1);
        s_seen_t seen = {.started = 0};
        snprintf (seen.marker, sizeof seen.marker, "%s/never", s_dir);
        agt_worker_drain (worker, s_handle, &seen);
        _exit (0);
    }
    bool started = jt_wait_for (s_exists, pids, 30000);
    int helper = 0, hook = 0;
    char *text = jt_read_file (pids);
    if (text)
        sscanf (text, "%d %d", &helper, &hook);
    free (text);
    kill (agent, SIGKILL);
    waitpid (agent, NULL, 0);
    cr_assert (started && helper > 0, "the hook never ran");
    pid_t helper_pid = helper;
    cr_expect (jt_wait_for (s_gone, &helper_pid, 10000), "helper %d outlived its agent", helper);
    if (hook > 0)
        kill (-hook, SIGKILL);  //  the hook's group: it is not the helper's to outlive
    jad_apply_job_destroy (&job);
    free (archive);
}

static char *s_scrape (const char *url, int *rc)
{
    char *output = NULL;
    *rc = jt_run (&output, "'%s' --scrape '%s' --timeout-ms 5000 2>&1", HELPER, url);
    return output;
}

Test (worker, scrape_prints_the_body_or_names_url_and_failure)
{
    jt_sink_t *sink = jt_sink_new (1);  //  500 first, then 200 "{}"
    cr_assert_not_null (sink);
    char url[128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/metrics", jt_sink_port (sink));
    int rc = 0;
    char *output = s_scrape (url, &rc);
    cr_expect_eq (rc, 1);
    char *expected = jad_strdup_printf ("prometheus %s: status 500, expected 200\n", url);
    cr_expect_str_eq (output, expected);
    free (expected);
    free (output);
    output = s_scrape (url, &rc);
    cr_expect_eq (rc, 0, "%s", output);
    cr_expect_str_eq (output, "{}");
    free (output);
    jt_sink_destroy (&sink);

    int closed = -1;
    int port = jt_closed_port (&closed);
    snprintf (url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    output = s_scrape (url, &rc);
    close (closed);
    cr_expect_eq (rc, 1);
    expected = jad_strdup_printf ("prometheus %s: ", url);
    cr_expect (output && strncmp (output, expected, strlen (expected)) == 0, "%s", output);
    free (expected);
    free (output);
    output = s_scrape ("file:///etc/passwd", &rc);
    cr_expect_eq (rc, 1, "only http and https: %s", output);
    free (output);
    cr_expect_eq (jt_run (NULL, "'%s' --scrape 2>/dev/null", HELPER), 2);
    cr_expect_eq (jt_run (NULL, "'%s' --apply 2>/dev/null", HELPER), 2, "--apply needs --parent");
}
