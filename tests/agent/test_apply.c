//  test_apply - unpack, hooks, switch, smoke, rollback and pruning on disk
//  SPDX-License-Identifier: MPL-2.0
//
//  Runs agt_apply_run directly (no sockets, no worker thread) on real
//  tarballs made with tar. Hooks log to $JADUGAR_SHARED_DIR/activate.log,
//  which tells the test which release's activate hook ran, in order.

#include "agt_apply.h"
#include "jad_testlib.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *s_dir;   //  temp dir: sources, archives, root
static char *s_root;  //  release root

static void setup (void)
{
    s_dir = jt_tempdir ("agt-apply");
    s_root = jad_strdup_printf ("%s/root", s_dir);
}

static void teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
    free (s_root);
}

TestSuite (apply, .init = setup, .fini = teardown);

typedef struct {
    int pre_activate_exit;  //  -1: no pre_activate hook
    int smoke_exit;
    bool bad_manifest;
} s_release_spec_t;

//  Build web-VERSION.tgz; returns its path (caller frees).
static char *s_release (const char *version, s_release_spec_t spec)
{
    char path[PATH_MAX];
    char *text;
    snprintf (path, sizeof path, "%s/src-%s/hooks/activate.sh", s_dir, version);
    jt_write_file (path,
                   "#!/bin/sh\necho \"$JADUGAR_VERSION prev=$JADUGAR_PREVIOUS_VERSION\""
                   " >> \"$JADUGAR_SHARED_DIR/activate.log\"\n",
                   0755);
    snprintf (path, sizeof path, "%s/src-%s/hooks/smoke.sh", s_dir, version);
    text = jad_strdup_printf ("#!/bin/sh\necho smoke says hello\nexit %d\n", spec.smoke_exit);
    jt_write_file (path, text, 0755);
    free (text);
    snprintf (path, sizeof path, "%s/src-%s/hooks/prepare.sh", s_dir, version);
    text = jad_strdup_printf ("#!/bin/sh\nexit %d\n", spec.pre_activate_exit);
    jt_write_file (path, text, 0755);
    free (text);
    snprintf (path, sizeof path, "%s/src-%s/jadugar.yaml", s_dir, version);
    if (spec.bad_manifest)
        jt_write_file (path, "hooks:\n  activate: ./hooks/activate.sh\n  bogus: 1\n", 0644);
    else
        jt_write_file (path,
                       spec.pre_activate_exit >= 0
                           ? "hooks:\n  pre_activate: ./hooks/prepare.sh\n"
                             "  activate: ./hooks/activate.sh\n"
                             "  smoke:\n    - run: ./hooks/smoke.sh\n      timeout: 10s\n"
                           : "hooks:\n  activate: ./hooks/activate.sh\n"
                             "  smoke:\n    - run: ./hooks/smoke.sh\n      timeout: 10s\n",
                       0644);
    char *archive = jad_strdup_printf ("%s/web-%s.tgz", s_dir, version);
    cr_assert_eq (jt_run (NULL, "tar -C '%s/src-%s' -czf '%s' .", s_dir, version, archive), 0);
    return archive;
}

static jad_apply_job_t *s_job (const char *version, const char *archive, const char *previous_hint)
{
    jad_apply_job_t *job = jad_apply_job_new ();
    cr_assert_not_null (job);
    job->plan_id = jad_strdup_printf ("plan-%s", version);
    job->app = strdup ("web");
    job->version = strdup (version);
    uint8_t sha[32];
    char hex[65];
    if (archive) {
        cr_assert_eq (jad_sha256_file (archive, sha, &job->artifact_length), 0);
        job->sha256_hex = strdup (jad_hex (sha, 32, hex));
        job->archive = strdup (archive);
    } else
        job->sha256_hex = strdup ("00");
    job->previous_hint = previous_hint ? strdup (previous_hint) : NULL;
    job->environment = strdup ("dev");
    job->host = strdup ("host-1");
    job->root = strdup (s_root);
    job->downloads = jad_strdup_printf ("%s/downloads", s_dir);
    job->hook_timeout_ms = 10000;
    job->keep_releases = 5;
    return job;
}

//  Events as "STEP:status" lines, plus the outcome.
typedef struct {
    zlist_t *lines;
    char done_version[64];
    uint32_t done_status;
    char done_step[32];
    char done_detail[JAD_MAX_DETAIL];
    char last_detail[JAD_MAX_DETAIL];  //  of the last failed step
    int removed;
    int added;
} s_events_t;

static void s_collect (jad_apply_event_t **event_p, void *arg)
{
    s_events_t *events = (s_events_t *)arg;
    jad_apply_event_t *event = *event_p;
    char line[128];
    if (event->kind == JAD_APPLY_EVENT_STEP) {
        snprintf (line, sizeof line, "%s:%s", event->step, jad_report_status_name (event->status));
        zlist_append (events->lines, line);
        if (event->status == JAD_REPORT_FAILED && event->detail)
            snprintf (events->last_detail, sizeof events->last_detail, "%s", event->detail);
    } else if (event->kind == JAD_APPLY_EVENT_RELEASE_ADDED)
        events->added++;
    else if (event->kind == JAD_APPLY_EVENT_RELEASE_REMOVED)
        events->removed++;
    else if (event->kind == JAD_APPLY_EVENT_DONE) {
        events->done_status = event->status;
        snprintf (events->done_step, sizeof events->done_step, "%s", event->step);
        snprintf (events->done_version, sizeof events->done_version, "%s",
                  event->version ? event->version : "");
        snprintf (events->done_detail, sizeof events->done_detail, "%s",
                  event->detail ? event->detail : "");
    }
    jad_apply_event_destroy (event_p);
}

static bool s_has (s_events_t *events, const char *line)
{
    for (char *item = (char *)zlist_first (events->lines); item;
         item = (char *)zlist_next (events->lines))
        if (strcmp (item, line) == 0)
            return true;
    return false;
}

//  Apply a job, return agt_apply_run's result and the events.
static int s_apply (jad_apply_job_t *job, s_events_t *events)
{
    memset (events, 0, sizeof *events);
    events->lines = zlist_new ();
    zlist_autofree (events->lines);
    int rc = agt_apply_run (job, s_collect, events);
    jad_apply_job_destroy (&job);
    return rc;
}

static void s_events_clear (s_events_t *events)
{
    zlist_destroy (&events->lines);
}

static char *s_current (void)
{
    char path[PATH_MAX], target[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/current", s_root);
    ssize_t size = readlink (path, target, sizeof target - 1);
    if (size < 0)
        return NULL;
    target[size] = 0;
    return strdup (target);
}

static char *s_activate_log (void)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/shared/activate.log", s_root);
    char *text = jt_read_file (path);
    return text ? text : strdup ("");
}

static void s_deploy_ok (const char *version, const char *previous)
{
    char *archive = s_release (version, (s_release_spec_t){.pre_activate_exit = 0});
    s_events_t events;
    cr_assert_eq (s_apply (s_job (version, archive, previous), &events), 0, "deploy %s failed: %s",
                  version, events.done_detail);
    s_events_clear (&events);
    free (archive);
}

Test (apply, healthy_release_becomes_current)
{
    char *archive = s_release ("1.0", (s_release_spec_t){.pre_activate_exit = 0});
    s_events_t events;
    cr_assert_eq (s_apply (s_job ("1.0", archive, NULL), &events), 0);
    char *current = s_current ();
    cr_assert_not_null (current);
    cr_assert_str_eq (current, "releases/1.0", "relative symlink into releases/");
    cr_assert (s_has (&events, "unpack:ok"));
    cr_assert (s_has (&events, "pre_activate:ok"));
    cr_assert (s_has (&events, "switch:ok"));
    cr_assert (s_has (&events, "activate:ok"));
    cr_assert (s_has (&events, "smoke:ok"));
    cr_assert_eq (events.done_status, JAD_REPORT_HEALTHY);
    cr_assert_str_eq (events.done_version, "1.0");
    cr_assert_str_eq (events.done_step, AGT_STEP_DONE);
    cr_assert_eq (events.added, 1);
    char *log = s_activate_log ();
    cr_assert_str_eq (log, "1.0 prev=\n");
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/releases/1.0/jadugar.yaml", s_root);
    cr_assert_eq (access (path, R_OK), 0);
    snprintf (path, sizeof path, "%s/web/current.tmp", s_root);
    cr_assert_neq (access (path, F_OK), 0, "no temporary link is left behind");
    free (log);
    free (current);
    free (archive);
    s_events_clear (&events);
}

Test (apply, failing_smoke_switches_back_and_reactivates_previous)
{
    s_deploy_ok ("1.0", NULL);
    char *archive = s_release ("2.0", (s_release_spec_t){.pre_activate_exit = 0, .smoke_exit = 3});
    s_events_t events;
    cr_assert_eq (s_apply (s_job ("2.0", archive, "1.0"), &events), -1);
    char *current = s_current ();
    cr_assert_str_eq (current, "releases/1.0");
    cr_assert (s_has (&events, "switch:ok"));
    cr_assert (s_has (&events, "smoke:failed"));
    cr_assert (s_has (&events, "rollback:rolled_back"));
    cr_assert_str_eq (events.last_detail, "hook smoke ./hooks/smoke.sh: exit 3");
    cr_assert_eq (events.done_status, JAD_REPORT_FAILED);
    cr_assert_str_eq (events.done_version, "1.0");
    cr_assert (strstr (events.done_detail, "smoke") != NULL, "detail: %s", events.done_detail);
    char *log = s_activate_log ();
    cr_assert_str_eq (log, "1.0 prev=\n2.0 prev=1.0\n1.0 prev=2.0\n",
                      "activate ran for 2.0, then again for 1.0; log:\n%s", log);
    free (log);
    free (current);
    free (archive);
    s_events_clear (&events);
}

Test (apply, failing_pre_activate_leaves_current_untouched)
{
    s_deploy_ok ("1.0", NULL);
    char *archive = s_release ("2.0", (s_release_spec_t){.pre_activate_exit = 1});
    s_events_t events;
    cr_assert_eq (s_apply (s_job ("2.0", archive, "1.0"), &events), -1);
    char *current = s_current ();
    cr_assert_str_eq (current, "releases/1.0");
    cr_assert (s_has (&events, "pre_activate:failed"));
    cr_assert_not (s_has (&events, "switch:started"));
    cr_assert_not (s_has (&events, "rollback:rolled_back"));
    cr_assert_str_eq (events.last_detail, "hook pre_activate ./hooks/prepare.sh: exit 1");
    char *log = s_activate_log ();
    cr_assert_str_eq (log, "1.0 prev=\n", "no activate hook ran; log:\n%s", log);
    free (log);
    free (current);
    free (archive);
    s_events_clear (&events);
}

Test (apply, first_release_failing_smoke_removes_current)
{
    char *archive = s_release ("1.0", (s_release_spec_t){.pre_activate_exit = -1, .smoke_exit = 2});
    s_events_t events;
    cr_assert_eq (s_apply (s_job ("1.0", archive, NULL), &events), -1);
    char *current = s_current ();
    cr_assert_null (current, "nothing to go back to: current is removed");
    cr_assert (s_has (&events, "rollback:rolled_back"));
    free (archive);
    s_events_clear (&events);
}

Test (apply, invalid_manifest_fails_unpack_and_leaves_no_release)
{
    s_deploy_ok ("1.0", NULL);
    char *archive = s_release ("2.0", (s_release_spec_t){.bad_manifest = true});
    s_events_t events;
    cr_assert_eq (s_apply (s_job ("2.0", archive, "1.0"), &events), -1);
    cr_assert (s_has (&events, "unpack:failed"));
    cr_assert (strstr (events.last_detail, "bogus") != NULL, "detail names the key: %s",
               events.last_detail);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/releases/2.0", s_root);
    cr_assert_neq (access (path, F_OK), 0, "a refused release is not left in releases/");
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "ls -A '%s/web/releases'", s_root), 0);
    cr_assert_str_eq (output, "1.0\n", "no staging dir is left: %s", output);
    char *current = s_current ();
    cr_assert_str_eq (current, "releases/1.0");
    free (current);
    free (output);
    free (archive);
    s_events_clear (&events);
}

Test (apply, release_on_disk_is_reused_without_archive)
{
    s_deploy_ok ("1.0", NULL);
    s_deploy_ok ("2.0", "1.0");
    //  a rollback plan to 1.0: on disk, no artifact fetched
    jad_apply_job_t *job = s_job ("1.0", NULL, "2.0");
    job->release_known = true;
    s_events_t events;
    cr_assert_eq (s_apply (job, &events), 0, "rollback failed: %s", events.done_detail);
    char *current = s_current ();
    cr_assert_str_eq (current, "releases/1.0");
    cr_assert (s_has (&events, "unpack:ok"));
    cr_assert_eq (events.added, 0, "nothing was unpacked");
    free (current);
    s_events_clear (&events);
}

Test (apply, keeps_only_keep_releases_but_never_current_or_previous)
{
    const char *versions[] = {"1.0", "2.0", "3.0", "4.0"};
    for (int index = 0; index < 4; index++) {
        char *archive = s_release (versions[index], (s_release_spec_t){.pre_activate_exit = 0});
        jad_apply_job_t *job = s_job (versions[index], archive, index ? versions[index - 1] : NULL);
        job->keep_releases = 2;
        s_events_t events;
        cr_assert_eq (s_apply (job, &events), 0);
        s_events_clear (&events);
        free (archive);
        usleep (20 * 1000);  //  distinct activation times
    }
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "ls '%s/web/releases'", s_root), 0);
    cr_assert_str_eq (output, "3.0\n4.0\n", "kept: %s", output);
    free (output);

    //  keep 1 still keeps current and previous
    char *archive = s_release ("5.0", (s_release_spec_t){.pre_activate_exit = 0});
    jad_apply_job_t *job = s_job ("5.0", archive, "4.0");
    job->keep_releases = 1;
    s_events_t events;
    cr_assert_eq (s_apply (job, &events), 0);
    cr_assert_eq (events.removed, 1);
    cr_assert_eq (jt_run (&output, "ls '%s/web/releases'", s_root), 0);
    cr_assert_str_eq (output, "4.0\n5.0\n", "kept: %s", output);
    free (output);
    free (archive);
    s_events_clear (&events);
}

Test (apply, missing_archive_fails_before_switch)
{
    s_deploy_ok ("1.0", NULL);
    jad_apply_job_t *job = s_job ("2.0", NULL, "1.0");
    s_events_t events;
    cr_assert_eq (s_apply (job, &events), -1);
    cr_assert (s_has (&events, "unpack:failed"));
    char *current = s_current ();
    cr_assert_str_eq (current, "releases/1.0");
    free (current);
    s_events_clear (&events);
}

//  --------------------------------------------------------------------------
//  Room and size: the signed unpacked size, the free space, the ratio cap

//  Sum of the regular files' sizes under src-VERSION (what the controller
//  signs as the release's unpacked size).
static uint64_t s_unpacked_size (const char *version)
{
    char *output = NULL;
    cr_assert_eq (jt_run (&output,
                          "find '%s/src-%s' -type f -printf '%%s\\n' | awk '{ s += $1 }"
                          " END { print s }'",
                          s_dir, version),
                  0);
    uint64_t size = strtoull (output, NULL, 10);
    free (output);
    cr_assert_gt (size, 0);
    return size;
}

static bool s_staging_left (void)
{
    char *output = NULL;
    jt_run (&output, "ls -A '%s/web/releases' 2>/dev/null | grep -c '^.staging'", s_root);
    bool left = output && atoi (output) > 0;
    free (output);
    return left;
}

Test (apply, a_signed_unpacked_size_that_does_not_fit_is_refused_before_unpacking)
{
    s_deploy_ok ("1.0", NULL);
    char *archive = s_release ("2.0", (s_release_spec_t){.pre_activate_exit = 0});
    jad_apply_job_t *job = s_job ("2.0", archive, "1.0");
    job->unpacked_size = 1ULL << 60;  //  an exbibyte: no disk has it
    s_events_t events;
    cr_assert_eq (s_apply (job, &events), -1);
    cr_assert (s_has (&events, "unpack:failed"));
    cr_assert_not (s_has (&events, "switch:started"));
    //  names the release, what it needs, the filesystem, what is free, and what to do
    const char *detail = events.last_detail;
    cr_assert (strstr (detail, "not enough space: releases/2.0 needs 1152921504606846976 bytes"),
               "%s", detail);
    cr_assert (strstr (detail, "the filesystem mounted at /"), "%s", detail);
    cr_assert (strstr (detail, "/web/releases) has "), "%s", detail);
    cr_assert (strstr (detail, "free space there"), "%s", detail);
    cr_assert (strstr (events.done_detail, "unpack: not enough space"), "%s", events.done_detail);
    char *current = s_current ();
    cr_assert_str_eq (current, "releases/1.0");
    free (current);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/releases/2.0", s_root);
    cr_assert_neq (access (path, F_OK), 0, "nothing unpacked");
    cr_assert_not (s_staging_left ());
    s_events_clear (&events);
    free (archive);
}

Test (apply, an_archive_bigger_than_its_signed_unpacked_size_is_refused)
{
    char *archive = s_release ("1.0", (s_release_spec_t){.pre_activate_exit = 0});
    uint64_t size = s_unpacked_size ("1.0");
    jad_apply_job_t *job = s_job ("1.0", archive, NULL);
    job->unpacked_size = size - 1;
    s_events_t events;
    cr_assert_eq (s_apply (job, &events), -1);
    char expected[128];
    snprintf (expected, sizeof expected, "it unpacks to more than the %llu bytes its plan signs",
              (unsigned long long)(size - 1));
    cr_assert (strstr (events.last_detail, expected), "%s", events.last_detail);
    cr_assert_not (s_staging_left ());
    s_events_clear (&events);
    //  the exact size unpacks
    job = s_job ("1.0", archive, NULL);
    job->unpacked_size = size;
    cr_assert_eq (s_apply (job, &events), 0, "%s", events.done_detail);
    s_events_clear (&events);
    free (archive);
}

Test (apply, without_a_signed_size_a_compression_bomb_stops_at_the_ratio_cap)
{
    //  100 MiB of zeros compress to about 100 KiB: far past 100:1 and the
    //  64 MiB floor
    char *tree = jad_strdup_printf ("%s/src-bomb", s_dir);
    char *manifest = jad_strdup_printf ("%s/jadugar.yaml", tree);
    jt_write_file (manifest, "hooks: {}\n", 0644);
    free (manifest);
    cr_assert_eq (jt_run (NULL, "truncate -s 100M '%s/zeros'", tree), 0);
    char *archive = jad_strdup_printf ("%s/web-bomb.tgz", s_dir);
    cr_assert_eq (jt_run (NULL, "tar -C '%s' -czf '%s' .", tree, archive), 0);
    jad_apply_job_t *job = s_job ("bomb", archive, NULL);
    s_events_t events;
    cr_assert_eq (s_apply (job, &events), -1);
    cr_assert (strstr (events.last_detail, "(compression ratio cap)"), "%s", events.last_detail);
    cr_assert (strstr (events.last_detail, "entry './zeros'"), "%s", events.last_detail);
    cr_assert_not (s_staging_left ());
    s_events_clear (&events);
    free (archive);
    free (tree);
}

Test (apply, the_rollback_action_switches_back_and_reactivates_previous)
{
    s_deploy_ok ("1.0", NULL);
    s_deploy_ok ("2.0", "1.0");
    //  the helper applying 2.0 was lost after its switch: roll back
    jad_apply_job_t *job = s_job ("2.0", NULL, "1.0");
    job->action = AGT_ACTION_ROLLBACK;
    job->release_known = true;
    s_events_t events;
    cr_assert_eq (s_apply (job, &events), -1, "the plan failed");
    cr_assert (s_has (&events, "rollback:started"));
    cr_assert (s_has (&events, "rollback:rolled_back"));
    cr_assert_not (s_has (&events, "unpack:started"), "nothing else runs");
    cr_assert_eq (events.done_status, JAD_REPORT_FAILED);
    cr_assert_str_eq (events.done_detail, "rolled back: current -> releases/1.0");
    cr_assert_str_eq (events.done_version, "1.0");
    char *current = s_current ();
    cr_assert_str_eq (current, "releases/1.0");
    free (current);
    char *log = s_activate_log ();
    cr_assert_str_eq (log, "1.0 prev=\n2.0 prev=1.0\n1.0 prev=2.0\n");
    free (log);
    s_events_clear (&events);
}
