//  ctl_dispatch - signs plans and heartbeats and sends them to the agents
//  SPDX-License-Identifier: MPL-2.0
//
//  Envelopes are signed at send time with a fresh sequence, so a re-send
//  is never a replay to the agent. A plan signs the root of its targets'
//  Merkle tree and their count (docs/protocol.md, "Targets") and goes to
//  each target directly, on the agents ROUTER, with that target's own
//  membership proof: to its unfinished targets, or to one agent (a
//  re-send, or a hello). Signed heartbeats go on PUB under topic
//  beat/ENV/ and take no plan sequence.

#ifndef CTL_DISPATCH_H_INCLUDED
#define CTL_DISPATCH_H_INCLUDED

#include "ctl_channel.h"
#include "ctl_counters.h"
#include "ctl_settings.h"
#include "ctl_store.h"
#include "jad_keys.h"

typedef struct _ctl_dispatch_t ctl_dispatch_t;

//  Dispatch over `channel`, signing with `signing` (all borrowed). NULL if
//  out of memory.
ctl_dispatch_t *ctl_dispatch_new (ctl_store_t *store, ctl_settings_t *settings,
                                  ctl_channel_t *channel, const jad_keypair_t *signing,
                                  ctl_counters_t *counters);
void ctl_dispatch_destroy (ctl_dispatch_t **self_p);

//  Sign and send plan `plan_id`: to `agent` if not NULL, else to each of
//  its unfinished targets, each with its proof. An agent without a route
//  gets it when it says hello. Returns 0 or -1.
int ctl_dispatch_plan (ctl_dispatch_t *self, const char *plan_id, const char *agent);

//  Every signed-heartbeat interval (controller.yaml; 0 = off), broadcast a
//  signed Heartbeat per environment, issued now (strictly after the last
//  one) and expiring after three intervals.
void ctl_dispatch_beat (ctl_dispatch_t *self);

//  A subscriber to heartbeats was just let in (an agent's first connection,
//  or its return to a new leader): the next heartbeat goes out within a
//  second rather than up to a whole interval later, and the grants of a
//  reconnecting fleet share it. It never comes later than planned.
void ctl_dispatch_beat_soon (ctl_dispatch_t *self);

//  The interval changed: the next heartbeat goes at the new pace.
void ctl_dispatch_beat_reset (ctl_dispatch_t *self);

#endif
