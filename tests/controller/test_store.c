//  test_store - the store handle: backends by target, schema, sequence,
//  nested transactions, a read-only handle beside the writer; each test on
//  SQLite (suite store) and on a real PostgreSQL (suite store_pg)
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_store.h"
#include "ctl_store_internal.h"
#include "jad_testlib.h"
#include "jad_testpg.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

JT_PG_SERVER ()

static jt_store_target_t s_target;

static void setup_sqlite (void)
{
    jt_store_target_new (&s_target, false, "ctl-store");
}

static void setup_pg (void)
{
    jt_store_target_new (&s_target, true, "ctl-store");
}

static void teardown (void)
{
    jt_store_target_free (&s_target);
}

TestSuite (store, .init = setup_sqlite, .fini = teardown);
TestSuite (store_pg, .init = setup_pg, .fini = teardown);

static int64_t s_count (ctl_store_t *store, const char *sql)
{
    int64_t value = -1;
    cr_assert_eq (ctl_sql_int (ctl_store_sql (store), &value, sql, ""), 0, "no row: %s", sql);
    return value;
}

Test (store, opens_a_path_or_a_sqlite_target_and_refuses_other_backends)
{
    const char *path = s_target.target;
    cr_assert_null (ctl_store_open (path, 0), "opened a missing database without create");
    ctl_store_t *store = ctl_store_open (path, CTL_STORE_CREATE);
    cr_assert_not_null (store);
    cr_assert_str_eq (ctl_store_backend (store), "sqlite");
    int version = ctl_store_schema_version (store);
    cr_assert_geq (version, 8);
    cr_assert_str_eq (ctl_store_migration_name (store, 1), "core");
    ctl_store_destroy (&store);
    ctl_store_destroy (&store);  //  safe twice
    char target[PATH_MAX + 16];
    snprintf (target, sizeof target, "sqlite:%s", path);
    store = ctl_store_open (target, 0);
    cr_assert_not_null (store, "sqlite:PATH refused");
    cr_assert_eq (ctl_store_schema_version (store), version);
    ctl_store_destroy (&store);
    cr_assert_null (ctl_store_open ("mysql://db.example/jadugar", 0));
    cr_assert_null (ctl_store_open ("", 0));
    cr_assert_null (ctl_store_open (NULL, 0));
}

//  Whether this process has a temporary file of SQLite's open (named
//  etilqs_*, deleted as soon as it is made).
static bool s_temp_file_open (void)
{
    char *listing = NULL;
    cr_assert_eq (jt_run (&listing, "ls -l /proc/%d/fd", (int)getpid ()), 0);
    bool open = strstr (listing, "etilqs_") != NULL;
    free (listing);
    return open;
}

//  A burst is one transaction with a unit (a savepoint) per message. The
//  pages a unit changes are journaled so that it can roll back alone: in
//  memory, never a temporary file written page by page (past 64 KiB,
//  SQLite's default moves that journal to /var/tmp for the rest of the
//  transaction: 9 % of a deploy round's controller CPU).
Test (store, a_burst_s_units_journal_in_memory_not_in_a_temporary_file)
{
    ctl_store_t *store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    cr_assert_not_null (store);
    ctl_sql_t *sql = ctl_store_sql (store);
    cr_assert_geq (ctl_sql_exec (sql, "CREATE TABLE bulk (id INTEGER PRIMARY KEY, note TEXT)", ""),
                   0);
    cr_assert_geq (ctl_sql_exec (sql,
                                 "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                                 "WHERE i < 20000) INSERT INTO bulk (id, note) SELECT i, "
                                 "printf ('%.100c', 'x') FROM n",
                                 ""),
                   0);
    cr_assert_eq (ctl_store_begin (store), 0);
    for (int unit = 0; unit < 100; unit++) {
        cr_assert_eq (ctl_store_begin (store), 0);
        //  200 rows 100 apart: some 800 KiB of pages, each unit its own
        cr_assert_eq (ctl_sql_exec (sql, "UPDATE bulk SET note = 'unit' WHERE id % 100 = $1", "i",
                                    (int64_t)unit),
                      200);
        cr_assert_eq (ctl_store_commit (store), 0);
    }
    cr_expect_not (s_temp_file_open (), "the burst's units were journaled in a temporary file");
    cr_assert_eq (ctl_store_commit (store), 0);
    cr_assert_eq (s_count (store, "SELECT count(*) FROM bulk WHERE note = 'unit'"), 20000);
    ctl_store_destroy (&store);
}

Test (store_pg, opens_a_url_with_the_same_migrations_as_sqlite)
{
    cr_assert_null (ctl_store_open (s_target.target, 0),
                    "opened a database without a store, without create");
    ctl_store_t *store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    cr_assert_not_null (store);
    cr_assert_str_eq (ctl_store_backend (store), "postgresql");
    //  the same schema versions, by name, on both backends
    jt_store_target_t lite;
    jt_store_target_new (&lite, false, "ctl-store-lite");
    ctl_store_t *sqlite = ctl_store_open (lite.target, CTL_STORE_CREATE);
    cr_assert_not_null (sqlite);
    int version = ctl_store_schema_version (store);
    cr_assert_eq (version, ctl_store_schema_version (sqlite));
    for (int step = 1; step <= version + 1; step++) {
        const char *name = ctl_store_migration_name (store, step);
        const char *twin = ctl_store_migration_name (sqlite, step);
        cr_assert ((name && twin && strcmp (name, twin) == 0) || (!name && !twin),
                   "migration %d is %s on postgresql, %s on sqlite", step, name ? name : "-",
                   twin ? twin : "-");
    }
    ctl_store_destroy (&sqlite);
    jt_store_target_free (&lite);
    ctl_store_destroy (&store);
    //  opened again: nothing to migrate; postgres:// is the same backend
    char target[PATH_MAX];
    snprintf (target, sizeof target, "postgres%s", strchr (s_target.target, ':'));
    store = ctl_store_open (target, 0);
    cr_assert_not_null (store, "postgres://... refused");
    cr_assert_eq (ctl_store_schema_version (store), version);
    ctl_store_destroy (&store);
    //  a server that is not there, a database that does not exist
    int fd = -1;
    snprintf (target, sizeof target, "postgresql://jadugar@127.0.0.1:%d/none?connect_timeout=5",
              jt_closed_port (&fd));
    cr_assert_null (ctl_store_open (target, CTL_STORE_CREATE));
    close (fd);
    snprintf (target, sizeof target, "%s_missing", s_target.target);
    cr_assert_null (ctl_store_open (target, CTL_STORE_CREATE));
    cr_assert_null (ctl_store_open ("postgresql://[bad", CTL_STORE_CREATE));
}

Test (store_pg, two_stores_opening_one_empty_database_migrate_it_once)
{
    ctl_store_t *one = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    ctl_store_t *two = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    cr_assert_not_null (one);
    cr_assert_not_null (two);
    cr_assert_eq (ctl_store_schema_version (one), ctl_store_schema_version (two));
    cr_assert_eq (s_count (two, "SELECT count(*) FROM meta WHERE key = 'sequence'"), 1);
    //  the audit log refuses edits here too
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (one),
                                "INSERT INTO audit (time, operator, command, outcome) "
                                "VALUES (1, 'admin', 'deploy', 'ok')",
                                ""),
                  1);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (one), "DELETE FROM audit", ""), -1);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (one), "UPDATE audit SET outcome = 'no'", ""), -1);
    cr_assert_eq (s_count (two, "SELECT count(*) FROM audit WHERE outcome = 'ok'"), 1);
    ctl_store_destroy (&one);
    ctl_store_destroy (&two);
}

Test (store_pg, a_failed_statement_fails_its_unit_and_an_aborted_commit_fails)
{
    ctl_store_t *store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    ctl_sql_t *sql = ctl_store_sql (store);
    cr_assert_eq (ctl_store_begin (store), 0);
    cr_assert_eq (ctl_sql_exec (sql, "INSERT INTO meta (key, value) VALUES ('a', '1')", ""), 1);
    //  a unit whose statement fails rolls back to its savepoint: the rest goes on
    cr_assert_eq (ctl_store_begin (store), 0);
    cr_assert_eq (ctl_sql_exec (sql, "INSERT INTO meta (key, value) VALUES ('a', '2')", ""), -1);
    ctl_store_rollback (store);
    cr_assert_eq (ctl_sql_exec (sql, "INSERT INTO meta (key, value) VALUES ('b', '1')", ""), 1);
    cr_assert_eq (ctl_store_commit (store), 0);
    cr_assert_eq (s_count (store, "SELECT count(*) FROM meta WHERE key IN ('a', 'b')"), 2);
    //  a failure left in the outermost transaction: its commit is a failure
    cr_assert_eq (ctl_store_begin (store), 0);
    cr_assert_eq (ctl_sql_exec (sql, "INSERT INTO meta (key, value) VALUES ('c', '1')", ""), 1);
    cr_assert_eq (ctl_sql_exec (sql, "INSERT INTO meta (key, value) VALUES ('a', '3')", ""), -1);
    cr_assert_eq (ctl_store_commit (store), -1, "an aborted transaction committed");
    ctl_store_rollback (store);  //  nothing left to roll back: harmless
    cr_assert_eq (s_count (store, "SELECT count(*) FROM meta WHERE key = 'c'"), 0);
    //  and the connection works on
    cr_assert_eq (ctl_sql_exec (sql, "INSERT INTO meta (key, value) VALUES ('d', '1')", ""), 1);
    ctl_store_destroy (&store);
}

JT_STORE_TEST (store, sequence_is_persisted_and_strictly_increasing)
{
    ctl_store_t *store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    cr_assert_eq (ctl_store_next_sequence (store), 1);
    cr_assert_eq (ctl_store_next_sequence (store), 2);
    ctl_store_destroy (&store);
    store = ctl_store_open (s_target.target, 0);
    cr_assert_eq (ctl_store_next_sequence (store), 3, "the sequence went back after a restart");
    ctl_store_destroy (&store);
}

JT_STORE_TEST (store, transactions_nest_and_roll_back_alone)
{
    ctl_store_t *store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
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
    //  a rolled back transaction leaves nothing
    cr_assert_eq (ctl_store_begin (store), 0);
    cr_assert_eq (
        ctl_sql_exec (sql, "INSERT INTO meta (key, value) VALUES ($1, $2)", "tt", "c", "3"), 1);
    ctl_store_rollback (store);
    cr_assert_eq (s_count (store, "SELECT count(*) FROM meta WHERE key = 'c'"), 0);
    ctl_store_destroy (&store);
}

JT_STORE_TEST (store, parameters_bind_by_number_in_any_order)
{
    ctl_store_t *store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
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
    //  64-bit integers and doubles come back as they went
    cr_assert_eq (ctl_sql_int (sql, &value, "SELECT $1", "i", (int64_t)INT64_MAX - 1), 0);
    cr_assert_eq (value, INT64_MAX - 1);
    double real = 0;
    ctl_query_t query;
    cr_assert_eq (ctl_sql_query (sql, &query, "SELECT $1, $2", "dt", 0.1, NULL), 0);
    cr_assert (ctl_query_next (&query));
    real = ctl_query_double (&query, 0);
    cr_assert (ctl_query_null (&query, 1));
    cr_assert_null (ctl_query_text (&query, 1));
    cr_assert_not (ctl_query_next (&query));
    cr_assert_eq (ctl_query_end (&query), 0);
    cr_assert_eq (real, 0.1);
    //  the same statement with other types bound
    cr_assert_eq (ctl_sql_int (sql, &value, "SELECT $1", "t", "7"), 0);
    cr_assert_eq (value, 7);
    cr_assert_eq (ctl_sql_int (sql, &value, "SELECT 1 WHERE 1 = 0", ""), 1, "a missing row");
    //  a parameter mark inside a literal is no parameter
    cr_assert_eq (ctl_sql_text (sql, &text, "SELECT '$1' || $1", "t", "x"), 0);
    cr_assert_str_eq (text, "$1x");
    free (text);
    //  a parameter only tested for NULL, inside a transaction, twice
    cr_assert_eq (ctl_store_begin (store), 0);
    const char *keys[] = {NULL, "sequence"};
    for (int index = 0; index < 2; index++) {
        cr_assert_eq (ctl_sql_int (sql, &value,
                                   "SELECT count(*) FROM meta WHERE ($1 IS NULL OR key = $1)", "t",
                                   keys[index]),
                      0);
        cr_assert (index == 0 ? value > 1 : value == 1);
    }
    //  SQL that does not prepare fails cleanly, and leaves the transaction
    cr_assert_eq (ctl_sql_exec (sql, "UPDATE nowhere SET x = $1", "t", "1"), -1);
    cr_assert_eq (ctl_store_commit (store), 0);
    cr_assert_eq (ctl_sql_exec (sql, "UPDATE nowhere SET x = 1", ""), -1);
    //  arguments that do not match the parameters are refused before binding
    cr_assert_eq (ctl_sql_exec (sql, "SELECT $1, $2", "i", (int64_t)1), -1);
    ctl_store_destroy (&store);
}

JT_STORE_TEST (store, a_read_only_handle_reads_beside_the_writer_and_cannot_write)
{
    ctl_store_t *writer = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    ctl_store_t *reader = ctl_store_open (s_target.target, CTL_STORE_READONLY);
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
