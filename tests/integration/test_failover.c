//  test_failover - two controllers on one PostgreSQL store: only the
//  leader binds; kill -9 of the leader hands over to the standby with the
//  next epoch within 5 s (DESIGN §9); a frozen leader is deposed when its
//  lease expires and, resumed, stops itself (self-fencing, row 41)
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"
#include "jad_testpg.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

JT_PG_SERVER ()

#define S_CONTROLLER JAD_BIN_DIR "/controller/jadugar-controller"

typedef struct {
    char data[512];  //  its data dir
    char log[512];   //  its log file
    int base;        //  its port base
    pid_t pid;       //  running, or 0
} s_ctl_t;

typedef struct {
    const char *log;
    const char *needle;
} s_grep_t;

static bool s_log_has (void *arg)
{
    s_grep_t *grep = (s_grep_t *)arg;
    char *text = jt_read_file (grep->log);
    bool found = text && strstr (text, grep->needle);
    free (text);
    return found;
}

//  Wait up to timeout_ms for `needle` in the controller's log.
static bool s_wait_log (s_ctl_t *ctl, const char *needle, int timeout_ms)
{
    s_grep_t grep = {ctl->log, needle};
    return jt_wait_for (s_log_has, &grep, timeout_ms);
}

static void s_start (s_ctl_t *ctl)
{
    char *argv[] = {(char *)S_CONTROLLER, "run", "--data", ctl->data, "--verbose", NULL};
    ctl->pid = jt_spawn (ctl->log, argv);
    cr_assert_gt (ctl->pid, 0);
}

//  Two controllers initialised for one store: the second is a copy of the
//  first's data dir (its keys) on ports of its own.
static void s_pair (const char *dir, const char *url, s_ctl_t *one, s_ctl_t *two)
{
    s_ctl_t *ctls[2] = {one, two};
    for (int index = 0; index < 2; index++) {
        s_ctl_t *ctl = ctls[index];
        snprintf (ctl->data, sizeof ctl->data, "%s/c%d", dir, index + 1);
        snprintf (ctl->log, sizeof ctl->log, "%s/c%d.log", dir, index + 1);
        ctl->base = jt_free_port_base (4);
        cr_assert_gt (ctl->base, 0);
    }
    char *out = NULL;
    cr_assert_eq (jt_run (&out, "%s init --data %s --port %d --store '%s'", S_CONTROLLER, one->data,
                          one->base, url),
                  0, "init: %s", out);
    free (out);
    cr_assert_eq (jt_run (NULL, "cp -a %s %s && sed -i 's/^port: %d$/port: %d/' %s/controller.yaml",
                          one->data, two->data, one->base, two->base, two->data),
                  0);
    char path[600];
    snprintf (path, sizeof path, "%s/controller.yaml", two->data);
    char *yaml = jt_read_file (path);
    char line[32];
    snprintf (line, sizeof line, "port: %d", two->base);
    cr_assert (yaml && strstr (yaml, line), "the second controller's port was not set");
    free (yaml);
}

//  Wait up to timeout_ms for `pid` to exit; its status, or -1.
static int s_wait_exit (pid_t pid, int timeout_ms)
{
    int64_t until = jad_mono_ms () + timeout_ms;
    while (jad_mono_ms () < until) {
        int status = 0;
        if (waitpid (pid, &status, WNOHANG) == pid)
            return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
        usleep (50000);
    }
    return -1;
}

Test (failover, the_standby_takes_over_a_killed_leader_with_the_next_epoch, .timeout = 120)
{
    char *dir = jt_tempdir ("failover");
    char *url = jt_pg_database ();
    cr_assert_not_null (url);
    s_ctl_t one = {0}, two = {0};
    s_pair (dir, url, &one, &two);
    char needle[128];
    s_start (&one);
    snprintf (needle, sizeof needle, "leads name=127.0.0.1:%d epoch=1", one.base);
    cr_assert (s_wait_log (&one, needle, 20000), "the first controller does not lead");
    cr_assert (s_wait_log (&one, "server: listening", 10000));
    s_start (&two);
    cr_assert (s_wait_log (&two, "standing by", 20000), "the second controller is no standby");
    //  a standby binds nothing and serves nothing
    cr_assert_not (s_wait_log (&two, "server: listening", 1500), "a standby bound its sockets");
    int64_t killed = jad_mono_ms ();
    jt_kill9 (one.pid);
    snprintf (needle, sizeof needle, "leads name=127.0.0.1:%d epoch=2", two.base);
    cr_assert (s_wait_log (&two, needle, 5000), "no takeover within 5 s of the leader's death");
    cr_assert (s_wait_log (&two, "server: listening", 5000));
    cr_log_info ("takeover after %lld ms", (long long)(jad_mono_ms () - killed));
    //  the old leader comes back as a standby
    s_start (&one);
    cr_assert (s_wait_log (&one, "standing by", 20000));
    cr_assert_eq (jt_stop (two.pid), 0);
    snprintf (needle, sizeof needle, "leads name=127.0.0.1:%d epoch=3", one.base);
    cr_assert (s_wait_log (&one, needle, 5000), "no takeover after the leader stopped");
    cr_assert_eq (jt_stop (one.pid), 0);
    jt_pg_drop (url);
    free (url);
    jt_rmtree (dir);
    free (dir);
}

Test (failover, a_frozen_leader_is_deposed_and_stops_itself_when_resumed, .timeout = 120)
{
    char *dir = jt_tempdir ("failover");
    char *url = jt_pg_database ();
    cr_assert_not_null (url);
    s_ctl_t one = {0}, two = {0};
    s_pair (dir, url, &one, &two);
    char needle[128];
    s_start (&one);
    snprintf (needle, sizeof needle, "leads name=127.0.0.1:%d epoch=1", one.base);
    cr_assert (s_wait_log (&one, needle, 20000));
    cr_assert (s_wait_log (&one, "server: listening", 10000));
    s_start (&two);
    cr_assert (s_wait_log (&two, "standing by", 20000));
    //  the leader freezes with its connections up: its lease runs out
    cr_assert_eq (kill (one.pid, SIGSTOP), 0);
    snprintf (needle, sizeof needle, "leads name=127.0.0.1:%d epoch=2", two.base);
    cr_assert (s_wait_log (&two, needle, 20000), "the frozen leader was never deposed");
    cr_assert (s_wait_log (&two, "lease expired", 1000));
    //  resumed, the old leader finds its lock gone and stops serving
    cr_assert_eq (kill (one.pid, SIGCONT), 0);
    int status = s_wait_exit (one.pid, 20000);
    cr_assert_eq (status, 1, "the deposed leader did not stop itself (status %d)", status);
    cr_assert (s_wait_log (&one, "self-fenced", 1000));
    cr_assert_eq (jt_stop (two.pid), 0);
    jt_pg_drop (url);
    free (url);
    jt_rmtree (dir);
    free (dir);
}

typedef struct {
    const char *db;  //  an agent's state.db
    const char *epoch;
} s_epoch_t;

static bool s_agent_epoch (void *arg)
{
    s_epoch_t *want = (s_epoch_t *)arg;
    char *out = NULL;
    int rc = jt_run (&out,
                     "sqlite3 -cmd '.timeout 2000' %s \"SELECT value FROM meta WHERE key = "
                     "'epoch'\"",
                     want->db);
    bool found = rc == 0 && out && strncmp (out, want->epoch, strlen (want->epoch)) == 0 &&
                 (out[strlen (want->epoch)] == '\n' || !out[strlen (want->epoch)]);
    free (out);
    return found;
}

Test (failover, agents_connected_to_both_follow_the_new_leader_and_keep_its_epoch, .timeout = 240)
{
    setenv ("JADUGAR_TEST_STORE", "postgresql", 1);
    jt_fleet_t *fleet = jt_fleet_new ();
    cr_assert_not_null (fleet->store, "the fleet is not on PostgreSQL");
    //  the second controller: a copy of the first's data dir (its keys),
    //  on ports of its own
    s_ctl_t two = {0};
    snprintf (two.data, sizeof two.data, "%s/controller2", fleet->dir);
    snprintf (two.log, sizeof two.log, "%s/controller2.log", fleet->dir);
    two.base = jt_free_port_base (4);
    cr_assert_gt (two.base, 0);
    cr_assert_eq (jt_run (NULL,
                          "cp -a %s/controller %s && sed -i 's/^port: %d$/port: %d/' "
                          "%s/controller.yaml",
                          fleet->dir, two.data, fleet->port, two.base, two.data),
                  0);
    //  the fleet's controller leads before the second one starts
    s_ctl_t one = {0};
    snprintf (one.log, sizeof one.log, "%s/controller.log", fleet->dir);
    cr_assert (s_wait_log (&one, "epoch=1", 20000), "the fleet's controller does not lead");
    s_start (&two);
    cr_assert (s_wait_log (&two, "standing by", 20000), "the second controller is no standby");
    //  agents that know both controllers
    const int count = 3;
    for (int index = 0; index < count; index++) {
        char name[16];
        snprintf (name, sizeof name, "web-%d", index + 1);
        jt_fleet_add_agent (fleet, name, "dev");
        jt_kill9 (fleet->agents[index]);
        cr_assert_eq (jt_run (NULL,
                              "sed -i 's/^controller: .*$/controller: 127.0.0.1:%d,127.0.0.1:%d/' "
                              "%s/%s/agent/agent.yaml",
                              fleet->port, two.base, fleet->dir, name),
                      0);
        jt_fleet_start_agent (fleet, index);
    }
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", count, 30000),
               "the agents did not come online");
    //  the leader dies: the standby leads, the agents follow it
    jt_kill9 (fleet->controller);
    fleet->controller = 0;
    char needle[128];
    snprintf (needle, sizeof needle, "leads name=127.0.0.1:%d epoch=2", two.base);
    cr_assert (s_wait_log (&two, needle, 5000), "no takeover within 5 s of the leader's death");
    //  jadctl with both: the dead one refuses, the next one answers
    cr_assert_eq (jt_run (NULL,
                          "sed -i 's/^controller: .*$/controller: 127.0.0.1:%d,127.0.0.1:%d/' %s",
                          fleet->port + 2, two.base + 2, fleet->admin_config),
                  0);
    for (int index = 0; index < count; index++) {
        char db[600];
        snprintf (db, sizeof db, "%s/%s/agent/state.db", fleet->dir, fleet->agent_names[index]);
        s_epoch_t want = {db, "2"};
        cr_assert (jt_wait_for (s_agent_epoch, &want, 30000), "%s never saw epoch 2",
                   fleet->agent_names[index]);
    }
    //  and the new leader has them all online
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", count, 30000),
               "the agents are not online under the new leader");
    cr_assert_eq (jt_stop (two.pid), 0);
    jt_fleet_destroy (&fleet);
}
