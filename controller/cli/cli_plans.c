//  cli_plans - jadctl deploy, plans, plan show: start and follow plans
//  SPDX-License-Identifier: MPL-2.0
//
//  `deploy --wait` follows the plan by asking for the events after the last
//  one it printed, and exits with the plan's outcome: 0 when every target
//  is healthy, 1 when the plan failed.

#include "cli.h"
#include "jad_util.h"

#include <string.h>
#include <unistd.h>

#define S_POLL_MS 250

//  One event as a line: "12:03:04 web-1  smoke  failed  exit 3".
static void s_print_event (json_t *event)
{
    const char *time = cli_str (event, "time");
    const char *clock = strlen (time) >= 19 ? time + 11 : time;
    const char *detail = json_string_value (json_object_get (event, "detail"));
    printf ("%.8s  %-20s %-13s %-11s %s\n", clock, cli_str (event, "host"), cli_str (event, "step"),
            cli_str (event, "status"), detail ? detail : "");
}

//  Print the failing hooks' output for a human after a failed plan.
static void s_print_outputs (json_t *events)
{
    size_t index;
    json_t *event;
    json_array_foreach (events, index, event)
    {
        const char *output = json_string_value (json_object_get (event, "output"));
        if (output && *output && streq (cli_str (event, "status"), "failed")) {
            printf ("--- output of %s on %s ---\n%s", cli_str (event, "step"),
                    cli_str (event, "host"), output);
            if (output[strlen (output) - 1] != '\n')
                printf ("\n");
        }
    }
}

static void s_print_hosts (json_t *hosts)
{
    printf ("%-20s %-9s %-13s %s\n", "HOST", "STATE", "STEP", "DETAIL");
    size_t index;
    json_t *host;
    json_array_foreach (hosts, index, host)
    {
        const char *detail = json_string_value (json_object_get (host, "detail"));
        printf ("%-20s %-9s %-13s %s\n", cli_str (host, "name"), cli_str (host, "state"),
                cli_str (host, "step"), detail ? detail : "");
    }
}

//  Follow a plan to its end. Returns the exit code.
static int s_wait (cli_t *cli, const char *plan_id)
{
    json_int_t last_event = 0;
    json_t *all_events = json_array ();
    while (true) {
        char since[32];
        snprintf (since, sizeof since, "%lld", (long long)last_event);
        const char *request[] = {"id", plan_id, "since", since, NULL};
        json_t *result = NULL;
        int status = cli_request (cli, "plan.show", request, NULL, 0, &result);
        if (status != CLI_OK || !result) {
            json_decref (result);
            json_decref (all_events);
            return status == CLI_OK ? CLI_FAILED : status;
        }
        json_t *plan = json_object_get (result, "plan");
        size_t index;
        json_t *event;
        json_array_foreach (json_object_get (plan, "events"), index, event)
        {
            last_event = json_integer_value (json_object_get (event, "id"));
            json_array_append (all_events, event);
            if (!cli->json)
                s_print_event (event);
        }
        const char *state = cli_str (plan, "state");
        if (!streq (state, "running")) {
            int code = streq (state, "succeeded") ? CLI_OK : CLI_FAILED;
            if (cli->json) {
                json_object_set (plan, "events", all_events);
                cli_print_json (plan);
            } else {
                if (code != CLI_OK)
                    s_print_outputs (all_events);
                printf ("plan %s %s: %s\n", plan_id, state, cli_str (plan, "reason"));
            }
            json_decref (result);
            json_decref (all_events);
            return code;
        }
        json_decref (result);
        usleep (S_POLL_MS * 1000);
    }
}

int cli_deploy (cli_t *cli)
{
    static const char *const spec[] = {"--env=",    "--strategy=", "--batch=",
                                       "--canary=", "--bake=",     "--emergency",
                                       "--reason=", "--wait",      NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count != 2 || !cli_args_has (&args, "--env"))
        return cli_error (CLI_USAGE, "usage: jadctl deploy APP VERSION --env E [--strategy "
                                     "all|rolling|canary] [--batch N|N%%] [--canary N] [--bake "
                                     "DURATION] [--emergency --reason TEXT] [--wait]");
    const char *strategy = cli_args_get (&args, "--strategy");
    if (strategy && !streq (strategy, "all") && !streq (strategy, "rolling") &&
        !streq (strategy, "canary"))
        return cli_error (CLI_USAGE, "deploy: --strategy '%s' is not all, rolling or canary",
                          strategy);
    const char *bake = cli_args_get (&args, "--bake");
    uint32_t bake_ms;
    if (bake && jad_duration_parse (bake, &bake_ms) != 0)
        return cli_error (CLI_USAGE, "deploy: --bake '%s' is not a duration (e.g. 10m)", bake);
    if (cli_args_has (&args, "--emergency") != cli_args_has (&args, "--reason"))
        return cli_error (CLI_USAGE, "deploy: --emergency and --reason TEXT go together");
    const char *request[] = {"app",       args.positional[0],
                             "version",   args.positional[1],
                             "env",       cli_args_get (&args, "--env"),
                             "strategy",  strategy,
                             "batch",     cli_args_get (&args, "--batch"),
                             "canary",    cli_args_get (&args, "--canary"),
                             "bake",      bake,
                             "emergency", cli_args_has (&args, "--emergency") ? "true" : NULL,
                             "reason",    cli_args_get (&args, "--reason"),
                             NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "deploy", request, NULL, 0, &result);
    if (status != CLI_OK || !result) {
        json_decref (result);
        return status;
    }
    json_t *plan = json_object_get (result, "plan");
    char *plan_id = strdup (cli_str (plan, "id"));
    if (!cli->json) {
        size_t hosts = json_array_size (json_object_get (plan, "hosts"));
        printf ("plan %s: deploy %s %s to %s (%zu host%s)\n", plan_id, cli_str (plan, "app"),
                cli_str (plan, "version"), cli_str (plan, "env"), hosts, hosts == 1 ? "" : "s");
    } else if (!cli_args_has (&args, "--wait"))
        cli_print_json (result);
    json_decref (result);
    if (cli_args_has (&args, "--wait"))
        status = s_wait (cli, plan_id);
    free (plan_id);
    return status;
}

int cli_plans (cli_t *cli)
{
    static const char *const spec[] = {"--env=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count)
        return cli_error (CLI_USAGE, "usage: jadctl plans [--env E]");
    const char *request[] = {"env", cli_args_get (&args, "--env"), NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "plans", request, NULL, 0, &result);
    if (status != CLI_OK || !result) {
        json_decref (result);
        return status;
    }
    if (cli->json) {
        cli_print_json (result);
        json_decref (result);
        return CLI_OK;
    }
    printf ("%-10s %-14s %-12s %-9s %-8s %-10s %-20s %-10s %s\n", "PLAN", "APP", "VERSION", "ENV",
            "KIND", "STATE", "CREATED", "BY", "REASON");
    size_t index;
    json_t *plan;
    json_array_foreach (json_object_get (result, "plans"), index, plan)
        printf ("%-10s %-14s %-12s %-9s %-8s %-10s %-20s %-10s %s\n", cli_str (plan, "id"),
                cli_str (plan, "app"), cli_str (plan, "version"), cli_str (plan, "env"),
                cli_str (plan, "kind"), cli_str (plan, "state"), cli_str (plan, "created"),
                cli_str (plan, "deployer"), cli_str (plan, "reason"));
    json_decref (result);
    return CLI_OK;
}

int cli_plan (cli_t *cli)
{
    cli_args_t args;
    if (cli_args_parse (cli, NULL, &args))
        return CLI_USAGE;
    const char *action = args.positional_count ? args.positional[0] : "";
    if (!streq (action, "show")) {
        if (streq (action, "abort") || streq (action, "pause") || streq (action, "resume") ||
            streq (action, "approve"))
            return cli_error (CLI_USAGE, "plan %s is not available in this version", action);
        return cli_error (CLI_USAGE, "usage: jadctl plan show ID");
    }
    if (args.positional_count != 2)
        return cli_error (CLI_USAGE, "usage: jadctl plan show ID");
    const char *request[] = {"id", args.positional[1], NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "plan.show", request, NULL, 0, &result);
    if (status != CLI_OK || !result) {
        json_decref (result);
        return status;
    }
    json_t *plan = json_object_get (result, "plan");
    if (cli->json) {
        cli_print_json (plan);
        json_decref (result);
        return CLI_OK;
    }
    printf ("plan      %s\n", cli_str (plan, "id"));
    printf ("release   %s %s\n", cli_str (plan, "app"), cli_str (plan, "version"));
    printf ("env       %s (%s, strategy %s)\n", cli_str (plan, "env"), cli_str (plan, "kind"),
            cli_str (plan, "strategy"));
    printf ("state     %s\n", cli_str (plan, "state"));
    printf ("reason    %s\n", cli_str (plan, "reason"));
    printf ("by        %s\n", cli_str (plan, "deployer"));
    printf ("created   %s\n", cli_str (plan, "created"));
    printf ("finished  %s\n", cli_str (plan, "finished"));
    if (json_string_value (json_object_get (plan, "undoes")))
        printf ("undoes    %s\n", cli_str (plan, "undoes"));
    cli_print_decisions (json_object_get (plan, "decisions"));
    printf ("\n");
    s_print_hosts (json_object_get (plan, "hosts"));
    printf ("\n");
    size_t index;
    json_t *event;
    json_array_foreach (json_object_get (plan, "events"), index, event) s_print_event (event);
    s_print_outputs (json_object_get (plan, "events"));
    json_decref (result);
    return CLI_OK;
}
