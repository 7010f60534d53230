//  ctl_zap - the ZAP handler (RFC 27): who may connect, by CURVE key
//  SPDX-License-Identifier: MPL-2.0
//
//  Bound before any CURVE socket, so that no handshake is ever answered
//  without it. Domains: "api" (registered operators), "plans" (accepted
//  agents), "agents" (any key but rejected and removed agents: unknown
//  keys may connect to enroll).

#ifndef CTL_ZAP_H_INCLUDED
#define CTL_ZAP_H_INCLUDED

#include "ctl_counters.h"
#include "ctl_store.h"

#include <czmq.h>

#define CTL_ZAP_DOMAIN_AGENTS "agents"
#define CTL_ZAP_DOMAIN_PLANS  "plans"
#define CTL_ZAP_DOMAIN_API    "api"

typedef struct _ctl_zap_t ctl_zap_t;

//  Bind the handler (inproc). store and counters are borrowed. NULL on
//  error (logged).
ctl_zap_t *ctl_zap_new (ctl_store_t *store, ctl_counters_t *counters);
void ctl_zap_destroy (ctl_zap_t **self_p);

//  Its socket, for the poller.
zsock_t *ctl_zap_socket (ctl_zap_t *self);

//  Answer one waiting request.
void ctl_zap_handle (ctl_zap_t *self);

#endif
