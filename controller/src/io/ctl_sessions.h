//  ctl_sessions - agents' connections, to cut them when an agent is
//  rejected or removed
//  SPDX-License-Identifier: MPL-2.0
//
//  ZAP is only asked at the handshake, so rejecting or removing an agent
//  also cuts its open connections: the agents ROUTER connection by the
//  file descriptor its last message came in on (ZMQ_SRCFD), the PUB
//  connections by the agent's address (a socket monitor tracks PUB
//  connections). shutdown(2) makes libzmq drop the connection; the agent
//  reconnects and the ZAP handler refuses it.

#ifndef CTL_SESSIONS_H_INCLUDED
#define CTL_SESSIONS_H_INCLUDED

#include "ctl_counters.h"

#include <czmq.h>

typedef struct _ctl_sessions_t ctl_sessions_t;

//  Track the connections of PUB socket `pub` (borrowed, bound). NULL on
//  error (logged).
ctl_sessions_t *ctl_sessions_new (zsock_t *pub, ctl_counters_t *counters);
void ctl_sessions_destroy (ctl_sessions_t **self_p);

//  The PUB monitor's socket, for the poller, and its handler (reads one
//  event).
zsock_t *ctl_sessions_monitor (ctl_sessions_t *self);
void ctl_sessions_pub_event (ctl_sessions_t *self);

//  Agent `name`'s agents-port connection is file descriptor fd.
void ctl_sessions_note (ctl_sessions_t *self, const char *name, int fd);

//  Shut down the connections of agent `name`. Returns how many.
int ctl_sessions_cut (ctl_sessions_t *self, const char *name);

//  The IP address a connection (fd) comes from into ip ("" if fd is no
//  connected socket). Returns 0 or -1.
int ctl_sessions_address (int fd, char *ip, size_t iplen);

#endif
