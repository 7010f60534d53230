//  agt_link - the agent's sockets to the controller
//  SPDX-License-Identifier: MPL-2.0

#include "agt_link.h"
#include "jad_log.h"
#include "jad_monitor.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Controllers sharing a store (DESIGN §9): only the leader binds, so the
//  agent connects to every one. SUB hears the PUB it reaches; the DEALER
//  has ZMQ_IMMEDIATE, so nothing is queued to an endpoint whose
//  connection is not up (a standby), and what is sent goes to the leader.
struct _agt_link_t {
    zsock_t *sub;                                //  plan broadcasts
    zsock_t *dealer;                             //  everything else
    zsock_t *monitor;                            //  DEALER connection events (PAIR)
    char sub_endpoints[JAD_ENDPOINTS_MAX][300];  //  tcp://HOST:BASE of each controller
    size_t sub_count;
};

int agt_link_parse_endpoint (const char *text, char *host, size_t hostlen, int *base)
{
    if (!text)
        return -1;
    const char *colon = strrchr (text, ':');
    if (!colon || colon == text || colon - text >= (ptrdiff_t)hostlen)
        return -1;
    char *end = NULL;
    long port = strtol (colon + 1, &end, 10);
    if (!colon[1] || *end || port < 1 || port > 65534)
        return -1;
    size_t size = (size_t)(colon - text);
    memcpy (host, text, size);
    host[size] = 0;
    for (size_t index = 0; index < size; index++)
        if (strchr (" /\\\t\n", host[index]))
            return -1;
    *base = (int)port;
    return 0;
}

int agt_link_parse_endpoints (const char *list)
{
    if (!list)
        return -1;
    int count = 0;
    char item[300], host[256];
    int base = 0;
    const char *cursor = list;
    while (jad_endpoint_next (&cursor, item, sizeof item)) {
        if (++count > JAD_ENDPOINTS_MAX || agt_link_parse_endpoint (item, host, sizeof host, &base))
            return -1;
    }
    //  an item too long stops the walk early
    return count > 0 && !*cursor ? count : -1;
}

int agt_link_reconnect_ivl (void)
{
    return AGT_RECONNECT_MIN_MS + (int)randombytes_uniform (AGT_RECONNECT_SPREAD_MS + 1);
}

//  Options common to both sockets; returns 0 or -1.
static int s_secure (zsock_t *sock, const jad_agent_config_t *config, const jad_keypair_t *key,
                     const char *secret)
{
    zsock_set_curve_serverkey (sock, config->controller_key);
    zsock_set_curve_publickey (sock, jad_keypair_public_txt (key));
    zsock_set_curve_secretkey (sock, secret);
    zsock_set_linger (sock, 0);
    //  jitter: a fleet must not reconnect to a restarted controller at once
    zsock_set_reconnect_ivl (sock, agt_link_reconnect_ivl ());
    zsock_set_reconnect_ivl_max (sock, AGT_RECONNECT_MAX_MS);
    //  ZMTP heartbeats: a connection cut without a reset (link down, a
    //  partition) is closed after three silent intervals, which discards
    //  what was queued for it (plans that may be stale by the time the link
    //  heals) and makes the agent reconnect and say hello. Never below 10 s:
    //  a ping queued behind a few 256 KiB chunks on a slow link must not cut
    //  a working connection.
    int heartbeat = config->heartbeat_ms ? (int)config->heartbeat_ms : 5000;
    zsock_set_heartbeat_ivl (sock, heartbeat);
    zsock_set_heartbeat_timeout (sock, 3 * heartbeat > 10000 ? 3 * heartbeat : 10000);
    if (strchr (config->controller, '['))
        zsock_set_ipv6 (sock, 1);
    return zsock_mechanism (sock) == ZMQ_CURVE ? 0 : -1;
}

agt_link_t *agt_link_new (const jad_agent_config_t *config, const jad_keypair_t *key)
{
    assert (config);
    assert (key);
    agt_link_t *self = (agt_link_t *)calloc (1, sizeof (agt_link_t));
    if (!self)
        return NULL;
    char host[256], item[300];
    int base = 0;
    char *secret = NULL;
    if (agt_link_parse_endpoints (config->controller) < 0) {
        jad_log_error ("agent: bad controller endpoint value=%s", config->controller);
        goto failed;
    }
    secret = jad_keypair_curve_secret_z85 (key);
    self->sub = zsock_new (ZMQ_SUB);
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!secret || !self->sub || !self->dealer)
        goto failed;
    if (s_secure (self->sub, config, key, secret) || s_secure (self->dealer, config, key, secret)) {
        jad_log_error ("agent: cannot enable CURVE on the sockets");
        goto failed;
    }
    jad_secret_free (&secret);

    //  a plan is small; the controller's direct messages carry chunks
    zsock_set_maxmsgsize (self->sub, JAD_MAX_PLAN_BYTES + 1024);
    zsock_set_maxmsgsize (self->dealer, JAD_MAX_CTL_MSG);
    zsock_set_sndhwm (self->dealer, 1000);
    //  No receive limit: with ZMTP heartbeats on, libzmq 4.3.4 aborts the
    //  process ("Assertion failed: !_io_error", zeromq/libzmq#4364) when a
    //  connection whose receive queue is full (input stopped) is closed by
    //  the controller and a heartbeat falls due before we drained it: a
    //  busy agent died when its controller restarted. What the controller
    //  sends is bounded by its own pace (beats, resends, acks, chunks on
    //  credit), so the queue of a stalled agent grows slowly.
    zsock_set_rcvhwm (self->sub, 0);
    zsock_set_rcvhwm (self->dealer, 0);
    zsock_set_immediate (self->dealer, 1);

    char topic[128];
    snprintf (topic, sizeof topic, "plan/%s/", config->environment);
    zsock_set_subscribe (self->sub, topic);
    snprintf (topic, sizeof topic, "beat/%s/", config->environment);
    zsock_set_subscribe (self->sub, topic);

    char endpoint[300];
    snprintf (endpoint, sizeof endpoint, "inproc://agt-monitor-%p", (void *)self);
    self->monitor = jad_monitor_new (self->dealer, endpoint,
                                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    if (!self->monitor) {
        jad_log_error ("agent: cannot monitor the dealer: %s", zmq_strerror (zmq_errno ()));
        goto failed;
    }

    const char *cursor = config->controller;
    while (self->sub_count < JAD_ENDPOINTS_MAX && jad_endpoint_next (&cursor, item, sizeof item)) {
        char *plans = self->sub_endpoints[self->sub_count];
        if (agt_link_parse_endpoint (item, host, sizeof host, &base))
            goto failed;
        snprintf (plans, sizeof self->sub_endpoints[0], "tcp://%s:%d", host, base);
        if (zsock_connect (self->sub, "%s", plans) ||
            zsock_connect (self->dealer, "tcp://%s:%d", host, base + 1)) {
            jad_log_error ("agent: cannot connect controller=%s", item);
            goto failed;
        }
        self->sub_count++;
    }
    return self;

failed:
    jad_secret_free (&secret);
    agt_link_destroy (&self);
    return NULL;
}

void agt_link_destroy (agt_link_t **self_p)
{
    if (self_p && *self_p) {
        agt_link_t *self = *self_p;
        jad_monitor_destroy (self->dealer, &self->monitor);
        zsock_destroy (&self->dealer);
        zsock_destroy (&self->sub);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *agt_link_sub (agt_link_t *self)
{
    assert (self);
    return self->sub;
}

zsock_t *agt_link_dealer (agt_link_t *self)
{
    assert (self);
    return self->dealer;
}

zsock_t *agt_link_monitor (agt_link_t *self)
{
    assert (self);
    return self->monitor;
}

int agt_link_send_bytes (agt_link_t *self, const uint8_t *data, size_t size)
{
    assert (self);
    zframe_t *frame = zframe_new (data, size);
    if (!frame)
        return -1;
    if (zframe_send (&frame, self->dealer, ZFRAME_DONTWAIT)) {
        zframe_destroy (&frame);
        return -1;
    }
    return 0;
}

int agt_link_send (agt_link_t *self, const jad_agent_msg_t *msg)
{
    assert (self);
    zchunk_t *encoded = jad_agent_msg_encode (msg);
    if (!encoded) {
        jad_log_error ("agent: cannot encode message kind=%d", (int)msg->kind);
        return -1;
    }
    int rc = agt_link_send_bytes (self, zchunk_data (encoded), zchunk_size (encoded));
    zchunk_destroy (&encoded);
    return rc;
}

agt_link_event_t agt_link_monitor_recv (agt_link_t *self)
{
    assert (self);
    zmsg_t *msg = zmsg_recv (self->monitor);
    if (!msg)
        return AGT_LINK_NONE;
    agt_link_event_t result = AGT_LINK_NONE;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) >= 2) {
        uint16_t event;
        memcpy (&event, zframe_data (frame), sizeof event);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            result = AGT_LINK_CONNECTED;
        else if (event == ZMQ_EVENT_DISCONNECTED)
            result = AGT_LINK_DISCONNECTED;
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            result = AGT_LINK_REFUSED;
    }
    zmsg_destroy (&msg);
    return result;
}

int agt_link_resubscribe (agt_link_t *self)
{
    assert (self);
    int rc = 0;
    for (size_t index = 0; index < self->sub_count; index++) {
        const char *endpoint = self->sub_endpoints[index];
        zsock_disconnect (self->sub, "%s", endpoint);
        if (zsock_connect (self->sub, "%s", endpoint)) {
            jad_log_error ("agent: cannot connect the plan subscription endpoint=%s", endpoint);
            rc = -1;
        }
    }
    return rc;
}
