//  ctl_server - the controller's sockets, its classes and its poll loop
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_server.h"
#include "ctl_agents.h"
#include "ctl_alerts.h"
#include "ctl_api.h"
#include "ctl_artifacts.h"
#include "ctl_channel.h"
#include "ctl_counters.h"
#include "ctl_dispatch.h"
#include "ctl_http.h"
#include "ctl_metrics_repo.h"
#include "ctl_notify.h"
#include "ctl_plans.h"
#include "ctl_rollout.h"
#include "ctl_sessions.h"
#include "ctl_zap.h"
#include "jad_log.h"
#include "jad_reload.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93  //  draft option, present in libzmq 4.3.4
#endif

#define S_TICK_MS           250
#define S_TRIM_MS           10000
#define S_PROTOCOL_REPLY_MS 30000   //  tell a mismatched agent again after this
#define S_METRICS_AHEAD_MS  300000  //  samples dated further ahead are refused
#define S_BURST_MS          50      //  a burst of agent messages yields to the API after this
#define S_HANDSHAKE_MS      10000   //  ZMQ_HANDSHAKE_IVL of every CURVE socket

struct _ctl_server_t {
    ctl_settings_t *settings;      //  borrowed: controller.yaml
    ctl_store_t *store;            //  borrowed: DIR/state.db
    const jad_keypair_t *signing;  //  borrowed: Ed25519 plan signing pair
    const jad_keypair_t *curve;    //  borrowed: CURVE server pair
    int64_t started_ms;            //  wall clock at start
    ctl_counters_t counters;
    ctl_zap_t *zap;
    ctl_channel_t *channel;    //  PUB and agents ROUTER
    ctl_sessions_t *sessions;  //  agents' connections
    ctl_agents_t *agents;
    ctl_dispatch_t *dispatch;
    ctl_rollout_t *rollout;
    ctl_plans_t *plans;
    ctl_artifacts_t *artifacts;
    ctl_metrics_repo_t *metrics;
    ctl_notify_t *notify;
    ctl_alerts_t *alerts;
    ctl_security_t *security;  //  refusal counters as series rules read
    ctl_http_t *http;
    ctl_api_t *api;
    zhashx_t *mismatched;  //  agent key -> mono ms of our last ProtocolError
    ctl_leader_t *leader;  //  borrowed: leadership of a shared store, or NULL
};

//  Make a CURVE server socket of `type` in `domain`, bound to port.
static zsock_t *s_curve_socket (ctl_server_t *self, int type, const char *domain, int port,
                                int maxmsgsize)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    int enforce = 1;
    char *secret = jad_keypair_curve_secret_z85 (self->curve);
    zsock_set_zap_domain (sock, domain);
    zsock_set_curve_server (sock, 1);
    zsock_set_curve_secretkey (sock, secret);
    zsock_set_curve_publickey (sock, jad_keypair_public_txt (self->curve));
    jad_secret_free (&secret);
    if (zmq_setsockopt (zsock_resolve (sock), ZMQ_ZAP_ENFORCE_DOMAIN, &enforce, sizeof enforce) !=
        0) {
        jad_log_error ("server: cannot enforce the ZAP domain: %s", zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    zsock_set_linger (sock, 0);
    zsock_set_backlog (sock, 4096);
    //  a connection that has not finished its CURVE handshake (a stranger
    //  holding a raw TCP connection) is closed after this long
    int handshake = S_HANDSHAKE_MS;
    if (zmq_setsockopt (zsock_resolve (sock), ZMQ_HANDSHAKE_IVL, &handshake, sizeof handshake) !=
        0) {
        jad_log_error ("server: cannot set the handshake deadline: %s",
                       zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    //  ZMTP heartbeats: a peer silent for three intervals (a partition, a
    //  host gone without a reset) loses its connection and with it what
    //  was queued for it, so a plan re-sent during a partition is not
    //  delivered when the link heals, after the plan has ended. Never below
    //  10 s: a ping queued behind a few 256 KiB chunks on a slow link must
    //  not cut a working connection.
    int heartbeat = config->heartbeat_ms ? (int)config->heartbeat_ms : 5000;
    int timeout = 3 * heartbeat > 10000 ? 3 * heartbeat : 10000;
    if (type == ZMQ_XPUB) {
        //  The plan stream carries signed heartbeats only (plans go to each
        //  target on the agents socket), so nothing queued on it can be
        //  stale when a link heals: it does not ping. libzmq 4.3.4 cancels
        //  a ping's timeout timer by a linear search of its I/O thread's
        //  timers, a cost of connections^2 per interval (a fifth of the
        //  controller's CPU with 1000 agents when both sockets pinged).
        //  The agents' own pings keep their side honest; a dead link is
        //  closed here once a heartbeat sent on it stays unacknowledged
        //  for the timeout (TCP_USER_TIMEOUT), or, with signed heartbeats
        //  off, once TCP keepalive probes go unanswered (kernel timers).
        int seconds = heartbeat / 1000 > 0 ? heartbeat / 1000 : 1;
        zsock_set_tcp_keepalive (sock, 1);
        zsock_set_tcp_keepalive_idle (sock, seconds);
        zsock_set_tcp_keepalive_intvl (sock, seconds);
        zsock_set_tcp_keepalive_cnt (sock, 3);
        if (zmq_setsockopt (zsock_resolve (sock), ZMQ_TCP_MAXRT, &timeout, sizeof timeout) != 0) {
            jad_log_error ("server: cannot bound retransmissions: %s", zmq_strerror (zmq_errno ()));
            zsock_destroy (&sock);
            return NULL;
        }
    } else {
        zsock_set_heartbeat_ivl (sock, heartbeat);
        zsock_set_heartbeat_timeout (sock, timeout);
    }
    if (maxmsgsize > 0)
        zsock_set_maxmsgsize (sock, maxmsgsize);
    if (type == ZMQ_XPUB) {
        zsock_set_sndhwm (sock, 100000);
        //  subscriptions are granted by ctl_channel_pub_handle, by identity
        int manual = 1;
        if (zmq_setsockopt (zsock_resolve (sock), ZMQ_XPUB_MANUAL, &manual, sizeof manual) != 0) {
            jad_log_error ("server: cannot filter subscriptions: %s", zmq_strerror (zmq_errno ()));
            zsock_destroy (&sock);
            return NULL;
        }
    } else {
        zsock_set_sndhwm (sock, 10000);
        zsock_set_rcvhwm (sock, 10000);
    }
    if (zsock_bind (sock, "tcp://%s:%d", config->listen, port) < 0) {
        jad_log_error ("server: cannot bind address=%s port=%d error=\"%s\"", config->listen, port,
                       zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

ctl_server_t *ctl_server_new (ctl_settings_t *settings, ctl_store_t *store,
                              const jad_keypair_t *signing, const jad_keypair_t *curve,
                              int64_t started_ms)
{
    ctl_server_t *self = (ctl_server_t *)calloc (1, sizeof (ctl_server_t));
    if (!self)
        return NULL;
    self->settings = settings;
    self->store = store;
    self->signing = signing;
    self->curve = curve;
    self->started_ms = started_ms;
    const jad_controller_config_t *config = ctl_settings_config (settings);
    const char *data_dir = ctl_settings_data_dir (settings);
    self->mismatched = zhashx_new ();
    if (!self->mismatched)
        goto failed;
    zhashx_set_destructor (self->mismatched, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator (self->mismatched, (zhashx_duplicator_fn *)strdup);
    //  ZAP first: no CURVE handshake is ever answered without it
    self->zap = ctl_zap_new (store, &self->counters);
    if (!self->zap)
        goto failed;
    int base = config->port;
    zsock_t *pub = s_curve_socket (self, ZMQ_XPUB, CTL_ZAP_DOMAIN_PLANS, base, JAD_MAX_AGENT_MSG);
    zsock_t *agents =
        s_curve_socket (self, ZMQ_ROUTER, CTL_ZAP_DOMAIN_AGENTS, base + 1, JAD_MAX_AGENT_MSG);
    zsock_t *api = s_curve_socket (self, ZMQ_ROUTER, CTL_ZAP_DOMAIN_API, base + 2, JAD_MAX_API_MSG);
    if (!pub || !agents || !api) {
        zsock_destroy (&pub);
        zsock_destroy (&agents);
        zsock_destroy (&api);
        goto failed;
    }
    self->channel = ctl_channel_new (&pub, &agents);
    if (!self->channel) {
        zsock_destroy (&api);
        goto failed;
    }
    self->sessions = ctl_sessions_new (ctl_channel_pub (self->channel),
                                       ctl_channel_agents (self->channel), api, &self->counters);
    if (self->sessions)
        ctl_sessions_limits (self->sessions, config->connections_per_ip, config->max_connections);
    self->agents = ctl_agents_new (store, settings, &self->counters, self->sessions, self->channel);
    self->dispatch = ctl_dispatch_new (store, settings, self->channel, signing, &self->counters);
    self->notify = ctl_notify_new (config, 0);
    self->rollout = ctl_rollout_new (store, settings, self->dispatch, self->notify);
    self->plans = ctl_plans_new (store, settings, &self->counters, self->dispatch, self->rollout);
    char *target = ctl_store_target (data_dir, config->store);
    self->artifacts = target ? ctl_artifacts_new (data_dir, target, store, &self->counters) : NULL;
    free (target);
    self->metrics = ctl_metrics_repo_new (store);
    if (!self->sessions || !self->agents || !self->dispatch || !self->rollout || !self->plans ||
        !self->artifacts || !self->metrics || !self->notify) {
        zsock_destroy (&api);
        goto failed;
    }
    self->alerts =
        ctl_alerts_new (store, settings, self->notify, self->rollout, self->metrics, started_ms);
    self->security = ctl_security_new (&self->counters);
    if (!self->alerts || !self->security) {
        zsock_destroy (&api);
        goto failed;
    }
    ctl_alerts_set_security (self->alerts, self->security);
    ctl_api_deps_t deps = {.store = store,
                           .settings = settings,
                           .counters = &self->counters,
                           .started_ms = started_ms,
                           .agents = self->agents,
                           .artifacts = self->artifacts,
                           .alerts = self->alerts,
                           .rollout = self->rollout,
                           .notify = self->notify};
    self->api = ctl_api_new (&api, &deps);
    if (!self->api)
        goto failed;
    jad_log_info ("server: listening address=%s plans=%d agents=%d api=%d", config->listen, base,
                  base + 1, base + 2);
    self->http = ctl_http_new (data_dir, config, started_ms);
    if (!self->http)
        goto failed;
    ctl_http_publish (self->http, &self->counters, self->metrics, self->notify);
    return self;

failed:
    ctl_server_destroy (&self);
    return NULL;
}

void ctl_server_destroy (ctl_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_server_t *self = *self_p;
    //  threads first (HTTP, the query worker, notifications), then what
    //  the loop used, in reverse order of making
    ctl_http_destroy (&self->http);
    ctl_api_destroy (&self->api);
    ctl_alerts_destroy (&self->alerts);
    ctl_security_destroy (&self->security);
    ctl_notify_destroy (&self->notify);
    ctl_metrics_repo_destroy (&self->metrics);
    ctl_artifacts_destroy (&self->artifacts);
    ctl_plans_destroy (&self->plans);
    ctl_rollout_destroy (&self->rollout);
    ctl_dispatch_destroy (&self->dispatch);
    ctl_agents_destroy (&self->agents);
    ctl_sessions_destroy (&self->sessions);
    ctl_channel_destroy (&self->channel);
    ctl_zap_destroy (&self->zap);
    zhashx_destroy (&self->mismatched);
    free (self);
    *self_p = NULL;
}

void ctl_server_set_leader (ctl_server_t *self, ctl_leader_t *leader)
{
    self->leader = leader;
}

void ctl_server_zap_stop (ctl_server_t *self)
{
    ctl_zap_destroy (&self->zap);
}

//  An agent speaks another protocol version: log it once per agent key,
//  and tell the agent (at most every S_PROTOCOL_REPLY_MS) so that it can
//  log it too.
static void s_protocol_mismatch (ctl_server_t *self, const char *key, uint32_t protocol,
                                 zframe_t *route)
{
    self->counters.value[CTL_COUNT_AGENT_PROTOCOL]++;
    char *name = ctl_agents_name (self->agents, key);
    char text[JAD_MAX_DETAIL];
    snprintf (text, sizeof text, "agent %s speaks protocol %u, controller speaks %d; upgrade %s",
              name ? name : key, protocol, JAD_PROTOCOL,
              protocol > JAD_PROTOCOL ? "the controller (jadugar-controller) to match the agent"
                                      : "the agent (jadugar-agent) to match the controller");
    free (name);
    int64_t now = jad_mono_ms ();
    const char *last = (const char *)zhashx_lookup (self->mismatched, key);
    if (!last)
        jad_log_warning ("server: %s", text);
    else if (now - strtoll (last, NULL, 10) < S_PROTOCOL_REPLY_MS)
        return;
    char stamp[32];
    snprintf (stamp, sizeof stamp, "%lld", (long long)now);
    zhashx_update (self->mismatched, key, stamp);
    jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_PROTOCOL_ERROR};
    reply.protocol_error.controller_protocol = JAD_PROTOCOL;
    reply.protocol_error.agent_protocol = protocol;
    reply.protocol_error.message = text;
    ctl_channel_send_route (self->channel, route, &reply);
}

//  One message from the agents ROUTER: routing id, body, the key the
//  ZAP handler authenticated and the connection's file descriptor.
static void s_agent_handle (ctl_server_t *self, zframe_t *route, zframe_t *body, const char *key,
                            int fd)
{
    jad_agent_msg_t *message = NULL;
    char *name = NULL;
    char err[JAD_ERR_LEN] = "";
    message = jad_agent_msg_decode (zframe_data (body), zframe_size (body), err);
    uint32_t protocol = jad_wire_peek_protocol (zframe_data (body), zframe_size (body));
    if (!message && protocol != 0 && protocol != JAD_PROTOCOL) {
        s_protocol_mismatch (self, key, protocol, route);
        goto done;
    }
    if (!message) {
        self->counters.value[CTL_COUNT_AGENT_MALFORMED]++;
        jad_log_warning ("server: malformed agent message key=%s reason=\"%s\"", key, err);
        goto done;
    }
    if (message->kind == JAD_AGENT_MSG_ENROLL) {
        char address[64];
        ctl_sessions_address (fd, address, sizeof address);
        jad_ctl_msg_t *reply =
            ctl_agents_enroll (self->agents, key, address, &message->enroll, &name);
        if (name) {
            ctl_sessions_note (self->sessions, name, fd);
            ctl_channel_route (self->channel, name, route);
        }
        if (reply)
            ctl_channel_send_route (self->channel, route, reply);
        jad_ctl_msg_destroy (&reply);
        goto done;
    }
    if (message->kind == JAD_AGENT_MSG_STATUS) {
        name = ctl_agents_status (self->agents, key, message->status, route, fd);
        if (name && message->status->hello) {
            jad_log_info ("server: agent hello name=%s incarnation=%s", name,
                          message->status->incarnation);
            ctl_plans_on_hello (self->plans, name);
        }
        goto done;
    }
    //  Everything else needs a known, accepted agent.
    name = ctl_agents_accepted (self->agents, key, route, fd);
    if (!name)
        goto done;
    if (message->kind == JAD_AGENT_MSG_ACK)
        ctl_plans_on_ack (self->plans, name, message->ack.plan_id);
    else if (message->kind == JAD_AGENT_MSG_REPORT) {
        //  The ack promises the report is stored: in a burst, it waits
        //  for the burst's commit.
        if (ctl_plans_on_report (self->plans, name, message->report) == 0)
            ctl_channel_ack_report (self->channel, route, message->report->incarnation,
                                    message->report->report_id);
    } else if (message->kind == JAD_AGENT_MSG_FETCH) {
        jad_ctl_msg_t *reply = ctl_artifacts_fetch (self->artifacts, name, message->fetch.sha256,
                                                    message->fetch.offset, message->fetch.length);
        if (reply)
            ctl_channel_send_route (self->channel, route, reply);
        jad_ctl_msg_destroy (&reply);
    } else if (message->kind == JAD_AGENT_MSG_METRICS) {
        //  attributed to the name bound to the CURVE key, never to the message
        uint64_t acked = 0;
        const jad_controller_config_t *config = ctl_settings_config (self->settings);
        ctl_metric_limits_t limits = {.series_per_agent = config->series_per_agent,
                                      .label_sets_per_metric = config->label_sets_per_metric,
                                      .retention_ms = (int64_t)config->metrics_retention_ms,
                                      .ahead_ms = S_METRICS_AHEAD_MS};
        ctl_metrics_repo_set_limits (self->metrics, &limits);
        ctl_metric_refusals_t refused = {0};
        int stored =
            ctl_metrics_repo_ingest (self->metrics, name, message->metrics, &acked, &refused);
        self->counters.value[CTL_COUNT_METRIC_SERIES_REFUSED] +=
            refused.series + refused.label_sets;
        self->counters.value[CTL_COUNT_METRIC_SAMPLES_CAPPED] += refused.samples_cap;
        self->counters.value[CTL_COUNT_METRIC_SAMPLES_TIME] += refused.samples_time;
        if (stored >= 0 && message->metrics->stream) {
            //  As for reports: the ack promises the batches are stored, so
            //  in a burst it waits for the burst's commit.
            jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_METRIC_ACK};
            reply.metric_ack.stream = message->metrics->stream;
            reply.metric_ack.seq = acked;
            ctl_channel_send_committed (self->channel, route, &reply);
        }
    }

done:
    free (name);
    jad_agent_msg_destroy (&message);
}

//  Receive one message from the agents ROUTER with libzmq directly: czmq's
//  frames do not carry the connection's file descriptor (ZMQ_SRCFD), which
//  is how a rejected or removed agent's session is cut (ctl_sessions).
//  False if the socket had nothing to read.
static bool s_agent_recv (ctl_server_t *self)
{
    void *handle = zsock_resolve (ctl_channel_agents (self->channel));
    zmq_msg_t parts[2];
    int count = 0;
    bool more = true;
    int fd = -1;
    char key[41] = "";
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, handle, count ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            break;
        }
        more = zmq_msg_more (&part);
        if (count < 2)
            parts[count] = part;
        else
            zmq_msg_close (&part);
        count++;
    }
    if (count >= 2) {
        const char *user = zmq_msg_gets (&parts[1], "User-Id");
        if (user && strlen (user) == 40)
            memcpy (key, user, 41);
        fd = zmq_msg_get (&parts[1], ZMQ_SRCFD);
    }
    if (count != 2 || !*key) {
        if (count > 0) {
            self->counters.value[CTL_COUNT_AGENT_MALFORMED]++;
            jad_log_debug ("server: agent message dropped frames=%d", count);
        }
    } else {
        zframe_t *route = zframe_new (zmq_msg_data (&parts[0]), zmq_msg_size (&parts[0]));
        zframe_t *body = zframe_new (zmq_msg_data (&parts[1]), zmq_msg_size (&parts[1]));
        if (route && body)
            s_agent_handle (self, route, body, key, fd);
        zframe_destroy (&route);
        zframe_destroy (&body);
    }
    for (int index = 0; index < count && index < 2; index++)
        zmq_msg_close (&parts[index]);
    return count > 0;
}

//  Serve a burst of agent messages in one transaction: one commit for
//  hundreds of acks, reports and heartbeats instead of one each. Plans
//  touched by the burst advance once, after the commit; the acks that
//  promise something is stored go after that.
static void s_agents_burst (ctl_server_t *self)
{
    ctl_channel_burst_begin (self->channel);
    bool batched = ctl_store_begin (self->store) == 0;
    //  bounded in count and in time, so that operators are served between;
    //  read until the socket has nothing more (ZMQ_EVENTS for each message
    //  cost a tenth of the loop: libzmq checks its pid on every option)
    int64_t until = jad_mono_ms () + S_BURST_MS;
    for (int count = 0; count < 1024 && jad_mono_ms () < until; count++)
        if (!s_agent_recv (self))
            break;
    bool committed = true;
    if (batched && ctl_store_commit (self->store) != 0) {
        //  Nothing stored, nothing acknowledged: agents send their reports again.
        ctl_store_rollback (self->store);
        ctl_plans_forget_marked (self->plans);
        ctl_agents_forget_accepted (self->agents);
        committed = false;
    }
    ctl_plans_advance_marked (self->plans);
    ctl_channel_burst_end (self->channel, committed);
}

//  SIGHUP: take the new controller.yaml and hand it to whoever keeps a
//  copy of what they need: notification targets, the HTTP pages, the
//  stored alert rules, the heartbeat's pace.
static void s_reload (ctl_server_t *self)
{
    unsigned changed = 0;
    if (ctl_settings_reload (self->settings, &changed) != 0)
        return;
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    if (changed & CTL_SETTINGS_SIGNED_HEARTBEAT)
        ctl_dispatch_beat_reset (self->dispatch);
    if (ctl_notify_configure (self->notify, config) != 0)
        jad_log_error ("controller: cannot hand the new notify targets over");
    ctl_sessions_limits (self->sessions, config->connections_per_ip, config->max_connections);
    if (ctl_http_configure (self->http, config) != 0)
        jad_log_error ("controller: cannot hand the new configuration to the HTTP pages");
    if (ctl_alerts_sync (self->alerts) != 0)
        jad_log_error ("controller: cannot sync the alert rules of the new configuration");
}

int ctl_server_run (ctl_server_t *self)
{
    zsock_t *zap = self->zap ? ctl_zap_socket (self->zap) : NULL;
    zsock_t *agents = ctl_channel_agents (self->channel);
    zsock_t *api = ctl_api_socket (self->api);
    zsock_t *pub = ctl_channel_pub (self->channel);
    //  answers of the Prometheus query worker (ctl_alerts)
    zactor_t *queries = ctl_alerts_socket (self->alerts);
    //  answers of the release archive checker (ctl_artifacts)
    zactor_t *checker = ctl_artifacts_checker (self->artifacts);
    zpoller_t *poller = zpoller_new (agents, api, pub, queries, checker, NULL);
    bool ready = poller && (!zap || zpoller_add (poller, zap) == 0);
    for (size_t index = 0; ready && ctl_sessions_monitor (self->sessions, index); index++)
        ready = zpoller_add (poller, ctl_sessions_monitor (self->sessions, index)) == 0;
    if (!ready) {
        zpoller_destroy (&poller);
        return -1;
    }
    int64_t next_tick = jad_mono_ms ();
    int64_t next_trim = next_tick + S_TRIM_MS;
    int rc = 0;
    while (!zsys_interrupted) {
        int64_t wait = next_tick - jad_mono_ms ();
        void *which = zpoller_wait (poller, wait > 0 ? (int)wait : 0);
        //  a SIGHUP interrupts the poll too (EINTR): that is no reason to stop
        if (zpoller_terminated (poller) && (zsys_interrupted || zmq_errno () != EINTR))
            break;
        (void)which;
        //  A leader that lost its lock stops before it serves anything
        //  more: no plan, heartbeat or write after (its store is fenced
        //  too, so a write already on its way changes nothing).
        if (self->leader && ctl_leader_check (self->leader) != 0) {
            rc = -1;
            break;
        }
        //  Serve every ready socket, each a bounded number of times: zpoller
        //  names only the first ready one, and a flood of agent messages
        //  must starve neither handshakes (ZAP), operators (API) nor timers.
        //  connection events first: a flood of strangers is cut at once
        zsock_t *monitor;
        for (size_t index = 0; (monitor = ctl_sessions_monitor (self->sessions, index)); index++)
            for (int count = 0; count < 1024 && (zsock_events (monitor) & ZMQ_POLLIN); count++)
                ctl_sessions_event (self->sessions, index);
        for (int count = 0; zap && count < 256 && (zsock_events (zap) & ZMQ_POLLIN); count++)
            ctl_zap_handle (self->zap);
        for (int count = 0; count < 64 && (zsock_events (api) & ZMQ_POLLIN); count++)
            ctl_api_handle (self->api);
        for (int count = 0; count < 256 && (zsock_events (pub) & ZMQ_POLLIN); count++)
            if (ctl_channel_pub_handle (self->channel, self->store, &self->counters) == 1)
                ctl_dispatch_beat_soon (self->dispatch);
        for (int count = 0; count < 64 && (zsock_events (queries) & ZMQ_POLLIN); count++)
            ctl_alerts_receive (self->alerts);
        for (int count = 0; count < 16 && (zsock_events (checker) & ZMQ_POLLIN); count++)
            ctl_api_checked (self->api);
        if (zsock_events (agents) & ZMQ_POLLIN)
            s_agents_burst (self);
        if (jad_mono_ms () >= next_tick) {
            if (jad_reload_requested ())
                s_reload (self);
            ctl_plans_tick (self->plans);
            ctl_dispatch_beat (self->dispatch);
            ctl_alerts_tick (self->alerts);
            ctl_http_publish (self->http, &self->counters, self->metrics, self->notify);
            //  Bursts (a fleet's reports, artifact chunks) leave freed heap
            //  behind in every arena; give it back now and then.
            if (jad_mono_ms () >= next_trim) {
                malloc_trim (0);
                next_trim = jad_mono_ms () + S_TRIM_MS;
            }
            next_tick = jad_mono_ms () + S_TICK_MS;
        }
        ctl_plans_advance_marked (self->plans);
    }
    zpoller_destroy (&poller);
    return rc;
}
