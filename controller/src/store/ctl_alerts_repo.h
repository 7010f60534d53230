//  ctl_alerts_repo - alert rules and their transitions
//  SPDX-License-Identifier: MPL-2.0
//
//  A rule (from controller.yaml, origin "config", or `jadctl alert add`,
//  origin "api") and its state as last evaluated: state, since when, the
//  value, samples and hosts of its last reading. Every transition is an
//  alert event with the reading that moved it.
//
//  Lookups return 0 (found, *result owned by the caller), 1 (none) or -1
//  (database error, logged). Lists are zlistx_t (destructors set; caller
//  destroys), NULL on error. Updates return 0 or -1.

#ifndef CTL_ALERTS_REPO_H_INCLUDED
#define CTL_ALERTS_REPO_H_INCLUDED

#include "ctl_store.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  A rule (alert_rules row).
typedef struct {
    char *id;
    char *origin;  //  config | api
    char *env;
    char *metric;
    char *query;      //  PromQL, or NULL: the agents' samples
    char *aggregate;  //  avg | max | sum | p95
    int64_t window_ms;
    bool above;
    double threshold;
    int64_t for_ms;
    int64_t min_samples;
    char *action;  //  rollback, or NULL
    //  canary analysis (NULL: as the defaults): host | aggregate | off
    char *canary;
    char *compare;      //  baseline, or NULL
    double ratio;       //  with compare: > 0, or 0 when it compares by difference
    double difference;  //  with compare and ratio 0
    char *state;        //  ok | pending | firing | resolved | inconclusive
    int64_t since;
    bool has_value;  //  the last reading had a value
    double value;
    int64_t samples;
    int64_t hosts;
    int64_t evaluated;  //  when it was last evaluated (alert_rules.changed), 0 never
    int64_t created;
    //  only from ctl_alerts_repo_inconclusive: the error of its last
    //  transition's reading, or NULL
    char *error;
} ctl_alert_rule_t;

void ctl_alert_rule_destroy (ctl_alert_rule_t **self_p);

//  A transition (alert_events row).
typedef struct {
    int64_t id;
    char *rule_id;
    int64_t time;
    char *from_state;
    char *to_state;
    bool has_value;
    double value;
    int64_t samples;
    int64_t hosts;
    char *error;   //  why the reading had no value, or NULL
    char *detail;  //  the rule and reading, a JSON object text
} ctl_alert_event_t;

void ctl_alert_event_destroy (ctl_alert_event_t **self_p);

//  Add `rule` (its id, origin, definition; state ok since now). Returns 0,
//  1 if a rule with its id exists already (unchanged), -1 on error.
int ctl_alerts_repo_add (ctl_store_t *store, const ctl_alert_rule_t *rule, int64_t now);

//  Make the rules of origin "config" exactly `rules` (count of them): add
//  the missing ones (ok since now), keep those with an id already stored
//  (with their state), delete the others. One transaction. Returns 0 or -1.
int ctl_alerts_repo_sync_config (ctl_store_t *store, const ctl_alert_rule_t *rules, size_t count,
                                 int64_t now);

int ctl_alerts_repo_get (ctl_store_t *store, const char *id, ctl_alert_rule_t **rule_p);

//  Every rule, by id (`by_env`: by environment, then id).
zlistx_t *ctl_alerts_repo_rules (ctl_store_t *store, bool by_env);

//  Delete a rule. Returns 0 or -1.
int ctl_alerts_repo_remove (ctl_store_t *store, const char *id);

//  Store a rule's evaluation: its state since `since` and the reading
//  (value when has_value), evaluated now.
int ctl_alerts_repo_evaluated (ctl_store_t *store, const char *id, const char *state, int64_t since,
                               bool has_value, double value, int64_t samples, int64_t hosts,
                               int64_t now);

//  Store a transition (event->id is ignored).
int ctl_alerts_repo_event_add (ctl_store_t *store, const ctl_alert_event_t *event);

//  The newest `limit` transitions, newest first.
zlistx_t *ctl_alerts_repo_events (ctl_store_t *store, int64_t limit);

//  The first (by id) rule of env that is firing.
int ctl_alerts_repo_firing (ctl_store_t *store, const char *env, ctl_alert_rule_t **rule_p);

//  The first (by id) rule of env inconclusive since after `after`, with
//  the error of its last transition.
int ctl_alerts_repo_inconclusive (ctl_store_t *store, const char *env, int64_t after,
                                  ctl_alert_rule_t **rule_p);

//  A rule's state in the canary analysis of one plan's bake
//  (canary_states row).
typedef struct {
    char *plan_id;
    char *rule_id;
    char *state;  //  as a rule's
    int64_t since;
    bool has_value;
    double value;  //  the canary value judged
    bool has_baseline;
    double baseline;  //  the baseline's value compared with
    int64_t samples;
    int64_t hosts;
    char *host;    //  the canary host the state is about, or NULL (aggregate)
    char *detail;  //  what the last reading found, for humans, or NULL
    int64_t evaluated;
} ctl_canary_state_t;

void ctl_canary_state_destroy (ctl_canary_state_t **self_p);

//  Store (insert or replace) a canary state. Returns 0 or -1.
int ctl_alerts_repo_canary_put (ctl_store_t *store, const ctl_canary_state_t *state);

//  The canary states of plan_id, by rule id (ctl_canary_state_t), or NULL
//  on error.
zlistx_t *ctl_alerts_repo_canary_states (ctl_store_t *store, const char *plan_id);

#endif
