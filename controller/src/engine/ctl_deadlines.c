//  ctl_deadlines - online, step deadline, progress deadline, resend
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_deadlines.h"
#include "jad_util.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static bool s_unfinished (const char *state)
{
    return jad_text_is (state, "pending") || jad_text_is (state, "acked") ||
           jad_text_is (state, "applying");
}

bool ctl_deadlines_online (int64_t last_seen, int64_t now, uint32_t heartbeat_ms)
{
    int64_t window = 3 * (int64_t)heartbeat_ms + 1000;
    return last_seen > 0 && now - last_seen <= window;
}

bool ctl_deadlines_step (const ctl_host_clock_t *host, int64_t now, uint32_t step_deadline_ms,
                         uint32_t heartbeat_ms, ctl_step_verdict_t *verdict)
{
    assert (host && verdict);
    memset (verdict, 0, sizeof *verdict);
    if (!s_unfinished (host->state) || host->updated >= now - (int64_t)step_deadline_ms)
        return false;
    bool offline = !ctl_deadlines_online (host->last_seen, now, heartbeat_ms);
    bool never_acked = jad_text_is (host->state, "pending");
    verdict->state = offline && never_acked && host->skip_offline ? "skipped" : "failed";
    verdict->detail = offline && never_acked ? "offline: no answer within the step deadline"
                                             : "step deadline missed";
    snprintf (verdict->decision, sizeof verdict->decision, "%s: %s (deadline %ums)",
              host->agent ? host->agent : "-", verdict->detail, step_deadline_ms);
    return true;
}

bool ctl_deadlines_resend (const ctl_host_clock_t *host, int64_t now, uint32_t resend_ms,
                           uint32_t heartbeat_ms)
{
    assert (host);
    return jad_text_is (host->state, "pending") && host->last_sent < now - (int64_t)resend_ms &&
           ctl_deadlines_online (host->last_seen, now, heartbeat_ms);
}

bool ctl_deadlines_progress (const char *state, bool paused, const char *phase, int64_t progress,
                             int64_t now, uint32_t deadline_ms, char *reason, size_t len)
{
    //  the plan must move: paused plans and bakes wait on purpose
    if (deadline_ms == 0 || !jad_text_is (state, "running") || paused ||
        jad_text_is (phase, "bake") || progress >= now - (int64_t)deadline_ms)
        return false;
    snprintf (reason, len, "no progress within the progress deadline (%ums)", deadline_ms);
    return true;
}
