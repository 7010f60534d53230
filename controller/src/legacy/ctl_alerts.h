//  ctl_alerts - alert rules, their state machine, automatic rollback
//  SPDX-License-Identifier: MPL-2.0
//
//  A rule aggregates one metric over an environment's hosts (avg, max,
//  sum of per-host means, or p95) across a window, or reads a PromQL
//  expression from a Prometheus server, and compares it with a threshold.
//  Fewer samples than the rule's minimum make the result inconclusive,
//  which never counts as ok. States:
//
//      ok/resolved --true--> pending --true for `for`--> firing
//      pending --false--> ok        firing --false--> resolved
//      ok/pending/resolved --too few samples--> inconclusive
//      inconclusive --true--> pending, --false--> ok
//      firing stays firing while inconclusive (missing data resolves nothing)
//
//  Every transition is stored with the values that moved it. A rule with
//  action rollback that fires within `watch` of a deploy makes the
//  controller roll the environment back to its last known-good release,
//  mark the bad release and store the decision with its values.
//  Rules come from controller.yaml (origin "config", synced at start and
//  on every reload, ids derived from their content) and from `jadctl
//  alert add` (origin "api").
//
//  Waiting for the engine: ctl_rules decides readings, states, verdicts
//  and the plan a rollback acts on; the Prometheus worker stays here (it
//  is I/O) until it moves to io/.

#ifndef CTL_ALERTS_H_INCLUDED
#define CTL_ALERTS_H_INCLUDED

#include "ctl_metrics_repo.h"
#include "ctl_notify.h"
#include "ctl_rollout.h"
#include "ctl_settings.h"
#include "ctl_store.h"
#include "jad_wire.h"

#include <czmq.h>
#include <jansson.h>

typedef enum {
    CTL_ALERT_OK = 0,
    CTL_ALERT_PENDING,
    CTL_ALERT_FIRING,
    CTL_ALERT_RESOLVED,
    CTL_ALERT_INCONCLUSIVE,
} ctl_alert_state_t;

typedef enum {
    CTL_COND_FALSE = 0,
    CTL_COND_TRUE,
    CTL_COND_INCONCLUSIVE,
} ctl_alert_cond_t;

//  The state machine, pure: next state from `state` (entered at `since`)
//  given the condition now. *since_p is updated when the state changes.
ctl_alert_state_t ctl_alert_next (ctl_alert_state_t state, int64_t *since_p, ctl_alert_cond_t cond,
                                  int64_t now, uint32_t for_ms);

//  "ok", "pending", ... and back; -1 for an unknown name.
const char *ctl_alert_state_name (ctl_alert_state_t state);
int ctl_alert_state_parse (const char *name);

//  Aggregate values (host id per value) as `how` (avg, max, sum, p95).
//  Sorts `values` in place for p95. Returns 0, or -1 if count is 0 or
//  `how` is unknown.
int ctl_alert_aggregate (const char *how, double *values, const uint32_t *hosts, size_t count,
                         double *result);

typedef struct _ctl_alerts_t ctl_alerts_t;

//  Alert rules on `store`, their notifications through `notify`, their
//  rollbacks through `rollout`; `metrics` is kept (rollups, retention)
//  (all borrowed). Syncs the rules of controller.yaml into the store and
//  starts the Prometheus query worker. NULL on error (logged).
ctl_alerts_t *ctl_alerts_new (ctl_store_t *store, ctl_settings_t *settings, ctl_notify_t *notify,
                              ctl_rollout_t *rollout, ctl_metrics_repo_t *metrics,
                              int64_t started_ms);

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
