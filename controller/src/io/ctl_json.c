//  ctl_json - small JSON helpers of the operator API and the HTTP pages
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_json.h"
#include "ctl_alerts_repo.h"
#include "jad_util.h"

json_t *ctl_json_time (int64_t ms, bool known)
{
    if (!known)
        return json_null ();
    char buf[32];
    return json_string (jad_iso_time (ms, buf, sizeof buf));
}

json_t *ctl_json_text (const char *text)
{
    return text ? json_string (text) : json_null ();
}

//  A time, or null for none (0).
static json_t *s_time (int64_t ms)
{
    return ctl_json_time (ms, ms > 0);
}

json_t *ctl_json_rules (ctl_store_t *store)
{
    json_t *rules = json_array ();
    zlistx_t *rows = ctl_alerts_repo_rules (store, true);
    for (ctl_alert_rule_t *rule = rows ? zlistx_first (rows) : NULL; rule;
         rule = zlistx_next (rows))
        json_array_append_new (
            rules,
            json_pack ("{s:s, s:s, s:s, s:s, s:s?, s:s, s:I, s:s, s:f, s:I, s:I, s:s?, s:s, s:o, "
                       "s:o, s:I, s:I, s:o}",
                       "id", rule->id, "origin", rule->origin, "env", rule->env, "metric",
                       rule->metric, "query", rule->query, "aggregate", rule->aggregate,
                       "window_ms", (json_int_t)rule->window_ms, "comparison",
                       rule->above ? "above" : "below", "threshold", rule->threshold, "for_ms",
                       (json_int_t)rule->for_ms, "min_samples", (json_int_t)rule->min_samples,
                       "action", rule->action, "state", rule->state, "since", s_time (rule->since),
                       "value", rule->has_value ? json_real (rule->value) : json_null (), "samples",
                       (json_int_t)rule->samples, "hosts", (json_int_t)rule->hosts, "evaluated",
                       s_time (rule->evaluated)));
    zlistx_destroy (&rows);
    return rules;
}
