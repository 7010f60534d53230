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
