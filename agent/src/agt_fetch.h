//  agt_fetch - download an artifact from the controller's store in chunks
//  SPDX-License-Identifier: MPL-2.0
//
//  Credit-based: at most AGT_FETCH_WINDOW FetchRequests (JAD_CHUNK_SIZE
//  each) are in flight. Chunks are written in order to
//  DATA/downloads/SHA.part while a streaming SHA-256 runs; a chunk out of
//  order or a duplicate is dropped (the retry after AGT_FETCH_RETRY_MS
//  without progress asks again from the first missing byte). A chunk with
//  an error, a total that differs from the signed length, more or fewer
//  bytes than asked, or a final hash that differs from the signed one
//  fails the fetch before anything is unpacked. On success the file is
//  renamed to DATA/downloads/SHA.
//
//  The class does not own the socket: it asks its caller to send requests
//  through a callback.

#ifndef AGT_FETCH_H_INCLUDED
#define AGT_FETCH_H_INCLUDED

#include "jad_wire.h"

#include <stdint.h>

#define AGT_FETCH_WINDOW   4
#define AGT_FETCH_RETRY_MS 5000

typedef struct _agt_fetch_t agt_fetch_t;

typedef enum {
    AGT_FETCH_RUNNING = 0,
    AGT_FETCH_DONE,    //  file complete and verified
    AGT_FETCH_FAILED,  //  see agt_fetch_error
} agt_fetch_state_t;

//  Send one FetchRequest; return 0 if sent.
typedef int (agt_fetch_send_fn) (const uint8_t *sha256, uint64_t offset, uint32_t length,
                                 void *arg);

//  Start fetching the artifact sha256 (32 bytes) of `length` bytes into
//  directory `downloads` (created 0700). deadline_ms bounds the whole
//  fetch (0 = 10 minutes). Returns NULL (logged) if the file cannot be
//  created.
agt_fetch_t *agt_fetch_new (const char *downloads, const uint8_t *sha256, uint64_t length,
                            uint32_t deadline_ms, agt_fetch_send_fn *send, void *arg);
//  Removes the .part file unless the fetch is done.
void agt_fetch_destroy (agt_fetch_t **self_p);

//  Handle one chunk from the controller (ignored if it is for another
//  artifact). Returns the state afterwards.
agt_fetch_state_t agt_fetch_chunk (agt_fetch_t *self, const uint8_t *sha256, uint64_t offset,
                                   const uint8_t *data, size_t size, uint64_t total,
                                   const char *error);

//  Timers: send requests while credit allows, retry after silence, fail
//  at the deadline. Call after new and on every timer tick.
agt_fetch_state_t agt_fetch_tick (agt_fetch_t *self);

agt_fetch_state_t agt_fetch_state (agt_fetch_t *self);
//  One-line reason of a failure, borrowed.
const char *agt_fetch_error (agt_fetch_t *self);
//  Path of the verified artifact, borrowed (valid once DONE).
const char *agt_fetch_path (agt_fetch_t *self);
uint64_t agt_fetch_received (agt_fetch_t *self);

#endif
