//  ctl_server - the controller's sockets and poll loop
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_server.h"
#include "ctl_agents.h"
#include "ctl_agents_repo.h"
#include "ctl_alerts.h"
#include "ctl_api.h"
#include "ctl_artifacts.h"
#include "ctl_http.h"
#include "ctl_metrics_repo.h"
#include "ctl_plans.h"
#include "ctl_reload.h"
#include "jad_reload.h"
#include "jad_log.h"
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

#define S_ZAP_ENDPOINT  "inproc://zeromq.zap.01"
#define S_DOMAIN_AGENTS "agents"
#define S_DOMAIN_PLANS  "plans"
#define S_DOMAIN_API    "api"
#define S_TICK_MS       250
#define S_TRIM_MS       10000

static const char *const s_counter_names[CTL_COUNT_MAX] = {
    [CTL_COUNT_PLANS_SENT] = "plans_sent",
    [CTL_COUNT_PLANS_RESENT] = "plans_resent",
    [CTL_COUNT_ACKS] = "acks",
    [CTL_COUNT_REPORTS] = "reports",
    [CTL_COUNT_REPORTS_DUPLICATE] = "reports_duplicate",
    [CTL_COUNT_CHUNKS_SENT] = "chunks_sent",
    [CTL_COUNT_BYTES_SENT] = "bytes_sent",
    [CTL_COUNT_AGENT_MALFORMED] = "agent_malformed",
    [CTL_COUNT_AGENT_UNKNOWN] = "agent_unknown",
    [CTL_COUNT_API_REQUESTS] = "api_requests",
    [CTL_COUNT_API_MALFORMED] = "api_malformed",
    [CTL_COUNT_API_DENIED] = "api_denied",
    [CTL_COUNT_ZAP_ALLOWED] = "zap_allowed",
    [CTL_COUNT_ZAP_DENIED] = "zap_denied",
    [CTL_COUNT_FETCH_REFUSED] = "fetch_refused",
    [CTL_COUNT_AGENT_PROTOCOL] = "agent_protocol_mismatch",
    [CTL_COUNT_ENROLL_ACCEPTED] = "enroll_accepted",
    [CTL_COUNT_ENROLL_PENDING] = "enroll_pending",
    [CTL_COUNT_ENROLL_REFUSED] = "enroll_refused",
    [CTL_COUNT_AGENT_NOT_ACCEPTED] = "agent_not_accepted",
    [CTL_COUNT_SESSIONS_CUT] = "sessions_cut",
    [CTL_COUNT_AGENT_NAME_MISMATCH] = "agent_name_mismatch",
    [CTL_COUNT_HEARTBEATS_SENT] = "heartbeats_sent",
};

const char *ctl_counter_name (ctl_counter_t counter)
{
    return counter < CTL_COUNT_MAX && s_counter_names[counter] ? s_counter_names[counter]
                                                               : "unknown";
}

//  Is this CURVE key (Z85) allowed to connect in this domain?
static bool s_zap_allows (ctl_t *ctl, const char *domain, const char *key)
{
    if (streq (domain, S_DOMAIN_API)) {
        ctl_operator_t *operator_row = NULL;
        int rc = ctl_agents_repo_operator_by_key (ctl->store, key, &operator_row);
        ctl_operator_destroy (&operator_row);
        return rc == 0;
    }
    if (!streq (domain, S_DOMAIN_PLANS) && !streq (domain, S_DOMAIN_AGENTS))
        return false;
    ctl_agent_t *agent = NULL;
    int rc = ctl_agents_repo_by_key (ctl->store, key, &agent);
    bool allowed = false;
    if (streq (domain, S_DOMAIN_PLANS))
        //  Plan broadcasts go to accepted agents only.
        allowed = rc == 0 && streq (agent->state, "accepted");
    else
        //  Unknown keys may connect to introduce themselves; rejected and
        //  removed agents may not.
        allowed = rc == 1 || (rc == 0 && !streq (agent->state, "rejected") &&
                              !streq (agent->state, "removed"));
    ctl_agent_destroy (&agent);
    return allowed;
}

//  Answer one ZAP request (RFC 27).
static void s_zap_handle (ctl_t *ctl)
{
    zmsg_t *request = zmsg_recv (ctl->zap);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *sequence = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credentials = zmsg_pop (request);
    char key[41] = "";
    bool allowed = false;
    if (version && streq (version, "1.0") && mechanism && streq (mechanism, "CURVE") &&
        credentials && zframe_size (credentials) == 32 && domain) {
        zmq_z85_encode (key, zframe_data (credentials), 32);
        allowed = s_zap_allows (ctl, domain, key);
    }
    ctl->counters[allowed ? CTL_COUNT_ZAP_ALLOWED : CTL_COUNT_ZAP_DENIED]++;
    //  A pending agent's SUB retries every few seconds: not worth a line each.
    if (!allowed && domain && streq (domain, S_DOMAIN_PLANS))
        jad_log_debug ("server: plan subscription refused address=%s key=%s",
                       address ? address : "-", *key ? key : "-");
    else if (!allowed)
        jad_log_info ("server: connection refused domain=%s address=%s key=%s",
                      domain ? domain : "-", address ? address : "-", *key ? key : "-");
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, sequence ? sequence : "");
    zmsg_addstr (reply, allowed ? "200" : "400");
    zmsg_addstr (reply, allowed ? "OK" : "not allowed");
    zmsg_addstr (reply, allowed ? key : "");
    zmsg_addmem (reply, "", 0);
    if (zmsg_send (&reply, ctl->zap) != 0)
        zmsg_destroy (&reply);
    zstr_free (&version);
    zstr_free (&sequence);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zframe_destroy (&credentials);
    zmsg_destroy (&request);
}

//  Make a CURVE server socket of `type` in `domain`, bound to port.
static zsock_t *s_curve_socket (ctl_t *ctl, int type, const char *domain, int port, int maxmsgsize)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    int enforce = 1;
    char *secret = jad_keypair_curve_secret_z85 (ctl->curve);
    zsock_set_zap_domain (sock, domain);
    zsock_set_curve_server (sock, 1);
    zsock_set_curve_secretkey (sock, secret);
    zsock_set_curve_publickey (sock, jad_keypair_public_txt (ctl->curve));
    jad_secret_free (&secret);
    if (zmq_setsockopt (zsock_resolve (sock), ZMQ_ZAP_ENFORCE_DOMAIN, &enforce, sizeof enforce) !=
        0) {
        jad_log_error ("server: cannot enforce the ZAP domain: %s", zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    zsock_set_linger (sock, 0);
    zsock_set_backlog (sock, 4096);
    //  ZMTP heartbeats: a peer silent for three intervals (a partition, a
    //  host gone without a reset) loses its connection and with it what
    //  was queued for it, so a plan re-sent during a partition is not
    //  delivered when the link heals, after the plan has ended. Never below
    //  10 s: a ping queued behind a few 256 KiB chunks on a slow link must
    //  not cut a working connection.
    int heartbeat = ctl->config->heartbeat_ms ? (int)ctl->config->heartbeat_ms : 5000;
    zsock_set_heartbeat_ivl (sock, heartbeat);
    zsock_set_heartbeat_timeout (sock, 3 * heartbeat > 10000 ? 3 * heartbeat : 10000);
    if (maxmsgsize > 0)
        zsock_set_maxmsgsize (sock, maxmsgsize);
    if (type == ZMQ_PUB)
        zsock_set_sndhwm (sock, 100000);
    else {
        zsock_set_sndhwm (sock, 10000);
        zsock_set_rcvhwm (sock, 10000);
    }
    if (zsock_bind (sock, "tcp://%s:%d", ctl->config->listen, port) < 0) {
        jad_log_error ("server: cannot bind address=%s port=%d error=\"%s\"", ctl->config->listen,
                       port, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

int ctl_server_start (ctl_t *ctl)
{
    if (!zsys_has_curve ()) {
        jad_log_error ("server: this libzmq has no CURVE support; refusing to run unencrypted");
        return -1;
    }
    ctl->routes = zhashx_new ();
    zhashx_set_destructor (ctl->routes, (zhashx_destructor_fn *)zframe_destroy);
    ctl->dirty = zhashx_new ();
    if (!ctl->dirty)
        return -1;
    ctl->uploads = zhashx_new ();
    zhashx_set_destructor (ctl->uploads, ctl_artifacts_upload_free);
    ctl->mismatched = zhashx_new ();
    if (!ctl->routes || !ctl->uploads || !ctl->mismatched)
        return -1;
    zhashx_set_destructor (ctl->mismatched, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator (ctl->mismatched, (zhashx_duplicator_fn *)strdup);
    ctl->zap = zsock_new (ZMQ_REP);
    if (!ctl->zap || zsock_bind (ctl->zap, S_ZAP_ENDPOINT) != 0) {
        jad_log_error ("server: cannot start the ZAP handler");
        return -1;
    }
    int base = ctl->config->port;
    ctl->pub = s_curve_socket (ctl, ZMQ_PUB, S_DOMAIN_PLANS, base, JAD_MAX_AGENT_MSG);
    ctl->agents = s_curve_socket (ctl, ZMQ_ROUTER, S_DOMAIN_AGENTS, base + 1, JAD_MAX_AGENT_MSG);
    ctl->api = s_curve_socket (ctl, ZMQ_ROUTER, S_DOMAIN_API, base + 2, JAD_MAX_API_MSG);
    if (!ctl->pub || !ctl->agents || !ctl->api || ctl_agents_start (ctl) != 0)
        return -1;
    jad_log_info ("server: listening address=%s plans=%d agents=%d api=%d", ctl->config->listen,
                  base, base + 1, base + 2);
    return 0;
}

//  A message for the agent behind `route`, ready to send; NULL on error.
static zmsg_t *s_agent_msg (zframe_t *route, const jad_ctl_msg_t *message)
{
    zchunk_t *wire = jad_ctl_msg_encode (message);
    if (!wire) {
        jad_log_error ("server: cannot encode a message for an agent");
        return NULL;
    }
    zmsg_t *msg = zmsg_new ();
    zframe_t *copy = zframe_dup (route);
    zmsg_append (msg, &copy);
    zmsg_addmem (msg, zchunk_data (wire), zchunk_size (wire));
    zchunk_destroy (&wire);
    return msg;
}

static void s_send_to_agent (ctl_t *ctl, zframe_t *route, const jad_ctl_msg_t *message)
{
    zmsg_t *msg = s_agent_msg (route, message);
    if (msg && zmsg_send (&msg, ctl->agents) != 0)
        zmsg_destroy (&msg);
}

int ctl_server_send_to_agent (ctl_t *ctl, const char *name, const jad_ctl_msg_t *message)
{
    zframe_t *route = ctl->routes ? (zframe_t *)zhashx_lookup (ctl->routes, name) : NULL;
    if (!route)
        return -1;
    s_send_to_agent (ctl, route, message);
    return 0;
}

//  The agent's refusal counters as a JSON object text (caller frees).
static char *s_refusals_json (const jad_status_t *status)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&text, &size);
    if (!stream)
        return NULL;
    fprintf (stream, "{");
    for (size_t index = 0; status->refusals && index < status->refusal_count; index++)
        //  names are jad_name_valid: nothing to escape
        fprintf (stream, "%s\"%s\": %llu", index ? ", " : "", status->refusals[index].name,
                 (unsigned long long)status->refusals[index].value);
    fprintf (stream, "}");
    fclose (stream);
    return text;
}

//  Refresh an accepted agent from its Status; returns its name (caller
//  frees) or NULL when the key is not an accepted agent. The name is the
//  one the key enrolled under, never the one the message claims.
static char *s_agent_status (ctl_t *ctl, const char *key, const jad_status_t *status,
                             zframe_t *route)
{
    char *name = NULL, *state = NULL;
    int64_t now = jad_now_ms ();
    if (ctl_agents_lookup (ctl, key, &name, &state) != 0) {
        ctl->counters[CTL_COUNT_AGENT_UNKNOWN]++;
        jad_log_debug ("server: status from a key that has not enrolled key=%s", key);
        return NULL;
    }
    if (!streq (state, "accepted")) {
        //  Pending: seen, nothing more (no plans, no app state).
        ctl->counters[CTL_COUNT_AGENT_NOT_ACCEPTED]++;
        ctl_agents_repo_touch (ctl->store, name, now);
        free (name);
        free (state);
        return NULL;
    }
    free (state);
    if (!streq (name, status->name)) {
        ctl->counters[CTL_COUNT_AGENT_NAME_MISMATCH]++;
        jad_log_warning ("server: agent claims another name key=%s name=%s claimed=%s", key, name,
                         status->name);
    }
    if (ctl_store_begin (ctl->store) == 0) {
        char *refusals = s_refusals_json (status);
        ctl_agent_seen_t seen = {.last_seen = now,
                                 .incarnation = status->incarnation,
                                 .last_sequence = (int64_t)status->last_sequence,
                                 .refusals = refusals,
                                 .stale = status->stale,
                                 .stale_alarms = (int64_t)(status->stale_alarms & INT64_MAX)};
        int rc = ctl_agents_repo_seen (ctl->store, name, &seen);
        free (refusals);
        for (size_t index = 0; rc == 0 && index < status->app_count; index++) {
            const jad_app_state_t *app = &status->apps[index];
            rc = ctl_agents_repo_app_set (ctl->store, name, app->app, app->version, app->health,
                                          app->plan_id, now);
        }
        if (rc == 0)
            rc = ctl_store_commit (ctl->store);
        if (rc != 0)
            ctl_store_rollback (ctl->store);
    }
    zframe_t *known = zhashx_lookup (ctl->routes, name);
    if (!known || !zframe_eq (known, route))
        zhashx_update (ctl->routes, name, zframe_dup (route));
    return name;
}

#define S_PROTOCOL_REPLY_MS 30000  //  tell a mismatched agent again after this

//  An agent speaks another protocol version: log it once per agent key,
//  and tell the agent (at most every S_PROTOCOL_REPLY_MS) so that it can
//  log it too.
static void s_protocol_mismatch (ctl_t *ctl, const char *key, uint32_t protocol, zframe_t *route)
{
    ctl->counters[CTL_COUNT_AGENT_PROTOCOL]++;
    ctl_agent_t *agent = NULL;
    ctl_agents_repo_by_key (ctl->store, key, &agent);
    char text[JAD_MAX_DETAIL];
    snprintf (text, sizeof text, "agent %s speaks protocol %u, controller speaks %d; upgrade %s",
              agent ? agent->name : key, protocol, JAD_PROTOCOL,
              protocol > JAD_PROTOCOL ? "the controller (jadugar-controller) to match the agent"
                                      : "the agent (jadugar-agent) to match the controller");
    ctl_agent_destroy (&agent);
    int64_t now = jad_mono_ms ();
    const char *last = (const char *)zhashx_lookup (ctl->mismatched, key);
    if (!last)
        jad_log_warning ("server: %s", text);
    else if (now - strtoll (last, NULL, 10) < S_PROTOCOL_REPLY_MS)
        return;
    char stamp[32];
    snprintf (stamp, sizeof stamp, "%lld", (long long)now);
    zhashx_update (ctl->mismatched, key, stamp);
    jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_PROTOCOL_ERROR};
    reply.protocol_error.controller_protocol = JAD_PROTOCOL;
    reply.protocol_error.agent_protocol = protocol;
    reply.protocol_error.message = text;
    s_send_to_agent (ctl, route, &reply);
}

//  One message from the agents ROUTER: routing id, body, the key the
//  ZAP handler authenticated and the connection's file descriptor.
static void s_agent_handle (ctl_t *ctl, zframe_t *route, zframe_t *body, const char *key, int fd)
{
    jad_agent_msg_t *message = NULL;
    char *name = NULL;
    char err[JAD_ERR_LEN] = "";
    message = jad_agent_msg_decode (zframe_data (body), zframe_size (body), err);
    uint32_t protocol = jad_wire_peek_protocol (zframe_data (body), zframe_size (body));
    if (!message && protocol != 0 && protocol != JAD_PROTOCOL) {
        s_protocol_mismatch (ctl, key, protocol, route);
        goto done;
    }
    if (!message) {
        ctl->counters[CTL_COUNT_AGENT_MALFORMED]++;
        jad_log_warning ("server: malformed agent message key=%s reason=\"%s\"", key, err);
        goto done;
    }
    if (message->kind == JAD_AGENT_MSG_ENROLL) {
        jad_ctl_msg_t *reply = ctl_agents_enroll (ctl, key, &message->enroll, &name);
        if (name) {
            ctl_agents_session (ctl, name, fd);
            zframe_t *known = zhashx_lookup (ctl->routes, name);
            if (!known || !zframe_eq (known, route))
                zhashx_update (ctl->routes, name, zframe_dup (route));
        }
        if (reply)
            s_send_to_agent (ctl, route, reply);
        jad_ctl_msg_destroy (&reply);
        goto done;
    }
    if (message->kind == JAD_AGENT_MSG_STATUS) {
        name = s_agent_status (ctl, key, message->status, route);
        if (name)
            ctl_agents_session (ctl, name, fd);
        if (name && message->status->hello) {
            jad_log_info ("server: agent hello name=%s incarnation=%s", name,
                          message->status->incarnation);
            ctl_plans_on_hello (ctl, name);
        }
        goto done;
    }
    //  Everything else needs a known, accepted agent.
    ctl_agent_t *agent = NULL;
    if (ctl_agents_repo_by_key (ctl->store, key, &agent) == 0 && streq (agent->state, "accepted"))
        name = strdup (agent->name);
    ctl_agent_destroy (&agent);
    if (!name) {
        ctl->counters[CTL_COUNT_AGENT_NOT_ACCEPTED]++;
        jad_log_debug ("server: message from a key that is not accepted key=%s kind=%d", key,
                       (int)message->kind);
        goto done;
    }
    ctl_agents_session (ctl, name, fd);
    zframe_t *known = zhashx_lookup (ctl->routes, name);
    if (!known || !zframe_eq (known, route))
        zhashx_update (ctl->routes, name, zframe_dup (route));
    if (message->kind == JAD_AGENT_MSG_ACK)
        ctl_plans_on_ack (ctl, name, message->ack.plan_id);
    else if (message->kind == JAD_AGENT_MSG_REPORT) {
        if (ctl_plans_on_report (ctl, name, message->report) == 0) {
            uint64_t report_id = message->report->report_id;
            jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_REPORT_ACK};
            reply.report_ack.incarnation = message->report->incarnation;
            reply.report_ack.report_ids = &report_id;
            reply.report_ack.report_id_count = 1;
            //  The ack promises the report is stored: in a burst, it waits
            //  for the burst's commit.
            zmsg_t *ack = ctl->after_commit ? s_agent_msg (route, &reply) : NULL;
            if (ack)
                zlistx_add_end (ctl->after_commit, ack);
            else
                s_send_to_agent (ctl, route, &reply);
        }
    } else if (message->kind == JAD_AGENT_MSG_FETCH) {
        jad_ctl_msg_t *reply = ctl_artifacts_fetch (ctl, message->fetch.sha256,
                                                    message->fetch.offset, message->fetch.length);
        if (reply)
            s_send_to_agent (ctl, route, reply);
        jad_ctl_msg_destroy (&reply);
    } else if (message->kind == JAD_AGENT_MSG_METRICS) {
        //  attributed to the name bound to the CURVE key, never to the message
        uint64_t acked = 0;
        int stored = ctl_metrics_repo_ingest (ctl->metrics, name, message->metrics, &acked);
        if (stored >= 0 && message->metrics->stream) {
            //  As for reports: the ack promises the batches are stored, so
            //  in a burst it waits for the burst's commit.
            jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_METRIC_ACK};
            reply.metric_ack.stream = message->metrics->stream;
            reply.metric_ack.seq = acked;
            zmsg_t *ack = ctl->after_commit ? s_agent_msg (route, &reply) : NULL;
            if (ack)
                zlistx_add_end (ctl->after_commit, ack);
            else
                s_send_to_agent (ctl, route, &reply);
        }
    }

done:
    free (name);
    jad_agent_msg_destroy (&message);
}

//  Receive one message from the agents ROUTER with libzmq directly: czmq's
//  frames do not carry the connection's file descriptor (ZMQ_SRCFD), which
//  is how a rejected or removed agent's session is cut (ctl_agents).
static void s_agent_recv (ctl_t *ctl)
{
    void *handle = zsock_resolve (ctl->agents);
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
            ctl->counters[CTL_COUNT_AGENT_MALFORMED]++;
            jad_log_debug ("server: agent message dropped frames=%d", count);
        }
    } else {
        zframe_t *route = zframe_new (zmq_msg_data (&parts[0]), zmq_msg_size (&parts[0]));
        zframe_t *body = zframe_new (zmq_msg_data (&parts[1]), zmq_msg_size (&parts[1]));
        if (route && body)
            s_agent_handle (ctl, route, body, key, fd);
        zframe_destroy (&route);
        zframe_destroy (&body);
    }
    for (int index = 0; index < count && index < 2; index++)
        zmq_msg_close (&parts[index]);
}

//  Serve a burst of agent messages in one transaction: one commit for
//  hundreds of acks, reports and heartbeats instead of one each. Plans
//  touched by the burst advance once, after the commit.
static void s_agents_burst (ctl_t *ctl)
{
    ctl->after_commit = zlistx_new ();
    if (!ctl->after_commit)
        return;
    zlistx_set_destructor (ctl->after_commit, (zlistx_destructor_fn *)zmsg_destroy);
    bool batched = ctl_store_begin (ctl->store) == 0;
    for (int count = 0; count < 1024 && (zsock_events (ctl->agents) & ZMQ_POLLIN); count++)
        s_agent_recv (ctl);
    if (batched && ctl_store_commit (ctl->store) != 0) {
        //  Nothing stored, nothing acknowledged: agents send their reports again.
        ctl_store_rollback (ctl->store);
        zlistx_purge (ctl->after_commit);
        zhashx_purge (ctl->dirty);
    }
    ctl_plans_advance_marked (ctl);
    zlistx_t *replies = ctl->after_commit;
    ctl->after_commit = NULL;
    for (zmsg_t *msg = zlistx_first (replies); msg; msg = zlistx_next (replies)) {
        zmsg_t *copy = zmsg_dup (msg);
        if (copy && zmsg_send (&copy, ctl->agents) != 0)
            zmsg_destroy (&copy);
    }
    zlistx_destroy (&replies);
}

int ctl_server_run (ctl_t *ctl)
{
    zpoller_t *poller = zpoller_new (ctl->zap, ctl->agents, ctl->api, ctl->pub_monitor, NULL);
    if (!poller)
        return -1;
    //  answers of the Prometheus query worker (ctl_alerts)
    void *queries = ctl_alerts_socket (ctl);
    if (queries && zpoller_add (poller, queries) != 0) {
        zpoller_destroy (&poller);
        return -1;
    }
    int64_t next_tick = jad_mono_ms ();
    int64_t next_trim = next_tick + S_TRIM_MS;
    while (!zsys_interrupted) {
        int64_t wait = next_tick - jad_mono_ms ();
        void *which = zpoller_wait (poller, wait > 0 ? (int)wait : 0);
        //  a SIGHUP interrupts the poll too (EINTR): that is no reason to stop
        if (zpoller_terminated (poller) && (zsys_interrupted || zmq_errno () != EINTR))
            break;
        (void)which;
        //  Serve every ready socket, each a bounded number of times: zpoller
        //  names only the first ready one, and a flood of agent messages
        //  must starve neither handshakes (ZAP), operators (API) nor timers.
        for (int count = 0; count < 256 && (zsock_events (ctl->zap) & ZMQ_POLLIN); count++)
            s_zap_handle (ctl);
        for (int count = 0; count < 64 && (zsock_events (ctl->api) & ZMQ_POLLIN); count++) {
            zmsg_t *msg = zmsg_recv (ctl->api);
            if (msg)
                ctl_api_handle (ctl, &msg);
        }
        for (int count = 0; count < 256 && (zsock_events (ctl->pub_monitor) & ZMQ_POLLIN); count++)
            ctl_agents_pub_events (ctl);
        for (int count = 0; queries && count < 64 && (zsock_events (queries) & ZMQ_POLLIN); count++)
            ctl_alerts_receive (ctl);
        if (zsock_events (ctl->agents) & ZMQ_POLLIN)
            s_agents_burst (ctl);
        if (jad_mono_ms () >= next_tick) {
            if (jad_reload_requested ())
                ctl_reload (ctl);
            ctl_plans_tick (ctl);
            ctl_plans_beat (ctl);
            ctl_alerts_tick (ctl);
            ctl_http_publish (ctl);
            //  Bursts (a fleet's reports, artifact chunks) leave freed heap
            //  behind in every arena; give it back now and then.
            if (jad_mono_ms () >= next_trim) {
                malloc_trim (0);
                next_trim = jad_mono_ms () + S_TRIM_MS;
            }
            next_tick = jad_mono_ms () + S_TICK_MS;
        }
        ctl_plans_advance_marked (ctl);
    }
    zpoller_destroy (&poller);
    return 0;
}

void ctl_server_stop (ctl_t *ctl)
{
    ctl_agents_stop (ctl);
    zsock_destroy (&ctl->api);
    zsock_destroy (&ctl->agents);
    zsock_destroy (&ctl->pub);
    zsock_destroy (&ctl->zap);
    zhashx_destroy (&ctl->routes);
    zhashx_destroy (&ctl->mismatched);
    zhashx_destroy (&ctl->dirty);
    ctl_artifacts_uploads_destroy (ctl);
}
