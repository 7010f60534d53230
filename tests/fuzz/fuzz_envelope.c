//  fuzz_envelope - libFuzzer target: plan envelope verify + parse + admit
//  SPDX-License-Identifier: MPL-2.0
//
//  First byte even: the input is an envelope, opened against a fixed key
//  (what an agent does with every broadcast). Odd: the input is a plan
//  payload, signed with that key first, so that the plan decoder and the
//  admission checks behind the signature check are reached too. Bit 1 of
//  the first byte set: the same for a heartbeat (PAYLOAD_HEARTBEAT)
//  instead of a plan.

#include "jad_envelope.h"
#include "jad_keys.h"
#include "jad_wire.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static jad_keypair_t *s_signer;

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_signer) {
        if (sodium_init () < 0)
            abort ();
        uint8_t seed[32] = {7};
        s_signer = jad_keypair_from_seed (seed);
        if (!s_signer)
            abort ();
    }
    if (size < 1)
        return 0;
    const uint8_t *public_key = jad_keypair_public (s_signer);
    char err[JAD_ERR_LEN];
    jad_verify_t result;
    jad_plan_t *plan = NULL;
    if (data[0] & 2) {
        jad_heartbeat_t *heartbeat = NULL;
        if (data[0] % 2 == 0)
            heartbeat = jad_envelope_open_heartbeat (data + 1, size - 1, public_key, &result, err);
        else {
            jad_envelope_t *envelope =
                jad_envelope_sign (JAD_PAYLOAD_HEARTBEAT, data + 1, size - 1, s_signer);
            zchunk_t *bytes = envelope ? jad_envelope_encode (envelope) : NULL;
            if (bytes)
                heartbeat = jad_envelope_open_heartbeat (zchunk_data (bytes), zchunk_size (bytes),
                                                         public_key, &result, err);
            zchunk_destroy (&bytes);
            jad_envelope_destroy (&envelope);
        }
        if (heartbeat) {
            jad_heartbeat_admit (heartbeat, "dev", 1700000000000, 1700000000000, 300000, err);
            zchunk_t *again = jad_heartbeat_encode (heartbeat);
            zchunk_destroy (&again);
        }
        jad_heartbeat_destroy (&heartbeat);
        return 0;
    }
    if (data[0] % 2 == 0)
        plan = jad_envelope_open_plan (data + 1, size - 1, public_key, &result, err);
    else {
        jad_envelope_t *envelope =
            jad_envelope_sign (JAD_PAYLOAD_PLAN, data + 1, size - 1, s_signer);
        zchunk_t *bytes = envelope ? jad_envelope_encode (envelope) : NULL;
        if (bytes)
            plan = jad_envelope_open_plan (zchunk_data (bytes), zchunk_size (bytes), public_key,
                                           &result, err);
        zchunk_destroy (&bytes);
        jad_envelope_destroy (&envelope);
    }
    if (plan) {
        jad_plan_admit (plan, "dev", "host-1", 3, 1700000000000, 300000, err);
        jad_plan_t *copy = jad_plan_dup (plan);
        zchunk_t *again = jad_plan_encode (plan);
        zchunk_destroy (&again);
        jad_plan_destroy (&copy);
    }
    jad_plan_destroy (&plan);
    return 0;
}
