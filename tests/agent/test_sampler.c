//  test_sampler - the agent's metrics text parser and bounded sample buffer (agt_metrics)
//  SPDX-License-Identifier: MPL-2.0

#include "agt_metrics.h"

#include <criterion/criterion.h>
#include <string.h>

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
