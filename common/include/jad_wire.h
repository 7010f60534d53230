//  jad_wire - the wire codec: our structs <-> protobuf-c bytes
//  SPDX-License-Identifier: MPL-2.0
//
//  protobuf-c types never leave jad_wire.c. Every decoder checks the size
//  cap first, then the protocol version, the message type and the required
//  fields, and validates every string (UTF-8, no NUL, length, and for names
//  the jad_name_valid charset). A decoder returns NULL / -1 and fills
//  `err` (if not NULL) with a one-line reason on any problem; it never
//  asserts on input.
//
//  Message structs are plain data: the caller owns what a decoder returns
//  and frees it with the matching _destroy, which accepts NULL and nulls
//  the pointer. Encoders return a zchunk_t* the caller owns (NULL on error).
//  An encoder refuses (returns NULL and logs the reason) to produce bytes
//  that the matching decoder would reject, e.g. a plan with an invalid name.

#ifndef JAD_WIRE_H_INCLUDED
#define JAD_WIRE_H_INCLUDED

#include "jad_merkle.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JAD_PROTOCOL 1
//  Plans, their envelopes and the ControllerMsg carrying one: version 2
//  commits to the targets (root, count, proof) where 1 listed them
//  (docs/protocol.md, "Protocol versions").
#define JAD_PLAN_PROTOCOL  2
#define JAD_MAX_PLAN_BYTES (64 * 1024)        //  envelope or plan payload
#define JAD_MAX_AGENT_MSG  (1024 * 1024)      //  anything an agent sends
#define JAD_MAX_CTL_MSG    (2 * 1024 * 1024)  //  anything the controller sends an agent
#define JAD_MAX_API_MSG    (4 * 1024 * 1024)  //  operator API request or response
#define JAD_MAX_TARGETS    100000
#define JAD_MAX_APPS       256
#define JAD_MAX_OUTPUT     16384  //  hook output carried in a report
#define JAD_MAX_DETAIL     1024
#define JAD_CHUNK_SIZE     (256 * 1024)   //  artifact transfer chunk
#define JAD_ERR_LEN        256            //  size of decoder error buffers
#define JAD_MAX_SAMPLES    20000          //  samples in one metric batch
#define JAD_MAX_SERIES     4096           //  distinct series names in one batch
#define JAD_MAX_SERIES_LEN 256            //  bytes in a series name (with labels)
#define JAD_MAX_COUNTERS   64             //  refusal counters in a Status
#define JAD_MAX_TOKEN      256            //  enrollment token
#define JAD_MAX_APPLY_MSG  (1024 * 1024)  //  a job or an event on the apply helper's pipe

typedef enum {
    JAD_PAYLOAD_NONE = 0,
    JAD_PAYLOAD_PLAN = 1,
    JAD_PAYLOAD_HEARTBEAT = 2,
} jad_payload_type_t;

typedef enum {
    JAD_PLAN_NONE = 0,
    JAD_PLAN_DEPLOY = 1,
    JAD_PLAN_ROLLBACK = 2,
} jad_plan_kind_t;

typedef enum {
    JAD_PLAN_ACTION_APPLY = 0,
    JAD_PLAN_ACTION_MIGRATE_UP = 1,
    JAD_PLAN_ACTION_MIGRATE_DOWN = 2,
    JAD_PLAN_ACTION_VERIFY = 3,
} jad_plan_action_t;

#define JAD_MAX_MIGRATIONS 64  //  versions one MIGRATE_DOWN task may cross

typedef enum {
    JAD_REPORT_NONE = 0,
    JAD_REPORT_STARTED = 1,
    JAD_REPORT_OK = 2,
    JAD_REPORT_FAILED = 3,
    JAD_REPORT_ROLLED_BACK = 4,
    JAD_REPORT_HEALTHY = 5,
    JAD_REPORT_INTERRUPTED = 6,
    JAD_REPORT_REFUSED = 7,
} jad_report_status_t;

//  Signed container (see jad_envelope.h for signing and verifying).
typedef struct {
    uint32_t type;     //  jad_payload_type_t
    uint8_t *payload;  //  owned
    size_t payload_size;
    uint8_t key_id[8];
    uint8_t signature[64];
    //  A plan's membership proof for the agent it is sent to (not signed:
    //  checked against the plan's targets_root, jad_plan_targets). None:
    //  proof NULL, proof_count 0.
    uint32_t proof_index;  //  the agent's leaf: its index in the sorted targets
    uint8_t *proof;        //  owned: proof_count sibling hashes of 32 bytes
    size_t proof_count;    //  <= JAD_MERKLE_MAX_DEPTH
} jad_envelope_t;

typedef struct {
    char *plan_id;      //  required, jad_name_valid
    char *environment;  //  required, jad_name_valid
    //  The targets. A plan being built lists them (targets, each
    //  jad_name_valid, distinct; owned strings); the encoder commits to
    //  them. A decoded plan has no list (targets NULL): only the signed
    //  targets_root and target_count, and the proof of the envelope it
    //  came in (jad_envelope_open_plan), checked by jad_plan_targets.
    char **targets;
    size_t target_count;       //  required, 1..JAD_MAX_TARGETS
    uint8_t targets_root[32];  //  root of the targets' tree (jad_plan_commit)
    uint32_t proof_index;      //  decoded plans: the envelope's proof, unsigned
    uint8_t *proof;            //  owned, proof_count * 32 bytes, may be NULL
    size_t proof_count;
    uint64_t sequence;   //  required, > 0
    int64_t issued_at;   //  unix ms, required
    int64_t expires_at;  //  unix ms, required, > issued_at
    char *app;           //  required, jad_name_valid
    char *version;       //  required, jad_name_valid
    uint8_t artifact_sha256[32];
    uint64_t artifact_length;  //  required, > 0
    char *artifact_url;        //  may be NULL
    uint32_t kind;             //  jad_plan_kind_t, required
    char *undoes;              //  may be NULL
    char *strategy;            //  may be NULL
    uint32_t hook_timeout_ms;
    uint32_t step_deadline_ms;
    uint32_t action;    //  jad_plan_action_t
    char **migrations;  //  MIGRATE_DOWN: versions in order (each jad_name_valid)
    size_t migration_count;
    uint64_t release_counter;      //  of `version` (0: unknown, from an older controller)
    uint64_t min_release_counter;  //  the app's security floor, 0 = none
    uint64_t unpacked_size;        //  the release's regular files' sizes, 0 = unknown
    uint64_t epoch;                //  the signer's leadership epoch (0: a lone controller)
    bool has_bundle;               //  the release's attestation bundle travels with it
    uint8_t bundle_sha256[32];     //  its SHA-256 (has_bundle)
    uint64_t bundle_length;        //  its length, > 0 (has_bundle)
    char *deployer;                //  the operator who deploys, or NULL (unknown)
} jad_plan_t;

//  The signed heartbeat (payload of a PAYLOAD_HEARTBEAT envelope).
typedef struct {
    char *environment;   //  required, jad_name_valid
    int64_t issued_at;   //  unix ms, required, > 0
    int64_t expires_at;  //  unix ms, required, > issued_at
    uint64_t epoch;      //  the signer's leadership epoch (0: a lone controller)
} jad_heartbeat_t;

typedef struct {
    char *app;
    char *version;  //  may be NULL (nothing deployed)
    char *health;
    char *plan_id;  //  may be NULL
} jad_app_state_t;

typedef struct {
    char *name;  //  jad_name_valid (a counter key)
    uint64_t value;
} jad_counter_t;

typedef struct {
    char *name;
    char *environment;
    uint64_t last_sequence;
    char *incarnation;
    bool hello;
    jad_app_state_t *apps;
    size_t app_count;
    char *agent_version;
    jad_counter_t *refusals;  //  input the agent refused, by reason
    size_t refusal_count;     //  <= JAD_MAX_COUNTERS
    bool stale;               //  no signed controller traffic within stale-after
    uint64_t stale_alarms;    //  stale alarms raised since the agent started
} jad_status_t;

//  Enrollment request: the name and environment to register the sender's
//  CURVE key under, and the enrollment token (may be NULL).
typedef struct {
    char *name;         //  required, jad_name_valid
    char *environment;  //  required, jad_name_valid
    char *token;        //  may be NULL, printable, <= JAD_MAX_TOKEN
} jad_enroll_t;

typedef struct {
    uint64_t report_id;
    char *incarnation;
    char *plan_id;
    char *app;
    char *version;
    char *step;
    uint32_t status;  //  jad_report_status_t
    char *detail;     //  <= JAD_MAX_DETAIL
    char *output;     //  <= JAD_MAX_OUTPUT
    int64_t time;
    uint32_t duration_ms;
} jad_report_t;

//  A batch of metric samples: a series dictionary and three parallel
//  arrays. Series names are printable ASCII without spaces (labels
//  included); values are finite.
typedef struct {
    char **names;  //  series dictionary, each jad_series_valid
    size_t name_count;
    uint32_t *name_index;  //  per sample, < name_count
    int64_t *times;        //  per sample, unix ms, > 0
    double *values;        //  per sample
    size_t sample_count;
    uint64_t dropped;  //  samples the agent dropped since it started
    char *stream;      //  acknowledged delivery: jad_name_valid id, or NULL
    uint64_t seq;      //  1, 2, 3... within the stream (>= 1 when stream is set)
} jad_metric_batch_t;

typedef enum {
    JAD_AGENT_MSG_NONE = 0,
    JAD_AGENT_MSG_STATUS,
    JAD_AGENT_MSG_ACK,
    JAD_AGENT_MSG_REPORT,
    JAD_AGENT_MSG_FETCH,
    JAD_AGENT_MSG_METRICS,
    JAD_AGENT_MSG_ENROLL,
} jad_agent_msg_kind_t;

//  One message from an agent; exactly one body is set, per `kind`.
typedef struct {
    jad_agent_msg_kind_t kind;
    jad_status_t *status;
    struct {
        char *plan_id;
        uint64_t sequence;
    } ack;
    jad_report_t *report;
    struct {
        uint8_t sha256[32];
        uint64_t offset;
        uint32_t length;  //  <= JAD_CHUNK_SIZE
    } fetch;
    jad_metric_batch_t *metrics;
    jad_enroll_t enroll;
} jad_agent_msg_t;

typedef enum {
    JAD_CTL_MSG_NONE = 0,
    JAD_CTL_MSG_PLAN,
    JAD_CTL_MSG_CHUNK,
    JAD_CTL_MSG_REPORT_ACK,
    JAD_CTL_MSG_PROTOCOL_ERROR,
    JAD_CTL_MSG_ENROLL_REPLY,
    JAD_CTL_MSG_METRIC_ACK,
} jad_ctl_msg_kind_t;

//  One message from the controller to one agent.
typedef struct {
    jad_ctl_msg_kind_t kind;
    jad_envelope_t *plan;
    struct {
        uint8_t sha256[32];
        uint64_t offset;
        uint8_t *data;  //  owned
        size_t data_size;
        uint64_t total;
        char *error;  //  may be NULL
    } chunk;
    struct {
        char *incarnation;
        uint64_t *report_ids;
        size_t report_id_count;
    } report_ack;
    struct {
        uint32_t controller_protocol;
        uint32_t agent_protocol;
        char *message;  //  <= JAD_MAX_DETAIL, may be NULL
    } protocol_error;
    struct {
        char *state;   //  required: accepted, pending or refused
        char *name;    //  may be NULL
        char *detail;  //  may be NULL
    } enroll_reply;
    struct {
        char *stream;  //  required, jad_name_valid
        uint64_t seq;  //  highest batch of the stream stored in order (0: none)
    } metric_ack;
} jad_ctl_msg_t;

typedef struct {
    char *key;
    char *value;
} jad_arg_t;

typedef struct {
    uint64_t request_id;
    char *command;  //  required
    jad_arg_t *args;
    size_t arg_count;
    uint8_t *blob;
    size_t blob_size;
} jad_api_request_t;

typedef struct {
    uint64_t request_id;
    int32_t status;
    char *error;  //  may be NULL
    char *json;   //  may be NULL
} jad_api_response_t;

//  The agent and its apply helper (jadugar-apply) talk over a pipe: the
//  daemon sends one job, the helper answers with events, the last one
//  DONE. Plain data, strings owned; an empty string travels as NULL.
//  An agent-local action (never in a plan): roll `app` back from
//  `version` to the release it replaced (previous_hint when `version` is
//  current), exactly as a step failing after the switch does. The daemon
//  runs it when the helper applying `version` was lost after the switch.
#define JAD_APPLY_ACTION_ROLLBACK 100

typedef struct {
    char *plan_id;              //  required, jad_name_valid
    char *app;                  //  required, jad_name_valid
    char *version;              //  required, jad_name_valid
    char *sha256_hex;           //  required: the signed artifact hash (hex)
    uint64_t artifact_length;   //  signed artifact length
    uint64_t unpacked_size;     //  signed unpacked size of the release, 0: unknown
    char *archive;              //  verified artifact, NULL: reuse releases/VERSION
    char *url;                  //  download the artifact here first (may be NULL)
    bool release_known;         //  releases/VERSION holds this artifact already
    char *previous_hint;        //  version last recorded as running, may be NULL
    char *environment;          //  required
    char *host;                 //  required: the agent's name
    char *root;                 //  required: the release root
    char *downloads;            //  required: DATA/downloads, for URL artifacts
    char *hook_user;            //  may be NULL
    uint32_t hook_timeout_ms;   //  hooks without their own timeout
    uint32_t step_deadline_ms;  //  URL download deadline
    uint32_t keep_releases;
    uint32_t action;    //  jad_plan_action_t: apply (default) or a task; or
                        //  JAD_APPLY_ACTION_ROLLBACK
    char **migrations;  //  MIGRATE_DOWN: versions in the order to run (each jad_name_valid)
    size_t migration_count;
} jad_apply_job_t;

typedef enum {
    JAD_APPLY_EVENT_STEP = 1,         //  step progress: a report
    JAD_APPLY_EVENT_RELEASE_ADDED,    //  releases/VERSION holds artifact sha256_hex
    JAD_APPLY_EVENT_RELEASE_REMOVED,  //  releases/VERSION is gone
    JAD_APPLY_EVENT_DONE,             //  outcome: status healthy or failed
} jad_apply_event_kind_t;

typedef struct {
    jad_apply_event_kind_t kind;
    char *plan_id;     //  required, jad_name_valid
    char *app;         //  may be NULL
    char *version;     //  required but for STEP; DONE: version now current (NULL if none)
    char *sha256_hex;  //  RELEASE_ADDED
    char *step;        //  required for STEP; DONE: the final step's name
    uint32_t status;   //  jad_report_status_t (STEP, DONE)
    char *detail;      //  one line, may be NULL
    char *output;      //  hook output, may be NULL
    uint32_t duration_ms;
} jad_apply_event_t;

//  Envelope
zchunk_t *jad_envelope_encode (const jad_envelope_t *self);
jad_envelope_t *jad_envelope_decode (const uint8_t *data, size_t size, char *err);
void jad_envelope_destroy (jad_envelope_t **self_p);

//  Plan (the signed payload of a PAYLOAD_PLAN envelope)
zchunk_t *jad_plan_encode (const jad_plan_t *self);
jad_plan_t *jad_plan_decode (const uint8_t *data, size_t size, char *err);
jad_plan_t *jad_plan_dup (const jad_plan_t *self);

//  Commit `self` to its listed targets: sort them (byte order), refuse an
//  invalid or repeated name, build their keyed Merkle tree (the key drawn
//  from plan_id and sequence, which must be set) and set targets_root.
//  Returns the tree, whose leaf i is self->targets[i], for the targets'
//  proofs (caller owns), or NULL with a reason in err (JAD_ERR_LEN).
jad_merkle_t *jad_plan_commit (jad_plan_t *self, char *err);

//  True if `name` is a target of `self`: for a decoded plan, if the proof
//  it came with leads from name's leaf to its signed targets_root (a proof
//  made for another name, plan or sequence never does); for a plan being
//  built, if name is listed.
bool jad_plan_targets (const jad_plan_t *self, const char *name);
void jad_plan_destroy (jad_plan_t **self_p);

//  Heartbeat (the signed payload of a PAYLOAD_HEARTBEAT envelope)
zchunk_t *jad_heartbeat_encode (const jad_heartbeat_t *self);
jad_heartbeat_t *jad_heartbeat_decode (const uint8_t *data, size_t size, char *err);
void jad_heartbeat_destroy (jad_heartbeat_t **self_p);

//  Agent -> controller
zchunk_t *jad_agent_msg_encode (const jad_agent_msg_t *self);
jad_agent_msg_t *jad_agent_msg_decode (const uint8_t *data, size_t size, char *err);
void jad_agent_msg_destroy (jad_agent_msg_t **self_p);
void jad_status_destroy (jad_status_t **self_p);
void jad_report_destroy (jad_report_t **self_p);
jad_report_t *jad_report_dup (const jad_report_t *self);
void jad_metric_batch_destroy (jad_metric_batch_t **self_p);
//  True if text is a valid series name: 1..JAD_MAX_SERIES_LEN printable
//  ASCII bytes without blanks, starting with a letter, '_' or ':'.
bool jad_series_valid (const char *text);

//  Controller -> agent
zchunk_t *jad_ctl_msg_encode (const jad_ctl_msg_t *self);
jad_ctl_msg_t *jad_ctl_msg_decode (const uint8_t *data, size_t size, char *err);
void jad_ctl_msg_destroy (jad_ctl_msg_t **self_p);

//  Apply helper pipe. _new returns an empty job (an event of kind) or NULL.
jad_apply_job_t *jad_apply_job_new (void);
void jad_apply_job_destroy (jad_apply_job_t **self_p);
zchunk_t *jad_apply_job_encode (const jad_apply_job_t *self);
jad_apply_job_t *jad_apply_job_decode (const uint8_t *data, size_t size, char *err);
jad_apply_event_t *jad_apply_event_new (jad_apply_event_kind_t kind);
void jad_apply_event_destroy (jad_apply_event_t **self_p);
zchunk_t *jad_apply_event_encode (const jad_apply_event_t *self);
jad_apply_event_t *jad_apply_event_decode (const uint8_t *data, size_t size, char *err);

//  Operator API
zchunk_t *jad_api_request_encode (const jad_api_request_t *self);
jad_api_request_t *jad_api_request_decode (const uint8_t *data, size_t size, char *err);
void jad_api_request_destroy (jad_api_request_t **self_p);
//  Value of argument `key`, or NULL. Borrowed.
const char *jad_api_request_arg (const jad_api_request_t *self, const char *key);
zchunk_t *jad_api_response_encode (const jad_api_response_t *self);
jad_api_response_t *jad_api_response_decode (const uint8_t *data, size_t size, char *err);
void jad_api_response_destroy (jad_api_response_t **self_p);

//  The protocol version a message says it speaks (field 1 of Envelope,
//  AgentMsg, ControllerMsg, ApiRequest and ApiResponse), read from the raw
//  bytes without decoding anything else, so that a peer of another version
//  can be told apart from garbage. Returns 0 if field 1 is absent,
//  not first, or unreadable.
uint32_t jad_wire_peek_protocol (const uint8_t *data, size_t size);

//  Names of enum values for logs and JSON ("started", "ok", ...).
const char *jad_report_status_name (uint32_t status);
const char *jad_plan_kind_name (uint32_t kind);

#ifdef __cplusplus
}
#endif

#endif
