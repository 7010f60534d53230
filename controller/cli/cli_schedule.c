//  cli_schedule - jadctl schedule: the coming release slots per environment
//  SPDX-License-Identifier: MPL-2.0
//
//  --json prints the controller's answer as it is: {"environments": [{env,
//  schedule, timezone, last_slot, slots: [{time, local}], waiting: [{app,
//  version, branch}]}]}.

#include "cli.h"

#include <stdio.h>

int cli_schedule (cli_t *cli)
{
    static const char *const spec[] = {"--env=", "--count=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count)
        return cli_usage_error (cli, "schedule: unexpected argument '%s'", args.positional[0]);
    const char *request[] = {"env", cli_args_get (&args, "--env"), "count",
                             cli_args_get (&args, "--count"), NULL};
    json_t *result = NULL;
    int status = cli_query (cli, "schedule", request, &result);
    if (!result)
        return status;
    json_t *list = json_object_get (result, "environments");
    if (json_array_size (list) == 0)
        printf ("no environment has a schedule (controller.yaml: schedule:)\n");
    size_t index;
    json_t *env;
    json_array_foreach (list, index, env)
    {
        const char *zone = json_string_value (json_object_get (env, "timezone"));
        printf ("%s%s: %s (%s)\n", index ? "\n" : "", cli_str (env, "env"),
                cli_str (env, "schedule"), zone ? zone : "controller's local time");
        size_t slot_index;
        json_t *slot;
        json_array_foreach (json_object_get (env, "slots"), slot_index, slot)
            printf ("  %-6s %-28s %s\n", slot_index ? "" : "next", cli_str (slot, "local"),
                    cli_str (slot, "time"));
        printf ("  %-6s %s\n", "last", cli_str (env, "last_slot"));
        json_t *waiting = json_object_get (env, "waiting");
        json_t *release;
        if (json_array_size (waiting) == 0)
            printf ("  %-6s nothing: every tracked release is deployed\n", "waits");
        json_array_foreach (waiting, slot_index, release) printf (
            "  %-6s %s %s (branch %s)\n", slot_index ? "" : "waits", cli_str (release, "app"),
            cli_str (release, "version"), cli_str (release, "branch"));
    }
    json_decref (result);
    return CLI_OK;
}
