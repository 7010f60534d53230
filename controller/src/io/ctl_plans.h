//  ctl_plans - what agents say about plans (acks, reports, hellos) and
//  the plans' deadlines
//  SPDX-License-Identifier: MPL-2.0
//
//  Host states: pending (sent, not acknowledged), acked, applying,
//  healthy, failed. A host is finished when healthy or failed; the agent
//  marks the end of its work with a report whose step is "done". Reports
//  are stored once (recognised by incarnation and report id); a plan
//  touched by a burst of reports is advanced once, after the burst's
//  commit. A host that does not move within the step deadline fails (or
//  is skipped when offline and the plan allows it) and an unacknowledged
//  plan is sent again, as ctl_deadlines decides; a plan without progress
//  for the progress deadline fails as ctl_reconcile decides (on every
//  tick, through ctl_rollout_tick).

#ifndef CTL_PLANS_H_INCLUDED
#define CTL_PLANS_H_INCLUDED

#include "ctl_counters.h"
#include "ctl_dispatch.h"
#include "ctl_rollout.h"
#include "ctl_settings.h"
#include "ctl_store.h"
#include "jad_wire.h"

typedef struct _ctl_plans_t ctl_plans_t;

//  Plans on `store`, sent through `dispatch`, moved on by `rollout` (all
//  borrowed). NULL if out of memory.
ctl_plans_t *ctl_plans_new (ctl_store_t *store, ctl_settings_t *settings, ctl_counters_t *counters,
                            ctl_dispatch_t *dispatch, ctl_rollout_t *rollout);
void ctl_plans_destroy (ctl_plans_t **self_p);

//  An agent acknowledged a plan.
void ctl_plans_on_ack (ctl_plans_t *self, const char *agent, const char *plan_id);

//  Store a report from `agent` once (duplicates are recognised by
//  incarnation and report id) and move host and plan state. Returns 0 if
//  the report is stored (or was already), -1 if it could not be stored
//  (then it must not be acknowledged).
int ctl_plans_on_report (ctl_plans_t *self, const char *agent, const jad_report_t *report);

//  Advance every plan a report marked; call outside any transaction.
void ctl_plans_advance_marked (ctl_plans_t *self);

//  The burst that marked plans was rolled back: forget them.
void ctl_plans_forget_marked (ctl_plans_t *self);

//  An agent said hello: re-send its unfinished plans and, if it lacks the
//  release its environment last deployed successfully, converge it.
void ctl_plans_on_hello (ctl_plans_t *self, const char *agent);

//  Periodic work: re-send unacknowledged plans, enforce deadlines, advance
//  every running plan.
void ctl_plans_tick (ctl_plans_t *self);

#endif
