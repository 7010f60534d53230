//  test_agent_upgrade - a newer agent opens a state.db of schema v1
//  SPDX-License-Identifier: MPL-2.0
//
//  tests/fixtures/agent-v1.sql is a dump of a real agent database made by
//  the first schema (a healthy app after one plan). It is never regenerated.

#include "agt_store.h"
#include "jad_db.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_dir;
static char s_old[PATH_MAX];

static void setup (void)
{
    s_dir = jt_tempdir ("agt-upgrade");
    snprintf (s_old, sizeof s_old, "%s/state.db", s_dir);
    char *sql = jt_read_file (JAD_SOURCE_DIR "/tests/fixtures/agent-v1.sql");
    cr_assert_not_null (sql);
    sqlite3 *db = NULL;
    cr_assert_eq (sqlite3_open (s_old, &db), SQLITE_OK);
    char *error = NULL;
    cr_assert_eq (sqlite3_exec (db, sql, NULL, NULL, &error), SQLITE_OK, "%s", error);
    sqlite3_close (db);
    free (sql);
}

static void teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (agent_store_upgrade, .init = setup, .fini = teardown);

Test (agent_store_upgrade, v1_state_survives)
{
    agt_store_t *store = agt_store_new (s_old, false);
    cr_assert_not_null (store, "the current agent refuses a v1 state.db");
    //  replay protection carries over: the last accepted sequence stays
    cr_assert_eq (agt_store_last_sequence (store), 1);
    cr_assert_str_eq (agt_store_incarnation (store), "5d8c522d9483e301");
    char *version = agt_store_app_version (store, "hello");
    cr_assert_str_eq (version ? version : "", "1.0");
    free (version);
    cr_assert (agt_store_release_known (
        store, "hello", "1.0", "4230a4a4386a12b19ddc5c06e5e10afcccf10392e1279467d502633c23aa26ce"));
    char *state = NULL, *step = NULL;
    cr_assert_eq (agt_store_plan_state (store, "2a30d661", &state, &step), 0);
    cr_assert_str_eq (state, "done");
    free (state);
    free (step);
    //  its signed envelope is a protocol-1 plan (a list of targets): this
    //  agent speaks protocol 2 for plans (a Merkle commitment and a proof),
    //  so it does not load it as a plan to run (a plan in flight during
    //  the upgrade fails, "stored plan unreadable"; docs/operations.md says
    //  to let plans finish first); its outcome above is kept
    jad_plan_t *plan = agt_store_load_plan (store, "2a30d661");
    cr_assert_null (plan);
    agt_store_destroy (&store);
}
