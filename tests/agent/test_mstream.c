//  test_mstream - unacked metric batches: window, acks, go-back-N resends over real sockets
//  SPDX-License-Identifier: MPL-2.0

#include "agt_mstream.h"
#include "jad_db.h"
#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static zsock_t *s_router;
static zsock_t *s_dealer;
static bool s_refuse;  //  the "link" refuses sends (not connected)

static void setup (void)
{
    s_router = zsock_new (ZMQ_ROUTER);
    cr_assert_not_null (s_router);
    int port = zsock_bind (s_router, "tcp://127.0.0.1:*");
    cr_assert_gt (port, 0);
    s_dealer = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (s_dealer);
    cr_assert_eq (zsock_connect (s_dealer, "tcp://127.0.0.1:%d", port), 0);
    s_refuse = false;
}

static void teardown (void)
{
    zsock_destroy (&s_dealer);
    zsock_destroy (&s_router);
}

TestSuite (mstream, .init = setup, .fini = teardown);

static int s_send (const uint8_t *data, size_t size, void *arg)
{
    (void)arg;
    if (s_refuse)
        return -1;
    zframe_t *frame = zframe_new (data, size);
    if (zframe_send (&frame, s_dealer, 0)) {
        zframe_destroy (&frame);
        return -1;
    }
    return 0;
}

//  A batch of `count` samples at times first, first + 1... (the caller
//  destroys it).
static jad_metric_batch_t *s_batch_at (size_t count, int64_t first)
{
    jad_metric_batch_t *batch = calloc (1, sizeof (jad_metric_batch_t));
    batch->names = calloc (1, sizeof (char *));
    batch->names[0] = strdup ("up");
    batch->name_count = 1;
    batch->name_index = calloc (count, sizeof (uint32_t));
    batch->times = calloc (count, sizeof (int64_t));
    batch->values = calloc (count, sizeof (double));
    for (size_t index = 0; index < count; index++)
        batch->times[index] = first + (int64_t)index;
    batch->sample_count = count;
    return batch;
}

static jad_metric_batch_t *s_batch (size_t count)
{
    return s_batch_at (count, 1000);
}

static int s_push (agt_mstream_t *stream, size_t count, int64_t now)
{
    jad_metric_batch_t *batch = s_batch (count);
    int rc = agt_mstream_send (stream, batch, now, s_send, NULL);
    cr_assert_null (batch->stream, "the stream id stays the stream's");
    jad_metric_batch_destroy (&batch);
    return rc;
}

//  What the controller receives next: the seq of one metric batch.
static uint64_t s_receive (const char *stream_id)
{
    zsock_set_rcvtimeo (s_router, 5000);
    zmsg_t *msg = zmsg_recv (s_router);
    cr_assert_not_null (msg, "no batch arrived");
    cr_assert_eq (zmsg_size (msg), 2);
    zframe_t *body = zmsg_last (msg);
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *decoded = jad_agent_msg_decode (zframe_data (body), zframe_size (body), err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_AGENT_MSG_METRICS);
    cr_assert_str_eq (decoded->metrics->stream, stream_id);
    uint64_t seq = decoded->metrics->seq;
    jad_agent_msg_destroy (&decoded);
    zmsg_destroy (&msg);
    return seq;
}

Test (mstream, batches_are_numbered_kept_until_acked_and_bounded_by_the_window)
{
    agt_mstream_t *stream = agt_mstream_new (3);
    cr_assert_not_null (stream);
    const char *id = agt_mstream_id (stream);
    cr_assert_eq (strlen (id), 32);
    for (int index = 0; index < 3; index++)
        cr_assert_eq (s_push (stream, 10, 100), 0);
    cr_assert (agt_mstream_full (stream));
    cr_assert_eq (s_push (stream, 10, 100), -1, "a full window sends nothing new");
    cr_assert_eq (agt_mstream_unacked (stream), 3);
    cr_assert_eq (agt_mstream_unacked_samples (stream), 30);
    for (uint64_t seq = 1; seq <= 3; seq++)
        cr_assert_eq (s_receive (id), seq);
    //  another stream's ack (a previous process) frees nothing
    cr_assert_eq (agt_mstream_ack (stream, "0123456789abcdef0123456789abcdef", 3), 0);
    cr_assert_eq (agt_mstream_ack (stream, id, 2), 20);
    cr_assert_eq (agt_mstream_unacked (stream), 1);
    cr_assert_eq (agt_mstream_ack (stream, id, 2), 0, "a duplicate ack frees nothing more");
    cr_assert_eq (s_push (stream, 5, 100), 0);
    cr_assert_eq (s_push (stream, 5, 100), 0);
    cr_assert (agt_mstream_full (stream));
    for (uint64_t seq = 4; seq <= 5; seq++)
        cr_assert_eq (s_receive (id), seq);
    cr_assert_eq (agt_mstream_ack (stream, id, 5), 20);
    cr_assert_eq (agt_mstream_unacked (stream), 0);
    cr_assert_eq (agt_mstream_unacked_samples (stream), 0);
    //  a send the link refuses is kept, numbered, and goes again
    s_refuse = true;
    cr_assert_eq (s_push (stream, 5, 100), 1);
    cr_assert_eq (agt_mstream_unacked (stream), 1);
    cr_assert (agt_mstream_overdue (stream, 100, 3000), "never sent: due at once");
    s_refuse = false;
    cr_assert_eq (agt_mstream_resend (stream, 200, s_send, NULL), 1);
    cr_assert_eq (s_receive (id), 6);
    cr_assert_eq (s_push (stream, 5, 200), 0);
    cr_assert_eq (s_receive (id), 7);
    agt_mstream_destroy (&stream);
    cr_assert_null (stream);
    //  each process start draws a new stream
    agt_mstream_t *one = agt_mstream_new (2), *two = agt_mstream_new (2);
    cr_assert_str_neq (agt_mstream_id (one), agt_mstream_id (two));
    agt_mstream_destroy (&one);
    agt_mstream_destroy (&two);
}

Test (mstream, unacked_batches_go_again_in_order_on_reconnect_and_timeout)
{
    agt_mstream_t *stream = agt_mstream_new (8);
    const char *id = agt_mstream_id (stream);
    for (int index = 0; index < 4; index++)
        cr_assert_eq (s_push (stream, 10, 1000 + index), 0);
    for (uint64_t seq = 1; seq <= 4; seq++)
        cr_assert_eq (s_receive (id), seq);
    //  the controller stored 1 and lost 2..4 (it restarted): it acks 1
    cr_assert_eq (agt_mstream_ack (stream, id, 1), 10);
    cr_assert_not (agt_mstream_overdue (stream, 3000, 3000), "batch 2 was sent at 1001");
    cr_assert (agt_mstream_overdue (stream, 4001, 3000));
    //  not connected: nothing goes, nothing is lost
    s_refuse = true;
    cr_assert_eq (agt_mstream_resend (stream, 4001, s_send, NULL), 0);
    cr_assert_eq (agt_mstream_unacked (stream), 3);
    //  the link is back: 2, 3, 4 again, oldest first
    s_refuse = false;
    cr_assert_eq (agt_mstream_resend (stream, 5000, s_send, NULL), 3);
    for (uint64_t seq = 2; seq <= 4; seq++)
        cr_assert_eq (s_receive (id), seq);
    cr_assert_not (agt_mstream_overdue (stream, 7999, 3000), "resent at 5000");
    //  new batches continue the numbering
    cr_assert_eq (s_push (stream, 10, 5000), 0);
    cr_assert_eq (s_receive (id), 5);
    cr_assert_eq (agt_mstream_ack (stream, id, 5), 40);
    cr_assert_not (agt_mstream_overdue (stream, 100000, 3000), "nothing unacked");
    //  freed with batches still unacked: no leak (ASan/valgrind)
    cr_assert_eq (s_push (stream, 10, 5000), 0);
    agt_mstream_destroy (&stream);
}

//  A controller slow to ack (restarting, overloaded: the soak's restarted
//  controller lagged tens of seconds behind 200 agents) must not get every
//  window again at every timeout for as long as it lags: its queue would
//  only grow. Each resend without an ack doubles the wait, up to 4 x; an
//  ack that frees batches brings the caller's timeout back.
Test (mstream, resends_without_an_ack_back_off_until_an_ack_frees_batches)
{
    agt_mstream_t *stream = agt_mstream_new (8);
    const char *id = agt_mstream_id (stream);
    cr_assert_eq (s_push (stream, 10, 0), 0);
    cr_assert_eq (s_push (stream, 10, 0), 0);
    for (uint64_t seq = 1; seq <= 2; seq++)
        cr_assert_eq (s_receive (id), seq);
    //  the first timeout is the caller's, then 2 x, 4 x, and no more
    int64_t sent = 0;
    static const int64_t waits[] = {3000, 6000, 12000, 12000, 12000};
    for (size_t round = 0; round < sizeof waits / sizeof waits[0]; round++) {
        cr_assert_not (agt_mstream_overdue (stream, sent + waits[round] - 1, 3000),
                       "round %zu: not due before %lld ms", round, (long long)waits[round]);
        cr_assert (agt_mstream_overdue (stream, sent + waits[round], 3000),
                   "round %zu: due after %lld ms", round, (long long)waits[round]);
        sent += waits[round];
        cr_assert_eq (agt_mstream_resend (stream, sent, s_send, NULL), 2);
        for (uint64_t seq = 1; seq <= 2; seq++)
            cr_assert_eq (s_receive (id), seq, "the whole window again, in order");
    }
    //  the controller caught up: batch 1 acked, batch 2 due at the caller's pace
    cr_assert_eq (agt_mstream_ack (stream, id, 1), 10);
    cr_assert (agt_mstream_overdue (stream, sent + 3000, 3000), "an ack resets the wait");
    cr_assert_eq (agt_mstream_resend (stream, sent + 3000, s_send, NULL), 1);
    cr_assert_eq (s_receive (id), 2);
    cr_assert_not (agt_mstream_overdue (stream, sent + 3000 + 5999, 3000));
    //  a duplicate ack frees nothing: no reset
    cr_assert_eq (agt_mstream_ack (stream, id, 1), 0);
    cr_assert_not (agt_mstream_overdue (stream, sent + 3000 + 5999, 3000));
    cr_assert (agt_mstream_overdue (stream, sent + 3000 + 6000, 3000));
    cr_assert_eq (agt_mstream_ack (stream, id, 2), 10);
    //  a batch the link refused at first goes out late, not again: no backoff
    s_refuse = true;
    cr_assert_eq (s_push (stream, 10, 50000), 1);
    s_refuse = false;
    cr_assert_eq (agt_mstream_resend (stream, 50000, s_send, NULL), 1);
    cr_assert_eq (s_receive (id), 3);
    cr_assert (agt_mstream_overdue (stream, 53000, 3000));
    agt_mstream_destroy (&stream);
}

//  --------------------------------------------------------------------------
//  Durable streams (metric_outbox in a real SQLite file)

static const char *const s_schema[] = {AGT_MSTREAM_SCHEMA};

static sqlite3 *s_db_open (const char *dir)
{
    char *path = jad_strdup_printf ("%s/outbox.db", dir);
    sqlite3 *db = jad_db_open (path, true, s_schema, 1);
    cr_assert_not_null (db, "cannot open %s", path);
    free (path);
    return db;
}

static int64_t s_count (sqlite3 *db, const char *sql)
{
    int64_t value = -1;
    cr_assert_eq (jad_db_get_int (db, sql, NULL, &value), 0, "%s", sql);
    return value;
}

//  What the controller receives next: the metric batch (caller destroys).
static jad_metric_batch_t *s_receive_batch (void)
{
    zsock_set_rcvtimeo (s_router, 5000);
    zmsg_t *msg = zmsg_recv (s_router);
    cr_assert_not_null (msg, "no batch arrived");
    zframe_t *body = zmsg_last (msg);
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *decoded = jad_agent_msg_decode (zframe_data (body), zframe_size (body), err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_AGENT_MSG_METRICS);
    jad_metric_batch_t *batch = decoded->metrics;
    decoded->metrics = NULL;
    jad_agent_msg_destroy (&decoded);
    zmsg_destroy (&msg);
    return batch;
}

Test (mstream, a_durable_stream_resumes_after_a_restart_with_the_same_id_and_seqs)
{
    char *dir = jt_tempdir ("mstream");
    sqlite3 *db = s_db_open (dir);
    agt_mstream_t *stream = agt_mstream_open (db, 8, 1000);
    cr_assert_not_null (stream);
    char id[33];
    snprintf (id, sizeof id, "%s", agt_mstream_id (stream));
    for (int index = 0; index < 3; index++)
        cr_assert_eq (s_push (stream, 10, 100), 0);
    for (uint64_t seq = 1; seq <= 3; seq++)
        cr_assert_eq (s_receive (id), seq);
    cr_assert_eq (agt_mstream_ack (stream, id, 1), 10);
    cr_assert_eq (s_count (db, "SELECT count (*) FROM metric_outbox"), 2, "acked rows go");
    //  the process stops (or is killed) with 2 and 3 unacked
    agt_mstream_destroy (&stream);
    jad_db_close (&db);

    db = s_db_open (dir);
    stream = agt_mstream_open (db, 8, 1000);
    cr_assert_not_null (stream);
    cr_assert_str_eq (agt_mstream_id (stream), id, "the same stream resumes");
    cr_assert_eq (agt_mstream_unacked (stream), 2);
    cr_assert_eq (agt_mstream_unacked_samples (stream), 20);
    cr_assert (agt_mstream_overdue (stream, 0, 3000), "loaded batches are due at once");
    cr_assert_eq (agt_mstream_resend (stream, 100, s_send, NULL), 2);
    cr_assert_eq (s_receive (id), 2);
    cr_assert_eq (s_receive (id), 3);
    cr_assert_eq (s_push (stream, 10, 100), 0);
    cr_assert_eq (s_receive (id), 4, "new batches continue the numbering");
    cr_assert_eq (agt_mstream_ack (stream, id, 4), 30);
    cr_assert_eq (s_count (db, "SELECT count (*) FROM metric_outbox"), 0);
    agt_mstream_destroy (&stream);
    //  nothing unacked: the next start draws a new stream (accepted at 1)
    stream = agt_mstream_open (db, 8, 1000);
    cr_assert_str_neq (agt_mstream_id (stream), id);
    cr_assert_eq (s_push (stream, 1, 100), 0);
    cr_assert_eq (s_receive (agt_mstream_id (stream)), 1);
    agt_mstream_destroy (&stream);
    jad_db_close (&db);
    jt_rmtree (dir);
    free (dir);
}

Test (mstream, queued_samples_are_bounded_oldest_first_and_numbered_in_order)
{
    char *dir = jt_tempdir ("mstream");
    sqlite3 *db = s_db_open (dir);
    agt_mstream_t *stream = agt_mstream_open (db, 8, 250);
    cr_assert_not_null (stream);
    const char *id = agt_mstream_id (stream);
    cr_assert_eq (agt_mstream_send_queued (stream, 1000, 0, 0, s_send, NULL), -1, "none queued");
    //  three rows of 100 over a capacity of 250: the oldest goes, counted
    for (int index = 0; index < 3; index++) {
        jad_metric_batch_t *batch = s_batch_at (100, 1000 * (index + 1));
        cr_assert_eq (agt_mstream_queue (stream, batch), 0);
        jad_metric_batch_destroy (&batch);
    }
    cr_assert_eq (agt_mstream_queued_samples (stream), 200);
    cr_assert_eq (agt_mstream_dropped (stream), 100);
    cr_assert_eq (s_count (db, "SELECT count (*) FROM metric_outbox WHERE seq IS NULL"), 2);
    //  survives a restart
    agt_mstream_destroy (&stream);
    stream = agt_mstream_open (db, 8, 250);
    id = agt_mstream_id (stream);
    cr_assert_eq (agt_mstream_queued_samples (stream), 200);
    //  whole rows while they fit: 100 + 100 > 150, so one row, the oldest
    cr_assert_eq (agt_mstream_send_queued (stream, 150, 7, 100, s_send, NULL), 0);
    jad_metric_batch_t *got = s_receive_batch ();
    cr_assert_str_eq (got->stream, id);
    cr_assert_eq (got->seq, 1);
    cr_assert_eq (got->sample_count, 100);
    cr_assert_eq (got->times[0], 2000, "the oldest kept row first");
    cr_assert_eq (got->dropped, 7);
    jad_metric_batch_destroy (&got);
    //  a new row, then both left go as one batch, in order
    jad_metric_batch_t *batch = s_batch_at (50, 9000);
    cr_assert_eq (agt_mstream_queue (stream, batch), 0);
    jad_metric_batch_destroy (&batch);
    cr_assert_eq (agt_mstream_send_queued (stream, 1000, 7, 100, s_send, NULL), 0);
    got = s_receive_batch ();
    cr_assert_eq (got->seq, 2);
    cr_assert_eq (got->sample_count, 150);
    cr_assert_eq (got->times[0], 3000);
    cr_assert_eq (got->times[100], 9000);
    jad_metric_batch_destroy (&got);
    cr_assert_eq (agt_mstream_queued_samples (stream), 0);
    cr_assert_eq (s_count (db, "SELECT count (*) FROM metric_outbox WHERE seq IS NULL"), 0);
    cr_assert_eq (s_count (db, "SELECT count (*) FROM metric_outbox WHERE seq IS NOT NULL"), 2);
    //  a memory stream queues nothing: the caller keeps its samples
    agt_mstream_t *memory = agt_mstream_new (8);
    batch = s_batch (10);
    cr_assert_eq (agt_mstream_queue (memory, batch), -1);
    jad_metric_batch_destroy (&batch);
    agt_mstream_destroy (&memory);
    agt_mstream_destroy (&stream);
    jad_db_close (&db);
    jt_rmtree (dir);
    free (dir);
}

Test (mstream, a_controller_that_lost_the_stream_gets_it_again_as_a_new_one_from_1)
{
    char *dir = jt_tempdir ("mstream");
    sqlite3 *db = s_db_open (dir);
    agt_mstream_t *stream = agt_mstream_open (db, 8, 1000);
    char old[33];
    snprintf (old, sizeof old, "%s", agt_mstream_id (stream));
    for (uint64_t seq = 1; seq <= 5; seq++) {
        cr_assert_eq (s_push (stream, 10, 100), 0);
        cr_assert_eq (s_receive (old), seq);
    }
    cr_assert_eq (agt_mstream_ack (stream, old, 3), 30);
    //  then it answers 0 (its database was restored; another stream on
    //  record): 4 and 5 would never be accepted as they are
    cr_assert_eq (agt_mstream_ack (stream, old, 0), 0);
    const char *id = agt_mstream_id (stream);
    cr_assert_str_neq (id, old);
    cr_assert_eq (agt_mstream_unacked (stream), 2);
    cr_assert (agt_mstream_overdue (stream, 100, 3000), "due at once");
    cr_assert_eq (agt_mstream_resend (stream, 100, s_send, NULL), 2);
    for (uint64_t seq = 1; seq <= 2; seq++) {
        jad_metric_batch_t *got = s_receive_batch ();
        cr_assert_str_eq (got->stream, id);
        cr_assert_eq (got->seq, seq);
        cr_assert_eq (got->sample_count, 10);
        jad_metric_batch_destroy (&got);
    }
    //  durable: a restart resumes the new stream
    char renumbered[33];
    snprintf (renumbered, sizeof renumbered, "%s", id);
    agt_mstream_destroy (&stream);
    stream = agt_mstream_open (db, 8, 1000);
    cr_assert_str_eq (agt_mstream_id (stream), renumbered);
    cr_assert_eq (agt_mstream_unacked (stream), 2);
    cr_assert_eq (s_push (stream, 10, 100), 0);
    cr_assert_eq (s_receive (renumbered), 3);
    //  acks of the old stream are another stream's now
    cr_assert_eq (agt_mstream_ack (stream, old, 5), 0);
    cr_assert_eq (agt_mstream_ack (stream, renumbered, 3), 30);
    agt_mstream_destroy (&stream);
    jad_db_close (&db);
    jt_rmtree (dir);
    free (dir);
}

//  The crash test's "link": it decodes what goes out to learn each
//  batch's seq and newest sample time (seq order is time order: queued
//  samples are numbered before new ones).
typedef struct {
    uint64_t first_seq;  //  lowest seq seen this run (0: none)
    uint64_t last_seq;   //  highest
    int64_t newest[4096];
} s_seen_t;

static int s_observe (const uint8_t *data, size_t size, void *arg)
{
    s_seen_t *seen = (s_seen_t *)arg;
    char err[JAD_ERR_LEN];
    jad_agent_msg_t *msg = jad_agent_msg_decode (data, size, err);
    if (!msg || msg->kind != JAD_AGENT_MSG_METRICS)
        _exit (6);
    jad_metric_batch_t *batch = msg->metrics;
    if (!seen->first_seq)
        seen->first_seq = batch->seq;
    if (batch->seq > seen->last_seq)
        seen->last_seq = batch->seq;
    if (batch->seq >= seen->first_seq && batch->seq - seen->first_seq < 4096 && batch->sample_count)
        seen->newest[batch->seq - seen->first_seq] = batch->times[batch->sample_count - 1];
    jad_agent_msg_destroy (&msg);
    return 0;
}

static void s_report (int out, char kind, int64_t time)
{
    char line[64];
    int size = snprintf (line, sizeof line, "%c %lld\n", kind, (long long)time);
    if (write (out, line, (size_t)size) != size)
        _exit (3);
}

//  The child of the crash test: work on the stream as the agent does
//  (queued samples are numbered first, new ones are numbered while the
//  window has room and queued when it is full; the "controller" acks now
//  and then) until it is killed. Reports on `out`: "c T" once every sample
//  up to time T is taken, "a T" before an ack that may free samples up to
//  time T.
static void s_crash_child (const char *dir, int64_t base, int out, uint32_t seed)
{
    sqlite3 *db = s_db_open (dir);
    agt_mstream_t *stream = agt_mstream_open (db, 8, UINT32_MAX);
    if (!stream)
        _exit (2);
    s_seen_t *seen = calloc (1, sizeof (s_seen_t));
    //  the link comes up: what the last run left unacked goes again
    agt_mstream_resend (stream, 0, s_observe, seen);
    uint64_t acked = 0;
    int64_t next = base;
    for (uint32_t state = seed | 1;; state = state * 1103515245u + 12345u) {
        uint32_t pick = (state >> 16) % 10;
        if (pick == 0 && seen->last_seq > acked && seen->last_seq >= seen->first_seq) {
            //  acks come now and then and cover one or more batches: the
            //  window is often full, so samples queue and are numbered later
            uint64_t from = acked >= seen->first_seq ? acked + 1 : seen->first_seq;
            uint64_t seq = from + (state >> 8) % (seen->last_seq - from + 1);
            if (seq - seen->first_seq >= 4096)
                _exit (7);
            s_report (out, 'a', seen->newest[seq - seen->first_seq]);
            agt_mstream_ack (stream, agt_mstream_id (stream), seq);
            acked = seq;
        } else if (!agt_mstream_full (stream) && agt_mstream_queued_samples (stream) > 0) {
            if (agt_mstream_send_queued (stream, 300, 0, 0, s_observe, seen) < 0)
                _exit (4);
        } else {
            size_t count = 1 + (state >> 4) % 120;
            jad_metric_batch_t *batch = s_batch_at (count, next);
            int rc = agt_mstream_full (stream)
                         ? agt_mstream_queue (stream, batch)
                         : agt_mstream_send (stream, batch, 0, s_observe, seen);
            jad_metric_batch_destroy (&batch);
            if (rc < 0)
                _exit (5);
            next += (int64_t)count;
            s_report (out, 'c', next - 1);
        }
    }
}

//  Every sample time in the outbox, decoded (numbered and queued rows).
static zhashx_t *s_outbox_times (sqlite3 *db, size_t *duplicates)
{
    zhashx_t *times = zhashx_new ();
    *duplicates = 0;
    sqlite3_stmt *stmt = jad_db_prepare (db, "SELECT frame FROM metric_outbox");
    cr_assert_not_null (stmt);
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        char err[JAD_ERR_LEN] = "";
        jad_agent_msg_t *msg = jad_agent_msg_decode (sqlite3_column_blob (stmt, 0),
                                                     (size_t)sqlite3_column_bytes (stmt, 0), err);
        cr_assert_not_null (msg, "a stored frame does not decode: %s", err);
        for (size_t index = 0; index < msg->metrics->sample_count; index++) {
            char key[32];
            snprintf (key, sizeof key, "%lld", (long long)msg->metrics->times[index]);
            if (zhashx_lookup (times, key))
                (*duplicates)++;
            else
                zhashx_insert (times, key, (void *)1);
        }
        jad_agent_msg_destroy (&msg);
    }
    sqlite3_finalize (stmt);
    return times;
}

Test (mstream, kill_9_at_random_points_loses_and_duplicates_nothing_committed, .timeout = 120)
{
    uint32_t seed = randombytes_random ();
    printf ("mstream crash test seed %u\n", seed);
    char *dir = jt_tempdir ("mstream");
    int64_t acked = 0;  //  samples up to this time may be gone (acked)
    int64_t committed_from[40], committed_to[40];
    for (int run = 0; run < 40; run++) {
        int pipe_fds[2];
        cr_assert_eq (pipe (pipe_fds), 0);
        int64_t base = (int64_t)(run + 1) * 1000000;
        pid_t child = fork ();
        cr_assert_geq (child, 0);
        if (child == 0) {
            close (pipe_fds[0]);
            s_crash_child (dir, base, pipe_fds[1], seed + (uint32_t)run);
        }
        close (pipe_fds[1]);
        //  kill it somewhere in its work: between, inside or at the end of
        //  a transaction
        usleep (10000 + (seed + (uint32_t)run * 7919u) % 70000);
        kill (child, SIGKILL);
        int status = 0;
        waitpid (child, &status, 0);
        cr_assert (WIFSIGNALED (status), "the child stopped on its own: status %d", status);
        FILE *reports = fdopen (pipe_fds[0], "r");
        char kind;
        long long time;
        committed_from[run] = base;
        committed_to[run] = base - 1;
        while (fscanf (reports, " %c %lld", &kind, &time) == 2) {
            if (kind == 'a' && time > acked)
                acked = time;
            else if (kind == 'c')
                committed_to[run] = time;
        }
        fclose (reports);
        //  now: the file is whole, every committed sample not acked is
        //  there once, and the stream opens again
        sqlite3 *db = s_db_open (dir);
        char *check = NULL;
        cr_assert_eq (jad_db_get_text (db, "PRAGMA integrity_check", NULL, &check), 0);
        cr_assert_str_eq (check, "ok");
        free (check);
        size_t duplicates = 0;
        zhashx_t *times = s_outbox_times (db, &duplicates);
        cr_assert_eq (duplicates, 0, "run %d: samples stored twice", run);
        size_t checked = 0;
        for (int past = 0; past <= run; past++)
            for (int64_t at = committed_from[past]; at <= committed_to[past]; at++) {
                if (at <= acked)
                    continue;
                char key[32];
                snprintf (key, sizeof key, "%lld", (long long)at);
                cr_assert_not_null (zhashx_lookup (times, key),
                                    "run %d (seed %u): committed sample %lld not acked is gone",
                                    run, seed, (long long)at);
                checked++;
            }
        zhashx_destroy (&times);
        agt_mstream_t *stream = agt_mstream_open (db, 8, UINT32_MAX);
        cr_assert_not_null (stream, "run %d: the stream does not open again", run);
        agt_mstream_destroy (&stream);
        jad_db_close (&db);
        if (run == 39)
            printf ("mstream crash test: %zu committed samples checked after the last kill\n",
                    checked);
    }
    jt_rmtree (dir);
    free (dir);
}

//  --------------------------------------------------------------------------
//  A real agent and a real controller: stops, restarts and kill -9 of the
//  agent while its controller is away; then the controller comes back.
//  Samples are told apart by "series@time" (a sampler round has one time).

static jt_fleet_t *s_fleet;

static void s_fleet_setup (void)
{
    s_fleet = jt_fleet_new ();
    jt_fleet_add_agent (s_fleet, "host-1", "dev");
    cr_assert (jt_fleet_wait_status (s_fleet, "\"state\": \"online\"", 1, 30000));
    //  many small rounds: samples pile up fast while the controller is away
    cr_assert_eq (jt_stop (s_fleet->agents[0]), 0);
    cr_assert_eq (jt_run (NULL,
                          "sed -i 's/^metrics-interval: .*/metrics-interval: 200ms/' "
                          "'%s/host-1/agent/agent.yaml'",
                          s_fleet->dir),
                  0);
    jt_fleet_start_agent (s_fleet, 0);
}

static void s_fleet_teardown (void)
{
    jt_fleet_destroy (&s_fleet);
}

TestSuite (mstream_fleet, .init = s_fleet_setup, .fini = s_fleet_teardown, .timeout = 100);

static sqlite3 *s_read_db (const char *path)
{
    sqlite3 *db = NULL;
    cr_assert_eq (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", path);
    sqlite3_busy_timeout (db, 5000);
    return db;
}

//  Add "series@time" of every sample in the agent's metric_outbox to set
//  (a consistent snapshot: the agent may be running). Returns how many.
static size_t s_agent_outbox (zhashx_t *set)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/host-1/agent/state.db", s_fleet->dir);
    sqlite3 *db = s_read_db (path);
    sqlite3_stmt *stmt = NULL;
    cr_assert_eq (sqlite3_prepare_v2 (db, "SELECT frame FROM metric_outbox", -1, &stmt, NULL),
                  SQLITE_OK, "%s", sqlite3_errmsg (db));
    size_t count = 0;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        char err[JAD_ERR_LEN] = "";
        jad_agent_msg_t *msg = jad_agent_msg_decode (sqlite3_column_blob (stmt, 0),
                                                     (size_t)sqlite3_column_bytes (stmt, 0), err);
        cr_assert_not_null (msg, "a stored frame does not decode: %s", err);
        jad_metric_batch_t *batch = msg->metrics;
        for (size_t index = 0; index < batch->sample_count; index++) {
            char key[JAD_MAX_SERIES_LEN + 32];
            snprintf (key, sizeof key, "%s@%lld", batch->names[batch->name_index[index]],
                      (long long)batch->times[index]);
            zhashx_update (set, key, (void *)1);
            count++;
        }
        jad_agent_msg_destroy (&msg);
    }
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return count;
}

static bool s_outbox_drained (void *arg)
{
    (void)arg;
    zhashx_t *set = zhashx_new ();
    size_t count = s_agent_outbox (set);
    zhashx_destroy (&set);
    return count == 0;
}

//  "series@time" -> times stored, of host-1's samples in the controller.
static zhashx_t *s_controller_samples (void)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller/state.db", s_fleet->dir);
    sqlite3 *db = s_read_db (path);
    sqlite3_stmt *stmt = NULL;
    cr_assert_eq (sqlite3_prepare_v2 (db,
                                      "SELECT n.name, s.ts FROM samples s"
                                      " JOIN metric_names n ON n.id = s.metric"
                                      " JOIN metric_hosts h ON h.id = s.host"
                                      " WHERE h.name = 'host-1'",
                                      -1, &stmt, NULL),
                  SQLITE_OK, "%s", sqlite3_errmsg (db));
    zhashx_t *stored = zhashx_new ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        char key[JAD_MAX_SERIES_LEN + 32];
        snprintf (key, sizeof key, "%s@%lld", sqlite3_column_text (stmt, 0),
                  (long long)sqlite3_column_int64 (stmt, 1));
        uintptr_t times = (uintptr_t)zhashx_lookup (stored, key);
        zhashx_update (stored, key, (void *)(times + 1));
    }
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return stored;
}

static bool s_controller_has_samples (void *arg)
{
    (void)arg;
    zhashx_t *stored = s_controller_samples ();
    bool some = zhashx_size (stored) > 0;
    zhashx_destroy (&stored);
    return some;
}

//  The controller is back: the agent's outbox drains, and every sample in
//  `expected` is stored exactly once, none of host-1's twice.
static void s_expect_stored_once (zhashx_t *expected)
{
    jt_fleet_start_controller (s_fleet);
    cr_assert (jt_wait_for (s_outbox_drained, NULL, 40000),
               "the agent's metric_outbox did not drain once the controller was back");
    zhashx_t *stored = s_controller_samples ();
    size_t twice = 0, missing = 0;
    for (void *item = zhashx_first (stored); item; item = zhashx_next (stored))
        if ((uintptr_t)item > 1)
            twice++;
    for (void *item = zhashx_first (expected); item; item = zhashx_next (expected))
        if (!zhashx_lookup (stored, zhashx_cursor (expected)))
            missing++;
    printf ("metric outbox: %zu samples kept while the controller was away, %zu stored in all\n",
            zhashx_size (expected), zhashx_size (stored));
    cr_assert_eq (twice, 0, "%zu samples stored twice", twice);
    cr_assert_eq (missing, 0, "%zu of %zu samples kept by the agent were not stored", missing,
                  zhashx_size (expected));
    zhashx_destroy (&stored);
}

//  Every key of `part` is in `whole`.
static bool s_subset (zhashx_t *part, zhashx_t *whole)
{
    for (void *item = zhashx_first (part); item; item = zhashx_next (part))
        if (!zhashx_lookup (whole, zhashx_cursor (part)))
            return false;
    return true;
}

//  The outbox holds samples that were not in `arg` (a zhashx_t set).
static bool s_outbox_grew (void *arg)
{
    zhashx_t *before = (zhashx_t *)arg;
    zhashx_t *now = zhashx_new ();
    s_agent_outbox (now);
    bool grew = false;
    for (void *item = zhashx_first (now); item && !grew; item = zhashx_next (now))
        grew = zhashx_lookup (before, zhashx_cursor (now)) == NULL;
    zhashx_destroy (&now);
    return grew;
}

Test (mstream_fleet, an_agent_stopped_twice_while_its_controller_is_away_loses_no_sample)
{
    cr_assert (jt_wait_for (s_controller_has_samples, NULL, 20000), "no samples reached it");
    //  the controller goes away hard, in the middle of the stream
    jt_kill9 (s_fleet->controller);
    s_fleet->controller = 0;
    zhashx_t *kept = zhashx_new ();
    for (int stop = 0; stop < 3; stop++) {
        //  rounds pile up (200 ms each) and are stored
        cr_assert (jt_wait_for (s_outbox_grew, kept, 20000), "stop %d: nothing new stored", stop);
        cr_assert_eq (jt_stop (s_fleet->agents[0]), 0, "the agent stops cleanly");
        zhashx_t *now = zhashx_new ();
        s_agent_outbox (now);
        cr_assert (s_subset (kept, now), "stop %d: samples kept at an earlier stop are gone", stop);
        zhashx_destroy (&kept);
        kept = now;
        if (stop < 2)
            jt_fleet_start_agent (s_fleet, 0);
    }
    char *log_path = jad_strdup_printf ("%s/host-1.log", s_fleet->dir);
    char *log = jt_read_file (log_path);
    cr_assert (log && strstr (log, "metric samples kept for the next start"), "%s", log);
    cr_assert (strstr (log, "metric stream resumed"), "%s", log);
    free (log);
    free (log_path);
    jt_fleet_start_agent (s_fleet, 0);
    s_expect_stored_once (kept);
    zhashx_destroy (&kept);
}

Test (mstream_fleet, an_agent_killed_hard_again_and_again_loses_nothing_it_had_stored)
{
    uint32_t seed = randombytes_random ();
    printf ("metric outbox kill test seed %u\n", seed);
    cr_assert (jt_wait_for (s_controller_has_samples, NULL, 20000), "no samples reached it");
    jt_kill9 (s_fleet->controller);
    s_fleet->controller = 0;
    zhashx_t *kept = zhashx_new ();
    for (int kill_round = 0; kill_round < 5; kill_round++) {
        cr_assert (jt_wait_for (s_outbox_grew, kept, 20000), "round %d: nothing new stored",
                   kill_round);
        //  what is stored now must survive the kill, wherever it lands
        zhashx_t *now = zhashx_new ();
        s_agent_outbox (now);
        cr_assert (s_subset (kept, now), "round %d (seed %u): stored samples are gone", kill_round,
                   seed);
        zhashx_destroy (&kept);
        kept = now;
        usleep ((seed >> (kill_round * 4)) % 16 * 20000);
        jt_kill9 (s_fleet->agents[0]);
        jt_fleet_start_agent (s_fleet, 0);
    }
    cr_assert (jt_wait_for (s_outbox_grew, kept, 20000), "the last start stored nothing");
    s_expect_stored_once (kept);
    zhashx_destroy (&kept);
}
