//  agt_init - jadugar-agent init: a new data directory
//  SPDX-License-Identifier: MPL-2.0

#include "agt_init.h"
#include "agt_config.h"
#include "agt_link.h"
#include "agt_store.h"
#include "jad_keys.h"
#include "jad_log.h"
#include "jad_util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *data;
    const char *controller;
    const char *controller_key;
    const char *signing_key;
    const char *env;
    const char *name;
    const char *token;
    const char *root;
    const char *hook_user;
    const char *policy_key;
} s_options_t;

//  The key's fingerprint, as the controller shows it (jadctl agents):
//  its key id (first 8 bytes of SHA-256 of the public key) in hex, into
//  out (17 bytes). Returns out.
static const char *s_fingerprint (const jad_keypair_t *key, char *out)
{
    uint8_t id[8];
    jad_key_id (jad_keypair_public (key), id);
    return jad_hex (id, sizeof id, out);
}

static int s_usage (const char *problem, const char *value)
{
    if (problem)
        fprintf (stderr, "jadugar-agent init: %s%s%s\n", problem, value ? ": " : "",
                 value ? value : "");
    fprintf (stderr, "usage: %s\n", AGT_INIT_USAGE);
    return 2;
}

//  A value we write into YAML must be one printable line.
static bool s_printable (const char *text, size_t max)
{
    size_t size = strlen (text);
    if (size == 0 || size > max)
        return false;
    for (size_t index = 0; index < size; index++)
        if ((unsigned char)text[index] < 0x21 || (unsigned char)text[index] > 0x7e)
            return false;
    return true;
}

static int s_check (s_options_t *options, char *hostname, size_t hostlen)
{
    if (!options->data || !*options->data)
        return s_usage ("--data is required", NULL);
    if (!s_printable (options->data, PATH_MAX - 64))
        return s_usage ("--data is not a usable path", options->data);
    if (!options->controller)
        return s_usage ("--controller is required", NULL);
    if (agt_link_parse_endpoints (options->controller) < 0 ||
        !s_printable (options->controller, JAD_ENDPOINTS_MAX * 300))
        return s_usage ("--controller must be HOST:PORT or a list H1:P1,H2:P2",
                        options->controller);
    uint8_t raw[32];
    if (!options->controller_key)
        return s_usage ("--controller-key is required", NULL);
    if (strlen (options->controller_key) != 40 || jad_key_from_z85 (options->controller_key, raw))
        return s_usage ("--controller-key is not a 40-character Z85 CURVE public key", NULL);
    if (!options->signing_key)
        return s_usage ("--signing-key is required", NULL);
    if (strlen (options->signing_key) != 64 || jad_key_from_hex (options->signing_key, raw))
        return s_usage ("--signing-key is not a 64-hex-digit Ed25519 public key", NULL);
    if (!options->env)
        return s_usage ("--env is required", NULL);
    if (!jad_name_valid (options->env))
        return s_usage ("--env is not a valid name ([A-Za-z0-9._-], 1-64)", options->env);
    if (!options->name) {
        if (gethostname (hostname, hostlen - 1)) {
            fprintf (stderr, "jadugar-agent init: cannot read the hostname: %s\n",
                     strerror (errno));
            return 1;
        }
        hostname[hostlen - 1] = 0;
        if (!jad_name_valid (hostname))
            return s_usage ("the hostname is not a valid agent name; pass --name", hostname);
        options->name = hostname;
    } else if (!jad_name_valid (options->name))
        return s_usage ("--name is not a valid name ([A-Za-z0-9._-], 1-64)", options->name);
    if (options->token && !s_printable (options->token, 256))
        return s_usage ("--token must be 1-256 printable characters without spaces", NULL);
    if (!options->root)
        options->root = "/srv/jadugar";
    if (options->root[0] != '/' || !s_printable (options->root, PATH_MAX - 128))
        return s_usage ("--root must be an absolute path", options->root);
    //  the rule agent.yaml's hook-user is checked by (jad_config)
    if (options->hook_user &&
        (!jad_name_valid (options->hook_user) || !jad_user_exists (options->hook_user)))
        return s_usage ("--hook-user is not a user on this host", options->hook_user);
    if (options->policy_key &&
        (strlen (options->policy_key) != 64 || jad_key_from_hex (options->policy_key, raw)))
        return s_usage ("--policy-key is not a 64-hex-digit Ed25519 public key", NULL);
    return 0;
}

//  Double-quoted YAML scalar of a printable value.
static void s_quote (zchunk_t *out, const char *value)
{
    zchunk_extend (out, "\"", 1);
    for (const char *cursor = value; *cursor; cursor++) {
        if (*cursor == '"' || *cursor == '\\')
            zchunk_extend (out, "\\", 1);
        zchunk_extend (out, cursor, 1);
    }
    zchunk_extend (out, "\"", 1);
}

static void s_line (zchunk_t *out, const char *text)
{
    zchunk_extend (out, text, strlen (text));
}

static void s_entry (zchunk_t *out, const char *comment, const char *key, const char *value,
                     bool commented)
{
    s_line (out, "\n# ");
    s_line (out, comment);
    s_line (out, "\n");
    if (commented)
        s_line (out, "# ");
    s_line (out, key);
    s_line (out, ": ");
    s_quote (out, value);
    s_line (out, "\n");
}

static zchunk_t *s_yaml (const s_options_t *options)
{
    zchunk_t *out = zchunk_new (NULL, 0);
    if (!out)
        return NULL;
    s_line (out, "# agent.yaml - configuration of jadugar-agent (written by `jadugar-agent init`)\n"
                 "# Check it with: jadugar-agent check --data DIR\n");
    s_entry (out, "Agent name: unique in the fleet, [A-Za-z0-9._-], 1-64 characters.", "name",
             options->name, false);
    s_entry (out, "Environment this agent belongs to; it accepts plans for it only.", "environment",
             options->env, false);
    s_entry (out, "Controller HOST:BASE; plans come from BASE, the rest goes to BASE+1.",
             "controller", options->controller, false);
    s_entry (out, "Controller CURVE public key (Z85, 40 characters): who we talk to.",
             "controller-key", options->controller_key, false);
    s_entry (out,
             "Controller Ed25519 plan signing key (64 hex digits): the only key a plan may be\n"
             "# signed with.",
             "signing-key", options->signing_key, false);
    s_entry (out,
             "Offline Ed25519 policy key (64 hex digits): when set, a release lands here only\n"
             "# if its attestations satisfy the checks of the policy signed by this key\n"
             "# (jadctl policy sign; docs/checks.md). Versions of the policy only go up.",
             "policy-key", options->policy_key ? options->policy_key : "", !options->policy_key);
    s_entry (out, "Enrollment token: the controller accepts this agent at once if it matches.",
             "token", options->token ? options->token : "", !options->token);
    s_entry (out, "Release root: ROOT/APP/releases/VERSION, ROOT/APP/current, ROOT/APP/shared.",
             "root", options->root, false);
    s_entry (out, "This agent's CURVE key file, relative to this file's folder.", "key-file",
             "keys/agent.key", false);
    s_line (out, "\n# Releases kept per app (the current and previous ones always are).\n"
                 "keep-releases: 5\n"
                 "\n# Status heartbeat to the controller (500ms, 5s, 1m ...).\n"
                 "heartbeat: 5s\n"
                 "\n# Stale alarm: no signed heartbeat or plan from the controller for this\n"
                 "# long (plans may be held back). Logged, and shown in jadctl status.\n"
                 "stale-after: 30s\n"
                 "\n# Timeout of hooks that have none of their own.\n"
                 "hook-timeout: 30s\n"
                 "\n# Run hooks as this user instead of the agent's own (root: recommended).\n");
    if (options->hook_user) {
        s_line (out, "hook-user: ");
        s_quote (out, options->hook_user);
        s_line (out, "\n");
    } else
        s_line (out, "# hook-user: deploy\n");
    s_line (out, "\n# Host metrics (CPU, memory, load, disk, processes) are sampled this often;\n"
                 "# app metrics follow each release's jadugar.yaml.\n"
                 "metrics-interval: 10s\n"
                 "\n# Samples kept while the controller is unreachable (oldest dropped first).\n"
                 "metrics-buffer: 100000\n");
    return out;
}

int agt_init_main (int argc, char **argv)
{
    static const struct option long_options[] = {
        {"data", required_argument, NULL, 'd'},
        {"controller", required_argument, NULL, 'c'},
        {"controller-key", required_argument, NULL, 'k'},
        {"signing-key", required_argument, NULL, 's'},
        {"env", required_argument, NULL, 'e'},
        {"name", required_argument, NULL, 'n'},
        {"token", required_argument, NULL, 't'},
        {"root", required_argument, NULL, 'r'},
        {"hook-user", required_argument, NULL, 'u'},
        {"policy-key", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    s_options_t options;
    memset (&options, 0, sizeof options);
    opterr = 0;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "+", long_options, NULL)) != -1) {
        switch (option) {
            case 'd':
                options.data = optarg;
                break;
            case 'c':
                options.controller = optarg;
                break;
            case 'k':
                options.controller_key = optarg;
                break;
            case 's':
                options.signing_key = optarg;
                break;
            case 'e':
                options.env = optarg;
                break;
            case 'n':
                options.name = optarg;
                break;
            case 't':
                options.token = optarg;
                break;
            case 'r':
                options.root = optarg;
                break;
            case 'u':
                options.hook_user = optarg;
                break;
            case 'p':
                options.policy_key = optarg;
                break;
            default:
                return s_usage ("unknown option or missing value",
                                optind > 0 && optind <= argc ? argv[optind - 1] : NULL);
        }
    }
    if (optind < argc)
        return s_usage ("unexpected argument", argv[optind]);
    //  Hooks never run as root by default where the package made its
    //  unprivileged user.
    if (!options.hook_user && geteuid () == 0 && jad_user_exists (AGT_INIT_HOOK_USER))
        options.hook_user = AGT_INIT_HOOK_USER;
    char hostname[256];
    int rc = s_check (&options, hostname, sizeof hostname);
    if (rc)
        return rc;

    char config_path[PATH_MAX], keys_dir[PATH_MAX], key_path[PATH_MAX], db_path[PATH_MAX];
    //  --data is shorter than PATH_MAX - 64 (s_check), so these fit
    if (snprintf (config_path, sizeof config_path, "%s/agent.yaml", options.data) < 0 ||
        snprintf (keys_dir, sizeof keys_dir, "%s/keys", options.data) < 0 ||
        snprintf (key_path, sizeof key_path, "%s/keys/agent.key", options.data) < 0 ||
        snprintf (db_path, sizeof db_path, "%s/state.db", options.data) < 0)
        return 1;
    if (access (config_path, F_OK) == 0) {
        fprintf (stderr, "jadugar-agent init: %s: already initialised; remove %s to start over\n",
                 config_path, options.data);
        return 2;
    }
    if (errno != ENOENT) {
        fprintf (stderr, "jadugar-agent init: cannot check %s: %s\n", config_path,
                 strerror (errno));
        return 1;
    }
    if (jad_mkdirs (options.data, 0700) || chmod (options.data, 0700) ||
        jad_mkdirs (keys_dir, 0700) || chmod (keys_dir, 0700)) {
        fprintf (stderr, "jadugar-agent init: cannot create %s: %s\n", keys_dir, strerror (errno));
        return 1;
    }
    jad_keypair_t *key = jad_keypair_new (JAD_KEY_CURVE);
    char err[512] = "";
    if (!key || jad_keypair_save (key, key_path, err, sizeof err)) {
        fprintf (stderr, "jadugar-agent init: cannot write %s: %s\n", key_path,
                 err[0] ? err : "out of memory");
        jad_keypair_destroy (&key);
        return 1;
    }
    agt_store_t *store = agt_store_new (db_path, true);
    if (!store) {
        fprintf (stderr, "jadugar-agent init: cannot create %s\n", db_path);
        jad_keypair_destroy (&key);
        return 1;
    }
    agt_store_destroy (&store);
    zchunk_t *yaml = s_yaml (&options);
    if (!yaml ||
        jad_file_write_atomic (config_path, zchunk_data (yaml), zchunk_size (yaml), 0600)) {
        fprintf (stderr, "jadugar-agent init: cannot write %s: %s\n", config_path,
                 strerror (errno));
        zchunk_destroy (&yaml);
        jad_keypair_destroy (&key);
        return 1;
    }
    zchunk_destroy (&yaml);
    char fingerprint[17];
    printf ("name: %s\n", options.name);
    printf ("public-key: %s\n", jad_keypair_public_txt (key));
    printf ("fingerprint: %s\n", s_fingerprint (key, fingerprint));
    printf ("config: %s\n", config_path);
    printf ("hook-user: %s\n", options.hook_user ? options.hook_user : "-");
    jad_keypair_destroy (&key);
    return 0;
}

int agt_fingerprint_main (int argc, char **argv)
{
    const char *data = NULL;
    if (argc == 3 && streq (argv[1], "--data"))
        data = argv[2];
    else if (argc == 2 && strncmp (argv[1], "--data=", 7) == 0)
        data = argv[1] + 7;
    if (!data || !*data) {
        fprintf (stderr, "usage: %s\n", AGT_FINGERPRINT_USAGE);
        return 2;
    }
    jad_problems_t *problems = jad_problems_new ();
    jad_keypair_t *key = NULL;
    jad_agent_config_t *config = problems ? agt_config_load (data, problems, &key) : NULL;
    int status = 1;
    if (config && key) {
        char fingerprint[17];
        printf ("name: %s\n", config->name ? config->name : "-");
        printf ("public-key: %s\n", jad_keypair_public_txt (key));
        printf ("fingerprint: %s\n", s_fingerprint (key, fingerprint));
        status = 0;
    } else
        for (size_t index = 0; problems && index < jad_problems_count (problems); index++)
            fprintf (stderr, "jadugar-agent fingerprint: %s\n", jad_problems_get (problems, index));
    jad_agent_config_destroy (&config);
    jad_keypair_destroy (&key);
    jad_problems_destroy (&problems);
    return status;
}
