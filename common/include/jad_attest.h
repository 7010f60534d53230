//  jad_attest - release checks: DSSE envelopes over in-toto Statement v1
//  SPDX-License-Identifier: MPL-2.0
//
//  An attestation is a DSSE envelope (JSON: payloadType, payload in
//  base64, signatures[{keyid, sig}]) whose payload is an in-toto
//  Statement v1. A signature is Ed25519 over DSSE's pre-authentication
//  encoding:
//
//      PAE = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
//
//  (LEN as ASCII decimal, body the decoded payload bytes). What we
//  accept, and why:
//  - payloadType must be application/vnd.in-toto+json and the statement's
//    _type https://in-toto.io/Statement/v1: nothing else is judged.
//  - `keyid` decides nothing: every signature is tried against every key
//    the check trusts, so a lying keyid neither helps nor hurts.
//  - Standard and URL-safe base64, with or without padding (producers
//    differ); nothing else in the string.
//  - Duplicate JSON keys are refused in the envelope and in the statement
//    (two parsers must never disagree about which `result` counts).
//  - Sizes are capped (envelope, payload, signatures) before any work.
//  - A statement applies to a release when one of its subjects has
//    digest.sha256 equal to the release's SHA-256.
//
//  Predicates judged (DESIGN §10):
//    https://in-toto.io/attestation/test-result/v0.1   result PASSED
//    https://in-toto.io/attestation/vulns/v0.2         no finding above
//        max_severity (negligible < low < medium < high < critical; a
//        score is a name or a CVSS number; a finding's severity is the
//        highest of its scores; an unknown score counts as critical)
//    https://slsa.dev/provenance/v1                    builder id / source
//  A statement's time (for max_age) is, by type: vulns
//  metadata.scanFinishedOn; SLSA runDetails.metadata.finishedOn; any type
//  may carry predicate.timestamp (RFC 3339), which the Test Result
//  schema lacks. A check with max_age and a statement without a time is
//  invalid.
//
//  This module is pure (no I/O, the time is an argument): the controller
//  judges checks with it at deploy time and agents with a policy key judge
//  them again at the host.

#ifndef JAD_ATTEST_H_INCLUDED
#define JAD_ATTEST_H_INCLUDED

#include "jad_keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JAD_ATTEST_MAX_BYTES      (1024 * 1024)  //  one envelope's JSON text
#define JAD_ATTEST_MAX_SIGNATURES 16
#define JAD_ATTEST_PAYLOAD_TYPE   "application/vnd.in-toto+json"
#define JAD_ATTEST_STATEMENT_V1   "https://in-toto.io/Statement/v1"
#define JAD_ATTEST_TEST_RESULT    "https://in-toto.io/attestation/test-result/v0.1"
#define JAD_ATTEST_VULNS          "https://in-toto.io/attestation/vulns/v0.2"
#define JAD_ATTEST_SLSA           "https://slsa.dev/provenance/v1"
//  An operator's approval of a human check (DESIGN §10), signed on their
//  machine by `jadctl release approve`: predicate {app, version, env,
//  check, note, timestamp}
#define JAD_ATTEST_APPROVAL "https://jadugar.dev/attestation/approval/v1"

typedef struct _jad_dsse_t jad_dsse_t;
typedef struct _jad_statement_t jad_statement_t;

//  What one check requires of an attestation (DESIGN §10, controller.yaml
//  `checks:`). Everything is borrowed.
typedef struct {
    const char *name;              //  the check's name, for messages
    const char *type;              //  predicateType it requires
    const uint8_t *keys;           //  key_count Ed25519 public keys, 32 bytes each
    const char *const *key_names;  //  their names in attestation_keys (may be NULL)
    size_t key_count;
    int64_t max_age_ms;        //  0: no limit
    const char *max_severity;  //  vulns: NULL = no limit
    const char *builder_id;    //  SLSA: NULL = any
    const char *source;        //  SLSA: a resolvedDependencies uri prefix, NULL = any
} jad_check_rule_t;

typedef enum {
    JAD_CHECK_OK = 0,       //  an attestation satisfies the rule
    JAD_CHECK_MISSING = 1,  //  no attestation of the rule's type for this release
    JAD_CHECK_INVALID = 2,  //  some of that type, none satisfies it (why says why)
} jad_check_verdict_t;

//  Parse a DSSE envelope (len bytes of JSON text). Checks structure only:
//  no signature is verified yet. Returns the envelope or NULL with why in
//  err. Caller destroys.
jad_dsse_t *jad_dsse_parse (const char *text, size_t len, char *err, size_t errlen);
//  The same for an envelope whose payloadType must be payload_type
//  (jad_policy.h's policies are DSSE envelopes of their own type).
jad_dsse_t *jad_dsse_parse_as (const char *text, size_t len, const char *payload_type, char *err,
                               size_t errlen);

//  A DSSE envelope (compact JSON text, caller frees) of body_len bytes of
//  body with payload_type, signed with the Ed25519 key (its keyid: the
//  first 8 bytes of SHA-256 of the public key, hex). NULL if key is not an
//  Ed25519 key or out of memory.
char *jad_dsse_sign (const char *payload_type, const uint8_t *body, size_t body_len,
                     const jad_keypair_t *key);
void jad_dsse_destroy (jad_dsse_t **self_p);

//  True if a signature of the envelope verifies under `key` (32 bytes),
//  whatever keyid it claims.
bool jad_dsse_signed_by (const jad_dsse_t *self, const uint8_t key[32]);

//  The envelope's payload type and decoded payload (borrowed).
const char *jad_dsse_payload_type (const jad_dsse_t *self);
const uint8_t *jad_dsse_payload (const jad_dsse_t *self, size_t *len_p);

//  DSSE's pre-authentication encoding of (type, body): a new buffer the
//  caller frees, its size in *len_p. NULL if out of memory.
uint8_t *jad_dsse_pae (const char *type, const uint8_t *body, size_t body_len, size_t *len_p);

//  Parse the envelope's payload as an in-toto Statement v1. Returns the
//  statement or NULL with why in err. Caller destroys.
jad_statement_t *jad_statement_parse (const jad_dsse_t *envelope, char *err, size_t errlen);
void jad_statement_destroy (jad_statement_t **self_p);

//  The statement's predicateType (borrowed).
const char *jad_statement_type (const jad_statement_t *self);

//  The string member `key` of the statement's predicate (borrowed), or
//  NULL if there is none or it is not a string.
const char *jad_statement_predicate_text (const jad_statement_t *self, const char *key);

//  True if a subject's digest.sha256 equals sha256_hex (64 hex, any case).
bool jad_statement_about (const jad_statement_t *self, const char *sha256_hex);

//  The statement's time in unix ms (see the file comment), or -1 if it
//  has none or it is malformed.
int64_t jad_statement_time (const jad_statement_t *self);

//  Judge one verified statement against `rule` for the release with
//  sha256_hex at `now` (unix ms): the subject, the type, max_age and the
//  predicate. Returns 0, or -1 with why in err (one line).
int jad_statement_judge (const jad_statement_t *self, const jad_check_rule_t *rule,
                         const char *sha256_hex, int64_t now, char *err, size_t errlen);

//  Judge a check over a release's attestations (envelopes as JSON texts,
//  lens[i] bytes each): OK if one of them is signed by one of the rule's
//  keys and its statement passes jad_statement_judge; MISSING if none is
//  of the rule's type; INVALID otherwise, with the reason of the
//  attestation that came closest in why. *which (if not NULL) gets the
//  index of the satisfying attestation.
jad_check_verdict_t jad_check_judge (const jad_check_rule_t *rule, const char *const *envelopes,
                                     const size_t *lens, size_t count, const char *sha256_hex,
                                     int64_t now, size_t *which, char *why, size_t whylen);

//  Severity rank of a name or CVSS score: 0 negligible/none, 1 low,
//  2 medium, 3 high, 4 critical; -1 unknown.
int jad_severity_rank (const char *score);

//  Parse an RFC 3339 time ("2026-12-06T10:00:00Z", fractions and offsets
//  allowed) into unix ms. Returns 0 or -1.
int jad_rfc3339_parse (const char *text, int64_t *ms);

#ifdef __cplusplus
}
#endif

#endif
