//  jad_approval - human approvals: who covers which role, and the judge of
//  an approval check (DESIGN §10)
//  SPDX-License-Identifier: MPL-2.0
//
//  The one implementation of approval matching, shared by the controller
//  (emergency approvals, the door's approval checks: ctl_approvals,
//  ctl_checks) and by agents with a policy key (jad_policy_judge, over the
//  operators the signed policy lists).
//
//  Each listed role needs its own operator: one operator counts for one
//  role only, whatever roles they hold. Which operator covers which role
//  is a maximum bipartite matching (Kuhn's augmenting paths), so the order
//  of approvals does not matter. An operator with the admin role holds
//  every role.
//
//  An approval check is met by approvals: DSSE envelopes of type
//  JAD_ATTEST_APPROVAL about the release, naming the environment and the
//  check, each signed by an approver's Ed25519 signing key; every role the
//  check lists covered by a different approver, and with not_deployer
//  never by the operator who deploys.
//
//  Pure: no I/O.

#ifndef JAD_APPROVAL_H_INCLUDED
#define JAD_APPROVAL_H_INCLUDED

#include "jad_attest.h"
#include "jad_config.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  At most this many roles and approvers take part in a matching; more
//  are ignored.
#define JAD_APPROVAL_MAX_ROLES     32
#define JAD_APPROVAL_MAX_APPROVERS 64

//  An operator who approves (or may). Strings are borrowed.
typedef struct {
    const char *name;         //  operator name
    const char *roles;        //  comma-separated roles, as held now (admin holds every role)
    const char *signing_key;  //  Ed25519 public key (64 hex), or NULL (approves nothing signed)
} jad_approver_t;

//  True if comma-separated `roles` (NULL holds none) hold `role` (admin
//  holds every role).
bool jad_approval_holds (const char *roles, const char *role);

//  Maximum matching of approvers to roles (role_count roles, count
//  approvers, each at most the limits above). role_owner (role_count
//  entries, may be NULL) gets, for each role, the index of the approver
//  covering it, or -1. Returns the number of roles covered. Approvers
//  should be distinct operators (the caller ensures it).
size_t jad_approval_match (const char *const *roles, size_t role_count,
                           const jad_approver_t *approvers, size_t count, int *role_owner);

//  How many of the roles the approvers cover; *missing (if not NULL)
//  gets the first role left uncovered (borrowed), or NULL.
size_t jad_approval_cover (const char *const *roles, size_t role_count,
                           const jad_approver_t *approvers, size_t count, const char **missing);

//  Judge approval check `check` (check->type is NULL) of environment env
//  over a release's envelopes (count of them, lens[i] bytes each) for the
//  release with sha256_hex: approvals by the approvers (approver_count,
//  matched by signing key), deployer the operator who deploys (NULL: not
//  judged, as `release checks` before a deploy). Returns OK, MISSING or
//  INVALID with why (one line) in why; why is "" when OK.
jad_check_verdict_t jad_approval_judge (const jad_check_config_t *check, const char *env,
                                        const char *const *envelopes, const size_t *lens,
                                        size_t count, const char *sha256_hex,
                                        const jad_approver_t *approvers, size_t approver_count,
                                        const char *deployer, char *why, size_t whylen);

//  "tech-lead, product-owner": the roles of an approval check, bounded
//  into out (len bytes). Returns out.
const char *jad_approval_roles (const jad_check_config_t *check, char *out, size_t len);

#ifdef __cplusplus
}
#endif

#endif
