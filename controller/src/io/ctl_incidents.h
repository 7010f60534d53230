//  ctl_incidents - incidents: the operator's commands, the automatic
//  rollback's incident and the post-mortem report (DESIGN §11)
//  SPDX-License-Identifier: MPL-2.0
//
//  jadctl incident open --env E [--since DURATION] TITLE, note ID TEXT,
//  close ID, list [--env E] [--open], report ID. An automatic rollback
//  (ctl_rollout) opens one too, by "controller", linked to its plan, its
//  window from the failed plan's creation. Opening notifies
//  `incident.opened`, closing `incident.closed`.
//
//  The report is Markdown, made here so that every client prints the
//  same: a header (environment, state, who opened and closed it, the
//  window) and the timeline of ctl_incidents_repo_timeline as a table,
//  times in UTC. Text from the store is made safe for a Markdown table
//  cell (| escaped, line breaks and control characters as spaces).

#ifndef CTL_INCIDENTS_H_INCLUDED
#define CTL_INCIDENTS_H_INCLUDED

#include "ctl_notify.h"
#include "ctl_store.h"
#include "jad_config.h"
#include "jad_wire.h"

#include <jansson.h>
#include <stdint.h>

//  Most entries a report shows (the newest are cut, and it says so).
#define CTL_INCIDENTS_TIMELINE_MAX 2000

//  Longest title and note, in bytes.
#define CTL_INCIDENTS_TEXT_MAX 2000

//  Open an incident in env: `title`, by `by`, its window from `since`,
//  linked to plan_id (or NULL), with a first note `note` (or NULL); then
//  notify incident.opened. Returns its id, or -1 (logged).
int64_t ctl_incidents_open (ctl_store_t *store, ctl_notify_t *notify, const char *env,
                            const char *title, const char *by, const char *plan_id, int64_t since,
                            const char *note);

//  The API's incident.open, incident.note, incident.close, incident.list
//  and incident.report (request->command says which), for operator
//  `operator_name`. Returns 0 with *result set, or 2 with why in err
//  (bad input, no such incident, already closed: nothing changed), or 1
//  on a database error.
int ctl_incidents_api (ctl_store_t *store, ctl_notify_t *notify,
                       const jad_controller_config_t *config, const jad_api_request_t *request,
                       const char *operator_name, json_t **result, char *err, size_t errlen);

#endif
