//  test_host_faults - disk full during unpack, a hook that hangs with
//  children ignoring SIGTERM, an agent clock 10 minutes off
//  SPDX-License-Identifier: MPL-2.0
//
//  Expected outcomes:
//  - disk full (the release root of host-1 is a 2 MiB tmpfs, the release
//    holds 4 MiB of random data, its plan signs no unpacked size): unpack
//    stops where the filesystem's reserve begins, the plan fails naming the
//    release, what it needs, the filesystem's mount point, what is free and
//    what to do; host-1 is still whole on the previous release, no staging
//    directory is left and the space the partial release took is free again;
//  - no inodes left (a tmpfs with room for 64 files, a release of 200):
//    the plan fails with "disk full", the mount point and what was free;
//  - a smoke hook that hangs after forking children that ignore SIGTERM:
//    at its timeout the whole process group is killed (every pid it wrote
//    is gone), the host is rolled back, the plan fails naming the timeout;
//  - an agent clock 10 minutes off (libfaketime, LD_PRELOADed into that
//    agent only): plans are checked against the documented 5-minute skew
//    tolerance. 10 minutes ahead, a plan with the default 10-minute TTL is
//    still accepted (expired 0 minutes ago by that clock, within 5), one
//    with a 2-minute TTL is refused as expired; 10 minutes behind, a fresh
//    plan is refused as issued in the future (more than 5 minutes ahead).

#include "netns_hosts.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/statvfs.h>

//  Unmount what a test mounted under the fleet's dir, then the usual.
static void s_teardown_mounts (void)
{
    if (fleet)
        jt_run (NULL, "findmnt -rn -o TARGET | grep '^%s/' | xargs -r umount -l", fleet->dir);
    s_teardown ();
}

TestSuite (host_faults, .init = s_setup, .fini = s_teardown_mounts, .timeout = 240);

static bool s_has_staging (const char *releases)
{
    DIR *dir = opendir (releases);
    if (!dir)
        return false;
    bool found = false;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (strncmp (entry->d_name, ".staging-", 9) == 0)
            found = true;
    closedir (dir);
    return found;
}

static unsigned long long s_used_bytes (const char *path)
{
    struct statvfs info;
    cr_assert_eq (statvfs (path, &info), 0);
    return (unsigned long long)(info.f_blocks - info.f_bfree) * info.f_frsize;
}

Test (host_faults, disk_full_during_unpack_fails_cleanly)
{
    s_environments ("environments:\n  dev: { strategy: all }\n");
    //  mounted before the agent starts: `ip netns exec` gives the agent a
    //  copy of the mount table as it is then
    char root[PATH_MAX];
    snprintf (root, sizeof root, "%s/host-1/srv", fleet->dir);
    char *output = NULL;
    int rc =
        jt_run (&output, "mkdir -p '%s' && mount -t tmpfs -o size=2m jt-full '%s'", root, root);
    cr_assert_eq (rc, 0, "cannot mount a small tmpfs: %s", output);
    free (output);
    s_start_agents (2, "dev");
    s_add_release ("1.0", (s_release_opts_t){0});
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env dev --wait"), 0);
    unsigned long long before = s_used_bytes (root);
    s_add_release ("2.0", (s_release_opts_t){.payload = 4 * 1024 * 1024});
    rc = jt_jadctl (fleet, &output, "deploy web 2.0 --env dev --wait");
    cr_assert_eq (rc, 1, "a deploy to a full disk must fail (exit 1), got %d:\n%s", rc, output);
    //  what, where, needed vs free, and what to do
    char expected[2 * PATH_MAX + 64];
    snprintf (expected, sizeof expected, "the filesystem mounted at %s (holding %s/web/releases)",
              root, root);
    //  the plan signs the release's unpacked size: the agent refuses before
    //  writing anything
    cr_assert (strstr (output, "not enough space: releases/2.0 needs "),
               "the failure does not name the cause:\n%s", output);
    cr_assert (strstr (output, expected), "the failure does not name the filesystem:\n%s", output);
    cr_assert (strstr (output, " must stay free") && strstr (output, " free;"),
               "the failure does not say what is free:\n%s", output);
    cr_assert (strstr (output, "free space there"), "the failure does not say what to do:\n%s",
               output);
    free (output);
    char *version = s_whole_release (0);
    cr_assert_str_eq (version, "1.0");
    free (version);
    char releases[PATH_MAX + 16];
    snprintf (releases, sizeof releases, "%s/web/releases", root);
    cr_assert_not (s_has_staging (releases), "the partial release was left in %s", releases);
    char partial[PATH_MAX + 32];
    snprintf (partial, sizeof partial, "%s/2.0", releases);
    cr_assert (access (partial, F_OK) != 0, "releases/2.0 exists after a failed unpack");
    unsigned long long after = s_used_bytes (root);
    cr_assert_leq (after, before + 64 * 1024,
                   "the partial release's space was not freed: %llu -> %llu", before, after);
    printf ("disk full: used %llu bytes before, %llu after the failed unpack\n", before, after);
}

Test (host_faults, no_inodes_left_during_unpack_says_disk_full_and_where)
{
    s_environments ("environments:\n  dev: { strategy: all }\n");
    char root[PATH_MAX];
    snprintf (root, sizeof root, "%s/host-1/srv", fleet->dir);
    char *output = NULL;
    int rc =
        jt_run (&output, "mkdir -p '%s' && mount -t tmpfs -o size=8m,nr_inodes=64 jt-inodes '%s'",
                root, root);
    cr_assert_eq (rc, 0, "cannot mount a small tmpfs: %s", output);
    free (output);
    s_start_agents (1, "dev");
    s_add_release ("1.0", (s_release_opts_t){0});
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env dev --wait"), 0);
    s_add_release ("2.0", (s_release_opts_t){.files = 200});
    rc = jt_jadctl (fleet, &output, "deploy web 2.0 --env dev --wait");
    cr_assert_eq (rc, 1, "a deploy past the inodes must fail (exit 1), got %d:\n%s", rc, output);
    char expected[2 * PATH_MAX + 64];
    snprintf (expected, sizeof expected, "the filesystem mounted at %s (holding %s/web/releases)",
              root, root);
    cr_assert (strstr (output, "disk full: entry '"), "%s", output);
    cr_assert (strstr (output, "No space left on device"), "%s", output);
    cr_assert (strstr (output, expected), "%s", output);
    cr_assert (strstr (output, "inodes free before unpacking"), "%s", output);
    free (output);
    char *version = s_whole_release (0);
    cr_assert_str_eq (version, "1.0");
    free (version);
    char releases[PATH_MAX + 16];
    snprintf (releases, sizeof releases, "%s/web/releases", root);
    cr_assert_not (s_has_staging (releases), "the partial release was left in %s", releases);
}

//  Is pid gone (or a zombie nobody will run again)?
static bool s_pid_gone (pid_t pid)
{
    if (kill (pid, 0) != 0 && errno == ESRCH)
        return true;
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    char *stat = jt_read_file (path);
    const char *state = stat ? strrchr (stat, ')') : NULL;
    bool zombie = state && state[1] == ' ' && state[2] == 'Z';
    free (stat);
    return zombie;
}

typedef struct {
    const char *path;
    int count;
} s_pids_wait_t;

static bool s_pids_gone (void *arg)
{
    s_pids_wait_t *wait = (s_pids_wait_t *)arg;
    char *text = jt_read_file (wait->path);
    bool gone = text != NULL;
    wait->count = 0;
    for (char *line = text ? strtok (text, "\n") : NULL; line; line = strtok (NULL, "\n")) {
        wait->count++;
        if (!s_pid_gone ((pid_t)atoi (line)))
            gone = false;
    }
    free (text);
    return gone;
}

Test (host_faults, hanging_hook_group_is_killed_at_the_timeout)
{
    s_environments ("environments:\n  dev: { strategy: all }\n");
    s_start_agents (1, "dev");
    s_add_release ("1.0", (s_release_opts_t){0});
    cr_assert_eq (jt_jadctl (fleet, NULL, "deploy web 1.0 --env dev --wait"), 0);
    char pids[PATH_MAX], smoke[4 * PATH_MAX];
    snprintf (pids, sizeof pids, "%s/smoke.pids", fleet->dir);
    snprintf (smoke, sizeof smoke,
              "trap '' TERM\n"
              "echo $$ >> '%s'\n"
              "sleep 1000 & echo $! >> '%s'\n"
              "sh -c \"trap '' TERM; sleep 1000\" & echo $! >> '%s'\n"
              "echo 'hanging'\n"
              "sleep 1000\n",
              pids, pids, pids);
    s_add_release ("2.0", (s_release_opts_t){.smoke_sh = smoke, .smoke_timeout = 2});
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "deploy web 2.0 --env dev --wait");
    cr_assert_eq (rc, 1, "a hanging smoke test must fail the deploy, got %d:\n%s", rc, output);
    cr_assert (strstr (output, "timed out"), "the failure does not name the timeout:\n%s", output);
    free (output);
    s_pids_wait_t wait = {pids, 0};
    cr_assert (jt_wait_for (s_pids_gone, &wait, 5000), "a process of the hook's group survived");
    cr_assert_eq (wait.count, 3, "the hook wrote %d pids", wait.count);
    char *version = s_whole_release (0);
    cr_assert_str_eq (version, "1.0", "not rolled back");
    free (version);
}

#define S_FAKETIME "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

//  Restart agent index with its wall clock moved by offset ("+10m").
//  Monotonic time stays real (timers, deadlines); ASan must accept a
//  library preloaded before it.
static void s_skew_agent (int index, const char *offset)
{
    cr_assert (access (S_FAKETIME, R_OK) == 0, "libfaketime is missing (Debian package faketime)");
    const char *asan = getenv ("ASAN_OPTIONS");
    char vars[1024];
    snprintf (vars, sizeof vars,
              "LD_PRELOAD=" S_FAKETIME " FAKETIME=%s FAKETIME_DONT_FAKE_MONOTONIC=1 "
              "FAKETIME_NO_CACHE=1 ASAN_OPTIONS=%s%sverify_asan_link_order=0",
              offset, asan ? asan : "", asan ? ":" : "");
    cr_assert_eq (jt_stop (fleet->agents[index]), 0);
    free (fleet->agent_vars[index]);
    fleet->agent_vars[index] = strdup (vars);
    jt_fleet_start_agent (fleet, index);
}

Test (host_faults, agent_clock_ten_minutes_ahead_follows_the_skew_tolerance)
{
    jt_fleet_config_line (fleet, "step-deadline:", "step-deadline: 3s");
    s_environments ("environments:\n  dev: { strategy: all }\n");
    s_start_agents (1, "dev");
    s_skew_agent (0, "+10m");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    //  by the agent's clock the plan expires as it arrives: within 5 minutes
    s_add_release ("1.0", (s_release_opts_t){0});
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env dev --wait");
    cr_assert_eq (rc, 0, "a plan expiring now by the agent's clock is within the tolerance: %d\n%s",
                  rc, output);
    free (output);
    //  a 2-minute TTL: expired 8 minutes ago by the agent's clock
    jt_fleet_config_line (fleet, "plan-ttl:", "plan-ttl: 2m");
    jt_fleet_restart_controller (fleet);
    s_add_release ("2.0", (s_release_opts_t){0});
    rc = jt_jadctl (fleet, &output, "deploy web 2.0 --env dev --wait");
    cr_assert_eq (rc, 1, "a plan 8 minutes past its expiry was applied: %d\n%s", rc, output);
    free (output);
    cr_assert (s_wait_agent_log (0, "plan refused reason=expired", 1, 10000),
               "the agent did not refuse the plan as expired");
    char *version = s_whole_release (0);
    cr_assert_str_eq (version, "1.0");
    free (version);
}

Test (host_faults, agent_clock_ten_minutes_behind_refuses_future_plans)
{
    jt_fleet_config_line (fleet, "step-deadline:", "step-deadline: 3s");
    s_environments ("environments:\n  dev: { strategy: all }\n");
    s_start_agents (1, "dev");
    s_skew_agent (0, "-10m");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    s_add_release ("1.0", (s_release_opts_t){0});
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env dev --wait");
    cr_assert_eq (rc, 1, "a plan issued 10 minutes in the agent's future was applied: %d\n%s", rc,
                  output);
    free (output);
    cr_assert (s_wait_agent_log (0, "plan refused reason=future", 1, 10000),
               "the agent did not refuse the plan as issued in the future");
    char *current = s_current (0);
    cr_assert_str_eq (current, "", "host-1 switched to a refused plan's release");
    free (current);
}
