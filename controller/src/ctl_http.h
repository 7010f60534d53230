//  ctl_http - HTTP on BASE+3: status page, /api/status, /metrics
//  SPDX-License-Identifier: MPL-2.0
//
//  libmicrohttpd serves from its own thread with its own read-only SQLite
//  connection (WAL: readers never block the controller), so a slow HTTP
//  client cannot stall the controller loop. What only the loop knows (its
//  counters, and what is needed of a configuration a reload may replace)
//  it publishes here once per tick under a mutex, as copies.
//
//      GET /             the status page (HTML + JS, no external assets):
//                        environments, hosts, versions, health, running
//                        plans, recent deploys, firing alerts; refreshes
//      GET /api/status   the same data as JSON
//      GET /metrics      Prometheus text format: controller counters,
//                        fleet gauges, plan and alert states
//
//  It binds to `http-listen` (default 127.0.0.1), read-only, no auth:
//  bind it beyond loopback only behind something that authenticates.

#ifndef CTL_HTTP_H_INCLUDED
#define CTL_HTTP_H_INCLUDED

#include "ctl_context.h"

//  Start serving on http_listen:BASE+3. Returns 0 or -1 (logged).
int ctl_http_start (ctl_t *ctl);

//  Publish the loop's counters for /metrics and /api/status.
void ctl_http_publish (ctl_t *ctl);

//  Stop serving and free. Safe when not started.
void ctl_http_stop (ctl_t *ctl);

#endif
