//  test_controller_upgrade - a newer controller opens a state.db of schema v1
//  SPDX-License-Identifier: MPL-2.0
//
//  tests/fixtures/controller-v1.sql is a dump of a real controller database
//  made by the first schema (an agent, a release, a finished plan, audit
//  entries). It is never regenerated: new migrations must bring it to the
//  current schema with its data intact.

#include "ctl_store.h"
#include "jad_db.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_dir;
static char s_old[PATH_MAX];    //  made from the v1 dump
static char s_fresh[PATH_MAX];  //  made by the current code

//  Build a database file from a SQL dump.
static void s_load_dump (const char *dump, const char *path)
{
    char *sql = jt_read_file (dump);
    cr_assert_not_null (sql, "cannot read %s", dump);
    sqlite3 *db = NULL;
    cr_assert_eq (sqlite3_open (path, &db), SQLITE_OK);
    char *error = NULL;
    cr_assert_eq (sqlite3_exec (db, sql, NULL, NULL, &error), SQLITE_OK, "%s", error);
    jad_db_close (&db);
    free (sql);
}

static int64_t s_int (sqlite3 *db, const char *sql)
{
    int64_t value = -1;
    cr_assert_eq (jad_db_get_int (db, sql, NULL, &value), 0, "no row for %s", sql);
    return value;
}

static char *s_text (sqlite3 *db, const char *sql)
{
    char *value = NULL;
    cr_assert_eq (jad_db_get_text (db, sql, NULL, &value), 0, "no row for %s", sql);
    return value;
}

//  A plain SQLite connection to a database file, to look at it.
static sqlite3 *s_raw (const char *path)
{
    sqlite3 *db = NULL;
    cr_assert_eq (sqlite3_open (path, &db), SQLITE_OK);
    sqlite3_busy_timeout (db, 5000);
    return db;
}

static void setup (void)
{
    s_dir = jt_tempdir ("ctl-upgrade");
    snprintf (s_old, sizeof s_old, "%s/old.db", s_dir);
    snprintf (s_fresh, sizeof s_fresh, "%s/fresh.db", s_dir);
    s_load_dump (JAD_SOURCE_DIR "/tests/fixtures/controller-v1.sql", s_old);
}

static void teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (store_upgrade, .init = setup, .fini = teardown);

Test (store_upgrade, v1_database_reaches_the_current_schema)
{
    ctl_store_t *fresh_store = ctl_store_open (s_fresh, CTL_STORE_CREATE);
    cr_assert_not_null (fresh_store);
    ctl_store_t *old_store = ctl_store_open (s_old, 0);
    cr_assert_not_null (old_store, "the current controller refuses a v1 state.db");
    //  the files as they are now, read beside the stores
    sqlite3 *fresh = s_raw (s_fresh), *old = s_raw (s_old);
    cr_assert_eq (s_int (old, "PRAGMA user_version"), s_int (fresh, "PRAGMA user_version"));
    //  same tables, indexes and triggers as a database made from scratch
    const char *schema = "SELECT group_concat (type || ' ' || name || ': ' || sql, '\n') FROM "
                         "(SELECT * FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                         "ORDER BY type, name)";
    char *old_schema = s_text (old, schema);
    char *fresh_schema = s_text (fresh, schema);
    cr_assert_str_eq (old_schema, fresh_schema);
    free (old_schema);
    free (fresh_schema);
    jad_db_close (&old);
    jad_db_close (&fresh);
    ctl_store_destroy (&old_store);
    ctl_store_destroy (&fresh_store);
}

Test (store_upgrade, v1_data_survives)
{
    ctl_store_t *store = ctl_store_open (s_old, 0);
    cr_assert_not_null (store);
    sqlite3 *db = s_raw (s_old);
    char *text = s_text (db, "SELECT name || '/' || env || '/' || state FROM agents");
    cr_assert_str_eq (text, "web-1/staging/accepted");
    free (text);
    text = s_text (db, "SELECT version || '/' || health FROM agent_apps WHERE agent = 'web-1' "
                       "AND app = 'hello'");
    cr_assert_str_eq (text, "1.0/healthy");
    free (text);
    cr_assert_eq (s_int (db, "SELECT length FROM releases WHERE app = 'hello' AND version = '1.0'"),
                  653);
    text = s_text (db, "SELECT state FROM plans WHERE id = '2a30d661'");
    cr_assert_str_eq (text, "succeeded");
    free (text);
    cr_assert_eq (s_int (db, "SELECT count(*) FROM events WHERE plan_id = '2a30d661'"), 11);
    cr_assert_eq (s_int (db, "SELECT count(*) FROM audit"), 6);
    cr_assert_eq (s_int (db, "SELECT count(*) FROM operators WHERE name = 'admin'"), 1);
    //  the plan sequence continues where v1 left it
    cr_assert_eq (ctl_store_next_sequence (store), 2);
    //  and the audit log is still append-only
    cr_assert_neq (sqlite3_exec (db, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq (s_int (db, "SELECT count(*) FROM audit"), 6);
    jad_db_close (&db);
    ctl_store_destroy (&store);
}

Test (store_upgrade, newer_schema_is_refused_unchanged)
{
    ctl_store_t *store = ctl_store_open (s_fresh, CTL_STORE_CREATE);
    cr_assert_not_null (store);
    int64_t current = ctl_store_schema_version (store);
    ctl_store_destroy (&store);
    sqlite3 *fresh = s_raw (s_fresh);
    cr_assert_eq (s_int (fresh, "PRAGMA user_version"), current);
    char pragma[64];
    snprintf (pragma, sizeof pragma, "PRAGMA user_version=%lld", (long long)current + 1);
    cr_assert_eq (jad_db_exec (fresh, pragma), 0);
    jad_db_close (&fresh);
    cr_assert_null (ctl_store_open (s_fresh, 0), "an older controller opened a newer state.db");
    sqlite3 *raw = NULL;
    cr_assert_eq (sqlite3_open (s_fresh, &raw), SQLITE_OK);
    cr_assert_eq (s_int (raw, "PRAGMA user_version"), current + 1);
    jad_db_close (&raw);
}

Test (store_upgrade, rowid_tie_breakers_became_columns)
{
    ctl_store_t *store = ctl_store_open (s_old, 0);
    cr_assert_not_null (store);
    sqlite3 *db = s_raw (s_old);
    //  plans keep their order in an explicit sequence
    cr_assert_eq (s_int (db, "SELECT count(*) FROM plans WHERE seq IS NULL"), 0);
    cr_assert_eq (s_int (db, "SELECT seq FROM plans WHERE id = '2a30d661'"), 1);
    //  samples have an explicit id, and the rollup watermark follows it
    cr_assert_eq (s_int (db, "SELECT count(*) FROM pragma_table_info ('samples') WHERE name = "
                             "'id' AND pk = 1"),
                  1);
    cr_assert_eq (s_int (db, "SELECT CAST (value AS INTEGER) FROM meta WHERE key = "
                             "'rollup_sample_id'"),
                  0);
    cr_assert_eq (s_int (db, "SELECT count(*) FROM meta WHERE key = 'rollup_rowid'"), 0);
    cr_assert_str_eq (ctl_store_migration_name (store, 7), "plans_seq");
    cr_assert_str_eq (ctl_store_migration_name (store, 8), "samples_id");
    cr_assert_str_eq (ctl_store_migration_name (store, 9), "alert_events_error");
    cr_assert_null (ctl_store_migration_name (store, ctl_store_schema_version (store) + 1));
    jad_db_close (&db);
    ctl_store_destroy (&store);
}
