//  test_operators - the operator lifecycle through a real controller and
//  jadctl (DESIGN §10, SECURITY-TESTS row 42): a removed operator's open
//  session is cut at its next request and its key refused at the
//  handshake; an expired key is refused until renewed; a rotated key
//  works and the old one is refused; approvals of removed and expired
//  operators stop counting. Every refusal exits 3 and leaves an audit row.
//  SPDX-License-Identifier: MPL-2.0

#include "jad_keys.h"
#include "jad_testlib.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jt_fleet_t *fleet;

static void s_teardown (void)
{
    jt_fleet_destroy (&fleet);
}

TestSuite (operators, .fini = s_teardown, .timeout = 180);

//  A fleet whose controller answers.
static void s_fleet (void)
{
    fleet = jt_fleet_new ();
    cr_assert (jt_fleet_wait_status (fleet, "\"agents\"", 1, 30000),
               "the controller did not answer");
}

//  Run jadctl --json ARGS as the admin, expect exit `code`, return the
//  parsed object.
static json_t *s_json (int code, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
static json_t *s_json (int code, const char *format, ...)
{
    char args[2048];
    va_list list;
    va_start (list, format);
    vsnprintf (args, sizeof args, format, list);
    va_end (list);
    char *output = NULL;
    int rc = jt_jadctl (fleet, &output, "--json %s", args);
    cr_assert_eq (rc, code, "jadctl --json %s: exit %d: %s", args, rc, output);
    json_error_t error;
    json_t *root = json_loads (output ? output : "", 0, &error);
    cr_assert (json_is_object (root), "not one JSON object (%s): %s", error.text, output);
    free (output);
    return root;
}

//  A new key pair DIR/FILE.key (and .signing) from jadctl keygen: its
//  CURVE public key into curve[41], its signing key into signing[65].
static void s_keygen (const char *file, char curve[41], char signing[65])
{
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "keygen %s/%s.key", fleet->dir, file), 0, "%s",
                  output);
    snprintf (curve, 41, "%s", strstr (output, "public-key: ") + 12);
    snprintf (signing, 65, "%s", strstr (output, "signing-key: ") + 13);
    free (output);
}

//  Client file DIR/NAME.jadctl.yaml (for jt_jadctl_as) with key DIR/FILE.key.
static void s_client_file (const char *name, const char *file)
{
    char *client = jad_strdup_printf ("%s/%s.jadctl.yaml", fleet->dir, name);
    char *text = jad_strdup_printf ("controller: 127.0.0.1:%d\ncontroller-key: '%s'\nkey: %s.key\n",
                                    fleet->port + 2, fleet->curve_key, file);
    jt_write_file (client, text, 0600);
    free (text);
    free (client);
}

//  Register operator NAME with roles (and `extra` flags, e.g. --expires)
//  through jadctl as the admin, with a new key DIR/NAME.key and a client
//  file for jt_jadctl_as.
static void s_operator (const char *name, const char *roles, const char *extra)
{
    char curve[41], signing[65];
    s_keygen (name, curve, signing);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output,
                             "operator add %s --role %s --public-key '%s' --signing-key %s %s",
                             name, roles, curve, signing, extra),
                  0, "%s", output);
    free (output);
    s_client_file (name, name);
}

//  The audit rows of operator `name` whose command is `command` and whose
//  outcome starts with `outcome`.
static int s_audited (const char *name, const char *command, const char *outcome)
{
    json_t *reply = s_json (0, "audit");
    int count = 0;
    size_t index;
    json_t *entry;
    json_array_foreach (json_object_get (reply, "audit"), index, entry)
    {
        const char *who = json_string_value (json_object_get (entry, "operator"));
        const char *what = json_string_value (json_object_get (entry, "command"));
        const char *how = json_string_value (json_object_get (entry, "outcome"));
        if (who && what && how && streq (who, name) && streq (what, command) &&
            strncmp (how, outcome, strlen (outcome)) == 0)
            count++;
    }
    json_decref (reply);
    return count;
}

//  An API connection of our own with key file DIR/FILE.key: a DEALER that
//  stays connected between requests, as jadctl --wait does.
static zsock_t *s_session (const char *file)
{
    char *path = jad_strdup_printf ("%s/%s.key", fleet->dir, file);
    char err[256];
    jad_keypair_t *pair = jad_keypair_load (path, err, sizeof err);
    cr_assert_not_null (pair, "%s", err);
    zcert_t *cert = zcert_new_from (jad_keypair_public (pair), jad_keypair_secret (pair));
    jad_keypair_destroy (&pair);
    free (path);
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    zcert_apply (cert, sock);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (sock, fleet->curve_key);
    zsock_set_linger (sock, 0);
    zsock_set_rcvtimeo (sock, 10000);
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", fleet->port + 2), 0);
    return sock;
}

//  Send `command` on an open session; the response (caller destroys).
static jad_api_response_t *s_ask (zsock_t *sock, uint64_t id, const char *command)
{
    jad_api_request_t request = {.request_id = id, .command = (char *)command};
    zchunk_t *wire = jad_api_request_encode (&request);
    cr_assert_not_null (wire);
    cr_assert_eq (zsock_send (sock, "b", zchunk_data (wire), zchunk_size (wire)), 0);
    zchunk_destroy (&wire);
    zframe_t *frame = zframe_recv (sock);
    cr_assert_not_null (frame, "no answer to '%s'", command);
    jad_api_response_t *response =
        jad_api_response_decode (zframe_data (frame), zframe_size (frame), NULL);
    zframe_destroy (&frame);
    cr_assert_not_null (response);
    cr_assert_eq (response->request_id, id);
    return response;
}

//  Row 42: removal cuts an open session at its next request (ZAP is only
//  asked at the handshake) and refuses the key's new connections; both
//  exit 3 and are audited. The last admin is not removed.
Test (operators, a_removed_operator_is_cut_mid_session_and_refused_at_the_handshake)
{
    s_fleet ();
    s_operator ("amy", "deployer", "");
    zsock_t *session = s_session ("amy");
    jad_api_response_t *response = s_ask (session, 1, "ping");
    cr_assert_eq (response->status, 0, "%s", response->error ? response->error : "");
    jad_api_response_destroy (&response);

    json_t *removed = s_json (0, "operator remove amy");
    cr_assert_str_eq (
        json_string_value (json_object_get (json_object_get (removed, "operator"), "state")),
        "removed");
    json_decref (removed);

    //  the same connection, its next request: refused, exit 3's status
    response = s_ask (session, 2, "ping");
    cr_assert_eq (response->status, 3);
    cr_assert (response->error && strstr (response->error, "operator 'amy' was removed at "), "%s",
               response->error ? response->error : "(no error)");
    jad_api_response_destroy (&response);
    response = s_ask (session, 3, "deploy");
    cr_assert_eq (response->status, 3, "a command she could run before");
    jad_api_response_destroy (&response);
    zsock_destroy (&session);
    cr_assert_eq (s_audited ("amy", "ping", "refused: operator 'amy' was removed at "), 1);
    cr_assert_eq (s_audited ("amy", "deploy", "refused: operator 'amy' was removed at "), 1);

    //  a new connection: the handshake is refused, jadctl exits 3, audited
    char *output = NULL;
    cr_assert_eq (jt_jadctl_as (fleet, "amy", &output, "status"), 3, "%s", output);
    cr_assert (strstr (output, "refused this operator key"), "%s", output);
    free (output);
    cr_assert_eq (s_audited ("amy", "(connect)", "refused: operator 'amy' was removed at "), 1);

    //  listed as removed with --all only; the name may be given again, the
    //  key never
    json_t *list = s_json (0, "operator list");
    cr_assert_eq (json_array_size (json_object_get (list, "operators")), 1, "the admin only");
    json_decref (list);
    list = s_json (0, "operator list --all");
    json_t *row = json_array_get (json_object_get (list, "operators"), 1);
    cr_assert_str_eq (json_string_value (json_object_get (row, "name")), "amy");
    cr_assert_str_eq (json_string_value (json_object_get (row, "state")), "removed");
    char *old_key = strdup (json_string_value (json_object_get (row, "public_key")));
    json_decref (list);
    cr_assert_eq (
        jt_jadctl (fleet, &output, "operator add amy --role viewer --public-key '%s'", old_key), 2,
        "%s", output);
    cr_assert (strstr (output, "that public key is already registered"), "%s", output);
    free (output);
    free (old_key);
    cr_assert_eq (jt_jadctl (fleet, &output, "operator remove amy"), 2, "%s", output);
    cr_assert (strstr (output, "no operator 'amy'"), "%s", output);
    free (output);

    //  the last admin stays
    cr_assert_eq (jt_jadctl (fleet, &output, "operator remove admin"), 2, "%s", output);
    cr_assert (strstr (output, "'admin' is the last admin whose key is current"), "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "status"), 0, "%s", output);
    free (output);
}

//  Row 42: an expired key gets exit 3 and an audit row, naming when it
//  expired; an admin renews it.
Test (operators, an_expired_key_is_refused_with_exit_3_until_renewed)
{
    s_fleet ();
    char *output = NULL;
    cr_assert_eq (
        jt_jadctl (fleet, &output, "operator add bob --role viewer --public-key x --expires 90x"),
        2, "%s", output);
    cr_assert (strstr (output, "--public-key must be a CURVE public key"), "%s", output);
    free (output);
    char curve[41], signing[65];
    s_keygen ("bob", curve, signing);
    cr_assert_eq (jt_jadctl (fleet, &output,
                             "operator add bob --role viewer --public-key '%s' --expires 90x",
                             curve),
                  2, "%s", output);
    cr_assert (strstr (output, "--expires '90x' is not a duration"), "%s", output);
    free (output);
    s_client_file ("bob", "bob");
    cr_assert_eq (jt_jadctl_as (fleet, "bob", &output, "status"), 3, "nothing was added: %s",
                  output);
    free (output);

    json_t *added =
        s_json (0, "operator add bob --role viewer --public-key '%s' --expires 90d", curve);
    json_t *expires = json_object_get (json_object_get (added, "operator"), "expires");
    cr_assert (json_is_string (expires), "an expiry is shown");
    json_decref (added);
    cr_assert_eq (jt_jadctl_as (fleet, "bob", &output, "status"), 0, "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "operator list"), 0, "%s", output);
    cr_assert (strstr (output, "EXPIRES"), "%s", output);
    cr_assert (jt_count (output, "active") == 2, "%s", output);
    free (output);

    //  expiring in a second: refused once past it (waited for, bounded)
    json_t *updated = s_json (0, "operator update bob --expires 1s");
    json_decref (updated);
    int64_t deadline = jad_mono_ms () + 20000;
    int rc = 0;
    while (jad_mono_ms () < deadline) {
        rc = jt_jadctl_as (fleet, "bob", &output, "status");
        if (rc != 0)
            break;
        free (output);
        output = NULL;
    }
    cr_assert_eq (rc, 3, "%s", output ? output : "(still served after 20 s)");
    cr_assert (strstr (output, "the key of operator 'bob' expired at "), "%s", output);
    cr_assert (strstr (output, "jadctl operator update bob --expires DURATION"), "%s", output);
    free (output);
    cr_assert (s_audited ("bob", "status", "refused: the key of operator 'bob' expired at ") >= 1);
    json_t *list = s_json (0, "operator list");
    json_t *row = json_array_get (json_object_get (list, "operators"), 1);
    cr_assert_str_eq (json_string_value (json_object_get (row, "state")), "expired");
    json_decref (list);

    //  renewed: served again
    updated = s_json (0, "operator update bob --expires never");
    cr_assert (json_is_null (json_object_get (json_object_get (updated, "operator"), "expires")));
    json_decref (updated);
    cr_assert_eq (jt_jadctl_as (fleet, "bob", &output, "status"), 0, "%s", output);
    free (output);
}

//  Row 42: a rotated key works at once, the old one is refused (exit 3,
//  audited) and never registered again; the operator keeps name and roles.
Test (operators, a_rotated_key_works_and_the_old_one_is_refused)
{
    s_fleet ();
    s_operator ("cara", "deployer", "--expires 30d");
    char curve[41], signing[65];
    s_keygen ("cara-new", curve, signing);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "operator rotate cara --signing-key %s", signing), 2,
                  "%s", output);
    cr_assert (strstr (output, "needs --public-key KEY"), "%s", output);
    free (output);
    zsock_t *session = s_session ("cara");
    cr_assert_eq (jt_jadctl (fleet, &output, "operator rotate cara --public-key '%s'", curve), 0,
                  "%s", output);
    cr_assert (strstr (output, "operator: cara\n"), "%s", output);
    cr_assert (strstr (output, "state: active\n"), "%s", output);
    free (output);

    //  the old key: an open session is refused at its next request, a new
    //  connection at the handshake
    jad_api_response_t *response = s_ask (session, 1, "status");
    cr_assert_eq (response->status, 3);
    cr_assert (response->error &&
                   strstr (response->error, "this key of operator 'cara' was replaced at "),
               "%s", response->error ? response->error : "(no error)");
    jad_api_response_destroy (&response);
    zsock_destroy (&session);
    cr_assert_eq (jt_jadctl_as (fleet, "cara", &output, "status"), 3, "%s", output);
    free (output);
    cr_assert_eq (s_audited ("cara", "status",
                             "refused: this key of operator 'cara' was "
                             "replaced at "),
                  1);
    cr_assert_eq (s_audited ("cara", "(connect)",
                             "refused: this key of operator 'cara' was "
                             "replaced at "),
                  1);

    //  the new key: the same operator
    s_client_file ("cara", "cara-new");
    cr_assert_eq (jt_jadctl_as (fleet, "cara", &output, "status"), 0, "%s", output);
    free (output);
    json_t *list = s_json (0, "operator list --all");
    size_t index;
    json_t *row;
    int current = 0, rotated = 0;
    json_array_foreach (json_object_get (list, "operators"), index, row)
    {
        if (!streq (json_string_value (json_object_get (row, "name")), "cara"))
            continue;
        const char *state = json_string_value (json_object_get (row, "state"));
        cr_assert_str_eq (json_string_value (json_object_get (row, "roles")), "deployer");
        cr_assert (json_is_string (json_object_get (row, "expires")), "its expiry is kept");
        if (streq (state, "active")) {
            current++;
            cr_assert_str_eq (json_string_value (json_object_get (row, "public_key")), curve);
        } else if (streq (state, "rotated"))
            rotated++;
    }
    json_decref (list);
    cr_assert_eq (current, 1);
    cr_assert_eq (rotated, 1);
    cr_assert_eq (s_audited ("admin", "operator.rotate", "ok"), 1);
    cr_assert_eq (jt_jadctl (fleet, &output, "operator rotate cara --public-key '%s'", curve), 2,
                  "%s", output);
    cr_assert (strstr (output, "that public key is already registered"), "%s", output);
    free (output);
}

//  Row 42: approvals count only while their operator's key is current:
//  removing (or letting expire) an approver makes the check missing
//  again and the deploy is refused. The admin approves out of the box
//  (init gives it a signing key).
Test (operators, approvals_of_removed_and_expired_operators_stop_counting)
{
    s_fleet ();
    jt_fleet_set_environments (fleet, "environments:\n"
                                      "  prod:\n"
                                      "    checks:\n"
                                      "      code-review: { approval: [tech-lead] }\n"
                                      "      rollback-plan: { approval: [product-owner] }\n"
                                      "      docs: { approval: [tech-lead] }\n");
    jt_fleet_restart_controller (fleet);
    jt_fleet_add_agent (fleet, "web-1", "prod");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000),
               "web-1 did not come online");
    s_operator ("amy", "tech-lead", "");
    s_operator ("pete", "product-owner", "");
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", NULL};
    char *archive = jt_make_release (fleet->dir, "web-1.0", files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web 1.0 %s", archive), 0, "%s", output);
    free (output);
    free (archive);
    cr_assert_eq (jt_jadctl_as (fleet, "amy", &output,
                                "release approve web 1.0 --env prod --check code-review"),
                  0, "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl_as (fleet, "pete", &output,
                                "release approve web 1.0 --env prod --check rollback-plan"),
                  0, "%s", output);
    free (output);
    //  the admin, with the signing key init gave it
    cr_assert_eq (jt_jadctl (fleet, &output, "release approve web 1.0 --env prod --check docs"), 0,
                  "%s", output);
    free (output);
    cr_assert_eq (jt_jadctl (fleet, &output, "release checks web 1.0 --env prod"), 0, "%s", output);
    cr_assert_eq (jt_count (output, " ok "), 3, "%s", output);
    free (output);

    //  amy is removed: her approval stops counting
    cr_assert_eq (jt_jadctl (fleet, &output, "operator remove amy"), 0, "%s", output);
    free (output);
    json_t *checks = s_json (0, "release checks web 1.0 --env prod");
    json_t *review = json_array_get (json_object_get (checks, "checks"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (review, "check")), "code-review");
    cr_assert_str_neq (json_string_value (json_object_get (review, "state")), "ok");
    json_decref (checks);
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env prod"), 2, "%s", output);
    cr_assert (strstr (output, "refused by checks: web 1.0 lacks 1 of prod's 3 checks: "
                               "code-review"),
               "%s", output);
    free (output);

    //  pete's key expires: his approval stops counting too
    json_t *updated = s_json (0, "operator update pete --expires 1s");
    json_decref (updated);
    int64_t deadline = jad_mono_ms () + 20000;
    bool lapsed = false;
    while (!lapsed && jad_mono_ms () < deadline) {
        cr_assert_eq (jt_jadctl (fleet, &output, "release checks web 1.0 --env prod"), 0, "%s",
                      output);
        lapsed = jt_count (output, " ok ") == 1;
        free (output);
    }
    cr_assert (lapsed, "pete's approval still counts 20 s after his key expired");
    cr_assert_eq (jt_jadctl (fleet, &output, "deploy web 1.0 --env prod"), 2, "%s", output);
    cr_assert (strstr (output, "lacks 2 of prod's 3 checks"), "%s", output);
    free (output);
}

//  Row 42: an emergency's approvals count only while their operator's key
//  is current: one given before the key expired no longer covers its role.
Test (operators, an_emergency_approval_lapses_with_its_operators_key)
{
    s_fleet ();
    jt_fleet_set_environments (fleet, "environments:\n"
                                      "  prod: { strategy: all, emergency_approvals: [tech-lead, "
                                      "product-owner] }\n");
    jt_fleet_restart_controller (fleet);
    jt_fleet_add_agent (fleet, "web-1", "prod");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000),
               "web-1 did not come online");
    s_operator ("amy", "tech-lead", "--expires 30d");
    s_operator ("pete", "product-owner", "");
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", NULL};
    char *archive = jt_make_release (fleet->dir, "web-1.0", files);
    char *output = NULL;
    cr_assert_eq (jt_jadctl (fleet, &output, "release add web 1.0 %s", archive), 0, "%s", output);
    free (output);
    free (archive);
    json_t *deploy = s_json (0, "deploy web 1.0 --env prod --emergency --reason 'payments down'");
    json_t *plan = json_object_get (deploy, "plan");
    cr_assert_str_eq (json_string_value (json_object_get (plan, "state")), "approval");
    char *plan_id = strdup (json_string_value (json_object_get (plan, "id")));
    json_decref (deploy);
    cr_assert_eq (jt_jadctl_as (fleet, "amy", &output, "plan approve %s", plan_id), 0, "%s",
                  output);
    cr_assert (strstr (output, "as tech-lead"), "%s", output);
    free (output);

    //  amy's key expires before the second approval
    json_t *updated = s_json (0, "operator update amy --expires 1s");
    json_decref (updated);
    int64_t deadline = jad_mono_ms () + 20000;
    int rc = 0;
    while (rc != 3 && jad_mono_ms () < deadline) {
        rc = jt_jadctl_as (fleet, "amy", &output, "status");
        free (output);
    }
    cr_assert_eq (rc, 3, "amy's key still served 20 s after it expired");
    cr_assert_eq (jt_jadctl_as (fleet, "pete", &output, "--json plan approve %s", plan_id), 0, "%s",
                  output);
    json_t *approved = json_loads (output, 0, NULL);
    cr_assert_not_null (approved, "%s", output);
    free (output);
    json_t *missing = json_object_get (json_object_get (approved, "approval"), "missing");
    cr_assert_eq (json_array_size (missing), 1);
    cr_assert_str_eq (json_string_value (json_array_get (missing, 0)), "tech-lead");
    json_decref (approved);
    json_t *shown = s_json (0, "plan show %s", plan_id);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_object_get (shown, "plan"), "state")), "approval",
        "the emergency ran on a lapsed approval");
    json_decref (shown);
    free (plan_id);
}
