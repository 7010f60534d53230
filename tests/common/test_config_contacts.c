//  test_config_contacts - controller.yaml's contacts:, smtp: and notify:
//  routes: values, today's one-target entries, and every problem with
//  file and line
//  SPDX-License-Identifier: MPL-2.0

#include "jad_config.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_dir;
static jad_problems_t *s_problems;

static void s_setup (void)
{
    s_dir = jt_tempdir ("jad-contacts");
    s_problems = jad_problems_new ();
    cr_assert_not_null (s_problems);
}

static void s_teardown (void)
{
    jad_problems_destroy (&s_problems);
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (contacts, .init = s_setup, .fini = s_teardown);

static char *s_write (const char *text)
{
    char *path = NULL;
    cr_assert (asprintf (&path, "%s/controller.yaml", s_dir) > 0);
    jt_write_file (path, text, 0644);
    return path;
}

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

static const char *s_good = "environments:\n"
                            "  staging: {}\n"
                            "  prod: {}\n"
                            "smtp:\n"
                            "  host: mail.example.com\n"
                            "  port: 587\n"
                            "  from: jadugar@example.com\n"
                            "  starttls: true\n"
                            "  user: jadugar\n"
                            "  password_file: /etc/jadugar/smtp.password\n"
                            "contacts:\n"
                            "  devops:   { email: devops@example.com,\n"
                            "              webhook: https://chat.example.com/hooks/devops }\n"
                            "  security: { email: security@example.com }\n"
                            "  dba:      { command: /usr/local/bin/page-dba }\n"
                            "notify:\n"
                            "  - webhook: https://chat.example.com/hooks/all\n"
                            "  - { to: [devops], events: [\"deploy.*\", \"rollback.*\"],\n"
                            "      envs: [prod] }\n"
                            "  - { to: [security], events: [\"security.*\"] }\n"
                            "  - { to: [devops, dba], events: [approval.needed, plan.paused,\n"
                            "      \"alert.*\", \"incident.*\"] }\n";

Test (contacts, contacts_smtp_and_routes_load)
{
    char *path = s_write (s_good);
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_str_eq (config->smtp_host, "mail.example.com");
    cr_assert_eq (config->smtp_port, 587);
    cr_assert_str_eq (config->smtp_from, "jadugar@example.com");
    cr_assert (config->smtp_starttls);
    cr_assert_str_eq (config->smtp_user, "jadugar");
    cr_assert_str_eq (config->smtp_password_file, "/etc/jadugar/smtp.password");
    cr_assert_eq (config->smtp_timeout_ms, 30000);
    cr_assert_eq (config->contact_count, 3);
    const jad_contact_config_t *devops = jad_controller_config_contact (config, "devops");
    cr_assert_not_null (devops);
    cr_assert_str_eq (devops->email, "devops@example.com");
    cr_assert_str_eq (devops->webhook, "https://chat.example.com/hooks/devops");
    cr_assert_null (devops->command);
    cr_assert_str_eq (jad_controller_config_contact (config, "dba")->command,
                      "/usr/local/bin/page-dba");
    cr_assert_null (jad_controller_config_contact (config, "nobody"));
    cr_assert_eq (config->notify_count, 4);
    //  today's entry: every event, every environment
    const jad_notify_config_t *all = &config->notify[0];
    cr_assert (jad_notify_route_matches (all, "deploy.started", "prod"));
    cr_assert (jad_notify_route_matches (all, "security.firing", NULL));
    const jad_notify_config_t *prod = &config->notify[1];
    cr_assert_eq (prod->to_count, 1);
    cr_assert (jad_notify_route_matches (prod, "deploy.finished", "prod"));
    cr_assert (jad_notify_route_matches (prod, "rollback.started", "prod"));
    cr_assert_not (jad_notify_route_matches (prod, "deploy.finished", "staging"));
    cr_assert_not (jad_notify_route_matches (prod, "deploy.finished", NULL));
    cr_assert_not (jad_notify_route_matches (prod, "alert.firing", "prod"));
    const jad_notify_config_t *security = &config->notify[2];
    cr_assert (jad_notify_route_matches (security, "security.firing", ""));
    cr_assert_not (jad_notify_route_matches (security, "securityx.firing", ""));
    const jad_notify_config_t *approvals = &config->notify[3];
    cr_assert (jad_notify_route_matches (approvals, "approval.needed", "staging"));
    cr_assert (jad_notify_route_matches (approvals, "incident.opened", NULL));
    cr_assert_not (jad_notify_route_matches (approvals, "approval.granted", "staging"));
    jad_controller_config_destroy (&config);
    free (path);
}

Test (contacts, todays_notify_entries_still_load)
{
    char *path = s_write ("notify:\n"
                          "  - command: /usr/local/bin/tell\n"
                          "  - webhook: http://127.0.0.1:9/hook\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_eq (config->notify_count, 2);
    cr_assert_str_eq (config->notify[0].command, "/usr/local/bin/tell");
    cr_assert_str_eq (config->notify[1].webhook, "http://127.0.0.1:9/hook");
    cr_assert_null (config->smtp_host, "no smtp: no email");
    cr_assert_eq (config->smtp_port, 25);
    jad_controller_config_destroy (&config);
    free (path);
}

Test (contacts, event_patterns_match_by_family)
{
    cr_assert (jad_event_pattern_valid ("*"));
    cr_assert (jad_event_pattern_valid ("deploy.*"));
    cr_assert (jad_event_pattern_valid ("approval.needed"));
    cr_assert (jad_event_pattern_valid ("incident.opened"));
    cr_assert_not (jad_event_pattern_valid ("deploys.*"));
    cr_assert_not (jad_event_pattern_valid ("deploy"));
    cr_assert_not (jad_event_pattern_valid ("deploy."));
    cr_assert_not (jad_event_pattern_valid ("deploy.Started"));
    cr_assert_not (jad_event_pattern_valid ("*.started"));
    cr_assert_not (jad_event_pattern_valid (NULL));
    cr_assert (jad_event_matches ("alert.*", "alert.firing"));
    cr_assert_not (jad_event_matches ("alert.*", "alerts.firing"));
    cr_assert_not (jad_event_matches ("alert.*", "alert"));
    cr_assert (jad_event_matches ("plan.paused", "plan.paused"));
    cr_assert_not (jad_event_matches ("plan.paused", "plan.paused2"));
}

Test (contacts, every_problem_is_named_with_its_line)
{
    char *path = s_write ("environments:\n"                                               //  1
                          "  prod: {}\n"                                                  //  2
                          "smtp:\n"                                                       //  3
                          "  host: mail.example.com\n"                                    //  4
                          "  user: jadugar\n"                                             //  5
                          "contacts:\n"                                                   //  6
                          "  devops: { email: \"devops at example\" }\n"                  //  7
                          "  nobody: { phone: 555 }\n"                                    //  8
                          "  ops: { webhook: ftp://x }\n"                                 //  9
                          "notify:\n"                                                     //  10
                          "  - { to: [devops, secuirty] }\n"                              //  11
                          "  - { to: [devops], events: [deploy.done, \"deploys.*\"] }\n"  //  12
                          "  - { to: [devops], envs: [production] }\n"                    //  13
                          "  - { events: [\"*\"] }\n"                                     //  14
                          "  - \"https://example.com\"\n");                               //  15
    cr_assert_null (jad_controller_config_load (path, s_problems));
    s_assert_problem (path, 4, "smtp: missing required key 'from'");
    s_assert_problem (path, 5, "key 'user' needs 'password_file'");
    s_assert_problem (path, 5, "key 'user' needs 'starttls: true'");
    s_assert_problem (path, 7, "key 'email': \"devops at example\" is not an email address");
    s_assert_problem (path, 8, "contact 'nobody': unknown key 'phone'");
    s_assert_problem (path, 8, "contact 'nobody': missing required key 'email'");
    s_assert_problem (path, 9, "key 'webhook': \"ftp://x\" is not an http:// or https:// URL");
    s_assert_problem (path, 11, "notify 1: key 'to': unknown contact 'secuirty'");
    s_assert_problem (path, 12, "key 'events': \"deploys.*\" is not an event pattern");
    s_assert_problem (path, 13, "notify 3: key 'envs': unknown environment 'production'");
    s_assert_problem (path, 14, "notify 4: missing required key 'to'");
    s_assert_problem (path, 15, "expected a mapping");
    free (path);
}

Test (contacts, email_needs_a_relay)
{
    char *path = s_write ("contacts:\n"
                          "  devops: { email: devops@example.com }\n"
                          "notify:\n"
                          "  - email: oncall@example.com\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    s_assert_problem (path, 2, "contact 'devops': key 'email' needs the top-level key 'smtp'");
    s_assert_problem (path, 4, "notify 1: key 'email' needs the top-level key 'smtp'");
    free (path);
}

Test (contacts, password_is_never_in_the_file)
{
    char *path = s_write ("smtp: { host: mail.example.com, from: j@example.com,\n"
                          "        password: hunter2 }\n");
    cr_assert_null (jad_controller_config_load (path, s_problems));
    s_assert_problem (path, 2, "unknown key 'password'");
    free (path);
}

Test (contacts, rules_on_security_series_have_no_env)
{
    char *path =
        s_write ("environments: { prod: {} }\n"
                 "alerts:\n"
                 "  - { metric: jadugar_security_bad_token, above: 5, window: 1m, for: 0s }\n"
                 "  - { env: prod, metric: errors, above: 1, for: 10s }\n");
    jad_controller_config_t *config = jad_controller_config_load (path, s_problems);
    cr_assert_not_null (config, "%s", s_all ());
    cr_assert_null (config->alerts[0].env);
    cr_assert_eq (config->alerts[0].min_samples, 1, "one value from the controller's start");
    cr_assert_eq (config->alerts[0].window_ms, 60000);
    cr_assert_str_eq (config->alerts[1].env, "prod");
    cr_assert_eq (config->alerts[1].min_samples, 3);
    jad_controller_config_destroy (&config);
    free (path);
    cr_assert (jad_controller_series_valid ("jadugar_security_refusals"));
    cr_assert (jad_controller_series_valid ("jadugar_security_stale_epoch"));
    cr_assert_not (jad_controller_series_valid ("jadugar_security_"));
    cr_assert_not (jad_controller_series_valid ("http_errors"));
    path = s_write ("environments: { prod: {} }\n"                                     //  1
                    "alerts:\n"                                                        //  2
                    "  - { env: prod, metric: jadugar_security_refusals, above: 1,\n"  //  3
                    "      for: 0s }\n"                                                //  4
                    "  - { metric: jadugar_security_typo, above: 1, for: 0s }\n"       //  5
                    "  - { metric: jadugar_security_zap_denied, above: 1, for: 0s,\n"  //  6
                    "      action: rollback }\n"                                       //  7
                    "  - { metric: http_errors, above: 1, for: 0s }\n");               //  8
    cr_assert_null (jad_controller_config_load (path, s_problems));
    s_assert_problem (path, 3,
                      "alert 1: key 'env': 'jadugar_security_refusals' is the "
                      "controller's own series");
    s_assert_problem (path, 5,
                      "alert 2: key 'metric': 'jadugar_security_typo' is not a "
                      "controller series (known: jadugar_security_refusals,");
    s_assert_problem (path, 7,
                      "alert 3: key 'action': a rule on 'jadugar_security_zap_denied' "
                      "alerts only");
    s_assert_problem (path, 8, "alert 4: missing required key 'env'");
    free (path);
}
