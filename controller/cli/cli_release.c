//  cli_release - jadctl release add|list|show|floor|attest|checks|approve
//  SPDX-License-Identifier: MPL-2.0
//
//  `release add` hashes the archive locally, then uploads it in chunks;
//  the controller checks length, SHA-256 and the archive's jadugar.yaml
//  before it records the release.
//
//  --json prints {"release": RELEASE, "exists": BOOL, "auto_deploy":
//  [{"env", "plan": PLAN} | {"env", "refused"} | {"env", "waits", "slot"}]}:
//  the release as `release list` shows it, each plan as every other
//  command shows a plan, and the slot a scheduled environment deploys at.

#include "cli.h"
#include "jad_attest.h"
#include "jad_util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <time.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAX_NOTES 65536

//  RELEASE app version as `release list` shows it (caller decrefs), or
//  NULL.
static json_t *s_release (cli_t *cli, const char *app, const char *version)
{
    const char *request[] = {"app", app, NULL};
    json_t *list = NULL, *found = NULL;
    if (cli_request (cli, "release.list", request, NULL, 0, &list) == CLI_OK) {
        size_t index;
        json_t *release;
        json_array_foreach (json_object_get (list, "releases"), index, release)
        {
            if (streq (cli_str (release, "version"), version))
                found = json_incref (release);
        }
    }
    json_decref (list);
    return found;
}

//  Print the --json shape of `release add` from the commit's reply (or
//  NULL when the release was there already).
static void s_print_added (cli_t *cli, const char *app, const char *version, json_t *committed)
{
    json_t *fetched = s_release (cli, app, version);
    json_t *release = fetched ? fetched : json_object_get (committed, "release");
    json_t *auto_deploy = json_array ();
    size_t index;
    json_t *entry;
    json_array_foreach (json_object_get (committed, "auto_deploy"), index, entry)
    {
        json_t *copy = json_copy (entry);
        const char *plan_id = json_string_value (json_object_get (entry, "plan"));
        if (copy && plan_id) {
            const char *show[] = {"id", plan_id, NULL};
            json_t *shown = NULL;
            if (cli_request (cli, "plan.show", show, NULL, 0, &shown) == CLI_OK)
                json_object_set (copy, "plan", cli_plan_complete (json_object_get (shown, "plan")));
            json_decref (shown);
        }
        json_array_append_new (auto_deploy, copy);
    }
    json_t *out = json_pack ("{s:O?, s:b, s:o}", "release", release, "exists", committed == NULL,
                             "auto_deploy", auto_deploy);
    if (out)
        cli_print_json (out);
    json_decref (out);
    json_decref (fetched);
}

static int s_release_add (cli_t *cli, cli_args_t *args)
{
    if (args->positional_count != 4)
        return cli_usage_error (cli, "release add: needs APP, VERSION and FILE.tar.gz");
    const char *app = args->positional[1];
    const char *version = args->positional[2];
    const char *file = args->positional[3];
    if (!jad_name_valid (app))
        return cli_error (CLI_USAGE,
                          "release add: APP '%s' is not a valid name (letters, digits, "
                          ". _ -; at most 64)",
                          app);
    if (!jad_name_valid (version))
        return cli_error (CLI_USAGE,
                          "release add: VERSION '%s' is not a valid name (letters, "
                          "digits, . _ -; at most 64)",
                          version);
    char *notes = NULL;
    const char *notes_file = cli_args_get (args, "--notes");
    if (notes_file) {
        notes = jad_file_read (notes_file, S_MAX_NOTES, NULL);
        if (!notes)
            return cli_error (CLI_USAGE, "release add: --notes %s: %s", notes_file,
                              errno == EFBIG ? "larger than 64 KiB" : strerror (errno));
    }
    uint8_t sha256[32];
    uint64_t length = 0;
    if (jad_sha256_file (file, sha256, &length) != 0) {
        free (notes);
        return cli_error (CLI_USAGE, "release add: cannot read %s: %s", file, strerror (errno));
    }
    char sha_hex[65], length_text[32];
    jad_hex (sha256, 32, sha_hex);
    snprintf (length_text, sizeof length_text, "%llu", (unsigned long long)length);
    const char *begin[] = {"app",     app,
                           "version", version,
                           "length",  length_text,
                           "sha256",  sha_hex,
                           "branch",  cli_args_get (args, "--branch"),
                           "commit",  cli_args_get (args, "--commit"),
                           "notes",   notes,
                           NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "release.begin", begin, NULL, 0, &result);
    free (notes);
    if (status != CLI_OK) {
        json_decref (result);
        return status;
    }
    const char *upload = cli_str (result, "upload");
    if (json_is_true (json_object_get (result, "exists"))) {
        if (!cli->json)
            printf ("release %s %s already present (sha256 %s)\n", app, version, sha_hex);
        else
            s_print_added (cli, app, version, NULL);
        json_decref (result);
        return CLI_OK;
    }
    char *upload_id = strdup (upload);
    json_int_t chunk_size = json_integer_value (json_object_get (result, "chunk"));
    json_decref (result);
    if (chunk_size <= 0 || chunk_size > 4 * 1024 * 1024)
        chunk_size = JAD_CHUNK_SIZE;
    int fd = open (file, O_RDONLY | O_CLOEXEC);
    uint8_t *buffer = malloc ((size_t)chunk_size);
    uint64_t offset = 0;
    while (status == CLI_OK && fd >= 0 && buffer && offset < length) {
        ssize_t got = pread (fd, buffer, (size_t)chunk_size, (off_t)offset);
        if (got <= 0) {
            status = cli_error (CLI_FAILED, "release add: %s changed while uploading", file);
            break;
        }
        char offset_text[32];
        snprintf (offset_text, sizeof offset_text, "%llu", (unsigned long long)offset);
        const char *chunk[] = {"upload", upload_id, "offset", offset_text, NULL};
        status = cli_request (cli, "release.chunk", chunk, buffer, (size_t)got, NULL);
        offset += (uint64_t)got;
    }
    if (fd < 0)
        status = cli_error (CLI_USAGE, "release add: cannot open %s: %s", file, strerror (errno));
    if (fd >= 0)
        close (fd);
    free (buffer);
    if (status == CLI_OK) {
        const char *commit[] = {"upload", upload_id, NULL};
        status = cli_request (cli, "release.commit", commit, NULL, 0, &result);
        if (status == CLI_OK && result) {
            if (cli->json)
                s_print_added (cli, app, version, result);
            else {
                printf ("added release %s %s (%llu bytes, sha256 %.16s…)\n", app, version,
                        (unsigned long long)length, sha_hex);
                size_t index;
                json_t *entry;
                json_array_foreach (json_object_get (result, "auto_deploy"), index, entry)
                {
                    if (json_object_get (entry, "plan"))
                        printf ("auto-deploy to %s: plan %s\n", cli_str (entry, "env"),
                                cli_str (entry, "plan"));
                    else
                        printf ("auto-deploy to %s: %s\n", cli_str (entry, "env"),
                                json_object_get (entry, "waits") ? cli_str (entry, "waits")
                                                                 : cli_str (entry, "refused"));
                }
            }
        }
        json_decref (result);
    }
    free (upload_id);
    return status;
}

static int s_release_list (cli_t *cli, cli_args_t *args)
{
    if (args->positional_count > 2)
        return cli_usage_error (cli, "release list: unexpected argument '%s'", args->positional[2]);
    const char *request[] = {"app", args->positional_count == 2 ? args->positional[1] : NULL, NULL};
    json_t *result = NULL;
    int status = cli_query (cli, "release.list", request, &result);
    if (!result)
        return status;
    printf ("%-16s %-14s %7s %-12s %10s %-20s %-16s %s\n", "APP", "VERSION", "COUNTER", "SHA256",
            "BYTES", "ADDED", "BRANCH", "SUCCEEDED IN");
    size_t index;
    json_t *release;
    json_array_foreach (json_object_get (result, "releases"), index, release)
    {
        const char *security = json_string_value (json_object_get (release, "security"));
        printf ("%-16s %-14s %7lld %-12.12s %10lld %-20s %-16s %s%s\n", cli_str (release, "app"),
                cli_str (release, "version"),
                (long long)json_integer_value (json_object_get (release, "counter")),
                cli_str (release, "sha256"),
                (long long)json_integer_value (json_object_get (release, "length")),
                cli_str (release, "created"), cli_str (release, "branch"),
                cli_str (release, "succeeded_in"),
                !security                   ? ""
                : streq (security, "floor") ? "  (security floor)"
                                            : "  (below the security floor)");
        //  A release marked bad (an automatic rollback left it) says why.
        const char *bad = json_string_value (json_object_get (release, "bad"));
        if (bad)
            printf ("    BAD: %s\n", bad);
        const char *notes = json_string_value (json_object_get (release, "notes"));
        if (notes) {
            //  First line of the notes, indented.
            printf ("    %.*s\n", (int)strcspn (notes, "\n"), notes);
        }
    }
    json_decref (result);
    return CLI_OK;
}

static int s_release_floor (cli_t *cli, cli_args_t *args)
{
    if (args->positional_count != 3)
        return cli_usage_error (cli, "release floor: needs APP and VERSION");
    const char *request[] = {"app", args->positional[1], "version", args->positional[2], NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "release.floor", request, NULL, 0, &result);
    if (status == CLI_OK && result) {
        if (cli->json)
            cli_print_json (result);
        else
            printf ("app: %s\nfloor: %s\ncounter: %lld\n", cli_str (result, "app"),
                    cli_str (result, "version"),
                    (long long)json_integer_value (json_object_get (result, "counter")));
    }
    json_decref (result);
    return status;
}

//  release attest APP VERSION FILE: the controller verifies the envelope
//  on arrival (DESIGN §10) and keeps it.
static int s_release_attest (cli_t *cli, cli_args_t *args)
{
    if (args->positional_count != 4)
        return cli_usage_error (cli, "release attest: needs APP, VERSION and FILE (a DSSE "
                                     "envelope)");
    const char *file = args->positional[3];
    size_t size = 0;
    char *text = jad_file_read (file, JAD_ATTEST_MAX_BYTES, &size);
    if (!text)
        return cli_error (CLI_USAGE, "release attest: cannot read %s: %s", file,
                          errno == EFBIG ? "larger than 1 MiB" : strerror (errno));
    const char *request[] = {"app", args->positional[1], "version", args->positional[2], NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "release.attest", request, (const uint8_t *)text, size, &result);
    free (text);
    if (status == CLI_OK && result) {
        if (cli->json)
            cli_print_json (result);
        else if (cli_escape_json (result) == 0)
            printf ("app: %s\nversion: %s\nattestation: %s\ntype: %s\nsigner: %s\nexists: %s\n",
                    cli_str (result, "app"), cli_str (result, "version"),
                    cli_str (result, "sha256"), cli_str (result, "type"),
                    cli_str (result, "signer"),
                    json_is_true (json_object_get (result, "exists")) ? "true" : "false");
    }
    json_decref (result);
    return status;
}

//  The approval envelope (JSON text, caller frees) of operator's check of
//  app/version (its SHA-256 sha256) in env, signed with key, or NULL.
static char *s_approval (const char *app, const char *version, const char *sha256, const char *env,
                         const char *check, const char *note, const jad_keypair_t *key)
{
    char now[32];
    time_t seconds = time (NULL);
    struct tm utc;
    gmtime_r (&seconds, &utc);
    strftime (now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &utc);
    char subject[160];
    snprintf (subject, sizeof subject, "%s-%s", app, version);
    json_t *statement =
        json_pack ("{s:s, s:[{s:s, s:{s:s}}], s:s, s:{s:s, s:s, s:s, s:s, s:s?, s:s}}", "_type",
                   JAD_ATTEST_STATEMENT_V1, "subject", "name", subject, "digest", "sha256", sha256,
                   "predicateType", JAD_ATTEST_APPROVAL, "predicate", "app", app, "version",
                   version, "env", env, "check", check, "note", note, "timestamp", now);
    char *payload = statement ? json_dumps (statement, JSON_COMPACT) : NULL;
    json_decref (statement);
    if (!payload)
        return NULL;
    char *envelope =
        jad_dsse_sign (JAD_ATTEST_PAYLOAD_TYPE, (const uint8_t *)payload, strlen (payload), key);
    free (payload);
    return envelope;
}

//  release approve APP VERSION --env E --check NAME [--note TEXT]: an
//  approval signed here, with the operator's own signing key.
static int s_release_approve (cli_t *cli, cli_args_t *args)
{
    if (args->positional_count != 3)
        return cli_usage_error (cli, "release approve: needs APP and VERSION");
    const char *app = args->positional[1], *version = args->positional[2];
    const char *env = cli_args_get (args, "--env"), *check = cli_args_get (args, "--check");
    if (!env || !check)
        return cli_usage_error (cli, "release approve: needs --env E and --check NAME");
    const char *note = cli_args_get (args, "--note");
    if (note && strlen (note) > 1024)
        return cli_error (CLI_USAGE, "release approve: --note is longer than 1024 bytes");
    jad_keypair_t *key = cli_signing_key (cli);
    if (!key)
        return CLI_USAGE;
    json_t *release = s_release (cli, app, version);
    const char *sha256 = json_string_value (json_object_get (release, "sha256"));
    char *envelope = sha256 ? s_approval (app, version, sha256, env, check, note, key) : NULL;
    jad_keypair_destroy (&key);
    if (!envelope) {
        json_decref (release);
        return release ? cli_error (CLI_FAILED, "release approve: cannot sign (out of memory)")
                       : cli_error (CLI_USAGE, "release approve: no release %s %s", app, version);
    }
    json_decref (release);
    const char *request[] = {"app", app, "version", version, "env", env, "check", check, NULL};
    json_t *result = NULL;
    int status = cli_request (cli, "release.approve", request, (const uint8_t *)envelope,
                              strlen (envelope), &result);
    free (envelope);
    if (status == CLI_OK && result) {
        if (cli->json)
            cli_print_json (result);
        else if (cli_escape_json (result) == 0)
            printf ("app: %s\nversion: %s\nenv: %s\ncheck: %s\napproved-by: %s\nexists: %s\n",
                    cli_str (result, "app"), cli_str (result, "version"), cli_str (result, "env"),
                    cli_str (result, "check"), cli_str (result, "operator"),
                    json_is_true (json_object_get (result, "exists")) ? "true" : "false");
    }
    json_decref (result);
    return status;
}

//  release checks APP VERSION [--env E]: each check, ok / missing /
//  invalid and why.
static int s_release_checks (cli_t *cli, cli_args_t *args)
{
    if (args->positional_count != 3)
        return cli_usage_error (cli, "release checks: needs APP and VERSION");
    const char *request[] = {"app", args->positional[1],          "version", args->positional[2],
                             "env", cli_args_get (args, "--env"), NULL};
    json_t *result = NULL;
    int status = cli_query (cli, "release.checks", request, &result);
    if (!result)
        return status;
    json_t *checks = json_object_get (result, "checks");
    if (json_array_size (checks) == 0)
        printf ("no checks%s%s\n", cli_args_get (args, "--env") ? " in " : "",
                cli_args_get (args, "--env") ? cli_args_get (args, "--env") : "");
    else
        printf ("%-12s %-20s %-12s %-8s %s\n", "ENV", "CHECK", "KIND", "STATE", "WHY");
    size_t index;
    json_t *check;
    json_array_foreach (checks, index, check)
    {
        printf ("%-12s %-20s %-12s %-8s %s\n", cli_str (check, "env"), cli_str (check, "check"),
                cli_str (check, "kind"), cli_str (check, "state"), cli_str (check, "why"));
    }
    json_decref (result);
    return CLI_OK;
}

//  release show APP VERSION: notes, commit, branch, checks per
//  environment, and every plan of it: where it ran and how it ended.
static int s_release_show (cli_t *cli, const cli_args_t *args)
{
    if (args->positional_count != 3)
        return cli_usage_error (cli, "release show: needs APP and VERSION");
    const char *request[] = {"app", args->positional[1], "version", args->positional[2], NULL};
    json_t *result = NULL;
    int status = cli_query (cli, "release.show", request, &result);
    if (!result)
        return status;
    json_t *release = json_object_get (result, "release");
    printf ("release:  %s %s (counter %lld)\n", cli_str (release, "app"),
            cli_str (release, "version"),
            (long long)json_integer_value (json_object_get (release, "counter")));
    printf ("added:    %s\n", cli_str (release, "created"));
    printf ("branch:   %s\n", cli_str (release, "branch"));
    printf ("commit:   %s\n", cli_str (release, "commit"));
    printf ("sha256:   %s\n", cli_str (release, "sha256"));
    if (json_string_value (json_object_get (release, "bad")))
        printf ("bad:      %s\n", cli_str (release, "bad"));
    size_t index;
    json_t *item;
    json_array_foreach (json_object_get (result, "checks"), index, item)
    {
        if (json_object_get (item, "error"))
            printf ("checks:   %s\n", cli_str (item, "error"));
        else
            printf ("%s %-8s %-16s %-8s %s\n",
                    index ? "         " : "checks:  ", cli_str (item, "env"),
                    cli_str (item, "check"), cli_str (item, "state"),
                    json_string_value (json_object_get (item, "why")) ? cli_str (item, "why") : "");
    }
    if (json_array_size (json_object_get (result, "checks")) == 0)
        printf ("checks:   none required\n");
    json_array_foreach (json_object_get (result, "plans"), index, item)
        printf ("%s %-9s %-8s %-8s %-20s %-10s %s\n",
                index ? "         " : "ran:     ", cli_str (item, "env"), cli_str (item, "id"),
                cli_str (item, "kind"), cli_str (item, "created"), cli_str (item, "outcome"),
                cli_str (item, "reason"));
    if (json_array_size (json_object_get (result, "plans")) == 0)
        printf ("ran:      nowhere yet\n");
    const char *notes = json_string_value (json_object_get (release, "notes"));
    printf ("notes:%s%s\n", notes ? "\n" : "    ", notes ? notes : "-");
    json_decref (result);
    return CLI_OK;
}

int cli_release (cli_t *cli)
{
    static const char *const spec[] = {
        "--branch=", "--commit=", "--notes=", "--env=", "--check=", "--note=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    const char *action = args.positional_count ? args.positional[0] : "";
    bool add_flags = cli_args_has (&args, "--branch") || cli_args_has (&args, "--commit") ||
                     cli_args_has (&args, "--notes");
    if (cli_args_has (&args, "--env") && !streq (action, "checks") && !streq (action, "approve"))
        return cli_error (CLI_USAGE, "release %s takes no --env", *action ? action : "");
    if ((cli_args_has (&args, "--check") || cli_args_has (&args, "--note")) &&
        !streq (action, "approve"))
        return cli_error (CLI_USAGE, "release %s takes no --check or --note (release approve does)",
                          *action ? action : "");
    if (streq (action, "add"))
        return s_release_add (cli, &args);
    if (streq (action, "attest") || streq (action, "checks") || streq (action, "approve")) {
        if (add_flags)
            return cli_error (CLI_USAGE, "release %s takes no --branch, --commit or --notes",
                              action);
        if (streq (action, "approve"))
            return s_release_approve (cli, &args);
        return streq (action, "attest") ? s_release_attest (cli, &args)
                                        : s_release_checks (cli, &args);
    }
    if (streq (action, "show")) {
        if (add_flags)
            return cli_error (CLI_USAGE, "release show takes no --branch, --commit or --notes");
        return s_release_show (cli, &args);
    }
    if (streq (action, "list")) {
        if (cli_args_has (&args, "--branch") || cli_args_has (&args, "--commit") ||
            cli_args_has (&args, "--notes"))
            return cli_error (CLI_USAGE, "release list takes no --branch, --commit or --notes");
        return s_release_list (cli, &args);
    }
    if (streq (action, "floor")) {
        if (cli_args_has (&args, "--branch") || cli_args_has (&args, "--commit") ||
            cli_args_has (&args, "--notes"))
            return cli_error (CLI_USAGE, "release floor takes no --branch, --commit or --notes");
        return s_release_floor (cli, &args);
    }
    static const char *const actions[] = {"add",    "list",   "show",   "floor",
                                          "attest", "checks", "approve"};
    if (!*action)
        return cli_usage_error (
            cli, "release: needs an action (add, list, show, floor, attest, checks, approve)");
    return cli_unknown (CLI_USAGE, "release: unknown action", action, actions,
                        sizeof actions / sizeof actions[0]);
}
