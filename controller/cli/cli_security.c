//  cli_security - jadctl operator and audit: who may do what, and who did
//  SPDX-License-Identifier: MPL-2.0

#include "cli.h"

#include <string.h>

//  Send an operator command whose answer is one operator, and print it.
static int s_operator_reply (cli_t *cli, const char *command, const char *const *request)
{
    json_t *result = NULL;
    int status = cli_request (cli, command, request, NULL, 0, &result);
    if (status == CLI_OK && result) {
        if (cli->json)
            cli_print_json_as ("operator", result);
        else {
            printf ("operator: %s\nroles: %s\nstate: %s\n", cli_str (result, "name"),
                    cli_str (result, "roles"), cli_str (result, "state"));
            if (json_object_get (result, "replaced"))
                printf ("replaced: %s\n", cli_str (result, "replaced"));
            printf ("public-key: %s\nsigning-key: %s\nexpires: %s\n",
                    cli_str (result, "public_key"), cli_str (result, "signing_key"),
                    json_is_string (json_object_get (result, "expires"))
                        ? cli_str (result, "expires")
                        : "never");
        }
    }
    json_decref (result);
    return status;
}

//  operator remove NAME; operator rotate NAME --public-key KEY
//  [--signing-key HEX] [--expires DURATION]; operator update NAME
//  [--signing-key HEX] [--expires DURATION|never]
static int s_operator_change (cli_t *cli, const char *action)
{
    static const char *const spec[] = {"--public-key=", "--signing-key=", "--expires=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, streq (action, "remove") ? NULL : spec, &args))
        return CLI_USAGE;
    if (args.positional_count != 2)
        return cli_usage_error (cli, "operator %s: needs one NAME", action);
    const char *key = cli_args_get (&args, "--public-key");
    if (streq (action, "rotate") && !key)
        return cli_usage_error (cli,
                                "operator rotate: needs --public-key KEY (from jadctl keygen)");
    if (streq (action, "update") && key)
        return cli_usage_error (cli, "operator update: a new --public-key goes through operator "
                                     "rotate");
    if (streq (action, "update") && !cli_args_has (&args, "--signing-key") &&
        !cli_args_has (&args, "--expires"))
        return cli_usage_error (cli, "operator update: needs --signing-key HEX or --expires "
                                     "DURATION");
    const char *request[] = {"name",        args.positional[1],
                             "public-key",  key,
                             "signing-key", cli_args_get (&args, "--signing-key"),
                             "expires",     cli_args_get (&args, "--expires"),
                             NULL};
    char command[32];
    snprintf (command, sizeof command, "operator.%s", action);
    return s_operator_reply (cli, command, request);
}

//  operator add NAME --role ROLE... --public-key KEY [--signing-key HEX]
//  [--expires DURATION] (the signing key is the Ed25519 key approvals are
//  signed with; the key is refused from DURATION on): roles may repeat
//  the flag (--role a --role b), follow one flag (--role a b) or be
//  comma-separated (--role a,b).
static int s_operator_add (cli_t *cli)
{
    const char *name = NULL, *key = NULL, *signing_key = NULL, *expires = NULL;
    char roles[512] = "";
    bool in_roles = false;
    for (int index = 2; index < cli->argc; index++) {
        const char *word = cli->argv[index];
        if (streq (word, "--role") || strncmp (word, "--role=", 7) == 0) {
            in_roles = true;
            if (word[6] == '=')
                word += 7;
            else
                continue;
        } else if (streq (word, "--public-key") || strncmp (word, "--public-key=", 13) == 0) {
            in_roles = false;
            if (word[12] == '=')
                key = word + 13;
            else if (index + 1 < cli->argc)
                key = cli->argv[++index];
            else
                return cli_error (CLI_USAGE, "operator add: --public-key needs a KEY");
            continue;
        } else if (streq (word, "--signing-key") || strncmp (word, "--signing-key=", 14) == 0) {
            in_roles = false;
            if (word[13] == '=')
                signing_key = word + 14;
            else if (index + 1 < cli->argc)
                signing_key = cli->argv[++index];
            else
                return cli_error (CLI_USAGE, "operator add: --signing-key needs a KEY");
            continue;
        } else if (streq (word, "--expires") || strncmp (word, "--expires=", 10) == 0) {
            in_roles = false;
            if (word[9] == '=')
                expires = word + 10;
            else if (index + 1 < cli->argc)
                expires = cli->argv[++index];
            else
                return cli_error (CLI_USAGE, "operator add: --expires needs a DURATION");
            continue;
        } else if (strncmp (word, "--", 2) == 0) {
            static const char *const options[] = {"--role", "--public-key", "--signing-key",
                                                  "--expires"};
            return cli_unknown (CLI_USAGE, "operator add: unknown option", word, options, 4);
        } else if (!in_roles) {
            if (name)
                return cli_error (CLI_USAGE, "operator add: unexpected argument '%s'", word);
            name = word;
            continue;
        }
        if (!*word || strlen (roles) + strlen (word) + 2 > sizeof roles)
            return cli_error (CLI_USAGE, "operator add: bad --role '%s'", word);
        if (*roles)
            strcat (roles, ",");
        strcat (roles, word);
    }
    if (!name || !*roles || !key)
        return cli_usage_error (cli, "operator add: needs %s",
                                !name ? "a NAME" : (!*roles ? "--role ROLE" : "--public-key KEY"));
    const char *request[] = {"name",        name,        "roles",   roles,   "public-key", key,
                             "signing-key", signing_key, "expires", expires, NULL};
    return s_operator_reply (cli, "operator.add", request);
}

static int s_operator_list (cli_t *cli)
{
    static const char *const spec[] = {"--all", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count > 1)
        return cli_usage_error (cli, "operator list: unexpected argument '%s'", args.positional[1]);
    const char *request[] = {"all", cli_args_has (&args, "--all") ? "1" : NULL, NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "operator.list", request, NULL, 0, &result);
    if (status != CLI_OK || !result) {
        json_decref (result);
        return status;
    }
    if (cli->json)
        cli_print_json (result);
    else {
        printf ("%-20s %-28s %-8s %-20s %s\n", "NAME", "ROLES", "STATE", "EXPIRES", "PUBLIC KEY");
        size_t index;
        json_t *entry;
        json_array_foreach (json_object_get (result, "operators"), index, entry)
            printf ("%-20s %-28s %-8s %-20s %s\n", cli_str (entry, "name"),
                    cli_str (entry, "roles"), cli_str (entry, "state"),
                    json_is_string (json_object_get (entry, "expires")) ? cli_str (entry, "expires")
                                                                        : "never",
                    cli_str (entry, "public_key"));
    }
    json_decref (result);
    return CLI_OK;
}

int cli_operator (cli_t *cli)
{
    const char *action = cli->argc > 1 ? cli->argv[1] : "";
    if (streq (action, "add"))
        return s_operator_add (cli);
    if (streq (action, "list"))
        return s_operator_list (cli);
    if (streq (action, "remove") || streq (action, "rotate") || streq (action, "update"))
        return s_operator_change (cli, action);
    static const char *const actions[] = {"add", "list", "remove", "rotate", "update"};
    if (!*action)
        return cli_usage_error (cli, "operator: needs an action (add, list, remove, rotate, "
                                     "update)");
    return cli_unknown (CLI_USAGE, "operator: unknown action", action, actions, 5);
}

int cli_audit (cli_t *cli)
{
    static const char *const spec[] = {"--since=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    if (args.positional_count)
        return cli_usage_error (cli, "audit: unexpected argument '%s'", args.positional[0]);
    const char *request[] = {"since", cli_args_get (&args, "--since"), NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "audit", request, NULL, 0, &result);
    if (status != CLI_OK || !result) {
        json_decref (result);
        return status;
    }
    if (cli->json)
        cli_print_json (result);
    else {
        printf ("%-20s %-12s %-16s %-40s %s\n", "TIME", "OPERATOR", "COMMAND", "ARGUMENTS",
                "OUTCOME");
        size_t index;
        json_t *entry;
        json_array_foreach (json_object_get (result, "audit"), index, entry) printf (
            "%-20s %-12s %-16s %-40s %s\n", cli_str (entry, "time"), cli_str (entry, "operator"),
            cli_str (entry, "command"), cli_str (entry, "args"), cli_str (entry, "outcome"));
    }
    json_decref (result);
    return CLI_OK;
}
