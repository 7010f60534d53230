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
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

typedef struct {
    char path[PATH_MAX];
    const char *needle;
} s_log_wait_t;

static bool s_log_has (void *arg)
{
    s_log_wait_t *wait = arg;
    char *text = jt_read_file (wait->path);
    bool found = text && strstr (text, wait->needle);
    free (text);
    return found;
}

//  Wait until FLEET/NAME.log (or controller.log) contains needle.
static bool s_wait_log (const char *name, const char *needle, int timeout_ms)
{
    s_log_wait_t wait = {.needle = needle};
    snprintf (wait.path, sizeof wait.path, "%s/%s.log", fleet->dir, name);
    return jt_wait_for (s_log_has, &wait, timeout_ms);
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
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "inproc://test-monitor-%p", (void *)sock);
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
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"pending\"", 2, 30000),
               "agents without a valid token must be pending");
    cr_assert (s_wait_log ("waiting", "enrollment pending", 10000));
    cr_assert (s_wait_log ("controller", "token=invalid", 10000));

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
    //  The plan came over the broadcast too: the subscription, refused
    //  before enrollment, was connected again once accepted.
    cr_assert (s_wait_log ("good", "source=broadcast", 10000), "no plan broadcast reached 'good'");
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/waiting/srv/web", fleet->dir);
    cr_assert_neq (access (path, F_OK), 0, "a pending agent received a release");

    //  Accepted: online at once, and it catches up.
    cr_assert_eq (jt_jadctl (fleet, &output, "agents accept waiting"), 0, "%s", output);
    cr_assert (strstr (output, "state: accepted"), "%s", output);
    free (output);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    cr_assert (jt_fleet_wait_status (fleet, "\"version\": \"1.0\"", 2, 30000),
               "the accepted agent did not converge");
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
    jt_fleet_add_agent_token (fleet, "stranger", "dev", NULL);
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"pending\"", 1, 30000));
    long long denied = s_counter ("zap_denied");
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
    cr_assert_geq (s_counter ("zap_denied"), denied + 2);

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
    cr_assert_neq (
        jt_run (&output, "sqlite3 %s/controller/state.db \"DELETE FROM audit\"", fleet->dir), 0,
        "%s", output);
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
    cr_assert_eq (jt_run (&sql, "sqlite3 %s/controller/state.db 'DELETE FROM floors'", fleet->dir),
                  0, "%s", sql);
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
    cr_assert_eq (jt_run (&sql,
                          "sqlite3 -cmd '.timeout 10000' %s/controller/state.db \"UPDATE releases "
                          "SET bad = 'alert "
                          "error_rate fired' WHERE app = 'hello' AND version = '6.4'\"",
                          fleet->dir),
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
