//  ctl_counters - what the controller counts (`jadctl status --json`,
//  /metrics)
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_counters.h"
#include "jad_util.h"

#include <stddef.h>

static const char *const s_counter_names[CTL_COUNT_MAX] = {
    [CTL_COUNT_PLANS_SENT] = "plans_sent",
    [CTL_COUNT_PLANS_RESENT] = "plans_resent",
    [CTL_COUNT_ACKS] = "acks",
    [CTL_COUNT_REPORTS] = "reports",
    [CTL_COUNT_REPORTS_DUPLICATE] = "reports_duplicate",
    [CTL_COUNT_CHUNKS_SENT] = "chunks_sent",
    [CTL_COUNT_BYTES_SENT] = "bytes_sent",
    [CTL_COUNT_AGENT_MALFORMED] = "agent_malformed",
    [CTL_COUNT_AGENT_UNKNOWN] = "agent_unknown",
    [CTL_COUNT_API_REQUESTS] = "api_requests",
    [CTL_COUNT_API_MALFORMED] = "api_malformed",
    [CTL_COUNT_API_DENIED] = "api_denied",
    [CTL_COUNT_ZAP_ALLOWED] = "zap_allowed",
    [CTL_COUNT_ZAP_DENIED] = "zap_denied",
    [CTL_COUNT_ZAP_WAITING] = "plan_subscriptions_waiting",
    [CTL_COUNT_FETCH_REFUSED] = "fetch_refused",
    [CTL_COUNT_AGENT_PROTOCOL] = "agent_protocol_mismatch",
    [CTL_COUNT_ENROLL_ACCEPTED] = "enroll_accepted",
    [CTL_COUNT_ENROLL_PENDING] = "enroll_pending",
    [CTL_COUNT_ENROLL_REFUSED] = "enroll_refused",
    [CTL_COUNT_AGENT_NOT_ACCEPTED] = "agent_not_accepted",
    [CTL_COUNT_SESSIONS_CUT] = "sessions_cut",
    [CTL_COUNT_AGENT_NAME_MISMATCH] = "agent_name_mismatch",
    [CTL_COUNT_HEARTBEATS_SENT] = "heartbeats_sent",
    [CTL_COUNT_METRIC_SERIES_REFUSED] = "metric_series_refused",
    [CTL_COUNT_METRIC_SAMPLES_CAPPED] = "metric_samples_capped",
    [CTL_COUNT_METRIC_SAMPLES_TIME] = "metric_samples_out_of_time",
    [CTL_COUNT_AGENT_APPS_REFUSED] = "agent_apps_refused",
    [CTL_COUNT_RELEASE_ARCHIVE_REFUSED] = "release_archive_refused",
    [CTL_COUNT_SUBSCRIBE_REFUSED] = "subscriptions_refused",
    [CTL_COUNT_CONNECTIONS_REFUSED] = "connections_refused",
    [CTL_COUNT_HTTP_HOST_REFUSED] = "http_host_refused",
    [CTL_COUNT_ENROLL_TOKEN_WRONG] = "enroll_token_wrong",
    [CTL_COUNT_ENROLL_THROTTLED] = "enroll_throttled",
    [CTL_COUNT_ENROLL_PENDING_LIMITED] = "enroll_pending_limited",
    [CTL_COUNT_ENROLL_SQUATTERS_DROPPED] = "enroll_squatters_dropped",
    [CTL_COUNT_AGENT_BAD_SIGNATURE] = "agent_refused_bad_signature",
    [CTL_COUNT_AGENT_UNKNOWN_KEY] = "agent_refused_unknown_key",
    [CTL_COUNT_AGENT_STALE_EPOCH] = "agent_refused_stale_epoch",
};

const char *ctl_counter_name (ctl_counter_t counter)
{
    return counter < CTL_COUNT_MAX && s_counter_names[counter] ? s_counter_names[counter]
                                                               : "unknown";
}

bool ctl_counters_log_due (ctl_counters_t *self, ctl_counter_t counter, uint64_t *skipped_p)
{
    *skipped_p = 0;
    if (counter >= CTL_COUNT_MAX)
        return false;
    int64_t now = jad_mono_ms ();
    if (self->logged_ms[counter] && now - self->logged_ms[counter] < 1000)
        return false;
    //  the one being logged is not skipped
    uint64_t since = self->value[counter] - self->logged_at[counter];
    *skipped_p = since > 1 && self->logged_ms[counter] ? since - 1 : 0;
    self->logged_ms[counter] = now;
    self->logged_at[counter] = self->value[counter];
    return true;
}
