//  test_retention - retention: through a real controller: audit rows and
//  finished plans made old (inserted with old times) go in slices from the
//  leader's maintenance timer; what is recent or still needed stays
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jt_fleet_t *fleet;

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

TestSuite (retention, .fini = s_teardown, .timeout = 240);

//  Run `sql` on the fleet controller's store; returns its output (caller
//  frees), aborting the test on failure.
static char *s_sql (const char *sql)
{
    char *output = NULL;
    cr_assert_eq (jt_fleet_sql (fleet, &output, sql), 0, "%s:\n%s", sql, output);
    return output;
}

static long s_number (const char *sql)
{
    char *output = s_sql (sql);
    long value = strtol (output, NULL, 10);
    free (output);
    return value;
}

static bool s_old_rows_gone (void *arg)
{
    (void)arg;
    return s_number ("SELECT count (*) FROM audit WHERE time < 100000;") == 0 &&
           s_number ("SELECT count (*) FROM plans WHERE id = 'old-1';") == 0;
}

Test (retention, old_audit_rows_and_plans_go_and_the_rest_stays)
{
    fleet = jt_fleet_new ();
    cr_assert (jt_fleet_wait_status (fleet, "\"agents\"", 1, 20000), "controller did not start");
    //  1970: 1,500 audit rows (two slices), a finished plan with its rows,
    //  and the newest deploy of web in dev (kept: `rollback` needs it)
    char *output = s_sql (
        "INSERT INTO audit (time, operator, command, args, outcome) "
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
        "SELECT 1000 + i, 'amy', 'deploy', 'web 1.0', 'ok' FROM n;\n"
        "INSERT INTO plans (id, app, version, env, kind, strategy, state, created, finished, "
        "progress, seq) VALUES ('old-1', 'web', '1.0', 'dev', 'deploy', 'all', 'failed', 1000, "
        "2000, 2000, 1000001), ('old-2', 'web', '1.1', 'dev', 'deploy', 'all', 'succeeded', 3000, "
        "4000, 4000, 1000002);\n"
        "INSERT INTO plan_hosts (plan_id, agent, state) VALUES ('old-1', 'h1', 'failed'), "
        "('old-2', 'h1', 'healthy');\n"
        "INSERT INTO events (plan_id, agent, time, step, status) VALUES ('old-1', 'h1', 1500, "
        "'activate', 'failed'), ('old-2', 'h1', 3500, 'activate', 'ok');\n");
    free (output);
    long recent = s_number ("SELECT count (*) FROM audit WHERE time >= 100000;");
    //  no retention: configured: nothing goes (the controller has had its
    //  first maintenance pass at start; one more pass after a restart)
    jt_fleet_restart_controller (fleet);
    cr_assert (jt_fleet_wait_status (fleet, "\"agents\"", 1, 20000), "controller did not start");
    cr_assert_eq (s_number ("SELECT count (*) FROM audit WHERE time < 100000;"), 1500);

    jt_fleet_config_line (fleet, "  # audit: ", "  audit: 1d");
    jt_fleet_config_line (fleet, "  # plans: ", "  plans: 1d");
    output = NULL;
    cr_assert_eq (jt_run (&output, "%s/controller/jadugar-controller check --data %s/controller",
                          JAD_BIN_DIR, fleet->dir),
                  0, "%s", output);
    free (output);
    jt_fleet_restart_controller (fleet);
    cr_assert (jt_wait_for (s_old_rows_gone, NULL, 60000), "the old rows are still there");

    //  two slices, each in the audit log; recent rows stay
    cr_assert_eq (s_number ("SELECT count (*) FROM audit WHERE command = 'audit.pruned';"), 2);
    cr_assert_eq (s_number ("SELECT count (*) FROM audit WHERE command = 'audit.pruned' AND "
                            "args LIKE '%rows=1000';"),
                  1);
    cr_assert_eq (s_number ("SELECT count (*) FROM audit WHERE command = 'audit.pruned' AND "
                            "args LIKE '%rows=500';"),
                  1);
    cr_assert_geq (s_number ("SELECT count (*) FROM audit WHERE time >= 100000 AND command != "
                             "'audit.pruned' AND command != 'plans.pruned';"),
                   recent);
    cr_assert_eq (s_number ("SELECT count (*) FROM audit WHERE command = 'plans.pruned' AND args "
                            "LIKE '%plans=1';"),
                  1);
    //  the failed plan went with its rows, the newest deploy stayed
    cr_assert_eq (s_number ("SELECT count (*) FROM plans WHERE id = 'old-2';"), 1);
    cr_assert_eq (s_number ("SELECT count (*) FROM plan_hosts WHERE plan_id = 'old-1';"), 0);
    cr_assert_eq (s_number ("SELECT count (*) FROM events WHERE plan_id = 'old-1';"), 0);
    cr_assert_eq (s_number ("SELECT count (*) FROM events WHERE plan_id = 'old-2';"), 1);
    //  and the controller is fine
    cr_assert_eq (jt_jadctl (fleet, NULL, "status"), 0);
}
