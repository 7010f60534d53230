//  jad_envelope - sign and verify envelopes (Ed25519 over context||payload)
//  SPDX-License-Identifier: MPL-2.0
//
//  The context string is fixed per payload type ("jadugar/v1/plan"), so a
//  signature made for one type never verifies as another (type confusion).
//  Verification happens over the exact received payload bytes, before the
//  payload is parsed.

#ifndef JAD_ENVELOPE_H_INCLUDED
#define JAD_ENVELOPE_H_INCLUDED

#include "jad_keys.h"
#include "jad_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    JAD_VERIFY_OK = 0,
    JAD_VERIFY_MALFORMED,    //  envelope bytes do not decode
    JAD_VERIFY_BAD_TYPE,     //  not the expected payload type
    JAD_VERIFY_UNKNOWN_KEY,  //  key id is not the pinned key
    JAD_VERIFY_BAD_SIGNATURE,
    JAD_VERIFY_TOO_LARGE,
    JAD_VERIFY_BAD_PAYLOAD,  //  signed payload does not parse or validate
} jad_verify_t;

//  Context string of a payload type, or NULL for an unknown type.
const char *jad_envelope_context (uint32_t type);

//  Build a signed envelope around a copy of payload. Returns NULL on error.
//  Caller owns the result.
jad_envelope_t *jad_envelope_sign (uint32_t type, const uint8_t *payload, size_t size,
                                   const jad_keypair_t *signer);

//  Check that `self` is of `expected_type`, carries the key id of
//  `public_key` (32 bytes) and a valid signature over context||payload.
jad_verify_t jad_envelope_verify (const jad_envelope_t *self, uint32_t expected_type,
                                  const uint8_t *public_key);

//  Decode, verify and parse a plan envelope in one go; on success returns
//  the plan (caller owns), holding the envelope's membership proof. On failure returns NULL, sets *result and a
//  reason in err (JAD_ERR_LEN bytes).
jad_plan_t *jad_envelope_open_plan (const uint8_t *data, size_t size, const uint8_t *public_key,
                                    jad_verify_t *result, char *err);

//  Decode, verify and parse a heartbeat envelope (PAYLOAD_HEARTBEAT,
//  context "jadugar/v1/heartbeat"), like jad_envelope_open_plan.
jad_heartbeat_t *jad_envelope_open_heartbeat (const uint8_t *data, size_t size,
                                              const uint8_t *public_key, jad_verify_t *result,
                                              char *err);

const char *jad_verify_name (jad_verify_t result);

//  Policy checks an agent applies to a verified, parsed plan, in this
//  order: protocol, environment, `agent` is a target (jad_plan_targets:
//  the envelope's proof leads from its name to the signed root), not expired
//  (now > expires_at + skew_ms), not issued in the future (issued_at >
//  now + skew_ms), sequence strictly above last_sequence. Pure function:
//  returns JAD_ADMIT_OK or the first failed check, reason in err.
typedef enum {
    JAD_ADMIT_OK = 0,
    JAD_ADMIT_OTHER_ENV,
    JAD_ADMIT_NOT_TARGET,
    JAD_ADMIT_EXPIRED,
    JAD_ADMIT_FUTURE,
    JAD_ADMIT_REPLAY,  //  sequence <= last accepted
} jad_admit_t;

jad_admit_t jad_plan_admit (const jad_plan_t *plan, const char *env, const char *agent,
                            uint64_t last_sequence, int64_t now_ms, int64_t skew_ms, char *err);

//  The same for a verified heartbeat: environment, not expired, not issued
//  in the future (both with skew_ms), and issued strictly after
//  `last_issued` (the last heartbeat accepted), so that a replayed
//  heartbeat cannot hold off the stale alarm. Heartbeats carry no
//  sequence and never touch the plan sequence.
jad_admit_t jad_heartbeat_admit (const jad_heartbeat_t *heartbeat, const char *env,
                                 int64_t last_issued, int64_t now_ms, int64_t skew_ms, char *err);
const char *jad_admit_name (jad_admit_t result);

#ifdef __cplusplus
}
#endif

#endif
