//  ctl_json - small JSON helpers of the operator API and the HTTP pages
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_json.h"
#include "ctl_alerts_repo.h"
#include "jad_config.h"
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
         rule = zlistx_next (rows)) {
        json_t *item = json_pack (
            "{s:s, s:s, s:s, s:s, s:s?, s:s, s:I, s:s, s:f, s:I, s:I, s:s?, s:s, s:o, "
            "s:o, s:I, s:I, s:o}",
            "id", rule->id, "origin", rule->origin, "env", rule->env, "metric", rule->metric,
            "query", rule->query, "aggregate", rule->aggregate, "window_ms",
            (json_int_t)rule->window_ms, "comparison", rule->above ? "above" : "below", "threshold",
            rule->threshold, "for_ms", (json_int_t)rule->for_ms, "min_samples",
            (json_int_t)rule->min_samples, "action", rule->action, "state", rule->state, "since",
            s_time (rule->since), "value", rule->has_value ? json_real (rule->value) : json_null (),
            "samples", (json_int_t)rule->samples, "hosts", (json_int_t)rule->hosts, "evaluated",
            s_time (rule->evaluated));
        //  canary analysis: how the canary hosts are judged (null: not at
        //  all, a PromQL rule or one on the controller's own series), and
        //  what they are compared with
        bool judged = !rule->query && !jad_controller_series_valid (rule->metric);
        if (item &&
            json_object_set_new (item, "canary",
                                 judged ? json_string (rule->canary ? rule->canary : "host")
                                        : json_null ()) == 0 &&
            judged && rule->compare)
            json_object_update_missing_new (
                item,
                json_pack ("{s:s, s:o, s:o}", "compare", rule->compare, "ratio",
                           rule->ratio > 0 ? json_real (rule->ratio) : json_null (), "difference",
                           rule->ratio > 0 ? json_null () : json_real (rule->difference)));
        else if (item)
            json_object_update_missing_new (
                item, json_pack ("{s:n, s:n, s:n}", "compare", "ratio", "difference"));
        json_array_append_new (rules, item);
    }
    zlistx_destroy (&rows);
    return rules;
}
