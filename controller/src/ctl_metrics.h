//  ctl_metrics - metric samples: ingestion, rollups, retention, queries
//  SPDX-License-Identifier: MPL-2.0
//
//  Storage is built for ingestion speed: series names and hosts are small
//  integer ids (dictionaries cached in memory), samples are
//  (metric, host, ts, value) rows with one (metric, ts) index, and a batch
//  is one transaction through one prepared insert. Rollups (1-minute
//  count/sum/min/max per series and host) are made from rows newer than a
//  sample id watermark, so each row is rolled exactly once, late or not.
//  Retention deletes through the (metric, ts) index one series at a time.

#ifndef CTL_METRICS_H_INCLUDED
#define CTL_METRICS_H_INCLUDED

#include "jad_wire.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

typedef struct _ctl_metrics_t ctl_metrics_t;

//  New store on an open, migrated controller database (borrowed).
ctl_metrics_t *ctl_metrics_new (sqlite3 *db);
void ctl_metrics_destroy (ctl_metrics_t **self_p);

//  Store a batch from `host` (the authenticated agent name) in one
//  transaction (a savepoint inside the caller's, if any). Returns the
//  number of samples stored, or -1 (nothing stored, logged).
//  A batch of a stream (batch->stream set) is stored only in order (go-back-N,
//  the host's stream and last seq are stored with the samples): seq ==
//  last + 1 is stored; seq <= last is a duplicate and seq > last + 1 a gap,
//  both not stored (0 returned). A stream not on record starts at seq 1
//  (any seq if the host has no stream on record yet). *acked (if not NULL)
//  gets the highest seq of the batch's stream now stored in order: what the
//  MetricAck says once the transaction commits. Batches without a stream
//  are stored as they come and leave *acked alone.
int ctl_metrics_ingest (ctl_metrics_t *self, const char *host, const jad_metric_batch_t *batch,
                        uint64_t *acked);

//  Roll raw samples into 1-minute rollups and apply retention: raw rows
//  older than now - raw_ms, rollups older than now - rollup_ms. Returns 0
//  or -1.
int ctl_metrics_maintain (ctl_metrics_t *self, int64_t now, int64_t raw_ms, int64_t rollup_ms);

//  Raw values of series `metric` since `since` from the accepted agents of
//  `env`. Fills *values and *hosts (host id per value; caller frees both)
//  and *count. Returns 0 or -1.
int ctl_metrics_env_values (ctl_metrics_t *self, const char *env, const char *metric, int64_t since,
                            double **values, uint32_t **hosts, size_t *count);

//  Series of one host or of an environment's hosts since `since`, in
//  `buckets` equal time buckets (avg/min/max per bucket), read from raw
//  samples or, when `since` is older than raw_ms, from rollups. `name`
//  limits to one series. Returns {"since", "until", "bucket_ms",
//  "series": [{host, name, min, avg, max, count, points: [[ms, avg]...]}]}
//  (caller decrefs) or NULL.
json_t *ctl_metrics_query (ctl_metrics_t *self, const char *host, const char *env, const char *name,
                           int64_t since, int64_t now, int64_t raw_ms, int buckets);

//  Counters for /metrics.
uint64_t ctl_metrics_samples (const ctl_metrics_t *self);
uint64_t ctl_metrics_batches (const ctl_metrics_t *self);
uint64_t ctl_metrics_rejected (const ctl_metrics_t *self);
uint64_t ctl_metrics_duplicates (const ctl_metrics_t *self);
uint64_t ctl_metrics_gaps (const ctl_metrics_t *self);

#endif
