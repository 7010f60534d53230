//  ctl_rule_rows - stored alert rules as the engine reads them
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_rule_rows.h"

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
                        .error = row->error};
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
    memset (verdicts, 0, sizeof *verdicts);
}
