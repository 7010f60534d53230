//  cli_security - jadctl operator and audit: who may do what, and who did
//  SPDX-License-Identifier: MPL-2.0

#include "cli.h"

#include <string.h>

//  operator add NAME --role ROLE... --public-key KEY [--signing-key HEX]
//  (the Ed25519 key approvals are signed with): roles may repeat
//  the flag (--role a --role b), follow one flag (--role a b) or be
//  comma-separated (--role a,b).
static int s_operator_add (cli_t *cli)
{
    const char *name = NULL, *key = NULL, *signing_key = NULL;
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
        } else if (strncmp (word, "--", 2) == 0) {
            static const char *const options[] = {"--role", "--public-key", "--signing-key"};
            return cli_unknown (CLI_USAGE, "operator add: unknown option", word, options, 3);
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
    const char *request[] = {"name", name,          "roles",     roles, "public-key",
                             key,    "signing-key", signing_key, NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "operator.add", request, NULL, 0, &result);
    if (status == CLI_OK && result) {
        if (cli->json)
            cli_print_json_as ("operator", result);
        else
            printf ("operator: %s\nroles: %s\nsigning-key: %s\n", cli_str (result, "name"),
                    cli_str (result, "roles"), cli_str (result, "signing_key"));
    }
    json_decref (result);
    return status;
}

static int s_operator_list (cli_t *cli)
{
    if (cli->argc > 2)
        return cli_usage_error (cli, "operator list: unexpected argument '%s'", cli->argv[2]);
    json_t *result = NULL;
    int status = cli_request (cli, "operator.list", NULL, NULL, 0, &result);
    if (status != CLI_OK || !result) {
        json_decref (result);
        return status;
    }
    if (cli->json)
        cli_print_json (result);
    else {
        printf ("%-20s %-32s %s\n", "NAME", "ROLES", "PUBLIC KEY");
        size_t index;
        json_t *entry;
        json_array_foreach (json_object_get (result, "operators"), index, entry)
            printf ("%-20s %-32s %s\n", cli_str (entry, "name"), cli_str (entry, "roles"),
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
    static const char *const actions[] = {"add", "list"};
    if (!*action)
        return cli_usage_error (cli, "operator: needs an action (add, list)");
    return cli_unknown (CLI_USAGE, "operator: unknown action", action, actions, 2);
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
