//  ctl_policy - environment policy: promotion gate, deploy windows,
//  emergency approvals, security floors, online agents
//  SPDX-License-Identifier: MPL-2.0
//
//  Refusals name the rule that refused ("refused by requires: ...") so
//  that an operator knows which line of controller.yaml to look at.
//  Windows are in the controller's local time.
//
//  Waiting for the engine: its policy door (ctl_door), approval matching
//  (ctl_approvals) and deadlines (ctl_deadlines_online) replace this.

#ifndef CTL_POLICY_H_INCLUDED
#define CTL_POLICY_H_INCLUDED

#include "ctl_store.h"
#include "jad_config.h"

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

//  True if an agent last seen at `last_seen` (wall ms, 0 never) is online
//  at `now`: seen within three heartbeats and a second.
bool ctl_policy_online (const jad_controller_config_t *config, int64_t last_seen, int64_t now);

//  May app/version be deployed to env now? Returns 0 (allowed; then
//  *needs_approval says whether it must wait for emergency approvals) or
//  2 (refused, the rule and values in err).
int ctl_policy_check_deploy (ctl_store_t *store, const jad_env_config_t *env, const char *app,
                             const char *version, bool emergency, bool *needs_approval, char *err,
                             size_t errlen);

//  Is app/version at or above app's security floor (`jadctl release
//  floor`)? Returns 0 (yes, or no floor) or 2 (refused, rule and values
//  in err). Every deploy and rollback plan is checked (ctl_rollout_create);
//  agents check it again against the floor they have seen.
int ctl_policy_check_floor (ctl_store_t *store, const char *app, const char *version, char *err,
                            size_t errlen);

//  True if `now` falls in one of env's windows (or env has none); `which`
//  gets the windows as one line.
bool ctl_policy_in_window (const jad_env_config_t *env, time_t now, char *which, size_t len);

//  Operator `operator_name` with `roles` approves emergency plan plan_id.
//  Returns 0 (approval stored; *complete_p: every role is covered now, so
//  the caller starts the plan) or 2 (refused, why in err). *result
//  describes the approvals.
int ctl_policy_approve (ctl_store_t *store, const jad_controller_config_t *config,
                        const char *plan_id, const char *operator_name, const char *roles,
                        json_t **result, bool *complete_p, char *err, size_t errlen);

#endif
