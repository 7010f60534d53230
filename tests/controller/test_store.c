//  test_store - the store handle: backends by target, schema, sequence,
//  nested transactions, a read-only handle beside the writer
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_store.h"
#include "ctl_store_internal.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static char *s_dir;
static char s_path[PATH_MAX];

static void setup (void)
{
    s_dir = jt_tempdir ("ctl-store");
    snprintf (s_path, sizeof s_path, "%s/state.db", s_dir);
}

static void teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (store, .init = setup, .fini = teardown);

static int64_t s_count (ctl_store_t *store, const char *sql)
{
    int64_t value = -1;
    cr_assert_eq (ctl_sql_int (ctl_store_sql (store), &value, sql, ""), 0, "no row: %s", sql);
    return value;
}

Test (store, opens_a_path_or_a_sqlite_target_and_refuses_other_backends)
{
    cr_assert_null (ctl_store_open (s_path, 0), "opened a missing database without create");
    ctl_store_t *store = ctl_store_open (s_path, CTL_STORE_CREATE);
    cr_assert_not_null (store);
    cr_assert_str_eq (ctl_store_backend (store), "sqlite");
    int version = ctl_store_schema_version (store);
    cr_assert_geq (version, 8);
    cr_assert_str_eq (ctl_store_migration_name (store, 1), "core");
    ctl_store_destroy (&store);
    ctl_store_destroy (&store);  //  safe twice
    char target[PATH_MAX + 16];
    snprintf (target, sizeof target, "sqlite:%s", s_path);
    store = ctl_store_open (target, 0);
    cr_assert_not_null (store, "sqlite:PATH refused");
    cr_assert_eq (ctl_store_schema_version (store), version);
    ctl_store_destroy (&store);
    cr_assert_null (ctl_store_open ("postgresql://db.example/jadugar", 0));
    cr_assert_null (ctl_store_open ("", 0));
    cr_assert_null (ctl_store_open (NULL, 0));
}

Test (store, sequence_is_persisted_and_strictly_increasing)
{
    ctl_store_t *store = ctl_store_open (s_path, CTL_STORE_CREATE);
    cr_assert_eq (ctl_store_next_sequence (store), 1);
    cr_assert_eq (ctl_store_next_sequence (store), 2);
    ctl_store_destroy (&store);
    store = ctl_store_open (s_path, 0);
    cr_assert_eq (ctl_store_next_sequence (store), 3, "the sequence went back after a restart");
    ctl_store_destroy (&store);
}

Test (store, transactions_nest_and_roll_back_alone)
{
    ctl_store_t *store = ctl_store_open (s_path, CTL_STORE_CREATE);
    ctl_sql_t *sql = ctl_store_sql (store);
    cr_assert_eq (ctl_store_begin (store), 0);
    cr_assert_eq (
        ctl_sql_exec (sql, "INSERT INTO meta (key, value) VALUES ($1, $2)", "tt", "a", "1"), 1);
    //  a unit of work inside the burst fails and rolls back alone
    cr_assert_eq (ctl_store_begin (store), 0);
    cr_assert_eq (
        ctl_sql_exec (sql, "INSERT INTO meta (key, value) VALUES ($1, $2)", "tt", "b", "2"), 1);
    ctl_store_rollback (store);
    cr_assert_eq (ctl_store_commit (store), 0);
    cr_assert_eq (s_count (store, "SELECT count(*) FROM meta WHERE key IN ('a', 'b')"), 1);
    ctl_store_destroy (&store);
}

Test (store, parameters_bind_by_number_in_any_order)
{
    ctl_store_t *store = ctl_store_open (s_path, CTL_STORE_CREATE);
    ctl_sql_t *sql = ctl_store_sql (store);
    char *text = NULL;
    //  $2 appears first: SQLite numbers it 1, the layer binds it by name
    cr_assert_eq (
        ctl_sql_text (sql, &text, "SELECT $2 || '/' || $1 || '/' || $2", "tt", "one", "two"), 0);
    cr_assert_str_eq (text, "two/one/two");
    free (text);
    int64_t value = 0;
    cr_assert_eq (ctl_sql_int (sql, &value, "SELECT $1 + $2", "ii", (int64_t)40, (int64_t)2), 0);
    cr_assert_eq (value, 42);
    cr_assert_eq (ctl_sql_int (sql, &value, "SELECT 1 WHERE 0", ""), 1, "a missing row");
    //  SQL that does not prepare fails cleanly
    cr_assert_eq (ctl_sql_exec (sql, "UPDATE nowhere SET x = 1", ""), -1);
    ctl_store_destroy (&store);
}

Test (store, a_read_only_handle_reads_beside_the_writer_and_cannot_write)
{
    ctl_store_t *writer = ctl_store_open (s_path, CTL_STORE_CREATE);
    ctl_store_t *reader = ctl_store_open (s_path, CTL_STORE_READONLY);
    cr_assert_not_null (reader);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (writer),
                                "INSERT INTO meta (key, value) VALUES "
                                "('seen', 'yes')",
                                ""),
                  1);
    cr_assert_eq (s_count (reader, "SELECT count(*) FROM meta WHERE key = 'seen'"), 1);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (reader), "DELETE FROM meta", ""), -1);
    cr_assert_eq (s_count (writer, "SELECT count(*) FROM meta WHERE key = 'seen'"), 1);
    ctl_store_destroy (&reader);
    ctl_store_destroy (&writer);
}
