//  ctl_alerts - alert rules evaluated, their transitions stored and
//  notified, automatic rollback
//  SPDX-License-Identifier: MPL-2.0
//
//  The engine (ctl_rules) reads a rule, aggregates, moves its state and
//  writes its texts; this reads the samples, asks Prometheus (in a worker
//  thread), stores the transitions and notifies. Every transition is
//  stored with the values that moved it. A rule with action rollback that fires within `watch` of a deploy makes the
//  controller roll the environment back to its last known-good release,
//  mark the bad release and store the decision with its values.
//  Rules come from controller.yaml (origin "config", synced at start and
//  on every reload, ids derived from their content) and from `jadctl
//  alert add` (origin "api").

#ifndef CTL_ALERTS_H_INCLUDED
#define CTL_ALERTS_H_INCLUDED

#include "ctl_metrics_repo.h"
#include "ctl_notify.h"
#include "ctl_rollout.h"
#include "ctl_security.h"
#include "ctl_settings.h"
#include "ctl_store.h"
#include "jad_wire.h"

#include <czmq.h>
#include <jansson.h>

typedef struct _ctl_alerts_t ctl_alerts_t;

//  Alert rules on `store`, their notifications through `notify`, their
//  rollbacks through `rollout`; `metrics` is kept (rollups, retention)
//  (all borrowed). Syncs the rules of controller.yaml into the store and
//  starts the Prometheus query worker. NULL on error (logged).
ctl_alerts_t *ctl_alerts_new (ctl_store_t *store, ctl_settings_t *settings, ctl_notify_t *notify,
                              ctl_rollout_t *rollout, ctl_metrics_repo_t *metrics,
                              int64_t started_ms);

//  Read rules on the controller's security series (JAD_SECURITY_SERIES)
//  from `security` (borrowed), sampled on every tick; without it they are
//  inconclusive. Their transitions are notified as security.STATE, about
//  no environment, and never gate a rollout.
void ctl_alerts_set_security (ctl_alerts_t *self, ctl_security_t *security);

//  Stop the Prometheus query worker and free.
void ctl_alerts_destroy (ctl_alerts_t **self_p);

//  Make the stored rules of controller.yaml those of the running
//  configuration (at start and after a reload): a rule whose definition
//  did not change keeps its state. Returns 0 or -1.
int ctl_alerts_sync (ctl_alerts_t *self);

//  Evaluate every rule (at most once a second), act on transitions,
//  notify about plans that started or finished, and keep the metrics
//  (rollups, retention). PromQL rules are only asked for here: their
//  answers come back on ctl_alerts_socket.
void ctl_alerts_tick (ctl_alerts_t *self);

//  The Prometheus query worker's pipe, for the controller's poller, and
//  its handler: takes one answer and evaluates its rule.
zactor_t *ctl_alerts_socket (ctl_alerts_t *self);
void ctl_alerts_receive (ctl_alerts_t *self);

//  Prometheus queries sent and not answered yet.
size_t ctl_alerts_queries_in_flight (ctl_alerts_t *self);

//  API handlers (see docs/api.md): alert.add, alert.rm, alerts.
int ctl_alerts_api_add (ctl_alerts_t *self, const jad_api_request_t *request, json_t **result,
                        char *err, size_t errlen);
int ctl_alerts_api_rm (ctl_alerts_t *self, const jad_api_request_t *request, json_t **result,
                       char *err, size_t errlen);
int ctl_alerts_api_list (ctl_alerts_t *self, const jad_api_request_t *request, json_t **result,
                         char *err, size_t errlen);

#endif
