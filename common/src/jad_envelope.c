//  jad_envelope - sign and verify envelopes (Ed25519 over context||payload)
//  SPDX-License-Identifier: MPL-2.0
//
//  What is signed, exactly:
//
//      signature = crypto_sign_detached (context || 0x00 || payload, secret)
//
//  where `context` is the ASCII context string of the envelope's payload
//  type without its terminating NUL ("jadugar/v1/plan" for
//  JAD_PAYLOAD_PLAN), 0x00 is one zero byte that ends the context (so no
//  context is a prefix of another's signed bytes), and `payload` is the
//  exact payload bytes carried in the envelope. A signature made for one
//  type therefore never verifies as another (type confusion), and nothing
//  outside the payload is trusted: the envelope's type and key id only
//  pick which context and key to check against.
//
//  Verification happens over the received bytes before the payload is
//  parsed: jad_envelope_open_plan decodes the envelope (size capped),
//  verifies, and only then decodes the plan.

#include "jad_envelope.h"
#include "jad_util.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *jad_envelope_context (uint32_t type)
{
    switch (type) {
        case JAD_PAYLOAD_PLAN:
            return "jadugar/v1/plan";
        case JAD_PAYLOAD_HEARTBEAT:
            return "jadugar/v1/heartbeat";
        default:
            return NULL;
    }
}

//  Build context || 0x00 || payload into a new buffer; caller frees.
static uint8_t *s_signed_bytes (const char *context, const uint8_t *payload, size_t size,
                                size_t *length_p)
{
    size_t context_size = strlen (context) + 1;         //  with its 0x00 separator
    uint8_t *bytes = malloc (context_size + size + 1);  //  +1: malloc (0) is never asked
    if (!bytes)
        return NULL;
    memcpy (bytes, context, context_size);
    if (size > 0)
        memcpy (bytes + context_size, payload, size);
    *length_p = context_size + size;
    return bytes;
}

jad_envelope_t *jad_envelope_sign (uint32_t type, const uint8_t *payload, size_t size,
                                   const jad_keypair_t *signer)
{
    assert (signer);
    const char *context = jad_envelope_context (type);
    if (!context || jad_keypair_kind (signer) != JAD_KEY_ED25519)
        return NULL;
    if (!payload || size == 0 || size > JAD_MAX_PLAN_BYTES)
        return NULL;
    jad_envelope_t *self = calloc (1, sizeof (jad_envelope_t));
    if (!self)
        return NULL;
    self->type = type;
    self->payload = malloc (size);
    if (!self->payload)
        goto failed;
    memcpy (self->payload, payload, size);
    self->payload_size = size;
    jad_key_id (jad_keypair_public (signer), self->key_id);

    size_t length = 0;
    uint8_t *bytes = s_signed_bytes (context, payload, size, &length);
    if (!bytes)
        goto failed;
    int rc =
        crypto_sign_detached (self->signature, NULL, bytes, length, jad_keypair_secret (signer));
    free (bytes);
    if (rc != 0)
        goto failed;
    return self;

failed:
    jad_envelope_destroy (&self);
    return NULL;
}

jad_verify_t jad_envelope_verify (const jad_envelope_t *self, uint32_t expected_type,
                                  const uint8_t *public_key)
{
    assert (self);
    assert (public_key);
    if (self->type != expected_type)
        return JAD_VERIFY_BAD_TYPE;
    const char *context = jad_envelope_context (self->type);
    if (!context)
        return JAD_VERIFY_BAD_TYPE;
    if (self->payload_size > JAD_MAX_PLAN_BYTES)
        return JAD_VERIFY_TOO_LARGE;
    if (!self->payload || self->payload_size == 0)
        return JAD_VERIFY_MALFORMED;
    uint8_t key_id[8];
    jad_key_id (public_key, key_id);
    if (memcmp (key_id, self->key_id, sizeof (key_id)) != 0)
        return JAD_VERIFY_UNKNOWN_KEY;

    size_t length = 0;
    uint8_t *bytes = s_signed_bytes (context, self->payload, self->payload_size, &length);
    if (!bytes)
        return JAD_VERIFY_MALFORMED;
    //  libsodium also rejects non-canonical and small-order public keys
    //  and non-canonical signatures here
    int rc = crypto_sign_verify_detached (self->signature, bytes, length, public_key);
    free (bytes);
    return rc == 0 ? JAD_VERIFY_OK : JAD_VERIFY_BAD_SIGNATURE;
}

//  Decode and verify an envelope of `type`; on success returns it (caller
//  owns), else NULL with *verdict and a reason in err.
static jad_envelope_t *s_open (const uint8_t *data, size_t size, uint32_t type,
                               const uint8_t *public_key, jad_verify_t *verdict, char *err)
{
    char reason[JAD_ERR_LEN] = "";
    if (size > JAD_MAX_PLAN_BYTES) {
        *verdict = JAD_VERIFY_TOO_LARGE;
        jad_seterr (err, JAD_ERR_LEN, "envelope: message is too large (%zu bytes, limit %d)", size,
                    JAD_MAX_PLAN_BYTES);
        return NULL;
    }
    jad_envelope_t *envelope = jad_envelope_decode (data, size, reason);
    if (!envelope) {
        *verdict = JAD_VERIFY_MALFORMED;
        jad_seterr (err, JAD_ERR_LEN, "%s", reason);
        return NULL;
    }
    *verdict = jad_envelope_verify (envelope, type, public_key);
    if (*verdict != JAD_VERIFY_OK) {
        char key_id[17];
        jad_seterr (err, JAD_ERR_LEN, "envelope: verification failed: %s (type %u, key id %s)",
                    jad_verify_name (*verdict), envelope->type,
                    jad_hex (envelope->key_id, 8, key_id));
        jad_envelope_destroy (&envelope);
    }
    return envelope;
}

jad_plan_t *jad_envelope_open_plan (const uint8_t *data, size_t size, const uint8_t *public_key,
                                    jad_verify_t *result, char *err)
{
    assert (public_key);
    jad_verify_t verdict = JAD_VERIFY_OK;
    jad_plan_t *plan = NULL;
    char reason[JAD_ERR_LEN] = "";
    jad_envelope_t *envelope = s_open (data, size, JAD_PAYLOAD_PLAN, public_key, &verdict, err);
    //  Only now, with the signature checked, is the payload parsed
    if (envelope) {
        plan = jad_plan_decode (envelope->payload, envelope->payload_size, reason);
        if (!plan) {
            verdict = JAD_VERIFY_BAD_PAYLOAD;
            jad_seterr (err, JAD_ERR_LEN, "%s", reason);
        } else {
            //  the proof is not signed: jad_plan_targets checks it against
            //  the signed root
            plan->proof_index = envelope->proof_index;
            plan->proof = envelope->proof;
            plan->proof_count = envelope->proof_count;
            envelope->proof = NULL;
            envelope->proof_count = 0;
        }
    }
    jad_envelope_destroy (&envelope);
    if (result)
        *result = verdict;
    return plan;
}

jad_heartbeat_t *jad_envelope_open_heartbeat (const uint8_t *data, size_t size,
                                              const uint8_t *public_key, jad_verify_t *result,
                                              char *err)
{
    assert (public_key);
    jad_verify_t verdict = JAD_VERIFY_OK;
    jad_heartbeat_t *heartbeat = NULL;
    char reason[JAD_ERR_LEN] = "";
    jad_envelope_t *envelope =
        s_open (data, size, JAD_PAYLOAD_HEARTBEAT, public_key, &verdict, err);
    if (envelope) {
        heartbeat = jad_heartbeat_decode (envelope->payload, envelope->payload_size, reason);
        if (!heartbeat) {
            verdict = JAD_VERIFY_BAD_PAYLOAD;
            jad_seterr (err, JAD_ERR_LEN, "%s", reason);
        }
    }
    jad_envelope_destroy (&envelope);
    if (result)
        *result = verdict;
    return heartbeat;
}

const char *jad_verify_name (jad_verify_t result)
{
    switch (result) {
        case JAD_VERIFY_OK:
            return "ok";
        case JAD_VERIFY_MALFORMED:
            return "malformed";
        case JAD_VERIFY_BAD_TYPE:
            return "bad_type";
        case JAD_VERIFY_UNKNOWN_KEY:
            return "unknown_key";
        case JAD_VERIFY_BAD_SIGNATURE:
            return "bad_signature";
        case JAD_VERIFY_TOO_LARGE:
            return "too_large";
        case JAD_VERIFY_BAD_PAYLOAD:
            return "bad_payload";
        default:
            return "unknown";
    }
}

//  a + b, clamped to the int64_t range.
static int64_t s_add_clamped (int64_t a, int64_t b)
{
    int64_t sum;
    if (__builtin_add_overflow (a, b, &sum))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return sum;
}

jad_admit_t jad_plan_admit (const jad_plan_t *plan, const char *env, const char *agent,
                            uint64_t last_sequence, int64_t now_ms, int64_t skew_ms, char *err)
{
    assert (plan);
    //  The protocol version is checked by jad_plan_decode: a jad_plan_t
    //  only exists for a plan of JAD_PROTOCOL.
    if (skew_ms < 0)
        skew_ms = 0;
    const char *plan_id = plan->plan_id ? plan->plan_id : "";
    if (!env || !plan->environment || strcmp (plan->environment, env) != 0) {
        jad_seterr (err, JAD_ERR_LEN, "plan %s is for environment '%s', not '%s'", plan_id,
                    plan->environment ? plan->environment : "", env ? env : "");
        return JAD_ADMIT_OTHER_ENV;
    }
    if (!agent || !jad_plan_targets (plan, agent)) {
        jad_seterr (err, JAD_ERR_LEN,
                    "plan %s does not target agent '%s' (no proof of it among %zu targets)",
                    plan_id, agent ? agent : "", plan->target_count);
        return JAD_ADMIT_NOT_TARGET;
    }
    if (now_ms > s_add_clamped (plan->expires_at, skew_ms)) {
        jad_seterr (err, JAD_ERR_LEN, "plan %s expired at %lld, now %lld", plan_id,
                    (long long)plan->expires_at, (long long)now_ms);
        return JAD_ADMIT_EXPIRED;
    }
    if (plan->issued_at > s_add_clamped (now_ms, skew_ms)) {
        jad_seterr (err, JAD_ERR_LEN, "plan %s is issued in the future (%lld, now %lld)", plan_id,
                    (long long)plan->issued_at, (long long)now_ms);
        return JAD_ADMIT_FUTURE;
    }
    if (plan->sequence <= last_sequence) {
        jad_seterr (err, JAD_ERR_LEN, "plan %s has sequence %llu, not above last accepted %llu",
                    plan_id, (unsigned long long)plan->sequence, (unsigned long long)last_sequence);
        return JAD_ADMIT_REPLAY;
    }
    if (err)
        *err = 0;
    return JAD_ADMIT_OK;
}

jad_admit_t jad_heartbeat_admit (const jad_heartbeat_t *heartbeat, const char *env,
                                 int64_t last_issued, int64_t now_ms, int64_t skew_ms, char *err)
{
    assert (heartbeat);
    if (skew_ms < 0)
        skew_ms = 0;
    if (!env || !heartbeat->environment || strcmp (heartbeat->environment, env) != 0) {
        jad_seterr (err, JAD_ERR_LEN, "heartbeat is for environment '%s', not '%s'",
                    heartbeat->environment ? heartbeat->environment : "", env ? env : "");
        return JAD_ADMIT_OTHER_ENV;
    }
    if (now_ms > s_add_clamped (heartbeat->expires_at, skew_ms)) {
        jad_seterr (err, JAD_ERR_LEN, "heartbeat expired at %lld, now %lld",
                    (long long)heartbeat->expires_at, (long long)now_ms);
        return JAD_ADMIT_EXPIRED;
    }
    if (heartbeat->issued_at > s_add_clamped (now_ms, skew_ms)) {
        jad_seterr (err, JAD_ERR_LEN, "heartbeat is issued in the future (%lld, now %lld)",
                    (long long)heartbeat->issued_at, (long long)now_ms);
        return JAD_ADMIT_FUTURE;
    }
    if (heartbeat->issued_at <= last_issued) {
        jad_seterr (err, JAD_ERR_LEN,
                    "heartbeat issued at %lld, not after the last accepted one (%lld)",
                    (long long)heartbeat->issued_at, (long long)last_issued);
        return JAD_ADMIT_REPLAY;
    }
    if (err)
        *err = 0;
    return JAD_ADMIT_OK;
}

const char *jad_admit_name (jad_admit_t result)
{
    switch (result) {
        case JAD_ADMIT_OK:
            return "ok";
        case JAD_ADMIT_OTHER_ENV:
            return "other_env";
        case JAD_ADMIT_NOT_TARGET:
            return "not_target";
        case JAD_ADMIT_EXPIRED:
            return "expired";
        case JAD_ADMIT_FUTURE:
            return "future";
        case JAD_ADMIT_REPLAY:
            return "replay";
        default:
            return "unknown";
    }
}
