//  test_mstream - unacked metric batches: window, acks, go-back-N resends over real sockets
//  SPDX-License-Identifier: MPL-2.0

#include "agt_mstream.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

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

//  A batch of `count` samples (the caller destroys it).
static jad_metric_batch_t *s_batch (size_t count)
{
    jad_metric_batch_t *batch = calloc (1, sizeof (jad_metric_batch_t));
    batch->names = calloc (1, sizeof (char *));
    batch->names[0] = strdup ("up");
    batch->name_count = 1;
    batch->name_index = calloc (count, sizeof (uint32_t));
    batch->times = calloc (count, sizeof (int64_t));
    batch->values = calloc (count, sizeof (double));
    for (size_t index = 0; index < count; index++)
        batch->times[index] = 1000 + (int64_t)index;
    batch->sample_count = count;
    return batch;
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
    //  a refused send uses no seq and keeps nothing
    s_refuse = true;
    cr_assert_eq (s_push (stream, 5, 100), -1);
    cr_assert_eq (agt_mstream_unacked (stream), 0);
    s_refuse = false;
    cr_assert_eq (s_push (stream, 5, 100), 0);
    cr_assert_eq (s_receive (id), 6);
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
