//  ctl_door - the policy door: one verdict for every plan of every kind
//  SPDX-License-Identifier: MPL-2.0
//
//  Every plan the controller creates passes here first, whatever asked
//  for it: a deploy, an auto-deploy, an emergency deploy, a rollback
//  (an operator's or the controller's own), a migration or verify task,
//  a db-rollback (DESIGN §6, §11; SECURITY-TESTS row 29). The rules, in
//  the order they are tried (the first that refuses names itself):
//
//      environment          the environment exists in controller.yaml
//      schedule             auto-deploy into an environment with a
//                           `schedule:` happens only at one of its slots:
//                           otherwise the release waits, and the verdict
//                           names the next slot (ctl_calendar)
//      bad mark             the release is not marked bad by an automatic
//                           rollback; --force overrides this rule and
//                           only this one
//      requires             a deploy of the release succeeded in the
//                           environment `requires` names
//      windows              now is inside one of the environment's windows
//                           (in its timezone, else the controller's local
//                           time; ctl_calendar)
//      emergency_approvals  an emergency needs approver roles and waits
//                           for them (roles listed with `when: security`
//                           only when it is a security emergency)
//      release              the release exists
//      security floor       its release counter is not below the app's floor
//      active               db-rollback: no release above the target is
//                           active (unless --force)
//      checks               every release check of the environment is ok
//                           (DESIGN §10): one refusal names every missing
//                           and invalid check with why; --force does not
//                           bypass it
//
//  Which kinds meet which rules:
//
//      deploy, auto-deploy  all of the above but active
//      emergency            skips windows, and what the environment's
//                           emergency_skips lists (requires; bake is
//                           waived from the plan's layout), and the checks
//                           its emergency_waives lists (recorded in the
//                           plan's reason); waits for approvals
//      rollback (manual     bad mark, requires, release, security floor:
//      and automatic)       a rollback goes only to a release that passes
//                           the environment's rules; it may skip windows,
//                           canary and bake
//      task                 release and security floor only: a task
//                           belongs to a plan that passed the door, and a
//                           window closing mid-plan must not strand it
//      db-rollback          release, and active (DESIGN §11)
//      converge             as a rollback: a host that missed its
//                           environment's release gets it outside windows
//
//  Checks are met by deploys only (deploy, auto-deploy, emergency): a
//  rollback or converge goes to a release that was deployed there, and an
//  attestation's max_age must not block the way back.
//
//  Pure: facts about the release come in as plain values (the store reads
//  them), time is an argument, nothing is logged or stored. Refusal texts
//  are today's, word for word (tests/integration match them).
//  Replaces ctl_policy_check_deploy, ctl_policy_check_floor,
//  ctl_policy_in_window, the bad-mark check of ctl_api.c's s_deploy, the
//  release and environment checks of ctl_rollout_create and the target
//  choice of ctl_rollout_rollback and ctl_alerts.c's s_auto_rollback.

#ifndef CTL_DOOR_H_INCLUDED
#define CTL_DOOR_H_INCLUDED

#include "ctl_approvals.h"
#include "ctl_checks.h"
#include "jad_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CTL_DOOR_DEPLOY = 0,     //  jadctl deploy
    CTL_DOOR_AUTO_DEPLOY,    //  release add --branch B into an environment tracking B
    CTL_DOOR_EMERGENCY,      //  jadctl deploy --emergency --reason TEXT
    CTL_DOOR_ROLLBACK,       //  jadctl rollback
    CTL_DOOR_AUTO_ROLLBACK,  //  the controller: a failed plan's or an alert's rollback
    CTL_DOOR_TASK,           //  a plan's migrate_up, migrate_down or verify task
    CTL_DOOR_DB_ROLLBACK,    //  jadctl db-rollback (DESIGN §11)
    CTL_DOOR_CONVERGE,       //  the controller: a host lacking its environment's release
} ctl_door_kind_t;

//  Who asks for what. Strings are borrowed.
typedef struct {
    ctl_door_kind_t kind;
    const char *app;
    const char *version;         //  the release to run (rollback: see ctl_door_rollback)
    const char *env;             //  environment name
    const char *operator_name;   //  who asks; "controller" for automatic plans
    const char *reason;          //  emergency: the operator's reason (required);
                                 //  rollbacks, converge: why (NULL: a default); task: its action
    bool force;                  //  --force: overrides a bad mark, nothing else
    const char *branch;          //  auto-deploy: the release's branch
    const char *undone_version;  //  rollback: the version being undone (for its reason)
    int64_t slot_ms;             //  auto-deploy: the schedule slot (wall ms) it runs at, 0: none
    bool security;               //  emergency: a security one (--security): roles listed with
                                 //  `when: security` are asked too
} ctl_door_request_t;

//  The environment's policy. `env` NULL means the environment is unknown.
typedef struct {
    const jad_env_config_t *env;
    const char *const *emergency_skips;  //  controller.yaml emergency_skips: requires, bake
    size_t emergency_skip_count;
} ctl_door_policy_t;

//  What the store knows about the release (app, version). Borrowed strings.
typedef struct {
    bool exists;                //  the release is stored, with its artifact
    int64_t counter;            //  its release counter
    bool has_floor;             //  the app has a security floor
    int64_t floor;              //  the floor's counter
    const char *floor_version;  //  the release that set the floor
    const char *bad;            //  why an automatic rollback marked it bad, or NULL
    bool promoted;              //  a deploy of it succeeded in the env `requires` names
    const char *active_above;   //  db-rollback: a release above it active in env, or NULL
    //  the environment's release checks judged for it (ctl_checks_judge),
    //  one per check of the environment, in its order; NULL if they could
    //  not be judged (then a deploy to an environment with checks is
    //  refused)
    const ctl_check_result_t *checks;
    size_t check_count;
} ctl_release_facts_t;

typedef enum {
    CTL_DOOR_ALLOWED = 0,     //  create the plan and start it
    CTL_DOOR_NEEDS_APPROVAL,  //  create it in state approval: roles must approve
    CTL_DOOR_REFUSED,         //  create nothing; text says why (exit 2)
} ctl_door_outcome_t;

typedef struct {
    ctl_door_outcome_t outcome;
    const char *rule;  //  refused: the rule that refused (static string), else NULL
    char text[1024];   //  refused: the message for the operator, else ""
    const char *roles[CTL_APPROVALS_MAX_ROLES];  //  needs approval: the roles asked (borrowed
    size_t role_count;                           //  from env; ctl_approvals_roles)
    bool skip_windows;                           //  the plan may run outside windows
    bool skip_canary_bake;                       //  a rollback: no canary, no bake
    bool skip_bake;                              //  emergency_skips lists bake: the plan bakes 0 ms
    char waived[512];                            //  what an emergency skipped and why, or ""
    char waived_checks[512];  //  the checks an emergency waived (emergency_waives), or ""
    char plan_reason[1024];   //  the reason the plan is created with (plans.reason)
    int64_t next_slot_ms;     //  refused by schedule: the slot the release waits for, or -1
} ctl_door_verdict_t;

//  Judge `request` (app, version and env set) against `policy` and
//  `facts` at wall time now_ms. Fills *verdict and returns its outcome.
ctl_door_outcome_t ctl_door_check (const ctl_door_request_t *request,
                                   const ctl_door_policy_t *policy,
                                   const ctl_release_facts_t *facts, int64_t now_ms,
                                   ctl_door_verdict_t *verdict);

//  A release that succeeded in the environment: one row per succeeded
//  deploy or rollback plan of the app there, newest first.
typedef struct {
    const char *version;
    int64_t created;  //  when that plan was created (wall ms)
    ctl_release_facts_t facts;
} ctl_door_candidate_t;

//  A rollback to decide.
typedef struct {
    const char *undone_plan;                 //  the plan undone (named, or the latest deploy or
                                             //  rollback of app in env), NULL if none
    const char *undone_version;              //  its version
    const char *to;                          //  the version asked for, or NULL: last known-good
    ctl_release_facts_t to_facts;            //  facts about `to` when given
    const ctl_door_candidate_t *candidates;  //  when `to` is NULL
    size_t candidate_count;
    int64_t before;  //  only candidates created before this (the undone
                     //  plan's creation, for an alert's rollback); 0: any
} ctl_door_rollback_t;

//  Decide a rollback (request->kind CTL_DOOR_ROLLBACK or
//  CTL_DOOR_AUTO_ROLLBACK; request->version is ignored): the target is
//  `to`, or the last known-good release, i.e. the first candidate (newest
//  first) other than the undone version, created before `before`, not
//  marked bad, at or above the floor and passing every rule of the door.
//  A rollback never goes to the version it undoes: a `to` equal to the
//  undone version is refused (rule "rollback": nothing to roll back).
//  Returns the target (borrowed from `to` or a candidate) with the
//  verdict, or NULL with a refused verdict.
const char *ctl_door_rollback (const ctl_door_request_t *request, const ctl_door_policy_t *policy,
                               const ctl_door_rollback_t *rollback, int64_t now_ms,
                               ctl_door_verdict_t *verdict);

//  True if wall time now_ms (in env's timezone, else the controller's
//  local time) falls in one of env's windows, or env has none. `which`
//  gets the windows as one line, with the zone when env has one
//  ("Tue 09:00-17:00, Thu 09:00-17:00 Europe/Berlin").
bool ctl_door_in_window (const jad_env_config_t *env, int64_t now_ms, char *which, size_t len);

//  The slot of env's schedule at or after now_ms (-1: none, or env has
//  no schedule).
int64_t ctl_door_next_slot (const jad_env_config_t *env, int64_t now_ms);

//  True if a release on `branch` is deployed to env automatically: env
//  has auto_deploy and a `track` pattern (shell glob) matching branch.
bool ctl_door_tracks (const jad_env_config_t *env, const char *branch);

//  True if `skip` ("requires", "bake") is in the policy's emergency_skips.
bool ctl_door_emergency_skips (const ctl_door_policy_t *policy, const char *skip);

//  The kind's name ("deploy", "auto-deploy", "emergency", "rollback",
//  "automatic rollback", "task", "db-rollback", "converge").
const char *ctl_door_kind_name (ctl_door_kind_t kind);

#endif
