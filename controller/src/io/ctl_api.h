//  ctl_api - the operator API: authorise, dispatch, audit
//  SPDX-License-Identifier: MPL-2.0
//
//  Every request is checked against an allow-list table (command -> role
//  that may run it) before any handler runs, and written to the audit log
//  with its outcome. docs/api.md lists the commands and their JSON.

#ifndef CTL_API_H_INCLUDED
#define CTL_API_H_INCLUDED

#include "ctl_context.h"

//  Handle one message from the API ROUTER (routing id + request frame) and
//  send the reply. Malformed requests are answered with status 2 when
//  possible and counted; nothing here exits or asserts on input.
void ctl_api_handle (ctl_t *ctl, zmsg_t **msg_p);

#endif
