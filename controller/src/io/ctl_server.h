//  ctl_server - the controller's sockets and poll loop
//  SPDX-License-Identifier: MPL-2.0
//
//  Start-up order matters: the ZAP handler is bound before any CURVE socket
//  so that no handshake is ever answered without it, and every CURVE socket
//  sets a ZAP domain with ZMQ_ZAP_ENFORCE_DOMAIN, so a missing handler
//  refuses everyone instead of admitting everyone.

#ifndef CTL_SERVER_H_INCLUDED
#define CTL_SERVER_H_INCLUDED

#include "ctl_context.h"
#include "jad_wire.h"

//  Bind the ZAP handler, then PUB (BASE), agents ROUTER (BASE+1) and API
//  ROUTER (BASE+2). Returns 0, or -1 with the reason logged.
int ctl_server_start (ctl_t *ctl);

//  Serve until SIGINT/SIGTERM. Returns 0.
int ctl_server_run (ctl_t *ctl);

//  Send a message to agent `name` over its last known route. Returns 0,
//  or -1 when the agent has no route (never connected since start).
int ctl_server_send_to_agent (ctl_t *ctl, const char *name, const jad_ctl_msg_t *message);

//  Close every socket (safe to call twice).
void ctl_server_stop (ctl_t *ctl);

#endif
