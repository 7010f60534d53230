//  ctl_notify - notifications: routes to contacts, commands, webhooks and
//  email
//  SPDX-License-Identifier: MPL-2.0
//
//  Events (deploy.started, deploy.finished, rollback.started,
//  alert.pending, alert.firing, alert.resolved, approval.needed,
//  plan.paused, security.firing, ...) go to the targets of every
//  `notify:` route of controller.yaml that matches the event's kind and
//  environment: the route's own command, webhook or email, and every
//  target of the contacts it names (`contacts:`). An event goes to each
//  target once, however many routes lead there.
//
//  Delivery runs in its own thread (a czmq actor) so that a slow webhook
//  or mail relay never stalls the controller: the main thread hands over
//  the event as JSON text, the actor keeps a bounded queue of events
//  waiting (oldest dropped first, counted), and tries each delivery up to
//  three times with a growing pause; a delivery that fails every time is
//  logged with its target and counted (failed). Each attempt runs in a
//  thread of its own, one at a time per target and in the order events
//  came: a target that hangs holds up only its own events. A command gets the event in
//  JADUGAR_EVENT (its kind) and JADUGAR_EVENT_JSON; a webhook gets it as
//  the body of a JSON POST; an email (SMTP through `smtp:`, libcurl) gets
//  a one-line subject, the fields as "key: value" lines and the JSON.
//
//  Every event has an id (32 hex characters, "id" in its JSON) for its
//  receivers to drop one seen before. With a shared store (controller.yaml
//  `store:` a postgresql:// URL) the actor keeps each event in it
//  (ctl_outbox_repo.h) until every target had it or was given up, and when
//  it starts (after the first configuration) takes in and sends again the
//  events kept there: delivery is at-least-once across a failover.
//
//  Destroying the notifier (a stop, a leader deposed) abandons a webhook or
//  email delivery in flight at once (libcurl's progress callback, within a
//  second) instead of waiting out its timeout; the event is not counted as
//  an attempt and stays in the store. A command runs to its end or its
//  timeout. A new configuration (SIGHUP) never abandons a delivery.

#ifndef CTL_NOTIFY_H_INCLUDED
#define CTL_NOTIFY_H_INCLUDED

#include "jad_config.h"

#include <czmq.h>
#include <jansson.h>

typedef struct _ctl_notify_t ctl_notify_t;

//  Start the delivery thread for the config's routes (copied), keeping
//  at most queue_max events (0: the default, 256). NULL on error.
ctl_notify_t *ctl_notify_new (const jad_controller_config_t *config, size_t queue_max);

//  Deliver by the routes, contacts and relay of `config` (copied) from
//  now on: SIGHUP. Events already queued keep their targets. Returns 0
//  or -1.
int ctl_notify_configure (ctl_notify_t *self, const jad_controller_config_t *config);
void ctl_notify_destroy (ctl_notify_t **self_p);

//  Queue event `kind` with its fields (borrowed; "id", "event" and "time"
//  are added; a string "env" field routes it by environment). Does nothing
//  when no route is configured.
void ctl_notify_send (ctl_notify_t *self, const char *kind, json_t *fields);

//  Events handed over, delivered (to every target), failed (a target
//  given up after retries), dropped from a full queue (the last three as
//  the actor last reported them); emails sent and emails given up.
uint64_t ctl_notify_queued (const ctl_notify_t *self);
uint64_t ctl_notify_delivered (ctl_notify_t *self);
uint64_t ctl_notify_failed (ctl_notify_t *self);
uint64_t ctl_notify_dropped (ctl_notify_t *self);
uint64_t ctl_notify_emails_sent (ctl_notify_t *self);
uint64_t ctl_notify_emails_failed (ctl_notify_t *self);

//  The email an event becomes (pure, for tests and the actor): subject
//  line and message text (headers and body, CRLF lines) from `from` to
//  `to`. Caller frees both. Returns 0 or -1.
int ctl_notify_email_format (const char *from, const char *to, const char *json, char **subject_p,
                             char **message_p);

#endif
