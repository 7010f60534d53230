//  agt_metrics - samples host and app metrics and buffers them for the controller
//  SPDX-License-Identifier: MPL-2.0
//
//  Two halves. The sampler is a czmq actor (its own thread, so a slow
//  metrics command or endpoint never stalls plan intake): every interval
//  it reads /proc (CPU, memory, load, processes) and the disk use of the
//  release root, and for every app with a `current` release it runs the
//  sources of that release's jadugar.yaml (a `name value` command, a
//  Prometheus text endpoint: fetched by `jadugar-apply --scrape`, so that
//  the daemon does not link libcurl, and parsed like a command's output).
//  It passes each round to the main thread as one encoded MetricBatch
//  frame (bytes, never pointers, so nothing leaks when the actor stops).
//
//  The buffer (agt_samples_t) lives in the main thread: samples wait there
//  until the controller link takes them; at its bound the oldest samples
//  are dropped and counted, and the count travels in every batch.
//
//  Every `hooks.smoke_every` of the current release it also runs that
//  release's smoke checks again (`jadugar-apply --smoke`), never while a
//  plan applies to the app, and adds smoke_ok{app="APP"} 1 or 0, and
//  smoke_ok, the host's (0 while any app's last re-run failed).
//
//  Pipe protocol: actor -> main  "BATCH" + one frame (jad_agent_msg bytes)
//                 main -> actor  "PLAN" + app (a plan begins), "IDLE" (it ended)

#ifndef AGT_METRICS_H_INCLUDED
#define AGT_METRICS_H_INCLUDED

#include "jad_wire.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  ---------------------------------------------------------------------
//  Sample buffer: a series dictionary plus time-ordered samples.

typedef struct _agt_samples_t agt_samples_t;

//  New empty buffer holding at most `capacity` samples. NULL on OOM.
agt_samples_t *agt_samples_new (size_t capacity);
void agt_samples_destroy (agt_samples_t **self_p);

//  Append one sample; when full, the oldest sample is dropped (counted).
//  A series that is not valid, or a value that is not finite, is refused
//  and counted as dropped. Returns 0 if stored, -1 if dropped.
int agt_samples_add (agt_samples_t *self, const char *series, int64_t time, double value);

//  Append every sample of a batch (see agt_samples_add).
void agt_samples_add_batch (agt_samples_t *self, const jad_metric_batch_t *batch);

//  Samples waiting.
size_t agt_samples_count (const agt_samples_t *self);

//  Samples dropped since the buffer was made.
uint64_t agt_samples_dropped (const agt_samples_t *self);

//  A new batch with the oldest (at most `max`) samples and only the
//  series they use, `dropped` set. The samples stay in the buffer until
//  agt_samples_consume. Caller destroys the batch. NULL when empty or OOM.
jad_metric_batch_t *agt_samples_peek (agt_samples_t *self, size_t max);

//  Forget the `count` oldest samples (they were sent).
void agt_samples_consume (agt_samples_t *self, size_t count);

//  Parse Prometheus text exposition format (which a `name value` command
//  output also is) into the buffer, all samples at `time`. Comments, blank
//  lines and non-finite values are skipped; label values are kept with
//  blanks turned into '_'. Returns samples stored; *bad_lines (if not
//  NULL) gets the number of lines that did not parse.
size_t agt_metrics_parse (agt_samples_t *self, const char *text, int64_t time, size_t *bad_lines);

//  ---------------------------------------------------------------------
//  Sampler actor

typedef struct {
    const char *root;         //  release root
    const char *environment;  //  for hook environments
    const char *host;         //  agent name
    const char *hook_user;    //  run metric commands as this user, or NULL
    uint32_t interval_ms;     //  host metrics interval
    const char *helper;       //  jadugar-apply, which scrapes `prometheus:` sources (NULL: none)
} agt_metrics_config_t;

//  The actor; `args` is an agt_metrics_config_t * that it copies before
//  signalling the pipe.
void agt_metrics_actor (zsock_t *pipe, void *args);

//  Tell the sampler a plan for `app` begins (NULL: the plan ended): smoke
//  checks are never re-run for an app while a plan applies to it. Never
//  blocks: returns 0, or -1 if the sampler could not take it (stopped).
int agt_metrics_plan (zactor_t *actor, const char *app);

//  Receive one batch from the actor into the buffer. Returns samples
//  added, or -1 if the message was not a batch.
int agt_metrics_recv (zactor_t *actor, agt_samples_t *buffer);

#endif
