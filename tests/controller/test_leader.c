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

Test (leader, sqlite_keeps_epoch_zero_and_a_fence_changes_nothing)
{
    ctl_store_t *store = s_open ();
    cr_assert_eq (ctl_store_epoch (store), 0);
    cr_assert_eq (ctl_store_fence (store, 5), 0);
    cr_assert_eq (ctl_store_next_sequence (store), 1);
    cr_assert_eq (ctl_store_epoch (store), 0);
    ctl_store_destroy (&store);
}
