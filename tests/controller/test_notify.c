//  test_notify - notification delivery: webhooks, commands, retries, bound
//  SPDX-License-Identifier: MPL-2.0
//
//  The notifier's thread delivers to a real HTTP server on loopback (the
//  test's sink) and runs a real command that writes to a file.

#include "ctl_notify.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    ctl_notify_t *notify;
    uint64_t delivered;
    uint64_t failed;
    uint64_t dropped;
} s_counts_t;

static bool s_counts_reached (void *arg)
{
    s_counts_t *want = arg;
    return ctl_notify_delivered (want->notify) >= want->delivered &&
           ctl_notify_failed (want->notify) >= want->failed &&
           ctl_notify_dropped (want->notify) >= want->dropped;
}

static bool s_sink_holds (void *arg)
{
    return jt_sink_holding ((jt_sink_t *)arg) > 0;
}

//  A config with one webhook to the sink (and a command if given).
static void s_config (jad_controller_config_t *config, jad_notify_config_t *targets, char *url,
                      size_t url_len, jt_sink_t *sink, char *command)
{
    memset (config, 0, sizeof *config);
    memset (targets, 0, 2 * sizeof *targets);
    snprintf (url, url_len, "http://127.0.0.1:%d/hook", jt_sink_port (sink));
    targets[0].webhook = url;
    targets[1].command = command;
    config->notify = targets;
    config->notify_count = command ? 2 : 1;
}

static void s_send (ctl_notify_t *notify, const char *kind, int number)
{
    //  a threshold as an operator writes it (0.05 is not exact in binary)
    json_t *fields =
        json_pack ("{s:s, s:i, s:f}", "plan", "p1", "number", number, "threshold", 0.05);
    ctl_notify_send (notify, kind, fields);
    json_decref (fields);
}

Test (notify, webhook_and_command_get_each_event)
{
    char *dir = jt_tempdir ("jadnotify");
    char script[PATH_MAX], out[PATH_MAX], text[PATH_MAX + 128], url[128];
    snprintf (script, sizeof script, "%s/notify.sh", dir);
    snprintf (out, sizeof out, "%s/events.txt", dir);
    snprintf (text, sizeof text, "#!/bin/sh\necho \"$JADUGAR_EVENT $JADUGAR_EVENT_JSON\" >> '%s'\n",
              out);
    jt_write_file (script, text, 0755);
    jt_sink_t *sink = jt_sink_new (0);
    jad_controller_config_t config;
    jad_notify_config_t targets[2];
    s_config (&config, targets, url, sizeof url, sink, script);
    ctl_notify_t *notify = ctl_notify_new (&config, 0);
    cr_assert_not_null (notify);
    s_send (notify, "deploy.started", 1);
    s_send (notify, "alert.firing", 2);
    s_counts_t want = {notify, 2, 0, 0};
    cr_assert (jt_wait_for (s_counts_reached, &want, 20000), "events not delivered");
    char *bodies = jt_sink_bodies (sink);
    cr_assert (strstr (bodies, "POST /hook HTTP/1.1 {"), "%s", bodies);
    cr_assert (strstr (bodies, "\"event\":\"deploy.started\""), "%s", bodies);
    cr_assert (strstr (bodies, "\"event\":\"alert.firing\""), "%s", bodies);
    cr_assert (strstr (bodies, "\"number\":2"), "%s", bodies);
    cr_assert (strstr (bodies, "\"threshold\":0.05,") || strstr (bodies, "\"threshold\":0.05}"),
               "numbers as written: %s", bodies);
    free (bodies);
    char *written = jt_read_file (out);
    cr_assert_not_null (written, "the command did not write");
    cr_assert (strstr (written, "deploy.started {"), "%s", written);
    cr_assert (strstr (written, "alert.firing {"), "%s", written);
    free (written);
    cr_assert_eq (ctl_notify_queued (notify), 2);
    cr_assert_eq (ctl_notify_failed (notify), 0);
    ctl_notify_destroy (&notify);
    jt_sink_destroy (&sink);
    jt_rmtree (dir);
    free (dir);
}

Test (notify, failed_delivery_is_retried)
{
    jt_sink_t *sink = jt_sink_new (2);  //  500, 500, then 200
    jad_controller_config_t config;
    jad_notify_config_t targets[2];
    char url[128];
    s_config (&config, targets, url, sizeof url, sink, NULL);
    ctl_notify_t *notify = ctl_notify_new (&config, 0);
    s_send (notify, "rollback.started", 1);
    s_counts_t want = {notify, 1, 0, 0};
    cr_assert (jt_wait_for (s_counts_reached, &want, 20000), "event not delivered after retries");
    cr_assert_eq (jt_sink_count (sink), 3, "three attempts expected, saw %d", jt_sink_count (sink));
    cr_assert_eq (ctl_notify_failed (notify), 0);
    ctl_notify_destroy (&notify);
    jt_sink_destroy (&sink);
}

Test (notify, gives_up_after_three_attempts)
{
    jt_sink_t *sink = jt_sink_new (1000);
    jad_controller_config_t config;
    jad_notify_config_t targets[2];
    char url[128];
    s_config (&config, targets, url, sizeof url, sink, NULL);
    ctl_notify_t *notify = ctl_notify_new (&config, 0);
    s_send (notify, "deploy.finished", 1);
    s_counts_t want = {notify, 0, 1, 0};
    cr_assert (jt_wait_for (s_counts_reached, &want, 20000), "never gave up");
    cr_assert_eq (jt_sink_count (sink), 3);
    ctl_notify_destroy (&notify);
    jt_sink_destroy (&sink);
}

//  Deploys to a webhook (the sink), alerts to a command that appends
//  "KIND JSON" lines to `out`: two targets in a temp dir.
typedef struct {
    char *dir;
    char out[PATH_MAX];
    char script[PATH_MAX];
    char url[128];
    jad_controller_config_t config;
    jad_notify_config_t targets[2];
} s_split_t;

static ctl_notify_t *s_split_new (s_split_t *split, jt_sink_t *sink)
{
    static char *deploys[] = {"deploy.*"}, *alerts[] = {"alert.*"};
    split->dir = jt_tempdir ("jadnotify");
    snprintf (split->script, sizeof split->script, "%s/notify.sh", split->dir);
    snprintf (split->out, sizeof split->out, "%s/events.txt", split->dir);
    char text[PATH_MAX + 128];
    snprintf (text, sizeof text, "#!/bin/sh\necho \"$JADUGAR_EVENT $JADUGAR_EVENT_JSON\" >> '%s'\n",
              split->out);
    jt_write_file (split->script, text, 0755);
    s_config (&split->config, split->targets, split->url, sizeof split->url, sink, split->script);
    split->targets[0].events = deploys;
    split->targets[0].event_count = 1;
    split->targets[1].events = alerts;
    split->targets[1].event_count = 1;
    ctl_notify_t *notify = ctl_notify_new (&split->config, 0);
    cr_assert_not_null (notify);
    return notify;
}

static void s_split_end (s_split_t *split)
{
    jt_rmtree (split->dir);
    free (split->dir);
}

//  A webhook that keeps failing holds up only itself: an event for another
//  target goes while the first waits to be tried again. The same target
//  still gets its events in order.
Test (notify, a_failing_target_holds_up_only_its_own_events)
{
    jt_sink_t *sink = jt_sink_new (1000);  //  always 500
    s_split_t split;
    ctl_notify_t *notify = s_split_new (&split, sink);
    const char *out = split.out;
    s_send (notify, "deploy.started", 1);
    s_send (notify, "deploy.finished", 2);
    s_send (notify, "alert.firing", 3);
    //  the alert's command runs while the first deploy event is still
    //  being tried (a pause of 1 s, then 2 s, between its three attempts)
    cr_assert (jt_wait_file_has (out, "alert.firing", 20000), "the command never ran");
    cr_assert_eq (ctl_notify_failed (notify), 0,
                  "the alert waited until the webhook's first event was given up");
    //  both deploy events are given up, each after three attempts, in order
    s_counts_t want = {notify, 1, 2, 0};
    cr_assert (jt_wait_for (s_counts_reached, &want, 30000), "delivered %llu failed %llu",
               (unsigned long long)ctl_notify_delivered (notify),
               (unsigned long long)ctl_notify_failed (notify));
    cr_assert_eq (jt_sink_count (sink), 6);
    char *bodies = jt_sink_bodies (sink);
    char *first = strstr (bodies, "\"number\":1");
    char *second = strstr (bodies, "\"number\":2");
    cr_assert (first && second, "%s", bodies);
    cr_assert_eq (jt_count (bodies, "\"number\":1"), 3, "%s", bodies);
    cr_assert_eq (jt_count (bodies, "\"number\":2"), 3, "%s", bodies);
    //  the second deploy event only once the first was given up
    char *last_first = first;
    for (char *at = first; (at = strstr (at + 1, "\"number\":1"));)
        last_first = at;
    cr_assert (last_first < second, "the webhook got its events out of order:\n%s", bodies);
    free (bodies);
    ctl_notify_destroy (&notify);
    jt_sink_destroy (&sink);
    s_split_end (&split);
}

//  A webhook that takes the request and never answers: each attempt waits
//  out its 5 s timeout. Meanwhile the other target's events go at once,
//  and the webhook's events still arrive in order once it answers.
Test (notify, a_hanging_target_holds_up_only_its_own_events)
{
    jt_sink_t *sink = jt_sink_new (0);
    jt_sink_hold (sink, true);
    s_split_t split;
    ctl_notify_t *notify = s_split_new (&split, sink);
    const char *out = split.out;
    s_send (notify, "deploy.started", 1);
    cr_assert (jt_wait_for (s_sink_holds, sink, 20000), "the webhook never got its request");
    s_send (notify, "deploy.finished", 2);
    for (int number = 3; number <= 5; number++)
        s_send (notify, "alert.firing", number);
    //  every alert while the webhook's first transfer still hangs
    cr_assert (jt_wait_file_has (out, "\"number\":5", 20000), "the alerts never ran");
    cr_assert_eq (jt_sink_holding (sink), 1, "the alerts waited for the hanging webhook");
    cr_assert_eq (jt_sink_count (sink), 1, "one request at a time to the webhook");
    char *lines = jt_read_file (out);
    cr_assert (strstr (lines, "\"number\":3") < strstr (lines, "\"number\":4") &&
                   strstr (lines, "\"number\":4") < strstr (lines, "\"number\":5"),
               "the command got its events out of order:\n%s", lines);
    free (lines);
    jt_sink_hold (sink, false);
    s_counts_t want = {notify, 5, 0, 0};
    cr_assert (jt_wait_for (s_counts_reached, &want, 30000), "delivered %llu failed %llu",
               (unsigned long long)ctl_notify_delivered (notify),
               (unsigned long long)ctl_notify_failed (notify));
    char *bodies = jt_sink_bodies (sink);
    char *first = strstr (bodies, "\"number\":1"), *second = strstr (bodies, "\"number\":2");
    cr_assert (first && second && first < second, "the webhook's events out of order:\n%s", bodies);
    //  its first transfer was answered, not cut short by its timeout
    //  while the alerts waited behind it
    cr_assert_eq (jt_count (bodies, "\"number\":1"), 1, "%s", bodies);
    free (bodies);
    ctl_notify_destroy (&notify);
    jt_sink_destroy (&sink);
    s_split_end (&split);
}

Test (notify, queue_is_bounded_oldest_dropped)
{
    jt_sink_t *sink = jt_sink_new (0);
    jt_sink_hold (sink, true);
    jad_controller_config_t config;
    jad_notify_config_t targets[2];
    char url[128];
    s_config (&config, targets, url, sizeof url, sink, NULL);
    ctl_notify_t *notify = ctl_notify_new (&config, 4);
    //  the first event is being delivered to a receiver that does not answer
    s_send (notify, "alert.pending", 0);
    cr_assert (jt_wait_for (s_sink_holds, sink, 20000), "first delivery never arrived");
    for (int number = 1; number <= 20; number++)
        s_send (notify, "alert.firing", number);
    jt_sink_hold (sink, false);
    //  the first is delivered; of the 20 behind it only the newest 4 stay
    s_counts_t want = {notify, 5, 0, 16};
    cr_assert (jt_wait_for (s_counts_reached, &want, 20000), "delivered %llu dropped %llu",
               (unsigned long long)ctl_notify_delivered (notify),
               (unsigned long long)ctl_notify_dropped (notify));
    cr_assert_eq (ctl_notify_dropped (notify), 16);
    cr_assert_eq (ctl_notify_delivered (notify), 5);
    char *bodies = jt_sink_bodies (sink);
    cr_assert (strstr (bodies, "\"number\":20"), "%s", bodies);
    cr_assert (strstr (bodies, "\"number\":17"), "%s", bodies);
    cr_assert_null (strstr (bodies, "\"number\":16"), "an old event survived:\n%s", bodies);
    free (bodies);
    ctl_notify_destroy (&notify);
    jt_sink_destroy (&sink);
}

//  --------------------------------------------------------------------------
//  Routes and email: a real SMTP server (tests/support/smtp_sink.py,
//  python3-aiosmtpd) on a free port

static bool s_emails_sent (void *arg)
{
    s_counts_t *want = arg;
    return ctl_notify_emails_sent (want->notify) >= want->delivered;
}

Test (notify, routes_send_email_through_a_real_relay)
{
    jt_smtp_t *sink = jt_smtp_new ();
    char *dir = jt_tempdir ("jadroutes");
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller.yaml", dir);
    char *yaml = NULL;
    cr_assert (asprintf (&yaml,
                         "environments: { staging: {}, prod: {} }\n"
                         "smtp: { host: 127.0.0.1, port: %d, from: jadugar@example.com,"
                         "        timeout: 10s }\n"
                         "contacts:\n"
                         "  devops:   { email: devops@example.com }\n"
                         "  security: { email: security@example.com }\n"
                         "  dba:      { email: dba@example.com }\n"
                         "notify:\n"
                         "  - { to: [devops], events: [\"deploy.*\"], envs: [prod] }\n"
                         "  - { to: [devops, security], events: [\"security.*\"] }\n"
                         "  - { to: [dba], envs: [staging] }\n",
                         jt_smtp_port (sink)) > 0);
    jt_write_file (path, yaml, 0644);
    free (yaml);
    jad_problems_t *problems = jad_problems_new ();
    jad_controller_config_t *config = jad_controller_config_load (path, problems);
    cr_assert_not_null (config, "%s", problems ? jad_problems_get (problems, 0) : "");
    ctl_notify_t *notify = ctl_notify_new (config, 0);
    cr_assert_not_null (notify);
    //  to devops only (prod deploys); the staging one to dba only
    json_t *fields = json_pack ("{s:s, s:s, s:s, s:s, s:f}", "env", "prod", "app", "web", "version",
                                "1.4.2", "state", "succeeded", "threshold", 0.05);
    ctl_notify_send (notify, "deploy.finished", fields);
    json_object_set_new (fields, "env", json_string ("staging"));
    ctl_notify_send (notify, "deploy.finished", fields);
    json_decref (fields);
    //  no environment: to devops and security, once each
    fields = json_pack ("{s:s, s:s}", "metric", "jadugar_security_bad_token", "to", "firing");
    ctl_notify_send (notify, "security.firing", fields);
    json_decref (fields);
    //  routed nowhere: no route takes alerts in prod
    fields = json_pack ("{s:s}", "env", "prod");
    ctl_notify_send (notify, "alert.firing", fields);
    json_decref (fields);
    s_counts_t want = {notify, 4, 0, 0};
    cr_assert (jt_wait_for (s_emails_sent, &want, 30000), "emails sent: %llu",
               (unsigned long long)ctl_notify_emails_sent (notify));
    want.delivered = 3;
    cr_assert (jt_wait_for (s_counts_reached, &want, 30000));
    cr_assert_eq (ctl_notify_failed (notify), 0);
    char *all = calloc (1, 1);
    for (int number = 1; number <= 4; number++) {
        char *message = jt_smtp_message (sink, number);
        cr_assert_not_null (message, "message %d missing", number);
        char *joined = NULL;
        cr_assert (asprintf (&joined, "%s\n=====\n%s", all, message) > 0);
        free (all);
        free (message);
        all = joined;
    }
    cr_assert_null (jt_smtp_message (sink, 5), "one email too many:\n%s", all);
    cr_assert (strstr (all, "X-Envelope-From: jadugar@example.com\r\n"
                            "X-Envelope-To: devops@example.com\r\n"),
               "%s", all);
    cr_assert (strstr (all, "Subject: [jadugar] deploy.finished prod web 1.4.2 succeeded\r\n"),
               "%s", all);
    cr_assert (strstr (all, "Subject: [jadugar] deploy.finished staging web 1.4.2 succeeded\r\n"),
               "%s", all);
    cr_assert (strstr (all, "X-Envelope-To: dba@example.com\r\n"), "%s", all);
    cr_assert (strstr (all, "\r\nevent: deploy.finished\r\n"), "%s", all);
    cr_assert (strstr (all, "\r\napp: web\r\n"), "%s", all);
    cr_assert (strstr (all, "\r\nthreshold: 0.05\r\n"), "numbers as written: %s", all);
    cr_assert (strstr (all, "Subject: [jadugar] security.firing jadugar_security_bad_token "
                            "firing\r\n"),
               "%s", all);
    cr_assert_eq (jt_count (all, "X-Envelope-To: security@example.com"), 1, "%s", all);
    cr_assert_eq (jt_count (all, "X-Envelope-To: devops@example.com"), 2, "%s", all);
    cr_assert_null (strstr (all, "alert.firing"), "%s", all);
    free (all);
    ctl_notify_destroy (&notify);
    jad_controller_config_destroy (&config);
    jad_problems_destroy (&problems);
    jt_smtp_destroy (&sink);
    jt_rmtree (dir);
    free (dir);
}

Test (notify, a_failing_relay_is_logged_and_counted)
{
    int fd = -1;
    int port = jt_closed_port (&fd);
    jad_contact_config_t contact = {.name = "devops", .email = "devops@example.com"};
    char *to[] = {"devops"};
    jad_notify_config_t route = {.to = to, .to_count = 1};
    jad_controller_config_t config = {.notify = &route,
                                      .notify_count = 1,
                                      .contacts = &contact,
                                      .contact_count = 1,
                                      .smtp_host = "127.0.0.1",
                                      .smtp_port = (uint16_t)port,
                                      .smtp_from = "jadugar@example.com",
                                      .smtp_timeout_ms = 5000};
    ctl_notify_t *notify = ctl_notify_new (&config, 0);
    cr_assert_not_null (notify);
    s_send (notify, "plan.paused", 1);
    s_counts_t want = {notify, 0, 1, 0};
    cr_assert (jt_wait_for (s_counts_reached, &want, 30000), "never gave up");
    cr_assert_eq (ctl_notify_emails_failed (notify), 1);
    cr_assert_eq (ctl_notify_emails_sent (notify), 0);
    cr_assert_eq (ctl_notify_delivered (notify), 0);
    ctl_notify_destroy (&notify);
    close (fd);
}

Test (notify, email_text_is_one_subject_line_and_field_lines)
{
    char *subject = NULL, *message = NULL;
    cr_assert_eq (ctl_notify_email_format ("j@example.com", "ops@example.com",
                                           "{\"event\":\"plan.paused\",\"env\":\"prod\","
                                           "\"app\":\"web\\r\\nBcc: x@evil\",\"hosts\":[1,2],"
                                           "\"reason\":\"bake\\nfailed\"}",
                                           &subject, &message),
                  0);
    cr_assert_str_eq (subject, "[jadugar] plan.paused prod web??Bcc: x@evil");
    cr_assert (strstr (message, "\r\nSubject: [jadugar] plan.paused prod web??Bcc: x@evil\r\n"),
               "%s", message);
    cr_assert_null (strstr (message, "\r\nBcc:"), "a header from an event field: %s", message);
    cr_assert (strstr (message, "\r\nreason: bake failed\r\n"), "%s", message);
    cr_assert (strstr (message, "\r\nhosts: [1,2]\r\n"), "%s", message);
    cr_assert (strstr (message, "\r\n\r\nevent: plan.paused\r\n"), "%s", message);
    free (subject);
    free (message);
    //  the event and its time lead, whatever the order of the fields
    cr_assert_eq (ctl_notify_email_format ("j@example.com", "ops@example.com",
                                           "{\"env\":\"prod\",\"event\":\"deploy.started\","
                                           "\"time\":\"2026-12-06T12:00:00Z\"}",
                                           &subject, &message),
                  0);
    cr_assert (strstr (message, "\r\n\r\nevent: deploy.started\r\ntime: 2026-12-06T12:00:00Z\r\n"
                                "env: prod\r\n"),
               "%s", message);
    free (subject);
    free (message);
    cr_assert_eq (
        ctl_notify_email_format ("j@example.com", "o@example.com", "[1]", &subject, &message), -1);
    cr_assert_null (subject);
}

//  SIGHUP while a webhook is being delivered (an operator moves the
//  webhook to another URL as a deploy notifies): the event in flight, and
//  the one queued behind it, keep the targets they were routed to; the
//  next event goes to the new URL only; nothing is lost or sent twice.
Test (notify, reconfigured_while_delivering)
{
    jt_sink_t *old_sink = jt_sink_new (0), *new_sink = jt_sink_new (0);
    jt_sink_hold (old_sink, true);
    jad_controller_config_t config, fresh;
    jad_notify_config_t targets[2], fresh_targets[2];
    char url[128], fresh_url[128];
    s_config (&config, targets, url, sizeof url, old_sink, NULL);
    ctl_notify_t *notify = ctl_notify_new (&config, 0);
    cr_assert_not_null (notify);
    s_send (notify, "deploy.started", 1);
    cr_assert (jt_wait_for (s_sink_holds, old_sink, 20000), "the first event never arrived");
    s_send (notify, "deploy.succeeded", 2);  //  queued behind it, old routes

    s_config (&fresh, fresh_targets, fresh_url, sizeof fresh_url, new_sink, NULL);
    cr_assert_eq (ctl_notify_configure (notify, &fresh), 0);
    s_send (notify, "alert.firing", 3);  //  new routes
    jt_sink_hold (old_sink, false);

    s_counts_t want = {notify, 3, 0, 0};
    cr_assert (jt_wait_for (s_counts_reached, &want, 30000), "events not delivered");
    char *old_bodies = jt_sink_bodies (old_sink);
    char *new_bodies = jt_sink_bodies (new_sink);
    cr_assert_eq (jt_count (old_bodies, "\"event\":\"deploy.started\""), 1, "%s", old_bodies);
    cr_assert_eq (jt_count (old_bodies, "\"event\":\"deploy.succeeded\""), 1, "%s", old_bodies);
    cr_assert_eq (jt_count (old_bodies, "alert.firing"), 0, "%s", old_bodies);
    cr_assert_eq (jt_count (new_bodies, "\"event\":\"alert.firing\""), 1, "%s", new_bodies);
    cr_assert_eq (jt_count (new_bodies, "deploy."), 0, "%s", new_bodies);
    cr_assert_eq (ctl_notify_failed (notify), 0);
    free (old_bodies);
    free (new_bodies);
    ctl_notify_destroy (&notify);
    jt_sink_destroy (&old_sink);
    jt_sink_destroy (&new_sink);
}
