//  agt_check - jadugar-agent check: validate the configuration
//  SPDX-License-Identifier: MPL-2.0

#include "agt_check.h"
#include "agt_config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int agt_check_main (int argc, char **argv)
{
    static const struct option long_options[] = {
        {"data", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL;
    opterr = 0;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "+", long_options, NULL)) != -1) {
        if (option != 'd') {
            fprintf (stderr, "jadugar-agent check: unknown option or missing value: %s\n",
                     argv[optind - 1]);
            fprintf (stderr, "usage: %s\n", AGT_CHECK_USAGE);
            return 2;
        }
        data = optarg;
    }
    if (!data || optind < argc) {
        fprintf (stderr, "jadugar-agent check: %s\n",
                 data ? "unexpected argument" : "--data is required");
        fprintf (stderr, "usage: %s\n", AGT_CHECK_USAGE);
        return 2;
    }
    jad_problems_t *problems = jad_problems_new ();
    if (!problems)
        return 2;
    jad_keypair_t *key = NULL;
    jad_agent_config_t *config = agt_config_load (data, problems, &key);
    size_t count = jad_problems_count (problems);
    for (size_t index = 0; index < count; index++)
        printf ("%s\n", jad_problems_get (problems, index));
    if (count == 0)
        printf ("ok\n");
    jad_keypair_destroy (&key);
    jad_agent_config_destroy (&config);
    jad_problems_destroy (&problems);
    return count == 0 ? 0 : 2;
}
