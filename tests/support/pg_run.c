//  pg_run - run a command beside one test PostgreSQL server: the server
//  starts first (jad_testpg.c, a temp dir, a free port), the command runs
//  with JADUGAR_TEST_PG_PORT naming it (the tests it runs use it instead
//  of starting a server each), and the server stops when it ends.
//  SPDX-License-Identifier: MPL-2.0
//
//  Usage: pg_run COMMAND [ARGS...]   exits with the command's status

#include "jad_testpg.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t s_signal;

static void s_catch (int signal)
{
    s_signal = signal;
}

int main (int argc, char *argv[])
{
    if (argc < 2) {
        fprintf (stderr, "usage: pg_run COMMAND [ARGS...]\n");
        return 2;
    }
    if (jt_pg_start () != 0) {
        fprintf (stderr, "pg_run: no PostgreSQL server (see above)\n");
        return 1;
    }
    //  SIGINT or SIGTERM (a run stopped): the command gets it (exec resets
    //  the handler), and the server still stops when the command has ended
    struct sigaction action = {.sa_handler = s_catch};
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    pid_t child = fork ();
    if (child < 0) {
        fprintf (stderr, "pg_run: fork: %s\n", strerror (errno));
        jt_pg_stop ();
        return 1;
    }
    if (child == 0) {
        execvp (argv[1], argv + 1);
        fprintf (stderr, "pg_run: cannot run %s: %s\n", argv[1], strerror (errno));
        _exit (127);
    }
    int status = 0;
    while (waitpid (child, &status, 0) < 0 && errno == EINTR)
        if (s_signal)
            kill (child, s_signal);
    jt_pg_stop ();
    if (WIFEXITED (status))
        return WEXITSTATUS (status);
    return 128 + (WIFSIGNALED (status) ? WTERMSIG (status) : 0);
}
