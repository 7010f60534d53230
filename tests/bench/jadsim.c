//  jadsim - fleet simulator: N Jadugar agents in one process
//  SPDX-License-Identifier: MPL-2.0
//
//  Each simulated agent has its own CURVE key pair, its own SUB and DEALER
//  sockets to a real controller, verifies every plan's Ed25519 signature
//  and admits it (environment, membership proof against the signed root
//  of the targets, expiry, strictly increasing sequence) exactly as
//  jadugar-agent does, persists its last sequence in
//  SQLite, acknowledges, applies and reports. What "apply" means is chosen
//  with --apply and printed by the harness:
//    noop    record the new version and report healthy at once
//    switch  switch ROOT/NAME/APP/current to releases/VERSION with
//            rename(2) (the release directory is created if missing,
//            standing for "already on disk")
//    unpack  fetch the artifact from the controller in chunks (4 in
//            flight), check length and SHA-256, extract it with
//            jad_archive_extract under ROOT/NAME/APP/releases/VERSION,
//            then switch
//  Per-agent state: one SQLite database (WAL) with a row per agent; the
//  sequence updates of one poll round are written in one transaction.
//
//  Every plan an agent took is remembered, as in the agent's plans table:
//  one the controller sends again (its ack was late) is acknowledged and
//  never applied again. An agent not accepted yet enrolls again with each
//  heartbeat, as the agent does on each connection (an enrollment can be
//  lost with the controller).
//
//  Delivery is what jadugar-agent does: reports wait in an outbox and
//  go again every 2 s until the controller's ReportAck; metric batches
//  are numbered in a stream and wait for their MetricAck in agt_mstream,
//  the agent's own code (go-back-N). Both are kept in memory across
//  simulated restarts, as the agent keeps them on disk (its outbox and
//  metric_outbox tables), and a restart resumes the same metric stream,
//  sending its unacked batches again at once, as the agent does at start.
//  (The agent's own tests kill it and check what its database keeps; a
//  database per simulated agent would not fit jad_db's statement cache.)
//  --restart-rate R restarts R random agents per second, the controller
//  being there or not: each drains its unacked batches (2 s at most, as
//  the agent does on SIGTERM), closes both sockets, connects again with
//  the same key and enrolls again. --duration S stops after S seconds; at
//  the end (or on SIGTERM) the fleet stops streaming and waits up to
//  --drain-ms for the acks of everything sent.
//
//  Controllers sharing a store (DESIGN §9): --controller takes a list,
//  H1:B1,H2:B2, as agent.yaml's `controller:`. With more than one
//  endpoint (or --agent-link) each simulated agent uses the agent's own
//  link (agt_link): SUB and DEALER connected to every endpoint, the
//  DEALER with ZMQ_IMMEDIATE and ZMTP heartbeats, a monitor on its
//  handshakes; on each (re)connection the agent enrolls and says hello
//  and sends what waits for an ack again, and once accepted it connects
//  its subscription again (agt_link_resubscribe), as jadugar-agent does.
//  It then also reads the signed heartbeats on `beat/ENV/`: signature,
//  admission and the leadership epoch as the agent checks them (a lower
//  epoch is refused, as is a plan of a lower epoch). One endpoint without
//  --agent-link keeps the lighter sockets of before (no heartbeats read,
//  no monitor), which tests/bench/run.sh measures.
//
//  --join-spread MS: each agent connects first at a random time within MS
//  (a fleet that boots at once, paced), instead of all at start.
//  --no-sub: the agents hold their DEALER only. Plans travel there
//  (protocol 2) and jadsim reads no heartbeat, so the fan-out is the
//  same; it halves the controller's connections where its descriptor
//  limit cannot hold two per agent (tests/bench/run.sh says when).
//
//  Output, one line per event the harness reads:
//    joined N MS p50 P50 p99 P99      all N agents were accepted MS after
//                                     the start; P50 / P99: one agent's
//                                     first connection to its enrollment
//                                     reply (handshake, ZAP, enrollment)
//    acked PLAN N MS                  N agents acknowledged; MS = last ack
//                                     time minus the plan's issued_at
//                                     (the line goes on: "first F last L
//                                     at WALL", F and L the first and
//                                     last copy verified and admitted
//                                     minus issued_at, WALL the last
//                                     ack's unix ms)
//    healthy PLAN N MS                N agents reported healthy
//    beat EPOCH N MS                  (agent link) an agent accepted its
//                                     first signed heartbeat of EPOCH (a
//                                     higher one than it had), the Nth of
//                                     this process to do so; MS: unix ms
//  and on exit a summary line "stats key=value ..." followed by the same
//  counters as "key: value" lines (samples_sent counts samples taken into
//  a stream; samples_refused those of them the socket refused at first,
//  sent again later; samples_abandoned is what the end left unacknowledged;
//  restarts_unacked the restarts whose drain gave up with batches unacked).

#include "agt_intake.h"
#include "agt_link.h"
#include "agt_mstream.h"
#include "jad_archive.h"
#include "jad_db.h"
#include "jad_envelope.h"
#include "jad_keys.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_CREDIT        4
#define S_EVENTS        1024  //  epoll events taken per round
#define S_SWEEP_MS      500   //  every socket is looked at this often
#define S_APPLY_SLICE   64    //  plans applied between two poll rounds
#define S_REPORT_RESEND 2000  //  unacked reports go again, as the agent's outbox
#define S_ACK_TIMEOUT   3000  //  unacked metric batches go again (the agent's)
#define S_RESTART_DRAIN 2000  //  a restarting agent waits this long for acks

//  A report sent and not acknowledged yet.
typedef struct {
    uint64_t report_id;
    zchunk_t *wire;
    int64_t last_sent;  //  mono ms
} s_outgoing_t;

typedef enum { S_APPLY_NOOP, S_APPLY_SWITCH, S_APPLY_UNPACK } s_apply_t;

typedef struct {
    char name[48];
    jad_keypair_t *key;
    bool accepted;  //  enrolled; SUB connected
    zsock_t *sub;
    zsock_t *dealer;
    uint64_t last_sequence;
    bool sequence_dirty;
    char incarnation[33];
    uint64_t next_report;
    int64_t next_heartbeat;  //  monotonic ms
    double metrics_due;      //  samples owed by the rate so far
    char app[JAD_NAME_MAX + 1];
    char version[JAD_NAME_MAX + 1];
    char health[16];
    char plan_id[JAD_NAME_MAX + 1];
    //  accepted, acknowledged, not applied yet: real agents apply in
    //  parallel, so a poll round acknowledges everything first
    jad_plan_t *pending;
    jad_plan_t *resent;  //  known plan sent again: ack only
    //  acknowledged, waiting for its turn to apply: every host applies on
    //  its own, so one simulated agent's apply never delays another's
    //  acknowledgement (apply work goes in slices between poll rounds)
    jad_plan_t *to_apply;
    int check;  //  sockets to look at this round: 1 SUB, 2 DEALER, 4 monitor
    //  a fetch in progress (unpack mode)
    jad_plan_t *fetching;
    FILE *download;
    char download_path[PATH_MAX];
    uint64_t received;
    uint64_t requested;
    crypto_hash_sha256_state hash;
    agt_mstream_t *mstream;  //  metric batches waiting for their ack
    zlistx_t *outbox;        //  s_outgoing_t reports waiting for their ack
    bool restarting;         //  draining before a simulated restart
    int64_t restart_deadline;
    int64_t connect_at;   //  mono ms of its first connection (--join-spread)
    int64_t opened_at;    //  mono ms it connected first, 0: not yet
    int64_t accepted_at;  //  mono ms of its first "accepted" reply, 0: not yet
    agt_link_t *link;     //  the agent's own sockets (agent link mode), else NULL
    bool subscribed;      //  the SUB is connected since the last disconnection
    uint64_t epoch;       //  highest leadership epoch accepted (plan or heartbeat)
    bool beat_heard;      //  a heartbeat of `epoch` was accepted
    int64_t last_beat;    //  issued_at of the last heartbeat accepted
} s_agent_t;

//  What the fleet did with one plan.
typedef struct {
    char plan_id[JAD_NAME_MAX + 1];
    int64_t issued_at;
    int targets_here;  //  targets that are ours
    int acked;
    int healthy;
    int64_t last_ack;
    int64_t first_seen;  //  wall ms the first copy was verified and admitted
    int64_t last_seen;   //  and the last
    int64_t last_healthy;
} s_plan_stats_t;

#define S_EPOCHS 32  //  epochs counted in "beat" lines

typedef struct {
    const char *controller;  //  HOST:BASE[,HOST:BASE...]
    const char *controller_key;
    const char *signing_key_text;
    const char *token;  //  enrollment token
    char host[256];     //  controller host
    int base;           //  controller base port
    uint8_t signing_key[32];
    const char *env;
    const char *prefix;
    const char *state_dir;
    const char *root;
    int count;
    int heartbeat_ms;
    s_apply_t apply;
    sqlite3 *db;
    s_agent_t *agents;
    zhashx_t *plans;  //  plan id -> s_plan_stats_t
    //  "agent plan-id" of every plan an agent took (the agent's plans
    //  table): a plan sent again is acknowledged, never applied again
    zhashx_t *taken;
    int online;
    uint64_t refused;
    uint64_t verified;
    uint64_t reports_sent;
    uint64_t report_acks;
    int metrics_rate;  //  samples/s per agent, 0: none
    uint64_t samples_sent;
    uint64_t samples_refused;  //  taken, but the DEALER refused them at first (HWM)
    uint64_t samples_acked;
    uint64_t samples_abandoned;  //  unacked when the sim ended
    uint64_t samples_deferred;   //  not taken: the window of unacked batches was full
    uint64_t reports_resent;
    uint64_t reports_abandoned;  //  unacked at the end
    uint64_t restarts;
    uint64_t restarts_unacked;  //  restarts with metric batches still unacked
    uint64_t metric_acks;
    char *series[20];  //  series names the samples use
    int window;        //  unacked metric batches per agent
    int batch;         //  samples per metric batch
    double restart_rate;
    int duration_s;
    int drain_ms;
    int epoll;         //  every socket's ZMQ_FD (see s_watch)
    int to_apply;      //  agents with an acknowledged plan not applied yet
    int apply_cursor;  //  where the next apply slice starts
    bool no_sub;       //  --no-sub: the DEALER only (see the top)
    int join_spread_ms;
    int joined;  //  agents accepted at least once
    int64_t start;
    bool agent_link;                 //  agt_link sockets (see the top)
    jad_agent_config_t link_config;  //  what agt_link_new reads of it
    uint64_t beat_epochs[S_EPOCHS];  //  epochs heard ...
    int beat_agents[S_EPOCHS];       //  ... and how many agents heard each
    uint64_t beats_verified;
    uint64_t beats_refused;
    uint64_t beats_stale;  //  heartbeats and plans of a lower epoch
    uint64_t connects;     //  DEALER handshakes (agent link)
    uint64_t disconnects;
} s_sim_t;

//  A send may have taken a socket's ZMQ_FD signal: the next wait must not
//  block (one simulator per process, so one flag).
static bool s_recheck;

static int s_send_bytes (const uint8_t *data, size_t size, void *arg)
{
    s_agent_t *agent = (s_agent_t *)arg;
    //  Sending processes the socket's pending commands and may consume the
    //  ZMQ_FD signal of a message that arrived meanwhile: look again.
    agent->check |= 2;
    s_recheck = true;
    zframe_t *frame = zframe_new (data, size);
    if (zframe_send (&frame, agent->dealer, ZFRAME_DONTWAIT) != 0) {
        zframe_destroy (&frame);
        return -1;
    }
    return 0;
}

static void s_send (s_agent_t *agent, const jad_agent_msg_t *message)
{
    zchunk_t *wire = jad_agent_msg_encode (message);
    if (!wire)
        return;
    s_send_bytes (zchunk_data (wire), zchunk_size (wire), agent);
    zchunk_destroy (&wire);
}

static void s_outgoing_destroy (void **item)
{
    s_outgoing_t *outgoing = (s_outgoing_t *)*item;
    if (outgoing) {
        zchunk_destroy (&outgoing->wire);
        free (outgoing);
        *item = NULL;
    }
}

static void s_send_enroll (s_sim_t *sim, s_agent_t *agent)
{
    jad_agent_msg_t message = {.kind = JAD_AGENT_MSG_ENROLL};
    message.enroll.name = agent->name;
    message.enroll.environment = (char *)sim->env;
    message.enroll.token = (char *)sim->token;
    s_send (agent, &message);
}

#define S_METRICS_BATCH 1000  //  samples per batch at most (--batch)

//  Send the samples the rate owes this agent, in batches of 1000 over 20
//  series; a batch the socket refuses (high-water mark) is counted.
static void s_send_metrics (s_sim_t *sim, s_agent_t *agent, double elapsed_s)
{
    agent->metrics_due += sim->metrics_rate * elapsed_s;
    static uint32_t index[S_METRICS_BATCH];
    static int64_t times[S_METRICS_BATCH];
    static double values[S_METRICS_BATCH];
    while (agent->metrics_due >= sim->batch) {
        int64_t now = jad_now_ms ();
        for (int sample = 0; sample < sim->batch; sample++) {
            index[sample] = (uint32_t)(sample % 20);
            times[sample] = now - (sim->batch - sample) / 20;
            values[sample] = (double)(sample % 97) / 7.0;
        }
        jad_metric_batch_t batch = {.names = sim->series,
                                    .name_count = 20,
                                    .name_index = index,
                                    .times = times,
                                    .values = values,
                                    .sample_count = (size_t)sim->batch};
        int rc = agt_mstream_send (agent->mstream, &batch, jad_mono_ms (), s_send_bytes, agent);
        if (rc < 0)
            //  the window is full: these samples are not taken (counted)
            sim->samples_deferred += (uint64_t)sim->batch;
        else
            sim->samples_sent += (uint64_t)sim->batch;
        if (rc == 1)
            sim->samples_refused += (uint64_t)sim->batch;
        agent->metrics_due -= sim->batch;
    }
}

static void s_send_status (s_sim_t *sim, s_agent_t *agent, bool hello)
{
    jad_app_state_t app = {.app = agent->app,
                           .version = agent->version,
                           .health = agent->health,
                           .plan_id = agent->plan_id[0] ? agent->plan_id : NULL};
    jad_status_t status = {.name = agent->name,
                           .environment = (char *)sim->env,
                           .last_sequence = agent->last_sequence,
                           .incarnation = agent->incarnation,
                           .hello = hello,
                           .apps = agent->app[0] ? &app : NULL,
                           .app_count = agent->app[0] ? 1 : 0,
                           .agent_version = "jadsim"};
    jad_agent_msg_t message = {.kind = JAD_AGENT_MSG_STATUS, .status = &status};
    s_send (agent, &message);
}

static void s_report (s_sim_t *sim, s_agent_t *agent, const jad_plan_t *plan, const char *step,
                      jad_report_status_t status, const char *detail)
{
    jad_report_t report = {.report_id = ++agent->next_report,
                           .incarnation = agent->incarnation,
                           .plan_id = plan->plan_id,
                           .app = plan->app,
                           .version = plan->version,
                           .step = (char *)step,
                           .status = status,
                           .detail = (char *)detail,
                           .time = jad_now_ms ()};
    jad_agent_msg_t message = {.kind = JAD_AGENT_MSG_REPORT, .report = &report};
    s_outgoing_t *outgoing = calloc (1, sizeof *outgoing);
    if (!outgoing || !(outgoing->wire = jad_agent_msg_encode (&message))) {
        free (outgoing);
        fprintf (stderr, "jadsim: cannot encode a report\n");
        return;
    }
    outgoing->report_id = report.report_id;
    outgoing->last_sent = jad_mono_ms ();
    zlistx_add_end (agent->outbox, outgoing);
    s_send_bytes (zchunk_data (outgoing->wire), zchunk_size (outgoing->wire), agent);
    sim->reports_sent++;
}

//  Reports not acknowledged within S_REPORT_RESEND go again.
static void s_resend_reports (s_sim_t *sim, s_agent_t *agent, int64_t now)
{
    for (s_outgoing_t *outgoing = zlistx_first (agent->outbox); outgoing;
         outgoing = zlistx_next (agent->outbox))
        if (now - outgoing->last_sent >= S_REPORT_RESEND &&
            s_send_bytes (zchunk_data (outgoing->wire), zchunk_size (outgoing->wire), agent) == 0) {
            outgoing->last_sent = now;
            sim->reports_resent++;
        }
}

static void s_reports_acked (s_sim_t *sim, s_agent_t *agent, const jad_ctl_msg_t *message)
{
    if (!message->report_ack.incarnation ||
        !streq (message->report_ack.incarnation, agent->incarnation))
        return;
    for (size_t index = 0; index < message->report_ack.report_id_count; index++)
        for (s_outgoing_t *outgoing = zlistx_first (agent->outbox); outgoing;
             outgoing = zlistx_next (agent->outbox))
            if (outgoing->report_id == message->report_ack.report_ids[index]) {
                zlistx_delete (agent->outbox, zlistx_cursor (agent->outbox));
                sim->report_acks++;
                break;
            }
}

static s_plan_stats_t *s_stats (s_sim_t *sim, const jad_plan_t *plan)
{
    s_plan_stats_t *stats = zhashx_lookup (sim->plans, plan->plan_id);
    if (!stats) {
        stats = calloc (1, sizeof *stats);
        snprintf (stats->plan_id, sizeof stats->plan_id, "%s", plan->plan_id);
        stats->issued_at = plan->issued_at;
        stats->first_seen = jad_now_ms ();
        zhashx_insert (sim->plans, plan->plan_id, stats);
        //  The targets that are ours. A plan signs the root of its
        //  targets' tree and their count, not their names, so we cannot
        //  tell which are ours: all of our agents when it has as many
        //  targets or more (the bench's plans target whole environments,
        //  spread over several simulators), else its count.
        stats->targets_here =
            plan->target_count >= (size_t)sim->count ? sim->count : (int)plan->target_count;
    }
    return stats;
}

static int s_switch (s_sim_t *sim, s_agent_t *agent, const jad_plan_t *plan)
{
    char dir[PATH_MAX], link[PATH_MAX], temp[PATH_MAX + 8], target[PATH_MAX];
    snprintf (dir, sizeof dir, "%s/%s/%s/releases/%s", sim->root, agent->name, plan->app,
              plan->version);
    if (sim->apply == S_APPLY_SWITCH && jad_mkdirs (dir, 0755) != 0)
        return -1;
    snprintf (link, sizeof link, "%s/%s/%s/current", sim->root, agent->name, plan->app);
    snprintf (temp, sizeof temp, "%s.tmp", link);
    snprintf (target, sizeof target, "releases/%s", plan->version);
    unlink (temp);
    if (symlink (target, temp) != 0 || rename (temp, link) != 0)
        return -1;
    return 0;
}

//  The plan is applied on this agent: record and report.
static void s_applied (s_sim_t *sim, s_agent_t *agent, const jad_plan_t *plan, bool ok,
                       const char *detail)
{
    snprintf (agent->app, sizeof agent->app, "%s", plan->app);
    if (ok)
        snprintf (agent->version, sizeof agent->version, "%s", plan->version);
    snprintf (agent->health, sizeof agent->health, "%s", ok ? "healthy" : "failed");
    snprintf (agent->plan_id, sizeof agent->plan_id, "%s", plan->plan_id);
    s_report (sim, agent, plan, "done", ok ? JAD_REPORT_HEALTHY : JAD_REPORT_FAILED, detail);
    if (!ok)
        return;
    s_plan_stats_t *stats = s_stats (sim, plan);
    stats->healthy++;
    stats->last_healthy = jad_now_ms ();
    if (stats->healthy == stats->targets_here) {
        printf ("healthy %s %d %lld\n", plan->plan_id, stats->healthy,
                (long long)(stats->last_healthy - stats->issued_at));
        fflush (stdout);
    }
}

static void s_fetch_more (s_agent_t *agent)
{
    jad_plan_t *plan = agent->fetching;
    while (agent->requested < plan->artifact_length &&
           agent->requested - agent->received < (uint64_t)S_CREDIT * JAD_CHUNK_SIZE) {
        uint64_t left = plan->artifact_length - agent->requested;
        jad_agent_msg_t message = {.kind = JAD_AGENT_MSG_FETCH};
        memcpy (message.fetch.sha256, plan->artifact_sha256, 32);
        message.fetch.offset = agent->requested;
        message.fetch.length = (uint32_t)(left < JAD_CHUNK_SIZE ? left : JAD_CHUNK_SIZE);
        s_send (agent, &message);
        agent->requested += message.fetch.length;
    }
}

static void s_fetch_done (s_sim_t *sim, s_agent_t *agent, bool ok, const char *why)
{
    jad_plan_t *plan = agent->fetching;
    agent->fetching = NULL;
    if (agent->download)
        fclose (agent->download);
    agent->download = NULL;
    char detail[256] = "";
    if (ok) {
        char dest[PATH_MAX], err[512];
        snprintf (dest, sizeof dest, "%s/%s/%s/releases", sim->root, agent->name, plan->app);
        jad_mkdirs (dest, 0755);
        snprintf (dest, sizeof dest, "%s/%s/%s/releases/%s", sim->root, agent->name, plan->app,
                  plan->version);
        jad_rmtree (dest);
        if (jad_archive_extract (agent->download_path, dest, NULL, err, sizeof err) != 0) {
            ok = false;
            snprintf (detail, sizeof detail, "unpack: %.200s", err);
        } else if (s_switch (sim, agent, plan) != 0) {
            ok = false;
            snprintf (detail, sizeof detail, "switch: %s", strerror (errno));
        }
    } else
        snprintf (detail, sizeof detail, "fetch: %s", why);
    unlink (agent->download_path);
    s_applied (sim, agent, plan, ok, ok ? "healthy" : detail);
    jad_plan_destroy (&plan);
}

static void s_on_chunk (s_sim_t *sim, s_agent_t *agent, const jad_ctl_msg_t *message)
{
    jad_plan_t *plan = agent->fetching;
    if (!plan || memcmp (message->chunk.sha256, plan->artifact_sha256, 32) != 0)
        return;
    if (message->chunk.error) {
        s_fetch_done (sim, agent, false, message->chunk.error);
        return;
    }
    //  Chunks arrive in order on one DEALER connection.
    if (message->chunk.offset != agent->received ||
        agent->received + message->chunk.data_size > plan->artifact_length) {
        s_fetch_done (sim, agent, false, "chunk out of order or beyond the signed length");
        return;
    }
    if (fwrite (message->chunk.data, 1, message->chunk.data_size, agent->download) !=
        message->chunk.data_size) {
        s_fetch_done (sim, agent, false, "write failed");
        return;
    }
    crypto_hash_sha256_update (&agent->hash, message->chunk.data, message->chunk.data_size);
    agent->received += message->chunk.data_size;
    if (agent->received == plan->artifact_length) {
        uint8_t digest[32];
        crypto_hash_sha256_final (&agent->hash, digest);
        fflush (agent->download);
        s_fetch_done (sim, agent, sodium_memcmp (digest, plan->artifact_sha256, 32) == 0,
                      "SHA-256 mismatch");
    } else
        s_fetch_more (agent);
}

static void s_start_apply (s_sim_t *sim, s_agent_t *agent, jad_plan_t **plan_p)
{
    jad_plan_t *plan = *plan_p;
    *plan_p = NULL;
    if (sim->apply == S_APPLY_NOOP) {
        s_applied (sim, agent, plan, true, "no-op apply");
        jad_plan_destroy (&plan);
        return;
    }
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s/%s/%s/releases/%s", sim->root, agent->name, plan->app,
              plan->version);
    struct stat info;
    bool on_disk = stat (dir, &info) == 0;
    if (sim->apply == S_APPLY_SWITCH || on_disk) {
        bool ok = s_switch (sim, agent, plan) == 0;
        s_applied (sim, agent, plan, ok, ok ? "switched" : "switch failed");
        jad_plan_destroy (&plan);
        return;
    }
    if (agent->fetching) {
        s_applied (sim, agent, plan, false, "busy");
        jad_plan_destroy (&plan);
        return;
    }
    snprintf (agent->download_path, sizeof agent->download_path, "%s/%s.part", sim->state_dir,
              agent->name);
    agent->download = fopen (agent->download_path, "wb");
    if (!agent->download) {
        s_applied (sim, agent, plan, false, "cannot create the download");
        jad_plan_destroy (&plan);
        return;
    }
    agent->fetching = plan;
    agent->received = agent->requested = 0;
    crypto_hash_sha256_init (&agent->hash);
    s_fetch_more (agent);
}

//  A signed plan arrived on this agent's SUB or DEALER.
static void s_on_envelope (s_sim_t *sim, s_agent_t *agent, const uint8_t *data, size_t size)
{
    jad_verify_t verdict;
    char err[JAD_ERR_LEN];
    jad_plan_t *plan = jad_envelope_open_plan (data, size, sim->signing_key, &verdict, err);
    if (!plan) {
        sim->refused++;
        return;
    }
    sim->verified++;
    //  a deposed leader's plan (the agent's intake: stale_epoch)
    if (plan->epoch < agent->epoch) {
        sim->beats_stale++;
        sim->refused++;
        jad_plan_destroy (&plan);
        return;
    }
    jad_admit_t admit = jad_plan_admit (plan, sim->env, agent->name, agent->last_sequence,
                                        jad_now_ms (), 5 * 60 * 1000, err);
    if (admit == JAD_ADMIT_NOT_TARGET) {
        jad_plan_destroy (&plan);
        return;
    }
    if (admit != JAD_ADMIT_OK) {
        sim->refused++;
        jad_plan_destroy (&plan);
        return;
    }
    s_stats (sim, plan)->last_seen = jad_now_ms ();
    agent->last_sequence = plan->sequence;
    agent->sequence_dirty = true;
    if (plan->epoch > agent->epoch) {
        agent->epoch = plan->epoch;
        agent->beat_heard = false;  //  the epoch's first heartbeat is still to come
    }
    //  Known: the last plan or an older one the controller sends again
    //  (its ack was late). Taking an older plan as new would apply it
    //  again, switch the release back and report twice more.
    char key[sizeof agent->name + JAD_NAME_MAX + 2];
    snprintf (key, sizeof key, "%s %s", agent->name, plan->plan_id);
    bool known = zhashx_lookup (sim->taken, key) != NULL;
    if (known) {
        //  a re-send: acknowledge again once the sequence is stored
        jad_plan_destroy (&agent->resent);
        agent->resent = plan;
        return;
    }
    zhashx_insert (sim->taken, key, (void *)"");
    snprintf (agent->plan_id, sizeof agent->plan_id, "%s", plan->plan_id);
    jad_plan_destroy (&agent->pending);  //  a newer plan supersedes it
    agent->pending = plan;
}

static void s_send_ack (s_agent_t *agent, const jad_plan_t *plan)
{
    jad_agent_msg_t ack = {.kind = JAD_AGENT_MSG_ACK};
    ack.ack.plan_id = plan->plan_id;
    ack.ack.sequence = plan->sequence;
    s_send (agent, &ack);
}

//  After the round's sequences are stored: acknowledge, then apply.
static void s_after_round (s_sim_t *sim)
{
    for (int index = 0; index < sim->count; index++) {
        s_agent_t *agent = &sim->agents[index];
        if (agent->resent) {
            s_send_ack (agent, agent->resent);
            jad_plan_destroy (&agent->resent);
        }
        if (!agent->pending)
            continue;
        s_send_ack (agent, agent->pending);
        s_plan_stats_t *stats = s_stats (sim, agent->pending);
        stats->acked++;
        stats->last_ack = jad_now_ms ();
        if (stats->acked == stats->targets_here) {
            printf ("acked %s %d %lld first %lld last %lld at %lld\n", stats->plan_id, stats->acked,
                    (long long)(stats->last_ack - stats->issued_at),
                    (long long)(stats->first_seen - stats->issued_at),
                    (long long)(stats->last_seen - stats->issued_at), (long long)stats->last_ack);
            fflush (stdout);
        }
    }
    for (int index = 0; index < sim->count; index++) {
        s_agent_t *agent = &sim->agents[index];
        if (agent->pending) {
            jad_plan_destroy (&agent->to_apply);  //  superseded before it ran
            agent->to_apply = agent->pending;
            agent->pending = NULL;
            sim->to_apply++;
        }
    }
}

//  Apply up to `slice` acknowledged plans, round-robin; the main loop
//  polls for new plans between slices.
static void s_apply_slice (s_sim_t *sim, int slice)
{
    for (int seen = 0; seen < sim->count && slice > 0 && sim->to_apply > 0; seen++) {
        s_agent_t *agent = &sim->agents[sim->apply_cursor];
        sim->apply_cursor = (sim->apply_cursor + 1) % sim->count;
        if (!agent->to_apply)
            continue;
        sim->to_apply--;
        slice--;
        s_report (sim, agent, agent->to_apply, "switch", JAD_REPORT_STARTED, NULL);
        s_start_apply (sim, agent, &agent->to_apply);
    }
}

//  How many agents of this process have heard `epoch` now (counted once
//  per agent).
static int s_epoch_heard (s_sim_t *sim, uint64_t epoch)
{
    for (int index = 0; index < S_EPOCHS; index++)
        if (sim->beat_agents[index] == 0 || sim->beat_epochs[index] == epoch) {
            sim->beat_epochs[index] = epoch;
            return ++sim->beat_agents[index];
        }
    return 0;
}

//  A signed heartbeat on the agent's SUB (agent link mode), checked as the
//  agent's intake does: signature, a lower epoch refused, admission
//  (environment, expiry, issued after the last one of the same epoch). The
//  first accepted of a higher epoch prints "beat EPOCH N MS".
static void s_on_beat (s_sim_t *sim, s_agent_t *agent, const uint8_t *data, size_t size)
{
    jad_verify_t verdict;
    char err[JAD_ERR_LEN];
    jad_heartbeat_t *beat =
        jad_envelope_open_heartbeat (data, size, sim->signing_key, &verdict, err);
    if (!beat) {
        sim->beats_refused++;
        return;
    }
    int64_t now = jad_now_ms ();
    if (beat->epoch < agent->epoch) {
        sim->beats_stale++;
    } else if (jad_heartbeat_admit (beat, sim->env,
                                    beat->epoch > agent->epoch ? 0 : agent->last_beat, now,
                                    AGT_SKEW_MS, err) != JAD_ADMIT_OK) {
        sim->beats_refused++;
    } else {
        bool first = !agent->beat_heard || beat->epoch > agent->epoch;
        agent->epoch = beat->epoch;
        agent->beat_heard = true;
        agent->last_beat = beat->issued_at;
        sim->beats_verified++;
        if (first) {
            printf ("beat %llu %d %lld\n", (unsigned long long)beat->epoch,
                    s_epoch_heard (sim, beat->epoch), (long long)now);
            fflush (stdout);
        }
    }
    jad_heartbeat_destroy (&beat);
}

static void s_on_sub (s_sim_t *sim, s_agent_t *agent)
{
    zmsg_t *msg = zmsg_recv (agent->sub);
    if (!msg)
        return;
    zframe_t *topic = zmsg_first (msg);
    zframe_t *body = zmsg_next (msg);
    if (topic && body && zframe_size (topic) >= 5 && memcmp (zframe_data (topic), "beat/", 5) == 0)
        s_on_beat (sim, agent, zframe_data (body), zframe_size (body));
    else if (topic && body)
        s_on_envelope (sim, agent, zframe_data (body), zframe_size (body));
    zmsg_destroy (&msg);
}

//  Connect the plan subscription (again): once accepted, since the
//  controller refuses the SUB of a key it has not accepted and libzmq does
//  not retry a refused connection. 0 or -1.
static int s_subscribe (s_sim_t *sim, s_agent_t *agent)
{
    if (agent->link)
        return agt_link_resubscribe (agent->link);
    return zsock_connect (agent->sub, "tcp://%s:%d", sim->host, sim->base);
}

//  Everything waiting for an ack goes again at once (a new connection).
static void s_resend_all (s_sim_t *sim, s_agent_t *agent)
{
    int64_t now = jad_mono_ms ();
    for (s_outgoing_t *outgoing = zlistx_first (agent->outbox); outgoing;
         outgoing = zlistx_next (agent->outbox))
        outgoing->last_sent = now - S_REPORT_RESEND;
    s_resend_reports (sim, agent, now);
    agt_mstream_resend (agent->mstream, now, s_send_bytes, agent);
}

//  A DEALER handshake event (agent link mode), handled as the agent's
//  s_on_monitor: a connection (to whichever controller leads) enrolls,
//  says hello and sends again what waits for an ack; a disconnection
//  means the subscription must be connected again once accepted.
static void s_on_monitor (s_sim_t *sim, s_agent_t *agent)
{
    agt_link_event_t event = agt_link_monitor_recv (agent->link);
    if (event == AGT_LINK_CONNECTED) {
        sim->connects++;
        s_send_enroll (sim, agent);
        s_send_status (sim, agent, true);
        s_resend_all (sim, agent);
    } else if (event == AGT_LINK_DISCONNECTED) {
        sim->disconnects++;
        agent->subscribed = false;
    } else if (event == AGT_LINK_REFUSED)
        fprintf (stderr, "jadsim: %s: the controller refuses this key\n", agent->name);
}

static void s_on_dealer (s_sim_t *sim, s_agent_t *agent)
{
    zframe_t *frame = zframe_recv (agent->dealer);
    if (!frame)
        return;
    char err[JAD_ERR_LEN];
    jad_ctl_msg_t *message = jad_ctl_msg_decode (zframe_data (frame), zframe_size (frame), err);
    zframe_destroy (&frame);
    if (!message)
        return;
    if (message->kind == JAD_CTL_MSG_PLAN) {
        zchunk_t *wire = jad_envelope_encode (message->plan);
        if (wire)
            s_on_envelope (sim, agent, zchunk_data (wire), zchunk_size (wire));
        zchunk_destroy (&wire);
    } else if (message->kind == JAD_CTL_MSG_CHUNK)
        s_on_chunk (sim, agent, message);
    else if (message->kind == JAD_CTL_MSG_REPORT_ACK)
        s_reports_acked (sim, agent, message);
    else if (message->kind == JAD_CTL_MSG_METRIC_ACK) {
        sim->metric_acks++;
        sim->samples_acked +=
            agt_mstream_ack (agent->mstream, message->metric_ack.stream, message->metric_ack.seq);
    } else if (message->kind == JAD_CTL_MSG_ENROLL_REPLY &&
               streq (message->enroll_reply.state, "accepted")) {
        bool first = !agent->accepted;
        if (first) {
            agent->accepted = true;
            if (!agent->accepted_at) {
                agent->accepted_at = jad_mono_ms ();
                sim->joined++;
            }
        }
        //  The plan stream admits accepted keys only: subscribe now (and
        //  again after each disconnection, as the agent does).
        if (!sim->no_sub && !agent->subscribed) {
            agent->subscribed = s_subscribe (sim, agent) == 0;
            if (!agent->subscribed)
                fprintf (stderr, "jadsim: %s cannot connect its subscription\n", agent->name);
        }
        if (first)
            s_send_status (sim, agent, true);
    }
    jad_ctl_msg_destroy (&message);
}

static int s_flush_state (s_sim_t *sim)
{
    sqlite3_stmt *stmt = NULL;
    bool any = false;
    for (int index = 0; index < sim->count; index++) {
        s_agent_t *agent = &sim->agents[index];
        if (!agent->sequence_dirty)
            continue;
        if (!any) {
            if (jad_db_begin (sim->db))
                return -1;
            stmt = jad_db_prepare (sim->db, "INSERT INTO agents (name, last_sequence) "
                                            "VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET "
                                            "last_sequence = excluded.last_sequence");
            if (!stmt) {
                jad_db_rollback (sim->db);
                return -1;
            }
            any = true;
        }
        sqlite3_reset (stmt);
        sqlite3_bind_text (stmt, 1, agent->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 2, (int64_t)agent->last_sequence);
        sqlite3_step (stmt);
        agent->sequence_dirty = false;
    }
    if (any) {
        sqlite3_finalize (stmt);
        return jad_db_commit (sim->db);
    }
    return 0;
}

//  Sockets for this agent (at start and at each simulated restart), with
//  the key it has.
static int s_open (s_sim_t *sim, s_agent_t *agent)
{
    agent->subscribed = false;
    if (sim->agent_link) {
        //  the agent's own sockets, connected to every endpoint
        agent->link = agt_link_new (&sim->link_config, agent->key);
        if (!agent->link)
            return -1;
        agent->sub = agt_link_sub (agent->link);
        agent->dealer = agt_link_dealer (agent->link);
        return 0;
    }
    char *secret = jad_keypair_curve_secret_z85 (agent->key);
    agent->sub = zsock_new (ZMQ_SUB);
    agent->dealer = zsock_new (ZMQ_DEALER);
    if (!agent->sub || !agent->dealer) {
        jad_secret_free (&secret);
        return -1;
    }
    zsock_t *both[] = {agent->sub, agent->dealer};
    for (int which = 0; which < 2; which++) {
        zsock_set_curve_serverkey (both[which], sim->controller_key);
        zsock_set_curve_publickey (both[which], jad_keypair_public_txt (agent->key));
        zsock_set_curve_secretkey (both[which], secret);
        zsock_set_linger (both[which], 0);
        //  the agent's own reconnect pacing (agt_link)
        zsock_set_reconnect_ivl (both[which], agt_link_reconnect_ivl ());
        zsock_set_reconnect_ivl_max (both[which], AGT_RECONNECT_MAX_MS);
    }
    jad_secret_free (&secret);
    zsock_set_maxmsgsize (agent->sub, JAD_MAX_PLAN_BYTES + 1024);
    zsock_set_maxmsgsize (agent->dealer, JAD_MAX_CTL_MSG);
    char topic[JAD_NAME_MAX + 8];
    snprintf (topic, sizeof topic, "plan/%s/", sim->env);
    zsock_set_subscribe (agent->sub, topic);
    if (zsock_connect (agent->dealer, "tcp://%s:%d", sim->host, sim->base + 1) != 0)
        return -1;
    return 0;
}

//  An agent's key and state; it connects at its connect_at (s_join).
static int s_create (s_sim_t *sim, s_agent_t *agent)
{
    agent->key = jad_keypair_new (JAD_KEY_CURVE);
    agent->outbox = zlistx_new ();
    if (!agent->key || !agent->outbox)
        return -1;
    zlistx_set_destructor (agent->outbox, s_outgoing_destroy);
    jad_random_id (16, agent->incarnation);
    snprintf (agent->health, sizeof agent->health, "unknown");
    agent->mstream = agt_mstream_new ((size_t)sim->window);
    if (!agent->mstream)
        return -1;
    return 0;
}

//  Close what a process has: its sockets and its metric stream, counting
//  what was sent and never acknowledged.
//  The sockets are watched with epoll on their ZMQ_FD: zmq_poll over
//  thousands of sockets makes a few system calls per socket per call, and
//  that, not the agents' work, became the simulator's main cost. ZMQ_FD is
//  only a hint that ZMQ_EVENTS may have changed, so each woken socket is
//  drained while ZMQ_EVENTS says POLLIN, sockets we sent on are looked at
//  again, and every socket is swept now and then.
static int s_watch (s_sim_t *sim, int index, int op)
{
    s_agent_t *agent = &sim->agents[index];
    zsock_t *all[] = {agent->sub, agent->dealer,
                      agent->link ? agt_link_monitor (agent->link) : NULL};
    for (int which = 0; which < 3 && all[which]; which++) {
        struct epoll_event event = {.events = EPOLLIN, .data.u64 = (uint64_t)index * 3 + which};
        if (epoll_ctl (sim->epoll, op, zsock_fd (all[which]), &event) != 0 && op != EPOLL_CTL_DEL)
            return -1;
    }
    return 0;
}

static void s_close (s_agent_t *agent)
{
    if (agent->link) {
        agt_link_destroy (&agent->link);
        agent->sub = agent->dealer = NULL;
        return;
    }
    zsock_destroy (&agent->sub);
    zsock_destroy (&agent->dealer);
}

//  The simulated restart, once the agent drained (or gave up): new
//  sockets, enrollment again. The report outbox and the metric stream
//  stay (the agent's are on disk); the stream's unacked batches go again
//  at once, queued until the new connection is up.
static int s_restart (s_sim_t *sim, int index)
{
    s_agent_t *agent = &sim->agents[index];
    s_watch (sim, index, EPOLL_CTL_DEL);
    if (agt_mstream_unacked (agent->mstream))
        sim->restarts_unacked++;
    s_close (agent);
    agent->accepted = false;
    agent->restarting = false;
    agent->metrics_due = 0;
    if (s_open (sim, agent) != 0)
        return -1;
    if (s_watch (sim, index, EPOLL_CTL_ADD) != 0)
        return -1;
    agent->check = 7;
    sim->restarts++;
    s_send_enroll (sim, agent);
    agt_mstream_resend (agent->mstream, jad_mono_ms (), s_send_bytes, agent);
    return 0;
}

//  Agent `index` connects for the first time and enrolls.
static int s_join (s_sim_t *sim, int index)
{
    s_agent_t *agent = &sim->agents[index];
    if (s_open (sim, agent) != 0) {
        fprintf (stderr, "jadsim: cannot create agent %d (file limit?)\n", index);
        return -1;
    }
    if (s_watch (sim, index, EPOLL_CTL_ADD) != 0) {
        fprintf (stderr, "jadsim: cannot watch agent %d: %s\n", index, strerror (errno));
        return -1;
    }
    agent->opened_at = jad_mono_ms ();
    agent->check = 7;
    s_send_enroll (sim, agent);
    return 0;
}

static int s_compare_ms (const void *left, const void *right)
{
    int64_t first = *(const int64_t *)left, second = *(const int64_t *)right;
    return first < second ? -1 : first > second;
}

//  Once every agent was accepted: "joined N MS p50 P50 p99 P99", MS since
//  the start, P50 / P99 the time from an agent's first connection to its
//  enrollment reply (CURVE handshake, ZAP, enrollment).
static void s_print_joined (s_sim_t *sim)
{
    int64_t *took = calloc ((size_t)sim->count, sizeof (int64_t));
    if (!took)
        return;
    for (int index = 0; index < sim->count; index++)
        took[index] = sim->agents[index].accepted_at - sim->agents[index].opened_at;
    qsort (took, (size_t)sim->count, sizeof (int64_t), s_compare_ms);
    int p99 = (sim->count * 99 + 99) / 100 - 1;
    printf ("joined %d %lld p50 %lld p99 %lld\n", sim->count,
            (long long)(jad_mono_ms () - sim->start), (long long)took[sim->count / 2],
            (long long)took[p99 < 0 ? 0 : p99]);
    fflush (stdout);
    free (took);
}

//  Everything sent is acknowledged: samples and reports.
static bool s_all_acked (s_sim_t *sim)
{
    for (int index = 0; index < sim->count; index++)
        if (agt_mstream_unacked (sim->agents[index].mstream) ||
            zlistx_size (sim->agents[index].outbox))
            return false;
    return true;
}

static void s_usage (void)
{
    fprintf (stderr, "usage: jadsim --controller HOST:BASE[,HOST:BASE...] --controller-key Z85\n"
                     "              --signing-key HEX\n"
                     "              --env ENV --count N --state DIR --root DIR\n"
                     "              [--prefix NAME] [--apply noop|switch|unpack] [--heartbeat MS]\n"
                     "              [--token TOKEN] [--metrics-rate SAMPLES_PER_S] [--window N]\n"
                     "              [--batch SAMPLES]\n"
                     "              [--restart-rate PER_S] [--duration S] [--drain-ms MS]\n"
                     "              [--join-spread MS] [--no-sub] [--agent-link]\n");
}

int main (int argc, char **argv)
{
    s_sim_t sim = {.prefix = "sim",
                   .heartbeat_ms = 5000,
                   .apply = S_APPLY_NOOP,
                   .window = 8,
                   .batch = S_METRICS_BATCH};
    static const struct option longopts[] = {
        {"controller", required_argument, NULL, 'c'},
        {"controller-key", required_argument, NULL, 'k'},
        {"signing-key", required_argument, NULL, 's'},
        {"env", required_argument, NULL, 'e'},
        {"count", required_argument, NULL, 'n'},
        {"state", required_argument, NULL, 'd'},
        {"root", required_argument, NULL, 'r'},
        {"prefix", required_argument, NULL, 'p'},
        {"apply", required_argument, NULL, 'a'},
        {"heartbeat", required_argument, NULL, 'h'},
        {"token", required_argument, NULL, 't'},
        {"metrics-rate", required_argument, NULL, 'm'},
        {"window", required_argument, NULL, 'w'},
        {"batch", required_argument, NULL, 'b'},
        {"restart-rate", required_argument, NULL, 'R'},
        {"duration", required_argument, NULL, 'D'},
        {"drain-ms", required_argument, NULL, 'T'},
        {"join-spread", required_argument, NULL, 'J'},
        {"no-sub", no_argument, NULL, 'S'},
        {"agent-link", no_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    int option;
    while ((option = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (option) {
            case 'c':
                sim.controller = optarg;
                break;
            case 'k':
                sim.controller_key = optarg;
                break;
            case 's':
                sim.signing_key_text = optarg;
                break;
            case 'e':
                sim.env = optarg;
                break;
            case 'n':
                sim.count = atoi (optarg);
                break;
            case 'd':
                sim.state_dir = optarg;
                break;
            case 'r':
                sim.root = optarg;
                break;
            case 'p':
                sim.prefix = optarg;
                break;
            case 'a':
                sim.apply = streq (optarg, "unpack")   ? S_APPLY_UNPACK
                            : streq (optarg, "switch") ? S_APPLY_SWITCH
                                                       : S_APPLY_NOOP;
                break;
            case 'h':
                sim.heartbeat_ms = atoi (optarg);
                break;
            case 't':
                sim.token = optarg;
                break;
            case 'm':
                sim.metrics_rate = atoi (optarg);
                break;
            case 'b':
                sim.batch = atoi (optarg);
                break;
            case 'w':
                sim.window = atoi (optarg);
                break;
            case 'R':
                sim.restart_rate = atof (optarg);
                break;
            case 'D':
                sim.duration_s = atoi (optarg);
                break;
            case 'T':
                sim.drain_ms = atoi (optarg);
                break;
            case 'J':
                sim.join_spread_ms = atoi (optarg);
                break;
            case 'S':
                sim.no_sub = true;
                break;
            case 'L':
                sim.agent_link = true;
                break;
            default:
                s_usage ();
                return 2;
        }
    }
    if (!sim.controller || !sim.controller_key || !sim.signing_key_text || !sim.env ||
        sim.count <= 0 || !sim.state_dir || !sim.root || sim.heartbeat_ms <= 0 || sim.window <= 0 ||
        sim.batch <= 0 || sim.batch > S_METRICS_BATCH || sim.restart_rate < 0 ||
        sim.duration_s < 0 || sim.drain_ms < 0 || sim.join_spread_ms < 0 ||
        jad_unhex (sim.signing_key_text, sim.signing_key, 32) != 0) {
        s_usage ();
        return 2;
    }
    //  the endpoints as the agent reads them; the first one serves the
    //  lighter sockets of a single controller
    int endpoints = agt_link_parse_endpoints (sim.controller);
    char first[300];
    const char *cursor = sim.controller;
    if (endpoints < 0 || !jad_endpoint_next (&cursor, first, sizeof first) ||
        agt_link_parse_endpoint (first, sim.host, sizeof sim.host, &sim.base) != 0) {
        fprintf (stderr, "jadsim: --controller: not HOST:BASE[,HOST:BASE...]: %s\n",
                 sim.controller);
        return 2;
    }
    if (endpoints > 1)
        sim.agent_link = true;
    if (sim.agent_link && sim.no_sub) {
        fprintf (stderr, "jadsim: --no-sub goes without the agent link (one endpoint)\n");
        return 2;
    }
    sim.link_config = (jad_agent_config_t){.environment = (char *)sim.env,
                                           .controller = (char *)sim.controller,
                                           .controller_key = (char *)sim.controller_key,
                                           .heartbeat_ms = (uint32_t)sim.heartbeat_ms};
    if (sodium_init () < 0)
        return 1;

    //  Two sockets per agent, each with a TCP connection and a mailbox.
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
    //  the agent link adds a monitor: its PAIR and libzmq's own
    zsys_set_max_sockets ((size_t)sim.count * (sim.agent_link ? 4 : 2) + 64);
    zsys_set_io_threads (1);
    zsys_init ();

    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/jadsim.db", sim.state_dir);
    static const char *const migrations[] = {
        "CREATE TABLE agents (name TEXT PRIMARY KEY, last_sequence INTEGER NOT NULL)"};
    if (jad_mkdirs (sim.state_dir, 0700) != 0 ||
        !(sim.db = jad_db_open (path, true, migrations, 1))) {
        fprintf (stderr, "jadsim: cannot open %s\n", path);
        return 1;
    }
    sim.plans = zhashx_new ();
    zhashx_set_destructor (sim.plans, (zhashx_destructor_fn *)zstr_free);
    sim.taken = zhashx_new ();
    sim.agents = calloc ((size_t)sim.count, sizeof (s_agent_t));
    sim.epoll = epoll_create1 (EPOLL_CLOEXEC);
    if (!sim.plans || !sim.taken || !sim.agents || sim.epoll < 0)
        return 1;
    int64_t start = jad_mono_ms ();
    sim.start = start;
    for (int index = 0; index < sim.count; index++) {
        s_agent_t *agent = &sim.agents[index];
        snprintf (agent->name, sizeof agent->name, "%s-%05d", sim.prefix, index);
        if (s_create (&sim, agent) != 0) {
            fprintf (stderr, "jadsim: cannot create agent %d\n", index);
            return 1;
        }
        //  A fleet that boots at once connects within --join-spread, each
        //  agent at a random time (none: all now, as fast as they can).
        agent->connect_at =
            start +
            (sim.join_spread_ms ? (int64_t)randombytes_uniform ((uint32_t)sim.join_spread_ms) : 0);
        //  Spread the first heartbeats: hello now, the rest staggered.
        agent->next_heartbeat =
            agent->connect_at + (int64_t)randombytes_uniform ((uint32_t)sim.heartbeat_ms);
        if (agent->connect_at <= start && s_join (&sim, index) != 0)
            return 1;
    }
    fprintf (stderr, "jadsim: %d agents connecting to %s (apply=%s%s)\n", sim.count, sim.controller,
             sim.apply == S_APPLY_NOOP     ? "noop"
             : sim.apply == S_APPLY_SWITCH ? "switch"
                                           : "unpack",
             sim.agent_link ? ", agent link" : "");

    for (int index = 0; index < 20; index++)
        sim.series[index] = jad_strdup_printf ("app_requests_total{code=\"%d\"}", 200 + index);
    int64_t last_metrics = jad_mono_ms ();
    int64_t next_sweep = last_metrics + S_SWEEP_MS;
    int64_t stop_deadline = 0;
    bool stopping = false;
    double restarts_due = 0;
    bool joined_printed = false;
    while (true) {
        int64_t now = jad_mono_ms ();
        if (!stopping &&
            (zsys_interrupted || (sim.duration_s && now - start >= sim.duration_s * 1000LL))) {
            stopping = true;
            stop_deadline = now + sim.drain_ms;
            if (sim.drain_ms)
                fprintf (stderr, "jadsim: stopping; waiting up to %d ms for the last acks\n",
                         sim.drain_ms);
        }
        if (stopping && (now >= stop_deadline || s_all_acked (&sim)))
            break;
        struct epoll_event events[S_EVENTS];
        int ready = epoll_wait (sim.epoll, events, S_EVENTS,
                                sim.to_apply || s_recheck                                ? 0
                                : sim.metrics_rate || stopping || sim.joined < sim.count ? 10
                                                                                         : 100);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        s_recheck = false;
        for (int index = 0; index < ready; index++)
            sim.agents[events[index].data.u64 / 3].check |= 1 << (events[index].data.u64 % 3);
        if (jad_mono_ms () >= next_sweep) {
            for (int index = 0; index < sim.count; index++)
                sim.agents[index].check = sim.agents[index].opened_at ? 7 : 0;
            next_sweep = jad_mono_ms () + S_SWEEP_MS;
        }
        for (int index = 0; index < sim.count; index++) {
            s_agent_t *agent = &sim.agents[index];
            int check = agent->check;
            if (!check)
                continue;
            agent->check = 0;
            //  Drain each socket: one round serves every message ready.
            if (check & 1)
                while (zsock_events (agent->sub) & ZMQ_POLLIN)
                    s_on_sub (&sim, agent);
            if (check & 2)
                while (zsock_events (agent->dealer) & ZMQ_POLLIN)
                    s_on_dealer (&sim, agent);
            if ((check & 4) && agent->link)
                while (zsock_events (agt_link_monitor (agent->link)) & ZMQ_POLLIN)
                    s_on_monitor (&sim, agent);
        }
        if (sim.joined == sim.count && !joined_printed) {
            s_print_joined (&sim);
            joined_printed = true;
        }
        if (s_flush_state (&sim) == 0)
            s_after_round (&sim);
        s_apply_slice (&sim, S_APPLY_SLICE);
        now = jad_mono_ms ();
        double elapsed_s = (double)(now - last_metrics) / 1000.0;
        last_metrics = now;
        //  Random restarts: an agent not busy starts draining.
        restarts_due += stopping ? 0 : sim.restart_rate * elapsed_s;
        for (; restarts_due >= 1; restarts_due -= 1) {
            s_agent_t *agent = &sim.agents[randombytes_uniform ((uint32_t)sim.count)];
            if (agent->accepted && !agent->restarting && !agent->fetching) {
                agent->restarting = true;
                agent->restart_deadline = now + S_RESTART_DRAIN;
            }
        }
        for (int index = 0; index < sim.count; index++) {
            s_agent_t *agent = &sim.agents[index];
            if (!agent->opened_at) {
                if (now >= agent->connect_at && s_join (&sim, index) != 0)
                    return 1;
                continue;
            }
            if (agent->restarting &&
                (agt_mstream_unacked (agent->mstream) == 0 || now >= agent->restart_deadline)) {
                if (s_restart (&sim, index) != 0) {
                    fprintf (stderr, "jadsim: %s cannot restart\n", agent->name);
                    return 1;
                }
            } else if (sim.metrics_rate && agent->accepted && !agent->restarting && !stopping)
                s_send_metrics (&sim, agent, elapsed_s);
            if (agt_mstream_overdue (agent->mstream, now, S_ACK_TIMEOUT))
                agt_mstream_resend (agent->mstream, now, s_send_bytes, agent);
            if (zlistx_size (agent->outbox))
                s_resend_reports (&sim, agent, now);
            if (now >= agent->next_heartbeat) {
                //  An enrollment lost with a connection (the controller
                //  killed) goes again, as the agent's does on every
                //  connection: without it the agent never streams again.
                if (!agent->accepted)
                    s_send_enroll (&sim, agent);
                s_send_status (&sim, agent, false);
                agent->next_heartbeat = now + sim.heartbeat_ms;
            }
        }
    }
    for (int index = 0; index < sim.count; index++) {
        s_agent_t *agent = &sim.agents[index];
        sim.reports_abandoned += zlistx_size (agent->outbox);
        sim.samples_abandoned += agt_mstream_unacked_samples (agent->mstream);
        agt_mstream_destroy (&agent->mstream);
        s_close (agent);
    }
    printf ("stats agents=%d verified=%llu refused=%llu reports_sent=%llu report_acks=%llu "
            "samples_sent=%llu samples_refused=%llu\n",
            sim.count, (unsigned long long)sim.verified, (unsigned long long)sim.refused,
            (unsigned long long)sim.reports_sent, (unsigned long long)sim.report_acks,
            (unsigned long long)sim.samples_sent, (unsigned long long)sim.samples_refused);
    const struct {
        const char *key;
        uint64_t value;
    } counters[] = {
        {"agents", (uint64_t)sim.count},
        {"restarts", sim.restarts},
        {"restarts_unacked", sim.restarts_unacked},
        {"plans_verified", sim.verified},
        {"plans_refused", sim.refused},
        {"reports_sent", sim.reports_sent},
        {"reports_resent", sim.reports_resent},
        {"reports_acked", sim.report_acks},
        {"reports_abandoned", sim.reports_abandoned},
        {"samples_sent", sim.samples_sent},
        {"samples_acked", sim.samples_acked},
        {"samples_abandoned", sim.samples_abandoned},
        {"samples_deferred", sim.samples_deferred},
        {"samples_refused", sim.samples_refused},
        {"metric_acks", sim.metric_acks},
        {"beats_verified", sim.beats_verified},
        {"beats_refused", sim.beats_refused},
        {"stale_epoch", sim.beats_stale},
        {"connects", sim.connects},
        {"disconnects", sim.disconnects},
    };
    for (size_t index = 0; index < sizeof counters / sizeof counters[0]; index++)
        printf ("%s: %llu\n", counters[index].key, (unsigned long long)counters[index].value);
    for (int index = 0; index < 20; index++)
        free (sim.series[index]);
    fflush (stdout);
    s_flush_state (&sim);
    for (int index = 0; index < sim.count; index++) {
        s_agent_t *agent = &sim.agents[index];
        if (agent->download)
            fclose (agent->download);
        jad_plan_destroy (&agent->fetching);
        jad_plan_destroy (&agent->pending);
        jad_plan_destroy (&agent->to_apply);
        jad_plan_destroy (&agent->resent);
        zlistx_destroy (&agent->outbox);
        jad_keypair_destroy (&agent->key);
    }
    close (sim.epoll);
    free (sim.agents);
    zhashx_destroy (&sim.plans);
    zhashx_destroy (&sim.taken);
    jad_db_close (&sim.db);
    return 0;
}
