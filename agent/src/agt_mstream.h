//  agt_mstream - acknowledged metric delivery: the batches sent and not yet acked
//  SPDX-License-Identifier: MPL-2.0
//
//  Go-back-N over the DEALER. A stream has a random id and numbers its
//  metric batches 1, 2, 3... A batch taken into the stream waits here,
//  encoded, until the controller's MetricAck (stream, seq = highest stored
//  in order) covers it. The window is bounded: when it is full nothing new
//  is numbered. Every unacked batch goes again, in order, when the link
//  comes back and when the oldest has waited for its ack longer than the
//  timeout (doubled by each resend without an ack, up to 4 x); the
//  controller stores only seq == last + 1 and acks duplicates and gaps
//  with what it has, so samples are neither lost nor stored twice across
//  controller restarts and link failures.
//
//  A stream opened on a database (agt_mstream_open) is also durable, so
//  that neither a stop while the controller is away nor a kill -9 loses
//  samples. Its table, metric_outbox, holds two kinds of rows:
//    numbered  (stream, seq set): taken into the stream, perhaps sent; the
//              row is committed BEFORE the batch goes on the wire, so a
//              seq the controller may hold is never given to other
//              samples after a crash; deleted when acked;
//    queued    (stream, seq NULL): samples waiting for room in the window
//              (the link was down or the window full), oldest first,
//              bounded by `capacity` samples (the oldest rows go first,
//              counted in agt_mstream_dropped).
//  Opening loads the numbered rows and resumes their stream (same id, the
//  next seq), so the controller's go-back-N accepts them; with none it
//  starts a new stream. Every change is one SQLite transaction, so a crash
//  at any point leaves either the state before it or the one after.
//
//  A controller that acks less than it acked before (it lost the stream:
//  a restored database, or another stream on record for this host) would
//  never accept the next seq. Then the unacked batches are numbered again
//  as a new stream from 1 (a new stream is always accepted at 1) and are
//  due at once.

#ifndef AGT_MSTREAM_H_INCLUDED
#define AGT_MSTREAM_H_INCLUDED

#include "jad_wire.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The table a durable stream keeps its rows in (a migration of the
//  agent's database; jadsim runs it on its own).
#define AGT_MSTREAM_SCHEMA                                                                         \
    "CREATE TABLE metric_outbox (id INTEGER PRIMARY KEY, stream TEXT, seq INTEGER,"                \
    " samples INTEGER NOT NULL, frame BLOB NOT NULL);"                                             \
    "CREATE INDEX metric_outbox_numbered ON metric_outbox (seq) WHERE seq IS NOT NULL;"

typedef struct _agt_mstream_t agt_mstream_t;

//  Send encoded bytes; 0 if the link took them, -1 if not.
typedef int (agt_mstream_send_fn) (const uint8_t *data, size_t size, void *arg);

//  New stream in memory only, with a fresh random id, at most `window`
//  batches unacked (at least 1). NULL on OOM.
agt_mstream_t *agt_mstream_new (size_t window);

//  Durable stream in db's metric_outbox (borrowed; it must outlive the
//  stream): resumes the stream of the numbered rows there, or starts a
//  new one. At most `capacity` samples queued (at least 1). NULL (logged)
//  if the table cannot be read.
agt_mstream_t *agt_mstream_open (sqlite3 *db, size_t window, uint64_t capacity);

void agt_mstream_destroy (agt_mstream_t **self_p);

//  The stream id (a jad_name_valid hex string).
const char *agt_mstream_id (const agt_mstream_t *self);

//  True when the window is full: number nothing new until acks come.
bool agt_mstream_full (const agt_mstream_t *self);

//  Batches and samples numbered and not acked yet.
size_t agt_mstream_unacked (const agt_mstream_t *self);
uint64_t agt_mstream_unacked_samples (const agt_mstream_t *self);

//  Samples queued (durable streams only; 0 in memory).
uint64_t agt_mstream_queued_samples (const agt_mstream_t *self);

//  Queued samples dropped at the capacity since the stream was made.
uint64_t agt_mstream_dropped (const agt_mstream_t *self);

//  Number `batch` (sets its stream and seq, which stay the stream's),
//  persist it (durable streams), then send it. Returns 0 if it was sent,
//  1 if it was taken but the link refused it (it goes again with
//  agt_mstream_resend): either way the caller may forget the samples.
//  -1 if nothing was taken: the window is full, the batch does not encode
//  or cannot be stored (the next seq is not used; keep the samples).
int agt_mstream_send (agt_mstream_t *self, jad_metric_batch_t *batch, int64_t now_ms,
                      agt_mstream_send_fn *send, void *arg);

//  Queue `batch` (stream and seq unset) durably, behind the queued ones,
//  dropping the oldest queued rows beyond the capacity. Returns 0 (the
//  caller may forget the samples), -1 if not stored (a memory stream, or
//  the database refused: keep them).
int agt_mstream_queue (agt_mstream_t *self, const jad_metric_batch_t *batch);

//  Number the oldest queued samples as one batch of at most max_samples
//  (whole queued rows, at least one), with `dropped` as its dropped count,
//  and send it like agt_mstream_send. Returns 0, 1 or -1 as that does (-1
//  also when nothing is queued).
int agt_mstream_send_queued (agt_mstream_t *self, size_t max_samples, uint64_t dropped,
                             int64_t now_ms, agt_mstream_send_fn *send, void *arg);

//  A MetricAck arrived: free every batch of `stream` up to `seq`. Returns
//  the number of samples freed (0 for another stream's ack). An ack below
//  what was acked before restarts the stream (see above): the batches
//  are then due (agt_mstream_overdue) and 0 is returned.
uint64_t agt_mstream_ack (agt_mstream_t *self, const char *stream, uint64_t seq);

//  Send every unacked batch again, oldest first, while the link takes
//  them. Returns the number sent.
size_t agt_mstream_resend (agt_mstream_t *self, int64_t now_ms, agt_mstream_send_fn *send,
                           void *arg);

//  True when the oldest unacked batch was last sent timeout_ms or more ago
//  (or never sent since it was loaded or renumbered). Each resend of a
//  batch sent before doubles that wait, up to 4 x timeout_ms, until an ack
//  frees batches again (or the stream restarts): a controller slow to
//  ack gets fewer copies of each window, so its queue drains.
bool agt_mstream_overdue (const agt_mstream_t *self, int64_t now_ms, int64_t timeout_ms);

#endif
