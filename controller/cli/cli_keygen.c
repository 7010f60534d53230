//  cli_keygen - jadctl keygen FILE: a new operator key
//  SPDX-License-Identifier: MPL-2.0
//
//  Two key files: FILE, the CURVE key jadctl talks to the controller with,
//  and FILE.signing beside it, the Ed25519 key the operator signs
//  approvals with (DESIGN §10). Neither is overwritten.

#include "cli.h"
#include "jad_keys.h"
#include "jad_util.h"

#include <stdlib.h>
#include <unistd.h>

int cli_keygen (cli_t *cli)
{
    cli_args_t args;
    if (cli_args_parse (cli, NULL, &args))
        return CLI_USAGE;
    if (args.positional_count != 1)
        return cli_usage_error (cli, "keygen: needs one FILE");
    const char *path = args.positional[0];
    char *signing_path = jad_strdup_printf ("%s.signing", path);
    if (!signing_path)
        return cli_error (CLI_FAILED, "keygen: out of memory");
    int status = CLI_OK;
    jad_keypair_t *pair = NULL, *signing = NULL;
    char err[512] = "out of memory";
    if (access (path, F_OK) == 0 || access (signing_path, F_OK) == 0) {
        status = cli_error (CLI_USAGE, "keygen: %s exists; not overwriting a key",
                            access (path, F_OK) == 0 ? path : signing_path);
        goto done;
    }
    pair = jad_keypair_new (JAD_KEY_CURVE);
    signing = jad_keypair_new (JAD_KEY_ED25519);
    if (!pair || !signing || jad_keypair_save (pair, path, err, sizeof err) != 0) {
        status = cli_error (CLI_FAILED, "keygen: cannot write %s: %s", path, err);
        goto done;
    }
    if (jad_keypair_save (signing, signing_path, err, sizeof err) != 0) {
        unlink (path);  //  both or neither
        status = cli_error (CLI_FAILED, "keygen: cannot write %s: %s", signing_path, err);
        goto done;
    }
    if (cli->json) {
        json_t *result = json_pack ("{s:s, s:s, s:s, s:s}", "public_key",
                                    jad_keypair_public_txt (pair), "file", path, "signing_key",
                                    jad_keypair_public_txt (signing), "signing_file", signing_path);
        cli_print_json (result);
        json_decref (result);
    } else
        printf ("public-key: %s\nsigning-key: %s\n", jad_keypair_public_txt (pair),
                jad_keypair_public_txt (signing));
done:
    jad_keypair_destroy (&pair);
    jad_keypair_destroy (&signing);
    free (signing_path);
    return status;
}
