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

#define S_REFUSAL_LOG_MS 10000       //  one refusal line per this long, at most
#define S_SERIES_IDLE_MS 3600000     //  a series without rollups this long frees its place
#define S_SERIES_COST    10          //  a slice's budget one series' statements cost
#define S_ADMITTED_MAX   100000      //  series known admitted, kept at most (then forgotten)
#define S_DAY_MS         86400000LL  //  one UTC day: a partition of samples on PostgreSQL

struct _ctl_metrics_repo_t {
    ctl_store_t *store;  //  borrowed
    zhashx_t *names;     //  series name -> id
    zhashx_t *hosts;     //  host name -> id
    zhashx_t *series;    //  host name -> its series count + 1
    zhashx_t *admitted;  //  "HOST_ID METRIC_ID" of series with a metric_series row
    uint64_t rollbacks;  //  the store's rollbacks when the caches were last valid
    ctl_metric_limits_t limits;
    ctl_metric_refusals_t unlogged;  //  refusals since the last refusal line
    int64_t logged;                  //  mono ms of the last refusal line
    int64_t cursor;                  //  maintenance: the last metric id done
    int64_t days_ahead;              //  maintenance: the UTC day whose partitions ahead were made
    uint64_t samples;                //  stored since start
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
    self->series = zhashx_new ();
    self->admitted = zhashx_new ();
    self->limits = (ctl_metric_limits_t){.series_per_agent = 10000,
                                         .label_sets_per_metric = 1000,
                                         .retention_ms = 24 * 3600 * 1000,
                                         .ahead_ms = 5 * 60 * 1000};
    self->days_ahead = INT64_MIN;
    if (!self->names || !self->hosts || !self->series || !self->admitted)
        ctl_metrics_repo_destroy (&self);
    else
        self->rollbacks = ctl_sql_rollbacks (ctl_store_sql (store));
    return self;
}

void ctl_metrics_repo_set_limits (ctl_metrics_repo_t *self, const ctl_metric_limits_t *limits)
{
    assert (self);
    self->limits = *limits;
}

void ctl_metrics_repo_destroy (ctl_metrics_repo_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_metrics_repo_t *self = *self_p;
    zhashx_destroy (&self->names);
    zhashx_destroy (&self->hosts);
    zhashx_destroy (&self->series);
    zhashx_destroy (&self->admitted);
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

//  Id of series `name` if it is on record (never adding it): > 0, 0 if
//  not, -1 on error.
static int64_t s_name_find (ctl_metrics_repo_t *self, const char *name)
{
    uintptr_t cached = (uintptr_t)zhashx_lookup (self->names, name);
    if (cached)
        return (int64_t)cached;
    int64_t id = 0;
    int rc = ctl_sql_int (ctl_store_sql (self->store), &id,
                          "SELECT id FROM metric_names WHERE name = $1", "t", name);
    if (rc < 0)
        return -1;
    if (rc == 1)
        return 0;
    zhashx_insert (self->names, name, (void *)(uintptr_t)id);
    return id;
}

//  How many series host has (cached). -1 on error.
static int64_t s_series_count (ctl_metrics_repo_t *self, const char *host, int64_t host_id)
{
    uintptr_t cached = (uintptr_t)zhashx_lookup (self->series, host);
    if (cached)
        return (int64_t)cached - 1;
    int64_t count = 0;
    if (ctl_sql_int (ctl_store_sql (self->store), &count,
                     "SELECT count (*) FROM metric_series WHERE host = $1", "i", host_id) < 0)
        return -1;
    zhashx_update (self->series, host, (void *)(uintptr_t)(count + 1));
    return count;
}

//  Remember that series `key` ("HOST_ID METRIC_ID") has its
//  metric_series row, forgetting every other first when there are too many.
static void s_admitted (ctl_metrics_repo_t *self, const char *key)
{
    if (zhashx_size (self->admitted) >= S_ADMITTED_MAX)
        zhashx_purge (self->admitted);
    zhashx_insert (self->admitted, key, (void *)1);
}

//  Forget every id, count and admitted series cached: what they say may
//  have been rolled back or deleted.
static void s_forget (ctl_metrics_repo_t *self)
{
    zhashx_purge (self->names);
    zhashx_purge (self->hosts);
    zhashx_purge (self->series);
    zhashx_purge (self->admitted);
}

//  Id of series `name` for host_id, admitting it within the limits (a
//  metric_series row, and a metric_names row if new): > 0, 0 if refused
//  (counted in *refused), -1 on error.
static int64_t s_series_admit (ctl_metrics_repo_t *self, const char *host, int64_t host_id,
                               const char *name, ctl_metric_refusals_t *refused)
{
    ctl_sql_t *sql = ctl_store_sql (self->store);
    int64_t id = s_name_find (self, name);
    if (id < 0)
        return -1;
    char key[48];
    if (id > 0) {
        snprintf (key, sizeof key, "%lld %lld", (long long)host_id, (long long)id);
        if (zhashx_lookup (self->admitted, key))
            return id;
        int64_t known = 0;
        int rc =
            ctl_sql_int (sql, &known, "SELECT 1 FROM metric_series WHERE metric = $1 AND host = $2",
                         "ii", id, host_id);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            s_admitted (self, key);
            return id;
        }
    }
    //  A new series for this host: within its caps?
    int64_t count = s_series_count (self, host, host_id);
    if (count < 0)
        return -1;
    if (self->limits.series_per_agent && count >= self->limits.series_per_agent) {
        refused->series++;
        return 0;
    }
    const char *brace = strchr (name, '{');
    size_t base_len = brace ? (size_t)(brace - name) : strlen (name);
    char base[JAD_MAX_SERIES_LEN + 1];
    if (base_len > JAD_MAX_SERIES_LEN)
        base_len = JAD_MAX_SERIES_LEN;
    memcpy (base, name, base_len);
    base[base_len] = '\0';
    if (self->limits.label_sets_per_metric) {
        int64_t sets = 0;
        if (ctl_sql_int (sql, &sets,
                         "SELECT count (*) FROM metric_series WHERE host = $1 AND base = $2", "it",
                         host_id, base) < 0)
            return -1;
        if (sets >= self->limits.label_sets_per_metric) {
            refused->label_sets++;
            return 0;
        }
    }
    if (id == 0 && (id = s_id (self, self->names, false, name)) <= 0)
        return -1;
    if (ctl_sql_exec (sql,
                      "INSERT INTO metric_series (metric, host, base, since) VALUES ($1, $2, $3, "
                      "$4) ON CONFLICT (metric, host) DO NOTHING",
                      "iiti", id, host_id, base, jad_now_ms ()) < 0)
        return -1;
    zhashx_update (self->series, host, (void *)(uintptr_t)(count + 2));
    snprintf (key, sizeof key, "%lld %lld", (long long)host_id, (long long)id);
    s_admitted (self, key);
    return id;
}

//  Log what was refused, naming the agent, at most once per
//  S_REFUSAL_LOG_MS (what was refused in between is summed into the next
//  line).
static void s_refusals_log (ctl_metrics_repo_t *self, const char *host,
                            const ctl_metric_refusals_t *refused)
{
    ctl_metric_refusals_t *sum = &self->unlogged;
    sum->series += refused->series;
    sum->label_sets += refused->label_sets;
    sum->samples_cap += refused->samples_cap;
    sum->samples_time += refused->samples_time;
    int64_t now = jad_mono_ms ();
    if (!(sum->series || sum->label_sets || sum->samples_time) ||
        (self->logged && now - self->logged < S_REFUSAL_LOG_MS))
        return;
    jad_log_warning ("metrics: samples refused agent=%s new_series_over_cap=%llu "
                     "series_over_label_cap=%llu samples_of_refused_series=%llu "
                     "samples_out_of_time=%llu series_per_agent=%u label_sets_per_metric=%u "
                     "(counted since the last such line, one line per %d s at most)",
                     host, (unsigned long long)sum->series, (unsigned long long)sum->label_sets,
                     (unsigned long long)sum->samples_cap, (unsigned long long)sum->samples_time,
                     self->limits.series_per_agent, self->limits.label_sets_per_metric,
                     S_REFUSAL_LOG_MS / 1000);
    *sum = (ctl_metric_refusals_t){0};
    self->logged = now;
}

int ctl_metrics_repo_ingest (ctl_metrics_repo_t *self, const char *host,
                             const jad_metric_batch_t *batch, uint64_t *acked,
                             ctl_metric_refusals_t *refused_p)
{
    assert (self);
    ctl_sql_t *sql = ctl_store_sql (self->store);
    ctl_metric_refusals_t refused = {0};
    //  what the wire decoder refuses never reaches here; should it, the
    //  batch is refused whole before anything is written
    for (size_t index = 0; index < batch->sample_count; index++)
        if (batch->name_index[index] >= batch->name_count || !isfinite (batch->values[index])) {
            jad_log_error ("metrics: batch refused agent=%s sample=%zu: %s", host, index,
                           batch->name_index[index] >= batch->name_count
                               ? "its series is not in the batch's names"
                               : "its value is not a finite number");
            self->rejected++;
            return -1;
        }
    //  a rollback since the caches were filled (this repository's, or the
    //  caller's transaction around it) may have taken what they say away
    if (ctl_sql_rollbacks (sql) != self->rollbacks) {
        s_forget (self);
        self->rollbacks = ctl_sql_rollbacks (sql);
    }
    int64_t *ids = calloc (batch->name_count + 1, sizeof (int64_t));
    if (!ids || ctl_sql_begin (sql)) {
        free (ids);
        self->rejected++;
        return -1;
    }
    ctl_copy_t rows = {0};
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
        //  its place in the stream is taken with the counts, below
    }
    for (size_t index = 0; index < batch->name_count; index++) {
        ids[index] = s_series_admit (self, host, host_id, batch->names[index], &refused);
        if (ids[index] < 0)
            goto failed;
    }
    int64_t now = jad_now_ms ();
    int64_t oldest = self->limits.retention_ms ? now - self->limits.retention_ms : INT64_MIN;
    int64_t newest = self->limits.ahead_ms ? now + self->limits.ahead_ms : INT64_MAX;
    //  the whole batch as bulk rows: one COPY on PostgreSQL, one prepared
    //  INSERT run per sample on SQLite
    if (ctl_sql_copy_begin (sql, &rows,
                            "INSERT INTO samples (metric, host, ts, value) VALUES ($1, $2, $3, $4)",
                            "iiid"))
        goto failed;
    int64_t stored = 0;
    for (size_t index = 0; index < batch->sample_count; index++) {
        int64_t id = ids[batch->name_index[index]];
        int64_t time = batch->times[index];
        if (id == 0) {
            refused.samples_cap++;
            continue;
        }
        if (time < oldest || time > newest) {
            refused.samples_time++;
            continue;
        }
        if (ctl_copy_row (&rows, id, host_id, time, batch->values[index])) {
            jad_log_error ("metrics: insert failed host=%s", host);
            goto failed;
        }
        stored++;
    }
    int64_t written = ctl_copy_end (&rows);
    rows.sql = NULL;  //  ended
    if (written != stored) {
        jad_log_error ("metrics: insert failed host=%s", host);
        goto failed;
    }
    //  one statement for the counts and the stream's place (a round trip
    //  each on PostgreSQL)
    int64_t updated =
        batch->stream
            ? ctl_sql_exec (sql,
                            "UPDATE metric_hosts SET dropped = $1, samples = samples + $2, "
                            "last_batch = $3, stream = $4, last_seq = $5 WHERE id = $6",
                            "iiitii", (int64_t)batch->dropped, stored, now, batch->stream,
                            (int64_t)batch->seq, host_id)
            : ctl_sql_exec (sql,
                            "UPDATE metric_hosts SET dropped = $1, samples = samples + $2, "
                            "last_batch = $3 WHERE id = $4",
                            "iiii", (int64_t)batch->dropped, stored, now, host_id);
    if (updated != 1 || ctl_sql_commit (sql))
        goto failed;
    free (ids);
    self->samples += (uint64_t)stored;
    self->batches++;
    if (batch->stream && acked)
        *acked = batch->seq;
    s_refusals_log (self, host, &refused);
    if (refused_p) {
        refused_p->series += refused.series;
        refused_p->label_sets += refused.label_sets;
        refused_p->samples_cap += refused.samples_cap;
        refused_p->samples_time += refused.samples_time;
    }
    return (int)stored;

failed:
    if (rows.sql)
        ctl_copy_end (&rows);
    ctl_sql_rollback (sql);
    //  the ids and counts cached during this batch may be gone with the rollback
    s_forget (self);
    self->rollbacks = ctl_sql_rollbacks (sql);
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
    bool more = false;
    if (top > mark + CTL_METRICS_SLICE) {
        top = mark + CTL_METRICS_SLICE;
        more = true;
    }
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
    //  PostgreSQL keeps samples in one partition per UTC day (migration
    //  25): the partitions of today and the next two made once a day, and
    //  the days wholly past retention whose rows are all rolled up dropped
    //  whole; the rows DELETE below takes the rest (the day at the
    //  horizon, a day not rolled up yet, the DEFAULT partition).
    int64_t day = now / S_DAY_MS - (now % S_DAY_MS < 0 ? 1 : 0);
    bool pg = streq (ctl_sql_ops (sql)->scheme, "postgresql");
    int64_t made = 0, dropped = 0;
    if (pg && day != self->days_ahead &&
        ctl_sql_int (sql, &made, "SELECT jadugar_samples_days_ahead ($1)", "i", now) != 0)
        goto failed;
    if (pg && ctl_sql_int (sql, &dropped, "SELECT jadugar_samples_drop_days ($1, $2)", "ii",
                           now - raw_ms, top > mark ? top : mark) != 0)
        goto failed;
    if (dropped > 0)
        jad_log_info ("metrics: day partitions dropped=%lld before=%lld", (long long)dropped,
                      (long long)(now - raw_ms));
    //  Retention, one series at a time from where the last slice stopped:
    //  raw rows already rolled up, rollups, and then the series' places of
    //  hosts that have nothing left of it.
    int64_t budget = CTL_METRICS_SLICE;
    int64_t freed = 0;
    while (budget > 0) {
        int64_t id = 0;
        int rc =
            ctl_sql_int (sql, &id, "SELECT id FROM metric_names WHERE id > $1 ORDER BY id LIMIT 1",
                         "i", self->cursor);
        if (rc < 0)
            goto failed;
        if (rc == 1) {
            self->cursor = 0;  //  every series done: start again next time
            break;
        }
        int64_t deleted = ctl_sql_exec (sql,
                                        "DELETE FROM samples WHERE id IN (SELECT id FROM samples "
                                        "WHERE metric = $1 AND ts < $2 AND id <= $3 LIMIT $4)",
                                        "iiii", id, now - raw_ms, top, budget);
        if (deleted < 0)
            goto failed;
        budget -= deleted + S_SERIES_COST;
        if (budget <= 0) {
            more = true;  //  this series again next slice
            break;
        }
        int64_t rolled = ctl_sql_exec (sql, "DELETE FROM rollups WHERE metric = $1 AND minute < $2",
                                       "ii", id, now - rollup_ms);
        int64_t idle = ctl_sql_exec (
            sql,
            "DELETE FROM metric_series WHERE metric = $1 AND since < $2 AND NOT EXISTS (SELECT 1 "
            "FROM rollups r WHERE r.metric = metric_series.metric AND r.host = metric_series.host) "
            "AND NOT EXISTS (SELECT 1 FROM samples x WHERE x.metric = metric_series.metric AND "
            "x.host = metric_series.host)",
            "ii", id, now - S_SERIES_IDLE_MS);
        if (rolled < 0 || idle < 0)
            goto failed;
        budget -= rolled;
        freed += idle;
        self->cursor = id;
        if (budget <= 0)
            more = true;
    }
    if (ctl_sql_commit (sql))
        goto failed;
    if (pg)
        self->days_ahead = day;
    if (freed) {
        //  counts changed, and series admitted before may have no row now
        zhashx_purge (self->series);
        zhashx_purge (self->admitted);
    }
    return more ? 1 : 0;

failed:
    ctl_sql_rollback (sql);
    zhashx_purge (self->series);
    zhashx_purge (self->admitted);
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

int ctl_metrics_repo_plan_values (ctl_store_t *store, const char *plan_id, const char *metric,
                                  int64_t since, ctl_plan_value_t **values, size_t *count)
{
    *values = NULL;
    *count = 0;
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT s.value, h.id, h.name, CASE WHEN p.batch = 0 THEN 1 ELSE 0 "
                            "END FROM samples s JOIN metric_hosts h ON h.id = s.host JOIN "
                            "plan_hosts p ON p.agent = h.name AND p.plan_id = $1 WHERE s.metric = "
                            "(SELECT id FROM metric_names WHERE name = $2) AND s.ts >= $3 AND "
                            "(p.batch > 0 OR p.state = 'healthy') ORDER BY h.name",
                            "tti", plan_id, metric, since);
    size_t allocated = 0;
    bool failed = rc != 0;
    while (!failed && ctl_query_next (&query)) {
        if (*count == allocated) {
            allocated = allocated ? allocated * 2 : 64;
            ctl_plan_value_t *grown = realloc (*values, allocated * sizeof (ctl_plan_value_t));
            if (!grown) {
                failed = true;
                break;
            }
            *values = grown;
        }
        ctl_plan_value_t *item = &(*values)[*count];
        item->value = ctl_query_double (&query, 0);
        item->host = (uint32_t)ctl_query_int (&query, 1);
        item->name = ctl_query_strdup (&query, 2);
        item->canary = ctl_query_int (&query, 3) != 0;
        if (!item->name)
            failed = true;
        else
            (*count)++;
    }
    if (ctl_query_end (&query) || failed) {
        for (size_t index = 0; index < *count; index++)
            free ((*values)[index].name);
        free (*values);
        *values = NULL;
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

//  Order of a query's series: by name, then host.
static int s_series_compare (const void *one, const void *two)
{
    const ctl_metric_series_t *a = one, *b = two;
    int rc = strcmp (a->name, b->name);
    return rc ? rc : strcmp (a->host, b->host);
}

//  Read one series' buckets into it, at most `budget` rows. Returns the
//  rows read, or -1 on error.
static int64_t s_series_read (ctl_store_t *store, ctl_metric_query_t *self,
                              ctl_metric_series_t *series, int64_t metric, int64_t host,
                              int64_t budget)
{
    ctl_query_t query;
    int rc = self->raw
                 ? ctl_sql_query (ctl_store_sql (store), &query,
                                  "SELECT (ts - $1) / $3, count (*), sum (value), min (value), "
                                  "max (value) FROM (SELECT ts, value FROM samples WHERE metric = "
                                  "$4 AND ts >= $1 AND ts <= $2 AND host = $5 LIMIT $6) x GROUP BY "
                                  "1 ORDER BY 1",
                                  "iiiiii", self->since, self->until, self->bucket_ms, metric, host,
                                  budget)
                 : ctl_sql_query (ctl_store_sql (store), &query,
                                  "SELECT (minute - $1) / $3, sum (count), sum (sum), min (min), "
                                  "max (max), count (*) FROM (SELECT minute, count, sum, min, max "
                                  "FROM rollups WHERE metric = $4 AND host = $5 AND minute >= $1 "
                                  "AND minute <= $2 LIMIT $6) x GROUP BY 1 ORDER BY 1",
                                  "iiiiii", self->since, self->until, self->bucket_ms, metric, host,
                                  budget);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    int64_t count = 0, rows = 0;
    while (rc == 0 && ctl_query_next (&query)) {
        int64_t bucket = ctl_query_int (&query, 0);
        int64_t samples = ctl_query_int (&query, 1);
        double total = ctl_query_double (&query, 2);
        double low = ctl_query_double (&query, 3);
        double high = ctl_query_double (&query, 4);
        rows += self->raw ? samples : ctl_query_int (&query, 5);
        lo = low < lo ? low : lo;
        hi = high > hi ? high : hi;
        sum += total;
        count += samples;
        if (s_series_point (series, self->since + bucket * self->bucket_ms,
                            samples ? total / (double)samples : 0.0)) {
            query.failed = true;
            break;
        }
    }
    if (ctl_query_end (&query) || rc)
        return -1;
    s_series_close (series, count ? lo : 0, count ? hi : 0, sum, count);
    return rows;
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
    self->raw = since >= now - raw_ms && now - since <= CTL_METRICS_RAW_SPAN_MS;
    self->series = ctl_store_list ((zlistx_destructor_fn *)ctl_metric_series_destroy);
    if (!self->series) {
        ctl_metric_query_destroy (&self);
        return NULL;
    }
    int64_t started = jad_mono_ms ();
    //  Which series: at most CTL_METRICS_QUERY_SERIES (one more says there are
    //  more), found through metric_series so that no sample is read yet.
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT s.metric, s.host, n.name, h.name FROM metric_series s JOIN "
                            "metric_names n ON n.id = s.metric JOIN metric_hosts h ON h.id = "
                            "s.host WHERE ($1 IS NULL OR h.name = $1) AND ($2 IS NULL OR h.name IN "
                            "(SELECT name FROM agents WHERE env = $2)) AND ($3 IS NULL OR n.name = "
                            "$3) LIMIT $4",
                            "ttti", host, env, name, (int64_t)CTL_METRICS_QUERY_SERIES + 1);
    size_t found = 0;
    ctl_metric_series_t *picked[CTL_METRICS_QUERY_SERIES];
    int64_t ids[CTL_METRICS_QUERY_SERIES][2];
    while (rc == 0 && ctl_query_next (&query)) {
        if (found == CTL_METRICS_QUERY_SERIES) {
            self->truncated = true;
            break;
        }
        ctl_metric_series_t *series = calloc (1, sizeof (ctl_metric_series_t));
        if (series) {
            series->name = ctl_query_strdup (&query, 2);
            series->host = ctl_query_strdup (&query, 3);
        }
        if (!series || !series->name || !series->host) {
            ctl_metric_series_destroy (&series);
            query.failed = true;
            break;
        }
        picked[found] = series;
        ids[found][0] = ctl_query_int (&query, 0);
        ids[found][1] = ctl_query_int (&query, 1);
        found++;
    }
    bool failed = ctl_query_end (&query) || rc;
    //  by name then host, and each read within what is left of the budget
    size_t order[CTL_METRICS_QUERY_SERIES];
    for (size_t index = 0; index < found; index++)
        order[index] = index;
    for (size_t index = 1; index < found; index++)
        for (size_t back = index;
             back > 0 && s_series_compare (picked[order[back - 1]], picked[order[back]]) > 0;
             back--) {
            size_t swap = order[back];
            order[back] = order[back - 1];
            order[back - 1] = swap;
        }
    for (size_t index = 0; index < found; index++) {
        ctl_metric_series_t *series = picked[order[index]];
        picked[order[index]] = NULL;
        int64_t budget = CTL_METRICS_QUERY_ROWS - self->rows;
        if (jad_mono_ms () - started > CTL_METRICS_QUERY_MS) {
            self->truncated = true;
            budget = 0;
        }
        int64_t rows = failed || budget <= 0
                           ? 0
                           : s_series_read (store, self, series, ids[order[index]][0],
                                            ids[order[index]][1], budget);
        if (rows < 0)
            failed = true;
        else
            self->rows += rows;
        if (self->rows >= CTL_METRICS_QUERY_ROWS)
            self->truncated = true;
        //  series without a sample in the window are left out
        if (!failed && series->count > 0 && zlistx_add_end (self->series, series))
            series = NULL;
        ctl_metric_series_destroy (&series);
    }
    if (failed)
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
