//  test_alerts_repo - alert rules, their sync from controller.yaml and
//  their transitions, on real SQLite files
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_alerts_repo.h"
#include "jad_testlib.h"
#include "jad_testpg.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

JT_PG_SERVER ()

static jt_store_target_t s_target;
static ctl_store_t *s_store;

static void s_setup_on (bool pg)
{
    jt_store_target_new (&s_target, pg, "ctl-alerts-repo");
    s_store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    cr_assert_not_null (s_store);
}

static void setup_sqlite (void)
{
    s_setup_on (false);
}

static void setup_pg (void)
{
    s_setup_on (true);
}

static void teardown (void)
{
    ctl_store_destroy (&s_store);
    jt_store_target_free (&s_target);
}

TestSuite (alerts_repo, .init = setup_sqlite, .fini = teardown);
TestSuite (alerts_repo_pg, .init = setup_pg, .fini = teardown);

static ctl_alert_rule_t s_rule (const char *id, const char *origin, const char *env)
{
    return (ctl_alert_rule_t){.id = (char *)id,
                              .origin = (char *)origin,
                              .env = (char *)env,
                              .metric = "http_error_rate",
                              .aggregate = "avg",
                              .window_ms = 60000,
                              .above = true,
                              .threshold = 0.05,
                              .for_ms = 30000,
                              .min_samples = 3,
                              .action = "rollback"};
}

JT_STORE_TEST (alerts_repo, a_rule_round_trips_and_is_added_once)
{
    ctl_alert_rule_t rule = s_rule ("a1", "api", "prod");
    cr_assert_eq (ctl_alerts_repo_add (s_store, &rule, 1000), 0);
    cr_assert_eq (ctl_alerts_repo_add (s_store, &rule, 2000), 1);
    ctl_alert_rule_t *stored = NULL;
    cr_assert_eq (ctl_alerts_repo_get (s_store, "a1", &stored), 0);
    cr_assert_str_eq (stored->origin, "api");
    cr_assert_str_eq (stored->state, "ok");
    cr_assert_eq (stored->since, 1000);
    cr_assert_eq (stored->created, 1000);
    cr_assert (stored->above);
    cr_assert_float_eq (stored->threshold, 0.05, 1e-12);
    cr_assert_str_eq (stored->action, "rollback");
    cr_assert_null (stored->query);
    cr_assert_not (stored->has_value);
    cr_assert_eq (stored->evaluated, 0);
    ctl_alert_rule_destroy (&stored);
    cr_assert_eq (ctl_alerts_repo_evaluated (s_store, "a1", "pending", 3000, true, 0.5, 7, 2, 3000),
                  0);
    cr_assert_eq (ctl_alerts_repo_get (s_store, "a1", &stored), 0);
    cr_assert_str_eq (stored->state, "pending");
    cr_assert (stored->has_value);
    cr_assert_float_eq (stored->value, 0.5, 1e-12);
    cr_assert_eq (stored->samples, 7);
    cr_assert_eq (stored->hosts, 2);
    cr_assert_eq (stored->evaluated, 3000);
    ctl_alert_rule_destroy (&stored);
    cr_assert_eq (
        ctl_alerts_repo_evaluated (s_store, "a1", "inconclusive", 4000, false, 0, 0, 0, 4000), 0);
    cr_assert_eq (ctl_alerts_repo_get (s_store, "a1", &stored), 0);
    cr_assert_not (stored->has_value, "a reading without a value stores none");
    ctl_alert_rule_destroy (&stored);
    cr_assert_eq (ctl_alerts_repo_remove (s_store, "a1"), 0);
    cr_assert_eq (ctl_alerts_repo_get (s_store, "a1", &stored), 1);
}

JT_STORE_TEST (alerts_repo, config_rules_sync_keeping_the_state_of_unchanged_ones)
{
    ctl_alert_rule_t api = s_rule ("a1", "api", "prod");
    cr_assert_eq (ctl_alerts_repo_add (s_store, &api, 1000), 0);
    ctl_alert_rule_t first[] = {s_rule ("c1", "config", "prod"), s_rule ("c2", "config", "dev")};
    cr_assert_eq (ctl_alerts_repo_sync_config (s_store, first, 2, 1000), 0);
    cr_assert_eq (ctl_alerts_repo_evaluated (s_store, "c1", "firing", 1500, true, 1, 3, 1, 1500),
                  0);
    //  c2 gone from the file, c3 new, c1 unchanged
    ctl_alert_rule_t second[] = {s_rule ("c1", "config", "prod"), s_rule ("c3", "config", "dev")};
    cr_assert_eq (ctl_alerts_repo_sync_config (s_store, second, 2, 2000), 0);
    zlistx_t *rules = ctl_alerts_repo_rules (s_store, false);
    cr_assert_eq (zlistx_size (rules), 3);
    ctl_alert_rule_t *rule = zlistx_first (rules);
    cr_assert_str_eq (rule->id, "a1", "an api rule is not the file's to remove");
    rule = zlistx_next (rules);
    cr_assert_str_eq (rule->id, "c1");
    cr_assert_str_eq (rule->state, "firing", "an unchanged rule lost its state");
    rule = zlistx_next (rules);
    cr_assert_str_eq (rule->id, "c3");
    cr_assert_eq (rule->since, 2000);
    zlistx_destroy (&rules);
    rules = ctl_alerts_repo_rules (s_store, true);
    cr_assert_str_eq (((ctl_alert_rule_t *)zlistx_first (rules))->env, "dev");
    zlistx_destroy (&rules);
    //  an empty file removes every config rule
    cr_assert_eq (ctl_alerts_repo_sync_config (s_store, NULL, 0, 3000), 0);
    rules = ctl_alerts_repo_rules (s_store, false);
    cr_assert_eq (zlistx_size (rules), 1);
    zlistx_destroy (&rules);
}

JT_STORE_TEST (alerts_repo, transitions_and_the_rollouts_questions)
{
    ctl_alert_rule_t rules[] = {s_rule ("b", "config", "prod"), s_rule ("a", "config", "prod")};
    cr_assert_eq (ctl_alerts_repo_sync_config (s_store, rules, 2, 1000), 0);
    ctl_alert_rule_t *rule = NULL;
    cr_assert_eq (ctl_alerts_repo_firing (s_store, "prod", &rule), 1);
    cr_assert_eq (ctl_alerts_repo_evaluated (s_store, "b", "firing", 2000, true, 0.9, 5, 2, 2000),
                  0);
    cr_assert_eq (
        ctl_alerts_repo_evaluated (s_store, "a", "inconclusive", 2500, false, 0, 1, 1, 2500), 0);
    ctl_alert_event_t event = {.rule_id = "a",
                               .time = 2500,
                               .from_state = "ok",
                               .to_state = "inconclusive",
                               .samples = 1,
                               .hosts = 1,
                               .error = "prometheus query failed",
                               .detail = "{}"};
    cr_assert_eq (ctl_alerts_repo_event_add (s_store, &event), 0);
    event = (ctl_alert_event_t){.rule_id = "b",
                                .time = 2000,
                                .from_state = "pending",
                                .to_state = "firing",
                                .has_value = true,
                                .value = 0.9,
                                .detail = "{}"};
    cr_assert_eq (ctl_alerts_repo_event_add (s_store, &event), 0);
    cr_assert_eq (ctl_alerts_repo_firing (s_store, "prod", &rule), 0);
    cr_assert_str_eq (rule->id, "b");
    ctl_alert_rule_destroy (&rule);
    cr_assert_eq (ctl_alerts_repo_firing (s_store, "dev", &rule), 1);
    cr_assert_eq (ctl_alerts_repo_inconclusive (s_store, "prod", 2000, &rule), 0);
    cr_assert_str_eq (rule->id, "a");
    cr_assert_str_eq (rule->error, "prometheus query failed");
    ctl_alert_rule_destroy (&rule);
    //  an operator who resumed after it saw it
    cr_assert_eq (ctl_alerts_repo_inconclusive (s_store, "prod", 2500, &rule), 1);
    zlistx_t *events = ctl_alerts_repo_events (s_store, 10);
    cr_assert_eq (zlistx_size (events), 2);
    ctl_alert_event_t *newest = zlistx_first (events);
    cr_assert_str_eq (newest->rule_id, "b", "newest first");
    cr_assert (newest->has_value);
    ctl_alert_event_t *oldest = zlistx_next (events);
    cr_assert_not (oldest->has_value);
    cr_assert_str_eq (oldest->error, "prometheus query failed");
    zlistx_destroy (&events);
}

JT_STORE_TEST (alerts_repo, canary_analysis_settings_and_states_round_trip)
{
    ctl_alert_rule_t rule = s_rule ("c1", "config", "prod");
    rule.canary = "aggregate";
    rule.compare = "baseline";
    rule.difference = 0.25;
    cr_assert_eq (ctl_alerts_repo_add (s_store, &rule, 1000), 0);
    ctl_alert_rule_t plain = s_rule ("c2", "config", "prod");
    cr_assert_eq (ctl_alerts_repo_add (s_store, &plain, 1000), 0);
    ctl_alert_rule_t *read = NULL;
    cr_assert_eq (ctl_alerts_repo_get (s_store, "c1", &read), 0);
    cr_assert_str_eq (read->canary, "aggregate");
    cr_assert_str_eq (read->compare, "baseline");
    cr_assert_float_eq (read->ratio, 0, 1e-12);
    cr_assert_float_eq (read->difference, 0.25, 1e-12);
    ctl_alert_rule_destroy (&read);
    cr_assert_eq (ctl_alerts_repo_get (s_store, "c2", &read), 0);
    cr_assert_null (read->canary);
    cr_assert_null (read->compare);
    ctl_alert_rule_destroy (&read);

    //  one state per plan and rule, replaced in place; a value it did
    //  not have reads back as none
    ctl_canary_state_t state = {.plan_id = "p1",
                                .rule_id = "c2",
                                .state = "inconclusive",
                                .since = 2000,
                                .samples = 0,
                                .hosts = 0,
                                .host = "web-2",
                                .detail = "canary host web-2 had 0 samples",
                                .evaluated = 2000};
    cr_assert_eq (ctl_alerts_repo_canary_put (s_store, &state), 0);
    state.rule_id = "c1";
    state.state = "firing";
    state.has_value = true;
    state.value = 0.4;
    state.has_baseline = true;
    state.baseline = 0.01;
    state.host = NULL;
    state.detail = "the canary hosts: avg(http_error_rate) = 0.4";
    cr_assert_eq (ctl_alerts_repo_canary_put (s_store, &state), 0);
    state.evaluated = 3000;
    cr_assert_eq (ctl_alerts_repo_canary_put (s_store, &state), 0);
    state.plan_id = "p2";
    cr_assert_eq (ctl_alerts_repo_canary_put (s_store, &state), 0);

    zlistx_t *states = ctl_alerts_repo_canary_states (s_store, "p1");
    cr_assert_not_null (states);
    cr_assert_eq (zlistx_size (states), 2);
    ctl_canary_state_t *first = zlistx_first (states);
    cr_assert_str_eq (first->rule_id, "c1");
    cr_assert_str_eq (first->state, "firing");
    cr_assert (first->has_value && first->has_baseline);
    cr_assert_float_eq (first->value, 0.4, 1e-12);
    cr_assert_float_eq (first->baseline, 0.01, 1e-12);
    cr_assert_null (first->host);
    cr_assert_eq (first->evaluated, 3000);
    ctl_canary_state_t *second = zlistx_next (states);
    cr_assert_str_eq (second->rule_id, "c2");
    cr_assert_str_eq (second->state, "inconclusive");
    cr_assert_not (second->has_value || second->has_baseline);
    cr_assert_str_eq (second->host, "web-2");
    cr_assert_str_eq (second->detail, "canary host web-2 had 0 samples");
    cr_assert_eq (second->since, 2000);
    zlistx_destroy (&states);
    states = ctl_alerts_repo_canary_states (s_store, "nothing");
    cr_assert_not_null (states);
    cr_assert_eq (zlistx_size (states), 0);
    zlistx_destroy (&states);
}
