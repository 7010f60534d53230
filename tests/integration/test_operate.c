//  test_operate - running daemons for years: SIGHUP reloads, protocol
//  version mismatches reported on both sides
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"
#include "jad_wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BIN_AGENT JAD_BIN_DIR "/agent/jadugar-agent"

typedef struct {
    char path[PATH_MAX];
    const char *needle;
    int count;
} s_log_wait_t;

static bool s_log_has (void *arg)
{
    s_log_wait_t *wait = (s_log_wait_t *)arg;
    char *text = jt_read_file (wait->path);
    bool found = text && jt_count (text, wait->needle) >= wait->count;
    free (text);
    return found;
}

//  Wait until the log file holds `needle` `count` times.
static bool s_wait_log (const char *path, const char *needle, int count)
{
    s_log_wait_t wait = {.needle = needle, .count = count};
    snprintf (wait.path, sizeof wait.path, "%s", path);
    return jt_wait_for (s_log_has, &wait, 15000);
}

static int s_log_count (const char *path, const char *needle)
{
    char *text = jt_read_file (path);
    int count = text ? jt_count (text, needle) : 0;
    free (text);
    return count;
}

//  sed -i on a file (tests only).
static void s_edit (const char *path, const char *expression)
{
    cr_assert_eq (jt_run (NULL, "sed -i '%s' %s", expression, path), 0);
}

TestSuite (operate, .timeout = 120);

Test (operate, sighup_reloads_the_controller_and_refuses_a_bad_file)
{
    jt_fleet_t *fleet = jt_fleet_new ();
    jt_fleet_add_agent (fleet, "web-1", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    char config[PATH_MAX], log[PATH_MAX];
    snprintf (config, sizeof config, "%s/controller/controller.yaml", fleet->dir);
    snprintf (log, sizeof log, "%s/controller.log", fleet->dir);

    s_edit (config, "s/^resend: .*/resend: 700ms/; s/^step-deadline: .*/step-deadline: 5m/");
    cr_assert_eq (kill (fleet->controller, SIGHUP), 0);
    cr_expect (s_wait_log (log, "configuration reloaded changed=resend,step-deadline", 1),
               "no reload line in %s", log);

    //  a port change is refused politely: sockets stay where they are
    s_edit (config, "s/^port: .*/port: 1/");
    cr_assert_eq (kill (fleet->controller, SIGHUP), 0);
    cr_expect (s_wait_log (log, "listen or port changed", 1));
    cr_expect (s_wait_log (log, "configuration reloaded changed=nothing", 1));

    //  a broken file: every problem logged, the running config kept
    s_edit (config, "s/^heartbeat: .*/heartbeat: soon/; $ a bogus: 1");
    cr_assert_eq (kill (fleet->controller, SIGHUP), 0);
    cr_expect (s_wait_log (log, "reload refused problems=2", 1), "no refusal in %s", log);
    cr_expect (s_log_count (log, "unknown key 'bogus'") == 1);
    char *output = NULL;
    cr_expect_eq (jt_jadctl (fleet, &output, "status"), 0, "%s", output);
    cr_expect (output && strstr (output, "web-1"), "%s", output);
    free (output);
    //  the fleet keeps going: an agent still comes online
    jt_fleet_add_agent (fleet, "web-2", "dev");
    cr_expect (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 2, 30000));
    jt_fleet_destroy (&fleet);  //  fails the test unless both daemons exit 0
}

Test (operate, sighup_reloads_the_agent_and_refuses_a_bad_file)
{
    jt_fleet_t *fleet = jt_fleet_new ();
    int index = jt_fleet_add_agent (fleet, "web-1", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    char config[PATH_MAX], log[PATH_MAX];
    snprintf (config, sizeof config, "%s/web-1/agent/agent.yaml", fleet->dir);
    snprintf (log, sizeof log, "%s/web-1.log", fleet->dir);
    pid_t agent = fleet->agents[index];
    //  once accepted the agent rewrites agent.yaml itself (its token
    //  erased): an edit made meanwhile would be lost with the old text
    cr_assert (s_wait_log (log, "enrollment token erased from agent.yaml", 1));

    s_edit (config, "s/^heartbeat: .*/heartbeat: 200ms/; s/^hook-timeout: .*/hook-timeout: 5s/");
    cr_assert_eq (kill (agent, SIGHUP), 0);
    cr_expect (s_wait_log (log, "configuration reloaded changed=heartbeat,hook-timeout", 1),
               "no reload line in %s", log);

    s_edit (config, "s/^environment: .*/environment: \"prod\"/");
    cr_assert_eq (kill (agent, SIGHUP), 0);
    cr_expect (s_wait_log (log, "changed keys need a restart keys=environment", 1));

    s_edit (config, "s/^keep-releases: .*/keep-releases: many/");
    cr_assert_eq (kill (agent, SIGHUP), 0);
    cr_expect (s_wait_log (log, "reload refused problems=1", 1), "no refusal in %s", log);
    //  still connected and heartbeating
    cr_expect (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 10000));
    jt_fleet_destroy (&fleet);
}

Test (operate, controller_reports_an_agent_of_another_protocol)
{
    jt_fleet_t *fleet = jt_fleet_new ();
    char log[PATH_MAX];
    snprintf (log, sizeof log, "%s/controller.log", fleet->dir);
    //  an "agent" from the future: a real CURVE client speaking protocol 2
    zcert_t *cert = zcert_new ();
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    cr_assert (cert && dealer);
    zcert_apply (cert, dealer);
    zsock_set_curve_serverkey (dealer, fleet->curve_key);
    zsock_set_rcvtimeo (dealer, 15000);
    cr_assert_eq (zsock_connect (dealer, "tcp://127.0.0.1:%d", fleet->port + 1), 0);
    const uint8_t future[] = {0x08, 0x02, 0x12, 0x02, 0x0a, 0x00};  //  protocol 2, a status
    for (int round = 0; round < 3; round++)
        cr_assert_eq (zsock_send (dealer, "b", future, sizeof future), 0);
    zframe_t *reply = zframe_recv (dealer);
    cr_assert_not_null (reply, "the controller did not answer");
    char err[JAD_ERR_LEN] = "";
    jad_ctl_msg_t *message = jad_ctl_msg_decode (zframe_data (reply), zframe_size (reply), err);
    cr_assert_not_null (message, "%s", err);
    cr_expect_eq (message->kind, JAD_CTL_MSG_PROTOCOL_ERROR);
    cr_expect_eq (message->protocol_error.controller_protocol, JAD_PROTOCOL);
    cr_expect_eq (message->protocol_error.agent_protocol, 2);
    cr_expect (message->protocol_error.message &&
                   strstr (message->protocol_error.message,
                           "speaks protocol 2, controller speaks 1; upgrade the controller"),
               "%s", message->protocol_error.message);
    jad_ctl_msg_destroy (&message);
    zframe_destroy (&reply);
    cr_expect (
        s_wait_log (log, "speaks protocol 2, controller speaks 1; upgrade the controller", 1));
    //  three messages, one log line, one answer per 30 s
    cr_expect_eq (s_log_count (log, "speaks protocol 2"), 1);
    zsock_set_rcvtimeo (dealer, 500);
    reply = zframe_recv (dealer);
    cr_expect_null (reply, "the controller answered every message");
    zframe_destroy (&reply);
    zsock_destroy (&dealer);
    zcert_destroy (&cert);
    jt_fleet_destroy (&fleet);
}

Test (operate, agent_reports_a_controller_of_another_protocol)
{
    //  a fake controller: CURVE server sockets without ZAP accept anyone
    char *dir = jt_tempdir ("jadugar-protocol");
    int port = jt_free_port_base (2);
    zcert_t *cert = zcert_new ();
    zsock_t *pub = zsock_new (ZMQ_PUB);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    cr_assert (cert && pub && router);
    zsock_set_curve_server (pub, 1);
    zcert_apply (cert, pub);
    zsock_set_curve_server (router, 1);
    zcert_apply (cert, router);
    zsock_set_rcvtimeo (router, 15000);
    cr_assert_eq (zsock_bind (pub, "tcp://127.0.0.1:%d", port), port);
    cr_assert_eq (zsock_bind (router, "tcp://127.0.0.1:%d", port + 1), port + 1);

    char *output = NULL;
    int rc = jt_run (&output,
                     "%s init --data %s/agent --controller 127.0.0.1:%d --controller-key '%s' "
                     "--signing-key %064d --env dev --name old-1 --root %s/srv",
                     S_BIN_AGENT, dir, port, zcert_public_txt (cert), 7, dir);
    cr_assert_eq (rc, 0, "%s", output);
    free (output);
    char data[PATH_MAX], log[PATH_MAX];
    snprintf (data, sizeof data, "%s/agent", dir);
    snprintf (log, sizeof log, "%s/agent.log", dir);
    char *argv[] = {S_BIN_AGENT, "run", "--data", data, NULL};
    pid_t agent = jt_spawn (log, argv);

    //  the agent's hello, answered in protocol 2
    zframe_t *identity = zframe_recv (router);
    cr_assert_not_null (identity, "the agent never said hello");
    zframe_t *hello = zframe_recv (router);
    zframe_destroy (&hello);
    const uint8_t future[] = {0x08, 0x02, 0x22, 0x00};  //  protocol 2, a report ack
    for (int round = 0; round < 2; round++) {
        zframe_t *copy = zframe_dup (identity);
        zframe_send (&copy, router, ZFRAME_MORE);
        zsock_send (router, "b", future, sizeof future);
    }
    cr_expect (s_wait_log (log,
                           "controller speaks protocol 2, this agent speaks 1; upgrade this "
                           "agent",
                           1),
               "no mismatch line in %s", log);
    //  same version, but the controller says we are not welcome: logged
    jad_ctl_msg_t refusal = {.kind = JAD_CTL_MSG_PROTOCOL_ERROR};
    refusal.protocol_error.controller_protocol = JAD_PROTOCOL;
    refusal.protocol_error.agent_protocol = JAD_PROTOCOL;
    refusal.protocol_error.message = "agent old-1 speaks protocol 1, test says no";
    zchunk_t *bytes = jad_ctl_msg_encode (&refusal);
    cr_assert_not_null (bytes);
    zframe_send (&identity, router, ZFRAME_MORE);
    zsock_send (router, "b", zchunk_data (bytes), zchunk_size (bytes));
    zchunk_destroy (&bytes);
    cr_expect (s_wait_log (log, "controller refuses our protocol 1 (it speaks 1): agent old-1", 1));
    cr_expect_eq (s_log_count (log, "controller speaks protocol 2"), 1);
    cr_expect_eq (jt_stop (agent), 0, "the agent did not stop cleanly (see %s)", log);
    zsock_destroy (&router);
    zsock_destroy (&pub);
    zcert_destroy (&cert);
    jt_rmtree (dir);
    free (dir);
}
