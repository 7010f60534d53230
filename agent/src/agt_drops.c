//  agt_drops - count dropped input by reason, log it rate-limited
//  SPDX-License-Identifier: MPL-2.0

#include "agt_drops.h"
#include "jad_log.h"
#include "jad_util.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX     32
#define LOG_WINDOW     10000  //  ms
#define LOG_PER_WINDOW 3

typedef struct {
    const char *reason;  //  borrowed fixed string
    uint64_t count;
    int64_t window_start;
    int logged;           //  lines in this window
    uint64_t suppressed;  //  drops not logged in this window
} s_entry_t;

struct _agt_drops_t {
    s_entry_t entries[REASON_MAX];
    size_t entry_count;
    uint64_t overflow;  //  drops of reasons beyond REASON_MAX
};

agt_drops_t *agt_drops_new (void)
{
    return (agt_drops_t *)calloc (1, sizeof (agt_drops_t));
}

void agt_drops_destroy (agt_drops_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

static s_entry_t *s_entry (agt_drops_t *self, const char *reason, bool create)
{
    for (size_t index = 0; index < self->entry_count; index++)
        if (strcmp (self->entries[index].reason, reason) == 0)
            return &self->entries[index];
    if (!create || self->entry_count == REASON_MAX)
        return NULL;
    s_entry_t *entry = &self->entries[self->entry_count++];
    entry->reason = reason;
    return entry;
}

void agt_drops_hit (agt_drops_t *self, const char *reason, const char *format, ...)
{
    assert (self);
    s_entry_t *entry = s_entry (self, reason, true);
    if (!entry) {
        self->overflow++;
        return;
    }
    entry->count++;
    int64_t now = jad_mono_ms ();
    if (now - entry->window_start >= LOG_WINDOW) {
        if (entry->suppressed)
            jad_log_warning ("agent: drops not logged reason=%s count=%llu", reason,
                             (unsigned long long)entry->suppressed);
        entry->window_start = now;
        entry->logged = 0;
        entry->suppressed = 0;
    }
    if (entry->logged >= LOG_PER_WINDOW) {
        entry->suppressed++;
        return;
    }
    entry->logged++;
    char detail[300];
    va_list args;
    va_start (args, format);
    vsnprintf (detail, sizeof detail, format, args);
    va_end (args);
    jad_log_warning ("agent: message dropped reason=%s detail=\"%s\" count=%llu", reason, detail,
                     (unsigned long long)entry->count);
}

uint64_t agt_drops_count (agt_drops_t *self, const char *reason)
{
    assert (self);
    s_entry_t *entry = s_entry (self, reason, false);
    return entry ? entry->count : 0;
}

uint64_t agt_drops_total (agt_drops_t *self)
{
    assert (self);
    uint64_t total = self->overflow;
    for (size_t index = 0; index < self->entry_count; index++)
        total += self->entries[index].count;
    return total;
}

void agt_drops_each (agt_drops_t *self, agt_drops_fn *fn, void *arg)
{
    assert (self);
    for (size_t index = 0; index < self->entry_count; index++)
        if (self->entries[index].count)
            fn (self->entries[index].reason, self->entries[index].count, arg);
    if (self->overflow)
        fn ("other", self->overflow, arg);
}
