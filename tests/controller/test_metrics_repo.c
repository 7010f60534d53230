//  test_metrics_repo - metric ingestion, queries, rollups and retention on a real SQLite file
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_agents_repo.h"
#include "ctl_metrics_repo.h"
#include "ctl_store_internal.h"
#include "jad_testlib.h"
#include "jad_util.h"
#include "jad_testpg.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

JT_PG_SERVER ()

static jt_store_target_t s_target;
static ctl_store_t *store;
static ctl_metrics_repo_t *metrics;

static void s_setup_on (bool pg)
{
    jt_store_target_new (&s_target, pg, "jadugar-metrics");
    store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    cr_assert_not_null (store);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (store),
                                "INSERT INTO agents (name, public_key, env, state, created) "
                                "VALUES ('web-1', 'k1', 'dev', 'accepted', 0), "
                                "('web-2', 'k2', 'dev', 'accepted', 0), "
                                "('db-1', 'k3', 'prod', 'accepted', 0)",
                                ""),
                  3);
    metrics = ctl_metrics_repo_new (store);
    cr_assert_not_null (metrics);
    //  these tests write samples of 1970: no time bounds unless a test sets them
    ctl_metric_limits_t limits = {.series_per_agent = 10000, .label_sets_per_metric = 1000};
    ctl_metrics_repo_set_limits (metrics, &limits);
}

static void setup_sqlite (void)
{
    s_setup_on (false);
}

static void setup_pg (void)
{
    s_setup_on (true);
}

static void s_teardown (void)
{
    ctl_metrics_repo_destroy (&metrics);
    ctl_store_destroy (&store);
    jt_store_target_free (&s_target);
}

TestSuite (metrics, .init = setup_sqlite, .fini = s_teardown);
TestSuite (metrics_pg, .init = setup_pg, .fini = s_teardown);

//  Ingest `count` samples of series `name` for host, at t0, t0+step...
static void s_ingest (const char *host, const char *name, int64_t t0, int64_t step, int count,
                      double value)
{
    jad_metric_batch_t batch = {0};
    char *names[] = {(char *)name};
    batch.names = names;
    batch.name_count = 1;
    batch.name_index = calloc ((size_t)count, sizeof (uint32_t));
    batch.times = calloc ((size_t)count, sizeof (int64_t));
    batch.values = calloc ((size_t)count, sizeof (double));
    for (int index = 0; index < count; index++) {
        batch.times[index] = t0 + index * step;
        batch.values[index] = value + index;
    }
    batch.sample_count = (size_t)count;
    batch.dropped = 7;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, host, &batch, NULL, NULL), count);
    free (batch.name_index);
    free (batch.times);
    free (batch.values);
}

static int64_t s_int (const char *sql)
{
    int64_t value = -1;
    cr_assert_eq (ctl_sql_int (ctl_store_sql (store), &value, sql, ""), 0, "%s", sql);
    return value;
}

JT_STORE_TEST (metrics, ingest_stores_every_sample_under_the_sending_host)
{
    s_ingest ("web-1", "http_error_rate", 1000000, 1000, 50, 0.0);
    s_ingest ("web-2", "http_error_rate", 1000000, 1000, 30, 0.0);
    s_ingest ("db-1", "http_error_rate", 1000000, 1000, 20, 0.0);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 100);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_names"), 1, "one dictionary entry");
    cr_assert_eq (s_int ("SELECT dropped FROM metric_hosts WHERE name = 'web-1'"), 7);
    cr_assert_eq (ctl_metrics_repo_samples (metrics), 100);
    double *values = NULL;
    uint32_t *hosts = NULL;
    size_t count = 0;
    cr_assert_eq (ctl_metrics_repo_env_values (store, "dev", "http_error_rate", 1000000 + 40000,
                                               &values, &hosts, &count),
                  0);
    cr_assert_eq (count, 10, "only dev's hosts, only inside the window (got %zu)", count);
    for (size_t index = 0; index < count; index++)
        cr_assert_geq (values[index], 40.0);
    free (values);
    free (hosts);
}

JT_STORE_TEST (metrics, a_batch_with_a_bad_series_changes_nothing)
{
    s_ingest ("web-1", "cpu", 1000000, 1000, 5, 1.0);
    //  a series index out of the dictionary never reaches the store: the
    //  wire decoder refuses it; here the store refuses a failing batch whole
    //  (a trigger is written in each engine's own words)
    if (s_target.pg)
        cr_assert_geq (ctl_sql_exec (ctl_store_sql (store),
                                     "CREATE FUNCTION no_more () RETURNS trigger LANGUAGE plpgsql "
                                     "AS 'BEGIN RAISE EXCEPTION ''no''; END'",
                                     ""),
                       0);
    cr_assert_geq (ctl_sql_exec (ctl_store_sql (store),
                                 s_target.pg
                                     ? "CREATE TRIGGER no_more BEFORE INSERT ON samples FOR "
                                       "EACH ROW WHEN (NEW.value > 100) EXECUTE FUNCTION "
                                       "no_more ()"
                                     : "CREATE TRIGGER no_more BEFORE INSERT ON samples "
                                       "WHEN NEW.value > 100 BEGIN SELECT RAISE (ABORT, "
                                       "'no'); END",
                                 ""),
                   0);
    jad_metric_batch_t batch = {0};
    char *names[] = {"cpu", "new_series"};
    uint32_t index[] = {0, 1, 1};
    int64_t times[] = {2000000, 2000000, 2000001};
    double values[] = {1.0, 2.0, 1000.0};
    batch.names = names;
    batch.name_count = 2;
    batch.name_index = index;
    batch.times = times;
    batch.values = values;
    batch.sample_count = 3;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", &batch, NULL, NULL), -1);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 5, "partial batch stored");
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_names"), 1);
    cr_assert_eq (ctl_metrics_repo_rejected (metrics), 1);
    //  the store still works afterwards
    values[2] = 3.0;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", &batch, NULL, NULL), 3);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_names"), 2);
}

JT_STORE_TEST (metrics, rollups_and_retention)
{
    int64_t minute = 60000;
    int64_t t0 = 100 * minute;
    s_ingest ("web-1", "load", t0, 1000, 120, 0.0);  //  two full minutes: 0..59, 60..119
    cr_assert_eq (
        ctl_metrics_repo_maintain (metrics, t0 + 2 * minute, 24 * 3600000LL, 30 * 24 * 3600000LL),
        0);
    cr_assert_eq (s_int ("SELECT count (*) FROM rollups"), 2);
    cr_assert_eq (s_int ("SELECT count FROM rollups WHERE minute = 6000000"), 60);
    cr_assert_eq (s_int ("SELECT CAST (sum AS INTEGER) FROM rollups WHERE minute = 6000000"),
                  59 * 60 / 2);
    cr_assert_eq (s_int ("SELECT CAST (max AS INTEGER) FROM rollups WHERE minute = 6060000"), 119);
    //  a late sample for the first minute is merged, not lost or doubled
    s_ingest ("web-1", "load", t0 + 500, 1, 1, 1000.0);
    cr_assert_eq (
        ctl_metrics_repo_maintain (metrics, t0 + 2 * minute, 24 * 3600000LL, 30 * 24 * 3600000LL),
        0);
    cr_assert_eq (s_int ("SELECT count FROM rollups WHERE minute = 6000000"), 61);
    cr_assert_eq (s_int ("SELECT CAST (max AS INTEGER) FROM rollups WHERE minute = 6000000"), 1000);
    //  raw retention of one minute at t0 + 2 min keeps only the second minute
    cr_assert_eq (ctl_metrics_repo_maintain (metrics, t0 + 2 * minute, minute, 30 * 24 * 3600000LL),
                  0);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 60);
    cr_assert_eq (s_int ("SELECT min (ts) FROM samples"), t0 + minute);
    cr_assert_eq (s_int ("SELECT count (*) FROM rollups"), 2, "rollups outlive raw samples");
    //  rollup retention drops old minutes too
    cr_assert_eq (ctl_metrics_repo_maintain (metrics, t0 + 3 * minute, minute, 2 * minute), 0);
    cr_assert_eq (s_int ("SELECT count (*) FROM rollups"), 1);
}

JT_STORE_TEST (metrics, query_buckets_one_host_or_an_environment)
{
    int64_t t0 = 5000000;
    s_ingest ("web-1", "http_error_rate", t0, 1000, 10, 1.0);
    s_ingest ("web-2", "http_error_rate", t0, 1000, 10, 5.0);
    s_ingest ("db-1", "http_error_rate", t0, 1000, 10, 9.0);
    ctl_metric_query_t *result =
        ctl_metrics_repo_query (store, NULL, "dev", "http_error_rate", t0, t0 + 10000, 3600000, 5);
    cr_assert_not_null (result);
    cr_assert (result->raw);
    cr_assert_eq (result->since, t0);
    cr_assert_eq (result->until, t0 + 10000);
    cr_assert_eq (zlistx_size (result->series), 2, "dev has two hosts");
    ctl_metric_series_t *first = zlistx_first (result->series);
    cr_assert_str_eq (first->host, "web-1");
    cr_assert_str_eq (first->name, "http_error_rate");
    cr_assert_float_eq (first->min, 1.0, 1e-9);
    cr_assert_float_eq (first->max, 10.0, 1e-9);
    cr_assert_float_eq (first->avg, 5.5, 1e-9);
    cr_assert_eq (first->count, 10);
    cr_assert_leq (first->points, 5);
    cr_assert_gt (first->points, 0);
    cr_assert_eq (first->times[0], t0, "the first bucket starts at since");
    ctl_metric_query_destroy (&result);
    result = ctl_metrics_repo_query (store, "db-1", NULL, NULL, t0, t0 + 10000, 3600000, 5);
    cr_assert_eq (zlistx_size (result->series), 1);
    ctl_metric_query_destroy (&result);
    //  older than raw retention: from the rollups
    cr_assert_eq (ctl_metrics_repo_maintain (metrics, t0 + 10000, 3600000, 30 * 24 * 3600000LL), 0);
    //  (rollups are per minute: the one holding t0 starts at t0 - 20 s)
    result = ctl_metrics_repo_query (store, "web-1", NULL, NULL, t0 - 20000, t0 + 10000, 1000, 5);
    cr_assert_not (result->raw);
    cr_assert_eq (zlistx_size (result->series), 1);
    first = zlistx_first (result->series);
    cr_assert_eq (first->count, 10);
    cr_assert_float_eq (first->max, 10.0, 1e-9);
    ctl_metric_query_destroy (&result);
    zlistx_t *dropped = ctl_metrics_repo_dropped (store);
    cr_assert_eq (zlistx_size (dropped), 3);
    cr_assert_eq (((ctl_tally_t *)zlistx_first (dropped))->count, 7);
    zlistx_destroy (&dropped);
}

//  One batch of `count` samples of stream `stream`, number `seq`.
static int s_ingest_seq (const char *host, const char *stream, uint64_t seq, int count,
                         uint64_t *acked)
{
    jad_metric_batch_t batch = {0};
    char *names[] = {"requests"};
    batch.names = names;
    batch.name_count = 1;
    batch.name_index = calloc ((size_t)count, sizeof (uint32_t));
    batch.times = calloc ((size_t)count, sizeof (int64_t));
    batch.values = calloc ((size_t)count, sizeof (double));
    for (int index = 0; index < count; index++) {
        batch.times[index] = 1000000 + (int64_t)seq * 1000 + index;
        batch.values[index] = (double)seq;
    }
    batch.sample_count = (size_t)count;
    batch.stream = (char *)stream;
    batch.seq = seq;
    int stored = ctl_metrics_repo_ingest (metrics, host, &batch, acked, NULL);
    free (batch.name_index);
    free (batch.times);
    free (batch.values);
    return stored;
}

JT_STORE_TEST (metrics, a_stream_is_stored_in_order_once_go_back_n)
{
    uint64_t acked = 99;
    //  first batch of a host: stored, acked
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 1, 10, &acked), 10);
    cr_assert_eq (acked, 1);
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 2, 10, &acked), 10);
    cr_assert_eq (acked, 2);
    //  a duplicate (sent again after a lost ack): not stored, acked as is
    acked = 99;
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 2, 10, &acked), 0);
    cr_assert_eq (acked, 2);
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 1, 10, &acked), 0);
    cr_assert_eq (acked, 2);
    //  a gap (batch 3 lost in flight): 4 and 5 are not stored; the agent
    //  learns 2 is the last in order and sends 3, 4, 5 again
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 4, 10, &acked), 0);
    cr_assert_eq (acked, 2);
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 5, 10, &acked), 0);
    cr_assert_eq (acked, 2);
    for (uint64_t seq = 3; seq <= 5; seq++) {
        cr_assert_eq (s_ingest_seq ("web-1", "s1", seq, 10, &acked), 10);
        cr_assert_eq (acked, seq);
    }
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 50, "5 batches, each once");
    cr_assert_eq (s_int ("SELECT last_seq FROM metric_hosts WHERE name = 'web-1'"), 5);
    cr_assert_eq (ctl_metrics_repo_duplicates (metrics), 2);
    cr_assert_eq (ctl_metrics_repo_gaps (metrics), 2);
    //  the agent restarted: a new stream starts at 1...
    cr_assert_eq (s_ingest_seq ("web-1", "s2", 1, 10, &acked), 10);
    cr_assert_eq (acked, 1);
    //  ...and a new stream's batch ahead of its first is a gap (ack 0)
    acked = 99;
    cr_assert_eq (s_ingest_seq ("web-1", "s3", 2, 10, &acked), 0);
    cr_assert_eq (acked, 0);
    cr_assert_eq (ctl_metrics_repo_gaps (metrics), 3);
    //  the old stream's late batches are not stored twice either
    cr_assert_eq (s_ingest_seq ("web-1", "s2", 1, 10, &acked), 0);
    //  hosts have streams of their own; batches without a stream (older
    //  agents) are stored as they come
    cr_assert_eq (s_ingest_seq ("web-2", "s1", 1, 10, &acked), 10);
    acked = 77;
    cr_assert_eq (s_ingest_seq ("web-2", NULL, 0, 10, &acked), 10);
    cr_assert_eq (s_ingest_seq ("web-2", NULL, 0, 10, &acked), 10);
    cr_assert_eq (acked, 77, "no ack for a batch without a stream");
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 90);
    cr_assert_eq (s_int ("SELECT sum (samples) FROM metric_hosts"), 90);
}

JT_STORE_TEST (metrics, the_stream_position_survives_a_restart)
{
    uint64_t acked = 0;
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 1, 5, &acked), 5);
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 2, 5, &acked), 5);
    //  a new controller process on the same database
    ctl_metrics_repo_destroy (&metrics);
    metrics = ctl_metrics_repo_new (store);
    cr_assert_not_null (metrics);
    ctl_metric_limits_t limits = {.series_per_agent = 10000, .label_sets_per_metric = 1000};
    ctl_metrics_repo_set_limits (metrics, &limits);
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 2, 5, &acked), 0, "stored before the restart");
    cr_assert_eq (acked, 2);
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 3, 5, &acked), 5);
    //  a batch inside a transaction the caller rolls back leaves no trace:
    //  the ack is only sent after the commit, and the agent sends it again
    cr_assert_eq (ctl_store_begin (store), 0);
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 4, 5, &acked), 5);
    ctl_store_rollback (store);
    cr_assert_eq (s_int ("SELECT last_seq FROM metric_hosts WHERE name = 'web-1'"), 3);
    cr_assert_eq (s_ingest_seq ("web-1", "s1", 4, 5, &acked), 5);
    cr_assert_eq (acked, 4);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 20);
}

//  --------------------------------------------------------------------------
//  One agent cannot exhaust the store (SECURITY-TESTS row 32)

//  A batch of one sample at `time` for each of `count` series
//  "PREFIX{i=\"N\"}" (or "PREFIXN" without labels) from host; returns
//  what ingest returned and adds the refusals to *refused.
static int s_ingest_series (const char *host, const char *prefix, bool labels, int first, int count,
                            int64_t time, ctl_metric_refusals_t *refused)
{
    jad_metric_batch_t batch = {0};
    batch.names = calloc ((size_t)count, sizeof (char *));
    batch.name_index = calloc ((size_t)count, sizeof (uint32_t));
    batch.times = calloc ((size_t)count, sizeof (int64_t));
    batch.values = calloc ((size_t)count, sizeof (double));
    for (int index = 0; index < count; index++) {
        cr_assert (asprintf (&batch.names[index], labels ? "%s{i=\"%d\"}" : "%s%d", prefix,
                             first + index) > 0);
        batch.name_index[index] = (uint32_t)index;
        batch.times[index] = time;
        batch.values[index] = index;
    }
    batch.name_count = batch.sample_count = (size_t)count;
    int stored = ctl_metrics_repo_ingest (metrics, host, &batch, NULL, refused);
    for (int index = 0; index < count; index++)
        free (batch.names[index]);
    free (batch.names);
    free (batch.name_index);
    free (batch.times);
    free (batch.values);
    return stored;
}

JT_STORE_TEST (metrics, new_series_over_the_agents_cap_are_refused_and_counted)
{
    ctl_metric_limits_t limits = {.series_per_agent = 5, .label_sets_per_metric = 100};
    ctl_metrics_repo_set_limits (metrics, &limits);
    ctl_metric_refusals_t refused = {0};
    cr_assert_eq (s_ingest_series ("web-1", "flood_", false, 0, 8, 1000, &refused), 5);
    cr_assert_eq (refused.series, 3);
    cr_assert_eq (refused.samples_cap, 3);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 5);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_names"), 5,
                  "a refused series must not be recorded anywhere");
    //  at its cap the agent still stores the series it has, and refuses new ones
    refused = (ctl_metric_refusals_t){0};
    cr_assert_eq (s_ingest_series ("web-1", "flood_", false, 3, 4, 2000, &refused), 2);
    cr_assert_eq (refused.series, 2);
    //  the cap is per agent: another host has its own
    refused = (ctl_metric_refusals_t){0};
    cr_assert_eq (s_ingest_series ("web-2", "flood_", false, 0, 5, 1000, &refused), 5);
    cr_assert_eq (refused.series, 0);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_series"), 10);
}

JT_STORE_TEST (metrics, label_sets_over_the_cap_are_refused_and_counted)
{
    ctl_metric_limits_t limits = {.series_per_agent = 1000, .label_sets_per_metric = 4};
    ctl_metrics_repo_set_limits (metrics, &limits);
    ctl_metric_refusals_t refused = {0};
    cr_assert_eq (s_ingest_series ("web-1", "http_requests_total", true, 0, 10, 1000, &refused), 4);
    cr_assert_eq (refused.label_sets, 6);
    cr_assert_eq (refused.series, 0);
    //  another metric name has its own label sets
    cr_assert_eq (s_ingest_series ("web-1", "http_bytes_total", true, 0, 3, 1000, &refused), 3);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_series WHERE base = 'http_requests_total'"),
                  4);
}

JT_STORE_TEST (metrics, samples_outside_retention_and_five_minutes_ahead_are_refused)
{
    ctl_metric_limits_t limits = {.series_per_agent = 100,
                                  .label_sets_per_metric = 100,
                                  .retention_ms = 3600000,
                                  .ahead_ms = 300000};
    ctl_metrics_repo_set_limits (metrics, &limits);
    int64_t now = jad_now_ms ();
    //  year 2500, two hours ago, six minutes ahead, and now
    int64_t year_2500 = 16725225600000LL;
    char *names[] = {"load"};
    uint32_t name_index[] = {0, 0, 0, 0};
    int64_t times[] = {year_2500, now - 2 * 3600000, now + 360000, now};
    double values[] = {1, 2, 3, 4};
    jad_metric_batch_t batch = {.names = names,
                                .name_count = 1,
                                .name_index = name_index,
                                .times = times,
                                .values = values,
                                .sample_count = 4};
    ctl_metric_refusals_t refused = {0};
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", &batch, NULL, &refused), 1);
    cr_assert_eq (refused.samples_time, 3);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 1);
    cr_assert_eq (s_int ("SELECT CAST (value AS INTEGER) FROM samples"), 4);
}

JT_STORE_TEST (metrics, maintenance_works_in_bounded_slices)
{
    //  three slices' worth of samples: rolled up over several calls, none lost
    int total = 3 * CTL_METRICS_SLICE;
    for (int done = 0; done < total; done += 10000)
        s_ingest ("web-1", "load", 6000000 + done, 1, 10000, 1.0);
    int calls = 0, rc;
    while ((rc = ctl_metrics_repo_maintain (metrics, 6000000 + total, 24 * 3600000LL,
                                            30 * 24 * 3600000LL)) == 1)
        calls++;
    cr_assert_eq (rc, 0);
    cr_assert_geq (calls, 2, "one call did everything: the slices are not bounded");
    cr_assert_eq (s_int ("SELECT sum (count) FROM rollups"), total);
    //  retention in slices too: everything is older than a minute at the end
    calls = 0;
    while ((rc = ctl_metrics_repo_maintain (metrics, 6000000 + total + 120000, 60000,
                                            30 * 24 * 3600000LL)) == 1)
        calls++;
    cr_assert_eq (rc, 0);
    cr_assert_geq (calls, 2);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 0);
}

JT_STORE_TEST (metrics, a_series_with_nothing_left_frees_its_place)
{
    ctl_metric_limits_t limits = {.series_per_agent = 2, .label_sets_per_metric = 100};
    ctl_metrics_repo_set_limits (metrics, &limits);
    ctl_metric_refusals_t refused = {0};
    cr_assert_eq (s_ingest_series ("web-1", "old_", false, 0, 2, 1000, &refused), 2);
    cr_assert_eq (s_ingest_series ("web-1", "new_", false, 0, 1, 2000, &refused), 0);
    //  long after: raw samples and rollups past retention, the places free
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (store), "UPDATE metric_series SET since = 0", ""),
                  2);
    int64_t later = 400LL * 24 * 3600000;
    cr_assert_eq (ctl_metrics_repo_maintain (metrics, later, 60000, 60000), 0);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_series"), 0);
    refused = (ctl_metric_refusals_t){0};
    cr_assert_eq (s_ingest_series ("web-1", "new_", false, 0, 1, later, &refused), 1);
    cr_assert_eq (refused.series, 0);
}

JT_STORE_TEST (metrics, the_widest_query_is_bounded_and_says_so)
{
    cr_assert_eq (s_ingest_series ("web-1", "wide_", false, 0, 100, 5000000, NULL), 100);
    ctl_metric_query_t *result =
        ctl_metrics_repo_query (store, "web-1", NULL, NULL, 4000000, 6000000, 3600000, 10);
    cr_assert_not_null (result);
    cr_assert_eq (zlistx_size (result->series), 64);
    cr_assert (result->truncated);
    ctl_metric_query_destroy (&result);
    //  one series: complete
    result = ctl_metrics_repo_query (store, "web-1", NULL, "wide_7", 4000000, 6000000, 3600000, 10);
    cr_assert_not_null (result);
    cr_assert_eq (zlistx_size (result->series), 1);
    cr_assert_not (result->truncated);
    cr_assert_eq (result->rows, 1);
    ctl_metric_query_destroy (&result);
    //  a span wider than CTL_METRICS_RAW_SPAN_MS is read from rollups
    result = ctl_metrics_repo_query (store, "web-1", NULL, "wide_7", 0, CTL_METRICS_RAW_SPAN_MS + 1,
                                     24 * 3600000LL, 10);
    cr_assert_not_null (result);
    cr_assert_not (result->raw);
    ctl_metric_query_destroy (&result);
}

JT_STORE_TEST (metrics, a_plans_values_tell_its_canaries_from_its_baseline)
{
    //  plan p1 on dev: web-1 its healthy canary, web-2 a later batch;
    //  db-1 (another environment, not in the plan) is never read
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (store),
                                "INSERT INTO plans (id, app, version, env, kind, strategy, state, "
                                "created, progress) VALUES ('p1', 'web', '2.0', 'dev', 'deploy', "
                                "'canary', 'running', 0, 0)",
                                ""),
                  1);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (store),
                                "INSERT INTO plan_hosts (plan_id, agent, state, batch) VALUES "
                                "('p1', 'web-1', 'healthy', 0), ('p1', 'web-2', 'waiting', 1)",
                                ""),
                  2);
    s_ingest ("web-1", "http_error_rate", 1000000, 1000, 10, 0.0);
    s_ingest ("web-2", "http_error_rate", 1000000, 1000, 10, 100.0);
    s_ingest ("db-1", "http_error_rate", 1000000, 1000, 10, 500.0);
    ctl_plan_value_t *values = NULL;
    size_t count = 0;
    cr_assert_eq (ctl_metrics_repo_plan_values (store, "p1", "http_error_rate", 1000000 + 5000,
                                                &values, &count),
                  0);
    cr_assert_eq (count, 10, "five of each host of the plan inside the window (got %zu)", count);
    for (size_t index = 0; index < count; index++) {
        bool canary = strcmp (values[index].name, "web-1") == 0;
        cr_assert (canary || strcmp (values[index].name, "web-2") == 0, "%s", values[index].name);
        cr_assert_eq (values[index].canary, canary);
        cr_assert (canary ? values[index].value < 10 : values[index].value >= 100);
        free (values[index].name);
    }
    free (values);
    //  a canary that failed is no longer judged
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (store),
                                "UPDATE plan_hosts SET state = 'failed' WHERE agent = 'web-1'", ""),
                  1);
    cr_assert_eq (ctl_metrics_repo_plan_values (store, "p1", "http_error_rate", 0, &values, &count),
                  0);
    cr_assert_eq (count, 10);
    for (size_t index = 0; index < count; index++) {
        cr_assert_not (values[index].canary);
        free (values[index].name);
    }
    free (values);
}

//  --------------------------------------------------------------------------
//  A batch is written whole or not at all

//  A batch of `count` samples over 20 series "bulk_N", at t0 + index,
//  values index / 4; the sample at `bad` (if >= 0) gets `bad_value`.
static jad_metric_batch_t *s_bulk_batch (int count, int64_t t0, int bad, double bad_value)
{
    static char *names[20];
    static char storage[20][24];  //  "bulk_" and any int
    jad_metric_batch_t *batch = calloc (1, sizeof (jad_metric_batch_t));
    cr_assert_not_null (batch);
    for (int index = 0; index < 20; index++) {
        snprintf (storage[index], sizeof storage[index], "bulk_%d", index);
        names[index] = storage[index];
    }
    batch->names = names;
    batch->name_count = 20;
    batch->name_index = calloc ((size_t)count, sizeof (uint32_t));
    batch->times = calloc ((size_t)count, sizeof (int64_t));
    batch->values = calloc ((size_t)count, sizeof (double));
    cr_assert (batch->name_index && batch->times && batch->values);
    for (int index = 0; index < count; index++) {
        batch->name_index[index] = (uint32_t)(index % 20);
        batch->times[index] = t0 + index;
        batch->values[index] = index == bad ? bad_value : index / 4.0;
    }
    batch->sample_count = (size_t)count;
    return batch;
}

static void s_bulk_free (jad_metric_batch_t **batch_p)
{
    jad_metric_batch_t *batch = *batch_p;
    free (batch->name_index);
    free (batch->times);
    free (batch->values);
    free (batch);
    *batch_p = NULL;
}

JT_STORE_TEST (metrics, a_big_batch_lands_whole_and_exact)
{
    //  more rows than one piece of a COPY (256 KiB, about 5,000 rows)
    int count = JAD_MAX_SAMPLES;
    jad_metric_batch_t *batch = s_bulk_batch (count, 1000000, -1, 0);
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, NULL, NULL), count);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), count);
    cr_assert_eq (s_int ("SELECT sum (ts) FROM samples"),
                  (int64_t)count * 1000000 + (int64_t)count * (count - 1) / 2);
    //  values exact to the bit (a quarter of each index)
    cr_assert_eq (s_int ("SELECT CAST (sum (value) * 4 AS BIGINT) FROM samples"),
                  (int64_t)count * (count - 1) / 2);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples s JOIN metric_names n ON n.id = s.metric "
                         "WHERE n.name = 'bulk_7' AND s.ts % 20 = 7"),
                  count / 20, "every sample under its own series");
    cr_assert_eq (s_int ("SELECT count (DISTINCT host) FROM samples"), 1);
    cr_assert_eq (s_int ("SELECT samples FROM metric_hosts WHERE name = 'web-1'"), count);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_series"), 20);
    //  a batch with no sample left to store (all out of time) writes nothing
    ctl_metric_limits_t limits = {.series_per_agent = 100,
                                  .label_sets_per_metric = 100,
                                  .retention_ms = 3600000,
                                  .ahead_ms = 300000};
    ctl_metrics_repo_set_limits (metrics, &limits);
    ctl_metric_refusals_t refused = {0};
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, NULL, &refused), 0);
    cr_assert_eq (refused.samples_time, (uint64_t)count);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), count);
    s_bulk_free (&batch);
}

JT_STORE_TEST (metrics, a_batch_sent_again_to_another_controller_is_not_stored_twice)
{
    jad_metric_batch_t *batch = s_bulk_batch (1000, 1000000, -1, 0);
    batch->stream = "s1";
    batch->seq = 1;
    uint64_t acked = 0;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, &acked, NULL), 1000);
    cr_assert_eq (acked, 1);
    //  the ack was lost with the leader: the agent sends the batch to the
    //  new one (another repository on the same store, its caches empty)
    ctl_metrics_repo_destroy (&metrics);
    metrics = ctl_metrics_repo_new (store);
    cr_assert_not_null (metrics);
    ctl_metric_limits_t limits = {.series_per_agent = 10000, .label_sets_per_metric = 1000};
    ctl_metrics_repo_set_limits (metrics, &limits);
    acked = 0;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, &acked, NULL), 0);
    cr_assert_eq (acked, 1, "the resent batch is acknowledged as stored");
    cr_assert_eq (ctl_metrics_repo_duplicates (metrics), 1);
    batch->seq = 2;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, &acked, NULL), 1000);
    cr_assert_eq (acked, 2);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 2000);
    cr_assert_eq (s_int ("SELECT samples FROM metric_hosts WHERE name = 'web-1'"), 2000);
    s_bulk_free (&batch);
}

JT_STORE_TEST (metrics, a_batch_with_a_sample_the_decoder_refuses_is_refused_whole)
{
    jad_metric_batch_t *batch = s_bulk_batch (100, 1000000, 60, NAN);
    batch->stream = "s1";
    batch->seq = 1;
    uint64_t acked = 99;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, &acked, NULL), -1);
    cr_assert_eq (acked, 99, "no ack for a refused batch");
    batch->values[60] = INFINITY;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, &acked, NULL), -1);
    batch->values[60] = 1.0;
    batch->name_index[70] = 20;  //  one past the batch's names
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, &acked, NULL), -1);
    cr_assert_eq (ctl_metrics_repo_rejected (metrics), 3);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 0);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_hosts"), 0, "nothing written at all");
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_names"), 0);
    //  the same batch made right is stored, as the first of its stream
    batch->name_index[70] = 10;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, &acked, NULL), 100);
    cr_assert_eq (acked, 1);
    s_bulk_free (&batch);
}

//  A trigger that fails the insert of a sample of value -777.5 (never one
//  of s_bulk_batch's): raising an error, or on PostgreSQL (`die`) ending
//  the controller's own session, as a server stopped in the middle of a
//  COPY would.
static void s_fail_at_777 (bool die)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    if (s_target.pg)
        cr_assert_geq (
            ctl_sql_exec (sql,
                          die ? "CREATE FUNCTION fail_777 () RETURNS trigger LANGUAGE plpgsql AS "
                                "'BEGIN PERFORM pg_terminate_backend (pg_backend_pid ()); "
                                "RETURN NEW; END'"
                              : "CREATE FUNCTION fail_777 () RETURNS trigger LANGUAGE plpgsql AS "
                                "'BEGIN RAISE EXCEPTION ''no''; END'",
                          ""),
            0);
    cr_assert_geq (ctl_sql_exec (sql,
                                 s_target.pg ? "CREATE TRIGGER fail_777 BEFORE INSERT ON samples "
                                               "FOR EACH ROW WHEN (NEW.value = -777.5) EXECUTE "
                                               "FUNCTION fail_777 ()"
                                             : "CREATE TRIGGER fail_777 BEFORE INSERT ON samples "
                                               "WHEN NEW.value = -777.5 BEGIN SELECT RAISE (ABORT, "
                                               "'no'); END",
                                 ""),
                   0);
}

JT_STORE_TEST (metrics, a_batch_failing_midway_leaves_nothing_and_the_burst_goes_on)
{
    s_fail_at_777 (false);
    //  the failing sample after more than one piece of the COPY was sent
    jad_metric_batch_t *good = s_bulk_batch (12000, 1000000, -1, 0);
    jad_metric_batch_t *bad = s_bulk_batch (12000, 2000000, 11000, -777.5);
    good->stream = bad->stream = "s1";
    good->seq = 1;
    bad->seq = 2;
    //  inside the caller's transaction (a burst of messages): the failed
    //  batch rolls back to its savepoint, the burst's others commit
    uint64_t acked = 0;
    cr_assert_eq (ctl_store_begin (store), 0);
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", good, &acked, NULL), 12000);
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", bad, &acked, NULL), -1);
    cr_assert_eq (acked, 1);
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-2", good, &acked, NULL), 12000);
    cr_assert_eq (ctl_store_commit (store), 0);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 24000);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples WHERE ts >= 2000000"), 0);
    cr_assert_eq (s_int ("SELECT last_seq FROM metric_hosts WHERE name = 'web-1'"), 1,
                  "the failed batch's place in its stream is not taken");
    //  alone, and sent again made right: stored as the stream's next
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", bad, &acked, NULL), -1);
    bad->values[11000] = 1.0;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", bad, &acked, NULL), 12000);
    cr_assert_eq (acked, 2);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples WHERE ts >= 2000000"), 12000);
    s_bulk_free (&good);
    s_bulk_free (&bad);
}

JT_STORE_TEST (metrics, a_connection_lost_in_the_middle_of_a_batch_leaves_nothing)
{
    //  on PostgreSQL the session ends under the COPY; SQLite has no
    //  server to lose, and its insert fails there instead
    s_fail_at_777 (true);
    jad_metric_batch_t *batch = s_bulk_batch (12000, 1000000, 11000, -777.5);
    batch->stream = "s1";
    batch->seq = 1;
    uint64_t acked = 0;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, &acked, NULL), -1);
    cr_assert_eq (acked, 0);
    //  the store reconnects; the agent sends the batch again
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 0);
    batch->values[11000] = 2.0;
    cr_assert_eq (ctl_metrics_repo_ingest (metrics, "web-1", batch, &acked, NULL), 12000);
    cr_assert_eq (acked, 1);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 12000);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_series"), 20);
    s_bulk_free (&batch);
}

JT_STORE_TEST (metrics, a_series_freed_by_maintenance_is_admitted_again)
{
    //  the admitted series are cached: maintenance that frees a series
    //  must not leave a sample of it without its metric_series row
    s_ingest ("web-1", "load", 1000, 1, 1, 1.0);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (store), "UPDATE metric_series SET since = 0", ""),
                  1);
    int64_t later = 400LL * 24 * 3600000;
    cr_assert_eq (ctl_metrics_repo_maintain (metrics, later, 60000, 60000), 0);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_series"), 0);
    s_ingest ("web-1", "load", later, 1, 1, 1.0);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_series"), 1);
    //  and a caller's rollback takes the row it made away: admitted again
    cr_assert_eq (ctl_store_begin (store), 0);
    s_ingest ("web-2", "load", later, 1, 1, 1.0);
    ctl_store_rollback (store);
    s_ingest ("web-2", "load", later, 1, 1, 1.0);
    cr_assert_eq (s_int ("SELECT count (*) FROM metric_series"), 2);
    ctl_metric_query_t *result = ctl_metrics_repo_query (store, "web-2", NULL, "load", later - 1000,
                                                         later + 1000, 3600000, 1);
    cr_assert_not_null (result);
    cr_assert_eq (zlistx_size (result->series), 1, "the series is found by its row");
    ctl_metric_query_destroy (&result);
}

//  --------------------------------------------------------------------------
//  Bulk rows (ctl_sql_copy_begin): one COPY on PostgreSQL, a prepared
//  INSERT per row on SQLite

JT_STORE_TEST (metrics, bulk_rows_write_integers_doubles_and_texts)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    cr_assert_geq (ctl_sql_exec (sql,
                                 "CREATE TABLE bulk_check (n BIGINT NOT NULL, x DOUBLE PRECISION, "
                                 "t TEXT)",
                                 ""),
                   0);
    const char *insert = "INSERT INTO bulk_check (n, x, t) VALUES ($1, $2, $3)";
    ctl_copy_t copy;
    cr_assert_eq (ctl_store_begin (store), 0);
    //  no rows: nothing written
    cr_assert_eq (ctl_sql_copy_begin (sql, &copy, insert, "idt"), 0);
    cr_assert_eq (ctl_copy_end (&copy), 0);
    cr_assert_eq (ctl_sql_copy_begin (sql, &copy, insert, "idt"), 0);
    cr_assert_eq (ctl_copy_row (&copy, (int64_t)-5, -0.25, "é\ttab"), 0);
    cr_assert_eq (ctl_copy_row (&copy, INT64_MAX, 1e300, (const char *)NULL), 0);
    cr_assert_eq (ctl_copy_row (&copy, (int64_t)0, 3.5, ""), 0);
    cr_assert_eq (ctl_copy_end (&copy), 3);
    cr_assert_eq (ctl_store_commit (store), 0);
    cr_assert_eq (s_int ("SELECT n FROM bulk_check WHERE t = 'é\ttab'"), -5);
    cr_assert_eq (s_int ("SELECT n FROM bulk_check WHERE t IS NULL"), INT64_MAX);
    cr_assert_eq (s_int ("SELECT count (*) FROM bulk_check WHERE x = -0.25 OR x = 1e300 OR "
                         "(x = 3.5 AND t = '')"),
                  3);
    if (s_target.pg) {
        //  PostgreSQL: only inside a transaction, and only that INSERT shape
        cr_assert_eq (ctl_sql_copy_begin (sql, &copy, insert, "idt"), -1);
        cr_assert_eq (ctl_copy_end (&copy), -1);
        cr_assert_eq (ctl_store_begin (store), 0);
        cr_assert_eq (ctl_sql_copy_begin (sql, &copy, "INSERT INTO bulk_check (n) SELECT $1", "i"),
                      -1);
        cr_assert_eq (ctl_copy_end (&copy), -1);
        ctl_store_rollback (store);
    }
    cr_assert_eq (s_int ("SELECT count (*) FROM bulk_check"), 3);
}

//  --------------------------------------------------------------------------
//  Day partitions (PostgreSQL, migration 25): samples in one partition per
//  UTC day, made ahead by maintenance, dropped whole by retention

#define S_DAY    86400000LL
#define S_DAY_0  (20000 * S_DAY)  //  2024-10-04 00:00 UTC
#define S_DAY_0N "samples_d20241004"
#define S_DAY_1N "samples_d20241005"
#define S_DAY_2N "samples_d20241006"
#define S_DAY_3N "samples_d20241007"
#define S_DAY_5N "samples_d20241009"

//  Rows of samples in partition `name` (PostgreSQL)
static int64_t s_in_partition (const char *name)
{
    int64_t value = -1;
    cr_assert_eq (ctl_sql_int (ctl_store_sql (store), &value,
                               "SELECT count (*) FROM samples s JOIN pg_class c ON c.oid = "
                               "s.tableoid WHERE c.relname = $1",
                               "t", name),
                  0);
    return value;
}

//  Whether partition `name` of samples exists (PostgreSQL)
static bool s_partition (const char *name)
{
    int64_t value = -1;
    cr_assert_eq (ctl_sql_int (ctl_store_sql (store), &value,
                               "SELECT count (*) FROM pg_inherits i JOIN pg_class c ON c.oid = "
                               "i.inhrelid WHERE i.inhparent = CAST ('samples' AS regclass) AND "
                               "c.relname = $1",
                               "t", name),
                  0);
    return value == 1;
}

JT_STORE_TEST (metrics, maintenance_makes_the_days_ahead_and_samples_land_in_their_day)
{
    //  the partitions of today and the next two, made by the leader's maintenance
    cr_assert_eq (ctl_metrics_repo_maintain (metrics, S_DAY_0 + 3600000, S_DAY, 30 * S_DAY), 0);
    if (s_target.pg) {
        cr_assert (s_partition (S_DAY_0N));
        cr_assert (s_partition (S_DAY_1N));
        cr_assert (s_partition (S_DAY_2N));
        cr_assert_not (s_partition (S_DAY_3N));
        cr_assert (s_partition ("samples_default"));
    }
    //  the last millisecond of a day, and the first of the next: a sample
    //  at the boundary is the later day's
    s_ingest ("web-1", "load", S_DAY_0 + 1000, 1000, 3, 1.0);
    s_ingest ("web-1", "load", S_DAY_0 + S_DAY - 1, 1, 2, 5.0);
    s_ingest ("web-2", "load", S_DAY_0 + 2 * S_DAY, 1, 1, 7.0);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 6);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples WHERE ts = 1728086400000"), 1);
    if (s_target.pg) {
        cr_assert_eq (s_in_partition (S_DAY_0N), 4);
        cr_assert_eq (s_in_partition (S_DAY_1N), 1, "the boundary sample is the later day's");
        cr_assert_eq (s_in_partition (S_DAY_2N), 1);
        cr_assert_eq (s_in_partition ("samples_default"), 0);
        cr_assert_eq (s_int ("SELECT ts FROM samples WHERE tableoid = CAST ('samples_d20241005' "
                             "AS regclass)"),
                      S_DAY_0 + S_DAY);
        //  a day without a partition yet goes to DEFAULT, and moves to its
        //  own partition when maintenance makes it
        s_ingest ("web-1", "load", S_DAY_0 + 3 * S_DAY + 5, 1, 2, 1.0);
        cr_assert_eq (s_in_partition ("samples_default"), 2);
        cr_assert_eq (ctl_metrics_repo_maintain (metrics, S_DAY_0 + S_DAY, S_DAY, 30 * S_DAY), 0);
        cr_assert (s_partition (S_DAY_3N));
        cr_assert_eq (s_in_partition (S_DAY_3N), 2);
        cr_assert_eq (s_in_partition ("samples_default"), 0);
        cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 8);
    }
}

JT_STORE_TEST (metrics, retention_drops_a_past_day_only_once_it_is_rolled_up)
{
    cr_assert_eq (ctl_metrics_repo_maintain (metrics, S_DAY_0, S_DAY, 30 * S_DAY), 0);
    //  more samples on day 0 than one slice rolls up
    s_ingest ("web-1", "load", S_DAY_0, 1, CTL_METRICS_SLICE + 5000, 0.0);
    s_ingest ("web-1", "load", S_DAY_0 + S_DAY, 1000, 10, 0.0);
    s_ingest ("web-2", "load", S_DAY_0 + 2 * S_DAY + 1, 1000, 10, 0.0);
    int64_t total = CTL_METRICS_SLICE + 5000 + 20;
    //  three days on: days 0 and 1 are past a day's retention, day 2 is not
    int64_t now = S_DAY_0 + 3 * S_DAY;
    cr_assert_eq (ctl_metrics_repo_maintain (metrics, now, S_DAY, 30 * S_DAY), 1);
    if (s_target.pg) {
        //  the first slice rolled up only part of day 0, and none of day 1
        cr_assert (s_partition (S_DAY_0N), "a day not wholly rolled up is kept");
        cr_assert (s_partition (S_DAY_1N));
        cr_assert_eq (s_in_partition (S_DAY_1N), 10);
        //  the days ahead of now, made by the same slice
        cr_assert (s_partition (S_DAY_3N));
        cr_assert (s_partition (S_DAY_5N));
    }
    while (ctl_metrics_repo_maintain (metrics, now, S_DAY, 30 * S_DAY) == 1)
        ;
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 10);
    cr_assert_eq (s_int ("SELECT count (*) FROM samples WHERE ts < 1728172800000"), 0);
    cr_assert_eq (s_int ("SELECT sum (count) FROM rollups"), total, "every sample rolled up");
    if (s_target.pg) {
        cr_assert_not (s_partition (S_DAY_0N));
        cr_assert_not (s_partition (S_DAY_1N));
        cr_assert (s_partition (S_DAY_2N));
        cr_assert_eq (s_in_partition (S_DAY_2N), 10);
    }
    //  the samples left and new ones are still queried and rolled up
    s_ingest ("web-2", "load", now + 1, 1, 1, 0.0);
    cr_assert_eq (ctl_metrics_repo_maintain (metrics, now + 60000, S_DAY, 30 * S_DAY), 0);
    cr_assert_eq (s_int ("SELECT sum (count) FROM rollups"), total + 1);
}

Test (metrics_pg, the_day_partitions_migration_keeps_every_row_and_id)
{
    //  the store as migration 24 left it: samples one table, its ids an identity
    ctl_sql_t *sql = ctl_store_sql (store);
    const char *back[] = {
        "DROP TABLE samples",
        "DROP FUNCTION jadugar_samples_drop_days (BIGINT, BIGINT)",
        "DROP FUNCTION jadugar_samples_days_ahead (BIGINT)",
        "DROP FUNCTION jadugar_samples_day (BIGINT)",
        ("CREATE TABLE samples (metric BIGINT NOT NULL, host BIGINT NOT NULL, ts BIGINT NOT "
         "NULL, value DOUBLE PRECISION NOT NULL)"),
        "CREATE INDEX samples_metric_ts ON samples (metric, ts)",
        "ALTER TABLE samples ADD COLUMN id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "UPDATE jadugar_schema SET version = 24",
    };
    for (size_t index = 0; index < sizeof back / sizeof back[0]; index++)
        cr_assert_geq (ctl_sql_exec (sql, back[index], ""), 0, "%s", back[index]);
    //  samples over several days, the last one deleted: the identity is past max (id)
    s_ingest ("web-1", "load", 1000, 1, 2, 1.0);
    s_ingest ("web-1", "load", S_DAY_0 + 10, 1000, 3, 2.0);
    s_ingest ("web-2", "cpu", S_DAY_0 + S_DAY - 1, 1, 2, 3.0);
    s_ingest ("web-2", "cpu", S_DAY_0 + 5 * S_DAY, 1, 2, 4.0);
    int64_t last = s_int ("SELECT max (id) FROM samples");
    cr_assert_eq (
        ctl_sql_exec (sql, "DELETE FROM samples WHERE id = (SELECT max (id) FROM samples)", ""), 1);
    cr_assert_geq (ctl_sql_exec (sql, "CREATE TABLE samples_before AS SELECT * FROM samples", ""),
                   0);
    //  opened again: migration 25 runs
    ctl_metrics_repo_destroy (&metrics);
    ctl_store_destroy (&store);
    store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    cr_assert_not_null (store);
    sql = ctl_store_sql (store);
    cr_assert_eq (ctl_store_schema_version (store), 25);
    cr_assert_str_eq (ctl_store_migration_name (store, 25), "samples_by_day");
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 8);
    cr_assert_eq (s_int ("SELECT count (*) FROM (SELECT metric, host, ts, value, id FROM samples "
                         "EXCEPT SELECT metric, host, ts, value, id FROM samples_before) x"),
                  0, "every row and id kept");
    cr_assert_eq (
        s_int ("SELECT count (*) FROM (SELECT metric, host, ts, value, id FROM "
               "samples_before EXCEPT SELECT metric, host, ts, value, id FROM samples) x"),
        0);
    //  a partition per day holding rows, rows of other days in none
    cr_assert_eq (s_in_partition ("samples_d19700101"), 2);
    cr_assert_eq (s_in_partition (S_DAY_0N), 4);
    cr_assert_eq (s_in_partition (S_DAY_1N), 1);
    cr_assert_eq (s_in_partition ("samples_d20241009"), 1);
    cr_assert_eq (s_in_partition ("samples_default"), 0);
    cr_assert (s_partition ("samples_default"));
    cr_assert_eq (s_int ("SELECT count (*) FROM samples WHERE ts >= 1728000000000 AND ts < "
                         "1728086400000"),
                  4);
    //  new samples take ids past the old identity's last
    metrics = ctl_metrics_repo_new (store);
    cr_assert_not_null (metrics);
    ctl_metric_limits_t limits = {.series_per_agent = 10000, .label_sets_per_metric = 1000};
    ctl_metrics_repo_set_limits (metrics, &limits);
    s_ingest ("web-1", "load", S_DAY_0 + 20, 1, 1, 9.0);
    cr_assert_eq (s_int ("SELECT min (id) FROM samples WHERE value = 9.0"), last + 1);
    cr_assert_eq (s_in_partition (S_DAY_0N), 5);
    //  and retention drops the migrated days once rolled up
    while (ctl_metrics_repo_maintain (metrics, S_DAY_0 + 5 * S_DAY, S_DAY, 30 * S_DAY) == 1)
        ;
    cr_assert_not (s_partition ("samples_d19700101"));
    cr_assert_not (s_partition (S_DAY_0N));
    cr_assert_eq (s_int ("SELECT count (*) FROM samples"), 1);
}
