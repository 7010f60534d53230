//  agt_link - the agent's sockets to the controller
//  SPDX-License-Identifier: MPL-2.0
//
//  SUB to BASE (plan broadcasts, topic plan/ENV/) and DEALER to BASE+1
//  (everything else), both CURVE clients of the controller's key, with
//  message size caps, sized high-water marks, linger 0 and a jittered
//  reconnect interval (so a fleet does not storm a restarted controller).
//  The DEALER is "immediate": while there is no authenticated connection a
//  send fails at once instead of queueing stale heartbeats; the outbox and
//  fetch retries make up for it. A socket monitor on the DEALER tells the
//  agent when a handshake succeeds, so it can say hello on every
//  (re)connect.

#ifndef AGT_LINK_H_INCLUDED
#define AGT_LINK_H_INCLUDED

#include "jad_config.h"
#include "jad_keys.h"
#include "jad_wire.h"

#include <czmq.h>

typedef struct _agt_link_t agt_link_t;

typedef enum {
    AGT_LINK_NONE = 0,
    AGT_LINK_CONNECTED,  //  CURVE handshake succeeded
    AGT_LINK_DISCONNECTED,
    AGT_LINK_REFUSED,  //  the controller's ZAP handler refused our key (not retried by libzmq)
} agt_link_event_t;

//  Reconnects: each socket waits its own interval, drawn at random once
//  from AGT_RECONNECT_MIN_MS to AGT_RECONNECT_MIN_MS + AGT_RECONNECT_SPREAD_MS
//  (libzmq adds up to that interval again to every try and doubles it
//  after each failure, up to AGT_RECONNECT_MAX_MS), so a fleet spreads
//  its reconnects to a restarted controller instead of storming it
//  (docs/performance.md, "Joins"). The fleet simulator draws the same.
#define AGT_RECONNECT_MIN_MS    100
#define AGT_RECONNECT_SPREAD_MS 500
#define AGT_RECONNECT_MAX_MS    5000

//  A reconnect interval, drawn as above.
int agt_link_reconnect_ivl (void);

//  Parse "HOST:BASE" into host (size hostlen) and base port. Returns 0 or
//  -1 if malformed (port must be 1..65534 so that BASE+1 exists).
int agt_link_parse_endpoint (const char *text, char *host, size_t hostlen, int *base);

//  Check a controller list ("H1:B1,H2:B2", jad_endpoint_next): each item
//  as agt_link_parse_endpoint takes it, 1 to JAD_ENDPOINTS_MAX of them.
//  Returns how many, or -1.
int agt_link_parse_endpoints (const char *list);

//  Create and connect the sockets. `key` is the agent's CURVE pair.
//  Returns NULL (logged) on error.
agt_link_t *agt_link_new (const jad_agent_config_t *config, const jad_keypair_t *key);
void agt_link_destroy (agt_link_t **self_p);

//  Sockets for the poll loop, borrowed.
zsock_t *agt_link_sub (agt_link_t *self);
zsock_t *agt_link_dealer (agt_link_t *self);
zsock_t *agt_link_monitor (agt_link_t *self);

//  Encode and send one AgentMsg without blocking. Returns 0 or -1 (not
//  connected, or queue full).
int agt_link_send (agt_link_t *self, const jad_agent_msg_t *msg);
//  Send bytes already encoded (from the outbox). Returns 0 or -1.
int agt_link_send_bytes (agt_link_t *self, const uint8_t *data, size_t size);

//  Read one event from the monitor socket.
agt_link_event_t agt_link_monitor_recv (agt_link_t *self);

//  Connect the plan subscription again. libzmq 4.3.4 does not retry a
//  connection the ZAP handler refused, and the controller refuses plan
//  subscriptions until the agent is accepted: call this once accepted.
//  Returns 0 or -1.
int agt_link_resubscribe (agt_link_t *self);

#endif
