//  ctl_zap - the ZAP handler (RFC 27): who may connect, by CURVE key
//  SPDX-License-Identifier: MPL-2.0
//
//  Bound before any CURVE socket, so that no handshake is ever answered
//  without it. Domains: "api" (registered operators whose key is not
//  retired: removed or replaced by `operator rotate`), "plans" (accepted
//  agents), "agents" (any key but rejected and removed agents: unknown
//  keys may connect to enroll).
//
//  An expired operator key may still connect: its requests are refused by
//  ctl_api, which can tell jadctl why (exit 3, audited). A retired key's
//  handshake is refused here (jadctl exits 3) and audited, at most once a
//  minute per key, so that a script retrying with it cannot fill the log.

#ifndef CTL_ZAP_H_INCLUDED
#define CTL_ZAP_H_INCLUDED

#include "ctl_agents_repo.h"
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

//  Is operator row `row`'s key refused at now (retired, or expired)? If
//  so, writes why into why (naming the operator and when) and returns
//  true. The one rule, for handshakes and for every API request.
bool ctl_zap_key_refused (const ctl_operator_t *row, int64_t now, char *why, size_t whylen);

#endif
