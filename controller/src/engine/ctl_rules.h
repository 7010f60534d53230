//  ctl_rules - alert rules: readings, the state machine, verdicts, and
//  which deploy a rollback rule acts on
//  SPDX-License-Identifier: MPL-2.0
//
//  A rule aggregates one metric over an environment's hosts (avg, max,
//  sum of per-host means, or p95) across a window, or reads a PromQL
//  expression, and compares it with a threshold. Fewer samples than the
//  rule's minimum (or a failed read) make the reading inconclusive, which
//  never counts as ok. States:
//
//      ok/resolved --true--> pending --true for `for`--> firing
//      pending --false--> ok        firing --false--> resolved
//      ok/pending/resolved --too few samples--> inconclusive
//      inconclusive --true--> pending, --false--> ok
//      firing stays firing while inconclusive (missing data resolves nothing)
//
//  A rule with action rollback that becomes firing acts on the newest
//  deploy of its environment made within `watch` (controller.yaml) that
//  is not a converge plan and was not undone already
//  (ctl_rules_watched). What the rollout does with a rule's state
//  (a firing rule fails a bake; an inconclusive one pauses a deploy at
//  its gates) is ctl_reconcile's, from the verdicts made here.
//
//  Pure: samples, rule rows and plan rows come in, states, verdicts and
//  texts go out; the caller reads samples, queries Prometheus, stores
//  transitions and sends notifications. Replaces ctl_alert_next,
//  ctl_alert_aggregate, ctl_alert_state_name/parse, s_reading_finish,
//  s_evaluate_answer's parsing, s_describe, the texts of
//  ctl_alerts_firing, ctl_alerts_inconclusive and s_auto_rollback, and
//  s_auto_rollback's choice of the plan (controller/src/ctl_alerts.c).

#ifndef CTL_RULES_H_INCLUDED
#define CTL_RULES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CTL_RULE_OK = 0,
    CTL_RULE_PENDING,
    CTL_RULE_FIRING,
    CTL_RULE_RESOLVED,
    CTL_RULE_INCONCLUSIVE,
} ctl_rule_state_t;

typedef enum {
    CTL_RULE_COND_FALSE = 0,
    CTL_RULE_COND_TRUE,
    CTL_RULE_COND_INCONCLUSIVE,
} ctl_rule_cond_t;

//  A rule as stored (alert_rules row). Strings are borrowed.
typedef struct {
    const char *id;
    const char *env;
    const char *metric;
    const char *query;      //  PromQL, or NULL: the agents' samples
    const char *aggregate;  //  avg | max | sum | p95
    int64_t window_ms;
    bool above;  //  true: fires above threshold; false: below
    double threshold;
    int64_t for_ms;
    int64_t min_samples;
    const char *action;  //  "rollback" or NULL
    ctl_rule_state_t state;
    int64_t since;      //  wall ms the state was entered
    double value;       //  last reading's value, NAN if none
    int64_t samples;    //  last reading's samples
    int64_t hosts;      //  last reading's hosts
    const char *error;  //  the error of the last transition's reading, or NULL
    //  canary analysis: "host" (NULL), "aggregate" or "off"; compare
    //  "baseline" or NULL, by ratio (> 0) or else by difference
    const char *canary;
    const char *compare;
    double ratio;
    double difference;
} ctl_rule_t;

//  One reading of a rule.
typedef struct {
    ctl_rule_cond_t cond;
    double value;  //  NAN when there was nothing to aggregate
    int64_t samples;
    int64_t hosts;
    int64_t window_start;
    int64_t window_end;
    char error[160];  //  why a value could not be read, or ""
} ctl_reading_t;

//  What one evaluation did to a rule.
typedef struct {
    ctl_rule_state_t from;
    ctl_rule_state_t to;
    bool changed;   //  store an alert event and notify "alert.<to>"
    bool rollback;  //  it just became firing and its action is rollback
} ctl_rule_step_t;

//  "ok", "pending", ... ("unknown" past the end) and back; -1 if unknown.
const char *ctl_rule_state_name (ctl_rule_state_t state);
int ctl_rule_state_parse (const char *name);

//  The state machine: next state from `state` (entered at *since_p) given
//  the condition at `now`. *since_p becomes now when the state changes.
ctl_rule_state_t ctl_rule_next (ctl_rule_state_t state, int64_t *since_p, ctl_rule_cond_t cond,
                                int64_t now, uint32_t for_ms);

//  Aggregate values (hosts[i]: the host of values[i]) as `how` (avg, max,
//  sum of per-host means, p95 nearest rank). Sorts `values` in place for
//  p95. Returns 0, or -1 if count is 0, `how` is unknown or out of memory.
int ctl_rule_aggregate (const char *how, double *values, const uint32_t *hosts, size_t count,
                        double *result);

//  An empty, inconclusive reading of `rule` over the window ending now.
void ctl_rule_reading_start (const ctl_rule_t *rule, int64_t now, ctl_reading_t *reading);

//  Decide the reading from the values read (hosts[i]: the host of
//  values[i]; a PromQL answer has no hosts: pass zeros, they are not
//  counted). Too few samples, nothing to aggregate or hosts NULL leave it
//  inconclusive. Sorts `values` for p95.
void ctl_rule_reading_finish (const ctl_rule_t *rule, double *values, const uint32_t *hosts,
                              size_t count, ctl_reading_t *reading);

//  A PromQL rule's reading from the query worker's answer: `ok` with
//  "v1 v2 ..." values, or the error text.
void ctl_rule_reading_answer (const ctl_rule_t *rule, bool ok, const char *answer, int64_t now,
                              ctl_reading_t *reading);

//  Move `rule` (its state and since) by `reading` at `now`; *step says
//  what changed and whether a rollback must be tried.
void ctl_rule_apply (ctl_rule_t *rule, const ctl_reading_t *reading, int64_t now,
                     ctl_rule_step_t *step);

//  What a rule checks, for humans: "avg(http_error_rate) on prod > 0.05
//  for 60s over 1m (min 3 samples)" or "prometheus(QUERY) > 0.05 for 60s".
void ctl_rule_describe (const ctl_rule_t *rule, char *buf, size_t len);

//  The verdict of one rule for the rollout (ctl_reconcile).
typedef struct {
    const char *rule_id;  //  borrowed from the rule
    ctl_rule_state_t state;
    int64_t since;
    char why[512];  //  firing or inconclusive: the values, else ""
} ctl_rule_verdict_t;

//  The verdict of `rule` from its stored state: a firing rule says
//  "alert ID is firing: METRIC = VALUE > THRESHOLD", an inconclusive one
//  "alert ID is inconclusive since TIME: AGG(METRIC) had N samples in
//  WINDOW, it needs M to decide[; ERROR]".
void ctl_rule_verdict (const ctl_rule_t *rule, ctl_rule_verdict_t *verdict);

//  A deploy a firing rollback rule may act on. Strings are borrowed.
typedef struct {
    const char *id;
    const char *kind;    //  plans.kind
    const char *state;   //  plans.state
    const char *reason;  //  plans.reason ("converge: ..." plans are never acted on)
    int64_t created;
    bool undone;  //  a plan undoes it already
} ctl_watch_plan_t;

//  The plan a rollback rule that fired at `now` acts on: the first of
//  `plans` (the environment's plans, newest first) that is a running or
//  succeeded deploy, created within watch_ms, not a converge plan and not
//  undone. Returns its index, or -1 (fired outside any watch period).
int ctl_rules_watched (const ctl_watch_plan_t *plans, size_t count, int64_t now, uint32_t watch_ms);

//  The automatic rollback's summary (stored as the decision, the bad mark
//  and the rollback's reason): "alert ID fired: AGG(METRIC) on ENV = V >
//  T for D (window W, N samples from H hosts); rolling back APP VERSION"
//  (or "no known-good release to roll back to from APP VERSION").
void ctl_rule_summary (const ctl_rule_t *rule, const ctl_reading_t *reading, const char *app,
                       const char *bad_version, bool rolling_back, char *buf, size_t len);

//  --------------------------------------------------------------------------
//  Canary analysis: during a canary's bake each rule of the environment
//  that reads the agents' samples also judges the canary hosts on their
//  own, never averaged with the rest of the fleet:
//
//  - canary: host (the default): each canary host's own samples, as the
//    rule aggregates them, against the threshold; one host crossing it is
//    enough, so one bad host of four is not averaged away;
//  - canary: aggregate: the canary hosts' samples together;
//  - compare: baseline, with ratio R or difference D: the canary value is
//    also compared with the baseline hosts' (the plan's hosts of later
//    batches, still on the previous release): above R x baseline (or
//    baseline + D) for a rule that fires above, below R x baseline (or
//    baseline - D) for one that fires below, crosses too.
//
//  A canary host (or the baseline, when compared) with fewer samples than
//  the rule's minimum makes the reading inconclusive, unless another host
//  crossed already. `sum` judges the mean of each host (sum / hosts). The
//  state machine is the rule's (ctl_rule_next), kept per plan and rule.

typedef enum {
    CTL_CANARY_OFF = 0,
    CTL_CANARY_HOST,
    CTL_CANARY_AGGREGATE,
} ctl_canary_scope_t;

//  How `rule` judges canary hosts: off for a PromQL rule or "off".
ctl_canary_scope_t ctl_rule_canary_scope (const ctl_rule_t *rule);

//  One sample of a host of the plan. Strings borrowed.
typedef struct {
    double value;
    uint32_t host;     //  the host's id
    const char *name;  //  the host's name
    bool canary;       //  a canary host's; else a baseline host's
} ctl_canary_sample_t;

//  One canary reading.
typedef struct {
    ctl_rule_cond_t cond;
    double value;     //  the canary value judged (the worst host's or the aggregate), NAN if none
    double baseline;  //  the baseline's value, NAN without one
    int64_t samples;  //  the canary hosts' samples
    int64_t hosts;    //  canary hosts that sent samples
    int64_t baseline_samples;
    char host[80];     //  the canary host the reading is about, "" for the aggregate
    char detail[400];  //  what it found, for humans
} ctl_canary_reading_t;

//  Judge `rule` over `samples` (the plan's hosts since max(window start,
//  bake start): span_ms, for the texts), `canaries` the names of every
//  canary host (one that sent nothing counts too). A rule whose scope is
//  off reads false.
void ctl_rule_canary_reading (const ctl_rule_t *rule, const ctl_canary_sample_t *samples,
                              size_t count, const char *const *canaries, size_t canary_count,
                              int64_t span_ms, ctl_canary_reading_t *reading);

//  The verdict of `rule` in a plan's canary analysis (state since
//  `since`, the last reading's detail): "canary analysis: alert ID is
//  firing: DETAIL" or "canary analysis: alert ID is inconclusive since
//  TIME: DETAIL"; else an empty why.
void ctl_rule_canary_verdict (const ctl_rule_t *rule, ctl_rule_state_t state, int64_t since,
                              const char *detail, ctl_rule_verdict_t *verdict);

#endif
