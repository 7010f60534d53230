//  ctl_zap - the ZAP handler (RFC 27): who may connect, by CURVE key
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_zap.h"
#include "ctl_agents_repo.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdlib.h>
#include <zmq.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct _ctl_zap_t {
    zsock_t *socket;           //  REP, inproc
    ctl_store_t *store;        //  borrowed
    ctl_counters_t *counters;  //  borrowed
};

ctl_zap_t *ctl_zap_new (ctl_store_t *store, ctl_counters_t *counters)
{
    ctl_zap_t *self = (ctl_zap_t *)calloc (1, sizeof (ctl_zap_t));
    if (!self)
        return NULL;
    self->store = store;
    self->counters = counters;
    self->socket = zsock_new (ZMQ_REP);
    if (!self->socket || zsock_bind (self->socket, S_ZAP_ENDPOINT) != 0) {
        jad_log_error ("server: cannot start the ZAP handler");
        ctl_zap_destroy (&self);
    }
    return self;
}

void ctl_zap_destroy (ctl_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy (&(*self_p)->socket);
    free (*self_p);
    *self_p = NULL;
}

zsock_t *ctl_zap_socket (ctl_zap_t *self)
{
    return self->socket;
}

//  Is this CURVE key (Z85) allowed to connect in this domain?
static bool s_allows (ctl_zap_t *self, const char *domain, const char *key)
{
    if (streq (domain, CTL_ZAP_DOMAIN_API)) {
        ctl_operator_t *operator_row = NULL;
        int rc = ctl_agents_repo_operator_by_key (self->store, key, &operator_row);
        ctl_operator_destroy (&operator_row);
        return rc == 0;
    }
    if (!streq (domain, CTL_ZAP_DOMAIN_PLANS) && !streq (domain, CTL_ZAP_DOMAIN_AGENTS))
        return false;
    ctl_agent_t *agent = NULL;
    int rc = ctl_agents_repo_by_key (self->store, key, &agent);
    bool allowed = false;
    if (streq (domain, CTL_ZAP_DOMAIN_PLANS))
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

void ctl_zap_handle (ctl_zap_t *self)
{
    zmsg_t *request = zmsg_recv (self->socket);
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
        allowed = s_allows (self, domain, key);
    }
    self->counters->value[allowed ? CTL_COUNT_ZAP_ALLOWED : CTL_COUNT_ZAP_DENIED]++;
    //  A pending agent's SUB retries every few seconds: not worth a line each.
    if (!allowed && domain && streq (domain, CTL_ZAP_DOMAIN_PLANS))
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
    if (zmsg_send (&reply, self->socket) != 0)
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
