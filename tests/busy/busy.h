//  busy - a busy operator's day against a real fleet: shared state of the
//  tests in tests/busy/
//  SPDX-License-Identifier: MPL-2.0
//
//  One controller and five agents (dev, staging x2, prod x2) on loopback,
//  real releases with real hooks, driven by a seeded random sequence of
//  operator and world actions. The test keeps a model of what it did (the
//  configuration it wrote, the releases it added, which daemons it stopped)
//  and checks the fleet against it after every step.

#ifndef BUSY_H_INCLUDED
#define BUSY_H_INCLUDED

#include "jad_testlib.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define BUSY_ENVS      3
#define BUSY_ALERTS    6
#define BUSY_RELEASES  64
#define BUSY_WAITERS   16
#define BUSY_HISTORY   20
#define BUSY_DOWNTIMES 256
#define BUSY_APP       "web"

static inline bool busy_streq (const char *one, const char *two)
{
    return strcmp (one, two) == 0;
}

//  An environment's policy as the test last wrote it to controller.yaml.
typedef struct {
    const char *name;  //  dev, staging, prod
    char strategy[16];
    char batch[8];  //  "" for none
    int canary;     //  hosts in a canary batch (canary strategy only)
    int bake_s;     //  canary bake (canary strategy only)
    bool closed;    //  its only window is on another weekday
} busy_env_t;

//  A config alert rule: never fires (the releases report busy_load 1).
typedef struct {
    char env[16];
    char metric[32];
    int above;
    int for_s;
} busy_alert_t;

typedef struct {
    char version[16];
    bool broken;      //  its smoke check fails on every host
    bool migrations;  //  has migrate_up and migrate_down
} busy_release_t;

//  A `jadctl ... --wait` running in the background, as in an operator's
//  other terminal; its exit code is checked against the plan's outcome.
typedef struct {
    pid_t pid;
    int step;           //  the step that started it
    char command[256];  //  jadctl arguments, for messages
    char log[4096];     //  its stdout and stderr
    int64_t started;    //  monotonic ms
    bool broken;        //  deploys a broken release: can only fail
    unsigned allowed;   //  exit codes that fit (BUSY_OK...), 3 aside
    char refusal[48];   //  what a refusal must say ("" any reason)
    int generation;     //  the configuration's when it started
    char version[16];   //  the release it deploys ("" for a rollback)
} busy_waiter_t;

typedef struct {
    int64_t from, to;  //  monotonic ms; to = 0 while still down
} busy_downtime_t;

typedef struct {
    jt_fleet_t *fleet;
    uint64_t seed;
    uint64_t rng;  //  xorshift state
    int step;
    int steps;
    char history[BUSY_HISTORY][320];  //  ring of the last steps
    int history_count;
    char *current;  //  what the running step does, for the history
    //  the model: what the test wrote and did
    busy_env_t envs[BUSY_ENVS];
    busy_alert_t alerts[BUSY_ALERTS];
    int alert_count;
    int alert_serial;  //  makes every added rule distinct
    busy_release_t releases[BUSY_RELEASES];
    int release_count;
    busy_waiter_t waiters[BUSY_WAITERS];
    int waiter_count;
    busy_downtime_t downtimes[BUSY_DOWNTIMES];  //  when the controller was down
    int downtime_count;
    int generation;  //  configurations the controller took
    int down_steps;  //  steps the controller has been down
    int agent_down_steps[JT_MAX_AGENTS];
    //  the audit log as last seen: rows, last id, hash of those rows
    int64_t audit_rows;
    int64_t audit_last;
    uint64_t audit_hash;
    //  counters for the summary
    int actions[32];
    int reloads;
    int refused_reloads;
    int settles;
    bool setup_done;  //  every host has had a release since
} busy_t;

//  --------------------------------------------------------------------------
//  busy_world.c: the fleet, its configuration and its processes

//  Start the fleet: controller with the test's configuration, five agents,
//  three operators, release 1.0 everywhere. Aborts (with a report) on error.
busy_t *busy_new (uint64_t seed, int steps);
//  Stop every daemon (each must exit 0 on SIGTERM) and remove the fleet.
void busy_destroy (busy_t **self_p);

//  Random number in [0, bound).
uint32_t busy_random (busy_t *self, uint32_t bound);

//  Record what the running step does (printf-like), for the history.
void busy_note (busy_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
//  Close the running step's line in the history.
void busy_step_done (busy_t *self);

//  Fail the test: print the seed, the step, the last steps and the log of
//  the daemon that misbehaved (agent index, or -1 the controller, or -2
//  none in particular), kill every process the test started, keep the
//  fleet's directory, and abort. A daemon found dead meanwhile is reported
//  first, as it is the likelier cause.
void busy_fail (busy_t *self, int daemon, const char *format, ...)
    __attribute__ ((format (printf, 3, 4), noreturn));

//  Write controller.yaml from the model (with `extra` appended to the
//  environment `broken_env`'s line when not NULL: an invalid edit).
void busy_write_config (busy_t *self, const char *broken_env, const char *extra);
//  SIGHUP the controller and wait for its verdict; true if it reloaded,
//  false if it refused the file. Fails the test when it says neither.
bool busy_reload (busy_t *self);

//  First daemon found dead (agent index, -1 the controller) or -2, waiting
//  up to grace_ms; how it ended in why. The test no longer counts it as
//  running.
int busy_find_dead (busy_t *self, int grace_ms, char *why, size_t len);
//  Lines in a daemon's log (index, -1 the controller) holding `needle`.
int busy_log_count (busy_t *self, int daemon, const char *needle);

//  Is the controller running (started by the test and not stopped)?
bool busy_controller_up (busy_t *self);
//  Start the controller and wait until it answers.
void busy_start_controller (busy_t *self);
//  Kill -9 the controller (down until started again).
void busy_kill_controller (busy_t *self);
//  SIGTERM the controller; it must exit 0.
void busy_stop_controller (busy_t *self);
//  Start agent index and wait until it says it started.
void busy_start_agent (busy_t *self, int index);
//  Kill -9 agent index.
void busy_kill_agent (busy_t *self, int index);
//  SIGTERM agent index; it must exit 0.
void busy_stop_agent (busy_t *self, int index);

//  Run jadctl as `operator` (NULL: admin), output (stdout and stderr) in
//  *output (caller frees). Returns its exit status (128+N for a signal).
//  While the controller is down it is given a short timeout.
int busy_jadctl (busy_t *self, const char *operator, char ** output, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
//  Start `jadctl ARGS` (admin) in the background as a waiter for release
//  (NULL for a rollback); its exit code must be in `allowed`, a refusal
//  must say `refusal` (NULL: any reason), and a broken release's plan may
//  not succeed. A jadctl in the background may reach the controller after
//  later steps changed the policy: then any documented answer fits. False
//  when too many waiters run already (nothing started).
bool busy_jadctl_background (busy_t *self, const busy_release_t *release, unsigned allowed,
                             const char *refusal, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));
//  Check an exit status: documented (0-3), in `allowed` (a bit per code),
//  3 only when the controller was down since `since`, and its output in
//  line with its meaning. Fails the test otherwise.
void busy_check_code (busy_t *self, int code, unsigned allowed, int64_t since, const char *output,
                      const char *what);
#define BUSY_OK      (1u << 0)
#define BUSY_FAILED  (1u << 1)
#define BUSY_REFUSED (1u << 2)

//  Parse jadctl --json output; NULL (test failed) when it is not JSON.
json_t *busy_json (busy_t *self, const char *output, const char *what);

//  Monotonic milliseconds.
int64_t busy_now (void);

//  The release model by version, or NULL.
busy_release_t *busy_release (busy_t *self, const char *version);
//  Add release 1.N (broken or not, with migrations or not) with jadctl,
//  with --branch `branch` when not NULL.
void busy_add_release (busy_t *self, bool broken, bool migrations, const char *branch);

//  --------------------------------------------------------------------------
//  busy_checks.c: invariants

//  After every step: no daemon died, every `current` is whole, the audit
//  only grew, finished background commands exited as their plan ended.
void busy_check_step (busy_t *self);
//  Make the fleet whole (start what is down), wait until every agent is
//  online and every plan ended (resuming paused plans and approving
//  emergencies, as an operator would), then check that status agrees with
//  the disks and with the deployment log.
void busy_settle (busy_t *self);
//  Plans in state running or approval (ids, oldest first); caller frees.
json_t *busy_open_plans (busy_t *self);
//  Did a deploy of VERSION succeed in ENV (from the controller's database)?
bool busy_succeeded_in (busy_t *self, const char *env, const char *version);
//  A plan's state from the database ("" when unknown); caller frees.
char *busy_plan_state (busy_t *self, const char *plan_id);
//  Id of the plan at `position` modulo the number of plans (oldest first),
//  "" when there is none; caller frees.
char *busy_some_plan (busy_t *self, uint32_t position);
//  Check rows `jadctl --json audit` printed (in output) against the database.
void busy_check_audit_rows (busy_t *self, json_t *rows, const char *output);
//  Check the config alert rules `jadctl --json alerts` lists against the model.
void busy_check_alerts (busy_t *self, const char *why);

#endif
