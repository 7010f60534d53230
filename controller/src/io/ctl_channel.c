//  ctl_channel - the way to the agents: plan broadcast (XPUB, BASE), the
//  agents ROUTER (BASE+1) and each agent's last route
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_channel.h"
#include "ctl_agents_repo.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct _ctl_channel_t {
    zsock_t *pub;            //  plan broadcast (XPUB, manual subscriptions), BASE
    zsock_t *agents;         //  agents ROUTER, BASE+1
    zhashx_t *routes;        //  agent name -> routing id (zframe_t *)
    zlistx_t *after_commit;  //  messages to send once the burst commits, or NULL
    zhashx_t *report_acks;   //  route+incarnation -> s_acks_t: a burst's, made at its first
};

//  The report ids a burst stored for one agent connection and incarnation:
//  one ReportAck for them all once the burst commits.
typedef struct {
    zframe_t *route;
    char *incarnation;
    uint64_t *ids;
    size_t count;
    size_t capacity;
} s_acks_t;

static void s_acks_destroy (s_acks_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_acks_t *self = *self_p;
    zframe_destroy (&self->route);
    free (self->incarnation);
    free (self->ids);
    free (self);
    *self_p = NULL;
}

ctl_channel_t *ctl_channel_new (zsock_t **pub_p, zsock_t **agents_p)
{
    ctl_channel_t *self = (ctl_channel_t *)calloc (1, sizeof (ctl_channel_t));
    if (self) {
        self->pub = *pub_p;
        self->agents = *agents_p;
        *pub_p = *agents_p = NULL;
        self->routes = zhashx_new ();
    }
    if (!self || !self->routes) {
        zsock_destroy (pub_p);
        zsock_destroy (agents_p);
        ctl_channel_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->routes, (zhashx_destructor_fn *)zframe_destroy);
    return self;
}

void ctl_channel_destroy (ctl_channel_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_channel_t *self = *self_p;
    zlistx_destroy (&self->after_commit);
    zhashx_destroy (&self->report_acks);
    zhashx_destroy (&self->routes);
    zsock_destroy (&self->agents);
    zsock_destroy (&self->pub);
    free (self);
    *self_p = NULL;
}

zsock_t *ctl_channel_pub (ctl_channel_t *self)
{
    return self->pub;
}

zsock_t *ctl_channel_agents (ctl_channel_t *self)
{
    return self->agents;
}

void ctl_channel_route (ctl_channel_t *self, const char *name, zframe_t *route)
{
    zframe_t *known = (zframe_t *)zhashx_lookup (self->routes, name);
    if (!known || !zframe_eq (known, route)) {
        zframe_t *copy = zframe_dup (route);
        if (copy)
            zhashx_update (self->routes, name, copy);
    }
}

bool ctl_channel_reachable (ctl_channel_t *self, const char *name)
{
    return zhashx_lookup (self->routes, name) != NULL;
}

void ctl_channel_forget (ctl_channel_t *self, const char *name)
{
    zhashx_delete (self->routes, name);
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
    if (!msg || !copy || zmsg_append (msg, &copy) != 0 ||
        zmsg_addmem (msg, zchunk_data (wire), zchunk_size (wire)) != 0) {
        zframe_destroy (&copy);
        zmsg_destroy (&msg);
    }
    zchunk_destroy (&wire);
    return msg;
}

int ctl_channel_send_route (ctl_channel_t *self, zframe_t *route, const jad_ctl_msg_t *message)
{
    zmsg_t *msg = s_agent_msg (route, message);
    if (msg && zmsg_send (&msg, self->agents) == 0)
        return 0;
    zmsg_destroy (&msg);
    return -1;
}

int ctl_channel_send_agent (ctl_channel_t *self, const char *name, const jad_ctl_msg_t *message)
{
    zframe_t *route = (zframe_t *)zhashx_lookup (self->routes, name);
    return route ? ctl_channel_send_route (self, route, message) : -1;
}

int ctl_channel_send_committed (ctl_channel_t *self, zframe_t *route, const jad_ctl_msg_t *message)
{
    if (!self->after_commit)
        return ctl_channel_send_route (self, route, message);
    zmsg_t *msg = s_agent_msg (route, message);
    if (msg && zlistx_add_end (self->after_commit, msg))
        return 0;
    zmsg_destroy (&msg);
    //  cannot wait: the reply goes now, as it did before bursts
    return ctl_channel_send_route (self, route, message);
}

int ctl_channel_broadcast (ctl_channel_t *self, const char *topic, const void *data, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    if (msg && zmsg_addstr (msg, topic) == 0 && zmsg_addmem (msg, data, size) == 0 &&
        zmsg_send (&msg, self->pub) == 0)
        return 0;
    zmsg_destroy (&msg);
    return -1;
}

//  Acknowledge `count` reports of `incarnation` over `route` now.
static int s_ack_now (ctl_channel_t *self, zframe_t *route, const char *incarnation, uint64_t *ids,
                      size_t count)
{
    jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_REPORT_ACK};
    reply.report_ack.incarnation = (char *)incarnation;
    reply.report_ack.report_ids = ids;
    reply.report_ack.report_id_count = count;
    return ctl_channel_send_route (self, route, &reply);
}

int ctl_channel_ack_report (ctl_channel_t *self, zframe_t *route, const char *incarnation,
                            uint64_t report_id)
{
    if (!incarnation)
        return -1;            //  cannot happen: a decoded report has one
    if (!self->after_commit)  //  not in a burst
        return s_ack_now (self, route, incarnation, &report_id, 1);
    if (!self->report_acks) {
        self->report_acks = zhashx_new ();
        if (!self->report_acks)
            return s_ack_now (self, route, incarnation, &report_id, 1);
        zhashx_set_destructor (self->report_acks, (zhashx_destructor_fn *)s_acks_destroy);
    }
    //  key: the route's bytes in hex, then the incarnation
    size_t route_size = zframe_size (route);
    size_t key_len = 2 * route_size + 1 + strlen (incarnation) + 1;
    char *key = (char *)malloc (key_len);
    if (!key)
        return s_ack_now (self, route, incarnation, &report_id, 1);
    jad_hex (zframe_data (route), route_size, key);
    snprintf (key + 2 * route_size, key_len - 2 * route_size, "/%s", incarnation);
    s_acks_t *acks = (s_acks_t *)zhashx_lookup (self->report_acks, key);
    if (!acks) {
        acks = (s_acks_t *)calloc (1, sizeof (s_acks_t));
        if (acks &&
            (!(acks->route = zframe_dup (route)) || !(acks->incarnation = strdup (incarnation)) ||
             zhashx_insert (self->report_acks, key, acks) != 0))
            s_acks_destroy (&acks);
    }
    free (key);
    if (acks && acks->count == acks->capacity) {
        size_t capacity = acks->capacity ? 2 * acks->capacity : 4;
        uint64_t *bigger = (uint64_t *)realloc (acks->ids, capacity * sizeof (uint64_t));
        if (bigger) {
            acks->ids = bigger;
            acks->capacity = capacity;
        }
    }
    if (!acks || acks->count == acks->capacity)
        //  cannot wait: the ack goes now, as it did before bursts
        return s_ack_now (self, route, incarnation, &report_id, 1);
    acks->ids[acks->count++] = report_id;
    return 0;
}

void ctl_channel_burst_begin (ctl_channel_t *self)
{
    zlistx_destroy (&self->after_commit);
    zhashx_destroy (&self->report_acks);
    self->after_commit = zlistx_new ();
    if (self->after_commit)
        zlistx_set_destructor (self->after_commit, (zlistx_destructor_fn *)zmsg_destroy);
}

void ctl_channel_burst_end (ctl_channel_t *self, bool committed)
{
    zhashx_t *acks = self->report_acks;
    self->report_acks = NULL;
    for (s_acks_t *item = committed && acks ? (s_acks_t *)zhashx_first (acks) : NULL; item;
         item = (s_acks_t *)zhashx_next (acks))
        s_ack_now (self, item->route, item->incarnation, item->ids, item->count);
    zhashx_destroy (&acks);
    zlistx_t *replies = self->after_commit;
    self->after_commit = NULL;
    zmsg_t *msg;
    while (committed && replies && (msg = (zmsg_t *)zlistx_detach (replies, NULL)))
        if (zmsg_send (&msg, self->agents) != 0)
            zmsg_destroy (&msg);
    zlistx_destroy (&replies);
}

//  True if `topic` (size bytes) lies under "PREFIX/env/".
static bool s_topic_in (const char *topic, size_t size, const char *prefix, const char *env)
{
    size_t prefix_len = strlen (prefix), env_len = strlen (env);
    return size >= prefix_len + env_len + 1 && memcmp (topic, prefix, prefix_len) == 0 &&
           memcmp (topic + prefix_len, env, env_len) == 0 && topic[prefix_len + env_len] == '/';
}

//  The environment of the accepted agent holding `key`, or NULL (caller frees).
static char *s_env_of (ctl_store_t *store, const char *key)
{
    ctl_agent_t *agent = NULL;
    char *env = NULL;
    if (key && ctl_agents_repo_by_key (store, key, &agent) == 0 &&
        streq (agent->state, "accepted") && agent->env)
        env = strdup (agent->env);
    ctl_agent_destroy (&agent);
    return env;
}

int ctl_channel_pub_handle (ctl_channel_t *self, ctl_store_t *store, ctl_counters_t *counters)
{
    void *pub = zsock_resolve (self->pub);
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, pub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return -1;
    }
    const char *data = (const char *)zmq_msg_data (&msg);
    size_t size = zmq_msg_size (&msg);
    bool more = zmq_msg_more (&msg);
    int rc = 0;
    if (size >= 1 && (data[0] == 0 || data[0] == 1) && !more) {
        const char *topic = data + 1;
        size_t topic_size = size - 1;
        if (data[0] == 0)
            //  a cancel is always honoured (a no-op if never granted)
            zmq_setsockopt (pub, ZMQ_UNSUBSCRIBE, topic, topic_size);
        else {
            //  the key the ZAP handler authenticated for this connection
            const char *key = zmq_msg_gets (&msg, "User-Id");
            char *env = s_env_of (store, key);
            bool beat = env && s_topic_in (topic, topic_size, "beat/", env);
            if (env && (beat || s_topic_in (topic, topic_size, "plan/", env))) {
                zmq_setsockopt (pub, ZMQ_SUBSCRIBE, topic, topic_size);
                rc = beat ? 1 : 0;
            } else {
                counters->value[CTL_COUNT_SUBSCRIBE_REFUSED]++;
                uint64_t skipped = 0;
                if (ctl_counters_log_due (counters, CTL_COUNT_SUBSCRIBE_REFUSED, &skipped)) {
                    char *shown = jad_text_sanitize (topic, topic_size, 64);
                    jad_log_warning ("server: subscription refused key=%s env=%s topic=\"%s\" "
                                     "reason=\"%s\" more_refused=%llu",
                                     key && *key ? key : "-", env ? env : "-", shown ? shown : "?",
                                     env ? "not the agent's environment" : "not an accepted agent",
                                     (unsigned long long)skipped);
                    free (shown);
                }
            }
            free (env);
        }
    }
    zmq_msg_close (&msg);
    //  anything else (a multi-part message from an XSUB) is read and dropped
    while (more) {
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, pub, ZMQ_DONTWAIT) < 0)
            more = false;
        else
            more = zmq_msg_more (&msg);
        zmq_msg_close (&msg);
    }
    return rc;
}
