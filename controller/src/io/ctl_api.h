//  ctl_api - the operator API: authorise, dispatch, audit
//  SPDX-License-Identifier: MPL-2.0
//
//  Every request is checked against an allow-list table (command -> role
//  that may run it) before any handler runs, and written to the audit log
//  with its outcome. docs/api.md lists the commands and their JSON.

#ifndef CTL_API_H_INCLUDED
#define CTL_API_H_INCLUDED

#include "ctl_agents.h"
#include "ctl_alerts.h"
#include "ctl_artifacts.h"
#include "ctl_counters.h"
#include "ctl_notify.h"
#include "ctl_rollout.h"
#include "ctl_settings.h"
#include "ctl_store.h"

#include <czmq.h>

typedef struct _ctl_api_t ctl_api_t;

//  What the API's commands act on (all borrowed).
typedef struct {
    ctl_store_t *store;
    ctl_settings_t *settings;
    ctl_counters_t *counters;
    int64_t started_ms;  //  wall ms the controller started
    ctl_agents_t *agents;
    ctl_artifacts_t *artifacts;
    ctl_alerts_t *alerts;
    ctl_rollout_t *rollout;
    ctl_notify_t *notify;
} ctl_api_deps_t;

//  The API on the bound ROUTER *socket_p (taken over, nulled). NULL if out
//  of memory (the socket is destroyed).
ctl_api_t *ctl_api_new (zsock_t **socket_p, const ctl_api_deps_t *deps);
void ctl_api_destroy (ctl_api_t **self_p);

//  Its socket, for the poller.
zsock_t *ctl_api_socket (ctl_api_t *self);

//  Receive one request (routing id + request frame), handle it and send
//  the reply. Malformed requests are answered with status 2 when possible
//  and counted; nothing here exits or asserts on input.
void ctl_api_handle (ctl_api_t *self);

//  Answer (and audit) the release commit whose archive the checker has
//  just finished (ctl_artifacts_checker is readable).
void ctl_api_checked (ctl_api_t *self);

#endif
