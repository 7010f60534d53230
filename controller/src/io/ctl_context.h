//  ctl_context - the controller's shared state, owned by main.c
//  SPDX-License-Identifier: MPL-2.0
//
//  The controller is one thread: a poll loop over the ZAP handler, the plan
//  PUB socket, the agents' ROUTER and the operator API ROUTER, plus timers.
//  Its classes share this context instead of globals; the truth lives in
//  SQLite, the rest is a cache of it or a socket.

#ifndef CTL_CONTEXT_H_INCLUDED
#define CTL_CONTEXT_H_INCLUDED

#include "jad_config.h"
#include "jad_keys.h"
#include "jad_util.h"

#include "ctl_store.h"

#include <czmq.h>

//  Counters shown under "controller" in `jadctl status --json`.
typedef enum {
    CTL_COUNT_PLANS_SENT,
    CTL_COUNT_PLANS_RESENT,
    CTL_COUNT_ACKS,
    CTL_COUNT_REPORTS,
    CTL_COUNT_REPORTS_DUPLICATE,
    CTL_COUNT_CHUNKS_SENT,
    CTL_COUNT_BYTES_SENT,
    CTL_COUNT_AGENT_MALFORMED,
    CTL_COUNT_AGENT_UNKNOWN,
    CTL_COUNT_API_REQUESTS,
    CTL_COUNT_API_MALFORMED,
    CTL_COUNT_API_DENIED,
    CTL_COUNT_ZAP_ALLOWED,
    CTL_COUNT_ZAP_DENIED,
    CTL_COUNT_FETCH_REFUSED,
    CTL_COUNT_AGENT_PROTOCOL,
    CTL_COUNT_ENROLL_ACCEPTED,      //  unknown keys accepted with a valid token
    CTL_COUNT_ENROLL_PENDING,       //  unknown keys waiting for `agents accept`
    CTL_COUNT_ENROLL_REFUSED,       //  enrollments refused (name taken, bad env)
    CTL_COUNT_AGENT_NOT_ACCEPTED,   //  messages from pending keys dropped
    CTL_COUNT_SESSIONS_CUT,         //  connections shut down on reject/remove
    CTL_COUNT_AGENT_NAME_MISMATCH,  //  Status claiming a name not the key's
    CTL_COUNT_HEARTBEATS_SENT,      //  signed heartbeats broadcast (one per environment)
    CTL_COUNT_MAX
} ctl_counter_t;

typedef struct _ctl_metrics_repo_t ctl_metrics_repo_t;
typedef struct _ctl_notify_t ctl_notify_t;
typedef struct _ctl_http_t ctl_http_t;
typedef struct _ctl_alerts_t ctl_alerts_t;

typedef struct {
    char *data_dir;                   //  --data DIR
    jad_controller_config_t *config;  //  DIR/controller.yaml
    ctl_store_t *store;               //  DIR/state.db
    jad_keypair_t *signing;           //  Ed25519 plan signing pair
    jad_keypair_t *curve;             //  CURVE server pair
    zsock_t *zap;                     //  ZAP handler (REP, inproc)
    zsock_t *pub;                     //  plan broadcast, BASE
    zsock_t *agents;                  //  agents ROUTER, BASE+1
    zsock_t *api;                     //  operator API ROUTER, BASE+2
    zhashx_t *routes;                 //  agent name -> routing id (zframe_t *)
    zhashx_t *dirty;                  //  plan ids to advance after this burst
    zlistx_t *after_commit;           //  agent messages to send once the burst commits
    //  per-report lookups a fleet's burst repeats for the same plan
    char progress_plan[JAD_NAME_MAX + 1];  //  plan whose progress was written last
    int64_t progress_ms;                   //  when
    char kind_plan[JAD_NAME_MAX + 1];      //  plan whose kind is known
    bool kind_task;                        //  it is a task
    zhashx_t *uploads;                     //  upload id -> ctl_upload_t *
    zhashx_t *mismatched;                  //  agent key -> mono ms of our last ProtocolError
    zhashx_t *sessions;                    //  agent name -> ctl_session_t * (ctl_agents)
    zhashx_t *pub_peers;                   //  PUB connection fd ("%d") -> peer IP
    zsock_t *pub_monitor;                  //  PUB socket events (PAIR, inproc)
    uint64_t counters[CTL_COUNT_MAX];
    int64_t started_ms;           //  wall clock at start
    ctl_metrics_repo_t *metrics;  //  metric samples store
    ctl_notify_t *notify;         //  notification delivery
    ctl_http_t *http;             //  status page and /metrics on BASE+3
    ctl_alerts_t *alerts;         //  rule evaluation, Prometheus query worker
    int64_t beat_next;            //  mono ms of the next signed heartbeat
    int64_t beat_issued;          //  issued_at of the last one (strictly increasing)
} ctl_t;

//  Name of a counter for JSON and /metrics.
const char *ctl_counter_name (ctl_counter_t counter);

#endif
