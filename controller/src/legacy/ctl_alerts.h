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
//  Rules come from controller.yaml (origin "config", synced at start, ids
//  derived from their content) and from `jadctl alert add` (origin "api").

#ifndef CTL_ALERTS_H_INCLUDED
#define CTL_ALERTS_H_INCLUDED

#include "ctl_context.h"
#include "jad_wire.h"

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

//  Sync rules from controller.yaml into the database and start the
//  Prometheus query worker (once). Returns 0 or -1.
int ctl_alerts_start (ctl_t *ctl);

//  Make the stored rules of controller.yaml those of ctl->config (after a
//  reload). Returns 0 or -1.
int ctl_alerts_sync (ctl_t *ctl);

//  Stop the Prometheus query worker and free what ctl_alerts_start made.
void ctl_alerts_stop (ctl_t *ctl);

//  Evaluate every rule (at most once a second), act on transitions, and
//  notify about plans that started or finished. PromQL rules are only
//  asked for here: their answers come back on ctl_alerts_socket.
void ctl_alerts_tick (ctl_t *ctl);

//  The Prometheus query worker's pipe, for the controller's poller (NULL
//  before ctl_alerts_start), and its handler: takes one answer and
//  evaluates its rule.
void *ctl_alerts_socket (ctl_t *ctl);
void ctl_alerts_receive (ctl_t *ctl);

//  Prometheus queries sent and not answered yet.
size_t ctl_alerts_queries_in_flight (ctl_t *ctl);

//  API handlers (see docs/api.md): alert.add, alert.rm, alerts.
int ctl_alerts_api_add (ctl_t *ctl, const jad_api_request_t *request, json_t **result, char *err,
                        size_t errlen);
int ctl_alerts_api_rm (ctl_t *ctl, const jad_api_request_t *request, json_t **result, char *err,
                       size_t errlen);
int ctl_alerts_api_list (ctl_t *ctl, const jad_api_request_t *request, json_t **result, char *err,
                         size_t errlen);

//  Rules as a JSON array (for alerts, /api/status), read from `store`
//  (the loop's, or the HTTP thread's own). Caller decrefs.
json_t *ctl_alerts_rules_json (ctl_store_t *store);

#endif
