//  ctl_zap - the ZAP handler (RFC 27): who may connect, by CURVE key
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_zap.h"
#include "ctl_agents_repo.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdlib.h>
#include <zmq.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"

//  A retired key's refused handshakes are audited at most this often, and
//  the keys remembered for it at most this many (then forgotten at once).
#define S_AUDIT_EVERY_MS 60000
#define S_AUDIT_KEYS_MAX 1024

struct _ctl_zap_t {
    zsock_t *socket;           //  REP, inproc
    ctl_store_t *store;        //  borrowed
    ctl_counters_t *counters;  //  borrowed
    zhashx_t *audited;         //  key -> int64_t * wall ms of its last audit row
};

ctl_zap_t *ctl_zap_new (ctl_store_t *store, ctl_counters_t *counters)
{
    ctl_zap_t *self = (ctl_zap_t *)calloc (1, sizeof (ctl_zap_t));
    if (!self)
        return NULL;
    self->store = store;
    self->counters = counters;
    self->socket = zsock_new (ZMQ_REP);
    self->audited = zhashx_new ();
    if (self->audited)
        zhashx_set_destructor (self->audited, (zhashx_destructor_fn *)zstr_free);
    if (!self->socket || !self->audited || zsock_bind (self->socket, S_ZAP_ENDPOINT) != 0) {
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
    zhashx_destroy (&(*self_p)->audited);
    free (*self_p);
    *self_p = NULL;
}

zsock_t *ctl_zap_socket (ctl_zap_t *self)
{
    return self->socket;
}

bool ctl_zap_key_refused (const ctl_operator_t *row, int64_t now, char *why, size_t whylen)
{
    char when[32];
    const char *name = ctl_operator_shown_name (row);
    if (row->retired && jad_text_is (row->retired_as, "rotated"))
        snprintf (why, whylen,
                  "this key of operator '%s' was replaced at %s (operator rotate): use the new "
                  "one",
                  name, jad_iso_time (row->retired, when, sizeof when));
    else if (row->retired)
        snprintf (why, whylen, "operator '%s' was removed at %s", name,
                  jad_iso_time (row->retired, when, sizeof when));
    else if (row->expires > 0 && row->expires <= now)
        snprintf (why, whylen,
                  "the key of operator '%s' expired at %s (an admin renews it: jadctl operator "
                  "update %s --expires DURATION, or operator rotate)",
                  name, jad_iso_time (row->expires, when, sizeof when), name);
    else
        return false;
    return true;
}

//  A retired operator key knocked: audit it, at most once a minute per key.
static void s_audit_retired (ctl_zap_t *self, const ctl_operator_t *row, const char *address)
{
    int64_t now = jad_now_ms ();
    char *last = (char *)zhashx_lookup (self->audited, row->public_key);
    if (last && now - atoll (last) < S_AUDIT_EVERY_MS)
        return;
    if (zhashx_size (self->audited) >= S_AUDIT_KEYS_MAX)
        zhashx_purge (self->audited);
    char stamp[32];
    snprintf (stamp, sizeof stamp, "%lld", (long long)now);
    char *copy = strdup (stamp);
    if (copy)
        zhashx_update (self->audited, row->public_key, copy);
    char why[512], outcome[600], args[128];
    ctl_zap_key_refused (row, now, why, sizeof why);
    snprintf (outcome, sizeof outcome, "refused: %s", why);
    snprintf (args, sizeof args, "address=%.64s", address ? address : "-");
    ctl_agents_repo_audit_append (self->store, ctl_operator_shown_name (row), "(connect)", args,
                                  outcome, now);
}

//  Is this CURVE key (Z85) allowed to connect in this domain? *waiting:
//  refused only because the agent is not accepted yet (a plan subscription
//  of a pending agent, or of one whose enrollment is under way): no
//  security event, since such an agent's SUB retries all along.
static bool s_allows (ctl_zap_t *self, const char *domain, const char *key, const char *address,
                      bool *waiting)
{
    *waiting = false;
    if (streq (domain, CTL_ZAP_DOMAIN_API)) {
        ctl_operator_t *operator_row = NULL;
        int rc = ctl_agents_repo_operator_by_key (self->store, key, &operator_row);
        if (rc < 0)
            jad_log_error ("server: cannot look up a connecting operator key (the store failed):"
                           " refused address=%s key=%s",
                           address ? address : "-", key);
        bool allowed = rc == 0 && !operator_row->retired;
        if (rc == 0 && operator_row->retired)
            s_audit_retired (self, operator_row, address);
        ctl_operator_destroy (&operator_row);
        return allowed;
    }
    if (!streq (domain, CTL_ZAP_DOMAIN_PLANS) && !streq (domain, CTL_ZAP_DOMAIN_AGENTS))
        return false;
    ctl_agent_t *agent = NULL;
    int rc = ctl_agents_repo_by_key (self->store, key, &agent);
    if (rc < 0)
        jad_log_error ("server: cannot look up a connecting agent key (the store failed): refused"
                       " domain=%s address=%s key=%s",
                       domain, address ? address : "-", key);
    bool allowed = false;
    if (streq (domain, CTL_ZAP_DOMAIN_PLANS)) {
        //  Plan broadcasts go to accepted agents only.
        allowed = rc == 0 && streq (agent->state, "accepted");
        *waiting = rc == 1 || (rc == 0 && streq (agent->state, "pending"));
    } else
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
    bool allowed = false, waiting = false;
    if (version && streq (version, "1.0") && mechanism && streq (mechanism, "CURVE") &&
        credentials && zframe_size (credentials) == 32 && domain) {
        zmq_z85_encode (key, zframe_data (credentials), 32);
        allowed = s_allows (self, domain, key, address, &waiting);
    }
    self->counters->value[allowed   ? CTL_COUNT_ZAP_ALLOWED
                          : waiting ? CTL_COUNT_ZAP_WAITING
                                    : CTL_COUNT_ZAP_DENIED]++;
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
