//  test_security - the secure channel end to end: enrollment, sessions, roles, audit
//  SPDX-License-Identifier: MPL-2.0
//
//  Real controller and agent processes on loopback (jt_fleet_*), plus
//  hand-made CURVE clients for what no well-behaved program sends: unknown
//  keys, spoofed names, unknown commands, oversized frames. Each test names
//  the row of SECURITY-TESTS.md it proves.

#include "jad_keys.h"
#include "jad_testlib.h"
#include "jad_wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static jt_fleet_t *fleet;

static void s_setup (void)
{
    if (sodium_init () < 0)
        abort ();
    zsys_init ();
    zsys_set_linger (0);
    fleet = jt_fleet_new ();
}

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

TestSuite (security, .init = s_setup, .fini = s_teardown, .timeout = 180);

//  --------------------------------------------------------------------------
//  Helpers

//  Controller counter from `jadctl status --json`, or -1.
static long long s_counter (const char *name)
{
    char *output = NULL;
    long long value = -1;
    if (jt_jadctl (fleet, &output, "--json status") == 0) {
        json_t *root = json_loads (output, 0, NULL);
        json_t *counter = json_object_get (
            json_object_get (json_object_get (root, "controller"), "counters"), name);
        if (json_is_integer (counter))
            value = json_integer_value (counter);
        json_decref (root);
    }
    free (output);
    return value;
}

typedef struct {
    const char *name;
    long long above;
} s_counter_wait_t;

static bool s_counter_above (void *arg)
{
    s_counter_wait_t *wait = arg;
    return s_counter (wait->name) > wait->above;
}

//  Wait until counter `name` exceeds `above`.
static bool s_wait_counter (const char *name, long long above, int timeout_ms)
{
    s_counter_wait_t wait = {name, above};
    return jt_wait_for (s_counter_above, &wait, timeout_ms);
}

//  Wait until FLEET/NAME.log (or controller.log) contains needle.
static bool s_wait_log (const char *name, const char *needle, int timeout_ms)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s.log", fleet->dir, name);
    return jt_wait_file_has (path, needle, timeout_ms);
}

//  A CURVE client socket of `type` to controller port BASE+offset using
//  `cert`, monitored for handshake results on *monitor_p.
static zsock_t *s_client (int type, int offset, zcert_t *cert, zsock_t **monitor_p)
{
    zsock_t *sock = zsock_new (type);
    cr_assert_not_null (sock);
    zcert_apply (cert, sock);
    zsock_set_curve_serverkey (sock, fleet->curve_key);
    zsock_set_linger (sock, 0);
    zsock_set_rcvtimeo (sock, 1500);
    //  a name of its own: a socket's address comes back once freed (no
    //  ASan quarantine in a plain build), and its monitor's endpoint may
    //  still be bound then
    static int monitors;
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "inproc://test-monitor-%d", ++monitors);
    cr_assert_eq (zmq_socket_monitor (zsock_resolve (sock), endpoint, ZMQ_EVENT_ALL), 0);
    *monitor_p = zsock_new (ZMQ_PAIR);
    cr_assert_eq (zsock_connect (*monitor_p, "%s", endpoint), 0);
    zsock_set_rcvtimeo (*monitor_p, 200);
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", fleet->port + offset), 0);
    return sock;
}

static void s_client_destroy (zsock_t **sock_p, zsock_t **monitor_p)
{
    zmq_socket_monitor (zsock_resolve (*sock_p), NULL, 0);
    zsock_destroy (monitor_p);
    zsock_destroy (sock_p);
}

//  Wait for one of the monitor events in `mask`; returns the event or 0.
static int s_wait_event (zsock_t *monitor, int mask, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        zmsg_t *msg = zmsg_recv (monitor);
        if (!msg)
            continue;
        zframe_t *frame = zmsg_first (msg);
        uint16_t event = 0;
        if (frame && zframe_size (frame) >= 2)
            memcpy (&event, zframe_data (frame), sizeof event);
        zmsg_destroy (&msg);
        if (event & mask)
            return event;
    }
    return 0;
}

//  A keypair from a key file as a zcert (for zcert_apply).
static zcert_t *s_cert_from_file (const char *path)
{
    char err[256];
    jad_keypair_t *pair = jad_keypair_load (path, err, sizeof err);
    cr_assert_not_null (pair, "%s", err);
    zcert_t *cert = zcert_new_from (jad_keypair_public (pair), jad_keypair_secret (pair));
    jad_keypair_destroy (&pair);
    return cert;
}

static void s_send_agent_msg (zsock_t *sock, const jad_agent_msg_t *msg)
{
    zchunk_t *wire = jad_agent_msg_encode (msg);
    cr_assert_not_null (wire);
    cr_assert_eq (zsock_send (sock, "b", zchunk_data (wire), zchunk_size (wire)), 0);
    zchunk_destroy (&wire);
}

static void s_send_status (zsock_t *sock, const char *name, const char *app)
{
    jad_app_state_t apps[1] = {{(char *)app, "6.6.6", "healthy", NULL}};
    jad_status_t status = {.name = (char *)name,
                           .environment = "dev",
                           .incarnation = "feedfeed",
                           .hello = true,
                           .apps = apps,
                           .app_count = app ? 1 : 0};
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_STATUS, .status = &status};
    s_send_agent_msg (sock, &msg);
}

//  A reply from the controller on sock, decoded, or NULL within the timeout.
static jad_ctl_msg_t *s_recv_ctl (zsock_t *sock)
{
    zframe_t *frame = zframe_recv (sock);
    if (!frame)
        return NULL;
    char err[JAD_ERR_LEN];
    jad_ctl_msg_t *msg = jad_ctl_msg_decode (zframe_data (frame), zframe_size (frame), err);
    zframe_destroy (&frame);
    return msg;
}

//  Write a jadctl client file for operator key `key_path`; returns its path.
static char *s_client_file (const char *name, const char *key_path)
{
    char *path = NULL, *text = NULL;
    cr_assert (asprintf (&path, "%s/%s.jadctl.yaml", fleet->dir, name) > 0);
    cr_assert (asprintf (&text, "controller: 127.0.0.1:%d\ncontroller-key: '%s'\nkey: %s\n",
                         fleet->port + 2, fleet->curve_key, key_path) > 0);
    jt_write_file (path, text, 0600);
    free (text);
    return path;
}

static char *s_agent_state (const char *name)
{
    char *output = NULL;
    jt_jadctl (fleet, &output, "--json agents");
    json_t *root = json_loads (output ? output : "", 0, NULL);
    free (output);
    char *state = NULL;
    size_t index;
    json_t *agent;
    json_array_foreach (
        json_object_get (root, "agents"), index,
        agent) if (strcmp (json_string_value (json_object_get (agent, "name")), name) == 0) state =
        strdup (json_string_value (json_object_get (agent, "state")));
    json_decref (root);
    return state;
}

//  --------------------------------------------------------------------------
//  Enrollment (issue 3, deliverable 2)

Test (security, agent_without_token_is_pending_until_accepted)
{
    jt_fleet_add_agent (fleet, "good", "dev");
    jt_fleet_add_agent_token (fleet, "waiting", "dev", NULL);
    jt_fleet_add_agent_token (fleet, "guessing", "dev", "not-the-token");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"pending\"", 1, 30000),
               "an agent without a token must be pending");
    cr_assert (s_wait_log ("waiting", "enrollment pending", 10000));
    //  a token that is not good is refused (row 30), not left pending
    cr_assert (s_wait_log ("controller", "enrollment token refused name=guessing", 10000));
    cr_assert (s_wait_log ("guessing", "unknown enrollment token", 10000));
    char *refused = s_agent_state ("guessing");
    cr_assert_null (refused, "a wrong token left an agent row: %s", refused);

    //  A pending agent gets no plan.
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", "VERSION", "1.0\n", NULL};
    char *archive = jt_make_release (fleet->dir, "web-1.0", files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web 1.0 %s", archive), 0, "%s", output);
    free (output);
    free (archive);
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env dev --wait"), 0, "%s", output);
    cr_assert (!strstr (output, "waiting"), "a pending agent was a target:\n%s", output);
    free (output);
    //  The plan came on the agent's own channel, with its proof
    //  (protocol.md, Targets).
    cr_assert (s_wait_log ("good", "source=direct", 10000), "no plan reached 'good'");
    //  Its subscription, refused before enrollment, was connected again
    //  once accepted: heartbeats arrive on it. The pending agent's is
    //  refused: no heartbeat reached it.
    cr_assert (s_wait_log ("good", "first signed heartbeat on the subscription", 15000),
               "the subscription of 'good' carries no heartbeat");
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/waiting.log", fleet->dir);
    cr_assert (!jt_file_has (path, "first signed heartbeat"),
               "a pending agent's subscription was let in");
    snprintf (path, sizeof path, "%s/waiting/srv/web", fleet->dir);
    cr_assert_neq (access (path, F_OK), 0, "a pending agent received a release");

    //  Accepted: online at once, and it catches up.
    cr_assert_eq (jt_jadctl (fleet, &output, "agents accept waiting"), 0, "%s", output);
    cr_assert (strstr (output, "state: accepted"), "%s", output);
    free (output);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    cr_assert (jt_fleet_wait_status (fleet, "\"version\": \"1.0\"", 2, 30000),
               "the accepted agent did not converge");
    cr_assert (s_wait_log ("waiting", "first signed heartbeat on the subscription", 15000),
               "the accepted agent's subscription was not connected again");
    cr_assert_eq (jt_jadctl (fleet, &output, "agents accept nobody"), 2, "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "audit"), 0);
    cr_assert (strstr (output, "agents.accept"), "%s", output);
    free (output);
}

//  Row 22: revoked agent keeps session.
Test (security, removed_agent_is_cut_off_and_cannot_reconnect)
{
    jt_fleet_add_agent (fleet, "doomed", "dev");
    jt_fleet_add_agent (fleet, "bystander", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    long long denied = s_counter ("zap_denied");
    cr_assert_geq (denied, 0);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "agents remove doomed"), 0, "%s", output);
    cr_assert (strstr (output, "state: removed"), "%s", output);
    free (output);
    //  The open connection is dropped by the controller...
    cr_assert (s_wait_log ("doomed", "agent: disconnected", 10000),
               "the removed agent's session was not cut");
    //  ...and its reconnection is refused by the ZAP handler.
    cr_assert (s_wait_counter ("zap_denied", denied, 15000), "the reconnect was not refused");
    cr_assert_geq (s_counter ("sessions_cut"), 1);
    char *state = s_agent_state ("doomed");
    cr_assert_str_eq (state, "removed");
    free (state);
    //  The other agent stays.
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 10000));
    cr_assert_eq (jt_jadctl (fleet, &output, "audit --since 1h"), 0);
    cr_assert (strstr (output, "agents.remove"), "%s", output);
    free (output);
    //  Key rotation: the same host with a new key enrolls under its old name.
    jt_stop (fleet->agents[0]);
    fleet->agents[0] = 0;
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s/doomed", fleet->dir);
    jt_rmtree (dir);
    jt_fleet_add_agent (fleet, "doomed", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000),
               "the host did not come back with a new key");
}

Test (security, rejected_pending_agent_is_cut_off)
{
    cr_assert (s_wait_counter ("zap_denied", -1, 30000), "the controller does not answer");
    long long denied = s_counter ("zap_denied");
    long long waiting = s_counter ("plan_subscriptions_waiting");
    jt_fleet_add_agent_token (fleet, "stranger", "dev", NULL);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"pending\"", 1, 30000));
    //  its plan subscription is refused until it is accepted: counted
    //  apart, since an agent joining is no attack (a fleet of new hosts
    //  would fire jadugar_security_refusals)
    cr_assert (s_wait_counter ("plan_subscriptions_waiting", waiting, 15000));
    cr_assert_eq (s_counter ("zap_denied"), denied, "a joining agent counted as a refusal");
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "agents reject stranger"), 0, "%s", output);
    free (output);
    cr_assert (s_wait_log ("stranger", "agent: disconnected", 10000));
    cr_assert (s_wait_counter ("zap_denied", denied, 15000));
    char *state = s_agent_state ("stranger");
    cr_assert_str_eq (state, "rejected");
    free (state);
    //  reject is for pending agents only
    jt_fleet_add_agent (fleet, "member", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    cr_assert_eq (jt_jadctl (fleet, &output, "agents reject member"), 2, "%s", output);
    cr_assert (strstr (output, "agents remove member"), "%s", output);
    free (output);
}

//  --------------------------------------------------------------------------
//  Unknown keys (row 20), spoofing (row 23), dispatch (row 19), size (row 14)

Test (security, unknown_key_gets_nothing_on_any_port)
{
    zcert_t *stranger = zcert_new ();
    zsock_t *monitor = NULL;
    long long denied = s_counter ("zap_denied");
    long long waiting = s_counter ("plan_subscriptions_waiting");

    //  Operator API: the handshake is refused, a request gets no answer.
    zsock_t *api = s_client (ZMQ_DEALER, 2, stranger, &monitor);
    jad_api_request_t request = {.request_id = 1, .command = "status"};
    zchunk_t *wire = jad_api_request_encode (&request);
    zsock_send (api, "b", zchunk_data (wire), zchunk_size (wire));
    zchunk_destroy (&wire);
    cr_assert_eq (s_wait_event (monitor, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 5000),
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    cr_assert_null (zframe_recv (api));
    s_client_destroy (&api, &monitor);

    //  Plan broadcasts: refused as well.
    zsock_t *sub = s_client (ZMQ_SUB, 0, stranger, &monitor);
    zsock_set_subscribe (sub, "");
    cr_assert_eq (s_wait_event (monitor, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 5000),
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    s_client_destroy (&sub, &monitor);
    //  the API refusal is a security event; the plan subscription of a key
    //  the controller does not know yet (an agent about to enroll looks
    //  the same) is counted apart
    cr_assert_geq (s_counter ("zap_denied"), denied + 1);
    cr_assert_geq (s_counter ("plan_subscriptions_waiting"), waiting + 1);

    //  Agents port: an unknown key may connect, but only to enroll.
    long long unknown = s_counter ("agent_unknown");
    long long not_accepted = s_counter ("agent_not_accepted");
    zsock_t *dealer = s_client (ZMQ_DEALER, 1, stranger, &monitor);
    cr_assert_eq (s_wait_event (monitor, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 5000),
                  ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_send_status (dealer, "intruder", "web");
    jad_agent_msg_t fetch = {.kind = JAD_AGENT_MSG_FETCH};
    fetch.fetch.length = 1024;
    s_send_agent_msg (dealer, &fetch);
    jad_agent_msg_t ack = {.kind = JAD_AGENT_MSG_ACK};
    ack.ack.plan_id = "p1";
    ack.ack.sequence = 1;
    s_send_agent_msg (dealer, &ack);
    jad_ctl_msg_t *reply = s_recv_ctl (dealer);
    cr_assert_null (reply, "an unknown key got an answer to a non-enrollment message");
    cr_assert_eq (s_counter ("agent_unknown"), unknown + 1);
    cr_assert_eq (s_counter ("agent_not_accepted"), not_accepted + 2);
    char *state = s_agent_state ("intruder");
    cr_assert_null (state, "a Status registered an agent");

    //  Enrolling without a token: pending, nothing more.
    jad_agent_msg_t enroll = {.kind = JAD_AGENT_MSG_ENROLL};
    enroll.enroll.name = "intruder";
    enroll.enroll.environment = "dev";
    s_send_agent_msg (dealer, &enroll);
    reply = s_recv_ctl (dealer);
    cr_assert_not_null (reply);
    cr_assert_eq (reply->kind, JAD_CTL_MSG_ENROLL_REPLY);
    cr_assert_str_eq (reply->enroll_reply.state, "pending");
    jad_ctl_msg_destroy (&reply);
    state = s_agent_state ("intruder");
    cr_assert_str_eq (state, "pending");
    free (state);
    //  Enrolling into an environment the controller does not have: refused.
    zcert_t *other = zcert_new ();
    zsock_t *monitor2 = NULL;
    zsock_t *dealer2 = s_client (ZMQ_DEALER, 1, other, &monitor2);
    enroll.enroll.name = "elsewhere";
    enroll.enroll.environment = "moon";
    s_send_agent_msg (dealer2, &enroll);
    reply = s_recv_ctl (dealer2);
    cr_assert_not_null (reply);
    cr_assert_str_eq (reply->enroll_reply.state, "refused");
    cr_assert (strstr (reply->enroll_reply.detail, "moon"));
    jad_ctl_msg_destroy (&reply);
    cr_assert_null (s_agent_state ("elsewhere"));
    s_client_destroy (&dealer2, &monitor2);
    zcert_destroy (&other);
    s_client_destroy (&dealer, &monitor);
    zcert_destroy (&stranger);
}

//  Row 23: identity spoofing; the name comes from the key.
Test (security, status_claiming_another_name_is_attributed_to_the_key)
{
    jt_fleet_add_agent (fleet, "alpha", "dev");
    jt_fleet_add_agent (fleet, "beta", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/alpha/agent/keys/agent.key", fleet->dir);
    zcert_t *alpha = s_cert_from_file (path);
    zsock_t *monitor = NULL;
    zsock_t *dealer = s_client (ZMQ_DEALER, 1, alpha, &monitor);
    long long mismatch = s_counter ("agent_name_mismatch");
    s_send_status (dealer, "beta", "spoofed");
    cr_assert (s_wait_counter ("agent_name_mismatch", mismatch, 10000));
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "--json status --app spoofed"), 0);
    json_t *root = json_loads (output, 0, NULL);
    free (output);
    size_t index;
    json_t *agent;
    int found = 0;
    json_array_foreach (json_object_get (root, "agents"), index, agent)
    {
        json_t *apps = json_object_get (agent, "apps");
        if (json_object_get (apps, "spoofed")) {
            cr_assert_str_eq (json_string_value (json_object_get (agent, "name")), "alpha",
                              "a claimed name was believed");
            found++;
        }
    }
    json_decref (root);
    cr_assert_eq (found, 1);
    s_client_destroy (&dealer, &monitor);
    zcert_destroy (&alpha);
}

//  Row 19: reflective or unauthenticated dispatch.
Test (security, unknown_commands_and_malformed_frames_invoke_nothing)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller/keys/admin.key", fleet->dir);
    zcert_t *admin = s_cert_from_file (path);
    zsock_t *monitor = NULL;
    zsock_t *api = s_client (ZMQ_DEALER, 2, admin, &monitor);
    long long malformed = s_counter ("api_malformed");
    const char *commands[] = {"shell.exec", "audit.delete", "Status", "status ", "../status"};
    for (size_t index = 0; index < sizeof commands / sizeof commands[0]; index++) {
        jad_api_request_t request = {.request_id = index + 1, .command = (char *)commands[index]};
        zchunk_t *wire = jad_api_request_encode (&request);
        if (!wire)
            continue;  //  the codec itself refuses this command name
        zsock_send (api, "b", zchunk_data (wire), zchunk_size (wire));
        zchunk_destroy (&wire);
        zframe_t *frame = zframe_recv (api);
        cr_assert_not_null (frame, "no answer to '%s'", commands[index]);
        jad_api_response_t *response =
            jad_api_response_decode (zframe_data (frame), zframe_size (frame), NULL);
        zframe_destroy (&frame);
        cr_assert_not_null (response);
        cr_assert_eq (response->status, 2, "'%s' was not refused", commands[index]);
        cr_assert_null (response->json);
        jad_api_response_destroy (&response);
    }
    //  Two frames, garbage: dropped or refused, never dispatched.
    zsock_send (api, "ss", "status", "status");
    zsock_send (api, "s", "\x0a\xff\xff\xff\xff\x0f");
    cr_assert (s_wait_counter ("api_malformed", malformed + 2, 10000));
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "audit"), 0);
    cr_assert (strstr (output, "shell.exec"), "unknown command not audited:\n%s", output);
    cr_assert (strstr (output, "refused"), "%s", output);
    free (output);
    //  The audit log is append-only: no command edits it.
    cr_assert_neq (jt_fleet_sql (fleet, &output, "DELETE FROM audit"), 0, "%s", output);
    cr_assert (strstr (output, "append-only"), "%s", output);
    free (output);
    s_client_destroy (&api, &monitor);
    zcert_destroy (&admin);
}

//  Row 14: a frame over ZMQ_MAXMSGSIZE ends the connection before it is read.
Test (security, oversized_frame_disconnects_the_peer)
{
    zcert_t *stranger = zcert_new ();
    zsock_t *monitor = NULL;
    zsock_t *dealer = s_client (ZMQ_DEALER, 1, stranger, &monitor);
    cr_assert_eq (s_wait_event (monitor, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 5000),
                  ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    long long malformed = s_counter ("agent_malformed");
    size_t size = 2 * 1024 * 1024;
    uint8_t *big = calloc (1, size);
    zframe_t *frame = zframe_new (big, size);
    free (big);
    cr_assert_eq (zframe_send (&frame, dealer, 0), 0);
    cr_assert_eq (s_wait_event (monitor, ZMQ_EVENT_DISCONNECTED, 10000), ZMQ_EVENT_DISCONNECTED,
                  "a 2 MiB frame did not cut the connection");
    cr_assert_eq (s_counter ("agent_malformed"), malformed, "the frame was delivered");
    s_client_destroy (&dealer, &monitor);
    zcert_destroy (&stranger);
}

//  --------------------------------------------------------------------------
//  Operators, roles and the audit log (deliverable 3)

Test (security, viewer_cannot_deploy_and_the_refusal_is_audited)
{
    char key_path[PATH_MAX];
    snprintf (key_path, sizeof key_path, "%s/viewer.key", fleet->dir);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "keygen %s", key_path), 0, "%s", output);
    char *start = strstr (output, "public-key: ");
    cr_assert_not_null (start);
    char *public_key = strndup (start + 12, 40);
    free (output);
    cr_assert_eq (
        jt_jadctl (fleet, &output, "operator add olga --role viewer --public-key '%s'", public_key),
        0, "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "operator add olga2 --role wizard --public-key '%s'",
                             public_key),
                  2);
    cr_assert (strstr (output, "unknown role 'wizard'"), "%s", output);
    free (output);
    cr_assert_eq (
        jt_jadctl (fleet, &output, "operator add olga --role viewer --public-key '%s'", public_key),
        2);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "operator list"), 0);
    cr_assert (strstr (output, "olga") && strstr (output, public_key), "%s", output);
    free (output);

    char *client = s_client_file ("olga", key_path);
    jt_fleet_add_agent (fleet, "host-1", "dev");
    cr_assert_eq (jt_run (&output, "%s/controller/jadctl --config %s status", JAD_BIN_DIR, client),
                  0, "%s", output);
    free (output);
    int rc = jt_run (&output, "%s/controller/jadctl --config %s deploy web 1.0 --env dev",
                     JAD_BIN_DIR, client);
    cr_assert_eq (rc, 2, "a viewer's deploy exited %d: %s", rc, output);
    cr_assert (strstr (output, "may not run 'deploy'"), "%s", output);
    free (output);
    rc = jt_run (&output, "%s/controller/jadctl --config %s audit", JAD_BIN_DIR, client);
    cr_assert_eq (rc, 2, "a viewer read the audit log: %s", output);
    free (output);

    cr_assert_eq (jt_jadctl (fleet, &output, "--json audit --since 1h"), 0);
    json_t *root = json_loads (output, 0, NULL);
    free (output);
    size_t index;
    json_t *entry;
    bool refused = false, added = false;
    json_array_foreach (json_object_get (root, "audit"), index, entry)
    {
        const char *op = json_string_value (json_object_get (entry, "operator"));
        const char *command = json_string_value (json_object_get (entry, "command"));
        const char *outcome = json_string_value (json_object_get (entry, "outcome"));
        const char *args = json_string_value (json_object_get (entry, "args"));
        cr_assert_not_null (json_string_value (json_object_get (entry, "time")));
        if (strcmp (op, "olga") == 0 && strcmp (command, "deploy") == 0 &&
            strncmp (outcome, "refused", 7) == 0 && args && strstr (args, "env=dev"))
            refused = true;
        if (strcmp (op, "admin") == 0 && strcmp (command, "operator.add") == 0 &&
            strcmp (outcome, "ok") == 0)
            added = true;
    }
    json_decref (root);
    cr_assert (refused, "the viewer's deploy is not in the audit log");
    cr_assert (added, "operator add is not in the audit log");
    cr_assert_eq (jt_jadctl (fleet, &output, "audit --since yesterday"), 2);
    free (output);
    free (client);
    free (public_key);
}

//  --------------------------------------------------------------------------
//  Row 27: partial bundle / stalled wave

Test (security, agent_that_never_acks_fails_the_plan)
{
    jt_stop (fleet->controller);
    jt_run (NULL, "sed -i 's/^step-deadline:.*/step-deadline: 3s/' %s/controller/controller.yaml",
            fleet->dir);
    jt_fleet_start_controller (fleet);
    jt_fleet_add_agent (fleet, "acks", "dev");
    jt_fleet_add_agent (fleet, "silent", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", NULL};
    char *archive = jt_make_release (fleet->dir, "web-1.0", files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web 1.0 %s", archive), 0, "%s", output);
    free (output);
    free (archive);
    kill (fleet->agents[1], SIGSTOP);
    int rc = jt_jadctl (fleet, &output, "deploy web 1.0 --env dev --wait");
    kill (fleet->agents[1], SIGCONT);
    cr_assert_eq (rc, 1, "a plan with a silent host must fail, got %d:\n%s", rc, output);
    cr_assert (!strstr (output, "succeeded"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "--json plans"), 0);
    cr_assert (strstr (output, "\"state\": \"failed\""), "%s", output);
    free (output);
}

//  --------------------------------------------------------------------------
//  Row 5: indefinite freeze; signed heartbeats and the stale alarm

//  Agent `name` as `jadctl status --json` shows it (caller decrefs), or NULL.
static json_t *s_agent_status (const char *name)
{
    char *output = NULL;
    json_t *found = NULL;
    if (jt_jadctl (fleet, &output, "--json status") == 0) {
        json_t *root = json_loads (output, 0, NULL);
        size_t index;
        json_t *agent;
        json_array_foreach (json_object_get (root, "agents"), index, agent)
        {
            const char *agent_name = json_string_value (json_object_get (agent, "name"));
            if (agent_name && strcmp (agent_name, name) == 0)
                found = json_incref (agent);
        }
        json_decref (root);
    }
    free (output);
    return found;
}

typedef struct {
    const char *name;
    bool stale;
    long long alarms;
} s_stale_wait_t;

static bool s_stale_is (void *arg)
{
    s_stale_wait_t *wait = arg;
    json_t *agent = s_agent_status (wait->name);
    bool matches = agent && json_is_boolean (json_object_get (agent, "stale")) &&
                   json_boolean_value (json_object_get (agent, "stale")) == wait->stale &&
                   json_integer_value (json_object_get (agent, "stale_alarms")) == wait->alarms;
    json_decref (agent);
    return matches;
}

typedef struct {
    char path[PATH_MAX];
    int count;
} s_reload_wait_t;

static bool s_reloaded (void *arg)
{
    s_reload_wait_t *wait = arg;
    char *text = jt_read_file (wait->path);
    int seen = text ? jt_count (text, "changed=signed-heartbeat") : 0;
    free (text);
    return seen >= wait->count;
}

//  Change controller.yaml's signed-heartbeat and reload it with SIGHUP;
//  `reloads` is how many such reloads the log shows afterwards.
static void s_signed_heartbeat (const char *value, int reloads)
{
    char line[64];
    snprintf (line, sizeof line, "signed-heartbeat: %s", value);
    jt_fleet_config_line (fleet, "signed-heartbeat:", line);
    cr_assert_eq (kill (fleet->controller, SIGHUP), 0);
    s_reload_wait_t wait = {.count = reloads};
    snprintf (wait.path, sizeof wait.path, "%s/controller.log", fleet->dir);
    cr_assert (jt_wait_for (s_reloaded, &wait, 10000), "the controller did not reload (%d)",
               reloads);
}

Test (security, stale_alarm_when_signed_heartbeats_stop)
{
    jt_fleet_add_agent (fleet, "watcher", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    //  steady signed heartbeats for longer than the agent's window (3 s):
    //  no alarm (3 environments, one heartbeat each every 300 ms)
    long long sent = s_counter ("heartbeats_sent");
    cr_assert (s_wait_counter ("heartbeats_sent", sent + 3 * 14, 20000));
    s_stale_wait_t fresh = {"watcher", false, 0};
    cr_assert (s_stale_is (&fresh), "stale without cause");

    //  the heartbeats stop (as when PUB traffic is held back): alarm within the window
    s_signed_heartbeat ("0s", 1);
    s_stale_wait_t stale = {"watcher", true, 1};
    cr_assert (jt_wait_for (s_stale_is, &stale, 15000), "no stale alarm in jadctl status");
    cr_assert (s_wait_log ("watcher", "agent: stale: no signed heartbeat or plan", 1000));

    //  traffic resumes: the alarm clears, the count stays
    s_signed_heartbeat ("300ms", 2);
    s_stale_wait_t cleared = {"watcher", false, 1};
    cr_assert (jt_wait_for (s_stale_is, &cleared, 15000), "the stale alarm did not clear");
    cr_assert (s_wait_log ("watcher", "stale alarm cleared", 1000));
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/watcher.log", fleet->dir);
    char *text = jt_read_file (path);
    cr_assert_eq (jt_count (text, "agent: stale:"), 1, "the alarm is logged once");
    free (text);
}

//  An agent let in hears a signed heartbeat within a second or so, not a
//  whole interval later: after a leader's takeover its fleet comes back
//  one subscription at a time, and each waits for proof of the new epoch.
Test (security, a_new_subscriber_hears_a_heartbeat_before_the_interval_ends)
{
    //  one heartbeat now (the new pace starts at once), the next in 60 s
    s_signed_heartbeat ("60s", 1);
    jt_fleet_add_agent (fleet, "late", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    cr_assert (s_wait_log ("late", "agent: first signed heartbeat on the subscription", 20000),
               "the new subscriber waited for the next interval");
}

//  --------------------------------------------------------------------------
//  Row 7: software rollback below the security floor

static void s_add_plain_release (const char *version)
{
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", "VERSION", version, NULL};
    char name[32];
    snprintf (name, sizeof name, "web-%s", version);
    char *archive = jt_make_release (fleet->dir, name, files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web %s %s", version, archive), 0, "%s",
                  output);
    free (output);
    free (archive);
}

static char *s_current_of (int index)
{
    char *root = jt_fleet_root (fleet, index);
    char link[PATH_MAX], target[PATH_MAX] = "";
    snprintf (link, sizeof link, "%s/web/current", root);
    ssize_t size = readlink (link, target, sizeof target - 1);
    target[size > 0 ? size : 0] = 0;
    free (root);
    return strdup (target);
}

static long long s_agent_refusals (const char *name, const char *reason)
{
    json_t *agent = s_agent_status (name);
    json_t *value = json_object_get (json_object_get (agent, "refusals"), reason);
    long long count = json_is_integer (value) ? json_integer_value (value) : 0;
    json_decref (agent);
    return count;
}

typedef struct {
    const char *name;
    const char *reason;
} s_refusal_wait_t;

static bool s_refused (void *arg)
{
    s_refusal_wait_t *wait = arg;
    return s_agent_refusals (wait->name, wait->reason) > 0;
}

Test (security, rollback_below_the_security_floor_is_refused_by_controller_and_agent)
{
    jt_fleet_add_agent (fleet, "floored", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    s_add_plain_release ("1.0");
    s_add_plain_release ("2.0");
    s_add_plain_release ("3.0");
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 2.0 --env dev --wait"), 0, "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 3.0 --env dev --wait"), 0, "%s", output);
    free (output);

    //  counters in the order releases were added; the floor only goes up
    cr_assert_eq (jt_jadctl (fleet, &output, "release floor web 2.0"), 0, "%s", output);
    cr_assert (strstr (output, "counter: 2"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "release floor web 1.0"), 2, "%s", output);
    cr_assert (strstr (output, "only goes up"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "--json release list web"), 0);
    cr_assert (strstr (output, "\"security\": \"below\""), "%s", output);
    cr_assert (strstr (output, "\"security\": \"floor\""), "%s", output);
    free (output);

    //  the controller refuses to create a plan below the floor, naming the rule
    cr_assert_eq (jt_jadctl (fleet, &output, "rollback web --env dev --to 1.0"), 2, "%s", output);
    cr_assert (strstr (output, "refused by security floor"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env dev"), 2, "%s", output);
    cr_assert (strstr (output, "refused by security floor"), "%s", output);
    free (output);

    //  at the floor: accepted and switched (the agent now holds floor 2)
    cr_assert_eq (jt_jadctl (fleet, &output, "rollback web --env dev --to 2.0 --wait"), 0, "%s",
                  output);
    free (output);
    char *current = s_current_of (0);
    cr_assert_str_eq (current, "releases/2.0");
    free (current);

    //  a controller whose floor was lost (its database altered, or a key
    //  abused) signs a rollback to 1.0: the agent is the real defence
    char *sql = NULL;
    cr_assert_eq (jt_fleet_sql (fleet, &sql, "DELETE FROM floors"), 0, "%s", sql);
    free (sql);
    cr_assert_eq (jt_jadctl (fleet, &output, "rollback web --env dev --to 1.0"), 0, "%s", output);
    free (output);
    s_refusal_wait_t wait = {"floored", "below_floor"};
    cr_assert (jt_wait_for (s_refused, &wait, 15000), "the agent did not refuse below its floor");
    cr_assert (s_wait_log ("floored", "reason=below_floor", 1000));
    current = s_current_of (0);
    cr_assert_str_eq (current, "releases/2.0", "nothing switched");
    free (current);
    char *root = jt_fleet_root (fleet, 0);
    char release[PATH_MAX];
    snprintf (release, sizeof release, "%s/web/releases/1.0", root);
    cr_assert_neq (access (release, F_OK), 0, "nothing unpacked");
    free (root);
}

//  --------------------------------------------------------------------------
//  Row 29: no policy bypass through another plan kind

static void s_add_hello (const char *version)
{
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", "VERSION", version, NULL};
    char name[64];
    snprintf (name, sizeof name, "hello-%s", version);
    char *archive = jt_make_release (fleet->dir, name, files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add hello %s %s", version, archive), 0, "%s",
                  output);
    free (output);
    free (archive);
}

static char *s_hello_current (int index)
{
    char *root = jt_fleet_root (fleet, index);
    char link[PATH_MAX], target[PATH_MAX] = "";
    snprintf (link, sizeof link, "%s/hello/current", root);
    ssize_t size = readlink (link, target, sizeof target - 1);
    target[size > 0 ? size : 0] = 0;
    free (root);
    return strdup (target);
}

//  True if the audit log holds a refused `command` whose arguments hold `args`.
static bool s_audit_refused (const char *command, const char *args)
{
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "--json audit --since 1h"), 0);
    json_t *root = json_loads (output, 0, NULL);
    free (output);
    size_t index;
    json_t *entry;
    bool found = false;
    json_array_foreach (json_object_get (root, "audit"), index, entry)
    {
        const char *logged = json_string_value (json_object_get (entry, "command"));
        const char *outcome = json_string_value (json_object_get (entry, "outcome"));
        const char *logged_args = json_string_value (json_object_get (entry, "args"));
        if (logged && outcome && logged_args && strcmp (logged, command) == 0 &&
            strncmp (outcome, "refused", 7) == 0 && strstr (logged_args, args))
            found = true;
    }
    json_decref (root);
    return found;
}

Test (security, rollback_to_a_release_the_environment_refuses_is_refused)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    time_t now = time (NULL);
    struct tm local;
    localtime_r (&now, &local);
    const char *other_day = days[(local.tm_wday + 3) % 7];
    jt_fleet_set_environments (fleet, "environments:\n"
                                      "  staging: { strategy: all }\n"
                                      "  prod: { requires: staging, strategy: all }\n");
    jt_fleet_restart_controller (fleet);
    jt_fleet_add_agent (fleet, "stage-1", "staging");
    jt_fleet_add_agent (fleet, "prod-1", "prod");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    s_add_hello ("6.4");
    s_add_hello ("6.5");
    char *output = NULL;
    const char *steps[] = {
        "deploy hello 6.4 --env staging --wait", "deploy hello 6.4 --env prod --wait",
        "deploy hello 6.5 --env staging --wait", "deploy hello 6.5 --env prod --wait", NULL};
    for (const char *const *step = steps; *step; step++) {
        cr_assert_eq (jt_jadctl (fleet, &output, "%s", *step), 0, "%s: %s", *step, output);
        free (output);
    }
    //  prod now takes deploys only on another day, and 6.4 is marked bad
    char yaml[512];
    snprintf (yaml, sizeof yaml,
              "environments:\n"
              "  staging: { strategy: all }\n"
              "  prod: { requires: staging, strategy: all, windows: [\"%s 00:00-24:00\"] }\n",
              other_day);
    jt_fleet_set_environments (fleet, yaml);
    jt_fleet_restart_controller (fleet);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    char *sql = NULL;
    cr_assert_eq (jt_fleet_sql (fleet, &sql,
                                "UPDATE releases SET bad = 'alert error_rate fired' WHERE app = "
                                "'hello' AND version = '6.4'"),
                  0, "%s", sql);
    free (sql);
    s_add_hello ("6.6-unvetted");

    //  the deploy is refused by requires (and would be by the window)
    int rc = jt_jadctl (fleet, &output, "deploy hello 6.6-unvetted --env prod");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "refused by requires"), "%s", output);
    free (output);
    //  so is a rollback to it: the same door, the same rule
    rc = jt_jadctl (fleet, &output, "rollback hello --env prod --to 6.6-unvetted --wait");
    cr_assert_eq (rc, 2, "a rollback to an unvetted release exited %d: %s", rc, output);
    cr_assert (strstr (output, "refused by requires: hello 6.6-unvetted has not succeeded in "
                               "staging"),
               "%s", output);
    free (output);
    cr_assert (s_audit_refused ("rollback", "to=6.6-unvetted"), "the refusal is not audited");
    //  a release marked bad: refused unless --force, which overrides only that
    rc = jt_jadctl (fleet, &output, "rollback hello --env prod --to 6.4");
    cr_assert_eq (rc, 2, "%d %s", rc, output);
    cr_assert (strstr (output, "is marked bad"), "%s", output);
    cr_assert (strstr (output, "--force"), "%s", output);
    free (output);
    rc = jt_jadctl (fleet, &output, "rollback hello --env prod --to 6.6-unvetted --force");
    cr_assert_eq (rc, 2, "--force overrode requires: %d %s", rc, output);
    cr_assert (strstr (output, "refused by requires"), "%s", output);
    free (output);
    char *current = s_hello_current (1);
    cr_assert_str_eq (current, "releases/6.5", "prod switched");
    free (current);
    char *root = jt_fleet_root (fleet, 1);
    char release[PATH_MAX];
    snprintf (release, sizeof release, "%s/hello/releases/6.6-unvetted", root);
    cr_assert_neq (access (release, F_OK), 0, "the unvetted release reached prod");
    free (root);
    //  a vetted release goes back outside the window; --force takes the bad one
    rc = jt_jadctl (fleet, &output, "rollback hello --env prod --to 6.4 --force --wait");
    cr_assert_eq (rc, 0, "%d %s", rc, output);
    free (output);
    current = s_hello_current (1);
    cr_assert_str_eq (current, "releases/6.4");
    free (current);
}

//  --------------------------------------------------------------------------
//  Row 23: metrics are attributed to the sender's key

typedef struct {
    const char *host;
    const char *needle;
} s_metrics_wait_t;

static bool s_metrics_have (void *arg)
{
    s_metrics_wait_t *wait = arg;
    char *output = NULL;
    bool found =
        jt_jadctl (fleet, &output, "--json metrics --host %s --since 1h", wait->host) == 0 &&
        strstr (output, wait->needle);
    free (output);
    return found;
}

Test (security, metrics_claiming_another_host_are_attributed_to_the_key)
{
    jt_fleet_add_agent (fleet, "alpha", "dev");
    jt_fleet_add_agent (fleet, "beta", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/alpha/agent/keys/agent.key", fleet->dir);
    zcert_t *alpha = s_cert_from_file (path);
    zsock_t *monitor = NULL;
    zsock_t *dealer = s_client (ZMQ_DEALER, 1, alpha, &monitor);
    //  alpha's key sends samples that say, in every way a batch can, "beta"
    char *names[] = {"spoofed_total", "spoofed_total{host=\"beta\",instance=\"beta\"}"};
    uint32_t name_index[] = {0, 1};
    int64_t now = (int64_t)zclock_time ();
    int64_t times[] = {now, now};
    double values[] = {42, 43};
    jad_metric_batch_t batch = {.names = names,
                                .name_count = 2,
                                .name_index = name_index,
                                .times = times,
                                .values = values,
                                .sample_count = 2};
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_METRICS, .metrics = &batch};
    s_send_agent_msg (dealer, &msg);
    s_metrics_wait_t on_alpha = {"alpha", "spoofed_total"};
    cr_assert (jt_wait_for (s_metrics_have, &on_alpha, 15000), "samples not stored under alpha");
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "--json metrics --host beta --since 1h"), 0, "%s",
                  output);
    cr_assert (!strstr (output, "spoofed_total"), "a claimed host name was believed: %s", output);
    free (output);
    s_client_destroy (&dealer, &monitor);
    zcert_destroy (&alpha);
}

//  --------------------------------------------------------------------------
//  Row 21: CURVE silently absent

Test (security, daemons_refuse_to_run_without_curve)
{
    char *output = NULL;
    int rc = jt_run (&output,
                     "LD_PRELOAD=%s/tests/libjt_nocurve.so ASAN_OPTIONS=verify_asan_link_order=0 "
                     "%s/controller/jadugar-controller run --data %s/controller",
                     JAD_BIN_DIR, JAD_BIN_DIR, fleet->dir);
    cr_assert_eq (rc, 1, "controller without CURVE exited %d:\n%s", rc, output);
    cr_assert (strstr (output, "no CURVE support"), "%s", output);
    free (output);
    //  the agent too
    jt_fleet_add_agent (fleet, "curveless", "dev");
    jt_stop (fleet->agents[0]);
    fleet->agents[0] = 0;
    rc = jt_run (&output,
                 "LD_PRELOAD=%s/tests/libjt_nocurve.so ASAN_OPTIONS=verify_asan_link_order=0 "
                 "%s/agent/jadugar-agent run --data %s/curveless/agent",
                 JAD_BIN_DIR, JAD_BIN_DIR, fleet->dir);
    cr_assert_eq (rc, 1, "agent without CURVE exited %d:\n%s", rc, output);
    cr_assert (strstr (output, "no CURVE support"), "%s", output);
    free (output);
}

//  --------------------------------------------------------------------------
//  Row 31: cross-environment reading by an accepted agent

//  SHA-256 (hex) of release web VERSION, from `jadctl --json release list`.
static char *s_release_sha (const char *version)
{
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "--json release list web"), 0, "%s", output);
    json_t *root = json_loads (output, 0, NULL);
    cr_assert_not_null (root, "%s", output);
    free (output);
    char *sha = NULL;
    size_t index;
    json_t *release;
    json_array_foreach (json_object_get (root, "releases"), index, release)
    {
        const char *found = json_string_value (json_object_get (release, "version"));
        if (found && strcmp (found, version) == 0)
            sha = strdup (json_string_value (json_object_get (release, "sha256")));
    }
    json_decref (root);
    cr_assert_not_null (sha, "release web %s not listed", version);
    return sha;
}

Test (security, dev_agent_reads_nothing_of_prod)
{
    jt_fleet_set_environments (fleet, "environments:\n"
                                      "  dev: { strategy: all }\n"
                                      "  prod: { strategy: all }\n");
    jt_fleet_restart_controller (fleet);
    jt_fleet_add_agent (fleet, "devhost", "dev");
    jt_fleet_add_agent (fleet, "prodhost", "prod");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/devhost/agent/keys/agent.key", fleet->dir);
    zcert_t *devkey = s_cert_from_file (path);
    long long refused = s_counter ("subscriptions_refused");
    cr_assert_geq (refused, 0);

    //  The dev agent's own key asks for everything, and for prod by name.
    zsock_t *monitor = NULL;
    zsock_t *sub = s_client (ZMQ_SUB, 0, devkey, &monitor);
    zsock_set_subscribe (sub, "");
    zsock_set_subscribe (sub, "plan/");
    zsock_set_subscribe (sub, "beat/prod/");
    zsock_set_subscribe (sub, "plan/prod/");
    //  and for its own environment, which it may read
    zsock_set_subscribe (sub, "beat/dev/");
    cr_assert (s_wait_counter ("subscriptions_refused", refused + 3, 10000),
               "the foreign subscriptions were not refused");
    cr_assert (s_wait_log ("controller", "subscription refused", 5000));

    //  A prod deploy goes out (plans go to each target directly, never on
    //  the broadcast) while the dev key listens.
    s_add_plain_release ("1.0");
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env prod --wait"), 0, "%s", output);
    free (output);
    cr_assert (s_wait_log ("prodhost", "source=direct", 10000), "no prod plan was sent");
    //  Heartbeats of every environment go out in the same tick: once two
    //  dev beats have arrived after the deploy, a prod beat would have too.
    int beats = 0;
    int64_t deadline = zclock_mono () + 20000;
    while (beats < 2 && zclock_mono () < deadline) {
        char *topic = NULL;
        zframe_t *body = NULL;
        if (zsock_recv (sub, "sf", &topic, &body) != 0)
            continue;
        cr_assert (strncmp (topic, "beat/dev/", 9) == 0 || strncmp (topic, "plan/dev/", 9) == 0,
                   "the dev key received '%s'", topic);
        if (strncmp (topic, "beat/dev/", 9) == 0)
            beats++;
        zstr_free (&topic);
        zframe_destroy (&body);
    }
    cr_assert_eq (beats, 2, "the dev key got no dev heartbeat: the filter is too strict");
    s_client_destroy (&sub, &monitor);

    //  Fetching the prod artifact by its digest: refused and counted.
    char *sha = s_release_sha ("1.0");
    long long fetch_refused = s_counter ("fetch_refused");
    zsock_t *dealer = s_client (ZMQ_DEALER, 1, devkey, &monitor);
    jad_agent_msg_t fetch = {.kind = JAD_AGENT_MSG_FETCH};
    cr_assert_eq (sodium_hex2bin (fetch.fetch.sha256, 32, sha, strlen (sha), NULL, NULL, NULL), 0);
    fetch.fetch.length = 1024;
    s_send_agent_msg (dealer, &fetch);
    jad_ctl_msg_t *reply = NULL;
    for (int tries = 0; tries < 10 && !reply; tries++) {
        reply = s_recv_ctl (dealer);
        if (reply && reply->kind != JAD_CTL_MSG_CHUNK)
            jad_ctl_msg_destroy (&reply);
    }
    cr_assert_not_null (reply, "no answer to the fetch");
    cr_assert_not_null (reply->chunk.error, "the prod artifact was served to a dev agent");
    cr_assert_eq (reply->chunk.data_size, 0);
    jad_ctl_msg_destroy (&reply);
    cr_assert_geq (s_counter ("fetch_refused"), fetch_refused + 1);
    cr_assert (s_wait_log ("controller", "fetch refused agent=devhost", 5000));
    s_client_destroy (&dealer, &monitor);
    free (sha);

    //  The dev agent itself still gets its own environment's plans.
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env dev --wait"), 0, "%s", output);
    free (output);
    cr_assert (s_wait_log ("devhost", "source=direct", 10000), "the dev plan was not sent");
    zcert_destroy (&devkey);
}

//  --------------------------------------------------------------------------
//  Row 35: markup injection into the status page

typedef struct {
    const char *needle;
} s_api_wait_t;

static bool s_api_status_has (void *arg)
{
    s_api_wait_t *wait = arg;
    char *output = NULL;
    jt_run (&output, "curl -s http://127.0.0.1:%d/api/status", fleet->port + 3);
    bool found = output && strstr (output, wait->needle);
    free (output);
    return found;
}

Test (security, hostile_health_text_cannot_break_the_status_page)
{
    jt_fleet_add_agent (fleet, "marked", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    //  The agent's key, used by a client that says what a hijacked agent
    //  would: health texts made to end or hide the page's script.
    jt_stop (fleet->agents[0]);
    fleet->agents[0] = 0;
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/marked/agent/keys/agent.key", fleet->dir);
    zcert_t *key = s_cert_from_file (path);
    zsock_t *monitor = NULL;
    zsock_t *dealer = s_client (ZMQ_DEALER, 1, key, &monitor);
    jad_app_state_t apps[3] = {
        {"web", "1.0", "<!--<script>", NULL},
        {"api", "2.0", "</script><img src=x onerror=document.title=1337>", NULL},
        {"db", "3.0", "a & b <b>bold</b>", NULL}};
    jad_status_t status = {.name = "marked",
                           .environment = "dev",
                           .incarnation = "feedfeed",
                           .hello = true,
                           .apps = apps,
                           .app_count = 3};
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_STATUS, .status = &status};
    s_send_agent_msg (dealer, &msg);
    s_api_wait_t wait = {"onerror=document.title=1337"};
    cr_assert (jt_wait_for (s_api_status_has, &wait, 10000), "the health texts were not stored");
    s_client_destroy (&dealer, &monitor);
    zcert_destroy (&key);

    //  The embedded JSON carries no raw '<', '>' or '&' from the data.
    char *page = NULL;
    cr_assert_eq (jt_run (&page, "curl -s http://127.0.0.1:%d/", fleet->port + 3), 0);
    cr_assert (strstr (page, "\\u003c!--\\u003cscript\\u003e"), "not escaped:\n%s", page);
    cr_assert_null (strstr (page, "<!--<script>"), "raw markup in the page");
    cr_assert_null (strstr (page, "<img"), "raw markup in the page");
    free (page);

    //  A real browser renders every table, shows the texts as text, and
    //  runs none of them.
    char *output = NULL;
    int rc = jt_run (&output,
                     "timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic "
                     "--no-first-run --disable-background-networking --disable-component-update "
                     "--disable-sync --user-data-dir=%s/chromium --dump-dom http://127.0.0.1:%d/ "
                     "2>/dev/null",
                     fleet->dir, fleet->port + 3);
    cr_assert_eq (rc, 0, "chromium failed: %s", output);
    static const char *const sections[] = {"firing",  "environments", "hosts",
                                           "running", "recent",       "rules"};
    for (size_t index = 0; index < 6; index++) {
        char empty[64];
        snprintf (empty, sizeof empty, "<div id=\"%s\"></div>", sections[index]);
        cr_assert_null (strstr (output, empty), "section %s was not rendered:\n%s", sections[index],
                        output);
    }
    cr_assert (strstr (output, "<td>marked</td>"), "%s", output);
    cr_assert (strstr (output, "<td class=\"&lt;!--&lt;script&gt;\">&lt;!--&lt;script&gt;</td>"),
               "the health is not shown as text:\n%s", output);
    cr_assert (strstr (output, "&lt;/script&gt;&lt;img src=x onerror=document.title=1337&gt;"),
               "%s", output);
    cr_assert (strstr (output, "a &amp; b &lt;b&gt;bold&lt;/b&gt;"), "%s", output);
    cr_assert_null (strstr (output, "<img"), "markup from an agent became an element");
    cr_assert (strstr (output, "<title>Jadugar fleet status</title>"), "a handler ran: %s", output);
    free (output);
}

//  --------------------------------------------------------------------------
//  Issue 12 item 9: DNS rebinding (the HTTP port answers its own names only)

//  HTTP status of `curl` for url path with Host header `host` (NULL: none).
static int s_http_status (const char *path, const char *host, char **body_p)
{
    char *output = NULL;
    char header[300] = "";
    if (host)
        snprintf (header, sizeof header, "-H 'Host: %s'", host);
    int rc = jt_run (&output, "curl -s -o %s/body.txt -w '%%{http_code}' %s http://127.0.0.1:%d%s",
                     fleet->dir, header, fleet->port + 3, path);
    cr_assert_eq (rc, 0, "curl: %s", output);
    int status = atoi (output);
    free (output);
    if (body_p) {
        char file[PATH_MAX];
        snprintf (file, sizeof file, "%s/body.txt", fleet->dir);
        *body_p = jt_read_file (file);
    }
    return status;
}

Test (security, http_refuses_a_foreign_host_header)
{
    jt_fleet_config_line (fleet, "http-hosts:", "http-hosts: [status.example.net]");
    jt_fleet_restart_controller (fleet);
    cr_assert (jt_fleet_wait_status (fleet, "\"counters\"", 1, 20000));
    long long refused = s_counter ("http_host_refused");
    cr_assert_eq (refused, 0);
    static const char *const paths[] = {"/", "/api/status", "/metrics"};
    char own[64], loopback[64];
    snprintf (own, sizeof own, "127.0.0.1:%d", fleet->port + 3);
    snprintf (loopback, sizeof loopback, "localhost:%d", fleet->port + 3);
    for (size_t index = 0; index < 3; index++) {
        const char *path = paths[index];
        char *body = NULL;
        //  a rebinding page names its own domain: refused, saying why
        cr_assert_eq (s_http_status (path, "evil.example.com:80", &body), 421, "%s", path);
        cr_assert (strstr (body, "Host 'evil.example.com:80' is not a name of this controller"),
                   "%s", body);
        cr_assert (strstr (body, "http-hosts"), "%s", body);
        free (body);
        cr_assert_eq (s_http_status (path, "localhost.evil.example.com", NULL), 421, "%s", path);
        //  the controller's own names are answered
        cr_assert_eq (s_http_status (path, own, NULL), 200, "%s", path);
        cr_assert_eq (s_http_status (path, loopback, NULL), 200, "%s", path);
        cr_assert_eq (s_http_status (path, "[::1]:80", NULL), 200, "%s", path);
        cr_assert_eq (s_http_status (path, "STATUS.example.net", NULL), 200, "%s", path);
    }
    cr_assert (s_wait_counter ("http_host_refused", 5, 10000), "refusals not counted");
    cr_assert (
        s_wait_log ("controller", "http: request refused host=\"evil.example.com:80\"", 5000));
}

//  --------------------------------------------------------------------------
//  Row 33: connection exhaustion by strangers

//  A raw TCP connection from source address `from` (a loopback address:
//  127.0.0.0/8 is all ours) to controller port BASE+offset; -1 if refused.
static int s_raw_connect (const char *from, int offset)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in source = {.sin_family = AF_INET};
    inet_pton (AF_INET, from, &source.sin_addr);
    cr_assert_eq (bind (fd, (struct sockaddr *)&source, sizeof source), 0, "bind %s", from);
    struct sockaddr_in target = {.sin_family = AF_INET,
                                 .sin_port = htons ((uint16_t)(fleet->port + offset))};
    inet_pton (AF_INET, "127.0.0.1", &target.sin_addr);
    if (connect (fd, (struct sockaddr *)&target, sizeof target) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

//  GET path on the HTTP port answers 200 (curl gives up after 5 s).
static bool s_http_answers (const char *path, char **body_p)
{
    char *output = NULL;
    int rc = jt_run (&output, "curl -sf -m 5 http://127.0.0.1:%d%s", fleet->port + 3, path);
    if (body_p)
        *body_p = output;
    else
        free (output);
    return rc == 0;
}

Test (security, strangers_cannot_exhaust_connections)
{
    struct rlimit limit;
    cr_assert_eq (getrlimit (RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_cur < 4096 && limit.rlim_max >= 4096) {
        limit.rlim_cur = 4096;
        cr_assert_eq (setrlimit (RLIMIT_NOFILE, &limit), 0);
    }
    cr_assert_geq (limit.rlim_cur, 4096, "the test needs 4096 descriptors");
    jt_fleet_config_line (fleet, "connections-per-ip:", "connections-per-ip: 100");
    jt_fleet_config_line (fleet, "max-connections:", "max-connections: 700");
    jt_fleet_restart_controller (fleet);
    jt_fleet_add_agent (fleet, "steady", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    long long refused = s_counter ("connections_refused");
    cr_assert_eq (refused, 0);

    //  One address opens 1,000 connections and says nothing: all but 100 cut.
    int fds[2000];
    int count = 0;
    for (int index = 0; index < 1000; index++) {
        int fd = s_raw_connect ("127.0.0.2", index % 3);
        if (fd >= 0)
            fds[count++] = fd;
    }
    cr_assert_gt (count, 900);
    cr_assert (s_wait_counter ("connections_refused", count - 101, 30000),
               "connections over the per-address cap were not refused (%lld of %d)",
               s_counter ("connections_refused"), count - 100);
    cr_assert (s_wait_log ("controller", "reason=\"connections-per-ip reached\"", 5000));
    long long per_ip = s_counter ("connections_refused");
    //  Then 40 more addresses open 25 each: the global cap holds.
    for (int index = 0; index < 1000; index++) {
        char from[32];
        snprintf (from, sizeof from, "127.0.0.%d", 3 + index % 40);
        int fd = s_raw_connect (from, index % 3);
        if (fd >= 0)
            fds[count++] = fd;
    }
    //  A slowloris on the HTTP port: more requests that never end their
    //  headers than the server has connections, all from one address.
    int slow[300];
    for (int index = 0; index < 300; index++) {
        slow[index] = s_raw_connect ("127.0.0.2", 3);
        if (slow[index] >= 0) {
            const char *partial = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
            //  one the server closed at once may fail: that is the point
            if (send (slow[index], partial, strlen (partial), MSG_NOSIGNAL) < 0) {
                close (slow[index]);
                slow[index] = -1;
            }
        }
    }
    //  (25 from each address is below the per-address cap: these are the
    //  global cap's refusals)
    cr_assert (s_wait_counter ("connections_refused", per_ip + 100, 30000),
               "the global cap was never reached");
    //  While all that is held open, operators and Prometheus still get answers.
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "status"), 0, "jadctl status: %s", output);
    free (output);
    char *metrics = NULL;
    cr_assert (s_http_answers ("/metrics", &metrics), "/metrics did not answer");
    cr_assert (strstr (metrics, "jadugar_controller_events_total{event=\"connections_refused\"}"),
               "%s", metrics);
    free (metrics);
    cr_assert (s_http_answers ("/api/status", NULL), "/api/status did not answer");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 10000),
               "the agent lost its place");
    //  The controller holds far fewer descriptors than were opened at it.
    char path[PATH_MAX];
    snprintf (path, sizeof path, "/proc/%d/fd", (int)fleet->controller);
    char *listing = NULL;
    cr_assert_eq (jt_run (&listing, "ls %s | wc -l", path), 0);
    cr_assert_lt (atoi (listing), 1200, "the controller holds %s descriptors", listing);
    free (listing);
    for (int index = 0; index < count; index++)
        close (fds[index]);
    for (int index = 0; index < 300; index++)
        if (slow[index] >= 0)
            close (slow[index]);
}

//  Enrollment tokens, the pending table, the audit of every request
//  (issue 12: rows 30, 34, 37, 38)

//  The value of "KEY: value" in text (caller frees), or NULL.
static char *s_line_value (const char *text, const char *key)
{
    char prefix[64];
    snprintf (prefix, sizeof prefix, "%s: ", key);
    const char *line = text ? strstr (text, prefix) : NULL;
    if (!line)
        return NULL;
    line += strlen (prefix);
    return strndup (line, strcspn (line, "\n"));
}

typedef struct {
    char path[PATH_MAX];
    const char *gone;
} s_file_wait_t;

static bool s_file_lacks (void *arg)
{
    s_file_wait_t *wait = arg;
    char *text = jt_read_file (wait->path);
    bool lacks = text && !strstr (text, wait->gone);
    free (text);
    return lacks;
}

static bool s_controller_answers (void *arg)
{
    (void)arg;
    return jt_jadctl (fleet, NULL, "status") == 0;
}

//  Row 30: a token is good for its environments, its uses and its time.
Test (security, scoped_tokens_from_jadctl_enroll_only_their_environment)
{
    cr_assert (jt_wait_for (s_controller_answers, NULL, 30000));
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "agents token create --env dev --uses 2"), 0, "%s",
                  output);
    char *token = s_line_value (output, "token");
    char *id = s_line_value (output, "id");
    cr_assert_not_null (token, "%s", output);
    cr_assert_not_null (id, "%s", output);
    cr_assert (strstr (output, "envs: dev"), "%s", output);
    free (output);
    //  bad scope, bad uses: usage errors naming the flag
    cr_assert_eq (jt_jadctl (fleet, &output, "agents token create --env moon"), 2, "%s", output);
    cr_assert (strstr (output, "moon"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "agents token create --env dev --uses 0"), 2, "%s",
                  output);
    cr_assert (strstr (output, "--uses"), "%s", output);
    free (output);
    //  listed, never shown again
    cr_assert_eq (jt_jadctl (fleet, &output, "--json agents token list"), 0, "%s", output);
    cr_assert (strstr (output, id), "%s", output);
    cr_assert (!strstr (output, token), "the list shows a token:\n%s", output);
    free (output);

    jt_fleet_add_agent_token (fleet, "dev-1", "dev", token);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    //  the token is gone from the accepted agent's agent.yaml
    s_file_wait_t wait = {.gone = token};
    snprintf (wait.path, sizeof wait.path, "%s/dev-1/agent/agent.yaml", fleet->dir);
    cr_assert (jt_wait_for (s_file_lacks, &wait, 10000), "the token stayed in agent.yaml");
    //  the dev token read from a dev host does not enroll into prod
    long long wrong = s_counter ("enroll_token_wrong");
    jt_fleet_add_agent_token (fleet, "prod-1", "prod", token);
    cr_assert (s_wait_log ("prod-1", "is not for environment 'prod'", 15000));
    cr_assert (s_wait_log ("controller", "enrollment token refused name=prod-1", 10000));
    cr_assert_gt (s_counter ("enroll_token_wrong"), wrong);
    char *state = s_agent_state ("prod-1");
    cr_assert_null (state, "prod-1 was stored as %s", state);
    //  revoked: refused, once
    cr_assert_eq (jt_jadctl (fleet, &output, "agents token revoke %s", id), 0, "%s", output);
    cr_assert (strstr (output, "state: revoked"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "agents token revoke %s", id), 2, "%s", output);
    free (output);
    jt_fleet_add_agent_token (fleet, "dev-2", "dev", token);
    cr_assert (s_wait_log ("dev-2", "was revoked", 15000));
    cr_assert_null (s_agent_state ("dev-2"));
    //  audited, without the secret
    cr_assert_eq (jt_jadctl (fleet, &output, "audit"), 0, "%s", output);
    cr_assert (strstr (output, "agents.token.create"), "%s", output);
    cr_assert (strstr (output, "agents.token.revoke"), "%s", output);
    cr_assert (!strstr (output, token), "the audit shows the token:\n%s", output);
    free (output);
    free (token);
    free (id);
}

//  Row 34: a squatter gives way to the token holder; fingerprints match;
//  an operator's key is no agent.
Test (security, pending_squatter_gives_way_and_fingerprints_match)
{
    zcert_t *stranger = zcert_new ();
    zsock_t *monitor = NULL;
    zsock_t *dealer = s_client (ZMQ_DEALER, 1, stranger, &monitor);
    jad_agent_msg_t enroll = {.kind = JAD_AGENT_MSG_ENROLL};
    enroll.enroll.name = "web-1";
    enroll.enroll.environment = "dev";
    s_send_agent_msg (dealer, &enroll);
    jad_ctl_msg_t *reply = s_recv_ctl (dealer);
    cr_assert_not_null (reply);
    cr_assert_str_eq (reply->enroll_reply.state, "pending");
    jad_ctl_msg_destroy (&reply);
    long long dropped = s_counter ("enroll_squatters_dropped");
    jt_fleet_add_agent (fleet, "web-1", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000),
               "the squatter kept the token holder out");
    cr_assert (
        s_wait_log ("controller", "pending agent dropped for a token holder name=web-1", 10000));
    cr_assert_gt (s_counter ("enroll_squatters_dropped"), dropped);
    //  the stranger cannot take the name back
    s_send_agent_msg (dealer, &enroll);
    reply = s_recv_ctl (dealer);
    cr_assert_not_null (reply);
    cr_assert_str_eq (reply->enroll_reply.state, "refused");
    jad_ctl_msg_destroy (&reply);
    s_client_destroy (&dealer, &monitor);
    zcert_destroy (&stranger);

    //  what jadctl shows is what the host prints
    char *output = NULL;
    cr_assert_eq (jt_run (&output, "%s/agent/jadugar-agent fingerprint --data %s/web-1/agent",
                          JAD_BIN_DIR, fleet->dir),
                  0, "%s", output);
    char *host_print = s_line_value (output, "fingerprint");
    cr_assert_not_null (host_print, "%s", output);
    cr_assert_eq (strlen (host_print), 16);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "agents"), 0, "%s", output);
    cr_assert (strstr (output, host_print), "jadctl agents lacks %s:\n%s", host_print, output);
    free (output);
    free (host_print);

    //  the admin's key enrolling as an agent: refused
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller/keys/admin.key", fleet->dir);
    zcert_t *admin = s_cert_from_file (path);
    dealer = s_client (ZMQ_DEALER, 1, admin, &monitor);
    enroll.enroll.name = "admin-box";
    enroll.enroll.token = fleet->enroll_token;
    s_send_agent_msg (dealer, &enroll);
    reply = s_recv_ctl (dealer);
    cr_assert_not_null (reply);
    cr_assert_str_eq (reply->enroll_reply.state, "refused");
    cr_assert (strstr (reply->enroll_reply.detail, "operator"), "%s", reply->enroll_reply.detail);
    jad_ctl_msg_destroy (&reply);
    cr_assert_null (s_agent_state ("admin-box"));
    s_client_destroy (&dealer, &monitor);
    zcert_destroy (&admin);
}

//  Send a raw request body on the API socket and wait for the answer.
static void s_api_raw (zsock_t *api, const void *data, size_t size)
{
    cr_assert_eq (zsock_send (api, "b", data, size), 0);
    zframe_t *frame = zframe_recv (api);
    cr_assert_not_null (frame, "no answer");
    zframe_destroy (&frame);
}

static void s_api_request (zsock_t *api, const char *command, const char *key, const char *value)
{
    jad_arg_t arg = {(char *)key, (char *)value};
    jad_api_request_t request = {
        .request_id = 7, .command = (char *)command, .args = &arg, .arg_count = key ? 1 : 0};
    zchunk_t *wire = jad_api_request_encode (&request);
    cr_assert_not_null (wire, "cannot encode '%s'", command);
    s_api_raw (api, zchunk_data (wire), zchunk_size (wire));
    zchunk_destroy (&wire);
}

//  Rows 37 and 38: every authenticated request leaves a row; control
//  characters are stored escaped.
Test (security, audit_rows_for_every_request_and_escaped)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller/keys/admin.key", fleet->dir);
    cr_assert (jt_wait_for (s_controller_answers, NULL, 30000));
    zcert_t *admin = s_cert_from_file (path);
    zsock_t *monitor = NULL;
    zsock_t *api = s_client (ZMQ_DEALER, 2, admin, &monitor);
    const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
    s_api_raw (api, garbage, sizeof garbage);
    //  protocol and request id, no command (the encoder refuses to make it)
    const uint8_t empty[] = {0x08, JAD_PROTOCOL, 0x10, 0x07, 0x1a, 0x00};
    s_api_raw (api, empty, sizeof empty);
    s_api_request (api, "no.such.command", NULL, NULL);
    s_api_request (api, "ping", NULL, NULL);
    s_api_request (api, "metrics", "env", "dev");
    s_api_request (api, "metrics", "env",
                   "dev\n2026-12-06T09:00:00Z admin        deploy FORGED ok\x1b[2J\x1b[H\xc2\x9b");
    s_client_destroy (&api, &monitor);
    zcert_destroy (&admin);

    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "--json audit"), 0, "%s", output);
    json_t *root = json_loads (output, 0, NULL);
    cr_assert_not_null (root, "%s", output);
    free (output);
    //  the codec refuses an empty command: a second "(malformed)" row
    int malformed = 0;
    bool empty_seen = false, metrics_ok = false;
    bool seen[5] = {false};
    const char *expected[] = {"(malformed)", "(malformed)", "no.such.command", "ping", "metrics"};
    size_t index;
    json_t *entry;
    json_array_foreach (json_object_get (root, "audit"), index, entry)
    {
        const char *command = json_string_value (json_object_get (entry, "command"));
        const char *args = json_string_value (json_object_get (entry, "args"));
        const char *outcome = json_string_value (json_object_get (entry, "outcome"));
        cr_assert_not_null (command);
        for (size_t which = 2; which < 5; which++)
            if (strcmp (command, expected[which]) == 0)
                seen[which] = true;
        if (strcmp (command, "(malformed)") == 0) {
            seen[malformed < 2 ? malformed : 1] = true;
            malformed++;
            if (strstr (outcome, "command"))
                empty_seen = true;
        }
        cr_assert_str_eq (json_string_value (json_object_get (entry, "operator")), "admin");
        for (const char *text = args ? args : ""; *text; text++)
            cr_assert ((unsigned char)*text >= 0x20 && *text != 0x7f,
                       "a raw control character in audited args: %s", args);
        if (strcmp (command, "metrics") == 0 && strcmp (args, "env=dev") == 0)
            metrics_ok = strcmp (outcome, "ok") == 0;
        else if (strcmp (command, "metrics") == 0) {
            cr_assert (strstr (args, "env=dev\\n2026-12-06T09:00:00Z admin"), "%s", args);
            cr_assert (strstr (args, "\\e[2J\\e[H\\u009b"), "%s", args);
            cr_assert (strncmp (outcome, "refused", 7) == 0, "%s", outcome);
        }
        if (strcmp (command, "(malformed)") == 0 || strcmp (command, "no.such.command") == 0)
            cr_assert (strncmp (outcome, "refused", 7) == 0, "%s", outcome);
    }
    json_decref (root);
    for (size_t which = 0; which < 5; which++)
        cr_assert (seen[which], "no audit row for request %zu (%s)", which, expected[which]);
    cr_assert (empty_seen, "the empty command's row does not say why");
    cr_assert (metrics_ok, "a metrics request that succeeded left no row");
}
