//  ctl_metrics - metric samples: ingestion, rollups, retention, queries
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_metrics.h"
#include "jad_db.h"
#include "jad_log.h"
#include "jad_util.h"

#include <czmq.h>
#include <math.h>
#include <string.h>

#define S_MAX_QUERY_SERIES 64

struct _ctl_metrics_t {
    sqlite3 *db;               //  borrowed
    zhashx_t *names;           //  series name -> id
    zhashx_t *hosts;           //  host name -> id
    sqlite3_stmt *insert;      //  one sample
    sqlite3_stmt *name_add;    //  INSERT OR IGNORE a series name
    sqlite3_stmt *name_get;    //  its id
    sqlite3_stmt *host_add;    //  INSERT OR IGNORE a host
    sqlite3_stmt *host_get;    //  its id
    sqlite3_stmt *host_note;   //  drops and last batch of a host
    sqlite3_stmt *stream_get;  //  a host's stream and last stored seq
    sqlite3_stmt *stream_set;
    uint64_t samples;  //  stored since start
    uint64_t batches;
    uint64_t rejected;    //  batches not stored
    uint64_t duplicates;  //  batches of a stream stored before
    uint64_t gaps;        //  batches of a stream ahead of the next expected
};

ctl_metrics_t *ctl_metrics_new (sqlite3 *db)
{
    ctl_metrics_t *self = (ctl_metrics_t *)calloc (1, sizeof (ctl_metrics_t));
    if (!self)
        return NULL;
    self->db = db;
    self->names = zhashx_new ();
    self->hosts = zhashx_new ();
    self->insert =
        jad_db_prepare (db, "INSERT INTO samples (metric, host, ts, value) VALUES (?, ?, ?, ?)");
    self->name_add = jad_db_prepare (db, "INSERT OR IGNORE INTO metric_names (name) VALUES (?)");
    self->name_get = jad_db_prepare (db, "SELECT id FROM metric_names WHERE name = ?");
    self->host_add = jad_db_prepare (db, "INSERT OR IGNORE INTO metric_hosts (name) VALUES (?)");
    self->host_get = jad_db_prepare (db, "SELECT id FROM metric_hosts WHERE name = ?");
    self->host_note = jad_db_prepare (db, "UPDATE metric_hosts SET dropped = ?, samples = samples "
                                          "+ ?, last_batch = ? WHERE id = ?");
    self->stream_get =
        jad_db_prepare (db, "SELECT stream, last_seq FROM metric_hosts WHERE id = ?");
    self->stream_set =
        jad_db_prepare (db, "UPDATE metric_hosts SET stream = ?, last_seq = ? WHERE id = ?");
    if (!self->names || !self->hosts || !self->insert || !self->name_add || !self->name_get ||
        !self->host_add || !self->host_get || !self->host_note || !self->stream_get ||
        !self->stream_set)
        ctl_metrics_destroy (&self);
    return self;
}

void ctl_metrics_destroy (ctl_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_metrics_t *self = *self_p;
    zhashx_destroy (&self->names);
    zhashx_destroy (&self->hosts);
    sqlite3_finalize (self->insert);
    sqlite3_finalize (self->name_add);
    sqlite3_finalize (self->name_get);
    sqlite3_finalize (self->host_add);
    sqlite3_finalize (self->host_get);
    sqlite3_finalize (self->host_note);
    sqlite3_finalize (self->stream_get);
    sqlite3_finalize (self->stream_set);
    free (self);
    *self_p = NULL;
}

//  Id of a dictionary entry, adding it (inside the caller's transaction).
//  0 on error.
static int64_t s_id (ctl_metrics_t *self, zhashx_t *cache, sqlite3_stmt *add, sqlite3_stmt *get,
                     const char *name)
{
    uintptr_t cached = (uintptr_t)zhashx_lookup (cache, name);
    if (cached)
        return (int64_t)cached;
    sqlite3_reset (add);
    sqlite3_bind_text (add, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step (add) != SQLITE_DONE) {
        jad_log_error ("metrics: cannot add name=%s error=\"%s\"", name, sqlite3_errmsg (self->db));
        return 0;
    }
    sqlite3_reset (get);
    sqlite3_bind_text (get, 1, name, -1, SQLITE_STATIC);
    int64_t id = sqlite3_step (get) == SQLITE_ROW ? sqlite3_column_int64 (get, 0) : 0;
    sqlite3_reset (get);
    if (id > 0)
        zhashx_insert (cache, name, (void *)(uintptr_t)id);
    return id;
}

//  Go-back-N for a batch of a stream: 1 store it, 0 do not (a duplicate or
//  a gap; *acked is what the host has in order), -1 error.
static int s_in_order (ctl_metrics_t *self, int64_t host_id, const jad_metric_batch_t *batch,
                       uint64_t *acked)
{
    sqlite3_stmt *get = self->stream_get;
    sqlite3_reset (get);
    sqlite3_bind_int64 (get, 1, host_id);
    if (sqlite3_step (get) != SQLITE_ROW) {
        sqlite3_reset (get);
        return -1;
    }
    const char *stream = (const char *)sqlite3_column_text (get, 0);
    uint64_t last = (uint64_t)sqlite3_column_int64 (get, 1);
    bool known = stream && streq (stream, batch->stream);
    bool none = stream == NULL;
    sqlite3_reset (get);
    if (!known) {
        //  A new stream starts at 1. A host with no stream on record (its
        //  first batch, or a controller upgraded while it streamed) starts
        //  where the agent is.
        if (none || batch->seq == 1)
            return 1;
        self->gaps++;
        *acked = 0;
        return 0;
    }
    if (batch->seq == last + 1)
        return 1;
    if (batch->seq <= last)
        self->duplicates++;
    else
        self->gaps++;
    *acked = last;
    return 0;
}

int ctl_metrics_ingest (ctl_metrics_t *self, const char *host, const jad_metric_batch_t *batch,
                        uint64_t *acked)
{
    assert (self);
    int64_t *ids = calloc (batch->name_count + 1, sizeof (int64_t));
    if (!ids || jad_db_begin (self->db)) {
        free (ids);
        self->rejected++;
        return -1;
    }
    //  Dictionary ids are cached only after the commit succeeds, so a
    //  rolled-back batch leaves no id that is not in the database.
    zhashx_t *names = self->names, *hosts = self->hosts;
    int64_t host_id = s_id (self, hosts, self->host_add, self->host_get, host);
    if (host_id <= 0)
        goto failed;
    if (batch->stream) {
        int order = s_in_order (self, host_id, batch, acked);
        if (order < 0)
            goto failed;
        if (order == 0) {
            if (jad_db_commit (self->db))
                goto failed;
            free (ids);
            return 0;
        }
        sqlite3_reset (self->stream_set);
        sqlite3_bind_text (self->stream_set, 1, batch->stream, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (self->stream_set, 2, (int64_t)batch->seq);
        sqlite3_bind_int64 (self->stream_set, 3, host_id);
        int rc = sqlite3_step (self->stream_set);
        sqlite3_reset (self->stream_set);
        if (rc != SQLITE_DONE)
            goto failed;
    }
    for (size_t index = 0; index < batch->name_count; index++) {
        ids[index] = s_id (self, names, self->name_add, self->name_get, batch->names[index]);
        if (ids[index] <= 0)
            goto failed;
    }
    sqlite3_stmt *insert = self->insert;
    for (size_t index = 0; index < batch->sample_count; index++) {
        sqlite3_reset (insert);
        sqlite3_bind_int64 (insert, 1, ids[batch->name_index[index]]);
        sqlite3_bind_int64 (insert, 2, host_id);
        sqlite3_bind_int64 (insert, 3, batch->times[index]);
        sqlite3_bind_double (insert, 4, batch->values[index]);
        if (sqlite3_step (insert) != SQLITE_DONE) {
            jad_log_error ("metrics: insert failed host=%s error=\"%s\"", host,
                           sqlite3_errmsg (self->db));
            goto failed;
        }
    }
    sqlite3_reset (insert);
    sqlite3_reset (self->host_note);
    sqlite3_bind_int64 (self->host_note, 1, (int64_t)batch->dropped);
    sqlite3_bind_int64 (self->host_note, 2, (int64_t)batch->sample_count);
    sqlite3_bind_int64 (self->host_note, 3, jad_now_ms ());
    sqlite3_bind_int64 (self->host_note, 4, host_id);
    int rc = sqlite3_step (self->host_note);
    sqlite3_reset (self->host_note);
    if (rc != SQLITE_DONE || jad_db_commit (self->db))
        goto failed;
    free (ids);
    self->samples += batch->sample_count;
    self->batches++;
    if (batch->stream && acked)
        *acked = batch->seq;
    return (int)batch->sample_count;

failed:
    jad_db_rollback (self->db);
    //  the ids cached during this batch may be gone with the rollback
    zhashx_purge (self->names);
    zhashx_purge (self->hosts);
    free (ids);
    self->rejected++;
    return -1;
}

int ctl_metrics_maintain (ctl_metrics_t *self, int64_t now, int64_t raw_ms, int64_t rollup_ms)
{
    int64_t mark = 0, top = 0;
    if (jad_db_get_int (self->db,
                        "SELECT CAST (value AS INTEGER) FROM meta WHERE key = "
                        "'rollup_sample_id'",
                        NULL, &mark) < 0 ||
        jad_db_get_int (self->db, "SELECT coalesce (max (id), 0) FROM samples", NULL, &top) < 0)
        return -1;
    if (jad_db_begin (self->db))
        return -1;
    if (top > mark) {
        sqlite3_stmt *stmt = jad_db_prepare (
            self->db, "INSERT INTO rollups (metric, host, minute, count, sum, min, max) "
                      "SELECT metric, host, ts / 60000 * 60000, count (*), sum (value), "
                      "min (value), max (value) FROM samples WHERE id > ?1 AND id <= ?2 "
                      "GROUP BY 1, 2, 3 ON CONFLICT (metric, host, minute) DO UPDATE SET "
                      "count = count + excluded.count, sum = sum + excluded.sum, "
                      "min = min (min, excluded.min), max = max (max, excluded.max)");
        if (!stmt)
            goto failed;
        sqlite3_bind_int64 (stmt, 1, mark);
        sqlite3_bind_int64 (stmt, 2, top);
        int rc = sqlite3_step (stmt);
        sqlite3_finalize (stmt);
        if (rc != SQLITE_DONE)
            goto failed;
        char value[32];
        snprintf (value, sizeof value, "%lld", (long long)top);
        if (jad_db_meta_set (self->db, "rollup_sample_id", value))
            goto failed;
    }
    sqlite3_stmt *stmt = jad_db_prepare (self->db, "DELETE FROM samples WHERE metric = ?1 AND "
                                                   "ts < ?2");
    sqlite3_stmt *names = jad_db_prepare (self->db, "SELECT id FROM metric_names");
    if (!stmt || !names) {
        sqlite3_finalize (stmt);
        sqlite3_finalize (names);
        goto failed;
    }
    while (sqlite3_step (names) == SQLITE_ROW) {
        sqlite3_reset (stmt);
        sqlite3_bind_int64 (stmt, 1, sqlite3_column_int64 (names, 0));
        sqlite3_bind_int64 (stmt, 2, now - raw_ms);
        sqlite3_step (stmt);
    }
    sqlite3_finalize (stmt);
    sqlite3_finalize (names);
    stmt = jad_db_prepare (self->db, "DELETE FROM rollups WHERE minute < ?");
    if (!stmt)
        goto failed;
    sqlite3_bind_int64 (stmt, 1, now - rollup_ms);
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE || jad_db_commit (self->db))
        goto failed;
    return 0;

failed:
    jad_db_rollback (self->db);
    jad_log_error ("metrics: maintenance failed error=\"%s\"", sqlite3_errmsg (self->db));
    return -1;
}

int ctl_metrics_env_values (ctl_metrics_t *self, const char *env, const char *metric, int64_t since,
                            double **values, uint32_t **hosts, size_t *count)
{
    *values = NULL;
    *hosts = NULL;
    *count = 0;
    sqlite3_stmt *stmt = jad_db_prepare (
        self->db, "SELECT s.value, s.host FROM samples s WHERE s.metric = (SELECT id FROM "
                  "metric_names WHERE name = ?1) AND s.ts >= ?2 AND s.host IN (SELECT h.id FROM "
                  "metric_hosts h JOIN agents a ON a.name = h.name WHERE a.env = ?3 AND "
                  "a.state = 'accepted')");
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, metric, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 2, since);
    sqlite3_bind_text (stmt, 3, env, -1, SQLITE_TRANSIENT);
    size_t allocated = 0;
    int result = 0;
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (*count == allocated) {
            allocated = allocated ? allocated * 2 : 64;
            double *grown_values = realloc (*values, allocated * sizeof (double));
            if (grown_values)
                *values = grown_values;
            uint32_t *grown_hosts = realloc (*hosts, allocated * sizeof (uint32_t));
            if (grown_hosts)
                *hosts = grown_hosts;
            if (!grown_values || !grown_hosts) {
                result = -1;
                break;
            }
        }
        (*values)[*count] = sqlite3_column_double (stmt, 0);
        (*hosts)[*count] = (uint32_t)sqlite3_column_int64 (stmt, 1);
        (*count)++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        result = -1;
    sqlite3_finalize (stmt);
    if (result) {
        free (*values);
        free (*hosts);
        *values = NULL;
        *hosts = NULL;
        *count = 0;
    }
    return result;
}

json_t *ctl_metrics_query (ctl_metrics_t *self, const char *host, const char *env, const char *name,
                           int64_t since, int64_t now, int64_t raw_ms, int buckets)
{
    if (buckets < 1)
        buckets = 1;
    int64_t span = now - since;
    int64_t bucket_ms = span / buckets + 1;
    bool raw = since >= now - raw_ms;
    //  Raw rows or rollups, as (metric, host, time, count, sum, min, max).
    const char *source =
        raw ? "(SELECT metric, host, ts AS t, 1 AS c, value AS s, value AS lo, value AS hi "
              "FROM samples WHERE ts >= ?1 AND ts <= ?2)"
            : "(SELECT metric, host, minute AS t, count AS c, sum AS s, min AS lo, max AS hi "
              "FROM rollups WHERE minute >= ?1 AND minute <= ?2)";
    char sql[1024];
    snprintf (sql, sizeof sql,
              "SELECT n.name, h.name, (x.t - ?1) / ?3, sum (x.c), sum (x.s), min (x.lo), "
              "max (x.hi) FROM %s x JOIN metric_names n ON n.id = x.metric "
              "JOIN metric_hosts h ON h.id = x.host "
              "WHERE (?4 IS NULL OR h.name = ?4) AND (?5 IS NULL OR h.name IN (SELECT name FROM "
              "agents WHERE env = ?5)) AND (?6 IS NULL OR n.name = ?6) "
              "GROUP BY x.metric, x.host, 3 ORDER BY n.name, h.name, 3",
              source);
    sqlite3_stmt *stmt = jad_db_prepare (self->db, sql);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64 (stmt, 1, since);
    sqlite3_bind_int64 (stmt, 2, now);
    sqlite3_bind_int64 (stmt, 3, bucket_ms);
    sqlite3_bind_text (stmt, 4, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 5, env, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 6, name, -1, SQLITE_TRANSIENT);
    json_t *list = json_array ();
    json_t *current = NULL;
    double lo = 0, hi = 0, sum = 0;
    int64_t count = 0;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *series = (const char *)sqlite3_column_text (stmt, 0);
        const char *host_name = (const char *)sqlite3_column_text (stmt, 1);
        if (!current || !streq (json_string_value (json_object_get (current, "name")), series) ||
            !streq (json_string_value (json_object_get (current, "host")), host_name)) {
            if (current) {
                json_object_set_new (current, "min", json_real (lo));
                json_object_set_new (current, "max", json_real (hi));
                json_object_set_new (current, "avg", json_real (sum / (double)count));
                json_object_set_new (current, "count", json_integer (count));
            }
            if (json_array_size (list) >= S_MAX_QUERY_SERIES) {
                current = NULL;
                break;
            }
            current = json_pack ("{s:s, s:s, s:[]}", "host", host_name, "name", series, "points");
            json_array_append_new (list, current);
            lo = INFINITY;
            hi = -INFINITY;
            sum = 0;
            count = 0;
        }
        int64_t bucket = sqlite3_column_int64 (stmt, 2);
        int64_t samples = sqlite3_column_int64 (stmt, 3);
        double total = sqlite3_column_double (stmt, 4);
        double low = sqlite3_column_double (stmt, 5);
        double high = sqlite3_column_double (stmt, 6);
        lo = low < lo ? low : lo;
        hi = high > hi ? high : hi;
        sum += total;
        count += samples;
        json_array_append_new (json_object_get (current, "points"),
                               json_pack ("[I, f]", (json_int_t)(since + bucket * bucket_ms),
                                          samples ? total / (double)samples : 0.0));
    }
    if (current) {
        json_object_set_new (current, "min", json_real (lo));
        json_object_set_new (current, "max", json_real (hi));
        json_object_set_new (current, "avg", json_real (count ? sum / (double)count : 0));
        json_object_set_new (current, "count", json_integer (count));
    }
    sqlite3_finalize (stmt);
    return json_pack ("{s:I, s:I, s:I, s:s, s:o}", "since", (json_int_t)since, "until",
                      (json_int_t)now, "bucket_ms", (json_int_t)bucket_ms, "source",
                      raw ? "raw" : "rollup", "series", list);
}

uint64_t ctl_metrics_samples (const ctl_metrics_t *self)
{
    return self ? self->samples : 0;
}

uint64_t ctl_metrics_batches (const ctl_metrics_t *self)
{
    return self ? self->batches : 0;
}

uint64_t ctl_metrics_rejected (const ctl_metrics_t *self)
{
    return self ? self->rejected : 0;
}

uint64_t ctl_metrics_duplicates (const ctl_metrics_t *self)
{
    return self ? self->duplicates : 0;
}

uint64_t ctl_metrics_gaps (const ctl_metrics_t *self)
{
    return self ? self->gaps : 0;
}
