//  ctl_agents - agent enrollment, acceptance and sessions
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_agents.h"
#include "ctl_agents_repo.h"
#include "ctl_plans_repo.h"
#include "jad_log.h"
#include "jad_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#define S_PUB_MONITOR "inproc://ctl-pub-monitor"

//  Where an agent's agents-port connection is.
typedef struct {
    int fd;         //  from ZMQ_SRCFD of its last message
    char peer[80];  //  "IP port" of fd when recorded, to spot a reused fd
    char ip[64];    //  IP alone, to find its PUB connections
} s_session_t;

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

int ctl_agents_start (ctl_t *ctl)
{
    ctl->sessions = zhashx_new ();
    ctl->pub_peers = zhashx_new ();
    if (!ctl->sessions || !ctl->pub_peers)
        return -1;
    zhashx_set_destructor (ctl->sessions, s_session_free);
    zhashx_set_destructor (ctl->pub_peers, s_session_free);
    if (zmq_socket_monitor (zsock_resolve (ctl->pub), S_PUB_MONITOR,
                            ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED) != 0) {
        jad_log_error ("agents: cannot monitor the plan socket: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    ctl->pub_monitor = zsock_new (ZMQ_PAIR);
    if (!ctl->pub_monitor || zsock_connect (ctl->pub_monitor, S_PUB_MONITOR) != 0) {
        jad_log_error ("agents: cannot connect the plan socket monitor");
        return -1;
    }
    return 0;
}

void ctl_agents_stop (ctl_t *ctl)
{
    if (ctl->pub && ctl->pub_monitor)
        zmq_socket_monitor (zsock_resolve (ctl->pub), NULL, 0);
    zsock_destroy (&ctl->pub_monitor);
    zhashx_destroy (&ctl->sessions);
    zhashx_destroy (&ctl->pub_peers);
}

void ctl_agents_session (ctl_t *ctl, const char *name, int fd)
{
    if (!ctl->sessions || fd < 0)
        return;
    s_session_t *known = (s_session_t *)zhashx_lookup (ctl->sessions, name);
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
    zhashx_update (ctl->sessions, name, session);
}

void ctl_agents_pub_events (ctl_t *ctl)
{
    zmsg_t *msg = zmsg_recv (ctl->pub_monitor);
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
                zhashx_update (ctl->pub_peers, key, peer);
            } else
                free (peer);
        } else
            zhashx_delete (ctl->pub_peers, key);
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

int ctl_agents_cut (ctl_t *ctl, const char *name)
{
    int cut = 0;
    s_session_t *session =
        ctl->sessions ? (s_session_t *)zhashx_lookup (ctl->sessions, name) : NULL;
    if (session) {
        cut += s_shutdown (session->fd, session->peer);
        //  PUB connections carry no key we can see: cut every one from the
        //  agent's address. Other agents there reconnect and are admitted.
        for (s_session_t *peer = ctl->pub_peers ? (s_session_t *)zhashx_first (ctl->pub_peers)
                                                : NULL;
             peer; peer = (s_session_t *)zhashx_next (ctl->pub_peers))
            if (streq (peer->ip, session->ip))
                cut += s_shutdown (peer->fd, peer->peer);
        zhashx_delete (ctl->sessions, name);
    }
    zhashx_delete (ctl->routes, name);
    ctl->counters[CTL_COUNT_SESSIONS_CUT] += (uint64_t)cut;
    jad_log_info ("agents: sessions cut name=%s connections=%d", name, cut);
    return cut;
}

void ctl_agents_token_hash (const char *token, char *out)
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const uint8_t *)token, strlen (token));
    jad_hex (digest, sizeof digest, out);
    sodium_memzero (digest, sizeof digest);
}

//  Does `token` match the controller's enrollment token? Compared as
//  hashes in constant time; a state.db from before hashing keeps the
//  token itself in meta 'enroll_token'.
static bool s_token_valid (ctl_t *ctl, const char *token)
{
    if (!token || !*token)
        return false;
    char given[65], *stored = NULL, *plain = NULL;
    ctl_agents_token_hash (token, given);
    bool valid = false;
    if (ctl_agents_repo_token (ctl->store, &stored, &plain) != 0)
        return false;
    if (stored && strlen (stored) == 64)
        valid = sodium_memcmp (stored, given, 64) == 0;
    else if (plain && *plain) {
        char expected[65];
        ctl_agents_token_hash (plain, expected);
        valid = sodium_memcmp (expected, given, 64) == 0;
    }
    if (plain)
        jad_secret_wipe (plain);
    free (plain);
    free (stored);
    return valid;
}

int ctl_agents_lookup (ctl_t *ctl, const char *key, char **name_p, char **state_p)
{
    *name_p = NULL;
    *state_p = NULL;
    ctl_agent_t *agent = NULL;
    int rc = ctl_agents_repo_by_key (ctl->store, key, &agent) == 0 ? 0 : -1;
    if (rc == 0) {
        //  the agent's strings move to the caller
        *name_p = agent->name;
        *state_p = agent->state;
        agent->name = agent->state = NULL;
    }
    ctl_agent_destroy (&agent);
    if (rc) {
        free (*name_p);
        free (*state_p);
        *name_p = *state_p = NULL;
    }
    return rc;
}

static jad_ctl_msg_t *s_reply (const char *state, const char *name, const char *detail)
{
    jad_ctl_msg_t *reply = (jad_ctl_msg_t *)calloc (1, sizeof (jad_ctl_msg_t));
    if (!reply)
        return NULL;
    reply->kind = JAD_CTL_MSG_ENROLL_REPLY;
    reply->enroll_reply.state = strdup (state);
    reply->enroll_reply.name = name ? strdup (name) : NULL;
    reply->enroll_reply.detail = detail ? strdup (detail) : NULL;
    if (!reply->enroll_reply.state)
        jad_ctl_msg_destroy (&reply);
    return reply;
}

static int s_set_state (ctl_t *ctl, const char *name, const char *state)
{
    return ctl_agents_repo_set_state (ctl->store, name, state);
}

jad_ctl_msg_t *ctl_agents_enroll (ctl_t *ctl, const char *key, const jad_enroll_t *enroll,
                                  char **name_p)
{
    char *name = NULL, *state = NULL;
    *name_p = NULL;
    bool token_valid = s_token_valid (ctl, enroll->token);
    if (ctl_agents_lookup (ctl, key, &name, &state) == 0) {
        //  A known key: its name and state stand, whatever it claims now.
        if (streq (state, "pending") && token_valid && s_set_state (ctl, name, "accepted") == 0) {
            jad_log_info ("agents: pending agent accepted by token name=%s", name);
            free (state);
            state = strdup ("accepted");
        }
        jad_ctl_msg_t *reply = s_reply (state && streq (state, "accepted")  ? "accepted"
                                        : state && streq (state, "pending") ? "pending"
                                                                            : "refused",
                                        name, NULL);
        *name_p = name;
        free (state);
        return reply;
    }
    char detail[256] = "";
    ctl_agent_t *holder = NULL;
    int64_t now = jad_now_ms ();
    int held = jad_controller_config_env (ctl->config, enroll->environment)
                   ? ctl_agents_repo_by_name (ctl->store, enroll->name, &holder)
                   : 1;
    bool taken = held != 1 && !(held == 0 && streq (holder->state, "removed"));
    ctl_agent_destroy (&holder);
    if (!jad_controller_config_env (ctl->config, enroll->environment))
        snprintf (detail, sizeof detail, "environment '%s' is not configured on the controller",
                  enroll->environment);
    else if (taken)
        snprintf (detail, sizeof detail, "the name '%s' belongs to another key", enroll->name);
    //  A removed agent's name may be enrolled again with a new key (key
    //  rotation): the removed row is renamed, so that its old key stays
    //  refused.
    else if (ctl_agents_repo_retire_name (ctl->store, enroll->name, now) != 0)
        snprintf (detail, sizeof detail, "database error");
    if (*detail) {
        ctl->counters[CTL_COUNT_ENROLL_REFUSED]++;
        jad_log_warning ("agents: enrollment refused name=%s key=%s reason=\"%s\"", enroll->name,
                         key, detail);
        return s_reply ("refused", NULL, detail);
    }
    const char *new_state = token_valid ? "accepted" : "pending";
    if (ctl_agents_repo_add (ctl->store, enroll->name, key, enroll->environment, new_state, now) !=
        0)
        return NULL;
    ctl->counters[token_valid ? CTL_COUNT_ENROLL_ACCEPTED : CTL_COUNT_ENROLL_PENDING]++;
    if (token_valid)
        jad_log_info ("agents: agent enrolled name=%s env=%s key=%s by=token", enroll->name,
                      enroll->environment, key);
    else
        jad_log_info ("agents: agent pending name=%s env=%s key=%s token=%s "
                      "(accept with: jadctl agents accept %s)",
                      enroll->name, enroll->environment, key, enroll->token ? "invalid" : "none",
                      enroll->name);
    *name_p = strdup (enroll->name);
    return s_reply (new_state, enroll->name, NULL);
}

int ctl_agents_decide (ctl_t *ctl, const char *name, const char *action, const char **state_p,
                       char *err, size_t errlen)
{
    char *current = NULL;
    ctl_agent_t *agent = NULL;
    if (jad_name_valid (name) && ctl_agents_repo_by_name (ctl->store, name, &agent) == 0) {
        current = agent->state;
        agent->state = NULL;
    }
    ctl_agent_destroy (&agent);
    if (!current) {
        snprintf (err, errlen, "no agent '%s' (see: jadctl agents)", name ? name : "");
        return 2;
    }
    const char *state = streq (action, "accept")   ? "accepted"
                        : streq (action, "reject") ? "rejected"
                        : streq (action, "remove") ? "removed"
                                                   : NULL;
    if (!state) {
        free (current);
        snprintf (err, errlen, "unknown action '%s' (accept, reject, remove)", action);
        return 2;
    }
    if (streq (state, "rejected") && !streq (current, "pending")) {
        snprintf (err, errlen, "agent '%s' is %s, not pending: use 'agents remove %s'", name,
                  current, name);
        free (current);
        return 2;
    }
    if (s_set_state (ctl, name, state) != 0) {
        free (current);
        snprintf (err, errlen, "database error");
        return 1;
    }
    jad_log_info ("agents: agent %s name=%s was=%s", state, name, current);
    free (current);
    *state_p = state;
    if (!streq (state, "accepted")) {
        //  Its unfinished plan hosts will never finish: fail them now.
        ctl_plans_repo_fail_agent (ctl->store, name, "agent removed", jad_now_ms ());
        ctl_agents_cut (ctl, name);
    }
    return 0;
}
