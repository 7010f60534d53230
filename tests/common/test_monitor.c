//  test_monitor - a monitored socket keeps serving when its events are not
//  read for a while, and monitoring stops without a deadlock
//  SPDX-License-Identifier: MPL-2.0

#include "jad_monitor.h"

#include <criterion/criterion.h>

//  1,200 connections come and go (2,400 events) while nobody reads the
//  monitor: with libzmq's default high-water marks the socket's I/O
//  thread blocked after about 1,000 and the ROUTER stopped receiving
//  (and stopping the monitor then never returned).
Test (monitor, unread_events_never_stall_the_socket, .timeout = 120)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    cr_assert_not_null (router);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    cr_assert_gt (port, 0);
    zsock_set_rcvtimeo (router, 10000);
    zsock_t *monitor = jad_monitor_new (router, "inproc://test-monitor",
                                        ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
    cr_assert_not_null (monitor);
    for (int round = 0; round < 6; round++) {
        zsock_t *dealers[200];
        for (int index = 0; index < 200; index++) {
            dealers[index] = zsock_new (ZMQ_DEALER);
            cr_assert_not_null (dealers[index]);
            zsock_set_linger (dealers[index], 0);
            cr_assert_eq (zsock_connect (dealers[index], "tcp://127.0.0.1:%d", port), 0);
            cr_assert_eq (zstr_send (dealers[index], "hello"), 0);
        }
        for (int index = 0; index < 200; index++) {
            zmsg_t *msg = zmsg_recv (router);
            cr_assert_not_null (msg, "round %d: the ROUTER stalled after %d messages", round,
                                index);
            zmsg_destroy (&msg);
        }
        for (int index = 0; index < 200; index++)
            zsock_destroy (&dealers[index]);
    }
    //  every connection's events are there, in memory, once the last
    //  disconnections are seen
    int events = 0;
    zsock_set_rcvtimeo (monitor, 2000);
    zmsg_t *msg;
    while (events < 2400 && (msg = zmsg_recv (monitor))) {
        events++;
        zmsg_destroy (&msg);
    }
    cr_assert_eq (events, 2400, "%d events of 2,400", events);
    //  more events unread, then stop monitoring: it returns
    zsock_t *late = zsock_new (ZMQ_DEALER);
    cr_assert_eq (zsock_connect (late, "tcp://127.0.0.1:%d", port), 0);
    cr_assert_eq (zstr_send (late, "late"), 0);
    msg = zmsg_recv (router);
    cr_assert_not_null (msg);
    zmsg_destroy (&msg);
    jad_monitor_destroy (router, &monitor);
    cr_assert_null (monitor);
    jad_monitor_destroy (router, &monitor);  //  safe twice
    zsock_destroy (&late);
    zsock_destroy (&router);
}

Test (monitor, a_bad_endpoint_is_refused_and_leaves_the_socket_unmonitored)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    cr_assert_not_null (router);
    cr_assert_null (jad_monitor_new (router, "tcp://127.0.0.1:1", ZMQ_EVENT_ACCEPTED),
                    "a monitor endpoint must be inproc");
    zsock_t *monitor = jad_monitor_new (router, "inproc://test-monitor-2", ZMQ_EVENT_ACCEPTED);
    cr_assert_not_null (monitor, "the socket was left monitored by the refused call");
    jad_monitor_destroy (router, &monitor);
    zsock_destroy (&router);
}
