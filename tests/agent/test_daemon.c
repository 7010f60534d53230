//  test_daemon - jadugar-agent run against a fake controller on loopback
//  SPDX-License-Identifier: MPL-2.0
//
//  The test plays the controller: a CURVE PUB on BASE and ROUTER on BASE+1
//  (no ZAP handler, so any client key is let in). It waits for the hello,
//  broadcasts a signed plan until it is acknowledged, serves the artifact
//  chunk by chunk, acknowledges reports, and checks the host ends up on
//  the new release and the agent stops cleanly on SIGTERM.

#include "agt_apply.h"
#include "jad_db.h"
#include "jad_envelope.h"
#include "jad_keys.h"
#include "jad_testlib.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#define AGENT_BIN JAD_BIN_DIR "/agent/jadugar-agent"

static char *s_dir;
static char *s_data;
static char *s_root;
static jad_keypair_t *s_curve;   //  controller CURVE pair
static jad_keypair_t *s_signer;  //  controller signing pair
static zsock_t *s_pub;
static zsock_t *s_router;
static int s_base;
static pid_t s_agent;
static uint64_t s_sequence;
static uint64_t s_unpacked_size;         //  what the next signed plans say, 0: unknown
static const char *s_target = "host-1";  //  the next signed plans' target

static zsock_t *s_server (int type, int port)
{
    zsock_t *sock = zsock_new (type);
    cr_assert_not_null (sock);
    char *secret = jad_keypair_curve_secret_z85 (s_curve);
    zsock_set_curve_server (sock, 1);
    zsock_set_curve_secretkey (sock, secret);
    zsock_set_curve_publickey (sock, jad_keypair_public_txt (s_curve));
    jad_secret_free (&secret);
    zsock_set_linger (sock, 0);
    cr_assert_eq (zsock_bind (sock, "tcp://127.0.0.1:%d", port), port);
    return sock;
}

static void setup (void)
{
    s_dir = jt_tempdir ("agt-daemon");
    s_data = jad_strdup_printf ("%s/data", s_dir);
    s_root = jad_strdup_printf ("%s/root", s_dir);
    s_curve = jad_keypair_new (JAD_KEY_CURVE);
    s_signer = jad_keypair_new (JAD_KEY_ED25519);
    cr_assert (s_curve && s_signer);
    s_base = jt_free_port_base (2);
    cr_assert (s_base > 0);
    s_pub = s_server (ZMQ_PUB, s_base);
    s_router = s_server (ZMQ_ROUTER, s_base + 1);
    char *output = NULL;
    int rc = jt_run (&output,
                     "'%s' init --data '%s' --controller 127.0.0.1:%d --controller-key '%s'"
                     " --signing-key %s --env dev --name host-1 --root '%s'",
                     AGENT_BIN, s_data, s_base, jad_keypair_public_txt (s_curve),
                     jad_keypair_public_txt (s_signer), s_root);
    cr_assert_eq (rc, 0, "init failed: %s", output);
    cr_assert (strstr (output, "name: host-1\n") != NULL, "%s", output);
    cr_assert (strstr (output, "public-key: ") != NULL, "%s", output);
    free (output);
    cr_assert_eq (
        jt_run (NULL, "sed -i 's/^heartbeat: .*/heartbeat: 300ms/' '%s/agent.yaml'", s_data), 0);
}

static void teardown (void)
{
    if (s_agent > 0)
        jt_kill9 (s_agent);
    zsock_destroy (&s_pub);
    zsock_destroy (&s_router);
    jad_keypair_destroy (&s_curve);
    jad_keypair_destroy (&s_signer);
    jt_rmtree (s_dir);
    free (s_dir);
    free (s_data);
    free (s_root);
}

TestSuite (daemon, .init = setup, .fini = teardown, .timeout = 60);

static void s_start_agent (void)
{
    char *log = jad_strdup_printf ("%s/agent.log", s_dir);
    char *argv[] = {AGENT_BIN, "run", "--data", s_data, "--verbose", NULL};
    s_agent = jt_spawn (log, argv);
    cr_assert (s_agent > 0);
    free (log);
}

//  Next AgentMsg from the agent within timeout_ms, routing id in *route.
static jad_agent_msg_t *s_recv (int timeout_ms, zframe_t **route)
{
    zpoller_t *poller = zpoller_new (s_router, NULL);
    void *which = zpoller_wait (poller, timeout_ms);
    zpoller_destroy (&poller);
    if (!which)
        return NULL;
    zmsg_t *msg = zmsg_recv (s_router);
    cr_assert_not_null (msg);
    cr_assert_eq (zmsg_size (msg), 2, "agent sends one frame");
    zframe_t *id = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *decoded = jad_agent_msg_decode (zframe_data (body), zframe_size (body), err);
    cr_assert_not_null (decoded, "agent sent something undecodable: %s", err);
    zframe_destroy (&body);
    zmsg_destroy (&msg);
    if (route) {
        zframe_destroy (route);
        *route = id;
    } else
        zframe_destroy (&id);
    return decoded;
}

static void s_send (zframe_t *route, const jad_ctl_msg_t *msg)
{
    zchunk_t *bytes = jad_ctl_msg_encode (msg);
    cr_assert_not_null (bytes);
    zmsg_t *out = zmsg_new ();
    zmsg_append (out, &(zframe_t *){zframe_dup (route)});
    zmsg_addmem (out, zchunk_data (bytes), zchunk_size (bytes));
    cr_assert_eq (zmsg_send (&out, s_router), 0);
    zchunk_destroy (&bytes);
}

static zchunk_t *s_signed_plan (const char *plan_id, const char *version, const uint8_t *sha,
                                uint64_t length)
{
    char *targets[] = {(char *)s_target};
    int64_t now = jad_now_ms ();
    jad_plan_t plan = {
        .plan_id = (char *)plan_id,
        .environment = "dev",
        .targets = targets,
        .target_count = 1,
        .sequence = ++s_sequence,
        .issued_at = now,
        .expires_at = now + 600000,
        .app = "web",
        .version = (char *)version,
        .artifact_length = length,
        .kind = JAD_PLAN_DEPLOY,
        .unpacked_size = s_unpacked_size,
    };
    memcpy (plan.artifact_sha256, sha, 32);
    zchunk_t *payload = jad_plan_encode (&plan);
    cr_assert_not_null (payload);
    jad_envelope_t *envelope = jad_envelope_sign (JAD_PAYLOAD_PLAN, zchunk_data (payload),
                                                  zchunk_size (payload), s_signer);
    zchunk_t *bytes = jad_envelope_encode (envelope);
    cr_assert_not_null (bytes);
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&payload);
    return bytes;
}

//  The smoke check runs `script` (a shell body); with `activate` (a shell
//  body, or NULL for none) an activate hook too.
static char *s_release_hooks (const char *version, const char *activate, const char *script)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/src-%s/hooks/smoke.sh", s_dir, version);
    char *text = jad_strdup_printf ("#!/bin/sh\n%s\n", script);
    jt_write_file (path, text, 0755);
    free (text);
    if (activate) {
        snprintf (path, sizeof path, "%s/src-%s/hooks/activate.sh", s_dir, version);
        text = jad_strdup_printf ("#!/bin/sh\n%s\n", activate);
        jt_write_file (path, text, 0755);
        free (text);
    }
    snprintf (path, sizeof path, "%s/src-%s/jadugar.yaml", s_dir, version);
    jt_write_file (path,
                   activate ? "hooks:\n  activate: ./hooks/activate.sh\n"
                              "  smoke:\n    - run: ./hooks/smoke.sh\n"
                            : "hooks:\n  smoke:\n    - run: ./hooks/smoke.sh\n",
                   0644);
    //  some bulk so the transfer takes several chunks
    cr_assert_eq (jt_run (NULL, "head -c 700000 /dev/urandom > '%s/src-%s/blob'", s_dir, version),
                  0);
    char *archive = jad_strdup_printf ("%s/web-%s.tgz", s_dir, version);
    cr_assert_eq (jt_run (NULL, "tar -C '%s/src-%s' -czf '%s' .", s_dir, version, archive), 0);
    return archive;
}

static char *s_release_smoke (const char *version, const char *script)
{
    return s_release_hooks (version, NULL, script);
}

static char *s_release (const char *version, int smoke_exit)
{
    char script[32];
    snprintf (script, sizeof script, "exit %d", smoke_exit);
    return s_release_smoke (version, script);
}

static char s_done_detail[JAD_MAX_DETAIL];  //  of the last outcome s_serve_plan saw
//  An apply helper the test stopped (SIGSTOP): s_serve_version lets it go
//  on (and sets this to 0) a second after its plan is acknowledged,
//  unless s_held_forever (the agent must kill it).
static pid_t s_held_helper;
static bool s_held_forever;
static int64_t s_acked_at;     //  when s_serve_version saw its plan acknowledged
static char s_reports[16384];  //  "step status detail" lines of the plan s_serve_plan served

//  Play the controller until the plan (of `version`) has its final report;
//  returns its status.
static uint32_t s_serve_version (const char *plan_id, const char *version, const char *archive,
                                 zframe_t **route, int *fetches)
{
    uint8_t sha[32];
    uint64_t length = 0;
    cr_assert_eq (jad_sha256_file (archive, sha, &length), 0);
    size_t size = 0;
    char *content = jad_file_read (archive, 100 * 1024 * 1024, &size);
    cr_assert_not_null (content);
    zchunk_t *plan = s_signed_plan (plan_id, version, sha, length);
    bool acked = false;
    uint32_t outcome = 0;
    s_reports[0] = 0;
    int64_t deadline = jad_mono_ms () + 30000;
    int64_t next_publish = 0, acked_at = 0;
    while (!outcome && jad_mono_ms () < deadline) {
        if (s_held_helper && !s_held_forever && acked && jad_mono_ms () - acked_at > 1000) {
            cr_assert_eq (kill (s_held_helper, SIGCONT), 0);
            s_held_helper = 0;
        }
        //  PUB is the fast path; a late subscriber misses it, so repeat
        if (!acked && jad_mono_ms () >= next_publish) {
            zstr_sendm (s_pub, "plan/dev/");
            zframe_t *frame = zframe_new (zchunk_data (plan), zchunk_size (plan));
            zframe_send (&frame, s_pub, 0);
            next_publish = jad_mono_ms () + 200;
        }
        jad_agent_msg_t *msg = s_recv (100, route);
        if (!msg)
            continue;
        if (msg->kind == JAD_AGENT_MSG_ACK) {
            cr_assert_str_eq (msg->ack.plan_id, plan_id);
            if (!acked)
                acked_at = s_acked_at = jad_mono_ms ();
            acked = true;
        } else if (msg->kind == JAD_AGENT_MSG_FETCH) {
            cr_assert_eq (memcmp (msg->fetch.sha256, sha, 32), 0);
            cr_assert (msg->fetch.length <= JAD_CHUNK_SIZE);
            (*fetches)++;
            jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_CHUNK};
            memcpy (reply.chunk.sha256, sha, 32);
            reply.chunk.offset = msg->fetch.offset;
            reply.chunk.total = length;
            uint64_t end = msg->fetch.offset + msg->fetch.length;
            reply.chunk.data = (uint8_t *)content + msg->fetch.offset;
            reply.chunk.data_size = (size_t)((end > length ? length : end) - msg->fetch.offset);
            s_send (*route, &reply);
        } else if (msg->kind == JAD_AGENT_MSG_REPORT) {
            jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_REPORT_ACK};
            reply.report_ack.incarnation = msg->report->incarnation;
            reply.report_ack.report_ids = &msg->report->report_id;
            reply.report_ack.report_id_count = 1;
            s_send (*route, &reply);
            size_t used = strlen (s_reports);
            if (streq (msg->report->plan_id, plan_id))
                snprintf (s_reports + used, sizeof s_reports - used, "%s %s %s\n",
                          msg->report->step, jad_report_status_name (msg->report->status),
                          msg->report->detail ? msg->report->detail : "");
            if (streq (msg->report->plan_id, plan_id) && streq (msg->report->step, AGT_STEP_DONE)) {
                outcome = msg->report->status;
                snprintf (s_done_detail, sizeof s_done_detail, "%s",
                          msg->report->detail ? msg->report->detail : "");
            }
        }
        jad_agent_msg_destroy (&msg);
    }
    cr_assert (acked, "the plan was acknowledged");
    free (content);
    zchunk_destroy (&plan);
    return outcome;
}

static uint32_t s_serve_plan (const char *plan_id, const char *archive, zframe_t **route,
                              int *fetches)
{
    return s_serve_version (plan_id, "1.0", archive, route, fetches);
}

static bool s_outbox_empty (void *arg)
{
    (void)arg;
    char *path = jad_strdup_printf ("%s/state.db", s_data);
    sqlite3 *db = NULL;
    int64_t count = -1;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout (db, 1000);
        if (jad_db_get_int (db, "SELECT count(*) FROM outbox", NULL, &count) != 0)
            count = -1;
    }
    sqlite3_close (db);
    free (path);
    return count == 0;
}

Test (daemon, hello_plan_fetch_apply_report_and_clean_stop)
{
    s_start_agent ();
    zframe_t *route = NULL;
    //  the first Status after a connect is a hello
    jad_agent_msg_t *msg = NULL;
    int64_t deadline = jad_mono_ms () + 10000;
    while (jad_mono_ms () < deadline) {
        msg = s_recv (500, &route);
        if (msg && msg->kind == JAD_AGENT_MSG_STATUS)
            break;
        jad_agent_msg_destroy (&msg);
    }
    cr_assert_not_null (msg, "no status from the agent");
    cr_assert (msg->status->hello, "first status says hello");
    cr_assert_str_eq (msg->status->name, "host-1");
    cr_assert_str_eq (msg->status->environment, "dev");
    cr_assert_eq (strlen (msg->status->incarnation), 16);
    jad_agent_msg_destroy (&msg);

    char *archive = s_release ("1.0", 0);
    int fetches = 0;
    cr_assert_eq (s_serve_plan ("plan-1", archive, &route, &fetches), JAD_REPORT_HEALTHY);
    cr_assert (fetches >= 3, "fetched in chunks: %d requests", fetches);
    char link[PATH_MAX], target[PATH_MAX];
    snprintf (link, sizeof link, "%s/web/current", s_root);
    ssize_t size = readlink (link, target, sizeof target - 1);
    cr_assert (size > 0);
    target[size] = 0;
    cr_assert_str_eq (target, "releases/1.0");

    //  heartbeats go on, now with the app; no hello
    deadline = jad_mono_ms () + 5000;
    bool seen = false;
    while (!seen && jad_mono_ms () < deadline) {
        msg = s_recv (500, &route);
        if (msg && msg->kind == JAD_AGENT_MSG_STATUS && msg->status->app_count == 1) {
            cr_assert_not (msg->status->hello);
            cr_assert_str_eq (msg->status->apps[0].app, "web");
            cr_assert_str_eq (msg->status->apps[0].version, "1.0");
            cr_assert_str_eq (msg->status->apps[0].health, "healthy");
            cr_assert (msg->status->last_sequence >= 1);
            seen = true;
        }
        jad_agent_msg_destroy (&msg);
    }
    cr_assert (seen, "status lists the app");

    //  the last ReportAck may still be on its way: wait for the outbox
    cr_assert (jt_wait_for (s_outbox_empty, NULL, 5000), "acknowledged reports are deleted");
    cr_assert_eq (jt_stop (s_agent), 0, "clean exit on SIGTERM");
    s_agent = 0;
    char *db_path = jad_strdup_printf ("%s/state.db", s_data);
    sqlite3 *db = NULL;
    cr_assert_eq (sqlite3_open (db_path, &db), SQLITE_OK);
    int64_t count = -1;
    cr_assert_eq (jad_db_get_int (db, "SELECT count(*) FROM outbox", NULL, &count), 0);
    if (count != 0) {
        char *log = jad_strdup_printf ("%s/agent.log", s_dir);
        char *text = jt_read_file (log);
        fprintf (stderr, "agent log:\n%s\n", text ? text : "");
        free (text);
        free (log);
    }
    cr_assert_eq (count, 0, "every acknowledged report left the outbox (%lld left)",
                  (long long)count);
    char *state = NULL;
    cr_assert_eq (
        jad_db_get_text (db, "SELECT state FROM plans WHERE plan_id = ?", "plan-1", &state), 0);
    cr_assert_str_eq (state, "done");
    free (state);
    sqlite3_close (db);
    free (db_path);
    zframe_destroy (&route);
    free (archive);
}

//  Where ROOT/web/current points ("" if nowhere). Caller frees.
static char *s_current (void)
{
    char link[PATH_MAX], target[PATH_MAX];
    snprintf (link, sizeof link, "%s/web/current", s_root);
    ssize_t size = readlink (link, target, sizeof target - 1);
    target[size > 0 ? size : 0] = 0;
    return strdup (target);
}

Test (daemon, an_apply_helper_that_dies_before_any_release_was_current_removes_current)
{
    s_start_agent ();
    //  the smoke check's parent is the apply helper
    char *archive = s_release_smoke ("1.0", "kill -KILL $PPID\nexit 0");
    zframe_t *route = NULL;
    int fetches = 0;
    uint32_t outcome = s_serve_plan ("plan-lost", archive, &route, &fetches);
    cr_expect_eq (outcome, JAD_REPORT_FAILED);
    cr_expect_str_eq (s_done_detail, "apply helper exited with signal 9 during smoke; rolled back: "
                                     "no release is current");
    cr_expect (strstr (s_reports, "smoke failed apply helper exited with signal 9 during smoke\n"),
               "%s", s_reports);
    cr_expect (strstr (s_reports, "rollback rolled_back no previous release: current removed\n"),
               "%s", s_reports);
    char *current = s_current ();
    cr_expect_str_eq (current, "", "no previous release: current is removed");
    free (current);
    //  the daemon lives on and stops cleanly
    cr_assert_eq (jt_stop (s_agent), 0);
    s_agent = 0;
    zframe_destroy (&route);
    free (archive);
}

//  Deploy 1.0 (its activate hook counts its runs in shared/activated),
//  then 2.0 whose smoke check kills the helper: the agent rolls back.
//  `activate_1` is 1.0's activate hook body after the count.
static void s_lost_after_switch (const char *activate_1, zframe_t **route)
{
    s_start_agent ();
    char *body = jad_strdup_printf (
        "echo \"$JADUGAR_VERSION\" >> \"$JADUGAR_SHARED_DIR/activated\"\n%s", activate_1);
    char *first = s_release_hooks ("1.0", body, "exit 0");
    free (body);
    int fetches = 0;
    cr_assert_eq (s_serve_version ("plan-1", "1.0", first, route, &fetches), JAD_REPORT_HEALTHY,
                  "%s", s_reports);
    char *second = s_release_hooks ("2.0", NULL, "kill -KILL $PPID\nexit 0");
    cr_assert_eq (s_serve_version ("plan-2", "2.0", second, route, &fetches), JAD_REPORT_FAILED);
    free (first);
    free (second);
}

Test (daemon, an_apply_helper_lost_after_the_switch_is_rolled_back_by_the_agent)
{
    zframe_t *route = NULL;
    s_lost_after_switch ("", &route);
    cr_expect_str_eq (s_done_detail, "apply helper exited with signal 9 during smoke; rolled back: "
                                     "current -> releases/1.0");
    cr_expect (strstr (s_reports, "smoke failed apply helper exited with signal 9 during smoke\n"),
               "%s", s_reports);
    cr_expect (strstr (s_reports, "rollback started \nrollback rolled_back current -> releases/1.0;"
                                  " activate ran\n"),
               "%s", s_reports);
    char *current = s_current ();
    cr_expect_str_eq (current, "releases/1.0");
    free (current);
    //  1.0's activate ran again, as after any failing step
    char *marker = jad_strdup_printf ("%s/web/shared/activated", s_root);
    char *runs = jt_read_file (marker);
    cr_expect_str_eq (runs, "1.0\n1.0\n");
    free (runs);
    free (marker);
    //  and the host says so: web 1.0, rolled back
    bool seen = false;
    int64_t deadline = jad_mono_ms () + 5000;
    while (!seen && jad_mono_ms () < deadline) {
        jad_agent_msg_t *msg = s_recv (500, &route);
        if (msg && msg->kind == JAD_AGENT_MSG_STATUS && msg->status->app_count == 1) {
            cr_expect_str_eq (msg->status->apps[0].version, "1.0");
            cr_expect_str_eq (msg->status->apps[0].health, "rolled-back");
            seen = true;
        }
        jad_agent_msg_destroy (&msg);
    }
    cr_expect (seen, "no status with the app");
    cr_assert_eq (jt_stop (s_agent), 0);
    s_agent = 0;
    zframe_destroy (&route);
}

Test (daemon, a_rollback_whose_helper_is_lost_too_says_where_the_host_is)
{
    zframe_t *route = NULL;
    //  1.0's activate kills its helper when it runs for the rollback
    s_lost_after_switch ("[ \"$JADUGAR_PREVIOUS_VERSION\" = 2.0 ] && kill -KILL $PPID\nexit 0",
                         &route);
    cr_expect_str_eq (s_done_detail,
                      "apply helper exited with signal 9 during smoke; the rollback was lost too "
                      "(apply helper exited with signal 9 during rollback): current -> "
                      "releases/1.0");
    cr_expect (strstr (s_reports, "rollback failed apply helper exited with signal 9 during "
                                  "rollback\n"),
               "%s", s_reports);
    //  no third helper: the agent runs on
    cr_assert_eq (jt_stop (s_agent), 0);
    s_agent = 0;
    zframe_destroy (&route);
}

Test (daemon, a_signed_unpacked_size_that_does_not_fit_is_refused_before_unpacking)
{
    s_start_agent ();
    char *archive = s_release ("1.0", 0);
    s_unpacked_size = 1ULL << 60;  //  signed by the controller; no disk has it
    zframe_t *route = NULL;
    int fetches = 0;
    cr_assert_eq (s_serve_plan ("plan-big", archive, &route, &fetches), JAD_REPORT_FAILED);
    s_unpacked_size = 0;
    cr_expect (strstr (s_done_detail, "unpack: not enough space: releases/1.0 needs "
                                      "1152921504606846976 bytes"),
               "%s", s_done_detail);
    cr_expect (strstr (s_reports, "unpack started"), "%s", s_reports);
    cr_expect_null (strstr (s_reports, "switch "), "%s", s_reports);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/releases/1.0", s_root);
    cr_assert_neq (access (path, F_OK), 0, "nothing unpacked");
    cr_assert_eq (jt_stop (s_agent), 0);
    s_agent = 0;
    zframe_destroy (&route);
    free (archive);
}

Test (daemon, plans_for_other_hosts_are_counted_and_logged_at_debug_level_only)
{
    s_start_agent ();
    zframe_t *route = NULL;
    //  the agent is up when it says hello
    jad_agent_msg_t *msg = NULL;
    int64_t deadline = jad_mono_ms () + 10000;
    while (!(msg && msg->kind == JAD_AGENT_MSG_STATUS) && jad_mono_ms () < deadline) {
        jad_agent_msg_destroy (&msg);
        msg = s_recv (500, &route);
    }
    cr_assert_not_null (msg);
    jad_agent_msg_destroy (&msg);
    //  a rollout's batch for host-2, on the environment's shared topic,
    //  and a plan with a broken signature
    s_target = "host-2";
    uint8_t sha[32] = {1};
    zchunk_t *other = s_signed_plan ("plan-other", "1.0", sha, 100);
    s_target = "host-1";
    zchunk_t *forged = s_signed_plan ("plan-forged", "1.0", sha, 100);
    zchunk_data (forged)[zchunk_size (forged) - 1] ^= 0x01;
    uint64_t not_target = 0, bad_signature = 0;
    deadline = jad_mono_ms () + 15000;
    int64_t next_publish = 0;
    while ((!not_target || !bad_signature) && jad_mono_ms () < deadline) {
        if (jad_mono_ms () >= next_publish) {
            zchunk_t *plans[] = {other, forged};
            for (int which = 0; which < 2; which++) {
                zstr_sendm (s_pub, "plan/dev/");
                zframe_t *frame =
                    zframe_new (zchunk_data (plans[which]), zchunk_size (plans[which]));
                zframe_send (&frame, s_pub, 0);
            }
            next_publish = jad_mono_ms () + 300;
        }
        msg = s_recv (100, &route);
        if (msg && msg->kind == JAD_AGENT_MSG_STATUS)
            for (size_t index = 0; index < msg->status->refusal_count; index++) {
                if (streq (msg->status->refusals[index].name, "not_target"))
                    not_target = msg->status->refusals[index].value;
                if (streq (msg->status->refusals[index].name, "bad_signature"))
                    bad_signature = msg->status->refusals[index].value;
            }
        cr_assert (!msg || msg->kind != JAD_AGENT_MSG_ACK, "a refused plan was acknowledged");
        jad_agent_msg_destroy (&msg);
    }
    cr_assert_gt (not_target, 0, "plans for other hosts are counted");
    cr_assert_gt (bad_signature, 0);
    cr_assert_eq (jt_stop (s_agent), 0);
    s_agent = 0;
    char *log_path = jad_strdup_printf ("%s/agent.log", s_dir);
    char *log = jt_read_file (log_path);
    size_t debug = 0, warned = 0, forged_warned = 0;
    for (char *line = strtok (log, "\n"); line; line = strtok (NULL, "\n")) {
        if (strstr (line, "reason=not_target") && strncmp (line, "D: ", 3) == 0)
            debug++;
        else if (strstr (line, "reason=not_target"))
            warned++;
        if (strstr (line, "reason=bad_signature") && strncmp (line, "W: ", 3) == 0)
            forged_warned++;
    }
    cr_expect_gt (debug, 0, "no debug line for another host's plan");
    cr_expect_eq (warned, 0, "another host's plan logged above debug level");
    cr_expect_gt (forged_warned, 0, "a forged plan is still a warning");
    free (log);
    free (log_path);
    zchunk_destroy (&other);
    zchunk_destroy (&forged);
    zframe_destroy (&route);
}

Test (daemon, tampered_artifact_fails_fetch_before_unpack)
{
    s_start_agent ();
    char *archive = s_release ("1.0", 0);
    //  the plan signs the real hash; the store serves other bytes
    uint8_t sha[32];
    uint64_t length = 0;
    cr_assert_eq (jad_sha256_file (archive, sha, &length), 0);
    size_t size = 0;
    char *content = jad_file_read (archive, 100 * 1024 * 1024, &size);
    content[size / 2] ^= 0x01;
    zchunk_t *plan = s_signed_plan ("plan-bad", "1.0", sha, length);
    zframe_t *route = NULL;
    uint32_t outcome = 0;
    char detail[JAD_MAX_DETAIL] = "";
    int64_t deadline = jad_mono_ms () + 30000, next_publish = 0;
    bool acked = false;
    while (!outcome && jad_mono_ms () < deadline) {
        if (!acked && jad_mono_ms () >= next_publish) {
            zstr_sendm (s_pub, "plan/dev/");
            zframe_t *frame = zframe_new (zchunk_data (plan), zchunk_size (plan));
            zframe_send (&frame, s_pub, 0);
            next_publish = jad_mono_ms () + 200;
        }
        jad_agent_msg_t *msg = s_recv (100, &route);
        if (!msg)
            continue;
        if (msg->kind == JAD_AGENT_MSG_ACK)
            acked = true;
        else if (msg->kind == JAD_AGENT_MSG_FETCH) {
            jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_CHUNK};
            memcpy (reply.chunk.sha256, sha, 32);
            reply.chunk.offset = msg->fetch.offset;
            reply.chunk.total = length;
            uint64_t end = msg->fetch.offset + msg->fetch.length;
            reply.chunk.data = (uint8_t *)content + msg->fetch.offset;
            reply.chunk.data_size = (size_t)((end > length ? length : end) - msg->fetch.offset);
            s_send (route, &reply);
        } else if (msg->kind == JAD_AGENT_MSG_REPORT) {
            if (streq (msg->report->step, "fetch") && msg->report->status == JAD_REPORT_FAILED)
                snprintf (detail, sizeof detail, "%s", msg->report->detail);
            if (streq (msg->report->step, AGT_STEP_DONE))
                outcome = msg->report->status;
            cr_assert_str_neq (msg->report->step, "unpack", "nothing is unpacked");
        }
        jad_agent_msg_destroy (&msg);
    }
    cr_assert_eq (outcome, JAD_REPORT_FAILED);
    cr_assert (strstr (detail, "SHA-256") != NULL, "fetch detail: %s", detail);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/web/releases/1.0", s_root);
    cr_assert_neq (access (path, F_OK), 0);
    snprintf (path, sizeof path, "%s/web/current", s_root);
    cr_assert_neq (access (path, F_OK), 0);
    cr_assert_eq (jt_stop (s_agent), 0);
    s_agent = 0;
    zframe_destroy (&route);
    zchunk_destroy (&plan);
    free (content);
    free (archive);
}

Test (daemon, garbage_on_every_socket_is_dropped)
{
    s_start_agent ();
    zframe_t *route = NULL;
    jad_agent_msg_t *msg = NULL;
    int64_t deadline = jad_mono_ms () + 10000;
    while (!msg && jad_mono_ms () < deadline)
        msg = s_recv (500, &route);
    cr_assert_not_null (msg);
    jad_agent_msg_destroy (&msg);
    for (int index = 0; index < 50; index++) {
        zstr_sendx (s_pub, "plan/dev/", "garbage", NULL);
        zstr_sendx (s_pub, "plan/dev/", NULL);
        zstr_sendx (s_pub, "plan/dev/", "a", "b", NULL);
        zmsg_t *out = zmsg_new ();
        zmsg_append (out, &(zframe_t *){zframe_dup (route)});
        zmsg_addstr (out, "\xff\xff\xff garbage");
        zmsg_send (&out, s_router);
        out = zmsg_new ();
        zmsg_append (out, &(zframe_t *){zframe_dup (route)});
        zmsg_addstr (out, "one");
        zmsg_addstr (out, "two");
        zmsg_send (&out, s_router);
    }
    //  still alive and heartbeating
    usleep (500 * 1000);
    bool alive = false;
    deadline = jad_mono_ms () + 5000;
    while (!alive && jad_mono_ms () < deadline) {
        msg = s_recv (500, &route);
        alive = msg && msg->kind == JAD_AGENT_MSG_STATUS;
        jad_agent_msg_destroy (&msg);
    }
    cr_assert (alive, "agent heartbeats after garbage");
    cr_assert_eq (jt_stop (s_agent), 0);
    s_agent = 0;
    zframe_destroy (&route);
}

//  Answer fetches and ack reports until a report matches step/status
//  (status 0: any); returns true if seen. Publishes `plan` until acked.
static bool s_pump_until (zchunk_t *plan, const char *content, const uint8_t *sha, uint64_t length,
                          zframe_t **route, const char *step, uint32_t status)
{
    int64_t deadline = jad_mono_ms () + 30000, next_publish = 0;
    bool acked = plan == NULL;
    while (jad_mono_ms () < deadline) {
        if (!acked && jad_mono_ms () >= next_publish) {
            zstr_sendm (s_pub, "plan/dev/");
            zframe_t *frame = zframe_new (zchunk_data (plan), zchunk_size (plan));
            zframe_send (&frame, s_pub, 0);
            next_publish = jad_mono_ms () + 200;
        }
        jad_agent_msg_t *msg = s_recv (100, route);
        if (!msg)
            continue;
        bool found = false;
        if (msg->kind == JAD_AGENT_MSG_ACK)
            acked = true;
        else if (msg->kind == JAD_AGENT_MSG_FETCH && content) {
            jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_CHUNK};
            memcpy (reply.chunk.sha256, sha, 32);
            reply.chunk.offset = msg->fetch.offset;
            reply.chunk.total = length;
            uint64_t end = msg->fetch.offset + msg->fetch.length;
            reply.chunk.data = (uint8_t *)content + msg->fetch.offset;
            reply.chunk.data_size = (size_t)((end > length ? length : end) - msg->fetch.offset);
            s_send (*route, &reply);
        } else if (msg->kind == JAD_AGENT_MSG_REPORT) {
            jad_ctl_msg_t reply = {.kind = JAD_CTL_MSG_REPORT_ACK};
            reply.report_ack.incarnation = msg->report->incarnation;
            reply.report_ack.report_ids = &msg->report->report_id;
            reply.report_ack.report_id_count = 1;
            s_send (*route, &reply);
            found = streq (msg->report->step, step) && (!status || msg->report->status == status);
        }
        jad_agent_msg_destroy (&msg);
        if (found)
            return true;
    }
    return false;
}

Test (daemon, crash_during_smoke_is_reported_interrupted_then_converges)
{
    //  smoke sleeps the first time only, long enough to be killed in it
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/src-1.0/hooks/smoke.sh", s_dir);
    jt_write_file (path,
                   "#!/bin/sh\nif [ ! -e \"$JADUGAR_SHARED_DIR/slept\" ]; then\n"
                   "  touch \"$JADUGAR_SHARED_DIR/slept\"; echo $$ > \"$JADUGAR_SHARED_DIR/pid\"\n"
                   "  exec sleep 30\nfi\nexit 0\n",
                   0755);
    snprintf (path, sizeof path, "%s/src-1.0/jadugar.yaml", s_dir);
    jt_write_file (path, "hooks:\n  smoke:\n    - run: ./hooks/smoke.sh\n      timeout: 60s\n",
                   0644);
    char *archive = jad_strdup_printf ("%s/web-1.0.tgz", s_dir);
    cr_assert_eq (jt_run (NULL, "tar -C '%s/src-1.0' -czf '%s' .", s_dir, archive), 0);
    uint8_t sha[32];
    uint64_t length = 0;
    cr_assert_eq (jad_sha256_file (archive, sha, &length), 0);
    size_t size = 0;
    char *content = jad_file_read (archive, 10 * 1024 * 1024, &size);
    zchunk_t *plan = s_signed_plan ("plan-crash", "1.0", sha, length);

    s_start_agent ();
    zframe_t *route = NULL;
    cr_assert (s_pump_until (plan, content, sha, length, &route, "smoke", JAD_REPORT_STARTED));
    usleep (300 * 1000);  //  the hook is sleeping now
    jt_kill9 (s_agent);
    char *pid_path = jad_strdup_printf ("%s/web/shared/pid", s_root);
    char *pid_text = jt_read_file (pid_path);
    if (pid_text)
        kill ((pid_t)atoi (pid_text), SIGKILL);
    free (pid_text);
    free (pid_path);

    s_start_agent ();
    cr_assert (s_pump_until (NULL, content, sha, length, &route, "smoke", JAD_REPORT_INTERRUPTED),
               "the interrupted step is reported as such");
    cr_assert (s_pump_until (NULL, content, sha, length, &route, AGT_STEP_DONE, JAD_REPORT_HEALTHY),
               "the plan is applied again and converges");
    char link[PATH_MAX], target[PATH_MAX];
    snprintf (link, sizeof link, "%s/web/current", s_root);
    ssize_t length_read = readlink (link, target, sizeof target - 1);
    cr_assert (length_read > 0);
    target[length_read] = 0;
    cr_assert_str_eq (target, "releases/1.0");
    cr_assert_eq (jt_stop (s_agent), 0);
    s_agent = 0;
    zframe_destroy (&route);
    zchunk_destroy (&plan);
    free (content);
    free (archive);
}

//  Whether process `pid` was started with the argument `arg`.
static bool s_has_arg (long pid, const char *arg)
{
    char path[64], text[4096];
    snprintf (path, sizeof path, "/proc/%ld/cmdline", pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    size_t got = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text[got] = 0;
    for (size_t at = 0; at < got; at += strlen (text + at) + 1)
        if (streq (text + at, arg))
            return true;
    return false;
}

//  The agent's apply helper (its child `jadugar-apply --apply`; the
//  sampler's scrapes and smoke checks are children too), or 0 if none.
static pid_t s_helper_pid (void)
{
    DIR *proc = opendir ("/proc");
    cr_assert_not_null (proc);
    pid_t found = 0;
    struct dirent *entry;
    while (!found && (entry = readdir (proc))) {
        char *end = NULL;
        long pid = strtol (entry->d_name, &end, 10);
        if (pid <= 0 || *end)
            continue;
        char path[64], text[512] = "";
        snprintf (path, sizeof path, "/proc/%ld/stat", pid);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;  //  gone meanwhile
        size_t got = fread (text, 1, sizeof text - 1, file);
        fclose (file);
        text[got] = 0;
        //  "pid (comm) state ppid ..."
        const char *close = strrchr (text, ')');
        char state = 0;
        long ppid = 0;
        if (strstr (text, "(jadugar-apply)") && close &&
            sscanf (close + 1, " %c %ld", &state, &ppid) == 2 && ppid == (long)s_agent &&
            state != 'Z' && s_has_arg (pid, "--apply"))
            found = (pid_t)pid;
    }
    closedir (proc);
    return found;
}

//  A controller sends the next plan the moment a host reports the last
//  one done, while that plan's helper may still be exiting. The next plan
//  waits for it, and is not failed as "apply helper busy with another
//  job"; the agent goes on meanwhile (it acknowledges the plan). To hold
//  that moment open, the test stops the helper when it catches it still
//  running after the outcome (s_held_helper): the first time it lets it
//  go on a second later, the second time never, and the agent kills it;
//  the third time it stops the agent instead, which still ends cleanly.
Test (daemon, a_plan_sent_the_moment_the_last_one_is_done_waits_for_its_helper)
{
    char *archives[8];
    for (int index = 0; index < 8; index++) {
        char version[16];
        snprintf (version, sizeof version, "%d.0", index + 1);
        archives[index] = s_release (version, 0);
    }
    s_start_agent ();
    zframe_t *route = NULL;
    int fetches = 0;
    char *log = jad_strdup_printf ("%s/agent.log", s_dir);
    int caught = 0, round = 0, served = 0;
    while (round < 8 && caught < 3) {
        round++;
        char version[16], plan_id[32];
        snprintf (version, sizeof version, "%d.0", round);
        snprintf (plan_id, sizeof plan_id, "plan-%d", round);
        pid_t helper = round > 1 ? s_helper_pid () : 0;
        if (helper > 0 && kill (helper, SIGSTOP) == 0 && ++caught == 3) {
            //  a stop while the last helper hangs: the agent gives it its
            //  time, kills it, and exits 0
            cr_assert_eq (kill (s_agent, SIGTERM), 0);
            cr_assert_eq (jt_wait_exit (s_agent, 20000), 0, "the stop was not clean");
            s_agent = 0;
            char *text = jt_read_file (log);
            cr_assert_not_null (text);
            cr_expect_eq (jt_count (text, "does not exit; killing it"), 2, "%s", text);
            free (text);
            break;
        }
        if (helper > 0 && caught > 0) {
            s_held_helper = helper;
            s_held_forever = caught == 2;
        }
        int64_t started = jad_mono_ms ();
        uint32_t outcome =
            s_serve_version (plan_id, version, archives[round - 1], &route, &fetches);
        if (s_held_forever) {
            //  held for good: the agent killed it after its 5 s, and
            //  answered meanwhile
            cr_expect_lt (s_acked_at - started, 4000, "acknowledged after %lld ms",
                          (long long)(s_acked_at - started));
            cr_expect_geq (jad_mono_ms () - started, 2500, "killed before its time");
            cr_expect_eq (kill (s_held_helper, 0), -1, "the held helper is gone");
            cr_expect (jt_wait_file_has (log, "does not exit; killing it", 2000));
            s_held_helper = 0;
            s_held_forever = false;
        }
        cr_assert_eq (s_held_helper, 0, "%s ended while the last helper was still running: %s",
                      plan_id, s_done_detail);
        cr_assert_eq (outcome, JAD_REPORT_HEALTHY, "%s: %s\n%s", plan_id, s_done_detail, s_reports);
        served = round;
    }
    for (int index = 0; index < 8; index++)
        free (archives[index]);
    char *current = s_current ();
    char expected[32];
    snprintf (expected, sizeof expected, "releases/%d.0", served);
    cr_expect_str_eq (current, expected);
    free (current);
    cr_log_info ("caught the helper after its outcome %d times in %d rounds", caught, round);
    if (s_agent > 0) {
        cr_assert_eq (jt_stop (s_agent), 0);
        s_agent = 0;
    }
    free (log);
    zframe_destroy (&route);
}
