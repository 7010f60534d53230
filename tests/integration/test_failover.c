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
