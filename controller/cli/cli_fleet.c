//  cli_fleet - jadctl status and agents: what the fleet runs
//  SPDX-License-Identifier: MPL-2.0

#include "cli.h"

#include <string.h>
#include <time.h>

//  "12s ago" from an ISO time; "-" when never.
static const char *s_ago (const char *iso, char *buf, size_t len)
{
    struct tm parts = {0};
    if (!iso || streq (iso, "-") || !strptime (iso, "%Y-%m-%dT%H:%M:%SZ", &parts))
        return "-";
    time_t then = timegm (&parts);
    long seconds = (long)(time (NULL) - then);
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120)
        snprintf (buf, len, "%lds ago", seconds);
    else if (seconds < 7200)
        snprintf (buf, len, "%ldm ago", seconds / 60);
    else if (seconds < 172800)
        snprintf (buf, len, "%ldh ago", seconds / 3600);
    else
        snprintf (buf, len, "%ldd ago", seconds / 86400);
    return buf;
}

int cli_status (cli_t *cli)
{
    static const char *const spec[] = {"--env=", "--app=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count)
        return cli_usage_error (cli, "status: unexpected argument '%s'", args.positional[0]);
    const char *request[] = {"env", cli_args_get (&args, "--env"), "app",
                             cli_args_get (&args, "--app"), NULL};
    json_t *result = NULL;
    int status = cli_query (cli, "status", request, &result);
    if (!result)
        return status;
    json_t *agents = json_object_get (result, "agents");
    printf ("%-20s %-10s %-8s %-16s %-14s %-9s %s\n", "HOST", "ENV", "STATE", "APP", "VERSION",
            "HEALTH", "LAST SEEN");
    size_t index;
    json_t *agent;
    int online = 0;
    bool stale = false;
    json_array_foreach (agents, index, agent)
    {
        char ago[32];
        const char *state = cli_str (agent, "state");
        if (streq (state, "online"))
            online++;
        //  online but no signed controller traffic: plans may be held back
        if (streq (state, "online") && json_is_true (json_object_get (agent, "stale"))) {
            state = "stale";
            stale = true;
        }
        json_t *apps = json_object_get (agent, "apps");
        const char *seen = s_ago (cli_str (agent, "last_seen"), ago, sizeof ago);
        if (json_object_size (apps) == 0)
            printf ("%-20s %-10s %-8s %-16s %-14s %-9s %s\n", cli_str (agent, "name"),
                    cli_str (agent, "env"), state, "-", "-", "-", seen);
        const char *app_name;
        json_t *app;
        json_object_foreach (apps, app_name, app)
            printf ("%-20s %-10s %-8s %-16s %-14s %-9s %s\n", cli_str (agent, "name"),
                    cli_str (agent, "env"), state, app_name, cli_str (app, "version"),
                    cli_str (app, "health"), seen);
    }
    printf ("%zu agents, %d online\n", json_array_size (agents), online);
    if (stale)
        printf ("stale: no signed heartbeat or plan reached the agent within its stale-after "
                "(check the plan port)\n");
    json_decref (result);
    return CLI_OK;
}

int cli_agents (cli_t *cli)
{
    cli_args_t args;
    if (cli_args_parse (cli, NULL, &args))
        return CLI_USAGE;
    if (args.positional_count > 0) {
        static const char *const actions[] = {"accept", "reject", "remove"};
        const char *action = args.positional[0];
        if (streq (action, "accept") || streq (action, "reject") || streq (action, "remove")) {
            if (args.positional_count != 2)
                return cli_usage_error (cli, "agents %s: needs one agent NAME", action);
            char command[32];
            snprintf (command, sizeof command, "agents.%s", action);
            const char *request[] = {"name", args.positional[1], NULL};
            json_t *result = NULL;
            int status = cli_request (cli, command, request, NULL, 0, &result);
            if (status == CLI_OK && result) {
                if (cli->json)
                    cli_print_json_as ("agent", result);
                else
                    printf ("agent: %s\nstate: %s\n", cli_str (result, "name"),
                            cli_str (result, "state"));
            }
            json_decref (result);
            return status;
        }
        return cli_unknown (CLI_USAGE, "agents: unknown action", action, actions,
                            sizeof actions / sizeof actions[0]);
    }
    json_t *result = NULL;
    int status = cli_query (cli, "agents", NULL, &result);
    if (!result)
        return status;
    printf ("%-20s %-10s %-9s %-10s %s\n", "NAME", "ENV", "STATE", "LAST SEEN", "KEY");
    size_t index;
    json_t *agent;
    json_array_foreach (json_object_get (result, "agents"), index, agent)
    {
        char ago[32];
        printf ("%-20s %-10s %-9s %-10s %s\n", cli_str (agent, "name"), cli_str (agent, "env"),
                cli_str (agent, "state"), s_ago (cli_str (agent, "last_seen"), ago, sizeof ago),
                cli_str (agent, "key"));
    }
    json_decref (result);
    return CLI_OK;
}
