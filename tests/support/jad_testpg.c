//  jad_testpg - a real PostgreSQL 15 for the tests, and the store under test
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testpg.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

//  the server of this test process (inherited by the forked tests)
static pid_t s_server;        //  the postmaster
static int s_port;            //  its port on 127.0.0.1
static char *s_dir;           //  its temp dir (data/, the socket, logs)
static unsigned s_databases;  //  databases made by this process
static pid_t s_owner;         //  the process that started it

#define S_USER "jadugar"

static const char *s_bin (void)
{
    const char *bin = getenv ("JADUGAR_PG_BIN");
    return bin && *bin ? bin : "/usr/lib/postgresql/15/bin";
}

//  Become the postgres user when root (PostgreSQL refuses to run as root).
static int s_drop_root (void)
{
    if (geteuid () != 0)
        return 0;
    struct passwd *user = getpwnam ("postgres");
    if (!user) {
        fprintf (stderr, "testpg: root, and no postgres user to run PostgreSQL as\n");
        return -1;
    }
    if (setgid (user->pw_gid) != 0 || setuid (user->pw_uid) != 0) {
        fprintf (stderr, "testpg: cannot become postgres: %s\n", strerror (errno));
        return -1;
    }
    return 0;
}

//  Start argv as the PostgreSQL user, output to logfile. The pid or -1.
static pid_t s_spawn (const char *logfile, char *const argv[], bool die_with_us)
{
    int log = open (logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
        fprintf (stderr, "testpg: cannot open %s: %s\n", logfile, strerror (errno));
        return -1;
    }
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        if (dup2 (log, 1) < 0 || dup2 (log, 2) < 0 || s_drop_root ())
            _exit (127);
        //  after the change of user, which clears it: the server goes with
        //  the runner however the runner ends
        if (die_with_us && (prctl (PR_SET_PDEATHSIG, SIGQUIT) != 0 || getppid () != parent))
            _exit (127);
        execv (argv[0], argv);
        fprintf (stderr, "testpg: cannot run %s: %s\n", argv[0], strerror (errno));
        _exit (127);
    }
    close (log);
    return pid;
}

static void s_print_log (const char *logfile)
{
    char *text = jt_read_file (logfile);
    fprintf (stderr, "testpg: %s:\n%s\n", logfile, text ? text : "(empty)");
    free (text);
}

//  The maintenance connection's conninfo.
static void s_conninfo (char *buf, size_t len, const char *db)
{
    snprintf (buf, len, "host=127.0.0.1 port=%d user=" S_USER " dbname=%s connect_timeout=10",
              s_port, db);
}

static void s_at_exit (void)
{
    if (getpid () == s_owner)
        jt_pg_stop ();
}

int jt_pg_start (void)
{
    if (s_server > 0 || getenv ("JADUGAR_TEST_PG_PORT"))
        return 0;
    if (!s_owner && atexit (s_at_exit) != 0)
        return -1;
    s_owner = getpid ();
    s_dir = jt_tempdir ("jadugar-pg");
    if (geteuid () == 0) {
        struct passwd *user = getpwnam ("postgres");
        if (!user || chown (s_dir, user->pw_uid, user->pw_gid) != 0) {
            fprintf (stderr, "testpg: cannot give %s to postgres\n", s_dir);
            goto failed;
        }
    }
    char data[PATH_MAX], log[PATH_MAX], program[PATH_MAX];
    snprintf (data, sizeof data, "%s/data", s_dir);
    snprintf (log, sizeof log, "%s/initdb.log", s_dir);
    snprintf (program, sizeof program, "%s/initdb", s_bin ());
    char *initdb[] = {program, "-D", data,   "-U",         S_USER,      "-A",
                      "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
                      NULL};
    pid_t pid = s_spawn (log, initdb, false);
    int status = -1;
    if (pid < 0 || waitpid (pid, &status, 0) != pid || !WIFEXITED (status) ||
        WEXITSTATUS (status) != 0) {
        fprintf (stderr, "testpg: initdb failed (is postgresql-15 installed? "
                         "deploy/install-deps.sh --tests)\n");
        s_print_log (log);
        goto failed;
    }
    s_port = jt_free_port_base (1);
    if (s_port < 0)
        goto failed;
    char port[16];
    snprintf (port, sizeof port, "%d", s_port);
    snprintf (log, sizeof log, "%s/postgres.log", s_dir);
    snprintf (program, sizeof program, "%s/postgres", s_bin ());
    //  a test server: nothing here must survive a crash of the machine
    char *postgres[] = {program,
                        "-D",
                        data,
                        "-p",
                        port,
                        "-k",
                        s_dir,
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                        "-c",
                        "shared_buffers=16MB",
                        "-c",
                        "max_connections=50",
                        NULL};
    s_server = s_spawn (log, postgres, true);
    if (s_server < 0)
        goto failed;
    char conninfo[256];
    s_conninfo (conninfo, sizeof conninfo, "postgres");
    //  ready when it answers, within 60 s on a busy machine
    for (int waited = 0; waited < 6000; waited++) {
        if (PQping (conninfo) == PQPING_OK)
            return setenv ("JADUGAR_TEST_PG_PORT", port, 1);
        if (waitpid (s_server, &status, WNOHANG) == s_server) {
            s_server = 0;
            break;
        }
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep (&pause, NULL);
    }
    fprintf (stderr, "testpg: postgres did not start on port %d\n", s_port);
    s_print_log (log);

failed:
    jt_pg_stop ();
    return -1;
}

void jt_pg_stop (void)
{
    if (getpid () != s_owner)
        return;
    if (s_server > 0) {
        //  SIGINT: fast shutdown (sessions ended, no checkpoint wait)
        kill (s_server, SIGINT);
        int status;
        for (int waited = 0; waited < 3000; waited++) {
            if (waitpid (s_server, &status, WNOHANG) == s_server) {
                s_server = 0;
                break;
            }
            struct timespec pause = {0, 10 * 1000 * 1000};
            nanosleep (&pause, NULL);
        }
        if (s_server > 0) {
            kill (s_server, SIGQUIT);
            waitpid (s_server, &status, 0);
        }
        s_server = 0;
        unsetenv ("JADUGAR_TEST_PG_PORT");
    }
    if (s_dir) {
        jt_rmtree (s_dir);
        free (s_dir);
        s_dir = NULL;
    }
}

//  Run one maintenance command on database postgres. 0 or -1 (printed).
static int s_admin (const char *sql)
{
    char conninfo[256];
    s_conninfo (conninfo, sizeof conninfo, "postgres");
    PGconn *pg = PQconnectdb (conninfo);
    int rc = -1;
    if (PQstatus (pg) == CONNECTION_OK) {
        PGresult *result = PQexec (pg, sql);
        rc = PQresultStatus (result) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc)
            fprintf (stderr, "testpg: %s: %s", sql, PQresultErrorMessage (result));
        PQclear (result);
    } else
        fprintf (stderr, "testpg: cannot connect: %s", PQerrorMessage (pg));
    PQfinish (pg);
    return rc;
}

//  The server's port, here or in the runner that started it. -1 if none.
static int s_find (void)
{
    const char *port = getenv ("JADUGAR_TEST_PG_PORT");
    if (port && atoi (port) > 0)
        s_port = atoi (port);
    return s_port > 0 ? 0 : -1;
}

char *jt_pg_database (void)
{
    if (s_find ()) {
        fprintf (stderr, "testpg: no PostgreSQL server (did it start? see above)\n");
        return NULL;
    }
    char name[64], sql[128];
    snprintf (name, sizeof name, "jt_%d_%u", (int)getpid (), s_databases++);
    snprintf (sql, sizeof sql, "CREATE DATABASE %s", name);
    if (s_admin (sql))
        return NULL;
    char *url = NULL;
    if (asprintf (&url, "postgresql://" S_USER "@127.0.0.1:%d/%s", s_port, name) < 0)
        return NULL;
    return url;
}

void jt_pg_drop (const char *url)
{
    const char *name = url ? strrchr (url, '/') : NULL;
    if (!name || strncmp (name + 1, "jt_", 3) != 0 || s_find ())
        return;
    char sql[128];
    snprintf (sql, sizeof sql, "DROP DATABASE IF EXISTS %.64s WITH (FORCE)", name + 1);
    s_admin (sql);
}

void jt_store_target_new (jt_store_target_t *self, bool pg, const char *prefix)
{
    *self = (jt_store_target_t){.pg = pg, .dir = jt_tempdir (prefix)};
    if (pg)
        self->target = jt_pg_database ();
    else if (asprintf (&self->target, "%s/state.db", self->dir) < 0)
        self->target = NULL;
    if (!self->target) {
        fprintf (stderr, "testpg: no %s store for the test\n", pg ? "PostgreSQL" : "SQLite");
        abort ();
    }
}

void jt_store_target_free (jt_store_target_t *self)
{
    if (self->pg)
        jt_pg_drop (self->target);
    if (self->dir)
        jt_rmtree (self->dir);
    free (self->dir);
    free (self->target);
    *self = (jt_store_target_t){0};
}

bool jt_pg_fleets (void)
{
    const char *store = getenv ("JADUGAR_TEST_STORE");
    return store && strcmp (store, "postgresql") == 0;
}

//  In the runner, before any test: the server, if the tests need it.
ReportHook (PRE_ALL) (struct criterion_test_set *tests)
{
    (void)tests;
    if ((&jt_pg_wanted && jt_pg_wanted) || jt_pg_fleets ())
        jt_pg_start ();
}
