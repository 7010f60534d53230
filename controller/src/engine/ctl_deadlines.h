//  ctl_deadlines - when an agent counts as online, when a host missed its
//  step deadline, when a plan missed its progress deadline, when an
//  unacknowledged plan is sent again
//  SPDX-License-Identifier: MPL-2.0
//
//  Every plan has deadlines (DESIGN §5): each host a step deadline (a host
//  that does not move within it fails, or is skipped when it never
//  answered because it is offline and the plan says --skip-offline), the
//  plan a progress deadline (a plan that does not move within it fails;
//  paused plans and bakes wait on purpose). An agent is online when it
//  was seen within three heartbeats (and a second of slack). A pending
//  host of a running plan gets the plan again directly every resend
//  interval while it is online.
//
//  Pure: clocks and rows in, verdicts and texts out; the caller marks the
//  hosts, records the decisions, fails plans through ctl_reconcile_fail
//  and sends. Replaces ctl_plans_agent_online and the decisions of
//  s_deadlines and ctl_plans_tick (controller/src/ctl_plans.c).

#ifndef CTL_DEADLINES_H_INCLUDED
#define CTL_DEADLINES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  True if an agent last seen at wall ms `last_seen` (0: never) is
//  online at `now` with heartbeat interval heartbeat_ms.
bool ctl_deadlines_online (int64_t last_seen, int64_t now, uint32_t heartbeat_ms);

//  A host of a running plan. Strings are borrowed.
typedef struct {
    const char *agent;
    const char *state;  //  plan_hosts.state
    int64_t updated;    //  plan_hosts.updated
    int64_t last_sent;  //  plan_hosts.last_sent (0: never)
    int64_t last_seen;  //  agents.last_seen (0: never)
    bool skip_offline;  //  plans.skip_offline
} ctl_host_clock_t;

//  A host that missed its step deadline.
typedef struct {
    const char *state;   //  "failed" or "skipped" (plan_hosts.state; static)
    const char *detail;  //  plan_hosts.detail (static)
    char decision[256];  //  detail of the step_deadline decision (decision = state)
} ctl_step_verdict_t;

//  True if `host`, unfinished (pending, acked or applying), has not moved
//  for more than step_deadline_ms at `now`; *verdict says what it
//  becomes. A host that never acknowledged and is offline is "offline: no
//  answer within the step deadline" (skipped if the plan allows it),
//  any other "step deadline missed" (failed).
bool ctl_deadlines_step (const ctl_host_clock_t *host, int64_t now, uint32_t step_deadline_ms,
                         uint32_t heartbeat_ms, ctl_step_verdict_t *verdict);

//  True if a pending host of a running plan is due to get it again
//  directly: online, and last sent more than resend_ms ago.
bool ctl_deadlines_resend (const ctl_host_clock_t *host, int64_t now, uint32_t resend_ms,
                           uint32_t heartbeat_ms);

//  True if a plan (state, paused, phase, last progress) missed its
//  progress deadline at `now`: running, not paused, not baking, and no
//  progress for more than deadline_ms (0: no deadline). The reason it
//  fails with goes to `reason`.
bool ctl_deadlines_progress (const char *state, bool paused, const char *phase, int64_t progress,
                             int64_t now, uint32_t deadline_ms, char *reason, size_t len);

//  The rule names of decisions made here (events.step).
#define CTL_DEADLINES_STEP_RULE "step_deadline"

#endif
