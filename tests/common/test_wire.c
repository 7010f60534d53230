//  test_wire - the wire codec: round trips of every message, and every
//  kind of bad input (truncated, garbage, oversized, wrong protocol,
//  missing fields, bad names and text, two bodies, huge repeated fields)
//  SPDX-License-Identifier: MPL-2.0
//
//  Bad messages are built from good encoded bytes plus hand-written
//  protobuf fields: a later value of a singular field replaces the earlier
//  one, so appending a field is how a test overrides it on the wire.

#include "jad_testlib.h"
#include "jad_wire.h"
#include "jadugar.pb-c.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS 1700000000000LL

TestSuite (wire);

//  --------------------------------------------------------------------------
//  A tiny protobuf writer

typedef struct {
    uint8_t *data;  //  owned
    size_t size;    //  bytes used
    size_t max;     //  bytes allocated
} s_buf_t;

static void s_put (s_buf_t *buf, const void *data, size_t size)
{
    if (buf->size + size + 1 > buf->max) {
        buf->max = (buf->size + size + 1) * 2;
        buf->data = realloc (buf->data, buf->max);
        cr_assert_not_null (buf->data);
    }
    if (size > 0)
        memcpy (buf->data + buf->size, data, size);
    buf->size += size;
}

static void s_varint (s_buf_t *buf, uint64_t value)
{
    uint8_t bytes[10];
    size_t size = 0;
    do {
        bytes[size] = (uint8_t)(value & 0x7F);
        value >>= 7;
        if (value)
            bytes[size] |= 0x80;
        size++;
    } while (value);
    s_put (buf, bytes, size);
}

static void s_field_varint (s_buf_t *buf, uint32_t field, uint64_t value)
{
    s_varint (buf, (uint64_t)field << 3 | 0);
    s_varint (buf, value);
}

static void s_field_bytes (s_buf_t *buf, uint32_t field, const void *data, size_t size)
{
    s_varint (buf, (uint64_t)field << 3 | 2);
    s_varint (buf, size);
    s_put (buf, data, size);
}

static void s_field_str (s_buf_t *buf, uint32_t field, const char *text)
{
    s_field_bytes (buf, field, text, strlen (text));
}

//  Take over an encoded chunk's bytes.
static s_buf_t s_from_chunk (zchunk_t **chunk_p)
{
    cr_assert_not_null (*chunk_p, "encoder refused a valid message");
    s_buf_t buf = {NULL, 0, 0};
    s_put (&buf, zchunk_data (*chunk_p), zchunk_size (*chunk_p));
    zchunk_destroy (chunk_p);
    return buf;
}

static s_buf_t s_copy (const s_buf_t *source)
{
    s_buf_t buf = {NULL, 0, 0};
    s_put (&buf, source->data, source->size);
    return buf;
}

static void s_free (s_buf_t *buf)
{
    free (buf->data);
    buf->data = NULL;
    buf->size = 0;
    buf->max = 0;
}

//  Rebuild a one-body message (protocol, then one body field) with extra
//  bytes appended inside its body, so they override a field of the body.
static s_buf_t s_body_plus (const s_buf_t *message, const s_buf_t *extra)
{
    cr_assert (message->size >= 4 && message->data[0] == 0x08 && message->data[1] == 0x01);
    uint8_t tag = message->data[2];
    size_t length = 0, shift = 0, at = 3;
    while (message->data[at] & 0x80) {
        length |= (size_t)(message->data[at++] & 0x7F) << shift;
        shift += 7;
    }
    length |= (size_t)message->data[at++] << shift;
    cr_assert_eq (at + length, message->size);
    s_buf_t out = {NULL, 0, 0};
    s_field_varint (&out, 1, JAD_PROTOCOL);
    s_put (&out, &tag, 1);
    s_varint (&out, length + extra->size);
    s_put (&out, message->data + at, length);
    s_put (&out, extra->data, extra->size);
    return out;
}

//  --------------------------------------------------------------------------
//  Fixtures: valid messages with borrowed strings (never destroyed)

static char *s_targets[] = {"web-1", "web-2", "db-1"};

static jad_plan_t s_plan (void)
{
    jad_plan_t plan = {
        .plan_id = "p-0001",
        .environment = "prod",
        .targets = s_targets,
        .target_count = 3,
        .sequence = 42,
        .issued_at = NOW_MS,
        .expires_at = NOW_MS + 3600 * 1000,
        .app = "shop",
        .version = "1.4.2",
        .artifact_length = 123456,
        .artifact_url = "https://artifacts.example.com/shop-1.4.2.tar.gz",
        .kind = JAD_PLAN_ROLLBACK,
        .undoes = "p-0000",
        .strategy = "rolling batch=2",
        .hook_timeout_ms = 30000,
        .step_deadline_ms = 300000,
        .deployer = "amy",
    };
    for (int index = 0; index < 32; index++)
        plan.artifact_sha256[index] = (uint8_t)index;
    return plan;
}

//  A valid plan, encoded: the field tests append to it.
static s_buf_t s_plan_bytes (void)
{
    jad_plan_t plan = s_plan ();
    zchunk_t *chunk = jad_plan_encode (&plan);
    cr_assert_not_null (chunk);
    s_buf_t buf = {NULL, 0, 0};
    s_put (&buf, zchunk_data (chunk), zchunk_size (chunk));
    zchunk_destroy (&chunk);
    return buf;
}

static jad_report_t s_report (void)
{
    jad_report_t report = {
        .report_id = 17,
        .incarnation = "a1b2c3d4",
        .plan_id = "p-0001",
        .app = "shop",
        .version = "1.4.2",
        .step = "post_install",
        .status = JAD_REPORT_FAILED,
        .detail = "hook exited with status 3",
        .output = "line one\nline two\n",
        .time = NOW_MS,
        .duration_ms = 1500,
    };
    return report;
}

static s_buf_t s_agent_bytes (jad_agent_msg_t *message)
{
    zchunk_t *chunk = jad_agent_msg_encode (message);
    return s_from_chunk (&chunk);
}

static s_buf_t s_ack_bytes (void)
{
    jad_agent_msg_t message = {.kind = JAD_AGENT_MSG_ACK};
    message.ack.plan_id = "p-0001";
    message.ack.sequence = 42;
    return s_agent_bytes (&message);
}

static s_buf_t s_report_bytes (void)
{
    jad_report_t report = s_report ();
    jad_agent_msg_t message = {.kind = JAD_AGENT_MSG_REPORT, .report = &report};
    return s_agent_bytes (&message);
}

static jad_app_state_t s_apps[] = {
    {"shop", "1.4.2", "healthy", "p-0001"},
    {"blog", NULL, "unknown", NULL},
};

static s_buf_t s_status_bytes (void)
{
    jad_status_t status = {
        .name = "web-1",
        .environment = "prod",
        .last_sequence = 41,
        .incarnation = "a1b2c3d4",
        .hello = true,
        .apps = s_apps,
        .app_count = 2,
        .agent_version = JADUGAR_VERSION,
    };
    jad_agent_msg_t message = {.kind = JAD_AGENT_MSG_STATUS, .status = &status};
    return s_agent_bytes (&message);
}

static s_buf_t s_fetch_bytes (void)
{
    jad_agent_msg_t message = {.kind = JAD_AGENT_MSG_FETCH};
    memset (message.fetch.sha256, 0x5a, 32);
    message.fetch.offset = 262144;
    message.fetch.length = JAD_CHUNK_SIZE;
    return s_agent_bytes (&message);
}

static s_buf_t s_envelope_bytes (void)
{
    jad_envelope_t envelope = {.type = JAD_PAYLOAD_PLAN};
    uint8_t payload[] = "signed bytes";
    envelope.payload = payload;
    envelope.payload_size = sizeof (payload);
    memset (envelope.key_id, 0x11, 8);
    memset (envelope.signature, 0x22, 64);
    zchunk_t *chunk = jad_envelope_encode (&envelope);
    return s_from_chunk (&chunk);
}

static s_buf_t s_chunk_msg_bytes (void)
{
    jad_ctl_msg_t message = {.kind = JAD_CTL_MSG_CHUNK};
    uint8_t data[] = "tar bytes";
    memset (message.chunk.sha256, 0x5a, 32);
    message.chunk.offset = 100;
    message.chunk.data = data;
    message.chunk.data_size = sizeof (data);
    message.chunk.total = 100 + sizeof (data);
    zchunk_t *chunk = jad_ctl_msg_encode (&message);
    return s_from_chunk (&chunk);
}

static s_buf_t s_api_request_bytes (void)
{
    jad_arg_t args[] = {{"app", "shop"}, {"version", "1.4.2"}};
    jad_api_request_t request = {
        .request_id = 9, .command = "deploy", .args = args, .arg_count = 2};
    zchunk_t *chunk = jad_api_request_encode (&request);
    return s_from_chunk (&chunk);
}

//  --------------------------------------------------------------------------
//  Decoding expectations

typedef void *(s_decoder_fn)(const uint8_t *data, size_t size, char *err);
typedef void (s_destroy_fn) (void **self_p);

//  Typed wrappers, so each decoder is called through its own type
#define S_WRAP(name, type)                                                                         \
    static void *s_decode_##name (const uint8_t *data, size_t size, char *err)                     \
    {                                                                                              \
        return jad_##name##_decode (data, size, err);                                              \
    }                                                                                              \
    static void s_destroy_##name (void **self_p)                                                   \
    {                                                                                              \
        type *self = *self_p;                                                                      \
        jad_##name##_destroy (&self);                                                              \
        *self_p = self;                                                                            \
    }
S_WRAP (envelope, jad_envelope_t)
S_WRAP (plan, jad_plan_t)
S_WRAP (agent_msg, jad_agent_msg_t)
S_WRAP (ctl_msg, jad_ctl_msg_t)
S_WRAP (api_request, jad_api_request_t)
S_WRAP (api_response, jad_api_response_t)

typedef struct {
    const char *name;
    s_decoder_fn *decode;
    s_destroy_fn *destroy;
    size_t cap;
} s_codec_t;

static const s_codec_t s_codecs[] = {
    {"envelope", s_decode_envelope, s_destroy_envelope, JAD_MAX_PLAN_BYTES},
    {"plan", s_decode_plan, s_destroy_plan, JAD_MAX_PLAN_BYTES},
    {"agent message", s_decode_agent_msg, s_destroy_agent_msg, JAD_MAX_AGENT_MSG},
    {"controller message", s_decode_ctl_msg, s_destroy_ctl_msg, JAD_MAX_CTL_MSG},
    {"api request", s_decode_api_request, s_destroy_api_request, JAD_MAX_API_MSG},
    {"api response", s_decode_api_response, s_destroy_api_response, JAD_MAX_API_MSG},
};
#define S_CODECS (sizeof (s_codecs) / sizeof (s_codecs[0]))

//  Decoding must fail with an error that contains phrase (if not NULL).
static void s_rejects (const s_codec_t *codec, const s_buf_t *buf, const char *phrase)
{
    char err[JAD_ERR_LEN] = "";
    void *self = codec->decode (buf->data, buf->size, err);
    if (self)
        codec->destroy (&self);
    cr_assert_null (self, "%s: accepted bad input (%s)", codec->name, phrase ? phrase : "");
    cr_assert_neq (err[0], 0, "%s: no error text", codec->name);
    cr_assert (strncmp (err, codec->name, strlen (codec->name)) == 0, "error '%s' lacks '%s'", err,
               codec->name);
    if (phrase)
        cr_assert (strstr (err, phrase), "error '%s' lacks '%s'", err, phrase);
}

static void s_plan_rejects (const s_buf_t *buf, const char *phrase)
{
    s_rejects (&s_codecs[1], buf, phrase);
}

static void s_agent_rejects (const s_buf_t *buf, const char *phrase)
{
    s_rejects (&s_codecs[2], buf, phrase);
}

//  Valid plan bytes with extra fields appended, then expect rejection.
static void s_plan_override_rejects (const s_buf_t *extra, const char *phrase)
{
    s_buf_t buf = s_plan_bytes ();
    s_put (&buf, extra->data, extra->size);
    s_plan_rejects (&buf, phrase);
    s_free (&buf);
}

static void s_plan_string_rejects (uint32_t field, const char *text, size_t size,
                                   const char *phrase)
{
    s_buf_t extra = {NULL, 0, 0};
    s_field_bytes (&extra, field, text, size);
    s_plan_override_rejects (&extra, phrase);
    s_free (&extra);
}

//  Agent message bytes with extra fields appended inside its body.
static void s_body_override_rejects (const s_buf_t *message, const s_buf_t *extra,
                                     const char *phrase)
{
    s_buf_t buf = s_body_plus (message, extra);
    s_agent_rejects (&buf, phrase);
    s_free (&buf);
}

//  --------------------------------------------------------------------------
//  Round trips

Test (wire, plan_roundtrip)
{
    jad_plan_t plan = s_plan ();
    s_buf_t buf = s_plan_bytes ();
    char err[JAD_ERR_LEN] = "";
    jad_plan_t *decoded = jad_plan_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_str_eq (decoded->plan_id, plan.plan_id);
    cr_assert_str_eq (decoded->environment, plan.environment);
    //  the names are not on the wire: their root and count are
    cr_assert_null (decoded->targets);
    cr_assert_eq (decoded->target_count, 3);
    char *names[] = {"web-1", "web-2", "db-1"};
    jad_plan_t listed = s_plan ();
    listed.targets = names;
    char reason[JAD_ERR_LEN] = "";
    jad_merkle_t *tree = jad_plan_commit (&listed, reason);
    cr_assert_not_null (tree, "%s", reason);
    cr_assert_str_eq (names[0], "db-1");  //  sorted
    cr_assert_str_eq (names[2], "web-2");
    cr_assert_arr_eq (decoded->targets_root, jad_merkle_root (tree), 32);
    cr_assert_arr_eq (listed.targets_root, jad_merkle_root (tree), 32);
    cr_assert_eq (decoded->sequence, plan.sequence);
    cr_assert_eq (decoded->issued_at, plan.issued_at);
    cr_assert_eq (decoded->expires_at, plan.expires_at);
    cr_assert_str_eq (decoded->app, plan.app);
    cr_assert_str_eq (decoded->version, plan.version);
    cr_assert_eq (memcmp (decoded->artifact_sha256, plan.artifact_sha256, 32), 0);
    cr_assert_eq (decoded->artifact_length, plan.artifact_length);
    cr_assert_str_eq (decoded->artifact_url, plan.artifact_url);
    cr_assert_eq (decoded->kind, JAD_PLAN_ROLLBACK);
    cr_assert_str_eq (decoded->undoes, plan.undoes);
    cr_assert_str_eq (decoded->strategy, plan.strategy);
    cr_assert_eq (decoded->hook_timeout_ms, plan.hook_timeout_ms);
    cr_assert_eq (decoded->step_deadline_ms, plan.step_deadline_ms);
    cr_assert_str_eq (decoded->deployer, "amy");
    //  no proof: no target; with web-2's proof, web-2 only
    cr_assert_not (jad_plan_targets (decoded, "web-2"));
    decoded->proof = malloc (JAD_MERKLE_MAX_DEPTH * 32);
    cr_assert_not_null (decoded->proof);
    decoded->proof_count = (size_t)jad_merkle_proof (tree, 2, decoded->proof);
    decoded->proof_index = 2;
    jad_merkle_destroy (&tree);
    cr_assert_eq (decoded->proof_count, 1);  //  web-2 is lone on the leaf level
    cr_assert (jad_plan_targets (decoded, "web-2"));
    cr_assert_not (jad_plan_targets (decoded, "web-1"));
    cr_assert_not (jad_plan_targets (decoded, "web-3"));
    cr_assert_not (jad_plan_targets (decoded, NULL));

    jad_plan_t *copy = jad_plan_dup (decoded);
    jad_plan_destroy (&decoded);
    cr_assert_null (decoded);
    jad_plan_destroy (&decoded);
    cr_assert_not_null (copy);
    cr_assert_null (copy->targets);
    cr_assert (jad_plan_targets (copy, "web-2"), "the copy keeps the proof");
    cr_assert_str_eq (copy->undoes, "p-0000");
    cr_assert_eq (copy->step_deadline_ms, 300000);
    cr_assert_str_eq (copy->deployer, "amy");
    jad_plan_destroy (&copy);
    s_free (&buf);
}

Test (wire, plan_optional_fields_absent_decode_as_null)
{
    jad_plan_t plan = s_plan ();
    plan.artifact_url = NULL;
    plan.undoes = NULL;
    plan.strategy = NULL;
    plan.deployer = NULL;
    plan.kind = JAD_PLAN_DEPLOY;
    zchunk_t *chunk = jad_plan_encode (&plan);
    s_buf_t buf = s_from_chunk (&chunk);
    char err[JAD_ERR_LEN] = "";
    jad_plan_t *decoded = jad_plan_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_null (decoded->artifact_url);
    cr_assert_null (decoded->undoes);
    cr_assert_null (decoded->strategy);
    cr_assert_null (decoded->deployer);
    cr_assert_eq (decoded->kind, JAD_PLAN_DEPLOY);
    jad_plan_destroy (&decoded);
    s_free (&buf);
}

Test (wire, envelope_roundtrip)
{
    s_buf_t buf = s_envelope_bytes ();
    char err[JAD_ERR_LEN] = "";
    jad_envelope_t *decoded = jad_envelope_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->type, JAD_PAYLOAD_PLAN);
    cr_assert_eq (decoded->payload_size, sizeof ("signed bytes"));
    cr_assert_str_eq ((char *)decoded->payload, "signed bytes");
    cr_assert_eq (decoded->key_id[7], 0x11);
    cr_assert_eq (decoded->signature[63], 0x22);
    jad_envelope_destroy (&decoded);
    s_free (&buf);
}

Test (wire, agent_status_roundtrip)
{
    s_buf_t buf = s_status_bytes ();
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *decoded = jad_agent_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_AGENT_MSG_STATUS);
    jad_status_t *status = decoded->status;
    cr_assert_str_eq (status->name, "web-1");
    cr_assert_str_eq (status->environment, "prod");
    cr_assert_eq (status->last_sequence, 41);
    cr_assert_str_eq (status->incarnation, "a1b2c3d4");
    cr_assert (status->hello);
    cr_assert_str_eq (status->agent_version, JADUGAR_VERSION);
    cr_assert_eq (status->app_count, 2);
    cr_assert_str_eq (status->apps[0].app, "shop");
    cr_assert_str_eq (status->apps[0].version, "1.4.2");
    cr_assert_str_eq (status->apps[0].health, "healthy");
    cr_assert_str_eq (status->apps[0].plan_id, "p-0001");
    cr_assert_str_eq (status->apps[1].app, "blog");
    cr_assert_null (status->apps[1].version);
    cr_assert_null (status->apps[1].plan_id);
    jad_agent_msg_destroy (&decoded);
    cr_assert_null (decoded);
    s_free (&buf);
}

Test (wire, agent_ack_roundtrip)
{
    s_buf_t buf = s_ack_bytes ();
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *decoded = jad_agent_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_AGENT_MSG_ACK);
    cr_assert_str_eq (decoded->ack.plan_id, "p-0001");
    cr_assert_eq (decoded->ack.sequence, 42);
    cr_assert_null (decoded->status);
    cr_assert_null (decoded->report);
    jad_agent_msg_destroy (&decoded);
    s_free (&buf);
}

Test (wire, agent_report_roundtrip)
{
    jad_report_t report = s_report ();
    s_buf_t buf = s_report_bytes ();
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *decoded = jad_agent_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_AGENT_MSG_REPORT);
    jad_report_t *got = decoded->report;
    cr_assert_eq (got->report_id, report.report_id);
    cr_assert_str_eq (got->incarnation, report.incarnation);
    cr_assert_str_eq (got->plan_id, report.plan_id);
    cr_assert_str_eq (got->app, report.app);
    cr_assert_str_eq (got->version, report.version);
    cr_assert_str_eq (got->step, report.step);
    cr_assert_eq (got->status, JAD_REPORT_FAILED);
    cr_assert_str_eq (got->detail, report.detail);
    cr_assert_str_eq (got->output, report.output);
    cr_assert_eq (got->time, report.time);
    cr_assert_eq (got->duration_ms, report.duration_ms);
    jad_report_t *copy = jad_report_dup (got);
    jad_agent_msg_destroy (&decoded);
    cr_assert_str_eq (copy->output, report.output);
    cr_assert_str_eq (copy->step, report.step);
    jad_report_destroy (&copy);
    cr_assert_null (copy);
    s_free (&buf);
}

Test (wire, agent_fetch_roundtrip)
{
    s_buf_t buf = s_fetch_bytes ();
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *decoded = jad_agent_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_AGENT_MSG_FETCH);
    cr_assert_eq (decoded->fetch.sha256[31], 0x5a);
    cr_assert_eq (decoded->fetch.offset, 262144);
    cr_assert_eq (decoded->fetch.length, JAD_CHUNK_SIZE);
    jad_agent_msg_destroy (&decoded);
    s_free (&buf);
}

Test (wire, ctl_plan_roundtrip)
{
    jad_envelope_t envelope = {.type = JAD_PAYLOAD_PLAN};
    uint8_t payload[] = "plan bytes";
    envelope.payload = payload;
    envelope.payload_size = sizeof (payload);
    memset (envelope.key_id, 0x01, 8);
    memset (envelope.signature, 0x02, 64);
    jad_ctl_msg_t message = {.kind = JAD_CTL_MSG_PLAN, .plan = &envelope};
    zchunk_t *chunk = jad_ctl_msg_encode (&message);
    s_buf_t buf = s_from_chunk (&chunk);
    char err[JAD_ERR_LEN] = "";
    jad_ctl_msg_t *decoded = jad_ctl_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_CTL_MSG_PLAN);
    cr_assert_eq (decoded->plan->payload_size, sizeof (payload));
    cr_assert_eq (memcmp (decoded->plan->payload, payload, sizeof (payload)), 0);
    cr_assert_eq (decoded->plan->signature[0], 0x02);
    jad_ctl_msg_destroy (&decoded);
    cr_assert_null (decoded);
    s_free (&buf);
}

Test (wire, ctl_chunk_roundtrip)
{
    s_buf_t buf = s_chunk_msg_bytes ();
    char err[JAD_ERR_LEN] = "";
    jad_ctl_msg_t *decoded = jad_ctl_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_CTL_MSG_CHUNK);
    cr_assert_eq (decoded->chunk.offset, 100);
    cr_assert_eq (decoded->chunk.data_size, sizeof ("tar bytes"));
    cr_assert_str_eq ((char *)decoded->chunk.data, "tar bytes");
    cr_assert_eq (decoded->chunk.total, 100 + sizeof ("tar bytes"));
    cr_assert_null (decoded->chunk.error);
    jad_ctl_msg_destroy (&decoded);
    s_free (&buf);

    //  a refusal: no data, an error text
    jad_ctl_msg_t refusal = {.kind = JAD_CTL_MSG_CHUNK};
    memset (refusal.chunk.sha256, 0x5a, 32);
    refusal.chunk.error = "unknown artifact";
    zchunk_t *chunk = jad_ctl_msg_encode (&refusal);
    buf = s_from_chunk (&chunk);
    decoded = jad_ctl_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_str_eq (decoded->chunk.error, "unknown artifact");
    cr_assert_null (decoded->chunk.data);
    jad_ctl_msg_destroy (&decoded);
    s_free (&buf);
}

Test (wire, ctl_report_ack_roundtrip)
{
    uint64_t ids[] = {1, 2, 3, UINT64_MAX};
    jad_ctl_msg_t message = {.kind = JAD_CTL_MSG_REPORT_ACK};
    message.report_ack.incarnation = "a1b2c3d4";
    message.report_ack.report_ids = ids;
    message.report_ack.report_id_count = 4;
    zchunk_t *chunk = jad_ctl_msg_encode (&message);
    s_buf_t buf = s_from_chunk (&chunk);
    char err[JAD_ERR_LEN] = "";
    jad_ctl_msg_t *decoded = jad_ctl_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_CTL_MSG_REPORT_ACK);
    cr_assert_str_eq (decoded->report_ack.incarnation, "a1b2c3d4");
    cr_assert_eq (decoded->report_ack.report_id_count, 4);
    cr_assert_eq (memcmp (decoded->report_ack.report_ids, ids, sizeof (ids)), 0);
    jad_ctl_msg_destroy (&decoded);
    s_free (&buf);
}

Test (wire, ctl_metric_ack_roundtrip)
{
    jad_ctl_msg_t message = {.kind = JAD_CTL_MSG_METRIC_ACK};
    message.metric_ack.stream = "0123456789abcdef";
    message.metric_ack.seq = 42;
    zchunk_t *chunk = jad_ctl_msg_encode (&message);
    s_buf_t buf = s_from_chunk (&chunk);
    char err[JAD_ERR_LEN] = "";
    jad_ctl_msg_t *decoded = jad_ctl_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_CTL_MSG_METRIC_ACK);
    cr_assert_str_eq (decoded->metric_ack.stream, "0123456789abcdef");
    cr_assert_eq (decoded->metric_ack.seq, 42);
    jad_ctl_msg_destroy (&decoded);
    s_free (&buf);
    //  an ack names its stream
    message.metric_ack.stream = NULL;
    cr_assert_null (jad_ctl_msg_encode (&message));
}

Test (wire, metric_batch_stream_roundtrip)
{
    char *names[] = {"up"};
    uint32_t index[] = {0, 0};
    int64_t times[] = {1000, 2000};
    double values[] = {1, 2};
    jad_metric_batch_t batch = {.names = names,
                                .name_count = 1,
                                .name_index = index,
                                .times = times,
                                .values = values,
                                .sample_count = 2,
                                .stream = "feedc0de",
                                .seq = 7};
    jad_agent_msg_t message = {.kind = JAD_AGENT_MSG_METRICS, .metrics = &batch};
    zchunk_t *chunk = jad_agent_msg_encode (&message);
    s_buf_t buf = s_from_chunk (&chunk);
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *decoded = jad_agent_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_str_eq (decoded->metrics->stream, "feedc0de");
    cr_assert_eq (decoded->metrics->seq, 7);
    cr_assert_eq (decoded->metrics->sample_count, 2);
    jad_agent_msg_destroy (&decoded);
    s_free (&buf);
    //  without a stream (older agents) both stay empty
    batch.stream = NULL;
    batch.seq = 0;
    chunk = jad_agent_msg_encode (&message);
    buf = s_from_chunk (&chunk);
    decoded = jad_agent_msg_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_null (decoded->metrics->stream);
    jad_agent_msg_destroy (&decoded);
    s_free (&buf);
    //  a stream without a sequence number, or a stream id that is no name
    batch.stream = "feedc0de";
    cr_assert_null (jad_agent_msg_encode (&message));
    batch.stream = "bad id";
    batch.seq = 1;
    cr_assert_null (jad_agent_msg_encode (&message));
}

Test (wire, api_request_roundtrip)
{
    s_buf_t buf = s_api_request_bytes ();
    char err[JAD_ERR_LEN] = "";
    jad_api_request_t *decoded = jad_api_request_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->request_id, 9);
    cr_assert_str_eq (decoded->command, "deploy");
    cr_assert_eq (decoded->arg_count, 2);
    cr_assert_str_eq (jad_api_request_arg (decoded, "version"), "1.4.2");
    cr_assert_str_eq (jad_api_request_arg (decoded, "app"), "shop");
    cr_assert_null (jad_api_request_arg (decoded, "env"));
    cr_assert_null (decoded->blob);
    jad_api_request_destroy (&decoded);
    s_free (&buf);

    uint8_t blob[1000];
    memset (blob, 0xee, sizeof (blob));
    jad_api_request_t upload = {
        .request_id = 10, .command = "artifact.upload", .blob = blob, .blob_size = 1000};
    zchunk_t *chunk = jad_api_request_encode (&upload);
    buf = s_from_chunk (&chunk);
    decoded = jad_api_request_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_str_eq (decoded->command, "artifact.upload");
    cr_assert_eq (decoded->blob_size, 1000);
    cr_assert_eq (memcmp (decoded->blob, blob, 1000), 0);
    cr_assert_eq (decoded->arg_count, 0);
    jad_api_request_destroy (&decoded);
    s_free (&buf);
}

Test (wire, api_response_roundtrip)
{
    jad_api_response_t response = {
        .request_id = 9, .status = 2, .error = "refused: role viewer", .json = "{\"ok\":false}"};
    zchunk_t *chunk = jad_api_response_encode (&response);
    s_buf_t buf = s_from_chunk (&chunk);
    char err[JAD_ERR_LEN] = "";
    jad_api_response_t *decoded = jad_api_response_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->request_id, 9);
    cr_assert_eq (decoded->status, 2);
    cr_assert_str_eq (decoded->error, response.error);
    cr_assert_str_eq (decoded->json, response.json);
    jad_api_response_destroy (&decoded);
    cr_assert_null (decoded);
    s_free (&buf);
}

//  --------------------------------------------------------------------------
//  Bad input

Test (wire, rejects_every_truncation)
{
    //  Messages whose last field is required: every strict prefix is invalid
    jad_plan_t plan = s_plan ();
    plan.artifact_url = plan.undoes = plan.strategy = plan.deployer = NULL;
    plan.hook_timeout_ms = plan.step_deadline_ms = 0;
    zchunk_t *chunk = jad_plan_encode (&plan);
    s_buf_t samples[] = {s_envelope_bytes (), s_from_chunk (&chunk), s_ack_bytes (),
                         s_fetch_bytes (), s_chunk_msg_bytes ()};
    const s_codec_t *codecs[] = {&s_codecs[0], &s_codecs[1], &s_codecs[2], &s_codecs[2],
                                 &s_codecs[3]};
    for (size_t sample = 0; sample < 5; sample++) {
        for (size_t size = 0; size < samples[sample].size; size++) {
            //  an exact-size copy, so ASan sees any read past the end
            uint8_t *prefix = malloc (size + 1);
            memcpy (prefix, samples[sample].data, size);
            s_buf_t cut = {prefix, size, size + 1};
            s_rejects (codecs[sample], &cut, NULL);
            free (prefix);
        }
        s_free (&samples[sample]);
    }
}

Test (wire, survives_truncated_status_and_report)
{
    //  Trailing optional fields may be cut validly; nothing may crash
    s_buf_t samples[] = {s_status_bytes (), s_report_bytes (), s_api_request_bytes ()};
    const s_codec_t *codecs[] = {&s_codecs[2], &s_codecs[2], &s_codecs[4]};
    for (size_t sample = 0; sample < 3; sample++) {
        for (size_t size = 0; size < samples[sample].size; size++) {
            uint8_t *prefix = malloc (size + 1);
            memcpy (prefix, samples[sample].data, size);
            char err[JAD_ERR_LEN] = "";
            void *self = codecs[sample]->decode (prefix, size, err);
            cr_assert (self || err[0], "no error for a refused prefix");
            codecs[sample]->destroy (&self);
            free (prefix);
        }
        //  one byte short cuts the body's length: always refused
        s_buf_t cut = {samples[sample].data, samples[sample].size - 1, 0};
        s_rejects (codecs[sample], &cut, NULL);
        s_free (&samples[sample]);
    }
}

Test (wire, rejects_random_garbage)
{
    uint8_t seed[randombytes_SEEDBYTES] = "jadugar wire garbage test seed.";
    uint8_t *noise = malloc (4096);
    cr_assert (sodium_init () >= 0);
    for (int round = 0; round < 2000; round++) {
        seed[0] = (uint8_t)round;
        seed[1] = (uint8_t)(round >> 8);
        size_t size = (size_t)(round * 7919) % 4096;
        randombytes_buf_deterministic (noise, size, seed);
        s_buf_t buf = {noise, size, 4096};
        for (size_t index = 0; index < S_CODECS; index++)
            s_rejects (&s_codecs[index], &buf, NULL);
    }
    free (noise);
}

Test (wire, rejects_flipped_bytes_without_crashing)
{
    //  Every single-bit flip of a valid status: refused or still valid, never a crash
    s_buf_t buf = s_status_bytes ();
    for (size_t index = 0; index < buf.size; index++)
        for (int bit = 0; bit < 8; bit++) {
            buf.data[index] ^= (uint8_t)(1 << bit);
            char err[JAD_ERR_LEN] = "";
            jad_agent_msg_t *decoded = jad_agent_msg_decode (buf.data, buf.size, err);
            cr_assert (decoded || err[0]);
            jad_agent_msg_destroy (&decoded);
            buf.data[index] ^= (uint8_t)(1 << bit);
        }
    s_free (&buf);
}

Test (wire, rejects_oversized_input_before_parsing)
{
    for (size_t index = 0; index < S_CODECS; index++) {
        const s_codec_t *codec = &s_codecs[index];
        //  a buffer one byte over the cap
        uint8_t *big = calloc (1, codec->cap + 1);
        s_buf_t buf = {big, codec->cap + 1, codec->cap + 1};
        s_rejects (codec, &buf, "too large");
        free (big);
    }
    //  a valid plan padded past the cap with an unknown field is refused;
    //  padded to exactly the cap it is accepted
    s_buf_t plan = s_plan_bytes ();
    size_t room = JAD_MAX_PLAN_BYTES - plan.size - 5;  //  tag (2 bytes) + length (3 bytes)
    uint8_t *filler = calloc (1, room + 1);
    s_buf_t exact = s_copy (&plan);
    s_field_bytes (&exact, 100, filler, room);
    cr_assert_eq (exact.size, JAD_MAX_PLAN_BYTES);
    char err[JAD_ERR_LEN] = "";
    jad_plan_t *decoded = jad_plan_decode (exact.data, exact.size, err);
    cr_assert_not_null (decoded, "%s", err);
    jad_plan_destroy (&decoded);
    s_buf_t over = s_copy (&plan);
    s_field_bytes (&over, 100, filler, room + 1);
    cr_assert_eq (over.size, JAD_MAX_PLAN_BYTES + 1);
    s_plan_rejects (&over, "too large (65537 bytes, limit 65536)");
    s_free (&over);
    s_free (&exact);
    s_free (&plan);
    free (filler);
}

Test (wire, rejects_wrong_protocol_version)
{
    s_buf_t samples[] = {s_envelope_bytes (), s_plan_bytes (), s_ack_bytes (), s_chunk_msg_bytes (),
                         s_api_request_bytes ()};
    const s_codec_t *codecs[] = {&s_codecs[0], &s_codecs[1], &s_codecs[2], &s_codecs[3],
                                 &s_codecs[4]};
    for (size_t sample = 0; sample < 5; sample++) {
        //  the plan envelope and the plan speak the plans' version
        bool plan = sample < 2;
        s_buf_t newer = s_copy (&samples[sample]);
        s_field_varint (&newer, 1, plan ? JAD_PLAN_PROTOCOL + 1 : JAD_PROTOCOL + 1);
        s_rejects (codecs[sample], &newer,
                   plan ? "protocol 3, plans need 2" : "protocol 2 is not supported");
        if (plan) {  //  a plan of protocol 1 listed its targets: refused
            s_buf_t older = s_copy (&samples[sample]);
            s_field_varint (&older, 1, JAD_PROTOCOL);
            s_rejects (codecs[sample], &older, "protocol 1, plans need 2");
            s_free (&older);
        }
        s_buf_t none = s_copy (&samples[sample]);
        s_field_varint (&none, 1, 0);
        s_rejects (codecs[sample], &none, "protocol 0");
        s_free (&newer);
        s_free (&none);
        s_free (&samples[sample]);
    }
    //  an api response with only a status and no protocol
    s_buf_t response = {NULL, 0, 0};
    s_field_varint (&response, 3, 1);
    s_rejects (&s_codecs[5], &response, "protocol 0");
    s_free (&response);
}

//  A plan written field by field, leaving out field `skip`.
static s_buf_t s_plan_without (uint32_t skip)
{
    s_buf_t buf = {NULL, 0, 0};
    uint8_t sha[32] = {1};
    uint8_t root[32] = {7};
    if (skip != 1)
        s_field_varint (&buf, 1, JAD_PLAN_PROTOCOL);
    if (skip != 2)
        s_field_str (&buf, 2, "p-1");
    if (skip != 3)
        s_field_str (&buf, 3, "prod");
    if (skip != 28)
        s_field_bytes (&buf, 28, root, 32);
    if (skip != 29)
        s_field_varint (&buf, 29, 2);
    if (skip != 5)
        s_field_varint (&buf, 5, 7);
    if (skip != 6)
        s_field_varint (&buf, 6, NOW_MS);
    if (skip != 7)
        s_field_varint (&buf, 7, NOW_MS + 1000);
    if (skip != 8)
        s_field_str (&buf, 8, "shop");
    if (skip != 9)
        s_field_str (&buf, 9, "1.0");
    if (skip != 10)
        s_field_bytes (&buf, 10, sha, 32);
    if (skip != 11)
        s_field_varint (&buf, 11, 99);
    if (skip != 13)
        s_field_varint (&buf, 13, JAD_PLAN_DEPLOY);
    return buf;
}

Test (wire, rejects_plan_missing_required_field)
{
    s_buf_t complete = s_plan_without (0);
    char err[JAD_ERR_LEN] = "";
    jad_plan_t *decoded = jad_plan_decode (complete.data, complete.size, err);
    cr_assert_not_null (decoded, "the complete hand-written plan is valid: %s", err);
    jad_plan_destroy (&decoded);
    s_free (&complete);

    struct {
        uint32_t field;
        const char *phrase;
    } cases[] = {
        {1, "protocol 0"},
        {2, "field 'plan_id' is missing"},
        {3, "field 'environment' is missing"},
        {28, "field 'targets_root' is missing"},
        {29, "field 'target_count' must be 1 to 100000 (got 0)"},
        {5, "field 'sequence' is missing"},
        {6, "field 'issued_at' is missing"},
        {7, "field 'expires_at' is not after 'issued_at'"},
        {8, "field 'app' is missing"},
        {9, "field 'version' is missing"},
        {10, "field 'artifact_sha256' must be 32 bytes (got 0)"},
        {11, "field 'artifact_length' is missing"},
        {13, "field 'kind' is missing"},
    };
    for (size_t index = 0; index < sizeof (cases) / sizeof (cases[0]); index++) {
        s_buf_t buf = s_plan_without (cases[index].field);
        s_plan_rejects (&buf, cases[index].phrase);
        s_free (&buf);
    }
    //  the same fields present but empty or zero
    s_plan_string_rejects (2, "", 0, "field 'plan_id' is missing");
    s_plan_string_rejects (10, "short", 5, "field 'artifact_sha256' must be 32 bytes (got 5)");
    s_buf_t extra = {NULL, 0, 0};
    s_field_varint (&extra, 5, 0);
    s_plan_override_rejects (&extra, "field 'sequence' is missing");
    s_free (&extra);
    s_field_varint (&extra, 13, 3);
    s_plan_override_rejects (&extra, "field 'kind' is missing or unknown (3)");
    s_free (&extra);
    s_field_varint (&extra, 7, NOW_MS);
    s_plan_override_rejects (&extra, "'expires_at'");
    s_free (&extra);
}

Test (wire, rejects_agent_message_missing_required_field)
{
    s_buf_t ack = s_ack_bytes ();
    s_buf_t extra = {NULL, 0, 0};
    s_field_str (&extra, 1, "");
    s_body_override_rejects (&ack, &extra, "field 'ack.plan_id' is missing");
    s_free (&extra);
    s_field_varint (&extra, 2, 0);
    s_body_override_rejects (&ack, &extra, "field 'ack.sequence' is missing");
    s_free (&extra);

    s_buf_t status = s_status_bytes ();
    s_field_str (&extra, 1, "");
    s_body_override_rejects (&status, &extra, "field 'status.name' is missing");
    s_free (&extra);
    s_field_str (&extra, 4, "");
    s_body_override_rejects (&status, &extra, "field 'status.incarnation' is missing");
    s_free (&extra);

    s_buf_t report = s_report_bytes ();
    s_field_str (&extra, 2, "");
    s_body_override_rejects (&report, &extra, "field 'report.incarnation' is missing");
    s_free (&extra);
    s_field_varint (&extra, 7, 0);
    s_body_override_rejects (&report, &extra, "field 'report.status' is missing");
    s_free (&extra);
    s_field_varint (&extra, 7, 8);
    s_body_override_rejects (&report, &extra, "unknown (8)");
    s_free (&extra);

    s_buf_t fetch = s_fetch_bytes ();
    s_field_bytes (&extra, 1, "", 0);
    s_body_override_rejects (&fetch, &extra, "field 'fetch.sha256' must be 32 bytes");
    s_free (&extra);
    s_field_varint (&extra, 3, 0);
    s_body_override_rejects (&fetch, &extra, "field 'fetch.length'");
    s_free (&extra);

    s_free (&ack);
    s_free (&status);
    s_free (&report);
    s_free (&fetch);
}

static const char *s_bad_names[] = {
    "../x",
    "a b",
    ".hidden",
    "-rf",
    "x/y",
    "tab\there",
    "quote'",
    "name\n",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",  //  65
    "caf\xc3\xa9",
};
#define S_BAD_NAMES (sizeof (s_bad_names) / sizeof (s_bad_names[0]))

Test (wire, rejects_invalid_names_in_plan)
{
    struct {
        uint32_t field;
        const char *name;
    } fields[] = {{2, "plan_id"}, {3, "environment"}, {8, "app"}, {9, "version"}, {14, "undoes"}};
    for (size_t field = 0; field < sizeof (fields) / sizeof (fields[0]); field++)
        for (size_t index = 0; index < S_BAD_NAMES; index++) {
            char phrase[64];
            snprintf (phrase, sizeof (phrase), "field '%s' is not a valid name",
                      fields[field].name);
            s_plan_string_rejects (fields[field].field, s_bad_names[index],
                                   strlen (s_bad_names[index]), phrase);
        }
    //  a 64-character name is fine
    s_buf_t buf = s_plan_bytes ();
    s_field_str (&buf, 3, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    char err[JAD_ERR_LEN] = "";
    jad_plan_t *decoded = jad_plan_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    jad_plan_destroy (&decoded);
    s_free (&buf);
}

Test (wire, rejects_invalid_names_in_agent_messages)
{
    s_buf_t status = s_status_bytes ();
    s_buf_t report = s_report_bytes ();
    s_buf_t ack = s_ack_bytes ();
    for (size_t index = 0; index < S_BAD_NAMES; index++) {
        const char *name = s_bad_names[index];
        s_buf_t extra = {NULL, 0, 0};
        s_field_str (&extra, 1, name);
        s_body_override_rejects (&status, &extra, "field 'status.name' is not a valid name");
        s_body_override_rejects (&ack, &extra, "field 'ack.plan_id' is not a valid name");
        s_free (&extra);
        s_field_str (&extra, 4, name);
        s_body_override_rejects (&status, &extra, "'status.incarnation' is not a valid name");
        s_free (&extra);
        //  an app entry with a bad name
        s_buf_t app = {NULL, 0, 0};
        s_field_str (&app, 1, name);
        s_field_bytes (&extra, 6, app.data, app.size);
        s_body_override_rejects (&status, &extra, "'status.apps[2].app' is not a valid name");
        s_free (&extra);
        s_free (&app);

        const struct {
            uint32_t field;
            const char *phrase;
        } report_fields[] = {
            {2, "'report.incarnation' is not a valid name"},
            {3, "'report.plan_id' is not a valid name"},
            {4, "'report.app' is not a valid name"},
            {5, "'report.version' is not a valid name"},
            {6, "'report.step' is not a valid name"},
        };
        for (size_t field = 0; field < 5; field++) {
            s_field_str (&extra, report_fields[field].field, name);
            s_body_override_rejects (&report, &extra, report_fields[field].phrase);
            s_free (&extra);
        }
    }
    s_free (&status);
    s_free (&report);
    s_free (&ack);
}

Test (wire, rejects_embedded_nul_in_strings)
{
    s_plan_string_rejects (2, "p-1\0evil", 8, "field 'plan_id' is not a valid name");
    s_plan_string_rejects (15, "rolling\0x", 9, "field 'strategy' is not valid UTF-8 text");
    s_plan_string_rejects (12, "\0", 1, "field 'artifact_url' is not valid UTF-8 text");
    s_buf_t report = s_report_bytes ();
    s_buf_t extra = {NULL, 0, 0};
    s_field_bytes (&extra, 8, "ok\0hidden", 9);
    s_body_override_rejects (&report, &extra, "field 'report.detail' is not valid UTF-8 text");
    s_free (&extra);
    s_free (&report);
    //  in an api request's command and args
    s_buf_t request = s_api_request_bytes ();
    s_field_bytes (&request, 3, "deploy\0", 7);
    s_rejects (&s_codecs[4], &request, "field 'command'");
    s_free (&request);
}

Test (wire, rejects_invalid_utf8)
{
    const char *bad[] = {"\xff",         "\xc0\xaf",         "abc\x80",
                         "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad[0]); index++) {
        s_plan_string_rejects (15, bad[index], strlen (bad[index]),
                               "field 'strategy' is not valid UTF-8 text");
        s_plan_string_rejects (12, bad[index], strlen (bad[index]),
                               "field 'artifact_url' is not valid UTF-8 text");
        s_buf_t report = s_report_bytes ();
        s_buf_t extra = {NULL, 0, 0};
        s_field_str (&extra, 9, bad[index]);
        s_body_override_rejects (&report, &extra, "'report.output' is not valid UTF-8 text");
        s_free (&extra);
        s_free (&report);
        s_buf_t response = {NULL, 0, 0};
        s_field_varint (&response, 1, JAD_PROTOCOL);
        s_field_str (&response, 5, bad[index]);
        s_rejects (&s_codecs[5], &response, "field 'json' is not valid UTF-8 text");
        s_free (&response);
    }
    //  valid multi-byte text is fine
    s_buf_t buf = s_plan_bytes ();
    s_field_str (&buf, 15, "canary \xe2\x86\x92 10%");
    char err[JAD_ERR_LEN] = "";
    jad_plan_t *decoded = jad_plan_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    jad_plan_destroy (&decoded);
    s_free (&buf);
}

Test (wire, rejects_two_bodies_and_empty_body)
{
    s_buf_t ack = s_ack_bytes ();
    s_buf_t fetch = s_fetch_bytes ();
    //  ack followed by a fetch body: protobuf would keep only the fetch
    s_buf_t both = s_copy (&ack);
    s_put (&both, fetch.data + 2, fetch.size - 2);
    s_agent_rejects (&both, "more than one body");
    s_free (&both);
    //  the same body twice (protobuf would merge them)
    both = s_copy (&ack);
    s_put (&both, ack.data + 2, ack.size - 2);
    s_agent_rejects (&both, "more than one body");
    s_free (&both);
    //  no body at all
    s_buf_t empty = {NULL, 0, 0};
    s_field_varint (&empty, 1, JAD_PROTOCOL);
    s_agent_rejects (&empty, "no body");
    s_rejects (&s_codecs[3], &empty, "no body");
    //  an empty body message is still a body, but misses its fields
    s_buf_t hollow = s_copy (&empty);
    s_field_bytes (&hollow, 3, "", 0);
    s_agent_rejects (&hollow, "field 'ack.plan_id' is missing");
    s_free (&hollow);
    s_free (&empty);
    //  controller messages: plan plus chunk
    s_buf_t chunk = s_chunk_msg_bytes ();
    s_buf_t envelope = s_envelope_bytes ();
    both = s_copy (&chunk);
    s_field_bytes (&both, 2, envelope.data, envelope.size);
    s_rejects (&s_codecs[3], &both, "more than one body");
    s_free (&both);
    s_free (&chunk);
    s_free (&envelope);
    s_free (&ack);
    s_free (&fetch);
    //  and the encoder refuses a message without a body
    jad_agent_msg_t nothing = {.kind = JAD_AGENT_MSG_NONE};
    cr_assert_null (jad_agent_msg_encode (&nothing));
    jad_ctl_msg_t nothing_ctl = {.kind = JAD_CTL_MSG_PLAN};
    cr_assert_null (jad_ctl_msg_encode (&nothing_ctl));
}

Test (wire, rejects_huge_repeated_fields)
{
    //  100001 names of protocol 1's field 4 cannot fit in a plan: refused
    //  by size, before parsing
    s_buf_t buf = s_plan_bytes ();
    for (int index = 0; index <= JAD_MAX_TARGETS; index++)
        s_field_str (&buf, 4, "a");
    s_plan_rejects (&buf, "too large");
    s_free (&buf);
    //  and the encoder refuses to commit to 100001 targets
    char **targets = calloc (JAD_MAX_TARGETS + 1, sizeof (char *));
    char (*names)[16] = calloc (JAD_MAX_TARGETS + 1, 16);
    for (int index = 0; index <= JAD_MAX_TARGETS; index++) {
        snprintf (names[index], 16, "a%d", index);
        targets[index] = names[index];
    }
    jad_plan_t plan = s_plan ();
    plan.targets = targets;
    plan.target_count = JAD_MAX_TARGETS + 1;
    cr_assert_null (jad_plan_encode (&plan));
    free (targets);
    free (names);

    //  257 apps in a status
    s_buf_t status = s_status_bytes ();
    s_buf_t extra = {NULL, 0, 0}, app = {NULL, 0, 0};
    s_field_str (&app, 1, "shop");
    for (int index = 0; index < JAD_MAX_APPS - 2; index++)  //  the fixture has 2
        s_field_bytes (&extra, 6, app.data, app.size);
    s_buf_t fits = s_body_plus (&status, &extra);
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *decoded = jad_agent_msg_decode (fits.data, fits.size, err);
    cr_assert_not_null (decoded, "256 apps are allowed: %s", err);
    cr_assert_eq (decoded->status->app_count, JAD_MAX_APPS);
    jad_agent_msg_destroy (&decoded);
    s_free (&fits);
    s_field_bytes (&extra, 6, app.data, app.size);
    s_body_override_rejects (&status, &extra, "too many apps (257, limit 256)");
    s_free (&extra);

    //  300000 empty apps: refused by the decoder's memory budget
    for (int index = 0; index < 300000; index++)
        s_field_bytes (&extra, 6, "", 0);
    s_body_override_rejects (&status, &extra, "too much memory");
    s_free (&extra);
    s_free (&app);
    s_free (&status);

    //  4097 args in an api request
    s_buf_t request = s_api_request_bytes ();
    s_buf_t arg = {NULL, 0, 0};
    s_field_str (&arg, 1, "k");
    for (int index = 0; index < 4096; index++)
        s_field_bytes (&request, 4, arg.data, arg.size);
    s_rejects (&s_codecs[4], &request, "too many args");
    s_free (&arg);
    s_free (&request);
}

Test (wire, rejects_wrong_byte_lengths)
{
    s_plan_string_rejects (10, "0123456789012345678901234567890", 31,
                           "field 'artifact_sha256' must be 32 bytes (got 31)");
    s_plan_string_rejects (10, "012345678901234567890123456789012", 33,
                           "field 'artifact_sha256' must be 32 bytes (got 33)");
    s_buf_t envelope = s_envelope_bytes ();
    s_buf_t buf = s_copy (&envelope);
    s_field_bytes (&buf, 4, "1234567", 7);
    s_rejects (&s_codecs[0], &buf, "field 'key_id' must be 8 bytes (got 7)");
    s_free (&buf);
    uint8_t signature[65] = {0};
    buf = s_copy (&envelope);
    s_field_bytes (&buf, 5, signature, 63);
    s_rejects (&s_codecs[0], &buf, "field 'signature' must be 64 bytes (got 63)");
    s_free (&buf);
    buf = s_copy (&envelope);
    s_field_bytes (&buf, 5, signature, 65);
    s_rejects (&s_codecs[0], &buf, "field 'signature' must be 64 bytes (got 65)");
    s_free (&buf);
    buf = s_copy (&envelope);
    s_field_bytes (&buf, 3, "", 0);
    s_rejects (&s_codecs[0], &buf, "field 'payload' is missing");
    s_free (&buf);
    buf = s_copy (&envelope);
    s_field_varint (&buf, 2, 0);
    s_rejects (&s_codecs[0], &buf, "field 'type' is missing");
    s_free (&buf);
    s_free (&envelope);
}

Test (wire, rejects_values_over_caps)
{
    //  fetch length over the chunk size
    s_buf_t fetch = s_fetch_bytes ();
    s_buf_t extra = {NULL, 0, 0};
    s_field_varint (&extra, 3, JAD_CHUNK_SIZE + 1);
    s_body_override_rejects (&fetch, &extra, "field 'fetch.length' must be 1..");
    s_free (&extra);
    s_free (&fetch);

    //  report output and detail over their caps; at the cap is fine
    s_buf_t report = s_report_bytes ();
    char *text = malloc (JAD_MAX_OUTPUT + 2);
    memset (text, 'x', JAD_MAX_OUTPUT + 1);
    text[JAD_MAX_OUTPUT + 1] = 0;
    s_field_str (&extra, 9, text);
    s_body_override_rejects (&report, &extra, "field 'report.output' is too long");
    s_free (&extra);
    text[JAD_MAX_OUTPUT] = 0;
    s_field_str (&extra, 9, text);
    s_buf_t fits = s_body_plus (&report, &extra);
    char err[JAD_ERR_LEN] = "";
    jad_agent_msg_t *decoded = jad_agent_msg_decode (fits.data, fits.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (strlen (decoded->report->output), JAD_MAX_OUTPUT);
    jad_agent_msg_destroy (&decoded);
    s_free (&fits);
    s_free (&extra);
    text[JAD_MAX_DETAIL + 1] = 0;
    s_field_str (&extra, 8, text);
    s_body_override_rejects (&report, &extra, "field 'report.detail' is too long");
    s_free (&extra);
    free (text);
    s_free (&report);

    //  chunk data over the chunk size, and data past the total
    jad_ctl_msg_t message = {.kind = JAD_CTL_MSG_CHUNK};
    message.chunk.data = calloc (1, JAD_CHUNK_SIZE + 1);
    message.chunk.data_size = JAD_CHUNK_SIZE + 1;
    message.chunk.total = JAD_CHUNK_SIZE + 1;
    cr_assert_null (jad_ctl_msg_encode (&message));
    message.chunk.data_size = 10;
    message.chunk.total = 5;
    cr_assert_null (jad_ctl_msg_encode (&message));
    free (message.chunk.data);
}

Test (wire, rejects_invalid_api_command)
{
    const char *bad[] = {"Deploy",
                         "deploy!",
                         "agent_list",
                         "deploy now",
                         "dep/loy",
                         "d3ploy",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    s_buf_t request = s_api_request_bytes ();
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad[0]); index++) {
        s_buf_t buf = s_copy (&request);
        s_field_str (&buf, 3, bad[index]);
        s_rejects (&s_codecs[4], &buf, "field 'command' is not a valid command name");
        s_free (&buf);
    }
    s_buf_t buf = s_copy (&request);
    s_field_str (&buf, 3, "");
    s_rejects (&s_codecs[4], &buf, "field 'command' is missing");
    s_free (&buf);
    //  args need a key
    buf = s_copy (&request);
    s_buf_t arg = {NULL, 0, 0};
    s_field_str (&arg, 2, "value without key");
    s_field_bytes (&buf, 4, arg.data, arg.size);
    s_rejects (&s_codecs[4], &buf, "field 'args[2].key' is missing");
    s_free (&arg);
    s_free (&buf);
    s_free (&request);
}

Test (wire, encoder_refuses_invalid_message)
{
    jad_plan_t plan = s_plan ();
    plan.environment = "../prod";
    cr_assert_null (jad_plan_encode (&plan));
    plan = s_plan ();
    plan.sequence = 0;
    cr_assert_null (jad_plan_encode (&plan));
    plan = s_plan ();
    plan.target_count = 0;
    cr_assert_null (jad_plan_encode (&plan));

    jad_report_t report = s_report ();
    report.step = "bad step";
    jad_agent_msg_t message = {.kind = JAD_AGENT_MSG_REPORT, .report = &report};
    cr_assert_null (jad_agent_msg_encode (&message));

    jad_api_request_t request = {.command = "Deploy"};
    cr_assert_null (jad_api_request_encode (&request));
}

Test (wire, names_of_enum_values)
{
    cr_assert_str_eq (jad_report_status_name (JAD_REPORT_STARTED), "started");
    cr_assert_str_eq (jad_report_status_name (JAD_REPORT_REFUSED), "refused");
    cr_assert_str_eq (jad_report_status_name (99), "unknown");
    cr_assert_str_eq (jad_plan_kind_name (JAD_PLAN_DEPLOY), "deploy");
    cr_assert_str_eq (jad_plan_kind_name (JAD_PLAN_ROLLBACK), "rollback");
    cr_assert_str_eq (jad_plan_kind_name (0), "unknown");
}

Test (wire, destroy_accepts_null)
{
    jad_plan_t *plan = NULL;
    jad_plan_destroy (&plan);
    jad_plan_destroy (NULL);
    jad_envelope_destroy (NULL);
    jad_agent_msg_destroy (NULL);
    jad_ctl_msg_destroy (NULL);
    jad_api_request_destroy (NULL);
    jad_api_response_destroy (NULL);
    jad_status_destroy (NULL);
    jad_report_destroy (NULL);
    cr_assert_null (jad_plan_dup (NULL));
    cr_assert_null (jad_report_dup (NULL));
}

Test (wire, plan_task_fields_roundtrip)
{
    jad_plan_t plan = s_plan ();
    char *migrations[] = {"3.0", "2.0"};
    plan.action = JAD_PLAN_ACTION_MIGRATE_DOWN;
    plan.migrations = migrations;
    plan.migration_count = 2;
    zchunk_t *chunk = jad_plan_encode (&plan);
    cr_assert_not_null (chunk);
    s_buf_t buf = s_from_chunk (&chunk);
    char err[JAD_ERR_LEN] = "";
    jad_plan_t *decoded = jad_plan_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->action, JAD_PLAN_ACTION_MIGRATE_DOWN);
    cr_assert_eq (decoded->migration_count, 2);
    cr_assert_str_eq (decoded->migrations[0], "3.0");
    cr_assert_str_eq (decoded->migrations[1], "2.0");
    jad_plan_t *copy = jad_plan_dup (decoded);
    cr_assert_not_null (copy);
    cr_assert_str_eq (copy->migrations[1], "2.0");
    jad_plan_destroy (&copy);
    jad_plan_destroy (&decoded);
    s_free (&buf);
}

Test (wire, plan_refuses_bad_task_fields)
{
    jad_plan_t plan = s_plan ();
    //  migrate_down without versions, and a version that is not a name
    plan.action = JAD_PLAN_ACTION_MIGRATE_DOWN;
    zchunk_t *chunk = jad_plan_encode (&plan);
    cr_assert_null (chunk, "a migrate_down task without migrations was encoded");
    char *bad[] = {"../etc"};
    plan.migrations = bad;
    plan.migration_count = 1;
    chunk = jad_plan_encode (&plan);
    cr_assert_null (chunk, "a migration that is not a name was encoded");
    plan.migrations = NULL;
    plan.migration_count = 0;
    plan.action = 9;
    chunk = jad_plan_encode (&plan);
    cr_assert_null (chunk, "an unknown action was encoded");
}

//  Row 25: what an agent may store about itself is bounded: an enrollment
//  with 4 KB of "metadata" in its name never reaches the agents table.
Test (wire, enroll_roundtrip_and_bounded_names)
{
    jad_agent_msg_t enroll = {.kind = JAD_AGENT_MSG_ENROLL};
    enroll.enroll.name = "host-1";
    enroll.enroll.environment = "dev";
    enroll.enroll.token = "secret-token";
    zchunk_t *wire = jad_agent_msg_encode (&enroll);
    cr_assert_not_null (wire);
    jad_agent_msg_t *decoded = jad_agent_msg_decode (zchunk_data (wire), zchunk_size (wire), NULL);
    zchunk_destroy (&wire);
    cr_assert_not_null (decoded);
    cr_assert_eq (decoded->kind, JAD_AGENT_MSG_ENROLL);
    cr_assert_str_eq (decoded->enroll.name, "host-1");
    cr_assert_str_eq (decoded->enroll.token, "secret-token");
    jad_agent_msg_destroy (&decoded);

    char *big = malloc (4097);
    memset (big, 'a', 4096);
    big[4096] = 0;
    enroll.enroll.name = big;
    cr_assert_null (jad_agent_msg_encode (&enroll));
    //  and raw bytes carrying it are refused by the decoder
    Jadugar__Enroll body = JADUGAR__ENROLL__INIT;
    body.name = big;
    body.environment = "dev";
    Jadugar__AgentMsg message = JADUGAR__AGENT_MSG__INIT;
    message.protocol = JAD_PROTOCOL;
    message.body_case = JADUGAR__AGENT_MSG__BODY_ENROLL;
    message.enroll = &body;
    size_t size = jadugar__agent_msg__get_packed_size (&message);
    uint8_t *bytes = malloc (size);
    jadugar__agent_msg__pack (&message, bytes);
    char err[JAD_ERR_LEN] = "";
    cr_assert_null (jad_agent_msg_decode (bytes, size, err));
    cr_assert (strstr (err, "enroll.name"), "%s", err);
    free (bytes);
    free (big);
}

//  Plans commit to their targets: the encoder refuses a bad or repeated
//  name, and the decoder a root that is not 32 bytes or a count out of
//  range; protocol 1's listed targets (fields 4, 22) are not read.
Test (wire, plan_commits_to_its_targets)
{
    jad_plan_t plan = s_plan ();
    char *repeated[] = {"web-1", "web-2", "web-1"};
    plan.targets = repeated;
    cr_assert_null (jad_plan_encode (&plan));
    char err[JAD_ERR_LEN] = "";
    cr_assert_null (jad_plan_commit (&plan, err));
    cr_assert (strstr (err, "target 'web-1' is listed twice"), "%s", err);
    char *invalid[] = {"web-1", "../etc", "web-2"};
    plan.targets = invalid;
    cr_assert_null (jad_plan_encode (&plan));
    cr_assert_null (jad_plan_commit (&plan, err));
    cr_assert (strstr (err, "'../etc' is not a valid name"), "%s", err);

    //  the same targets in another order: the same root; another plan id
    //  or sequence: another root
    jad_plan_t first = s_plan (), second = s_plan ();
    char *one[] = {"web-1", "web-2", "db-1"}, *two[] = {"db-1", "web-2", "web-1"};
    first.targets = one;
    second.targets = two;
    jad_merkle_t *tree_one = jad_plan_commit (&first, err);
    jad_merkle_t *tree_two = jad_plan_commit (&second, err);
    cr_assert (tree_one && tree_two);
    cr_assert_arr_eq (first.targets_root, second.targets_root, 32);
    jad_merkle_destroy (&tree_two);
    second.targets = two;
    second.sequence++;
    tree_two = jad_plan_commit (&second, err);
    cr_assert_arr_neq (first.targets_root, second.targets_root, 32);
    jad_merkle_destroy (&tree_two);
    second.sequence--;
    second.plan_id = "p-0002";
    tree_two = jad_plan_commit (&second, err);
    cr_assert_arr_neq (first.targets_root, second.targets_root, 32);
    jad_merkle_destroy (&tree_two);
    jad_merkle_destroy (&tree_one);

    //  the decoder: root and count checked, old fields ignored
    s_buf_t buf = s_plan_bytes ();
    s_buf_t bad = s_copy (&buf);
    s_field_bytes (&bad, 28, "short", 5);
    s_plan_rejects (&bad, "field 'targets_root' must be 32 bytes (got 5)");
    s_free (&bad);
    bad = s_copy (&buf);
    s_field_varint (&bad, 29, JAD_MAX_TARGETS + 1);
    s_plan_rejects (&bad, "field 'target_count' must be 1 to 100000 (got 100001)");
    s_free (&bad);
    s_buf_t old = s_copy (&buf);
    s_field_str (&old, 4, "web-9");
    s_field_str (&old, 22, "web-9\nweb-8");
    jad_plan_t *decoded = jad_plan_decode (old.data, old.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_null (decoded->targets);
    cr_assert_not (jad_plan_targets (decoded, "web-9"));
    jad_plan_destroy (&decoded);
    s_free (&old);
    s_free (&buf);
}

//  The proof travels in the envelope, outside the signed payload: at most
//  32 hashes of 32 bytes, and only on a plan.
Test (wire, envelope_carries_a_proof)
{
    uint8_t payload[] = {1, 2, 3};
    uint8_t siblings[3 * 32];
    for (size_t index = 0; index < sizeof siblings; index++)
        siblings[index] = (uint8_t)index;
    jad_envelope_t envelope = {.type = JAD_PAYLOAD_PLAN, .payload = payload, .payload_size = 3};
    envelope.proof = siblings;
    envelope.proof_count = 3;
    envelope.proof_index = 5;
    zchunk_t *chunk = jad_envelope_encode (&envelope);
    cr_assert_not_null (chunk);
    char err[JAD_ERR_LEN] = "";
    jad_envelope_t *decoded = jad_envelope_decode (zchunk_data (chunk), zchunk_size (chunk), err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->proof_index, 5);
    cr_assert_eq (decoded->proof_count, 3);
    cr_assert_arr_eq (decoded->proof, siblings, sizeof siblings);
    jad_envelope_destroy (&decoded);
    //  in a controller message too
    jad_ctl_msg_t message = {.kind = JAD_CTL_MSG_PLAN, .plan = &envelope};
    zchunk_t *wire = jad_ctl_msg_encode (&message);
    cr_assert_not_null (wire);
    cr_assert_eq (jad_wire_peek_protocol (zchunk_data (wire), zchunk_size (wire)),
                  JAD_PLAN_PROTOCOL);
    jad_ctl_msg_t *back = jad_ctl_msg_decode (zchunk_data (wire), zchunk_size (wire), err);
    cr_assert_not_null (back, "%s", err);
    cr_assert_eq (back->plan->proof_count, 3);
    jad_ctl_msg_destroy (&back);
    zchunk_destroy (&wire);

    //  a sibling of 31 bytes, 33 hashes, a proof on a heartbeat
    struct {
        uint32_t type;
        size_t length;
        const char *phrase;
    } cases[] = {
        {JAD_PAYLOAD_PLAN, 31, "at most 32 hashes of 32 bytes (got 31 bytes)"},
        {JAD_PAYLOAD_PLAN, 33 * 32, "at most 32 hashes of 32 bytes (got 1056 bytes)"},
        {JAD_PAYLOAD_HEARTBEAT, 32, "field 'proof' is set on an envelope that is not a plan"},
    };
    uint8_t *big = calloc (33, 32);
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        s_buf_t proof = {NULL, 0, 0}, buf = {NULL, 0, 0};
        s_field_varint (&proof, 1, 1);
        s_field_bytes (&proof, 2, big, cases[index].length);
        jad_envelope_t plain = {.type = cases[index].type, .payload = payload, .payload_size = 3};
        zchunk_t *bytes = jad_envelope_encode (&plain);
        cr_assert_not_null (bytes);
        s_put (&buf, zchunk_data (bytes), zchunk_size (bytes));
        zchunk_destroy (&bytes);
        s_field_bytes (&buf, 6, proof.data, proof.size);
        s_rejects (&s_codecs[0], &buf, cases[index].phrase);
        s_free (&proof);
        s_free (&buf);
    }
    free (big);
    zchunk_destroy (&chunk);
}

//  --------------------------------------------------------------------------
//  Apply helper pipe (issue 14 item 4: the codec moved here from the agent)

static jad_apply_job_t s_apply_job (void)
{
    static char *migrations[] = {"1.2", "1.1"};
    jad_apply_job_t job = {.plan_id = "plan-7",
                           .app = "web",
                           .version = "1.3",
                           .sha256_hex =
                               "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                           .artifact_length = 4096,
                           .archive = "/var/lib/jadugar/agent/downloads/web-1.3.tgz",
                           .release_known = true,
                           .previous_hint = "1.2",
                           .environment = "prod",
                           .host = "web-1",
                           .root = "/srv/jadugar",
                           .downloads = "/var/lib/jadugar/agent/downloads",
                           .hook_user = "jadugar",
                           .hook_timeout_ms = 30000,
                           .step_deadline_ms = 600000,
                           .keep_releases = 5,
                           .action = JAD_PLAN_ACTION_MIGRATE_DOWN,
                           .migrations = migrations,
                           .migration_count = 2};
    return job;
}

static s_buf_t s_apply_job_bytes (void)
{
    jad_apply_job_t job = s_apply_job ();
    zchunk_t *chunk = jad_apply_job_encode (&job);
    return s_from_chunk (&chunk);
}

//  A job with extra fields appended (overriding earlier ones) is refused
static void s_apply_job_rejects (const s_buf_t *extra, const char *fragment)
{
    s_buf_t buf = s_apply_job_bytes ();
    s_put (&buf, extra->data, extra->size);
    char err[JAD_ERR_LEN] = "";
    jad_apply_job_t *job = jad_apply_job_decode (buf.data, buf.size, err);
    cr_expect_null (job, "accepted, expected \"%s\"", fragment);
    cr_expect (strstr (err, fragment), "\"%s\" lacks \"%s\"", err, fragment);
    jad_apply_job_destroy (&job);
    s_free (&buf);
}

Test (wire, apply_job_roundtrip)
{
    s_buf_t buf = s_apply_job_bytes ();
    char err[JAD_ERR_LEN] = "";
    jad_apply_job_t *job = jad_apply_job_decode (buf.data, buf.size, err);
    cr_assert_not_null (job, "%s", err);
    jad_apply_job_t want = s_apply_job ();
    cr_assert_str_eq (job->plan_id, want.plan_id);
    cr_assert_str_eq (job->app, "web");
    cr_assert_str_eq (job->version, "1.3");
    cr_assert_str_eq (job->sha256_hex, want.sha256_hex);
    cr_assert_eq (job->artifact_length, 4096);
    cr_assert_str_eq (job->archive, want.archive);
    cr_assert_null (job->url, "an empty string travels as NULL");
    cr_assert (job->release_known);
    cr_assert_str_eq (job->previous_hint, "1.2");
    cr_assert_str_eq (job->environment, "prod");
    cr_assert_str_eq (job->host, "web-1");
    cr_assert_str_eq (job->root, "/srv/jadugar");
    cr_assert_str_eq (job->downloads, want.downloads);
    cr_assert_str_eq (job->hook_user, "jadugar");
    cr_assert_eq (job->hook_timeout_ms, 30000);
    cr_assert_eq (job->step_deadline_ms, 600000);
    cr_assert_eq (job->keep_releases, 5);
    cr_assert_eq (job->action, JAD_PLAN_ACTION_MIGRATE_DOWN);
    cr_assert_eq (job->migration_count, 2);
    cr_assert_str_eq (job->migrations[0], "1.2");
    cr_assert_str_eq (job->migrations[1], "1.1");
    jad_apply_job_destroy (&job);
    jad_apply_job_destroy (&job);
    cr_assert_null (job);
    s_free (&buf);
}

Test (wire, apply_job_refuses_bad_fields)
{
    s_buf_t extra = {NULL, 0, 0};
    s_field_varint (&extra, 1, 2);
    s_apply_job_rejects (&extra, "apply job: protocol 2 is not supported");
    s_free (&extra);
    s_field_str (&extra, 3, "../web");
    s_apply_job_rejects (&extra, "apply job: field 'app' is not a valid name");
    s_free (&extra);
    s_field_str (&extra, 13, "");
    s_apply_job_rejects (&extra, "apply job: field 'root' is missing");
    s_free (&extra);
    s_field_str (&extra, 15, "a\xff");
    s_apply_job_rejects (&extra, "field 'hook_user' is not valid UTF-8 text");
    s_free (&extra);
    char long_path[5000];
    memset (long_path, 'p', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = 0;
    s_field_str (&extra, 14, long_path);
    s_apply_job_rejects (&extra, "field 'downloads' is too long (4999 bytes, limit 4096)");
    s_free (&extra);
    s_field_varint (&extra, 19, 9);
    s_apply_job_rejects (&extra, "field 'action' is unknown (9)");
    s_free (&extra);
    s_field_str (&extra, 20, "-rf");
    s_apply_job_rejects (&extra, "field 'migrations[2]' is not a valid name");
    s_free (&extra);
    for (int index = 0; index < JAD_MAX_MIGRATIONS; index++)
        s_field_str (&extra, 20, "0.9");
    s_apply_job_rejects (&extra, "too many migrations (66, limit 64)");
    s_free (&extra);

    //  the size cap comes first, and the encoder refuses what the decoder would
    char err[JAD_ERR_LEN] = "";
    static uint8_t big[JAD_MAX_APPLY_MSG + 1];
    cr_assert_null (jad_apply_job_decode (big, sizeof big, err));
    cr_assert (strstr (err, "apply job: message is too large"), "%s", err);
    jad_apply_job_t job = s_apply_job ();
    job.version = "1 3";
    cr_assert_null (jad_apply_job_encode (&job));
}

Test (wire, apply_event_roundtrip_and_required_fields)
{
    jad_apply_event_t event = {.kind = JAD_APPLY_EVENT_STEP,
                               .plan_id = "plan-7",
                               .app = "web",
                               .step = "smoke",
                               .status = JAD_REPORT_FAILED,
                               .detail = "smoke 1: exit 3",
                               .output = "caf\xc3\xa9\n",
                               .duration_ms = 1500};
    zchunk_t *chunk = jad_apply_event_encode (&event);
    s_buf_t buf = s_from_chunk (&chunk);
    char err[JAD_ERR_LEN] = "";
    jad_apply_event_t *decoded = jad_apply_event_decode (buf.data, buf.size, err);
    cr_assert_not_null (decoded, "%s", err);
    cr_assert_eq (decoded->kind, JAD_APPLY_EVENT_STEP);
    cr_assert_str_eq (decoded->plan_id, "plan-7");
    cr_assert_str_eq (decoded->step, "smoke");
    cr_assert_null (decoded->version);
    cr_assert_eq (decoded->status, JAD_REPORT_FAILED);
    cr_assert_str_eq (decoded->detail, "smoke 1: exit 3");
    cr_assert_str_eq (decoded->output, "caf\xc3\xa9\n");
    cr_assert_eq (decoded->duration_ms, 1500);
    jad_apply_event_destroy (&decoded);

    //  a step needs its step, a release event its version, every kind is known
    s_buf_t bad = s_copy (&buf);
    s_field_str (&bad, 7, "");
    cr_assert_null (jad_apply_event_decode (bad.data, bad.size, err));
    cr_assert (strstr (err, "apply event: field 'step' is missing"), "%s", err);
    s_free (&bad);
    bad = s_copy (&buf);
    s_field_varint (&bad, 2, JAD_APPLY_EVENT_RELEASE_ADDED);
    cr_assert_null (jad_apply_event_decode (bad.data, bad.size, err));
    cr_assert (strstr (err, "field 'version' is missing"), "%s", err);
    s_free (&bad);
    bad = s_copy (&buf);
    s_field_varint (&bad, 2, 5);
    cr_assert_null (jad_apply_event_decode (bad.data, bad.size, err));
    cr_assert (strstr (err, "field 'kind' is missing or unknown (5)"), "%s", err);
    s_free (&bad);
    s_free (&buf);

    //  output beyond its cap is refused at the sender
    char *output = malloc (JAD_MAX_OUTPUT * 4 + 2);
    cr_assert_not_null (output);
    memset (output, 'o', JAD_MAX_OUTPUT * 4 + 1);
    output[JAD_MAX_OUTPUT * 4 + 1] = 0;
    event.output = output;
    cr_assert_null (jad_apply_event_encode (&event));
    free (output);
}
