//  agt_worker - the apply worker: runs agt_apply in its own thread
//  SPDX-License-Identifier: MPL-2.0

#include "agt_worker.h"
#include "jad_log.h"

static void s_emit (agt_event_t **event_p, void *arg)
{
    zsock_t *pipe = (zsock_t *)arg;
    if (zsock_send (pipe, "sp", "EVENT", *event_p) == 0)
        *event_p = NULL;  //  main owns it now
    else
        jad_log_error ("agent: worker cannot pass an event to the main thread");
}

void agt_worker_actor (zsock_t *pipe, void *args)
{
    (void)args;
    zsock_signal (pipe, 0);
    while (true) {
        char *command = NULL;
        void *pointer = NULL;
        if (zsock_recv (pipe, "sp", &command, &pointer))
            break;  //  interrupted
        if (!command) {
            continue;
        }
        if (streq (command, "$TERM")) {
            zstr_free (&command);
            break;
        }
        if (streq (command, "STOP"))
            zsock_send (pipe, "sp", "STOPPED", NULL);
        else if (streq (command, "APPLY") && pointer) {
            agt_job_t *job = (agt_job_t *)pointer;
            agt_apply_run (job, s_emit, pipe);
            agt_job_destroy (&job);
        }
        zstr_free (&command);
    }
}

int agt_worker_apply (zactor_t *worker, agt_job_t **job_p)
{
    assert (worker);
    assert (job_p && *job_p);
    if (zsock_send (worker, "sp", "APPLY", *job_p))
        return -1;
    *job_p = NULL;
    return 0;
}

agt_event_t *agt_worker_recv (zactor_t *worker)
{
    char *command = NULL;
    void *pointer = NULL;
    if (zsock_recv (worker, "sp", &command, &pointer))
        return NULL;
    agt_event_t *event = NULL;
    if (command && streq (command, "EVENT"))
        event = (agt_event_t *)pointer;
    zstr_free (&command);
    return event;
}

void agt_worker_drain (zactor_t *worker, agt_apply_emit_fn *handle, void *arg)
{
    assert (worker);
    if (zsock_send (worker, "sp", "STOP", NULL))
        return;
    while (true) {
        char *command = NULL;
        void *pointer = NULL;
        if (zsock_recv (worker, "sp", &command, &pointer))
            return;  //  interrupted again: give up waiting
        bool stopped = command && streq (command, "STOPPED");
        if (command && streq (command, "EVENT") && pointer) {
            agt_event_t *event = (agt_event_t *)pointer;
            handle (&event, arg);
            agt_event_destroy (&event);
        }
        zstr_free (&command);
        if (stopped)
            return;
    }
}
