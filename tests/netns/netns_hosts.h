//  netns_hosts - shared helpers of the multi-host fault tests
//  SPDX-License-Identifier: MPL-2.0
//
//  Included by each tests/netns/test_*.c (one executable each). A fleet is
//  a controller and agents host-1..host-N, each in its own network
//  namespace (jt_fleet_new_netns). Every hook of the test releases appends
//  "WHAT VERSION HOST" to DIR/hooks.log, and may sleep or write its pid, so
//  a test can see (and interrupt) each step from the outside.

#ifndef NETNS_HOSTS_H_INCLUDED
#define NETNS_HOSTS_H_INCLUDED

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static jt_fleet_t *fleet;

//  Without root the tests say so and ctest reports them as skipped (the
//  SKIP_REGULAR_EXPRESSION matches the message); as root, a machine that
//  cannot make namespaces fails them.
static inline void s_setup (void)
{
    const char *why = jt_netns_unavailable ();
    if (why && geteuid () != 0) {
        printf ("netns tests need root: skipped (%s)\n", why);
        fflush (stdout);
        cr_skip_test ("%s", why);
    }
    cr_assert_null (why, "network namespaces: %s", why);
    fleet = jt_fleet_new_netns ();
}

static inline void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

typedef struct {
    int activate_sleep;          //  seconds the activate hook sleeps
    int smoke_sleep;             //  seconds the smoke hook sleeps (timeout 20 s)
    int smoke_timeout;           //  seconds, 0 = 20
    size_t payload;              //  bytes of incompressible data in the release
    const char *smoke_sh;        //  replaces the smoke hook's body when set
    const char *smoke_fails_on;  //  this host fails its smoke test
    bool sleep_once;             //  hooks sleep only the first time on each host
    const char *sleep_on;        //  only this host sleeps (NULL: all)
    int files;                   //  small files (8 KiB of zeros each) in data/
} s_release_opts_t;

//  Add release web VERSION to the controller's store.
static inline void s_add_release (const char *version, s_release_opts_t opts)
{
    char log[PATH_MAX];
    snprintf (log, sizeof log, "%s/hooks.log", fleet->dir);
    char manifest[512], activate[3 * PATH_MAX], smoke[3 * PATH_MAX], name[64];
    snprintf (manifest, sizeof manifest,
              "hooks:\n  activate: ./hooks/activate.sh\n  smoke:\n"
              "    - run: ./hooks/smoke.sh\n      timeout: %ds\n",
              opts.smoke_timeout ? opts.smoke_timeout : 20);
    //  a hook that sleeps once marks it in the shared dir, so a re-run
    //  after a kill goes through at once
    char once[256];
    snprintf (once, sizeof once, "%s%s%s%s",
              opts.sleep_once ? "[ -e \"$JADUGAR_SHARED_DIR/slept-${0##*/}\" ] || " : "",
              opts.sleep_on ? "[ \"$JADUGAR_HOST\" != " : "", opts.sleep_on ? opts.sleep_on : "",
              opts.sleep_on ? " ] || " : "");
    const char *mark = opts.sleep_once ? "touch \"$JADUGAR_SHARED_DIR/slept-${0##*/}\"; " : "";
    snprintf (activate, sizeof activate,
              "#!/bin/sh\necho \"activating $JADUGAR_VERSION $JADUGAR_HOST $$\" >> '%s'\n"
              "%s{ %ssleep %d; }\necho \"activate $JADUGAR_VERSION $JADUGAR_HOST\" >> '%s'\n",
              log, once, mark, opts.activate_sleep, log);
    if (opts.smoke_sh)
        snprintf (smoke, sizeof smoke, "#!/bin/sh\n%s", opts.smoke_sh);
    else
        snprintf (smoke, sizeof smoke,
                  "#!/bin/sh\necho \"smoking $JADUGAR_VERSION $JADUGAR_HOST $$\" >> '%s'\n"
                  "%s{ %ssleep %d; }\necho \"smoke $JADUGAR_VERSION $JADUGAR_HOST\" >> '%s'\n"
                  "if [ \"$JADUGAR_HOST\" = \"%s\" ]; then echo 'smoke check failed'; exit 3; fi\n",
                  log, once, mark, opts.smoke_sleep, log,
                  opts.smoke_fails_on ? opts.smoke_fails_on : "-");
    const char *files[] = {"jadugar.yaml", manifest,         "hooks/activate.sh",
                           activate,       "hooks/smoke.sh", smoke,
                           "VERSION",      version,          NULL};
    snprintf (name, sizeof name, "web-%s", version);
    char tree[PATH_MAX];
    snprintf (tree, sizeof tree, "%s/%s.tree", fleet->dir, name);
    if (opts.payload) {
        char *output = NULL;
        int rc = jt_run (&output, "mkdir -p '%s/data' && head -c %zu /dev/urandom > '%s/data/blob'",
                         tree, opts.payload, tree);
        cr_assert_eq (rc, 0, "%s", output);
        free (output);
    }
    if (opts.files) {
        char *output = NULL;
        int rc =
            jt_run (&output,
                    "mkdir -p '%s/many' && cd '%s/many' && head -c %d /dev/zero | split -b 8192 "
                    "-a 5 - f",
                    tree, tree, opts.files * 8192);
        cr_assert_eq (rc, 0, "%s", output);
        free (output);
    }
    char *archive = jt_make_release (fleet->dir, name, files);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "release add web %s %s", version, archive);
    cr_assert_eq (rc, 0, "release add failed (%d): %s", rc, output);
    free (output);
    free (archive);
}

static inline char *s_hooks_log (void)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/hooks.log", fleet->dir);
    char *text = jt_read_file (path);
    return text ? text : strdup ("");
}

typedef struct {
    const char *needle;
    int count;
} s_log_wait_t;

static inline bool s_log_has (void *arg)
{
    s_log_wait_t *wait = (s_log_wait_t *)arg;
    char *log = s_hooks_log ();
    bool found = jt_count (log, wait->needle) >= wait->count;
    free (log);
    return found;
}

//  Wait until hooks.log holds `needle` (at least once).
static inline bool s_wait_log (const char *needle, int timeout_ms)
{
    s_log_wait_t wait = {needle, 1};
    return jt_wait_for (s_log_has, &wait, timeout_ms);
}

typedef struct {
    int index;
    const char *needle;
    int count;
} s_agent_log_wait_t;

static inline bool s_agent_log_has (void *arg)
{
    s_agent_log_wait_t *wait = (s_agent_log_wait_t *)arg;
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s.log", fleet->dir, fleet->agent_names[wait->index]);
    char *log = jt_read_file (path);
    bool found = jt_count (log, wait->needle) >= wait->count;
    free (log);
    return found;
}

//  Wait until agent index's own log holds needle `count` times.
static inline bool s_wait_agent_log (int index, const char *needle, int count, int timeout_ms)
{
    s_agent_log_wait_t wait = {index, needle, count};
    return jt_wait_for (s_agent_log_has, &wait, timeout_ms);
}

static inline char *s_root (int index)
{
    return jt_fleet_root (fleet, index);
}

//  Where ROOT/web/current points for agent index ("" if nowhere).
static inline char *s_current (int index)
{
    char *root = s_root (index);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/current", root);
    free (root);
    char target[PATH_MAX] = "";
    ssize_t len = readlink (path, target, sizeof target - 1);
    target[len > 0 ? len : 0] = 0;
    return strdup (target);
}

//  The host is on exactly one whole release: current points at a release
//  directory whose VERSION file names it and whose hooks are all there.
//  Returns that version (caller frees) or fails the test.
static inline char *s_whole_release (int index)
{
    char *current = s_current (index);
    cr_assert (strncmp (current, "releases/", 9) == 0, "host-%d: current -> '%s'", index + 1,
               current);
    char *root = s_root (index);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/current/VERSION", root);
    char *version = jt_read_file (path);
    cr_assert_not_null (version, "host-%d: %s has no VERSION", index + 1, current);
    cr_assert_str_eq (version, current + 9, "host-%d: current -> %s holds %s", index + 1, current,
                      version);
    const char *hooks[] = {"jadugar.yaml", "hooks/activate.sh", "hooks/smoke.sh"};
    for (size_t hook = 0; hook < 3; hook++) {
        snprintf (path, sizeof path, "%s/web/current/%s", root, hooks[hook]);
        cr_assert (access (path, F_OK) == 0, "host-%d: %s lacks %s", index + 1, current,
                   hooks[hook]);
    }
    free (root);
    free (current);
    return version;
}

typedef struct {
    int index;
    const char *expected;
} s_current_wait_t;

static inline bool s_current_is (void *arg)
{
    s_current_wait_t *wait = (s_current_wait_t *)arg;
    char *current = s_current (wait->index);
    bool same = strcmp (current, wait->expected) == 0;
    free (current);
    return same;
}

//  Wait until host index's current points at `expected` ("releases/V").
static inline bool s_wait_current (int index, const char *expected, int timeout_ms)
{
    s_current_wait_t wait = {index, expected};
    return jt_wait_for (s_current_is, &wait, timeout_ms);
}

//  Start `count` agents host-1.. in env and wait until they are online.
static inline void s_start_agents (int count, const char *env)
{
    for (int index = 0; index < count; index++) {
        char name[32];
        snprintf (name, sizeof name, "host-%d", index + 1);
        jt_fleet_add_agent (fleet, name, env);
    }
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", count, 30000),
               "%d agents did not come online", count);
}

static inline void s_environments (const char *yaml)
{
    jt_fleet_set_environments (fleet, yaml);
    jt_fleet_restart_controller (fleet);
}

//  Start a deploy (or rollback) without waiting; returns its plan id
//  (static buffer of the caller).
static inline void s_start_plan (char *plan_id, size_t len, const char *format, const char *arg1,
                                 const char *arg2)
{
    char args[512];
    snprintf (args, sizeof args, format, arg1, arg2);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "--json %s", args);
    cr_assert_eq (rc, 0, "%s: %d %s", args, rc, output);
    const char *id = strstr (output, "\"id\": \"");
    cr_assert_not_null (id, "%s", output);
    snprintf (plan_id, len, "%.8s", id + 7);
    free (output);
}

typedef struct {
    const char *plan_id;
    const char *needle;
} s_plan_wait_t;

static inline bool s_plan_has (void *arg)
{
    s_plan_wait_t *wait = (s_plan_wait_t *)arg;
    char *output = NULL;
    jt_jadctl (fleet, &output, "--json plan show %s", wait->plan_id);
    bool found = output && strstr (output, wait->needle);
    free (output);
    return found;
}

//  Wait until `jadctl --json plan show ID` contains needle.
static inline bool s_wait_plan (const char *plan_id, const char *needle, int timeout_ms)
{
    s_plan_wait_t wait = {plan_id, needle};
    return jt_wait_for (s_plan_has, &wait, timeout_ms);
}

//  One number from the controller's database (sqlite3 CLI, read-only).
static inline long s_ctl_count (const char *sql)
{
    char *output = NULL;
    int rc = jt_run (&output, "sqlite3 -readonly '%s/controller/state.db' \"%s\"", fleet->dir, sql);
    cr_assert_eq (rc, 0, "%s: %s", sql, output);
    long value = strtol (output, NULL, 10);
    free (output);
    return value;
}

static inline char *s_plan_show (const char *plan_id)
{
    char *output = NULL;
    jt_jadctl (fleet, &output, "--json plan show %s", plan_id);
    return output ? output : strdup ("");
}

#endif
