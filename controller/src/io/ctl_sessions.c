//  ctl_sessions - connections: an agent's, to cut them when it is rejected
//  or removed; everyone's, to cap them per address and in all
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_sessions.h"
#include "jad_log.h"
#include "jad_monitor.h"
#include "jad_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <zmq.h>

//  Sockets watched: 0 the plan broadcast (whose connections are also cut
//  by address), 1 the agents ROUTER, 2 the operator API ROUTER.
#define S_GUARDS 3
static const char *const s_guard_names[S_GUARDS] = {"plans", "agents", "api"};

//  Above three quarters of the global cap, an address that already holds
//  this many connections gets no more (a fleet host holds two, jadctl one).
#define S_BUSY_ADDRESS 8

//  Descriptors counted at most (an unlimited RLIMIT_NOFILE is this).
#define S_MAX_FDS (1u << 20)

//  Where a connection is.
typedef struct {
    int fd;         //  from ZMQ_SRCFD of its last message, or the monitor
    int guard;      //  socket index, for monitor-tracked connections
    char peer[80];  //  "IP port" of fd when recorded, to spot a reused fd
    char ip[64];    //  IP alone, to find an agent's PUB connections
} s_session_t;

struct _ctl_sessions_t {
    zsock_t *sockets[S_GUARDS];   //  borrowed
    zsock_t *monitors[S_GUARDS];  //  their events (PAIR, inproc)
    zhashx_t *sessions;           //  agent name -> s_session_t *
    zhashx_t *connections;        //  "GUARD:FD" -> s_session_t *, every accepted connection
    zhashx_t *per_ip;             //  IP -> size_t * connections from it
    size_t total;                 //  accepted connections open
    size_t per_ip_cap;            //  0: none
    size_t cap;                   //  global
    ctl_counters_t *counters;     //  borrowed
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

//  The global cap: what `max-connections` says, never more than the
//  descriptor limit less a reserve for the database, artifacts, HTTP and
//  the connections being cut.
size_t ctl_sessions_cap (uint32_t configured)
{
    struct rlimit limit;
    size_t fds = 1024;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0)
        fds = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > S_MAX_FDS
                  ? S_MAX_FDS
                  : (size_t)limit.rlim_cur;
    size_t reserve = fds / 8 > 128 ? fds / 8 : 128;
    size_t cap = fds > reserve + 64 ? fds - reserve : 64;
    return configured && configured < cap ? configured : cap;
}

size_t ctl_sessions_io_threads (size_t connections, long cores)
{
    size_t threads = (connections + CTL_SESSIONS_PER_IO_THREAD - 1) / CTL_SESSIONS_PER_IO_THREAD;
    size_t most = cores > 1 ? (size_t)cores : 1;
    return threads < 1 ? 1 : threads > most ? most : threads;
}

int ctl_sessions_address (int fd, char *ip, size_t iplen)
{
    *ip = 0;
    return s_peer_of (fd, NULL, 0, ip, iplen);
}

ctl_sessions_t *ctl_sessions_new (zsock_t *pub, zsock_t *agents, zsock_t *api,
                                  ctl_counters_t *counters)
{
    ctl_sessions_t *self = (ctl_sessions_t *)calloc (1, sizeof (ctl_sessions_t));
    if (!self)
        return NULL;
    self->sockets[0] = pub;
    self->sockets[1] = agents;
    self->sockets[2] = api;
    self->counters = counters;
    self->sessions = zhashx_new ();
    self->connections = zhashx_new ();
    self->per_ip = zhashx_new ();
    if (!self->sessions || !self->connections || !self->per_ip) {
        ctl_sessions_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->sessions, s_session_free);
    zhashx_set_destructor (self->connections, s_session_free);
    zhashx_set_destructor (self->per_ip, s_session_free);
    ctl_sessions_limits (self, 1024, 0);
    for (int guard = 0; guard < S_GUARDS; guard++) {
        char endpoint[64];
        snprintf (endpoint, sizeof endpoint, "inproc://ctl-monitor-%s", s_guard_names[guard]);
        self->monitors[guard] =
            jad_monitor_new (self->sockets[guard], endpoint,
                             ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED);
        if (!self->monitors[guard]) {
            jad_log_error ("server: cannot monitor the %s socket: %s", s_guard_names[guard],
                           zmq_strerror (zmq_errno ()));
            ctl_sessions_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void ctl_sessions_destroy (ctl_sessions_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_sessions_t *self = *self_p;
    for (int guard = 0; guard < S_GUARDS; guard++) {
        jad_monitor_destroy (self->sockets[guard], &self->monitors[guard]);
    }
    zhashx_destroy (&self->sessions);
    zhashx_destroy (&self->connections);
    zhashx_destroy (&self->per_ip);
    free (self);
    *self_p = NULL;
}

void ctl_sessions_limits (ctl_sessions_t *self, uint32_t per_ip, uint32_t max_connections)
{
    self->per_ip_cap = per_ip;
    self->cap = ctl_sessions_cap (max_connections);
}

zsock_t *ctl_sessions_monitor (ctl_sessions_t *self, size_t index)
{
    return index < S_GUARDS ? self->monitors[index] : NULL;
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

//  Why a new connection from an address holding `from_ip` (this one
//  included) must be refused, or NULL.
static const char *s_refusal (ctl_sessions_t *self, size_t from_ip)
{
    if (self->per_ip_cap && from_ip > self->per_ip_cap)
        return "connections-per-ip reached";
    if (self->total > self->cap)
        return "max-connections reached";
    if (self->total > self->cap / 4 * 3 && from_ip > S_BUSY_ADDRESS)
        return "max-connections nearly reached, address holds many";
    return NULL;
}

//  A connection was accepted on socket `guard`: count it, and cut it at
//  once when over a cap.
static void s_accepted (ctl_sessions_t *self, int guard, int fd, const char *key)
{
    s_session_t *connection = (s_session_t *)calloc (1, sizeof (s_session_t));
    if (!connection)
        return;
    if (s_peer_of (fd, connection->peer, sizeof connection->peer, connection->ip,
                   sizeof connection->ip) != 0) {
        free (connection);  //  gone already
        return;
    }
    connection->fd = fd;
    connection->guard = guard;
    size_t *from_ip = (size_t *)zhashx_lookup (self->per_ip, connection->ip);
    if (!from_ip) {
        from_ip = (size_t *)calloc (1, sizeof (size_t));
        if (!from_ip || zhashx_insert (self->per_ip, connection->ip, from_ip) != 0) {
            free (from_ip);
            free (connection);
            return;
        }
    }
    //  a stale entry under this key (its close not seen) is replaced
    s_session_t *stale = (s_session_t *)zhashx_lookup (self->connections, key);
    if (stale) {
        size_t *count = (size_t *)zhashx_lookup (self->per_ip, stale->ip);
        if (count && *count)
            (*count)--;
        if (self->total)
            self->total--;
    }
    zhashx_update (self->connections, key, connection);
    (*from_ip)++;
    self->total++;
    const char *reason = s_refusal (self, *from_ip);
    if (!reason)
        return;
    //  libzmq sees the end of the stream and drops the connection; its
    //  DISCONNECTED event takes it off the tally
    shutdown (fd, SHUT_RDWR);
    self->counters->value[CTL_COUNT_CONNECTIONS_REFUSED]++;
    uint64_t skipped = 0;
    if (ctl_counters_log_due (self->counters, CTL_COUNT_CONNECTIONS_REFUSED, &skipped))
        jad_log_warning ("server: connection refused socket=%s address=%s reason=\"%s\" "
                         "from_address=%zu connections=%zu more_refused=%llu",
                         s_guard_names[guard], connection->ip, reason, *from_ip, self->total,
                         (unsigned long long)skipped);
}

//  A connection tracked under `key` is gone.
static void s_gone (ctl_sessions_t *self, const char *key)
{
    s_session_t *connection = (s_session_t *)zhashx_lookup (self->connections, key);
    if (!connection)
        return;
    size_t *count = (size_t *)zhashx_lookup (self->per_ip, connection->ip);
    if (count && *count && --*count == 0)
        zhashx_delete (self->per_ip, connection->ip);
    if (self->total)
        self->total--;
    zhashx_delete (self->connections, key);
}

void ctl_sessions_event (ctl_sessions_t *self, size_t index)
{
    if (index >= S_GUARDS)
        return;
    zmsg_t *msg = zmsg_recv (self->monitors[index]);
    if (!msg)
        return;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) >= 6) {
        uint16_t event;
        uint32_t value;
        memcpy (&event, zframe_data (frame), sizeof event);
        memcpy (&value, zframe_data (frame) + 2, sizeof value);
        char key[32];
        snprintf (key, sizeof key, "%zu:%u", index, value);
        if (event == ZMQ_EVENT_ACCEPTED)
            s_accepted (self, (int)index, (int)value, key);
        else
            s_gone (self, key);
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
        for (s_session_t *peer = (s_session_t *)zhashx_first (self->connections); peer;
             peer = (s_session_t *)zhashx_next (self->connections))
            if (peer->guard == 0 && streq (peer->ip, session->ip))
                cut += s_shutdown (peer->fd, peer->peer);
        zhashx_delete (self->sessions, name);
    }
    self->counters->value[CTL_COUNT_SESSIONS_CUT] += (uint64_t)cut;
    jad_log_info ("agents: sessions cut name=%s connections=%d", name, cut);
    return cut;
}
