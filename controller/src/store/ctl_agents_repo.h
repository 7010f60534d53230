//  ctl_agents_repo - agents, their apps, operators, the audit log and the
//  enrollment tokens
//  SPDX-License-Identifier: MPL-2.0
//
//  An agent is a CURVE key (public_key) bound to a name and an environment,
//  in a state: pending, accepted, rejected or removed. agent_apps holds
//  what each agent last said it runs. Operators are keys with roles; the
//  audit log is append-only (the database refuses edits). Enrollment
//  tokens are stored as their SHA-256 only.
//
//  Lookups return 0 (found, *result owned by the caller), 1 (none) or -1
//  (database error, logged). Lists are zlistx_t of the structs below
//  (destructors set; caller destroys), NULL on error.

#ifndef CTL_AGENTS_REPO_H_INCLUDED
#define CTL_AGENTS_REPO_H_INCLUDED

#include "ctl_store.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  What an agent runs (agent_apps row).
typedef struct {
    char *app;
    char *version;
    char *health;
    char *plan_id;    //  the plan that put it there
    int64_t updated;  //  wall ms
} ctl_agent_app_t;

//  An agent (agents row).
typedef struct {
    char *name;
    char *public_key;
    char *env;
    char *state;        //  pending | accepted | rejected | removed
    char *incarnation;  //  the agent process's id since its last start
    char *address;
    char *refusals;     //  its refusal counters, a JSON object text, or NULL
    int64_t last_seen;  //  wall ms, 0 never
    int64_t last_sequence;
    int64_t created;
    bool stale;  //  it has raised its stale alarm
    int64_t stale_alarms;
    zlistx_t *apps;  //  ctl_agent_app_t, by app; only from ctl_agents_repo_fleet
} ctl_agent_t;

void ctl_agent_destroy (ctl_agent_t **self_p);
void ctl_agent_app_destroy (ctl_agent_app_t **self_p);

//  An operator's key (operators row). A retired key (removed, or replaced
//  by `operator rotate`) keeps its row, renamed NAME.removed-MS or
//  NAME.rotated-MS: it stays refused and cannot be registered again.
typedef struct {
    char *name;
    char *public_key;
    char *roles;  //  comma-separated
    int64_t created;
    char *signing_key;   //  Ed25519 public key (hex) for approvals, or NULL
    int64_t expires;     //  wall ms, 0 never
    int64_t retired;     //  wall ms, 0 while current
    char *retired_as;    //  "removed" | "rotated", NULL while current
    char *retired_name;  //  the operator's name when retired, else NULL
} ctl_operator_t;

//  The operator's name: its own, or the one it had when retired.
const char *ctl_operator_shown_name (const ctl_operator_t *self);

void ctl_operator_destroy (ctl_operator_t **self_p);

//  An audit log entry.
typedef struct {
    int64_t id;  //  strictly increasing
    int64_t time;
    char *operator_name;
    char *command;
    char *args;
    char *outcome;
} ctl_audit_entry_t;

void ctl_audit_entry_destroy (ctl_audit_entry_t **self_p);

//  A count of rows grouped by up to four labels (for /metrics).
typedef struct {
    char *labels[4];
    int64_t count;
} ctl_tally_t;

void ctl_tally_destroy (ctl_tally_t **self_p);

//  What an agent's Status says about it.
typedef struct {
    int64_t last_seen;
    const char *incarnation;
    int64_t last_sequence;
    const char *refusals;  //  JSON object text
    bool stale;
    int64_t stale_alarms;
} ctl_agent_seen_t;

//  --------------------------------------------------------------------------
//  Agents

//  The agent with CURVE key `key` (Z85), or with name `name`.
int ctl_agents_repo_by_key (ctl_store_t *store, const char *key, ctl_agent_t **agent_p);
int ctl_agents_repo_by_name (ctl_store_t *store, const char *name, ctl_agent_t **agent_p);

//  Add an agent in `state`, seen now. Returns 0 or -1 (also when the name
//  or the key is taken).
int ctl_agents_repo_add (ctl_store_t *store, const char *name, const char *key, const char *env,
                         const char *state, int64_t now);

//  Set an agent's state. Returns 0 or -1.
int ctl_agents_repo_set_state (ctl_store_t *store, const char *name, const char *state);

//  A removed agent's name is given up: the row is renamed
//  NAME.removed-NOW (its key stays refused) so that the name may enroll
//  again with a new key. Nothing happens if `name` is not removed.
//  Returns 0 or -1.
int ctl_agents_repo_retire_name (ctl_store_t *store, const char *name, int64_t now);

//  An agent was seen (any message): last_seen = now. Returns 0 or -1.
int ctl_agents_repo_touch (ctl_store_t *store, const char *name, int64_t now);

//  An accepted agent's Status. Returns 0 or -1.
int ctl_agents_repo_seen (ctl_store_t *store, const char *name, const ctl_agent_seen_t *seen);

//  What agent runs of app (insert or update). A version put there by a
//  plan (plan_id not NULL) is stored only if that plan targets the agent:
//  a report or Status naming a plan the controller does not know, or one
//  for other hosts, changes nothing (returns 0). An app the agent has no
//  row for is added only while it has fewer than max_apps (0: no cap).
//  Returns 0, 1 if refused by the cap, or -1.
int ctl_agents_repo_app_set (ctl_store_t *store, const char *agent, const char *app,
                             const char *version, const char *health, const char *plan_id,
                             int64_t now, uint32_t max_apps);

//  ctl_agents_repo_app_set for a caller that knows plan_id (if not NULL)
//  targets agent: it has just moved the agent's host of that plan.
int ctl_agents_repo_app_put (ctl_store_t *store, const char *agent, const char *app,
                             const char *version, const char *health, const char *plan_id,
                             int64_t now, uint32_t max_apps);

//  Every agent (removed ones too), by environment then name; no apps.
zlistx_t *ctl_agents_repo_list (ctl_store_t *store);

//  Agents not removed, of `env` (NULL: all), by environment then name,
//  each with its apps (only `app` if not NULL).
zlistx_t *ctl_agents_repo_fleet (ctl_store_t *store, const char *env, const char *app);

//  Names (char *) of env's accepted agents, by name.
zlistx_t *ctl_agents_repo_accepted (ctl_store_t *store, const char *env);

//  Names of env's accepted agents that run app (any version), by name.
zlistx_t *ctl_agents_repo_running (ctl_store_t *store, const char *env, const char *app);

//  The version of app most of env's agents report. 0 (*version_p owned),
//  1 none, -1 error.
int ctl_agents_repo_common_version (ctl_store_t *store, const char *env, const char *app,
                                    char **version_p);

//  Agents not removed by environment and shown state: their state, or for
//  accepted ones "online" (seen at or after online_after) or "offline".
//  labels: env, state.
zlistx_t *ctl_agents_repo_state_tally (ctl_store_t *store, int64_t online_after);

//  Hosts by environment, app, version ("" if none) and health ("unknown"
//  if none), of agents not removed. labels: env, app, version, health.
zlistx_t *ctl_agents_repo_app_tally (ctl_store_t *store);

//  --------------------------------------------------------------------------
//  Operators

//  The operator row of CURVE key `key` (retired ones too: the caller
//  looks at retired and expires), or the row named `name` (a current
//  operator's, since retired rows are renamed).
int ctl_agents_repo_operator_by_key (ctl_store_t *store, const char *key,
                                     ctl_operator_t **operator_p);
int ctl_agents_repo_operator_by_name (ctl_store_t *store, const char *name,
                                      ctl_operator_t **operator_p);

//  Add an operator with a signing key (hex, or NULL), never expiring.
//  Returns 0 or -1 (also when the name or a key is taken).
int ctl_agents_repo_operator_add (ctl_store_t *store, const char *name, const char *key,
                                  const char *roles, const char *signing_key, int64_t now);

//  Every operator row (retired keys too), by name.
zlistx_t *ctl_agents_repo_operators (ctl_store_t *store);

//  The operators whose key is current and not expired at now, by name:
//  those whose approvals count.
zlistx_t *ctl_agents_repo_operators_current (ctl_store_t *store, int64_t now);

//  Current operator `name`'s key expires at `expires` (wall ms, 0 never).
//  Returns 0, 1 (no current operator of that name) or -1.
int ctl_agents_repo_operator_set_expires (ctl_store_t *store, const char *name, int64_t expires);

//  Give current operator `name`, who has none, signing key `signing_key`.
//  Returns 0, 1 (no such operator, or it has one) or -1 (also when the
//  key is another operator's).
int ctl_agents_repo_operator_set_signing_key (ctl_store_t *store, const char *name,
                                              const char *signing_key);

//  Remove current operator `name` at now: its row is retired (renamed
//  NAME.removed-NOW), its keys stay refused. Returns 0, 1 (no current
//  operator of that name) or -1.
int ctl_agents_repo_operator_remove (ctl_store_t *store, const char *name, int64_t now);

//  Replace current operator `name`'s CURVE key by `key` and, when
//  signing_key is not NULL, its signing key, in one transaction: the old
//  row is retired (NAME.rotated-NOW; it keeps the signing key only when
//  that is replaced too), a new row takes the name, roles, creation time
//  and expiry (`expires` when not negative, else the old one). Returns 0,
//  1 (no current operator of that name) or -1 (also when a key is taken).
int ctl_agents_repo_operator_rotate (ctl_store_t *store, const char *name, const char *key,
                                     const char *signing_key, int64_t expires, int64_t now);

//  1 if `key` is an operator's or an agent's, 0 if not, -1 on error.
int ctl_agents_repo_key_known (ctl_store_t *store, const char *key);

//  --------------------------------------------------------------------------
//  Audit log

//  Append an entry. Returns 0 or -1 (logged).
int ctl_agents_repo_audit_append (ctl_store_t *store, const char *operator_name,
                                  const char *command, const char *args, const char *outcome,
                                  int64_t now);

//  The last `limit` entries at or after `since` (wall ms), oldest first.
zlistx_t *ctl_agents_repo_audit (ctl_store_t *store, int64_t since, int64_t limit);

//  --------------------------------------------------------------------------
//  Enrollment tokens

//  An enrollment token (enroll_tokens row); the secret itself is never
//  stored, only its SHA-256.
typedef struct {
    char *id;           //  public handle (list, revoke)
    char *envs;         //  "*" (any environment) or comma-separated names
    int64_t expires;    //  wall ms
    int64_t uses_left;  //  enrollments it may still accept; -1 no limit
    char *created_by;   //  operator name, or "init"
    int64_t created;    //  wall ms
    int64_t revoked;    //  wall ms, 0 if not revoked
} ctl_enroll_token_t;

void ctl_enroll_token_destroy (ctl_enroll_token_t **self_p);

//  Store a token (its fields as given, revoked ignored) under the hex
//  SHA-256 of its secret. Returns 0 or -1 (also when id or hash is taken).
int ctl_agents_repo_token_add (ctl_store_t *store, const ctl_enroll_token_t *token,
                               const char *sha256_hex);

//  The token whose secret hashes to sha256_hex: 0, 1 none, -1 error.
int ctl_agents_repo_token_by_hash (ctl_store_t *store, const char *sha256_hex,
                                   ctl_enroll_token_t **token_p);

//  Spend one use of token id (no-op for unlimited tokens). Returns 0, 1
//  if it has no use left, -1 on error.
int ctl_agents_repo_token_spend (ctl_store_t *store, const char *id);

//  Revoke token id at now. Returns 0, 1 if there is no such token not
//  yet revoked, -1 on error.
int ctl_agents_repo_token_revoke (ctl_store_t *store, const char *id, int64_t now);

//  Every token (revoked and expired ones too), newest first.
zlistx_t *ctl_agents_repo_tokens (ctl_store_t *store);

//  --------------------------------------------------------------------------
//  The pending table

//  Pending agents, all (address NULL) or those that enrolled from address.
//  Returns the count, or -1 on error.
int64_t ctl_agents_repo_pending_count (ctl_store_t *store, const char *address);

//  Record the address an agent enrolled from. Returns 0 or -1.
int ctl_agents_repo_set_address (ctl_store_t *store, const char *name, const char *address);

//  Delete the agent `name` if it is pending (a squatter giving way to a
//  token holder). Returns 0 (deleted), 1 (no pending agent of that name)
//  or -1.
int ctl_agents_repo_drop_pending (ctl_store_t *store, const char *name);

#endif
