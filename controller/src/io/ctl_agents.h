//  ctl_agents - agents: enrollment, acceptance, what their Status says
//  SPDX-License-Identifier: MPL-2.0
//
//  An agent is its CURVE key (the ZAP User-Id), never a name it claims.
//  An unknown key may only enroll: with the controller's enrollment token
//  it is accepted at once, otherwise it is pending until an operator runs
//  `jadctl agents accept NAME`. Rejected and removed keys are refused by
//  the ZAP handler, and their open connections are cut (ctl_sessions).

#ifndef CTL_AGENTS_H_INCLUDED
#define CTL_AGENTS_H_INCLUDED

#include "ctl_channel.h"
#include "ctl_counters.h"
#include "ctl_sessions.h"
#include "ctl_settings.h"
#include "ctl_store.h"
#include "jad_wire.h"

typedef struct _ctl_agents_t ctl_agents_t;

//  Agents on `store`, reached over `channel`, their connections tracked by
//  `sessions` (all borrowed). NULL if out of memory.
ctl_agents_t *ctl_agents_new (ctl_store_t *store, ctl_settings_t *settings,
                              ctl_counters_t *counters, ctl_sessions_t *sessions,
                              ctl_channel_t *channel);
void ctl_agents_destroy (ctl_agents_t **self_p);

//  Handle an Enroll from `key`. Returns the reply for the agent (caller
//  destroys; NULL on error) and sets *name_p to the name the key is
//  registered under (caller frees) when it has one.
jad_ctl_msg_t *ctl_agents_enroll (ctl_agents_t *self, const char *key, const jad_enroll_t *enroll,
                                  char **name_p);

//  A Status from `key` over `route` (connection fd): an accepted agent's
//  last seen, incarnation, refusal counters and apps are stored; a pending
//  one is only seen. Returns the accepted agent's name (caller frees; the
//  name the key enrolled under, never the one the message claims) or NULL.
char *ctl_agents_status (ctl_agents_t *self, const char *key, const jad_status_t *status,
                         zframe_t *route, int fd);

//  The name of the accepted agent with `key` (caller frees), now heard on
//  `route` (connection fd), or NULL (counted) when the key is no accepted
//  agent's.
char *ctl_agents_accepted (ctl_agents_t *self, const char *key, zframe_t *route, int fd);

//  The name of the agent with `key`, any state (caller frees), or NULL.
char *ctl_agents_name (ctl_agents_t *self, const char *key);

//  `jadctl agents accept|reject|remove NAME`: action is "accept", "reject"
//  or "remove". Returns 0, or 2 (or 1 on a database error) with a reason
//  in err. On success *state_p is the new state (static string); an
//  accepted agent that is connected is told at once, a rejected or removed
//  one loses its connections and its unfinished plan hosts fail.
int ctl_agents_decide (ctl_agents_t *self, const char *name, const char *action,
                       const char **state_p, char *err, size_t errlen);

//  Hex SHA-256 of an enrollment token, as stored (out: 65 bytes).
void ctl_agents_token_hash (const char *token, char *out);

#endif
