//  ctl_checks - release checks: an environment's checks judged over a
//  release's attestations (DESIGN §10)
//  SPDX-License-Identifier: MPL-2.0
//
//  controller.yaml says what each environment's checks need (jad_config.h)
//  and which Ed25519 keys exist (attestation_keys); jad_attest.h judges one
//  check over envelopes. This module joins the two: it turns a check into
//  a jad_check_rule_t (its keys by name into public keys), judges every
//  check of an environment for a release, and decides whether an uploaded
//  envelope may be kept at all.
//
//  A human check (approval:) is met by approvals: DSSE envelopes of type
//  JAD_ATTEST_APPROVAL about the release, naming the environment and the
//  check, each signed by an operator's own signing key. Every role the
//  check lists needs its own operator holding that role now (admin holds
//  every role; one operator covers one role), and with not_deployer never
//  the operator who deploys. The judge is jad_approval_judge (common/,
//  shared with the agents, which judge over the policy's operators); the
//  controller judges over its operators as they are now.
//
//  Pure: the configuration, the envelopes and the time come in; nothing
//  is read, logged or stored.

#ifndef CTL_CHECKS_H_INCLUDED
#define CTL_CHECKS_H_INCLUDED

#include "jad_approval.h"
#include "jad_attest.h"
#include "jad_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  One check's verdict for a release.
typedef struct {
    const char *name;             //  the check's name (borrowed from the configuration)
    bool approval;                //  a human check
    jad_check_verdict_t verdict;  //  OK, MISSING or INVALID
    char why[256];                //  MISSING and INVALID: why, one line
} ctl_check_result_t;

//  An operator as approvals need them: name, roles now, signing key.
typedef jad_approver_t ctl_check_approver_t;

//  What a release holds, for judging: its SHA-256 (hex), its attestations
//  and approvals (count envelopes as JSON texts, lens[i] bytes each), the
//  operators, and who deploys (NULL: nobody yet, as `release checks`
//  asks; not_deployer is then judged at deploy time).
typedef struct {
    const char *sha256;
    const char *const *envelopes;
    const size_t *lens;
    size_t count;
    const ctl_check_approver_t *approvers;
    size_t approver_count;
    const char *deployer;
} ctl_checks_facts_t;

//  Judge every check of env for the release at now (unix ms). results
//  must hold env->check_count entries; they come in the environment's
//  order. Returns 0, or -1 if out of memory.
int ctl_checks_judge (const jad_controller_config_t *config, const jad_env_config_t *env,
                      const ctl_checks_facts_t *facts, int64_t now, ctl_check_result_t *results);

//  "state" word of a verdict for output: ok, missing, invalid.
const char *ctl_check_state (jad_check_verdict_t verdict);

//  May this envelope be kept for the release with sha256? It must parse,
//  hold an in-toto statement about that release, and be signed by a key
//  that some environment's check of the statement's type trusts. Returns
//  the name of that key (caller frees) and the statement's type in
//  *type_p (caller frees), or NULL with why in err.
char *ctl_checks_arrival (const jad_controller_config_t *config, const char *text, size_t len,
                          const char *sha256, char **type_p, char *err, size_t errlen);

//  May this approval be kept? It must be a JAD_ATTEST_APPROVAL statement
//  about the release with sha256 for app/version, naming env and
//  check_name, a check of env that takes approvals, signed by the approver's signing key,
//  who holds one of the check's roles now. Returns 0, or -1 with why in
//  err.
int ctl_checks_approval_arrival (const jad_env_config_t *env, const char *check_name,
                                 const char *app, const char *version, const char *sha256,
                                 const ctl_check_approver_t *approver, const char *text, size_t len,
                                 char *err, size_t errlen);

#endif
