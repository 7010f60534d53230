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

int cli_controllers (cli_t *cli)
{
    static const char *const spec[] = {NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count)
        return cli_usage_error (cli, "controllers: unexpected argument '%s'", args.positional[0]);
    json_t *result = NULL;
    int status = cli_query (cli, "controllers", NULL, &result);
    if (!result)
        return status;
    printf ("%-32s %-8s %-6s %-6s %s\n", "ENDPOINT", "ROLE", "EPOCH", "STATE", "LAST SEEN");
    size_t index;
    json_t *controller;
    json_array_foreach (json_object_get (result, "controllers"), index, controller)
    {
        char ago[32], epoch[24] = "-";
        if (streq (cli_str (controller, "role"), "leader"))
            snprintf (epoch, sizeof epoch, "%lld",
                      (long long)json_integer_value (json_object_get (controller, "epoch")));
        printf ("%-32s %-8s %-6s %-6s %s\n", cli_str (controller, "endpoint"),
                cli_str (controller, "role"), epoch, cli_str (controller, "state"),
                s_ago (cli_str (controller, "last_seen"), ago, sizeof ago));
    }
    json_decref (result);
    return CLI_OK;
}

//  agents token create --env E[,E2] [--expires DURATION] [--uses N]
static int s_token_create (cli_t *cli, const cli_args_t *args)
{
    if (args->positional_count != 2)
        return cli_usage_error (cli, "agents token create: unexpected argument '%s'",
                                args->positional[2]);
    const char *envs = cli_args_get (args, "--env");
    if (!envs)
        return cli_usage_error (cli, "agents token create: needs --env E[,E2...]");
    const char *request[] = {"env",     envs,
                             "expires", cli_args_get (args, "--expires"),
                             "uses",    cli_args_get (args, "--uses"),
                             NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "agents.token.create", request, NULL, 0, &result);
    if (status == CLI_OK && result) {
        if (cli->json)
            cli_print_json_as ("token", result);
        else
            printf ("token: %s\nid: %s\nenvs: %s\nexpires: %s\nuses: %lld\n",
                    cli_str (result, "token"), cli_str (result, "id"), cli_str (result, "envs"),
                    cli_str (result, "expires"),
                    (long long)json_integer_value (json_object_get (result, "uses")));
    }
    json_decref (result);
    return status;
}

static int s_token_list (cli_t *cli, const cli_args_t *args)
{
    if (args->positional_count != 2)
        return cli_usage_error (cli, "agents token list: unexpected argument '%s'",
                                args->positional[2]);
    json_t *result = NULL;
    int status = cli_query (cli, "agents.token.list", NULL, &result);
    if (!result)
        return status;
    printf ("%-10s %-24s %-8s %-20s %-9s %s\n", "ID", "ENVS", "STATE", "EXPIRES", "USES LEFT",
            "CREATED BY");
    size_t index;
    json_t *token;
    json_array_foreach (json_object_get (result, "tokens"), index, token)
    {
        json_t *left = json_object_get (token, "uses_left");
        char uses[24] = "unlimited";
        if (json_is_integer (left))
            snprintf (uses, sizeof uses, "%lld", (long long)json_integer_value (left));
        printf ("%-10s %-24s %-8s %-20s %-9s %s\n", cli_str (token, "id"), cli_str (token, "envs"),
                cli_str (token, "state"), cli_str (token, "expires"), uses,
                cli_str (token, "created_by"));
    }
    json_decref (result);
    return CLI_OK;
}

static int s_token_revoke (cli_t *cli, const cli_args_t *args)
{
    if (args->positional_count != 3)
        return cli_usage_error (cli, "agents token revoke: needs one token ID");
    const char *request[] = {"id", args->positional[2], NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "agents.token.revoke", request, NULL, 0, &result);
    if (status == CLI_OK && result) {
        if (cli->json)
            cli_print_json_as ("token", result);
        else
            printf ("token: %s\nstate: %s\n", cli_str (result, "id"), cli_str (result, "state"));
    }
    json_decref (result);
    return status;
}

//  agents token create|list|revoke
static int s_token (cli_t *cli)
{
    static const char *const spec[] = {"--env=", "--expires=", "--uses=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    static const char *const actions[] = {"create", "list", "revoke"};
    const char *action = args.positional_count > 1 ? args.positional[1] : "";
    if (!streq (action, "create") &&
        (cli_args_has (&args, "--env") || cli_args_has (&args, "--expires") ||
         cli_args_has (&args, "--uses")))
        return cli_usage_error (cli, "agents token %s: --env, --expires and --uses are for create",
                                action);
    if (streq (action, "create"))
        return s_token_create (cli, &args);
    if (streq (action, "list"))
        return s_token_list (cli, &args);
    if (streq (action, "revoke"))
        return s_token_revoke (cli, &args);
    return cli_unknown (CLI_USAGE, "agents token: unknown action", action, actions,
                        sizeof actions / sizeof actions[0]);
}

int cli_agents (cli_t *cli)
{
    if (cli->argc > 1 && streq (cli->argv[1], "token"))
        return s_token (cli);
    cli_args_t args;
    if (cli_args_parse (cli, NULL, &args))
        return CLI_USAGE;
    if (args.positional_count > 0) {
        static const char *const actions[] = {"accept", "reject", "remove", "token"};
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
                    printf ("agent: %s\nstate: %s\nfingerprint: %s\n", cli_str (result, "name"),
                            cli_str (result, "state"), cli_str (result, "fingerprint"));
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
    printf ("%-20s %-10s %-9s %-10s %-16s %s\n", "NAME", "ENV", "STATE", "LAST SEEN", "FINGERPRINT",
            "KEY");
    size_t index;
    json_t *agent;
    json_array_foreach (json_object_get (result, "agents"), index, agent)
    {
        char ago[32];
        printf ("%-20s %-10s %-9s %-10s %-16s %s\n", cli_str (agent, "name"),
                cli_str (agent, "env"), cli_str (agent, "state"),
                s_ago (cli_str (agent, "last_seen"), ago, sizeof ago),
                cli_str (agent, "fingerprint"), cli_str (agent, "key"));
    }
    json_decref (result);
    return CLI_OK;
}
