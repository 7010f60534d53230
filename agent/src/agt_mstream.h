//  agt_mstream - acknowledged metric delivery: the batches sent and not yet acked
//  SPDX-License-Identifier: MPL-2.0
//
//  Go-back-N over the DEALER. Each agent process draws a random stream id
//  and numbers its metric batches 1, 2, 3... A batch leaves the sample
//  buffer when it is sent and waits here, encoded, until the controller's
//  MetricAck (stream, seq = highest stored in order) covers it. The window
//  is bounded: when it is full nothing more is sent and the sample buffer
//  keeps buffering (dropping its oldest at its own bound, counted). Every
//  unacked batch goes again, in order, when the link comes back and when
//  the oldest has waited for its ack longer than the timeout; the
//  controller stores only seq == last + 1 and acks duplicates and gaps
//  with what it has, so samples are neither lost nor stored twice across
//  controller restarts and link failures. Only an agent killed hard loses
//  the batches in its memory.

#ifndef AGT_MSTREAM_H_INCLUDED
#define AGT_MSTREAM_H_INCLUDED

#include "jad_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _agt_mstream_t agt_mstream_t;

//  Send encoded bytes; 0 if the link took them, -1 if not.
typedef int (agt_mstream_send_fn) (const uint8_t *data, size_t size, void *arg);

//  New stream with a fresh random id, at most `window` batches unacked
//  (at least 1). NULL on OOM.
agt_mstream_t *agt_mstream_new (size_t window);
void agt_mstream_destroy (agt_mstream_t **self_p);

//  The stream id (a jad_name_valid hex string).
const char *agt_mstream_id (const agt_mstream_t *self);

//  True when the window is full: send nothing new until acks come.
bool agt_mstream_full (const agt_mstream_t *self);

//  Batches and samples sent and not acked yet.
size_t agt_mstream_unacked (const agt_mstream_t *self);
uint64_t agt_mstream_unacked_samples (const agt_mstream_t *self);

//  Number `batch` (sets its stream and seq), encode it and send it. If the
//  link takes it, it is kept until acked and 0 is returned: the caller may
//  forget the samples. -1 if the window is full, the batch does not encode
//  or the link refused it (the next seq is not used; keep the samples).
int agt_mstream_send (agt_mstream_t *self, jad_metric_batch_t *batch, int64_t now_ms,
                      agt_mstream_send_fn *send, void *arg);

//  A MetricAck arrived: free every batch of `stream` up to `seq`. Returns
//  the number of samples freed (0 for another stream's ack).
uint64_t agt_mstream_ack (agt_mstream_t *self, const char *stream, uint64_t seq);

//  Send every unacked batch again, oldest first, while the link takes
//  them. Returns the number sent.
size_t agt_mstream_resend (agt_mstream_t *self, int64_t now_ms, agt_mstream_send_fn *send,
                           void *arg);

//  True when the oldest unacked batch was last sent timeout_ms or more ago.
bool agt_mstream_overdue (const agt_mstream_t *self, int64_t now_ms, int64_t timeout_ms);

#endif
