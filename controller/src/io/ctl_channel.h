//  ctl_channel - the way to the agents: plan broadcast (XPUB, BASE), the
//  agents ROUTER (BASE+1) and each agent's last route
//  SPDX-License-Identifier: MPL-2.0
//
//  An agent is reached directly over the route its last message came
//  from. During a burst of agent messages (one transaction), replies that
//  promise something is stored (report and metric acks) wait for the
//  burst's commit: ctl_channel_burst_begin ... ctl_channel_burst_end. The
//  report acks of a burst go as one message per agent connection.

#ifndef CTL_CHANNEL_H_INCLUDED
#define CTL_CHANNEL_H_INCLUDED

#include "ctl_counters.h"
#include "ctl_store.h"
#include "jad_wire.h"

#include <czmq.h>
#include <stdbool.h>

typedef struct _ctl_channel_t ctl_channel_t;

//  A channel over the bound sockets *pub_p and *agents_p (taken over,
//  nulled). NULL if out of memory (the sockets are destroyed).
ctl_channel_t *ctl_channel_new (zsock_t **pub_p, zsock_t **agents_p);
void ctl_channel_destroy (ctl_channel_t **self_p);

//  The sockets, for the poller and the PUB monitor.
zsock_t *ctl_channel_pub (ctl_channel_t *self);
zsock_t *ctl_channel_agents (ctl_channel_t *self);

//  Agent `name` was last heard on `route` (copied).
void ctl_channel_route (ctl_channel_t *self, const char *name, zframe_t *route);

//  True if agent `name` has a route (was heard from since start).
bool ctl_channel_reachable (ctl_channel_t *self, const char *name);

//  Forget agent `name`'s route (its connections were cut).
void ctl_channel_forget (ctl_channel_t *self, const char *name);

//  Send `message` over `route` now. Returns 0 or -1.
int ctl_channel_send_route (ctl_channel_t *self, zframe_t *route, const jad_ctl_msg_t *message);

//  Send `message` to agent `name` over its last route. Returns 0, or -1
//  when the agent has no route (not heard from since start) or on error.
int ctl_channel_send_agent (ctl_channel_t *self, const char *name, const jad_ctl_msg_t *message);

//  Send `message` over `route` once the current burst commits (at once
//  outside a burst). Returns 0 or -1.
int ctl_channel_send_committed (ctl_channel_t *self, zframe_t *route, const jad_ctl_msg_t *message);

//  Acknowledge report `report_id` of the agent `incarnation` behind
//  `route`: at once outside a burst; in a burst, once it commits, in one
//  ReportAck per route and incarnation carrying every report id the burst
//  stored (an agent's started and finished reports often come together).
//  Returns 0 or -1.
int ctl_channel_ack_report (ctl_channel_t *self, zframe_t *route, const char *incarnation,
                            uint64_t report_id);

//  Broadcast `data` on PUB under `topic`. Returns 0 or -1.
int ctl_channel_broadcast (ctl_channel_t *self, const char *topic, const void *data, size_t size);

//  Serve one subscription on the broadcast socket (an XPUB with
//  ZMQ_XPUB_MANUAL, so nothing is subscribed unless granted here). A
//  subscription is granted only when the key the ZAP handler
//  authenticated for that connection (the message's User-Id) is an
//  accepted agent's and the topic lies under `plan/ENV/` or `beat/ENV/` of
//  that agent's environment; anything else is refused, counted
//  (subscriptions_refused) and logged at most once a second. Cancels are
//  applied. Returns 1 when a heartbeat topic (`beat/ENV/`) was granted,
//  0 for anything else, or -1 when nothing was waiting.
int ctl_channel_pub_handle (ctl_channel_t *self, ctl_store_t *store, ctl_counters_t *counters);

//  A burst of agent messages begins; it ends committed (the waiting
//  replies go) or not (they are dropped: nothing was stored).
void ctl_channel_burst_begin (ctl_channel_t *self);
void ctl_channel_burst_end (ctl_channel_t *self, bool committed);

#endif
