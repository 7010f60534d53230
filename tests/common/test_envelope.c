//  test_envelope - signing and verifying envelopes: tampering, wrong keys,
//  type confusion, RFC 8032 known answers, and the agent's plan admission
//  SPDX-License-Identifier: MPL-2.0

#include "jad_envelope.h"
#include "jad_testlib.h"
#include "jad_util.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS  1700000000000LL
#define SKEW_MS 60000

static jad_keypair_t *s_signer;
static char *s_targets[] = {"web-1", "web-2", "db-1"};

static void s_setup (void)
{
    cr_assert (sodium_init () >= 0);
    s_signer = jad_keypair_new (JAD_KEY_ED25519);
    cr_assert_not_null (s_signer);
}

static void s_teardown (void)
{
    jad_keypair_destroy (&s_signer);
}

TestSuite (envelope, .init = s_setup, .fini = s_teardown);

//  A valid plan; borrowed strings, do not destroy.
static jad_plan_t s_plan (void)
{
    jad_plan_t plan = {
        .plan_id = "p-0001",
        .environment = "prod",
        .targets = s_targets,
        .target_count = 3,
        .sequence = 10,
        .issued_at = NOW_MS - 1000,
        .expires_at = NOW_MS + 3600 * 1000,
        .app = "shop",
        .version = "1.4.2",
        .artifact_length = 1234,
        .kind = JAD_PLAN_DEPLOY,
        .strategy = "rolling",
    };
    memset (plan.artifact_sha256, 0xab, 32);
    return plan;
}

//  A signed envelope around some payload bytes.
static jad_envelope_t *s_signed (const char *payload)
{
    jad_envelope_t *envelope =
        jad_envelope_sign (JAD_PAYLOAD_PLAN, (const uint8_t *)payload, strlen (payload), s_signer);
    cr_assert_not_null (envelope);
    return envelope;
}

//  Encoded envelope of an encoded valid plan, signed by signer.
static zchunk_t *s_plan_envelope_bytes (const jad_plan_t *plan, const jad_keypair_t *signer)
{
    zchunk_t *payload = jad_plan_encode (plan);
    cr_assert_not_null (payload);
    jad_envelope_t *envelope =
        jad_envelope_sign (JAD_PAYLOAD_PLAN, zchunk_data (payload), zchunk_size (payload), signer);
    cr_assert_not_null (envelope);
    zchunk_t *bytes = jad_envelope_encode (envelope);
    cr_assert_not_null (bytes);
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&payload);
    return bytes;
}

Test (envelope, context_is_fixed_per_type)
{
    cr_assert_str_eq (jad_envelope_context (JAD_PAYLOAD_PLAN), "jadugar/v1/plan");
    cr_assert_str_eq (jad_envelope_context (JAD_PAYLOAD_HEARTBEAT), "jadugar/v1/heartbeat");
    cr_assert_null (jad_envelope_context (JAD_PAYLOAD_NONE));
    cr_assert_null (jad_envelope_context (99));
}

Test (envelope, sign_verify_roundtrip)
{
    jad_envelope_t *envelope = s_signed ("hello, agents");
    cr_assert_eq (envelope->type, JAD_PAYLOAD_PLAN);
    cr_assert_eq (envelope->payload_size, 13);
    cr_assert_eq (memcmp (envelope->payload, "hello, agents", 13), 0);
    uint8_t key_id[8];
    jad_key_id (jad_keypair_public (s_signer), key_id);
    cr_assert_eq (memcmp (envelope->key_id, key_id, 8), 0);
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
                  JAD_VERIFY_OK);
    //  through the wire and back
    zchunk_t *bytes = jad_envelope_encode (envelope);
    cr_assert_not_null (bytes);
    char err[JAD_ERR_LEN] = "";
    jad_envelope_t *decoded = jad_envelope_decode (zchunk_data (bytes), zchunk_size (bytes), err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (jad_envelope_verify (decoded, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
                  JAD_VERIFY_OK);
    jad_envelope_destroy (&decoded);
    zchunk_destroy (&bytes);
    jad_envelope_destroy (&envelope);
    cr_assert_null (envelope);
}

Test (envelope, signature_is_over_context_nul_payload)
{
    //  The documented construction, checked with libsodium directly
    jad_envelope_t *envelope = s_signed ("payload");
    const char signed_bytes[] = "jadugar/v1/plan\0payload";
    cr_assert_eq (crypto_sign_verify_detached (envelope->signature, (const uint8_t *)signed_bytes,
                                               sizeof (signed_bytes) - 1,
                                               jad_keypair_public (s_signer)),
                  0);
    jad_envelope_destroy (&envelope);
}

Test (envelope, rejects_any_flipped_payload_byte)
{
    jad_envelope_t *envelope = s_signed ("deploy shop 1.4.2 to prod");
    for (size_t index = 0; index < envelope->payload_size; index++) {
        envelope->payload[index] ^= 0x01;
        cr_assert_eq (
            jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
            JAD_VERIFY_BAD_SIGNATURE, "flipped payload byte %zu accepted", index);
        envelope->payload[index] ^= 0x01;
    }
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
                  JAD_VERIFY_OK);
    jad_envelope_destroy (&envelope);
}

Test (envelope, rejects_any_flipped_signature_byte)
{
    jad_envelope_t *envelope = s_signed ("deploy shop 1.4.2 to prod");
    for (size_t index = 0; index < 64; index++) {
        envelope->signature[index] ^= 0x80;
        cr_assert_eq (
            jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
            JAD_VERIFY_BAD_SIGNATURE, "flipped signature byte %zu accepted", index);
        envelope->signature[index] ^= 0x80;
    }
    jad_envelope_destroy (&envelope);
}

Test (envelope, rejects_key_not_pinned)
{
    jad_envelope_t *envelope = s_signed ("payload");
    jad_keypair_t *pinned = jad_keypair_new (JAD_KEY_ED25519);
    //  signed by another key: its key id is not the pinned one
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (pinned)),
                  JAD_VERIFY_UNKNOWN_KEY);
    //  and claiming the pinned key's id does not help: the signature fails
    jad_key_id (jad_keypair_public (pinned), envelope->key_id);
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (pinned)),
                  JAD_VERIFY_BAD_SIGNATURE);
    jad_keypair_destroy (&pinned);
    jad_envelope_destroy (&envelope);
}

Test (envelope, rejects_key_id_mismatch)
{
    jad_envelope_t *envelope = s_signed ("payload");
    envelope->key_id[7] ^= 0x01;
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
                  JAD_VERIFY_UNKNOWN_KEY);
    jad_envelope_destroy (&envelope);
}

Test (envelope, rejects_changed_type)
{
    jad_envelope_t *envelope = s_signed ("payload");
    envelope->type = 99;
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
                  JAD_VERIFY_BAD_TYPE);
    //  even when the verifier is asked for that type: it has no context
    cr_assert_eq (jad_envelope_verify (envelope, 99, jad_keypair_public (s_signer)),
                  JAD_VERIFY_BAD_TYPE);
    //  a plan relabelled as a heartbeat: the heartbeat context fails the signature
    envelope->type = JAD_PAYLOAD_HEARTBEAT;
    cr_assert_eq (
        jad_envelope_verify (envelope, JAD_PAYLOAD_HEARTBEAT, jad_keypair_public (s_signer)),
        JAD_VERIFY_BAD_SIGNATURE);
    envelope->type = JAD_PAYLOAD_PLAN;
    cr_assert_eq (
        jad_envelope_verify (envelope, JAD_PAYLOAD_HEARTBEAT, jad_keypair_public (s_signer)),
        JAD_VERIFY_BAD_TYPE);
    cr_assert_null (jad_envelope_sign (JAD_PAYLOAD_NONE, (const uint8_t *)"x", 1, s_signer));
    jad_envelope_destroy (&envelope);
}

//  Replace the envelope's signature with one over `prefix` (size bytes)
//  followed by the payload.
static void s_resign (jad_envelope_t *envelope, const char *prefix, size_t size)
{
    size_t length = size + envelope->payload_size;
    uint8_t *bytes = malloc (length);
    memcpy (bytes, prefix, size);
    memcpy (bytes + size, envelope->payload, envelope->payload_size);
    crypto_sign_detached (envelope->signature, NULL, bytes, length, jad_keypair_secret (s_signer));
    free (bytes);
}

Test (envelope, rejects_signature_made_for_another_context)
{
    jad_envelope_t *envelope = s_signed ("payload");
    //  same key, same payload, other message type's context
    s_resign (envelope, "jadugar/v1/approval", sizeof ("jadugar/v1/approval"));
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
                  JAD_VERIFY_BAD_SIGNATURE);
    //  the bare payload, as another protocol would sign it
    s_resign (envelope, "", 0);
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
                  JAD_VERIFY_BAD_SIGNATURE);
    //  the context without its separator
    s_resign (envelope, "jadugar/v1/plan", strlen ("jadugar/v1/plan"));
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
                  JAD_VERIFY_BAD_SIGNATURE);
    //  control: the right construction verifies
    s_resign (envelope, "jadugar/v1/plan", sizeof ("jadugar/v1/plan"));
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, jad_keypair_public (s_signer)),
                  JAD_VERIFY_OK);
    jad_envelope_destroy (&envelope);
}

Test (envelope, rfc8032_test_vector_1)
{
    uint8_t seed[32], public_key[32], expected[64];
    cr_assert_eq (
        jad_unhex ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32),
        0);
    cr_assert_eq (jad_unhex ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                             public_key, 32),
                  0);
    cr_assert_eq (jad_unhex ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                             "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
                             expected, 64),
                  0);
    jad_keypair_t *pair = jad_keypair_from_seed (seed);
    cr_assert_not_null (pair);
    cr_assert_eq (jad_keypair_kind (pair), JAD_KEY_ED25519);
    cr_assert_eq (memcmp (jad_keypair_public (pair), public_key, 32), 0);
    cr_assert_str_eq (jad_keypair_public_txt (pair),
                      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    //  the empty message, signed with our pair's secret
    uint8_t signature[64];
    cr_assert_eq (crypto_sign_detached (signature, NULL, NULL, 0, jad_keypair_secret (pair)), 0);
    cr_assert_eq (memcmp (signature, expected, 64), 0);
    cr_assert_eq (crypto_sign_verify_detached (expected, NULL, 0, jad_keypair_public (pair)), 0);
    //  and our envelope over the same key verifies against the pinned public key
    jad_envelope_t *envelope = jad_envelope_sign (JAD_PAYLOAD_PLAN, (const uint8_t *)"x", 1, pair);
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, public_key), JAD_VERIFY_OK);
    jad_envelope_destroy (&envelope);
    jad_keypair_destroy (&pair);
}

Test (envelope, rejects_non_canonical_public_key)
{
    //  y = p = 2^255 - 19: a non-canonical encoding (of y = 0, a small-order point)
    uint8_t public_key[32];
    memset (public_key, 0xff, 32);
    public_key[0] = 0xed;
    public_key[31] = 0x7f;
    jad_envelope_t *envelope = s_signed ("payload");
    jad_key_id (public_key, envelope->key_id);
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, public_key),
                  JAD_VERIFY_BAD_SIGNATURE);
    //  the all-zero key (small order) with an all-zero signature
    memset (public_key, 0, 32);
    memset (envelope->signature, 0, 64);
    jad_key_id (public_key, envelope->key_id);
    cr_assert_eq (jad_envelope_verify (envelope, JAD_PAYLOAD_PLAN, public_key),
                  JAD_VERIFY_BAD_SIGNATURE);
    jad_envelope_destroy (&envelope);
}

Test (envelope, sign_refuses_oversized_or_empty_payload_and_curve_key)
{
    size_t size = JAD_MAX_PLAN_BYTES + 1;
    uint8_t *big = calloc (1, size);
    cr_assert_null (jad_envelope_sign (JAD_PAYLOAD_PLAN, big, size, s_signer));
    cr_assert_null (jad_envelope_sign (JAD_PAYLOAD_PLAN, big, 0, s_signer));
    jad_keypair_t *curve = jad_keypair_new (JAD_KEY_CURVE);
    cr_assert_null (jad_envelope_sign (JAD_PAYLOAD_PLAN, big, 10, curve));
    jad_keypair_destroy (&curve);
    free (big);
}

Test (envelope, open_plan_roundtrip)
{
    jad_plan_t plan = s_plan ();
    zchunk_t *bytes = s_plan_envelope_bytes (&plan, s_signer);
    jad_verify_t result = JAD_VERIFY_MALFORMED;
    char err[JAD_ERR_LEN] = "";
    jad_plan_t *opened = jad_envelope_open_plan (zchunk_data (bytes), zchunk_size (bytes),
                                                 jad_keypair_public (s_signer), &result, err);
    cr_assert_not_null (opened, "%s", err);
    cr_assert_eq (result, JAD_VERIFY_OK);
    cr_assert_str_eq (opened->plan_id, "p-0001");
    cr_assert_str_eq (opened->environment, "prod");
    cr_assert_eq (opened->sequence, 10);
    cr_assert_eq (opened->target_count, 3);
    //  sent without a proof: it proves no target (admit_checks_the_proof_...)
    cr_assert_not (jad_plan_targets (opened, "db-1"));
    jad_plan_destroy (&opened);
    zchunk_destroy (&bytes);
}

Test (envelope, open_plan_rejects_every_tampered_byte)
{
    jad_plan_t plan = s_plan ();
    zchunk_t *bytes = s_plan_envelope_bytes (&plan, s_signer);
    uint8_t *data = zchunk_data (bytes);
    for (size_t index = 0; index < zchunk_size (bytes); index++) {
        data[index] ^= 0x04;
        jad_verify_t result = JAD_VERIFY_OK;
        char err[JAD_ERR_LEN] = "";
        jad_plan_t *opened = jad_envelope_open_plan (data, zchunk_size (bytes),
                                                     jad_keypair_public (s_signer), &result, err);
        cr_assert_null (opened, "tampered byte %zu accepted", index);
        cr_assert_neq (result, JAD_VERIFY_OK);
        cr_assert_neq (result, JAD_VERIFY_BAD_PAYLOAD, "byte %zu: payload parsed unverified",
                       index);
        cr_assert_neq (err[0], 0);
        data[index] ^= 0x04;
    }
    zchunk_destroy (&bytes);
}

Test (envelope, open_plan_verifies_before_parsing)
{
    //  A garbage payload: with a good signature it fails as a payload...
    jad_envelope_t *envelope = s_signed ("not a protobuf plan \xff\xff\xff");
    zchunk_t *bytes = jad_envelope_encode (envelope);
    jad_verify_t result = JAD_VERIFY_OK;
    char err[JAD_ERR_LEN] = "";
    cr_assert_null (jad_envelope_open_plan (zchunk_data (bytes), zchunk_size (bytes),
                                            jad_keypair_public (s_signer), &result, err));
    cr_assert_eq (result, JAD_VERIFY_BAD_PAYLOAD, "%s", err);
    cr_assert (strstr (err, "plan:"), "%s", err);
    //  ...and with a bad signature it is never parsed at all
    jad_keypair_t *pinned = jad_keypair_new (JAD_KEY_ED25519);
    cr_assert_null (jad_envelope_open_plan (zchunk_data (bytes), zchunk_size (bytes),
                                            jad_keypair_public (pinned), &result, err));
    cr_assert_eq (result, JAD_VERIFY_UNKNOWN_KEY, "%s", err);
    jad_keypair_destroy (&pinned);
    zchunk_destroy (&bytes);
    jad_envelope_destroy (&envelope);
}

Test (envelope, open_plan_rejects_plan_signed_by_another_key)
{
    jad_plan_t plan = s_plan ();
    jad_keypair_t *attacker = jad_keypair_new (JAD_KEY_ED25519);
    zchunk_t *bytes = s_plan_envelope_bytes (&plan, attacker);
    jad_verify_t result = JAD_VERIFY_OK;
    char err[JAD_ERR_LEN] = "";
    cr_assert_null (jad_envelope_open_plan (zchunk_data (bytes), zchunk_size (bytes),
                                            jad_keypair_public (s_signer), &result, err));
    cr_assert_eq (result, JAD_VERIFY_UNKNOWN_KEY);
    cr_assert (strstr (err, "unknown_key"), "%s", err);
    jad_keypair_destroy (&attacker);
    zchunk_destroy (&bytes);
}

Test (envelope, open_plan_rejects_oversized_and_garbage_input)
{
    size_t size = JAD_MAX_PLAN_BYTES + 1;
    uint8_t *big = calloc (1, size);
    jad_verify_t result = JAD_VERIFY_OK;
    char err[JAD_ERR_LEN] = "";
    cr_assert_null (
        jad_envelope_open_plan (big, size, jad_keypair_public (s_signer), &result, err));
    cr_assert_eq (result, JAD_VERIFY_TOO_LARGE);
    memset (big, 0xff, 100);
    cr_assert_null (jad_envelope_open_plan (big, 100, jad_keypair_public (s_signer), &result, err));
    cr_assert_eq (result, JAD_VERIFY_MALFORMED);
    cr_assert_null (jad_envelope_open_plan (big, 0, jad_keypair_public (s_signer), &result, err));
    cr_assert_eq (result, JAD_VERIFY_MALFORMED);
    free (big);
}

Test (envelope, names_of_results)
{
    cr_assert_str_eq (jad_verify_name (JAD_VERIFY_OK), "ok");
    cr_assert_str_eq (jad_verify_name (JAD_VERIFY_BAD_SIGNATURE), "bad_signature");
    cr_assert_str_eq (jad_admit_name (JAD_ADMIT_REPLAY), "replay");
    cr_assert_str_eq (jad_admit_name ((jad_admit_t)99), "unknown");
}

//  --------------------------------------------------------------------------
//  Admission

static jad_admit_t s_admit (const jad_plan_t *plan, const char *env, const char *agent,
                            uint64_t last_sequence, int64_t now_ms, char *err)
{
    return jad_plan_admit (plan, env, agent, last_sequence, now_ms, SKEW_MS, err);
}

Test (envelope, admit_accepts_valid_plan)
{
    jad_plan_t plan = s_plan ();
    char err[JAD_ERR_LEN] = "x";
    cr_assert_eq (s_admit (&plan, "prod", "web-2", 9, NOW_MS, err), JAD_ADMIT_OK);
    cr_assert_eq (s_admit (&plan, "prod", "db-1", 0, NOW_MS, err), JAD_ADMIT_OK);
}

Test (envelope, admit_rejects_replayed_sequence)
{
    jad_plan_t plan = s_plan ();
    char err[JAD_ERR_LEN] = "";
    cr_assert_eq (s_admit (&plan, "prod", "web-1", 10, NOW_MS, err), JAD_ADMIT_REPLAY);
    cr_assert (strstr (err, "sequence 10"), "%s", err);
}

Test (envelope, admit_rejects_older_sequence)
{
    jad_plan_t plan = s_plan ();
    plan.sequence = 9;
    char err[JAD_ERR_LEN] = "";
    cr_assert_eq (s_admit (&plan, "prod", "web-1", 10, NOW_MS, err), JAD_ADMIT_REPLAY);
    cr_assert_eq (s_admit (&plan, "prod", "web-1", UINT64_MAX, NOW_MS, err), JAD_ADMIT_REPLAY);
}

Test (envelope, admit_rejects_expired_plan)
{
    jad_plan_t plan = s_plan ();
    char err[JAD_ERR_LEN] = "";
    int64_t expiry = plan.expires_at;
    //  inside the skew allowance it still counts; one ms past it does not
    cr_assert_eq (s_admit (&plan, "prod", "web-1", 0, expiry + SKEW_MS, err), JAD_ADMIT_OK);
    cr_assert_eq (s_admit (&plan, "prod", "web-1", 0, expiry + SKEW_MS + 1, err),
                  JAD_ADMIT_EXPIRED);
    cr_assert (strstr (err, "expired"), "%s", err);
    plan.expires_at = INT64_MAX;  //  no overflow with the skew added
    cr_assert_eq (s_admit (&plan, "prod", "web-1", 0, NOW_MS, err), JAD_ADMIT_OK);
}

Test (envelope, admit_rejects_plan_from_the_future)
{
    jad_plan_t plan = s_plan ();
    char err[JAD_ERR_LEN] = "";
    plan.issued_at = NOW_MS + SKEW_MS;
    cr_assert_eq (s_admit (&plan, "prod", "web-1", 0, NOW_MS, err), JAD_ADMIT_OK);
    plan.issued_at = NOW_MS + SKEW_MS + 1;
    cr_assert_eq (s_admit (&plan, "prod", "web-1", 0, NOW_MS, err), JAD_ADMIT_FUTURE);
    cr_assert (strstr (err, "future"), "%s", err);
}

Test (envelope, admit_rejects_other_environment)
{
    jad_plan_t plan = s_plan ();
    char err[JAD_ERR_LEN] = "";
    cr_assert_eq (s_admit (&plan, "dev", "web-1", 0, NOW_MS, err), JAD_ADMIT_OTHER_ENV);
    cr_assert (strstr (err, "'prod'") && strstr (err, "'dev'"), "%s", err);
    cr_assert_eq (s_admit (&plan, "prod2", "web-1", 0, NOW_MS, err), JAD_ADMIT_OTHER_ENV);
    cr_assert_eq (s_admit (&plan, "pro", "web-1", 0, NOW_MS, err), JAD_ADMIT_OTHER_ENV);
}

Test (envelope, admit_rejects_agent_not_targeted)
{
    jad_plan_t plan = s_plan ();
    char err[JAD_ERR_LEN] = "";
    cr_assert_eq (s_admit (&plan, "prod", "web-3", 0, NOW_MS, err), JAD_ADMIT_NOT_TARGET);
    cr_assert (strstr (err, "web-3"), "%s", err);
    cr_assert_eq (s_admit (&plan, "prod", "web", 0, NOW_MS, err), JAD_ADMIT_NOT_TARGET);
    cr_assert_eq (s_admit (&plan, "prod", "", 0, NOW_MS, err), JAD_ADMIT_NOT_TARGET);
}

//  The envelope of `plan` (targets listed, committed here) as sent to
//  `name`: carrying the proof of `name` in the tree of `proof_from` (NULL:
//  the plan's own), none if `name` is not among its targets.
static zchunk_t *s_sent_to (jad_plan_t *plan, const char *name, jad_plan_t *proof_from)
{
    char err[JAD_ERR_LEN] = "";
    jad_merkle_t *tree = jad_plan_commit (plan, err);
    cr_assert_not_null (tree, "%s", err);
    jad_plan_t *source = proof_from ? proof_from : plan;
    jad_merkle_t *prover = proof_from ? jad_plan_commit (proof_from, err) : tree;
    cr_assert_not_null (prover, "%s", err);
    size_t index = source->target_count;
    for (size_t item = 0; item < source->target_count; item++)
        if (streq (source->targets[item], name))
            index = item;
    char **names = plan->targets;
    plan->targets = NULL;  //  what is signed is the root
    zchunk_t *payload = jad_plan_encode (plan);
    plan->targets = names;
    cr_assert_not_null (payload);
    jad_envelope_t *envelope = jad_envelope_sign (JAD_PAYLOAD_PLAN, zchunk_data (payload),
                                                  zchunk_size (payload), s_signer);
    cr_assert_not_null (envelope);
    envelope->proof = malloc (JAD_MERKLE_MAX_DEPTH * 32);
    cr_assert_not_null (envelope->proof);
    if (index < source->target_count) {
        int depth = jad_merkle_proof (prover, index, envelope->proof);
        cr_assert_geq (depth, 0);
        envelope->proof_count = (size_t)depth;
        envelope->proof_index = (uint32_t)index;
    }
    zchunk_t *bytes = jad_envelope_encode (envelope);
    cr_assert_not_null (bytes);
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&payload);
    if (prover != tree)
        jad_merkle_destroy (&prover);
    jad_merkle_destroy (&tree);
    return bytes;
}

//  Open `bytes` and admit the plan for `agent` (env prod, fresh sequence).
static jad_admit_t s_open_admit (zchunk_t *bytes, const char *agent, char *err)
{
    jad_verify_t verdict = JAD_VERIFY_MALFORMED;
    jad_plan_t *plan = jad_envelope_open_plan (zchunk_data (bytes), zchunk_size (bytes),
                                               jad_keypair_public (s_signer), &verdict, err);
    cr_assert_not_null (plan, "%s", err);
    cr_assert_eq (verdict, JAD_VERIFY_OK);
    cr_assert_null (plan->targets, "a decoded plan lists no targets");
    jad_admit_t admitted = s_admit (plan, "prod", agent, 0, NOW_MS, err);
    jad_plan_destroy (&plan);
    return admitted;
}

//  Row 8 with committed targets: an agent is admitted only with its own
//  proof of the plan it came in; the plan for A delivered to B (with A's
//  proof), a proof from another plan or from another send of the same
//  plan, a proof with a changed hash or none are all refused.
Test (envelope, admit_checks_the_proof_a_plan_came_with)
{
    char *names[] = {"web-1", "web-2", "db-1", "db-2", "cache-1"};
    jad_plan_t plan = s_plan ();
    plan.targets = names;
    plan.target_count = 5;
    char err[JAD_ERR_LEN] = "";
    jad_merkle_t *sorted = jad_plan_commit (&plan, err);  //  sorts names first
    jad_merkle_destroy (&sorted);
    for (size_t index = 0; index < 5; index++) {
        char name[16];
        snprintf (name, sizeof name, "%s", names[index]);
        zchunk_t *bytes = s_sent_to (&plan, name, NULL);
        cr_assert_eq (s_open_admit (bytes, name, err), JAD_ADMIT_OK, "%s: %s", name, err);
        zchunk_destroy (&bytes);
    }
    //  the plan for web-1 delivered to web-2, and to a host not targeted
    zchunk_t *bytes = s_sent_to (&plan, "web-1", NULL);
    cr_assert_eq (s_open_admit (bytes, "web-2", err), JAD_ADMIT_NOT_TARGET);
    cr_assert (strstr (err, "does not target agent 'web-2'"), "%s", err);
    cr_assert_eq (s_open_admit (bytes, "web-3", err), JAD_ADMIT_NOT_TARGET);
    zchunk_destroy (&bytes);
    //  no proof at all
    bytes = s_sent_to (&plan, "web-3", NULL);
    cr_assert_eq (s_open_admit (bytes, "web-1", err), JAD_ADMIT_NOT_TARGET);
    zchunk_destroy (&bytes);
    //  a proof from another plan with the same targets
    char *others[] = {"web-1", "web-2", "db-1", "db-2", "cache-1"};
    jad_plan_t other = s_plan ();
    other.plan_id = "p-0002";
    other.targets = others;
    other.target_count = 5;
    bytes = s_sent_to (&plan, "web-1", &other);
    cr_assert_eq (s_open_admit (bytes, "web-1", err), JAD_ADMIT_NOT_TARGET);
    zchunk_destroy (&bytes);
    //  a proof from an earlier send of this plan (another sequence)
    other.plan_id = plan.plan_id;
    other.sequence = plan.sequence - 1;
    bytes = s_sent_to (&plan, "web-1", &other);
    cr_assert_eq (s_open_admit (bytes, "web-1", err), JAD_ADMIT_NOT_TARGET);
    zchunk_destroy (&bytes);
    //  one bit of the proof changed: the signature still holds (the proof
    //  is not signed), the proof does not
    bytes = s_sent_to (&plan, "web-1", NULL);
    jad_envelope_t *envelope = jad_envelope_decode (zchunk_data (bytes), zchunk_size (bytes), err);
    cr_assert_not_null (envelope, "%s", err);
    cr_assert_gt (envelope->proof_count, 0);
    envelope->proof[3] ^= 0x01;
    zchunk_t *tampered = jad_envelope_encode (envelope);
    cr_assert_eq (s_open_admit (tampered, "web-1", err), JAD_ADMIT_NOT_TARGET);
    zchunk_destroy (&tampered);
    envelope->proof[3] ^= 0x01;
    envelope->proof_index ^= 1;  //  the right hashes at another place
    tampered = jad_envelope_encode (envelope);
    cr_assert_eq (s_open_admit (tampered, "web-1", err), JAD_ADMIT_NOT_TARGET);
    zchunk_destroy (&tampered);
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&bytes);
}

Test (envelope, admit_checks_in_documented_order)
{
    //  Everything wrong at once: the environment is reported first
    jad_plan_t plan = s_plan ();
    plan.sequence = 1;
    plan.expires_at = NOW_MS - 10 * SKEW_MS;
    plan.issued_at = plan.expires_at - 1;
    cr_assert_eq (s_admit (&plan, "dev", "nobody", 5, NOW_MS, NULL), JAD_ADMIT_OTHER_ENV);
    cr_assert_eq (s_admit (&plan, "prod", "nobody", 5, NOW_MS, NULL), JAD_ADMIT_NOT_TARGET);
    cr_assert_eq (s_admit (&plan, "prod", "web-1", 5, NOW_MS, NULL), JAD_ADMIT_EXPIRED);
    plan.expires_at = NOW_MS + 20 * SKEW_MS;
    plan.issued_at = NOW_MS + 10 * SKEW_MS;
    cr_assert_eq (s_admit (&plan, "prod", "web-1", 5, NOW_MS, NULL), JAD_ADMIT_FUTURE);
    plan.issued_at = NOW_MS;
    cr_assert_eq (s_admit (&plan, "prod", "web-1", 5, NOW_MS, NULL), JAD_ADMIT_REPLAY);
}

//  --------------------------------------------------------------------------
//  Heartbeats (row 5)

static zchunk_t *s_heartbeat_bytes (uint32_t type, const char *env, int64_t issued, int64_t expires)
{
    jad_heartbeat_t heartbeat = {
        .environment = (char *)env, .issued_at = issued, .expires_at = expires};
    zchunk_t *payload = jad_heartbeat_encode (&heartbeat);
    cr_assert_not_null (payload);
    jad_envelope_t *envelope =
        jad_envelope_sign (type, zchunk_data (payload), zchunk_size (payload), s_signer);
    cr_assert_not_null (envelope);
    zchunk_t *bytes = jad_envelope_encode (envelope);
    jad_envelope_destroy (&envelope);
    zchunk_destroy (&payload);
    return bytes;
}

Test (envelope, open_heartbeat_roundtrip_and_type_confusion)
{
    zchunk_t *bytes = s_heartbeat_bytes (JAD_PAYLOAD_HEARTBEAT, "prod", NOW_MS, NOW_MS + 15000);
    jad_verify_t verdict = JAD_VERIFY_MALFORMED;
    char err[JAD_ERR_LEN];
    jad_heartbeat_t *heartbeat = jad_envelope_open_heartbeat (
        zchunk_data (bytes), zchunk_size (bytes), jad_keypair_public (s_signer), &verdict, err);
    cr_assert_not_null (heartbeat, "%s", err);
    cr_assert_eq (verdict, JAD_VERIFY_OK);
    cr_assert_str_eq (heartbeat->environment, "prod");
    cr_assert_eq (heartbeat->issued_at, NOW_MS);
    cr_assert_eq (heartbeat->expires_at, NOW_MS + 15000);
    jad_heartbeat_destroy (&heartbeat);
    //  a heartbeat is never a plan
    jad_plan_t *plan = jad_envelope_open_plan (zchunk_data (bytes), zchunk_size (bytes),
                                               jad_keypair_public (s_signer), &verdict, err);
    cr_assert_null (plan);
    cr_assert_eq (verdict, JAD_VERIFY_BAD_TYPE);
    zchunk_destroy (&bytes);
    //  nor does a heartbeat payload signed in the plan context become one
    bytes = s_heartbeat_bytes (JAD_PAYLOAD_PLAN, "prod", NOW_MS, NOW_MS + 15000);
    cr_assert_null (jad_envelope_open_heartbeat (zchunk_data (bytes), zchunk_size (bytes),
                                                 jad_keypair_public (s_signer), &verdict, err));
    cr_assert_eq (verdict, JAD_VERIFY_BAD_TYPE);
    zchunk_destroy (&bytes);
}

Test (envelope, open_heartbeat_rejects_every_tampered_byte)
{
    zchunk_t *bytes = s_heartbeat_bytes (JAD_PAYLOAD_HEARTBEAT, "prod", NOW_MS, NOW_MS + 15000);
    uint8_t *data = zchunk_data (bytes);
    for (size_t index = 0; index < zchunk_size (bytes); index++) {
        data[index] ^= 0x20;
        jad_verify_t verdict = JAD_VERIFY_OK;
        jad_heartbeat_t *heartbeat = jad_envelope_open_heartbeat (
            data, zchunk_size (bytes), jad_keypair_public (s_signer), &verdict, NULL);
        cr_assert_null (heartbeat, "byte %zu flipped and still accepted", index);
        cr_assert_neq (verdict, JAD_VERIFY_OK);
        data[index] ^= 0x20;
    }
    zchunk_destroy (&bytes);
}

Test (envelope, heartbeat_admit_checks_env_expiry_future_and_order)
{
    jad_heartbeat_t heartbeat = {
        .environment = "prod", .issued_at = NOW_MS, .expires_at = NOW_MS + 15000};
    char err[JAD_ERR_LEN];
    cr_assert_eq (jad_heartbeat_admit (&heartbeat, "prod", 0, NOW_MS, SKEW_MS, err), JAD_ADMIT_OK);
    cr_assert_eq (jad_heartbeat_admit (&heartbeat, "dev", 0, NOW_MS, SKEW_MS, err),
                  JAD_ADMIT_OTHER_ENV);
    cr_assert_eq (
        jad_heartbeat_admit (&heartbeat, "prod", 0, NOW_MS + 15000 + SKEW_MS + 1, SKEW_MS, err),
        JAD_ADMIT_EXPIRED);
    cr_assert (strstr (err, "expired"), "%s", err);
    cr_assert_eq (
        jad_heartbeat_admit (&heartbeat, "prod", 0, NOW_MS + 15000 + SKEW_MS, SKEW_MS, err),
        JAD_ADMIT_OK, "within the skew");
    cr_assert_eq (jad_heartbeat_admit (&heartbeat, "prod", 0, NOW_MS - SKEW_MS - 1, SKEW_MS, err),
                  JAD_ADMIT_FUTURE);
    cr_assert_eq (jad_heartbeat_admit (&heartbeat, "prod", NOW_MS, NOW_MS, SKEW_MS, err),
                  JAD_ADMIT_REPLAY);
    cr_assert_eq (jad_heartbeat_admit (&heartbeat, "prod", NOW_MS - 1, NOW_MS, SKEW_MS, err),
                  JAD_ADMIT_OK);
}

Test (envelope, heartbeat_codec_refuses_bad_times)
{
    jad_heartbeat_t backwards = {.environment = "prod", .issued_at = NOW_MS, .expires_at = NOW_MS};
    cr_assert_null (jad_heartbeat_encode (&backwards));
    jad_heartbeat_t unnamed = {.environment = "", .issued_at = NOW_MS, .expires_at = NOW_MS + 1};
    cr_assert_null (jad_heartbeat_encode (&unnamed));
    char err[JAD_ERR_LEN];
    cr_assert_null (jad_heartbeat_decode ((const uint8_t *)"\xff\xff", 2, err));
}
