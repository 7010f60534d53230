//  ctl_batches - a plan's batch layout, decided once at creation
//  SPDX-License-Identifier: MPL-2.0
//
//  A plan's hosts, sorted by name by the caller, are split into batches:
//
//      all      one batch (or batches of `concurrency` hosts)
//      rolling  batches of `batch` hosts, "N" or "N%" of the hosts
//               (rounded up, at least one)
//      canary   the first `canary` hosts are batch 0, the rest go in
//               batches as for rolling; `bake` is waited after batch 0
//
//  A request's strategy, batch, canary and bake override the
//  environment's; the environment's `concurrency` caps every batch and the
//  canary. A rollback skips canary and bake (rolling, one batch unless
//  concurrency limits it); a task runs everywhere at once ("all", never
//  limited). An emergency whose environment lists `bake` in
//  emergency_skips bakes for 0 ms (ctl_door_verdict_t.skip_bake).
//
//  Pure: no I/O, no clock. Replaces the layout half of ctl_rollout_create
//  (controller/src/ctl_rollout.c: s_batch_size and the batch numbering).

#ifndef CTL_BATCHES_H_INCLUDED
#define CTL_BATCHES_H_INCLUDED

#include "jad_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  What the plan asks for. NULL / 0 fields take the environment's policy.
typedef struct {
    const char *kind;      //  deploy | rollback | task (as stored in plans.kind)
    size_t hosts;          //  number of target hosts
    const char *strategy;  //  all | rolling | canary; NULL: env's
    const char *batch;     //  "N" or "N%"; NULL: env's
    uint32_t canary;       //  canary hosts; 0: env's (1 if env has none)
    bool bake_set;         //  bake_ms given (may be 0)
    uint32_t bake_ms;      //  bake after the canary batch
    bool skip_bake;        //  the door waived the bake (emergency_skips: bake)
} ctl_batches_ask_t;

//  The layout. Text fields are borrowed from the ask, the environment or
//  static strings: they live as long as those.
typedef struct {
    const char *strategy;  //  effective strategy, stored in plans.strategy
    const char *batch;     //  stored in plans.batch; NULL for "all"
    uint32_t canary;       //  canary hosts (batch 0), 0 unless canary
    uint32_t bake_ms;      //  bake after batch 0, 0 unless canary
    size_t per;            //  hosts per batch after the canary batch
    size_t hosts;          //  number of hosts laid out
    size_t batches;        //  number of batches, stored in plans.batches
} ctl_batches_t;

//  Lay out `ask` for environment `env` (not NULL). Returns 0, or -1 with
//  "no agents in environment 'ENV'" in err when ask->hosts is 0.
int ctl_batches_layout (const jad_env_config_t *env, const ctl_batches_ask_t *ask,
                        ctl_batches_t *layout, char *err, size_t errlen);

//  Batch number (0-based) of the index-th host (in name order) of a
//  layout: stored in plan_hosts.batch.
size_t ctl_batches_of (const ctl_batches_t *layout, size_t index);

//  Hosts per batch for `spec` ("N" or "N%") of `total` hosts: at least 1;
//  `total` when spec is NULL, empty or not a positive number.
size_t ctl_batches_size (const char *spec, size_t total);

//  The failed hosts a deploy of `total` hosts goes on with, from an
//  environment's max_failures `spec` ("N", or "N%" of total rounded down);
//  0 for NULL or anything else.
int64_t ctl_batches_max_failures (const char *spec, int64_t total);

#endif
