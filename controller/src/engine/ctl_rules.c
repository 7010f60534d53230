//  ctl_rules - alert rules: readings, the state machine, verdicts, and
//  which deploy a rollback rule acts on
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_rules.h"
#include "jad_util.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const s_state_names[] = {"ok", "pending", "firing", "resolved", "inconclusive"};

const char *ctl_rule_state_name (ctl_rule_state_t state)
{
    return state <= CTL_RULE_INCONCLUSIVE ? s_state_names[state] : "unknown";
}

int ctl_rule_state_parse (const char *name)
{
    for (int index = 0; name && index <= CTL_RULE_INCONCLUSIVE; index++)
        if (strcmp (name, s_state_names[index]) == 0)
            return index;
    return -1;
}

ctl_rule_state_t ctl_rule_next (ctl_rule_state_t state, int64_t *since_p, ctl_rule_cond_t cond,
                                int64_t now, uint32_t for_ms)
{
    ctl_rule_state_t next = state;
    switch (state) {
        case CTL_RULE_OK:
        case CTL_RULE_RESOLVED:
        case CTL_RULE_INCONCLUSIVE:
            if (cond == CTL_RULE_COND_TRUE)
                next = for_ms == 0 ? CTL_RULE_FIRING : CTL_RULE_PENDING;
            else if (cond == CTL_RULE_COND_INCONCLUSIVE)
                next = CTL_RULE_INCONCLUSIVE;
            else if (state == CTL_RULE_INCONCLUSIVE)
                next = CTL_RULE_OK;
            break;
        case CTL_RULE_PENDING:
            if (cond == CTL_RULE_COND_FALSE)
                next = CTL_RULE_OK;
            else if (cond == CTL_RULE_COND_INCONCLUSIVE)
                next = CTL_RULE_INCONCLUSIVE;
            else if (now - *since_p >= (int64_t)for_ms)
                next = CTL_RULE_FIRING;
            break;
        case CTL_RULE_FIRING:
            if (cond == CTL_RULE_COND_FALSE)
                next = CTL_RULE_RESOLVED;
            break;
    }
    if (next != state)
        *since_p = now;
    return next;
}

static int s_compare_double (const void *left, const void *right)
{
    double a = *(const double *)left, b = *(const double *)right;
    return a < b ? -1 : a > b;
}

//  Sum over hosts of each host's mean in the window.
static int s_sum_of_means (const double *values, const uint32_t *hosts, size_t count,
                           double *result)
{
    zhashx_t *seen = zhashx_new ();
    if (!seen)
        return -1;
    double total = 0;
    for (size_t index = 0; index < count; index++) {
        char key[16];
        snprintf (key, sizeof key, "%u", hosts[index]);
        if (zhashx_lookup (seen, key))
            continue;
        zhashx_insert (seen, key, (void *)1);
        double sum = 0;
        size_t samples = 0;
        for (size_t other = index; other < count; other++)
            if (hosts[other] == hosts[index]) {
                sum += values[other];
                samples++;
            }
        total += sum / (double)samples;
    }
    zhashx_destroy (&seen);
    *result = total;
    return 0;
}

int ctl_rule_aggregate (const char *how, double *values, const uint32_t *hosts, size_t count,
                        double *result)
{
    if (count == 0 || !how)
        return -1;
    if (strcmp (how, "avg") == 0) {
        double sum = 0;
        for (size_t index = 0; index < count; index++)
            sum += values[index];
        *result = sum / (double)count;
    } else if (strcmp (how, "max") == 0) {
        double max = values[0];
        for (size_t index = 1; index < count; index++)
            max = values[index] > max ? values[index] : max;
        *result = max;
    } else if (strcmp (how, "sum") == 0)
        return hosts ? s_sum_of_means (values, hosts, count, result) : -1;
    else if (strcmp (how, "p95") == 0) {
        qsort (values, count, sizeof (double), s_compare_double);
        //  nearest rank
        size_t rank = (size_t)ceil (0.95 * (double)count);
        *result = values[rank ? rank - 1 : 0];
    } else
        return -1;
    return 0;
}

void ctl_rule_reading_start (const ctl_rule_t *rule, int64_t now, ctl_reading_t *reading)
{
    memset (reading, 0, sizeof *reading);
    reading->cond = CTL_RULE_COND_INCONCLUSIVE;
    reading->value = NAN;
    reading->window_end = now;
    reading->window_start = now - rule->window_ms;
}

//  Number of distinct hosts among count host ids.
static int64_t s_distinct (const uint32_t *hosts, size_t count)
{
    int64_t distinct = 0;
    zhashx_t *seen = zhashx_new ();
    for (size_t index = 0; seen && index < count; index++) {
        char key[16];
        snprintf (key, sizeof key, "%u", hosts[index]);
        if (!zhashx_lookup (seen, key)) {
            zhashx_insert (seen, key, (void *)1);
            distinct++;
        }
    }
    zhashx_destroy (&seen);
    return distinct;
}

void ctl_rule_reading_finish (const ctl_rule_t *rule, double *values, const uint32_t *hosts,
                              size_t count, ctl_reading_t *reading)
{
    reading->samples = (int64_t)count;
    if (!rule->query && count && hosts)
        reading->hosts = s_distinct (hosts, count);
    if (count && hosts &&
        ctl_rule_aggregate (rule->aggregate, values, hosts, count, &reading->value) == 0 &&
        (int64_t)count >= rule->min_samples) {
        bool crossed =
            rule->above ? reading->value > rule->threshold : reading->value < rule->threshold;
        reading->cond = crossed ? CTL_RULE_COND_TRUE : CTL_RULE_COND_FALSE;
    }
}

void ctl_rule_reading_answer (const ctl_rule_t *rule, bool ok, const char *answer, int64_t now,
                              ctl_reading_t *reading)
{
    ctl_rule_reading_start (rule, now, reading);
    if (!ok) {
        snprintf (reading->error, sizeof reading->error, "%s", answer ? answer : "no answer");
        return;
    }
    size_t count = 0, size = 1;
    for (const char *cursor = answer; cursor && *cursor; cursor++)
        size += *cursor == ' ';
    double *values = calloc (size, sizeof (double));
    uint32_t *hosts = calloc (size, sizeof (uint32_t));
    const char *cursor = answer ? answer : "";
    while (values && hosts && *cursor && count < size) {
        char *end = NULL;
        double value = strtod (cursor, &end);
        if (end == cursor)
            break;
        values[count++] = value;
        cursor = end;
    }
    ctl_rule_reading_finish (rule, values, hosts, count, reading);
    free (values);
    free (hosts);
}

void ctl_rule_apply (ctl_rule_t *rule, const ctl_reading_t *reading, int64_t now,
                     ctl_rule_step_t *step)
{
    step->from = rule->state;
    rule->state =
        ctl_rule_next (rule->state, &rule->since, reading->cond, now, (uint32_t)rule->for_ms);
    step->to = rule->state;
    step->changed = step->to != step->from;
    step->rollback = step->changed && step->to == CTL_RULE_FIRING && rule->action &&
                     strcmp (rule->action, "rollback") == 0;
}

void ctl_rule_describe (const ctl_rule_t *rule, char *buf, size_t len)
{
    char duration[32], window[32];
    jad_duration_format ((uint64_t)rule->for_ms, duration, sizeof duration);
    jad_duration_format ((uint64_t)rule->window_ms, window, sizeof window);
    if (rule->query)
        snprintf (buf, len, "prometheus(%s) %s %g for %s", rule->query, rule->above ? ">" : "<",
                  rule->threshold, duration);
    else
        snprintf (buf, len, "%s(%s) on %s %s %g for %s over %s (min %lld samples)", rule->aggregate,
                  rule->metric, rule->env, rule->above ? ">" : "<", rule->threshold, duration,
                  window, (long long)rule->min_samples);
}

void ctl_rule_verdict (const ctl_rule_t *rule, ctl_rule_verdict_t *verdict)
{
    memset (verdict, 0, sizeof *verdict);
    verdict->rule_id = rule->id;
    verdict->state = rule->state;
    verdict->since = rule->since;
    //  a rule never read has no value: it reads as 0, as the column did
    double value = isfinite (rule->value) ? rule->value : 0;
    if (rule->state == CTL_RULE_FIRING)
        snprintf (verdict->why, sizeof verdict->why, "alert %s is firing: %s = %g %s %g", rule->id,
                  rule->metric, value, rule->above ? ">" : "<", rule->threshold);
    else if (rule->state == CTL_RULE_INCONCLUSIVE) {
        char window[32], since[32];
        jad_duration_format ((uint64_t)rule->window_ms, window, sizeof window);
        snprintf (verdict->why, sizeof verdict->why,
                  "alert %s is inconclusive since %s: %s(%s) had %lld samples in %s, it needs "
                  "%lld to decide%s%s",
                  rule->id, jad_iso_time (rule->since, since, sizeof since), rule->aggregate,
                  rule->query ? rule->query : rule->metric, (long long)rule->samples, window,
                  (long long)rule->min_samples, rule->error ? "; " : "",
                  rule->error ? rule->error : "");
    }
}

int ctl_rules_watched (const ctl_watch_plan_t *plans, size_t count, int64_t now, uint32_t watch_ms)
{
    for (size_t index = 0; index < count; index++) {
        const ctl_watch_plan_t *plan = &plans[index];
        if (!plan->kind || strcmp (plan->kind, "deploy") != 0 || plan->undone)
            continue;
        if (!plan->state ||
            (strcmp (plan->state, "running") != 0 && strcmp (plan->state, "succeeded") != 0))
            continue;
        if (plan->created < now - (int64_t)watch_ms)
            continue;
        //  converging a late host is not a deploy to judge
        if (plan->reason && strncasecmp (plan->reason, "converge:", 9) == 0)
            continue;
        return (int)index;
    }
    return -1;
}

void ctl_rule_summary (const ctl_rule_t *rule, const ctl_reading_t *reading, const char *app,
                       const char *bad_version, bool rolling_back, char *buf, size_t len)
{
    char value[64], duration[32], window[32];
    snprintf (value, sizeof value, "%g", reading->value);
    jad_duration_format ((uint64_t)rule->for_ms, duration, sizeof duration);
    jad_duration_format ((uint64_t)rule->window_ms, window, sizeof window);
    snprintf (buf, len,
              "alert %s fired: %s(%s) on %s = %s %s %g for %s (window %s, %lld samples from "
              "%lld hosts); %s %s %s",
              rule->id, rule->query ? "prometheus" : rule->aggregate,
              rule->query ? rule->query : rule->metric, rule->env, value, rule->above ? ">" : "<",
              rule->threshold, duration, window, (long long)reading->samples,
              (long long)reading->hosts,
              rolling_back ? "rolling back" : "no known-good release to roll back to from", app,
              bad_version);
}

//  --------------------------------------------------------------------------
//  Canary analysis

ctl_canary_scope_t ctl_rule_canary_scope (const ctl_rule_t *rule)
{
    if (rule->query || jad_text_is (rule->canary, "off"))
        return CTL_CANARY_OFF;
    return jad_text_is (rule->canary, "aggregate") ? CTL_CANARY_AGGREGATE : CTL_CANARY_HOST;
}

//  The rule's aggregate of the samples of one side (canary or baseline;
//  `name` non-NULL: of that host only), `sum` as the mean per host. *used
//  gets the samples, *hosts the distinct hosts. Returns 0, or -1 if
//  there were none (or out of memory).
static int s_side_value (const ctl_rule_t *rule, const ctl_canary_sample_t *samples, size_t count,
                         bool canary, const char *name, int64_t *used, int64_t *hosts,
                         double *value)
{
    double *values = calloc (count + 1, sizeof (double));
    uint32_t *ids = calloc (count + 1, sizeof (uint32_t));
    size_t taken = 0;
    for (size_t index = 0; values && ids && index < count; index++)
        if (samples[index].canary == canary && (!name || jad_text_is (samples[index].name, name))) {
            values[taken] = samples[index].value;
            ids[taken++] = samples[index].host;
        }
    *used = (int64_t)taken;
    *hosts = taken ? s_distinct (ids, taken) : 0;
    bool sum = jad_text_is (rule->aggregate, "sum");
    int rc = values && ids && taken
                 ? ctl_rule_aggregate (sum ? "sum" : rule->aggregate, values, ids, taken, value)
                 : -1;
    if (rc == 0 && sum && *hosts > 0)
        *value /= (double)*hosts;
    free (values);
    free (ids);
    return rc;
}

//  True if `value` is worse than the rule allows: across the threshold,
//  or (compared) across the baseline's bound; `why` says which.
static bool s_canary_crossed (const ctl_rule_t *rule, double value, double baseline, char *why,
                              size_t len)
{
    bool above = rule->above;
    if (above ? value > rule->threshold : value < rule->threshold) {
        snprintf (why, len, "%s %g", above ? ">" : "<", rule->threshold);
        return true;
    }
    if (!rule->compare || !isfinite (baseline))
        return false;
    double bound = rule->ratio > 0 ? rule->ratio * baseline
                                   : baseline + (above ? rule->difference : -rule->difference);
    if (above ? value > bound : value < bound) {
        if (rule->ratio > 0)
            snprintf (why, len, "%s %g x the baseline's %g", above ? "more than" : "less than",
                      rule->ratio, baseline);
        else
            snprintf (why, len, "%s the baseline's %g %s %g", above ? "more than" : "less than",
                      baseline, above ? "+" : "-", rule->difference);
        return true;
    }
    return false;
}

void ctl_rule_canary_reading (const ctl_rule_t *rule, const ctl_canary_sample_t *samples,
                              size_t count, const char *const *canaries, size_t canary_count,
                              int64_t span_ms, ctl_canary_reading_t *reading)
{
    memset (reading, 0, sizeof *reading);
    reading->cond = CTL_RULE_COND_FALSE;
    reading->value = NAN;
    reading->baseline = NAN;
    ctl_canary_scope_t scope = ctl_rule_canary_scope (rule);
    if (scope == CTL_CANARY_OFF) {
        snprintf (reading->detail, sizeof reading->detail, "no canary analysis");
        return;
    }
    char span[32], what[160];
    jad_duration_format ((uint64_t)(span_ms > 0 ? span_ms : 0), span, sizeof span);
    snprintf (what, sizeof what, "%s(%s)", rule->aggregate ? rule->aggregate : "avg",
              rule->metric ? rule->metric : "-");
    double together = NAN;
    s_side_value (rule, samples, count, true, NULL, &reading->samples, &reading->hosts, &together);

    //  the baseline first: without it nothing compared can be said
    const char *missing = NULL;  //  a side too thin to judge
    int64_t missing_samples = 0;
    char missing_name[96] = "";
    const char *missing_host = NULL;  //  the canary host too thin to judge
    if (rule->compare) {
        int64_t hosts = 0;
        if (s_side_value (rule, samples, count, false, NULL, &reading->baseline_samples, &hosts,
                          &reading->baseline) != 0 ||
            reading->baseline_samples < rule->min_samples) {
            reading->baseline = NAN;
            missing = "baseline";
            missing_samples = reading->baseline_samples;
            snprintf (missing_name, sizeof missing_name, "the baseline hosts");
        }
    }
    //  the canary side: each host, or all of them together
    size_t sides = scope == CTL_CANARY_HOST ? canary_count : 1;
    bool worst_set = false;
    for (size_t index = 0; index < sides; index++) {
        const char *name = scope == CTL_CANARY_HOST ? canaries[index] : NULL;
        int64_t used = 0, hosts = 0;
        double value = NAN;
        int rc = s_side_value (rule, samples, count, true, name, &used, &hosts, &value);
        if (rc != 0 || used < rule->min_samples) {
            if (!missing) {
                missing = "canary";
                missing_samples = used;
                missing_host = name;
                if (name)
                    snprintf (missing_name, sizeof missing_name, "canary host %s", name);
                else
                    snprintf (missing_name, sizeof missing_name, "the canary hosts");
            }
            continue;
        }
        char why[160];
        if (s_canary_crossed (rule, value, reading->baseline, why, sizeof why)) {
            //  the first host that crossed decides; the worst is not needed
            reading->cond = CTL_RULE_COND_TRUE;
            reading->value = value;
            snprintf (reading->host, sizeof reading->host, "%s", name ? name : "");
            jad_format (reading->detail, sizeof reading->detail,
                        "%s%s: %s = %g, %s (%lld samples in %s)",
                        name ? "canary host " : "the canary hosts", name ? name : "", what, value,
                        why, (long long)used, span);
            return;
        }
        bool worse = rule->above ? value > reading->value : value < reading->value;
        if (!worst_set || worse) {
            reading->value = value;
            snprintf (reading->host, sizeof reading->host, "%s", name ? name : "");
            worst_set = true;
        }
    }
    if (missing || (scope == CTL_CANARY_HOST && canary_count == 0)) {
        reading->cond = CTL_RULE_COND_INCONCLUSIVE;
        snprintf (reading->host, sizeof reading->host, "%s", missing_host ? missing_host : "");
        if (!missing)
            jad_format (reading->detail, sizeof reading->detail,
                        "the plan has no healthy canary host to judge");
        else
            jad_format (reading->detail, sizeof reading->detail,
                        "%s had %lld samples of %s in %s, it needs %lld to %s", missing_name,
                        (long long)missing_samples, rule->metric ? rule->metric : "-", span,
                        (long long)rule->min_samples,
                        strcmp (missing, "baseline") == 0 ? "compare" : "decide");
        return;
    }
    char baseline[64] = "";
    if (isfinite (reading->baseline))
        snprintf (baseline, sizeof baseline, ", baseline %g", reading->baseline);
    jad_format (reading->detail, sizeof reading->detail, "%s%s: %s = %g within bounds%s",
                reading->host[0] ? "worst canary host " : "the canary hosts", reading->host, what,
                reading->value, baseline);
}

void ctl_rule_canary_verdict (const ctl_rule_t *rule, ctl_rule_state_t state, int64_t since,
                              const char *detail, ctl_rule_verdict_t *verdict)
{
    memset (verdict, 0, sizeof *verdict);
    verdict->rule_id = rule->id;
    verdict->state = state;
    verdict->since = since;
    if (state == CTL_RULE_FIRING)
        snprintf (verdict->why, sizeof verdict->why, "canary analysis: alert %s is firing: %s",
                  rule->id, detail ? detail : "-");
    else if (state == CTL_RULE_INCONCLUSIVE) {
        char when[32];
        snprintf (verdict->why, sizeof verdict->why,
                  "canary analysis: alert %s is inconclusive since %s: %s", rule->id,
                  jad_iso_time (since, when, sizeof when), detail ? detail : "-");
    }
}
