//  ctl_notify - notifications: configured commands and webhooks
//  SPDX-License-Identifier: MPL-2.0
//
//  Events (deploy.started, deploy.finished, rollback.started,
//  alert.pending, alert.firing, alert.resolved, ...) go to every target in
//  controller.yaml's `notify:` list. Delivery runs in its own thread (a
//  czmq actor) so that a slow webhook never stalls the controller: the
//  main thread hands over the event as JSON text, the actor keeps a
//  bounded queue (oldest dropped first, counted; the actor takes in every
//  waiting event before each delivery attempt), and tries each delivery
//  up to three times with a growing pause. A command gets the event in
//  JADUGAR_EVENT (its kind) and JADUGAR_EVENT_JSON; a webhook gets it as
//  the body of a JSON POST.

#ifndef CTL_NOTIFY_H_INCLUDED
#define CTL_NOTIFY_H_INCLUDED

#include "jad_config.h"

#include <czmq.h>
#include <jansson.h>

typedef struct _ctl_notify_t ctl_notify_t;

//  Start the delivery thread for the config's targets (copied), keeping
//  at most queue_max events (0: the default, 256). NULL on error.
ctl_notify_t *ctl_notify_new (const jad_controller_config_t *config, size_t queue_max);

//  Deliver to the targets of `config` (copied) from now on: SIGHUP.
//  Returns 0 or -1.
int ctl_notify_configure (ctl_notify_t *self, const jad_controller_config_t *config);
void ctl_notify_destroy (ctl_notify_t **self_p);

//  Queue event `kind` with its fields (borrowed; "event" and "time" are
//  added). Does nothing when no target is configured.
void ctl_notify_send (ctl_notify_t *self, const char *kind, json_t *fields);

//  Events handed over, delivered, failed after retries, dropped from a
//  full queue (the last three as the actor last reported them).
uint64_t ctl_notify_queued (const ctl_notify_t *self);
uint64_t ctl_notify_delivered (ctl_notify_t *self);
uint64_t ctl_notify_failed (ctl_notify_t *self);
uint64_t ctl_notify_dropped (ctl_notify_t *self);

#endif
