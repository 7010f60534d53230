//  ctl_rule_rows - stored alert rules as the engine reads them
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_rule_rows.h"

#include "jad_util.h"

#include <math.h>
#include <string.h>

ctl_rule_t ctl_rule_rows_rule (const ctl_alert_rule_t *row)
{
    int state = ctl_rule_state_parse (row->state);
    return (ctl_rule_t){.id = row->id,
                        .env = row->env,
                        .metric = row->metric,
                        .query = row->query,
                        .aggregate = row->aggregate,
                        .window_ms = row->window_ms,
                        .above = row->above,
                        .threshold = row->threshold,
                        .for_ms = row->for_ms,
                        .min_samples = row->min_samples,
                        .action = row->action,
                        .state = state < 0 ? CTL_RULE_OK : (ctl_rule_state_t)state,
                        .since = row->since,
                        .value = row->has_value ? row->value : NAN,
                        .samples = row->samples,
                        .hosts = row->hosts,
                        .error = row->error,
                        .canary = row->canary,
                        .compare = row->compare,
                        .ratio = row->ratio,
                        .difference = row->difference};
}

void ctl_rule_rows_verdicts (ctl_store_t *store, const char *env, int64_t after,
                             ctl_rule_verdicts_t *verdicts)
{
    memset (verdicts, 0, sizeof *verdicts);
    if (ctl_alerts_repo_firing (store, env, &verdicts->rows[0]) != 0)
        verdicts->rows[0] = NULL;
    if (ctl_alerts_repo_inconclusive (store, env, after, &verdicts->rows[1]) != 0)
        verdicts->rows[1] = NULL;
    for (size_t index = 0; index < 2; index++)
        if (verdicts->rows[index]) {
            verdicts->rules[index] = ctl_rule_rows_rule (verdicts->rows[index]);
            ctl_rule_verdict (&verdicts->rules[index], &verdicts->verdicts[verdicts->count++]);
        }
}

void ctl_rule_rows_verdicts_clear (ctl_rule_verdicts_t *verdicts)
{
    for (size_t index = 0; index < 2; index++)
        ctl_alert_rule_destroy (&verdicts->rows[index]);
    zlistx_destroy (&verdicts->canary_rules);
    zlistx_destroy (&verdicts->canary_states);
    memset (verdicts, 0, sizeof *verdicts);
}

int ctl_rule_rows_canary (ctl_store_t *store, const char *plan_id, const char *env, int64_t after,
                          ctl_rule_verdicts_t *verdicts, int64_t *rules, int64_t *judged)
{
    *rules = 0;
    *judged = 0;
    zlistx_t *rows = ctl_alerts_repo_rules (store, false);
    zlistx_t *states = rows ? ctl_alerts_repo_canary_states (store, plan_id) : NULL;
    if (!rows || !states) {
        zlistx_destroy (&rows);
        return -1;
    }
    const ctl_rule_verdict_t *firing = NULL, *inconclusive = NULL;
    ctl_rule_verdict_t found[2];
    ctl_rule_t found_rules[2];
    int64_t oldest = INT64_MAX;
    for (ctl_alert_rule_t *row = zlistx_first (rows); row; row = zlistx_next (rows)) {
        ctl_rule_t rule = ctl_rule_rows_rule (row);
        if (!jad_text_is (row->env, env) || ctl_rule_canary_scope (&rule) == CTL_CANARY_OFF)
            continue;
        (*rules)++;
        ctl_canary_state_t *state = zlistx_first (states);
        while (state && !jad_text_is (state->rule_id, row->id))
            state = zlistx_next (states);
        if (!state) {
            oldest = 0;
            continue;
        }
        oldest = state->evaluated < oldest ? state->evaluated : oldest;
        int parsed = ctl_rule_state_parse (state->state);
        ctl_rule_state_t now_state = parsed < 0 ? CTL_RULE_OK : (ctl_rule_state_t)parsed;
        bool fires = now_state == CTL_RULE_FIRING && !firing;
        bool waits = now_state == CTL_RULE_INCONCLUSIVE && state->since > after && !inconclusive;
        if (!fires && !waits)
            continue;
        size_t slot = fires ? 0 : 1;
        found_rules[slot] = rule;
        ctl_rule_canary_verdict (&found_rules[slot], now_state, state->since, state->detail,
                                 &found[slot]);
        if (fires)
            firing = &found[0];
        else
            inconclusive = &found[1];
    }
    *judged = *rules ? oldest : 0;
    //  the rows and states stay alive with the verdicts that borrow from them
    verdicts->canary_rules = rows;
    verdicts->canary_states = states;
    const ctl_rule_verdict_t *add[2] = {firing, inconclusive};
    for (size_t index = 0; index < 2; index++)
        if (add[index] && verdicts->count < 4)
            verdicts->verdicts[verdicts->count++] = *add[index];
    return 0;
}
