//  test_rules - alert rules: every transition of the state machine,
//  aggregates, readings and min-samples, verdict texts, the watch window
//  SPDX-License-Identifier: MPL-2.0

#include "engine/ctl_rules.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define S_OK   CTL_RULE_OK
#define S_PEND CTL_RULE_PENDING
#define S_FIRE CTL_RULE_FIRING
#define S_RES  CTL_RULE_RESOLVED
#define S_INC  CTL_RULE_INCONCLUSIVE
#define S_F    CTL_RULE_COND_FALSE
#define S_T    CTL_RULE_COND_TRUE
#define S_I    CTL_RULE_COND_INCONCLUSIVE

Test (rules, every_transition_of_the_state_machine)
{
    static const struct {
        ctl_rule_state_t from;
        ctl_rule_cond_t cond;
        uint32_t for_ms;
        int64_t now;  //  the state was entered at 1000
        ctl_rule_state_t to;
    } cases[] = {
        //  ok and resolved: true pends (or fires at once without `for`)
        {S_OK, S_F, 5000, 9000, S_OK},
        {S_OK, S_T, 5000, 9000, S_PEND},
        {S_OK, S_T, 0, 9000, S_FIRE},
        {S_OK, S_I, 5000, 9000, S_INC},
        {S_RES, S_F, 5000, 9000, S_RES},
        {S_RES, S_T, 5000, 9000, S_PEND},
        {S_RES, S_T, 0, 9000, S_FIRE},
        {S_RES, S_I, 5000, 9000, S_INC},
        //  inconclusive: data back decides again
        {S_INC, S_F, 5000, 9000, S_OK},
        {S_INC, S_T, 5000, 9000, S_PEND},
        {S_INC, S_T, 0, 9000, S_FIRE},
        {S_INC, S_I, 5000, 9000, S_INC},
        //  pending: fires once true for `for`
        {S_PEND, S_F, 5000, 9000, S_OK},
        {S_PEND, S_I, 5000, 9000, S_INC},
        {S_PEND, S_T, 5000, 5999, S_PEND},
        {S_PEND, S_T, 5000, 6000, S_FIRE},
        {S_PEND, S_T, 0, 1000, S_FIRE},
        //  firing: only false resolves it; missing data resolves nothing
        {S_FIRE, S_F, 5000, 9000, S_RES},
        {S_FIRE, S_T, 5000, 9000, S_FIRE},
        {S_FIRE, S_I, 5000, 9000, S_FIRE},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        int64_t since = 1000;
        ctl_rule_state_t to = ctl_rule_next (cases[index].from, &since, cases[index].cond,
                                             cases[index].now, cases[index].for_ms);
        cr_assert_eq (to, cases[index].to, "case %zu: %s -> %s", index,
                      ctl_rule_state_name (cases[index].from), ctl_rule_state_name (to));
        //  `since` moves exactly when the state changes
        int64_t expected = to != cases[index].from ? cases[index].now : 1000;
        cr_assert_eq (since, expected, "case %zu: since %lld", index, (long long)since);
    }
}

Test (rules, flapping_never_fires_and_a_steady_condition_does)
{
    ctl_rule_state_t state = S_OK;
    int64_t since = 0;
    int firings = 0;
    for (int64_t second = 1; second <= 40; second++) {
        ctl_rule_cond_t cond = second % 3 == 0 ? S_F : S_T;
        ctl_rule_state_t next = ctl_rule_next (state, &since, cond, second * 1000, 3000);
        firings += next == S_FIRE && state != S_FIRE;
        state = next;
    }
    cr_assert_eq (firings, 0);
    for (int64_t second = 41; second <= 45; second++)
        state = ctl_rule_next (state, &since, S_T, second * 1000, 3000);
    cr_assert_eq (state, S_FIRE);
}

Test (rules, state_names_both_ways)
{
    static const char *names[] = {"ok", "pending", "firing", "resolved", "inconclusive"};
    for (int state = S_OK; state <= S_INC; state++) {
        cr_assert_str_eq (ctl_rule_state_name ((ctl_rule_state_t)state), names[state]);
        cr_assert_eq (ctl_rule_state_parse (names[state]), state);
    }
    cr_assert_str_eq (ctl_rule_state_name ((ctl_rule_state_t)42), "unknown");
    cr_assert_eq (ctl_rule_state_parse ("burning"), -1);
    cr_assert_eq (ctl_rule_state_parse (NULL), -1);
}

Test (rules, aggregates)
{
    double values[] = {1, 2, 3, 10};
    uint32_t hosts[] = {1, 1, 2, 3};
    double result = 0;
    cr_assert_eq (ctl_rule_aggregate ("avg", values, hosts, 4, &result), 0);
    cr_assert_float_eq (result, 4.0, 1e-9);
    cr_assert_eq (ctl_rule_aggregate ("max", values, hosts, 4, &result), 0);
    cr_assert_float_eq (result, 10.0, 1e-9);
    //  sum of per-host means: 1.5 + 3 + 10
    cr_assert_eq (ctl_rule_aggregate ("sum", values, hosts, 4, &result), 0);
    cr_assert_float_eq (result, 14.5, 1e-9);
    double many[100];
    for (size_t index = 0; index < 100; index++)
        many[index] = (double)(100 - index);
    cr_assert_eq (ctl_rule_aggregate ("p95", many, NULL, 100, &result), 0);
    cr_assert_float_eq (result, 95.0, 1e-9);
    double one[] = {7};
    cr_assert_eq (ctl_rule_aggregate ("p95", one, NULL, 1, &result), 0);
    cr_assert_float_eq (result, 7.0, 1e-9);
    double negative[] = {-3, -1, -2};
    cr_assert_eq (ctl_rule_aggregate ("max", negative, hosts, 3, &result), 0);
    cr_assert_float_eq (result, -1.0, 1e-9);
    //  nothing to aggregate, an unknown aggregate, a sum without hosts
    cr_assert_eq (ctl_rule_aggregate ("avg", values, hosts, 0, &result), -1);
    cr_assert_eq (ctl_rule_aggregate ("median", values, hosts, 4, &result), -1);
    cr_assert_eq (ctl_rule_aggregate (NULL, values, hosts, 4, &result), -1);
    cr_assert_eq (ctl_rule_aggregate ("sum", values, NULL, 4, &result), -1);
}

static ctl_rule_t s_rule (void)
{
    return (ctl_rule_t){.id = "c1a2b3c4",
                        .env = "prod",
                        .metric = "http_error_rate",
                        .aggregate = "avg",
                        .window_ms = 60000,
                        .above = true,
                        .threshold = 0.05,
                        .for_ms = 60000,
                        .min_samples = 3,
                        .action = "rollback",
                        .state = S_OK,
                        .value = NAN};
}

Test (rules, readings_need_their_minimum_of_samples)
{
    static const struct {
        const char *name;
        size_t count;
        bool above;
        int64_t min_samples;
        ctl_rule_cond_t cond;
        int64_t hosts;
    } cases[] = {
        {"no samples", 0, true, 3, S_I, 0},
        {"too few samples", 2, true, 3, S_I, 2},
        {"enough, above the threshold", 3, true, 3, S_T, 2},
        {"enough, below an above-rule", 3, false, 3, S_F, 2},
        {"one sample is enough when asked", 1, true, 1, S_T, 1},
    };
    double values[] = {0.5, 0.1, 0.2};
    uint32_t hosts[] = {1, 2, 2};
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        ctl_rule_t rule = s_rule ();
        rule.above = cases[index].above;
        rule.threshold = cases[index].above ? 0.05 : 0.01;
        rule.min_samples = cases[index].min_samples;
        ctl_reading_t reading;
        ctl_rule_reading_start (&rule, 100000, &reading);
        cr_assert_eq (reading.cond, S_I);
        cr_assert (isnan (reading.value));
        cr_assert_eq (reading.window_start, 40000);
        cr_assert_eq (reading.window_end, 100000);
        double copy[3];
        memcpy (copy, values, sizeof copy);
        ctl_rule_reading_finish (&rule, copy, hosts, cases[index].count, &reading);
        cr_assert_eq (reading.cond, cases[index].cond, "%s: cond %d", cases[index].name,
                      reading.cond);
        cr_assert_eq (reading.samples, (int64_t)cases[index].count, "%s", cases[index].name);
        cr_assert_eq (reading.hosts, cases[index].hosts, "%s", cases[index].name);
    }
    //  a below-rule fires below its threshold
    ctl_rule_t rule = s_rule ();
    rule.above = false;
    rule.threshold = 0.9;
    ctl_reading_t reading;
    ctl_rule_reading_start (&rule, 100000, &reading);
    double copy[3] = {0.5, 0.1, 0.2};
    ctl_rule_reading_finish (&rule, copy, hosts, 3, &reading);
    cr_assert_eq (reading.cond, S_T);
    cr_assert_float_eq (reading.value, 0.8 / 3, 1e-9);
    //  no host ids: nothing is aggregated
    ctl_rule_reading_start (&rule, 100000, &reading);
    ctl_rule_reading_finish (&rule, copy, NULL, 3, &reading);
    cr_assert_eq (reading.cond, S_I);
    cr_assert_eq (reading.hosts, 0);
}

Test (rules, promql_answers)
{
    ctl_rule_t rule = s_rule ();
    rule.query = "sum(rate(errors[1m]))";
    rule.min_samples = 1;
    ctl_reading_t reading;
    ctl_rule_reading_answer (&rule, true, "0.5 0.25", 5000, &reading);
    cr_assert_eq (reading.cond, S_T);
    cr_assert_float_eq (reading.value, 0.375, 1e-9);
    cr_assert_eq (reading.samples, 2);
    cr_assert_eq (reading.hosts, 0, "a PromQL answer has no hosts");
    cr_assert_str_empty (reading.error);
    ctl_rule_reading_answer (&rule, true, "0.01", 5000, &reading);
    cr_assert_eq (reading.cond, S_F);
    //  an empty vector, garbage, a failed query: inconclusive
    ctl_rule_reading_answer (&rule, true, "", 5000, &reading);
    cr_assert_eq (reading.cond, S_I);
    cr_assert_eq (reading.samples, 0);
    ctl_rule_reading_answer (&rule, true, "x1", 5000, &reading);
    cr_assert_eq (reading.cond, S_I);
    ctl_rule_reading_answer (&rule, true, "0.7 junk", 5000, &reading);
    cr_assert_eq (reading.cond, S_T, "the values before the junk count");
    cr_assert_eq (reading.samples, 1);
    ctl_rule_reading_answer (&rule, false, "prometheus query failed: timeout", 5000, &reading);
    cr_assert_eq (reading.cond, S_I);
    cr_assert_str_eq (reading.error, "prometheus query failed: timeout");
    ctl_rule_reading_answer (&rule, false, NULL, 5000, &reading);
    cr_assert_str_eq (reading.error, "no answer");
    ctl_rule_reading_answer (&rule, true, NULL, 5000, &reading);
    cr_assert_eq (reading.cond, S_I);
}

Test (rules, apply_says_what_changed_and_when_to_roll_back)
{
    ctl_rule_t rule = s_rule ();
    rule.for_ms = 0;
    ctl_reading_t reading;
    ctl_rule_reading_start (&rule, 1000, &reading);
    reading.cond = S_T;
    ctl_rule_step_t step;
    ctl_rule_apply (&rule, &reading, 1000, &step);
    cr_assert_eq (step.from, S_OK);
    cr_assert_eq (step.to, S_FIRE);
    cr_assert (step.changed);
    cr_assert (step.rollback);
    cr_assert_eq (rule.state, S_FIRE);
    cr_assert_eq (rule.since, 1000);
    //  still firing: no new transition, no second rollback
    ctl_rule_apply (&rule, &reading, 2000, &step);
    cr_assert_not (step.changed);
    cr_assert_not (step.rollback);
    cr_assert_eq (rule.since, 1000);
    reading.cond = S_F;
    ctl_rule_apply (&rule, &reading, 3000, &step);
    cr_assert (step.changed);
    cr_assert_eq (step.to, S_RES);
    cr_assert_not (step.rollback);
    //  a notify-only rule never rolls back
    rule.action = NULL;
    reading.cond = S_T;
    ctl_rule_apply (&rule, &reading, 4000, &step);
    cr_assert_eq (step.to, S_FIRE);
    cr_assert_not (step.rollback);
    rule.state = S_OK;
    rule.action = "notify";
    ctl_rule_apply (&rule, &reading, 5000, &step);
    cr_assert_not (step.rollback);
}

Test (rules, descriptions_and_verdicts_say_the_values)
{
    ctl_rule_t rule = s_rule ();
    char text[512];
    ctl_rule_describe (&rule, text, sizeof text);
    cr_assert_str_eq (text,
                      "avg(http_error_rate) on prod > 0.05 for 1m00s over 1m00s (min 3 samples)");
    rule.query = "sum(errors)";
    rule.above = false;
    ctl_rule_describe (&rule, text, sizeof text);
    cr_assert_str_eq (text, "prometheus(sum(errors)) < 0.05 for 1m00s");
    rule.query = NULL;
    rule.above = true;

    ctl_rule_verdict_t verdict;
    ctl_rule_verdict (&rule, &verdict);
    cr_assert_str_eq (verdict.rule_id, "c1a2b3c4");
    cr_assert_eq (verdict.state, S_OK);
    cr_assert_str_empty (verdict.why);
    rule.state = S_FIRE;
    rule.since = 1796724000000LL;
    rule.value = 0.25;
    ctl_rule_verdict (&rule, &verdict);
    cr_assert_eq (verdict.since, 1796724000000LL);
    cr_assert_str_eq (verdict.why, "alert c1a2b3c4 is firing: http_error_rate = 0.25 > 0.05");
    rule.value = NAN;
    ctl_rule_verdict (&rule, &verdict);
    cr_assert_str_eq (verdict.why, "alert c1a2b3c4 is firing: http_error_rate = 0 > 0.05");
    rule.state = S_INC;
    rule.samples = 0;
    ctl_rule_verdict (&rule, &verdict);
    cr_assert_str_eq (verdict.why, "alert c1a2b3c4 is inconclusive since 2026-12-08T10:00:00Z: "
                                   "avg(http_error_rate) had 0 samples in 1m00s, it needs 3 to "
                                   "decide");
    rule.query = "sum(errors)";
    rule.samples = 1;
    rule.error = "prometheus query failed: timeout";
    ctl_rule_verdict (&rule, &verdict);
    cr_assert_str_eq (verdict.why, "alert c1a2b3c4 is inconclusive since 2026-12-08T10:00:00Z: "
                                   "avg(sum(errors)) had 1 samples in 1m00s, it needs 3 to decide; "
                                   "prometheus query failed: timeout");
}

Test (rules, a_rollback_rule_acts_on_the_deploy_it_watches)
{
    const int64_t now = 10000000, watch = 1800000;
    static const struct {
        const char *name;
        ctl_watch_plan_t plan;
        bool watched;
    } cases[] = {
        {"a running deploy", {"p1", "deploy", "running", "deploy requested", 9000000, false}, true},
        {"a succeeded deploy", {"p1", "deploy", "succeeded", NULL, 9000000, false}, true},
        {"at the watch's edge", {"p1", "deploy", "succeeded", NULL, 8200000, false}, true},
        {"before the watch", {"p1", "deploy", "succeeded", NULL, 8199999, false}, false},
        {"a failed deploy", {"p1", "deploy", "failed", NULL, 9000000, false}, false},
        {"awaiting approval", {"p1", "deploy", "approval", NULL, 9000000, false}, false},
        {"a rollback", {"p1", "rollback", "succeeded", NULL, 9000000, false}, false},
        {"a task", {"p1", "task", "succeeded", NULL, 9000000, false}, false},
        {"undone already", {"p1", "deploy", "succeeded", NULL, 9000000, true}, false},
        {"a converge plan",
         {"p1", "deploy", "succeeded", "converge: host lacks the environment's release", 9000000,
          false},
         false},
        {"no kind or state", {"p1", NULL, NULL, NULL, 9000000, false}, false},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        cr_assert_eq (ctl_rules_watched (&cases[index].plan, 1, now, watch),
                      cases[index].watched ? 0 : -1, "%s", cases[index].name);
    //  the newest that qualifies, not the newest of all
    ctl_watch_plan_t plans[] = {
        {"p3", "deploy", "succeeded", "converge: x", 9500000, false},
        {"p2", "rollback", "succeeded", NULL, 9400000, false},
        {"p1", "deploy", "running", NULL, 9000000, false},
    };
    cr_assert_eq (ctl_rules_watched (plans, 3, now, watch), 2);
    cr_assert_eq (ctl_rules_watched (plans, 0, now, watch), -1);
}

Test (rules, the_rollback_summary)
{
    ctl_rule_t rule = s_rule ();
    ctl_reading_t reading;
    ctl_rule_reading_start (&rule, 1000, &reading);
    reading.value = 0.25;
    reading.samples = 12;
    reading.hosts = 4;
    char text[512];
    ctl_rule_summary (&rule, &reading, "web", "2.0", true, text, sizeof text);
    cr_assert_str_eq (text, "alert c1a2b3c4 fired: avg(http_error_rate) on prod = 0.25 > 0.05 for "
                            "1m00s (window 1m00s, 12 samples from 4 hosts); rolling back web 2.0");
    rule.query = "sum(errors)";
    rule.above = false;
    ctl_rule_summary (&rule, &reading, "web", "2.0", false, text, sizeof text);
    cr_assert_str_eq (text,
                      "alert c1a2b3c4 fired: prometheus(sum(errors)) on prod = 0.25 < 0.05 "
                      "for 1m00s (window 1m00s, 12 samples from 4 hosts); no known-good release "
                      "to roll back to from web 2.0");
}

// --------------------------------------------------------------------------
//  Canary analysis

//  A host's samples in a case: `count` samples of `value`.
typedef struct {
    const char *name;
    bool canary;
    double value;
    int count;
} s_host_samples_t;

#define S_HOSTS_MAX 6

Test (rules, canary_analysis_judges_the_canary_hosts_on_their_own)
{
    static const struct {
        const char *name;
        const char *scope;    //  canary: NULL (host), aggregate, off
        const char *compare;  //  NULL or baseline
        double ratio, difference;
        bool below;
        const char *aggregate;
        const char *canaries[S_HOSTS_MAX];  //  every canary host, NULL-ended
        s_host_samples_t hosts[S_HOSTS_MAX];
        ctl_rule_cond_t cond;
        const char *host;    //  the host named, "" for none
        const char *detail;  //  in the detail
    } cases[] = {
        {"one bad host of four is not averaged away",
         NULL,
         NULL,
         0,
         0,
         false,
         "avg",
         {"web-1", "web-2", "web-3", "web-4"},
         {{"web-1", true, 0.0, 5},
          {"web-2", true, 0.0, 5},
          {"web-3", true, 0.4, 5},
          {"web-4", true, 0.0, 5}},
         S_T,
         "web-3",
         "canary host web-3: avg(http_error_rate) = 0.4, > 0.05 (5 samples in 1m00s)"},
        {"together the same hosts average to 0.1, still above",
         "aggregate",
         NULL,
         0,
         0,
         false,
         "avg",
         {"web-1", "web-2", "web-3", "web-4"},
         {{"web-1", true, 0.0, 5},
          {"web-2", true, 0.0, 5},
          {"web-3", true, 0.4, 5},
          {"web-4", true, 0.0, 5}},
         S_T,
         "",
         "the canary hosts: avg(http_error_rate) = 0.1, > 0.05"},
        {"together a small excess is averaged away",
         "aggregate",
         NULL,
         0,
         0,
         false,
         "avg",
         {"web-1", "web-2", "web-3", "web-4"},
         {{"web-1", true, 0.0, 5},
          {"web-2", true, 0.0, 5},
          {"web-3", true, 0.08, 5},
          {"web-4", true, 0.0, 5}},
         S_F,
         "",
         "the canary hosts: avg(http_error_rate) = 0.02 within bounds"},
        {"the rest of the fleet does not dilute one canary",
         NULL,
         NULL,
         0,
         0,
         false,
         "avg",
         {"web-1"},
         {{"web-1", true, 0.2, 4}, {"web-2", false, 0.0, 9}, {"web-3", false, 0.0, 9}},
         S_T,
         "web-1",
         "canary host web-1"},
        {"healthy canaries: the worst is named",
         NULL,
         NULL,
         0,
         0,
         false,
         "avg",
         {"web-1", "web-2"},
         {{"web-1", true, 0.01, 3}, {"web-2", true, 0.03, 3}},
         S_F,
         "web-2",
         "worst canary host web-2: avg(http_error_rate) = 0.03 within bounds"},
        {"a canary that sent nothing yet cannot be judged",
         NULL,
         NULL,
         0,
         0,
         false,
         "avg",
         {"web-1", "web-2"},
         {{"web-1", true, 0.0, 5}},
         S_I,
         "web-2",
         "canary host web-2 had 0 samples of http_error_rate in 1m00s, it needs 3 to decide"},
        {"a bad host decides even while another is silent",
         NULL,
         NULL,
         0,
         0,
         false,
         "avg",
         {"web-1", "web-2"},
         {{"web-2", true, 0.9, 5}},
         S_T,
         "web-2",
         "canary host web-2"},
        {"no healthy canary at all",
         NULL,
         NULL,
         0,
         0,
         false,
         "avg",
         {NULL},
         {{NULL, false, 0, 0}},
         S_I,
         "",
         "no healthy canary host"},
        {"twice the baseline by ratio, under the threshold",
         NULL,
         "baseline",
         2,
         0,
         false,
         "avg",
         {"web-1"},
         {{"web-1", true, 0.03, 5}, {"web-2", false, 0.01, 5}, {"web-3", false, 0.01, 5}},
         S_T,
         "web-1",
         "more than 2 x the baseline's 0.01"},
        {"within the ratio",
         NULL,
         "baseline",
         2,
         0,
         false,
         "avg",
         {"web-1"},
         {{"web-1", true, 0.015, 5}, {"web-2", false, 0.01, 5}},
         S_F,
         "web-1",
         "baseline 0.01"},
        {"beyond the difference",
         NULL,
         "baseline",
         0,
         0.01,
         false,
         "avg",
         {"web-1"},
         {{"web-1", true, 0.025, 5}, {"web-2", false, 0.01, 5}},
         S_T,
         "web-1",
         "more than the baseline's 0.01 + 0.01"},
        {"a rule firing below: throughput down by half",
         NULL,
         "baseline",
         0.5,
         0,
         true,
         "avg",
         {"web-1"},
         {{"web-1", true, 40, 5}, {"web-2", false, 100, 5}},
         S_T,
         "web-1",
         "less than 0.5 x the baseline's 100"},
        {"below by difference, within",
         NULL,
         "baseline",
         0,
         30,
         true,
         "avg",
         {"web-1"},
         {{"web-1", true, 80, 5}, {"web-2", false, 100, 5}},
         S_F,
         "web-1",
         "within bounds"},
        {"too thin a baseline cannot be compared",
         NULL,
         "baseline",
         2,
         0,
         false,
         "avg",
         {"web-1"},
         {{"web-1", true, 0.02, 5}, {"web-2", false, 0.01, 2}},
         S_I,
         "",
         "the baseline hosts had 2 samples of http_error_rate in 1m00s, it needs 3 to compare"},
        {"the threshold still decides without a baseline",
         NULL,
         "baseline",
         2,
         0,
         false,
         "avg",
         {"web-1"},
         {{"web-1", true, 0.5, 5}},
         S_T,
         "web-1",
         "> 0.05"},
        {"sum judges each host's mean",
         NULL,
         NULL,
         0,
         0,
         false,
         "sum",
         {"web-1"},
         {{"web-1", true, 0.04, 5}},
         S_F,
         "web-1",
         "sum(http_error_rate) = 0.04"},
        {"aggregate sum is the mean per host",
         "aggregate",
         NULL,
         0,
         0,
         false,
         "sum",
         {"web-1", "web-2"},
         {{"web-1", true, 0.02, 3}, {"web-2", true, 0.04, 3}},
         S_F,
         "",
         "sum(http_error_rate) = 0.03"},
        {"max over a host's samples",
         NULL,
         NULL,
         0,
         0,
         false,
         "max",
         {"web-1"},
         {{"web-1", true, 0.01, 3}, {"web-1", true, 0.06, 1}},
         S_T,
         "web-1",
         "max(http_error_rate) = 0.06"},
        {"off: no analysis",
         "off",
         NULL,
         0,
         0,
         false,
         "avg",
         {"web-1"},
         {{"web-1", true, 0.9, 5}},
         S_F,
         "",
         "no canary analysis"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        ctl_rule_t rule = s_rule ();
        rule.canary = cases[index].scope;
        rule.compare = cases[index].compare;
        rule.ratio = cases[index].ratio;
        rule.difference = cases[index].difference;
        rule.aggregate = cases[index].aggregate;
        if (cases[index].below) {
            rule.above = false;
            rule.threshold = 10;
        }
        ctl_canary_sample_t samples[64];
        size_t count = 0;
        for (size_t host = 0; host < S_HOSTS_MAX && cases[index].hosts[host].name; host++)
            for (int sample = 0; sample < cases[index].hosts[host].count; sample++)
                samples[count++] = (ctl_canary_sample_t){
                    .value = cases[index].hosts[host].value,
                    .host = (uint32_t)(cases[index].hosts[host].name[4] - '0'),
                    .name = cases[index].hosts[host].name,
                    .canary = cases[index].hosts[host].canary};
        size_t canaries = 0;
        while (canaries < S_HOSTS_MAX && cases[index].canaries[canaries])
            canaries++;
        ctl_canary_reading_t reading;
        ctl_rule_canary_reading (&rule, samples, count, cases[index].canaries, canaries, 60000,
                                 &reading);
        cr_assert_eq (reading.cond, cases[index].cond, "%s: cond %d (%s)", cases[index].name,
                      reading.cond, reading.detail);
        cr_assert_str_eq (reading.host, cases[index].host, "%s: host '%s'", cases[index].name,
                          reading.host);
        cr_assert (strstr (reading.detail, cases[index].detail), "%s: detail '%s'",
                   cases[index].name, reading.detail);
    }
}

Test (rules, canary_analysis_of_a_promql_rule_is_off)
{
    ctl_rule_t rule = s_rule ();
    cr_assert_eq (ctl_rule_canary_scope (&rule), CTL_CANARY_HOST);
    rule.canary = "aggregate";
    cr_assert_eq (ctl_rule_canary_scope (&rule), CTL_CANARY_AGGREGATE);
    rule.canary = NULL;
    rule.query = "sum(rate(errors[1m]))";
    cr_assert_eq (ctl_rule_canary_scope (&rule), CTL_CANARY_OFF);
}

Test (rules, canary_verdicts_say_what_was_found)
{
    ctl_rule_t rule = s_rule ();
    ctl_rule_verdict_t verdict;
    ctl_rule_canary_verdict (&rule, S_FIRE, 1000, "canary host web-3: avg(x) = 0.4, > 0.05",
                             &verdict);
    cr_assert_str_eq (verdict.rule_id, "c1a2b3c4");
    cr_assert_eq (verdict.state, S_FIRE);
    cr_assert_str_eq (verdict.why, "canary analysis: alert c1a2b3c4 is firing: canary host "
                                   "web-3: avg(x) = 0.4, > 0.05");
    ctl_rule_canary_verdict (&rule, S_INC, 0, "canary host web-2 had 0 samples", &verdict);
    cr_assert (strstr (verdict.why, "canary analysis: alert c1a2b3c4 is inconclusive since "), "%s",
               verdict.why);
    cr_assert (strstr (verdict.why, ": canary host web-2 had 0 samples"), "%s", verdict.why);
    ctl_rule_canary_verdict (&rule, S_PEND, 0, "whatever", &verdict);
    cr_assert_str_eq (verdict.why, "");
}
