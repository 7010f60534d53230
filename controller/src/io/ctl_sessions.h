//  ctl_sessions - connections: an agent's, to cut them when it is rejected
//  or removed; everyone's, to cap them per address and in all
//  SPDX-License-Identifier: MPL-2.0
//
//  ZAP is only asked at the handshake, so rejecting or removing an agent
//  also cuts its open connections: the agents ROUTER connection by the
//  file descriptor its last message came in on (ZMQ_SRCFD), the PUB
//  connections by the agent's address (a socket monitor tracks PUB
//  connections). shutdown(2) makes libzmq drop the connection; the agent
//  reconnects and the ZAP handler refuses it.
//
//  Strangers cannot run the controller out of descriptors: a socket
//  monitor on each CURVE socket (plans, agents, API) sees every accepted
//  connection with its descriptor, and one over a cap is shut down at
//  once, counted (connections_refused) and logged at most once a second.
//  The caps: `connections-per-ip` from one address (default 1024, 0 =
//  none); `max-connections` in all, never above the descriptor limit less
//  an eighth (at least 128) kept for everything else; and above three
//  quarters of that, no address holding more than 8 gets another (agents
//  hold two, jadctl one, so the fleet and operators still get in).
//  Handshakes that never finish are closed by ZMQ_HANDSHAKE_IVL.

#ifndef CTL_SESSIONS_H_INCLUDED
#define CTL_SESSIONS_H_INCLUDED

#include "ctl_counters.h"

#include <czmq.h>
#include <stdint.h>

typedef struct _ctl_sessions_t ctl_sessions_t;

//  Track the connections of the bound sockets `pub` (plans), `agents` and
//  `api` (borrowed). Caps start at their defaults. NULL on error (logged).
ctl_sessions_t *ctl_sessions_new (zsock_t *pub, zsock_t *agents, zsock_t *api,
                                  ctl_counters_t *counters);
void ctl_sessions_destroy (ctl_sessions_t **self_p);

//  Set the caps: per_ip connections from one address (0 = none) and
//  max_connections in all (0 = from the descriptor limit).
void ctl_sessions_limits (ctl_sessions_t *self, uint32_t per_ip, uint32_t max_connections);

//  Monitor socket `index` (0, 1, 2; NULL past the last), for the poller,
//  and its handler (reads one event).
zsock_t *ctl_sessions_monitor (ctl_sessions_t *self, size_t index);
void ctl_sessions_event (ctl_sessions_t *self, size_t index);

//  Agent `name`'s agents-port connection is file descriptor fd.
void ctl_sessions_note (ctl_sessions_t *self, const char *name, int fd);

//  Shut down the connections of agent `name`. Returns how many.
int ctl_sessions_cut (ctl_sessions_t *self, const char *name);

//  The connections the controller takes in all: `max-connections`
//  (max_connections, 0 = none given), never more than the descriptor
//  limit less a reserve for everything else.
size_t ctl_sessions_cap (uint32_t max_connections);

//  How many libzmq I/O threads serve `connections` on `cores` CPUs: one
//  per CTL_SESSIONS_PER_IO_THREAD connections (a thread's timer work
//  grows with the square of its connections), at least one, at most one
//  per core.
#define CTL_SESSIONS_PER_IO_THREAD 5000
size_t ctl_sessions_io_threads (size_t connections, long cores);

//  The IP address a connection (fd) comes from into ip ("" if fd is no
//  connected socket). Returns 0 or -1.
int ctl_sessions_address (int fd, char *ip, size_t iplen);

#endif
