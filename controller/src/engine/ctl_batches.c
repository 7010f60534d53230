//  ctl_batches - a plan's batch layout, decided once at creation
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_batches.h"
#include "jad_util.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t ctl_batches_size (const char *spec, size_t total)
{
    if (!spec || !*spec)
        return total;
    size_t len = strlen (spec);
    long value = atol (spec);
    if (value <= 0)
        return total;
    size_t size = spec[len - 1] == '%' ? ((size_t)value * total + 99) / 100 : (size_t)value;
    return size ? size : 1;
}

int ctl_batches_layout (const jad_env_config_t *env, const ctl_batches_ask_t *ask,
                        ctl_batches_t *layout, char *err, size_t errlen)
{
    assert (env && ask && layout);
    memset (layout, 0, sizeof *layout);
    if (ask->hosts == 0) {
        snprintf (err, errlen, "no agents in environment '%s'", env->name);
        return -1;
    }
    bool task = jad_text_is (ask->kind, "task");
    bool rollback = jad_text_is (ask->kind, "rollback");
    const char *strategy = ask->strategy ? ask->strategy : env->strategy;
    const char *batch = ask->batch ? ask->batch : env->batch;
    if (task || rollback) {
        //  a rollback skips canary and bake; only concurrency limits it
        strategy = task ? "all" : "rolling";
        batch = NULL;
    }
    if (!strategy)
        strategy = "all";
    size_t total = ask->hosts;
    uint32_t canary = 0, bake_ms = 0;
    if (jad_text_is (strategy, "canary")) {
        canary = ask->canary ? ask->canary : (env->canary ? env->canary : 1);
        bake_ms = ask->bake_set ? ask->bake_ms : env->bake_ms;
        if (ask->skip_bake)
            bake_ms = 0;
    }
    bool all = jad_text_is (strategy, "all");
    size_t per = all ? total : ctl_batches_size (batch, total);
    if (!task && env->concurrency && per > env->concurrency)
        per = env->concurrency;
    if (!task && env->concurrency && canary > env->concurrency)
        canary = env->concurrency;
    if (canary > total)
        canary = (uint32_t)total;
    layout->strategy = strategy;
    layout->batch = all ? NULL : batch;
    layout->canary = canary;
    layout->bake_ms = bake_ms;
    layout->per = per;
    layout->hosts = total;
    layout->batches = (canary ? 1 : 0) + (total - canary + per - 1) / per;
    return 0;
}

size_t ctl_batches_of (const ctl_batches_t *layout, size_t index)
{
    assert (layout && layout->per);
    size_t canary = layout->canary;
    if (canary)
        return index < canary ? 0 : 1 + (index - canary) / layout->per;
    return index / layout->per;
}

int64_t ctl_batches_max_failures (const char *spec, int64_t total)
{
    if (!spec || !*spec || total <= 0)
        return 0;
    char *end = NULL;
    long long value = strtoll (spec, &end, 10);
    if (end == spec || value < 0)
        return 0;
    if (*end == '%' && end[1] == 0)
        return value > 100 ? total : (int64_t)(value * total / 100);
    return *end ? 0 : (int64_t)value;
}
