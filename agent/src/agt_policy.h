//  agt_policy - release checks at this host (DESIGN §10, SECURITY-TESTS
//  row 40)
//  SPDX-License-Identifier: MPL-2.0
//
//  An agent initialised with a policy key (agent.yaml `policy-key:`, an
//  offline Ed25519 key the controller never holds) lets a release onto
//  this host only when its attestation bundle (jad_policy.h; fetched by
//  the SHA-256 the signed plan names) satisfies the checks of the policy
//  signed by that key. The policy is the highest version verified so far:
//  the bundle may carry a newer one (kept, in meta, before judging), never
//  an older one (refused, even after a restart). No policy at all refuses
//  every release (fail closed): push one before the first deploy.
//
//  Judged: plans that bring a release onto the host (apply, migrate_up);
//  a rollback (plan kind rollback) without max_age and not_deployer, as
//  the controller does. Attestation checks against the policy's keys,
//  approval checks against the policy's operators (their signing keys and
//  roles as the policy's signer reviewed them), with not_deployer against
//  the deployer the signed plan names (a plan naming none is refused when
//  a check needs it).

#ifndef AGT_POLICY_H_INCLUDED
#define AGT_POLICY_H_INCLUDED

#include "agt_store.h"
#include "jad_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _agt_policy_t agt_policy_t;

//  Release checks for this agent of environment env, under policy key
//  key (32 bytes, copied), policies kept in store (borrowed). NULL if out
//  of memory.
agt_policy_t *agt_policy_new (agt_store_t *store, const uint8_t *key, const char *env);
void agt_policy_destroy (agt_policy_t **self_p);

//  True if plan must be judged before its release is fetched or unpacked.
bool agt_policy_needed (const jad_plan_t *plan);

//  Judge plan over its bundle (len bytes; NULL and 0 when the plan names
//  none) at now (unix ms). Returns 0 if the release may land here, or -1
//  with why (one line) in why. A newer verified policy in the bundle is
//  kept first.
int agt_policy_judge (agt_policy_t *self, const jad_plan_t *plan, const uint8_t *bundle, size_t len,
                      int64_t now, char *why, size_t whylen);

//  Version of the policy in force (0: none yet).
uint64_t agt_policy_version (agt_policy_t *self);

#endif
