//  ctl_security - the controller's security series: refusals as metrics
//  alert rules can read
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_security.h"
#include "jad_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_HISTORY   3600  //  samples kept: one hour at one a second
#define S_SAMPLE_MS 1000

//  Which counters make each series (CTL_COUNT_MAX ends a list)
static const struct {
    const char *name;
    ctl_counter_t counters[8];
} s_series[] = {
    {"jadugar_security_refusals",
     {CTL_COUNT_AGENT_BAD_SIGNATURE, CTL_COUNT_AGENT_UNKNOWN_KEY, CTL_COUNT_AGENT_STALE_EPOCH,
      CTL_COUNT_ZAP_DENIED, CTL_COUNT_API_DENIED, CTL_COUNT_ENROLL_TOKEN_WRONG,
      CTL_COUNT_ENROLL_THROTTLED, CTL_COUNT_MAX}},
    {"jadugar_security_bad_signature", {CTL_COUNT_AGENT_BAD_SIGNATURE, CTL_COUNT_MAX}},
    {"jadugar_security_unknown_key", {CTL_COUNT_AGENT_UNKNOWN_KEY, CTL_COUNT_MAX}},
    {"jadugar_security_stale_epoch", {CTL_COUNT_AGENT_STALE_EPOCH, CTL_COUNT_MAX}},
    {"jadugar_security_zap_denied", {CTL_COUNT_ZAP_DENIED, CTL_COUNT_MAX}},
    {"jadugar_security_api_denied", {CTL_COUNT_API_DENIED, CTL_COUNT_MAX}},
    //  wrong tokens, and tries refused unread for too many of them
    {"jadugar_security_bad_token",
     {CTL_COUNT_ENROLL_TOKEN_WRONG, CTL_COUNT_ENROLL_THROTTLED, CTL_COUNT_MAX}},
};
#define S_SERIES (sizeof s_series / sizeof *s_series)

typedef struct {
    int64_t time;                 //  wall ms
    uint64_t increase[S_SERIES];  //  since the sample before
} s_sample_t;

struct _ctl_security_t {
    const ctl_counters_t *counters;
    s_sample_t *ring;  //  S_HISTORY samples
    size_t count;      //  samples held
    size_t next;       //  where the next one goes
    uint64_t last[S_SERIES];
    int64_t last_time;  //  wall ms of the newest sample, 0 before the first
};

ctl_security_t *ctl_security_new (const ctl_counters_t *counters)
{
    ctl_security_t *self = (ctl_security_t *)calloc (1, sizeof (ctl_security_t));
    if (self)
        self->ring = (s_sample_t *)calloc (S_HISTORY, sizeof (s_sample_t));
    if (!self || !self->ring) {
        ctl_security_destroy (&self);
        return NULL;
    }
    self->counters = counters;
    return self;
}

void ctl_security_destroy (ctl_security_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->ring);
    free (*self_p);
    *self_p = NULL;
}

static uint64_t s_total (const ctl_security_t *self, size_t series)
{
    uint64_t total = 0;
    for (size_t index = 0; s_series[series].counters[index] != CTL_COUNT_MAX; index++)
        total += self->counters->value[s_series[series].counters[index]];
    return total;
}

void ctl_security_tick (ctl_security_t *self, int64_t now)
{
    if (!self || (self->last_time && now - self->last_time < S_SAMPLE_MS))
        return;
    s_sample_t *sample = &self->ring[self->next];
    sample->time = now;
    for (size_t series = 0; series < S_SERIES; series++) {
        uint64_t total = s_total (self, series);
        //  the first sample starts from the counters as they are
        sample->increase[series] =
            self->last_time && total >= self->last[series] ? total - self->last[series] : 0;
        self->last[series] = total;
    }
    self->last_time = now;
    self->next = (self->next + 1) % S_HISTORY;
    if (self->count < S_HISTORY)
        self->count++;
}

int ctl_security_values (ctl_security_t *self, const char *metric, int64_t since, double **values_p,
                         uint32_t **hosts_p, size_t *count_p)
{
    *values_p = NULL;
    *hosts_p = NULL;
    *count_p = 0;
    size_t series = 0;
    while (series < S_SERIES && strcmp (s_series[series].name, metric ? metric : "") != 0)
        series++;
    if (!self || series == S_SERIES)
        return -1;
    if (self->count == 0)
        return 0;  //  nothing sampled yet: no value
    double *values = (double *)calloc (1, sizeof (double));
    uint32_t *hosts = (uint32_t *)calloc (1, sizeof (uint32_t));
    if (!values || !hosts) {
        free (values);
        free (hosts);
        return -1;
    }
    uint64_t total = 0;
    for (size_t index = 0; index < self->count; index++) {
        const s_sample_t *sample =
            &self->ring[(self->next + S_HISTORY - self->count + index) % S_HISTORY];
        if (sample->time >= since)
            total += sample->increase[series];
    }
    values[0] = (double)total;
    hosts[0] = 1;
    size_t count = 1;
    *values_p = values;
    *hosts_p = hosts;
    *count_p = count;
    return 0;
}
