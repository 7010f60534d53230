//  cli_incidents - jadctl incident open|note|close|list|report (DESIGN §11)
//  SPDX-License-Identifier: MPL-2.0
//
//  The controller keeps incidents and makes the report (Markdown); this
//  file asks and prints. `incident list` is a table (--json: {"incidents":
//  [...]}); open, note and close print the incident's `key: value` lines
//  (--json: {"incident": {...}}); `report` prints the Markdown as it is
//  (--json: {"incident", "timeline", "report"}).

#include "cli.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

//  `key: value` lines of one incident, for scripts and humans.
static void s_print_incident (json_t *incident)
{
    printf ("incident: %lld\n", (long long)json_integer_value (json_object_get (incident, "id")));
    printf ("env: %s\n", cli_str (incident, "env"));
    printf ("title: %s\n", cli_str (incident, "title"));
    printf ("state: %s\n", cli_str (incident, "state"));
    printf ("opened: %s by %s\n", cli_str (incident, "opened"), cli_str (incident, "opened_by"));
    if (json_string_value (json_object_get (incident, "closed")))
        printf ("closed: %s by %s\n", cli_str (incident, "closed"),
                cli_str (incident, "closed_by"));
    if (json_string_value (json_object_get (incident, "plan")))
        printf ("plan: %s\n", cli_str (incident, "plan"));
    printf ("notes: %lld\n", (long long)json_integer_value (json_object_get (incident, "notes")));
}

static int s_list (cli_t *cli, const cli_args_t *args)
{
    const char *request[] = {"env", cli_args_get (args, "--env"), "open",
                             cli_args_has (args, "--open") ? "true" : NULL, NULL};
    json_t *result = NULL;
    int status = cli_query (cli, "incident.list", request, &result);
    if (!result)
        return status;
    json_t *list = json_object_get (result, "incidents");
    if (json_array_size (list) == 0)
        printf ("no incidents\n");
    else
        printf ("%-5s %-10s %-7s %-21s %-12s %s\n", "ID", "ENV", "STATE", "OPENED", "BY", "TITLE");
    size_t index;
    json_t *incident;
    json_array_foreach (list, index, incident) printf (
        "%-5lld %-10s %-7s %-21s %-12s %s\n",
        (long long)json_integer_value (json_object_get (incident, "id")), cli_str (incident, "env"),
        cli_str (incident, "state"), cli_str (incident, "opened"), cli_str (incident, "opened_by"),
        cli_str (incident, "title"));
    json_decref (result);
    return CLI_OK;
}

int cli_incident (cli_t *cli)
{
    static const char *const spec[] = {"--env=", "--since=", "--open", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    const char *action = args.positional_count ? args.positional[0] : "";
    int count = args.positional_count;
    if (streq (action, "list")) {
        if (count != 1)
            return cli_usage_error (cli, "incident list: unexpected argument '%s'",
                                    args.positional[1]);
        return s_list (cli, &args);
    }
    const char *command = NULL;
    const char *request[9] = {NULL};
    if (streq (action, "open")) {
        if (count != 2 || !cli_args_get (&args, "--env"))
            return cli_usage_error (cli, "incident open: needs --env E and one TITLE (quote it)");
        command = "incident.open";
        const char *fields[] = {
            "env",   cli_args_get (&args, "--env"),   "title", args.positional[1],
            "since", cli_args_get (&args, "--since"), NULL};
        memcpy (request, fields, sizeof fields);
    } else if (streq (action, "note")) {
        if (count != 3)
            return cli_usage_error (cli, "incident note: needs ID and one TEXT (quote it)");
        command = "incident.note";
        const char *fields[] = {"id", args.positional[1], "text", args.positional[2], NULL};
        memcpy (request, fields, sizeof fields);
    } else if (streq (action, "close") || streq (action, "report")) {
        if (count != 2)
            return cli_usage_error (cli, "incident %s: needs one ID", action);
        command = streq (action, "close") ? "incident.close" : "incident.report";
        const char *fields[] = {"id", args.positional[1], NULL};
        memcpy (request, fields, sizeof fields);
    } else {
        static const char *const actions[] = {"open", "note", "close", "list", "report"};
        if (!*action)
            return cli_usage_error (cli, "incident: needs open, note, close, list or report");
        return cli_unknown (CLI_USAGE, "unknown incident command", action, actions, 5);
    }
    json_t *result = NULL;
    int status = cli_query (cli, command, request, &result);
    if (!result)
        return status;
    if (streq (command, "incident.report")) {
        const char *report = json_string_value (json_object_get (result, "report"));
        fputs (report ? report : "", stdout);
    } else
        s_print_incident (json_object_get (result, "incident"));
    json_decref (result);
    return CLI_OK;
}
