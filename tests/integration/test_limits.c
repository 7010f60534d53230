//  test_limits - one agent or one release cannot exhaust the controller
//  SPDX-License-Identifier: MPL-2.0
//
//  A real controller and agent on loopback (jt_fleet_*). An accepted
//  agent's key floods the metric protocol with new series and dates
//  samples in the year 2500 (SECURITY-TESTS row 32); an operator adds a
//  release archive that is a compression bomb (row 36). Meanwhile a CURVE
//  client pings the operator API: every ping must be answered. How fast is
//  a benchmark's business (tests/bench/limits.sh), not this test's.

#include "jad_keys.h"
#include "jad_testlib.h"
#include "jad_wire.h"

#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <czmq.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

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

TestSuite (limits, .init = s_setup, .fini = s_teardown, .timeout = 240);

//  The longest a ping may go unanswered before the test calls the
//  controller stuck (a deadline for the wait, not a performance goal).
#define S_PING_DEADLINE_MS 20000

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

//  A CURVE client of `type` to controller port BASE+offset with the key
//  pair in key file `path`.
static zsock_t *s_client (int type, int offset, const char *path)
{
    char err[256];
    jad_keypair_t *pair = jad_keypair_load (path, err, sizeof err);
    cr_assert_not_null (pair, "%s", err);
    zcert_t *cert = zcert_new_from (jad_keypair_public (pair), jad_keypair_secret (pair));
    jad_keypair_destroy (&pair);
    zsock_t *sock = zsock_new (type);
    cr_assert_not_null (sock);
    zcert_apply (cert, sock);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (sock, fleet->curve_key);
    zsock_set_linger (sock, 0);
    zsock_set_sndhwm (sock, 0);
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", fleet->port + offset), 0);
    return sock;
}

//  Ping the operator API on `api` and wait for the answer. Returns the
//  milliseconds it took, or -1 if no answer came within the deadline.
static int64_t s_ping (zsock_t *api, uint64_t id)
{
    jad_api_request_t request = {.request_id = id, .command = "ping"};
    zchunk_t *wire = jad_api_request_encode (&request);
    cr_assert_not_null (wire);
    int64_t start = zclock_mono ();
    cr_assert_eq (zsock_send (api, "b", zchunk_data (wire), zchunk_size (wire)), 0);
    zchunk_destroy (&wire);
    zpoller_t *poller = zpoller_new (api, NULL);
    int64_t took = -1;
    while (zclock_mono () - start < S_PING_DEADLINE_MS) {
        if (zpoller_wait (poller, 200) != api)
            continue;
        zframe_t *frame = zframe_recv (api);
        char err[JAD_ERR_LEN];
        jad_api_response_t *response =
            frame ? jad_api_response_decode (zframe_data (frame), zframe_size (frame), err) : NULL;
        zframe_destroy (&frame);
        bool mine = response && response->request_id == id;
        if (mine)
            cr_assert_eq (response->status, 0, "ping refused: %s",
                          response->error ? response->error : "");
        jad_api_response_destroy (&response);
        if (mine) {
            took = zclock_mono () - start;
            break;
        }
    }
    zpoller_destroy (&poller);
    return took;
}

static void s_send_agent_msg (zsock_t *sock, const jad_agent_msg_t *msg)
{
    zchunk_t *wire = jad_agent_msg_encode (msg);
    cr_assert_not_null (wire);
    cr_assert_eq (zsock_send (sock, "b", zchunk_data (wire), zchunk_size (wire)), 0);
    zchunk_destroy (&wire);
}

//  One batch of `count` new series flood_N (N from first), a sample each.
static void s_send_series (zsock_t *agent, int first, int count)
{
    char **names = calloc ((size_t)count, sizeof (char *));
    uint32_t *index = calloc ((size_t)count, sizeof (uint32_t));
    int64_t *times = calloc ((size_t)count, sizeof (int64_t));
    double *values = calloc ((size_t)count, sizeof (double));
    int64_t now = (int64_t)zclock_time ();
    for (int at = 0; at < count; at++) {
        cr_assert (asprintf (&names[at], "flood_%d", first + at) > 0);
        index[at] = (uint32_t)at;
        times[at] = now;
        values[at] = at;
    }
    jad_metric_batch_t batch = {.names = names,
                                .name_count = (size_t)count,
                                .name_index = index,
                                .times = times,
                                .values = values,
                                .sample_count = (size_t)count};
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_METRICS, .metrics = &batch};
    s_send_agent_msg (agent, &msg);
    for (int at = 0; at < count; at++)
        free (names[at]);
    free (names);
    free (index);
    free (times);
    free (values);
}

//  The first line of SQL's output on the controller's store.
static long long s_sql (const char *sql)
{
    char *output = NULL;
    cr_assert_eq (jt_fleet_sql (fleet, &output, sql), 0, "%s: %s", sql, output ? output : "");
    long long value = strtoll (output, NULL, 10);
    free (output);
    return value;
}

static bool s_log_has (const char *needle)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller.log", fleet->dir);
    char *text = jt_read_file (path);
    bool found = text && strstr (text, needle);
    free (text);
    return found;
}

//  Row 32: 100,000 new series from one agent are capped at
//  limits.series-per-agent (default 10,000), counted and logged, while the
//  API answers every ping; samples dated 2500 are refused.
Test (limits, a_series_flood_is_capped_and_the_api_keeps_answering)
{
    jt_fleet_add_agent (fleet, "alpha", "dev");
    cr_assert (jt_fleet_wait_status (fleet, "\"state\": \"online\"", 1, 30000));
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/alpha/agent/keys/agent.key", fleet->dir);
    zsock_t *agent = s_client (ZMQ_DEALER, 1, path);
    snprintf (path, sizeof path, "%s/controller/keys/admin.key", fleet->dir);
    zsock_t *api = s_client (ZMQ_DEALER, 2, path);
    cr_assert_geq (s_ping (api, 1), 0, "the API does not answer before the flood");

    //  25 batches of 4,000 new series each, all sent at once
    int64_t slowest = 0;
    for (int batch = 0; batch < 25; batch++)
        s_send_series (agent, batch * 4000, 4000);
    long long refused = 0;
    uint64_t id = 2;
    int64_t deadline = zclock_mono () + 120000;
    while ((refused = s_counter ("metric_series_refused")) < 90000 && zclock_mono () < deadline)
        for (int ping = 0; ping < 10; ping++) {
            int64_t took = s_ping (api, id++);
            cr_assert_geq (took, 0, "a ping went unanswered during the flood");
            slowest = took > slowest ? took : slowest;
        }
    //  (the agent's own host metrics count against its cap too)
    cr_assert_geq (refused, 90000, "100,000 new series against a cap of 10,000: %lld refused",
                   refused);
    cr_assert_leq (refused, 90100, "%lld refused", refused);
    cr_assert_geq (s_counter ("metric_samples_capped"), 90000);
    //  tests/bench/limits.sh reads this line
    fprintf (stderr, "limits: flood: %llu pings, slowest %lld ms\n", (unsigned long long)id - 2,
             (long long)slowest);
    cr_assert_eq (s_sql ("SELECT count (*) FROM metric_series s JOIN metric_hosts h ON h.id = "
                         "s.host WHERE h.name = 'alpha'"),
                  10000);
    cr_assert_leq (s_sql ("SELECT count (*) FROM metric_names WHERE name LIKE 'flood_%'"), 10000,
                   "refused series were recorded");
    cr_assert (s_log_has ("metrics: samples refused agent=alpha"), "no log line names the agent");

    //  a sample dated 2500 is refused, counted, and not stored
    long long out_of_time = s_counter ("metric_samples_out_of_time");
    char *names[] = {"flood_1"};
    uint32_t index[] = {0};
    int64_t times[] = {16725225600000LL};
    double values[] = {2500};
    jad_metric_batch_t batch = {.names = names,
                                .name_count = 1,
                                .name_index = index,
                                .times = times,
                                .values = values,
                                .sample_count = 1};
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_METRICS, .metrics = &batch};
    s_send_agent_msg (agent, &msg);
    deadline = zclock_mono () + 30000;
    while (s_counter ("metric_samples_out_of_time") <= out_of_time && zclock_mono () < deadline)
        cr_assert_geq (s_ping (api, id++), 0);
    cr_assert_eq (s_counter ("metric_samples_out_of_time"), out_of_time + 1);
    cr_assert_eq (s_sql ("SELECT count (*) FROM samples WHERE ts > 4102444800000"), 0,
                  "a sample after 2100 was stored");
    zsock_destroy (&agent);
    zsock_destroy (&api);
}

//  Write a release archive that is a compression bomb: jadugar.yaml and
//  `zeros`, `bytes` of zeros, gzip-compressed into `path`. The zeros only
//  ever exist as a buffer going through the compressor, never on disk.
static void s_make_bomb (const char *path, uint64_t bytes)
{
    struct archive *out = archive_write_new ();
    cr_assert_not_null (out);
    cr_assert_eq (archive_write_add_filter_gzip (out), ARCHIVE_OK);
    cr_assert_eq (archive_write_set_filter_option (out, "gzip", "compression-level", "1"),
                  ARCHIVE_OK);
    cr_assert_eq (archive_write_set_format_pax_restricted (out), ARCHIVE_OK);
    cr_assert_eq (archive_write_open_filename (out, path), ARCHIVE_OK);
    const char manifest[] = "hooks: {}\n";
    struct archive_entry *entry = archive_entry_new ();
    archive_entry_set_pathname (entry, "jadugar.yaml");
    archive_entry_set_filetype (entry, AE_IFREG);
    archive_entry_set_perm (entry, 0644);
    archive_entry_set_size (entry, (la_int64_t)strlen (manifest));
    cr_assert_eq (archive_write_header (out, entry), ARCHIVE_OK);
    cr_assert_eq (archive_write_data (out, manifest, strlen (manifest)),
                  (la_ssize_t)strlen (manifest));
    archive_entry_clear (entry);
    archive_entry_set_pathname (entry, "zeros");
    archive_entry_set_filetype (entry, AE_IFREG);
    archive_entry_set_perm (entry, 0644);
    archive_entry_set_size (entry, (la_int64_t)bytes);
    cr_assert_eq (archive_write_header (out, entry), ARCHIVE_OK);
    size_t block = 1024 * 1024;
    char *zeros = calloc (1, block);
    cr_assert_not_null (zeros);
    for (uint64_t written = 0; written < bytes; written += block)
        cr_assert_eq (archive_write_data (out, zeros, block), (la_ssize_t)block);
    free (zeros);
    archive_entry_free (entry);
    cr_assert_eq (archive_write_close (out), ARCHIVE_OK);
    archive_write_free (out);
}

//  Row 36: a gzip that expands some 230:1 (4.6 MiB to 1 GiB) is refused at
//  `release add` with a clear error, nothing is stored, and the API
//  answers every ping meanwhile.
Test (limits, a_compression_bomb_is_refused_and_the_api_keeps_answering)
{
    char bomb[PATH_MAX];
    snprintf (bomb, sizeof bomb, "%s/bomb.tar.gz", fleet->dir);
    s_make_bomb (bomb, 1024ULL * 1024 * 1024);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller/keys/admin.key", fleet->dir);
    zsock_t *api = s_client (ZMQ_DEALER, 2, path);
    cr_assert_geq (s_ping (api, 1), 0);
    long long refused = s_counter ("release_archive_refused");

    //  jadctl release add in the background; ping until it is done
    char log[PATH_MAX], port[32];
    snprintf (log, sizeof log, "%s/release-add.log", fleet->dir);
    snprintf (port, sizeof port, "%d", fleet->port);
    char *argv[] = {JAD_BIN_DIR "/controller/jadctl",
                    "--config",
                    fleet->admin_config,
                    "release",
                    "add",
                    "bomb",
                    "1.0",
                    bomb,
                    NULL};
    pid_t pid = jt_spawn (log, argv);
    int status = -1;
    uint64_t id = 2;
    int64_t slowest = 0;
    int64_t deadline = zclock_mono () + 120000;
    while (zclock_mono () < deadline) {
        int child = 0;
        if (waitpid (pid, &child, WNOHANG) == pid) {
            status = WIFEXITED (child) ? WEXITSTATUS (child) : -1;
            break;
        }
        int64_t took = s_ping (api, id++);
        cr_assert_geq (took, 0, "a ping went unanswered during release add");
        slowest = took > slowest ? took : slowest;
    }
    fprintf (stderr, "limits: bomb: %llu pings, slowest %lld ms\n", (unsigned long long)id - 2,
             (long long)slowest);
    char *output = jt_read_file (log);
    cr_assert_eq (status, 2, "release add of a bomb: %s", output ? output : "");
    cr_assert (output && strstr (output, "release archive refused") &&
                   strstr (output, "compression ratio cap"),
               "the error does not say why: %s", output ? output : "");
    free (output);
    cr_assert_eq (s_counter ("release_archive_refused"), refused + 1);
    //  nothing kept: no release, no artifact, no upload left over
    cr_assert_eq (jt_jadctl (fleet, &output, "--json release list bomb"), 0);
    cr_assert (!strstr (output, "\"1.0\""), "the bomb was recorded: %s", output);
    free (output);
    cr_assert_eq (jt_run (&output,
                          "ls -A %s/controller/artifacts %s/controller/uploads 2>/dev/null "
                          "| grep -c tar.gz || true",
                          fleet->dir, fleet->dir),
                  0);
    cr_assert_eq (strtol (output, NULL, 10), 0, "an archive was kept: %s", output);
    free (output);
    //  a sane release still goes in, with its unpacked size
    const char *files[] = {"jadugar.yaml", "hooks: {}\n", "app.txt", "hello\n", NULL};
    char *release = jt_make_release (fleet->dir, "sane", files);
    cr_assert_eq (jt_jadctl (fleet, &output, "--json release add sane 1.0 %s", release), 0, "%s",
                  output);
    cr_assert (strstr (output, "\"unpacked_size\""), "%s", output);
    free (output);
    free (release);
    zsock_destroy (&api);
}
