//  jad_hook - run a release hook: argv only, timeout, captured output
//  SPDX-License-Identifier: MPL-2.0
//
//  fork + execve of the hook's real path with argv {path, NULL}: no shell
//  ever sees a plan-supplied string. Everything the child needs (argv,
//  environment, paths) is built before fork, because the agent has threads
//  and the child may only make async-signal-safe calls until execve. The
//  child reports a failed set-up step through a close-on-exec pipe.
//
//  The hook leads its own process group. We watch the leader without
//  reaping it (waitid WNOWAIT), so its pid, and thus the group id, can not
//  be reused while we still signal the group: after the leader exits we
//  drain the output briefly and SIGKILL the group, so background children
//  that hold the pipe or ignore SIGTERM never outlive the hook.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  //  pipe2, close_range, asprintf
#endif
#include "jad_hook.h"
#include "jad_util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define JAD_HOOK_DEFAULT_TIMEOUT_MS 30000
#define JAD_HOOK_DEFAULT_OUTPUT     (16 * 1024)
#define JAD_HOOK_GRACE_MS           2000
//  how long to keep reading after the leader exited, for its last words
#define JAD_HOOK_DRAIN_MS  200
#define JAD_HOOK_TRUNCATED "\n[output truncated]\n"
#define JAD_HOOK_PATH      "PATH=/usr/local/bin:/usr/bin:/bin"
#define JAD_HOOK_LANG      "LANG=C.UTF-8"

//  Set-up steps in the child, for the error report
enum { S_STEP_STDIO = 1, S_STEP_CHDIR, S_STEP_GROUPS, S_STEP_GID, S_STEP_UID, S_STEP_EXEC };

typedef struct {
    int step;   //  S_STEP_*
    int error;  //  errno
} s_child_error_t;

//  Fill result as "could not start" with a reason; returns -1
static int s_refuse (jad_hook_result_t *result, const char *reason, const char *detail)
{
    result->spawn_failed = true;
    free (result->output);
    if (asprintf (&result->output, "%s%s%s", reason, detail ? ": " : "", detail ? detail : "") < 0)
        result->output = NULL;
    return -1;
}

//  True if an entry of env sets NAME (given as "NAME=")
static bool s_env_sets (const char *const *env, const char *prefix)
{
    for (size_t index = 0; env && env[index]; index++)
        if (strncmp (env[index], prefix, strlen (prefix)) == 0)
            return true;
    return false;
}

//  Above 0..3: the child's dup2 targets.
static int s_above_stdio (int fd)
{
    return jad_fd_above (fd, 4);
}

//  In the child: only async-signal-safe calls from here to execve
static void s_child (int devnull, int outfd, int errfd, const char *dir, const char *hook,
                     char *const argv[], char *const envp[], const jad_hook_spec_t *spec)
{
    s_child_error_t report = {0, 0};
    int reportfd = errfd;
    jad_child_signals_reset ();
    setpgid (0, 0);

    report.step = S_STEP_STDIO;
    if (dup2 (devnull, 0) < 0 || dup2 (outfd, 1) < 0 || dup2 (outfd, 2) < 0 ||
        dup2 (errfd, 3) < 0 || fcntl (3, F_SETFD, FD_CLOEXEC) < 0)
        goto failed;
    reportfd = 3;
    if (close_range (4, ~0U, 0) != 0) {
        long max = sysconf (_SC_OPEN_MAX);
        if (max < 0 || max > 65536)
            max = 65536;
        for (int fd = 4; fd < max; fd++)
            close (fd);
    }
    report.step = S_STEP_CHDIR;
    if (chdir (dir) != 0)
        goto failed;
    if (spec->drop_privileges) {
        report.step = S_STEP_GROUPS;
        if (setgroups (1, &spec->gid) != 0)
            goto failed;
        report.step = S_STEP_GID;
        if (setgid (spec->gid) != 0)
            goto failed;
        report.step = S_STEP_UID;
        if (setuid (spec->uid) != 0)
            goto failed;
        //  must not be able to come back
        if (spec->uid != 0 && setuid (0) == 0) {
            errno = EPERM;
            goto failed;
        }
    }
    report.step = S_STEP_EXEC;
    execve (hook, argv, envp);

failed:
    report.error = errno;
    if (write (reportfd, &report, sizeof report) < 0)
        _exit (127);
    _exit (127);
}

static const char *s_step_name (int step)
{
    switch (step) {
        case S_STEP_STDIO:
            return "redirect output";
        case S_STEP_CHDIR:
            return "chdir";
        case S_STEP_GROUPS:
            return "setgroups";
        case S_STEP_GID:
            return "setgid";
        case S_STEP_UID:
            return "setuid";
        default:
            return "exec";
    }
}

//  Bounded output buffer
typedef struct {
    char *data;      //  max + marker + NUL bytes
    size_t size;     //  bytes kept
    size_t max;      //  bytes to keep
    bool truncated;  //  some were dropped
} s_output_t;

//  Read what is available from fd (non-blocking). Returns true at EOF.
static bool s_read_available (int fd, s_output_t *output)
{
    char chunk[4096];
    while (true) {
        ssize_t got = read (fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return errno != EAGAIN && errno != EWOULDBLOCK;
        if (got == 0)
            return true;
        size_t keep = output->max - output->size;
        if ((size_t)got > keep)
            output->truncated = true;
        else
            keep = (size_t)got;
        if (output->data && keep > 0)
            memcpy (output->data + output->size, chunk, keep);
        output->size += keep;
    }
}

//  Wait for the leader, collect output, enforce the timeout. Fills
//  result; the leader is reaped when this returns.
static void s_supervise (pid_t pid, int outfd, int64_t start, uint32_t timeout_ms,
                         s_output_t *output, jad_hook_result_t *result)
{
    int pidfd = (int)pidfd_open (pid, 0);
    int64_t deadline = start + timeout_ms;
    int64_t drain_until = 0;
    int64_t kill_at = 0;
    bool eof = false;
    bool leader_done = false;
    bool leader_lost = false;
    bool term_sent = false;
    bool kill_sent = false;

    while (true) {
        if (!leader_done) {
            siginfo_t info;
            memset (&info, 0, sizeof info);
            int rc = waitid (P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
            if ((rc == 0 && info.si_pid == pid) || (rc != 0 && errno == ECHILD)) {
                leader_done = true;
                leader_lost = rc != 0;
                drain_until = jad_mono_ms () + JAD_HOOK_DRAIN_MS;
            }
        }
        int64_t now = jad_mono_ms ();
        if (leader_done && (eof || now >= drain_until))
            break;
        if (!leader_done && !term_sent && now >= deadline) {
            kill (-pid, SIGTERM);
            term_sent = true;
            result->timed_out = true;
            kill_at = now + JAD_HOOK_GRACE_MS;
        }
        if (term_sent && !kill_sent && now >= kill_at) {
            kill (-pid, SIGKILL);
            kill_sent = true;
        }
        int64_t next = leader_done ? drain_until
                       : kill_sent ? now + 100
                       : term_sent ? kill_at
                                   : deadline;
        int64_t wait_ms = next > now ? next - now : 0;
        if (!leader_done && pidfd < 0 && wait_ms > 10)
            wait_ms = 10;  //  no pidfd: look at the leader often
        struct pollfd fds[2];
        nfds_t count = 0;
        if (!eof)
            fds[count++] = (struct pollfd){.fd = outfd, .events = POLLIN};
        if (!leader_done && pidfd >= 0)
            fds[count++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        if (poll (fds, count, (int)wait_ms) < 0 && errno != EINTR)
            break;
        if (!eof && fds[0].revents)
            eof = s_read_available (outfd, output);
    }
    //  the leader is a zombie we hold: its group id is still ours to kill
    if (!leader_lost)
        kill (-pid, SIGKILL);
    if (!eof)
        s_read_available (outfd, output);
    if (pidfd >= 0)
        close (pidfd);

    int status = 0;
    pid_t reaped;
    do
        reaped = waitpid (pid, &status, 0);
    while (reaped < 0 && errno == EINTR);
    if (reaped == pid) {
        if (WIFEXITED (status)) {
            result->exited = true;
            result->exit_code = WEXITSTATUS (status);
        } else if (WIFSIGNALED (status))
            result->signal = WTERMSIG (status);
    }
}

int jad_hook_run (const jad_hook_spec_t *spec, jad_hook_result_t *result)
{
    if (!result)
        return -1;
    memset (result, 0, sizeof *result);
    int64_t start = jad_mono_ms ();
    if (!spec || !spec->release_dir || (!spec->command && !spec->program))
        return s_refuse (result, "missing release dir or hook", NULL);
    if (spec->program && spec->program[0] != '/')
        return s_refuse (result, "program path is not absolute", spec->program);

    const char *command = spec->program ? "program" : spec->command;
    while (command[0] == '.' && command[1] == '/')
        command += 2;
    if (!*command)
        return s_refuse (result, "empty hook path", NULL);
    if (command[0] == '/')
        return s_refuse (result, "hook path is absolute", spec->command);
    if (jad_path_has_dotdot (command))
        return s_refuse (result, "hook path contains '..'", spec->command);

    int rc = -1;
    char *dir = NULL;
    char *joined = NULL;
    char *hook = NULL;
    char *home = NULL;
    char **envp = NULL;
    char **argv = NULL;
    int devnull = -1;
    int outpipe[2] = {-1, -1};
    int errpipe[2] = {-1, -1};
    s_output_t output = {0};

    dir = realpath (spec->release_dir, NULL);
    if (!dir) {
        s_refuse (result, "release dir", strerror (errno));
        goto cleanup;
    }
    if (spec->program) {
        hook = realpath (spec->program, NULL);
        if (!hook) {
            s_refuse (result, spec->program, strerror (errno));
            goto cleanup;
        }
    } else if (asprintf (&joined, "%s/%s", dir, command) < 0) {
        joined = NULL;
        s_refuse (result, "out of memory", NULL);
        goto cleanup;
    }
    if (!spec->program)
        hook = realpath (joined, NULL);
    if (!hook) {
        s_refuse (result, spec->command, strerror (errno));
        goto cleanup;
    }
    size_t dirlen = strlen (dir);
    if (!spec->program && strcmp (dir, "/") != 0 &&
        (strncmp (hook, dir, dirlen) != 0 || hook[dirlen] != '/')) {
        s_refuse (result, "hook resolves outside the release dir", spec->command);
        goto cleanup;
    }
    struct stat st;
    if (stat (hook, &st) != 0 || !S_ISREG (st.st_mode) || !(st.st_mode & 0111)) {
        s_refuse (result, "hook is not an executable regular file",
                  spec->program ? spec->program : spec->command);
        goto cleanup;
    }

    //  environment: fixed PATH, HOME, LANG unless the caller sets them
    size_t extra = 0;
    while (spec->env && spec->env[extra])
        extra++;
    envp = calloc (extra + 4, sizeof (char *));
    if (!envp) {
        s_refuse (result, "out of memory", NULL);
        goto cleanup;
    }
    size_t envc = 0;
    if (!s_env_sets (spec->env, "PATH="))
        envp[envc++] = JAD_HOOK_PATH;
    if (!s_env_sets (spec->env, "LANG="))
        envp[envc++] = JAD_HOOK_LANG;
    if (!s_env_sets (spec->env, "HOME=")) {
        const char *home_dir = dir;
        struct passwd pwd, *found = NULL;
        char pwbuf[4096];
        if (spec->drop_privileges &&
            getpwuid_r (spec->uid, &pwd, pwbuf, sizeof pwbuf, &found) == 0 && found &&
            found->pw_dir && *found->pw_dir)
            home_dir = found->pw_dir;
        if (asprintf (&home, "HOME=%s", home_dir) < 0) {
            home = NULL;
            s_refuse (result, "out of memory", NULL);
            goto cleanup;
        }
        envp[envc++] = home;
    }
    for (size_t index = 0; index < extra; index++) {
        const char *entry = spec->env[index];
        if (entry[0] != '=' && strchr (entry, '='))
            envp[envc++] = (char *)entry;
    }
    size_t argc = 0;
    while (spec->args && spec->args[argc])
        argc++;
    argv = calloc (argc + 2, sizeof (char *));
    if (!argv) {
        s_refuse (result, "out of memory", NULL);
        goto cleanup;
    }
    argv[0] = hook;
    for (size_t index = 0; index < argc; index++)
        argv[index + 1] = (char *)spec->args[index];

    output.max = spec->max_output ? spec->max_output : JAD_HOOK_DEFAULT_OUTPUT;
    output.data = malloc (output.max + sizeof JAD_HOOK_TRUNCATED);
    if (!output.data) {
        s_refuse (result, "out of memory", NULL);
        goto cleanup;
    }
    devnull = s_above_stdio (open ("/dev/null", O_RDONLY | O_CLOEXEC));
    if (devnull < 0 || pipe2 (outpipe, O_CLOEXEC) != 0 || pipe2 (errpipe, O_CLOEXEC) != 0) {
        s_refuse (result, "cannot create pipes", strerror (errno));
        goto cleanup;
    }
    for (int index = 0; index < 2; index++) {
        outpipe[index] = s_above_stdio (outpipe[index]);
        errpipe[index] = s_above_stdio (errpipe[index]);
    }
    if (outpipe[0] < 0 || outpipe[1] < 0 || errpipe[0] < 0 || errpipe[1] < 0) {
        s_refuse (result, "cannot create pipes", strerror (errno));
        goto cleanup;
    }

    pid_t pid = fork ();
    if (pid < 0) {
        s_refuse (result, "fork", strerror (errno));
        goto cleanup;
    }
    if (pid == 0)
        s_child (devnull, outpipe[1], errpipe[1], dir, hook, argv, envp, spec);

    //  both sides set the group, so signals reach it whoever runs first
    setpgid (pid, pid);
    close (outpipe[1]);
    outpipe[1] = -1;
    close (errpipe[1]);
    errpipe[1] = -1;
    s_child_error_t report;
    ssize_t got;
    do
        got = read (errpipe[0], &report, sizeof report);
    while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof report) {
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
            ;
        s_refuse (result, s_step_name (report.step), strerror (report.error));
        goto cleanup;
    }
    fcntl (outpipe[0], F_SETFL, fcntl (outpipe[0], F_GETFL) | O_NONBLOCK);
    s_supervise (pid, outpipe[0], start,
                 spec->timeout_ms ? spec->timeout_ms : JAD_HOOK_DEFAULT_TIMEOUT_MS, &output,
                 result);

    if (output.truncated) {
        memcpy (output.data + output.size, JAD_HOOK_TRUNCATED, strlen (JAD_HOOK_TRUNCATED));
        output.size += strlen (JAD_HOOK_TRUNCATED);
    }
    output.data[output.size] = 0;
    result->output = output.data;
    output.data = NULL;
    rc = result->exited && result->exit_code == 0 && !result->timed_out ? 0 : -1;

cleanup:
    result->duration_ms = (uint32_t)(jad_mono_ms () - start);
    if (!result->output)
        result->output = strdup ("");
    free (output.data);
    for (int index = 0; index < 2; index++) {
        if (outpipe[index] >= 0)
            close (outpipe[index]);
        if (errpipe[index] >= 0)
            close (errpipe[index]);
    }
    if (devnull >= 0)
        close (devnull);
    free (envp);
    free (argv);
    free (home);
    free (hook);
    free (joined);
    free (dir);
    return rc;
}

const char *jad_hook_describe (const jad_hook_result_t *result, char *buf, size_t len)
{
    if (!buf || len == 0)
        return buf;
    if (!result)
        snprintf (buf, len, "no result");
    else if (result->spawn_failed)
        snprintf (buf, len, "could not start: %s", result->output ? result->output : "unknown");
    else if (result->timed_out)
        snprintf (buf, len, "timed out after %u ms", (unsigned)result->duration_ms);
    else if (result->exited)
        snprintf (buf, len, "exit %d", result->exit_code);
    else if (result->signal)
        snprintf (buf, len, "killed by signal %d", result->signal);
    else
        snprintf (buf, len, "status unknown");
    return buf;
}

void jad_hook_result_clear (jad_hook_result_t *result)
{
    if (!result)
        return;
    free (result->output);
    memset (result, 0, sizeof *result);
}
