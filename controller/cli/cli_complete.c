//  cli_complete - jadctl __complete WHAT: words for bash completion
//  SPDX-License-Identifier: MPL-2.0
//
//  Not a command of `jadctl help`: deploy/bash-completion/jadctl calls it
//  with a short --timeout. It prints one word a line and nothing else:
//  errors go nowhere (stderr is closed to them) and any failure prints no
//  word. Only words made of name characters are printed, so nothing the
//  controller sends can reach the terminal as anything but a name.

#include "cli.h"
#include "jad_util.h"

#include <czmq.h>
#include <string.h>

//  True if `word` is 1-128 of A-Z a-z 0-9 . _ - + (names, versions, ids).
static bool s_word (const char *word)
{
    size_t length = word ? strlen (word) : 0;
    if (length == 0 || length > 128)
        return false;
    return strspn (word, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-+") ==
           length;
}

//  Print the string member `key` of each object of `list` (or each string
//  of it, key NULL), once, where `filter_key` (if any) equals `filter`.
static void s_print (json_t *list, const char *key, const char *filter_key, const char *filter)
{
    zhashx_t *seen = zhashx_new ();
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item)
    {
        const char *word =
            key ? json_string_value (json_object_get (item, key)) : json_string_value (item);
        if (filter_key && !streq (cli_str (item, filter_key), filter))
            continue;
        if (!s_word (word) || (seen && zhashx_lookup (seen, word)))
            continue;
        if (seen)
            zhashx_insert (seen, word, (void *)1);
        printf ("%s\n", word);
    }
    zhashx_destroy (&seen);
}

int cli_complete (cli_t *cli)
{
    //  silent on errors: completion must never draw on the command line
    if (!freopen ("/dev/null", "w", stderr))
        return CLI_FAILED;
    const char *what = cli->argc > 1 ? cli->argv[1] : "";
    const char *app = cli->argc > 2 ? cli->argv[2] : NULL;
    json_t *result = NULL;
    int status = CLI_USAGE;
    if (streq (what, "envs")) {
        status = cli_request (cli, "ping", NULL, NULL, 0, &result);
        if (status == CLI_OK && result)
            s_print (json_object_get (result, "environments"), NULL, NULL, NULL);
    } else if (streq (what, "apps") || (streq (what, "versions") && app)) {
        const char *request[] = {"app", streq (what, "versions") ? app : NULL, NULL};
        status = cli_request (cli, "release.list", request, NULL, 0, &result);
        if (status == CLI_OK && result)
            s_print (json_object_get (result, "releases"), streq (what, "apps") ? "app" : "version",
                     app ? "app" : NULL, app);
    } else if (streq (what, "plans")) {
        status = cli_request (cli, "plans", NULL, NULL, 0, &result);
        if (status == CLI_OK && result)
            s_print (json_object_get (result, "plans"), "id", NULL, NULL);
    }
    json_decref (result);
    return status;
}
