//  jadctl - the operator's command line for Jadugar
//  SPDX-License-Identifier: MPL-2.0
//
//  A command table: each row names a command, its handler, the usage
//  shown by `jadctl help` and `jadctl help COMMAND` (the same text as the
//  man page's synopsis) and what it does in one line.
//
//  stdout is line-buffered whatever it is connected to: `deploy --wait`
//  in a CI log shows the plan id and each event as they happen, not when
//  a 4 KiB buffer fills or the plan ends.

#include "cli.h"
#include "jad_util.h"

#include <czmq.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    cli_fn *handler;
    const char *usage;    //  without "jadctl "; continuation lines indented
    const char *summary;  //  one line for `help COMMAND`
} s_command_t;

static const s_command_t s_commands[] = {
    {"status", cli_status, "status [--env E] [--app A]",
     "every host: environment, state, app versions, health, last seen"},
    {"agents", cli_agents,
     "agents | agents accept|reject|remove NAME\n"
     "        agents token create --env E[,E2] [--expires DURATION] [--uses N]\n"
     "        agents token list | agents token revoke ID",
     "agents and key fingerprints; accept, reject, remove; enrollment tokens (admin)"},
    {"release", cli_release,
     "release add APP VERSION FILE.tar.gz [--branch B] [--commit C] [--notes FILE]\n"
     "        release list [APP] | release show APP VERSION | release floor APP VERSION\n"
     "        release attest APP VERSION FILE | release checks APP VERSION [--env E]\n"
     "        release approve APP VERSION --env E --check NAME [--note TEXT]",
     "upload a release, list the store, raise an app's security floor, attest, show checks"},
    {"deploy", cli_deploy,
     "deploy APP VERSION --env E [--strategy all|rolling|canary] [--batch N|N%]\n"
     "               [--canary N] [--bake DURATION] [--emergency --reason TEXT [--security]]\n"
     "               [--skip-offline] [--force] [--wait] [--dry-run]",
     "make a signed plan for every host of an environment (--wait follows it)"},
    {"rollback", cli_rollback,
     "rollback APP --env E [--to VERSION | --version VERSION] [--force] [--wait]\n"
     "        [--dry-run]",
     "roll an environment back to its last known-good release (or VERSION)"},
    {"db-rollback", cli_db_rollback, "db-rollback APP --env E --to VERSION [--force] [--wait]",
     "run only the migrate_down hooks of the releases above VERSION, newest first, once"},
    {"plans", cli_plans, "plans [--env E]", "the deployment log, newest first"},
    {"plan", cli_plan, "plan show|abort|pause|resume|approve ID",
     "one plan: its hosts and events; abort, pause, resume or approve it"},
    {"schedule", cli_schedule, "schedule [--env E] [--count N]",
     "the coming release slots of environments with a schedule, and what waits for them"},
    {"incident", cli_incident,
     "incident open --env E [--since DURATION] TITLE | incident note ID TEXT\n"
     "        incident close ID | incident list [--env E] [--open] | incident report ID",
     "incidents: open, note, close, list; a Markdown post-mortem timeline of one"},
    {"alerts", cli_alerts, "alerts", "alert rules and their state"},
    {"alert", cli_alert,
     "alert add [--env E] --metric M (--above X|--below X) --for DURATION\n"
     "              [--aggregate avg|max|sum|p95] [--window DURATION] [--min-samples N]\n"
     "              [--action rollback] [--query PROMQL] [--canary host|aggregate|off]\n"
     "              [--compare baseline (--ratio X|--difference X)] | alert rm ID",
     "add or remove an alert rule"},
    {"metrics", cli_metrics, "metrics (--host H | --env E) [--name M] [--since DURATION]",
     "metric samples of a host or an environment, as sparklines"},
    {"audit", cli_audit, "audit [--since DURATION]", "who did what, refused requests too"},
    {"controllers", cli_controllers, "controllers",
     "every controller of the store: endpoint, role (leader, standby), epoch, last seen"},
    {"operator", cli_operator,
     "operator add NAME --role ROLE... --public-key KEY [--signing-key HEX] [--expires "
     "DURATION] | operator list [--all] | operator remove NAME | operator rotate NAME "
     "--public-key KEY [--signing-key HEX] [--expires DURATION] | operator update NAME "
     "[--signing-key HEX] [--expires DURATION|never]",
     "register an operator's key with roles and an expiry, list them, remove one (its key is "
     "refused at once, open sessions too), replace its keys, or renew it (admin)"},
    {"policy", cli_policy,
     "policy keygen FILE | policy push FILE\n"
     "        policy sign --key FILE --env E --version N [--from controller.yaml]\n"
     "            [--operators FILE] [--out FILE]",
     "the offline-signed policy agents with a policy key enforce (keygen, sign: offline)"},
    {"keygen", cli_keygen, "keygen FILE",
     "write a new operator key file and its signing key FILE.signing, print both public keys"},
    {"help", NULL, "help [COMMAND]", "every command, or the usage of one"},
};

#define S_COMMAND_COUNT (sizeof s_commands / sizeof s_commands[0])

//  Options jadctl itself takes before (or, but --version, around) the
//  command, for did-you-mean.
static const char *const s_global_options[] = {"--config", "--json", "--timeout", "--version",
                                               "--help"};
#define S_GLOBAL_COUNT (sizeof s_global_options / sizeof s_global_options[0])

static void s_usage (FILE *out)
{
    fprintf (out, "usage: jadctl [--config FILE] [--json] [--timeout DURATION] COMMAND ...\n"
                  "       jadctl --version | help [COMMAND]\n\ncommands:\n");
    for (size_t index = 0; index < S_COMMAND_COUNT; index++)
        fprintf (out, "  %s\n", s_commands[index].usage);
    fprintf (out, "\nThe client file comes from --config, then $JADUGAR_CONFIG, then\n"
                  "~/.config/jadugar/jadctl.yaml. --timeout bounds every wait for the\n"
                  "controller (default 15s). Exit codes: 0 ok, 1 operation failed,\n"
                  "2 bad usage or refused, 3 controller unreachable or key refused.\n");
}

static const s_command_t *s_find (const char *name)
{
    for (size_t index = 0; index < S_COMMAND_COUNT; index++)
        if (streq (s_commands[index].name, name))
            return &s_commands[index];
    return NULL;
}

static int s_unknown_command (const char *word)
{
    const char *names[S_COMMAND_COUNT];
    for (size_t index = 0; index < S_COMMAND_COUNT; index++)
        names[index] = s_commands[index].name;
    if (strncmp (word, "-", 1) == 0)
        cli_unknown (CLI_USAGE, "unknown option", word, s_global_options, S_GLOBAL_COUNT);
    else
        cli_unknown (CLI_USAGE, "unknown command", word, names, S_COMMAND_COUNT);
    fprintf (stderr, "(jadctl help lists every command)\n");
    return CLI_USAGE;
}

//  jadctl help [COMMAND]
static int s_help (int count, char **words)
{
    if (count < 2) {
        s_usage (stdout);
        return CLI_OK;
    }
    if (count > 2)
        return cli_error (CLI_USAGE, "usage: jadctl help [COMMAND]");
    const s_command_t *command = s_find (words[1]);
    if (!command)
        return s_unknown_command (words[1]);
    printf ("usage: jadctl %s\n\n%s.\nEvery option is described in jadctl(1).\n", command->usage,
            command->summary);
    return CLI_OK;
}

//  jadctl --version: ours, and the controller's when it answers.
static int s_version (cli_t *cli)
{
    json_t *reply = NULL;
    int status = CLI_UNREACHABLE;
    const char *config = cli->config_path ? cli->config_path : getenv ("JADUGAR_CONFIG");
    char *fallback = NULL;
    if (!config || !*config) {
        const char *home = getenv ("HOME");
        fallback = jad_strdup_printf ("%s/.config/jadugar/jadctl.yaml", home ? home : "");
        config = fallback;
    }
    //  without a client file there is no controller to ask: not an error
    if (config && access (config, F_OK) == 0) {
        zsys_init ();
        zsys_set_linger (0);
        status = cli_request (cli, "ping", NULL, NULL, 0, &reply);
    }
    const char *endpoint = cli_endpoint (cli);
    if (cli->json) {
        json_t *controller =
            status == CLI_OK && reply
                ? json_pack ("{s:O?, s:O?, s:s?}", "version", json_object_get (reply, "controller"),
                             "protocol", json_object_get (reply, "protocol"), "endpoint", endpoint)
                : json_null ();
        json_t *out = json_pack ("{s:s, s:o}", "jadctl", JADUGAR_VERSION, "controller", controller);
        cli_print_json (out);
        json_decref (out);
    } else {
        printf ("jadctl %s\n", JADUGAR_VERSION);
        if (status == CLI_OK && reply)
            printf ("controller %s at %s (protocol %lld)\n", cli_str (reply, "controller"),
                    endpoint ? endpoint : "-",
                    (long long)json_integer_value (json_object_get (reply, "protocol")));
        else if (!config || access (config, F_OK) != 0)
            printf ("controller: not asked (no client file %s)\n", config ? config : "");
        else
            printf ("controller: not reached (above)\n");
    }
    json_decref (reply);
    free (fallback);
    return CLI_OK;
}

int main (int argc, char **argv)
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    if (sodium_init () < 0)
        return cli_error (CLI_FAILED, "libsodium failed to initialise");
    //  Global options may stand anywhere, except --version, which after a
    //  command word is that command's (rollback --version V).
    cli_t cli = {.timeout_ms = CLI_DEFAULT_TIMEOUT_MS};
    const char *legacy = getenv ("JADCTL_TIMEOUT_MS");  //  older scripts and tests
    if (legacy && atoi (legacy) > 0)
        cli.timeout_ms = (uint32_t)atoi (legacy);
    char **rest = calloc ((size_t)argc + 1, sizeof (char *));
    if (!rest)
        return CLI_FAILED;
    int count = 0;
    bool version = false, help = false;
    int status = CLI_USAGE;
    for (int index = 1; index < argc; index++) {
        const char *word = argv[index];
        const char *value = NULL;
        if (streq (word, "--json"))
            cli.json = true;
        else if (streq (word, "--version") && count == 0)
            version = true;
        else if ((streq (word, "--help") || streq (word, "-h")) && !help)
            help = true;
        else if (streq (word, "--config") || streq (word, "--timeout")) {
            if (index + 1 >= argc) {
                status = cli_error (CLI_USAGE, "%s needs a %s", word,
                                    streq (word, "--config") ? "FILE" : "DURATION (e.g. 5s)");
                goto done;
            }
            value = argv[++index];
        } else if (strncmp (word, "--config=", 9) == 0 || strncmp (word, "--timeout=", 10) == 0)
            value = strchr (word, '=') + 1;
        else
            rest[count++] = argv[index];
        if (value && strncmp (word, "--config", 8) == 0)
            cli.config_path = value;
        else if (value) {
            uint32_t ms = 0;
            if (jad_duration_parse (value, &ms) != 0 || ms == 0) {
                status = cli_error (
                    CLI_USAGE, "--timeout '%s' is not a duration above zero (e.g. 5s, 1m)", value);
                goto done;
            }
            cli.timeout_ms = ms;
        }
    }
    if (version) {
        status = count ? cli_error (CLI_USAGE, "--version takes no command") : s_version (&cli);
        goto done;
    }
    if (count == 0) {
        s_usage (help ? stdout : stderr);
        status = help ? CLI_OK : CLI_USAGE;
        goto done;
    }
    if (streq (rest[0], "help")) {
        status = s_help (count, rest);
        goto done;
    }
    if (streq (rest[0], "__complete")) {  //  for bash completion only, not in help
        cli.argc = count;
        cli.argv = rest;
        cli.usage = "__complete envs|apps|versions APP|plans";
        zsys_init ();
        zsys_set_linger (0);
        status = cli_complete (&cli);
        goto done;
    }
    const s_command_t *command = s_find (rest[0]);
    if (!command) {
        status = s_unknown_command (rest[0]);
        goto done;
    }
    if (help) {  //  jadctl COMMAND ... --help
        char *words[] = {"help", rest[0]};
        status = s_help (2, words);
        goto done;
    }
    cli.argc = count;
    cli.argv = rest;
    cli.usage = command->usage;
    zsys_init ();
    zsys_set_linger (0);
    status = command->handler (&cli);

done:
    cli_disconnect (&cli);
    free (rest);
    return status;
}
