//  test_channel - the replies a burst of agent messages sends once it
//  commits: report acks, one per agent connection and incarnation
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_channel.h"

#include <criterion/criterion.h>

static ctl_channel_t *channel;
static zsock_t *dealers[2];
static zframe_t *routes[2];

//  A channel whose agents ROUTER has two DEALERs connected; routes[i] is
//  dealer i's routing id, learnt from a first message.
static void s_setup (void)
{
    zsock_t *pub = zsock_new_pub ("inproc://channel-pub");
    zsock_t *router = zsock_new_router ("inproc://channel-agents");
    cr_assert (pub && router);
    for (int index = 0; index < 2; index++) {
        dealers[index] = zsock_new_dealer ("inproc://channel-agents");
        cr_assert (dealers[index]);
        cr_assert_eq (zstr_send (dealers[index], "hello"), 0);
        zmsg_t *msg = zmsg_recv (router);
        cr_assert (msg);
        routes[index] = zmsg_pop (msg);
        zmsg_destroy (&msg);
    }
    channel = ctl_channel_new (&pub, &router);
    cr_assert (channel);
}

static void s_teardown (void)
{
    ctl_channel_destroy (&channel);
    for (int index = 0; index < 2; index++) {
        zframe_destroy (&routes[index]);
        zsock_destroy (&dealers[index]);
    }
}

//  The next message on `dealer` within 1 s, decoded, or NULL.
static jad_ctl_msg_t *s_next (zsock_t *dealer)
{
    zsock_set_rcvtimeo (dealer, 1000);
    zframe_t *frame = zframe_recv (dealer);
    if (!frame)
        return NULL;
    char err[JAD_ERR_LEN] = "";
    jad_ctl_msg_t *message = jad_ctl_msg_decode (zframe_data (frame), zframe_size (frame), err);
    zframe_destroy (&frame);
    cr_assert (message, "%s", err);
    return message;
}

//  True if nothing waits on `dealer` (50 ms).
static bool s_quiet (zsock_t *dealer)
{
    zpoller_t *poller = zpoller_new (dealer, NULL);
    bool quiet = zpoller_wait (poller, 50) == NULL;
    zpoller_destroy (&poller);
    return quiet;
}

TestSuite (channel, .init = s_setup, .fini = s_teardown);

Test (channel, a_burst_acks_each_connection_s_reports_in_one_message_after_the_commit)
{
    ctl_channel_burst_begin (channel);
    cr_assert_eq (ctl_channel_ack_report (channel, routes[0], "inc-a", 7), 0);
    cr_assert_eq (ctl_channel_ack_report (channel, routes[1], "inc-b", 1), 0);
    cr_assert_eq (ctl_channel_ack_report (channel, routes[0], "inc-a", 8), 0);
    //  a restarted agent's reports (another incarnation) get their own ack
    cr_assert_eq (ctl_channel_ack_report (channel, routes[0], "inc-c", 8), 0);
    for (uint64_t id = 9; id < 20; id++)  //  past the first growth of the list
        cr_assert_eq (ctl_channel_ack_report (channel, routes[0], "inc-a", id), 0);
    cr_assert (s_quiet (dealers[0]), "an ack went before the burst committed");
    ctl_channel_burst_end (channel, true);

    bool seen_a = false, seen_c = false;
    for (int count = 0; count < 2; count++) {
        jad_ctl_msg_t *ack = s_next (dealers[0]);
        cr_assert (ack, "dealer 0 got %d acks of 2", count);
        cr_assert_eq (ack->kind, JAD_CTL_MSG_REPORT_ACK);
        if (streq (ack->report_ack.incarnation, "inc-a")) {
            cr_assert_eq (ack->report_ack.report_id_count, 13);
            cr_expect_eq (ack->report_ack.report_ids[0], 7);
            for (size_t index = 1; index < 13; index++)
                cr_expect_eq (ack->report_ack.report_ids[index], 7 + index);
            seen_a = true;
        } else {
            cr_assert_str_eq (ack->report_ack.incarnation, "inc-c");
            cr_assert_eq (ack->report_ack.report_id_count, 1);
            cr_expect_eq (ack->report_ack.report_ids[0], 8);
            seen_c = true;
        }
        jad_ctl_msg_destroy (&ack);
    }
    cr_assert (seen_a && seen_c);
    cr_assert (s_quiet (dealers[0]), "more than one ack per incarnation");
    jad_ctl_msg_t *ack = s_next (dealers[1]);
    cr_assert (ack);
    cr_assert_str_eq (ack->report_ack.incarnation, "inc-b");
    cr_assert_eq (ack->report_ack.report_id_count, 1);
    cr_expect_eq (ack->report_ack.report_ids[0], 1);
    jad_ctl_msg_destroy (&ack);
}

Test (channel, a_burst_that_did_not_commit_acks_nothing_and_the_next_starts_clean)
{
    ctl_channel_burst_begin (channel);
    cr_assert_eq (ctl_channel_ack_report (channel, routes[0], "inc-a", 1), 0);
    jad_ctl_msg_t metric_ack = {.kind = JAD_CTL_MSG_METRIC_ACK};
    metric_ack.metric_ack.stream = "stream-1";
    metric_ack.metric_ack.seq = 3;
    cr_assert_eq (ctl_channel_send_committed (channel, routes[0], &metric_ack), 0);
    ctl_channel_burst_end (channel, false);
    cr_assert (s_quiet (dealers[0]), "a rolled back burst acknowledged something");

    ctl_channel_burst_begin (channel);
    cr_assert_eq (ctl_channel_ack_report (channel, routes[0], "inc-a", 2), 0);
    cr_assert_eq (ctl_channel_send_committed (channel, routes[0], &metric_ack), 0);
    ctl_channel_burst_end (channel, true);
    bool report = false, metrics = false;
    for (int count = 0; count < 2; count++) {
        jad_ctl_msg_t *ack = s_next (dealers[0]);
        cr_assert (ack);
        if (ack->kind == JAD_CTL_MSG_REPORT_ACK) {
            cr_assert_eq (ack->report_ack.report_id_count, 1, "the rolled back id came again");
            cr_expect_eq (ack->report_ack.report_ids[0], 2);
            report = true;
        } else {
            cr_assert_eq (ack->kind, JAD_CTL_MSG_METRIC_ACK);
            cr_expect_eq (ack->metric_ack.seq, 3);
            metrics = true;
        }
        jad_ctl_msg_destroy (&ack);
    }
    cr_assert (report && metrics);
}

Test (channel, outside_a_burst_a_report_is_acked_at_once)
{
    cr_assert_eq (ctl_channel_ack_report (channel, routes[1], "inc-b", 42), 0);
    jad_ctl_msg_t *ack = s_next (dealers[1]);
    cr_assert (ack);
    cr_assert_eq (ack->report_ack.report_id_count, 1);
    cr_expect_eq (ack->report_ack.report_ids[0], 42);
    jad_ctl_msg_destroy (&ack);
    cr_assert_eq (ctl_channel_ack_report (channel, routes[1], NULL, 43), -1);
}
