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
        .version = "1.0",
        .artifact_length = 100,
        .kind = JAD_PLAN_DEPLOY,
    };
    memset (plan.artifact_sha256, 0xab, 32);
    zchunk_t *payload = jad_plan_encode (&plan);
    cr_assert_not_null (payload);
    jad_envelope_t *envelope =
        jad_envelope_sign (JAD_PAYLOAD_PLAN, zchunk_data (payload), zchunk_size (payload),
                           spec.signer ? spec.signer : s_signer);
    cr_assert_not_null (envelope);
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
