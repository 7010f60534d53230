//  ctl_incidents_repo - incidents, their notes and their post-mortem
//  timeline (DESIGN §11)
//  SPDX-License-Identifier: MPL-2.0
//
//  An incident is an environment's window of trouble: opened by an
//  operator (jadctl incident open) or by an automatic rollback (plan_id,
//  the rollback plan), noted on, closed. Its window runs from `since`
//  (when the trouble began: the opening, earlier with --since, or the
//  failed plan's creation for an automatic one) to its closing, or now.
//  The timeline is everything stored in that window about its
//  environment: plans created and finished, the controller's decisions,
//  alert transitions, approvals, the audit log and the incident's notes,
//  in time order.

#ifndef CTL_INCIDENTS_REPO_H_INCLUDED
#define CTL_INCIDENTS_REPO_H_INCLUDED

#include "ctl_store.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t id;  //  1, 2, 3 ... in the order they were opened
    char *env;
    char *title;
    char *state;    //  open | closed
    int64_t since;  //  wall ms the window starts
    int64_t opened;
    char *opened_by;  //  operator, or "controller"
    int64_t closed;   //  0 while open
    char *closed_by;  //  NULL while open
    char *plan_id;    //  the automatic rollback that opened it, or NULL
    int64_t notes;    //  how many notes it has
} ctl_incident_t;

void ctl_incident_destroy (ctl_incident_t **self_p);

typedef struct {
    int64_t id;
    int64_t time;
    char *author;
    char *text;
} ctl_incident_note_t;

void ctl_incident_note_destroy (ctl_incident_note_t **self_p);

//  One line of a timeline.
typedef struct {
    int64_t time;
    char *what;     //  plan | outcome | decision | alert | approval | audit | note
    char *subject;  //  a plan id, a rule id, an operator
    char *text;
} ctl_timeline_entry_t;

void ctl_timeline_entry_destroy (ctl_timeline_entry_t **self_p);

//  Open an incident in env with `title`, by `by`, its window from `since`
//  (<= now), linked to plan_id (NULL for an operator's). Sets *id.
//  Returns 0 or -1.
int ctl_incidents_repo_open (ctl_store_t *store, const char *env, const char *title, const char *by,
                             const char *plan_id, int64_t since, int64_t now, int64_t *id);

//  Add a note to incident id (open or closed: a post-mortem goes on
//  after it). Returns 0, 1 (no such incident) or -1.
int ctl_incidents_repo_note (ctl_store_t *store, int64_t id, const char *author, const char *text,
                             int64_t now);

//  Close incident id. Returns 0, 1 (no such incident), 2 (already
//  closed; nothing changed) or -1.
int ctl_incidents_repo_close (ctl_store_t *store, int64_t id, const char *by, int64_t now);

//  Incident id. Returns 0, 1 (none) or -1.
int ctl_incidents_repo_get (ctl_store_t *store, int64_t id, ctl_incident_t **incident_p);

//  Incidents (of env, NULL: all; only open ones if open_only), newest
//  first, at most `limit`. NULL on error.
zlistx_t *ctl_incidents_repo_list (ctl_store_t *store, const char *env, bool open_only,
                                   int64_t limit);

//  The notes of incident id, oldest first. NULL on error.
zlistx_t *ctl_incidents_repo_notes (ctl_store_t *store, int64_t id);

//  The timeline of incident id over [from, until]: its environment's
//  plans (created; finished), decisions (the controller's events and the
//  alert rules' automatic decisions), alert transitions, approvals, every
//  audit entry, and its notes; in time order, at most `limit` entries.
//  NULL on error.
zlistx_t *ctl_incidents_repo_timeline (ctl_store_t *store, int64_t id, const char *env,
                                       int64_t from, int64_t until, int64_t limit);

#endif
