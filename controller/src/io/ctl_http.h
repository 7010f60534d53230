//  ctl_http - HTTP on BASE+3: status page, /api/status, /metrics
//  SPDX-License-Identifier: MPL-2.0
//
//  libmicrohttpd serves from its own thread with its own read-only store
//  handle (WAL: readers never block the controller), so a slow HTTP
//  client cannot stall the controller loop. What only the loop knows (its
//  counters) it publishes here once per tick, and what the pages need of
//  the configuration it hands over at start and after every reload, both
//  under a mutex: this thread never reads the loop's memory.
//
//      GET /             the status page (HTML + JS, no external assets):
//                        environments, hosts, versions, health, running
//                        plans, recent deploys, firing alerts; refreshes
//      GET /api/status   the same data as JSON
//      GET /metrics      Prometheus text format: controller counters,
//                        fleet gauges, plan and alert states
//
//  It binds to `http-listen` (default 127.0.0.1), read-only, no auth:
//  bind it beyond loopback only behind something that authenticates. A
//  request whose Host header is not an IP address, localhost, this host's
//  name or one of `http-hosts` is refused with 421 (DNS rebinding).

#ifndef CTL_HTTP_H_INCLUDED
#define CTL_HTTP_H_INCLUDED

#include "ctl_counters.h"
#include "ctl_metrics_repo.h"
#include "ctl_notify.h"
#include "jad_config.h"

typedef struct _ctl_http_t ctl_http_t;

//  Serve the controller in data_dir on config's http_listen:port+3
//  (config is read here and not kept). NULL on error (logged).
ctl_http_t *ctl_http_new (const char *data_dir, const jad_controller_config_t *config,
                          int64_t started_ms);

//  Take what the pages need of a (reloaded) configuration: it is copied.
//  Returns 0 or -1 (the previous copy stays).
int ctl_http_configure (ctl_http_t *self, const jad_controller_config_t *config);

//  Publish the loop's counters for /metrics and /api/status; what this
//  thread counts (http_host_refused) is written into *counters first.
void ctl_http_publish (ctl_http_t *self, ctl_counters_t *counters,
                       const ctl_metrics_repo_t *metrics, ctl_notify_t *notify);

//  Stop serving and free; NULL-safe.
void ctl_http_destroy (ctl_http_t **self_p);

#endif
