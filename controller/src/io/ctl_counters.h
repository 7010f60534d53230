//  ctl_counters - what the controller counts (`jadctl status --json`,
//  /metrics)
//  SPDX-License-Identifier: MPL-2.0
//
//  One table of counters, owned by the server and lent to each class that
//  counts something. Only the loop's thread touches it; the HTTP thread
//  gets a copy (ctl_http_publish).

#ifndef CTL_COUNTERS_H_INCLUDED
#define CTL_COUNTERS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CTL_COUNT_PLANS_SENT,
    CTL_COUNT_PLANS_RESENT,
    CTL_COUNT_ACKS,
    CTL_COUNT_REPORTS,
    CTL_COUNT_REPORTS_DUPLICATE,
    CTL_COUNT_CHUNKS_SENT,
    CTL_COUNT_BYTES_SENT,
    CTL_COUNT_AGENT_MALFORMED,
    CTL_COUNT_AGENT_UNKNOWN,
    CTL_COUNT_API_REQUESTS,
    CTL_COUNT_API_MALFORMED,
    CTL_COUNT_API_DENIED,
    CTL_COUNT_ZAP_ALLOWED,
    CTL_COUNT_ZAP_DENIED,
    CTL_COUNT_ZAP_WAITING,  //  plan subscriptions of agents not accepted yet (pending, enrolling)
    CTL_COUNT_FETCH_REFUSED,
    CTL_COUNT_AGENT_PROTOCOL,
    CTL_COUNT_ENROLL_ACCEPTED,          //  unknown keys accepted with a valid token
    CTL_COUNT_ENROLL_PENDING,           //  unknown keys waiting for `agents accept`
    CTL_COUNT_ENROLL_REFUSED,           //  enrollments refused (name taken, bad env)
    CTL_COUNT_AGENT_NOT_ACCEPTED,       //  messages from pending keys dropped
    CTL_COUNT_SESSIONS_CUT,             //  connections shut down on reject/remove
    CTL_COUNT_AGENT_NAME_MISMATCH,      //  Status claiming a name not the key's
    CTL_COUNT_HEARTBEATS_SENT,          //  signed heartbeats broadcast (one per environment)
    CTL_COUNT_METRIC_SERIES_REFUSED,    //  new series over limits.series-per-agent or
                                        //  limits.label-sets-per-metric
    CTL_COUNT_METRIC_SAMPLES_CAPPED,    //  samples of those refused series
    CTL_COUNT_METRIC_SAMPLES_TIME,      //  samples older than metrics-retention or > 5 min ahead
    CTL_COUNT_AGENT_APPS_REFUSED,       //  apps over limits.apps-per-agent
    CTL_COUNT_RELEASE_ARCHIVE_REFUSED,  //  release archives refused (bombs, bad manifest)
    CTL_COUNT_SUBSCRIBE_REFUSED,        //  broadcast subscriptions outside the subscriber's env
    CTL_COUNT_CONNECTIONS_REFUSED,      //  connections cut over the per-IP or global cap
    CTL_COUNT_HTTP_HOST_REFUSED,        //  HTTP requests naming a Host that is not ours
    CTL_COUNT_ENROLL_TOKEN_WRONG,  //  enrollment tokens unknown, expired, revoked, used up, other env
    CTL_COUNT_ENROLL_THROTTLED,    //  enrollments refused: too many wrong tokens from key/address
    CTL_COUNT_ENROLL_PENDING_LIMITED,    //  pending enrollments refused: table or address full
    CTL_COUNT_ENROLL_SQUATTERS_DROPPED,  //  pending agents dropped for a token holder's name
    //  refusals agents reported (increases of their counters, in Status)
    CTL_COUNT_AGENT_BAD_SIGNATURE,  //  plans or heartbeats with a bad signature
    CTL_COUNT_AGENT_UNKNOWN_KEY,    //  plans or heartbeats signed by a key not pinned
    CTL_COUNT_AGENT_STALE_EPOCH,    //  plans or heartbeats from a deposed leader
    CTL_COUNT_MAX
} ctl_counter_t;

typedef struct {
    uint64_t value[CTL_COUNT_MAX];
    int64_t logged_ms[CTL_COUNT_MAX];   //  mono ms of the last line about it
    uint64_t logged_at[CTL_COUNT_MAX];  //  value when that line was written
} ctl_counters_t;

//  Name of a counter for JSON and /metrics ("unknown" past the end).
const char *ctl_counter_name (ctl_counter_t counter);

//  Rate-limited logging of refusals: true at most once a second per
//  counter (a flood of refusals writes one line a second, not one each).
//  *skipped_p gets how many were counted since the last line, unlogged.
bool ctl_counters_log_due (ctl_counters_t *self, ctl_counter_t counter, uint64_t *skipped_p);

#endif
