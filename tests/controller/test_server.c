//  test_server - the controller's sockets fail closed (SECURITY-TESTS row 20)
//  SPDX-License-Identifier: MPL-2.0
//
//  ctl_server_new binds the real sockets of a freshly initialised data
//  directory; with the ZAP handler gone, no key (not even the admin's) may
//  complete a handshake on any port.

#include "ctl_init.h"
#include "ctl_server.h"
#include "ctl_settings.h"
#include "ctl_agents_repo.h"
#include "ctl_store.h"
#include "ctl_store_internal.h"
#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

static char *s_dir;
static struct {
    ctl_settings_t *settings;
    ctl_store_t *store;
    jad_keypair_t *signing;
    jad_keypair_t *curve;
    ctl_server_t *server;
    int port;
} s_ctl;

static jad_keypair_t *s_key (const char *name)
{
    char path[PATH_MAX], err[256];
    snprintf (path, sizeof path, "%s/keys/%s", s_dir, name);
    jad_keypair_t *pair = jad_keypair_load (path, err, sizeof err);
    cr_assert_not_null (pair, "%s", err);
    return pair;
}

static void s_setup (void)
{
    cr_assert_geq (sodium_init (), 0);
    zsys_init ();
    zsys_set_linger (0);
    s_dir = jt_tempdir ("jadugar-server");
    char data[PATH_MAX];
    snprintf (data, sizeof data, "%s/data", s_dir);
    free (s_dir);
    s_dir = strdup (data);
    FILE *devnull = fopen ("/dev/null", "w");
    cr_assert_eq (ctl_init_run (s_dir, "127.0.0.1", jt_free_port_base (4), NULL, devnull), 0);
    fclose (devnull);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller.yaml", s_dir);
    jad_problems_t *problems = jad_problems_new ();
    jad_controller_config_t *config = jad_controller_config_load (path, problems);
    jad_problems_destroy (&problems);
    cr_assert_not_null (config);
    s_ctl.port = config->port;
    s_ctl.settings = ctl_settings_new (s_dir, &config);
    cr_assert_not_null (s_ctl.settings);
    s_ctl.signing = s_key ("signing.key");
    s_ctl.curve = s_key ("curve.key");
    snprintf (path, sizeof path, "%s/state.db", s_dir);
    s_ctl.store = ctl_store_open (path, 0);
    cr_assert_not_null (s_ctl.store);
    s_ctl.server = ctl_server_new (s_ctl.settings, s_ctl.store, s_ctl.signing, s_ctl.curve, 0);
    cr_assert_not_null (s_ctl.server);
}

static void s_teardown (void)
{
    ctl_server_destroy (&s_ctl.server);
    ctl_store_destroy (&s_ctl.store);
    jad_keypair_destroy (&s_ctl.curve);
    jad_keypair_destroy (&s_ctl.signing);
    ctl_settings_destroy (&s_ctl.settings);
    char *top = strdup (s_dir);
    *strrchr (top, '/') = 0;
    jt_rmtree (top);
    free (top);
    free (s_dir);
}

TestSuite (server, .init = s_setup, .fini = s_teardown, .timeout = 30);

//  Connect with `pair` to port BASE+offset; return the first handshake
//  outcome event (or 0 after 3 s).
static int s_handshake (const jad_keypair_t *pair, int offset)
{
    zsock_t *sock = zsock_new (offset == 0 ? ZMQ_SUB : ZMQ_DEALER);
    zcert_t *cert = zcert_new_from (jad_keypair_public (pair), jad_keypair_secret (pair));
    zcert_apply (cert, sock);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (sock, jad_keypair_public_txt (s_ctl.curve));
    static int serial;
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "inproc://server-test-monitor-%d", ++serial);
    cr_assert_eq (zmq_socket_monitor (zsock_resolve (sock), endpoint,
                                      ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED),
                  0);
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    cr_assert_eq (zsock_connect (monitor, "%s", endpoint), 0);
    //  the handshake's outcome, whichever it is, comes at once on a quiet
    //  machine; a bound, not a wait, for a loaded one
    zsock_set_rcvtimeo (monitor, 20000);
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", s_ctl.port + offset), 0);
    int event = 0;
    zmsg_t *msg = zmsg_recv (monitor);
    if (msg && zframe_size (zmsg_first (msg)) >= 2)
        memcpy (&event, zframe_data (zmsg_first (msg)), 2);
    zmsg_destroy (&msg);
    zmq_socket_monitor (zsock_resolve (sock), NULL, 0);
    zsock_destroy (&monitor);
    zsock_destroy (&sock);
    return event;
}

Test (server, without_the_zap_handler_every_handshake_is_refused)
{
    ctl_server_zap_stop (s_ctl.server);
    jad_keypair_t *admin = s_key ("admin.key");
    jad_keypair_t *stranger = jad_keypair_new (JAD_KEY_CURVE);
    for (int offset = 0; offset < 3; offset++) {
        int event = s_handshake (admin, offset);
        cr_assert (event != 0 && event != ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
                   "port BASE+%d admitted a key with no ZAP handler (event %d)", offset, event);
        event = s_handshake (stranger, offset);
        cr_assert (event != 0 && event != ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
                   "port BASE+%d admitted a stranger with no ZAP handler (event %d)", offset,
                   event);
    }
    jad_keypair_destroy (&stranger);
    jad_keypair_destroy (&admin);
}

Test (server, data_directory_and_keys_are_private)
{
    struct stat info;
    cr_assert_eq (stat (s_dir, &info), 0);
    cr_assert_eq (info.st_mode & 077, 0, "data dir mode %o", info.st_mode & 0777);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/keys", s_dir);
    cr_assert_eq (stat (path, &info), 0);
    cr_assert_eq (info.st_mode & 077, 0, "keys dir mode %o", info.st_mode & 0777);
    const char *keys[] = {"signing.key", "curve.key", "admin.key"};
    for (size_t index = 0; index < 3; index++) {
        snprintf (path, sizeof path, "%s/keys/%s", s_dir, keys[index]);
        cr_assert_eq (stat (path, &info), 0);
        cr_assert_eq (info.st_mode & 0777, 0600, "%s mode %o", keys[index], info.st_mode & 0777);
    }
    //  Only a hash of the enrollment token is kept: init's, for any
    //  environment, for 24 h.
    zlistx_t *tokens = ctl_agents_repo_tokens (s_ctl.store);
    cr_assert_eq (zlistx_size (tokens), 1);
    ctl_enroll_token_t *token = zlistx_first (tokens);
    cr_assert_str_eq (token->envs, "*");
    cr_assert_eq (token->expires - token->created, 24LL * 3600 * 1000);
    zlistx_destroy (&tokens);
    char *value = NULL;
    cr_assert_eq (ctl_sql_text (ctl_store_sql (s_ctl.store), &value,
                                "SELECT sha256 FROM enroll_tokens WHERE id = 'init'", ""),
                  0);
    cr_assert_eq (strlen (value), 64);
    free (value);
}
