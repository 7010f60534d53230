//  ctl_decisions - the controller's decisions about a plan, stored and
//  logged
//  SPDX-License-Identifier: MPL-2.0
//
//  Every decision is stored as an event of agent "controller" (step = the
//  rule, status = the decision, detail = the values it was made on) and
//  logged; `jadctl plan show` prints them.
//
//  The engine's DECISION actions (ctl_reconcile) are applied through this.

#ifndef CTL_DECISIONS_H_INCLUDED
#define CTL_DECISIONS_H_INCLUDED

#include "ctl_store.h"

//  Store and log a decision about plan_id.
void ctl_decisions_record (ctl_store_t *store, const char *plan_id, const char *rule,
                           const char *decision, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

#endif
