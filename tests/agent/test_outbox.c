//  test_outbox - reports survive restarts and leave only when acknowledged
//  SPDX-License-Identifier: MPL-2.0

#include "agt_outbox.h"
#include "agt_store.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_dir;
static char s_path[PATH_MAX];
static agt_store_t *s_store;
static agt_outbox_t *s_outbox;

static void s_open (void)
{
    s_store = agt_store_new (s_path, true);
    cr_assert_not_null (s_store);
    s_outbox = agt_outbox_new (agt_store_db (s_store), agt_store_incarnation (s_store));
    cr_assert_not_null (s_outbox);
}

//  What a restart does: everything in memory goes, the file stays.
static void s_close (void)
{
    agt_outbox_destroy (&s_outbox);
    agt_store_destroy (&s_store);
}

static void setup (void)
{
    s_dir = jt_tempdir ("agt-outbox");
    snprintf (s_path, sizeof s_path, "%s/state.db", s_dir);
    s_open ();
}

static void teardown (void)
{
    s_close ();
    jt_rmtree (s_dir);
    free (s_dir);
}

TestSuite (outbox, .init = setup, .fini = teardown);

static uint64_t s_add (const char *step, uint32_t status)
{
    jad_report_t report = {
        .plan_id = "p1",
        .app = "web",
        .version = "1.0",
        .step = (char *)step,
        .status = status,
        .detail = "detail",
        .time = 1700000000000,
    };
    return agt_outbox_add (s_outbox, &report);
}

typedef struct {
    uint64_t ids[16];
    char steps[16][32];
    char incarnations[16][40];
    int count;
} s_seen_t;

static int s_collect (uint64_t report_id, const uint8_t *data, size_t size, void *arg)
{
    s_seen_t *seen = (s_seen_t *)arg;
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *msg = jad_agent_msg_decode (data, size, err);
    cr_assert_not_null (msg, "stored report does not decode: %s", err);
    cr_assert_eq (msg->kind, JAD_AGENT_MSG_REPORT);
    cr_assert_eq (msg->report->report_id, report_id, "payload carries its own row id");
    seen->ids[seen->count] = report_id;
    snprintf (seen->steps[seen->count], 32, "%s", msg->report->step);
    snprintf (seen->incarnations[seen->count], 40, "%s", msg->report->incarnation);
    seen->count++;
    jad_agent_msg_destroy (&msg);
    return 0;
}

Test (outbox, reports_survive_restart_in_order)
{
    uint64_t first = s_add ("fetch", JAD_REPORT_STARTED);
    uint64_t second = s_add ("fetch", JAD_REPORT_OK);
    uint64_t third = s_add ("unpack", JAD_REPORT_STARTED);
    cr_assert (first > 0 && second > first && third > second);
    char incarnation[40];
    snprintf (incarnation, sizeof incarnation, "%s", agt_store_incarnation (s_store));

    s_close ();
    s_open ();
    cr_assert_str_eq (agt_store_incarnation (s_store), incarnation,
                      "incarnation is created once per database");
    s_seen_t seen;
    memset (&seen, 0, sizeof seen);
    cr_assert_eq (agt_outbox_each (s_outbox, 0, 100, s_collect, &seen), 3);
    cr_assert_eq (seen.ids[0], first);
    cr_assert_eq (seen.ids[1], second);
    cr_assert_eq (seen.ids[2], third);
    cr_assert_str_eq (seen.steps[0], "fetch");
    cr_assert_str_eq (seen.steps[2], "unpack");
    cr_assert_str_eq (seen.incarnations[1], incarnation);
}

Test (outbox, deleted_only_after_ack)
{
    uint64_t first = s_add ("fetch", JAD_REPORT_STARTED);
    uint64_t second = s_add ("fetch", JAD_REPORT_OK);
    uint64_t third = s_add ("plan", JAD_REPORT_HEALTHY);
    cr_assert_eq (agt_outbox_size (s_outbox), 3);

    //  an ack for another incarnation (an earlier database) removes nothing
    uint64_t ids[] = {first, second};
    cr_assert_eq (agt_outbox_ack (s_outbox, "0000000000000000", ids, 2), 0);
    cr_assert_eq (agt_outbox_size (s_outbox), 3);

    char incarnation[40];
    snprintf (incarnation, sizeof incarnation, "%s", agt_store_incarnation (s_store));
    cr_assert_eq (agt_outbox_ack (s_outbox, incarnation, ids, 2), 2);
    cr_assert_eq (agt_outbox_size (s_outbox), 1);
    //  a duplicate ack is harmless
    cr_assert_eq (agt_outbox_ack (s_outbox, incarnation, ids, 2), 0);

    s_close ();
    s_open ();
    s_seen_t seen;
    memset (&seen, 0, sizeof seen);
    cr_assert_eq (agt_outbox_each (s_outbox, 0, 100, s_collect, &seen), 1);
    cr_assert_eq (seen.ids[0], third);
    cr_assert_str_eq (seen.steps[0], "plan");
}

Test (outbox, ids_are_never_reused)
{
    uint64_t first = s_add ("fetch", JAD_REPORT_STARTED);
    char incarnation[40];
    snprintf (incarnation, sizeof incarnation, "%s", agt_store_incarnation (s_store));
    cr_assert_eq (agt_outbox_ack (s_outbox, incarnation, &first, 1), 1);
    s_close ();
    s_open ();
    uint64_t next = s_add ("fetch", JAD_REPORT_OK);
    cr_assert (next > first, "id %llu reused after %llu", (unsigned long long)next,
               (unsigned long long)first);
}

Test (outbox, get_returns_one_message)
{
    uint64_t id = s_add ("switch", JAD_REPORT_OK);
    uint8_t *data = NULL;
    size_t size = 0;
    cr_assert_eq (agt_outbox_get (s_outbox, id, &data, &size), 0);
    cr_assert (size > 0);
    free (data);
    cr_assert_eq (agt_outbox_get (s_outbox, id + 100, &data, &size), 1);
    cr_assert_null (data);
}

Test (outbox, visits_after_a_cursor_with_a_limit)
{
    for (int index = 0; index < 5; index++)
        cr_assert (s_add ("fetch", JAD_REPORT_STARTED) > 0);
    s_seen_t seen;
    memset (&seen, 0, sizeof seen);
    cr_assert_eq (agt_outbox_each (s_outbox, 0, 2, s_collect, &seen), 2);
    memset (&seen, 0, sizeof seen);
    cr_assert_eq (agt_outbox_each (s_outbox, 2, 100, s_collect, &seen), 3);
    cr_assert_eq (seen.ids[0], 3);
}
