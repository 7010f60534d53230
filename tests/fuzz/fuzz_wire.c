//  fuzz_wire - libFuzzer target: every message the controller and agents accept
//  SPDX-License-Identifier: MPL-2.0
//
//  The first byte picks the decoder: agent message (controller's agents
//  port), controller message (agent's DEALER), API request (controller's
//  API port), API response (jadctl), apply job (jadugar-apply's stdin),
//  apply event (the agent's pipe from it). What decodes is encoded again,
//  which exercises the encoders on whatever the decoders let through.

#include "jad_wire.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char err[JAD_ERR_LEN];
    const uint8_t *body = data + 1;
    size_t body_size = size - 1;
    switch (data[0] % 6) {
        case 0: {
            jad_agent_msg_t *msg = jad_agent_msg_decode (body, body_size, err);
            if (msg) {
                zchunk_t *again = jad_agent_msg_encode (msg);
                zchunk_destroy (&again);
            }
            jad_agent_msg_destroy (&msg);
            break;
        }
        case 1: {
            jad_ctl_msg_t *msg = jad_ctl_msg_decode (body, body_size, err);
            if (msg) {
                zchunk_t *again = jad_ctl_msg_encode (msg);
                zchunk_destroy (&again);
            }
            jad_ctl_msg_destroy (&msg);
            break;
        }
        case 2: {
            jad_api_request_t *request = jad_api_request_decode (body, body_size, err);
            if (request) {
                jad_api_request_arg (request, "name");
                zchunk_t *again = jad_api_request_encode (request);
                zchunk_destroy (&again);
            }
            jad_api_request_destroy (&request);
            break;
        }
        case 4: {
            jad_apply_job_t *job = jad_apply_job_decode (body, body_size, err);
            if (job) {
                zchunk_t *again = jad_apply_job_encode (job);
                zchunk_destroy (&again);
            }
            jad_apply_job_destroy (&job);
            break;
        }
        case 5: {
            jad_apply_event_t *event = jad_apply_event_decode (body, body_size, err);
            if (event) {
                zchunk_t *again = jad_apply_event_encode (event);
                zchunk_destroy (&again);
            }
            jad_apply_event_destroy (&event);
            break;
        }
        default: {
            jad_api_response_t *response = jad_api_response_decode (body, body_size, err);
            jad_api_response_destroy (&response);
            break;
        }
    }
    return 0;
}
