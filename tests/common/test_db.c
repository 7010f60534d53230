//  test_db - SQLite helpers of jad_db: open and migrate, values, column copies
//  SPDX-License-Identifier: MPL-2.0

#include "jad_db.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

static char *s_dir;
static sqlite3 *s_db;

static void s_setup (void)
{
    s_dir = jt_tempdir ("jad-db");
    char path[4096];
    snprintf (path, sizeof path, "%s/test.db", s_dir);
    static const char *const migrations[] = {
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, note TEXT)"};
    s_db = jad_db_open (path, true, migrations, 1);
    cr_assert_not_null (s_db);
}

static void s_teardown (void)
{
    jad_db_close (&s_db);
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (db, .init = s_setup, .fini = s_teardown);

Test (db, column_dup_copies_text_and_keeps_null)
{
    cr_assert_eq (jad_db_exec (s_db, "INSERT INTO items (name, note) VALUES ('web', NULL)"), 0);
    sqlite3_stmt *stmt = jad_db_prepare (s_db, "SELECT name, note, id FROM items");
    cr_assert_not_null (stmt);
    cr_assert_eq (sqlite3_step (stmt), SQLITE_ROW);
    char *name = jad_db_column_dup (stmt, 0);
    char *note = jad_db_column_dup (stmt, 1);
    char *id = jad_db_column_dup (stmt, 2);
    sqlite3_finalize (stmt);
    cr_assert_str_eq (name, "web", "the copy outlives the statement");
    cr_assert_null (note);
    cr_assert_str_eq (id, "1", "an integer column reads as its text");
    free (name);
    free (id);
}

Test (db, get_text_says_found_none_or_error)
{
    cr_assert_eq (jad_db_exec (s_db, "INSERT INTO items (name, note) VALUES ('web', 'n')"), 0);
    char *value = NULL;
    cr_assert_eq (jad_db_get_text (s_db, "SELECT note FROM items WHERE name = ?", "web", &value),
                  0);
    cr_assert_str_eq (value, "n");
    free (value);
    value = NULL;
    cr_assert_eq (jad_db_get_text (s_db, "SELECT note FROM items WHERE name = ?", "db", &value), 1);
    cr_assert_null (value);
    cr_assert_eq (jad_db_get_text (s_db, "SELECT nothing FROM nowhere", NULL, &value), -1);
}

static int64_t s_count (const char *sql)
{
    int64_t value = -1;
    cr_assert_eq (jad_db_get_int (s_db, sql, NULL, &value), 0, "%s", sql);
    return value;
}

Test (db, units_nest_each_commits_or_rolls_back_on_its_own)
{
    cr_assert_eq (jad_db_begin (s_db), 0);
    cr_assert_not (sqlite3_get_autocommit (s_db));
    cr_assert_eq (jad_db_exec (s_db, "INSERT INTO items (name) VALUES ('a')"), 0);
    cr_assert_eq (jad_db_begin (s_db), 0);
    cr_assert_eq (jad_db_exec (s_db, "INSERT INTO items (name) VALUES ('b')"), 0);
    jad_db_rollback (s_db);
    cr_assert_not (sqlite3_get_autocommit (s_db), "an inner rollback keeps the outer unit");
    cr_assert_eq (jad_db_begin (s_db), 0);
    cr_assert_eq (jad_db_exec (s_db, "INSERT INTO items (name) VALUES ('c')"), 0);
    cr_assert_eq (jad_db_commit (s_db), 0);
    cr_assert_not (sqlite3_get_autocommit (s_db), "an inner commit keeps the outer unit");
    cr_assert_eq (jad_db_commit (s_db), 0);
    cr_assert (sqlite3_get_autocommit (s_db));
    char *names = NULL;
    cr_assert_eq (jad_db_get_text (s_db, "SELECT group_concat (name, '') FROM items", NULL, &names),
                  0);
    cr_assert_str_eq (names, "ac");
    free (names);

    //  an outer rollback takes what inner units committed with it
    cr_assert_eq (jad_db_begin (s_db), 0);
    cr_assert_eq (jad_db_exec (s_db, "INSERT INTO items (name) VALUES ('d')"), 0);
    cr_assert_eq (jad_db_begin (s_db), 0);
    cr_assert_eq (jad_db_exec (s_db, "INSERT INTO items (name) VALUES ('e')"), 0);
    cr_assert_eq (jad_db_commit (s_db), 0);
    jad_db_rollback (s_db);
    cr_assert (sqlite3_get_autocommit (s_db));
    cr_assert_eq (s_count ("SELECT count(*) FROM items"), 2);
    //  nothing to commit or roll back
    cr_assert_eq (jad_db_commit (s_db), -1);
    jad_db_rollback (s_db);
    cr_assert_eq (s_count ("SELECT count(*) FROM items"), 2);
}
