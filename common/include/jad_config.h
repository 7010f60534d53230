//  jad_config - the YAML files: agent.yaml, controller.yaml, jadctl client
//  files and a release's jadugar.yaml (libfyaml)
//  SPDX-License-Identifier: MPL-2.0
//
//  Every loader collects every problem it finds (not just the first) as
//  "FILE:LINE: what is wrong" lines into a jad_problems_t, and returns NULL
//  if there was at least one. Unknown keys are problems too (a typo must
//  not be silently ignored). Durations are "500ms", "30s", "10m", "1h",
//  "2d"; names follow jad_name_valid.

#ifndef JAD_CONFIG_H_INCLUDED
#define JAD_CONFIG_H_INCLUDED

#include "jad_calendar.h"
#include "jad_tz.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  A list of problem lines.
typedef struct _jad_problems_t jad_problems_t;
jad_problems_t *jad_problems_new (void);
void jad_problems_destroy (jad_problems_t **self_p);
//  Append a printf-formatted line.
void jad_problems_add (jad_problems_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
size_t jad_problems_count (const jad_problems_t *self);
//  Line i (0-based), borrowed; NULL past the end.
const char *jad_problems_get (const jad_problems_t *self, size_t index);

//  A list of controller endpoints, "H1:B1,H2:B2" (agent.yaml `controller:`
//  as a YAML list or one comma-separated value): at most this many.
#define JAD_ENDPOINTS_MAX 8

//  The next endpoint of such a list, spaces trimmed, into out: true, and
//  *cursor moves past it; false at the end (or for an item longer than
//  len - 1, which the config check never lets through).
bool jad_endpoint_next (const char **cursor, char *out, size_t len);

//  agent.yaml
typedef struct {
    char *name;                    //  agent name (default: hostname)
    char *environment;             //  required
    char *controller;              //  required, HOST:BASEPORT[,HOST:BASEPORT...] (controllers
                                   //  sharing a store; the leader binds, the agent connects to all)
    char *controller_key;          //  required, CURVE public key (z85)
    char *signing_key;             //  required, Ed25519 public key (hex)
    char *token;                   //  enrollment token, may be NULL
    char *root;                    //  release root (default /srv/jadugar)
    char *key_file;                //  agent CURVE key file (default keys/agent.key)
    uint32_t keep_releases;        //  default 5
    uint32_t heartbeat_ms;         //  default 5000
    uint32_t hook_timeout_ms;      //  default 30000
    char *hook_user;               //  may be NULL: run hooks as this user (a name)
    uint32_t metrics_interval_ms;  //  host metrics, default 10000
    uint32_t metrics_buffer;       //  samples held while disconnected, default 100000
    uint32_t stale_after_ms;       //  stale alarm without signed traffic, default 30000
    char *policy_key;              //  offline Ed25519 policy key (hex), or NULL: no release
                                   //  checks at this host (DESIGN §10, jad_policy.h)
} jad_agent_config_t;

jad_agent_config_t *jad_agent_config_load (const char *path, jad_problems_t *problems);
//  The same, also checking the file against this host, as the agent does
//  before it uses it (check, run, reload): hook-user must name a user here
//  ("FILE:LINE: hook-user: no user named ..." beside every other problem).
jad_agent_config_t *jad_agent_config_load_on_host (const char *path, jad_problems_t *problems);
void jad_agent_config_destroy (jad_agent_config_t **self_p);

//  controller.yaml

//  A release check an environment requires (DESIGN §10): an attestation
//  (type and keys) or a human approval (approval), exactly one of them.
typedef struct {
    char *name;           //  tests, security-scan, code-review, ...
    char *type;           //  predicateType an attestation must have, or NULL: an approval
    char **keys;          //  names in attestation_keys whose signatures count for it
    size_t key_count;     //  at least one with type
    uint64_t max_age_ms;  //  a statement older than this fails it; 0: no limit
    char *max_severity;   //  vulns: highest severity allowed (negligible..critical), or NULL
    char *builder_id;     //  SLSA provenance: the builder id required, or NULL
    char *source;         //  SLSA provenance: a source URI prefix required, or NULL
    char **approval;      //  roles that must each approve (jad_role.h)
    size_t approval_count;
    bool not_deployer;  //  approval: never given by the operator who deploys
} jad_check_config_t;

//  A CI system's Ed25519 public key that may sign attestations
typedef struct {
    char *name;     //  ci, scanner, ...
    char *ed25519;  //  64 hex characters
} jad_attestation_key_t;

//  One role of an environment's emergency_approvals: written as the role
//  name, or as {role: R, when: security} for a role asked only when the
//  emergency is a security one (jadctl deploy --emergency --security).
typedef struct {
    char *role;
    char *when;  //  "security", or NULL: asked for every emergency
} jad_approver_config_t;

typedef struct {
    char *name;   //  dev, staging, prod, ...
    char *track;  //  branch pattern (fnmatch), may be NULL
    bool auto_deploy;
    char *requires;   //  environment name, may be NULL
    char *strategy;   //  all | rolling | canary (default all)
    char *batch;      //  "N" or "N%", may be NULL
    uint32_t canary;  //  canary host count
    uint32_t bake_ms;
    char **windows;  //  "Tue 09:00-17:00", "Mon-Fri 09:00-17:00" (jad_calendar.h)
    size_t window_count;
    char *timezone;        //  IANA zone windows and schedule are read in, or NULL: the controller's
    jad_tz_t *tz;          //  that zone, loaded with the file (owned), or NULL
    char *schedule;        //  release slots of auto_deploy, "daily 09:00" (jad_calendar.h), or NULL
    jad_schedule_t slots;  //  the schedule parsed (when schedule is set)
    jad_approver_config_t *emergency_approvals;  //  roles that must each approve an emergency
    size_t emergency_approval_count;
    char **emergency_skips;  //  rules an emergency deploy skips: "requires", "bake"
    size_t emergency_skip_count;
    uint32_t concurrency;        //  max hosts switching at once, 0 = all
    jad_check_config_t *checks;  //  what a release needs before it deploys here
    size_t check_count;
    char **emergency_waives;  //  names of checks an emergency deploy may skip
    size_t emergency_waive_count;
    char *max_failures;  //  "N" or "N%": failed hosts a deploy goes on with; NULL: none
} jad_env_config_t;

typedef struct {
    char *env;  //  NULL for a controller series (jad_controller_series_valid)
    char *metric;
    bool above;  //  true: above threshold, false: below
    double threshold;
    uint32_t for_ms;
    char *action;          //  "rollback" or NULL (notify only)
    char *aggregate;       //  avg (NULL), max, sum or p95 over the env's hosts
    uint32_t window_ms;    //  samples considered, default max (for, 60s)
    uint32_t min_samples;  //  fewer in the window = inconclusive, default 3
    char *query;           //  PromQL read from `prometheus:` instead, or NULL
    //  canary analysis during a canary's bake (docs/rollouts.md): the canary
    //  hosts judged on their own, "host" (each, NULL) or "aggregate"
    //  (together), or "off"; `compare: baseline` also compares them with
    //  the plan's hosts still on the previous release, by ratio or
    //  difference (exactly one of them, with compare)
    char *canary;
    char *compare;  //  "baseline" or NULL
    double ratio;   //  > 0 with compare and no difference, else 0
    double difference;
    bool has_difference;
} jad_alert_config_t;

//  A contact (`contacts:`): someone to tell, by any of email, webhook and
//  command (at least one is set).
typedef struct {
    char *name;
    char *email;    //  address, sent to through `smtp:`
    char *webhook;  //  URL that gets the event as a JSON POST
    char *command;  //  absolute path, run with the event in its environment
} jad_contact_config_t;

//  A notification route (`notify:`): the events it matches go to its own
//  targets (command, webhook, email: today's one-target entries) and to
//  the contacts it names (`to`); at least one of these is set.
typedef struct {
    char *command;  //  absolute path, run with the event in its environment
    char *webhook;  //  URL that gets the event as a JSON POST
    char *email;    //  address, sent to through `smtp:`
    char **to;      //  contact names
    size_t to_count;
    char **events;  //  patterns: "deploy.started", "deploy.*", "*"; none: every event
    size_t event_count;
    char **envs;  //  environments; none: every event, with or without one
    size_t env_count;
} jad_notify_config_t;

//  The controller's own series an alert rule may read instead of the
//  agents' samples (refusals: bad signature, unknown key, stale epoch,
//  ZAP denial, refused API call, bad enrollment token, and their sum),
//  read as one value: how many came within the rule's window. They are
//  not per environment: a rule on one has no `env`.
#define JAD_SECURITY_SERIES                                                                        \
    "jadugar_security_refusals, jadugar_security_bad_signature, "                                  \
    "jadugar_security_unknown_key, jadugar_security_stale_epoch, jadugar_security_zap_denied, "    \
    "jadugar_security_api_denied, jadugar_security_bad_token"
//  True if `metric` is one of JAD_SECURITY_SERIES.
bool jad_controller_series_valid (const char *metric);

//  Event families a route may name ("FAMILY.*" or "FAMILY.NAME").
#define JAD_EVENT_FAMILIES "deploy, rollback, alert, approval, plan, security, incident"

//  True if `pattern` is "*", "FAMILY.*" or "FAMILY.NAME" (NAME: 1-32 of
//  a-z 0-9 _ .) for a family of JAD_EVENT_FAMILIES.
bool jad_event_pattern_valid (const char *pattern);
//  True if event `kind` matches `pattern` ("*", "deploy.*", or equal).
bool jad_event_matches (const char *pattern, const char *kind);
//  True if route `route` takes event `kind` about environment `env` (NULL
//  or "": the event is about no environment, and only routes without
//  `envs` take it).
bool jad_notify_route_matches (const jad_notify_config_t *route, const char *kind, const char *env);

typedef struct {
    char *listen;                             //  bind address, default 127.0.0.1
    uint16_t port;                            //  base port, default 7400
    uint32_t heartbeat_ms;                    //  expected agent heartbeat, default 5000
    uint32_t resend_ms;                       //  unacknowledged plan resend, default 2000
    uint32_t plan_ttl_ms;                     //  envelope expiry, default 10 min
    uint32_t signed_heartbeat_ms;             //  signed heartbeat on PUB, default 5000, 0 = off
    uint32_t step_deadline_ms;                //  per host step deadline, default 10 min
    uint32_t progress_deadline_ms;            //  plan progress deadline, default 30 min
    jad_attestation_key_t *attestation_keys;  //  keys checks may trust, by name
    size_t attestation_key_count;
    jad_env_config_t *environments;
    size_t environment_count;
    jad_alert_config_t *alerts;
    size_t alert_count;
    uint32_t watch_ms;  //  rollback rules act this long after a deploy, default 30 min
    //  retention: (the top-level metrics-retention and rollup-retention
    //  are deprecated spellings of metrics and rollups)
    uint64_t metrics_retention_ms;  //  raw samples kept, default 24 h
    uint64_t rollup_retention_ms;   //  1-minute rollups kept, default 30 d
    uint64_t audit_retention_ms;    //  audit rows kept, 0 (default) = forever, else >= 1 d
    uint64_t plans_retention_ms;    //  finished plans kept, 0 (default) = forever
    int deprecated_lines[2];        //  lines of metrics-retention, rollup-retention (0: absent)
    //  limits: what one agent or one release may cost the controller
    uint32_t series_per_agent;       //  metric series one agent may have, default 10000
    uint32_t label_sets_per_metric;  //  series of one metric name per agent, default 1000
    uint32_t apps_per_agent;         //  agent_apps rows per agent, default 256
    uint32_t release_unpacked_mib;   //  a release's unpacked size, default 4096 MiB
    uint32_t release_ratio;          //  unpacked : archive size, default 100 (64 MiB floor)
    char *http_listen;               //  HTTP status address (port BASE+3), default 127.0.0.1
    char **http_hosts;               //  host names the HTTP port answers to, besides
    size_t http_host_count;          //  IP literals, localhost and this host's name
    uint32_t connections_per_ip;  //  CURVE connections from one address, default 1024, 0 = no cap
    uint32_t max_connections;     //  all CURVE connections, 0 (default) = from the fd limit
    char *prometheus;             //  Prometheus server URL for query rules, or NULL
    char *store;                  //  "sqlite" or a postgresql:// URL; NULL: sqlite
    uint32_t prometheus_timeout_ms;  //  one query's limit, default 10 s
    jad_notify_config_t *notify;
    size_t notify_count;
    jad_contact_config_t *contacts;
    size_t contact_count;
    //  smtp: the relay email notifications go through
    char *smtp_host;           //  NULL: no email
    uint16_t smtp_port;        //  default 25
    char *smtp_from;           //  envelope and From: address
    bool smtp_starttls;        //  require STARTTLS (refuse to send without it)
    char *smtp_user;           //  AUTH user, or NULL
    char *smtp_password_file;  //  file holding the AUTH password (one line)
    uint32_t smtp_timeout_ms;  //  one delivery's limit, default 30 s
} jad_controller_config_t;

jad_controller_config_t *jad_controller_config_load (const char *path, jad_problems_t *problems);
//  Deprecated keys `config` was loaded with, one line each into `notes`
//  ("ORIGIN:LINE: warning: key 'metrics-retention' is deprecated: ..."), for
//  `check` to print and the controller to log. Returns how many.
size_t jad_controller_config_deprecated (const jad_controller_config_t *config, const char *origin,
                                         jad_problems_t *notes);
void jad_controller_config_destroy (jad_controller_config_t **self_p);
//  The top-level keys of controller.yaml whose values differ between one
//  and two (every key the file may hold, compared through the same
//  descriptors that read it), in the file format's order, into keys
//  (static strings); returns how many, at most max.
size_t jad_controller_config_changed (const jad_controller_config_t *one,
                                      const jad_controller_config_t *two, const char **keys,
                                      size_t max);
//  Environment by name, borrowed; NULL if unknown.
const jad_env_config_t *jad_controller_config_env (const jad_controller_config_t *self,
                                                   const char *name);
//  A check of an environment by name, borrowed; NULL if unknown.
const jad_check_config_t *jad_env_config_check (const jad_env_config_t *env, const char *name);
//  A contact by name, borrowed; NULL if unknown.
const jad_contact_config_t *jad_controller_config_contact (const jad_controller_config_t *self,
                                                           const char *name);
//  An attestation key by name, borrowed; NULL if unknown.
const jad_attestation_key_t *jad_controller_config_key (const jad_controller_config_t *self,
                                                        const char *name);

//  jadctl client file
typedef struct {
    char *controller;      //  HOST:PORT of the API, or a list of them (tried in order)
    char *controller_key;  //  CURVE public key (z85)
    char *key;             //  operator key file, made absolute
} jad_client_config_t;

jad_client_config_t *jad_client_config_load (const char *path, jad_problems_t *problems);
void jad_client_config_destroy (jad_client_config_t **self_p);

//  jadugar.yaml (release manifest); `origin` names it in problems
//  (e.g. "web-1.2.tar.gz:jadugar.yaml").
typedef struct {
    char *run;            //  hook path, or NULL
    char *http;           //  URL, or NULL
    uint32_t expect;      //  HTTP status, default 200
    uint32_t timeout_ms;  //  default 30000
} jad_smoke_t;

typedef struct {
    char *prometheus;  //  URL or NULL
    char *command;     //  hook path or NULL
} jad_metric_source_t;

typedef struct {
    char *pre_activate;
    char *migrate_up;
    char *migrate_down;
    char *activate;
    jad_smoke_t *smoke;
    size_t smoke_count;
    uint32_t smoke_every_ms;  //  hooks.smoke_every: re-run the smoke checks (smoke_ok), 0: never
    uint32_t metrics_interval_ms;  //  default 10000
    jad_metric_source_t *sources;
    size_t source_count;
} jad_manifest_t;

jad_manifest_t *jad_manifest_parse (const char *text, size_t size, const char *origin,
                                    jad_problems_t *problems);
jad_manifest_t *jad_manifest_load (const char *path, jad_problems_t *problems);
void jad_manifest_destroy (jad_manifest_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
