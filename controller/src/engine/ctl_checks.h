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
//  Human checks (approval:) are MISSING until approvals exist (a later
//  step: operators' signing keys, jadctl release approve).
//
//  Pure: the configuration, the envelopes and the time come in; nothing
//  is read, logged or stored.

#ifndef CTL_CHECKS_H_INCLUDED
#define CTL_CHECKS_H_INCLUDED

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

//  Judge every check of env for the release with sha256 (hex) over its
//  attestations (count envelopes as JSON texts, lens[i] bytes each) at
//  now (unix ms). results must hold env->check_count entries; they come
//  in the environment's order. Returns 0, or -1 if out of memory.
int ctl_checks_judge (const jad_controller_config_t *config, const jad_env_config_t *env,
                      const char *sha256, const char *const *envelopes, const size_t *lens,
                      size_t count, int64_t now, ctl_check_result_t *results);

//  "state" word of a verdict for output: ok, missing, invalid.
const char *ctl_check_state (jad_check_verdict_t verdict);

//  May this envelope be kept for the release with sha256? It must parse,
//  hold an in-toto statement about that release, and be signed by a key
//  that some environment's check of the statement's type trusts. Returns
//  the name of that key (caller frees) and the statement's type in
//  *type_p (caller frees), or NULL with why in err.
char *ctl_checks_arrival (const jad_controller_config_t *config, const char *text, size_t len,
                          const char *sha256, char **type_p, char *err, size_t errlen);

#endif
