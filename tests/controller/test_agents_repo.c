//  test_agents_repo - agents, their apps, operators, audit and the
//  enrollment tokens, on real SQLite files
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_agents_repo.h"
#include "ctl_store_internal.h"
#include "jad_testlib.h"
#include "jad_testpg.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

JT_PG_SERVER ()

static jt_store_target_t s_target;
static ctl_store_t *s_store;

static void s_setup_on (bool pg)
{
    jt_store_target_new (&s_target, pg, "ctl-agents-repo");
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

TestSuite (agents_repo, .init = setup_sqlite, .fini = teardown);
TestSuite (agents_repo_pg, .init = setup_pg, .fini = teardown);

//  "a,b,c" of a list of strings.
static char *s_joined (zlistx_t *list)
{
    char *text = calloc (1, 1024);
    for (char *item = list ? zlistx_first (list) : NULL; item; item = zlistx_next (list))
        snprintf (text + strlen (text), 1024 - strlen (text), "%s%s", *text ? "," : "", item);
    return text;
}

JT_STORE_TEST (agents_repo, an_agent_round_trips_by_key_and_name)
{
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-1", "K1", "prod", "pending", 1000), 0);
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-1", "K9", "prod", "pending", 1000), -1,
                  "a name taken twice");
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-9", "K1", "prod", "pending", 1000), -1,
                  "a key taken twice");
    ctl_agent_t *agent = NULL;
    cr_assert_eq (ctl_agents_repo_by_key (s_store, "K1", &agent), 0);
    cr_assert_str_eq (agent->name, "web-1");
    cr_assert_str_eq (agent->env, "prod");
    cr_assert_str_eq (agent->state, "pending");
    cr_assert_eq (agent->created, 1000);
    cr_assert_eq (agent->last_seen, 1000);
    cr_assert_null (agent->apps);
    ctl_agent_destroy (&agent);
    ctl_agent_destroy (&agent);
    cr_assert_eq (ctl_agents_repo_by_key (s_store, "nobody", &agent), 1);
    cr_assert_null (agent);
    cr_assert_eq (ctl_agents_repo_set_state (s_store, "web-1", "accepted"), 0);
    ctl_agent_seen_t seen = {.last_seen = 2000,
                             .incarnation = "inc-1",
                             .last_sequence = 7,
                             .refusals = "{\"replay\": 2}",
                             .stale = true,
                             .stale_alarms = 3};
    cr_assert_eq (ctl_agents_repo_seen (s_store, "web-1", &seen), 0);
    cr_assert_eq (ctl_agents_repo_by_name (s_store, "web-1", &agent), 0);
    cr_assert_str_eq (agent->state, "accepted");
    cr_assert_str_eq (agent->incarnation, "inc-1");
    cr_assert_str_eq (agent->refusals, "{\"replay\": 2}");
    cr_assert_eq (agent->last_sequence, 7);
    cr_assert (agent->stale);
    cr_assert_eq (agent->stale_alarms, 3);
    ctl_agent_destroy (&agent);
    cr_assert_eq (ctl_agents_repo_touch (s_store, "web-1", 3000), 0);
    cr_assert_eq (ctl_agents_repo_by_name (s_store, "web-1", &agent), 0);
    cr_assert_eq (agent->last_seen, 3000);
    ctl_agent_destroy (&agent);
}

JT_STORE_TEST (agents_repo, a_removed_name_is_retired_and_its_key_stays_known)
{
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-1", "K1", "prod", "accepted", 1000), 0);
    //  not removed: nothing happens
    cr_assert_eq (ctl_agents_repo_retire_name (s_store, "web-1", 5000), 0);
    ctl_agent_t *agent = NULL;
    cr_assert_eq (ctl_agents_repo_by_name (s_store, "web-1", &agent), 0);
    ctl_agent_destroy (&agent);
    cr_assert_eq (ctl_agents_repo_set_state (s_store, "web-1", "removed"), 0);
    cr_assert_eq (ctl_agents_repo_retire_name (s_store, "web-1", 5000), 0);
    cr_assert_eq (ctl_agents_repo_by_name (s_store, "web-1", &agent), 1);
    cr_assert_eq (ctl_agents_repo_by_key (s_store, "K1", &agent), 0);
    cr_assert_str_eq (agent->name, "web-1.removed-5000");
    cr_assert_str_eq (agent->state, "removed");
    ctl_agent_destroy (&agent);
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-1", "K2", "prod", "pending", 6000), 0);
    cr_assert_eq (ctl_agents_repo_key_known (s_store, "K1"), 1);
    cr_assert_eq (ctl_agents_repo_key_known (s_store, "K3"), 0);
}

//  Row 32: one agent cannot grow agent_apps without bound.
JT_STORE_TEST (agents_repo, apps_over_the_agents_cap_are_refused)
{
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-1", "K1", "prod", "accepted", 1), 0);
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-2", "K2", "prod", "accepted", 1), 0);
    char app[16];
    for (int index = 0; index < 3; index++) {
        snprintf (app, sizeof app, "app%d", index);
        cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-1", app, "1", "healthy", NULL, 5, 3),
                      0);
    }
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-1", "app3", "1", "healthy", NULL, 5, 3), 1,
                  "a fourth app was added over a cap of 3");
    //  at its cap an agent still updates the apps it has; another agent has its own cap
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-1", "app1", "2", "failed", NULL, 6, 3), 0);
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-2", "app3", "1", "healthy", NULL, 5, 3),
                  0);
    zlistx_t *fleet = ctl_agents_repo_fleet (s_store, NULL, NULL);
    ctl_agent_t *agent = zlistx_first (fleet);
    cr_assert_str_eq (agent->name, "web-1");
    cr_assert_eq (zlistx_size (agent->apps), 3);
    zlistx_destroy (&fleet);
}

//  A plan `id` that targets `agent` (the rows a deploy makes).
static void s_plan_hosts (const char *id, const char *agent)
{
    ctl_sql_exec (ctl_store_sql (s_store),
                  "INSERT INTO plans (id, app, version, env, kind, strategy, state, created, "
                  "progress, seq) VALUES ($1, 'web', '1.0', 'prod', 'deploy', 'all', 'running', 1, "
                  "1, (SELECT coalesce (max (seq), 0) + 1 FROM plans)) ON CONFLICT (id) DO NOTHING",
                  "t", id);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (s_store),
                                "INSERT INTO plan_hosts (plan_id, agent, state) VALUES ($1, $2, "
                                "'applying')",
                                "tt", id, agent),
                  1);
}

JT_STORE_TEST (agents_repo, versions_from_unknown_or_foreign_plans_change_nothing)
{
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-1", "K1", "prod", "accepted", 1), 0);
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-2", "K2", "prod", "accepted", 1), 0);
    s_plan_hosts ("p1", "web-1");
    //  the agent's own view (no plan) and its plan's: stored
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-1", "web", "1.0", "healthy", "p1", 5, 0),
                  0);
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-1", "api", "2.0", "healthy", NULL, 5, 0),
                  0);
    //  a plan nobody knows, and a plan for another host: nothing changes
    cr_assert_eq (
        ctl_agents_repo_app_set (s_store, "web-1", "web", "6.6", "healthy", "ghost", 6, 0), 0);
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-2", "web", "6.6", "healthy", "p1", 6, 0),
                  0);
    for (int index = 0; index < 10000 / 1000; index++) {
        char app[32];
        snprintf (app, sizeof app, "junk-%d", index);
        cr_assert_eq (
            ctl_agents_repo_app_set (s_store, "web-1", app, "1", "healthy", "ghost", 7, 0), 0);
    }
    zlistx_t *fleet = ctl_agents_repo_fleet (s_store, "prod", NULL);
    ctl_agent_t *agent = zlistx_first (fleet);
    cr_assert_str_eq (agent->name, "web-1");
    cr_assert_eq (zlistx_size (agent->apps), 2, "unknown plans added apps");
    ctl_agent_app_t *entry = zlistx_last (agent->apps);
    cr_assert_str_eq (entry->app, "web");
    cr_assert_str_eq (entry->version, "1.0");
    agent = zlistx_next (fleet);
    cr_assert_str_eq (agent->name, "web-2");
    cr_assert_eq (zlistx_size (agent->apps), 0, "another host's plan changed web-2");
    zlistx_destroy (&fleet);
}

JT_STORE_TEST (agents_repo, the_fleet_is_ordered_by_env_name_and_app_and_filters)
{
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-2", "K2", "prod", "accepted", 1), 0);
    cr_assert_eq (ctl_agents_repo_add (s_store, "web-1", "K1", "prod", "accepted", 1), 0);
    cr_assert_eq (ctl_agents_repo_add (s_store, "dev-1", "K3", "dev", "pending", 1), 0);
    cr_assert_eq (ctl_agents_repo_add (s_store, "old-1", "K4", "prod", "removed", 1), 0);
    s_plan_hosts ("p1", "web-1");
    s_plan_hosts ("p2", "web-1");
    s_plan_hosts ("p3", "web-1");
    s_plan_hosts ("p3", "web-2");
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-1", "web", "1.0", "healthy", "p1", 5, 0),
                  0);
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-1", "api", "2.0", "healthy", "p2", 5, 0),
                  0);
    //  an update of the same (agent, app) replaces it
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-1", "web", "1.1", "failed", "p3", 6, 0),
                  0);
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "web-2", "web", "1.1", "healthy", "p3", 6, 0),
                  0);
    zlistx_t *fleet = ctl_agents_repo_fleet (s_store, NULL, NULL);
    cr_assert_eq (zlistx_size (fleet), 3, "removed agents are not in the fleet");
    ctl_agent_t *agent = zlistx_first (fleet);
    cr_assert_str_eq (agent->name, "dev-1");
    cr_assert_eq (zlistx_size (agent->apps), 0);
    agent = zlistx_next (fleet);
    cr_assert_str_eq (agent->name, "web-1");
    cr_assert_eq (zlistx_size (agent->apps), 2);
    ctl_agent_app_t *entry = zlistx_first (agent->apps);
    cr_assert_str_eq (entry->app, "api");
    entry = zlistx_next (agent->apps);
    cr_assert_str_eq (entry->app, "web");
    cr_assert_str_eq (entry->version, "1.1");
    cr_assert_str_eq (entry->health, "failed");
    cr_assert_str_eq (entry->plan_id, "p3");
    cr_assert_eq (entry->updated, 6);
    zlistx_destroy (&fleet);
    fleet = ctl_agents_repo_fleet (s_store, "prod", "web");
    cr_assert_eq (zlistx_size (fleet), 2);
    agent = zlistx_first (fleet);
    cr_assert_eq (zlistx_size (agent->apps), 1, "the app filter keeps only that app");
    zlistx_destroy (&fleet);
    zlistx_t *all = ctl_agents_repo_list (s_store);
    cr_assert_eq (zlistx_size (all), 4, "the list has removed agents too");
    zlistx_destroy (&all);
    zlistx_t *names = ctl_agents_repo_accepted (s_store, "prod");
    char *joined = s_joined (names);
    cr_assert_str_eq (joined, "web-1,web-2");
    free (joined);
    zlistx_destroy (&names);
    names = ctl_agents_repo_running (s_store, "prod", "api");
    joined = s_joined (names);
    cr_assert_str_eq (joined, "web-1");
    free (joined);
    zlistx_destroy (&names);
    char *version = NULL;
    cr_assert_eq (ctl_agents_repo_common_version (s_store, "prod", "web", &version), 0);
    cr_assert_str_eq (version, "1.1");
    free (version);
    cr_assert_eq (ctl_agents_repo_common_version (s_store, "dev", "web", &version), 1);
}

JT_STORE_TEST (agents_repo, tallies_count_online_and_app_hosts)
{
    cr_assert_eq (ctl_agents_repo_add (s_store, "a", "K1", "prod", "accepted", 1000), 0);
    cr_assert_eq (ctl_agents_repo_add (s_store, "b", "K2", "prod", "accepted", 5000), 0);
    cr_assert_eq (ctl_agents_repo_add (s_store, "c", "K3", "prod", "pending", 5000), 0);
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "a", "web", NULL, NULL, NULL, 1, 0), 0);
    zlistx_t *tallies = ctl_agents_repo_state_tally (s_store, 4000);
    cr_assert_eq (zlistx_size (tallies), 3);
    ctl_tally_t *tally = zlistx_first (tallies);
    cr_assert_str_eq (tally->labels[1], "offline");
    tally = zlistx_next (tallies);
    cr_assert_str_eq (tally->labels[1], "online");
    cr_assert_eq (tally->count, 1);
    tally = zlistx_next (tallies);
    cr_assert_str_eq (tally->labels[1], "pending");
    zlistx_destroy (&tallies);
    tallies = ctl_agents_repo_app_tally (s_store);
    cr_assert_eq (zlistx_size (tallies), 1);
    tally = zlistx_first (tallies);
    cr_assert_str_eq (tally->labels[2], "");
    cr_assert_str_eq (tally->labels[3], "unknown");
    zlistx_destroy (&tallies);
}

JT_STORE_TEST (agents_repo, operators_round_trip)
{
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "zoe", "OZ", "viewer", NULL, 10), 0);
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "amy", "OA", "admin,deployer", NULL, 20),
                  0);
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "amy", "OB", "admin", NULL, 20), -1);
    ctl_operator_t *found = NULL;
    cr_assert_eq (ctl_agents_repo_operator_by_key (s_store, "OA", &found), 0);
    cr_assert_str_eq (found->name, "amy");
    cr_assert_str_eq (found->roles, "admin,deployer");
    ctl_operator_destroy (&found);
    cr_assert_eq (ctl_agents_repo_operator_by_name (s_store, "zoe", &found), 0);
    cr_assert_eq (found->created, 10);
    ctl_operator_destroy (&found);
    cr_assert_eq (ctl_agents_repo_operator_by_name (s_store, "bob", &found), 1);
    zlistx_t *list = ctl_agents_repo_operators (s_store);
    cr_assert_eq (zlistx_size (list), 2);
    cr_assert_str_eq (((ctl_operator_t *)zlistx_first (list))->name, "amy");
    zlistx_destroy (&list);
    cr_assert_eq (ctl_agents_repo_key_known (s_store, "OZ"), 1);
}

JT_STORE_TEST (agents_repo, an_operator_may_have_one_signing_key_of_its_own)
{
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "amy", "OA", "tech-lead", "5A", 10), 0);
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "zoe", "OZ", "viewer", NULL, 10), 0);
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "bob", "OB", "qa", NULL, 10), 0,
                  "many operators without a signing key");
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "eve", "OE", "qa", "5A", 10), -1,
                  "a signing key is one operator's");
    ctl_operator_t *found = NULL;
    cr_assert_eq (ctl_agents_repo_operator_by_name (s_store, "amy", &found), 0);
    cr_assert_str_eq (found->signing_key, "5A");
    ctl_operator_destroy (&found);
    cr_assert_eq (ctl_agents_repo_operator_by_key (s_store, "OZ", &found), 0);
    cr_assert_null (found->signing_key);
    ctl_operator_destroy (&found);
    zlistx_t *list = ctl_agents_repo_operators (s_store);
    cr_assert_str_eq (((ctl_operator_t *)zlistx_first (list))->signing_key, "5A");
    zlistx_destroy (&list);
}

//  Row 42: a removed key keeps its row, renamed, so that it stays refused
//  and is never registered again; the name is free again
JT_STORE_TEST (agents_repo, a_removed_operator_keeps_its_key_refused_and_frees_its_name)
{
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "amy", "OA", "tech-lead", "5A", 10), 0);
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "zoe", "OZ", "viewer", NULL, 10), 0);
    cr_assert_eq (ctl_agents_repo_operator_remove (s_store, "amy", 500), 0);
    cr_assert_eq (ctl_agents_repo_operator_remove (s_store, "amy", 600), 1, "removed already");
    cr_assert_eq (ctl_agents_repo_operator_remove (s_store, "bob", 600), 1, "no such operator");
    ctl_operator_t *found = NULL;
    cr_assert_eq (ctl_agents_repo_operator_by_name (s_store, "amy", &found), 1);
    cr_assert_eq (ctl_agents_repo_operator_by_key (s_store, "OA", &found), 0);
    cr_assert_str_eq (found->name, "amy.removed-500");
    cr_assert_str_eq (ctl_operator_shown_name (found), "amy");
    cr_assert_eq (found->retired, 500);
    cr_assert_str_eq (found->retired_as, "removed");
    cr_assert_str_eq (found->signing_key, "5A", "kept, so no one registers it again");
    ctl_operator_destroy (&found);
    cr_assert_eq (ctl_agents_repo_key_known (s_store, "OA"), 1);
    zlistx_t *list = ctl_agents_repo_operators_current (s_store, 1000);
    cr_assert_eq (zlistx_size (list), 1);
    cr_assert_str_eq (((ctl_operator_t *)zlistx_first (list))->name, "zoe");
    zlistx_destroy (&list);
    list = ctl_agents_repo_operators (s_store);
    cr_assert_eq (zlistx_size (list), 2, "the list keeps the removed key");
    zlistx_destroy (&list);
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "amy", "OA2", "tech-lead", NULL, 700), 0,
                  "the name is free again");
    cr_assert_eq (ctl_agents_repo_operator_set_expires (s_store, "amy.removed-500", 9), 1,
                  "a retired row changes no more");
}

JT_STORE_TEST (agents_repo, operators_expire_and_are_renewed)
{
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "amy", "OA", "tech-lead", NULL, 10), 0);
    ctl_operator_t *found = NULL;
    cr_assert_eq (ctl_agents_repo_operator_by_name (s_store, "amy", &found), 0);
    cr_assert_eq (found->expires, 0, "never, unless told");
    ctl_operator_destroy (&found);
    cr_assert_eq (ctl_agents_repo_operator_set_expires (s_store, "amy", 100), 0);
    cr_assert_eq (ctl_agents_repo_operator_set_expires (s_store, "bob", 100), 1);
    zlistx_t *list = ctl_agents_repo_operators_current (s_store, 99);
    cr_assert_eq (zlistx_size (list), 1);
    zlistx_destroy (&list);
    list = ctl_agents_repo_operators_current (s_store, 100);
    cr_assert_eq (zlistx_size (list), 0, "expired at its time");
    zlistx_destroy (&list);
    cr_assert_eq (ctl_agents_repo_operator_set_expires (s_store, "amy", 0), 0);
    list = ctl_agents_repo_operators_current (s_store, 100000);
    cr_assert_eq (zlistx_size (list), 1, "renewed for ever");
    zlistx_destroy (&list);
    cr_assert_eq (ctl_agents_repo_operator_set_signing_key (s_store, "amy", "5A"), 0);
    cr_assert_eq (ctl_agents_repo_operator_set_signing_key (s_store, "amy", "5B"), 1,
                  "a signing key is replaced by rotation only");
    cr_assert_eq (ctl_agents_repo_operator_by_name (s_store, "amy", &found), 0);
    cr_assert_str_eq (found->signing_key, "5A");
    ctl_operator_destroy (&found);
}

JT_STORE_TEST (agents_repo, a_rotated_key_is_retired_and_the_new_one_keeps_the_operator)
{
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "amy", "OA", "tech-lead,qa", "5A", 10), 0);
    cr_assert_eq (ctl_agents_repo_operator_set_expires (s_store, "amy", 9000), 0);
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "zoe", "OZ", "viewer", "5Z", 10), 0);
    //  the CURVE key only: the signing key moves to the new row
    cr_assert_eq (ctl_agents_repo_operator_rotate (s_store, "amy", "OA2", NULL, -1, 100), 0);
    ctl_operator_t *found = NULL;
    cr_assert_eq (ctl_agents_repo_operator_by_name (s_store, "amy", &found), 0);
    cr_assert_str_eq (found->public_key, "OA2");
    cr_assert_str_eq (found->roles, "tech-lead,qa");
    cr_assert_str_eq (found->signing_key, "5A");
    cr_assert_eq (found->created, 10);
    cr_assert_eq (found->expires, 9000);
    cr_assert_eq (found->retired, 0);
    ctl_operator_destroy (&found);
    cr_assert_eq (ctl_agents_repo_operator_by_key (s_store, "OA", &found), 0);
    cr_assert_str_eq (found->name, "amy.rotated-100");
    cr_assert_str_eq (found->retired_as, "rotated");
    cr_assert_null (found->signing_key);
    ctl_operator_destroy (&found);
    //  both keys, a new expiry: the old signing key stays with the old row
    cr_assert_eq (ctl_agents_repo_operator_rotate (s_store, "amy", "OA3", "5B", 20000, 200), 0);
    cr_assert_eq (ctl_agents_repo_operator_by_key (s_store, "OA2", &found), 0);
    cr_assert_str_eq (found->signing_key, "5A");
    ctl_operator_destroy (&found);
    cr_assert_eq (ctl_agents_repo_operator_by_name (s_store, "amy", &found), 0);
    cr_assert_str_eq (found->signing_key, "5B");
    cr_assert_eq (found->expires, 20000);
    ctl_operator_destroy (&found);
    //  a key taken changes nothing
    cr_assert_eq (ctl_agents_repo_operator_rotate (s_store, "amy", "OZ", NULL, -1, 300), -1);
    cr_assert_eq (ctl_agents_repo_operator_rotate (s_store, "amy", "OA4", "5Z", -1, 300), -1);
    cr_assert_eq (ctl_agents_repo_operator_by_name (s_store, "amy", &found), 0);
    cr_assert_str_eq (found->public_key, "OA3");
    ctl_operator_destroy (&found);
    cr_assert_eq (ctl_agents_repo_operator_by_key (s_store, "OA4", &found), 1);
    cr_assert_eq (ctl_agents_repo_operator_rotate (s_store, "bob", "OB", NULL, -1, 300), 1);
    zlistx_t *list = ctl_agents_repo_operators (s_store);
    cr_assert_eq (zlistx_size (list), 4, "amy's two old keys, amy, zoe");
    zlistx_destroy (&list);
}

JT_STORE_TEST (agents_repo, the_audit_log_is_ordered_bounded_and_append_only)
{
    for (int index = 0; index < 5; index++) {
        char command[16];
        snprintf (command, sizeof command, "cmd%d", index);
        cr_assert_eq (
            ctl_agents_repo_audit_append (s_store, "amy", command, NULL, "ok", 100 * index), 0);
    }
    //  the last three at or after 100, oldest first
    zlistx_t *list = ctl_agents_repo_audit (s_store, 100, 3);
    cr_assert_eq (zlistx_size (list), 3);
    ctl_audit_entry_t *entry = zlistx_first (list);
    cr_assert_str_eq (entry->command, "cmd2");
    cr_assert_eq (entry->time, 200);
    cr_assert_null (entry->args);
    int64_t previous = entry->id;
    while ((entry = zlistx_next (list))) {
        cr_assert_gt (entry->id, previous);
        previous = entry->id;
    }
    zlistx_destroy (&list);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (s_store), "DELETE FROM audit", ""), -1);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (s_store), "UPDATE audit SET outcome = 'x'", ""), -1);
    list = ctl_agents_repo_audit (s_store, 0, 1000);
    cr_assert_eq (zlistx_size (list), 5);
    zlistx_destroy (&list);
}

JT_STORE_TEST (agents_repo, enrollment_tokens_are_kept_by_hash_spent_and_revoked)
{
    zlistx_t *list = ctl_agents_repo_tokens (s_store);
    cr_assert_eq (zlistx_size (list), 0);
    zlistx_destroy (&list);
    ctl_enroll_token_t once = {.id = "t1",
                               .envs = "dev,staging",
                               .expires = 9000,
                               .uses_left = 1,
                               .created_by = "admin",
                               .created = 1000};
    ctl_enroll_token_t any = {.id = "t2",
                              .envs = "*",
                              .expires = 9000,
                              .uses_left = -1,
                              .created_by = "init",
                              .created = 2000};
    cr_assert_eq (ctl_agents_repo_token_add (s_store, &once, "aa"), 0);
    cr_assert_eq (ctl_agents_repo_token_add (s_store, &any, "bb"), 0);
    cr_assert_eq (ctl_agents_repo_token_add (s_store, &any, "cc"), -1, "ids are unique");
    ctl_enroll_token_t *found = NULL;
    cr_assert_eq (ctl_agents_repo_token_by_hash (s_store, "zz", &found), 1);
    cr_assert_eq (ctl_agents_repo_token_by_hash (s_store, "aa", &found), 0);
    cr_assert_str_eq (found->id, "t1");
    cr_assert_str_eq (found->envs, "dev,staging");
    cr_assert_eq (found->uses_left, 1);
    cr_assert_eq (found->revoked, 0);
    ctl_enroll_token_destroy (&found);
    //  one use, then none; unlimited stays unlimited
    cr_assert_eq (ctl_agents_repo_token_spend (s_store, "t1"), 0);
    cr_assert_eq (ctl_agents_repo_token_spend (s_store, "t1"), 1);
    cr_assert_eq (ctl_agents_repo_token_spend (s_store, "t2"), 0);
    cr_assert_eq (ctl_agents_repo_token_spend (s_store, "nope"), 1);
    cr_assert_eq (ctl_agents_repo_token_by_hash (s_store, "bb", &found), 0);
    cr_assert_eq (found->uses_left, -1);
    ctl_enroll_token_destroy (&found);
    cr_assert_eq (ctl_agents_repo_token_revoke (s_store, "t2", 5000), 0);
    cr_assert_eq (ctl_agents_repo_token_revoke (s_store, "t2", 6000), 1, "revoked once");
    cr_assert_eq (ctl_agents_repo_token_revoke (s_store, "nope", 6000), 1);
    list = ctl_agents_repo_tokens (s_store);
    cr_assert_eq (zlistx_size (list), 2);
    ctl_enroll_token_t *first = zlistx_first (list);
    cr_assert_str_eq (first->id, "t2", "newest first");
    cr_assert_eq (first->revoked, 5000);
    zlistx_destroy (&list);
}

JT_STORE_TEST (agents_repo, pending_agents_are_counted_by_address_and_dropped_only_when_pending)
{
    cr_assert_eq (ctl_agents_repo_add (s_store, "p1", "K1", "dev", "pending", 1), 0);
    cr_assert_eq (ctl_agents_repo_add (s_store, "p2", "K2", "dev", "pending", 1), 0);
    cr_assert_eq (ctl_agents_repo_add (s_store, "a1", "K3", "dev", "accepted", 1), 0);
    cr_assert_eq (ctl_agents_repo_set_address (s_store, "p1", "10.0.0.1"), 0);
    cr_assert_eq (ctl_agents_repo_set_address (s_store, "a1", "10.0.0.1"), 0);
    cr_assert_eq (ctl_agents_repo_pending_count (s_store, NULL), 2);
    cr_assert_eq (ctl_agents_repo_pending_count (s_store, "10.0.0.1"), 1);
    cr_assert_eq (ctl_agents_repo_pending_count (s_store, "10.0.0.2"), 0);
    cr_assert_eq (ctl_agents_repo_drop_pending (s_store, "a1"), 1, "accepted agents stay");
    cr_assert_eq (ctl_agents_repo_drop_pending (s_store, "p1"), 0);
    cr_assert_eq (ctl_agents_repo_pending_count (s_store, NULL), 1);
    ctl_agent_t *agent = NULL;
    cr_assert_eq (ctl_agents_repo_by_name (s_store, "p1", &agent), 1);
    cr_assert_eq (ctl_agents_repo_by_name (s_store, "a1", &agent), 0);
    cr_assert_str_eq (agent->address, "10.0.0.1");
    ctl_agent_destroy (&agent);
}
