//  cli_policy - jadctl policy: the offline-signed policy agents enforce
//  SPDX-License-Identifier: MPL-2.0
//
//  keygen and sign never talk to the controller: they run on the policy
//  signer's machine (offline, ideally), where the policy key lives. push
//  hands a signed policy to the controller, which keeps and forwards it
//  but cannot forge or edit one (jad_policy.h; docs/checks.md, the
//  ceremony).

#include "cli.h"
#include "jad_keys.h"
#include "jad_policy.h"
#include "jad_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_DEFAULT_FROM "/etc/jadugar/controller.yaml"

//  policy keygen FILE: a new Ed25519 policy key, never overwritten
static int s_keygen (cli_t *cli, cli_args_t *args)
{
    if (args->positional_count != 2)
        return cli_usage_error (cli, "policy keygen: needs one FILE");
    const char *path = args->positional[1];
    if (access (path, F_OK) == 0)
        return cli_error (CLI_USAGE, "policy keygen: %s exists; not overwriting a key", path);
    jad_keypair_t *key = jad_keypair_new (JAD_KEY_ED25519);
    char err[512] = "out of memory";
    if (!key || jad_keypair_save (key, path, err, sizeof err) != 0) {
        jad_keypair_destroy (&key);
        return cli_error (CLI_FAILED, "policy keygen: cannot write %s: %s", path, err);
    }
    if (cli->json) {
        json_t *out =
            json_pack ("{s:s, s:s}", "policy_key", jad_keypair_public_txt (key), "file", path);
        cli_print_json (out);
        json_decref (out);
    } else
        printf ("policy-key: %s\n", jad_keypair_public_txt (key));
    jad_keypair_destroy (&key);
    return CLI_OK;
}

//  The operators of FILE: `jadctl --json operator list` output, reviewed
//  by the signer ({"operators": [{name, roles, signing_key, state}, ...]},
//  or the list alone). Only active operators with a signing key are kept
//  (removed, expired or replaced keys approve nothing). Returns the JSON
//  (caller frees; the approvers borrow its strings) and the approvers in
//  *approvers_p (caller frees), *count_p of them; NULL with why in err.
static json_t *s_operators_load (const char *path, jad_approver_t **approvers_p, size_t *count_p,
                                 char *err, size_t errlen)
{
    *approvers_p = NULL;
    *count_p = 0;
    json_error_t error;
    json_t *root = json_load_file (path, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        snprintf (err, errlen, "%s: line %d: %.120s", path, error.line, error.text);
        return NULL;
    }
    json_t *list = json_is_array (root) ? root : json_object_get (root, "operators");
    if (!json_is_array (list)) {
        snprintf (err, errlen, "%s: not the output of jadctl --json operator list", path);
        json_decref (root);
        return NULL;
    }
    *approvers_p = calloc (json_array_size (list) + 1, sizeof (jad_approver_t));
    if (!*approvers_p) {
        snprintf (err, errlen, "out of memory");
        json_decref (root);
        return NULL;
    }
    size_t index;
    json_t *entry;
    json_array_foreach (list, index, entry)
    {
        json_t *name = json_object_get (entry, "name"), *roles = json_object_get (entry, "roles");
        json_t *key = json_object_get (entry, "signing_key"),
               *state = json_object_get (entry, "state");
        if (!json_is_string (name) || !json_is_string (roles) ||
            (state && !json_is_string (state))) {
            snprintf (err, errlen, "%s: operator %zu needs a name and roles", path, index + 1);
            free (*approvers_p);
            *approvers_p = NULL;
            json_decref (root);
            return NULL;
        }
        if (!json_is_string (key) || (state && !streq (json_string_value (state), "active")))
            continue;
        (*approvers_p)[(*count_p)++] = (jad_approver_t){.name = json_string_value (name),
                                                        .roles = json_string_value (roles),
                                                        .signing_key = json_string_value (key)};
    }
    return root;
}

//  policy sign --key FILE --env E --version N [--from controller.yaml]
//  [--operators FILE] [--out FILE]: E's checks and who may approve them,
//  signed with the policy key
static int s_sign (cli_t *cli, cli_args_t *args)
{
    const char *key_path = cli_args_get (args, "--key"), *env = cli_args_get (args, "--env");
    const char *version_text = cli_args_get (args, "--version");
    const char *from = cli_args_get (args, "--from"), *out_path = cli_args_get (args, "--out");
    const char *operators_path = cli_args_get (args, "--operators");
    if (args->positional_count != 1 || !key_path || !env || !version_text)
        return cli_usage_error (cli, "policy sign: needs --key FILE, --env E and --version N");
    char *end = NULL;
    errno = 0;
    unsigned long long version = strtoull (version_text, &end, 10);
    if (errno || !*version_text || *end || version == 0 || version > INT64_MAX ||
        version_text[0] == '-')
        return cli_error (CLI_USAGE, "policy sign: --version '%s' is not a number from 1 up",
                          version_text);
    char err[512] = "";
    jad_keypair_t *key = jad_keypair_load (key_path, err, sizeof err);
    if (!key)
        return cli_error (CLI_USAGE, "policy sign: %s: %s", key_path, err);
    if (jad_keypair_kind (key) != JAD_KEY_ED25519) {
        jad_keypair_destroy (&key);
        return cli_error (CLI_USAGE, "policy sign: %s is not an Ed25519 key (jadctl policy keygen)",
                          key_path);
    }
    int status = CLI_FAILED;
    char *payload = NULL, *text = NULL;
    jad_approver_t *operators = NULL;
    size_t operator_count = 0;
    jad_policy_t *signed_policy = NULL;
    json_t *operators_json = NULL;
    if (operators_path) {
        operators_json =
            s_operators_load (operators_path, &operators, &operator_count, err, sizeof err);
        if (!operators_json) {
            jad_keypair_destroy (&key);
            return cli_error (CLI_USAGE, "policy sign: --operators %s", err);
        }
    }
    jad_problems_t *problems = jad_problems_new ();
    jad_controller_config_t *config =
        problems ? jad_controller_config_load (from ? from : S_DEFAULT_FROM, problems) : NULL;
    if (!config) {
        for (size_t index = 0; problems && index < jad_problems_count (problems); index++)
            fprintf (stderr, "jadctl: %s\n", jad_problems_get (problems, index));
        status = cli_error (CLI_USAGE, "policy sign: %s is not a valid controller.yaml",
                            from ? from : S_DEFAULT_FROM);
        goto done;
    }
    payload = jad_policy_payload (config, env, version, operators, operator_count, err, sizeof err);
    if (payload)
        signed_policy =
            jad_policy_decode ((const uint8_t *)payload, strlen (payload), err, sizeof err);
    if (!signed_policy) {
        status = cli_error (CLI_USAGE, "policy sign: %s", err);
        goto done;
    }
    text = jad_dsse_sign (JAD_POLICY_PAYLOAD_TYPE, (const uint8_t *)payload, strlen (payload), key);
    if (!text) {
        status = cli_error (CLI_FAILED, "policy sign: out of memory");
        goto done;
    }
    if (out_path) {
        int fd = open (out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t len = strlen (text);
        if (fd < 0 || write (fd, text, len) != (ssize_t)len || write (fd, "\n", 1) != 1) {
            status = cli_error (CLI_FAILED, "policy sign: cannot write %s: %s", out_path,
                                strerror (errno));
            if (fd >= 0)
                close (fd);
            goto done;
        }
        if (close (fd)) {
            status = cli_error (CLI_FAILED, "policy sign: cannot write %s: %s", out_path,
                                strerror (errno));
            goto done;
        }
    }
    const jad_env_config_t *environment = jad_controller_config_env (config, env);
    //  who may approve, for the signer to review once more
    char approvers[1024] = "-";
    size_t used = 0;
    for (size_t index = 0; index < signed_policy->operator_count && used < sizeof approvers;
         index++)
        used += (size_t)snprintf (approvers + used, sizeof approvers - used, "%s%s (%s)",
                                  index ? ", " : "", signed_policy->operators[index].name,
                                  signed_policy->operators[index].roles);
    if (cli->json) {
        json_t *names = json_array ();
        for (size_t index = 0; names && index < signed_policy->operator_count; index++)
            json_array_append_new (names, json_string (signed_policy->operators[index].name));
        json_t *out = json_pack (
            "{s:s, s:I, s:I, s:s, s:s?, s:o}", "env", env, "version", (json_int_t)version, "checks",
            (json_int_t)environment->check_count, "policy_key", jad_keypair_public_txt (key),
            "file", out_path, "operators", names);
        if (out && !out_path)
            json_object_set_new (out, "policy", json_string (text));
        cli_print_json (out);
        json_decref (out);
    } else if (out_path)
        printf ("signed policy version %llu of %s (%zu checks) into %s\napprovers: %s\n", version,
                env, environment->check_count, out_path, approvers);
    else
        printf ("%s\n", text);
    status = CLI_OK;
done:
    free (text);
    free (payload);
    jad_policy_destroy (&signed_policy);
    free (operators);
    json_decref (operators_json);
    jad_controller_config_destroy (&config);
    jad_problems_destroy (&problems);
    jad_keypair_destroy (&key);
    return status;
}

//  policy push FILE: hand a signed policy to the controller
static int s_push (cli_t *cli, cli_args_t *args)
{
    if (args->positional_count != 2)
        return cli_usage_error (cli, "policy push: needs one FILE (from jadctl policy sign)");
    const char *file = args->positional[1];
    zchunk_t *chunk = zchunk_slurp (file, JAD_POLICY_MAX_BYTES + 1);
    if (!chunk)
        return cli_error (CLI_USAGE, "policy push: cannot read %s", file);
    size_t size = zchunk_size (chunk);
    while (size && (zchunk_data (chunk)[size - 1] == '\n' || zchunk_data (chunk)[size - 1] == ' '))
        size--;
    json_t *result = NULL;
    int status = cli_request (cli, "policy.push", NULL, zchunk_data (chunk), size, &result);
    zchunk_destroy (&chunk);
    if (status == CLI_OK && result) {
        if (cli->json)
            cli_print_json (result);
        else
            printf ("policy of %s: version %lld (was %lld)\n", cli_str (result, "env"),
                    (long long)json_integer_value (json_object_get (result, "version")),
                    (long long)json_integer_value (json_object_get (result, "previous")));
    }
    json_decref (result);
    return status;
}

int cli_policy (cli_t *cli)
{
    static const char *const spec[] = {
        "--key=", "--env=", "--version=", "--from=", "--out=", "--operators=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    const char *action = args.positional_count ? args.positional[0] : "";
    bool sign_flags = cli_args_has (&args, "--key") || cli_args_has (&args, "--env") ||
                      cli_args_has (&args, "--version") || cli_args_has (&args, "--from") ||
                      cli_args_has (&args, "--out") || cli_args_has (&args, "--operators");
    if (streq (action, "sign"))
        return s_sign (cli, &args);
    if (sign_flags && (streq (action, "keygen") || streq (action, "push")))
        return cli_error (CLI_USAGE,
                          "policy %s takes no --key, --env, --version, --from, --operators or "
                          "--out",
                          action);
    if (streq (action, "keygen"))
        return s_keygen (cli, &args);
    if (streq (action, "push"))
        return s_push (cli, &args);
    static const char *const actions[] = {"keygen", "sign", "push"};
    if (!*action)
        return cli_usage_error (cli, "policy: needs an action (keygen, sign, push)");
    return cli_unknown (CLI_USAGE, "policy: unknown action", action, actions,
                        sizeof actions / sizeof actions[0]);
}
