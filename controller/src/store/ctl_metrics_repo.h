//  ctl_metrics_repo - metric samples: names, hosts, streams, samples,
//  rollups, retention, queries
//  SPDX-License-Identifier: MPL-2.0
//
//  Storage is built for ingestion speed: series names and hosts are small
//  integer ids (dictionaries cached in memory), samples are
//  (id, metric, host, ts, value) rows with one (metric, ts) index, and a
//  batch is one transaction (a savepoint inside the caller's burst)
//  writing its samples as bulk rows (ctl_sql_copy_begin: one COPY on
//  PostgreSQL, a prepared INSERT run per sample on SQLite). Which series
//  a host has is cached too; every cache is forgotten after a rollback on
//  the store (ctl_sql_rollbacks) or when maintenance frees series. Rollups (1-minute
//  count/sum/min/max per series and host) are made from samples whose id
//  is above a watermark (meta 'rollup_sample_id'), so each sample is
//  rolled exactly once, late or not. Retention deletes through the
//  (metric, ts) index one series at a time.
//
//  A stream (the agents' acknowledged metric batches) is stored in order,
//  go-back-N: per host its current stream and the last batch stored.
//
//  One agent cannot exhaust the store (SECURITY-TESTS row 32): each host
//  has at most `series_per_agent` series (metric_series rows: which series
//  a host has samples of) and at most `label_sets_per_metric` of them with
//  the same metric name (the name before '{'); a new series over either
//  cap is refused with its samples, and is never added to metric_names.
//  Samples older than the raw retention or more than `ahead_ms` in the
//  future are refused. Refusals are counted for the caller and logged at
//  most once per S_REFUSAL_LOG_MS, naming the agent. A series whose
//  samples and rollups are all gone frees its place. Maintenance and
//  queries work in bounded slices so that the loop never stalls.

#ifndef CTL_METRICS_REPO_H_INCLUDED
#define CTL_METRICS_REPO_H_INCLUDED

#include "ctl_store.h"
#include "jad_wire.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _ctl_metrics_repo_t ctl_metrics_repo_t;

//  What one agent may store (controller.yaml `limits:`, metrics-retention).
typedef struct {
    uint32_t series_per_agent;       //  series per host (0: no cap)
    uint32_t label_sets_per_metric;  //  series of one metric name per host (0: no cap)
    int64_t retention_ms;            //  samples older than now - this are refused (0: none)
    int64_t ahead_ms;                //  samples newer than now + this are refused (0: none)
} ctl_metric_limits_t;

//  What one batch had refused (ctl_metrics_repo_ingest).
typedef struct {
    uint64_t series;        //  new series over series_per_agent
    uint64_t label_sets;    //  new series over label_sets_per_metric
    uint64_t samples_cap;   //  samples of refused series
    uint64_t samples_time;  //  samples outside [now - retention, now + ahead]
} ctl_metric_refusals_t;

//  The most rows a query reads (raw samples or rollups); the answer says
//  when it stopped there (ctl_metric_query_t.truncated).
#define CTL_METRICS_QUERY_ROWS   200000
#define CTL_METRICS_QUERY_SERIES 64
//  ... and stops reading further series after this long
#define CTL_METRICS_QUERY_MS 500
//  The widest raw query: longer spans are read from the 1-minute rollups.
#define CTL_METRICS_RAW_SPAN_MS (3600 * 1000)

//  One series of a query: a host's metric over buckets.
typedef struct {
    char *host;
    char *name;
    double min, max, avg;
    int64_t count;     //  samples
    int64_t *times;    //  bucket start (wall ms), per point
    double *averages;  //  bucket average, per point
    size_t points;
} ctl_metric_series_t;

void ctl_metric_series_destroy (ctl_metric_series_t **self_p);

//  A query's answer.
typedef struct {
    int64_t since, until, bucket_ms;
    bool raw;          //  from raw samples (else from rollups)
    bool truncated;    //  stopped at CTL_METRICS_QUERY_ROWS rows or _SERIES series
    int64_t rows;      //  rows read
    zlistx_t *series;  //  ctl_metric_series_t, by name then host
} ctl_metric_query_t;

void ctl_metric_query_destroy (ctl_metric_query_t **self_p);

//  New repository on the store (borrowed; the loop's own). NULL on error.
ctl_metrics_repo_t *ctl_metrics_repo_new (ctl_store_t *store);
void ctl_metrics_repo_destroy (ctl_metrics_repo_t **self_p);

//  Set what each agent may store (copied). A new repository has the
//  defaults of controller.yaml(5): 10000 series, 1000 label sets, 24 h
//  back, 5 minutes ahead.
void ctl_metrics_repo_set_limits (ctl_metrics_repo_t *self, const ctl_metric_limits_t *limits);

//  Store a batch from `host` (the authenticated agent name) in one
//  transaction (a savepoint inside the caller's, if any). Returns the
//  number of samples stored, or -1 (nothing stored, logged): a store
//  error, or a sample whose series index is outside the batch's names or
//  whose value is not finite (which the wire decoder refuses before).
//  A batch of a stream (batch->stream set) is stored only in order: seq ==
//  last + 1 is stored; seq <= last is a duplicate and seq > last + 1 a gap,
//  both not stored (0 returned). A stream not on record starts at seq 1
//  (any seq if the host has no stream on record yet). *acked (if not NULL)
//  gets the highest seq of the batch's stream now stored in order: what the
//  MetricAck says once the transaction commits. Batches without a stream
//  are stored as they come and leave *acked alone.
//  Samples over the limits are refused and the rest stored (the batch is
//  acknowledged all the same: sending it again would not help); what was
//  refused is added to *refused (if not NULL).
int ctl_metrics_repo_ingest (ctl_metrics_repo_t *self, const char *host,
                             const jad_metric_batch_t *batch, uint64_t *acked,
                             ctl_metric_refusals_t *refused);

//  One bounded slice of maintenance: roll up to CTL_METRICS_SLICE raw
//  samples into 1-minute rollups, then delete up to CTL_METRICS_SLICE rows
//  past retention (raw rows older than now - raw_ms that are rolled up,
//  rollups older than now - rollup_ms) and free the places of series with
//  nothing left, going on where the last slice stopped. On PostgreSQL
//  (samples in one partition per UTC day) it also makes the partitions of
//  now's day and the next two, once a day, and drops whole the days that
//  end at or before now - raw_ms and whose rows are all rolled up.
//  Returns 1 if work is left (call again soon), 0 if all done, -1 on error.
#define CTL_METRICS_SLICE 20000
int ctl_metrics_repo_maintain (ctl_metrics_repo_t *self, int64_t now, int64_t raw_ms,
                               int64_t rollup_ms);

//  A raw value of one host of a plan (ctl_metrics_repo_plan_values).
typedef struct {
    double value;
    uint32_t host;  //  metric_hosts.id
    char *name;     //  the host's name (owned: free it)
    bool canary;    //  a healthy host of the plan's batch 0, else a host of a later batch
} ctl_plan_value_t;

//  Raw values of series `metric` since `since` from the hosts of plan_id
//  that canary analysis judges: the healthy hosts of its first batch (the
//  canaries) and the hosts of its later batches (the baseline, still on
//  the previous release). Fills *values (caller frees it and each name)
//  and *count. Returns 0 or -1.
int ctl_metrics_repo_plan_values (ctl_store_t *store, const char *plan_id, const char *metric,
                                  int64_t since, ctl_plan_value_t **values, size_t *count);

//  Raw values of series `metric` since `since` from the accepted agents of
//  `env`. Fills *values and *hosts (host id per value; caller frees both)
//  and *count. Returns 0 or -1.
int ctl_metrics_repo_env_values (ctl_store_t *store, const char *env, const char *metric,
                                 int64_t since, double **values, uint32_t **hosts, size_t *count);

//  Series of one host or of an environment's hosts since `since`, in
//  `buckets` equal time buckets (avg/min/max per bucket), read from raw
//  samples or, when `since` is older than raw_ms or the span wider than
//  CTL_METRICS_RAW_SPAN_MS, from rollups; at most CTL_METRICS_QUERY_SERIES
//  series, CTL_METRICS_QUERY_ROWS rows and (between series)
//  CTL_METRICS_QUERY_MS (then `truncated`). `name` limits to
//  one series. NULL on error.
ctl_metric_query_t *ctl_metrics_repo_query (ctl_store_t *store, const char *host, const char *env,
                                            const char *name, int64_t since, int64_t now,
                                            int64_t raw_ms, int buckets);

//  The samples each agent last said it dropped (labels: host; count).
zlistx_t *ctl_metrics_repo_dropped (ctl_store_t *store);

//  Counters since the repository was made.
uint64_t ctl_metrics_repo_samples (const ctl_metrics_repo_t *self);
uint64_t ctl_metrics_repo_batches (const ctl_metrics_repo_t *self);
uint64_t ctl_metrics_repo_rejected (const ctl_metrics_repo_t *self);
uint64_t ctl_metrics_repo_duplicates (const ctl_metrics_repo_t *self);
uint64_t ctl_metrics_repo_gaps (const ctl_metrics_repo_t *self);

#endif
