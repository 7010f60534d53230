//  ctl_policy - environment policy: promotion gate, deploy windows,
//  emergency approvals, branch tracking
//  SPDX-License-Identifier: MPL-2.0
//
//  Refusals name the rule that refused ("refused by requires: ...") so
//  that an operator knows which line of controller.yaml to look at.
//  Windows are in the controller's local time.

#ifndef CTL_POLICY_H_INCLUDED
#define CTL_POLICY_H_INCLUDED

#include "ctl_context.h"

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

//  May app/version be deployed to env now? Returns 0 (allowed; then
//  *needs_approval says whether it must wait for emergency approvals) or
//  2 (refused, the rule and values in err).
int ctl_policy_check_deploy (ctl_t *ctl, const jad_env_config_t *env, const char *app,
                             const char *version, bool emergency, bool *needs_approval, char *err,
                             size_t errlen);

//  Is app/version at or above app's security floor (`jadctl release
//  floor`)? Returns 0 (yes, or no floor) or 2 (refused, rule and values
//  in err). Every deploy and rollback plan is checked (ctl_rollout_create);
//  agents check it again against the floor they have seen.
int ctl_policy_check_floor (ctl_t *ctl, const char *app, const char *version, char *err,
                            size_t errlen);

//  True if `now` falls in one of env's windows (or env has none); `which`
//  gets the windows as one line.
bool ctl_policy_in_window (const jad_env_config_t *env, time_t now, char *which, size_t len);

//  Operator `operator_name` with `roles` approves emergency plan plan_id.
//  Returns 0 (approval stored; the plan starts when every role is
//  covered) or 2 (refused, why in err). *result describes the approvals.
int ctl_policy_approve (ctl_t *ctl, const char *plan_id, const char *operator_name,
                        const char *roles, json_t **result, char *err, size_t errlen);

//  A release was added with `branch`: deploy it to every environment that
//  tracks the branch with auto_deploy, within policy. Returns a JSON list
//  of {env, plan} or {env, refused} (caller owns).
json_t *ctl_policy_auto_deploy (ctl_t *ctl, const char *app, const char *version,
                                const char *branch, const char *operator_name);

#endif
