//  test_backup - a backup of a controller in the middle of a rollout and
//  its restore: `jadugar-controller backup` and `restore` into an empty
//  data directory on SQLite, the restore drill of docs/operations.md
//  (pg_dump, export-keys, pg_restore into a new database, the epoch
//  raised, init --join) on PostgreSQL. The restored controller finishes
//  the rollout (no host applies twice), serves and deploys
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"
#include "jad_testpg.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_CONTROLLER JAD_BIN_DIR "/controller/jadugar-controller"

static jt_fleet_t *fleet;

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

TestSuite (backup, .fini = s_teardown, .timeout = 300);

typedef struct {
    const char *plan_id;
    const char *needle;
} s_plan_wait_t;

static bool s_plan_has (void *arg)
{
    s_plan_wait_t *wait = (s_plan_wait_t *)arg;
    char *out = NULL;
    jt_jadctl (fleet, &out, "--json plan show %s", wait->plan_id);
    bool found = out && strstr (out, wait->needle);
    free (out);
    return found;
}

//  A release whose activate hook says it started, waits for the gate
//  file, then appends "activate VERSION HOST" to hooks.log.
static void s_add_release (const char *version, const char *log, const char *gate)
{
    char activate[1024], name[64];
    snprintf (activate, sizeof activate,
              "#!/bin/sh\necho \"start $JADUGAR_VERSION $JADUGAR_HOST\" >> '%s'\n"
              "while [ ! -e '%s' ]; do sleep 0.1; done\n"
              "echo \"activate $JADUGAR_VERSION $JADUGAR_HOST\" >> '%s'\n",
              log, gate, log);
    const char *files[] = {"jadugar.yaml", "hooks:\n  activate: ./hooks/activate.sh\n",
                           "hooks/activate.sh", activate, NULL};
    snprintf (name, sizeof name, "web-%s", version);
    char *archive = jt_make_release (fleet->dir, name, files);
    char *out = NULL;
    int rc = jt_jadctl (fleet, &out, "release add web %s %s", version, archive);
    cr_assert_eq (rc, 0, "release add failed (%d): %s", rc, out);
    free (out);
    free (archive);
}

//  SQLite: `backup` to a new 0600 file, never over one.
static void s_sqlite_backup (const char *data, const char *backup)
{
    char *out = NULL;
    cr_assert_eq (jt_run (&out, "%s backup --data %s --out %s", S_CONTROLLER, data, backup), 0,
                  "backup: %s", out);
    cr_assert (out && strstr (out, "backup: "), "%s", out);
    free (out);
    struct stat info;
    cr_assert_eq (stat (backup, &info), 0);
    cr_assert_eq (info.st_mode & 0777, 0600, "the backup is mode %o", info.st_mode & 0777);
    //  never over an existing file
    cr_assert_eq (jt_run (&out, "%s backup --data %s --out %s", S_CONTROLLER, data, backup), 2,
                  "%s", out);
    free (out);
}

//  SQLite: `restore` into an empty directory only; keys 0600, dir 0700.
static void s_sqlite_restore (const char *backup, const char *restored)
{
    char *out = NULL;
    //  never into a directory that holds something
    cr_assert_eq (jt_run (NULL, "mkdir -p %s && touch %s/x", restored, restored), 0);
    cr_assert_eq (jt_run (&out, "%s restore --data %s --from %s", S_CONTROLLER, restored, backup),
                  2, "%s", out);
    cr_assert (out && strstr (out, "not empty"), "%s", out);
    free (out);
    cr_assert_eq (jt_run (NULL, "rm -f %s/x", restored), 0);
    cr_assert_eq (jt_run (&out, "%s restore --data %s --from %s", S_CONTROLLER, restored, backup),
                  0, "restore: %s", out);
    cr_assert (out && strstr (out, "restored: "), "%s", out);
    free (out);
    struct stat info;
    char path[PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/keys/signing.key", restored);
    cr_assert_eq (stat (path, &info), 0);
    cr_assert_eq (info.st_mode & 0777, 0600, "a restored key is mode %o", info.st_mode & 0777);
    cr_assert_eq (stat (restored, &info), 0);
    cr_assert_eq (info.st_mode & 0777, 0700);
    cr_assert_eq (jt_run (&out, "%s check --data %s", S_CONTROLLER, restored), 0, "%s", out);
    free (out);
}

//  PostgreSQL, as docs/operations.md's backup says: pg_dump of the store
//  and the controller's exported keys (controller.yaml is kept in place).
static void s_pg_backup (void)
{
    char *out = NULL;
    cr_assert_eq (jt_run (&out, "pg_dump --format=custom --file %s/store.dump '%s'", fleet->dir,
                          fleet->store),
                  0, "pg_dump: %s", out);
    free (out);
    cr_assert_eq (jt_run (&out, "%s export-keys --data %s/controller --out %s/keys", S_CONTROLLER,
                          fleet->dir, fleet->dir),
                  0, "export-keys: %s", out);
    free (out);
}

//  PostgreSQL, the restore drill of docs/operations.md: the dump into a
//  new empty database, its epoch raised above the fleet's, a controller
//  joined to it with the exported keys and the kept controller.yaml
//  pointing at the new database.
static void s_pg_restore (const char *data, const char *restored)
{
    char *copy = jt_pg_database ();
    cr_assert_not_null (copy);
    char *out = NULL;
    cr_assert_eq (
        jt_run (&out, "pg_restore --no-owner --dbname '%s' %s/store.dump", copy, fleet->dir), 0,
        "pg_restore: %s", out);
    free (out);
    cr_assert_eq (jt_run (&out,
                          "psql -q -v ON_ERROR_STOP=1 '%s' -c \"UPDATE meta SET value = CAST "
                          "(value AS BIGINT) + 10 WHERE key = 'epoch'\"",
                          copy),
                  0, "%s", out);
    free (out);
    cr_assert_eq (jt_run (&out, "%s init --data %s --port %d --store '%s' --join %s/keys",
                          S_CONTROLLER, restored, fleet->port, copy, fleet->dir),
                  0, "init --join: %s", out);
    free (out);
    //  the kept controller.yaml, its store: now the new database
    cr_assert_eq (jt_run (&out,
                          "sed \"s|^store:.*|store: '%s'|\" %s/controller.yaml > "
                          "%s/controller.yaml",
                          copy, data, restored),
                  0, "%s", out);
    free (out);
    cr_assert_eq (jt_run (&out, "%s check --data %s", S_CONTROLLER, restored), 0, "%s", out);
    free (out);
    //  the old database goes, the fleet's teardown drops the new one
    jt_pg_drop (fleet->store);
    free (fleet->store);
    fleet->store = copy;
}

Test (backup, a_backup_taken_during_a_deploy_restores_to_a_working_controller)
{
    fleet = jt_fleet_new ();
    jt_fleet_set_environments (fleet,
                               "environments:\n  staging: { strategy: rolling, batch: 1 }\n");
    jt_fleet_restart_controller (fleet);
    for (int index = 0; index < 2; index++) {
        char name[32];
        snprintf (name, sizeof name, "host-%d", index + 1);
        jt_fleet_add_agent (fleet, name, "staging");
    }
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000),
               "the agents did not come online");
    char log[PATH_MAX], gate[PATH_MAX], data[PATH_MAX], backup[PATH_MAX], restored[PATH_MAX];
    snprintf (log, sizeof log, "%s/hooks.log", fleet->dir);
    snprintf (gate, sizeof gate, "%s/gate", fleet->dir);
    snprintf (data, sizeof data, "%s/controller", fleet->dir);
    snprintf (backup, sizeof backup, "%s/backup.tar.gz", fleet->dir);
    snprintf (restored, sizeof restored, "%s/restored", fleet->dir);
    s_add_release ("1.0", log, gate);
    char *out = NULL;
    cr_assert_eq (jt_jadctl (fleet, &out, "--json deploy web 1.0 --env staging"), 0, "%s", out);
    const char *id = out ? strstr (out, "\"id\": \"") : NULL;
    cr_assert_not_null (id, "%s", out);
    char plan_id[16];
    snprintf (plan_id, sizeof plan_id, "%.8s", id + 7);
    free (out);
    //  in the middle of the deploy: host-1's activate hook is running
    cr_assert (jt_wait_file_has (log, "start 1.0 host-1\n", 60000),
               "host-1 never started activating");
    if (fleet->store)
        s_pg_backup ();
    else
        s_sqlite_backup (data, backup);
    //  the deploy finishes under the original controller, which then stops
    jt_write_file (gate, "go\n", 0644);
    s_plan_wait_t done = {plan_id, "\"state\": \"succeeded\""};
    cr_assert (jt_wait_for (s_plan_has, &done, 60000), "the deploy did not succeed");
    cr_assert_eq (jt_stop (fleet->controller), 0);
    fleet->controller = 0;
    if (fleet->store)
        s_pg_restore (data, restored);
    else
        s_sqlite_restore (backup, restored);
    //  the restored controller in the original's place
    cr_assert_eq (jt_run (NULL, "mv %s %s.orig && mv %s %s", data, data, restored, data), 0);
    jt_fleet_start_controller (fleet);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000),
               "the agents are not online under the restored controller");
    //  it knew the deploy as running: it finishes it, no host applies twice
    cr_assert (jt_wait_for (s_plan_has, &done, 60000),
               "the restored controller did not finish the deploy");
    char *text = jt_read_file (log);
    cr_assert_not_null (text);
    cr_assert_eq (jt_count (text, "activate 1.0 host-1\n"), 1, "%s", text);
    cr_assert_eq (jt_count (text, "activate 1.0 host-2\n"), 1, "%s", text);
    free (text);
    //  and it deploys
    s_add_release ("2.0", log, gate);
    cr_assert_eq (jt_jadctl (fleet, &out, "deploy web 2.0 --env staging --wait"), 0, "%s", out);
    free (out);
    text = jt_read_file (log);
    cr_assert_eq (jt_count (text, "activate 2.0 host-1\n"), 1, "%s", text);
    cr_assert_eq (jt_count (text, "activate 2.0 host-2\n"), 1, "%s", text);
    free (text);
    cr_assert_eq (jt_jadctl (fleet, &out, "--json audit"), 0);
    cr_assert (out && strstr (out, "\"release.commit\""), "the audit was not restored: %s", out);
    free (out);
}

Test (backup, a_postgresql_store_is_backed_up_with_pg_dump)
{
    char *dir = jt_tempdir ("backup");
    char data[PATH_MAX];
    snprintf (data, sizeof data, "%s/c", dir);
    //  controller.yaml naming a PostgreSQL store (no server is needed:
    //  backup says how before it connects)
    char *out = NULL;
    cr_assert_eq (jt_run (&out,
                          "%s init --data %s --port %d && sed -i '/^port:/a store: "
                          "\"postgresql://jadugar@127.0.0.1:1/none\"' %s/controller.yaml",
                          S_CONTROLLER, data, jt_free_port_base (4), data),
                  0, "%s", out);
    free (out);
    char file[PATH_MAX + 16];
    snprintf (file, sizeof file, "%s/b.tgz", dir);
    cr_assert_eq (jt_run (&out, "%s backup --data %s --out %s", S_CONTROLLER, data, file), 2, "%s",
                  out);
    cr_assert (out && strstr (out, "pg_dump"), "%s", out);
    cr_assert_null (strstr (out, "postgresql://"), "the store URL was printed: %s", out);
    free (out);
    struct stat info;
    cr_assert_neq (stat (file, &info), 0, "a backup file was made");
    jt_rmtree (dir);
    free (dir);
}
