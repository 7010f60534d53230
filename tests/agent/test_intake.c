//  test_intake - plan intake: verify, admit, persist; refusals change nothing
//  SPDX-License-Identifier: MPL-2.0
//
//  Plans are signed here with a generated Ed25519 key, the agent pins its
//  public half. After every refusal the database must be exactly as before
//  (no plan row, same last sequence); only the in-memory counter moves.

#include "agt_intake.h"
#include "agt_store.h"
#include "jad_db.h"
#include "jad_envelope.h"
#include "jad_keys.h"
#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_dir;
static char *s_path;
static jad_keypair_t *s_signer;
static agt_store_t *s_store;
static agt_intake_t *s_intake;

static void s_open (void)
{
    s_store = agt_store_new (s_path, true);
    cr_assert_not_null (s_store);
    s_intake = agt_intake_new (s_store, jad_keypair_public (s_signer), "dev", "host-1");
    cr_assert_not_null (s_intake);
}

static void s_close (void)
{
    agt_intake_destroy (&s_intake);
    agt_store_destroy (&s_store);
}

static void setup (void)
{
    s_dir = jt_tempdir ("agt-intake");
    s_path = jad_strdup_printf ("%s/state.db", s_dir);
    s_signer = jad_keypair_new (JAD_KEY_ED25519);
    cr_assert_not_null (s_signer);
    s_open ();
}

static void teardown (void)
{
    s_close ();
    jad_keypair_destroy (&s_signer);
    jt_rmtree (s_dir);
    free (s_dir);
    free (s_path);
}

TestSuite (intake, .init = setup, .fini = teardown);

typedef struct {
    const char *plan_id;
    const char *env;
    const char *target;
    const char *app;
    uint64_t sequence;
    int64_t expires_in;           //  ms from now (0: 10 minutes)
    const jad_keypair_t *signer;  //  NULL: s_signer
    bool flip_signature;
    bool flip_payload;
    const char *version;           //  NULL: "1.0"
    uint64_t release_counter;      //  of version
    uint64_t min_release_counter;  //  the app's security floor
    uint32_t kind;                 //  0: deploy
    uint64_t epoch;                //  the signer's leadership epoch
    //  Five targets (host-0..host-4) and the proof of this one, made in
    //  the tree of proof_plan (NULL: the plan's own); NULL: one target,
    //  `target`, and no proof
    const char *proof_of;
    const char *proof_plan;
} s_plan_spec_t;

//  An encoded, signed plan envelope. Caller destroys.
static zchunk_t *s_plan (s_plan_spec_t spec)
{
    char *targets[] = {(char *)(spec.target ? spec.target : "host-1")};
    int64_t now = jad_now_ms ();
    int64_t expires_at = now + (spec.expires_in ? spec.expires_in : 600000);
    jad_plan_t plan = {
        .plan_id = (char *)(spec.plan_id ? spec.plan_id : "p1"),
        .environment = (char *)(spec.env ? spec.env : "dev"),
        .targets = targets,
        .target_count = 1,
        .sequence = spec.sequence ? spec.sequence : 1,
        .issued_at = (expires_at < now ? expires_at : now) - 60000,
        .expires_at = expires_at,
        .app = (char *)(spec.app ? spec.app : "web"),
        .version = (char *)(spec.version ? spec.version : "1.0"),
        .artifact_length = 100,
        .kind = spec.kind ? spec.kind : JAD_PLAN_DEPLOY,
        .release_counter = spec.release_counter,
        .min_release_counter = spec.min_release_counter,
        .epoch = spec.epoch,
    };
    memset (plan.artifact_sha256, 0xab, 32);
    char *five[] = {"host-0", "host-1", "host-2", "host-3", "host-4"};
    jad_merkle_t *prover = NULL;
    if (spec.proof_of) {
        char err[JAD_ERR_LEN] = "";
        jad_plan_t source = plan;
        source.plan_id = (char *)(spec.proof_plan ? spec.proof_plan : plan.plan_id);
        source.targets = five;
        source.target_count = 5;
        prover = jad_plan_commit (&source, err);
        cr_assert_not_null (prover, "%s", err);
        plan.targets = five;
        plan.target_count = 5;
    }
    zchunk_t *payload = jad_plan_encode (&plan);
    cr_assert_not_null (payload);
    jad_envelope_t *envelope =
        jad_envelope_sign (JAD_PAYLOAD_PLAN, zchunk_data (payload), zchunk_size (payload),
                           spec.signer ? spec.signer : s_signer);
    cr_assert_not_null (envelope);
    if (prover) {  //  the names are sorted already: host-N is leaf N
        envelope->proof = malloc (JAD_MERKLE_MAX_DEPTH * 32);
        cr_assert_not_null (envelope->proof);
        size_t index = (size_t)(spec.proof_of[strlen (spec.proof_of) - 1] - '0');
        envelope->proof_count = (size_t)jad_merkle_proof (prover, index, envelope->proof);
        envelope->proof_index = (uint32_t)index;
        jad_merkle_destroy (&prover);
    }
    if (spec.flip_signature)
        envelope->signature[10] ^= 0x01;
    if (spec.flip_payload)
        envelope->payload[envelope->payload_size - 1] ^= 0x01;
    zchunk_t *bytes = jad_envelope_encode (envelope);
    cr_assert_not_null (bytes);
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&payload);
    return bytes;
}

static agt_intake_result_t s_deliver (s_plan_spec_t spec, jad_plan_t **plan_p)
{
    zchunk_t *bytes = s_plan (spec);
    jad_plan_t *plan = NULL;
    agt_intake_result_t result = agt_intake_plan (s_intake, zchunk_data (bytes),
                                                  zchunk_size (bytes), jad_now_ms (), &plan, NULL);
    zchunk_destroy (&bytes);
    if (plan_p)
        *plan_p = plan;
    else
        jad_plan_destroy (&plan);
    return result;
}

static int64_t s_plan_rows (void)
{
    int64_t count = -1;
    cr_assert_eq (
        jad_db_get_int (agt_store_db (s_store), "SELECT count(*) FROM plans", NULL, &count), 0);
    return count;
}

//  Delivering `spec` is refused for `reason` and changes nothing stored.
static void s_assert_refused (s_plan_spec_t spec, const char *reason)
{
    int64_t rows = s_plan_rows ();
    uint64_t last = agt_store_last_sequence (s_store);
    uint64_t before = agt_intake_refused (s_intake, reason);
    jad_plan_t *plan = NULL;
    cr_assert_eq (s_deliver (spec, &plan), AGT_INTAKE_REFUSED, "expected refusal %s", reason);
    cr_assert_null (plan);
    cr_assert_eq (agt_intake_refused (s_intake, reason), before + 1, "counted as %s", reason);
    cr_assert_eq (s_plan_rows (), rows, "no plan row written");
    cr_assert_eq (agt_store_last_sequence (s_store), last, "last sequence unchanged");
}

Test (intake, accepts_a_signed_plan_and_stores_it)
{
    jad_plan_t *plan = NULL;
    cr_assert_eq (s_deliver ((s_plan_spec_t){.sequence = 5}, &plan), AGT_INTAKE_NEW);
    cr_assert_not_null (plan);
    cr_assert_str_eq (plan->plan_id, "p1");
    jad_plan_destroy (&plan);
    cr_assert_eq (s_plan_rows (), 1);
    cr_assert_eq (agt_store_last_sequence (s_store), 5);
    char *next = agt_store_next_plan (s_store);
    cr_assert_str_eq (next, "p1");
    free (next);
    plan = agt_store_load_plan (s_store, "p1");
    cr_assert_not_null (plan, "the stored envelope decodes again");
    cr_assert_str_eq (plan->app, "web");
    jad_plan_destroy (&plan);
}

Test (intake, refuses_a_flipped_signature)
{
    s_assert_refused ((s_plan_spec_t){.flip_signature = true}, "bad_signature");
}

Test (intake, refuses_a_flipped_payload_byte)
{
    s_assert_refused ((s_plan_spec_t){.flip_payload = true}, "bad_signature");
}

Test (intake, refuses_another_signing_key)
{
    jad_keypair_t *other = jad_keypair_new (JAD_KEY_ED25519);
    s_assert_refused ((s_plan_spec_t){.signer = other}, "unknown_key");
    jad_keypair_destroy (&other);
}

Test (intake, refuses_garbage)
{
    uint8_t garbage[64];
    memset (garbage, 0xff, sizeof garbage);
    jad_plan_t *plan = NULL;
    cr_assert_eq (agt_intake_plan (s_intake, garbage, sizeof garbage, jad_now_ms (), &plan, NULL),
                  AGT_INTAKE_REFUSED);
    cr_assert_eq (agt_intake_refused_total (s_intake), 1);
    cr_assert_eq (s_plan_rows (), 0);
}

Test (intake, refuses_another_environment)
{
    s_assert_refused ((s_plan_spec_t){.env = "prod"}, "other_env");
}

Test (intake, refuses_a_plan_for_another_host)
{
    s_assert_refused ((s_plan_spec_t){.target = "host-2"}, "not_target");
    //  among five targets: host-2's proof delivered to host-1
    s_assert_refused ((s_plan_spec_t){.proof_of = "host-2"}, "not_target");
}

Test (intake, refuses_a_proof_from_another_plan)
{
    s_assert_refused ((s_plan_spec_t){.proof_of = "host-1", .proof_plan = "p0"}, "not_target");
}

Test (intake, accepts_its_own_proof_among_many_targets)
{
    jad_plan_t *plan = NULL;
    cr_assert_eq (s_deliver ((s_plan_spec_t){.proof_of = "host-1"}, &plan), AGT_INTAKE_NEW);
    cr_assert_not_null (plan);
    cr_assert_eq (plan->target_count, 5);
    jad_plan_destroy (&plan);
    cr_assert_eq (s_plan_rows (), 1);
}

Test (intake, refuses_an_expired_plan)
{
    //  expired 6 minutes ago: beyond the 5 minute skew
    s_assert_refused ((s_plan_spec_t){.expires_in = -6 * 60 * 1000}, "expired");
}

Test (intake, refuses_replays_also_after_restart)
{
    cr_assert_eq (s_deliver ((s_plan_spec_t){.sequence = 10}, NULL), AGT_INTAKE_NEW);
    s_assert_refused ((s_plan_spec_t){.plan_id = "p2", .sequence = 9}, "replay");
    s_assert_refused ((s_plan_spec_t){.plan_id = "p1", .sequence = 10}, "replay");
    s_close ();
    s_open ();
    s_assert_refused ((s_plan_spec_t){.plan_id = "p2", .sequence = 9}, "replay");
    s_assert_refused ((s_plan_spec_t){.plan_id = "p1", .sequence = 10}, "replay");
    cr_assert_eq (agt_store_last_sequence (s_store), 10);
}

Test (intake, resend_with_new_sequence_is_known_not_new)
{
    cr_assert_eq (s_deliver ((s_plan_spec_t){.sequence = 1}, NULL), AGT_INTAKE_NEW);
    cr_assert_eq (s_deliver ((s_plan_spec_t){.sequence = 2}, NULL), AGT_INTAKE_KNOWN);
    cr_assert_eq (s_plan_rows (), 1);
    cr_assert_eq (agt_store_last_sequence (s_store), 2);
}

Test (intake, new_plan_supersedes_queued_plan_of_same_app)
{
    cr_assert_eq (s_deliver ((s_plan_spec_t){.plan_id = "old", .sequence = 1}, NULL),
                  AGT_INTAKE_NEW);
    cr_assert_eq (
        s_deliver ((s_plan_spec_t){.plan_id = "other-app", .app = "api", .sequence = 2}, NULL),
        AGT_INTAKE_NEW);
    zlist_t *superseded = zlist_new ();
    zchunk_t *bytes = s_plan ((s_plan_spec_t){.plan_id = "new", .sequence = 3});
    jad_plan_t *plan = NULL;
    cr_assert_eq (agt_intake_plan (s_intake, zchunk_data (bytes), zchunk_size (bytes),
                                   jad_now_ms (), &plan, superseded),
                  AGT_INTAKE_NEW);
    cr_assert_eq (zlist_size (superseded), 1);
    cr_assert_str_eq ((char *)zlist_first (superseded), "old");
    char *state = NULL, *step = NULL;
    cr_assert_eq (agt_store_plan_state (s_store, "old", &state, &step), 0);
    cr_assert_str_eq (state, AGT_PLAN_SUPERSEDED);
    free (state);
    free (step);
    cr_assert_eq (agt_store_plan_state (s_store, "other-app", &state, &step), 0);
    cr_assert_str_eq (state, AGT_PLAN_ACCEPTED, "another app's plan is not superseded");
    free (state);
    free (step);
    jad_plan_destroy (&plan);
    zchunk_destroy (&bytes);
    zlist_destroy (&superseded);
}

Test (intake, refusal_counters_persist_in_meta)
{
    s_assert_refused ((s_plan_spec_t){.env = "prod"}, "other_env");
    s_assert_refused ((s_plan_spec_t){.env = "prod"}, "other_env");
    cr_assert_eq (agt_intake_flush (s_intake), 0);
    uint64_t value = 0;
    cr_assert_eq (agt_store_counter_get (s_store, "refused_other_env", &value), 0);
    cr_assert_eq (value, 2);
    s_close ();
    s_open ();
    s_assert_refused ((s_plan_spec_t){.env = "prod"}, "other_env");
    cr_assert_eq (agt_intake_refused (s_intake, "other_env"), 3, "counting goes on after restart");
}

//  Row 5: a plan past its expiry by the agent's clock (a fake one here:
//  the plan is fresh, the clock is 10 minutes + the skew + 1 ms later).
Test (intake, refuses_a_plan_once_the_clock_passes_its_expiry)
{
    zchunk_t *bytes = s_plan ((s_plan_spec_t){.sequence = 3});
    int64_t later = jad_now_ms () + 600000 + AGT_SKEW_MS + 1000;
    jad_plan_t *plan = NULL;
    cr_assert_eq (
        agt_intake_plan (s_intake, zchunk_data (bytes), zchunk_size (bytes), later, &plan, NULL),
        AGT_INTAKE_REFUSED);
    cr_assert_null (plan);
    cr_assert_eq (agt_intake_refused (s_intake, "expired"), 1);
    cr_assert_eq (s_plan_rows (), 0);
    cr_assert_eq (agt_store_last_sequence (s_store), 0);
    //  the same bytes by the real clock are fine
    cr_assert_eq (agt_intake_plan (s_intake, zchunk_data (bytes), zchunk_size (bytes),
                                   jad_now_ms (), &plan, NULL),
                  AGT_INTAKE_NEW);
    jad_plan_destroy (&plan);
    zchunk_destroy (&bytes);
}

//  --------------------------------------------------------------------------
//  Row 7: software rollback below the security floor

Test (intake, refuses_a_rollback_below_the_floor_also_after_restart)
{
    //  release 5 arrives with the floor raised to 5: accepted, floor kept
    cr_assert_eq (s_deliver ((s_plan_spec_t){.plan_id = "d5",
                                             .sequence = 1,
                                             .version = "5.0",
                                             .release_counter = 5,
                                             .min_release_counter = 5},
                             NULL),
                  AGT_INTAKE_NEW);
    cr_assert_eq (agt_store_floor (s_store, "web"), 5);
    //  a validly signed ROLLBACK to release 3 that claims no floor at all
    s_plan_spec_t rollback = {.plan_id = "r3",
                              .sequence = 2,
                              .version = "3.0",
                              .release_counter = 3,
                              .kind = JAD_PLAN_ROLLBACK};
    s_assert_refused (rollback, "below_floor");
    //  a plan without a counter (an older controller) cannot prove it is above
    s_assert_refused ((s_plan_spec_t){.plan_id = "r0", .sequence = 3, .kind = JAD_PLAN_ROLLBACK},
                      "below_floor");
    s_close ();
    s_open ();
    s_assert_refused (rollback, "below_floor");
    //  the floor is per app
    cr_assert_eq (s_deliver ((s_plan_spec_t){.plan_id = "api3",
                                             .app = "api",
                                             .sequence = 4,
                                             .version = "3.0",
                                             .release_counter = 3},
                             NULL),
                  AGT_INTAKE_NEW);
    //  at the floor and above: accepted
    cr_assert_eq (s_deliver ((s_plan_spec_t){.plan_id = "r5",
                                             .sequence = 5,
                                             .version = "5.0",
                                             .release_counter = 5,
                                             .kind = JAD_PLAN_ROLLBACK},
                             NULL),
                  AGT_INTAKE_NEW);
    cr_assert_eq (s_deliver ((s_plan_spec_t){.plan_id = "d6",
                                             .sequence = 6,
                                             .version = "6.0",
                                             .release_counter = 6,
                                             .min_release_counter = 2},
                             NULL),
                  AGT_INTAKE_NEW);
    cr_assert_eq (agt_store_floor (s_store, "web"), 5, "a lower floor in a plan never lowers it");
}

Test (intake, refuses_a_plan_below_the_floor_it_carries)
{
    s_assert_refused (
        (s_plan_spec_t){.sequence = 1, .release_counter = 2, .min_release_counter = 4},
        "below_floor");
    cr_assert_eq (agt_store_floor (s_store, "web"), 0, "a refused plan raises no floor");
}

//  --------------------------------------------------------------------------
//  Row 5: signed heartbeats

typedef struct {
    const char *env;
    int64_t issued_at;            //  0: now
    int64_t expires_in;           //  ms after issued_at (0: 15 s)
    const jad_keypair_t *signer;  //  NULL: s_signer
    uint32_t type;                //  0: PAYLOAD_HEARTBEAT
    bool flip_payload;
    uint64_t epoch;  //  the signer's leadership epoch
} s_beat_spec_t;

static zchunk_t *s_beat (s_beat_spec_t spec)
{
    jad_heartbeat_t heartbeat = {.environment = (char *)(spec.env ? spec.env : "dev"),
                                 .issued_at = spec.issued_at ? spec.issued_at : jad_now_ms (),
                                 .epoch = spec.epoch};
    heartbeat.expires_at = heartbeat.issued_at + (spec.expires_in ? spec.expires_in : 15000);
    zchunk_t *payload = jad_heartbeat_encode (&heartbeat);
    cr_assert_not_null (payload);
    jad_envelope_t *envelope =
        jad_envelope_sign (spec.type ? spec.type : JAD_PAYLOAD_HEARTBEAT, zchunk_data (payload),
                           zchunk_size (payload), spec.signer ? spec.signer : s_signer);
    cr_assert_not_null (envelope);
    if (spec.flip_payload)
        envelope->payload[envelope->payload_size - 1] ^= 0x01;
    zchunk_t *bytes = jad_envelope_encode (envelope);
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&payload);
    return bytes;
}

static int s_beat_deliver (s_beat_spec_t spec, int64_t now)
{
    zchunk_t *bytes = s_beat (spec);
    int rc = agt_intake_heartbeat (s_intake, zchunk_data (bytes), zchunk_size (bytes), now);
    zchunk_destroy (&bytes);
    return rc;
}

//  A refused heartbeat is counted and does not count as signed traffic.
static void s_assert_beat_refused (s_beat_spec_t spec, int64_t now, const char *reason)
{
    int64_t last = agt_intake_last_signed (s_intake);
    uint64_t before = agt_intake_refused (s_intake, reason);
    zclock_sleep (2);  //  so that an accepted heartbeat would move last_signed
    cr_assert_eq (s_beat_deliver (spec, now), -1, "expected refusal %s", reason);
    cr_assert_eq (agt_intake_refused (s_intake, reason), before + 1, "counted as %s", reason);
    cr_assert_eq (agt_intake_last_signed (s_intake), last, "a refused heartbeat is no traffic");
    cr_assert_eq (agt_store_last_sequence (s_store), 0, "heartbeats never touch the sequence");
}

Test (intake, accepts_a_signed_heartbeat_as_traffic)
{
    int64_t before = agt_intake_last_signed (s_intake);
    zclock_sleep (2);
    cr_assert_eq (s_beat_deliver ((s_beat_spec_t){0}, jad_now_ms ()), 0);
    cr_assert_gt (agt_intake_last_signed (s_intake), before);
    cr_assert_eq (agt_store_last_sequence (s_store), 0);
    cr_assert_eq (agt_intake_refused_total (s_intake), 0);
}

Test (intake, refuses_forged_heartbeats)
{
    jad_keypair_t *other = jad_keypair_new (JAD_KEY_ED25519);
    s_assert_beat_refused ((s_beat_spec_t){.signer = other}, jad_now_ms (),
                           "heartbeat_unknown_key");
    jad_keypair_destroy (&other);
    s_assert_beat_refused ((s_beat_spec_t){.flip_payload = true}, jad_now_ms (),
                           "heartbeat_bad_signature");
    //  a heartbeat payload signed as a plan does not verify as a heartbeat
    s_assert_beat_refused ((s_beat_spec_t){.type = JAD_PAYLOAD_PLAN}, jad_now_ms (),
                           "heartbeat_bad_type");
    uint8_t garbage[40];
    memset (garbage, 0x5a, sizeof garbage);
    cr_assert_eq (agt_intake_heartbeat (s_intake, garbage, sizeof garbage, jad_now_ms ()), -1);
    cr_assert_eq (agt_intake_refused (s_intake, "heartbeat_malformed"), 1);
}

Test (intake, refuses_expired_future_replayed_and_foreign_heartbeats)
{
    int64_t now = jad_now_ms ();
    //  issued 10 minutes ago, expired 15 s later: beyond the skew
    s_assert_beat_refused ((s_beat_spec_t){.issued_at = now - 600000}, now, "heartbeat_expired");
    //  a fresh heartbeat seen through a fake clock past its expiry + skew
    s_assert_beat_refused ((s_beat_spec_t){.issued_at = now}, now + 15000 + AGT_SKEW_MS + 1,
                           "heartbeat_expired");
    s_assert_beat_refused ((s_beat_spec_t){.issued_at = now + AGT_SKEW_MS + 60000}, now,
                           "heartbeat_future");
    s_assert_beat_refused ((s_beat_spec_t){.env = "prod"}, now, "heartbeat_other_env");
    //  strictly newer than the last accepted one: a replay cannot hold the alarm off
    cr_assert_eq (s_beat_deliver ((s_beat_spec_t){.issued_at = now}, now), 0);
    s_assert_beat_refused ((s_beat_spec_t){.issued_at = now}, now, "heartbeat_replay");
    s_assert_beat_refused ((s_beat_spec_t){.issued_at = now - 1000}, now, "heartbeat_replay");
    cr_assert_eq (s_beat_deliver ((s_beat_spec_t){.issued_at = now + 1}, now), 0);
}

//  --------------------------------------------------------------------------
//  Row 41: a deposed leader's plans and heartbeats

Test (intake, refuses_plans_and_heartbeats_of_a_lower_epoch_also_after_restart)
{
    int64_t now = jad_now_ms ();
    cr_assert_eq (agt_store_epoch (s_store), 0);
    cr_assert_eq (s_deliver ((s_plan_spec_t){.sequence = 1, .epoch = 1}, NULL), AGT_INTAKE_NEW);
    cr_assert_eq (agt_store_epoch (s_store), 1);
    //  a new leader's heartbeat raises the epoch, even issued earlier by
    //  its own clock than the last one
    cr_assert_eq (s_beat_deliver ((s_beat_spec_t){.issued_at = now, .epoch = 1}, now), 0);
    cr_assert_eq (s_beat_deliver ((s_beat_spec_t){.issued_at = now - 500, .epoch = 2}, now), 0);
    cr_assert_eq (agt_store_epoch (s_store), 2);
    //  the old leader, resumed: its heartbeat and its plan (a fresh
    //  sequence) are refused and counted
    uint64_t before = agt_intake_refused (s_intake, "stale_epoch");
    cr_assert_eq (s_beat_deliver ((s_beat_spec_t){.issued_at = now + 10, .epoch = 1}, now), -1);
    cr_assert_eq (agt_intake_refused (s_intake, "stale_epoch"), before + 1);
    s_assert_refused ((s_plan_spec_t){.plan_id = "p2", .sequence = 5, .epoch = 1}, "stale_epoch");
    s_close ();
    s_open ();
    cr_assert_eq (agt_store_epoch (s_store), 2);
    s_assert_refused ((s_plan_spec_t){.plan_id = "p2", .sequence = 6, .epoch = 1}, "stale_epoch");
    cr_assert_eq (s_beat_deliver ((s_beat_spec_t){.issued_at = now + 20, .epoch = 1}, now), -1);
    //  the new leader's go on
    cr_assert_eq (s_deliver ((s_plan_spec_t){.plan_id = "p2", .sequence = 7, .epoch = 2}, NULL),
                  AGT_INTAKE_NEW);
    cr_assert_eq (s_beat_deliver ((s_beat_spec_t){.issued_at = now + 30, .epoch = 2}, now), 0);
    cr_assert_eq (agt_store_epoch (s_store), 2);
}
