//  jadugar-controller - signs plans, drives rollouts, keeps the fleet's truth
//  SPDX-License-Identifier: MPL-2.0
//
//  jadugar-controller init --data DIR [--listen ADDR] [--port BASE]
//                          [--store URL [--join FILE]]
//  jadugar-controller run --data DIR [--syslog] [--verbose]
//  jadugar-controller check --data DIR
//  jadugar-controller export-keys --data DIR --out FILE
//  jadugar-controller backup --data DIR --out FILE
//  jadugar-controller restore --data DIR --from FILE
//  jadugar-controller migrate-store --data DIR --to URL

#include "ctl_backup.h"
#include "ctl_init.h"
#include "ctl_leader.h"
#include "ctl_migrate.h"
#include "ctl_server.h"
#include "ctl_sessions.h"
#include "ctl_settings.h"
#include "ctl_store.h"
#include "jad_config.h"
#include "jad_keys.h"
#include "jad_log.h"
#include "jad_reload.h"
#include "jad_util.h"

#include <czmq.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_usage (FILE *out)
{
    fprintf (out, "usage: jadugar-controller init --data DIR [--listen ADDR] [--port BASE]\n"
                  "                               [--store URL [--join FILE]]\n"
                  "       jadugar-controller run --data DIR [--syslog] [--verbose]\n"
                  "       jadugar-controller check --data DIR\n"
                  "       jadugar-controller export-keys --data DIR --out FILE\n"
                  "       jadugar-controller backup --data DIR --out FILE\n"
                  "       jadugar-controller restore --data DIR --from FILE\n"
                  "       jadugar-controller migrate-store --data DIR --to URL\n");
}

typedef struct {
    const char *data_dir;
    const char *listen;
    const char *store;  //  init: a postgresql:// URL, or NULL (SQLite)
    const char *join;   //  init: the keys export of a controller to join
    const char *out;    //  export-keys, backup: the file to write
    const char *from;   //  restore: the backup to restore
    const char *to;     //  migrate-store: the postgresql:// URL to copy into
    int port;
    bool use_syslog;
    bool verbose;
} s_options_t;

//  Parse options after the subcommand. Returns 0 or 2 (message printed).
static int s_parse (int argc, char **argv, s_options_t *options)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'}, {"listen", required_argument, NULL, 'l'},
        {"port", required_argument, NULL, 'p'}, {"store", required_argument, NULL, 'S'},
        {"syslog", no_argument, NULL, 's'},     {"verbose", no_argument, NULL, 'v'},
        {"join", required_argument, NULL, 'j'}, {"out", required_argument, NULL, 'o'},
        {"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    options->listen = "127.0.0.1";
    options->port = 7400;
    optind = 1;
    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (option) {
            case 'd':
                options->data_dir = optarg;
                break;
            case 'l':
                options->listen = optarg;
                break;
            case 'p':
                options->port = (int)strtol (optarg, &end, 10);
                if (*end || options->port < 1 || options->port > 65532) {
                    fprintf (stderr, "jadugar-controller: --port '%s' is not a port (1-65532)\n",
                             optarg);
                    return 2;
                }
                break;
            case 'S':
                options->store = optarg;
                break;
            case 'j':
                options->join = optarg;
                break;
            case 'o':
                options->out = optarg;
                break;
            case 'f':
                options->from = optarg;
                break;
            case 't':
                options->to = optarg;
                break;
            case 's':
                options->use_syslog = true;
                break;
            case 'v':
                options->verbose = true;
                break;
            case 'h':
                s_usage (stdout);
                exit (0);
            default:
                fprintf (stderr, "jadugar-controller: unknown or incomplete option '%s'\n",
                         argv[optind - 1]);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "jadugar-controller: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!options->data_dir) {
        fprintf (stderr, "jadugar-controller: --data DIR is required\n");
        return 2;
    }
    return 0;
}

static jad_controller_config_t *s_load_config (const char *data_dir, jad_problems_t *problems)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller.yaml", data_dir);
    return jad_controller_config_load (path, problems);
}

//  Deprecated keys of controller.yaml: printed by check, logged by run
static void s_deprecated (const char *data_dir, const jad_controller_config_t *config, bool print)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller.yaml", data_dir);
    jad_problems_t *notes = jad_problems_new ();
    jad_controller_config_deprecated (config, path, notes);
    for (size_t index = 0; index < jad_problems_count (notes); index++)
        if (print)
            printf ("%s\n", jad_problems_get (notes, index));
        else
            jad_log_warning ("controller: %s", jad_problems_get (notes, index));
    jad_problems_destroy (&notes);
}

static jad_keypair_t *s_load_key (const char *data_dir, const char *name, jad_key_kind_t kind,
                                  jad_problems_t *problems)
{
    char path[PATH_MAX], err[512];
    snprintf (path, sizeof path, "%s/keys/%s", data_dir, name);
    jad_keypair_t *pair = jad_keypair_load (path, err, sizeof err);
    if (!pair)
        jad_problems_add (problems, "%s", err);
    else if (jad_keypair_kind (pair) != kind) {
        jad_problems_add (problems, "%s: wrong kind of key", path);
        jad_keypair_destroy (&pair);
    }
    return pair;
}

static int s_check (const s_options_t *options)
{
    jad_problems_t *problems = jad_problems_new ();
    jad_controller_config_t *config = s_load_config (options->data_dir, problems);
    jad_keypair_t *signing =
        s_load_key (options->data_dir, "signing.key", JAD_KEY_ED25519, problems);
    jad_keypair_t *curve = s_load_key (options->data_dir, "curve.key", JAD_KEY_CURVE, problems);
    size_t count = jad_problems_count (problems);
    for (size_t index = 0; index < count; index++)
        printf ("%s\n", jad_problems_get (problems, index));
    s_deprecated (options->data_dir, config, true);
    if (count == 0)
        printf ("ok\n");
    jad_keypair_destroy (&curve);
    jad_keypair_destroy (&signing);
    jad_controller_config_destroy (&config);
    jad_problems_destroy (&problems);
    return count ? 2 : 0;
}

//  migrate-store: a SQLite controller's state (and release archives) into
//  an empty PostgreSQL database; the controller is stopped, and pointed at
//  it afterwards by its operator (store: in controller.yaml).
static int s_migrate_store (const s_options_t *options)
{
    if (!options->to || !ctl_store_target_shared (options->to)) {
        fprintf (stderr, "jadugar-controller: migrate-store needs --to postgresql://...\n");
        return 2;
    }
    jad_problems_t *problems = jad_problems_new ();
    jad_controller_config_t *config = problems ? s_load_config (options->data_dir, problems) : NULL;
    int status = 2;
    if (!config) {
        for (size_t index = 0; problems && index < jad_problems_count (problems); index++)
            fprintf (stderr, "%s\n", jad_problems_get (problems, index));
        fprintf (stderr, "jadugar-controller: %s holds no controller to migrate\n",
                 options->data_dir);
    } else if (config->store && !streq (config->store, "sqlite"))
        fprintf (stderr, "jadugar-controller: the controller of %s is already on PostgreSQL\n",
                 options->data_dir);
    else {
        char state[PATH_MAX], artifacts[PATH_MAX], err[1024] = "";
        snprintf (state, sizeof state, "%s/state.db", options->data_dir);
        snprintf (artifacts, sizeof artifacts, "%s/artifacts", options->data_dir);
        ctl_migrate_counts_t counts;
        status = ctl_migrate_store (state, artifacts, options->to, &counts, err, sizeof err);
        if (status == 0) {
            printf ("migrated: tables=%d rows=%lld archives=%d\n", counts.tables,
                    (long long)counts.rows, counts.archives);
            printf ("next: set store: to the URL in %s/controller.yaml and start the "
                    "controller; join others with export-keys and init --join\n",
                    options->data_dir);
        } else
            fprintf (stderr, "jadugar-controller: migrate-store: %s\n", err);
    }
    jad_controller_config_destroy (&config);
    jad_problems_destroy (&problems);
    return status;
}

//  libzmq's I/O threads for the connections the controller takes
//  (ctl_sessions_io_threads), before any socket exists; ZSYS_IO_THREADS in
//  the environment (read by czmq) has the last word.
static void s_set_io_threads (uint32_t max_connections)
{
    size_t connections = ctl_sessions_cap (max_connections);
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    const char *given = getenv ("ZSYS_IO_THREADS");
    if (given && *given) {
        jad_log_info ("server: io-threads=%s (ZSYS_IO_THREADS) connections=%zu", given,
                      connections);
        return;
    }
    size_t threads = ctl_sessions_io_threads (connections, cores);
    if (threads > 1)
        zsys_set_io_threads (threads);
    jad_log_info ("server: io-threads=%zu connections=%zu cores=%ld", threads, connections, cores);
}

static int s_run (const s_options_t *options)
{
    jad_log_init ("jadugar-controller", options->use_syslog);
    jad_log_set_verbose (options->verbose);
    if (jad_keys_harden_process () != 0)
        jad_log_warning ("controller: cannot disable core dumps");
    //  Two connections per agent (SUB and DEALER): a large fleet needs far
    //  more descriptors than the default soft limit of 1024.
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &files) != 0)
            jad_log_warning ("controller: cannot raise the file descriptor limit");
    }
    if (jad_reload_catch () != 0)
        jad_log_warning ("controller: cannot catch SIGHUP; reload needs a restart");
    //  before the store: a standby without CURVE would otherwise wait for
    //  the lead and only then refuse
    if (!zsys_has_curve ()) {
        jad_log_error ("controller: this libzmq has no CURVE support; refusing to run "
                       "unencrypted");
        return 1;
    }
    int64_t started_ms = jad_now_ms ();
    int status = 1;
    ctl_settings_t *settings = NULL;
    ctl_store_t *store = NULL;
    ctl_server_t *server = NULL;
    ctl_leader_t *leader = NULL;
    char *target = NULL;
    jad_problems_t *problems = jad_problems_new ();
    jad_controller_config_t *config = s_load_config (options->data_dir, problems);
    jad_keypair_t *signing =
        s_load_key (options->data_dir, "signing.key", JAD_KEY_ED25519, problems);
    jad_keypair_t *curve = s_load_key (options->data_dir, "curve.key", JAD_KEY_CURVE, problems);
    if (jad_problems_count (problems) > 0) {
        for (size_t index = 0; index < jad_problems_count (problems); index++)
            jad_log_error ("controller: %s", jad_problems_get (problems, index));
        goto done;
    }
    s_deprecated (options->data_dir, config, false);
    s_set_io_threads (config->max_connections);
    //  the store: DATA/state.db, or controller.yaml's store: URL
    target = ctl_store_target (options->data_dir, config->store);
    settings = ctl_settings_new (options->data_dir, &config);
    if (!settings || !target)
        goto done;
    store = ctl_store_open (target, 0);
    if (!store)
        goto done;
    //  a shared store: only its leader binds and serves; a standby waits
    if (ctl_store_target_shared (target)) {
        const jad_controller_config_t *running = ctl_settings_config (settings);
        char name[320];
        snprintf (name, sizeof name, "%s:%d", running->listen, running->port);
        leader = ctl_leader_new (target, name);
        if (!leader)
            goto done;
        if (ctl_leader_wait (leader, store, &zsys_interrupted) != 0) {
            status = zsys_interrupted ? 0 : 1;
            goto done;
        }
    }
    server = ctl_server_new (settings, store, signing, curve, started_ms);
    if (!server) {
        //  SIGTERM while the server was being built (a new leader stopped
        //  as it took over) interrupts what it was waiting on: that is
        //  the stop asked for, not a failure
        if (zsys_interrupted) {
            jad_log_info ("controller: stopping (asked to while starting)");
            status = 0;
        }
        goto done;
    }
    if (leader)
        ctl_server_set_leader (server, leader);
    jad_log_info ("controller: started version=%s data=%s", JADUGAR_VERSION, options->data_dir);
    if (ctl_server_run (server) != 0)
        goto done;
    jad_log_info ("controller: stopping");
    status = 0;

done:
    ctl_server_destroy (&server);
    //  the lock goes last: no successor serves while this one still does
    ctl_leader_destroy (&leader);
    ctl_store_destroy (&store);
    free (target);
    ctl_settings_destroy (&settings);
    jad_keypair_destroy (&curve);
    jad_keypair_destroy (&signing);
    jad_controller_config_destroy (&config);
    jad_problems_destroy (&problems);
    return status;
}

int main (int argc, char **argv)
{
    if (argc < 2) {
        s_usage (stderr);
        return 2;
    }
    const char *command = argv[1];
    if (streq (command, "--help") || streq (command, "-h") || streq (command, "help")) {
        s_usage (stdout);
        return 0;
    }
    if (sodium_init () < 0) {
        fprintf (stderr, "jadugar-controller: libsodium failed to initialise\n");
        return 1;
    }
    //  Keys, tokens and the state database are for the controller's eyes only.
    umask (0077);
    s_options_t options = {0};
    if (!streq (command, "init") && !streq (command, "run") && !streq (command, "check") &&
        !streq (command, "export-keys") && !streq (command, "backup") &&
        !streq (command, "restore") && !streq (command, "migrate-store")) {
        fprintf (stderr, "jadugar-controller: unknown command '%s'\n", command);
        s_usage (stderr);
        return 2;
    }
    if (s_parse (argc - 1, argv + 1, &options) != 0)
        return 2;
    //  each command takes its own options only
    bool writes = streq (command, "export-keys") || streq (command, "backup");
    if ((options.join && !streq (command, "init")) || (options.out && !writes) ||
        (options.from && !streq (command, "restore")) ||
        (options.to && !streq (command, "migrate-store"))) {
        fprintf (stderr, "jadugar-controller: %s takes no %s\n", command,
                 options.join && !streq (command, "init")      ? "--join"
                 : options.out && !writes                      ? "--out"
                 : options.from && !streq (command, "restore") ? "--from"
                                                               : "--to");
        return 2;
    }
    if (writes && !options.out) {
        fprintf (stderr, "jadugar-controller: %s needs --out FILE\n", command);
        return 2;
    }
    if (streq (command, "backup"))
        return ctl_backup_run (options.data_dir, options.out);
    if (streq (command, "restore")) {
        if (!options.from) {
            fprintf (stderr, "jadugar-controller: restore needs --from FILE\n");
            return 2;
        }
        return ctl_restore_run (options.data_dir, options.from);
    }
    if (streq (command, "init"))
        return ctl_init_join (options.data_dir, options.listen, options.port, options.store,
                              options.join, stdout);
    if (streq (command, "export-keys"))
        return ctl_init_export_keys (options.data_dir, options.out);
    if (streq (command, "check"))
        return s_check (&options);
    if (streq (command, "migrate-store"))
        return s_migrate_store (&options);
    zsys_init ();
    return s_run (&options);
}
