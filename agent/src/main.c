//  jadugar-agent - the Jadugar agent: verifies signed plans and applies
//  releases on this host
//  SPDX-License-Identifier: MPL-2.0
//
//  jadugar-agent init --data DIR ...   new data dir, keys, agent.yaml
//  jadugar-agent run --data DIR        the daemon, in the foreground
//  jadugar-agent check --data DIR      validate the configuration
//  jadugar-agent fingerprint --data DIR   this agent's key fingerprint

#include "agt_check.h"
#include "agt_daemon.h"
#include "agt_init.h"
#include "jad_keys.h"
#include "jad_log.h"

#include <czmq.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define RUN_USAGE "jadugar-agent run --data DIR [--syslog] [--verbose]"

static int s_usage (void)
{
    fprintf (stderr, "usage: %s\n       %s\n       %s\n       %s\n", AGT_INIT_USAGE, RUN_USAGE,
             AGT_CHECK_USAGE, AGT_FINGERPRINT_USAGE);
    return 2;
}

static int s_run_main (int argc, char **argv)
{
    static const struct option long_options[] = {
        {"data", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"syslog", no_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL;
    bool verbose = false;
    bool use_syslog = false;
    opterr = 0;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "+", long_options, NULL)) != -1) {
        if (option == 'd')
            data = optarg;
        else if (option == 'v')
            verbose = true;
        else if (option == 's')
            use_syslog = true;
        else {
            fprintf (stderr, "jadugar-agent run: unknown option or missing value: %s\n",
                     argv[optind - 1]);
            fprintf (stderr, "usage: %s\n", RUN_USAGE);
            return 2;
        }
    }
    if (!data || optind < argc) {
        fprintf (stderr, "jadugar-agent run: %s\nusage: %s\n",
                 data ? "unexpected argument" : "--data is required", RUN_USAGE);
        return 2;
    }

    //  1. the process: logs, no core dumps (keys live in memory), crypto
    jad_log_init ("jadugar-agent", use_syslog);
    jad_log_set_verbose (verbose);
    if (jad_keys_harden_process ()) {
        jad_log_error ("agent: cannot disable core dumps");
        return 1;
    }
    if (sodium_init () < 0) {
        jad_log_error ("agent: cannot initialise libsodium");
        return 1;
    }
    if (!zsys_has_curve ()) {
        jad_log_error ("agent: libzmq has no CURVE support; refusing to run without encryption");
        return 1;
    }
    //  2. config, key, database, sockets, worker; 3. the loop until a signal
    agt_daemon_t *daemon = agt_daemon_new (data);
    int rc = 1;
    if (daemon)
        rc = agt_daemon_run (daemon) == 0 ? 0 : 1;
    //  4. tear down in reverse order
    agt_daemon_destroy (&daemon);
    return rc;
}

int main (int argc, char **argv)
{
    if (argc < 2)
        return s_usage ();
    const char *command = argv[1];
    if (streq (command, "init"))
        return agt_init_main (argc - 1, argv + 1);
    if (streq (command, "run"))
        return s_run_main (argc - 1, argv + 1);
    if (streq (command, "check"))
        return agt_check_main (argc - 1, argv + 1);
    if (streq (command, "fingerprint"))
        return agt_fingerprint_main (argc - 1, argv + 1);
    if (streq (command, "--help") || streq (command, "-h")) {
        s_usage ();
        return 0;
    }
    fprintf (stderr, "jadugar-agent: unknown command: %s\n", command);
    return s_usage ();
}
