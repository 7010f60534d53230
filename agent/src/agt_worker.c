//  agt_worker - the apply worker: runs each job in the jadugar-apply helper
//  SPDX-License-Identifier: MPL-2.0

#include "agt_worker.h"
#include "agt_pipe.h"
#include "jad_log.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_REAP_MS 5000  //  after end of input, how long the helper gets to exit

struct _agt_worker_t {
    char *helper;     //  path, or NULL
    char *missing;    //  why there is no helper
    pid_t pid;        //  running helper, or 0
    int to;           //  its stdin (job, go-aheads)
    int from;         //  its stdout (events), non-blocking
    int exiting;      //  pidfd of a helper that closed its events, or -1
    int64_t exit_by;  //  then: when it is killed if it has not exited
    uint8_t *buffer;
    size_t used;
    bool done;   //  DONE event seen
    char *step;  //  last step started
    char lost[JAD_MAX_DETAIL];
};

char *agt_worker_helper_path (char *err, size_t len)
{
    char exe[PATH_MAX];
    ssize_t size = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (size <= 0) {
        snprintf (err, len, "cannot find the apply helper: /proc/self/exe: %s", strerror (errno));
        return NULL;
    }
    exe[size] = 0;
    const char *dir = dirname (exe);
    char first[PATH_MAX], second[PATH_MAX];
    snprintf (first, sizeof first, "%s/" AGT_WORKER_HELPER, dir);
    snprintf (second, sizeof second, "%s/../lib/jadugar/" AGT_WORKER_HELPER, dir);
    const char *found = access (first, X_OK) == 0    ? first
                        : access (second, X_OK) == 0 ? second
                                                     : NULL;
    if (!found) {
        snprintf (err, len, "apply helper " AGT_WORKER_HELPER " not found (tried %s and %s)", first,
                  second);
        return NULL;
    }
    char *path = realpath (found, NULL);
    if (!path)
        snprintf (err, len, "apply helper %s: %s", found, strerror (errno));
    return path;
}

agt_worker_t *agt_worker_new (const char *helper, const char *missing)
{
    agt_worker_t *self = (agt_worker_t *)calloc (1, sizeof (agt_worker_t));
    if (!self)
        return NULL;
    self->to = -1;
    self->from = -1;
    self->exiting = -1;
    self->helper = helper ? strdup (helper) : NULL;
    self->missing = strdup (missing ? missing : "apply helper not found");
    self->buffer = (uint8_t *)malloc (JAD_MAX_APPLY_MSG + 4);
    if ((helper && !self->helper) || !self->missing || !self->buffer) {
        agt_worker_destroy (&self);
        return NULL;
    }
    //  a helper that died must not kill us when we write its go-ahead
    struct sigaction current;
    if (sigaction (SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL)
        signal (SIGPIPE, SIG_IGN);
    return self;
}

static void s_close (int *fd)
{
    if (*fd >= 0) {
        close (*fd);
        *fd = -1;
    }
}

//  Reap the helper and describe how it ended into self->lost: at once
//  with kill_now (SIGKILL), else only if it has exited (wait_ms 0) or
//  exits within wait_ms. Returns 1 if it exited 0, 0 if it ended
//  otherwise, -1 if it is still running (after wait_ms; nothing done).
static int s_reap (agt_worker_t *self, bool kill_now, int wait_ms)
{
    if (self->pid <= 0)
        return 1;
    if (kill_now)
        kill (self->pid, SIGKILL);
    else {
        int pidfd = self->exiting >= 0 ? self->exiting : (int)pidfd_open (self->pid, 0);
        int rc = 1;  //  without a pidfd (valgrind lacks it): block in waitpid
        if (pidfd >= 0) {
            struct pollfd item = {.fd = pidfd, .events = POLLIN};
            do
                rc = poll (&item, 1, wait_ms);
            while (rc < 0 && errno == EINTR);
            if (pidfd != self->exiting)
                close (pidfd);
        }
        if (rc == 0)
            return -1;
    }
    if (self->exiting >= 0) {
        close (self->exiting);
        self->exiting = -1;
    }
    int status = 0;
    pid_t reaped;
    do
        reaped = waitpid (self->pid, &status, 0);
    while (reaped < 0 && errno == EINTR);
    self->pid = 0;
    char how[64];
    if (reaped < 0)
        snprintf (how, sizeof how, "was lost (%s)", strerror (errno));
    else if (WIFSIGNALED (status))
        snprintf (how, sizeof how, "exited with signal %d", WTERMSIG (status));
    else
        snprintf (how, sizeof how, "exited with status %d", WEXITSTATUS (status));
    if (!self->lost[0]) {
        if (self->step)
            snprintf (self->lost, sizeof self->lost, "apply helper %s during %s", how, self->step);
        else
            snprintf (self->lost, sizeof self->lost, "apply helper %s before its first step", how);
    }
    return reaped > 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

//  The helper is reaped: say how it ended.
static agt_worker_state_t s_ended (agt_worker_t *self, bool clean)
{
    if (self->done && !clean)
        jad_log_warning ("agent: %s after its outcome", self->lost);
    return self->done ? AGT_WORKER_FINISHED : AGT_WORKER_LOST;
}

//  The helper must go: close, kill, reap, say how it ended.
static agt_worker_state_t s_finish (agt_worker_t *self)
{
    s_close (&self->to);
    s_close (&self->from);
    self->used = 0;
    return s_ended (self, s_reap (self, true, 0) == 1);
}

//  A helper that closed its events: reaped if it has exited (or is past
//  its time: killed), else still AGT_WORKER_EXITING.
static agt_worker_state_t s_exiting (agt_worker_t *self)
{
    int rc = s_reap (self, false, 0);
    if (rc >= 0)
        return s_ended (self, rc == 1);
    if (jad_mono_ms () < self->exit_by)
        return AGT_WORKER_EXITING;
    jad_log_warning ("agent: apply helper pid=%d does not exit; killing it", (int)self->pid);
    return s_ended (self, s_reap (self, true, 0) == 1);
}

//  The helper closed its events: reap it if it has exited, else wait for
//  it on a pidfd (AGT_WORKER_EXITING) and kill it S_REAP_MS from now.
static agt_worker_state_t s_closed (agt_worker_t *self)
{
    s_close (&self->to);
    s_close (&self->from);
    self->used = 0;
    self->exiting = (int)pidfd_open (self->pid, 0);
    if (self->exiting < 0)  //  no pidfd (valgrind lacks it): wait for it here
        return s_ended (self, s_reap (self, false, -1) == 1);
    self->exit_by = jad_mono_ms () + S_REAP_MS;
    return s_exiting (self);
}

void agt_worker_destroy (agt_worker_t **self_p)
{
    if (self_p && *self_p) {
        agt_worker_t *self = *self_p;
        if (self->pid > 0)
            s_finish (self);
        s_close (&self->to);
        s_close (&self->from);
        s_close (&self->exiting);
        free (self->helper);
        free (self->missing);
        free (self->buffer);
        free (self->step);
        free (self);
        *self_p = NULL;
    }
}

//  Above stdio: the child's dup2 onto 0 and 1 keeps it.
static int s_above_stdio (int fd)
{
    return jad_fd_above (fd, 3);
}

int agt_worker_start (agt_worker_t *self, const jad_apply_job_t *job, char *err, size_t len)
{
    assert (self);
    assert (job);
    if (self->pid > 0) {
        snprintf (err, len, "apply helper busy with another job");
        return -1;
    }
    if (!self->helper) {
        snprintf (err, len, "%s", self->missing);
        return -1;
    }
    zchunk_t *frame = jad_apply_job_encode (job);
    if (!frame) {
        snprintf (err, len, "cannot encode the job for the apply helper");
        return -1;
    }
    int down[2] = {-1, -1}, up[2] = {-1, -1};
    if (pipe2 (down, O_CLOEXEC) || pipe2 (up, O_CLOEXEC)) {
        snprintf (err, len, "cannot create pipes for the apply helper: %s", strerror (errno));
        goto failed;
    }
    for (int index = 0; index < 2; index++) {
        down[index] = s_above_stdio (down[index]);
        up[index] = s_above_stdio (up[index]);
    }
    //  everything the child needs is ready before fork (we have threads)
    pid_t parent = getpid ();
    char parent_text[24];
    snprintf (parent_text, sizeof parent_text, "%d", (int)parent);
    char *argv[] = {self->helper, "--apply", "--parent", parent_text, NULL};
    pid_t pid = fork ();
    if (pid < 0) {
        snprintf (err, len, "cannot start the apply helper: fork: %s", strerror (errno));
        goto failed;
    }
    if (pid == 0) {
        //  the child: async-signal-safe calls only until execv
        jad_child_signals_reset ();
        if (dup2 (down[0], 0) < 0 || dup2 (up[1], 1) < 0)
            _exit (126);
        close_range (3, ~0U, 0);
        if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != parent)
            _exit (125);
        execv (argv[0], argv);
        _exit (127);
    }
    s_close (&down[0]);
    s_close (&up[1]);
    self->pid = pid;
    self->to = down[1];
    self->from = up[0];
    self->used = 0;
    self->done = false;
    self->lost[0] = 0;
    free (self->step);
    self->step = NULL;
    fcntl (self->from, F_SETFL, fcntl (self->from, F_GETFL) | O_NONBLOCK);
    if (agt_pipe_send (self->to, frame)) {
        snprintf (err, len, "cannot pass the job to the apply helper: %s", strerror (errno));
        zchunk_destroy (&frame);
        s_finish (self);
        return -1;
    }
    zchunk_destroy (&frame);
    return 0;

failed:
    zchunk_destroy (&frame);
    for (int index = 0; index < 2; index++) {
        s_close (&down[index]);
        s_close (&up[index]);
    }
    return -1;
}

bool agt_worker_busy (agt_worker_t *self)
{
    return self && self->pid > 0;
}

int agt_worker_fd (agt_worker_t *self)
{
    if (!self || self->pid <= 0)
        return -1;
    return self->from >= 0 ? self->from : self->exiting;
}

int64_t agt_worker_exit_due (agt_worker_t *self)
{
    return self && self->pid > 0 && self->exiting >= 0 ? self->exit_by : 0;
}

const char *agt_worker_lost_detail (agt_worker_t *self)
{
    return self->lost[0] ? self->lost : "apply helper lost";
}

const char *agt_worker_step (agt_worker_t *self)
{
    return self->step;
}

//  Hand every whole frame in the buffer to handle. Returns 0, or -1 if
//  the helper sent something that is not an event (self->lost says what).
static int s_dispatch (agt_worker_t *self, agt_apply_emit_fn *handle, void *arg)
{
    size_t offset = 0;
    int rc = 0;
    while (self->used - offset >= 4) {
        const uint8_t *prefix = self->buffer + offset;
        size_t size = agt_pipe_frame_size (prefix);
        if (size > JAD_MAX_APPLY_MSG) {
            snprintf (self->lost, sizeof self->lost,
                      "apply helper sent a frame of %zu bytes during %s", size,
                      self->step ? self->step : "start-up");
            rc = -1;
            break;
        }
        if (self->used - offset - 4 < size)
            break;  //  the rest comes later
        char err[JAD_ERR_LEN] = "";
        jad_apply_event_t *event = jad_apply_event_decode (prefix + 4, size, err);
        offset += 4 + size;
        if (!event) {
            snprintf (self->lost, sizeof self->lost, "apply helper sent a bad %s during %s", err,
                      self->step ? self->step : "start-up");
            rc = -1;
            break;
        }
        bool started = event->kind == JAD_APPLY_EVENT_STEP && event->status == JAD_REPORT_STARTED;
        if (started) {
            free (self->step);
            self->step = strdup (event->step);
        }
        if (event->kind == JAD_APPLY_EVENT_DONE)
            self->done = true;
        handle (&event, arg);
        jad_apply_event_destroy (&event);
        //  the step is recorded now: let the helper do it
        const char go = AGT_PIPE_GO;
        if (started && jad_write_all (self->to, &go, 1))
            jad_log_warning ("agent: cannot pass the go-ahead to the apply helper: %s",
                             strerror (errno));
    }
    memmove (self->buffer, self->buffer + offset, self->used - offset);
    self->used -= offset;
    return rc;
}

agt_worker_state_t agt_worker_read (agt_worker_t *self, agt_apply_emit_fn *handle, void *arg)
{
    assert (self);
    assert (handle);
    if (self->pid <= 0)
        return self->done ? AGT_WORKER_FINISHED : AGT_WORKER_LOST;
    if (self->from < 0)
        return s_exiting (self);
    while (true) {
        size_t room = JAD_MAX_APPLY_MSG + 4 - self->used;
        ssize_t got = read (self->from, self->buffer + self->used, room);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return AGT_WORKER_RUNNING;
        if (got <= 0)
            break;  //  end of input (or a broken pipe): the helper is done
        self->used += (size_t)got;
        if (s_dispatch (self, handle, arg))
            return s_finish (self);
    }
    if (self->used > 0 && !self->done)
        jad_log_warning ("agent: apply helper left %zu bytes of a frame", self->used);
    return s_closed (self);
}

agt_worker_state_t agt_worker_drain (agt_worker_t *self, agt_apply_emit_fn *handle, void *arg)
{
    assert (self);
    agt_worker_state_t state = agt_worker_read (self, handle, arg);
    while (state == AGT_WORKER_RUNNING || state == AGT_WORKER_EXITING) {
        int timeout = -1;
        if (state == AGT_WORKER_EXITING) {
            int64_t left = self->exit_by - jad_mono_ms ();
            timeout = left > 0 ? (int)left : 0;
        }
        struct pollfd item = {.fd = agt_worker_fd (self), .events = POLLIN};
        if (poll (&item, 1, timeout) < 0 && errno != EINTR)
            return s_finish (self);
        state = agt_worker_read (self, handle, arg);
    }
    return state;
}
