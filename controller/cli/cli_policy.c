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

//  policy sign --key FILE --env E --version N [--from controller.yaml]
//  [--out FILE]: E's checks, signed with the policy key
static int s_sign (cli_t *cli, cli_args_t *args)
{
    const char *key_path = cli_args_get (args, "--key"), *env = cli_args_get (args, "--env");
    const char *version_text = cli_args_get (args, "--version");
    const char *from = cli_args_get (args, "--from"), *out_path = cli_args_get (args, "--out");
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
    payload = jad_policy_payload (config, env, version, err, sizeof err);
    if (!payload) {
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
    if (cli->json) {
        json_t *out =
            json_pack ("{s:s, s:I, s:I, s:s, s:s?}", "env", env, "version", (json_int_t)version,
                       "checks", (json_int_t)environment->check_count, "policy_key",
                       jad_keypair_public_txt (key), "file", out_path);
        if (!out_path)
            json_object_set_new (out, "policy", json_string (text));
        cli_print_json (out);
        json_decref (out);
    } else if (out_path)
        printf ("signed policy version %llu of %s (%zu checks) into %s\n", version, env,
                environment->check_count, out_path);
    else
        printf ("%s\n", text);
    status = CLI_OK;
done:
    free (text);
    free (payload);
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
    static const char *const spec[] = {"--key=", "--env=", "--version=", "--from=", "--out=", NULL};
    cli_args_t args;
    if (cli_args_parse (cli, spec, &args))
        return CLI_USAGE;
    const char *action = args.positional_count ? args.positional[0] : "";
    bool sign_flags = cli_args_has (&args, "--key") || cli_args_has (&args, "--env") ||
                      cli_args_has (&args, "--version") || cli_args_has (&args, "--from") ||
                      cli_args_has (&args, "--out");
    if (streq (action, "sign"))
        return s_sign (cli, &args);
    if (sign_flags && (streq (action, "keygen") || streq (action, "push")))
        return cli_error (CLI_USAGE, "policy %s takes no --key, --env, --version, --from or --out",
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
