//  test_config - agent.yaml, controller.yaml, client file and manifest
//  loading: values, defaults, and every problem with file and line
//  SPDX-License-Identifier: MPL-2.0

#include "jad_config.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CURVE_KEY "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define SIGN_KEY  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static char *s_dir;
static jad_problems_t *s_problems;

static void s_setup (void)
{
    s_dir = jt_tempdir ("jad-config");
    s_problems = jad_problems_new ();
    cr_assert_not_null (s_problems);
}

static void s_teardown (void)
{
    jad_problems_destroy (&s_problems);
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (config, .init = s_setup, .fini = s_teardown);

//  Write text to DIR/name; returns the path (caller frees).
static char *s_write (const char *name, const char *text)
{
    char *path = NULL;
    cr_assert (asprintf (&path, "%s/%s", s_dir, name) > 0);
    jt_write_file (path, text, 0644);
    return path;
}

//  All problems, one a line, for assertion messages (static buffer).
static const char *s_all (void)
{
    static char buffer[8192];
    buffer[0] = 0;
    for (size_t index = 0; index < jad_problems_count (s_problems); index++) {
        strncat (buffer, jad_problems_get (s_problems, index),
                 sizeof (buffer) - strlen (buffer) - 2);
        strncat (buffer, "\n", sizeof (buffer) - strlen (buffer) - 1);
    }
    return buffer;
}

//  Assert a problem starts exactly with "ORIGIN:LINE: " and contains fragment.
static void s_assert_problem (const char *origin, int line, const char *fragment)
{
    char prefix[1024];
    snprintf (prefix, sizeof (prefix), "%s:%d: ", origin, line);
    for (size_t index = 0; index < jad_problems_count (s_problems); index++) {
        const char *problem = jad_problems_get (s_problems, index);
        if (strncmp (problem, prefix, strlen (prefix)) == 0 && strstr (problem, fragment))
            return;
    }
    cr_assert_fail ("no problem \"%s...%s\" in:\n%s", prefix, fragment, s_all ());
}

static const char *s_agent_minimal = "environment: prod\n"
                                     "controller: ctl.example.com:7400\n"
                                     "controller-key: \"" CURVE_KEY "\"\n"
                                     "signing-key: " SIGN_KEY "\n";

// --------------------------------------------------------------------------
//  Problems list

Test (config, problems_list_keeps_lines_in_order)
{
    cr_assert_eq (jad_problems_count (s_problems), 0);
    cr_assert_null (jad_problems_get (s_problems, 0));
    jad_problems_add (s_problems, "a.yaml:%d: first", 1);
    jad_problems_add (s_problems, "a.yaml:%d: second", 2);
    cr_assert_eq (jad_problems_count (s_problems), 2);
    cr_assert_str_eq (jad_problems_get (s_problems, 0), "a.yaml:1: first");
    cr_assert_str_eq (jad_problems_get (s_problems, 1), "a.yaml:2: second");
    cr_assert_null (jad_problems_get (s_problems, 2));
    jad_problems_destroy (&s_problems);
    jad_problems_destroy (&s_problems);
    cr_assert_null (s_problems);
}

// --------------------------------------------------------------------------
//  agent.yaml

Test (config, agent_minimal_file_gets_defaults)
{
    char *path = s_write ("agent.yaml", s_agent_minimal);
    jad_agent_config_t *config = jad_agent_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_eq (jad_problems_count (s_problems), 0);
    cr_assert_str_eq (config->environment, "prod");
    cr_assert_str_eq (config->controller, "ctl.example.com:7400");
    cr_assert_str_eq (config->controller_key, CURVE_KEY);
    cr_assert_str_eq (config->signing_key, SIGN_KEY);
    cr_assert_null (config->token);
    cr_assert_str_eq (config->root, "/srv/jadugar");
    cr_assert_str_eq (config->key_file, "keys/agent.key");
    cr_assert_eq (config->keep_releases, 5);
    cr_assert_eq (config->heartbeat_ms, 5000);
    cr_assert_eq (config->hook_timeout_ms, 30000);
    cr_assert_null (config->hook_user);

    //  name defaults to the host name
    char host[256] = "";
    cr_assert_eq (gethostname (host, sizeof (host) - 1), 0);
    cr_assert_str_eq (config->name, host);
    jad_agent_config_destroy (&config);
    jad_agent_config_destroy (&config);
    cr_assert_null (config);
    free (path);
}

Test (config, agent_full_file_loads_every_key)
{
    char *path = s_write ("agent.yaml", "# an agent\n"
                                        "name: web-1\n"
                                        "environment: staging\n"
                                        "controller: \"[::1]:7500\"\n"
                                        "controller-key: \"" CURVE_KEY "\"\n"
                                        "signing-key: " SIGN_KEY "\n"
                                        "token: s3cret-token\n"
                                        "root: /var/lib/apps\n"
                                        "key-file: /etc/jadugar/agent.key\n"
                                        "keep-releases: 3\n"
                                        "heartbeat: 500ms\n"
                                        "hook-timeout: 2m\n"
                                        "hook-user: deploy\n");
    jad_agent_config_t *config = jad_agent_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (config->name, "web-1");
    cr_assert_str_eq (config->environment, "staging");
    cr_assert_str_eq (config->controller, "[::1]:7500");
    cr_assert_str_eq (config->token, "s3cret-token");
    cr_assert_str_eq (config->root, "/var/lib/apps");
    cr_assert_str_eq (config->key_file, "/etc/jadugar/agent.key");
    cr_assert_eq (config->keep_releases, 3);
    cr_assert_eq (config->heartbeat_ms, 500);
    cr_assert_eq (config->hook_timeout_ms, 120000);
    cr_assert_str_eq (config->hook_user, "deploy");
    jad_agent_config_destroy (&config);
    free (path);
}

Test (config, agent_optional_key_without_value_keeps_default)
{
    char *text = NULL;
    cr_assert (asprintf (&text, "%stoken:\nroot: ~\n", s_agent_minimal) > 0);
    char *path = s_write ("agent.yaml", text);
    jad_agent_config_t *config = jad_agent_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_null (config->token);
    cr_assert_str_eq (config->root, "/srv/jadugar");
    jad_agent_config_destroy (&config);
    free (text);
    free (path);
}

Test (config, yaml_syntax_error_names_file_and_line)
{
    char *path = s_write ("agent.yaml", "environment: prod\n"
                                        "controller: \"ctl:7400\n"
                                        "signing-key: x\n");
    jad_agent_config_t *config = jad_agent_config_load (path, s_problems);
    cr_assert_null (config);
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    //  libfyaml reports an unterminated quoted scalar where the input ends
    const char *problem = jad_problems_get (s_problems, 0);
    char prefix[512];
    snprintf (prefix, sizeof (prefix), "%s:", path);
    cr_assert (strncmp (problem, prefix, strlen (prefix)) == 0, "%s", problem);
    cr_assert (strstr (problem, ": YAML syntax error: "), "%s", problem);
    free (path);
}

Test (config, yaml_syntax_error_line_is_exact)
{
    char *path = s_write ("agent.yaml", "environment: prod\n"
                                        "controller: ctl:7400\n"
                                        "heartbeat: 5s: 3\n"
                                        "root: /srv\n");
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    s_assert_problem (path, 3, "YAML syntax error: ");
    free (path);

    //  a duplicate key is a syntax error at the second occurrence
    jad_problems_destroy (&s_problems);
    s_problems = jad_problems_new ();
    path = s_write ("dup.yaml", "environment: prod\n"
                                "environment: dev\n");
    cr_assert_null (jad_agent_config_load (path, s_problems));
    s_assert_problem (path, 2, "YAML syntax error: duplicate key");
    free (path);
}

Test (config, unknown_key_is_reported_with_suggestion)
{
    char *text = NULL;
    cr_assert (asprintf (&text, "%senviroment: prod\nflavour: x\n", s_agent_minimal) > 0);
    char *path = s_write ("agent.yaml", text);
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 2, "%s", s_all ());
    s_assert_problem (path, 5, "unknown key 'enviroment' (did you mean 'environment'?)");
    s_assert_problem (path, 6, "unknown key 'flavour'");
    free (text);
    free (path);
}

Test (config, bad_duration_is_reported)
{
    char *text = NULL;
    cr_assert (asprintf (&text, "%sheartbeat: 5x\n", s_agent_minimal) > 0);
    char *path = s_write ("agent.yaml", text);
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    s_assert_problem (path, 5,
                      "key 'heartbeat': \"5x\" is not a duration (use 500ms, 30s, 10m, 1h)");
    free (text);
    free (path);
}

Test (config, bad_controller_port_is_reported)
{
    char *path = s_write ("agent.yaml", "environment: prod\n"
                                        "controller: ctl.example.com:70000\n"
                                        "controller-key: \"" CURVE_KEY "\"\n"
                                        "signing-key: " SIGN_KEY "\n");
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    s_assert_problem (path, 2, "key 'controller': \"ctl.example.com:70000\" is not HOST:PORT");
    free (path);
}

Test (config, bad_key_encoding_is_reported)
{
    char *path = s_write ("agent.yaml", "environment: prod\n"
                                        "controller: ctl:7400\n"
                                        "controller-key: not-a-z85-key\n"
                                        "signing-key: " SIGN_KEY "zz\n");
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 2, "%s", s_all ());
    s_assert_problem (path, 3, "key 'controller-key': \"not-a-z85-key\" is not a CURVE public key");
    s_assert_problem (path, 4, "key 'signing-key':");
    s_assert_problem (path, 4, "64 hex characters");
    free (path);
}

Test (config, missing_required_keys_are_reported_at_mapping_line)
{
    char *path = s_write ("agent.yaml", "\n# comment\nname: web-1\ncontroller: ctl:7400\n");
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 3, "%s", s_all ());
    s_assert_problem (path, 3, "missing required key 'environment'");
    s_assert_problem (path, 3, "missing required key 'controller-key'");
    s_assert_problem (path, 3, "missing required key 'signing-key'");
    free (path);
}

Test (config, required_key_without_value_is_reported)
{
    char *path = s_write ("agent.yaml", "environment:\n"
                                        "controller: ctl:7400\n"
                                        "controller-key: \"" CURVE_KEY "\"\n"
                                        "signing-key: " SIGN_KEY "\n");
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    s_assert_problem (path, 1, "key 'environment' has no value");
    free (path);
}

Test (config, empty_file_reports_every_required_key)
{
    char *path = s_write ("agent.yaml", "");
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 4, "%s", s_all ());
    s_assert_problem (path, 1, "missing required key 'environment'");
    free (path);
}

Test (config, every_problem_in_one_file_is_reported)
{
    char *path = s_write ("agent.yaml", "name: -bad\n"
                                        "environment: prod\n"
                                        "controller: nohost\n"
                                        "controller-key: short\n"
                                        "signing-key: " SIGN_KEY "\n"
                                        "root: relative/dir\n"
                                        "keep-releases: 0\n"
                                        "heartbeat: soon\n"
                                        "hook-timeout: [1, 2]\n"
                                        "colour: blue\n");
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 8, "%s", s_all ());
    s_assert_problem (path, 1, "key 'name': \"-bad\" is not a valid name");
    s_assert_problem (path, 3, "key 'controller'");
    s_assert_problem (path, 4, "key 'controller-key'");
    s_assert_problem (path, 6, "key 'root': \"relative/dir\" is not an absolute path");
    s_assert_problem (path, 7, "key 'keep-releases': \"0\" is not a whole number from 1 to 100");
    s_assert_problem (path, 8, "key 'heartbeat'");
    s_assert_problem (path, 9, "key 'hook-timeout': expected a single value");
    s_assert_problem (path, 10, "unknown key 'colour'");

    //  listed top down, as the file reads
    long previous = 0;
    for (size_t index = 0; index < jad_problems_count (s_problems); index++) {
        const char *problem = jad_problems_get (s_problems, index);
        long line = strtol (problem + strlen (path) + 1, NULL, 10);
        cr_assert_geq (line, previous, "%s", s_all ());
        previous = line;
    }
    free (path);
}

Test (config, secret_token_is_never_echoed)
{
    char *text = NULL;
    cr_assert (asprintf (&text, "%stoken: \"abc\\tdef\"\n", s_agent_minimal) > 0);
    char *path = s_write ("agent.yaml", text);
    cr_assert_null (jad_agent_config_load (path, s_problems));
    s_assert_problem (path, 5, "key 'token'");
    cr_assert_null (strstr (s_all (), "abc"), "%s", s_all ());
    free (text);
    free (path);
}

Test (config, aliases_are_refused)
{
    char *text = NULL;
    cr_assert (asprintf (&text, "%sname: &n web\nhook-user: *n\n", s_agent_minimal) > 0);
    char *path = s_write ("agent.yaml", text);
    cr_assert_null (jad_agent_config_load (path, s_problems));
    s_assert_problem (path, 6, "key 'hook-user': aliases are not supported");
    free (text);
    free (path);
}

Test (config, missing_file_is_named)
{
    char *path = NULL;
    cr_assert (asprintf (&path, "%s/nope/agent.yaml", s_dir) > 0);
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1);
    const char *problem = jad_problems_get (s_problems, 0);
    cr_assert (strncmp (problem, path, strlen (path)) == 0, "%s", problem);
    cr_assert (strstr (problem, "cannot read file: No such file or directory"), "%s", problem);

    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_null (jad_client_config_load (path, s_problems));
    cr_assert_null (jad_manifest_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 4);
    free (path);
}

Test (config, directory_is_not_a_file)
{
    cr_assert_null (jad_agent_config_load (s_dir, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1);
    cr_assert (strstr (jad_problems_get (s_problems, 0), "Is a directory"), "%s", s_all ());
}

Test (config, loaders_accept_null_problems)
{
    char *path = s_write ("agent.yaml", "heartbeat: 5x\n");
    cr_assert_null (jad_agent_config_load (path, NULL));
    cr_assert_null (jad_controller_config_load (path, NULL));
    cr_assert_null (jad_manifest_parse ("hooks: 3", 8, "x", NULL));
    free (path);
}

// --------------------------------------------------------------------------
//  controller.yaml

//  DESIGN.md section 5, verbatim
static const char *s_design_controller =
    "environments:\n"
    "  dev:     { track: develop,     auto_deploy: true, strategy: all }\n"
    "  staging: { track: \"release/*\", auto_deploy: true, strategy: rolling, batch: 50% }\n"
    "  prod:    { track: main, requires: staging, strategy: canary, canary: 1,\n"
    "             bake: 10m, batch: 25%, windows: [\"Tue 09:00-17:00\", \"Thu 09:00-17:00\"],\n"
    "             emergency_approvals: [tech-lead, product-owner] }\n"
    "alerts:\n"
    "  - { env: prod, metric: http_error_rate, above: 0.05, for: 60s, action: rollback }\n";

Test (config, controller_loads_design_example)
{
    char *path = s_write ("controller.yaml", s_design_controller);
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (config->listen, "127.0.0.1");
    cr_assert_eq (config->port, 7400);
    cr_assert_eq (config->heartbeat_ms, 5000);
    cr_assert_eq (config->resend_ms, 2000);
    cr_assert_eq (config->plan_ttl_ms, 600000);
    cr_assert_eq (config->step_deadline_ms, 600000);
    cr_assert_eq (config->progress_deadline_ms, 1800000);
    cr_assert_eq (config->environment_count, 3);

    const jad_env_config_t *dev = jad_controller_config_env (config, "dev");
    cr_assert_not_null (dev);
    cr_assert_str_eq (dev->track, "develop");
    cr_assert (dev->auto_deploy);
    cr_assert_str_eq (dev->strategy, "all");
    cr_assert_null (dev->requires);
    cr_assert_null (dev->batch);
    cr_assert_eq (dev->window_count, 0);
    cr_assert_eq (dev->concurrency, 0);

    const jad_env_config_t *staging = jad_controller_config_env (config, "staging");
    cr_assert_not_null (staging);
    cr_assert_str_eq (staging->track, "release/*");
    cr_assert_str_eq (staging->strategy, "rolling");
    cr_assert_str_eq (staging->batch, "50%");

    const jad_env_config_t *prod = jad_controller_config_env (config, "prod");
    cr_assert_not_null (prod);
    cr_assert_str_eq (prod->name, "prod");
    cr_assert_str_eq (prod->track, "main");
    cr_assert_not (prod->auto_deploy);
    cr_assert_str_eq (prod->requires, "staging");
    cr_assert_str_eq (prod->strategy, "canary");
    cr_assert_eq (prod->canary, 1);
    cr_assert_eq (prod->bake_ms, 600000);
    cr_assert_str_eq (prod->batch, "25%");
    cr_assert_eq (prod->window_count, 2);
    cr_assert_str_eq (prod->windows[0], "Tue 09:00-17:00");
    cr_assert_str_eq (prod->windows[1], "Thu 09:00-17:00");
    cr_assert_eq (prod->emergency_approval_count, 2);
    cr_assert_str_eq (prod->emergency_approvals[0].role, "tech-lead");
    cr_assert_null (prod->emergency_approvals[0].when);
    cr_assert_str_eq (prod->emergency_approvals[1].role, "product-owner");
    cr_assert_null (jad_controller_config_env (config, "qa"));

    cr_assert_eq (config->alert_count, 1);
    cr_assert_str_eq (config->alerts[0].env, "prod");
    cr_assert_str_eq (config->alerts[0].metric, "http_error_rate");
    cr_assert (config->alerts[0].above);
    cr_assert_float_eq (config->alerts[0].threshold, 0.05, 1e-12);
    cr_assert_eq (config->alerts[0].for_ms, 60000);
    cr_assert_str_eq (config->alerts[0].action, "rollback");
    jad_controller_config_destroy (&config);
    jad_controller_config_destroy (&config);
    free (path);
}

Test (config, controller_block_style_and_settings_load)
{
    char *path = s_write ("controller.yaml", "listen: 0.0.0.0\n"
                                             "port: 9000\n"
                                             "heartbeat: 2s\n"
                                             "resend: 1s\n"
                                             "plan-ttl: 5m\n"
                                             "step-deadline: 3m\n"
                                             "progress-deadline: 1h\n"
                                             "environments:\n"
                                             "  qa:\n"
                                             "  prod:\n"
                                             "    requires: qa\n"
                                             "    strategy: canary\n"
                                             "    batch: 3\n"
                                             "    concurrency: 10\n"
                                             "    windows:\n"
                                             "      - Mon 00:00-24:00\n"
                                             "alerts:\n"
                                             "  - env: prod\n"
                                             "    metric: latency_p99\n"
                                             "    below: -2.5\n"
                                             "    for: 30s\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (config->listen, "0.0.0.0");
    cr_assert_eq (config->port, 9000);
    cr_assert_eq (config->heartbeat_ms, 2000);
    cr_assert_eq (config->resend_ms, 1000);
    cr_assert_eq (config->plan_ttl_ms, 300000);
    cr_assert_eq (config->step_deadline_ms, 180000);
    cr_assert_eq (config->progress_deadline_ms, 3600000);
    const jad_env_config_t *qa = jad_controller_config_env (config, "qa");
    cr_assert_not_null (qa);
    cr_assert_str_eq (qa->strategy, "all");
    const jad_env_config_t *prod = jad_controller_config_env (config, "prod");
    cr_assert_not_null (prod);
    cr_assert_eq (prod->canary, 1, "canary strategy defaults to one canary host");
    cr_assert_str_eq (prod->batch, "3");
    cr_assert_eq (prod->concurrency, 10);
    cr_assert_eq (prod->window_count, 1);
    cr_assert_eq (config->alert_count, 1);
    cr_assert_not (config->alerts[0].above);
    cr_assert_float_eq (config->alerts[0].threshold, -2.5, 1e-12);
    cr_assert_null (config->alerts[0].action);
    jad_controller_config_destroy (&config);
    free (path);
}

Test (config, controller_empty_file_gets_defaults)
{
    char *path = s_write ("controller.yaml", "# nothing yet\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_eq (config->port, 7400);
    cr_assert_eq (config->environment_count, 0);
    cr_assert_eq (config->alert_count, 0);
    jad_controller_config_destroy (&config);
    free (path);
}

Test (config, controller_limits_have_defaults_and_can_be_set)
{
    char *path = s_write ("controller.yaml", "# nothing yet\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_eq (config->series_per_agent, 10000);
    cr_assert_eq (config->label_sets_per_metric, 1000);
    cr_assert_eq (config->apps_per_agent, 256);
    cr_assert_eq (config->release_unpacked_mib, 4096);
    cr_assert_eq (config->release_ratio, 100);
    jad_controller_config_destroy (&config);
    free (path);
    path = s_write ("controller.yaml", "limits:\n"
                                       "  series-per-agent: 500\n"
                                       "  label-sets-per-metric: 20\n"
                                       "  apps-per-agent: 8\n"
                                       "  release-unpacked-mib: 64\n"
                                       "  release-ratio: 10\n");
    config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_eq (config->series_per_agent, 500);
    cr_assert_eq (config->label_sets_per_metric, 20);
    cr_assert_eq (config->apps_per_agent, 8);
    cr_assert_eq (config->release_unpacked_mib, 64);
    cr_assert_eq (config->release_ratio, 10);
    jad_controller_config_destroy (&config);
    free (path);
}

Test (config, controller_bad_limits_are_reported_with_their_line)
{
    char *path = s_write ("controller.yaml", "limits:\n"
                                             "  series-per-agent: 0\n"
                                             "  apps-per-agnet: 8\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 2, "%s", s_all ());
    cr_assert (strstr (s_all (), ":2:") && strstr (s_all (), "series-per-agent"), "%s", s_all ());
    cr_assert (strstr (s_all (), ":3:") && strstr (s_all (), "apps-per-agnet"), "%s", s_all ());
    free (path);
}

Test (config, controller_bad_port_is_reported)
{
    char *path = s_write ("controller.yaml", "listen: 127.0.0.1\nport: 0\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    s_assert_problem (path, 2, "key 'port': \"0\" is not a whole number from 1 to 65532");
    free (path);
}

Test (config, controller_store_is_sqlite_or_a_postgresql_url)
{
    const char *good[] = {"sqlite", "postgresql://jadugar@db.example:5432/jadugar",
                          "postgres://db1:5432,db2:5433/jadugar?target_session_attrs=read-write",
                          "postgresql://u:secret@[::1]:6432/j", "postgresql:///jadugar"};
    for (size_t index = 0; index < sizeof good / sizeof good[0]; index++) {
        char *text = NULL;
        cr_assert (asprintf (&text, "store: '%s'\n", good[index]) > 0);
        char *path = s_write ("controller.yaml", text);
        jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
        cr_assert_not_null (config, "%s: %s", good[index], s_all ());
        cr_assert_str_eq (config->store, good[index]);
        jad_controller_config_destroy (&config);
        free (path);
        free (text);
    }
    char *path = s_write ("controller.yaml", "# the default\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config);
    cr_assert_null (config->store, "no store: key is SQLite in the data directory");
    jad_controller_config_destroy (&config);
    free (path);
    const char *bad[] = {"mysql://db/j", "postgresql://u:hunter2@db:99999/j",
                         "postgresql://u:hunter2@[::1/j", "postgresql://u:hunter2@db /j",
                         "sqlite3"};
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        char *text = NULL;
        cr_assert (asprintf (&text, "port: 7400\nstore: '%s'\n", bad[index]) > 0);
        path = s_write ("controller.yaml", text);
        cr_assert_null (jad_controller_config_load (path, s_problems), "%s", bad[index]);
        s_assert_problem (path, 2, "key 'store': value is not sqlite or a PostgreSQL URL");
        cr_assert_null (strstr (s_all (), "hunter2"), "a password echoed: %s", s_all ());
        jad_problems_destroy (&s_problems);
        s_problems = jad_problems_new ();
        free (path);
        free (text);
    }
}

Test (config, requires_unknown_environment_is_reported)
{
    char *path = s_write ("controller.yaml", "environments:\n"
                                             "  dev: { strategy: all }\n"
                                             "  prod: { track: main,\n"
                                             "          requires: stagng }\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    s_assert_problem (path, 4, "environment 'prod': key 'requires': unknown environment 'stagng'");
    free (path);
}

Test (config, requires_cycle_is_reported_once)
{
    char *path = s_write ("controller.yaml", "environments:\n"
                                             "  a: { requires: c }\n"
                                             "  b: { requires: a }\n"
                                             "  c: { requires: b }\n"
                                             "  d: { requires: a }\n"
                                             "  e: { requires: e }\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 2, "%s", s_all ());
    s_assert_problem (path, 2, "environment 'a': key 'requires': 'c' leads back to 'a'");
    s_assert_problem (path, 6, "environment 'e': key 'requires': 'e' requires itself");
    free (path);
}

Test (config, bad_window_is_reported)
{
    char *path = s_write ("controller.yaml", "environments:\n"
                                             "  prod:\n"
                                             "    windows:\n"
                                             "      - Tue 09:00-17:00\n"
                                             "      - Tus 09:00-17:00\n"
                                             "      - Wed 17:00-09:00\n"
                                             "      - Thu 9:00-17:00\n"
                                             "      - Fri 09:00-25:00\n"
                                             "      - Mon-Fri 09:00-17:00\n"
                                             "  dev: { windows: \"Mon 09:00-17:00\" }\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 5, "%s", s_all ());
    s_assert_problem (path, 5,
                      "environment 'prod': key 'windows': \"Tus 09:00-17:00\" is not a window");
    s_assert_problem (path, 6, "\"Wed 17:00-09:00\" is not a window");
    s_assert_problem (path, 7, "\"Thu 9:00-17:00\" is not a window");
    s_assert_problem (path, 8, "\"Fri 09:00-25:00\" is not a window");
    s_assert_problem (path, 10, "environment 'dev': key 'windows': expected a list");
    free (path);
}

//  timezone: a zone of the tz database, loaded with the file; schedule:
//  a calendar of auto_deploy slots, each problem with its line
Test (config, timezone_and_schedule_are_checked)
{
    char *path = s_write ("controller.yaml",
                          "environments:\n"
                          "  prod: { track: main, auto_deploy: true, timezone: Europe/Berlin,\n"
                          "          schedule: \"every 2 weeks Tue 10:00 from 2026-12-08\",\n"
                          "          windows: [\"Mon-Fri 09:00-17:00\"] }\n"
                          "  staging: { track: \"release/*\", auto_deploy: true,\n"
                          "             schedule: \"daily 09:00\" }\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    const jad_env_config_t *prod = jad_controller_config_env (config, "prod");
    cr_assert_str_eq (prod->timezone, "Europe/Berlin");
    cr_assert_not_null (prod->tz);
    cr_assert_str_eq (jad_tz_name (prod->tz), "Europe/Berlin");
    cr_assert_eq (prod->slots.weeks, 2);
    cr_assert_eq (prod->slots.minute, 600);
    const jad_env_config_t *staging = jad_controller_config_env (config, "staging");
    cr_assert_null (staging->tz, "no timezone: the controller's local time");
    cr_assert_eq (staging->slots.days, 0x7f);
    jad_controller_config_destroy (&config);
    free (path);

    path = s_write ("controller.yaml", "environments:\n"
                                       "  prod:\n"
                                       "    track: main\n"
                                       "    auto_deploy: true\n"
                                       "    timezone: Europe/Berln\n"
                                       "    schedule: every 2 weeks Tue 10:00\n"
                                       "  dev:\n"
                                       "    timezone: ../../etc/passwd\n"
                                       "    schedule: daily 09:00\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 4, "%s", s_all ());
    s_assert_problem (path, 5,
                      "environment 'prod': key 'timezone': unknown time zone 'Europe/Berln' (no "
                      "/usr/share/zoneinfo/Europe/Berln; is tzdata installed?)");
    s_assert_problem (path, 6,
                      "environment 'prod': key 'schedule': 'every 2 weeks Tue 10:00': every 2 "
                      "weeks needs 'from YYYY-MM-DD'");
    s_assert_problem (path, 8, "environment 'dev': key 'timezone'");
    s_assert_problem (path, 9,
                      "environment 'dev': key 'schedule': slots are for auto_deploy: it needs "
                      "'track' and 'auto_deploy: true'");
    free (path);
}

Test (config, environment_values_are_checked)
{
    char *path = s_write ("controller.yaml", "environments:\n"
                                             "  staging: { batch: 150%, strategy: blue-green }\n"
                                             "  prod: { auto_deploy: maybe, canary: -1,\n"
                                             "          bake: forever, colour: red }\n"
                                             "  \"bad name\": {}\n"
                                             "  qa: { strategy: canary, canary: 0,\n"
                                             "        emergency_approvals: [qa, -no] }\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 9, "%s", s_all ());
    s_assert_problem (path, 2, "environment 'staging': key 'batch': \"150%\" is not a batch");
    s_assert_problem (path, 2, "environment 'staging': key 'strategy': \"blue-green\"");
    s_assert_problem (path, 3, "environment 'prod': key 'auto_deploy': \"maybe\" is not true");
    s_assert_problem (path, 3, "environment 'prod': key 'canary': \"-1\"");
    s_assert_problem (path, 4, "environment 'prod': key 'bake': \"forever\" is not a duration");
    s_assert_problem (path, 4, "environment 'prod': unknown key 'colour'");
    s_assert_problem (path, 5, "\"bad name\" is not a valid environment name");
    s_assert_problem (path, 6, "environment 'qa': key 'canary': must be at least 1");
    s_assert_problem (path, 7, "environment 'qa': key 'emergency_approvals': \"-no\"");
    free (path);
}

Test (config, alert_with_above_and_below_is_reported)
{
    char *path = s_write ("controller.yaml", "environments:\n"
                                             "  prod: {}\n"
                                             "alerts:\n"
                                             "  - env: prod\n"
                                             "    metric: errors\n"
                                             "    above: 1\n"
                                             "    below: 0.5\n"
                                             "    for: 1m\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    s_assert_problem (path, 7, "alert 1: give exactly one of 'above' or 'below'");
    free (path);
}

Test (config, alert_problems_are_reported)
{
    char *path = s_write ("controller.yaml",
                          "environments:\n"
                          "  prod: {}\n"
                          "alerts:\n"
                          "  - { env: prod, metric: errors, above: 1, for: 1m }\n"
                          "  - { env: qa, metric: errors, above: lots, for: 1m, action: page }\n"
                          "  - { metric: \"bad metric\", for: 1m }\n"
                          "  - just a string\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 7, "%s", s_all ());
    s_assert_problem (path, 5, "alert 2: key 'env': unknown environment 'qa'");
    s_assert_problem (path, 5, "alert 2: key 'above': \"lots\" is not a number");
    s_assert_problem (path, 5, "alert 2: key 'action': \"page\" is not an action");
    s_assert_problem (path, 6, "alert 3: missing required key 'env'");
    s_assert_problem (path, 6, "alert 3: key 'metric': \"bad metric\" is not a metric name");
    s_assert_problem (path, 6, "alert 3: missing required key 'above' or 'below'");
    s_assert_problem (path, 7, "alert 4: expected a mapping of keys");
    free (path);
}

// --------------------------------------------------------------------------
//  jadctl client file

Test (config, client_key_is_resolved_against_client_folder)
{
    char *path = s_write ("ops/jadctl.yaml", "controller: 10.0.0.5:7402\n"
                                             "controller-key: \"" CURVE_KEY "\"\n"
                                             "key: keys/admin.key\n");
    jad_client_config_t *config = jad_client_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (config->controller, "10.0.0.5:7402");
    cr_assert_str_eq (config->controller_key, CURVE_KEY);
    char *expected = NULL;
    cr_assert (asprintf (&expected, "%s/ops/keys/admin.key", s_dir) > 0);
    cr_assert_str_eq (config->key, expected);
    jad_client_config_destroy (&config);
    jad_client_config_destroy (&config);
    free (expected);
    free (path);
}

Test (config, client_relative_file_path_gives_absolute_key)
{
    char *path = s_write ("jadctl.yaml", "controller: localhost:7402\n"
                                         "controller-key: \"" CURVE_KEY "\"\n"
                                         "key: /etc/jadugar/op.key\n");
    jad_client_config_t *config = jad_client_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (config->key, "/etc/jadugar/op.key");
    jad_client_config_destroy (&config);
    free (path);

    path = s_write ("sub/client.yaml", "controller: localhost:7402\n"
                                       "controller-key: \"" CURVE_KEY "\"\n"
                                       "key: op.key\n");
    cr_assert_eq (chdir (s_dir), 0);
    config = jad_client_config_load ("sub/client.yaml", s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    char *cwd = getcwd (NULL, 0);
    char *expected = NULL;
    cr_assert (asprintf (&expected, "%s/sub/op.key", cwd) > 0);
    cr_assert_str_eq (config->key, expected);
    jad_client_config_destroy (&config);
    free (expected);
    free (cwd);
    free (path);
}

Test (config, client_problems_are_reported)
{
    char *path = s_write ("jadctl.yaml", "controller: localhost\n"
                                         "controller-key: \"" CURVE_KEY "x\"\n");
    cr_assert_null (jad_client_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 3, "%s", s_all ());
    s_assert_problem (path, 1, "key 'controller': \"localhost\" is not HOST:PORT");
    s_assert_problem (path, 2, "key 'controller-key'");
    s_assert_problem (path, 1, "missing required key 'key'");
    free (path);
}

// --------------------------------------------------------------------------
//  jadugar.yaml

//  DESIGN.md section 4, verbatim
static const char *s_design_manifest =
    "hooks:\n"
    "  pre_activate: ./hooks/prepare.sh      # in the new release dir, before the switch\n"
    "  migrate_up: ./hooks/migrate-up.sh     # once per environment, before activation\n"
    "  migrate_down: ./hooks/migrate-down.sh # when a rollback crosses this release\n"
    "  activate: ./hooks/restart.sh          # after the switch (restart the service)\n"
    "  smoke:                                # all must pass, each within its timeout\n"
    "    - run: ./hooks/smoke.sh\n"
    "      timeout: 30s\n"
    "    - http: http://127.0.0.1:8080/health\n"
    "      expect: 200\n"
    "metrics:\n"
    "  interval: 5s\n"
    "  sources:\n"
    "    - prometheus: http://127.0.0.1:8080/metrics\n"
    "    - command: ./hooks/metrics.sh       # prints \"name value\" lines\n";

Test (config, manifest_parses_design_example)
{
    jad_manifest_t *manifest = jad_manifest_parse (s_design_manifest, strlen (s_design_manifest),
                                                   "web-1.2.tar.gz:jadugar.yaml", s_problems);
    cr_assert_not_null (manifest, "%s", s_all ());
    cr_assert_str_eq (manifest->pre_activate, "./hooks/prepare.sh");
    cr_assert_str_eq (manifest->migrate_up, "./hooks/migrate-up.sh");
    cr_assert_str_eq (manifest->migrate_down, "./hooks/migrate-down.sh");
    cr_assert_str_eq (manifest->activate, "./hooks/restart.sh");
    cr_assert_eq (manifest->smoke_count, 2);
    cr_assert_str_eq (manifest->smoke[0].run, "./hooks/smoke.sh");
    cr_assert_null (manifest->smoke[0].http);
    cr_assert_eq (manifest->smoke[0].timeout_ms, 30000);
    cr_assert_null (manifest->smoke[1].run);
    cr_assert_str_eq (manifest->smoke[1].http, "http://127.0.0.1:8080/health");
    cr_assert_eq (manifest->smoke[1].expect, 200);
    cr_assert_eq (manifest->smoke[1].timeout_ms, 30000);
    cr_assert_eq (manifest->metrics_interval_ms, 5000);
    cr_assert_eq (manifest->source_count, 2);
    cr_assert_str_eq (manifest->sources[0].prometheus, "http://127.0.0.1:8080/metrics");
    cr_assert_null (manifest->sources[0].command);
    cr_assert_null (manifest->sources[1].prometheus);
    cr_assert_str_eq (manifest->sources[1].command, "./hooks/metrics.sh");
    jad_manifest_destroy (&manifest);
    jad_manifest_destroy (&manifest);
}

Test (config, manifest_without_hooks_gets_defaults)
{
    const char *text = "hooks:\n  activate: bin/restart\n";
    jad_manifest_t *manifest = jad_manifest_parse (text, strlen (text), NULL, s_problems);
    cr_assert_not_null (manifest, "%s", s_all ());
    cr_assert_str_eq (manifest->activate, "bin/restart");
    cr_assert_null (manifest->pre_activate);
    cr_assert_eq (manifest->smoke_count, 0);
    cr_assert_eq (manifest->metrics_interval_ms, 10000);
    cr_assert_eq (manifest->source_count, 0);
    jad_manifest_destroy (&manifest);

    manifest = jad_manifest_parse ("", 0, NULL, s_problems);
    cr_assert_not_null (manifest, "%s", s_all ());
    jad_manifest_destroy (&manifest);
}

//  hooks.smoke_every: how often the agent re-runs the smoke checks after a
//  deploy (the smoke_ok metric); only with smoke checks, at least 1s.
Test (config, manifest_smoke_every_re_runs_the_smoke_checks)
{
    const char *text = "hooks:\n  smoke:\n    - run: ./hooks/smoke.sh\n  smoke_every: 10m\n";
    jad_manifest_t *manifest = jad_manifest_parse (text, strlen (text), "m", s_problems);
    cr_assert_not_null (manifest, "%s", s_all ());
    cr_assert_eq (manifest->smoke_every_ms, 600000);
    jad_manifest_destroy (&manifest);

    text = "hooks:\n  smoke:\n    - run: ./hooks/smoke.sh\n";
    manifest = jad_manifest_parse (text, strlen (text), "m", s_problems);
    cr_assert_not_null (manifest, "%s", s_all ());
    cr_assert_eq (manifest->smoke_every_ms, 0, "absent: never re-run");
    jad_manifest_destroy (&manifest);

    text = "hooks:\n  activate: ./hooks/restart.sh\n  smoke_every: 10m\n";
    cr_assert_null (jad_manifest_parse (text, strlen (text), "w.tgz:jadugar.yaml", s_problems));
    s_assert_problem ("w.tgz:jadugar.yaml", 3, "key 'smoke_every' needs smoke checks");

    jad_problems_destroy (&s_problems);
    s_problems = jad_problems_new ();
    text = "hooks:\n  smoke:\n    - run: ./hooks/smoke.sh\n  smoke_every: 500ms\n";
    cr_assert_null (jad_manifest_parse (text, strlen (text), "w.tgz:jadugar.yaml", s_problems));
    s_assert_problem ("w.tgz:jadugar.yaml", 4, "key 'smoke_every': at least 1s");

    jad_problems_destroy (&s_problems);
    s_problems = jad_problems_new ();
    text = "hooks:\n  smoke:\n    - run: ./hooks/smoke.sh\n  smoke_every: often\n";
    cr_assert_null (jad_manifest_parse (text, strlen (text), "w.tgz:jadugar.yaml", s_problems));
    s_assert_problem ("w.tgz:jadugar.yaml", 4, "key 'smoke_every': \"often\" is not a duration");
}

Test (config, manifest_parse_reads_only_size_bytes)
{
    const char *text = "hooks:\n  activate: run.sh\nGARBAGE: [";
    jad_manifest_t *manifest = jad_manifest_parse (text, 26, "m", s_problems);
    cr_assert_not_null (manifest, "%s", s_all ());
    cr_assert_str_eq (manifest->activate, "run.sh");
    jad_manifest_destroy (&manifest);
}

Test (config, hook_path_with_dotdot_is_reported)
{
    const char *text = "hooks:\n"
                       "  pre_activate: ./hooks/../../etc/evil.sh\n"
                       "  activate: /usr/bin/restart\n"
                       "  migrate_up: hooks/..\n"
                       "  migrate_down: hooks/..x/ok.sh\n";
    const char *origin = "web-1.2.tar.gz:jadugar.yaml";
    cr_assert_null (jad_manifest_parse (text, strlen (text), origin, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 3, "%s", s_all ());
    s_assert_problem (origin, 2,
                      "hooks: key 'pre_activate': \"./hooks/../../etc/evil.sh\" "
                      "is not a path inside the release");
    s_assert_problem (origin, 3, "hooks: key 'activate': \"/usr/bin/restart\" is not a path");
    s_assert_problem (origin, 4, "hooks: key 'migrate_up'");
}

Test (config, smoke_entry_without_run_or_http_is_reported)
{
    const char *text = "hooks:\n"
                       "  smoke:\n"
                       "    - run: ./ok.sh\n"
                       "    - timeout: 10s\n"
                       "      expect: 200\n"
                       "    - { run: ./a.sh, http: \"http://x/\" }\n";
    const char *origin = "app.tgz:jadugar.yaml";
    cr_assert_null (jad_manifest_parse (text, strlen (text), origin, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 2, "%s", s_all ());
    s_assert_problem (origin, 4, "smoke 2: missing required key 'run' (a hook path) or 'http'");
    s_assert_problem (origin, 6, "smoke 3: give either 'run' (a hook path) or 'http' (a URL)");
}

Test (config, manifest_values_are_checked)
{
    const char *text = "hooks:\n"
                       "  smoke:\n"
                       "    - http: ftp://example.com/\n"
                       "    - http: https://example.com/health\n"
                       "      expect: 700\n"
                       "      timeout: 0s\n"
                       "    - run: ./s.sh\n"
                       "      expect: 200\n"
                       "  restart: ./r.sh\n"
                       "metrics:\n"
                       "  interval: often\n"
                       "  sources:\n"
                       "    - prometheus: localhost:9100\n"
                       "    - command: ../metrics.sh\n"
                       "    - { interval: 5s }\n"
                       "version: 2\n";
    cr_assert_null (jad_manifest_parse (text, strlen (text), "m.yaml", s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 11, "%s", s_all ());
    s_assert_problem ("m.yaml", 3, "smoke 1: key 'http': \"ftp://example.com/\" is not an http");
    s_assert_problem ("m.yaml", 5, "smoke 2: key 'expect': \"700\" is not a whole number");
    s_assert_problem ("m.yaml", 6, "smoke 2: key 'timeout': \"0s\" must be longer than zero");
    s_assert_problem ("m.yaml", 8, "smoke 3: key 'expect' only applies to an 'http' check");
    s_assert_problem ("m.yaml", 9, "hooks: unknown key 'restart'");
    s_assert_problem ("m.yaml", 11, "metrics: key 'interval': \"often\" is not a duration");
    s_assert_problem ("m.yaml", 13, "source 1: key 'prometheus': \"localhost:9100\"");
    s_assert_problem ("m.yaml", 14, "source 2: key 'command': \"../metrics.sh\"");
    s_assert_problem ("m.yaml", 15, "source 3: unknown key 'interval'");
    s_assert_problem ("m.yaml", 15, "source 3: missing required key 'prometheus'");
    s_assert_problem ("m.yaml", 16, "unknown key 'version'");
}

Test (config, manifest_syntax_error_uses_origin)
{
    const char *text = "hooks:\n  activate: run.sh\n  smoke: [\n";
    cr_assert_null (jad_manifest_parse (text, strlen (text), "rel.tgz:jadugar.yaml", s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    cr_assert (strncmp (jad_problems_get (s_problems, 0), "rel.tgz:jadugar.yaml:", 21) == 0, "%s",
               s_all ());
    cr_assert (strstr (jad_problems_get (s_problems, 0), "YAML syntax error"), "%s", s_all ());
}

Test (config, manifest_loads_from_file)
{
    char *path = s_write ("jadugar.yaml", s_design_manifest);
    jad_manifest_t *manifest = jad_manifest_load (path, s_problems);
    cr_assert_not_null (manifest, "%s", s_all ());
    cr_assert_eq (manifest->smoke_count, 2);
    jad_manifest_destroy (&manifest);
    free (path);

    path = s_write ("bad.yaml", "hooks:\n  activate: ../x\n");
    cr_assert_null (jad_manifest_load (path, s_problems));
    s_assert_problem (path, 2, "hooks: key 'activate'");
    free (path);
}

//  Found by tests/fuzz/fuzz_config: libfyaml 0.7.12 loops forever on this
//  malformed directive; the printable-text check refuses it first.
Test (config, control_bytes_are_refused_before_the_yaml_parser, .timeout = 10)
{
    static const char text[] = " {ac\x17"
                               "0}\n%le\xff\xff\xff\x1f\x17\x10}\n";
    jad_problems_t *problems = jad_problems_new ();
    cr_assert_null (jad_manifest_parse (text, sizeof text - 1, "x", problems));
    cr_assert_eq (jad_problems_count (problems), 1);
    jad_problems_destroy (&problems);
    problems = jad_problems_new ();
    cr_assert_null (jad_manifest_parse ("hooks:\n  activate: \"a\x01\"\n", 23, "x", problems));
    cr_assert (strstr (jad_problems_get (problems, 0), "control character 0x01"), "%s",
               jad_problems_get (problems, 0));
    jad_problems_destroy (&problems);
}

//  Row 5: the signed heartbeat's pace and the agent's stale window.
Test (config, stale_after_and_signed_heartbeat)
{
    char *path = s_write ("agent.yaml", s_agent_minimal);
    jad_agent_config_t *agent = jad_agent_config_load (path, s_problems);
    cr_assert_not_null (agent, "%s", s_all ());
    cr_assert_eq (agent->stale_after_ms, 30000, "default window");
    jad_agent_config_destroy (&agent);
    free (path);
    char text[512];
    snprintf (text, sizeof text, "%sstale-after: 2s\n", s_agent_minimal);
    path = s_write ("agent.yaml", text);
    agent = jad_agent_config_load (path, s_problems);
    cr_assert_not_null (agent, "%s", s_all ());
    cr_assert_eq (agent->stale_after_ms, 2000);
    jad_agent_config_destroy (&agent);
    free (path);
    snprintf (text, sizeof text, "%sstale-after: 0s\n", s_agent_minimal);
    path = s_write ("agent.yaml", text);
    cr_assert_null (jad_agent_config_load (path, s_problems), "a zero window never alarms");
    s_assert_problem (path, 5, "key 'stale-after'");
    free (path);

    path = s_write ("controller.yaml", "# nothing yet\n");
    jad_controller_config_t *controller = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (controller, "%s", s_all ());
    cr_assert_eq (controller->signed_heartbeat_ms, 5000);
    jad_controller_config_destroy (&controller);
    free (path);
    path = s_write ("controller.yaml", "signed-heartbeat: 0s\n");
    controller = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (controller, "0s turns it off: %s", s_all ());
    cr_assert_eq (controller->signed_heartbeat_ms, 0);
    jad_controller_config_destroy (&controller);
    free (path);
}

//  Found by tests/fuzz/fuzz_config (regression seeds in its corpus):
//  libfyaml 0.7.12 miscounts the text of some scalars (line breaks such as
//  NEL or a lone CR inside quotes, runs of '' escapes, an empty block at
//  the end). Reading one with fy_node_get_scalar returns a cut or wrong
//  value and leaks the iterator's chunk array; such a value is refused
//  before anything reads it.
Test (config, quoted_value_libfyaml_misreads_is_refused)
{
    static const char nel[] = "hooks:\n"
                              "  activate: '''''''''\xc2\x85  ''bc'\n";
    cr_assert_null (jad_manifest_parse (nel, sizeof nel - 1, "m.yaml", s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    s_assert_problem ("m.yaml", 2, "key 'activate': libfyaml 0.7 cannot read this value");

    jad_problems_destroy (&s_problems);
    s_problems = jad_problems_new ();
    static const char cr[] = "hooks:\n"
                             "  activate: '\n"
                             "    \n"
                             "    \xc3\xa9 \r    : \r\n"
                             "    \r    \r    \xc3\xa9\n"
                             "     a#\\u00e9\r    \\x41  \\\"\\n\\n\n"
                             "     \\\n"
                             "    \xc2\x85-''''''''''''''''''  ''\\\\ \n"
                             "    \n"
                             "     '\n";
    cr_assert_null (jad_manifest_parse (cr, sizeof cr - 1, "m.yaml", s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    s_assert_problem ("m.yaml", 2, "key 'activate': libfyaml 0.7 cannot read this value");

    //  an empty block scalar at the end of the file reads as one NUL byte
    jad_problems_destroy (&s_problems);
    s_problems = jad_problems_new ();
    static const char empty_block[] = "hooks:\n  activate: |\n";
    cr_assert_null (jad_manifest_parse (empty_block, sizeof empty_block - 1, "m.yaml", s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 1, "%s", s_all ());
    s_assert_problem ("m.yaml", 2, "key 'activate': libfyaml 0.7 cannot read this value");

    //  the same in agent.yaml, and as a key
    jad_problems_destroy (&s_problems);
    s_problems = jad_problems_new ();
    char text[512];
    snprintf (text, sizeof text, "%stoken: '''''''''\xc2\x85  ''bc'\n'''''''''\xc2\x85  ''x': 1\n",
              s_agent_minimal);
    char *path = s_write ("agent.yaml", text);
    cr_assert_null (jad_agent_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 2, "%s", s_all ());
    s_assert_problem (path, 5, "key 'token': libfyaml 0.7 cannot read this value");
    s_assert_problem (path, 6, "libfyaml 0.7 cannot read this key");
    free (path);
}

//  Quoting libfyaml reads right goes through: escapes, folding, '' once
Test (config, quoted_values_are_read)
{
    char text[1024];
    snprintf (text, sizeof text,
              "%stoken: \"q\\\"x \\u00e9\"\n"
              "root: \"/srv/\n"
              "  apps\"\n"
              "key-file: 'it''s.key'\n"
              "hook-user: >-\n"
              "  deploy\n",
              s_agent_minimal);
    char *path = s_write ("agent.yaml", text);
    jad_agent_config_t *config = jad_agent_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (config->token, "q\"x \xc3\xa9");
    cr_assert_str_eq (config->root, "/srv/ apps");
    cr_assert_str_eq (config->key_file, "it's.key");
    cr_assert_str_eq (config->hook_user, "deploy");
    jad_agent_config_destroy (&config);
    free (path);
}

//  Roles come from the one list in jad_role: a typo is refused where it is
//  written, naming every known role (issue 13 item 7)
Test (config, unknown_role_is_refused_naming_the_known_ones)
{
    char *path = s_write ("controller.yaml", "environments:\n"
                                             "  prod:\n"
                                             "    emergency_approvals: [tech-lead, produkt-owner]\n"
                                             "  staging: { emergency_approvals: [qa, Admin] }\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 2, "%s", s_all ());
    s_assert_problem (path, 3,
                      "environment 'prod': key 'emergency_approvals': unknown role "
                      "'produkt-owner' (known: admin, deployer, viewer, security, tech-lead, "
                      "product-owner, qa, release-manager)");
    s_assert_problem (path, 4,
                      "environment 'staging': key 'emergency_approvals': unknown role "
                      "'Admin' (known: admin,");
    free (path);
}

//  Issue 13 item 7: loaded on the agent's host, a hook-user that is not a
//  user here is a problem of the file, with its line, beside every other
//  problem (before, the agent checked it only when the file had no other)
Test (config, hook_user_must_exist_on_the_host)
{
    char text[1024];
    snprintf (text, sizeof text, "%sheartbeat: 5x\nhook-user: no-such-user-x\n", s_agent_minimal);
    char *path = s_write ("agent.yaml", text);
    cr_assert_null (jad_agent_config_load_on_host (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 2, "%s", s_all ());
    s_assert_problem (path, 5, "key 'heartbeat'");
    s_assert_problem (path, 6, "hook-user: no user named \"no-such-user-x\" on this host");

    //  elsewhere (the controller's tests, a fuzzer) any valid name will do
    jad_problems_destroy (&s_problems);
    s_problems = jad_problems_new ();
    snprintf (text, sizeof text, "%shook-user: no-such-user-x\n", s_agent_minimal);
    free (path);
    path = s_write ("agent.yaml", text);
    jad_agent_config_t *config = jad_agent_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    jad_agent_config_destroy (&config);
    snprintf (text, sizeof text, "%shook-user: root\n", s_agent_minimal);
    free (path);
    path = s_write ("agent.yaml", text);
    config = jad_agent_config_load_on_host (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (config->hook_user, "root");
    jad_agent_config_destroy (&config);
    free (path);
}

//  Issue 17 item 7: a role asked only of a security emergency
Test (config, emergency_approvals_may_be_conditional)
{
    char *path =
        s_write ("controller.yaml",
                 "environments:\n"
                 "  prod:\n"
                 "    emergency_approvals: [{role: security, when: security}, tech-lead]\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    const jad_env_config_t *prod = jad_controller_config_env (config, "prod");
    cr_assert_eq (prod->emergency_approval_count, 2);
    cr_assert_str_eq (prod->emergency_approvals[0].role, "security");
    cr_assert_str_eq (prod->emergency_approvals[0].when, "security");
    cr_assert_str_eq (prod->emergency_approvals[1].role, "tech-lead");
    cr_assert_null (prod->emergency_approvals[1].when);
    jad_controller_config_destroy (&config);
    free (path);

    path = s_write ("controller.yaml", "environments:\n"
                                       "  prod:\n"
                                       "    emergency_approvals:\n"
                                       "      - { role: security, when: sometimes }\n"
                                       "      - { when: security }\n"
                                       "      - { role: qa, colour: red }\n"
                                       "      - { role: securty }\n"
                                       "      - [tech-lead]\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 5, "%s", s_all ());
    s_assert_problem (path, 4,
                      "environment 'prod', approver 1: key 'when': \"sometimes\" is not a "
                      "condition (security");
    s_assert_problem (path, 5, "environment 'prod', approver 2: missing required key 'role'");
    s_assert_problem (path, 6, "environment 'prod', approver 3: unknown key 'colour'");
    s_assert_problem (path, 7,
                      "environment 'prod', approver 4: key 'role': unknown role 'securty'");
    s_assert_problem (path, 8, "environment 'prod', approver 5");
    free (path);
}

//  Issue 13 item 12: what an emergency skips is explicit per environment
Test (config, emergency_skips_lists_requires_and_bake_only)
{
    char *path = s_write ("controller.yaml", "environments:\n"
                                             "  staging: {}\n"
                                             "  prod:\n"
                                             "    requires: staging\n"
                                             "    emergency_skips: [requires, bake]\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    const jad_env_config_t *prod = jad_controller_config_env (config, "prod");
    cr_assert_eq (prod->emergency_skip_count, 2);
    cr_assert_str_eq (prod->emergency_skips[0], "requires");
    cr_assert_str_eq (prod->emergency_skips[1], "bake");
    cr_assert_eq (jad_controller_config_env (config, "staging")->emergency_skip_count, 0,
                  "by default an emergency skips nothing but windows");
    jad_controller_config_destroy (&config);
    free (path);

    path = s_write ("controller.yaml", "environments:\n"
                                       "  prod:\n"
                                       "    emergency_skips: [bake, windows, approvals]\n"
                                       "  dev: { emergency_skips: requires }\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 3, "%s", s_all ());
    s_assert_problem (path, 3,
                      "environment 'prod': key 'emergency_skips': \"windows\" is not requires or "
                      "bake (an emergency always skips windows)");
    s_assert_problem (path, 3, "key 'emergency_skips': \"approvals\" is not requires or bake");
    s_assert_problem (path, 4, "environment 'dev': key 'emergency_skips': expected a list");
    free (path);
}

// --------------------------------------------------------------------------
//  Release checks (DESIGN §10)

#define CI_KEY      "1111111111111111111111111111111111111111111111111111111111111111"
#define SCANNER_KEY "2222222222222222222222222222222222222222222222222222222222222222"

Test (config, release_checks_are_read_per_environment)
{
    char *path = s_write (
        "controller.yaml",
        "attestation_keys:\n"
        "  ci:      { ed25519: " CI_KEY " }\n"
        "  scanner: { ed25519: " SCANNER_KEY " }\n"
        "environments:\n"
        "  prod:\n"
        "    checks:\n"
        "      tests: { type: \"https://in-toto.io/attestation/test-result/v0.1\", keys: [ci], "
        "max_age: 7d }\n"
        "      security-scan: { type: \"https://in-toto.io/attestation/vulns/v0.2\", "
        "keys: [scanner, ci], max_age: 3d, max_severity: medium }\n"
        "      provenance: { type: \"https://slsa.dev/provenance/v1\", keys: [ci], "
        "builder_id: \"https://ci.example.com/builder\", source: \"git+https://git.example.com/\" "
        "}\n"
        "      code-review:   { approval: [tech-lead] }\n"
        "      rollback-plan: { approval: [tech-lead, product-owner], not_deployer: true }\n"
        "    emergency_waives: [tests, code-review]\n"
        "  dev: {}\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_eq (config->attestation_key_count, 2);
    cr_assert_str_eq (jad_controller_config_key (config, "scanner")->ed25519, SCANNER_KEY);
    cr_assert_null (jad_controller_config_key (config, "nobody"));

    const jad_env_config_t *prod = jad_controller_config_env (config, "prod");
    cr_assert_eq (prod->check_count, 5);
    const jad_check_config_t *tests = jad_env_config_check (prod, "tests");
    cr_assert_str_eq (tests->type, "https://in-toto.io/attestation/test-result/v0.1");
    cr_assert_eq (tests->key_count, 1);
    cr_assert_str_eq (tests->keys[0], "ci");
    cr_assert_eq (tests->max_age_ms, 7ull * 86400000);
    cr_assert_null (tests->approval);

    const jad_check_config_t *scan = jad_env_config_check (prod, "security-scan");
    cr_assert_eq (scan->key_count, 2);
    cr_assert_str_eq (scan->max_severity, "medium");
    cr_assert_eq (scan->max_age_ms, 3ull * 86400000);

    const jad_check_config_t *provenance = jad_env_config_check (prod, "provenance");
    cr_assert_str_eq (provenance->builder_id, "https://ci.example.com/builder");
    cr_assert_str_eq (provenance->source, "git+https://git.example.com/");
    cr_assert_eq (provenance->max_age_ms, 0, "no max_age: no limit");

    const jad_check_config_t *plan = jad_env_config_check (prod, "rollback-plan");
    cr_assert_null (plan->type);
    cr_assert_eq (plan->approval_count, 2);
    cr_assert_str_eq (plan->approval[1], "product-owner");
    cr_assert (plan->not_deployer);
    cr_assert_not (jad_env_config_check (prod, "code-review")->not_deployer);

    cr_assert_eq (prod->emergency_waive_count, 2);
    cr_assert_str_eq (prod->emergency_waives[1], "code-review");
    cr_assert_eq (jad_controller_config_env (config, "dev")->check_count, 0,
                  "an environment without checks needs none");
    jad_controller_config_destroy (&config);
    free (path);
}

Test (config, release_checks_problems_name_file_and_line)
{
    char *path = s_write (
        "controller.yaml",
        "attestation_keys:\n"                                                           //  1
        "  ci: { ed25519: 1234 }\n"                                                     //  2
        "  scanner: {}\n"                                                               //  3
        "environments:\n"                                                               //  4
        "  prod:\n"                                                                     //  5
        "    checks:\n"                                                                 //  6
        "      tests: { type: \"https://in-toto.io/attestation/test-result/v0.1\" }\n"  //  7
        "      scan: { type: \"https://in-toto.io/attestation/vulns/v0.2\", keys: [ghost], "
        "max_severity: severe, max_age: soon }\n"                          //  8
        "      review: { approval: [tech-leed] }\n"                        //  9
        "      both: { type: \"https://x.example/t\", approval: [qa] }\n"  //  10
        "      neither: { max_age: 1d }\n"                                 //  11
        "      plan: { approval: [qa], keys: [ci] }\n"                     //  12
        "      signed: { type: \"https://in-toto.io/attestation/test-result/v0.1\", keys: [ci], "
        "not_deployer: true, max_severity: low }\n"                                     //  13
        "      built: { type: \"https://x.example/t\", keys: [ci], builder_id: me }\n"  //  14
        "      \"bad name!\": { approval: [qa] }\n"                                     //  15
        "      typo: { approval: [qa], not_deploer: true }\n"                           //  16
        "    emergency_waives: [tests, deploy-freeze]\n"                                //  17
        "  dev: { checks: [tests] }\n");                                                //  18
    cr_assert_null (jad_controller_config_load (path, s_problems));
    s_assert_problem (path, 2, "key 'ed25519': \"1234\" is not a signing public key");
    s_assert_problem (path, 3, "attestation key 'scanner': missing required key 'ed25519'");
    s_assert_problem (path, 7, "check 'tests': key 'keys' is required with 'type'");
    s_assert_problem (path, 8, "check 'scan': key 'keys': unknown attestation key 'ghost'");
    s_assert_problem (path, 8,
                      "key 'max_severity': \"severe\" is not a severity (negligible, "
                      "low, medium, high or critical)");
    s_assert_problem (path, 8, "key 'max_age': \"soon\" is not a duration");
    s_assert_problem (path, 9, "check 'review': key 'approval': unknown role 'tech-leed'");
    s_assert_problem (path, 10, "check 'both': give either 'type'");
    s_assert_problem (path, 11, "check 'neither': missing required key 'type'");
    s_assert_problem (path, 12,
                      "check 'plan': key 'keys' belongs to an attestation check (with 'type')");
    s_assert_problem (path, 13, "check 'signed': key 'not_deployer' belongs to an approval check");
    s_assert_problem (path, 13,
                      "key 'max_severity' needs type https://in-toto.io/attestation/"
                      "vulns/v0.2");
    s_assert_problem (path, 14, "key 'builder_id' needs type https://slsa.dev/provenance/v1");
    s_assert_problem (path, 15, "is not a valid check name");
    s_assert_problem (path, 16, "unknown key 'not_deploer' (did you mean 'not_deployer'?)");
    s_assert_problem (path, 17,
                      "environment 'prod': key 'emergency_waives': 'deploy-freeze' is "
                      "not one of this environment's checks");
    s_assert_problem (path, 18, "environment 'dev': key 'checks': expected a mapping of checks");
    free (path);
}

Test (config, agent_controller_takes_a_list_of_endpoints)
{
    //  a YAML list, or one comma-separated value: stored joined by ','
    char *path = s_write ("agent.yaml", "environment: prod\n"
                                        "controller:\n"
                                        "  - ctl-1.example.com:7400\n"
                                        "  - \"[::1]:7500\"\n"
                                        "controller-key: \"" CURVE_KEY "\"\n"
                                        "signing-key: " SIGN_KEY "\n");
    jad_agent_config_t *config = jad_agent_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (config->controller, "ctl-1.example.com:7400,[::1]:7500");
    const char *cursor = config->controller;
    char item[300];
    cr_assert (jad_endpoint_next (&cursor, item, sizeof item));
    cr_assert_str_eq (item, "ctl-1.example.com:7400");
    cr_assert (jad_endpoint_next (&cursor, item, sizeof item));
    cr_assert_str_eq (item, "[::1]:7500");
    cr_assert_not (jad_endpoint_next (&cursor, item, sizeof item));
    jad_agent_config_destroy (&config);
    free (path);
    path = s_write ("agent.yaml", "environment: prod\n"
                                  "controller: a:7400, b:7400\n"
                                  "controller-key: \"" CURVE_KEY "\"\n"
                                  "signing-key: " SIGN_KEY "\n");
    config = jad_agent_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (config->controller, "a:7400, b:7400");
    jad_agent_config_destroy (&config);
    free (path);
    //  one bad item, an empty one, a nested list: refused, named
    const char *bad[] = {"controller: a:7400,b:70000\n", "controller: a:7400,,b:7400\n",
                         "controller: a:7400,\n", "controller:\n  - a:7400\n  - [b, c]\n"};
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        char *text = NULL;
        cr_assert (asprintf (&text,
                             "environment: prod\n%scontroller-key: \"%s\"\nsigning-key: %s\n",
                             bad[index], CURVE_KEY, SIGN_KEY) > 0);
        path = s_write ("agent.yaml", text);
        cr_assert_null (jad_agent_config_load (path, s_problems), "accepted: %s", bad[index]);
        cr_assert_gt (jad_problems_count (s_problems), 0);
        cr_assert (strstr (s_all (), "key 'controller'"), "%s", s_all ());
        jad_problems_destroy (&s_problems);
        s_problems = jad_problems_new ();
        free (text);
        free (path);
    }
}

Test (config, alert_canary_analysis_keys)
{
    char *path = s_write ("controller.yaml",
                          "environments:\n"
                          "  prod: {}\n"
                          "alerts:\n"
                          "  - { env: prod, metric: errors, above: 0.05, for: 1m }\n"
                          "  - { env: prod, metric: latency, above: 900, for: 1m,\n"
                          "      canary: aggregate, compare: baseline, ratio: 1.5 }\n"
                          "  - { env: prod, metric: rps, below: 1, for: 1m, canary: off }\n"
                          "  - { env: prod, metric: errors, above: 1, for: 1m,\n"
                          "      compare: baseline, difference: 0.02 }\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_eq (config->alert_count, 4);
    cr_assert_null (config->alerts[0].canary, "canary analysis per host by default");
    cr_assert_null (config->alerts[0].compare);
    cr_assert_str_eq (config->alerts[1].canary, "aggregate");
    cr_assert_str_eq (config->alerts[1].compare, "baseline");
    cr_assert_float_eq (config->alerts[1].ratio, 1.5, 1e-12);
    cr_assert_not (config->alerts[1].has_difference);
    cr_assert_str_eq (config->alerts[2].canary, "off");
    cr_assert (config->alerts[3].has_difference);
    cr_assert_float_eq (config->alerts[3].difference, 0.02, 1e-12);
    jad_controller_config_destroy (&config);
    free (path);
}

Test (config, alert_canary_analysis_problems_are_reported)
{
    char *path = s_write ("controller.yaml",
                          "prometheus: http://127.0.0.1:9090\n"
                          "environments:\n"
                          "  prod: {}\n"
                          "alerts:\n"
                          "  - { env: prod, metric: a, above: 1, for: 1m, canary: each }\n"
                          "  - { env: prod, metric: a, above: 1, for: 1m, compare: baseline }\n"
                          "  - { env: prod, metric: a, above: 1, for: 1m, ratio: 2 }\n"
                          "  - { env: prod, metric: a, above: 1, for: 1m, compare: baseline,\n"
                          "      ratio: 0 }\n"
                          "  - { env: prod, metric: a, above: 1, for: 1m, compare: baseline,\n"
                          "      ratio: 2, difference: 1 }\n"
                          "  - { env: prod, metric: a, above: 1, for: 1m, query: up,\n"
                          "      canary: host }\n"
                          "  - { env: prod, metric: a, above: 1, for: 1m, canary: off,\n"
                          "      compare: baseline, difference: 1 }\n"
                          "  - { env: prod, metric: a, above: 1, for: 1m, compare: fleet,\n"
                          "      difference: -1 }\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    cr_assert_eq (jad_problems_count (s_problems), 9, "%s", s_all ());
    s_assert_problem (path, 5, "alert 1: key 'canary': \"each\" is not a canary judgement");
    s_assert_problem (path, 6,
                      "alert 2: key 'compare': give exactly one of 'ratio' or 'difference'");
    s_assert_problem (path, 7, "alert 3: key 'ratio' needs 'compare: baseline'");
    s_assert_problem (path, 9, "alert 4: key 'ratio': must be above 0");
    s_assert_problem (path, 10,
                      "alert 5: key 'compare': give exactly one of 'ratio' or "
                      "'difference'");
    s_assert_problem (path, 13,
                      "alert 6: key 'canary' judges canary hosts by the agents' "
                      "samples: not with 'query'");
    s_assert_problem (path, 15, "alert 7: key 'compare' needs canary analysis");
    s_assert_problem (path, 16, "alert 8: key 'compare': \"fleet\" is not a comparison");
    s_assert_problem (path, 17, "alert 8: key 'difference': must be 0 or more");
    free (path);
}

Test (config, environment_max_failures)
{
    char *path = s_write ("controller.yaml", "environments:\n"
                                             "  dev: { max_failures: 2 }\n"
                                             "  qa: { max_failures: 10% }\n"
                                             "  prod: {}\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (jad_controller_config_env (config, "dev")->max_failures, "2");
    cr_assert_str_eq (jad_controller_config_env (config, "qa")->max_failures, "10%");
    cr_assert_null (jad_controller_config_env (config, "prod")->max_failures);
    jad_controller_config_destroy (&config);
    free (path);
    path = s_write ("controller.yaml", "environments:\n"
                                       "  dev: { max_failures: many }\n"
                                       "  qa: { max_failures: 101% }\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    s_assert_problem (path, 2,
                      "environment 'dev': key 'max_failures': \"many\" is not a number "
                      "of failed hosts");
    s_assert_problem (path, 3, "environment 'qa': key 'max_failures': \"101%\"");
    free (path);
}

//  Reload names what changed: every key, through the descriptors that
//  read it (a check's max_age deep in an environment, a canary key of a
//  rule, a section's key, a named table's entry).
Test (config, controller_changes_are_named_by_key)
{
    char *path = s_write ("one.yaml", s_design_controller);
    jad_controller_config_t *one = jad_controller_config_load (path, s_problems);
    jad_controller_config_t *same = jad_controller_config_load (path, s_problems);
    cr_assert (one && same, "%s", s_all ());
    const char *keys[8];
    cr_assert_eq (jad_controller_config_changed (one, same, keys, 8), 0);

    char *text = NULL;
    cr_assert (asprintf (&text,
                         "%s"
                         "attestation_keys:\n"
                         "  ci: { ed25519: %064d }\n"
                         "smtp: { host: mail.example.com, from: jadugar@example.com }\n"
                         "resend: 700ms\n",
                         s_design_controller, 7) > 0);
    free (path);
    path = s_write ("two.yaml", text);
    jad_controller_config_t *two = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (two, "%s", s_all ());
    cr_assert_eq (jad_controller_config_changed (one, two, keys, 8), 3);
    cr_assert_str_eq (keys[0], "resend");  //  in the format's order, not the file's
    cr_assert_str_eq (keys[1], "attestation_keys");
    cr_assert_str_eq (keys[2], "smtp");
    cr_assert_eq (jad_controller_config_changed (one, two, keys, 1), 1, "bounded by max");

    //  one word deep inside a list of an environment, or a rule's canary
    struct {
        const char *from, *to, *key;
    } cases[] = {
        {"emergency_approvals: [tech-lead, product-owner]",
         "emergency_approvals: [tech-lead, {role: security, when: security}]", "environments"},
        {"bake: 10m", "bake: 11m", "environments"},
        {"action: rollback }", "action: rollback, canary: aggregate }", "alerts"},
        {"Thu 09:00-17:00", "Fri 09:00-17:00", "environments"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char *edited = strdup (s_design_controller);
        cr_assert_not_null (edited);
        char *at = strstr (edited, cases[index].from);
        cr_assert_not_null (at, "%s", cases[index].from);
        char *changed = NULL;
        cr_assert (asprintf (&changed, "%.*s%s%s", (int)(at - edited), edited, cases[index].to,
                             at + strlen (cases[index].from)) > 0);
        free (path);
        path = s_write ("three.yaml", changed);
        jad_controller_config_t *three = jad_controller_config_load (path, s_problems);
        cr_assert_not_null (three, "%s: %s", cases[index].to, s_all ());
        cr_assert_eq (jad_controller_config_changed (one, three, keys, 8), 1, "%s",
                      cases[index].to);
        cr_assert_str_eq (keys[0], cases[index].key);
        jad_controller_config_destroy (&three);
        free (changed);
        free (edited);
    }
    jad_controller_config_destroy (&one);
    jad_controller_config_destroy (&same);
    jad_controller_config_destroy (&two);
    free (text);
    free (path);
}
