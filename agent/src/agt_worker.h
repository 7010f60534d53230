//  agt_worker - the apply worker: runs each job in the jadugar-apply helper
//  SPDX-License-Identifier: MPL-2.0
//
//  The daemon never links libarchive or libcurl (they cost it some 9 MiB
//  of resident shared libraries): every job runs in a fresh jadugar-apply
//  process, which links them and runs agt_apply_run. fork + execve, no
//  shell; the job goes down the helper's stdin as one ApplyJob frame and
//  its events come back on its stdout as ApplyEvent frames (agt_pipe).
//  The main loop polls agt_worker_fd and calls agt_worker_read, so it
//  keeps heartbeating and answering while hooks run. It never touches
//  the database here: `handle` (the daemon's) records each event.
//
//  Ordering: after an event that starts a step, `handle` has returned
//  (the step is recorded) before the helper gets its go-ahead byte, so a
//  crash of the agent never reports an earlier step than the one running.
//
//  The helper dies with the agent (PR_SET_PDEATHSIG SIGKILL, set before
//  execve, and it checks that its parent is still the agent). A helper
//  that exits without its DONE event leaves the job "lost": the detail
//  says how ("apply helper exited with signal 11 during unpack").

#ifndef AGT_WORKER_H_INCLUDED
#define AGT_WORKER_H_INCLUDED

#include "agt_apply.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGT_WORKER_HELPER "jadugar-apply"

typedef struct _agt_worker_t agt_worker_t;

typedef enum {
    AGT_WORKER_RUNNING = 0,  //  more to come: poll the fd again
    AGT_WORKER_FINISHED,     //  the helper sent DONE and exited; idle again
    AGT_WORKER_LOST,         //  the helper exited without DONE; idle again
    AGT_WORKER_EXITING,      //  it closed its events but has not exited:
                             //  poll agt_worker_fd (now a pidfd) again, or
                             //  read at agt_worker_exit_due (it is killed)
} agt_worker_state_t;

//  Where the helper is: DIR/jadugar-apply, then DIR/../lib/jadugar/
//  jadugar-apply, DIR being the directory of this executable. Returns
//  the path (caller frees) or NULL with the paths tried in err.
char *agt_worker_helper_path (char *err, size_t len);

//  A worker that runs `helper` (copied; NULL: every start fails with
//  `missing`, the reason the helper was not found).
agt_worker_t *agt_worker_new (const char *helper, const char *missing);

//  Kills a running helper (SIGKILL) and reaps it; see agt_worker_drain.
void agt_worker_destroy (agt_worker_t **self_p);

//  Start the helper on job. Returns 0, or -1 with a reason in err.
int agt_worker_start (agt_worker_t *self, const jad_apply_job_t *job, char *err, size_t len);

//  True while a helper runs.
bool agt_worker_busy (agt_worker_t *self);

//  The fd to poll for input while busy, -1 when idle: the helper's
//  events, then, once it closed them, a pidfd readable when it exits.
int agt_worker_fd (agt_worker_t *self);

//  While AGT_WORKER_EXITING: the monotonic time (jad_mono_ms) at which
//  agt_worker_read kills a helper that has still not exited; else 0.
int64_t agt_worker_exit_due (agt_worker_t *self);

//  Read what the helper sent (never blocks on it) and hand each event to
//  `handle`, which takes ownership. A helper busy until it is reaped:
//  at end of input it is reaped if it has exited, else the worker is
//  AGT_WORKER_EXITING until it does (or is killed).
agt_worker_state_t agt_worker_read (agt_worker_t *self, agt_apply_emit_fn *handle, void *arg);

//  After AGT_WORKER_LOST: what happened, one line.
const char *agt_worker_lost_detail (agt_worker_t *self);

//  The step the current or last job started last, or NULL.
const char *agt_worker_step (agt_worker_t *self);

//  Let a running job finish (the helper ignores SIGTERM and SIGINT):
//  block, handing every event to `handle`, until the helper exits.
agt_worker_state_t agt_worker_drain (agt_worker_t *self, agt_apply_emit_fn *handle, void *arg);

#endif
