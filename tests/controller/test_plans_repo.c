//  test_plans_repo - plans, hosts, events, approvals, decisions and
//  migrations, on real SQLite files
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_agents_repo.h"
#include "ctl_plans_repo.h"
#include "ctl_releases_repo.h"
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
    jt_store_target_new (&s_target, pg, "ctl-plans-repo");
    s_store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    cr_assert_not_null (s_store);
    const char *releases[][2] = {{"web", "1.0"}, {"web", "1.1"}, {"web", "1.2"}};
    for (size_t index = 0; index < 3; index++) {
        ctl_release_t release = {.app = (char *)releases[index][0],
                                 .version = (char *)releases[index][1],
                                 .sha256 = "00",
                                 .length = 1,
                                 .migrate_up = index > 0,
                                 .migrate_down = index == 1};
        cr_assert_eq (ctl_releases_repo_add (s_store, &release, 1000 + (int64_t)index), 0);
    }
    const char *agents[] = {"h1", "h2", "h3", "h4"};
    for (size_t index = 0; index < 4; index++)
        cr_assert_eq (
            ctl_agents_repo_add (s_store, agents[index], agents[index], "prod", "accepted", 5000),
            0);
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

TestSuite (plans_repo, .init = setup_sqlite, .fini = teardown);
TestSuite (plans_repo_pg, .init = setup_pg, .fini = teardown);

//  Create plan `id` of web `version` in prod on h1..h4 in two batches.
static void s_create (const char *id, const char *kind, const char *version, const char *state,
                      int64_t now)
{
    ctl_plan_t plan = {.id = (char *)id,
                       .app = "web",
                       .version = (char *)version,
                       .env = "prod",
                       .kind = (char *)kind,
                       .strategy = "rolling",
                       .state = (char *)state,
                       .reason = "deploy requested",
                       .deployer = "amy",
                       .batch = "2",
                       .phase = streq (state, "approval") ? "approval" : "starting",
                       .batches = 2,
                       .skip_offline = true,
                       .previous = "1.0",
                       .action = "apply"};
    const char *names[] = {"h1", "h2", "h3", "h4"};
    int64_t batches[] = {0, 0, 1, 1};
    cr_assert_eq (ctl_plans_repo_create (s_store, &plan, names, batches, 4, now), 0);
}

static char *s_joined (zlistx_t *list)
{
    char *text = calloc (1, 1024);
    for (char *item = list ? zlistx_first (list) : NULL; item; item = zlistx_next (list))
        snprintf (text + strlen (text), 1024 - strlen (text), "%s%s", *text ? "," : "", item);
    return text;
}

static void s_expect_names (zlistx_t *list, const char *expected)
{
    cr_assert_not_null (list);
    char *joined = s_joined (list);
    cr_assert_str_eq (joined, expected);
    free (joined);
    zlistx_destroy (&list);
}

JT_STORE_TEST (plans_repo, a_plan_round_trips_and_gets_a_sequence)
{
    s_create ("p1", "deploy", "1.1", "running", 7000);
    s_create ("p2", "deploy", "1.1", "running", 7000);
    ctl_plan_t *plan = NULL;
    cr_assert_eq (ctl_plans_repo_get (s_store, "p1", &plan), 0);
    cr_assert_str_eq (plan->app, "web");
    cr_assert_str_eq (plan->strategy, "rolling");
    cr_assert_str_eq (plan->batch, "2");
    cr_assert_str_eq (plan->phase, "starting");
    cr_assert_str_eq (plan->previous, "1.0");
    cr_assert_eq (plan->created, 7000);
    cr_assert_eq (plan->progress, 7000);
    cr_assert_eq (plan->finished, 0);
    cr_assert_eq (plan->batches, 2);
    cr_assert (plan->skip_offline);
    cr_assert_null (plan->parent);
    int64_t first = plan->seq;
    ctl_plan_destroy (&plan);
    cr_assert_eq (ctl_plans_repo_get (s_store, "p2", &plan), 0);
    cr_assert_eq (plan->seq, first + 1);
    ctl_plan_destroy (&plan);
    cr_assert_eq (ctl_plans_repo_get (s_store, "nope", &plan), 1);
    //  created in the same millisecond: the sequence says which is newer
    s_expect_names (ctl_plans_repo_list (s_store, NULL, 10), "p2,p1");
    s_expect_names (ctl_plans_repo_list (s_store, "prod", 1), "p2");
    s_expect_names (ctl_plans_repo_list (s_store, "dev", 10), "");
    ctl_plan_t *latest = NULL;
    cr_assert_eq (ctl_plans_repo_latest (s_store, "web", "prod", &latest), 0);
    cr_assert_str_eq (latest->id, "p2");
    ctl_plan_destroy (&latest);
    //  a security emergency says so (migration 20)
    ctl_plan_t security = {.id = "p3",
                           .app = "web",
                           .version = "1.2",
                           .env = "stage",
                           .kind = "deploy",
                           .strategy = "all",
                           .state = "approval",
                           .phase = "approval",
                           .batches = 1,
                           .emergency = "CVE-1",
                           .security = true,
                           .action = "apply"};
    const char *host[] = {"h3"};
    int64_t batch[] = {0};
    cr_assert_eq (ctl_plans_repo_create (s_store, &security, host, batch, 1, 7000), 0);
    cr_assert_eq (ctl_plans_repo_get (s_store, "p3", &plan), 0);
    cr_assert (plan->security);
    cr_assert_str_eq (plan->emergency, "CVE-1");
    ctl_plan_destroy (&plan);
    cr_assert_eq (ctl_plans_repo_get (s_store, "p1", &plan), 0);
    cr_assert_not (plan->security);
    ctl_plan_destroy (&plan);
    //  a duplicate id changes nothing
    ctl_plan_t again = {.id = "p1",
                        .app = "web",
                        .version = "1.0",
                        .env = "prod",
                        .kind = "deploy",
                        .strategy = "all",
                        .state = "running",
                        .phase = "starting",
                        .batches = 1,
                        .action = "apply"};
    const char *names[] = {"h9"};
    int64_t batches[] = {0};
    cr_assert_eq (ctl_plans_repo_create (s_store, &again, names, batches, 1, 8000), -1);
    cr_assert_eq (ctl_sql_int (ctl_store_sql (s_store), &first,
                               "SELECT count (*) FROM plan_hosts WHERE agent = 'h9'", ""),
                  0);
    cr_assert_eq (first, 0, "a failed create left hosts behind");
}

JT_STORE_TEST (plans_repo, the_snapshot_counts_hosts_batches_failures_and_the_task)
{
    s_create ("p1", "deploy", "1.1", "running", 7000);
    cr_assert_eq (ctl_plans_repo_start_batch (s_store, "p1", 0, 7100), 0);
    s_expect_names (ctl_plans_repo_host_names (s_store, "p1", -1, CTL_HOSTS_UNFINISHED), "h1,h2");
    cr_assert_eq (ctl_plans_repo_ack (s_store, "p1", "h1", 7200), 0);
    cr_assert_eq (ctl_plans_repo_host_report (s_store, "p1", "h1", "healthy", "done", NULL, 7300),
                  1);
    cr_assert_eq (
        ctl_plans_repo_host_report (s_store, "p1", "h2", "failed", "switch", "boom", 7400), 1);
    //  a finished host does not move again
    cr_assert_eq (ctl_plans_repo_host_report (s_store, "p1", "h1", "applying", "x", "y", 7500), 0);
    ctl_plan_snapshot_t *snapshot = NULL;
    cr_assert_eq (ctl_plans_repo_snapshot (s_store, "p1", &snapshot), 0);
    cr_assert_str_eq (snapshot->plan->phase, "rollout");
    cr_assert_eq (snapshot->plan->progress, 7100);
    cr_assert_eq (snapshot->hosts, 4);
    cr_assert_eq (snapshot->waiting, 2);
    cr_assert_eq (snapshot->healthy, 1);
    cr_assert_eq (snapshot->failed, 1);
    cr_assert_eq (snapshot->changed, 1);
    cr_assert_eq (snapshot->batch_hosts, 2);
    cr_assert_eq (snapshot->batch_healthy, 1);
    cr_assert_eq (snapshot->unfinished, 0);
    cr_assert_eq (snapshot->canaries_healthy, 1);
    cr_assert_not_null (snapshot->first_failure);
    cr_assert_str_eq (snapshot->first_failure->agent, "h2");
    cr_assert_str_eq (snapshot->first_failure->step, "switch");
    cr_assert_str_eq (snapshot->first_failure->detail, "boom");
    cr_assert_null (snapshot->task);
    cr_assert (snapshot->has_migrate_up);
    cr_assert_not (snapshot->migrated);
    ctl_plan_snapshot_destroy (&snapshot);
    //  a task of the plan runs its migration
    ctl_plan_t task = {.id = "t1",
                       .app = "web",
                       .version = "1.1",
                       .env = "prod",
                       .kind = "task",
                       .strategy = "all",
                       .state = "running",
                       .phase = "starting",
                       .batches = 1,
                       .parent = "p1",
                       .action = "migrate_up"};
    const char *names[] = {"h3"};
    int64_t batches[] = {0};
    cr_assert_eq (ctl_plans_repo_create (s_store, &task, names, batches, 1, 7600), 0);
    cr_assert_eq (ctl_plans_repo_set_task (s_store, "p1", "t1", "migrate", 7700), 0);
    cr_assert_eq (ctl_plans_repo_migration_up (s_store, "prod", "web", "1.1", "h3", "t1", 7800), 0);
    cr_assert_eq (ctl_plans_repo_finish (s_store, "t1", "succeeded", "all 1 host healthy", 7900),
                  1);
    cr_assert_eq (ctl_plans_repo_snapshot (s_store, "p1", &snapshot), 0);
    cr_assert_str_eq (snapshot->plan->phase, "migrate");
    cr_assert_eq (snapshot->plan->phase_started, 7700);
    cr_assert_not_null (snapshot->task);
    cr_assert_str_eq (snapshot->task->state, "succeeded");
    cr_assert_str_eq (snapshot->task->action, "migrate_up");
    cr_assert_str_eq (snapshot->task_host, "h3");
    cr_assert_null (snapshot->task_failure);
    cr_assert (snapshot->migrated);
    cr_assert (snapshot->migrated_here);
    ctl_plan_snapshot_destroy (&snapshot);
    s_expect_names (ctl_plans_repo_migration_hosts (s_store, "p1"), "h3");
    cr_assert_eq (ctl_plans_repo_is_task (s_store, "t1"), 1);
    cr_assert_eq (ctl_plans_repo_is_task (s_store, "p1"), 0);
    cr_assert_eq (ctl_plans_repo_is_task (s_store, "zz"), 0);
    cr_assert_eq (ctl_plans_repo_snapshot (s_store, "zz", &snapshot), 1);
    cr_assert_null (snapshot);
}

JT_STORE_TEST (plans_repo, outcomes_keep_a_rollback_reason_and_end_only_live_plans)
{
    s_create ("p1", "deploy", "1.1", "approval", 7000);
    cr_assert_eq (ctl_plans_repo_finish (s_store, "p1", "succeeded", "x", 7100), 0,
                  "a plan awaiting approval cannot succeed");
    cr_assert_eq (ctl_plans_repo_set_running (s_store, "p1", 7200), 1);
    cr_assert_eq (ctl_plans_repo_set_running (s_store, "p1", 7300), 0);
    cr_assert_eq (ctl_plans_repo_set_paused (s_store, "p1", true, 7400), 1);
    cr_assert_eq (ctl_plans_repo_set_paused (s_store, "p1", true, 7500), 0, "paused twice");
    cr_assert_eq (ctl_plans_repo_set_paused (s_store, "p1", false, 7600), 1);
    cr_assert_eq (ctl_plans_repo_cancel_waiting (s_store, "p1", 7650), 0);
    cr_assert_eq (ctl_plans_repo_finish (s_store, "p1", "failed", "aborted by amy", 7700), 1);
    cr_assert_eq (ctl_plans_repo_finish (s_store, "p1", "failed", "again", 7800), 0);
    ctl_plan_t *plan = NULL;
    cr_assert_eq (ctl_plans_repo_get (s_store, "p1", &plan), 0);
    cr_assert_str_eq (plan->state, "failed");
    cr_assert_str_eq (plan->phase, "done");
    cr_assert_str_eq (plan->reason, "aborted by amy");
    cr_assert_eq (plan->finished, 7700);
    ctl_plan_destroy (&plan);
    s_expect_names (ctl_plans_repo_host_names (s_store, "p1", -1, CTL_HOSTS_ALL), "h1,h2,h3,h4");
    zlistx_t *hosts = ctl_plans_repo_hosts (s_store, "p1");
    ctl_plan_host_t *host = zlistx_first (hosts);
    cr_assert_str_eq (host->state, "cancelled");
    zlistx_destroy (&hosts);
    //  a rollback keeps why it was made
    s_create ("r1", "rollback", "1.0", "running", 8000);
    cr_assert_eq (ctl_plans_repo_finish (s_store, "r1", "succeeded", "all 4 hosts healthy", 8100),
                  1);
    cr_assert_eq (ctl_plans_repo_get (s_store, "r1", &plan), 0);
    cr_assert_str_eq (plan->reason, "deploy requested; all 4 hosts healthy");
    ctl_plan_destroy (&plan);
    cr_assert_eq (ctl_plans_repo_rolled_back_by (s_store, "p1", "r1", true), 0);
    cr_assert_eq (ctl_plans_repo_rolled_back_by (s_store, "p1", "r9", true), 0);
    cr_assert_eq (ctl_plans_repo_get (s_store, "p1", &plan), 0);
    cr_assert_str_eq (plan->rolled_back_by, "r1", "`once` replaced a rollback");
    ctl_plan_destroy (&plan);
}

JT_STORE_TEST (plans_repo, reports_are_stored_once_and_events_come_in_order)
{
    s_create ("p1", "deploy", "1.1", "running", 7000);
    cr_assert_eq (ctl_plans_repo_report_seen (s_store, "h1", "inc", 1), 1);
    cr_assert_eq (ctl_plans_repo_report_seen (s_store, "h1", "inc", 1), 0);
    cr_assert_eq (ctl_plans_repo_report_seen (s_store, "h1", "inc2", 1), 1);
    for (int index = 0; index < 3; index++) {
        char step[16];
        snprintf (step, sizeof step, "s%d", index);
        ctl_plan_event_t event = {.plan_id = "p1",
                                  .agent = "h1",
                                  .time = 7000 + index,
                                  .step = step,
                                  .status = "started",
                                  .duration_ms = index};
        cr_assert_eq (ctl_plans_repo_event_add (s_store, &event), 0);
    }
    ctl_plan_event_t decision = {.plan_id = "p1",
                                 .agent = "controller",
                                 .time = 9000,
                                 .step = "operator",
                                 .status = "resumed",
                                 .detail = "resumed by amy"};
    cr_assert_eq (ctl_plans_repo_event_add (s_store, &decision), 0);
    int64_t resumed = 0;
    cr_assert_eq (ctl_plans_repo_last_resume (s_store, "p1", &resumed), 0);
    cr_assert_eq (resumed, 9000);
    zlistx_t *decisions = ctl_plans_repo_decision_events (s_store, "p1");
    cr_assert_eq (zlistx_size (decisions), 1, "only the controller's events");
    ctl_plan_event_t *decision_event = zlistx_first (decisions);
    cr_assert_str_eq (decision_event->step, "operator");
    cr_assert_str_eq (decision_event->status, "resumed");
    cr_assert_eq (decision_event->time, 9000);
    zlistx_destroy (&decisions);
    zlistx_t *events = ctl_plans_repo_events (s_store, "p1", 0, 1000);
    cr_assert_eq (zlistx_size (events), 4);
    ctl_plan_event_t *event = zlistx_first (events);
    cr_assert_str_eq (event->step, "s0");
    int64_t second = ((ctl_plan_event_t *)zlistx_next (events))->id;
    zlistx_destroy (&events);
    events = ctl_plans_repo_events (s_store, "p1", second, 1);
    cr_assert_eq (zlistx_size (events), 1);
    cr_assert_str_eq (((ctl_plan_event_t *)zlistx_first (events))->step, "s2");
    zlistx_destroy (&events);
}

//  Add a report's event of host `agent` to p1; returns as event_add.
static int s_report_event (const char *agent, const char *step, const char *status, int64_t time)
{
    ctl_plan_event_t event = {.plan_id = "p1",
                              .agent = (char *)agent,
                              .time = time,
                              .step = (char *)step,
                              .status = (char *)status,
                              .detail = "1.1 is live"};
    return ctl_plans_repo_event_add (s_store, &event);
}

JT_STORE_TEST (plans_repo, a_host_outcome_reported_again_is_written_once)
{
    s_create ("p1", "deploy", "1.1", "running", 7000);
    cr_assert_eq (s_report_event ("h1", "activate", "healthy", 7001), 0);
    cr_assert_eq (s_report_event ("h1", "done", "healthy", 7002), 0);
    //  the plan came again (a resend after a takeover): the same outcome
    cr_assert_eq (s_report_event ("h1", "done", "healthy", 7003), 1);
    cr_assert_eq (s_report_event ("h1", "done", "healthy", 7004), 1);
    //  another host's outcome, and a step that is not an outcome
    cr_assert_eq (s_report_event ("h2", "done", "healthy", 7005), 0);
    cr_assert_eq (s_report_event ("h2", "smoke", "healthy", 7006), 0);
    cr_assert_eq (s_report_event ("h2", "smoke", "healthy", 7007), 0);
    //  a different outcome is written, and so is one after a run again
    cr_assert_eq (s_report_event ("h1", "done", "failed", 7008), 0);
    cr_assert_eq (s_report_event ("h1", "activate", "started", 7009), 0);
    cr_assert_eq (s_report_event ("h1", "done", "failed", 7010), 0);
    zlistx_t *events = ctl_plans_repo_events (s_store, "p1", 0, 1000);
    cr_assert_not_null (events);
    char log[512] = "";
    size_t used = 0;
    for (ctl_plan_event_t *event = zlistx_first (events); event; event = zlistx_next (events))
        used += (size_t)snprintf (log + used, sizeof log - used, "%s %s %s %lld\n", event->agent,
                                  event->step, event->status, (long long)event->time);
    zlistx_destroy (&events);
    cr_assert_str_eq (log, "h1 activate healthy 7001\n"
                           "h1 done healthy 7002\n"
                           "h2 done healthy 7005\n"
                           "h2 smoke healthy 7006\n"
                           "h2 smoke healthy 7007\n"
                           "h1 done failed 7008\n"
                           "h1 activate started 7009\n"
                           "h1 done failed 7010\n");
}

JT_STORE_TEST (plans_repo, approvals_and_decisions_round_trip)
{
    s_create ("p1", "deploy", "1.1", "approval", 7000);
    cr_assert_eq (ctl_agents_repo_operator_add (s_store, "amy", "OA", "tech-lead,qa", NULL, 1), 0);
    cr_assert_eq (ctl_plans_repo_approval_add (s_store, "p1", "amy", "tech-lead", 7100), 0);
    cr_assert_eq (ctl_plans_repo_approval_add (s_store, "p1", "gone", "qa", 7200), 0);
    cr_assert_eq (ctl_plans_repo_approval_add (s_store, "p1", "amy", "qa", 7300), -1,
                  "one operator approved twice");
    zlistx_t *rows = ctl_plans_repo_approvals (s_store, "p1");
    cr_assert_eq (zlistx_size (rows), 2);
    ctl_approval_row_t *row = zlistx_first (rows);
    cr_assert_str_eq (row->operator_name, "amy");
    cr_assert_str_eq (row->role, "tech-lead");
    cr_assert_str_eq (row->operator_roles, "tech-lead,qa");
    row = zlistx_next (rows);
    cr_assert_str_eq (row->operator_roles, "");
    zlistx_destroy (&rows);
    cr_assert_eq (ctl_plans_repo_decision_add (s_store, "r1", "p1", "rule-1", "rollback",
                                               "{\"value\": 2}", 8000),
                  0);
    cr_assert_eq (
        ctl_plans_repo_decision_add (s_store, NULL, "p1", "rule-1", "no-rollback", "{}", 8100), 0);
    zlistx_t *decisions = ctl_plans_repo_decisions (s_store, "p1");
    cr_assert_eq (zlistx_size (decisions), 2);
    ctl_decision_t *decision = zlistx_first (decisions);
    cr_assert_str_eq (decision->what, "rollback");
    cr_assert_str_eq (decision->plan_id, "r1");
    cr_assert_str_eq (decision->detail, "{\"value\": 2}");
    zlistx_destroy (&decisions);
    decisions = ctl_plans_repo_decisions (s_store, "r1");
    cr_assert_eq (zlistx_size (decisions), 1);
    zlistx_destroy (&decisions);
}

JT_STORE_TEST (plans_repo, migrations_and_what_a_rollback_crosses)
{
    cr_assert_eq (ctl_plans_repo_migration_up (s_store, "prod", "web", "1.1", "h1", "t1", 10), 0);
    cr_assert_eq (ctl_plans_repo_migration_up (s_store, "prod", "web", "1.2", "h1", "t2", 20), 0);
    //  up again: replaced, not doubled
    cr_assert_eq (ctl_plans_repo_migration_up (s_store, "prod", "web", "1.2", "h2", "t3", 30), 0);
    zlistx_t *crossed = ctl_plans_repo_crossed (s_store, "prod", "web", "1.0");
    cr_assert_eq (zlistx_size (crossed), 2);
    ctl_crossed_row_t *row = zlistx_first (crossed);
    cr_assert_str_eq (row->version, "1.2", "newest first");
    cr_assert_not (row->has_down);
    row = zlistx_next (crossed);
    cr_assert_str_eq (row->version, "1.1");
    cr_assert (row->has_down);
    zlistx_destroy (&crossed);
    cr_assert_eq (ctl_plans_repo_migration_down (s_store, "prod", "web", "1.2", "h2", "t4", 40), 0);
    crossed = ctl_plans_repo_crossed (s_store, "prod", "web", "1.0");
    cr_assert_eq (zlistx_size (crossed), 1);
    zlistx_destroy (&crossed);
    crossed = ctl_plans_repo_crossed (s_store, "prod", "web", "1.1");
    cr_assert_eq (zlistx_size (crossed), 0);
    zlistx_destroy (&crossed);
}

JT_STORE_TEST (plans_repo, succeeded_plans_converge_and_deadline_queries)
{
    s_create ("p1", "deploy", "1.0", "running", 1000);
    s_create ("p2", "deploy", "1.1", "running", 2000);
    cr_assert_eq (ctl_plans_repo_finish (s_store, "p1", "succeeded", "ok", 1500), 1);
    cr_assert_eq (ctl_plans_repo_finish (s_store, "p2", "succeeded", "ok", 2500), 1);
    cr_assert_eq (ctl_releases_repo_mark_bad (s_store, "web", "1.1", "alert"), 0);
    zlistx_t *succeeded = ctl_plans_repo_succeeded (s_store, "web", "prod");
    cr_assert_eq (zlistx_size (succeeded), 2);
    ctl_succeeded_t *row = zlistx_first (succeeded);
    cr_assert_str_eq (row->version, "1.1");
    cr_assert_str_eq (row->bad, "alert");
    cr_assert_eq (row->counter, 2);
    row = zlistx_next (succeeded);
    cr_assert_null (row->bad);
    zlistx_destroy (&succeeded);
    cr_assert_eq (ctl_plans_repo_succeeded_in (s_store, "prod", "web", "1.0", "deploy"), 1);
    cr_assert_eq (ctl_plans_repo_succeeded_in (s_store, "prod", "web", "1.2", "deploy"), 0);
    //  h1 runs 1.1 already; h2 has nothing: it converges to p2's release
    cr_assert_eq (ctl_agents_repo_app_set (s_store, "h1", "web", "1.1", "healthy", "p2", 3000, 0),
                  0);
    zlistx_t *plans = ctl_plans_repo_converge (s_store, "h1");
    cr_assert_eq (zlistx_size (plans), 0);
    zlistx_destroy (&plans);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (s_store),
                                "UPDATE plan_hosts SET state = 'skipped' WHERE agent = 'h2'", ""),
                  2);
    plans = ctl_plans_repo_converge (s_store, "h2");
    cr_assert_eq (zlistx_size (plans), 1);
    cr_assert_str_eq (((ctl_plan_t *)zlistx_first (plans))->version, "1.1");
    zlistx_destroy (&plans);
    //  a running plan: late hosts, resends, progress
    s_create ("p3", "deploy", "1.2", "running", 4000);
    cr_assert_eq (ctl_plans_repo_start_batch (s_store, "p3", 0, 4100), 0);
    cr_assert_eq (ctl_agents_repo_touch (s_store, "h2", 4200), 0);
    zlistx_t *hosts = ctl_plans_repo_late_hosts (s_store, 4200);
    cr_assert_eq (zlistx_size (hosts), 2);
    ctl_plan_host_t *host = zlistx_first (hosts);
    cr_assert_str_eq (host->agent, "h1");
    cr_assert_eq (host->last_seen, 5000);
    cr_assert (host->skip_offline);
    zlistx_destroy (&hosts);
    hosts = ctl_plans_repo_resend_due (s_store, 1);
    cr_assert_eq (zlistx_size (hosts), 2, "never sent counts as due");
    zlistx_destroy (&hosts);
    //  one host marked sent, then the whole plan
    cr_assert_eq (ctl_plans_repo_mark_sent (s_store, "p3", "h1", 4300), 0);
    hosts = ctl_plans_repo_resend_due (s_store, 4300);
    cr_assert_eq (zlistx_size (hosts), 1, "h1 was sent, h2 is still due");
    zlistx_destroy (&hosts);
    cr_assert_eq (ctl_plans_repo_mark_sent (s_store, "p3", NULL, 4300), 0);
    hosts = ctl_plans_repo_resend_due (s_store, 4300);
    cr_assert_eq (zlistx_size (hosts), 0);
    zlistx_destroy (&hosts);
    cr_assert_eq (ctl_plans_repo_progress (s_store, "p3", 5000), 0);
    ctl_plan_t *progressed = NULL;
    cr_assert_eq (ctl_plans_repo_get (s_store, "p3", &progressed), 0);
    cr_assert_eq (progressed->progress, 5000);
    ctl_plan_destroy (&progressed);
    s_expect_names (ctl_plans_repo_unfinished_for (s_store, "h1"), "p3");
    hosts = ctl_plans_repo_candidates (s_store, "p3", "web");
    host = zlistx_first (hosts);
    cr_assert_str_eq (host->version, "1.1");
    cr_assert_eq (host->last_seen, 5000);
    zlistx_destroy (&hosts);
    cr_assert_eq (ctl_plans_repo_fail_agent (s_store, "h1", "agent removed", 6000), 0);
    s_expect_names (ctl_plans_repo_unfinished_for (s_store, "h1"), "");
    zlistx_t *running = ctl_plans_repo_running (s_store);
    cr_assert_eq (zlistx_size (running), 1);
    zlistx_destroy (&running);
    zlistx_t *since = ctl_plans_repo_since (s_store, "prod", 2000);
    cr_assert_eq (zlistx_size (since), 2);
    cr_assert_str_eq (((ctl_plan_t *)zlistx_first (since))->id, "p3");
    zlistx_destroy (&since);
    zlistx_t *changed = ctl_plans_repo_changed (s_store, 1400, 2100);
    cr_assert_eq (zlistx_size (changed), 2, "p1 finished and p2 created in the window");
    zlistx_destroy (&changed);
    zlistx_t *tally = ctl_plans_repo_tally (s_store);
    cr_assert_eq (zlistx_size (tally), 2);
    zlistx_destroy (&tally);
    zlistx_t *recent = ctl_plans_repo_recent (s_store, true, 10);
    cr_assert_eq (zlistx_size (recent), 1);
    zlistx_destroy (&recent);
}

//  Issue 13 item 13: plan ids by unique prefix (the API resolves them)
JT_STORE_TEST (plans_repo, plans_are_found_by_a_prefix_of_their_id)
{
    s_create ("ab12", "deploy", "2.0", "running", 1000);
    s_create ("ab34", "deploy", "2.0", "succeeded", 1001);
    s_create ("ab", "deploy", "2.0", "succeeded", 1002);
    s_create ("c9", "deploy", "2.0", "succeeded", 1003);
    s_expect_names (ctl_plans_repo_by_prefix (s_store, "c", 5), "c9");
    s_expect_names (ctl_plans_repo_by_prefix (s_store, "ab3", 5), "ab34");
    //  the whole id comes first, then the others by id
    s_expect_names (ctl_plans_repo_by_prefix (s_store, "ab", 5), "ab,ab12,ab34");
    s_expect_names (ctl_plans_repo_by_prefix (s_store, "ab", 2), "ab,ab12");
    s_expect_names (ctl_plans_repo_by_prefix (s_store, "a%", 5), "");
    s_expect_names (ctl_plans_repo_by_prefix (s_store, "zz", 5), "");
}

//  A pause keeps the bake's start: the engine's bake clock subtracts the
//  pauses (ctl_reconcile_bake_elapsed), so the store moving it on too
//  would count every pause twice
JT_STORE_TEST (plans_repo, a_pause_and_resume_leave_the_bake_start_alone)
{
    s_create ("p1", "deploy", "2.0", "running", 1000);
    cr_assert_eq (ctl_plans_repo_enter_bake (s_store, "p1", 2000), 0);
    cr_assert_eq (ctl_plans_repo_set_paused (s_store, "p1", true, 2500), 1);
    cr_assert_eq (ctl_plans_repo_set_paused (s_store, "p1", true, 2600), 0, "already paused");
    cr_assert_eq (ctl_plans_repo_set_paused (s_store, "p1", false, 12500), 1);
    cr_assert_eq (ctl_plans_repo_set_paused (s_store, "p1", false, 12600), 0, "not paused");
    ctl_plan_t *plan = NULL;
    cr_assert_eq (ctl_plans_repo_get (s_store, "p1", &plan), 0);
    cr_assert_eq (plan->phase_started, 2000);
    cr_assert_eq (plan->progress, 12500, "a resume is progress");
    cr_assert_not (plan->paused);
    ctl_plan_destroy (&plan);
}

//  Every plan of one release, oldest first, whatever its environment or
//  outcome; other versions are not among them.
JT_STORE_TEST (plans_repo, plans_of_a_release_are_listed_oldest_first)
{
    s_create ("p1", "deploy", "2.0", "running", 1000);
    s_create ("p2", "deploy", "3.0", "running", 2000);
    s_create ("p3", "rollback", "2.0", "running", 3000);
    s_expect_names (ctl_plans_repo_of_release (s_store, "web", "2.0", 10), "p1,p3");
    s_expect_names (ctl_plans_repo_of_release (s_store, "web", "2.0", 1), "p1");
    s_expect_names (ctl_plans_repo_of_release (s_store, "web", "9.9", 10), "");
    s_expect_names (ctl_plans_repo_of_release (s_store, "api", "2.0", 10), "");
}
