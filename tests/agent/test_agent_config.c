//  test_agent_config - agent.yaml: the enrollment token is erased once the
//  controller accepts the agent, every other line kept
//  SPDX-License-Identifier: MPL-2.0

#include "agt_config.h"
#include "jad_keys.h"
#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AGENT_BIN JAD_BIN_DIR "/agent/jadugar-agent"
#define TOKEN     "s3cr3t-enrollment-token"

static char *s_dir;
static char *s_data;

static void setup (void)
{
    s_dir = jt_tempdir ("agt-config");
    s_data = jad_strdup_printf ("%s/data", s_dir);
    jad_keypair_t *curve = jad_keypair_new (JAD_KEY_CURVE);
    jad_keypair_t *signer = jad_keypair_new (JAD_KEY_ED25519);
    char *output = NULL;
    int rc = jt_run (&output,
                     "'%s' init --data '%s' --controller 127.0.0.1:7400 --controller-key '%s'"
                     " --signing-key %s --env dev --name host-1 --root '%s/root' --token " TOKEN,
                     AGENT_BIN, s_data, jad_keypair_public_txt (curve),
                     jad_keypair_public_txt (signer), s_dir);
    cr_assert_eq (rc, 0, "init failed: %s", output);
    free (output);
    jad_keypair_destroy (&curve);
    jad_keypair_destroy (&signer);
}

static void teardown (void)
{
    jt_rmtree (s_dir);
    free (s_dir);
    free (s_data);
}

TestSuite (agent_config, .init = setup, .fini = teardown);

static char *s_yaml (void)
{
    char *path = jad_strdup_printf ("%s/agent.yaml", s_data);
    char *text = jt_read_file (path);
    cr_assert_not_null (text);
    free (path);
    return text;
}

static void s_set_yaml (const char *text)
{
    char *path = jad_strdup_printf ("%s/agent.yaml", s_data);
    jt_write_file (path, text, 0600);
    free (path);
}

static jad_agent_config_t *s_load (void)
{
    jad_problems_t *problems = jad_problems_new ();
    jad_agent_config_t *config = agt_config_load (s_data, problems, NULL);
    cr_assert_not_null (config, "%s", jad_problems_get (problems, 0));
    jad_problems_destroy (&problems);
    return config;
}

//  Lines of `text` other than those containing `skip`, joined.
static char *s_without (const char *text, const char *skip)
{
    char *copy = strdup (text), *out = calloc (1, strlen (text) + 1);
    for (char *line = strtok (copy, "\n"); line; line = strtok (NULL, "\n"))
        if (!strstr (line, skip)) {
            strcat (out, line);
            strcat (out, "\n");
        }
    free (copy);
    return out;
}

Test (agent_config, the_token_line_becomes_a_comment_and_every_other_line_stays)
{
    char *before = s_yaml ();
    cr_assert (strstr (before, "\ntoken: \"" TOKEN "\"\n"), "%s", before);
    char err[512] = "";
    cr_assert_eq (agt_config_erase_token (s_data, err, sizeof err), 1, "%s", err);
    char *after = s_yaml ();
    cr_assert_null (strstr (after, TOKEN), "the token is still in agent.yaml:\n%s", after);
    cr_assert (strstr (after, "\n# token: erased by jadugar-agent once the controller accepted this"
                              " agent\n"),
               "%s", after);
    //  every other line, comments included, as it was
    char *kept_before = s_without (before, "token: ");
    char *kept_after = s_without (after, "token: ");
    cr_assert_str_eq (kept_after, kept_before);
    struct stat info;
    char *path = jad_strdup_printf ("%s/agent.yaml", s_data);
    cr_assert_eq (stat (path, &info), 0);
    cr_assert_eq (info.st_mode & 07777, 0600, "the mode is kept");
    jad_agent_config_t *config = s_load ();
    cr_assert (!config->token || !*config->token);
    cr_assert_str_eq (config->name, "host-1");
    jad_agent_config_destroy (&config);
    //  nothing left to erase: the file stays as it is
    cr_assert_eq (agt_config_erase_token (s_data, err, sizeof err), 0, "%s", err);
    char *again = s_yaml ();
    cr_assert_str_eq (again, after);
    free (again);
    free (path);
    free (kept_before);
    free (kept_after);
    free (before);
    free (after);
}

Test (agent_config, quoted_commented_and_continued_tokens_go_too)
{
    char *text = s_yaml ();
    char *rest = s_without (text, "token: ");
    const char *forms[] = {
        "token: '" TOKEN "'   # from the install script\n",
        "token:   " TOKEN "\n",
        "token: " TOKEN "\n  continued-part\n",
        "token: >-\n  " TOKEN "\n",
    };
    for (size_t index = 0; index < sizeof forms / sizeof forms[0]; index++) {
        char *yaml = jad_strdup_printf ("%s%s# after\n", rest, forms[index]);
        s_set_yaml (yaml);
        char err[512] = "";
        cr_assert_eq (agt_config_erase_token (s_data, err, sizeof err), 1, "form %zu: %s", index,
                      err);
        char *after = s_yaml ();
        cr_assert_null (strstr (after, TOKEN), "form %zu left the token:\n%s", index, after);
        cr_assert_null (strstr (after, "continued-part"), "form %zu:\n%s", index, after);
        cr_assert (strstr (after, "\n# after\n"), "form %zu:\n%s", index, after);
        free (after);
        free (yaml);
    }
    free (rest);
    free (text);
}

Test (agent_config, a_token_it_cannot_take_out_alone_leaves_the_file_unchanged)
{
    //  a flow mapping: no `token:` line to turn into a comment
    char *text = s_yaml ();
    jad_agent_config_t *config = s_load ();
    char *flow = jad_strdup_printf (
        "{name: host-1, environment: dev, controller: \"%s\", controller-key: \"%s\","
        " signing-key: \"%s\", root: \"%s\", token: " TOKEN "}\n",
        config->controller, config->controller_key, config->signing_key, config->root);
    jad_agent_config_destroy (&config);
    s_set_yaml (flow);
    config = s_load ();
    cr_assert_str_eq (config->token, TOKEN, "the flow form loads");
    jad_agent_config_destroy (&config);
    char err[512] = "";
    cr_assert_eq (agt_config_erase_token (s_data, err, sizeof err), -1);
    cr_assert (strstr (err, "remove its `token:` line by hand"), "%s", err);
    char *after = s_yaml ();
    cr_assert_str_eq (after, flow, "unchanged");
    free (after);
    free (flow);
    free (text);
}

Test (agent_config, a_symlinked_agent_yaml_is_rewritten_where_it_points)
{
    char *text = s_yaml ();
    char *elsewhere = jad_strdup_printf ("%s/etc-agent.yaml", s_dir);
    jt_write_file (elsewhere, text, 0640);
    char *path = jad_strdup_printf ("%s/agent.yaml", s_data);
    cr_assert_eq (unlink (path), 0);
    cr_assert_eq (symlink (elsewhere, path), 0);
    char err[512] = "";
    cr_assert_eq (agt_config_erase_token (s_data, err, sizeof err), 1, "%s", err);
    struct stat info;
    cr_assert_eq (lstat (path, &info), 0);
    cr_assert (S_ISLNK (info.st_mode), "the link stays a link");
    cr_assert_eq (stat (elsewhere, &info), 0);
    cr_assert_eq (info.st_mode & 07777, 0640);
    char *after = jt_read_file (elsewhere);
    cr_assert_null (strstr (after, TOKEN));
    free (after);
    free (path);
    free (elsewhere);
    free (text);
}

//  --------------------------------------------------------------------------
//  A real controller accepts the agent by its token

static jt_fleet_t *s_fleet;

static void s_fleet_setup (void)
{
    s_fleet = jt_fleet_new ();
}

static void s_fleet_teardown (void)
{
    jt_fleet_destroy (&s_fleet);
}

TestSuite (agent_token, .init = s_fleet_setup, .fini = s_fleet_teardown, .timeout = 90);

static bool s_token_gone (void *arg)
{
    char *text = jt_read_file ((const char *)arg);
    bool gone = text && !strstr (text, s_fleet->enroll_token) && strstr (text, "# token: erased");
    free (text);
    return gone;
}

Test (agent_token, an_accepted_agent_erases_its_token_and_reconnects_by_its_key)
{
    jt_fleet_add_agent (s_fleet, "host-1", "dev");
    char *path = jad_strdup_printf ("%s/host-1/agent/agent.yaml", s_fleet->dir);
    char *before = jt_read_file (path);
    cr_assert (before && strstr (before, s_fleet->enroll_token), "init wrote the token");
    free (before);
    cr_assert (jt_fleet_wait_status (s_fleet, "\"state\": \"online\"", 1, 30000));
    cr_assert (jt_wait_for (s_token_gone, path, 10000), "the token is still in %s", path);
    //  the agent says so after it rewrote the file
    char *log_path = jad_strdup_printf ("%s/host-1.log", s_fleet->dir);
    cr_assert (jt_wait_file_has (log_path, "enrollment token erased from agent.yaml", 10000));
    char *log = jt_read_file (log_path);
    cr_assert_not_null (log);
    cr_assert_null (strstr (log, s_fleet->enroll_token), "the log shows the token");
    free (log);
    //  the configuration still checks, and a restart reconnects by key
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "'%s' check --data '%s/host-1/agent'", AGENT_BIN, s_fleet->dir),
                  0, "%s", output);
    free (output);
    cr_assert_eq (jt_stop (s_fleet->agents[0]), 0);
    cr_assert (jt_fleet_wait_status (s_fleet, "\"state\": \"offline\"", 1, 30000));
    jt_fleet_start_agent (s_fleet, 0);
    cr_assert (jt_fleet_wait_status (s_fleet, "\"state\": \"online\"", 1, 30000),
               "the agent did not come back without its token");
    log = jt_read_file (log_path);
    cr_assert_eq (jt_count (log, "enrolled name=host-1 state=accepted"), 2, "%s", log);
    free (log);
    free (log_path);
    free (path);
}

typedef struct {
    const char *path;
    const char *needle;
} s_log_wait_t;

static bool s_log_has (void *arg)
{
    s_log_wait_t *wait = (s_log_wait_t *)arg;
    char *text = jt_read_file (wait->path);
    bool found = text && strstr (text, wait->needle);
    free (text);
    return found;
}

Test (agent_token, a_removed_agent_says_the_controller_refuses_its_key)
{
    jt_fleet_add_agent (s_fleet, "host-1", "dev");
    cr_assert (jt_fleet_wait_status (s_fleet, "\"state\": \"online\"", 1, 30000));
    char *output = NULL;
    cr_assert_eq (jt_jadctl (s_fleet, &output, "agents remove host-1"), 0, "%s", output);
    free (output);
    char *log_path = jad_strdup_printf ("%s/host-1.log", s_fleet->dir);
    s_log_wait_t wait = {log_path, "E: "};
    cr_assert (jt_wait_for (s_log_has, &wait, 20000), "the removed agent said nothing");
    char *log = jt_read_file (log_path);
    cr_assert (strstr (log, "agent: the controller refuses this agent's key (an operator removed or"
                            " rejected host-1)"),
               "%s", log);
    free (log);
    free (log_path);
}
