//  ctl_sessions - agents' connections, to cut them when an agent is
//  rejected or removed
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_sessions.h"
#include "jad_log.h"
#include "jad_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#define S_PUB_MONITOR "inproc://ctl-pub-monitor"

//  Where a connection is.
typedef struct {
    int fd;         //  from ZMQ_SRCFD of its last message, or the monitor
    char peer[80];  //  "IP port" of fd when recorded, to spot a reused fd
    char ip[64];    //  IP alone, to find an agent's PUB connections
} s_session_t;

struct _ctl_sessions_t {
    zsock_t *pub;              //  borrowed
    zsock_t *monitor;          //  PUB socket events (PAIR, inproc)
    zhashx_t *sessions;        //  agent name -> s_session_t *
    zhashx_t *pub_peers;       //  PUB connection fd ("%d") -> s_session_t *
    ctl_counters_t *counters;  //  borrowed
};

static void s_session_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  "IP port" and "IP" of a connected socket; -1 if fd is not one.
static int s_peer_of (int fd, char *peer, size_t peerlen, char *ip, size_t iplen)
{
    struct sockaddr_storage address;
    socklen_t size = sizeof address;
    if (fd < 0 || getpeername (fd, (struct sockaddr *)&address, &size) != 0)
        return -1;
    char host[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (address.ss_family == AF_INET) {
        struct sockaddr_in *inet = (struct sockaddr_in *)&address;
        inet_ntop (AF_INET, &inet->sin_addr, host, sizeof host);
        port = ntohs (inet->sin_port);
    } else if (address.ss_family == AF_INET6) {
        struct sockaddr_in6 *inet6 = (struct sockaddr_in6 *)&address;
        inet_ntop (AF_INET6, &inet6->sin6_addr, host, sizeof host);
        port = ntohs (inet6->sin6_port);
    } else
        return -1;
    if (peer)
        snprintf (peer, peerlen, "%s %d", host, port);
    if (ip)
        snprintf (ip, iplen, "%s", host);
    return 0;
}

int ctl_sessions_address (int fd, char *ip, size_t iplen)
{
    *ip = 0;
    return s_peer_of (fd, NULL, 0, ip, iplen);
}

ctl_sessions_t *ctl_sessions_new (zsock_t *pub, ctl_counters_t *counters)
{
    ctl_sessions_t *self = (ctl_sessions_t *)calloc (1, sizeof (ctl_sessions_t));
    if (!self)
        return NULL;
    self->pub = pub;
    self->counters = counters;
    self->sessions = zhashx_new ();
    self->pub_peers = zhashx_new ();
    if (!self->sessions || !self->pub_peers) {
        ctl_sessions_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->sessions, s_session_free);
    zhashx_set_destructor (self->pub_peers, s_session_free);
    if (zmq_socket_monitor (zsock_resolve (pub), S_PUB_MONITOR,
                            ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED) != 0) {
        jad_log_error ("agents: cannot monitor the plan socket: %s", zmq_strerror (zmq_errno ()));
        ctl_sessions_destroy (&self);
        return NULL;
    }
    self->monitor = zsock_new (ZMQ_PAIR);
    if (!self->monitor || zsock_connect (self->monitor, S_PUB_MONITOR) != 0) {
        jad_log_error ("agents: cannot connect the plan socket monitor");
        ctl_sessions_destroy (&self);
    }
    return self;
}

void ctl_sessions_destroy (ctl_sessions_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_sessions_t *self = *self_p;
    if (self->pub && self->monitor)
        zmq_socket_monitor (zsock_resolve (self->pub), NULL, 0);
    zsock_destroy (&self->monitor);
    zhashx_destroy (&self->sessions);
    zhashx_destroy (&self->pub_peers);
    free (self);
    *self_p = NULL;
}

zsock_t *ctl_sessions_monitor (ctl_sessions_t *self)
{
    return self->monitor;
}

void ctl_sessions_note (ctl_sessions_t *self, const char *name, int fd)
{
    if (fd < 0)
        return;
    s_session_t *known = (s_session_t *)zhashx_lookup (self->sessions, name);
    if (known && known->fd == fd)
        return;
    s_session_t *session = (s_session_t *)calloc (1, sizeof (s_session_t));
    if (!session)
        return;
    session->fd = fd;
    if (s_peer_of (fd, session->peer, sizeof session->peer, session->ip, sizeof session->ip)) {
        free (session);
        return;
    }
    zhashx_update (self->sessions, name, session);
}

void ctl_sessions_pub_event (ctl_sessions_t *self)
{
    zmsg_t *msg = zmsg_recv (self->monitor);
    if (!msg)
        return;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) >= 6) {
        uint16_t event;
        uint32_t value;
        memcpy (&event, zframe_data (frame), sizeof event);
        memcpy (&value, zframe_data (frame) + 2, sizeof value);
        char key[16];
        snprintf (key, sizeof key, "%u", value);
        if (event == ZMQ_EVENT_ACCEPTED) {
            s_session_t *peer = (s_session_t *)calloc (1, sizeof (s_session_t));
            if (peer && s_peer_of ((int)value, peer->peer, sizeof peer->peer, peer->ip,
                                   sizeof peer->ip) == 0) {
                peer->fd = (int)value;
                zhashx_update (self->pub_peers, key, peer);
            } else
                free (peer);
        } else
            zhashx_delete (self->pub_peers, key);
    }
    zmsg_destroy (&msg);
}

//  Shut a connection down if fd still is the connection to `peer`.
static int s_shutdown (int fd, const char *peer)
{
    char now[80];
    if (s_peer_of (fd, now, sizeof now, NULL, 0) != 0 || !streq (now, peer))
        return 0;
    return shutdown (fd, SHUT_RDWR) == 0 ? 1 : 0;
}

int ctl_sessions_cut (ctl_sessions_t *self, const char *name)
{
    int cut = 0;
    s_session_t *session = (s_session_t *)zhashx_lookup (self->sessions, name);
    if (session) {
        cut += s_shutdown (session->fd, session->peer);
        //  PUB connections carry no key we can see: cut every one from the
        //  agent's address. Other agents there reconnect and are admitted.
        for (s_session_t *peer = (s_session_t *)zhashx_first (self->pub_peers); peer;
             peer = (s_session_t *)zhashx_next (self->pub_peers))
            if (streq (peer->ip, session->ip))
                cut += s_shutdown (peer->fd, peer->peer);
        zhashx_delete (self->sessions, name);
    }
    self->counters->value[CTL_COUNT_SESSIONS_CUT] += (uint64_t)cut;
    jad_log_info ("agents: sessions cut name=%s connections=%d", name, cut);
    return cut;
}
