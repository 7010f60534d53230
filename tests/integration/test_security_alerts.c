//  test_security_alerts - refusals are alertable: init's default rule on
//  the controller's security series fires on a flood of bad enrollment
//  tokens and emails the `security` contact through a real SMTP server
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"
#include "jad_wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jt_fleet_t *fleet;
static jt_smtp_t *smtp;

static void s_setup (void)
{
    fleet = jt_fleet_new ();
    smtp = jt_smtp_new ();
}

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
    jt_smtp_destroy (&smtp);
}

TestSuite (security_alerts, .init = s_setup, .fini = s_teardown, .timeout = 180);

static bool s_email_arrived (void *arg)
{
    (void)arg;
    char *message = jt_smtp_message (smtp, 1);
    free (message);
    return message != NULL;
}

typedef struct {
    const char *needle;
} s_wait_t;

static bool s_alerts_have (void *arg)
{
    char *output = NULL;
    jt_jadctl (fleet, &output, "--json alerts");
    bool found = output && strstr (output, ((s_wait_t *)arg)->needle);
    free (output);
    return found;
}

static bool s_metrics_have (void *arg)
{
    char *output = NULL;
    jt_run (&output, "curl -s http://127.0.0.1:%d/metrics", fleet->port + 3);
    bool found = output && strstr (output, (const char *)arg);
    free (output);
    return found;
}

Test (security_alerts, a_flood_of_bad_tokens_fires_inits_rule_and_emails_security)
{
    //  init's configuration as written, its relay moved to the test's
    char line[64];
    snprintf (line, sizeof line, "  port: %d", jt_smtp_port (smtp));
    jt_fleet_config_line (fleet, "  port: 25", line);
    jt_fleet_restart_controller (fleet);
    cr_assert (jt_fleet_wait_status (fleet, "\"agents\"", 1, 20000), "controller did not start");
    s_wait_t quiet = {"jadugar_security_refusals"};
    cr_assert (s_alerts_have (&quiet), "init wrote no rule on the security series");
    char *output = NULL;
    jt_jadctl (fleet, &output, "--json alerts");
    cr_assert_null (strstr (output, "\"firing\""), "fired before any refusal:\n%s", output);
    free (output);

    //  a guesser: a new key and connection for each wrong token (the
    //  controller cuts a connection whose enrollment it refuses)
    for (int attempt = 0; attempt < 30; attempt++) {
        zcert_t *cert = zcert_new ();
        zsock_t *dealer = zsock_new (ZMQ_DEALER);
        cr_assert (cert && dealer);
        zcert_apply (cert, dealer);
        zsock_set_curve_serverkey (dealer, fleet->curve_key);
        zsock_set_linger (dealer, 0);
        zsock_set_rcvtimeo (dealer, 2000);
        cr_assert_eq (zsock_connect (dealer, "tcp://127.0.0.1:%d", fleet->port + 1), 0);
        char token[64];
        snprintf (token, sizeof token, "guess%026d", attempt);
        jad_agent_msg_t enroll = {.kind = JAD_AGENT_MSG_ENROLL};
        enroll.enroll.name = "guesser";
        enroll.enroll.environment = "dev";
        enroll.enroll.token = token;
        zchunk_t *wire = jad_agent_msg_encode (&enroll);
        cr_assert_not_null (wire);
        cr_assert_eq (zsock_send (dealer, "b", zchunk_data (wire), zchunk_size (wire)), 0);
        zchunk_destroy (&wire);
        //  the refusal, or the cut: either way this try is over
        zframe_t *reply = zframe_recv (dealer);
        zframe_destroy (&reply);
        zsock_destroy (&dealer);
        zcert_destroy (&cert);
    }
    s_wait_t firing = {"\"state\": \"firing\""};
    cr_assert (jt_wait_for (s_alerts_have, &firing, 30000), "the security rule never fired");
    cr_assert (jt_wait_for (s_email_arrived, NULL, 30000), "no email to the security contact");
    char *message = jt_smtp_message (smtp, 1);
    cr_assert (strstr (message, "X-Envelope-To: root@localhost\r\n"), "%s", message);
    cr_assert (strstr (message, "Subject: [jadugar] security.firing jadugar_security_refusals "
                                "firing\r\n"),
               "%s", message);
    cr_assert (strstr (message, "\r\nmetric: jadugar_security_refusals\r\n"), "%s", message);
    cr_assert (strstr (message, "\r\nthreshold: 20"), "%s", message);
    cr_assert (strstr (message, "\r\nenv: null\r\n"), "%s", message);
    free (message);
    //  the email is counted on /metrics
    cr_assert (jt_wait_for (s_metrics_have,
                            "jadugar_notification_emails_total{outcome=\"sent\"} 1\n", 20000),
               "the sent email is not on /metrics");
    //  the refusals are counted where operators look too
    jt_jadctl (fleet, &output, "--json status");
    cr_assert (strstr (output, "\"enroll_token_wrong\""), "%s", output);
    free (output);
}
