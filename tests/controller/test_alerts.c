//  test_alerts - the alert state machine and aggregates
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_alerts.h"

#include <criterion/criterion.h>

//  Feed conditions one second apart; return the state after the last.
static ctl_alert_state_t s_run (const ctl_alert_cond_t *conds, size_t count, uint32_t for_ms,
                                int *firings)
{
    ctl_alert_state_t state = CTL_ALERT_OK;
    int64_t since = 0;
    *firings = 0;
    for (size_t index = 0; index < count; index++) {
        ctl_alert_state_t next =
            ctl_alert_next (state, &since, conds[index], (int64_t)(index + 1) * 1000, for_ms);
        if (next == CTL_ALERT_FIRING && state != CTL_ALERT_FIRING)
            (*firings)++;
        state = next;
    }
    return state;
}

Test (alert_state, ok_pending_firing_resolved)
{
    int64_t since = 0;
    ctl_alert_state_t state = ctl_alert_next (CTL_ALERT_OK, &since, CTL_COND_TRUE, 1000, 3000);
    cr_assert_eq (state, CTL_ALERT_PENDING);
    cr_assert_eq (since, 1000);
    state = ctl_alert_next (state, &since, CTL_COND_TRUE, 3999, 3000);
    cr_assert_eq (state, CTL_ALERT_PENDING, "fired before its 'for'");
    state = ctl_alert_next (state, &since, CTL_COND_TRUE, 4000, 3000);
    cr_assert_eq (state, CTL_ALERT_FIRING);
    cr_assert_eq (since, 4000);
    state = ctl_alert_next (state, &since, CTL_COND_TRUE, 9000, 3000);
    cr_assert_eq (state, CTL_ALERT_FIRING);
    state = ctl_alert_next (state, &since, CTL_COND_FALSE, 10000, 3000);
    cr_assert_eq (state, CTL_ALERT_RESOLVED);
    state = ctl_alert_next (state, &since, CTL_COND_FALSE, 11000, 3000);
    cr_assert_eq (state, CTL_ALERT_RESOLVED);
    state = ctl_alert_next (state, &since, CTL_COND_TRUE, 12000, 3000);
    cr_assert_eq (state, CTL_ALERT_PENDING, "a resolved rule must pend again first");
}

Test (alert_state, zero_for_fires_at_once)
{
    int64_t since = 0;
    cr_assert_eq (ctl_alert_next (CTL_ALERT_OK, &since, CTL_COND_TRUE, 5, 0), CTL_ALERT_FIRING);
}

Test (alert_state, inconclusive_never_passes_nor_fires)
{
    int64_t since = 0;
    ctl_alert_state_t state =
        ctl_alert_next (CTL_ALERT_OK, &since, CTL_COND_INCONCLUSIVE, 1000, 1000);
    cr_assert_eq (state, CTL_ALERT_INCONCLUSIVE);
    //  pending, then too few samples: the 'for' clock starts over
    state = ctl_alert_next (state, &since, CTL_COND_TRUE, 2000, 1000);
    cr_assert_eq (state, CTL_ALERT_PENDING);
    state = ctl_alert_next (state, &since, CTL_COND_INCONCLUSIVE, 2500, 1000);
    cr_assert_eq (state, CTL_ALERT_INCONCLUSIVE);
    state = ctl_alert_next (state, &since, CTL_COND_INCONCLUSIVE, 9000, 1000);
    cr_assert_eq (state, CTL_ALERT_INCONCLUSIVE, "missing data must not fire");
    state = ctl_alert_next (state, &since, CTL_COND_TRUE, 9100, 1000);
    cr_assert_eq (state, CTL_ALERT_PENDING);
    state = ctl_alert_next (state, &since, CTL_COND_TRUE, 9500, 1000);
    cr_assert_eq (state, CTL_ALERT_PENDING);
    state = ctl_alert_next (state, &since, CTL_COND_FALSE, 9600, 1000);
    cr_assert_eq (state, CTL_ALERT_OK);
    //  a firing rule that loses its data keeps firing
    state = ctl_alert_next (CTL_ALERT_FIRING, &since, CTL_COND_INCONCLUSIVE, 10000, 1000);
    cr_assert_eq (state, CTL_ALERT_FIRING);
}

Test (alert_state, flapping_condition_never_fires)
{
    ctl_alert_cond_t conds[40];
    for (size_t index = 0; index < 40; index++)
        conds[index] = index % 3 == 2 ? CTL_COND_FALSE : CTL_COND_TRUE;
    int firings = 0;
    ctl_alert_state_t state = s_run (conds, 40, 3000, &firings);
    cr_assert_eq (firings, 0, "a condition that never holds for 3 s fired");
    cr_assert_neq (state, CTL_ALERT_FIRING);
    //  holding long enough fires exactly once
    for (size_t index = 20; index < 40; index++)
        conds[index] = CTL_COND_TRUE;
    s_run (conds, 40, 3000, &firings);
    cr_assert_eq (firings, 1);
}

Test (alert_state, names_round_trip)
{
    for (int state = CTL_ALERT_OK; state <= CTL_ALERT_INCONCLUSIVE; state++)
        cr_assert_eq (ctl_alert_state_parse (ctl_alert_state_name ((ctl_alert_state_t)state)),
                      state);
    cr_assert_eq (ctl_alert_state_parse ("bogus"), -1);
    cr_assert_eq (ctl_alert_state_parse (NULL), -1);
}

Test (alert_aggregate, avg_max_sum_p95)
{
    double values[] = {1, 3, 2, 10};
    uint32_t hosts[] = {1, 1, 2, 3};
    double result = 0;
    cr_assert_eq (ctl_alert_aggregate ("avg", values, hosts, 4, &result), 0);
    cr_assert_float_eq (result, 4.0, 1e-9);
    cr_assert_eq (ctl_alert_aggregate ("max", values, hosts, 4, &result), 0);
    cr_assert_float_eq (result, 10.0, 1e-9);
    //  per-host means 2, 2, 10
    cr_assert_eq (ctl_alert_aggregate ("sum", values, hosts, 4, &result), 0);
    cr_assert_float_eq (result, 14.0, 1e-9);
    double many[100];
    uint32_t many_hosts[100] = {0};
    for (int index = 0; index < 100; index++)
        many[index] = 100 - index;  //  1..100, unsorted
    cr_assert_eq (ctl_alert_aggregate ("p95", many, many_hosts, 100, &result), 0);
    cr_assert_float_eq (result, 95.0, 1e-9);
    cr_assert_eq (ctl_alert_aggregate ("median", values, hosts, 4, &result), -1);
    cr_assert_eq (ctl_alert_aggregate ("avg", values, hosts, 0, &result), -1);
}
