//  ctl_rule_rows - stored alert rules as the engine reads them
//  SPDX-License-Identifier: MPL-2.0
//
//  The store keeps alert rules as rows (ctl_alert_rule_t, strings owned);
//  the engine decides on ctl_rule_t (strings borrowed) and hands the
//  rollout its verdicts (ctl_rule_verdict_t). This is the one place that
//  turns the first into the others.

#ifndef CTL_RULE_ROWS_H_INCLUDED
#define CTL_RULE_ROWS_H_INCLUDED

#include "ctl_alerts_repo.h"
#include "ctl_rules.h"
#include "ctl_store.h"

#include <stddef.h>
#include <stdint.h>

//  `row` as the engine reads it; the strings stay row's. An unknown
//  state reads as ok; a row without a value reads as NAN.
ctl_rule_t ctl_rule_rows_rule (const ctl_alert_rule_t *row);

//  What the rollout needs to know about env's rules: its first firing
//  rule and its first rule inconclusive since `after` (wall ms), by id.
//  With ctl_rule_rows_canary also the first firing and the first
//  inconclusive rule of a plan's canary analysis.
typedef struct {
    ctl_alert_rule_t *rows[2];  //  owned
    ctl_rule_t rules[2];        //  borrow from rows
    ctl_rule_verdict_t verdicts[4];
    size_t count;             //  verdicts in use
    zlistx_t *canary_rules;   //  ctl_alert_rule_t, owned
    zlistx_t *canary_states;  //  ctl_canary_state_t, owned
} ctl_rule_verdicts_t;

//  Read them from the store (a rule that cannot be read is left out,
//  logged by the store). Release with ctl_rule_rows_verdicts_clear.
void ctl_rule_rows_verdicts (ctl_store_t *store, const char *env, int64_t after,
                             ctl_rule_verdicts_t *verdicts);
void ctl_rule_rows_verdicts_clear (ctl_rule_verdicts_t *verdicts);

//  Add the verdicts of plan_id's canary analysis (rules of env that judge
//  canary hosts; inconclusive since `after`) and set *rules (how many
//  rules judge) and *judged (the oldest last judgment, 0 if a rule has
//  none). Returns 0 or -1 (database error: nothing added).
int ctl_rule_rows_canary (ctl_store_t *store, const char *plan_id, const char *env, int64_t after,
                          ctl_rule_verdicts_t *verdicts, int64_t *rules, int64_t *judged);

#endif
