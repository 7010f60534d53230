//  agt_mstream - acknowledged metric delivery: the batches sent and not yet acked
//  SPDX-License-Identifier: MPL-2.0

#include "agt_mstream.h"
#include "jad_util.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t seq;
    uint64_t samples;
    zchunk_t *wire;     //  the encoded AgentMsg
    int64_t last_sent;  //  ms, the caller's clock
} s_entry_t;

struct _agt_mstream_t {
    char id[33];
    uint64_t next_seq;  //  seq of the next new batch
    size_t window;
    s_entry_t *entries;  //  ring of `window`, oldest at `head`
    size_t head;
    size_t count;
    uint64_t samples;  //  in the entries
};

agt_mstream_t *agt_mstream_new (size_t window)
{
    agt_mstream_t *self = (agt_mstream_t *)calloc (1, sizeof (agt_mstream_t));
    if (!self)
        return NULL;
    self->window = window ? window : 1;
    self->entries = calloc (self->window, sizeof (s_entry_t));
    if (!self->entries) {
        free (self);
        return NULL;
    }
    jad_random_id (16, self->id);
    self->next_seq = 1;
    return self;
}

void agt_mstream_destroy (agt_mstream_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agt_mstream_t *self = *self_p;
    for (size_t index = 0; index < self->count; index++)
        zchunk_destroy (&self->entries[(self->head + index) % self->window].wire);
    free (self->entries);
    free (self);
    *self_p = NULL;
}

const char *agt_mstream_id (const agt_mstream_t *self)
{
    return self->id;
}

bool agt_mstream_full (const agt_mstream_t *self)
{
    return self->count >= self->window;
}

size_t agt_mstream_unacked (const agt_mstream_t *self)
{
    return self->count;
}

uint64_t agt_mstream_unacked_samples (const agt_mstream_t *self)
{
    return self->samples;
}

int agt_mstream_send (agt_mstream_t *self, jad_metric_batch_t *batch, int64_t now_ms,
                      agt_mstream_send_fn *send, void *arg)
{
    if (agt_mstream_full (self))
        return -1;
    batch->stream = self->id;  //  borrowed for the encoding
    batch->seq = self->next_seq;
    jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_METRICS, .metrics = batch};
    zchunk_t *wire = jad_agent_msg_encode (&msg);
    batch->stream = NULL;  //  not the batch's to free
    if (!wire)
        return -1;
    if (send (zchunk_data (wire), zchunk_size (wire), arg)) {
        zchunk_destroy (&wire);
        return -1;
    }
    s_entry_t *entry = &self->entries[(self->head + self->count) % self->window];
    *entry = (s_entry_t){
        .seq = self->next_seq++, .samples = batch->sample_count, .wire = wire, .last_sent = now_ms};
    self->count++;
    self->samples += batch->sample_count;
    return 0;
}

uint64_t agt_mstream_ack (agt_mstream_t *self, const char *stream, uint64_t seq)
{
    if (!stream || !streq (stream, self->id))
        return 0;
    uint64_t freed = 0;
    while (self->count > 0 && self->entries[self->head].seq <= seq) {
        s_entry_t *entry = &self->entries[self->head];
        freed += entry->samples;
        zchunk_destroy (&entry->wire);
        self->head = (self->head + 1) % self->window;
        self->count--;
    }
    self->samples -= freed;
    return freed;
}

size_t agt_mstream_resend (agt_mstream_t *self, int64_t now_ms, agt_mstream_send_fn *send,
                           void *arg)
{
    size_t sent = 0;
    for (size_t index = 0; index < self->count; index++) {
        s_entry_t *entry = &self->entries[(self->head + index) % self->window];
        if (send (zchunk_data (entry->wire), zchunk_size (entry->wire), arg))
            break;
        entry->last_sent = now_ms;
        sent++;
    }
    return sent;
}

bool agt_mstream_overdue (const agt_mstream_t *self, int64_t now_ms, int64_t timeout_ms)
{
    return self->count > 0 && now_ms - self->entries[self->head].last_sent >= timeout_ms;
}
