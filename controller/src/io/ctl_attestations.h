//  ctl_attestations - the operator API's release checks: upload an
//  attestation, list a release's checks (DESIGN §10)
//  SPDX-License-Identifier: MPL-2.0
//
//  release.attest (app, version; the envelope's JSON text as the blob)
//  keeps a DSSE envelope for a release once it is verified on arrival
//  (ctl_checks_arrival: about this release, signed by a key a check of its
//  type trusts); release.checks (app, version, env optional) judges every
//  check of the environment, or of every environment with checks, over
//  what the release holds, now.
//
//  Both are handlers of ctl_api's command table: they return the exit
//  status (0, 1 database error, 2 refused) with *result set on success
//  and err set otherwise.

#ifndef CTL_ATTESTATIONS_H_INCLUDED
#define CTL_ATTESTATIONS_H_INCLUDED

#include "ctl_checks.h"
#include "ctl_releases_repo.h"
#include "ctl_store.h"
#include "jad_config.h"
#include "jad_policy.h"
#include "jad_wire.h"

#include <jansson.h>

//  release.attest. Result: {app, version, sha256 (the envelope's), type,
//  signer (the attestation key), exists (the release held it already)}.
int ctl_attestations_attest (ctl_store_t *store, const jad_controller_config_t *config,
                             const jad_api_request_t *request, const char *operator_name,
                             json_t **result, char *err, size_t errlen);

//  release.checks. Result: {app, version, sha256 (the release's),
//  checks: [{env, check, kind (attestation | approval), state (ok |
//  missing | invalid), why}]}.
int ctl_attestations_checks (ctl_store_t *store, const jad_controller_config_t *config,
                             const jad_api_request_t *request, json_t **result, char *err,
                             size_t errlen);

//  release.approve (app, version, env, check; the approval envelope,
//  signed on the operator's machine, as the blob): kept once
//  ctl_checks_approval_arrival accepts it for operator_name. Result:
//  {app, version, env, check, operator, sha256, exists}.
int ctl_attestations_approve (ctl_store_t *store, const jad_controller_config_t *config,
                              const jad_api_request_t *request, const char *operator_name,
                              json_t **result, char *err, size_t errlen);

//  policy.push (the signed policy's text as the blob): kept for its
//  environment when its version is higher than the one kept. The
//  controller holds no policy key: it reads the payload unverified, only
//  to know the environment and the version; agents with the policy key
//  verify it (jad_policy.h). Result: {env, version, previous}.
int ctl_attestations_policy_push (ctl_store_t *store, const jad_controller_config_t *config,
                                  const jad_api_request_t *request, const char *operator_name,
                                  json_t **result, char *err, size_t errlen);

//  What ctl_checks_judge needs about a release, read from the store; the
//  facts borrow from the rest.
typedef struct {
    ctl_checks_facts_t facts;
    zlistx_t *attestations;  //  ctl_attestation_t
    zlistx_t *operators;     //  ctl_operator_t
    const char **envelopes;
    size_t *lens;
    ctl_check_approver_t *approvers;
} ctl_attestations_facts_t;

//  Read the release's attestations and the operators into *self, with
//  `deployer` (may be NULL). Returns 0, or -1 on error (logged; *self is
//  then safe to free).
int ctl_attestations_facts_read (ctl_store_t *store, const ctl_release_t *release,
                                 const char *deployer, ctl_attestations_facts_t *self);
void ctl_attestations_facts_free (ctl_attestations_facts_t *self);

#endif
