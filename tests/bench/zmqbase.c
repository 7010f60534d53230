//  zmqbase - the raw ZeroMQ baseline for Jadugar's benchmarks
//  SPDX-License-Identifier: MPL-2.0
//
//  One PUB broadcasting to N SUB sockets, each answering over its own
//  DEALER to one ROUTER: the same shape as a plan fan-out, with no
//  database and no protocol. With --curve every socket uses CURVE and every
//  receiver checks an Ed25519 signature, the floor a real fan-out stands
//  on. With --zap as well, a ZAP handler (czmq's zauth, any CURVE key
//  allowed) authenticates every connection as the controller's does: libzmq
//  keeps each connection's pipe to the handler, so this is the memory
//  floor of a server that checks who connects. The "controller" side runs
//  in the parent, the N receivers in forked children (--procs, default
//  one), as with jadsim and jadugar-controller.
//
//  With --direct there is no PUB and no SUB: the ROUTER sends each round
//  to every receiver's DEALER, one connection per receiver, as plans go
//  since protocol 2 (the shape of `jadsim --no-sub`). --io-threads T
//  gives the sending side T libzmq I/O threads (default 1), as many as the
//  controller it is the floor of.
//
//  Prints one line per measured round, "round R MS", then
//  "baseline p50=MS p99=MS rounds=K rss_kib=KIB join_ms=MS join_cpu_us=US":
//  join_ms from the bind to the last connection's handshake (CURVE and
//  ZAP with --zap), join_cpu_us the server side's CPU over that time per
//  receiver.

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

//  Resident set of this process (the "controller" side), KiB.
static long s_rss_kib (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    char line[256];
    long rss = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            rss = atol (line + 6);
    if (file)
        fclose (file);
    return rss;
}

typedef struct {
    int count;
    int rounds;
    int port;
    int procs;       //  receiver processes
    int io_threads;  //  the server side's libzmq I/O threads
    bool curve;
    bool zap;
    bool direct;      //  ROUTER to each DEALER, no PUB/SUB
    zlistx_t *peers;  //  direct: the receivers' routing ids (zframe_t)
    zhashx_t *known;  //  direct: their hex, to count each once
    zcert_t *server;
    uint8_t sign_public[crypto_sign_PUBLICKEYBYTES];
    uint8_t sign_secret[crypto_sign_SECRETKEYBYTES];
} s_bench_t;

static void s_curve_client (s_bench_t *bench, zsock_t *sock, zcert_t *client)
{
    zcert_apply (client, sock);
    zsock_set_curve_serverkey (sock, zcert_public_txt (bench->server));
}

//  `count` receivers: ack every broadcast with its round number.
static int s_receivers (s_bench_t *bench, int count)
{
    zsock_t **subs = calloc ((size_t)count, sizeof (zsock_t *));
    zsock_t **dealers = calloc ((size_t)count, sizeof (zsock_t *));
    zmq_pollitem_t *items = calloc ((size_t)count, sizeof (zmq_pollitem_t));
    if (!subs || !dealers || !items)
        return 1;
    zcert_t *client = bench->curve ? zcert_new () : NULL;
    for (int index = 0; index < count; index++) {
        subs[index] = bench->direct ? NULL : zsock_new (ZMQ_SUB);
        dealers[index] = zsock_new (ZMQ_DEALER);
        if ((!bench->direct && !subs[index]) || !dealers[index])
            return 1;
        if (bench->curve) {
            if (subs[index])
                s_curve_client (bench, subs[index], client);
            s_curve_client (bench, dealers[index], client);
        }
        zsock_set_linger (dealers[index], 0);
        zsock_connect (dealers[index], "tcp://127.0.0.1:%d", bench->port + 1);
        //  the receiver on the readable socket: the SUB, or the DEALER
        zsock_t *reader = dealers[index];
        if (subs[index]) {
            zsock_set_subscribe (subs[index], "");
            zsock_set_linger (subs[index], 0);
            zsock_connect (subs[index], "tcp://127.0.0.1:%d", bench->port);
            reader = subs[index];
        } else
            zstr_send (dealers[index], "helo");  //  the ROUTER learns who we are
        items[index] = (zmq_pollitem_t){zsock_resolve (reader), 0, ZMQ_POLLIN, 0};
    }
    while (!zsys_interrupted) {
        int ready = zmq_poll (items, count, 200);
        if (ready < 0 && errno != EINTR)
            break;
        for (int index = 0; ready > 0 && index < count; index++) {
            if (!(items[index].revents & ZMQ_POLLIN))
                continue;
            zsock_t *reader = subs[index] ? subs[index] : dealers[index];
            while (zsock_events (reader) & ZMQ_POLLIN) {
                zframe_t *frame = zframe_recv (reader);
                if (!frame)
                    break;
                bool ok = true;
                if (bench->curve && zframe_size (frame) > crypto_sign_BYTES)
                    ok = crypto_sign_verify_detached (
                             zframe_data (frame), zframe_data (frame) + crypto_sign_BYTES,
                             zframe_size (frame) - crypto_sign_BYTES, bench->sign_public) == 0;
                if (ok)
                    zframe_send (&frame, dealers[index], ZFRAME_DONTWAIT);
                zframe_destroy (&frame);
            }
        }
    }
    for (int index = 0; index < count; index++) {
        zsock_destroy (&subs[index]);
        zsock_destroy (&dealers[index]);
    }
    zcert_destroy (&client);
    free (subs);
    free (dealers);
    free (items);
    return 0;
}

//  Direct: remember the routing id of a receiver that said hello.
static void s_learn_peer (s_bench_t *bench, zframe_t *id)
{
    char *hex = zframe_strhex (id);
    if (hex && !zhashx_lookup (bench->known, hex)) {
        zhashx_insert (bench->known, hex, (void *)"");
        zlistx_add_end (bench->peers, zframe_dup (id));
    }
    free (hex);
}

//  Wait until `expected` handshakes succeeded on the sockets the two
//  monitors watch (either may be NULL), or for timeout_ms; returns the
//  handshakes seen.
static int s_wait_handshakes (zsock_t **monitors, int expected, int timeout_ms)
{
    int seen = 0;
    int64_t start = s_now_us ();
    zpoller_t *poller = zpoller_new (NULL);
    for (int which = 0; which < 2; which++)
        if (monitors[which])
            zpoller_add (poller, monitors[which]);
    while (seen < expected && !zsys_interrupted) {
        int64_t left = timeout_ms - (s_now_us () - start) / 1000;
        zsock_t *monitor = left > 0 ? (zsock_t *)zpoller_wait (poller, (int)left) : NULL;
        if (!monitor)
            break;
        while (zsock_events (monitor) & ZMQ_POLLIN) {
            zmsg_t *event = zmsg_recv (monitor);
            zframe_t *first = event ? zmsg_first (event) : NULL;
            uint16_t kind = 0;
            if (first && zframe_size (first) >= 2)
                memcpy (&kind, zframe_data (first), 2);
            if (kind == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                seen++;
            zmsg_destroy (&event);
        }
    }
    zpoller_destroy (&poller);
    return seen;
}

static int64_t s_cpu_us (void)
{
    struct rusage usage;
    if (getrusage (RUSAGE_SELF, &usage) != 0)
        return 0;
    return (int64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
           usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

//  Broadcast round `round` and return when `count` acks for it arrived,
//  or after timeout_ms (then returns -1).
static int64_t s_round (s_bench_t *bench, zsock_t *pub, zsock_t *router, uint32_t round,
                        int timeout_ms)
{
    uint8_t message[crypto_sign_BYTES + 4];
    memcpy (message + crypto_sign_BYTES, &round, 4);
    crypto_sign_detached (message, NULL, message + crypto_sign_BYTES, 4, bench->sign_secret);
    int64_t start = s_now_us ();
    if (bench->direct)
        for (zframe_t *peer = zlistx_first (bench->peers); peer;
             peer = zlistx_next (bench->peers)) {
            zframe_send (&peer, router, ZFRAME_MORE | ZFRAME_REUSE);
            zsock_send (router, "b", message, sizeof message);
        }
    else
        zsock_send (pub, "b", message, sizeof message);
    int acked = 0;
    zpoller_t *poller = zpoller_new (router, NULL);
    while (acked < bench->count && !zsys_interrupted) {
        int64_t left = timeout_ms - (s_now_us () - start) / 1000;
        if (left <= 0 || !zpoller_wait (poller, (int)left))
            break;
        while (zsock_events (router) & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (router);
            zframe_t *body = msg ? zmsg_last (msg) : NULL;
            uint32_t got = 0;
            if (body && zframe_size (body) == sizeof message)
                memcpy (&got, zframe_data (body) + crypto_sign_BYTES, 4);
            if (got == round)
                acked++;
            else if (bench->direct && body && zmsg_size (msg) == 2)
                s_learn_peer (bench, zmsg_first (msg));
            zmsg_destroy (&msg);
        }
    }
    zpoller_destroy (&poller);
    return acked == bench->count ? s_now_us () - start : -1;
}

static int s_compare (const void *left, const void *right)
{
    int64_t first = *(const int64_t *)left, second = *(const int64_t *)right;
    return first < second ? -1 : first > second;
}

//  Stop the receiver processes and free their list.
static void s_stop (pid_t *children, int procs)
{
    for (int proc = 0; proc < procs; proc++)
        kill (children[proc], SIGTERM);
    for (int proc = 0; proc < procs; proc++)
        waitpid (children[proc], NULL, 0);
    free (children);
}

static const char *s_usage = "usage: zmqbase --port BASE [--count N] [--rounds R] [--procs P] "
                             "[--io-threads T] [--curve] [--zap] [--direct]\n";

int main (int argc, char **argv)
{
    s_bench_t bench = {.count = 1000, .rounds = 20, .port = 0, .procs = 1, .io_threads = 1};
    for (int index = 1; index < argc; index++) {
        if (streq (argv[index], "--curve"))
            bench.curve = true;
        else if (streq (argv[index], "--zap"))
            bench.zap = bench.curve = true;
        else if (streq (argv[index], "--direct"))
            bench.direct = true;
        else if (streq (argv[index], "--io-threads") && index + 1 < argc)
            bench.io_threads = atoi (argv[++index]);
        else if (streq (argv[index], "--procs") && index + 1 < argc)
            bench.procs = atoi (argv[++index]);
        else if (streq (argv[index], "--count") && index + 1 < argc)
            bench.count = atoi (argv[++index]);
        else if (streq (argv[index], "--rounds") && index + 1 < argc)
            bench.rounds = atoi (argv[++index]);
        else if (streq (argv[index], "--port") && index + 1 < argc)
            bench.port = atoi (argv[++index]);
        else {
            fprintf (stderr, "%s", s_usage);
            return 2;
        }
    }
    if (bench.port <= 0 || bench.count <= 0 || bench.rounds <= 0 || bench.procs <= 0 ||
        bench.io_threads <= 0 || bench.procs > bench.count || sodium_init () < 0) {
        fprintf (stderr, "%s", s_usage);
        return 2;
    }
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
    crypto_sign_keypair (bench.sign_public, bench.sign_secret);
    bench.server = zcert_new ();
    //  zsys (its context) after the fork: each process has its own
    pid_t *children = calloc ((size_t)bench.procs, sizeof (pid_t));
    if (!children)
        return 1;
    for (int proc = 0; proc < bench.procs; proc++) {
        children[proc] = fork ();
        if (children[proc] < 0)
            return 1;
        if (children[proc] == 0) {
            int share = bench.count / bench.procs + (proc < bench.count % bench.procs ? 1 : 0);
            zsys_set_max_sockets ((size_t)share * 2 + 64);
            zsys_set_io_threads (1);
            int status = s_receivers (&bench, share);
            zcert_destroy (&bench.server);
            free (children);
            return status;
        }
    }
    bench.peers = zlistx_new ();
    bench.known = zhashx_new ();
    if (!bench.peers || !bench.known)
        return 1;
    zlistx_set_destructor (bench.peers, (zlistx_destructor_fn *)zframe_destroy);
    zsys_set_max_sockets (64);
    zsys_set_io_threads ((size_t)bench.io_threads);

    zactor_t *auth = NULL;
    if (bench.zap) {
        auth = zactor_new (zauth, NULL);
        if (!auth || zstr_sendx (auth, "CURVE", CURVE_ALLOW_ANY, NULL) != 0 ||
            zsock_wait (auth) != 0) {
            fprintf (stderr, "zmqbase: cannot start the ZAP handler\n");
            s_stop (children, bench.procs);
            return 1;
        }
    }
    zsock_t *pub = zsock_new (ZMQ_PUB);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_t *both[] = {pub, router};
    for (int which = 0; which < 2; which++) {
        if (bench.curve) {
            zcert_apply (bench.server, both[which]);
            zsock_set_curve_server (both[which], 1);
            if (bench.zap)
                zsock_set_zap_domain (both[which], "bench");
        }
        zsock_set_backlog (both[which], 4096);
        zsock_set_sndhwm (both[which], 100000);
        zsock_set_rcvhwm (both[which], 100000);
        zsock_set_linger (both[which], 0);
    }
    //  Every connection's handshake (CURVE and ZAP, or ZMTP's alone).
    zsock_t *monitors[2] = {NULL, NULL};
    for (int which = bench.direct ? 1 : 0; which < 2; which++) {
        char endpoint[64];
        snprintf (endpoint, sizeof endpoint, "inproc://zmqbase-monitor-%d", which);
        if (zmq_socket_monitor (zsock_resolve (both[which]), endpoint,
                                ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0 ||
            !(monitors[which] = zsock_new (ZMQ_PAIR)) ||
            zsock_connect (monitors[which], "%s", endpoint) != 0) {
            fprintf (stderr, "zmqbase: cannot monitor the sockets\n");
            s_stop (children, bench.procs);
            return 1;
        }
    }
    int64_t join_start = s_now_us (), join_cpu = s_cpu_us ();
    if ((!bench.direct && zsock_bind (pub, "tcp://127.0.0.1:%d", bench.port) < 0) ||
        zsock_bind (router, "tcp://127.0.0.1:%d", bench.port + 1) < 0) {
        fprintf (stderr, "zmqbase: cannot bind port %d\n", bench.port);
        s_stop (children, bench.procs);
        return 1;
    }
    int expected = bench.count * (bench.direct ? 1 : 2);
    int joined = s_wait_handshakes (monitors, expected, 60000 + bench.count * 20);
    int64_t join_us = s_now_us () - join_start;
    join_cpu = s_cpu_us () - join_cpu;
    if (joined < expected)
        fprintf (stderr, "zmqbase: %d of %d handshakes\n", joined, expected);
    //  Warm up until every receiver answers (subscriptions propagate late),
    //  each try long enough for a round of N on a loaded machine.
    int64_t warm = -1;
    for (uint32_t attempt = 1; attempt <= 120 && warm < 0 && !zsys_interrupted; attempt++)
        warm = s_round (&bench, pub, router, attempt, 1000 + bench.count / 2);
    int status = 1;
    if (warm < 0)
        fprintf (stderr, "zmqbase: receivers never all answered\n");
    else {
        int64_t *times = calloc ((size_t)bench.rounds, sizeof (int64_t));
        int done = 0;
        for (int round = 0; round < bench.rounds && !zsys_interrupted; round++) {
            int64_t took =
                s_round (&bench, pub, router, 1000 + (uint32_t)round, 10000 + bench.count);
            if (took >= 0) {
                times[done++] = took;
                printf ("round %d %.2f\n", round, took / 1000.0);
            }
            usleep (50000);
        }
        qsort (times, (size_t)done, sizeof (int64_t), s_compare);
        if (done > 0) {
            int p99 = (int)((done * 99 + 99) / 100) - 1;
            printf ("baseline p50=%.2f p99=%.2f rounds=%d rss_kib=%ld join_ms=%lld "
                    "join_cpu_us=%lld\n",
                    times[done / 2] / 1000.0, times[p99 < 0 ? 0 : p99] / 1000.0, done, s_rss_kib (),
                    (long long)(join_us / 1000), (long long)(join_cpu / bench.count));
            status = done == bench.rounds ? 0 : 1;
        }
        free (times);
    }
    fflush (stdout);
    s_stop (children, bench.procs);
    for (int which = 0; which < 2; which++)
        if (monitors[which]) {
            zmq_socket_monitor (zsock_resolve (both[which]), NULL, 0);
            zsock_destroy (&monitors[which]);
        }
    zlistx_destroy (&bench.peers);
    zhashx_destroy (&bench.known);
    zsock_destroy (&pub);
    zsock_destroy (&router);
    zactor_destroy (&auth);
    zcert_destroy (&bench.server);
    return status;
}
