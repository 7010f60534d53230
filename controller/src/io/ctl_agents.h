//  ctl_agents - agent enrollment, acceptance and sessions
//  SPDX-License-Identifier: MPL-2.0
//
//  An agent is its CURVE key (the ZAP User-Id), never a name it claims.
//  An unknown key may only enroll: with the controller's enrollment token
//  it is accepted at once, otherwise it is pending until an operator runs
//  `jadctl agents accept NAME`. Rejected and removed keys are refused by
//  the ZAP handler; since ZAP is only asked at the handshake, rejecting or
//  removing an agent also cuts its open connections: the agents ROUTER
//  connection by the file descriptor its last message came in on
//  (ZMQ_SRCFD), the PUB connections by the agent's address (a socket
//  monitor tracks PUB connections). shutdown(2) makes libzmq drop the
//  connection; the agent reconnects and the ZAP handler refuses it.

#ifndef CTL_AGENTS_H_INCLUDED
#define CTL_AGENTS_H_INCLUDED

#include "ctl_context.h"
#include "jad_wire.h"

//  Start session tracking and the PUB monitor (after the sockets are
//  bound). Returns 0 or -1 (logged).
int ctl_agents_start (ctl_t *ctl);
void ctl_agents_stop (ctl_t *ctl);

//  Remember that agent `name`'s connection is file descriptor fd.
void ctl_agents_session (ctl_t *ctl, const char *name, int fd);

//  Handle an Enroll from `key`. Returns the reply for the agent (caller
//  destroys; NULL when out of memory) and sets *name_p to the name the key
//  is registered under (caller frees) when it has one.
jad_ctl_msg_t *ctl_agents_enroll (ctl_t *ctl, const char *key, const jad_enroll_t *enroll,
                                  char **name_p);

//  State of the agent with this key ("accepted", "pending", ...) and its
//  name, or -1 when the key is unknown. Caller frees both.
int ctl_agents_lookup (ctl_t *ctl, const char *key, char **name_p, char **state_p);

//  `jadctl agents accept|reject|remove NAME`: action is "accept", "reject"
//  or "remove". Returns 0, or 2 with a reason in err. On success *state_p
//  is the new state (static string).
int ctl_agents_decide (ctl_t *ctl, const char *name, const char *action, const char **state_p,
                       char *err, size_t errlen);

//  Shut down the connections of agent `name`. Returns how many.
int ctl_agents_cut (ctl_t *ctl, const char *name);

//  Read pending PUB monitor events.
void ctl_agents_pub_events (ctl_t *ctl);

//  Hex SHA-256 of an enrollment token, as stored in meta
//  'enroll_token_sha256' (out: 65 bytes).
void ctl_agents_token_hash (const char *token, char *out);

#endif
