//  ctl_outbox_repo - notifications not yet delivered (table notify_outbox)
//  SPDX-License-Identifier: MPL-2.0
//
//  With a shared store the notifier keeps each event here from the moment
//  it takes it until every target had it (or was given up): a controller
//  that becomes the leader sends again what is left, under the same event
//  id (at-least-once across a failover; ctl_notify.h).

#ifndef CTL_OUTBOX_REPO_H_INCLUDED
#define CTL_OUTBOX_REPO_H_INCLUDED

#include "ctl_store.h"

#include <czmq.h>

typedef struct {
    char *id;    //  the event id (hex)
    char *env;   //  the environment it routes by ("" for none)
    char *kind;  //  deploy.started, ...
    char *body;  //  the event's JSON text, as delivered
} ctl_outbox_event_t;

void ctl_outbox_event_destroy (ctl_outbox_event_t **self_p);

//  Keep an event (fields borrowed). The same id again changes nothing.
//  Returns 0 or -1.
int ctl_outbox_repo_put (ctl_store_t *store, const char *id, const char *env, const char *kind,
                         const char *body, int64_t now);

//  The event is done with (delivered, given up or dropped). Returns 0 or -1.
int ctl_outbox_repo_done (ctl_store_t *store, const char *id);

//  The oldest `limit` events kept, oldest first, as ctl_outbox_event_t
//  items (the list owns them). NULL on error.
zlistx_t *ctl_outbox_repo_pending (ctl_store_t *store, int64_t limit);

#endif
