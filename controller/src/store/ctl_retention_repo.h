//  ctl_retention_repo - retention: the audit log and finished plans past
//  their time (controller.yaml `retention:`), in bounded slices
//  SPDX-License-Identifier: MPL-2.0
//
//  Only the leader prunes, from its maintenance timer (ctl_alerts), one
//  slice of at most CTL_RETENTION_SLICE rows per call and per kind, so a
//  backlog of years never stalls the loop: a call that returns 1 wants to
//  be called again soon.
//
//  Audit: the log stays append-only for everything else. The database
//  refuses every UPDATE, and a DELETE of any row not older than meta
//  `audit_prune_before` (migration audit_retention); a prune writes that
//  bound, deletes, and appends `audit.pruned before=MS rows=N` in one
//  transaction.
//
//  Plans: a finished plan (succeeded or failed) finished before the bound
//  goes with its hosts, events, approvals, decisions and canary states,
//  except one something still needs:
//  - the newest deploy or rollback of its app in its environment (what
//    `rollback` undoes);
//  - the newest succeeded deploy (or rollback) of each app, version and
//    environment (rollback candidates, promotion through `requires`);
//  - a plan an incident names, or one of the incident's environment that
//    ran within its window (open incidents: since its start);
//  - a plan that a plan still in flight (approval, running) undoes, serves
//    as its task, or is the parent of.
//  Each slice appends `plans.pruned before=MS plans=N` when it deleted any.

#ifndef CTL_RETENTION_REPO_H_INCLUDED
#define CTL_RETENTION_REPO_H_INCLUDED

#include "ctl_store.h"

#include <stdint.h>

//  Rows one call deletes at most (each statement counts one more)
#define CTL_RETENTION_SLICE 1000

//  Delete at most CTL_RETENTION_SLICE audit rows older than `before`
//  (oldest first), as said above; `now` dates the audit row. *rows (if
//  not NULL) gets how many went. Returns 1 if more may be left, 0 if none
//  is, -1 on error (rolled back, logged).
int ctl_retention_repo_audit (ctl_store_t *store, int64_t before, int64_t now, int64_t *rows);

//  Delete, oldest first, the finished plans before `before` that nothing
//  needs (above), their rows counted against CTL_RETENTION_SLICE; a plan
//  cut off by the slice is finished by the next call. *plans (if not
//  NULL) gets how many plans went. Returns 1, 0 or -1 as above.
int ctl_retention_repo_plans (ctl_store_t *store, int64_t before, int64_t now, int64_t *plans);

#endif
