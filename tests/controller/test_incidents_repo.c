//  test_incidents_repo - incidents, notes and the post-mortem timeline, on
//  real SQLite files and a real PostgreSQL
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_agents_repo.h"
#include "ctl_alerts_repo.h"
#include "ctl_incidents_repo.h"
#include "ctl_plans_repo.h"
#include "jad_testlib.h"
#include "jad_testpg.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

JT_PG_SERVER ()

static jt_store_target_t s_target;
static ctl_store_t *s_store;

static void s_setup_on (bool pg)
{
    jt_store_target_new (&s_target, pg, "ctl-incidents-repo");
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

TestSuite (incidents_repo, .init = setup_sqlite, .fini = teardown);
TestSuite (incidents_repo_pg, .init = setup_pg, .fini = teardown);

JT_STORE_TEST (incidents_repo, an_incident_opens_takes_notes_and_closes_once)
{
    int64_t first = 0, second = 0;
    cr_assert_eq (ctl_incidents_repo_open (s_store, "prod", "checkout errors", "amy", NULL, 900,
                                           1000, &first),
                  0);
    cr_assert_eq (ctl_incidents_repo_open (s_store, "dev", "automatic rollback of web 2.0",
                                           "controller", "p7", 5000, 2000, &second),
                  0);
    cr_assert (first > 0 && second > first, "ids %lld %lld", (long long)first, (long long)second);
    cr_assert_eq (ctl_incidents_repo_note (s_store, first, "bob", "rolled back by hand", 1500), 0);
    cr_assert_eq (ctl_incidents_repo_note (s_store, first, "amy", "cause: a bad index", 1600), 0);
    cr_assert_eq (ctl_incidents_repo_note (s_store, 999, "amy", "nowhere", 1700), 1);

    ctl_incident_t *incident = NULL;
    cr_assert_eq (ctl_incidents_repo_get (s_store, first, &incident), 0);
    cr_assert_str_eq (incident->env, "prod");
    cr_assert_str_eq (incident->title, "checkout errors");
    cr_assert_str_eq (incident->state, "open");
    cr_assert_eq (incident->since, 900);
    cr_assert_eq (incident->opened, 1000);
    cr_assert_str_eq (incident->opened_by, "amy");
    cr_assert_eq (incident->closed, 0);
    cr_assert_null (incident->closed_by);
    cr_assert_null (incident->plan_id);
    cr_assert_eq (incident->notes, 2);
    ctl_incident_destroy (&incident);
    //  a window never starts after its opening
    cr_assert_eq (ctl_incidents_repo_get (s_store, second, &incident), 0);
    cr_assert_eq (incident->since, 2000);
    cr_assert_str_eq (incident->plan_id, "p7");
    ctl_incident_destroy (&incident);
    cr_assert_eq (ctl_incidents_repo_get (s_store, 999, &incident), 1);
    cr_assert_null (incident);

    cr_assert_eq (ctl_incidents_repo_close (s_store, first, "amy", 3000), 0);
    cr_assert_eq (ctl_incidents_repo_close (s_store, first, "bob", 4000), 2);
    cr_assert_eq (ctl_incidents_repo_close (s_store, 999, "bob", 4000), 1);
    cr_assert_eq (ctl_incidents_repo_get (s_store, first, &incident), 0);
    cr_assert_str_eq (incident->state, "closed");
    cr_assert_eq (incident->closed, 3000, "a second close changed the first");
    cr_assert_str_eq (incident->closed_by, "amy");
    ctl_incident_destroy (&incident);
    //  notes go on after the close: the post-mortem
    cr_assert_eq (ctl_incidents_repo_note (s_store, first, "amy", "action: add a check", 5000), 0);

    zlistx_t *notes = ctl_incidents_repo_notes (s_store, first);
    cr_assert_not_null (notes);
    cr_assert_eq (zlistx_size (notes), 3);
    ctl_incident_note_t *note = zlistx_first (notes);
    cr_assert_str_eq (note->author, "bob");
    cr_assert_str_eq (note->text, "rolled back by hand");
    cr_assert_eq (note->time, 1500);
    zlistx_destroy (&notes);

    zlistx_t *list = ctl_incidents_repo_list (s_store, NULL, false, 10);
    cr_assert_not_null (list);
    cr_assert_eq (zlistx_size (list), 2);
    cr_assert_eq (((ctl_incident_t *)zlistx_first (list))->id, second, "newest first");
    zlistx_destroy (&list);
    list = ctl_incidents_repo_list (s_store, "prod", false, 10);
    cr_assert_eq (zlistx_size (list), 1);
    zlistx_destroy (&list);
    list = ctl_incidents_repo_list (s_store, NULL, true, 10);
    cr_assert_eq (zlistx_size (list), 1);
    cr_assert_str_eq (((ctl_incident_t *)zlistx_first (list))->env, "dev");
    zlistx_destroy (&list);
    list = ctl_incidents_repo_list (s_store, NULL, false, 1);
    cr_assert_eq (zlistx_size (list), 1);
    zlistx_destroy (&list);
}

//  Everything about prod between 1000 and 5000, in time order; nothing of
//  dev, nothing outside the window.
JT_STORE_TEST (incidents_repo, the_timeline_has_every_source_of_the_window_in_time_order)
{
    const char *names[] = {"h1"};
    int64_t batches[] = {0};
    ctl_plan_t plan = {.id = "p1",
                       .app = "web",
                       .version = "2.0",
                       .env = "prod",
                       .kind = "deploy",
                       .strategy = "all",
                       .state = "running",
                       .reason = "deploy requested",
                       .deployer = "amy",
                       .phase = "starting",
                       .batches = 1,
                       .action = "apply"};
    cr_assert_eq (ctl_plans_repo_create (s_store, &plan, names, batches, 1, 1200), 0);
    ctl_plan_t early = plan;
    early.id = "p0";
    cr_assert_eq (ctl_plans_repo_create (s_store, &early, names, batches, 1, 500), 0);
    ctl_plan_t other = plan;
    other.id = "d1";
    other.env = "dev";
    cr_assert_eq (ctl_plans_repo_create (s_store, &other, names, batches, 1, 1300), 0);
    ctl_plan_event_t decision = {.plan_id = "p1",
                                 .agent = "controller",
                                 .time = 1400,
                                 .step = "health",
                                 .status = "stop",
                                 .detail = "h1 failed; stopping the plan"};
    cr_assert_eq (ctl_plans_repo_event_add (s_store, &decision), 0);
    ctl_plan_event_t report = decision;
    report.agent = "h1";
    report.step = "smoke";
    report.detail = "a host's own report is not a decision";
    cr_assert_eq (ctl_plans_repo_event_add (s_store, &report), 0);
    cr_assert_eq (ctl_plans_repo_approval_add (s_store, "p1", "bob", "tech-lead", 1250), 0);
    cr_assert_eq (ctl_plans_repo_finish (s_store, "p1", "failed", "batch 1/1: h1 failed", 1500), 1);
    ctl_alert_rule_t rule = {.id = "r1",
                             .origin = "api",
                             .env = "prod",
                             .metric = "http_error_rate",
                             .aggregate = "avg",
                             .window_ms = 60000,
                             .above = true,
                             .threshold = 0.05,
                             .for_ms = 0,
                             .min_samples = 1,
                             .action = "rollback"};
    cr_assert_eq (ctl_alerts_repo_add (s_store, &rule, 100), 0);
    ctl_alert_event_t transition = {.rule_id = "r1",
                                    .time = 1350,
                                    .from_state = "ok",
                                    .to_state = "firing",
                                    .has_value = true,
                                    .value = 0.5,
                                    .samples = 3,
                                    .hosts = 1,
                                    .detail = "{}"};
    cr_assert_eq (ctl_alerts_repo_event_add (s_store, &transition), 0);
    cr_assert_eq (ctl_plans_repo_decision_add (s_store, "p1", NULL, "r1", "rollback",
                                               "http_error_rate avg 0.5 above 0.05", 1360),
                  0);
    cr_assert_eq (
        ctl_agents_repo_audit_append (s_store, "amy", "deploy", "app=web version=2.0", "ok", 1100),
        0);
    cr_assert_eq (ctl_agents_repo_audit_append (s_store, "amy", "status", NULL, "ok", 6000), 0);
    int64_t id = 0;
    cr_assert_eq (ctl_incidents_repo_open (s_store, "prod", "errors", "amy", NULL, 1000, 1600, &id),
                  0);
    cr_assert_eq (ctl_incidents_repo_note (s_store, id, "amy", "looking", 1700), 0);

    zlistx_t *timeline = ctl_incidents_repo_timeline (s_store, id, "prod", 1000, 5000, 100);
    cr_assert_not_null (timeline);
    char text[4096] = "";
    int64_t last = 0;
    for (ctl_timeline_entry_t *entry = zlistx_first (timeline); entry;
         entry = zlistx_next (timeline)) {
        cr_assert (entry->time >= last, "not in time order at %lld", (long long)entry->time);
        last = entry->time;
        snprintf (text + strlen (text), sizeof text - strlen (text), "%lld %s %s %s\n",
                  (long long)entry->time, entry->what, entry->subject ? entry->subject : "-",
                  entry->text ? entry->text : "-");
    }
    zlistx_destroy (&timeline);
    const char *expected = "1100 audit amy deploy app=web version=2.0: ok\n"
                           "1200 plan p1 deploy web 2.0 by amy (all)\n"
                           "1250 approval p1 bob approved as tech-lead\n"
                           "1350 alert r1 http_error_rate ok -> firing (value 0.5)\n"
                           "1360 decision p1 rollback: http_error_rate avg 0.5 above 0.05\n"
                           "1400 decision p1 health stop: h1 failed; stopping the plan\n"
                           "1500 outcome p1 deploy web 2.0 failed: batch 1/1: h1 failed\n"
                           "1700 note amy looking\n";
    cr_assert_str_eq (text, expected, "timeline:\n%s", text);
    timeline = ctl_incidents_repo_timeline (s_store, id, "prod", 1000, 5000, 3);
    cr_assert_eq (zlistx_size (timeline), 3);
    zlistx_destroy (&timeline);
}
