//  agt_daemon - jadugar-agent run: the main loop
//  SPDX-License-Identifier: MPL-2.0
//
//  One thread owns the database and the sockets; a zloop polls the plan
//  SUB, the DEALER, the DEALER's monitor and the apply worker's pipe, with
//  timers for the heartbeat (Status), the outbox re-send (every 2 s) and
//  the fetch (retries, deadline). Plans are applied one at a time, oldest
//  accepted first. Nothing a peer sends can stop the loop: bad input is
//  dropped and counted.

#ifndef AGT_DAEMON_H_INCLUDED
#define AGT_DAEMON_H_INCLUDED

#include <stdbool.h>

typedef struct _agt_daemon_t agt_daemon_t;

//  Start-up: load DATA/agent.yaml and the key, open DATA/state.db, connect
//  the sockets, start the worker. Returns NULL with every problem logged.
agt_daemon_t *agt_daemon_new (const char *data_dir);
void agt_daemon_destroy (agt_daemon_t **self_p);

//  Run until SIGTERM/SIGINT. Returns 0 on a clean stop, -1 on error.
int agt_daemon_run (agt_daemon_t *self);

#endif
