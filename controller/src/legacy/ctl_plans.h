//  ctl_plans - deployment plans: create, sign and send, track, decide
//  SPDX-License-Identifier: MPL-2.0
//
//  A plan row holds what to deploy where; plan_hosts holds each target's
//  progress. Envelopes are signed at send time with a fresh sequence, so a
//  re-send is never a replay to the agent. The plan is done when every
//  target is healthy (succeeded) or any failed and the rest finished
//  (failed); a plan without progress for the progress deadline fails.

#ifndef CTL_PLANS_H_INCLUDED
#define CTL_PLANS_H_INCLUDED

#include "ctl_context.h"
#include "jad_wire.h"

//  Create a plan deploying app/version to env. `targets` (NULL-terminated)
//  limits it to those agents; NULL means every accepted agent of env.
//  Returns the new plan id (caller frees) and broadcasts it, or NULL with
//  a reason in err (errlen) when refused (unknown release, env or no
//  agents).
char *ctl_plans_create (ctl_t *ctl, const char *app, const char *version, const char *env,
                        const char *kind, const char *deployer, const char *reason,
                        const char *const *targets, char *err, size_t errlen);

//  Sign and send plan `plan_id`: to `agent` directly if not NULL (over the
//  agents ROUTER), else broadcast on PUB to its unfinished targets.
//  Returns 0 or -1.
int ctl_plans_send (ctl_t *ctl, const char *plan_id, const char *agent);

//  An agent acknowledged a plan.
void ctl_plans_on_ack (ctl_t *ctl, const char *agent, const char *plan_id);

//  Store a report from `agent` once (duplicates are recognised by
//  incarnation and report id) and move host and plan state. Returns 0 if
//  the report is stored (or was already), -1 if it could not be stored
//  (then it must not be acknowledged).
int ctl_plans_on_report (ctl_t *ctl, const char *agent, const jad_report_t *report);

//  Remember that plan_id must be advanced (ctl_rollout_advance) once the
//  current burst of agent messages is committed: a plan is advanced once
//  per burst, not once per report, so a fleet's reports cost O(N).
void ctl_plans_mark (ctl_t *ctl, const char *plan_id);

//  Advance every marked plan; call outside any transaction.
void ctl_plans_advance_marked (ctl_t *ctl);

//  An agent said hello: re-send its unfinished plans and, if it lacks the
//  release its environment last deployed successfully, converge it.
void ctl_plans_on_hello (ctl_t *ctl, const char *agent);

//  Periodic work: re-send unacknowledged plans, enforce deadlines.
void ctl_plans_tick (ctl_t *ctl);

//  Every signed-heartbeat interval (controller.yaml; 0 = off), broadcast
//  a signed Heartbeat per environment on PUB, topic "beat/ENV/", issued
//  now (strictly after the last one) and expiring after three intervals.
//  It never takes a plan sequence.
void ctl_plans_beat (ctl_t *ctl);

//  True if an agent is online (seen within three heartbeats).
bool ctl_plans_agent_online (ctl_t *ctl, int64_t last_seen);

#endif
