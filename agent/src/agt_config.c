//  agt_config - load and validate DATA/agent.yaml and the agent's key
//  SPDX-License-Identifier: MPL-2.0

#include "agt_config.h"
#include "agt_link.h"

#include <limits.h>
#include <stdio.h>

const char *agt_config_path (const char *data_dir, char *buf, size_t len)
{
    snprintf (buf, len, "%s/agent.yaml", data_dir);
    return buf;
}

jad_agent_config_t *agt_config_load (const char *data_dir, jad_problems_t *problems,
                                     jad_keypair_t **key_p)
{
    char path[PATH_MAX];
    agt_config_path (data_dir, path, sizeof path);
    size_t before = jad_problems_count (problems);
    jad_agent_config_t *config = jad_agent_config_load_on_host (path, problems);
    if (!config) {
        if (jad_problems_count (problems) == before)
            jad_problems_add (problems, "%s: cannot be loaded", path);
        return NULL;
    }
    char host[256];
    int base = 0;
    uint8_t raw[32];
    if (!config->controller ||
        agt_link_parse_endpoint (config->controller, host, sizeof host, &base))
        jad_problems_add (problems, "%s: controller: expected HOST:PORT, got \"%s\"", path,
                          config->controller ? config->controller : "");
    if (!config->controller_key || jad_key_from_z85 (config->controller_key, raw))
        jad_problems_add (problems, "%s: controller-key: not a 40-character Z85 CURVE key", path);
    if (!config->signing_key || jad_key_from_hex (config->signing_key, raw))
        jad_problems_add (problems, "%s: signing-key: not a 64-hex-digit Ed25519 key", path);

    if (key_p) {
        char key_path[PATH_MAX];
        const char *key_file = config->key_file ? config->key_file : "keys/agent.key";
        if (key_file[0] == '/')
            snprintf (key_path, sizeof key_path, "%s", key_file);
        else
            snprintf (key_path, sizeof key_path, "%s/%s", data_dir, key_file);
        char err[512] = "";
        *key_p = jad_keypair_load (key_path, err, sizeof err);
        if (!*key_p)
            jad_problems_add (problems, "%s", err[0] ? err : key_path);
        else if (jad_keypair_kind (*key_p) != JAD_KEY_CURVE) {
            jad_problems_add (problems, "%s: not a CURVE key (kind: curve expected)", key_path);
            jad_keypair_destroy (key_p);
        }
    }
    if (jad_problems_count (problems) > before) {
        jad_agent_config_destroy (&config);
        if (key_p)
            jad_keypair_destroy (key_p);
    }
    return config;
}
