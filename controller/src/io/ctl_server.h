//  ctl_server - the controller's sockets, its classes and its poll loop
//  SPDX-License-Identifier: MPL-2.0
//
//  The controller is one thread: a poll loop over the ZAP handler, the
//  agents ROUTER, the operator API ROUTER, the PUB socket's monitor and
//  the Prometheus query worker, plus timers. The server builds each class
//  with just what it needs (the store, the settings, the counters, a
//  socket or another class) and is the only one that holds them all.
//
//  Start-up order matters: the ZAP handler is bound before any CURVE
//  socket so that no handshake is ever answered without it, and every
//  CURVE socket sets a ZAP domain with ZMQ_ZAP_ENFORCE_DOMAIN, so a
//  missing handler refuses everyone instead of admitting everyone.

#ifndef CTL_SERVER_H_INCLUDED
#define CTL_SERVER_H_INCLUDED

#include "ctl_leader.h"
#include "ctl_settings.h"
#include "ctl_store.h"
#include "jad_keys.h"

typedef struct _ctl_server_t ctl_server_t;

//  Bind the ZAP handler, then PUB (BASE), agents ROUTER (BASE+1), API
//  ROUTER (BASE+2) and HTTP (BASE+3), and build the classes behind them.
//  settings, store and keys are borrowed and must outlive the server.
//  Returns the server, or NULL with the reason logged.
ctl_server_t *ctl_server_new (ctl_settings_t *settings, ctl_store_t *store,
                              const jad_keypair_t *signing, const jad_keypair_t *curve,
                              int64_t started_ms);

//  A controller of a shared store serves as `leader` (borrowed; it leads
//  already, ctl_leader.h): the loop checks it before it serves anything
//  and stops at once when leadership is lost (self-fencing).
void ctl_server_set_leader (ctl_server_t *self, ctl_leader_t *leader);

//  Serve until SIGINT/SIGTERM; SIGHUP reloads controller.yaml. Returns 0,
//  or -1 if the loop could not start or leadership was lost.
int ctl_server_run (ctl_server_t *self);

//  Stop answering ZAP: with ZMQ_ZAP_ENFORCE_DOMAIN every handshake on
//  every port is then refused (SECURITY-TESTS row 20 checks that the
//  sockets fail closed).
void ctl_server_zap_stop (ctl_server_t *self);

//  Close every socket and free, in reverse order; NULL-safe.
void ctl_server_destroy (ctl_server_t **self_p);

#endif
