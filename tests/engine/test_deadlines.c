//  test_deadlines - online, step deadlines (failed or skipped), progress
//  deadlines, re-send intervals
//  SPDX-License-Identifier: MPL-2.0

#include "engine/ctl_deadlines.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define S_NOW 1000000

Test (deadlines, online_within_three_heartbeats_and_a_second)
{
    static const struct {
        int64_t last_seen;
        bool online;
    } cases[] = {
        {S_NOW, true},
        {S_NOW - 16000, true},  //  3 x 5 s + 1 s
        {S_NOW - 16001, false},
        {0, false},  //  never seen
        {-1, false},
        {S_NOW + 500, true},  //  a clock a little ahead
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        cr_assert_eq (ctl_deadlines_online (cases[index].last_seen, S_NOW, 5000),
                      cases[index].online, "case %zu", index);
    cr_assert (ctl_deadlines_online (S_NOW - 1000, S_NOW, 0));
    cr_assert_not (ctl_deadlines_online (S_NOW - 1001, S_NOW, 0));
}

Test (deadlines, a_host_that_does_not_move_fails_or_is_skipped)
{
    const uint32_t deadline = 600000;
    const int64_t late = S_NOW - deadline - 1, seen = S_NOW - 1000, gone = S_NOW - 60000;
    static const char *offline = "offline: no answer within the step deadline";
    static const char *missed = "step deadline missed";
    const struct {
        const char *name;
        ctl_host_clock_t host;
        bool late;
        const char *state;
        const char *detail;
    } cases[] = {
        {"applying, moving",
         {"web-1", "applying", S_NOW - deadline, 0, seen, false},
         false,
         NULL,
         NULL},
        {"applying, stuck", {"web-1", "applying", late, 0, seen, false}, true, "failed", missed},
        {"acked, stuck", {"web-1", "acked", late, 0, seen, false}, true, "failed", missed},
        {"pending, online", {"web-1", "pending", late, 0, seen, true}, true, "failed", missed},
        {"pending, offline", {"web-1", "pending", late, 0, gone, false}, true, "failed", offline},
        {"pending, offline, --skip-offline",
         {"web-1", "pending", late, 0, gone, true},
         true,
         "skipped",
         offline},
        {"pending, never seen, --skip-offline",
         {"web-1", "pending", late, 0, 0, true},
         true,
         "skipped",
         offline},
        {"applying, offline, --skip-offline: it started",
         {"web-1", "applying", late, 0, gone, true},
         true,
         "failed",
         missed},
        {"healthy", {"web-1", "healthy", late, 0, seen, false}, false, NULL, NULL},
        {"failed", {"web-1", "failed", late, 0, seen, false}, false, NULL, NULL},
        {"waiting", {"web-1", "waiting", late, 0, seen, false}, false, NULL, NULL},
        {"no state", {"web-1", NULL, late, 0, seen, false}, false, NULL, NULL},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        ctl_step_verdict_t verdict;
        bool is_late = ctl_deadlines_step (&cases[index].host, S_NOW, deadline, 5000, &verdict);
        cr_assert_eq (is_late, cases[index].late, "%s", cases[index].name);
        if (!is_late) {
            cr_assert_null (verdict.state, "%s", cases[index].name);
            continue;
        }
        cr_assert_str_eq (verdict.state, cases[index].state, "%s", cases[index].name);
        cr_assert_str_eq (verdict.detail, cases[index].detail, "%s", cases[index].name);
        char decision[256];
        snprintf (decision, sizeof decision, "web-1: %s (deadline 600000ms)", cases[index].detail);
        cr_assert_str_eq (verdict.decision, decision, "%s", cases[index].name);
    }
    ctl_host_clock_t nameless = {NULL, "applying", late, 0, seen, false};
    ctl_step_verdict_t verdict;
    cr_assert (ctl_deadlines_step (&nameless, S_NOW, deadline, 5000, &verdict));
    cr_assert_str_eq (verdict.decision, "-: step deadline missed (deadline 600000ms)");
    cr_assert_str_eq (CTL_DEADLINES_STEP_RULE, "step_deadline");
}

Test (deadlines, unacknowledged_plans_are_sent_again_to_online_hosts)
{
    const uint32_t resend = 2000;
    const int64_t seen = S_NOW - 1000, gone = S_NOW - 60000;
    const struct {
        ctl_host_clock_t host;
        bool due;
    } cases[] = {
        {{"a", "pending", 0, 0, seen, false}, true},  //  never sent
        {{"a", "pending", 0, S_NOW - 2001, seen, false}, true},
        {{"a", "pending", 0, S_NOW - 2000, seen, false}, false},  //  not yet
        {{"a", "pending", 0, 0, gone, false}, false},             //  offline: on hello
        {{"a", "acked", 0, 0, seen, false}, false},               //  acknowledged
        {{"a", "applying", 0, 0, seen, false}, false},
        {{"a", "waiting", 0, 0, seen, false}, false},  //  not its batch yet
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        cr_assert_eq (ctl_deadlines_resend (&cases[index].host, S_NOW, resend, 5000),
                      cases[index].due, "case %zu", index);
}

Test (deadlines, a_plan_that_does_not_move_fails)
{
    static const struct {
        const char *name;
        const char *state;
        bool paused;
        const char *phase;
        int64_t progress;
        uint32_t deadline;
        bool missed;
    } cases[] = {
        {"running, moving", "running", false, "rollout", S_NOW - 1800000, 1800000, false},
        {"running, stale", "running", false, "rollout", S_NOW - 1800001, 1800000, true},
        {"migrating, stale", "running", false, "migrate", S_NOW - 1800001, 1800000, true},
        {"paused waits on purpose", "running", true, "rollout", S_NOW - 1800001, 1800000, false},
        {"a bake waits on purpose", "running", false, "bake", S_NOW - 1800001, 1800000, false},
        {"awaiting approval", "approval", false, "approval", S_NOW - 1800001, 1800000, false},
        {"finished", "succeeded", false, "done", S_NOW - 1800001, 1800000, false},
        {"no deadline", "running", false, "rollout", 0, 0, false},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char reason[128] = "";
        bool missed = ctl_deadlines_progress (cases[index].state, cases[index].paused,
                                              cases[index].phase, cases[index].progress, S_NOW,
                                              cases[index].deadline, reason, sizeof reason);
        cr_assert_eq (missed, cases[index].missed, "%s", cases[index].name);
        if (missed)
            cr_assert_str_eq (reason, "no progress within the progress deadline (1800000ms)");
        else
            cr_assert_str_empty (reason, "%s", cases[index].name);
    }
}
