//  ctl_metrics_repo - metric samples: names, hosts, streams, samples,
//  rollups, retention, queries
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_metrics_repo.h"
#include "ctl_agents_repo.h"
#include "ctl_store_internal.h"
#include "jad_log.h"
#include "jad_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_QUERY_SERIES 64

struct _ctl_metrics_repo_t {
    ctl_store_t *store;  //  borrowed
    zhashx_t *names;     //  series name -> id
    zhashx_t *hosts;     //  host name -> id
    uint64_t samples;    //  stored since start
    uint64_t batches;
    uint64_t rejected;    //  batches not stored
    uint64_t duplicates;  //  batches of a stream stored before
    uint64_t gaps;        //  batches of a stream ahead of the next expected
};

void ctl_metric_series_destroy (ctl_metric_series_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_metric_series_t *self = *self_p;
    ctl_store_free_strings (&self->host, &self->name, NULL);
    free (self->times);
    free (self->averages);
    free (self);
    *self_p = NULL;
}

void ctl_metric_query_destroy (ctl_metric_query_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zlistx_destroy (&(*self_p)->series);
    free (*self_p);
    *self_p = NULL;
}

ctl_metrics_repo_t *ctl_metrics_repo_new (ctl_store_t *store)
{
    ctl_metrics_repo_t *self = (ctl_metrics_repo_t *)calloc (1, sizeof (ctl_metrics_repo_t));
    if (!self)
        return NULL;
    self->store = store;
    self->names = zhashx_new ();
    self->hosts = zhashx_new ();
    if (!self->names || !self->hosts)
        ctl_metrics_repo_destroy (&self);
    return self;
}

void ctl_metrics_repo_destroy (ctl_metrics_repo_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_metrics_repo_t *self = *self_p;
    zhashx_destroy (&self->names);
    zhashx_destroy (&self->hosts);
    free (self);
    *self_p = NULL;
}

//  Id of a series name or a host, adding it (inside the caller's
//  transaction). 0 on error.
static int64_t s_id (ctl_metrics_repo_t *self, zhashx_t *cache, bool host, const char *name)
{
    uintptr_t cached = (uintptr_t)zhashx_lookup (cache, name);
    if (cached)
        return (int64_t)cached;
    ctl_sql_t *sql = ctl_store_sql (self->store);
    int64_t id = 0;
    int rc = host ? ctl_sql_int (sql, &id,
                                 "INSERT INTO metric_hosts (name) VALUES ($1) ON CONFLICT (name) "
                                 "DO UPDATE SET name = excluded.name RETURNING id",
                                 "t", name)
                  : ctl_sql_int (sql, &id,
                                 "INSERT INTO metric_names (name) VALUES ($1) ON CONFLICT (name) "
                                 "DO UPDATE SET name = excluded.name RETURNING id",
                                 "t", name);
    if (rc != 0 || id <= 0) {
        jad_log_error ("metrics: cannot add name=%s", name);
        return 0;
    }
    zhashx_insert (cache, name, (void *)(uintptr_t)id);
    return id;
}

//  Go-back-N for a batch of a stream: 1 store it, 0 do not (a duplicate or
//  a gap; *acked is what the host has in order), -1 error.
static int s_in_order (ctl_metrics_repo_t *self, int64_t host_id, const jad_metric_batch_t *batch,
                       uint64_t *acked)
{
    ctl_query_t query;
    int rc =
        ctl_sql_query (ctl_store_sql (self->store), &query,
                       "SELECT stream, last_seq FROM metric_hosts WHERE id = $1", "i", host_id);
    if (rc || !ctl_query_next (&query)) {
        ctl_query_end (&query);
        return -1;
    }
    const char *stream = ctl_query_text (&query, 0);
    uint64_t last = (uint64_t)ctl_query_int (&query, 1);
    bool known = stream && streq (stream, batch->stream);
    bool none = stream == NULL;
    if (ctl_query_end (&query))
        return -1;
    if (!known) {
        //  A new stream starts at 1. A host with no stream on record (its
        //  first batch, or a controller upgraded while it streamed) starts
        //  where the agent is.
        if (none || batch->seq == 1)
            return 1;
        self->gaps++;
        if (acked)
            *acked = 0;
        return 0;
    }
    if (batch->seq == last + 1)
        return 1;
    if (batch->seq <= last)
        self->duplicates++;
    else
        self->gaps++;
    if (acked)
        *acked = last;
    return 0;
}

int ctl_metrics_repo_ingest (ctl_metrics_repo_t *self, const char *host,
                             const jad_metric_batch_t *batch, uint64_t *acked)
{
    assert (self);
    ctl_sql_t *sql = ctl_store_sql (self->store);
    int64_t *ids = calloc (batch->name_count + 1, sizeof (int64_t));
    if (!ids || ctl_sql_begin (sql)) {
        free (ids);
        self->rejected++;
        return -1;
    }
    ctl_query_t insert = {0};
    int64_t host_id = s_id (self, self->hosts, true, host);
    if (host_id <= 0)
        goto failed;
    if (batch->stream) {
        int order = s_in_order (self, host_id, batch, acked);
        if (order < 0)
            goto failed;
        if (order == 0) {
            if (ctl_sql_commit (sql))
                goto failed;
            free (ids);
            return 0;
        }
        if (ctl_sql_exec (sql, "UPDATE metric_hosts SET stream = $1, last_seq = $2 WHERE id = $3",
                          "tii", batch->stream, (int64_t)batch->seq, host_id) < 0)
            goto failed;
    }
    for (size_t index = 0; index < batch->name_count; index++) {
        ids[index] = s_id (self, self->names, false, batch->names[index]);
        if (ids[index] <= 0)
            goto failed;
    }
    //  one statement for the whole batch, run once per sample
    if (ctl_sql_prepare (sql, &insert,
                         "INSERT INTO samples (metric, host, ts, value) VALUES ($1, $2, $3, $4)"))
        goto failed;
    for (size_t index = 0; index < batch->sample_count; index++)
        if (ctl_query_run (&insert, "iiid", ids[batch->name_index[index]], host_id,
                           batch->times[index], batch->values[index]) != 1) {
            jad_log_error ("metrics: insert failed host=%s", host);
            goto failed;
        }
    if (ctl_query_end (&insert))
        goto failed;
    if (ctl_sql_exec (sql,
                      "UPDATE metric_hosts SET dropped = $1, samples = samples + $2, last_batch = "
                      "$3 WHERE id = $4",
                      "iiii", (int64_t)batch->dropped, (int64_t)batch->sample_count, jad_now_ms (),
                      host_id) < 0 ||
        ctl_sql_commit (sql))
        goto failed;
    free (ids);
    self->samples += batch->sample_count;
    self->batches++;
    if (batch->stream && acked)
        *acked = batch->seq;
    return (int)batch->sample_count;

failed:
    ctl_query_end (&insert);
    ctl_sql_rollback (sql);
    //  the ids cached during this batch may be gone with the rollback
    zhashx_purge (self->names);
    zhashx_purge (self->hosts);
    free (ids);
    self->rejected++;
    return -1;
}

int ctl_metrics_repo_maintain (ctl_metrics_repo_t *self, int64_t now, int64_t raw_ms,
                               int64_t rollup_ms)
{
    ctl_sql_t *sql = ctl_store_sql (self->store);
    int64_t mark = 0, top = 0;
    if (ctl_sql_int (sql, &mark,
                     "SELECT CAST (value AS BIGINT) FROM meta WHERE key = 'rollup_sample_id'",
                     "") < 0 ||
        ctl_sql_int (sql, &top, "SELECT coalesce (max (id), 0) FROM samples", "") < 0)
        return -1;
    if (ctl_sql_begin (sql))
        return -1;
    if (top > mark) {
        if (ctl_sql_exec (sql,
                          "INSERT INTO rollups (metric, host, minute, count, sum, min, max) "
                          "SELECT metric, host, ts / 60000 * 60000, count (*), sum (value), "
                          "min (value), max (value) FROM samples WHERE id > $1 AND id <= $2 "
                          "GROUP BY 1, 2, 3 ON CONFLICT (metric, host, minute) DO UPDATE SET "
                          "count = rollups.count + excluded.count, sum = rollups.sum + "
                          "excluded.sum, min = CASE WHEN excluded.min < rollups.min THEN "
                          "excluded.min ELSE rollups.min END, max = CASE WHEN excluded.max > "
                          "rollups.max THEN excluded.max ELSE rollups.max END",
                          "ii", mark, top) < 0 ||
            ctl_sql_exec (sql,
                          "INSERT INTO meta (key, value) VALUES ('rollup_sample_id', CAST ($1 AS "
                          "TEXT)) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                          "i", top) < 0)
            goto failed;
    }
    zlistx_t *names = ctl_store_strings (self->store,
                                         "SELECT CAST (id AS TEXT) FROM metric_names "
                                         "ORDER BY id",
                                         "");
    if (!names)
        goto failed;
    for (char *id = zlistx_first (names); id; id = zlistx_next (names))
        if (ctl_sql_exec (sql, "DELETE FROM samples WHERE metric = $1 AND ts < $2", "ii",
                          (int64_t)strtoll (id, NULL, 10), now - raw_ms) < 0) {
            zlistx_destroy (&names);
            goto failed;
        }
    zlistx_destroy (&names);
    if (ctl_sql_exec (sql, "DELETE FROM rollups WHERE minute < $1", "i", now - rollup_ms) < 0 ||
        ctl_sql_commit (sql))
        goto failed;
    return 0;

failed:
    ctl_sql_rollback (sql);
    jad_log_error ("metrics: maintenance failed");
    return -1;
}

int ctl_metrics_repo_env_values (ctl_store_t *store, const char *env, const char *metric,
                                 int64_t since, double **values, uint32_t **hosts, size_t *count)
{
    *values = NULL;
    *hosts = NULL;
    *count = 0;
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT s.value, s.host FROM samples s WHERE s.metric = (SELECT id "
                            "FROM metric_names WHERE name = $1) AND s.ts >= $2 AND s.host IN "
                            "(SELECT h.id FROM metric_hosts h JOIN agents a ON a.name = h.name "
                            "WHERE a.env = $3 AND a.state = 'accepted')",
                            "tit", metric, since, env);
    size_t allocated = 0;
    while (rc == 0 && ctl_query_next (&query)) {
        if (*count == allocated) {
            allocated = allocated ? allocated * 2 : 64;
            double *grown_values = realloc (*values, allocated * sizeof (double));
            if (grown_values)
                *values = grown_values;
            uint32_t *grown_hosts = realloc (*hosts, allocated * sizeof (uint32_t));
            if (grown_hosts)
                *hosts = grown_hosts;
            if (!grown_values || !grown_hosts) {
                query.failed = true;
                break;
            }
        }
        (*values)[*count] = ctl_query_double (&query, 0);
        (*hosts)[*count] = (uint32_t)ctl_query_int (&query, 1);
        (*count)++;
    }
    if (ctl_query_end (&query) || rc) {
        free (*values);
        free (*hosts);
        *values = NULL;
        *hosts = NULL;
        *count = 0;
        return -1;
    }
    return 0;
}

//  Close a series: its min, max, average and count.
static void s_series_close (ctl_metric_series_t *series, double lo, double hi, double sum,
                            int64_t count)
{
    series->min = lo;
    series->max = hi;
    series->avg = count ? sum / (double)count : 0;
    series->count = count;
}

//  Append a point to a series. Returns 0 or -1.
static int s_series_point (ctl_metric_series_t *series, int64_t time, double average)
{
    int64_t *times = realloc (series->times, (series->points + 1) * sizeof (int64_t));
    if (times)
        series->times = times;
    double *averages = realloc (series->averages, (series->points + 1) * sizeof (double));
    if (averages)
        series->averages = averages;
    if (!times || !averages)
        return -1;
    series->times[series->points] = time;
    series->averages[series->points] = average;
    series->points++;
    return 0;
}

ctl_metric_query_t *ctl_metrics_repo_query (ctl_store_t *store, const char *host, const char *env,
                                            const char *name, int64_t since, int64_t now,
                                            int64_t raw_ms, int buckets)
{
    if (buckets < 1)
        buckets = 1;
    ctl_metric_query_t *self = (ctl_metric_query_t *)calloc (1, sizeof (ctl_metric_query_t));
    if (!self)
        return NULL;
    self->since = since;
    self->until = now;
    self->bucket_ms = (now - since) / buckets + 1;
    self->raw = since >= now - raw_ms;
    self->series = ctl_store_list ((zlistx_destructor_fn *)ctl_metric_series_destroy);
    if (!self->series) {
        ctl_metric_query_destroy (&self);
        return NULL;
    }
    //  raw rows or rollups, as (metric, host, time, count, sum, min, max)
    ctl_query_t query;
    int rc =
        self->raw
            ? ctl_sql_query (ctl_store_sql (store), &query,
                             "SELECT n.name, h.name, (x.ts - $1) / $3, count (*), sum (x.value), "
                             "min (x.value), max (x.value) FROM samples x JOIN metric_names n ON "
                             "n.id = x.metric JOIN metric_hosts h ON h.id = x.host WHERE x.ts >= "
                             "$1 AND x.ts <= $2 AND ($4 IS NULL OR h.name = $4) AND ($5 IS NULL "
                             "OR h.name IN (SELECT name FROM agents WHERE env = $5)) AND ($6 IS "
                             "NULL OR n.name = $6) GROUP BY n.name, h.name, 3 ORDER BY n.name, "
                             "h.name, 3",
                             "iiittt", since, now, self->bucket_ms, host, env, name)
            : ctl_sql_query (ctl_store_sql (store), &query,
                             "SELECT n.name, h.name, (x.minute - $1) / $3, sum (x.count), sum "
                             "(x.sum), min (x.min), max (x.max) FROM rollups x JOIN metric_names "
                             "n ON n.id = x.metric JOIN metric_hosts h ON h.id = x.host WHERE "
                             "x.minute >= $1 AND x.minute <= $2 AND ($4 IS NULL OR h.name = $4) "
                             "AND ($5 IS NULL OR h.name IN (SELECT name FROM agents WHERE env = "
                             "$5)) AND ($6 IS NULL OR n.name = $6) GROUP BY n.name, h.name, 3 "
                             "ORDER BY n.name, h.name, 3",
                             "iiittt", since, now, self->bucket_ms, host, env, name);
    ctl_metric_series_t *current = NULL;
    double lo = 0, hi = 0, sum = 0;
    int64_t count = 0;
    while (rc == 0 && ctl_query_next (&query)) {
        const char *series = ctl_query_text (&query, 0);
        const char *host_name = ctl_query_text (&query, 1);
        if (!series || !host_name)
            continue;
        if (!current || !streq (current->name, series) || !streq (current->host, host_name)) {
            if (current)
                s_series_close (current, lo, hi, sum, count);
            current = NULL;
            if (zlistx_size (self->series) >= S_MAX_QUERY_SERIES)
                break;
            current = (ctl_metric_series_t *)calloc (1, sizeof (ctl_metric_series_t));
            if (current) {
                current->host = strdup (host_name);
                current->name = strdup (series);
            }
            if (!current || !current->host || !current->name ||
                !zlistx_add_end (self->series, current)) {
                ctl_metric_series_destroy (&current);
                query.failed = true;
                break;
            }
            lo = INFINITY;
            hi = -INFINITY;
            sum = 0;
            count = 0;
        }
        int64_t bucket = ctl_query_int (&query, 2);
        int64_t samples = ctl_query_int (&query, 3);
        double total = ctl_query_double (&query, 4);
        double low = ctl_query_double (&query, 5);
        double high = ctl_query_double (&query, 6);
        lo = low < lo ? low : lo;
        hi = high > hi ? high : hi;
        sum += total;
        count += samples;
        if (s_series_point (current, since + bucket * self->bucket_ms,
                            samples ? total / (double)samples : 0.0)) {
            query.failed = true;
            break;
        }
    }
    if (current)
        s_series_close (current, lo, hi, sum, count);
    if (ctl_query_end (&query) || rc)
        ctl_metric_query_destroy (&self);
    return self;
}

zlistx_t *ctl_metrics_repo_dropped (ctl_store_t *store)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_tally_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT name, dropped FROM metric_hosts ORDER BY name", "")
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_tally_t *tally = (ctl_tally_t *)calloc (1, sizeof (ctl_tally_t));
        if (tally) {
            tally->labels[0] = ctl_query_strdup (&query, 0);
            tally->count = ctl_query_int (&query, 1);
        }
        if (!tally || !tally->labels[0] || !zlistx_add_end (list, tally)) {
            ctl_tally_destroy (&tally);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query))
        zlistx_destroy (&list);
    return list;
}

uint64_t ctl_metrics_repo_samples (const ctl_metrics_repo_t *self)
{
    return self ? self->samples : 0;
}

uint64_t ctl_metrics_repo_batches (const ctl_metrics_repo_t *self)
{
    return self ? self->batches : 0;
}

uint64_t ctl_metrics_repo_rejected (const ctl_metrics_repo_t *self)
{
    return self ? self->rejected : 0;
}

uint64_t ctl_metrics_repo_duplicates (const ctl_metrics_repo_t *self)
{
    return self ? self->duplicates : 0;
}

uint64_t ctl_metrics_repo_gaps (const ctl_metrics_repo_t *self)
{
    return self ? self->gaps : 0;
}
