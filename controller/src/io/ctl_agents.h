//  ctl_agents - agents: enrollment, acceptance, what their Status says
//  SPDX-License-Identifier: MPL-2.0
//
//  An agent is its CURVE key (the ZAP User-Id), never a name it claims.
//  An unknown key may only enroll: with an enrollment token valid for its
//  environment (not expired, revoked or used up) it is accepted at once;
//  without a token it is pending until an operator runs `jadctl agents
//  accept NAME`; with a token that is not good for it, it is refused.
//  Wrong tokens are counted, logged (rate-limited) and throttled per key
//  and per address; the pending table is capped in all, per address and
//  per address per minute; a valid token takes a name from a pending
//  squatter; an operator's key cannot enroll. Rejected and removed keys
//  are refused by the ZAP handler, and their open connections are cut
//  (ctl_sessions).

#ifndef CTL_AGENTS_H_INCLUDED
#define CTL_AGENTS_H_INCLUDED

#include "ctl_channel.h"
#include "ctl_counters.h"
#include "ctl_sessions.h"
#include "ctl_settings.h"
#include "ctl_store.h"
#include "jad_wire.h"

typedef struct _ctl_agents_t ctl_agents_t;

//  Default limits: pending agents in all, pending agents from one
//  address, new pending agents from one address per window, wrong tokens
//  from one key or one address per window (then its tokens are not even
//  checked until the window ends), sources remembered at most.
#define CTL_AGENTS_PENDING_MAX             256
#define CTL_AGENTS_PENDING_PER_ADDRESS     32
#define CTL_AGENTS_PENDING_PER_MINUTE      20
#define CTL_AGENTS_WRONG_TOKENS_PER_MINUTE 5
#define CTL_AGENTS_SOURCES_MAX             4096

typedef struct {
    int64_t pending_max;
    int64_t pending_per_address;
    uint32_t pending_per_minute;
    uint32_t wrong_tokens_per_minute;
    int64_t window_ms;  //  the "minute" of the per-minute limits
} ctl_agents_limits_t;

//  A key's fingerprint: the first 8 bytes of SHA-256 of the 32-byte CURVE
//  public key, in hex (what `jadugar-agent fingerprint` prints).
#define CTL_FINGERPRINT_LEN 16

//  Agents on `store`, reached over `channel`, their connections tracked by
//  `sessions` (all borrowed). NULL if out of memory.
ctl_agents_t *ctl_agents_new (ctl_store_t *store, ctl_settings_t *settings,
                              ctl_counters_t *counters, ctl_sessions_t *sessions,
                              ctl_channel_t *channel);
void ctl_agents_destroy (ctl_agents_t **self_p);

//  Replace the default limits (tests use small ones).
void ctl_agents_set_limits (ctl_agents_t *self, const ctl_agents_limits_t *limits);

//  Handle an Enroll from `key` connected from `address` (IP, or "" when
//  unknown). Returns the reply for the agent (caller destroys; NULL on
//  error) and sets *name_p to the name the key is registered under
//  (caller frees) when it has one. A refusal names its reason in the
//  reply's detail.
jad_ctl_msg_t *ctl_agents_enroll (ctl_agents_t *self, const char *key, const char *address,
                                  const jad_enroll_t *enroll, char **name_p);

//  A Status from `key` over `route` (connection fd): an accepted agent's
//  last seen, incarnation, refusal counters and apps are stored; a pending
//  one is only seen. Returns the accepted agent's name (caller frees; the
//  name the key enrolled under, never the one the message claims) or NULL.
char *ctl_agents_status (ctl_agents_t *self, const char *key, const jad_status_t *status,
                         zframe_t *route, int fd);

//  The name of the accepted agent with `key` (caller frees), now heard on
//  `route` (connection fd), or NULL (counted) when the key is no accepted
//  agent's. Accepted keys are kept in memory (every ack and report asks):
//  ctl_agents_decide forgets them, as does ctl_agents_forget_accepted.
char *ctl_agents_accepted (ctl_agents_t *self, const char *key, zframe_t *route, int fd);

//  Forget the accepted keys kept in memory: a transaction that changed an
//  agent's state was rolled back.
void ctl_agents_forget_accepted (ctl_agents_t *self);

//  The name of the agent with `key`, any state (caller frees), or NULL.
char *ctl_agents_name (ctl_agents_t *self, const char *key);

//  `jadctl agents accept|reject|remove NAME`: action is "accept", "reject"
//  or "remove". Returns 0, or 2 (or 1 on a database error) with a reason
//  in err. On success *state_p is the new state (static string); an
//  accepted agent that is connected is told at once, a rejected or removed
//  one loses its connections and its unfinished plan hosts fail.
int ctl_agents_decide (ctl_agents_t *self, const char *name, const char *action,
                       const char **state_p, char *err, size_t errlen);

//  Hex SHA-256 of an enrollment token, as stored (out: 65 bytes).
void ctl_agents_token_hash (const char *token, char *out);

//  The fingerprint of CURVE key `key` (Z85) into out (CTL_FINGERPRINT_LEN
//  + 1 bytes; "?" if key is malformed). Returns out.
const char *ctl_agents_fingerprint (const char *key, char *out);

//  True if envs is a token scope: "*" or comma-separated valid names.
bool ctl_agents_token_envs_valid (const char *envs);

#endif
