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

#include "ctl_store.h"
#include "jad_config.h"
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

#endif
