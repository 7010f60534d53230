//  test_migrate_store - a SQLite controller's whole state copied into a
//  real PostgreSQL: the schema fixture (tests/fixtures/controller-v1.sql,
//  brought to the current schema first) and a data dir made by `init`
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_agents_repo.h"
#include "ctl_migrate.h"
#include "ctl_releases_repo.h"
#include "ctl_store.h"
#include "ctl_store_internal.h"
#include "jad_db.h"
#include "jad_testlib.h"
#include "jad_testpg.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

JT_PG_SERVER ()

#define S_BIN JAD_BIN_DIR "/controller/jadugar-controller"

static int64_t s_count (ctl_store_t *store, const char *sql)
{
    int64_t value = -1;
    cr_assert_eq (ctl_sql_int (ctl_store_sql (store), &value, sql, ""), 0, "%s", sql);
    return value;
}

Test (migrate_store, the_schema_fixture_is_copied_whole_with_its_archives, .timeout = 120)
{
    char *dir = jt_tempdir ("ctl-migrate");
    char state[PATH_MAX], artifacts[PATH_MAX], path[PATH_MAX + 80];
    snprintf (state, sizeof state, "%s/state.db", dir);
    snprintf (artifacts, sizeof artifacts, "%s/artifacts", dir);
    char *sql = jt_read_file (JAD_SOURCE_DIR "/tests/fixtures/controller-v1.sql");
    cr_assert_not_null (sql);
    sqlite3 *db = NULL;
    cr_assert_eq (sqlite3_open (state, &db), SQLITE_OK);
    cr_assert_eq (sqlite3_exec (db, sql, NULL, NULL, NULL), SQLITE_OK);
    jad_db_close (&db);
    free (sql);
    //  an archive, named by its content, of more than one chunk
    size_t size = CTL_CHUNK_BYTES + 1000;
    uint8_t *archive = malloc (size), digest[32];
    cr_assert_not_null (archive);
    for (size_t index = 0; index < size; index++)
        archive[index] = (uint8_t)(index % 251);
    crypto_hash_sha256 (digest, archive, size);
    char sha[65];
    jad_hex (digest, 32, sha);
    cr_assert_eq (jad_mkdirs (artifacts, 0700), 0);
    snprintf (path, sizeof path, "%s/%s.tar.gz", artifacts, sha);
    FILE *file = fopen (path, "wb");
    cr_assert_not_null (file);
    cr_assert_eq (fwrite (archive, 1, size, file), size);
    cr_assert_eq (fclose (file), 0);
    free (archive);

    //  raw samples over two days, their ids with a gap (the fixture has none)
    ctl_store_t *prepared = ctl_store_open (state, 0);
    cr_assert_not_null (prepared);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (prepared),
                                "INSERT INTO samples (id, metric, host, ts, value) VALUES "
                                "(1, 1, 1, 1728000000010, 1.5), (2, 1, 1, 1728086399999, 2.5), "
                                "(5, 1, 1, 1728086400000, 3.5)",
                                ""),
                  3);
    ctl_store_destroy (&prepared);

    char *url = jt_pg_database ();
    cr_assert_not_null (url);
    ctl_migrate_counts_t counts;
    char err[1024] = "";
    cr_assert_eq (ctl_migrate_store (state, artifacts, url, &counts, err, sizeof err), 0, "%s",
                  err);
    cr_assert_eq (counts.archives, 1);
    cr_assert_gt (counts.tables, 10);
    //  what the fixture holds, row for row, on both
    ctl_store_t *source = ctl_store_open (state, 0);
    ctl_store_t *target = ctl_store_open (url, 0);
    cr_assert (source && target);
    cr_assert_eq (counts.tables, s_count (source, "SELECT COUNT(*) FROM sqlite_master WHERE "
                                                  "type = 'table' AND name NOT LIKE 'sqlite%'"));
    cr_assert_eq (s_count (target, "SELECT COUNT(*) FROM audit"),
                  s_count (source, "SELECT COUNT(*) FROM audit"));
    cr_assert_gt (s_count (target, "SELECT COUNT(*) FROM audit"), 0);
    cr_assert_eq (s_count (target, "SELECT COUNT(*) FROM plans"),
                  s_count (source, "SELECT COUNT(*) FROM plans"));
    cr_assert_eq (s_count (target, "SELECT COUNT(*) FROM plan_hosts"),
                  s_count (source, "SELECT COUNT(*) FROM plan_hosts"));
    cr_assert_eq (s_count (target, "SELECT COUNT(*) FROM meta"),
                  s_count (source, "SELECT COUNT(*) FROM meta"));
    cr_assert_eq (ctl_store_next_sequence (target), ctl_store_next_sequence (source),
                  "the plan sequence carried over");
    ctl_operator_t *admin = NULL;
    cr_assert_eq (ctl_agents_repo_operator_by_name (target, "admin", &admin), 0);
    cr_assert_str_eq (admin->public_key, "<3jjrEc(+Yn9/Q].eb$v(bNEkIIK0!(i^Ei04zUY");
    ctl_operator_destroy (&admin);
    ctl_release_t *release = NULL;
    cr_assert_eq (ctl_releases_repo_get (target, "hello", "1.0", &release), 0);
    cr_assert_str_eq (release->sha256,
                      "4230a4a4386a12b19ddc5c06e5e10afcccf10392e1279467d502633c23aa26ce");
    ctl_release_destroy (&release);
    cr_assert_eq (ctl_releases_repo_chunks_complete (target, sha, size), 1);
    //  the samples, in PostgreSQL's day-partitioned samples, each in the
    //  partition of its UTC day (made for it), none in the DEFAULT one:
    //  retention drops a past day whole
    cr_assert_eq (s_count (target, "SELECT COUNT(*) FROM samples"), 3);
    cr_assert_eq (s_count (target, "SELECT SUM(id) FROM samples WHERE (id = 1 AND ts = "
                                   "1728000000010) OR (id = 2 AND ts = 1728086399999) OR (id = "
                                   "5 AND ts = 1728086400000 AND value = 3.5)"),
                  8);
    cr_assert_eq (s_count (target, "SELECT COUNT(*) FROM samples WHERE tableoid = CAST "
                                   "('samples_default' AS regclass)"),
                  0);
    cr_assert_eq (s_count (target, "SELECT COUNT(*) FROM samples WHERE tableoid = CAST "
                                   "('samples_d20241004' AS regclass)"),
                  2);
    cr_assert_eq (s_count (target, "SELECT COUNT(*) FROM samples WHERE tableoid = CAST "
                                   "('samples_d20241005' AS regclass)"),
                  1);
    int64_t sample = 0;
    cr_assert_eq (ctl_sql_int (ctl_store_sql (target), &sample,
                               "INSERT INTO samples (metric, host, ts, value) VALUES (1, 1, "
                               "1728086400001, 1.0) RETURNING id",
                               ""),
                  0);
    cr_assert_eq (sample, 6, "the samples' identity goes on after the highest id copied");
    //  identity columns go on after the highest id copied
    int64_t last = s_count (target, "SELECT MAX(id) FROM audit");
    cr_assert_eq (ctl_agents_repo_audit_append (target, "admin", "status", NULL, "ok", 1), 0);
    cr_assert_eq (s_count (target, "SELECT MAX(id) FROM audit"), last + 1);
    ctl_store_destroy (&source);
    ctl_store_destroy (&target);
    //  a second run finds the state there and changes nothing
    cr_assert_eq (ctl_migrate_store (state, artifacts, url, &counts, err, sizeof err), 2);
    cr_assert (strstr (err, "already holds"), "%s", err);
    jt_pg_drop (url);
    free (url);
    jt_rmtree (dir);
    free (dir);
}

Test (migrate_store, a_controller_made_by_init_moves_to_postgresql_and_runs_checks, .timeout = 120)
{
    char *dir = jt_tempdir ("ctl-migrate-cli");
    char data[PATH_MAX];
    snprintf (data, sizeof data, "%s/controller", dir);
    char *out = NULL;
    cr_assert_eq (jt_run (&out, "%s init --data %s --port %d", S_BIN, data, jt_free_port_base (4)),
                  0, "%s", out);
    free (out);
    char *url = jt_pg_database ();
    cr_assert_not_null (url);
    cr_assert_eq (jt_run (&out, "%s migrate-store --data %s", S_BIN, data), 2);
    cr_assert (strstr (out, "needs --to"), "%s", out);
    free (out);
    cr_assert_eq (jt_run (&out, "%s migrate-store --data %s --to '%s'", S_BIN, data, url), 0, "%s",
                  out);
    cr_assert (strstr (out, "migrated: tables="), "%s", out);
    cr_assert (strstr (out, "archives=0"), "%s", out);
    cr_assert_null (strstr (out, url), "the URL is never printed: %s", out);
    free (out);
    //  again: refused, exit 2
    cr_assert_eq (jt_run (&out, "%s migrate-store --data %s --to '%s'", S_BIN, data, url), 2, "%s",
                  out);
    cr_assert (strstr (out, "already holds"), "%s", out);
    free (out);
    //  the store holds init's admin operator and enrollment token
    ctl_store_t *target = ctl_store_open (url, 0);
    cr_assert_not_null (target);
    ctl_operator_t *admin = NULL;
    cr_assert_eq (ctl_agents_repo_operator_by_name (target, "admin", &admin), 0);
    ctl_operator_destroy (&admin);
    ctl_store_destroy (&target);
    //  --to on another command is refused
    cr_assert_eq (jt_run (&out, "%s check --data %s --to '%s'", S_BIN, data, url), 2);
    free (out);
    jt_pg_drop (url);
    free (url);
    jt_rmtree (dir);
    free (dir);
}
