//  cli_keygen - jadctl keygen FILE: a new operator key
//  SPDX-License-Identifier: MPL-2.0

#include "cli.h"
#include "jad_keys.h"

#include <unistd.h>

int cli_keygen (cli_t *cli)
{
    cli_args_t args;
    if (cli_args_parse (cli, NULL, &args))
        return CLI_USAGE;
    if (args.positional_count != 1)
        return cli_usage_error (cli, "keygen: needs one FILE");
    const char *path = args.positional[0];
    if (access (path, F_OK) == 0)
        return cli_error (CLI_USAGE, "keygen: %s exists; not overwriting a key", path);
    jad_keypair_t *pair = jad_keypair_new (JAD_KEY_CURVE);
    char err[512] = "out of memory";
    if (!pair || jad_keypair_save (pair, path, err, sizeof err) != 0) {
        jad_keypair_destroy (&pair);
        return cli_error (CLI_FAILED, "keygen: cannot write %s: %s", path, err);
    }
    if (cli->json) {
        json_t *result =
            json_pack ("{s:s, s:s}", "public_key", jad_keypair_public_txt (pair), "file", path);
        cli_print_json (result);
        json_decref (result);
    } else
        printf ("public-key: %s\n", jad_keypair_public_txt (pair));
    jad_keypair_destroy (&pair);
    return CLI_OK;
}
