//  test_releases_repo - releases, counters, floors and bad marks, on real
//  SQLite files
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_releases_repo.h"
#include "ctl_store_internal.h"
#include "jad_testlib.h"
#include "jad_testpg.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

JT_PG_SERVER ()

static jt_store_target_t s_target;
static ctl_store_t *s_store;

static void s_setup_on (bool pg)
{
    jt_store_target_new (&s_target, pg, "ctl-releases-repo");
    s_store = ctl_store_open (s_target.target, CTL_STORE_CREATE);
    cr_assert_not_null (s_store);
}

static void setup_sqlite (void)
{
    s_setup_on (false);
}

static void setup_pg (void)
{
    s_setup_on (true);
}

static void teardown (void)
{
    ctl_store_destroy (&s_store);
    jt_store_target_free (&s_target);
}

TestSuite (releases_repo, .init = setup_sqlite, .fini = teardown);
TestSuite (releases_repo_pg, .init = setup_pg, .fini = teardown);

static void s_add (const char *app, const char *version, const char *sha, int64_t now)
{
    ctl_release_t release = {.app = (char *)app,
                             .version = (char *)version,
                             .sha256 = (char *)sha,
                             .length = 100,
                             .unpacked_size = 4096,
                             .branch = "main",
                             .migrate_up = true};
    cr_assert_eq (ctl_releases_repo_add (s_store, &release, now), 0, "%s %s", app, version);
}

JT_STORE_TEST (releases_repo, a_release_round_trips_with_its_counter)
{
    s_add ("web", "1.0", "aa", 1000);
    s_add ("web", "1.1", "bb", 1000);  //  same millisecond: the counter still orders them
    s_add ("api", "1.0", "cc", 900);
    ctl_release_t again = {.app = "web", .version = "1.0", .sha256 = "zz", .length = 1};
    cr_assert_eq (ctl_releases_repo_add (s_store, &again, 2000), 1, "added twice");
    ctl_release_t *release = NULL;
    cr_assert_eq (ctl_releases_repo_get (s_store, "web", "1.1", &release), 0);
    cr_assert_str_eq (release->sha256, "bb");
    cr_assert_eq (release->counter, 2);
    cr_assert_eq (release->length, 100);
    cr_assert_eq (release->unpacked_size, 4096, "the unpacked size plans sign");
    cr_assert_str_eq (release->branch, "main");
    cr_assert_null (release->commit_id);
    cr_assert (release->migrate_up);
    cr_assert_not (release->migrate_down);
    cr_assert_not (release->has_floor);
    cr_assert_null (release->bad);
    ctl_release_destroy (&release);
    cr_assert_eq (ctl_releases_repo_get (s_store, "api", "1.0", &release), 0);
    cr_assert_eq (release->counter, 1, "counters are per app");
    ctl_release_destroy (&release);
    cr_assert_eq (ctl_releases_repo_get (s_store, "web", "9.9", &release), 1);
    cr_assert_eq (ctl_releases_repo_by_sha (s_store, "aa", &release), 0);
    cr_assert_str_eq (release->version, "1.0");
    ctl_release_destroy (&release);
    cr_assert_eq (ctl_releases_repo_by_sha (s_store, "ff", &release), 1);
}

JT_STORE_TEST (releases_repo, floors_and_bad_marks_show_on_every_release)
{
    s_add ("web", "1.0", "aa", 1000);
    s_add ("web", "1.1", "bb", 2000);
    ctl_floor_t *floor = NULL;
    cr_assert_eq (ctl_releases_repo_floor (s_store, "web", &floor), 1);
    cr_assert_eq (ctl_releases_repo_floor_set (s_store, "web", 2, "1.1", "amy", 3000), 0);
    cr_assert_eq (ctl_releases_repo_floor (s_store, "web", &floor), 0);
    cr_assert_eq (floor->counter, 2);
    cr_assert_str_eq (floor->version, "1.1");
    cr_assert_str_eq (floor->operator_name, "amy");
    ctl_floor_destroy (&floor);
    ctl_release_t *release = NULL;
    cr_assert_eq (ctl_releases_repo_get (s_store, "web", "1.0", &release), 0);
    cr_assert (release->has_floor);
    cr_assert_eq (release->floor, 2);
    cr_assert_str_eq (release->floor_version, "1.1");
    ctl_release_destroy (&release);
    cr_assert_eq (ctl_releases_repo_mark_bad (s_store, "web", "1.1", "alert x fired"), 0);
    cr_assert_eq (ctl_releases_repo_get (s_store, "web", "1.1", &release), 0);
    cr_assert_str_eq (release->bad, "alert x fired");
    ctl_release_destroy (&release);
}

JT_STORE_TEST (releases_repo, the_list_is_ordered_and_says_where_each_succeeded)
{
    s_add ("web", "1.1", "bb", 2000);
    s_add ("web", "1.0", "aa", 3000);  //  added later: counter 2
    s_add ("api", "2.0", "cc", 1000);
    ctl_sql_t *sql = ctl_store_sql (s_store);
    cr_assert_eq (ctl_sql_exec (sql,
                                "INSERT INTO plans (id, app, version, env, kind, strategy, state, "
                                "created, progress, seq) VALUES ('p1', 'web', '1.1', 'staging', "
                                "'deploy', 'all', 'succeeded', 1, 1, 1), ('p2', 'web', '1.1', "
                                "'prod', 'deploy', 'all', 'succeeded', 2, 2, 2), ('p3', 'web', "
                                "'1.1', 'prod', 'deploy', 'all', 'succeeded', 3, 3, 3), ('p4', "
                                "'web', '1.0', 'dev', 'deploy', 'all', 'failed', 4, 4, 4), "
                                "('p5', 'web', '1.0', 'qa', 'task', 'all', 'succeeded', 5, 5, 5)",
                                ""),
                  5);
    zlistx_t *list = ctl_releases_repo_list (s_store, NULL);
    cr_assert_eq (zlistx_size (list), 3);
    ctl_release_t *release = zlistx_first (list);
    cr_assert_str_eq (release->app, "api");
    cr_assert_null (release->succeeded_in);
    release = zlistx_next (list);
    cr_assert_str_eq (release->version, "1.1");
    cr_assert_str_eq (release->succeeded_in, "prod,staging");
    release = zlistx_next (list);
    cr_assert_str_eq (release->version, "1.0");
    cr_assert_null (release->succeeded_in,
                    "a failed plan is no success, nor is a migration task that succeeded");
    zlistx_destroy (&list);
    list = ctl_releases_repo_list (s_store, "api");
    cr_assert_eq (zlistx_size (list), 1);
    zlistx_destroy (&list);
}

static void s_attest (const char *version, const char *sha, const char *type, int64_t now,
                      int expected)
{
    ctl_attestation_t attestation = {.app = "web",
                                     .version = (char *)version,
                                     .sha256 = (char *)sha,
                                     .type = (char *)type,
                                     .signer = "ci",
                                     .added_by = "amy",
                                     .envelope = "{\"payloadType\": \"x\"}"};
    cr_assert_eq (ctl_releases_repo_attest (s_store, &attestation, now), expected, "%s %s", version,
                  sha);
}

JT_STORE_TEST (releases_repo, attestations_are_kept_once_per_release_and_bounded)
{
    s_add ("web", "1.0", "aa", 1000);
    s_add ("web", "1.1", "bb", 1000);
    s_attest ("1.0", "e2", "https://in-toto.io/attestation/vulns/v0.2", 3000, 0);
    s_attest ("1.0", "e1", "https://in-toto.io/attestation/test-result/v0.1", 2000, 0);
    s_attest ("1.0", "e1", "https://in-toto.io/attestation/test-result/v0.1", 4000, 1);
    s_attest ("1.1", "e1", "https://in-toto.io/attestation/test-result/v0.1", 4000, 0);

    zlistx_t *list = ctl_releases_repo_attestations (s_store, "web", "1.0");
    cr_assert_not_null (list);
    cr_assert_eq (zlistx_size (list), 2, "the same envelope twice is kept once");
    ctl_attestation_t *attestation = zlistx_first (list);
    cr_assert_str_eq (attestation->sha256, "e1", "oldest first");
    cr_assert_str_eq (attestation->type, "https://in-toto.io/attestation/test-result/v0.1");
    cr_assert_str_eq (attestation->signer, "ci");
    cr_assert_str_eq (attestation->added_by, "amy");
    cr_assert_eq (attestation->created, 2000);
    cr_assert_str_eq (attestation->envelope, "{\"payloadType\": \"x\"}");
    attestation = zlistx_next (list);
    cr_assert_str_eq (attestation->sha256, "e2");
    zlistx_destroy (&list);

    list = ctl_releases_repo_attestations (s_store, "web", "9.9");
    cr_assert_not_null (list);
    cr_assert_eq (zlistx_size (list), 0);
    zlistx_destroy (&list);

    for (int index = 1; index < CTL_ATTESTATIONS_MAX; index++) {
        char sha[16];
        snprintf (sha, sizeof sha, "f%d", index);
        s_attest ("1.1", sha, "https://in-toto.io/attestation/test-result/v0.1", 5000, 0);
    }
    s_attest ("1.1", "one-more", "https://in-toto.io/attestation/test-result/v0.1", 6000, 2);
    list = ctl_releases_repo_attestations (s_store, "web", "1.1");
    cr_assert_eq (zlistx_size (list), CTL_ATTESTATIONS_MAX, "a full release takes no more");
    zlistx_destroy (&list);
}

//  The last schedule slot per environment: none, then each one recorded
//  replaces the last, one environment apart from another.
JT_STORE_TEST (releases_repo, schedule_slots_are_kept_per_environment)
{
    int64_t slot = -7;
    cr_assert_eq (ctl_releases_repo_slot (s_store, "staging", &slot), 1);
    cr_assert_eq (ctl_releases_repo_slot_set (s_store, "staging", 1796720400000), 0);
    cr_assert_eq (ctl_releases_repo_slot (s_store, "staging", &slot), 0);
    cr_assert_eq (slot, 1796720400000);
    cr_assert_eq (ctl_releases_repo_slot_set (s_store, "staging", 1797930000000), 0);
    cr_assert_eq (ctl_releases_repo_slot (s_store, "staging", &slot), 0);
    cr_assert_eq (slot, 1797930000000);
    cr_assert_eq (ctl_releases_repo_slot (s_store, "prod", &slot), 1);
}

//  Release checks at the hosts (jad_policy.h): an environment's signed
//  policy only goes up; bundles are kept once, by their SHA-256.
JT_STORE_TEST (releases_repo, policies_only_go_up_and_bundles_are_kept_by_hash)
{
    char *body = NULL;
    int64_t version = 0, kept = -1;
    cr_assert_eq (ctl_releases_repo_policy (s_store, "prod", &body, &version), 1);
    cr_assert_null (body);
    cr_assert_eq (
        ctl_releases_repo_policy_set (s_store, "prod", 2, "{\"v\": 2}", "amy", 1000, &kept), 0);
    cr_assert_eq (kept, 0);
    cr_assert_eq (
        ctl_releases_repo_policy_set (s_store, "prod", 2, "{\"v\": 2b}", "amy", 2000, &kept), 1,
        "the same version again is refused");
    cr_assert_eq (kept, 2);
    cr_assert_eq (
        ctl_releases_repo_policy_set (s_store, "prod", 1, "{\"v\": 1}", "amy", 2000, &kept), 1,
        "an older one is refused");
    cr_assert_eq (
        ctl_releases_repo_policy_set (s_store, "prod", 3, "{\"v\": 3}", "bob", 3000, &kept), 0);
    cr_assert_eq (kept, 2);
    cr_assert_eq (ctl_releases_repo_policy (s_store, "prod", &body, &version), 0);
    cr_assert_str_eq (body, "{\"v\": 3}");
    cr_assert_eq (version, 3);
    free (body);
    cr_assert_eq (ctl_releases_repo_policy (s_store, "staging", &body, &version), 1);

    char *app = NULL, *release = NULL, *env = NULL;
    cr_assert_eq (ctl_releases_repo_bundle (s_store, "aa", &body, &app, &release, &env), 1);
    cr_assert_eq (
        ctl_releases_repo_bundle_put (s_store, "aa", "web", "1.0", "prod", "{\"b\": 1}", 1000), 0);
    cr_assert_eq (
        ctl_releases_repo_bundle_put (s_store, "aa", "web", "1.0", "prod", "{\"b\": 1}", 2000), 0,
        "kept once, no error");
    cr_assert_eq (ctl_releases_repo_bundle (s_store, "aa", &body, &app, &release, &env), 0);
    cr_assert_str_eq (body, "{\"b\": 1}");
    cr_assert_str_eq (app, "web");
    cr_assert_str_eq (release, "1.0");
    cr_assert_str_eq (env, "prod");
    free (body);
    free (app);
    free (release);
    free (env);
}

//  Release archives in the store: chunks by the archive's SHA-256, read
//  back at any offset (a fetch spans at most two), every byte value
//  intact, a gap seen, a chunk put twice kept once.
JT_STORE_TEST (releases_repo, archives_are_kept_in_chunks_and_read_back_at_any_offset)
{
    size_t total = 2 * CTL_CHUNK_BYTES + 100;
    uint8_t *archive = malloc (total);
    uint8_t *out = malloc (CTL_CHUNK_BYTES);
    cr_assert (archive && out);
    for (size_t index = 0; index < total; index++)
        archive[index] = (uint8_t)((index * 7 + index / 256) & 0xff);
    const char *sha = "ab";
    cr_assert_eq (ctl_releases_repo_chunks_complete (s_store, sha, total), 0, "nothing yet");
    cr_assert_eq (ctl_releases_repo_chunk_put (s_store, sha, 0, archive, CTL_CHUNK_BYTES), 0);
    cr_assert_eq (ctl_releases_repo_chunk_put (s_store, sha, 2, archive + 2 * CTL_CHUNK_BYTES, 100),
                  0);
    cr_assert_eq (ctl_releases_repo_chunks_complete (s_store, sha, total), 0, "chunk 1 missing");
    //  a range over the missing chunk is not served; one before it is
    cr_assert_eq (ctl_releases_repo_chunks_read (s_store, sha, CTL_CHUNK_BYTES - 10, 20, out), 1);
    cr_assert_eq (ctl_releases_repo_chunks_read (s_store, sha, 10, 20, out), 0);
    cr_assert_eq (memcmp (out, archive + 10, 20), 0);
    cr_assert_eq (
        ctl_releases_repo_chunk_put (s_store, sha, 1, archive + CTL_CHUNK_BYTES, CTL_CHUNK_BYTES),
        0);
    //  the same chunk again (another upload, another controller): kept once
    cr_assert_eq (
        ctl_releases_repo_chunk_put (s_store, sha, 1, archive + CTL_CHUNK_BYTES, CTL_CHUNK_BYTES),
        0);
    cr_assert_eq (ctl_releases_repo_chunks_complete (s_store, sha, total), 1);
    cr_assert_eq (ctl_releases_repo_chunks_complete (s_store, sha, total + 1), 0, "length checked");
    //  aligned, straddling two chunks, and the short tail
    uint64_t offsets[] = {0, CTL_CHUNK_BYTES / 2, CTL_CHUNK_BYTES, 2 * CTL_CHUNK_BYTES - 1};
    for (size_t index = 0; index < sizeof offsets / sizeof offsets[0]; index++) {
        size_t length =
            total - offsets[index] < CTL_CHUNK_BYTES ? total - offsets[index] : CTL_CHUNK_BYTES;
        memset (out, 0, CTL_CHUNK_BYTES);
        cr_assert_eq (ctl_releases_repo_chunks_read (s_store, sha, offsets[index], length, out), 0,
                      "offset %llu", (unsigned long long)offsets[index]);
        cr_assert_eq (memcmp (out, archive + offsets[index], length), 0, "offset %llu",
                      (unsigned long long)offsets[index]);
    }
    //  past the end: missing
    cr_assert_eq (ctl_releases_repo_chunks_read (s_store, sha, total - 1, 2, out), 1);
    //  another archive's chunks are its own
    cr_assert_eq (ctl_releases_repo_chunks_read (s_store, "cd", 0, 1, out), 1);
    //  empty and oversized chunks are refused
    cr_assert_eq (ctl_releases_repo_chunk_put (s_store, "cd", 0, archive, 0), -1);
    cr_assert_eq (ctl_releases_repo_chunk_put (s_store, "cd", 0, archive, CTL_CHUNK_BYTES + 1), -1);
    //  a file copied in whole: every chunk, the short tail included
    char path[4096], reason[256];
    snprintf (path, sizeof path, "%s/archive.tar.gz", s_target.dir);
    FILE *file = fopen (path, "wb");
    cr_assert_not_null (file);
    cr_assert_eq (fwrite (archive, 1, total, file), total);
    cr_assert_eq (fclose (file), 0);
    cr_assert_eq (ctl_releases_repo_chunks_from_file (s_store, "ef", path, reason, sizeof reason),
                  0, "%s", reason);
    cr_assert_eq (ctl_releases_repo_chunks_complete (s_store, "ef", total), 1);
    cr_assert_eq (ctl_releases_repo_chunks_read (s_store, "ef", total - 100, 100, out), 0);
    cr_assert_eq (memcmp (out, archive + total - 100, 100), 0);
    //  again: already whole, nothing written, still 0
    cr_assert_eq (ctl_releases_repo_chunks_from_file (s_store, "ef", path, reason, sizeof reason),
                  0, "%s", reason);
    snprintf (path, sizeof path, "%s/missing.tar.gz", s_target.dir);
    cr_assert_eq (ctl_releases_repo_chunks_from_file (s_store, "gh", path, reason, sizeof reason),
                  -1);
    cr_assert (strstr (reason, "missing.tar.gz"), "%s", reason);
    free (archive);
    free (out);
}

//  A TCP relay on 127.0.0.1 to the test PostgreSQL that counts the bytes
//  the server sends: what a query costs on the wire.
#define S_RELAY_PAIRS 8

typedef struct {
    int listener;
    int port;                   //  where it listens
    int server;                 //  the PostgreSQL port
    int fds[S_RELAY_PAIRS][2];  //  client, server; -1 unused
    atomic_bool stop;
    atomic_llong from_server;
    pthread_t thread;
} s_relay_t;

static void s_relay_close (s_relay_t *relay, int pair)
{
    close (relay->fds[pair][0]);
    close (relay->fds[pair][1]);
    relay->fds[pair][0] = relay->fds[pair][1] = -1;
}

static void *s_relay_run (void *arg)
{
    s_relay_t *relay = arg;
    char buffer[65536];
    while (!atomic_load (&relay->stop)) {
        struct pollfd items[1 + 2 * S_RELAY_PAIRS];
        int count = 0;
        items[count++] = (struct pollfd){.fd = relay->listener, .events = POLLIN};
        for (int pair = 0; pair < S_RELAY_PAIRS; pair++)
            for (int side = 0; side < 2; side++)
                items[count++] = (struct pollfd){.fd = relay->fds[pair][side], .events = POLLIN};
        if (poll (items, (nfds_t)count, 100) <= 0)
            continue;
        if (items[0].revents & POLLIN) {
            int client = accept (relay->listener, NULL, NULL);
            int server = socket (AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in address = {.sin_family = AF_INET,
                                          .sin_port = htons ((uint16_t)relay->server),
                                          .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
            int pair = 0;
            while (pair < S_RELAY_PAIRS && relay->fds[pair][0] >= 0)
                pair++;
            if (client >= 0 && server >= 0 && pair < S_RELAY_PAIRS &&
                connect (server, (struct sockaddr *)&address, sizeof address) == 0) {
                relay->fds[pair][0] = client;
                relay->fds[pair][1] = server;
            } else {
                close (client);
                close (server);
            }
        }
        for (int pair = 0; pair < S_RELAY_PAIRS; pair++)
            for (int side = 0; side < 2; side++) {
                short events = items[1 + 2 * pair + side].revents;
                if (!events || relay->fds[pair][side] < 0)
                    continue;
                ssize_t got = read (relay->fds[pair][side], buffer, sizeof buffer);
                bool ok = got > 0;
                //  counted before the client can have it
                if (ok && side == 1)
                    atomic_fetch_add (&relay->from_server, (long long)got);
                for (ssize_t sent = 0; ok && sent < got;) {
                    ssize_t put =
                        write (relay->fds[pair][1 - side], buffer + sent, (size_t)(got - sent));
                    ok = put > 0;
                    sent += ok ? put : 0;
                }
                if (!ok)
                    s_relay_close (relay, pair);
            }
    }
    for (int pair = 0; pair < S_RELAY_PAIRS; pair++)
        if (relay->fds[pair][0] >= 0)
            s_relay_close (relay, pair);
    return NULL;
}

static void s_relay_start (s_relay_t *relay, int server)
{
    memset (relay, 0, sizeof *relay);
    memset (relay->fds, -1, sizeof relay->fds);
    relay->server = server;
    relay->listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t len = sizeof address;
    cr_assert (relay->listener >= 0 &&
               bind (relay->listener, (struct sockaddr *)&address, sizeof address) == 0 &&
               listen (relay->listener, 8) == 0 &&
               getsockname (relay->listener, (struct sockaddr *)&address, &len) == 0);
    relay->port = ntohs (address.sin_port);
    cr_assert_eq (pthread_create (&relay->thread, NULL, s_relay_run, relay), 0);
}

static void s_relay_stop (s_relay_t *relay)
{
    atomic_store (&relay->stop, true);
    pthread_join (relay->thread, NULL);
    close (relay->listener);
}

Test (releases_repo_pg, archives_come_from_postgresql_as_bytes_not_as_hex_text)
{
    size_t total = CTL_CHUNK_BYTES;
    uint8_t *archive = malloc (total), *out = malloc (total);
    cr_assert (archive && out);
    for (size_t index = 0; index < total; index++)
        archive[index] = (uint8_t)((index * 13 + index / 511) & 0xff);
    cr_assert_eq (ctl_releases_repo_chunk_put (s_store, "ab", 0, archive, total), 0);
    //  the same database through the relay: postgresql://USER@127.0.0.1:PORT/DB
    const char *colon = strrchr (s_target.target, ':');
    const char *slash = colon ? strchr (colon, '/') : NULL;
    cr_assert (colon && slash, "%s", s_target.target);
    //  static: the relay's thread outlives a failed assertion's return
    static s_relay_t relay;
    s_relay_start (&relay, atoi (colon + 1));
    char url[512];
    snprintf (url, sizeof url, "%.*s:%d%s", (int)(colon - s_target.target), s_target.target,
              relay.port, slash);
    ctl_store_t *store = ctl_store_open (url, 0);
    cr_assert_not_null (store, "%s", url);
    //  twice: the first read prepares the statement
    for (int round = 0; round < 2; round++) {
        long long before = atomic_load (&relay.from_server);
        memset (out, 0, total);
        cr_assert_eq (ctl_releases_repo_chunks_read (store, "ab", 0, total, out), 0);
        cr_assert_eq (memcmp (out, archive, total), 0, "round %d", round);
        long long sent = atomic_load (&relay.from_server) - before;
        //  hex text would be 2 bytes a byte and more
        cr_assert (sent >= (long long)total && sent < (long long)total * 3 / 2,
                   "round %d: %lld bytes from the server for a chunk of %zu", round, sent, total);
    }
    ctl_store_destroy (&store);
    s_relay_stop (&relay);
    free (archive);
    free (out);
}
