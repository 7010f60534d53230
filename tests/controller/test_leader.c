//  test_leader - leadership of a shared PostgreSQL store: one leader at a
//  time, a new epoch at each takeover, a frozen leader's lease ended, and
//  a deposed leader's writes changing nothing (SECURITY-TESTS row 41);
//  on SQLite the epoch stays 0 and a fence changes nothing
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_leader.h"
#include "ctl_store.h"
#include "ctl_store_internal.h"
#include "jad_testlib.h"
#include "jad_testpg.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <czmq.h>

JT_PG_SERVER ()

static jt_store_target_t s_target;

static void setup_pg (void)
{
    jt_store_target_new (&s_target, true, "ctl-leader");
}

static void setup_sqlite (void)
{
    jt_store_target_new (&s_target, false, "ctl-leader");
}

static void teardown (void)
{
    jt_store_target_free (&s_target);
}

TestSuite (leader_pg, .init = setup_pg, .fini = teardown, .timeout = 60);
TestSuite (leader, .init = setup_sqlite, .fini = teardown);

static ctl_store_t *s_open (void)
{
    ctl_store_t *store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    cr_assert_not_null (store);
    return store;
}

static int64_t s_int (ctl_store_t *store, const char *sql)
{
    int64_t value = -1;
    cr_assert_eq (ctl_sql_int (ctl_store_sql (store), &value, sql, ""), 0, "no row: %s", sql);
    return value;
}

//  Try until `leader` leads, within `timeout_ms`; returns the time taken.
static int64_t s_take (ctl_leader_t *leader, ctl_store_t *store, int timeout_ms)
{
    int64_t start = jad_mono_ms ();
    while (ctl_leader_try (leader, store) != 1) {
        cr_assert_lt (jad_mono_ms () - start, timeout_ms, "no leadership after %d ms", timeout_ms);
        zclock_sleep (CTL_LEADER_POLL_MS);
    }
    return jad_mono_ms () - start;
}

Test (leader_pg, one_leader_at_a_time_and_a_new_epoch_at_each_takeover)
{
    ctl_store_t *store_a = s_open (), *store_b = s_open ();
    cr_assert_eq (ctl_store_epoch (store_a), 0);
    ctl_leader_t *a = ctl_leader_new (s_target.target, "127.0.0.1:7400");
    ctl_leader_t *b = ctl_leader_new (s_target.target, "127.0.0.1:7500");
    cr_assert_not_null (a);
    cr_assert_not_null (b);
    cr_assert_eq (ctl_leader_epoch (a), 0);
    cr_assert_eq (ctl_leader_try (a, store_a), 1);
    cr_assert_eq (ctl_leader_epoch (a), 1);
    cr_assert_eq (ctl_store_epoch (store_b), 1);
    cr_assert_eq (ctl_leader_try (b, store_b), 0, "two leaders at once");
    cr_assert_eq (ctl_leader_try (b, store_b), 0);
    cr_assert_eq (ctl_leader_check (a), 0);
    cr_assert (ctl_leader_leads (a));
    cr_assert_not (ctl_leader_leads (b));
    //  the leader's writes go through its fence
    cr_assert_eq (ctl_store_next_sequence (store_a), 1);
    //  both controllers are on record
    cr_assert_eq (s_int (store_b, "SELECT count(*) FROM controllers"), 2);
    //  the leader goes (its lock connection closes): the standby takes
    //  over with the next epoch
    ctl_leader_destroy (&a);
    s_take (b, store_b, 5000);
    cr_assert_eq (ctl_leader_epoch (b), 2);
    cr_assert_eq (ctl_store_epoch (store_b), 2);
    cr_assert_eq (ctl_leader_check (b), 0);
    //  the deposed leader's store changes nothing, now and later
    cr_assert_eq (ctl_store_next_sequence (store_a), 0);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (store_a),
                                "UPDATE meta SET value = '99' WHERE key = 'sequence'", ""),
                  -1);
    cr_assert_neq (ctl_store_begin (store_a), 0);
    cr_assert_eq (s_int (store_b, "SELECT CAST (value AS BIGINT) FROM meta WHERE key = "
                                  "'sequence'"),
                  1);
    cr_assert_eq (ctl_store_next_sequence (store_b), 2);
    ctl_leader_destroy (&b);
    ctl_store_destroy (&store_a);
    ctl_store_destroy (&store_b);
}

Test (leader_pg, a_frozen_leader_is_deposed_when_its_lease_expires_and_writes_nothing)
{
    ctl_store_t *store_a = s_open (), *store_b = s_open ();
    ctl_leader_t *a = ctl_leader_new (s_target.target, "127.0.0.1:7400");
    ctl_leader_t *b = ctl_leader_new (s_target.target, "127.0.0.1:7500");
    cr_assert_eq (ctl_leader_try (a, store_a), 1);
    //  the leader freezes inside a transaction (its fence holds the epoch
    //  row) and renews nothing from here on
    cr_assert_eq (ctl_store_begin (store_a), 0);
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (store_a),
                                "INSERT INTO meta (key, value) VALUES ('frozen', '1')", ""),
                  1);
    cr_assert_eq (ctl_leader_try (b, store_b), 0);
    int64_t took = s_take (b, store_b, 15000);
    cr_assert_geq (took, CTL_LEADER_LEASE_MS - CTL_LEADER_POLL_MS, "took over a live lease");
    cr_assert_eq (ctl_leader_epoch (b), 2);
    //  the old leader wakes: its transaction is gone, its check fails, and
    //  nothing it writes lands
    cr_assert_neq (ctl_store_commit (store_a), 0);
    cr_assert_eq (ctl_leader_check (a), -1);
    cr_assert_not (ctl_leader_leads (a));
    cr_assert_eq (ctl_leader_try (a, store_a), -1, "a deposed leader led again");
    cr_assert_eq (ctl_sql_exec (ctl_store_sql (store_a),
                                "INSERT INTO meta (key, value) VALUES ('late', '1')", ""),
                  -1);
    cr_assert_eq (s_int (store_b, "SELECT count(*) FROM meta WHERE key IN ('frozen', 'late')"), 0);
    cr_assert_eq (ctl_leader_check (b), 0);
    ctl_leader_destroy (&a);
    ctl_leader_destroy (&b);
    ctl_store_destroy (&store_a);
    ctl_store_destroy (&store_b);
}

typedef struct {
    ctl_leader_t *leader;
    int rc;  //  the last check's
} s_check_t;

//  Check until a renewal is on its way (or the check fails).
static bool s_renewal_sent (void *arg)
{
    s_check_t *check = (s_check_t *)arg;
    check->rc = ctl_leader_check (check->leader);
    return check->rc != 0 || ctl_leader_renewing (check->leader);
}

//  Check until the renewal on its way is answered (or the check fails).
static bool s_renewal_done (void *arg)
{
    s_check_t *check = (s_check_t *)arg;
    check->rc = ctl_leader_check (check->leader);
    return check->rc != 0 || !ctl_leader_renewing (check->leader);
}

Test (leader_pg, the_lease_renewal_never_waits_for_the_store)
{
    ctl_store_t *store_a = s_open (), *store_b = s_open ();
    ctl_leader_t *a = ctl_leader_new (s_target.target, "127.0.0.1:7400");
    cr_assert_eq (ctl_leader_try (a, store_a), 1);
    int64_t renewed = s_int (store_b, "SELECT renewed FROM leadership");
    //  another session holds the lease's row: a renewal waits for it (up
    //  to lock_timeout) on the server, never in the leader's loop
    cr_assert_eq (ctl_store_begin (store_b), 0);
    cr_assert_geq (ctl_sql_exec (ctl_store_sql (store_b),
                                 "SELECT id FROM leadership WHERE id = 1 FOR UPDATE", ""),
                   0);
    s_check_t check = {a, 0};
    cr_assert (jt_wait_for (s_renewal_sent, &check, 5000), "no renewal was sent");
    cr_assert_eq (check.rc, 0, "the check waited for the locked lease and failed");
    //  still blocked on the server: each check returns at once, leading
    for (int count = 0; count < 5; count++) {
        cr_assert_eq (ctl_leader_check (a), 0);
        cr_assert (ctl_leader_renewing (a), "the renewal went through a locked row");
    }
    cr_assert (ctl_leader_leads (a));
    //  the row is free again: the renewal lands and the leader leads on
    cr_assert_eq (ctl_store_commit (store_b), 0);
    cr_assert (jt_wait_for (s_renewal_done, &check, 5000), "the renewal never came back");
    cr_assert_eq (check.rc, 0);
    cr_assert (ctl_leader_leads (a));
    cr_assert_gt (s_int (store_b, "SELECT renewed FROM leadership"), renewed);
    cr_assert_eq (s_int (store_b, "SELECT count(*) FROM controllers WHERE name = "
                                  "'127.0.0.1:7400'"),
                  1);
    ctl_leader_destroy (&a);
    ctl_store_destroy (&store_a);
    ctl_store_destroy (&store_b);
}

typedef struct {
    ctl_leader_t *leader;
} s_lost_t;

static bool s_lost (void *arg)
{
    return ctl_leader_check (((s_lost_t *)arg)->leader) != 0;
}

Test (leader_pg, a_leader_whose_renewals_do_not_land_stops_before_its_lease_ends)
{
    ctl_store_t *store_a = s_open (), *store_b = s_open ();
    ctl_leader_t *a = ctl_leader_new (s_target.target, "127.0.0.1:7400");
    cr_assert_eq (ctl_leader_try (a, store_a), 1);
    //  the lease's row stays locked: every renewal times out
    cr_assert_eq (ctl_store_begin (store_b), 0);
    cr_assert_geq (ctl_sql_exec (ctl_store_sql (store_b),
                                 "SELECT id FROM leadership WHERE id = 1 FOR UPDATE", ""),
                   0);
    s_lost_t lost = {a};
    cr_assert (jt_wait_for (s_lost, &lost, 3 * CTL_LEADER_LEASE_MS), "the leader never stopped");
    cr_assert_not (ctl_leader_leads (a));
    //  before the lease ran out, by the store's clock
    cr_assert_lt (s_int (store_b, "SELECT CAST (extract (epoch FROM clock_timestamp ()) * 1000 "
                                  "AS BIGINT) - renewed FROM leadership"),
                  CTL_LEADER_LEASE_MS, "the leader served on an expired lease");
    ctl_store_rollback (store_b);
    cr_assert_eq (ctl_leader_check (a), -1, "a stopped leader leads again");
    ctl_leader_destroy (&a);
    ctl_store_destroy (&store_a);
    ctl_store_destroy (&store_b);
}

Test (leader_pg, the_controllers_are_listed_with_the_leader_and_its_epoch)
{
    ctl_store_t *store_a = s_open (), *store_b = s_open ();
    ctl_leader_t *a = ctl_leader_new (s_target.target, "127.0.0.1:7400");
    ctl_leader_t *b = ctl_leader_new (s_target.target, "127.0.0.1:7500");
    s_take (a, store_a, 5000);
    cr_assert_eq (ctl_leader_try (b, store_b), 0);
    zlistx_t *list = ctl_leader_controllers (store_a);
    cr_assert_not_null (list);
    cr_assert_eq (zlistx_size (list), 2);
    ctl_controller_t *first = (ctl_controller_t *)zlistx_first (list);
    ctl_controller_t *second = (ctl_controller_t *)zlistx_next (list);
    cr_assert_str_eq (first->name, "127.0.0.1:7400");
    cr_assert (first->leader);
    cr_assert_eq (first->epoch, 1);
    cr_assert_str_eq (second->name, "127.0.0.1:7500");
    cr_assert_not (second->leader);
    cr_assert_eq (second->epoch, 0);
    cr_assert_gt (second->seen, 0);
    zlistx_destroy (&list);
    //  the leader goes, the standby leads with the next epoch
    ctl_leader_destroy (&a);
    s_take (b, store_b, 5000);
    list = ctl_leader_controllers (store_b);
    cr_assert_not_null (list);
    first = (ctl_controller_t *)zlistx_first (list);
    second = (ctl_controller_t *)zlistx_next (list);
    cr_assert_not (first->leader);
    cr_assert_eq (first->epoch, 0);
    cr_assert (second->leader);
    cr_assert_eq (second->epoch, 2);
    zlistx_destroy (&list);
    ctl_leader_destroy (&b);
    ctl_store_destroy (&store_a);
    ctl_store_destroy (&store_b);
}

Test (leader, sqlite_records_no_controllers)
{
    ctl_store_t *store = s_open ();
    zlistx_t *list = ctl_leader_controllers (store);
    cr_assert_not_null (list);
    cr_assert_eq (zlistx_size (list), 0);
    zlistx_destroy (&list);
    ctl_store_destroy (&store);
}

Test (leader, sqlite_keeps_epoch_zero_and_a_fence_changes_nothing)
{
    ctl_store_t *store = s_open ();
    cr_assert_eq (ctl_store_epoch (store), 0);
    cr_assert_eq (ctl_store_fence (store, 5), 0);
    cr_assert_eq (ctl_store_next_sequence (store), 1);
    cr_assert_eq (ctl_store_epoch (store), 0);
    ctl_store_destroy (&store);
}
