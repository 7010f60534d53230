//  ctl_metrics_repo - metric samples: names, hosts, streams, samples,
//  rollups, retention, queries
//  SPDX-License-Identifier: MPL-2.0
//
//  Storage is built for ingestion speed: series names and hosts are small
//  integer ids (dictionaries cached in memory), samples are
//  (id, metric, host, ts, value) rows with one (metric, ts) index, and a
//  batch is one transaction (a savepoint inside the caller's burst)
//  through one statement run for each sample. Rollups (1-minute
//  count/sum/min/max per series and host) are made from samples whose id
//  is above a watermark (meta 'rollup_sample_id'), so each sample is
//  rolled exactly once, late or not. Retention deletes through the
//  (metric, ts) index one series at a time.
//
//  A stream (the agents' acknowledged metric batches) is stored in order,
//  go-back-N: per host its current stream and the last batch stored.

#ifndef CTL_METRICS_REPO_H_INCLUDED
#define CTL_METRICS_REPO_H_INCLUDED

#include "ctl_store.h"
#include "jad_wire.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _ctl_metrics_repo_t ctl_metrics_repo_t;

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
    zlistx_t *series;  //  ctl_metric_series_t, by name then host
} ctl_metric_query_t;

void ctl_metric_query_destroy (ctl_metric_query_t **self_p);

//  New repository on the store (borrowed; the loop's own). NULL on error.
ctl_metrics_repo_t *ctl_metrics_repo_new (ctl_store_t *store);
void ctl_metrics_repo_destroy (ctl_metrics_repo_t **self_p);

//  Store a batch from `host` (the authenticated agent name) in one
//  transaction (a savepoint inside the caller's, if any). Returns the
//  number of samples stored, or -1 (nothing stored, logged).
//  A batch of a stream (batch->stream set) is stored only in order: seq ==
//  last + 1 is stored; seq <= last is a duplicate and seq > last + 1 a gap,
//  both not stored (0 returned). A stream not on record starts at seq 1
//  (any seq if the host has no stream on record yet). *acked (if not NULL)
//  gets the highest seq of the batch's stream now stored in order: what the
//  MetricAck says once the transaction commits. Batches without a stream
//  are stored as they come and leave *acked alone.
int ctl_metrics_repo_ingest (ctl_metrics_repo_t *self, const char *host,
                             const jad_metric_batch_t *batch, uint64_t *acked);

//  Roll raw samples into 1-minute rollups and apply retention: raw rows
//  older than now - raw_ms, rollups older than now - rollup_ms. Returns 0
//  or -1.
int ctl_metrics_repo_maintain (ctl_metrics_repo_t *self, int64_t now, int64_t raw_ms,
                               int64_t rollup_ms);

//  Raw values of series `metric` since `since` from the accepted agents of
//  `env`. Fills *values and *hosts (host id per value; caller frees both)
//  and *count. Returns 0 or -1.
int ctl_metrics_repo_env_values (ctl_store_t *store, const char *env, const char *metric,
                                 int64_t since, double **values, uint32_t **hosts, size_t *count);

//  Series of one host or of an environment's hosts since `since`, in
//  `buckets` equal time buckets (avg/min/max per bucket), read from raw
//  samples or, when `since` is older than raw_ms, from rollups; at most 64
//  series. `name` limits to one series. NULL on error.
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
