//  ctl_decisions - the controller's decisions about a plan, stored and
//  logged
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_decisions.h"
#include "ctl_plans_repo.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdarg.h>
#include <stdio.h>

void ctl_decisions_record (ctl_store_t *store, const char *plan_id, const char *rule,
                           const char *decision, const char *format, ...)
{
    char detail[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (detail, sizeof detail, format, args);
    va_end (args);
    ctl_plan_event_t event = {.plan_id = (char *)plan_id,
                              .agent = "controller",
                              .time = jad_now_ms (),
                              .step = (char *)rule,
                              .status = (char *)decision,
                              .detail = detail};
    ctl_plans_repo_event_add (store, &event);
    jad_log_info ("rollout: plan=%s rule=%s decision=%s detail=\"%s\"", plan_id, rule, decision,
                  detail);
}
