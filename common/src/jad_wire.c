//  jad_wire - the wire codec: our structs <-> protobuf-c bytes
//  SPDX-License-Identifier: MPL-2.0
//
//  The only file that sees protobuf-c types. Every decoder runs the same
//  steps, in this order, and stops at the first problem:
//
//  1. size cap, before a single byte is parsed;
//  2. protobuf_c unpack with a budgeted allocator: a message may not make
//     the parser allocate more than S_BUDGET_FACTOR times its own size
//     (plus a constant), which bounds what crafted repeated fields cost;
//  3. protocol == JAD_PROTOCOL (JAD_PLAN_PROTOCOL for a plan, its envelope
//     and the controller message carrying it), and for messages with a
//     oneof body exactly one body field on the wire (protobuf would
//     silently keep the last; checked before the version there);
//  4. required fields, byte lengths, repeated-field caps, and every string:
//     UTF-8 without NUL (see below), names with jad_name_valid;
//  5. copy into our own structs; the protobuf-c message is always freed
//     with __free_unpacked, on every path.
//
//  Embedded NUL: protobuf-c NUL-terminates each string it copies, so a
//  string "a\0b" would read as "a". Our allocator prefixes every block with
//  its size, which gives back the wire length of any string protobuf-c
//  allocated; a string whose strlen is shorter than that is rejected.
//
//  Encoders point protobuf-c structs at our memory (no copies), pack into
//  a zchunk, and then decode the result: they refuse (NULL, logged) to
//  produce a message that the matching decoder would reject, so a bad
//  message is caught at the sender with a reason, not dropped by the peer.
//  Error text names the message and field:
//      "plan: field 'environment' is not a valid name"

#include "jad_wire.h"
#include "jad_log.h"
#include "jad_util.h"
#include "jadugar.pb-c.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#define S_BUDGET_FACTOR  40           //  worst honest amplification is ~20
#define S_BUDGET_BASE    (64 * 1024)  //  fixed structs and parser scratch
#define S_MAX_URL        4096
#define S_MAX_SHORT_TEXT 256  //  strategy, health, agent version
#define S_MAX_ARGS       4096
#define S_MAX_ARG_KEY    64
#define S_MAX_COMMAND    64
#define S_BLOCK_MAGIC    0x6a61642d77697265ULL  //  "jad-wire"

//  --------------------------------------------------------------------------
//  Budgeted allocator for protobuf_c unpack

typedef struct {
    size_t size;     //  bytes the caller asked for
    uint64_t magic;  //  S_BLOCK_MAGIC: this block came from s_budget_alloc
} s_block_t;         //  16 bytes: keeps the user pointer 16-byte aligned

typedef struct {
    size_t used;    //  bytes currently allocated, headers included
    size_t budget;  //  most bytes that may be allocated at once
    bool exceeded;  //  an allocation was refused for the budget
} s_budget_t;

static void *s_budget_alloc (void *data, size_t size)
{
    s_budget_t *budget = data;
    if (size > budget->budget || sizeof (s_block_t) + size > budget->budget - budget->used) {
        budget->exceeded = true;
        return NULL;
    }
    s_block_t *block = malloc (sizeof (s_block_t) + size);
    if (!block)
        return NULL;
    block->size = size;
    block->magic = S_BLOCK_MAGIC;
    budget->used += sizeof (s_block_t) + size;
    return block + 1;
}

static void s_budget_free (void *data, void *pointer)
{
    if (!pointer)
        return;
    s_budget_t *budget = data;
    s_block_t *block = (s_block_t *)pointer - 1;
    assert (block->magic == S_BLOCK_MAGIC);
    budget->used -= sizeof (s_block_t) + block->size;
    block->magic = 0;
    free (block);
}

static ProtobufCAllocator s_allocator_new (s_budget_t *budget, size_t size)
{
    budget->used = 0;
    budget->exceeded = false;
    budget->budget = S_BUDGET_BASE + S_BUDGET_FACTOR * size;
    ProtobufCAllocator allocator = {s_budget_alloc, s_budget_free, budget};
    return allocator;
}

//  Length of a string as it was on the wire. Strings absent from the wire
//  point at protobuf_c_empty_string; all others were allocated by us.
static size_t s_wire_strlen (const char *text)
{
    if (!text || text == protobuf_c_empty_string)
        return 0;
    const s_block_t *block = (const s_block_t *)text - 1;
    assert (block->magic == S_BLOCK_MAGIC && block->size > 0);
    return block->size - 1;
}

//  --------------------------------------------------------------------------
//  Errors and checks

//  What a decoder is checking: for error messages.
typedef struct {
    const char *what;    //  message name: "plan", "agent message"
    const char *prefix;  //  field path prefix: "" or "status."
    char *err;           //  JAD_ERR_LEN bytes, or NULL
} s_ctx_t;

static void s_fail (const s_ctx_t *ctx, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void s_fail (const s_ctx_t *ctx, const char *format, ...)
{
    if (!ctx->err)
        return;
    int length = snprintf (ctx->err, JAD_ERR_LEN, "%s: ", ctx->what);
    if (length < 0 || length >= JAD_ERR_LEN)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (ctx->err + length, JAD_ERR_LEN - (size_t)length, format, args);
    va_end (args);
}

static int s_check_size (const s_ctx_t *ctx, const uint8_t *data, size_t size, size_t cap)
{
    if (size > cap) {
        s_fail (ctx, "message is too large (%zu bytes, limit %zu)", size, cap);
        return -1;
    }
    if (!data && size > 0) {
        s_fail (ctx, "no data");
        return -1;
    }
    return 0;
}

static void s_unpack_failed (const s_ctx_t *ctx, const s_budget_t *budget)
{
    if (budget->exceeded)
        s_fail (ctx, "message needs too much memory to decode (limit %zu bytes)", budget->budget);
    else
        s_fail (ctx, "not a valid protobuf message");
}

static int s_check_protocol (const s_ctx_t *ctx, uint32_t protocol)
{
    if (protocol != JAD_PROTOCOL) {
        s_fail (ctx, "protocol %u is not supported (expected %d)", protocol, JAD_PROTOCOL);
        return -1;
    }
    return 0;
}

//  Copy a protobuf string that is valid UTF-8 without NUL, at most max
//  bytes. Empty is NULL (or an error if required).
static int s_text (const s_ctx_t *ctx, const char *field, const char *text, size_t max,
                   bool required, char **out)
{
    *out = NULL;
    size_t length = s_wire_strlen (text);
    if (length == 0) {
        if (required) {
            s_fail (ctx, "field '%s%s' is missing", ctx->prefix, field);
            return -1;
        }
        return 0;
    }
    if (strlen (text) != length || !jad_utf8_valid (text, length)) {
        s_fail (ctx, "field '%s%s' is not valid UTF-8 text", ctx->prefix, field);
        return -1;
    }
    if (length > max) {
        s_fail (ctx, "field '%s%s' is too long (%zu bytes, limit %zu)", ctx->prefix, field, length,
                max);
        return -1;
    }
    *out = strdup (text);
    if (!*out) {
        s_fail (ctx, "out of memory");
        return -1;
    }
    return 0;
}

//  Copy a protobuf string that is a jad_name_valid name.
static int s_name (const s_ctx_t *ctx, const char *field, const char *text, bool required,
                   char **out)
{
    *out = NULL;
    size_t length = s_wire_strlen (text);
    if (length == 0 && !required)
        return 0;
    if (length == 0) {
        s_fail (ctx, "field '%s%s' is missing", ctx->prefix, field);
        return -1;
    }
    if (strlen (text) != length || !jad_name_valid (text)) {
        s_fail (ctx, "field '%s%s' is not a valid name", ctx->prefix, field);
        return -1;
    }
    *out = strdup (text);
    if (!*out) {
        s_fail (ctx, "out of memory");
        return -1;
    }
    return 0;
}

static int s_bytes_exact (const s_ctx_t *ctx, const char *field, const ProtobufCBinaryData *bytes,
                          size_t size, uint8_t *out)
{
    if (bytes->len != size) {
        s_fail (ctx, "field '%s%s' must be %zu bytes (got %zu)", ctx->prefix, field, size,
                bytes->len);
        return -1;
    }
    memcpy (out, bytes->data, size);
    return 0;
}

//  Copy variable-length bytes (at most max); empty is NULL.
static int s_bytes (const s_ctx_t *ctx, const char *field, const ProtobufCBinaryData *bytes,
                    size_t max, uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    if (bytes->len > max) {
        s_fail (ctx, "field '%s%s' is too long (%zu bytes, limit %zu)", ctx->prefix, field,
                bytes->len, max);
        return -1;
    }
    if (bytes->len == 0)
        return 0;
    *out = malloc (bytes->len);
    if (!*out) {
        s_fail (ctx, "out of memory");
        return -1;
    }
    memcpy (*out, bytes->data, bytes->len);
    *size = bytes->len;
    return 0;
}

static int s_missing (const s_ctx_t *ctx, const char *field)
{
    s_fail (ctx, "field '%s%s' is missing", ctx->prefix, field);
    return -1;
}

//  Read a varint at *cursor; returns 0 or -1 if truncated or too long.
static int s_read_varint (const uint8_t **cursor, const uint8_t *end, uint64_t *value)
{
    *value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*cursor >= end)
            return -1;
        uint8_t byte = *(*cursor)++;
        *value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80))
            return 0;
    }
    return -1;
}

//  Count top-level fields numbered first..last in a serialized message;
//  -1 if the bytes do not parse. protobuf keeps only the last member of a
//  oneof, so this is how a decoder sees that two bodies were sent.
uint32_t jad_wire_peek_protocol (const uint8_t *data, size_t size)
{
    if (!data || size < 2 || size > JAD_MAX_API_MSG)
        return 0;
    const uint8_t *cursor = data;
    uint64_t key = 0, value = 0;
    //  field 1, wire type 0 (varint); protobuf-c writes fields in order
    if (s_read_varint (&cursor, data + size, &key) != 0 || key != 0x08 ||
        s_read_varint (&cursor, data + size, &value) != 0 || value > UINT32_MAX)
        return 0;
    return (uint32_t)value;
}

static int s_wire_count (const uint8_t *data, size_t size, uint32_t first, uint32_t last)
{
    const uint8_t *cursor = data;
    const uint8_t *end = data + size;
    int count = 0;
    while (cursor < end) {
        uint64_t key, length;
        if (s_read_varint (&cursor, end, &key) != 0)
            return -1;
        uint64_t number = key >> 3;
        switch (key & 7) {
            case 0:
                if (s_read_varint (&cursor, end, &length) != 0)
                    return -1;
                break;
            case 1:
                if ((size_t)(end - cursor) < 8)
                    return -1;
                cursor += 8;
                break;
            case 2:
                if (s_read_varint (&cursor, end, &length) != 0 || length > (uint64_t)(end - cursor))
                    return -1;
                cursor += length;
                break;
            case 5:
                if ((size_t)(end - cursor) < 4)
                    return -1;
                cursor += 4;
                break;
            default:
                return -1;
        }
        if (number >= first && number <= last)
            count++;
    }
    return count;
}

//  AgentMsg and ControllerMsg: every field after `protocol` up to here is
//  a member of the body oneof (numbers are reserved per feature up to 15).
#define S_LAST_BODY 15

static int s_check_one_body (const s_ctx_t *ctx, const uint8_t *data, size_t size, uint32_t first,
                             uint32_t last, bool body_set)
{
    int count = s_wire_count (data, size, first, last);
    if (count < 0) {
        s_fail (ctx, "not a valid protobuf message");
        return -1;
    }
    if (count == 0 || !body_set) {
        s_fail (ctx, "message has no body");
        return -1;
    }
    if (count > 1) {
        s_fail (ctx, "message has more than one body");
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Packing

typedef struct {
    ProtobufCBuffer base;  //  must be first
    zchunk_t *chunk;       //  preallocated to the packed size
} s_chunk_buffer_t;

static void s_chunk_buffer_append (ProtobufCBuffer *buffer, size_t length, const uint8_t *data)
{
    s_chunk_buffer_t *self = (s_chunk_buffer_t *)buffer;
    zchunk_append (self->chunk, data, length);
}

//  Pack message into a new zchunk, refusing more than cap bytes.
static zchunk_t *s_pack (const ProtobufCMessage *message, size_t cap, const char *what)
{
    size_t size = protobuf_c_message_get_packed_size (message);
    if (size > cap) {
        jad_log_error ("wire: refusing to encode %s size=%zu limit=%zu", what, size, cap);
        return NULL;
    }
    s_chunk_buffer_t buffer = {{s_chunk_buffer_append}, zchunk_new (NULL, size)};
    if (!buffer.chunk)
        return NULL;
    protobuf_c_message_pack_to_buffer (message, &buffer.base);
    assert (zchunk_size (buffer.chunk) == size);
    return buffer.chunk;
}

//  Encoders check their own output with the decoder; log why not. A
//  decoder's reason already starts with the message name.
static void s_refuse (const char *what, const char *reason)
{
    if (strncmp (reason, what, strlen (what)) == 0) {
        jad_log_error ("wire: refusing to encode invalid %s", reason);
        return;
    }
    jad_log_error ("wire: refusing to encode invalid %s: %s", what, reason);
}

//  protobuf-c wants char *; it never writes through it when packing.
static char *s_pbstr (const char *text)
{
    return (char *)(text ? text : "");
}

static ProtobufCBinaryData s_pbbytes (const uint8_t *data, size_t size)
{
    ProtobufCBinaryData bytes = {size, (uint8_t *)data};
    return bytes;
}

//  --------------------------------------------------------------------------
//  Envelope

void jad_envelope_destroy (jad_envelope_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_envelope_t *self = *self_p;
    free (self->payload);
    free (self->proof);
    free (self);
    *self_p = NULL;
}

//  The version an envelope of `type` speaks: plans have their own.
static uint32_t s_envelope_protocol (uint32_t type)
{
    return type == JAD_PAYLOAD_PLAN ? JAD_PLAN_PROTOCOL : JAD_PROTOCOL;
}

//  `proof` is the caller's storage for the TargetProof, if any.
static void s_envelope_to_pb (const jad_envelope_t *self, Jadugar__Envelope *message,
                              Jadugar__TargetProof *proof)
{
    jadugar__envelope__init (message);
    message->protocol = s_envelope_protocol (self->type);
    message->type = self->type;
    message->payload = s_pbbytes (self->payload, self->payload_size);
    message->key_id = s_pbbytes (self->key_id, sizeof (self->key_id));
    message->signature = s_pbbytes (self->signature, sizeof (self->signature));
    if (self->proof_count > 0 || self->proof_index > 0) {
        jadugar__target_proof__init (proof);
        proof->index = self->proof_index;
        proof->siblings = s_pbbytes (self->proof, self->proof ? self->proof_count * 32 : 0);
        message->proof = proof;
    }
}

static jad_envelope_t *s_envelope_from_pb (const s_ctx_t *ctx, const Jadugar__Envelope *message)
{
    uint32_t expected = s_envelope_protocol (message->type);
    if (message->type == JAD_PAYLOAD_NONE) {
        s_missing (ctx, "type");  //  the version depends on it
        return NULL;
    }
    if (message->protocol != expected) {
        if (message->type == JAD_PAYLOAD_PLAN)
            s_fail (ctx, "plan envelope speaks protocol %u, plans need %d", message->protocol,
                    JAD_PLAN_PROTOCOL);
        else
            s_fail (ctx, "protocol %u is not supported (expected %u)", message->protocol, expected);
        return NULL;
    }
    jad_envelope_t *self = calloc (1, sizeof (jad_envelope_t));
    if (!self) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    self->type = message->type;
    if (self->type == JAD_PAYLOAD_NONE) {
        s_missing (ctx, "type");
        goto failed;
    }
    if (message->proof) {
        const ProtobufCBinaryData *siblings = &message->proof->siblings;
        if (self->type != JAD_PAYLOAD_PLAN) {
            s_fail (ctx, "field 'proof' is set on an envelope that is not a plan");
            goto failed;
        }
        if (siblings->len % 32 != 0 || siblings->len > JAD_MERKLE_MAX_DEPTH * 32) {
            s_fail (ctx,
                    "field 'proof.siblings' must be at most %d hashes of 32 bytes (got %zu bytes)",
                    JAD_MERKLE_MAX_DEPTH, siblings->len);
            goto failed;
        }
        self->proof_index = message->proof->index;
        if (s_bytes (ctx, "proof.siblings", siblings, JAD_MERKLE_MAX_DEPTH * 32, &self->proof,
                     &self->proof_count))
            goto failed;
        self->proof_count /= 32;
    }
    if (message->payload.len == 0) {
        s_missing (ctx, "payload");
        goto failed;
    }
    if (s_bytes (ctx, "payload", &message->payload, JAD_MAX_PLAN_BYTES, &self->payload,
                 &self->payload_size) ||
        s_bytes_exact (ctx, "key_id", &message->key_id, sizeof (self->key_id), self->key_id) ||
        s_bytes_exact (ctx, "signature", &message->signature, sizeof (self->signature),
                       self->signature))
        goto failed;
    return self;

failed:
    jad_envelope_destroy (&self);
    return NULL;
}

jad_envelope_t *jad_envelope_decode (const uint8_t *data, size_t size, char *err)
{
    s_ctx_t ctx = {"envelope", "", err};
    if (s_check_size (&ctx, data, size, JAD_MAX_PLAN_BYTES))
        return NULL;
    s_budget_t budget;
    ProtobufCAllocator allocator = s_allocator_new (&budget, size);
    Jadugar__Envelope *message = jadugar__envelope__unpack (&allocator, size, data);
    if (!message) {
        s_unpack_failed (&ctx, &budget);
        return NULL;
    }
    jad_envelope_t *self = s_envelope_from_pb (&ctx, message);
    jadugar__envelope__free_unpacked (message, &allocator);
    return self;
}

zchunk_t *jad_envelope_encode (const jad_envelope_t *self)
{
    assert (self);
    Jadugar__Envelope message;
    Jadugar__TargetProof proof;
    s_envelope_to_pb (self, &message, &proof);
    zchunk_t *chunk = s_pack (&message.base, JAD_MAX_PLAN_BYTES, "envelope");
    if (!chunk)
        return NULL;
    char reason[JAD_ERR_LEN];
    jad_envelope_t *check = jad_envelope_decode (zchunk_data (chunk), zchunk_size (chunk), reason);
    if (!check) {
        s_refuse ("envelope", reason);
        zchunk_destroy (&chunk);
    }
    jad_envelope_destroy (&check);
    return chunk;
}

//  --------------------------------------------------------------------------
//  Plan

void jad_plan_destroy (jad_plan_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_plan_t *self = *self_p;
    free (self->plan_id);
    free (self->environment);
    if (self->targets)
        for (size_t index = 0; index < self->target_count; index++)
            free (self->targets[index]);
    free (self->targets);
    free (self->proof);
    free (self->app);
    free (self->version);
    free (self->artifact_url);
    free (self->undoes);
    free (self->strategy);
    free (self->deployer);
    if (self->migrations)
        for (size_t index = 0; index < self->migration_count; index++)
            free (self->migrations[index]);
    free (self->migrations);
    free (self);
    *self_p = NULL;
}

//  The key of a plan's tree of targets: BLAKE2b-256 of "jadugar/v1/targets"
//  0x00 plan_id 0x00 sequence (8 bytes, big-endian), so that a tree, and
//  every proof in it, belongs to one plan and one send of it.
static int s_targets_key (const char *plan_id, uint64_t sequence, uint8_t *key)
{
    static const char context[] = "jadugar/v1/targets";
    uint8_t number[8];
    for (int index = 0; index < 8; index++)
        number[index] = (uint8_t)(sequence >> (56 - 8 * index));
    const char *id = plan_id ? plan_id : "";
    crypto_generichash_state state;
    if (crypto_generichash_init (&state, NULL, 0, JAD_MERKLE_HASH) != 0 ||
        crypto_generichash_update (&state, (const uint8_t *)context, sizeof context) != 0 ||
        crypto_generichash_update (&state, (const uint8_t *)id, strlen (id) + 1) != 0 ||
        crypto_generichash_update (&state, number, sizeof number) != 0 ||
        crypto_generichash_final (&state, key, JAD_MERKLE_HASH) != 0)
        return -1;
    return 0;
}

static int s_name_order (const void *left, const void *right)
{
    return strcmp (*(const char *const *)left, *(const char *const *)right);
}

//  The tree of `count` sorted names for plan_id/sequence, after checking
//  that each is a valid name and none repeats. NULL with a reason.
static jad_merkle_t *s_targets_tree (const char *plan_id, uint64_t sequence,
                                     const char *const *sorted, size_t count, char *err)
{
    if (count == 0 || count > JAD_MAX_TARGETS) {
        jad_seterr (err, JAD_ERR_LEN, "a plan has 1 to %d targets (got %zu)", JAD_MAX_TARGETS,
                    count);
        return NULL;
    }
    for (size_t index = 0; index < count; index++) {
        if (!sorted[index] || !jad_name_valid (sorted[index])) {
            jad_seterr (err, JAD_ERR_LEN, "target '%s' is not a valid name",
                        sorted[index] ? sorted[index] : "(null)");
            return NULL;
        }
        if (index > 0 && strcmp (sorted[index - 1], sorted[index]) == 0) {
            jad_seterr (err, JAD_ERR_LEN, "target '%s' is listed twice", sorted[index]);
            return NULL;
        }
    }
    uint8_t key[JAD_MERKLE_HASH];
    jad_merkle_t *tree =
        s_targets_key (plan_id, sequence, key) == 0 ? jad_merkle_new (key, sorted, count) : NULL;
    if (!tree)
        jad_seterr (err, JAD_ERR_LEN, "out of memory");
    return tree;
}

jad_merkle_t *jad_plan_commit (jad_plan_t *self, char *err)
{
    assert (self);
    if (!self->targets) {
        jad_seterr (err, JAD_ERR_LEN, "the plan lists no targets");
        return NULL;
    }
    for (size_t index = 0; index < self->target_count; index++)
        if (!self->targets[index]) {
            jad_seterr (err, JAD_ERR_LEN, "target %zu is NULL", index);
            return NULL;
        }
    qsort (self->targets, self->target_count, sizeof (char *), s_name_order);
    jad_merkle_t *tree = s_targets_tree (
        self->plan_id, self->sequence, (const char *const *)self->targets, self->target_count, err);
    if (tree)
        memcpy (self->targets_root, jad_merkle_root (tree), JAD_MERKLE_HASH);
    return tree;
}

static jad_plan_t *s_plan_from_pb (const s_ctx_t *ctx, const Jadugar__Plan *message)
{
    if (message->protocol != JAD_PLAN_PROTOCOL) {
        s_fail (ctx, "plan speaks protocol %u, plans need %d", message->protocol,
                JAD_PLAN_PROTOCOL);
        return NULL;
    }
    jad_plan_t *self = calloc (1, sizeof (jad_plan_t));
    if (!self) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    if (s_name (ctx, "plan_id", message->plan_id, true, &self->plan_id) ||
        s_name (ctx, "environment", message->environment, true, &self->environment))
        goto failed;
    if (message->targets_root.len == 0) {
        s_missing (ctx, "targets_root");
        goto failed;
    }
    if (s_bytes_exact (ctx, "targets_root", &message->targets_root, JAD_MERKLE_HASH,
                       self->targets_root))
        goto failed;
    if (message->target_count == 0 || message->target_count > JAD_MAX_TARGETS) {
        s_fail (ctx, "field 'target_count' must be 1 to %d (got %u)", JAD_MAX_TARGETS,
                message->target_count);
        goto failed;
    }
    self->target_count = message->target_count;
    self->sequence = message->sequence;
    if (self->sequence == 0) {
        s_missing (ctx, "sequence");
        goto failed;
    }
    self->issued_at = message->issued_at;
    self->expires_at = message->expires_at;
    if (self->issued_at <= 0) {
        s_fail (ctx, "field 'issued_at' is missing or not positive");
        goto failed;
    }
    if (self->expires_at <= self->issued_at) {
        s_fail (ctx, "field 'expires_at' is not after 'issued_at'");
        goto failed;
    }
    if (s_name (ctx, "app", message->app, true, &self->app) ||
        s_name (ctx, "version", message->version, true, &self->version) ||
        s_bytes_exact (ctx, "artifact_sha256", &message->artifact_sha256, 32,
                       self->artifact_sha256))
        goto failed;
    self->artifact_length = message->artifact_length;
    if (self->artifact_length == 0) {
        s_missing (ctx, "artifact_length");
        goto failed;
    }
    if (s_text (ctx, "artifact_url", message->artifact_url, S_MAX_URL, false, &self->artifact_url))
        goto failed;
    self->kind = (uint32_t)message->kind;
    if (self->kind != JAD_PLAN_DEPLOY && self->kind != JAD_PLAN_ROLLBACK) {
        s_fail (ctx, "field 'kind' is missing or unknown (%u)", self->kind);
        goto failed;
    }
    if (s_name (ctx, "undoes", message->undoes, false, &self->undoes) ||
        s_text (ctx, "strategy", message->strategy, S_MAX_SHORT_TEXT, false, &self->strategy))
        goto failed;
    self->hook_timeout_ms = message->hook_timeout_ms;
    self->step_deadline_ms = message->step_deadline_ms;
    self->action = (uint32_t)message->action;
    if (self->action > JAD_PLAN_ACTION_VERIFY && self->action != JAD_APPLY_ACTION_ROLLBACK) {
        s_fail (ctx, "field 'action' is unknown (%u)", self->action);
        goto failed;
    }
    if (message->n_migrations > JAD_MAX_MIGRATIONS) {
        s_fail (ctx, "too many migrations (%zu, limit %d)", message->n_migrations,
                JAD_MAX_MIGRATIONS);
        goto failed;
    }
    if (self->action == JAD_PLAN_ACTION_MIGRATE_DOWN && message->n_migrations == 0) {
        s_missing (ctx, "migrations");
        goto failed;
    }
    if (message->n_migrations > 0) {
        self->migrations = calloc (message->n_migrations, sizeof (char *));
        if (!self->migrations) {
            s_fail (ctx, "out of memory");
            goto failed;
        }
        for (size_t index = 0; index < message->n_migrations; index++) {
            char field[48];
            snprintf (field, sizeof (field), "migrations[%zu]", index);
            if (s_name (ctx, field, message->migrations[index], true, &self->migrations[index]))
                goto failed;
            self->migration_count = index + 1;
        }
    }
    self->release_counter = message->release_counter;
    self->min_release_counter = message->min_release_counter;
    self->unpacked_size = message->unpacked_size;
    self->epoch = message->epoch;
    if (message->bundle_sha256.len > 0 || message->bundle_length > 0) {
        if (s_bytes_exact (ctx, "bundle_sha256", &message->bundle_sha256, 32, self->bundle_sha256))
            goto failed;
        if (message->bundle_length == 0) {
            s_missing (ctx, "bundle_length");
            goto failed;
        }
        self->has_bundle = true;
        self->bundle_length = message->bundle_length;
    }
    if (s_text (ctx, "deployer", message->deployer, S_MAX_SHORT_TEXT, false, &self->deployer))
        goto failed;
    return self;

failed:
    jad_plan_destroy (&self);
    return NULL;
}

jad_plan_t *jad_plan_decode (const uint8_t *data, size_t size, char *err)
{
    s_ctx_t ctx = {"plan", "", err};
    if (s_check_size (&ctx, data, size, JAD_MAX_PLAN_BYTES))
        return NULL;
    s_budget_t budget;
    ProtobufCAllocator allocator = s_allocator_new (&budget, size);
    Jadugar__Plan *message = jadugar__plan__unpack (&allocator, size, data);
    if (!message) {
        s_unpack_failed (&ctx, &budget);
        return NULL;
    }
    jad_plan_t *self = s_plan_from_pb (&ctx, message);
    jadugar__plan__free_unpacked (message, &allocator);
    return self;
}

zchunk_t *jad_plan_encode (const jad_plan_t *self)
{
    assert (self);
    Jadugar__Plan message;
    jadugar__plan__init (&message);
    message.protocol = JAD_PLAN_PROTOCOL;
    message.plan_id = s_pbstr (self->plan_id);
    message.environment = s_pbstr (self->environment);
    //  a listed plan is committed here; a plan without a list keeps its root
    uint8_t root[JAD_MERKLE_HASH];
    memcpy (root, self->targets_root, sizeof root);
    if (self->targets) {
        char reason[JAD_ERR_LEN] = "";
        const char **sorted = calloc (self->target_count + 1, sizeof (char *));
        if (!sorted)
            return NULL;
        memcpy (sorted, self->targets, self->target_count * sizeof (char *));
        bool listed = true;
        for (size_t index = 0; index < self->target_count; index++)
            listed = listed && sorted[index];
        if (listed)
            qsort (sorted, self->target_count, sizeof (char *), s_name_order);
        jad_merkle_t *tree = listed ? s_targets_tree (self->plan_id, self->sequence, sorted,
                                                      self->target_count, reason)
                                    : NULL;
        free (sorted);
        if (!tree) {
            s_refuse ("plan", listed ? reason : "a target is NULL");
            return NULL;
        }
        memcpy (root, jad_merkle_root (tree), sizeof root);
        jad_merkle_destroy (&tree);
    }
    message.targets_root = s_pbbytes (root, sizeof root);
    message.target_count = self->target_count > UINT32_MAX ? 0 : (uint32_t)self->target_count;
    message.sequence = self->sequence;
    message.issued_at = self->issued_at;
    message.expires_at = self->expires_at;
    message.app = s_pbstr (self->app);
    message.version = s_pbstr (self->version);
    message.artifact_sha256 = s_pbbytes (self->artifact_sha256, 32);
    message.artifact_length = self->artifact_length;
    message.artifact_url = s_pbstr (self->artifact_url);
    message.kind = (Jadugar__PlanKind)self->kind;
    message.undoes = s_pbstr (self->undoes);
    message.strategy = s_pbstr (self->strategy);
    message.hook_timeout_ms = self->hook_timeout_ms;
    message.step_deadline_ms = self->step_deadline_ms;
    message.action = (Jadugar__PlanAction)self->action;
    message.n_migrations = self->migrations ? self->migration_count : 0;
    message.migrations = self->migrations;
    message.release_counter = self->release_counter;
    message.min_release_counter = self->min_release_counter;
    message.unpacked_size = self->unpacked_size;
    message.epoch = self->epoch;
    if (self->has_bundle) {
        message.bundle_sha256 = s_pbbytes (self->bundle_sha256, 32);
        message.bundle_length = self->bundle_length;
    }
    message.deployer = s_pbstr (self->deployer);
    //  A NULL migration would crash protobuf-c: refuse it here
    for (size_t index = 0; index < message.n_migrations; index++)
        if (!self->migrations[index]) {
            s_refuse ("plan", "a migration is NULL");
            return NULL;
        }
    zchunk_t *chunk = s_pack (&message.base, JAD_MAX_PLAN_BYTES, "plan");
    if (!chunk)
        return NULL;
    char reason[JAD_ERR_LEN];
    jad_plan_t *check = jad_plan_decode (zchunk_data (chunk), zchunk_size (chunk), reason);
    if (!check) {
        s_refuse ("plan", reason);
        zchunk_destroy (&chunk);
    }
    jad_plan_destroy (&check);
    return chunk;
}

//  --------------------------------------------------------------------------
//  Heartbeat

void jad_heartbeat_destroy (jad_heartbeat_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_heartbeat_t *self = *self_p;
    free (self->environment);
    free (self);
    *self_p = NULL;
}

jad_heartbeat_t *jad_heartbeat_decode (const uint8_t *data, size_t size, char *err)
{
    s_ctx_t ctx = {"heartbeat", "", err};
    if (s_check_size (&ctx, data, size, JAD_MAX_PLAN_BYTES))
        return NULL;
    s_budget_t budget;
    ProtobufCAllocator allocator = s_allocator_new (&budget, size);
    Jadugar__Heartbeat *message = jadugar__heartbeat__unpack (&allocator, size, data);
    if (!message) {
        s_unpack_failed (&ctx, &budget);
        return NULL;
    }
    jad_heartbeat_t *self = NULL;
    if (s_check_protocol (&ctx, message->protocol) != 0)
        goto done;
    self = calloc (1, sizeof (jad_heartbeat_t));
    if (!self) {
        s_fail (&ctx, "out of memory");
        goto done;
    }
    if (s_name (&ctx, "environment", message->environment, true, &self->environment))
        goto failed;
    self->issued_at = message->issued_at;
    self->expires_at = message->expires_at;
    self->epoch = message->epoch;
    if (self->issued_at <= 0) {
        s_fail (&ctx, "field 'issued_at' is missing or not positive");
        goto failed;
    }
    if (self->expires_at <= self->issued_at) {
        s_fail (&ctx, "field 'expires_at' is not after 'issued_at'");
        goto failed;
    }
    goto done;

failed:
    jad_heartbeat_destroy (&self);
done:
    jadugar__heartbeat__free_unpacked (message, &allocator);
    return self;
}

zchunk_t *jad_heartbeat_encode (const jad_heartbeat_t *self)
{
    assert (self);
    Jadugar__Heartbeat message;
    jadugar__heartbeat__init (&message);
    message.protocol = JAD_PROTOCOL;
    message.environment = s_pbstr (self->environment);
    message.issued_at = self->issued_at;
    message.expires_at = self->expires_at;
    message.epoch = self->epoch;
    zchunk_t *chunk = s_pack (&message.base, JAD_MAX_PLAN_BYTES, "heartbeat");
    if (!chunk)
        return NULL;
    char reason[JAD_ERR_LEN];
    jad_heartbeat_t *check =
        jad_heartbeat_decode (zchunk_data (chunk), zchunk_size (chunk), reason);
    if (!check) {
        s_refuse ("heartbeat", reason);
        zchunk_destroy (&chunk);
    }
    jad_heartbeat_destroy (&check);
    return chunk;
}

//  strdup that accepts NULL; sets *failed on out of memory.
static char *s_strdup (const char *text, bool *failed)
{
    if (!text)
        return NULL;
    char *copy = strdup (text);
    if (!copy)
        *failed = true;
    return copy;
}

jad_plan_t *jad_plan_dup (const jad_plan_t *self)
{
    if (!self)
        return NULL;
    jad_plan_t *copy = calloc (1, sizeof (jad_plan_t));
    if (!copy)
        return NULL;
    *copy = *self;
    bool failed = false;
    copy->plan_id = s_strdup (self->plan_id, &failed);
    copy->environment = s_strdup (self->environment, &failed);
    copy->app = s_strdup (self->app, &failed);
    copy->version = s_strdup (self->version, &failed);
    copy->artifact_url = s_strdup (self->artifact_url, &failed);
    copy->undoes = s_strdup (self->undoes, &failed);
    copy->strategy = s_strdup (self->strategy, &failed);
    copy->deployer = s_strdup (self->deployer, &failed);
    copy->targets = NULL;
    copy->proof = NULL;
    copy->proof_count = 0;
    copy->migrations = NULL;
    copy->migration_count = 0;
    if (self->migrations && self->migration_count > 0) {
        copy->migrations = calloc (self->migration_count, sizeof (char *));
        if (!copy->migrations)
            failed = true;
        else {
            copy->migration_count = self->migration_count;
            for (size_t index = 0; index < self->migration_count; index++)
                copy->migrations[index] = s_strdup (self->migrations[index], &failed);
        }
    }
    if (self->targets && self->target_count > 0) {
        copy->targets = calloc (self->target_count, sizeof (char *));
        if (!copy->targets) {
            failed = true;
            copy->target_count = 0;
        } else
            for (size_t index = 0; index < self->target_count; index++)
                copy->targets[index] = s_strdup (self->targets[index], &failed);
    }
    if (self->proof && self->proof_count > 0) {
        copy->proof = malloc (self->proof_count * JAD_MERKLE_HASH);
        if (copy->proof) {
            memcpy (copy->proof, self->proof, self->proof_count * JAD_MERKLE_HASH);
            copy->proof_count = self->proof_count;
        } else
            failed = true;
    }
    if (failed)
        jad_plan_destroy (&copy);
    return copy;
}

bool jad_plan_targets (const jad_plan_t *self, const char *name)
{
    if (!self || !name)
        return false;
    if (self->targets) {  //  a plan being built: its list
        for (size_t index = 0; index < self->target_count; index++)
            if (self->targets[index] && strcmp (self->targets[index], name) == 0)
                return true;
        return false;
    }
    //  a decoded plan: the proof it came with, from name's own leaf
    uint8_t key[JAD_MERKLE_HASH];
    if (s_targets_key (self->plan_id, self->sequence, key) != 0)
        return false;
    return jad_merkle_verify (key, self->targets_root, self->target_count, self->proof_index, name,
                              self->proof, self->proof_count);
}

//  --------------------------------------------------------------------------
//  Agent -> controller

void jad_status_destroy (jad_status_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_status_t *self = *self_p;
    free (self->name);
    free (self->environment);
    free (self->incarnation);
    if (self->apps)
        for (size_t index = 0; index < self->app_count; index++) {
            free (self->apps[index].app);
            free (self->apps[index].version);
            free (self->apps[index].health);
            free (self->apps[index].plan_id);
        }
    free (self->apps);
    free (self->agent_version);
    if (self->refusals)
        for (size_t index = 0; index < self->refusal_count; index++)
            free (self->refusals[index].name);
    free (self->refusals);
    free (self);
    *self_p = NULL;
}

void jad_report_destroy (jad_report_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_report_t *self = *self_p;
    free (self->incarnation);
    free (self->plan_id);
    free (self->app);
    free (self->version);
    free (self->step);
    free (self->detail);
    free (self->output);
    free (self);
    *self_p = NULL;
}

jad_report_t *jad_report_dup (const jad_report_t *self)
{
    if (!self)
        return NULL;
    jad_report_t *copy = calloc (1, sizeof (jad_report_t));
    if (!copy)
        return NULL;
    *copy = *self;
    bool failed = false;
    copy->incarnation = s_strdup (self->incarnation, &failed);
    copy->plan_id = s_strdup (self->plan_id, &failed);
    copy->app = s_strdup (self->app, &failed);
    copy->version = s_strdup (self->version, &failed);
    copy->step = s_strdup (self->step, &failed);
    copy->detail = s_strdup (self->detail, &failed);
    copy->output = s_strdup (self->output, &failed);
    if (failed)
        jad_report_destroy (&copy);
    return copy;
}

void jad_agent_msg_destroy (jad_agent_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_agent_msg_t *self = *self_p;
    jad_status_destroy (&self->status);
    free (self->ack.plan_id);
    jad_report_destroy (&self->report);
    jad_metric_batch_destroy (&self->metrics);
    free (self->enroll.name);
    free (self->enroll.environment);
    if (self->enroll.token)
        sodium_memzero (self->enroll.token, strlen (self->enroll.token));
    free (self->enroll.token);
    free (self);
    *self_p = NULL;
}

void jad_metric_batch_destroy (jad_metric_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_metric_batch_t *self = *self_p;
    for (size_t index = 0; self->names && index < self->name_count; index++)
        free (self->names[index]);
    free (self->names);
    free (self->name_index);
    free (self->times);
    free (self->values);
    free (self->stream);
    free (self);
    *self_p = NULL;
}

bool jad_series_valid (const char *text)
{
    if (!text || !*text)
        return false;
    unsigned char first = (unsigned char)*text;
    if (!(isalpha (first) || first == '_' || first == ':'))
        return false;
    size_t length = 0;
    for (const char *cursor = text; *cursor; cursor++, length++) {
        unsigned char c = (unsigned char)*cursor;
        if (c <= ' ' || c >= 0x7F || length >= JAD_MAX_SERIES_LEN)
            return false;
    }
    return true;
}

static jad_metric_batch_t *s_metric_batch_from_pb (const s_ctx_t *ctx,
                                                   const Jadugar__MetricBatch *message)
{
    size_t samples = message->n_name_index;
    if (message->n_times != samples || message->n_values != samples) {
        s_fail (ctx, "fields 'metrics.name_index', 'times' and 'values' differ in length");
        return NULL;
    }
    if (samples > JAD_MAX_SAMPLES || message->n_names > JAD_MAX_SERIES) {
        s_fail (ctx, "metric batch too large (%zu samples, %zu series; limits %d, %d)", samples,
                message->n_names, JAD_MAX_SAMPLES, JAD_MAX_SERIES);
        return NULL;
    }
    jad_metric_batch_t *self = calloc (1, sizeof (jad_metric_batch_t));
    if (!self) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    self->dropped = message->dropped;
    s_ctx_t inner = {ctx->what, "metrics.", ctx->err};
    if (s_name (&inner, "stream", message->stream, false, &self->stream))
        goto failed;
    self->seq = message->seq;
    if (self->stream && self->seq == 0) {
        s_fail (ctx, "field 'metrics.seq' must be at least 1 in a stream");
        goto failed;
    }
    self->names = calloc (message->n_names + 1, sizeof (char *));
    self->name_index = calloc (samples + 1, sizeof (uint32_t));
    self->times = calloc (samples + 1, sizeof (int64_t));
    self->values = calloc (samples + 1, sizeof (double));
    if (!self->names || !self->name_index || !self->times || !self->values) {
        s_fail (ctx, "out of memory");
        goto failed;
    }
    for (size_t index = 0; index < message->n_names; index++) {
        const char *name = message->names[index];
        if (!jad_series_valid (name) || strlen (name) != s_wire_strlen (name)) {
            s_fail (ctx, "field 'metrics.names[%zu]' is not a valid series name", index);
            goto failed;
        }
        self->names[index] = strdup (name);
        if (!self->names[index]) {
            s_fail (ctx, "out of memory");
            goto failed;
        }
        self->name_count++;
    }
    for (size_t index = 0; index < samples; index++) {
        if (message->name_index[index] >= message->n_names) {
            s_fail (ctx, "field 'metrics.name_index[%zu]' is out of range", index);
            goto failed;
        }
        if (message->times[index] <= 0 || !isfinite (message->values[index])) {
            s_fail (ctx, "sample %zu has no time or a value that is not finite", index);
            goto failed;
        }
    }
    if (samples) {
        memcpy (self->name_index, message->name_index, samples * sizeof (uint32_t));
        memcpy (self->times, message->times, samples * sizeof (int64_t));
        memcpy (self->values, message->values, samples * sizeof (double));
    }
    self->sample_count = samples;
    return self;

failed:
    jad_metric_batch_destroy (&self);
    return NULL;
}

static jad_status_t *s_status_from_pb (const s_ctx_t *ctx, const Jadugar__Status *message)
{
    jad_status_t *self = calloc (1, sizeof (jad_status_t));
    if (!self) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    if (s_name (ctx, "name", message->name, true, &self->name) ||
        s_name (ctx, "environment", message->environment, true, &self->environment) ||
        s_name (ctx, "incarnation", message->incarnation, true, &self->incarnation) ||
        s_text (ctx, "agent_version", message->agent_version, S_MAX_SHORT_TEXT, false,
                &self->agent_version))
        goto failed;
    self->last_sequence = message->last_sequence;
    self->hello = message->hello;
    self->stale = message->stale;
    self->stale_alarms = message->stale_alarms;
    if (message->n_apps > JAD_MAX_APPS) {
        s_fail (ctx, "too many apps (%zu, limit %d)", message->n_apps, JAD_MAX_APPS);
        goto failed;
    }
    if (message->n_apps > 0) {
        self->apps = calloc (message->n_apps, sizeof (jad_app_state_t));
        if (!self->apps) {
            s_fail (ctx, "out of memory");
            goto failed;
        }
        self->app_count = message->n_apps;
    }
    for (size_t index = 0; index < message->n_apps; index++) {
        const Jadugar__AppState *state = message->apps[index];
        jad_app_state_t *app = &self->apps[index];
        char prefix[48];
        snprintf (prefix, sizeof (prefix), "%sapps[%zu].", ctx->prefix, index);
        s_ctx_t inner = {ctx->what, prefix, ctx->err};
        if (s_name (&inner, "app", state->app, true, &app->app) ||
            s_name (&inner, "version", state->version, false, &app->version) ||
            s_text (&inner, "health", state->health, S_MAX_SHORT_TEXT, false, &app->health) ||
            s_name (&inner, "plan_id", state->plan_id, false, &app->plan_id))
            goto failed;
    }
    if (message->n_refusals > JAD_MAX_COUNTERS) {
        s_fail (ctx, "too many refusal counters (%zu, limit %d)", message->n_refusals,
                JAD_MAX_COUNTERS);
        goto failed;
    }
    if (message->n_refusals > 0) {
        self->refusals = calloc (message->n_refusals, sizeof (jad_counter_t));
        if (!self->refusals) {
            s_fail (ctx, "out of memory");
            goto failed;
        }
        self->refusal_count = message->n_refusals;
    }
    for (size_t index = 0; index < message->n_refusals; index++) {
        char prefix[48];
        snprintf (prefix, sizeof (prefix), "%srefusals[%zu].", ctx->prefix, index);
        s_ctx_t inner = {ctx->what, prefix, ctx->err};
        if (s_name (&inner, "name", message->refusals[index]->name, true,
                    &self->refusals[index].name))
            goto failed;
        self->refusals[index].value = message->refusals[index]->value;
    }
    return self;

failed:
    jad_status_destroy (&self);
    return NULL;
}

static jad_report_t *s_report_from_pb (const s_ctx_t *ctx, const Jadugar__Report *message)
{
    jad_report_t *self = calloc (1, sizeof (jad_report_t));
    if (!self) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    self->report_id = message->report_id;
    self->status = (uint32_t)message->status;
    self->time = message->time;
    self->duration_ms = message->duration_ms;
    if (s_name (ctx, "incarnation", message->incarnation, true, &self->incarnation) ||
        s_name (ctx, "plan_id", message->plan_id, true, &self->plan_id) ||
        s_name (ctx, "app", message->app, true, &self->app) ||
        s_name (ctx, "version", message->version, false, &self->version) ||
        s_name (ctx, "step", message->step, false, &self->step))
        goto failed;
    if (self->status < JAD_REPORT_STARTED || self->status > JAD_REPORT_REFUSED) {
        s_fail (ctx, "field '%sstatus' is missing or unknown (%u)", ctx->prefix, self->status);
        goto failed;
    }
    if (s_text (ctx, "detail", message->detail, JAD_MAX_DETAIL, false, &self->detail) ||
        s_text (ctx, "output", message->output, JAD_MAX_OUTPUT, false, &self->output))
        goto failed;
    return self;

failed:
    jad_report_destroy (&self);
    return NULL;
}

static jad_agent_msg_t *s_agent_msg_from_pb (const s_ctx_t *ctx, const Jadugar__AgentMsg *message)
{
    jad_agent_msg_t *self = calloc (1, sizeof (jad_agent_msg_t));
    if (!self) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    if (message->body_case == JADUGAR__AGENT_MSG__BODY_STATUS) {
        s_ctx_t inner = {ctx->what, "status.", ctx->err};
        self->kind = JAD_AGENT_MSG_STATUS;
        self->status = s_status_from_pb (&inner, message->status);
        if (!self->status)
            goto failed;
    } else if (message->body_case == JADUGAR__AGENT_MSG__BODY_ACK) {
        s_ctx_t inner = {ctx->what, "ack.", ctx->err};
        self->kind = JAD_AGENT_MSG_ACK;
        if (s_name (&inner, "plan_id", message->ack->plan_id, true, &self->ack.plan_id))
            goto failed;
        self->ack.sequence = message->ack->sequence;
        if (self->ack.sequence == 0) {
            s_missing (&inner, "sequence");
            goto failed;
        }
    } else if (message->body_case == JADUGAR__AGENT_MSG__BODY_REPORT) {
        s_ctx_t inner = {ctx->what, "report.", ctx->err};
        self->kind = JAD_AGENT_MSG_REPORT;
        self->report = s_report_from_pb (&inner, message->report);
        if (!self->report)
            goto failed;
    } else if (message->body_case == JADUGAR__AGENT_MSG__BODY_FETCH) {
        s_ctx_t inner = {ctx->what, "fetch.", ctx->err};
        const Jadugar__FetchRequest *fetch = message->fetch;
        self->kind = JAD_AGENT_MSG_FETCH;
        if (s_bytes_exact (&inner, "sha256", &fetch->sha256, 32, self->fetch.sha256))
            goto failed;
        self->fetch.offset = fetch->offset;
        self->fetch.length = fetch->length;
        if (fetch->length == 0 || fetch->length > JAD_CHUNK_SIZE) {
            s_fail (ctx, "field 'fetch.length' must be 1..%d (got %u)", JAD_CHUNK_SIZE,
                    fetch->length);
            goto failed;
        }
    } else if (message->body_case == JADUGAR__AGENT_MSG__BODY_METRICS) {
        self->kind = JAD_AGENT_MSG_METRICS;
        self->metrics = s_metric_batch_from_pb (ctx, message->metrics);
        if (!self->metrics)
            goto failed;
    } else if (message->body_case == JADUGAR__AGENT_MSG__BODY_ENROLL) {
        s_ctx_t inner = {ctx->what, "enroll.", ctx->err};
        self->kind = JAD_AGENT_MSG_ENROLL;
        if (s_name (&inner, "name", message->enroll->name, true, &self->enroll.name) ||
            s_name (&inner, "environment", message->enroll->environment, true,
                    &self->enroll.environment) ||
            s_text (&inner, "token", message->enroll->token, JAD_MAX_TOKEN, false,
                    &self->enroll.token))
            goto failed;
    } else {
        s_fail (ctx, "message has no body");
        goto failed;
    }
    return self;

failed:
    jad_agent_msg_destroy (&self);
    return NULL;
}

jad_agent_msg_t *jad_agent_msg_decode (const uint8_t *data, size_t size, char *err)
{
    s_ctx_t ctx = {"agent message", "", err};
    if (s_check_size (&ctx, data, size, JAD_MAX_AGENT_MSG))
        return NULL;
    s_budget_t budget;
    ProtobufCAllocator allocator = s_allocator_new (&budget, size);
    Jadugar__AgentMsg *message = jadugar__agent_msg__unpack (&allocator, size, data);
    if (!message) {
        s_unpack_failed (&ctx, &budget);
        return NULL;
    }
    jad_agent_msg_t *self = NULL;
    if (s_check_protocol (&ctx, message->protocol) == 0 &&
        s_check_one_body (&ctx, data, size, 2, S_LAST_BODY,
                          message->body_case != JADUGAR__AGENT_MSG__BODY__NOT_SET) == 0)
        self = s_agent_msg_from_pb (&ctx, message);
    jadugar__agent_msg__free_unpacked (message, &allocator);
    return self;
}

zchunk_t *jad_agent_msg_encode (const jad_agent_msg_t *self)
{
    assert (self);
    Jadugar__AgentMsg message;
    Jadugar__Status status;
    Jadugar__AppState *states = NULL;
    Jadugar__AppState **state_list = NULL;
    Jadugar__Ack ack;
    Jadugar__Report report;
    Jadugar__FetchRequest fetch;
    Jadugar__MetricBatch metrics;
    Jadugar__Enroll enroll;
    Jadugar__Counter *counters = NULL;
    Jadugar__Counter **counter_list = NULL;
    zchunk_t *chunk = NULL;

    jadugar__agent_msg__init (&message);
    message.protocol = JAD_PROTOCOL;
    if (self->kind == JAD_AGENT_MSG_STATUS && self->status) {
        const jad_status_t *source = self->status;
        jadugar__status__init (&status);
        status.name = s_pbstr (source->name);
        status.environment = s_pbstr (source->environment);
        status.last_sequence = source->last_sequence;
        status.incarnation = s_pbstr (source->incarnation);
        status.hello = source->hello;
        status.stale = source->stale;
        status.stale_alarms = source->stale_alarms;
        status.agent_version = s_pbstr (source->agent_version);
        size_t count = source->apps ? source->app_count : 0;
        if (count > 0) {
            states = calloc (count, sizeof (Jadugar__AppState));
            state_list = calloc (count, sizeof (Jadugar__AppState *));
            if (!states || !state_list)
                goto done;
            for (size_t index = 0; index < count; index++) {
                jadugar__app_state__init (&states[index]);
                states[index].app = s_pbstr (source->apps[index].app);
                states[index].version = s_pbstr (source->apps[index].version);
                states[index].health = s_pbstr (source->apps[index].health);
                states[index].plan_id = s_pbstr (source->apps[index].plan_id);
                state_list[index] = &states[index];
            }
        }
        status.n_apps = count;
        status.apps = state_list;
        size_t refusals = source->refusals ? source->refusal_count : 0;
        if (refusals > 0) {
            counters = calloc (refusals, sizeof (Jadugar__Counter));
            counter_list = calloc (refusals, sizeof (Jadugar__Counter *));
            if (!counters || !counter_list)
                goto done;
            for (size_t index = 0; index < refusals; index++) {
                jadugar__counter__init (&counters[index]);
                counters[index].name = s_pbstr (source->refusals[index].name);
                counters[index].value = source->refusals[index].value;
                counter_list[index] = &counters[index];
            }
        }
        status.n_refusals = refusals;
        status.refusals = counter_list;
        message.body_case = JADUGAR__AGENT_MSG__BODY_STATUS;
        message.status = &status;
    } else if (self->kind == JAD_AGENT_MSG_ACK) {
        jadugar__ack__init (&ack);
        ack.plan_id = s_pbstr (self->ack.plan_id);
        ack.sequence = self->ack.sequence;
        message.body_case = JADUGAR__AGENT_MSG__BODY_ACK;
        message.ack = &ack;
    } else if (self->kind == JAD_AGENT_MSG_REPORT && self->report) {
        const jad_report_t *source = self->report;
        jadugar__report__init (&report);
        report.report_id = source->report_id;
        report.incarnation = s_pbstr (source->incarnation);
        report.plan_id = s_pbstr (source->plan_id);
        report.app = s_pbstr (source->app);
        report.version = s_pbstr (source->version);
        report.step = s_pbstr (source->step);
        report.status = (Jadugar__ReportStatus)source->status;
        report.detail = s_pbstr (source->detail);
        report.output = s_pbstr (source->output);
        report.time = source->time;
        report.duration_ms = source->duration_ms;
        message.body_case = JADUGAR__AGENT_MSG__BODY_REPORT;
        message.report = &report;
    } else if (self->kind == JAD_AGENT_MSG_FETCH) {
        jadugar__fetch_request__init (&fetch);
        fetch.sha256 = s_pbbytes (self->fetch.sha256, 32);
        fetch.offset = self->fetch.offset;
        fetch.length = self->fetch.length;
        message.body_case = JADUGAR__AGENT_MSG__BODY_FETCH;
        message.fetch = &fetch;
    } else if (self->kind == JAD_AGENT_MSG_METRICS && self->metrics) {
        const jad_metric_batch_t *source = self->metrics;
        jadugar__metric_batch__init (&metrics);
        metrics.n_names = source->name_count;
        metrics.names = source->names;
        metrics.n_name_index = source->sample_count;
        metrics.name_index = source->name_index;
        metrics.n_times = source->sample_count;
        metrics.times = source->times;
        metrics.n_values = source->sample_count;
        metrics.values = source->values;
        metrics.dropped = source->dropped;
        metrics.stream = s_pbstr (source->stream);
        metrics.seq = source->seq;
        message.body_case = JADUGAR__AGENT_MSG__BODY_METRICS;
        message.metrics = &metrics;
    } else if (self->kind == JAD_AGENT_MSG_ENROLL) {
        jadugar__enroll__init (&enroll);
        enroll.name = s_pbstr (self->enroll.name);
        enroll.environment = s_pbstr (self->enroll.environment);
        enroll.token = s_pbstr (self->enroll.token);
        message.body_case = JADUGAR__AGENT_MSG__BODY_ENROLL;
        message.enroll = &enroll;
    } else {
        s_refuse ("agent message", "no body for its kind");
        goto done;
    }
    chunk = s_pack (&message.base, JAD_MAX_AGENT_MSG, "agent message");
    if (chunk) {
        char reason[JAD_ERR_LEN];
        jad_agent_msg_t *check =
            jad_agent_msg_decode (zchunk_data (chunk), zchunk_size (chunk), reason);
        if (!check) {
            s_refuse ("agent message", reason);
            zchunk_destroy (&chunk);
        }
        jad_agent_msg_destroy (&check);
    }

done:
    free (states);
    free (state_list);
    free (counters);
    free (counter_list);
    return chunk;
}

//  --------------------------------------------------------------------------
//  Controller -> agent

void jad_ctl_msg_destroy (jad_ctl_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_ctl_msg_t *self = *self_p;
    jad_envelope_destroy (&self->plan);
    free (self->chunk.data);
    free (self->chunk.error);
    free (self->report_ack.incarnation);
    free (self->report_ack.report_ids);
    free (self->protocol_error.message);
    free (self->enroll_reply.state);
    free (self->enroll_reply.name);
    free (self->enroll_reply.detail);
    free (self->metric_ack.stream);
    free (self);
    *self_p = NULL;
}

static jad_ctl_msg_t *s_ctl_msg_from_pb (const s_ctx_t *ctx, const Jadugar__ControllerMsg *message)
{
    jad_ctl_msg_t *self = calloc (1, sizeof (jad_ctl_msg_t));
    if (!self) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    if (message->body_case == JADUGAR__CONTROLLER_MSG__BODY_PLAN) {
        s_ctx_t inner = {"controller message: plan envelope", "", ctx->err};
        self->kind = JAD_CTL_MSG_PLAN;
        self->plan = s_envelope_from_pb (&inner, message->plan);
        if (!self->plan)
            goto failed;
    } else if (message->body_case == JADUGAR__CONTROLLER_MSG__BODY_CHUNK) {
        s_ctx_t inner = {ctx->what, "chunk.", ctx->err};
        const Jadugar__Chunk *chunk = message->chunk;
        self->kind = JAD_CTL_MSG_CHUNK;
        self->chunk.offset = chunk->offset;
        self->chunk.total = chunk->total;
        if (s_bytes_exact (&inner, "sha256", &chunk->sha256, 32, self->chunk.sha256) ||
            s_bytes (&inner, "data", &chunk->data, JAD_CHUNK_SIZE, &self->chunk.data,
                     &self->chunk.data_size) ||
            s_text (&inner, "error", chunk->error, JAD_MAX_DETAIL, false, &self->chunk.error))
            goto failed;
        if (!self->chunk.error &&
            (self->chunk.offset > self->chunk.total ||
             self->chunk.data_size > self->chunk.total - self->chunk.offset)) {
            s_fail (ctx, "field 'chunk.data' runs past 'chunk.total'");
            goto failed;
        }
    } else if (message->body_case == JADUGAR__CONTROLLER_MSG__BODY_REPORT_ACK) {
        s_ctx_t inner = {ctx->what, "report_ack.", ctx->err};
        const Jadugar__ReportAck *ack = message->report_ack;
        self->kind = JAD_CTL_MSG_REPORT_ACK;
        if (s_name (&inner, "incarnation", ack->incarnation, true, &self->report_ack.incarnation))
            goto failed;
        if (ack->n_report_ids > 0) {
            self->report_ack.report_ids = calloc (ack->n_report_ids, sizeof (uint64_t));
            if (!self->report_ack.report_ids) {
                s_fail (ctx, "out of memory");
                goto failed;
            }
            memcpy (self->report_ack.report_ids, ack->report_ids,
                    ack->n_report_ids * sizeof (uint64_t));
            self->report_ack.report_id_count = ack->n_report_ids;
        }
    } else if (message->body_case == JADUGAR__CONTROLLER_MSG__BODY_PROTOCOL_ERROR) {
        s_ctx_t inner = {ctx->what, "protocol_error.", ctx->err};
        const Jadugar__ProtocolError *error = message->protocol_error;
        self->kind = JAD_CTL_MSG_PROTOCOL_ERROR;
        self->protocol_error.controller_protocol = error->controller_protocol;
        self->protocol_error.agent_protocol = error->agent_protocol;
        if (s_text (&inner, "message", error->message, JAD_MAX_DETAIL, false,
                    &self->protocol_error.message))
            goto failed;
    } else if (message->body_case == JADUGAR__CONTROLLER_MSG__BODY_ENROLL_REPLY) {
        s_ctx_t inner = {ctx->what, "enroll_reply.", ctx->err};
        const Jadugar__EnrollReply *reply = message->enroll_reply;
        self->kind = JAD_CTL_MSG_ENROLL_REPLY;
        if (s_name (&inner, "state", reply->state, true, &self->enroll_reply.state) ||
            s_name (&inner, "name", reply->name, false, &self->enroll_reply.name) ||
            s_text (&inner, "detail", reply->detail, JAD_MAX_DETAIL, false,
                    &self->enroll_reply.detail))
            goto failed;
    } else if (message->body_case == JADUGAR__CONTROLLER_MSG__BODY_METRIC_ACK) {
        s_ctx_t inner = {ctx->what, "metric_ack.", ctx->err};
        self->kind = JAD_CTL_MSG_METRIC_ACK;
        if (s_name (&inner, "stream", message->metric_ack->stream, true, &self->metric_ack.stream))
            goto failed;
        self->metric_ack.seq = message->metric_ack->seq;
    } else {
        s_fail (ctx, "message has no body");
        goto failed;
    }
    return self;

failed:
    jad_ctl_msg_destroy (&self);
    return NULL;
}

jad_ctl_msg_t *jad_ctl_msg_decode (const uint8_t *data, size_t size, char *err)
{
    s_ctx_t ctx = {"controller message", "", err};
    if (s_check_size (&ctx, data, size, JAD_MAX_CTL_MSG))
        return NULL;
    s_budget_t budget;
    ProtobufCAllocator allocator = s_allocator_new (&budget, size);
    Jadugar__ControllerMsg *message = jadugar__controller_msg__unpack (&allocator, size, data);
    if (!message) {
        s_unpack_failed (&ctx, &budget);
        return NULL;
    }
    jad_ctl_msg_t *self = NULL;
    //  a message carrying a plan speaks the plans' version, any other ours
    uint32_t expected =
        message->body_case == JADUGAR__CONTROLLER_MSG__BODY_PLAN ? JAD_PLAN_PROTOCOL : JAD_PROTOCOL;
    if (s_check_one_body (&ctx, data, size, 2, S_LAST_BODY,
                          message->body_case != JADUGAR__CONTROLLER_MSG__BODY__NOT_SET) != 0)
        ;  //  said why
    else if (message->protocol != expected && expected == JAD_PLAN_PROTOCOL)
        s_fail (&ctx, "plan message speaks protocol %u, plans need %d", message->protocol,
                JAD_PLAN_PROTOCOL);
    else if (message->protocol != expected)
        s_fail (&ctx, "protocol %u is not supported (expected %u)", message->protocol, expected);
    else
        self = s_ctl_msg_from_pb (&ctx, message);
    jadugar__controller_msg__free_unpacked (message, &allocator);
    return self;
}

zchunk_t *jad_ctl_msg_encode (const jad_ctl_msg_t *self)
{
    assert (self);
    Jadugar__ControllerMsg message;
    Jadugar__Envelope envelope;
    Jadugar__TargetProof proof;
    Jadugar__Chunk chunk_body;
    Jadugar__ReportAck ack;
    Jadugar__ProtocolError protocol_error;
    Jadugar__EnrollReply enroll_reply;
    Jadugar__MetricAck metric_ack;

    jadugar__controller_msg__init (&message);
    message.protocol = JAD_PROTOCOL;
    if (self->kind == JAD_CTL_MSG_PLAN && self->plan) {
        //  an agent of protocol 1 reads this and says it must be upgraded
        message.protocol = JAD_PLAN_PROTOCOL;
        s_envelope_to_pb (self->plan, &envelope, &proof);
        message.body_case = JADUGAR__CONTROLLER_MSG__BODY_PLAN;
        message.plan = &envelope;
    } else if (self->kind == JAD_CTL_MSG_CHUNK) {
        jadugar__chunk__init (&chunk_body);
        chunk_body.sha256 = s_pbbytes (self->chunk.sha256, 32);
        chunk_body.offset = self->chunk.offset;
        chunk_body.data =
            s_pbbytes (self->chunk.data, self->chunk.data ? self->chunk.data_size : 0);
        chunk_body.total = self->chunk.total;
        chunk_body.error = s_pbstr (self->chunk.error);
        message.body_case = JADUGAR__CONTROLLER_MSG__BODY_CHUNK;
        message.chunk = &chunk_body;
    } else if (self->kind == JAD_CTL_MSG_REPORT_ACK) {
        jadugar__report_ack__init (&ack);
        ack.incarnation = s_pbstr (self->report_ack.incarnation);
        ack.n_report_ids = self->report_ack.report_ids ? self->report_ack.report_id_count : 0;
        ack.report_ids = self->report_ack.report_ids;
        message.body_case = JADUGAR__CONTROLLER_MSG__BODY_REPORT_ACK;
        message.report_ack = &ack;
    } else if (self->kind == JAD_CTL_MSG_PROTOCOL_ERROR) {
        jadugar__protocol_error__init (&protocol_error);
        protocol_error.controller_protocol = self->protocol_error.controller_protocol;
        protocol_error.agent_protocol = self->protocol_error.agent_protocol;
        protocol_error.message = s_pbstr (self->protocol_error.message);
        message.body_case = JADUGAR__CONTROLLER_MSG__BODY_PROTOCOL_ERROR;
        message.protocol_error = &protocol_error;
    } else if (self->kind == JAD_CTL_MSG_ENROLL_REPLY) {
        jadugar__enroll_reply__init (&enroll_reply);
        enroll_reply.state = s_pbstr (self->enroll_reply.state);
        enroll_reply.name = s_pbstr (self->enroll_reply.name);
        enroll_reply.detail = s_pbstr (self->enroll_reply.detail);
        message.body_case = JADUGAR__CONTROLLER_MSG__BODY_ENROLL_REPLY;
        message.enroll_reply = &enroll_reply;
    } else if (self->kind == JAD_CTL_MSG_METRIC_ACK) {
        jadugar__metric_ack__init (&metric_ack);
        metric_ack.stream = s_pbstr (self->metric_ack.stream);
        metric_ack.seq = self->metric_ack.seq;
        message.body_case = JADUGAR__CONTROLLER_MSG__BODY_METRIC_ACK;
        message.metric_ack = &metric_ack;
    } else {
        s_refuse ("controller message", "no body for its kind");
        return NULL;
    }
    zchunk_t *chunk = s_pack (&message.base, JAD_MAX_CTL_MSG, "controller message");
    if (!chunk)
        return NULL;
    char reason[JAD_ERR_LEN];
    jad_ctl_msg_t *check = jad_ctl_msg_decode (zchunk_data (chunk), zchunk_size (chunk), reason);
    if (!check) {
        s_refuse ("controller message", reason);
        zchunk_destroy (&chunk);
    }
    jad_ctl_msg_destroy (&check);
    return chunk;
}

//  --------------------------------------------------------------------------
//  Operator API

void jad_api_request_destroy (jad_api_request_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_api_request_t *self = *self_p;
    free (self->command);
    if (self->args)
        for (size_t index = 0; index < self->arg_count; index++) {
            free (self->args[index].key);
            free (self->args[index].value);
        }
    free (self->args);
    free (self->blob);
    free (self);
    *self_p = NULL;
}

//  Commands are 1..64 characters of [a-z.-] ("deploy", "agent.list").
static bool s_command_valid (const char *command, size_t length)
{
    if (length == 0 || length > S_MAX_COMMAND || strlen (command) != length)
        return false;
    for (size_t index = 0; index < length; index++) {
        char c = command[index];
        if (!((c >= 'a' && c <= 'z') || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static jad_api_request_t *s_api_request_from_pb (const s_ctx_t *ctx,
                                                 const Jadugar__ApiRequest *message)
{
    if (s_check_protocol (ctx, message->protocol) != 0)
        return NULL;
    jad_api_request_t *self = calloc (1, sizeof (jad_api_request_t));
    if (!self) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    self->request_id = message->request_id;
    size_t length = s_wire_strlen (message->command);
    if (length == 0) {
        s_missing (ctx, "command");
        goto failed;
    }
    if (!s_command_valid (message->command, length)) {
        s_fail (ctx, "field 'command' is not a valid command name");
        goto failed;
    }
    if (s_text (ctx, "command", message->command, S_MAX_COMMAND, true, &self->command))
        goto failed;
    if (message->n_args > S_MAX_ARGS) {
        s_fail (ctx, "too many args (%zu, limit %d)", message->n_args, S_MAX_ARGS);
        goto failed;
    }
    if (message->n_args > 0) {
        self->args = calloc (message->n_args, sizeof (jad_arg_t));
        if (!self->args) {
            s_fail (ctx, "out of memory");
            goto failed;
        }
        self->arg_count = message->n_args;
    }
    for (size_t index = 0; index < message->n_args; index++) {
        char prefix[32];
        snprintf (prefix, sizeof (prefix), "args[%zu].", index);
        s_ctx_t inner = {ctx->what, prefix, ctx->err};
        if (s_text (&inner, "key", message->args[index]->key, S_MAX_ARG_KEY, true,
                    &self->args[index].key) ||
            s_text (&inner, "value", message->args[index]->value, JAD_MAX_API_MSG, false,
                    &self->args[index].value))
            goto failed;
    }
    if (s_bytes (ctx, "blob", &message->blob, JAD_MAX_API_MSG, &self->blob, &self->blob_size))
        goto failed;
    return self;

failed:
    jad_api_request_destroy (&self);
    return NULL;
}

jad_api_request_t *jad_api_request_decode (const uint8_t *data, size_t size, char *err)
{
    s_ctx_t ctx = {"api request", "", err};
    if (s_check_size (&ctx, data, size, JAD_MAX_API_MSG))
        return NULL;
    s_budget_t budget;
    ProtobufCAllocator allocator = s_allocator_new (&budget, size);
    Jadugar__ApiRequest *message = jadugar__api_request__unpack (&allocator, size, data);
    if (!message) {
        s_unpack_failed (&ctx, &budget);
        return NULL;
    }
    jad_api_request_t *self = s_api_request_from_pb (&ctx, message);
    jadugar__api_request__free_unpacked (message, &allocator);
    return self;
}

zchunk_t *jad_api_request_encode (const jad_api_request_t *self)
{
    assert (self);
    Jadugar__ApiRequest message;
    jadugar__api_request__init (&message);
    message.protocol = JAD_PROTOCOL;
    message.request_id = self->request_id;
    message.command = s_pbstr (self->command);
    message.blob = s_pbbytes (self->blob, self->blob ? self->blob_size : 0);
    size_t count = self->args ? self->arg_count : 0;
    Jadugar__Arg *args = NULL;
    Jadugar__Arg **arg_list = NULL;
    zchunk_t *chunk = NULL;
    if (count > 0) {
        args = calloc (count, sizeof (Jadugar__Arg));
        arg_list = calloc (count, sizeof (Jadugar__Arg *));
        if (!args || !arg_list)
            goto done;
        for (size_t index = 0; index < count; index++) {
            jadugar__arg__init (&args[index]);
            args[index].key = s_pbstr (self->args[index].key);
            args[index].value = s_pbstr (self->args[index].value);
            arg_list[index] = &args[index];
        }
    }
    message.n_args = count;
    message.args = arg_list;
    chunk = s_pack (&message.base, JAD_MAX_API_MSG, "api request");
    if (chunk) {
        char reason[JAD_ERR_LEN];
        jad_api_request_t *check =
            jad_api_request_decode (zchunk_data (chunk), zchunk_size (chunk), reason);
        if (!check) {
            s_refuse ("api request", reason);
            zchunk_destroy (&chunk);
        }
        jad_api_request_destroy (&check);
    }

done:
    free (args);
    free (arg_list);
    return chunk;
}

const char *jad_api_request_arg (const jad_api_request_t *self, const char *key)
{
    if (!self || !key || !self->args)
        return NULL;
    for (size_t index = 0; index < self->arg_count; index++)
        if (self->args[index].key && strcmp (self->args[index].key, key) == 0)
            return self->args[index].value;
    return NULL;
}

void jad_api_response_destroy (jad_api_response_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_api_response_t *self = *self_p;
    free (self->error);
    free (self->json);
    free (self);
    *self_p = NULL;
}

jad_api_response_t *jad_api_response_decode (const uint8_t *data, size_t size, char *err)
{
    s_ctx_t ctx = {"api response", "", err};
    if (s_check_size (&ctx, data, size, JAD_MAX_API_MSG))
        return NULL;
    s_budget_t budget;
    ProtobufCAllocator allocator = s_allocator_new (&budget, size);
    Jadugar__ApiResponse *message = jadugar__api_response__unpack (&allocator, size, data);
    if (!message) {
        s_unpack_failed (&ctx, &budget);
        return NULL;
    }
    jad_api_response_t *self = NULL;
    if (s_check_protocol (&ctx, message->protocol) != 0)
        goto done;
    self = calloc (1, sizeof (jad_api_response_t));
    if (!self) {
        s_fail (&ctx, "out of memory");
        goto done;
    }
    self->request_id = message->request_id;
    self->status = message->status;
    if (s_text (&ctx, "error", message->error, JAD_MAX_API_MSG, false, &self->error) ||
        s_text (&ctx, "json", message->json, JAD_MAX_API_MSG, false, &self->json))
        jad_api_response_destroy (&self);

done:
    jadugar__api_response__free_unpacked (message, &allocator);
    return self;
}

zchunk_t *jad_api_response_encode (const jad_api_response_t *self)
{
    assert (self);
    Jadugar__ApiResponse message;
    jadugar__api_response__init (&message);
    message.protocol = JAD_PROTOCOL;
    message.request_id = self->request_id;
    message.status = self->status;
    message.error = s_pbstr (self->error);
    message.json = s_pbstr (self->json);
    zchunk_t *chunk = s_pack (&message.base, JAD_MAX_API_MSG, "api response");
    if (!chunk)
        return NULL;
    char reason[JAD_ERR_LEN];
    jad_api_response_t *check =
        jad_api_response_decode (zchunk_data (chunk), zchunk_size (chunk), reason);
    if (!check) {
        s_refuse ("api response", reason);
        zchunk_destroy (&chunk);
    }
    jad_api_response_destroy (&check);
    return chunk;
}

//  --------------------------------------------------------------------------
//  Apply helper pipe (agent <-> jadugar-apply)

#define S_MAX_PATH 4096  //  root, downloads, archive on the apply pipe

jad_apply_job_t *jad_apply_job_new (void)
{
    return calloc (1, sizeof (jad_apply_job_t));
}

void jad_apply_job_destroy (jad_apply_job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_apply_job_t *self = *self_p;
    free (self->plan_id);
    free (self->app);
    free (self->version);
    free (self->sha256_hex);
    free (self->archive);
    free (self->url);
    free (self->previous_hint);
    free (self->environment);
    free (self->host);
    free (self->root);
    free (self->downloads);
    free (self->hook_user);
    for (size_t index = 0; self->migrations && index < self->migration_count; index++)
        free (self->migrations[index]);
    free (self->migrations);
    free (self);
    *self_p = NULL;
}

static jad_apply_job_t *s_apply_job_from_pb (const s_ctx_t *ctx, const Jadugar__ApplyJob *message)
{
    if (s_check_protocol (ctx, message->protocol) != 0)
        return NULL;
    jad_apply_job_t *self = jad_apply_job_new ();
    if (!self) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    if (s_name (ctx, "plan_id", message->plan_id, true, &self->plan_id) ||
        s_name (ctx, "app", message->app, true, &self->app) ||
        s_name (ctx, "version", message->version, true, &self->version) ||
        s_text (ctx, "sha256_hex", message->sha256_hex, 64, true, &self->sha256_hex) ||
        s_text (ctx, "archive", message->archive, S_MAX_PATH, false, &self->archive) ||
        s_text (ctx, "url", message->url, S_MAX_URL, false, &self->url) ||
        s_text (ctx, "previous_hint", message->previous_hint, JAD_NAME_MAX, false,
                &self->previous_hint) ||
        s_text (ctx, "environment", message->environment, JAD_NAME_MAX, true, &self->environment) ||
        s_text (ctx, "host", message->host, JAD_NAME_MAX, true, &self->host) ||
        s_text (ctx, "root", message->root, S_MAX_PATH, true, &self->root) ||
        s_text (ctx, "downloads", message->downloads, S_MAX_PATH, true, &self->downloads) ||
        s_text (ctx, "hook_user", message->hook_user, S_MAX_SHORT_TEXT, false, &self->hook_user))
        goto failed;
    self->artifact_length = message->artifact_length;
    self->release_known = message->release_known;
    self->hook_timeout_ms = message->hook_timeout_ms;
    self->step_deadline_ms = message->step_deadline_ms;
    self->keep_releases = message->keep_releases;
    self->action = message->action;
    self->unpacked_size = message->unpacked_size;
    if (self->action > JAD_PLAN_ACTION_VERIFY && self->action != JAD_APPLY_ACTION_ROLLBACK) {
        s_fail (ctx, "field 'action' is unknown (%u)", self->action);
        goto failed;
    }
    if (message->n_migrations > JAD_MAX_MIGRATIONS) {
        s_fail (ctx, "too many migrations (%zu, limit %d)", message->n_migrations,
                JAD_MAX_MIGRATIONS);
        goto failed;
    }
    if (message->n_migrations > 0) {
        self->migrations = calloc (message->n_migrations, sizeof (char *));
        if (!self->migrations) {
            s_fail (ctx, "out of memory");
            goto failed;
        }
        for (size_t index = 0; index < message->n_migrations; index++) {
            char field[48];
            snprintf (field, sizeof (field), "migrations[%zu]", index);
            if (s_name (ctx, field, message->migrations[index], true, &self->migrations[index]))
                goto failed;
            self->migration_count = index + 1;
        }
    }
    return self;

failed:
    jad_apply_job_destroy (&self);
    return NULL;
}

jad_apply_job_t *jad_apply_job_decode (const uint8_t *data, size_t size, char *err)
{
    s_ctx_t ctx = {"apply job", "", err};
    if (s_check_size (&ctx, data, size, JAD_MAX_APPLY_MSG))
        return NULL;
    s_budget_t budget;
    ProtobufCAllocator allocator = s_allocator_new (&budget, size);
    Jadugar__ApplyJob *message = jadugar__apply_job__unpack (&allocator, size, data);
    if (!message) {
        s_unpack_failed (&ctx, &budget);
        return NULL;
    }
    jad_apply_job_t *self = s_apply_job_from_pb (&ctx, message);
    jadugar__apply_job__free_unpacked (message, &allocator);
    return self;
}

zchunk_t *jad_apply_job_encode (const jad_apply_job_t *self)
{
    assert (self);
    Jadugar__ApplyJob message;
    jadugar__apply_job__init (&message);
    message.protocol = JAD_PROTOCOL;
    message.plan_id = s_pbstr (self->plan_id);
    message.app = s_pbstr (self->app);
    message.version = s_pbstr (self->version);
    message.sha256_hex = s_pbstr (self->sha256_hex);
    message.artifact_length = self->artifact_length;
    message.archive = s_pbstr (self->archive);
    message.url = s_pbstr (self->url);
    message.release_known = self->release_known;
    message.previous_hint = s_pbstr (self->previous_hint);
    message.environment = s_pbstr (self->environment);
    message.host = s_pbstr (self->host);
    message.root = s_pbstr (self->root);
    message.downloads = s_pbstr (self->downloads);
    message.hook_user = s_pbstr (self->hook_user);
    message.hook_timeout_ms = self->hook_timeout_ms;
    message.step_deadline_ms = self->step_deadline_ms;
    message.keep_releases = self->keep_releases;
    message.action = self->action;
    message.unpacked_size = self->unpacked_size;
    message.n_migrations = self->migration_count;
    message.migrations = self->migrations;
    zchunk_t *chunk = s_pack (&message.base, JAD_MAX_APPLY_MSG, "apply job");
    if (!chunk)
        return NULL;
    char reason[JAD_ERR_LEN];
    jad_apply_job_t *check =
        jad_apply_job_decode (zchunk_data (chunk), zchunk_size (chunk), reason);
    if (!check) {
        s_refuse ("apply job", reason);
        zchunk_destroy (&chunk);
    }
    jad_apply_job_destroy (&check);
    return chunk;
}

jad_apply_event_t *jad_apply_event_new (jad_apply_event_kind_t kind)
{
    jad_apply_event_t *self = calloc (1, sizeof (jad_apply_event_t));
    if (self)
        self->kind = kind;
    return self;
}

void jad_apply_event_destroy (jad_apply_event_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jad_apply_event_t *self = *self_p;
    free (self->plan_id);
    free (self->app);
    free (self->version);
    free (self->sha256_hex);
    free (self->step);
    free (self->detail);
    free (self->output);
    free (self);
    *self_p = NULL;
}

static jad_apply_event_t *s_apply_event_from_pb (const s_ctx_t *ctx,
                                                 const Jadugar__ApplyEvent *message)
{
    if (s_check_protocol (ctx, message->protocol) != 0)
        return NULL;
    if (message->kind < JAD_APPLY_EVENT_STEP || message->kind > JAD_APPLY_EVENT_DONE) {
        s_fail (ctx, "field 'kind' is missing or unknown (%u)", message->kind);
        return NULL;
    }
    jad_apply_event_t *self = jad_apply_event_new ((jad_apply_event_kind_t)message->kind);
    if (!self) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    bool step = self->kind == JAD_APPLY_EVENT_STEP;
    bool done = self->kind == JAD_APPLY_EVENT_DONE;
    if (s_name (ctx, "plan_id", message->plan_id, true, &self->plan_id) ||
        s_text (ctx, "app", message->app, JAD_NAME_MAX, false, &self->app) ||
        s_text (ctx, "version", message->version, JAD_NAME_MAX, !step && !done, &self->version) ||
        s_text (ctx, "sha256_hex", message->sha256_hex, 64, false, &self->sha256_hex) ||
        s_text (ctx, "step", message->step, JAD_NAME_MAX, step, &self->step) ||
        s_text (ctx, "detail", message->detail, JAD_MAX_DETAIL * 4, false, &self->detail) ||
        s_text (ctx, "output", message->output, JAD_MAX_OUTPUT * 4, false, &self->output)) {
        jad_apply_event_destroy (&self);
        return NULL;
    }
    self->status = message->status;
    self->duration_ms = message->duration_ms;
    return self;
}

jad_apply_event_t *jad_apply_event_decode (const uint8_t *data, size_t size, char *err)
{
    s_ctx_t ctx = {"apply event", "", err};
    if (s_check_size (&ctx, data, size, JAD_MAX_APPLY_MSG))
        return NULL;
    s_budget_t budget;
    ProtobufCAllocator allocator = s_allocator_new (&budget, size);
    Jadugar__ApplyEvent *message = jadugar__apply_event__unpack (&allocator, size, data);
    if (!message) {
        s_unpack_failed (&ctx, &budget);
        return NULL;
    }
    jad_apply_event_t *self = s_apply_event_from_pb (&ctx, message);
    jadugar__apply_event__free_unpacked (message, &allocator);
    return self;
}

zchunk_t *jad_apply_event_encode (const jad_apply_event_t *self)
{
    assert (self);
    Jadugar__ApplyEvent message;
    jadugar__apply_event__init (&message);
    message.protocol = JAD_PROTOCOL;
    message.kind = (uint32_t)self->kind;
    message.plan_id = s_pbstr (self->plan_id);
    message.app = s_pbstr (self->app);
    message.version = s_pbstr (self->version);
    message.sha256_hex = s_pbstr (self->sha256_hex);
    message.step = s_pbstr (self->step);
    message.status = self->status;
    message.detail = s_pbstr (self->detail);
    message.output = s_pbstr (self->output);
    message.duration_ms = self->duration_ms;
    zchunk_t *chunk = s_pack (&message.base, JAD_MAX_APPLY_MSG, "apply event");
    if (!chunk)
        return NULL;
    char reason[JAD_ERR_LEN];
    jad_apply_event_t *check =
        jad_apply_event_decode (zchunk_data (chunk), zchunk_size (chunk), reason);
    if (!check) {
        s_refuse ("apply event", reason);
        zchunk_destroy (&chunk);
    }
    jad_apply_event_destroy (&check);
    return chunk;
}

//  --------------------------------------------------------------------------
//  Names

const char *jad_report_status_name (uint32_t status)
{
    switch (status) {
        case JAD_REPORT_STARTED:
            return "started";
        case JAD_REPORT_OK:
            return "ok";
        case JAD_REPORT_FAILED:
            return "failed";
        case JAD_REPORT_ROLLED_BACK:
            return "rolled_back";
        case JAD_REPORT_HEALTHY:
            return "healthy";
        case JAD_REPORT_INTERRUPTED:
            return "interrupted";
        case JAD_REPORT_REFUSED:
            return "refused";
        default:
            return "unknown";
    }
}

const char *jad_plan_kind_name (uint32_t kind)
{
    switch (kind) {
        case JAD_PLAN_DEPLOY:
            return "deploy";
        case JAD_PLAN_ROLLBACK:
            return "rollback";
        default:
            return "unknown";
    }
}
