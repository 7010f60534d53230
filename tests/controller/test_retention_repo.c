//  test_retention_repo - retention of the audit log and of finished plans,
//  in slices, on real SQLite files and a real PostgreSQL
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_agents_repo.h"
#include "ctl_incidents_repo.h"
#include "ctl_retention_repo.h"
#include "ctl_store_internal.h"
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
    jt_store_target_new (&s_target, pg, "ctl-retention-repo");
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

TestSuite (retention_repo, .init = setup_sqlite, .fini = teardown);
TestSuite (retention_repo_pg, .init = setup_pg, .fini = teardown);

static int64_t s_count (const char *sql)
{
    int64_t value = -1;
    cr_assert_eq (ctl_sql_int (ctl_store_sql (s_store), &value, sql, ""), 0, "%s", sql);
    return value;
}

JT_STORE_TEST (retention_repo,
               old_audit_rows_go_in_slices_and_nothing_else_can_be_deleted_or_edited)
{
    ctl_sql_t *sql = ctl_store_sql (s_store);
    cr_assert_eq (ctl_sql_begin (sql), 0);
    for (int index = 0; index < 2500; index++)
        cr_assert_eq (
            ctl_agents_repo_audit_append (s_store, "amy", "deploy", "web 1.0", "ok", 1000 + index),
            0);
    cr_assert_eq (ctl_agents_repo_audit_append (s_store, "bob", "deploy", "web 2.0", "ok", 9000000),
                  0);
    cr_assert_eq (ctl_sql_commit (sql), 0);
    //  before any prune nothing may go, old or not
    cr_assert_lt (ctl_sql_exec (sql, "DELETE FROM audit WHERE time = 1000", ""), 0);
    cr_assert_eq (s_count ("SELECT count (*) FROM audit"), 2501);

    int64_t rows = -1;
    cr_assert_eq (ctl_retention_repo_audit (s_store, 5000000, 10000000, &rows), 1);
    cr_assert_eq (rows, CTL_RETENTION_SLICE);
    cr_assert_eq (ctl_retention_repo_audit (s_store, 5000000, 10000001, &rows), 1);
    cr_assert_eq (rows, CTL_RETENTION_SLICE);
    cr_assert_eq (ctl_retention_repo_audit (s_store, 5000000, 10000002, &rows), 0);
    cr_assert_eq (rows, 500);
    cr_assert_eq (ctl_retention_repo_audit (s_store, 5000000, 10000003, &rows), 0);
    cr_assert_eq (rows, 0);
    //  the newer row and one audit row per slice that deleted some
    cr_assert_eq (s_count ("SELECT count (*) FROM audit WHERE time < 5000000"), 0);
    cr_assert_eq (s_count ("SELECT count (*) FROM audit WHERE operator = 'bob'"), 1);
    cr_assert_eq (s_count ("SELECT count (*) FROM audit WHERE command = 'audit.pruned' AND "
                           "operator = 'controller'"),
                  3);
    char *args = NULL;
    cr_assert_eq (ctl_sql_text (sql, &args,
                                "SELECT args FROM audit WHERE command = 'audit.pruned' ORDER BY "
                                "id DESC LIMIT 1",
                                ""),
                  0);
    cr_assert_str_eq (args, "before=5000000 rows=500");
    free (args);
    cr_assert_eq (
        s_count ("SELECT CAST (value AS BIGINT) FROM meta WHERE key = 'audit_prune_before'"),
        5000000);
    //  still append-only for everything at or after the bound, and no
    //  UPDATE of anything
    cr_assert_lt (ctl_sql_exec (sql, "DELETE FROM audit WHERE operator = 'bob'", ""), 0);
    cr_assert_lt (
        ctl_sql_exec (sql, "UPDATE audit SET outcome = 'forged' WHERE operator = 'bob'", ""), 0);
    cr_assert_lt (ctl_sql_exec (sql, "DELETE FROM audit", ""), 0);
    cr_assert_eq (s_count ("SELECT count (*) FROM audit"), 4);
}

//  A plan row as the controller would have left it
static void s_plan (const char *id, const char *app, const char *version, const char *env,
                    const char *kind, const char *state, int64_t created, int64_t finished,
                    int64_t seq)
{
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (s_store),
                                "INSERT INTO plans (id, app, version, env, kind, strategy, state, "
                                "created, finished, progress, seq) VALUES ($1, $2, $3, $4, $5, "
                                "'all', $6, $7, $8, $7, $9)",
                                "ttttttiii", id, app, version, env, kind, state, created,
                                finished ? finished : (int64_t)0, seq),
                  1, "plan %s", id);
    if (!finished)
        cr_assert_eq (ctl_sql_exec (ctl_store_sql (s_store),
                                    "UPDATE plans SET finished = NULL WHERE id = $1", "t", id),
                      1);
}

//  `hosts` hosts and `events` events, and one approval, decision and
//  canary state for plan id
static void s_plan_rows (const char *id, int hosts, int events)
{
    ctl_sql_t *sql = ctl_store_sql (s_store);
    for (int index = 0; index < hosts; index++) {
        char agent[32];
        snprintf (agent, sizeof agent, "h%d", index);
        cr_assert_eq (ctl_sql_exec (sql,
                                    "INSERT INTO plan_hosts (plan_id, agent, state) VALUES ($1, "
                                    "$2, 'healthy')",
                                    "tt", id, agent),
                      1);
    }
    for (int index = 0; index < events; index++)
        cr_assert_eq (ctl_sql_exec (sql,
                                    "INSERT INTO events (plan_id, agent, time, step, status) "
                                    "VALUES ($1, 'h0', $2, 'activate', 'ok')",
                                    "ti", id, (int64_t)index),
                      1);
    cr_assert_eq (ctl_sql_exec (sql,
                                "INSERT INTO approvals (plan_id, operator, roles, time) VALUES "
                                "($1, 'amy', 'tech-lead', 1)",
                                "t", id),
                  1);
    cr_assert_eq (ctl_sql_exec (sql,
                                "INSERT INTO decisions (plan_id, time, what, detail) VALUES ($1, "
                                "1, 'rollback', '{}')",
                                "t", id),
                  1);
    cr_assert_eq (ctl_sql_exec (sql,
                                "INSERT INTO canary_states (plan_id, rule_id, state, since, "
                                "samples, hosts, evaluated) VALUES ($1, 'r1', 'passed', 1, 1, 1, "
                                "1)",
                                "t", id),
                  1);
}

static bool s_exists (const char *id)
{
    int64_t found = 0;
    int rc =
        ctl_sql_int (ctl_store_sql (s_store), &found, "SELECT 1 FROM plans WHERE id = $1", "t", id);
    cr_assert_geq (rc, 0);
    return rc == 0;
}

static int64_t s_rows_of (const char *id)
{
    int64_t rows = -1;
    cr_assert_eq (ctl_sql_int (ctl_store_sql (s_store), &rows,
                               "SELECT (SELECT count (*) FROM plan_hosts WHERE plan_id = $1) + "
                               "(SELECT count (*) FROM events WHERE plan_id = $1) + (SELECT count "
                               "(*) FROM approvals WHERE plan_id = $1) + (SELECT count (*) FROM "
                               "decisions WHERE plan_id = $1) + (SELECT count (*) FROM "
                               "canary_states WHERE plan_id = $1)",
                               "t", id),
                  0);
    return rows;
}

JT_STORE_TEST (retention_repo, finished_plans_go_with_their_rows_unless_something_needs_them)
{
    //  web in prod: p1 is an older success of deploy 1.0 (p4d), p2 a
    //  failure; p3 is the last success of 1.1, p4 of a rollback to 1.0, p5
    //  the newest deploy (failed)
    s_plan ("p1", "web", "1.0", "prod", "deploy", "succeeded", 1000, 1100, 1);
    s_plan ("p2", "web", "1.1", "prod", "deploy", "failed", 2000, 2100, 2);
    s_plan ("p3", "web", "1.1", "prod", "deploy", "succeeded", 3000, 3100, 3);
    s_plan ("p4", "web", "1.0", "prod", "rollback", "succeeded", 3500, 3600, 4);
    s_plan ("p4d", "web", "1.0", "prod", "deploy", "succeeded", 4000, 4100, 5);
    s_plan ("p5", "web", "1.2", "prod", "deploy", "failed", 5000, 5100, 6);
    //  api in prod: a1 is superseded but an incident names it
    s_plan ("a1", "api", "2.0", "prod", "deploy", "succeeded", 1000, 1200, 7);
    s_plan ("a2", "api", "2.0", "prod", "deploy", "succeeded", 1500, 1600, 8);
    //  web in dev: d1 ran within a closed incident's window, d2 after it
    s_plan ("d1", "web", "3.0", "dev", "deploy", "succeeded", 1000, 1100, 9);
    s_plan ("d2", "web", "3.0", "dev", "deploy", "succeeded", 1300, 1400, 10);
    s_plan ("d3", "web", "3.0", "dev", "deploy", "succeeded", 2000, 2100, 11);
    //  web in staging: r1 rolls s1 back (running), ap1 awaits approval, s0
    //  is an older failure; a finished task t1 serves the running r1
    s_plan ("s0", "web", "4.0", "staging", "deploy", "failed", 50, 60, 12);
    s_plan ("s1", "web", "4.0", "staging", "deploy", "failed", 70, 80, 13);
    s_plan ("t1", "web", "4.0", "staging", "task", "succeeded", 90, 95, 14);
    s_plan ("r1", "web", "3.9", "staging", "rollback", "running", 100, 0, 15);
    s_plan ("ap1", "web", "4.1", "staging", "deploy", "approval", 110, 0, 16);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (s_store),
                                "UPDATE plans SET undoes = 's1', task = 't1' WHERE id = 'r1'", ""),
                  1);
    //  web in qa: q1 finished after the bound
    s_plan ("q1", "web", "5.0", "qa", "deploy", "failed", 8900, 9500, 17);
    s_plan ("q2", "web", "5.0", "qa", "deploy", "failed", 9600, 9700, 18);
    int64_t incident = 0;
    cr_assert_eq (
        ctl_incidents_repo_open (s_store, "prod", "api errors", "amy", "a1", 5200, 5200, &incident),
        0);
    cr_assert_eq (ctl_incidents_repo_close (s_store, incident, "amy", 5300), 0);
    cr_assert_eq (
        ctl_incidents_repo_open (s_store, "dev", "slow", "amy", NULL, 1050, 1050, &incident), 0);
    cr_assert_eq (ctl_incidents_repo_close (s_store, incident, "amy", 1200), 0);
    s_plan_rows ("p1", 3, 5);
    s_plan_rows ("p3", 2, 4);

    int64_t plans = -1;
    cr_assert_eq (ctl_retention_repo_plans (s_store, 9000, 20000, &plans), 0);
    cr_assert_eq (plans, 4);
    const char *gone[] = {"p1", "p2", "d2", "s0"};
    for (size_t index = 0; index < sizeof gone / sizeof *gone; index++)
        cr_assert_not (s_exists (gone[index]), "%s should be gone", gone[index]);
    const char *kept[] = {"p3", "p4", "p4d", "p5", "a1",  "a2", "d1",
                          "d3", "s1", "t1",  "r1", "ap1", "q1", "q2"};
    for (size_t index = 0; index < sizeof kept / sizeof *kept; index++)
        cr_assert (s_exists (kept[index]), "%s should be kept", kept[index]);
    cr_assert_eq (s_rows_of ("p1"), 0);
    cr_assert_eq (s_rows_of ("p3"), 2 + 4 + 3);
    char *args = NULL;
    cr_assert_eq (ctl_sql_text (ctl_store_sql (s_store), &args,
                                "SELECT args FROM audit WHERE command = 'plans.pruned'", ""),
                  0);
    cr_assert_str_eq (args, "before=9000 plans=4");
    free (args);
    //  nothing more to do: no audit row either
    cr_assert_eq (ctl_retention_repo_plans (s_store, 9000, 20001, &plans), 0);
    cr_assert_eq (plans, 0);
    cr_assert_eq (s_count ("SELECT count (*) FROM audit WHERE command = 'plans.pruned'"), 1);
}

JT_STORE_TEST (retention_repo, a_backlog_of_plans_goes_in_bounded_slices)
{
    ctl_sql_t *sql = ctl_store_sql (s_store);
    cr_assert_eq (ctl_sql_begin (sql), 0);
    for (int index = 0; index < 30; index++) {
        char id[16];
        snprintf (id, sizeof id, "b%02d", index);
        s_plan (id, "web", "1.0", "prod", "deploy", "failed", 1000 + index, 1100 + index,
                index + 1);
        s_plan_rows (id, 10, 50);
    }
    cr_assert_eq (ctl_sql_commit (sql), 0);
    int calls = 0, rc = 1;
    int64_t total = 0;
    while (rc == 1 && calls < 20) {
        int64_t before_rows =
            s_count ("SELECT count (*) FROM events") + s_count ("SELECT count (*) FROM plan_hosts");
        int64_t plans = 0;
        rc = ctl_retention_repo_plans (s_store, 9000, 20000 + calls, &plans);
        cr_assert_geq (rc, 0);
        int64_t after_rows =
            s_count ("SELECT count (*) FROM events") + s_count ("SELECT count (*) FROM plan_hosts");
        //  a slice deletes at most its budget of rows
        cr_assert_leq (before_rows - after_rows, CTL_RETENTION_SLICE);
        cr_assert_lt (plans, 30);
        total += plans;
        calls++;
    }
    cr_assert_eq (rc, 0);
    cr_assert_geq (calls, 2);
    //  every plan but the newest deploy, and nothing of theirs
    cr_assert_eq (total, 29);
    cr_assert_eq (s_count ("SELECT count (*) FROM plans"), 1);
    cr_assert (s_exists ("b29"));
    cr_assert_eq (s_count ("SELECT count (*) FROM events"), 50);
    cr_assert_eq (s_count ("SELECT count (*) FROM plan_hosts"), 10);
}
