//  agt_mstream - acknowledged metric delivery: the batches sent and not yet acked
//  SPDX-License-Identifier: MPL-2.0

#include "agt_mstream.h"
#include "agt_metrics.h"
#include "jad_db.h"
#include "jad_log.h"
#include "jad_util.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  last_sent of a batch loaded or renumbered and not sent since: due
#define S_NEVER (INT64_MIN / 2)

//  Resends in a row that brought no ack double the wait for the next one,
//  up to 2^S_BACKOFF_MAX times the caller's timeout: a controller that is
//  slow to ack (restarting, overloaded) gets each window a few times, not
//  once per timeout for as long as it lags, which would only lengthen its
//  queue (every agent sending its whole window again every few seconds).
#define S_BACKOFF_MAX 2

typedef struct {
    uint64_t seq;
    uint64_t samples;
    zchunk_t *wire;     //  the encoded AgentMsg
    int64_t last_sent;  //  ms, the caller's clock
    int64_t row;        //  its metric_outbox id (durable streams)
} s_entry_t;

struct _agt_mstream_t {
    char id[33];
    uint64_t next_seq;   //  seq of the next new batch
    size_t window;       //  most unacked batches before the window is full
    s_entry_t *entries;  //  ring of `slots` (>= window), oldest at `head`
    size_t slots;
    size_t head;
    size_t count;
    uint64_t samples;         //  in the entries
    unsigned backoff;         //  resends without an ack since the last progress
    sqlite3 *db;              //  borrowed; NULL: memory only
    uint64_t capacity;        //  queued samples kept at most
    uint64_t queued;          //  queued rows
    uint64_t queued_samples;  //  in them
    uint64_t dropped;         //  queued samples dropped at the capacity
    bool failing;             //  a database write failed: logged once until one works
};

static agt_mstream_t *s_new (size_t window, size_t slots)
{
    agt_mstream_t *self = (agt_mstream_t *)calloc (1, sizeof (agt_mstream_t));
    if (!self)
        return NULL;
    self->window = window ? window : 1;
    self->slots = slots > self->window ? slots : self->window;
    self->entries = calloc (self->slots, sizeof (s_entry_t));
    if (!self->entries) {
        free (self);
        return NULL;
    }
    jad_random_id (16, self->id);
    self->next_seq = 1;
    return self;
}

agt_mstream_t *agt_mstream_new (size_t window)
{
    return s_new (window, window);
}

void agt_mstream_destroy (agt_mstream_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agt_mstream_t *self = *self_p;
    for (size_t index = 0; index < self->count; index++)
        zchunk_destroy (&self->entries[(self->head + index) % self->slots].wire);
    free (self->entries);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  The table

//  A write failed (logged once until one works) or worked.
static void s_db_result (agt_mstream_t *self, int rc, const char *what)
{
    if (rc && !self->failing)
        jad_log_error ("agent: cannot %s in metric_outbox error=\"%s\"; samples wait in memory",
                       what, sqlite3_errmsg (self->db));
    else if (!rc && self->failing)
        jad_log_info ("agent: metric_outbox writable again");
    self->failing = rc != 0;
}

//  INSERT a row; its id in *row. Returns 0 or -1.
static int s_insert (agt_mstream_t *self, const char *stream, uint64_t seq, uint64_t samples,
                     zchunk_t *frame, int64_t *row)
{
    sqlite3_stmt *stmt = jad_db_prepare (self->db, "INSERT INTO metric_outbox (stream, seq,"
                                                   " samples, frame) VALUES (?, ?, ?, ?)");
    if (!stmt)
        return -1;
    if (stream) {
        sqlite3_bind_text (stmt, 1, stream, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)seq);
    }
    sqlite3_bind_int64 (stmt, 3, (sqlite3_int64)samples);
    sqlite3_bind_blob (stmt, 4, zchunk_data (frame), (int)zchunk_size (frame), SQLITE_STATIC);
    int rc = sqlite3_step (stmt) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize (stmt);
    if (rc == 0)
        *row = sqlite3_last_insert_rowid (self->db);
    return rc;
}

//  Run one statement binding `count` integers. Returns 0 or -1.
static int s_exec_ints (sqlite3 *db, const char *sql, int count, const int64_t *values)
{
    sqlite3_stmt *stmt = jad_db_prepare (db, sql);
    if (!stmt)
        return -1;
    for (int index = 0; index < count; index++)
        sqlite3_bind_int64 (stmt, index + 1, values[index]);
    int rc = sqlite3_step (stmt) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize (stmt);
    return rc;
}

//  A batch's AgentMsg, numbered in this stream (seq 0: not numbered).
static zchunk_t *s_encode (agt_mstream_t *self, jad_metric_batch_t *batch, uint64_t seq)
{
    char *stream = batch->stream;
    uint64_t old_seq = batch->seq;
    batch->stream = seq ? self->id : NULL;  //  borrowed for the encoding
    batch->seq = seq;
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_METRICS, .metrics = batch};
    zchunk_t *wire = jad_agent_msg_encode (&msg);
    batch->stream = stream;
    batch->seq = old_seq;
    return wire;
}

//  The batch in a stored frame, or NULL if it does not decode.
static jad_metric_batch_t *s_decode (const uint8_t *data, size_t size)
{
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *msg = jad_agent_msg_decode (data, size, err);
    jad_metric_batch_t *batch = NULL;
    if (msg && msg->kind == JAD_AGENT_MSG_METRICS) {
        batch = msg->metrics;
        msg->metrics = NULL;
    }
    jad_agent_msg_destroy (&msg);
    return batch;
}

//  --------------------------------------------------------------------------
//  The window

static s_entry_t *s_entry (agt_mstream_t *self, size_t index)
{
    return &self->entries[(self->head + index) % self->slots];
}

//  Append a numbered batch; takes the wire.
static void s_append (agt_mstream_t *self, uint64_t seq, uint64_t samples, zchunk_t **wire_p,
                      int64_t row, int64_t last_sent)
{
    s_entry_t *entry = s_entry (self, self->count);
    *entry = (s_entry_t){
        .seq = seq, .samples = samples, .wire = *wire_p, .last_sent = last_sent, .row = row};
    *wire_p = NULL;
    self->count++;
    self->samples += samples;
}

//  Number every unacked batch again as a new stream from 1, durably (one
//  transaction), and make them due. Batches that no longer decode are
//  dropped (counted). Returns 0, or -1 (logged) with nothing changed.
static int s_restart (agt_mstream_t *self, const char *why)
{
    char old_id[33];
    memcpy (old_id, self->id, sizeof old_id);
    char id[33];
    jad_random_id (16, id);
    size_t count = self->count;
    zchunk_t **wires = calloc (count ? count : 1, sizeof (zchunk_t *));
    bool *keep = calloc (count ? count : 1, sizeof (bool));
    int rc = -1;
    if (!wires || !keep)
        goto done;
    if (self->db && jad_db_begin (self->db))
        goto done;
    memcpy (self->id, id, sizeof id);
    uint64_t seq = 0;
    for (size_t index = 0; index < count; index++) {
        s_entry_t *entry = s_entry (self, index);
        jad_metric_batch_t *batch = s_decode (zchunk_data (entry->wire), zchunk_size (entry->wire));
        if (batch)
            wires[index] = s_encode (self, batch, seq + 1);
        jad_metric_batch_destroy (&batch);
        keep[index] = wires[index] != NULL;
        int64_t values[] = {(int64_t)(seq + 1), entry->row};
        if (keep[index]) {
            seq++;
            if (self->db) {
                sqlite3_stmt *stmt = jad_db_prepare (self->db, "UPDATE metric_outbox SET"
                                                               " stream = ?, seq = ?, frame = ?"
                                                               " WHERE id = ?");
                int step = SQLITE_ERROR;
                if (stmt) {
                    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
                    sqlite3_bind_int64 (stmt, 2, values[0]);
                    sqlite3_bind_blob (stmt, 3, zchunk_data (wires[index]),
                                       (int)zchunk_size (wires[index]), SQLITE_STATIC);
                    sqlite3_bind_int64 (stmt, 4, entry->row);
                    step = sqlite3_step (stmt);
                    sqlite3_finalize (stmt);
                }
                if (step != SQLITE_DONE)
                    goto rollback;
            }
        } else if (self->db &&
                   s_exec_ints (self->db, "DELETE FROM metric_outbox WHERE id = ?", 1, values + 1))
            goto rollback;
    }
    if (self->db && jad_db_commit (self->db))
        goto rollback;
    //  committed: now the memory follows
    size_t kept = 0;
    uint64_t lost = 0;
    for (size_t index = 0; index < count; index++) {
        s_entry_t *entry = s_entry (self, index);
        zchunk_destroy (&entry->wire);
        if (!keep[index]) {
            lost += entry->samples;
            continue;
        }
        s_entry_t *into = s_entry (self, kept);
        *into = (s_entry_t){.seq = ++kept,
                            .samples = entry->samples,
                            .wire = wires[index],
                            .last_sent = S_NEVER,
                            .row = entry->row};
        wires[index] = NULL;
    }
    self->count = kept;
    self->samples -= lost;
    self->dropped += lost;
    self->next_seq = kept + 1;
    self->backoff = 0;  //  a new stream: due at once, at the caller's pace
    jad_log_warning ("agent: metric stream %s restarted as %s (%s): %zu unacked batches numbered"
                     " again from 1%s",
                     old_id, self->id, why, kept, lost ? ", unreadable ones dropped" : "");
    rc = 0;
    goto done;

rollback:
    if (self->db) {
        jad_log_error ("agent: cannot renumber metric_outbox error=\"%s\"",
                       sqlite3_errmsg (self->db));
        jad_db_rollback (self->db);
    }
    memcpy (self->id, old_id, sizeof old_id);
done:
    for (size_t index = 0; wires && index < count; index++)
        zchunk_destroy (&wires[index]);
    free (wires);
    free (keep);
    return rc;
}

agt_mstream_t *agt_mstream_open (sqlite3 *db, size_t window, uint64_t capacity)
{
    assert (db);
    int64_t rows = 0;
    if (jad_db_get_int (db, "SELECT count (*) FROM metric_outbox WHERE seq IS NOT NULL", NULL,
                        &rows) != 0)
        return NULL;
    agt_mstream_t *self = s_new (window, (size_t)rows);
    if (!self)
        return NULL;
    self->db = db;
    self->capacity = capacity ? capacity : 1;
    sqlite3_stmt *stmt =
        jad_db_prepare (db, "SELECT count (*), coalesce (sum (samples), 0) FROM metric_outbox"
                            " WHERE seq IS NULL");
    if (!stmt || sqlite3_step (stmt) != SQLITE_ROW)
        goto failed;
    self->queued = (uint64_t)sqlite3_column_int64 (stmt, 0);
    self->queued_samples = (uint64_t)sqlite3_column_int64 (stmt, 1);
    sqlite3_finalize (stmt);

    //  The numbered rows: one stream, seqs one after the other (acks
    //  delete a prefix). Anything else is renumbered below.
    stmt = jad_db_prepare (db, "SELECT id, stream, seq, samples, frame FROM metric_outbox"
                               " WHERE seq IS NOT NULL ORDER BY seq, id");
    if (!stmt)
        goto failed;
    bool consistent = true;
    int step;
    while ((step = sqlite3_step (stmt)) == SQLITE_ROW && self->count < self->slots) {
        const char *stream = (const char *)sqlite3_column_text (stmt, 1);
        uint64_t seq = (uint64_t)sqlite3_column_int64 (stmt, 2);
        const void *frame = sqlite3_column_blob (stmt, 4);
        zchunk_t *wire = zchunk_new (frame, (size_t)sqlite3_column_bytes (stmt, 4));
        if (!wire)
            goto failed;
        if (self->count == 0) {
            if (stream && jad_name_valid (stream) && strlen (stream) < sizeof self->id)
                snprintf (self->id, sizeof self->id, "%s", stream);
            else
                consistent = false;
        } else if (!stream || !streq (stream, self->id) || seq != self->next_seq)
            consistent = false;
        self->next_seq = seq + 1;
        s_append (self, seq, (uint64_t)sqlite3_column_int64 (stmt, 3), &wire,
                  sqlite3_column_int64 (stmt, 0), S_NEVER);
    }
    sqlite3_finalize (stmt);
    stmt = NULL;
    if (step != SQLITE_DONE && step != SQLITE_ROW)
        goto failed;
    if (self->count == 0)
        self->next_seq = 1;  //  a new stream: its id is fresh
    else if (!consistent && s_restart (self, "inconsistent rows at start"))
        goto failed;
    return self;

failed:
    jad_log_error ("agent: cannot load metric_outbox error=\"%s\"", sqlite3_errmsg (db));
    sqlite3_finalize (stmt);
    agt_mstream_destroy (&self);
    return NULL;
}

const char *agt_mstream_id (const agt_mstream_t *self)
{
    return self->id;
}

bool agt_mstream_full (const agt_mstream_t *self)
{
    return self->count >= self->window;
}

size_t agt_mstream_unacked (const agt_mstream_t *self)
{
    return self->count;
}

uint64_t agt_mstream_unacked_samples (const agt_mstream_t *self)
{
    return self->samples;
}

uint64_t agt_mstream_queued_samples (const agt_mstream_t *self)
{
    return self->queued_samples;
}

uint64_t agt_mstream_dropped (const agt_mstream_t *self)
{
    return self->dropped;
}

//  Send the newest entry; 0 sent, 1 the link refused it.
static int s_send_newest (agt_mstream_t *self, int64_t now_ms, agt_mstream_send_fn *send, void *arg)
{
    s_entry_t *entry = s_entry (self, self->count - 1);
    if (send (zchunk_data (entry->wire), zchunk_size (entry->wire), arg))
        return 1;
    entry->last_sent = now_ms;
    return 0;
}

int agt_mstream_send (agt_mstream_t *self, jad_metric_batch_t *batch, int64_t now_ms,
                      agt_mstream_send_fn *send, void *arg)
{
    if (agt_mstream_full (self))
        return -1;
    zchunk_t *wire = s_encode (self, batch, self->next_seq);
    if (!wire)
        return -1;
    int64_t row = 0;
    if (self->db) {
        int rc = s_insert (self, self->id, self->next_seq, batch->sample_count, wire, &row);
        s_db_result (self, rc, "store a metric batch");
        if (rc) {
            zchunk_destroy (&wire);
            return -1;
        }
    }
    s_append (self, self->next_seq++, batch->sample_count, &wire, row, S_NEVER);
    return s_send_newest (self, now_ms, send, arg);
}

//  Delete the oldest queued rows while more than the capacity is queued
//  (the newest row stays). Inside the caller's transaction.
static int s_trim (agt_mstream_t *self)
{
    while (self->queued > 1 && self->queued_samples > self->capacity) {
        int64_t id = 0, samples = 0;
        sqlite3_stmt *stmt = jad_db_prepare (self->db, "SELECT id, samples FROM metric_outbox"
                                                       " WHERE seq IS NULL ORDER BY id LIMIT 1");
        if (!stmt)
            return -1;
        if (sqlite3_step (stmt) == SQLITE_ROW) {
            id = sqlite3_column_int64 (stmt, 0);
            samples = sqlite3_column_int64 (stmt, 1);
        }
        sqlite3_finalize (stmt);
        if (id == 0 || s_exec_ints (self->db, "DELETE FROM metric_outbox WHERE id = ?", 1, &id))
            return -1;
        self->queued--;
        self->queued_samples -= (uint64_t)samples;
        self->dropped += (uint64_t)samples;
    }
    return 0;
}

int agt_mstream_queue (agt_mstream_t *self, const jad_metric_batch_t *batch)
{
    if (!self->db || batch->sample_count == 0)
        return -1;
    zchunk_t *wire = s_encode (self, (jad_metric_batch_t *)batch, 0);
    if (!wire)
        return -1;
    uint64_t queued = self->queued, queued_samples = self->queued_samples;
    uint64_t dropped = self->dropped;
    int64_t row = 0;
    int rc = jad_db_begin (self->db);
    if (rc == 0) {
        rc = s_insert (self, NULL, 0, batch->sample_count, wire, &row);
        if (rc == 0) {
            self->queued++;
            self->queued_samples += batch->sample_count;
            rc = s_trim (self);
        }
        if (rc == 0)
            rc = jad_db_commit (self->db);
        if (rc) {
            jad_db_rollback (self->db);
            self->queued = queued;
            self->queued_samples = queued_samples;
            self->dropped = dropped;
        }
    }
    s_db_result (self, rc, "queue metric samples");
    zchunk_destroy (&wire);
    return rc;
}

int agt_mstream_send_queued (agt_mstream_t *self, size_t max_samples, uint64_t dropped,
                             int64_t now_ms, agt_mstream_send_fn *send, void *arg)
{
    if (!self->db || self->queued == 0 || agt_mstream_full (self))
        return -1;
    //  whole rows, oldest first, while they fit in one batch
    sqlite3_stmt *stmt = jad_db_prepare (self->db, "SELECT id, samples, frame FROM metric_outbox"
                                                   " WHERE seq IS NULL ORDER BY id");
    agt_samples_t *merged = NULL;
    jad_metric_batch_t *batch = NULL;
    zchunk_t *wire = NULL;
    int64_t last_row = 0, rows = 0, row = 0;
    uint64_t stored = 0;  //  samples the taken rows say they hold
    int result = -1;
    if (!stmt)
        goto done;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        uint64_t samples = (uint64_t)sqlite3_column_int64 (stmt, 1);
        if (rows > 0 && stored + samples > max_samples)
            break;
        //  room for the first row even if it alone is bigger
        if (!merged &&
            !(merged = agt_samples_new ((size_t)(samples > max_samples ? samples : max_samples))))
            goto done;
        jad_metric_batch_t *part = s_decode ((const uint8_t *)sqlite3_column_blob (stmt, 2),
                                             (size_t)sqlite3_column_bytes (stmt, 2));
        //  a row that does not decode (a damaged file) goes with the others
        if (part)
            agt_samples_add_batch (merged, part);
        jad_metric_batch_destroy (&part);
        last_row = sqlite3_column_int64 (stmt, 0);
        stored += samples;
        rows++;
    }
    sqlite3_finalize (stmt);
    stmt = NULL;
    if (rows == 0)
        goto done;
    size_t count = agt_samples_count (merged);  //  the rows' readable samples
    batch = count ? agt_samples_peek (merged, count) : NULL;
    if (count && !batch)
        goto done;
    if (batch) {
        batch->dropped = dropped;
        wire = s_encode (self, batch, self->next_seq);
        if (!wire)
            goto done;
    }
    int64_t values[] = {last_row};
    int rc = jad_db_begin (self->db);
    if (rc == 0 && wire)
        rc = s_insert (self, self->id, self->next_seq, count, wire, &row);
    if (rc == 0)
        rc = s_exec_ints (self->db, "DELETE FROM metric_outbox WHERE seq IS NULL AND id <= ?", 1,
                          values);
    if (rc == 0)
        rc = jad_db_commit (self->db);
    if (rc)
        jad_db_rollback (self->db);
    s_db_result (self, rc, "number queued metric samples");
    if (rc)
        goto done;
    self->queued -= (uint64_t)rows;
    self->queued_samples -= stored < self->queued_samples ? stored : self->queued_samples;
    if (stored > count)
        self->dropped += stored - count;  //  unreadable rows
    if (!wire) {
        result = 1;  //  nothing readable: taken, nothing to send
        goto done;
    }
    s_append (self, self->next_seq++, count, &wire, row, S_NEVER);
    result = s_send_newest (self, now_ms, send, arg);

done:
    sqlite3_finalize (stmt);
    zchunk_destroy (&wire);
    jad_metric_batch_destroy (&batch);
    agt_samples_destroy (&merged);
    return result;
}

uint64_t agt_mstream_ack (agt_mstream_t *self, const char *stream, uint64_t seq)
{
    if (!stream || !streq (stream, self->id) || self->count == 0)
        return 0;
    if (seq < self->entries[self->head].seq - 1) {
        //  the controller holds less than it acked before
        char why[96];
        snprintf (why, sizeof why, "the controller acked %llu, below %llu acked before",
                  (unsigned long long)seq, (unsigned long long)(self->entries[self->head].seq - 1));
        s_restart (self, why);
        return 0;
    }
    uint64_t freed = 0, last = 0;
    while (self->count > 0 && self->entries[self->head].seq <= seq) {
        s_entry_t *entry = &self->entries[self->head];
        freed += entry->samples;
        last = entry->seq;
        zchunk_destroy (&entry->wire);
        self->head = (self->head + 1) % self->slots;
        self->count--;
    }
    self->samples -= freed;
    if (freed)
        self->backoff = 0;  //  the controller is taking them again
    if (self->db && last) {
        //  a row left by a failure here only goes again: the controller
        //  acks it as a duplicate
        int64_t values[] = {(int64_t)last};
        int rc = s_exec_ints (
            self->db, "DELETE FROM metric_outbox WHERE seq IS NOT NULL AND seq <= ?", 1, values);
        s_db_result (self, rc, "delete acknowledged metric batches");
    }
    return freed;
}

size_t agt_mstream_resend (agt_mstream_t *self, int64_t now_ms, agt_mstream_send_fn *send,
                           void *arg)
{
    size_t sent = 0;
    //  the oldest went before and got no ack: this is a resend, and the
    //  next one waits longer
    bool again = self->count > 0 && s_entry (self, 0)->last_sent != S_NEVER;
    for (size_t index = 0; index < self->count; index++) {
        s_entry_t *entry = s_entry (self, index);
        if (send (zchunk_data (entry->wire), zchunk_size (entry->wire), arg))
            break;
        entry->last_sent = now_ms;
        sent++;
    }
    if (again && sent > 0 && self->backoff < S_BACKOFF_MAX)
        self->backoff++;
    return sent;
}

bool agt_mstream_overdue (const agt_mstream_t *self, int64_t now_ms, int64_t timeout_ms)
{
    int64_t wait = timeout_ms << self->backoff;
    return self->count > 0 && now_ms - self->entries[self->head].last_sent >= wait;
}
