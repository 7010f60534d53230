//  jadctl - the operator's command line for Jadugar
//  SPDX-License-Identifier: MPL-2.0
//
//  A command table: each row names a command, its handler and the usage
//  line shown by `jadctl help` (the same text as the man page).

#include "cli.h"

#include <czmq.h>
#include <sodium.h>
#include <string.h>

typedef struct {
    const char *name;
    cli_fn *handler;  //  NULL: not available in this version yet
    const char *usage;
} s_command_t;

static const s_command_t s_commands[] = {
    {"status", cli_status, "status [--env E] [--app A]"},
    {"agents", cli_agents, "agents | agents accept|reject|remove NAME"},
    {"release", cli_release,
     "release add APP VERSION FILE.tar.gz [--branch B] [--commit C] [--notes FILE]\n"
     "        release list [APP] | release floor APP VERSION"},
    {"deploy", cli_deploy,
     "deploy APP VERSION --env E [--strategy all|rolling|canary] [--batch N|N%]\n"
     "               [--canary N] [--bake DURATION] [--emergency --reason TEXT]\n"
     "               [--skip-offline] [--force] [--wait]"},
    {"rollback", cli_rollback, "rollback APP --env E [--to VERSION] [--wait]"},
    {"plans", cli_plans, "plans [--env E]"},
    {"plan", cli_plan, "plan show|abort|pause|resume|approve ID"},
    {"alerts", cli_alerts, "alerts"},
    {"alert", cli_alert,
     "alert add --env E --metric M (--above X|--below X) --for DURATION\n"
     "              [--aggregate avg|max|sum|p95] [--window DURATION] [--min-samples N]\n"
     "              [--action rollback] [--query PROMQL] | alert rm ID"},
    {"metrics", cli_metrics, "metrics (--host H | --env E) [--name M] [--since DURATION]"},
    {"audit", cli_audit, "audit [--since DURATION]"},
    {"operator", cli_operator, "operator add NAME --role ROLE... --public-key KEY | operator list"},
    {"keygen", cli_keygen, "keygen FILE"},
};

#define S_COMMAND_COUNT (sizeof s_commands / sizeof s_commands[0])

static void s_usage (FILE *out)
{
    fprintf (out, "usage: jadctl [--config FILE] [--json] COMMAND ...\n\ncommands:\n");
    for (size_t index = 0; index < S_COMMAND_COUNT; index++)
        fprintf (out, "  %s%s\n", s_commands[index].usage,
                 s_commands[index].handler ? "" : "   (not yet available)");
    fprintf (out, "\nThe client file comes from --config, then $JADUGAR_CONFIG, then\n"
                  "~/.config/jadugar/jadctl.yaml. Exit codes: 0 ok, 1 operation failed,\n"
                  "2 bad usage or refused, 3 controller unreachable or key refused.\n");
}

int main (int argc, char **argv)
{
    if (sodium_init () < 0)
        return cli_error (CLI_FAILED, "libsodium failed to initialise");
    //  Global options may stand anywhere; the rest is the command's.
    cli_t cli = {0};
    char **rest = calloc ((size_t)argc + 1, sizeof (char *));
    if (!rest)
        return CLI_FAILED;
    int count = 0;
    for (int index = 1; index < argc; index++) {
        if (streq (argv[index], "--json"))
            cli.json = true;
        else if (streq (argv[index], "--config")) {
            if (index + 1 >= argc) {
                free (rest);
                return cli_error (CLI_USAGE, "--config needs a FILE");
            }
            cli.config_path = argv[++index];
        } else if (strncmp (argv[index], "--config=", 9) == 0)
            cli.config_path = argv[index] + 9;
        else
            rest[count++] = argv[index];
    }
    if (count == 0 || streq (rest[0], "help") || streq (rest[0], "--help") ||
        streq (rest[0], "-h")) {
        s_usage (count ? stdout : stderr);
        free (rest);
        return count ? CLI_OK : CLI_USAGE;
    }
    cli.argc = count;
    cli.argv = rest;
    int status = CLI_USAGE;
    const s_command_t *command = NULL;
    for (size_t index = 0; index < S_COMMAND_COUNT; index++)
        if (streq (s_commands[index].name, rest[0]))
            command = &s_commands[index];
    if (!command) {
        cli_error (CLI_USAGE, "unknown command '%s'", rest[0]);
        s_usage (stderr);
    } else if (!command->handler)
        cli_error (CLI_USAGE, "'%s' is not available in this version yet", rest[0]);
    else {
        zsys_init ();
        zsys_set_linger (0);
        status = command->handler (&cli);
    }
    cli_disconnect (&cli);
    free (rest);
    return status;
}
