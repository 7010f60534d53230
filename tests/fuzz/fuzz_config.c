//  fuzz_config - libFuzzer target: agent.yaml, controller.yaml, client files, jadugar.yaml
//  SPDX-License-Identifier: MPL-2.0
//
//  The first byte picks the parser; the loaders read files, so the input
//  is written to a private temporary file first.

#include "jad_config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char s_path[64];

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!*s_path)
        snprintf (s_path, sizeof s_path, "/tmp/jadugar-fuzz-config-%d.yaml", (int)getpid ());
    jad_problems_t *problems = jad_problems_new ();
    if (data[0] % 4 == 0) {
        jad_manifest_t *manifest =
            jad_manifest_parse ((const char *)data + 1, size - 1, "fuzz:jadugar.yaml", problems);
        jad_manifest_destroy (&manifest);
    } else {
        FILE *file = fopen (s_path, "wb");
        if (!file)
            abort ();
        fwrite (data + 1, 1, size - 1, file);
        fclose (file);
        if (data[0] % 4 == 1) {
            jad_agent_config_t *config = jad_agent_config_load (s_path, problems);
            jad_agent_config_destroy (&config);
        } else if (data[0] % 4 == 2) {
            jad_controller_config_t *config = jad_controller_config_load (s_path, problems);
            if (config)
                jad_controller_config_env (config, "prod");
            jad_controller_config_destroy (&config);
        } else {
            jad_client_config_t *config = jad_client_config_load (s_path, problems);
            jad_client_config_destroy (&config);
        }
        unlink (s_path);
    }
    for (size_t index = 0; index < jad_problems_count (problems); index++)
        jad_problems_get (problems, index);
    jad_problems_destroy (&problems);
    return 0;
}
