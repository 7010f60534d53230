//  test_notify_outbox - notifications across a change of leader: event ids,
//  and the events a stopped leader had not delivered sent again by the
//  next one from the shared store (a real PostgreSQL, a real HTTP sink)
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_notify.h"
#include "ctl_outbox_repo.h"
#include "jad_testlib.h"
#include "jad_testpg.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

JT_PG_SERVER ()

typedef struct {
    ctl_notify_t *notify;
    uint64_t delivered;
} s_delivered_t;

static bool s_delivered (void *arg)
{
    s_delivered_t *want = arg;
    return ctl_notify_delivered (want->notify) >= want->delivered;
}

static bool s_sink_holds (void *arg)
{
    return jt_sink_holding ((jt_sink_t *)arg) > 0;
}

static bool s_outbox_empty (void *arg)
{
    ctl_store_t *store = ctl_store_open ((const char *)arg, 0);
    zlistx_t *kept = store ? ctl_outbox_repo_pending (store, 100) : NULL;
    bool empty = kept && zlistx_size (kept) == 0;
    zlistx_destroy (&kept);
    ctl_store_destroy (&store);
    return empty;
}

//  The event id of the first request in a sink's bodies ("id":"HEX").
static void s_first_id (jt_sink_t *sink, char id[33])
{
    char *bodies = jt_sink_bodies (sink);
    const char *at = bodies ? strstr (bodies, "\"id\":\"") : NULL;
    cr_assert_not_null (at, "no event id in %s", bodies ? bodies : "(nothing)");
    snprintf (id, 33, "%.32s", at + 6);
    cr_assert_eq (strspn (id, "0123456789abcdef"), 32, "id %s", id);
    free (bodies);
}

static void s_config (jad_controller_config_t *config, jad_notify_config_t *target, char *url,
                      size_t url_len, jt_sink_t *sink, char *store)
{
    memset (config, 0, sizeof *config);
    memset (target, 0, sizeof *target);
    snprintf (url, url_len, "http://127.0.0.1:%d/hook", jt_sink_port (sink));
    target->webhook = url;
    config->notify = target;
    config->notify_count = 1;
    config->store = store;
}

Test (notify_outbox, an_event_a_stopped_leader_had_not_delivered_is_sent_again_with_its_id,
      .timeout = 120)
{
    char *db = jt_pg_database ();
    cr_assert_not_null (db);
    ctl_store_t *store = ctl_store_open (db, CTL_STORE_CREATE);
    cr_assert_not_null (store);
    ctl_store_destroy (&store);
    //  the first leader: its receiver takes the request and never answers
    jt_sink_t *stuck = jt_sink_new (0);
    jt_sink_hold (stuck, true);
    jad_controller_config_t config;
    jad_notify_config_t target;
    char url[128];
    s_config (&config, &target, url, sizeof url, stuck, db);
    ctl_notify_t *notify = ctl_notify_new (&config, 0);
    cr_assert_not_null (notify);
    json_t *fields = json_pack ("{s:s, s:s}", "env", "prod", "plan", "p1");
    ctl_notify_send (notify, "deploy.finished", fields);
    json_decref (fields);
    cr_assert (jt_wait_for (s_sink_holds, stuck, 20000), "the event was not sent");
    char id[33];
    s_first_id (stuck, id);
    //  it stops with the delivery under way (as a leader killed would)
    ctl_notify_destroy (&notify);
    cr_assert_not (s_outbox_empty (db), "the undelivered event was not kept");
    //  the next leader sends it again, with the same id
    jt_sink_t *sink = jt_sink_new (0);
    s_config (&config, &target, url, sizeof url, sink, db);
    notify = ctl_notify_new (&config, 0);
    cr_assert_not_null (notify);
    s_delivered_t want = {notify, 1};
    cr_assert (jt_wait_for (s_delivered, &want, 20000), "the kept event was not sent again");
    char again[33];
    s_first_id (sink, again);
    cr_assert_str_eq (again, id, "the event came again under another id");
    char *bodies = jt_sink_bodies (sink);
    cr_assert (strstr (bodies, "\"event\":\"deploy.finished\"") &&
                   strstr (bodies, "\"plan\":\"p1\""),
               "%s", bodies);
    free (bodies);
    //  delivered: out of the store, and a new event gets a new id
    cr_assert (jt_wait_for (s_outbox_empty, db, 20000), "a delivered event stayed in the store");
    fields = json_pack ("{s:s}", "env", "prod");
    ctl_notify_send (notify, "deploy.started", fields);
    json_decref (fields);
    want.delivered = 2;
    cr_assert (jt_wait_for (s_delivered, &want, 20000), "the second event was not delivered");
    bodies = jt_sink_bodies (sink);
    cr_assert_eq (jt_count (bodies, "\"id\":\""), 2, "%s", bodies);
    cr_assert_eq (jt_count (bodies, id), 1, "two events share an id: %s", bodies);
    free (bodies);
    cr_assert (jt_wait_for (s_outbox_empty, db, 20000));
    ctl_notify_destroy (&notify);
    jt_sink_destroy (&sink);
    jt_sink_hold (stuck, false);
    jt_sink_destroy (&stuck);
    jt_pg_drop (db);
    free (db);
}
