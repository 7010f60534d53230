//  test_sampler - the agent's metrics text parser and bounded sample buffer (agt_metrics)
//  SPDX-License-Identifier: MPL-2.0

#include "agt_metrics.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

static const char s_exposition[] =
    "# HELP http_requests_total Requests.\n"
    "# TYPE http_requests_total counter\n"
    "http_requests_total{code=\"200\",method=\"get\"} 1027 1395066363000\n"
    "http_requests_total{code=\"500\", method=\"get\"} 3\n"
    "\n"
    "# TYPE temperature gauge\n"
    "temperature -3.5e1\n"
    "# TYPE latency_seconds histogram\n"
    "latency_seconds_bucket{le=\"0.1\"} 24054\n"
    "latency_seconds_bucket{le=\"+Inf\"} 144320\n"
    "latency_seconds_sum 53423\n"
    "latency_seconds_count 144320\n"
    "rpc_duration_seconds{quantile=\"0.99\"} NaN\n"
    "label_with_blank{path=\"/a b\"} 1\n"
    "this is not a sample\n"
    "9starts_with_digit 1\n"
    "no_value\n";

//  Value of series in a batch, or -1e9.
static double s_value (const jad_metric_batch_t *batch, const char *series)
{
    for (size_t index = 0; index < batch->sample_count; index++)
        if (strcmp (batch->names[batch->name_index[index]], series) == 0)
            return batch->values[index];
    return -1e9;
}

Test (agent_metrics, parses_prometheus_text)
{
    agt_samples_t *samples = agt_samples_new (100);
    size_t bad = 0;
    size_t stored = agt_metrics_parse (samples, s_exposition, 1000, &bad);
    cr_assert_eq (stored, 8, "stored %zu", stored);
    cr_assert_eq (bad, 3, "bad lines %zu", bad);
    jad_metric_batch_t *batch = agt_samples_peek (samples, 100);
    cr_assert_not_null (batch);
    cr_assert_float_eq (s_value (batch, "http_requests_total{code=\"200\",method=\"get\"}"), 1027,
                        1e-9);
    cr_assert_float_eq (s_value (batch, "http_requests_total{code=\"500\",method=\"get\"}"), 3,
                        1e-9, "blanks between labels are not part of the series");
    cr_assert_float_eq (s_value (batch, "temperature"), -35, 1e-9);
    cr_assert_float_eq (s_value (batch, "latency_seconds_bucket{le=\"+Inf\"}"), 144320, 1e-9);
    cr_assert_float_eq (s_value (batch, "label_with_blank{path=\"/a_b\"}"), 1, 1e-9);
    cr_assert_eq (batch->times[0], 1000);
    for (size_t index = 0; index < batch->name_count; index++)
        cr_assert (jad_series_valid (batch->names[index]), "%s", batch->names[index]);
    jad_metric_batch_destroy (&batch);
    agt_samples_destroy (&samples);
}

Test (agent_metrics, command_output_is_name_value_lines)
{
    agt_samples_t *samples = agt_samples_new (10);
    cr_assert_eq (agt_metrics_parse (samples, "http_error_rate 0.25\r\nqueue.depth 7\n", 5, NULL),
                  2);
    jad_metric_batch_t *batch = agt_samples_peek (samples, 10);
    cr_assert_float_eq (s_value (batch, "http_error_rate"), 0.25, 1e-12);
    cr_assert_float_eq (s_value (batch, "queue.depth"), 7, 1e-12);
    jad_metric_batch_destroy (&batch);
    agt_samples_destroy (&samples);
}

Test (agent_metrics, full_buffer_drops_oldest_and_counts)
{
    agt_samples_t *samples = agt_samples_new (3);
    for (int index = 0; index < 5; index++)
        agt_samples_add (samples, "x", 100 + index, index);
    cr_assert_eq (agt_samples_count (samples), 3);
    cr_assert_eq (agt_samples_dropped (samples), 2);
    jad_metric_batch_t *batch = agt_samples_peek (samples, 2);
    cr_assert_eq (batch->sample_count, 2);
    cr_assert_eq (batch->times[0], 102, "the oldest samples must go first");
    cr_assert_eq (batch->dropped, 2);
    jad_metric_batch_destroy (&batch);
    agt_samples_consume (samples, 2);
    batch = agt_samples_peek (samples, 10);
    cr_assert_eq (batch->sample_count, 1);
    cr_assert_eq (batch->times[0], 104);
    jad_metric_batch_destroy (&batch);
    agt_samples_consume (samples, 1);
    cr_assert_null (agt_samples_peek (samples, 10));
    //  invalid input is refused and counted
    cr_assert_eq (agt_samples_add (samples, "bad name", 1, 1), -1);
    cr_assert_eq (agt_samples_add (samples, "ok", 0, 1), -1);
    cr_assert_eq (agt_samples_dropped (samples), 4);
    agt_samples_destroy (&samples);
}

Test (agent_metrics, batch_survives_the_wire)
{
    agt_samples_t *samples = agt_samples_new (100);
    agt_samples_add (samples, "a", 10, 1.5);
    agt_samples_add (samples, "b{x=\"1\"}", 11, 2.5);
    agt_samples_add (samples, "a", 12, 3.5);
    jad_metric_batch_t *batch = agt_samples_peek (samples, 100);
    cr_assert_eq (batch->name_count, 2);
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_METRICS, .metrics = batch};
    zchunk_t *wire = jad_agent_msg_encode (&msg);
    cr_assert_not_null (wire);
    char err[JAD_ERR_LEN];
    jad_agent_msg_t *decoded = jad_agent_msg_decode (zchunk_data (wire), zchunk_size (wire), err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_AGENT_MSG_METRICS);
    cr_assert_eq (decoded->metrics->sample_count, 3);
    cr_assert_float_eq (s_value (decoded->metrics, "b{x=\"1\"}"), 2.5, 1e-12);
    jad_agent_msg_destroy (&decoded);
    //  an index outside the dictionary is refused by the decoder
    batch->name_index[2] = 5;
    cr_assert_null (jad_agent_msg_encode (&msg));
    zchunk_destroy (&wire);
    jad_metric_batch_destroy (&batch);
    agt_samples_destroy (&samples);
}

//  A source slower than its interval (its timeout is the interval) makes
//  every round late; the sampler must still hear $TERM, or the agent never
//  stops on SIGTERM.
Test (agent_metrics, stops_while_a_source_overruns_its_interval, .timeout = 60)
{
    char *root = jt_tempdir ("jadugar-sampler");
    char path[PATH_MAX], link[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/releases/1.0/jadugar.yaml", root);
    jt_write_file (path, "metrics:\n  interval: 1s\n  sources:\n    - command: ./hooks/slow.sh\n",
                   0644);
    snprintf (path, sizeof path, "%s/web/releases/1.0/hooks/slow.sh", root);
    jt_write_file (path, "#!/bin/sh\nsleep 5\necho slow_metric 1\n", 0755);
    snprintf (link, sizeof link, "%s/web/current", root);
    cr_assert_eq (symlink ("releases/1.0", link), 0);
    agt_metrics_config_t config = {
        .root = root, .environment = "dev", .host = "web-1", .interval_ms = 1000};
    zactor_t *actor = zactor_new (agt_metrics_actor, &config);
    cr_assert_not_null (actor);
    //  a few overrun rounds (each source run is killed at its 1 s timeout)
    zclock_sleep (3500);
    int64_t asked = zclock_mono ();
    zactor_destroy (&actor);
    int64_t took = zclock_mono () - asked;
    //  at most the round in progress (one source run) and the host sample
    cr_expect_lt (took, 5000, "the sampler took %lld ms to stop", (long long)took);
    jt_rmtree (root);
    free (root);
}

//  Take the actor's batches into buffer until one holds release_metric 2
//  or the deadline passes. Returns true if it came.
static bool s_collect (zactor_t *actor, agt_samples_t *buffer, int64_t deadline_ms)
{
    zpoller_t *poller = zpoller_new (zactor_sock (actor), NULL);
    bool got = false;
    while (zclock_mono () < deadline_ms) {
        if (zpoller_wait (poller, 200) && agt_metrics_recv (actor, buffer) > 0) {
            jad_metric_batch_t *batch = agt_samples_peek (buffer, 100000);
            for (size_t index = 0; batch && !got && index < batch->sample_count; index++)
                got = strcmp (batch->names[batch->name_index[index]], "release_metric") == 0 &&
                      batch->values[index] == 2;
            jad_metric_batch_destroy (&batch);
            if (got)
                break;
        }
    }
    zpoller_destroy (&poller);
    return got;
}

//  A plan switches `current` between two of the sampler's scans: the old
//  release's source must not run again (its samples, stamped after the
//  switch, would count against the new release's bake). Here 1.0's source
//  itself makes the switch, right after its first run; the sampler scans
//  once a second and samples every 500 ms, so without the check the next
//  round would run 1.0's source again.
Test (agent_metrics, no_sample_of_the_old_release_after_a_switch, .timeout = 60)
{
    char *root = jt_tempdir ("jadugar-sampler");
    char path[PATH_MAX], link[PATH_MAX];
    const char *yaml = "metrics:\n  interval: 500ms\n  sources:\n    - command: ./hooks/m.sh\n";
    snprintf (path, sizeof path, "%s/web/releases/1.0/jadugar.yaml", root);
    jt_write_file (path, yaml, 0644);
    snprintf (path, sizeof path, "%s/web/releases/2.0/jadugar.yaml", root);
    jt_write_file (path, yaml, 0644);
    snprintf (path, sizeof path, "%s/web/releases/1.0/hooks/m.sh", root);
    jt_write_file (path,
                   "#!/bin/sh\napp=\"$JADUGAR_RELEASE_DIR/../..\"\n"
                   "echo run >> \"$app/runs-1.0\"\n"
                   "ln -sfn releases/2.0 \"$app/current.tmp\" && "
                   "mv -T \"$app/current.tmp\" \"$app/current\"\n"
                   "echo release_metric 1\n",
                   0755);
    snprintf (path, sizeof path, "%s/web/releases/2.0/hooks/m.sh", root);
    jt_write_file (path, "#!/bin/sh\necho release_metric 2\n", 0755);
    snprintf (link, sizeof link, "%s/web/current", root);
    cr_assert_eq (symlink ("releases/1.0", link), 0);
    agt_metrics_config_t config = {
        .root = root, .environment = "dev", .host = "web-1", .interval_ms = 60000};
    zactor_t *actor = zactor_new (agt_metrics_actor, &config);
    cr_assert_not_null (actor);
    agt_samples_t *buffer = agt_samples_new (100000);
    bool got = s_collect (actor, buffer, zclock_mono () + 30000);
    zactor_destroy (&actor);
    cr_assert (got, "no sample of 2.0's source");
    jad_metric_batch_t *batch = agt_samples_peek (buffer, 100000);
    cr_assert_not_null (batch);
    size_t old = 0;
    for (size_t index = 0; index < batch->sample_count; index++)
        if (strcmp (batch->names[batch->name_index[index]], "release_metric") == 0 &&
            batch->values[index] == 1)
            old++;
    jad_metric_batch_destroy (&batch);
    snprintf (path, sizeof path, "%s/web/runs-1.0", root);
    char *runs = jt_read_file (path);
    cr_assert_not_null (runs);
    cr_assert_str_eq (runs, "run\n", "1.0's source ran again after the switch");
    cr_assert_eq (old, 1, "%zu samples of 1.0", old);
    free (runs);
    agt_samples_destroy (&buffer);
    jt_rmtree (root);
    free (root);
}

//  SIGTERM also ends the sampler's poller, so the daemon may tell it that
//  a plan ended after the sampler thread is gone: that must not block (a
//  PAIR socket without its peer would wait forever, and the agent would
//  never stop).
Test (agent_metrics, telling_a_stopped_sampler_never_blocks, .timeout = 30)
{
    char *root = jt_tempdir ("jadugar-sampler");
    agt_metrics_config_t config = {
        .root = root, .environment = "dev", .host = "web-1", .interval_ms = 60000};
    zactor_t *actor = zactor_new (agt_metrics_actor, &config);
    cr_assert_not_null (actor);
    cr_assert_eq (agt_metrics_plan (actor, "web"), 0, "a running sampler takes it");
    //  the sampler thread ends (as on SIGTERM); its end is signalled
    cr_assert_eq (zstr_send (actor, "$TERM"), 0);
    cr_assert_eq (zsock_wait (actor), 0);
    //  nobody reads any more: far more than the pipe holds, none may block
    int refused = 0;
    for (int index = 0; index < 5000; index++)
        refused += agt_metrics_plan (actor, index % 2 ? NULL : "web") != 0;
    cr_assert_gt (refused, 0, "5000 messages taken with nobody reading");
    zactor_destroy (&actor);
    jt_rmtree (root);
    free (root);
}
