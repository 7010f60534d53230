//  test_crash - kill -9 of an agent in each step and of the controller
//  mid-rollout and mid-rollback
//  SPDX-License-Identifier: MPL-2.0
//
//  Expected outcomes:
//  - an agent killed in fetch, unpack, activate or smoke is, at the moment
//    of the kill, whole on the old release (fetch, unpack: current never
//    moved) or the new one (activate, smoke: switched); after a restart
//    the interrupted step is reported as `interrupted` (once), the plan is
//    applied again and succeeds, no staging directory is left;
//  - a controller killed mid-rollout or mid-rollback resumes from SQLite:
//    the plan finishes, no host runs activate twice for it;
//  - in every test, no report is lost: each agent's outbox is empty and the
//    controller holds one row per report the agent ever queued (the
//    outbox's AUTOINCREMENT counter).

#include "netns_hosts.h"

#include <dirent.h>
#include <sys/stat.h>

TestSuite (crash, .init = s_setup, .fini = s_teardown, .timeout = 240);

static const char *s_envs = "environments:\n"
                            "  dev: { strategy: all }\n"
                            "  staging: { strategy: rolling, batch: 1 }\n";

//  Reports agent index ever queued (its outbox's AUTOINCREMENT) and how
//  many still wait for an ack.
static void s_outbox (int index, long *queued, long *waiting)
{
    char *output = NULL;
    int rc = jt_run (&output,
                     "sqlite3 -readonly -cmd '.timeout 10000' '%s/%s/agent/state.db' \"SELECT "
                     "coalesce ((SELECT seq FROM "
                     "sqlite_sequence WHERE name = 'outbox'), 0), (SELECT count(*) FROM outbox)\"",
                     fleet->dir, fleet->agent_names[index]);
    cr_assert_eq (rc, 0, "%s", output);
    cr_assert_eq (sscanf (output, "%ld|%ld", queued, waiting), 2, "%s", output);
    free (output);
}

typedef struct {
    int index;
} s_outbox_wait_t;

static bool s_outbox_drained (void *arg)
{
    s_outbox_wait_t *wait = (s_outbox_wait_t *)arg;
    long queued = 0, waiting = 0;
    s_outbox (wait->index, &queued, &waiting);
    return waiting == 0;
}

//  No report lost: every agent's outbox drains, and the controller stored
//  exactly as many distinct reports as the agent queued.
static void s_assert_no_report_lost (void)
{
    for (int index = 0; index < fleet->agent_count; index++) {
        s_outbox_wait_t wait = {index};
        cr_assert (jt_wait_for (s_outbox_drained, &wait, 30000), "%s's outbox does not drain",
                   fleet->agent_names[index]);
        long queued = 0, waiting = 0;
        s_outbox (index, &queued, &waiting);
        char sql[256];
        snprintf (sql, sizeof sql, "SELECT count(*) FROM reports_seen WHERE agent = '%s'",
                  fleet->agent_names[index]);
        long stored = s_ctl_count (sql);
        cr_assert_eq (stored, queued, "%s queued %ld reports, the controller stored %ld",
                      fleet->agent_names[index], queued, stored);
        printf ("%s: %ld reports queued, %ld stored\n", fleet->agent_names[index], queued, stored);
    }
}

//  Is there an entry starting with prefix and ending with suffix in dir?
static bool s_dir_has (const char *dir, const char *prefix, const char *suffix, bool non_empty)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return false;
    bool found = false;
    struct dirent *entry;
    while (!found && (entry = readdir (handle))) {
        size_t len = strlen (entry->d_name);
        if (strncmp (entry->d_name, prefix, strlen (prefix)) != 0 || len < strlen (suffix) ||
            strcmp (entry->d_name + len - strlen (suffix), suffix) != 0)
            continue;
        char path[PATH_MAX];
        struct stat info;
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        found = !non_empty || (stat (path, &info) == 0 && info.st_size > 0);
    }
    closedir (handle);
    return found;
}

typedef enum { S_FETCH, S_UNPACK, S_ACTIVATE, S_SMOKE } s_step_t;

static const char *s_step_names[] = {"fetch", "unpack", "activate", "smoke"};

typedef struct {
    s_step_t step;
    char downloads[PATH_MAX];
    char releases[PATH_MAX];
} s_in_step_t;

//  The step host-1's agent has recorded as running (its state.db), into
//  seen. A sqlite3 that fails (it does not get the lock in 10 s) is tried
//  again for up to 5 s: a failed read says nothing about the order.
static bool s_step_recorded (s_step_t step, char *seen, size_t seen_len)
{
    int rc = -1;
    char *output = NULL;
    for (int attempt = 0; rc != 0 && attempt < 50; attempt++) {
        if (attempt)
            usleep (100 * 1000);
        free (output);
        output = NULL;
        rc = jt_run (&output,
                     "sqlite3 -readonly -cmd '.timeout 10000' '%s/host-1/agent/state.db' \"SELECT "
                     "step FROM plans WHERE state = 'applying'\"",
                     fleet->dir);
    }
    snprintf (seen, seen_len, "rc=%d: %s", rc, output ? output : "(no output)");
    bool recorded =
        rc == 0 && output && strncmp (output, s_step_names[step], strlen (s_step_names[step])) == 0;
    free (output);
    return recorded;
}

//  In the step: its work is visible. The agent records a step before its
//  apply helper gets the go-ahead to do it, so by then the step must be
//  recorded (a kill now is reported as this step, never the one before).
static bool s_agent_in_step (void *arg)
{
    s_in_step_t *wait = (s_in_step_t *)arg;
    switch (wait->step) {
        case S_FETCH:
            return s_dir_has (wait->downloads, "", ".part", true);  //  chunks arrive
        case S_UNPACK:
            return s_dir_has (wait->releases, ".staging-", "", false);
        case S_ACTIVATE: {
            s_log_wait_t log = {"activating 2.0 host-1", 1};
            return s_log_has (&log);
        }
        case S_SMOKE: {
            s_log_wait_t log = {"smoking 2.0 host-1", 1};
            return s_log_has (&log);
        }
    }
    return false;
}

//  No apply helper of this agent runs any more (a zombie has no cmdline).
static bool s_helper_gone (void *arg)
{
    pid_t agent = *(pid_t *)arg;
    return jt_run (NULL, "pgrep -f -- 'jadugar-apply --apply --parent %d$' >/dev/null",
                   (int)agent) != 0;
}

//  jt_wait_for polls every 50 ms; an unpack is over sooner than that.
static bool s_wait_fast (bool (*cond) (void *), void *arg, int timeout_ms)
{
    struct timespec start, now;
    clock_gettime (CLOCK_MONOTONIC, &start);
    do {
        if (cond (arg))
            return true;
        usleep (500);
        clock_gettime (CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 <
             timeout_ms);
    return false;
}

static void s_kill_agent_in (s_step_t step)
{
    s_environments (s_envs);
    s_start_agents (2, "dev");
    s_add_release ("1.0", (s_release_opts_t){0});
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env dev --wait"), 0);
    s_release_opts_t opts = {.sleep_once = true, .sleep_on = "host-1"};
    if (step == S_FETCH) {
        //  a slow link holds the download open: 1 MiB at 1 Mbit/s
        opts.payload = 1024 * 1024;
        cr_assert_eq (
            jt_run (NULL, "tc -n %s-hub qdisc add dev h1 root tbf rate 1mbit burst 8kb latency 2s",
                    fleet->netns),
            0);
    } else if (step == S_UNPACK)
        opts.files = 3000;  //  small files: the extraction takes a while
    else if (step == S_ACTIVATE)
        opts.activate_sleep = 60;
    else
        opts.smoke_sleep = 60;
    s_add_release ("2.0", opts);
    s_in_step_t wait = {step, "", ""};
    snprintf (wait.downloads, sizeof wait.downloads, "%s/host-1/agent/downloads", fleet->dir);
    char *root = s_root (0);
    snprintf (wait.releases, sizeof wait.releases, "%s/web/releases", root);
    free (root);

    char plan_id[16];
    s_start_plan (plan_id, sizeof plan_id, "deploy web %s --env %s", "2.0", "dev");
    cr_assert (s_wait_fast (s_agent_in_step, &wait, 60000), "host-1 never reached %s",
               s_step_names[step]);
    char seen[256];
    cr_assert (s_step_recorded (step, seen, sizeof seen),
               "host-1 began %s before recording it (its plans say %s)", s_step_names[step], seen);
    pid_t agent = fleet->agents[0];
    if (step != S_FETCH)
        cr_assert_not (s_helper_gone (&agent), "host-1 runs %s without its apply helper",
                       s_step_names[step]);
    jt_kill9 (agent);
    fleet->agents[0] = 0;
    //  its apply helper (fetch runs in the agent itself) died with it
    if (step != S_FETCH)
        cr_assert (jt_wait_for (s_helper_gone, &agent, 10000),
                   "host-1's apply helper outlived its agent");

    //  killed: whole on the old release before the switch, the new one after
    char *version = s_whole_release (0);
    cr_assert_str_eq (version, step <= S_UNPACK ? "1.0" : "2.0", "killed in %s, host-1 is on %s",
                      s_step_names[step], version);
    free (version);
    if (step == S_FETCH)
        jt_run (NULL, "tc -n %s-hub qdisc del dev h1 root", fleet->netns);

    jt_fleet_start_agent (fleet, 0);
    cr_assert (s_wait_plan (plan_id, "\"state\": \"succeeded\"", 90000),
               "the plan did not succeed after the restart:\n%s", s_plan_show (plan_id));
    char sql[512];
    snprintf (sql, sizeof sql,
              "SELECT count(*) FROM events WHERE plan_id LIKE '%s%%' AND agent = 'host-1' AND "
              "step = '%s' AND status = 'interrupted'",
              plan_id, s_step_names[step]);
    long interrupted = s_ctl_count (sql);
    cr_assert_eq (interrupted, 1, "the interrupted %s was reported %ld times:\n%s",
                  s_step_names[step], interrupted, s_plan_show (plan_id));
    for (int index = 0; index < 2; index++) {
        version = s_whole_release (index);
        cr_assert_str_eq (version, "2.0", "host-%d", index + 1);
        free (version);
    }
    cr_assert_not (s_dir_has (wait.releases, ".staging-", "", false), "a staging dir was left");
    s_assert_no_report_lost ();
}

Test (crash, agent_killed_in_fetch)
{
    s_kill_agent_in (S_FETCH);
}

Test (crash, agent_killed_in_unpack)
{
    s_kill_agent_in (S_UNPACK);
}

Test (crash, agent_killed_in_activate)
{
    s_kill_agent_in (S_ACTIVATE);
}

Test (crash, agent_killed_in_smoke)
{
    s_kill_agent_in (S_SMOKE);
}

//  Each host ran activate for VERSION exactly `times` times.
static void s_assert_activations (const char *version, int hosts, int times)
{
    char *log = s_hooks_log ();
    for (int host = 1; host <= hosts; host++) {
        char line[64];
        snprintf (line, sizeof line, "activate %s host-%d\n", version, host);
        cr_assert_eq (jt_count (log, line), times, "host-%d activated %s %d times:\n%s", host,
                      version, jt_count (log, line), log);
    }
    free (log);
}

static void s_kill_controller (void)
{
    jt_kill9 (fleet->controller);
    fleet->controller = 0;
    jt_fleet_start_controller (fleet);
}

Test (crash, controller_killed_mid_rollout_resumes)
{
    s_environments (s_envs);
    s_start_agents (4, "staging");
    s_add_release ("1.0", (s_release_opts_t){.activate_sleep = 1});
    char plan_id[16];
    s_start_plan (plan_id, sizeof plan_id, "deploy web %s --env %s", "1.0", "staging");
    cr_assert (s_wait_log ("activating 1.0 host-2", 60000), "batch 2 never started");
    s_kill_controller ();
    cr_assert (s_wait_plan (plan_id, "\"state\": \"succeeded\"", 90000),
               "the plan did not resume to success:\n%s", s_plan_show (plan_id));
    s_assert_activations ("1.0", 4, 1);
    for (int index = 0; index < 4; index++) {
        char *version = s_whole_release (index);
        cr_assert_str_eq (version, "1.0", "host-%d", index + 1);
        free (version);
    }
    s_assert_no_report_lost ();
}

Test (crash, controller_killed_mid_rollback_resumes)
{
    s_environments (s_envs);
    s_start_agents (4, "staging");
    s_add_release ("1.0", (s_release_opts_t){.activate_sleep = 1});
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env staging --batch 4 --wait"), 0);
    s_add_release ("2.0", (s_release_opts_t){.activate_sleep = 1});
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 2.0 --env staging --batch 4 --wait"), 0);
    char plan_id[16];
    //  the environment's batch (1) paces the rollback
    s_start_plan (plan_id, sizeof plan_id, "rollback web --env %s%s", "staging", "");
    s_log_wait_t second = {"activating 1.0 host-2", 2};
    cr_assert (jt_wait_for (s_log_has, &second, 60000), "the rollback's batch 2 never started");
    s_kill_controller ();
    cr_assert (s_wait_plan (plan_id, "\"state\": \"succeeded\"", 90000),
               "the rollback did not resume to success:\n%s", s_plan_show (plan_id));
    //  1.0 activated once by the deploy, once by the rollback
    s_assert_activations ("1.0", 4, 2);
    for (int index = 0; index < 4; index++) {
        char *version = s_whole_release (index);
        cr_assert_str_eq (version, "1.0", "host-%d", index + 1);
        free (version);
    }
    s_assert_no_report_lost ();
}
