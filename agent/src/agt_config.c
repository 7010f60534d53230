//  agt_config - load and validate DATA/agent.yaml and the agent's key
//  SPDX-License-Identifier: MPL-2.0

#include "agt_config.h"
#include "agt_link.h"

#include "jad_log.h"
#include "jad_util.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_CONFIG_MAX (1024 * 1024)

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
    uint8_t raw[32];
    if (agt_link_parse_endpoints (config->controller) < 0)
        jad_problems_add (problems,
                          "%s: controller: expected HOST:PORT or a list of them, got \"%s\"", path,
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

static bool s_same_text (const char *one, const char *two)
{
    return (!one && !two) || (one && two && strcmp (one, two) == 0);
}

//  Everything but the token is the same.
static bool s_same_settings (const jad_agent_config_t *one, const jad_agent_config_t *two)
{
    return s_same_text (one->name, two->name) && s_same_text (one->environment, two->environment) &&
           s_same_text (one->controller, two->controller) &&
           s_same_text (one->controller_key, two->controller_key) &&
           s_same_text (one->signing_key, two->signing_key) && s_same_text (one->root, two->root) &&
           s_same_text (one->key_file, two->key_file) &&
           s_same_text (one->hook_user, two->hook_user) &&
           one->keep_releases == two->keep_releases && one->heartbeat_ms == two->heartbeat_ms &&
           one->hook_timeout_ms == two->hook_timeout_ms &&
           one->metrics_interval_ms == two->metrics_interval_ms &&
           one->metrics_buffer == two->metrics_buffer && one->stale_after_ms == two->stale_after_ms;
}

//  A top-level `token:` line: the key at column 0.
static bool s_token_line (const char *line, size_t length)
{
    if (length < 6 || strncmp (line, "token", 5) != 0)
        return false;
    size_t at = 5;
    while (at < length && (line[at] == ' ' || line[at] == '\t'))
        at++;
    return at < length && line[at] == ':';
}

//  Load YAML text as agent.yaml would be (through a file next to it).
static jad_agent_config_t *s_load_text (const char *path, const char *text, size_t size)
{
    char check[PATH_MAX];
    if (snprintf (check, sizeof check, "%s.check.%d", path, (int)getpid ()) >= (int)sizeof check)
        return NULL;
    if (jad_file_write_atomic (check, text, size, 0600))
        return NULL;
    jad_problems_t *problems = jad_problems_new ();
    jad_agent_config_t *config = problems ? jad_agent_config_load (check, problems) : NULL;
    jad_problems_destroy (&problems);
    unlink (check);
    return config;
}

int agt_config_erase_token (const char *data_dir, char *err, size_t len)
{
    char link[PATH_MAX], path[PATH_MAX];
    agt_config_path (data_dir, link, sizeof link);
    if (!realpath (link, path)) {
        snprintf (err, len, "%s: %s", link, strerror (errno));
        return -1;
    }
    size_t size = 0;
    char *text = jad_file_read (path, S_CONFIG_MAX, &size);
    struct stat info;
    if (!text || stat (path, &info) != 0) {
        snprintf (err, len, "%s: %s", path, strerror (errno));
        free (text);
        return -1;
    }
    char *erased = malloc (size + 128);
    jad_agent_config_t *before = NULL, *after = NULL;
    int rc = -1;
    if (!erased) {
        snprintf (err, len, "out of memory");
        goto done;
    }
    //  Copy line by line; the token line becomes a comment and the
    //  indented lines after it (a value going on) go with it.
    size_t used = 0;
    bool found = false, skipping = false;
    for (size_t at = 0; at < size;) {
        const char *line = text + at;
        size_t length = strcspn (line, "\n");
        size_t next = at + length + (at + length < size ? 1 : 0);
        bool indented = length > 0 && (line[0] == ' ' || line[0] == '\t');
        bool comment = line[strspn (line, " \t")] == '#';
        if (skipping && indented && !comment) {
            at = next;
            continue;
        }
        skipping = false;
        if (s_token_line (line, length) && !found) {
            static const char note[] =
                "# token: erased by jadugar-agent once the controller accepted this agent\n";
            memcpy (erased + used, note, sizeof note - 1);
            used += sizeof note - 1;
            found = skipping = true;
        } else if (s_token_line (line, length))
            skipping = true;  //  a second one: the loader refuses it anyway
        else {
            memcpy (erased + used, line, next - at);
            used += next - at;
        }
        at = next;
    }
    before = s_load_text (path, text, size);
    if (!before) {
        snprintf (err, len, "%s does not load as it is", path);
        goto done;
    }
    if (!before->token || !*before->token) {
        rc = 0;  //  nothing to erase
        goto done;
    }
    after = found ? s_load_text (path, erased, used) : NULL;
    if (!after || (after->token && *after->token) || !s_same_settings (before, after)) {
        snprintf (err, len,
                  "%s: cannot take the token out and keep every other setting; remove its"
                  " `token:` line by hand",
                  path);
        goto done;
    }
    if (jad_file_write_atomic (path, erased, used, (int)(info.st_mode & 07777))) {
        snprintf (err, len, "cannot write %s: %s", path, strerror (errno));
        goto done;
    }
    if ((info.st_uid != geteuid () || info.st_gid != getegid ()) &&
        chown (path, info.st_uid, info.st_gid) != 0)
        jad_log_warning ("agent: %s: token erased, but the file now belongs to uid %u, not %u: %s",
                         path, (unsigned)geteuid (), (unsigned)info.st_uid, strerror (errno));
    rc = 1;

done:
    if (before && before->token)
        sodium_memzero (before->token, strlen (before->token));
    if (text)
        sodium_memzero (text, size);
    jad_agent_config_destroy (&before);
    jad_agent_config_destroy (&after);
    free (text);
    free (erased);
    return rc;
}
