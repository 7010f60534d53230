//  agt_worker - the apply worker: runs agt_apply in its own thread
//  SPDX-License-Identifier: MPL-2.0
//
//  A czmq actor, so the main loop keeps heartbeating and answering while
//  hooks run. It never touches the database: the main thread sends it a
//  job and receives events, and writes them down itself.
//
//  Pipe protocol (pointers stay inside this process):
//      main -> worker  "APPLY" agt_job_t *       (worker takes ownership)
//      worker -> main  "EVENT" agt_event_t *     (main takes ownership)
//      main -> worker  "STOP"; worker -> main "STOPPED" once idle
//  One job at a time; a running job finishes first (its hooks have
//  timeouts). Before destroying the actor the main thread calls
//  agt_worker_drain, so no event (and no pointer) is left in the pipe.

#ifndef AGT_WORKER_H_INCLUDED
#define AGT_WORKER_H_INCLUDED

#include "agt_apply.h"

#include <czmq.h>

void agt_worker_actor (zsock_t *pipe, void *args);

//  Hand a job to the worker (takes ownership of *job_p). Returns 0 or -1.
int agt_worker_apply (zactor_t *worker, agt_job_t **job_p);

//  Receive the next event from the worker; caller owns it. NULL if the
//  message was not an event (interrupted or malformed).
agt_event_t *agt_worker_recv (zactor_t *worker);

//  Ask the worker to stop after its current job and hand every event it
//  still sends to `handle` (which takes ownership). Returns when the
//  worker is idle; then zactor_destroy is safe.
void agt_worker_drain (zactor_t *worker, agt_apply_emit_fn *handle, void *arg);

#endif
