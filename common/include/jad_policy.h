//  jad_policy - release checks at the host: the offline-signed policy,
//  the attestation bundle, and the one rule builder (DESIGN §10,
//  SECURITY-TESTS row 40)
//  SPDX-License-Identifier: MPL-2.0
//
//  A policy is what one environment's checks require, signed by an
//  offline Ed25519 key (the policy key) that never touches the
//  controller: `jadctl policy sign` makes it from controller.yaml on the
//  signer's machine, `jadctl policy push` hands it to the controller,
//  which can store and forward it but cannot forge or edit one. It is a
//  DSSE envelope of payloadType JAD_POLICY_PAYLOAD_TYPE whose payload is
//
//      {"_type": "https://jadugar.dev/policy/v1", "environment": "prod",
//       "version": 3,
//       "attestation_keys": {"ci": "<64 hex>", ...},
//       "checks": [{"name": "tests", "type": "<predicateType>",
//                   "keys": ["ci"], "max_age_ms": 604800000,
//                   "max_severity": "medium", "builder_id": "...",
//                   "source": "..."},
//                  {"name": "code-review", "approval": ["tech-lead"],
//                   "not_deployer": true}],
//       "operators": {"amy": {"roles": ["tech-lead", "deployer"],
//                             "signing_key": "<64 hex>"}, ...}}
//
//  (duplicate keys refused; only the keys a check of the environment
//  names travel). `operators` are who may approve the approval checks:
//  the controller's operators as the signer reviewed them (`jadctl
//  --json operator list`, passed to `jadctl policy sign --operators`),
//  each with every role they hold and their Ed25519 signing key; only
//  operators holding a role some approval check lists travel. Absent in a
//  policy without approval checks. Versions only go up: an agent keeps the
//  highest it has verified and refuses an older one.
//
//  The bundle is what travels to an agent beside a plan, by its SHA-256
//  (signed in the plan) through the chunked artifact fetch: the
//  environment's policy as the controller holds it (may be absent) and
//  the release's attestations and approvals, each envelope's exact text:
//
//      {"_type": "https://jadugar.dev/bundle/v1", "policy": "<text>",
//       "attestations": ["<envelope text>", ...]}
//
//  jad_check_rule_build is the one place a check of the configuration (or
//  of a policy) becomes a jad_check_rule_t: the controller's door
//  (ctl_checks) and the agent both judge with it.
//
//  Pure: no I/O; time is an argument.

#ifndef JAD_POLICY_H_INCLUDED
#define JAD_POLICY_H_INCLUDED

#include "jad_approval.h"
#include "jad_attest.h"
#include "jad_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JAD_POLICY_PAYLOAD_TYPE  "application/vnd.jadugar.policy+json"
#define JAD_POLICY_TYPE          "https://jadugar.dev/policy/v1"
#define JAD_BUNDLE_TYPE          "https://jadugar.dev/bundle/v1"
#define JAD_POLICY_MAX_BYTES     (256 * 1024)  //  one signed policy's text
#define JAD_POLICY_MAX_CHECKS    64
#define JAD_POLICY_MAX_OPERATORS 256
#define JAD_BUNDLE_MAX_BYTES     (16 * 1024 * 1024)  //  a bundle, policy and envelopes
#define JAD_BUNDLE_MAX_ENTRIES   64                  //  attestations in a bundle

//  A verified policy: one environment's checks and the keys they name.
//  Everything is owned by the policy.
typedef struct {
    char *environment;
    uint64_t version;
    jad_attestation_key_t *keys;
    size_t key_count;
    jad_check_config_t *checks;
    size_t check_count;
    jad_approver_t *operators;  //  who may approve; the strings are owned by the policy
    size_t operator_count;      //  (roles comma-joined, as jad_approval_holds reads them)
} jad_policy_t;

//  What travels beside a plan. Owned by the bundle.
typedef struct {
    char *policy;      //  signed policy text, or NULL
    char **envelopes;  //  attestation and approval envelopes (JSON texts)
    size_t *lens;      //  their lengths
    size_t count;
} jad_bundle_t;

//  The rule of attestation check `check`: its key names looked up in keys
//  (key_count of them; a name not found counts for nothing). Fills rule
//  (rule->keys and rule->key_names are new arrays; the strings stay
//  borrowed from check and keys). Returns 0, or -1 if out of memory or if
//  check is an approval (no type). Release with jad_check_rule_clear.
int jad_check_rule_build (const jad_check_config_t *check, const jad_attestation_key_t *keys,
                          size_t key_count, jad_check_rule_t *rule);
void jad_check_rule_clear (jad_check_rule_t *rule);

//  The payload (JSON text, caller frees) of environment env's policy at
//  `version` (>= 1) from a loaded controller.yaml, with the operators
//  (operator_count of them) who hold a role some approval check of env
//  lists (the others are left out). NULL with why in err if env is
//  unknown, version is 0, env has approval checks and no operator holds a
//  role of one, an operator's name, roles or signing key is not valid,
//  two operators share a signing key, or out of memory.
char *jad_policy_payload (const jad_controller_config_t *config, const char *env, uint64_t version,
                          const jad_approver_t *operators, size_t operator_count, char *err,
                          size_t errlen);

//  Decode and validate a policy payload (not signed: see jad_policy_open).
//  Returns the policy (caller destroys) or NULL with why in err.
jad_policy_t *jad_policy_decode (const uint8_t *payload, size_t len, char *err, size_t errlen);

//  Open a signed policy: a DSSE envelope of JAD_POLICY_PAYLOAD_TYPE
//  signed by `key` (32 bytes; the keyid decides nothing), its payload
//  decoded. Returns the policy (caller destroys) or NULL with why in err.
jad_policy_t *jad_policy_open (const char *text, size_t len, const uint8_t key[32], char *err,
                               size_t errlen);
void jad_policy_destroy (jad_policy_t **self_p);

//  Judge the policy's checks over a release's envelopes (count of them,
//  lens[i] bytes each) for the release with sha256_hex at now (unix ms);
//  with ignore_age, max_age is not applied (a rollback to a release
//  deployed before). Attestation checks as jad_check_judge, approval
//  checks as jad_approval_judge over the policy's operators, with
//  deployer the operator who deploys (NULL: not_deployer not judged).
//  Returns the number of checks not met (0: all met), naming each with
//  why in why ("tests (missing: ...); ..."), or -1 if out of memory.
int jad_policy_judge (const jad_policy_t *self, const char *const *envelopes, const size_t *lens,
                      size_t count, const char *sha256_hex, int64_t now, bool ignore_age,
                      const char *deployer, char *why, size_t whylen);

//  True if some check of the policy says not_deployer.
bool jad_policy_not_deployer (const jad_policy_t *self);

//  Encode a bundle: policy (text, or NULL) and count envelopes. Returns
//  the compact JSON text (caller frees), its length in *len_p, or NULL if
//  out of memory or over JAD_BUNDLE_MAX_BYTES / JAD_BUNDLE_MAX_ENTRIES.
char *jad_bundle_encode (const char *policy, const char *const *envelopes, const size_t *lens,
                         size_t count, size_t *len_p);

//  Decode a bundle (len bytes). Returns it (caller destroys) or NULL with
//  why in err. Nothing in it is verified yet.
jad_bundle_t *jad_bundle_decode (const uint8_t *data, size_t len, char *err, size_t errlen);
void jad_bundle_destroy (jad_bundle_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
