//  ctl_door - the policy door: one verdict for every plan of every kind
//  SPDX-License-Identifier: MPL-2.0
//
//  One table says which rules a kind meets (s_rules); ctl_door_check
//  walks the rules in one fixed order, so a refusal names the same rule
//  whatever kind of plan met it.

#include "ctl_door.h"

#include "ctl_calendar.h"

#include <assert.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

enum {
    S_BAD = 1 << 0,
    S_REQUIRES = 1 << 1,
    S_WINDOWS = 1 << 2,
    S_APPROVALS = 1 << 3,
    S_FLOOR = 1 << 4,
    S_ACTIVE = 1 << 5,
    S_CHECKS = 1 << 6,
    S_SCHEDULE = 1 << 7,
};

//  The rules each kind meets (every kind: environment and release).
static unsigned s_rules (ctl_door_kind_t kind)
{
    switch (kind) {
        case CTL_DOOR_DEPLOY:
            return S_BAD | S_REQUIRES | S_WINDOWS | S_FLOOR | S_CHECKS;
        case CTL_DOOR_AUTO_DEPLOY:
            return S_SCHEDULE | S_BAD | S_REQUIRES | S_WINDOWS | S_FLOOR | S_CHECKS;
        case CTL_DOOR_EMERGENCY:
            return S_BAD | S_REQUIRES | S_APPROVALS | S_FLOOR | S_CHECKS;
        case CTL_DOOR_ROLLBACK:
        case CTL_DOOR_AUTO_ROLLBACK:
        case CTL_DOOR_CONVERGE:
            return S_BAD | S_REQUIRES | S_FLOOR;
        case CTL_DOOR_TASK:
            return S_FLOOR;
        case CTL_DOOR_DB_ROLLBACK:
            return S_ACTIVE;
    }
    return 0;
}

const char *ctl_door_kind_name (ctl_door_kind_t kind)
{
    switch (kind) {
        case CTL_DOOR_DEPLOY:
            return "deploy";
        case CTL_DOOR_AUTO_DEPLOY:
            return "auto-deploy";
        case CTL_DOOR_EMERGENCY:
            return "emergency";
        case CTL_DOOR_ROLLBACK:
            return "rollback";
        case CTL_DOOR_AUTO_ROLLBACK:
            return "automatic rollback";
        case CTL_DOOR_TASK:
            return "task";
        case CTL_DOOR_DB_ROLLBACK:
            return "db-rollback";
        case CTL_DOOR_CONVERGE:
            return "converge";
    }
    return "unknown";
}

bool ctl_door_in_window (const jad_env_config_t *env, int64_t now_ms, char *which, size_t len)
{
    size_t used = 0;
    if (len)
        which[0] = 0;
    for (size_t index = 0; index < env->window_count && used < len; index++)
        used += (size_t)snprintf (which + used, len - used, "%s%s", index ? ", " : "",
                                  env->windows[index]);
    if (env->tz && env->window_count && used < len)
        snprintf (which + used, len - used, " %s", jad_tz_name (env->tz));
    return ctl_calendar_in_window (env->windows, env->window_count, env->tz, now_ms);
}

int64_t ctl_door_next_slot (const jad_env_config_t *env, int64_t now_ms)
{
    if (!env || !env->schedule)
        return -1;
    return ctl_calendar_next_slot (&env->slots, env->tz, now_ms);
}

//  The schedule rule: an auto-deploy runs at a slot of the schedule that
//  has come (the controller fires it then), never in between.
static bool s_at_slot (const ctl_door_request_t *request, const jad_env_config_t *env,
                       int64_t now_ms, ctl_door_verdict_t *verdict)
{
    if (!env->schedule)
        return true;
    int64_t slot = request->slot_ms;
    if (slot > 0 && slot <= now_ms && ctl_calendar_next_slot (&env->slots, env->tz, slot) == slot)
        return true;
    verdict->next_slot_ms = ctl_door_next_slot (env, now_ms);
    char when[64] = "no coming slot";
    if (verdict->next_slot_ms >= 0)
        ctl_calendar_format (env->tz, verdict->next_slot_ms, false, when, sizeof when);
    snprintf (verdict->text, sizeof verdict->text,
              "waits for %s's next slot: %s (schedule: %s%s%s)", env->name, when, env->schedule,
              env->tz ? " " : "", env->tz ? jad_tz_name (env->tz) : "");
    return false;
}

bool ctl_door_tracks (const jad_env_config_t *env, const char *branch)
{
    return env && branch && env->auto_deploy && env->track && fnmatch (env->track, branch, 0) == 0;
}

bool ctl_door_emergency_skips (const ctl_door_policy_t *policy, const char *skip)
{
    for (size_t index = 0; index < policy->emergency_skip_count; index++)
        if (policy->emergency_skips[index] && strcmp (policy->emergency_skips[index], skip) == 0)
            return true;
    return false;
}

static ctl_door_outcome_t s_refuse (ctl_door_verdict_t *verdict, const char *rule)
{
    verdict->outcome = CTL_DOOR_REFUSED;
    verdict->rule = rule;
    verdict->role_count = 0;
    verdict->plan_reason[0] = 0;
    return CTL_DOOR_REFUSED;
}

static bool s_rollback (ctl_door_kind_t kind)
{
    return kind == CTL_DOOR_ROLLBACK || kind == CTL_DOOR_AUTO_ROLLBACK;
}

//  The reason the plan is created with (plans.reason).
static void s_plan_reason (const ctl_door_request_t *request, const ctl_door_policy_t *policy,
                           const ctl_release_facts_t *facts, ctl_door_verdict_t *verdict)
{
    char *reason = verdict->plan_reason;
    size_t len = sizeof verdict->plan_reason;
    bool bad = facts->bad != NULL;
    switch (request->kind) {
        case CTL_DOOR_DEPLOY:
            snprintf (reason, len, "deploy requested%s",
                      bad ? " (--force: the release is marked bad)" : "");
            break;
        case CTL_DOOR_EMERGENCY:
            snprintf (reason, len, "%semergency deploy%s: %.400s%s%.250s%s%.250s",
                      request->security ? "security " : "", bad ? " of a release marked bad" : "",
                      request->reason ? request->reason : "",
                      *verdict->waived ? "; emergency_skips: " : "", verdict->waived,
                      *verdict->waived_checks ? "; emergency_waives: " : "",
                      verdict->waived_checks);
            break;
        case CTL_DOOR_AUTO_DEPLOY: {
            char slot[64] = "";
            if (policy->env->schedule && request->slot_ms > 0)
                ctl_calendar_format (policy->env->tz, request->slot_ms, false, slot, sizeof slot);
            snprintf (reason, len, "auto_deploy: %s tracks %s, release on branch %s%s%s",
                      policy->env->name, policy->env->track ? policy->env->track : "-",
                      request->branch ? request->branch : "-", *slot ? ", at the slot " : "", slot);
            break;
        }
        case CTL_DOOR_ROLLBACK:
            if (request->reason)
                snprintf (reason, len, "%s", request->reason);
            else
                snprintf (reason, len, "rollback requested: %s %s -> %s%s", request->app,
                          request->undone_version ? request->undone_version : "-", request->version,
                          bad ? " (--force: the release is marked bad)" : "");
            break;
        case CTL_DOOR_AUTO_ROLLBACK:
            snprintf (reason, len, "automatic rollback: %s",
                      request->reason ? request->reason : "requested by the controller");
            break;
        case CTL_DOOR_TASK:
            snprintf (reason, len, "%s", request->reason ? request->reason : "task");
            break;
        case CTL_DOOR_DB_ROLLBACK:
            snprintf (reason, len, "db-rollback requested: migrate_down of %s above %s",
                      request->app, request->version);
            break;
        case CTL_DOOR_CONVERGE:
            snprintf (reason, len, "%s",
                      request->reason ? request->reason
                                      : "converge: host lacks the environment's release");
            break;
    }
}

//  True if env's emergency_waives lists check `name`.
static bool s_waives (const jad_env_config_t *env, const char *name)
{
    for (size_t index = 0; index < env->emergency_waive_count; index++)
        if (env->emergency_waives[index] && name &&
            strcmp (env->emergency_waives[index], name) == 0)
            return true;
    return false;
}

//  The checks rule: every check of env ok, but what an emergency waives.
//  Returns false with the refusal in text; fills verdict->waived_checks.
static bool s_checks_pass (const ctl_door_request_t *request, const jad_env_config_t *env,
                           const ctl_release_facts_t *facts, ctl_door_verdict_t *verdict)
{
    char *text = verdict->text;
    size_t len = sizeof verdict->text;
    if (env->check_count == 0)
        return true;
    if (!facts->checks || facts->check_count != env->check_count) {
        snprintf (text, len,
                  "refused by checks: the checks of %s %s for %s could not be judged (see the "
                  "controller's log)",
                  request->app, request->version, env->name);
        return false;
    }
    bool emergency = request->kind == CTL_DOOR_EMERGENCY;
    size_t failing = 0, used = 0, waived_used = 0;
    for (size_t index = 0; index < facts->check_count; index++)
        if (facts->checks[index].verdict != JAD_CHECK_OK &&
            !(emergency && s_waives (env, facts->checks[index].name)))
            failing++;
    if (failing)
        used = (size_t)snprintf (
            text, len, "refused by checks: %s %s lacks %zu of %s's %zu checks:", request->app,
            request->version, failing, env->name, env->check_count);
    for (size_t index = 0; index < facts->check_count; index++) {
        const ctl_check_result_t *check = &facts->checks[index];
        if (check->verdict == JAD_CHECK_OK)
            continue;
        const char *state = ctl_check_state (check->verdict);
        if (emergency && s_waives (env, check->name)) {
            if (waived_used < sizeof verdict->waived_checks)
                waived_used += (size_t)snprintf (verdict->waived_checks + waived_used,
                                                 sizeof verdict->waived_checks - waived_used,
                                                 "%s%s (%s)", waived_used ? ", " : "",
                                                 check->name ? check->name : "?", state);
        } else if (used < len)
            used += (size_t)snprintf (text + used, len - used, "%s %s (%s: %.160s)",
                                      used && text[used - 1] != ':' ? ";" : "",
                                      check->name ? check->name : "?", state, check->why);
    }
    return failing == 0;
}

ctl_door_outcome_t ctl_door_check (const ctl_door_request_t *request,
                                   const ctl_door_policy_t *policy,
                                   const ctl_release_facts_t *facts, int64_t now_ms,
                                   ctl_door_verdict_t *verdict)
{
    assert (request && policy && facts && verdict);
    assert (request->app && request->version && request->env);
    memset (verdict, 0, sizeof *verdict);
    const jad_env_config_t *env = policy->env;
    char *text = verdict->text;
    size_t len = sizeof verdict->text;
    const char *app = request->app, *version = request->version;
    if (!env) {
        snprintf (text, len, "unknown environment '%s' (see controller.yaml)", request->env);
        return s_refuse (verdict, "environment");
    }
    unsigned rules = s_rules (request->kind);
    bool emergency = request->kind == CTL_DOOR_EMERGENCY;
    verdict->next_slot_ms = -1;
    //  before every other rule: at the slot they are judged afresh (the
    //  release may have succeeded in `requires` by then)
    if ((rules & S_SCHEDULE) && !s_at_slot (request, env, now_ms, verdict))
        return s_refuse (verdict, "schedule");
    verdict->skip_windows = !(rules & S_WINDOWS);
    verdict->skip_canary_bake = s_rollback (request->kind);
    verdict->skip_bake = emergency && ctl_door_emergency_skips (policy, "bake");

    //  A release an automatic rollback marked bad goes out again only on
    //  purpose: it failed somewhere, and the mark says where and why.
    if ((rules & S_BAD) && facts->bad && !request->force) {
        if (request->kind == CTL_DOOR_AUTO_ROLLBACK)
            snprintf (text, len, "refused: %s %s is marked bad (%.300s)", app, version, facts->bad);
        else
            snprintf (text, len, "refused: %s %s is marked bad (%.300s); %s anyway with --force",
                      app, version, facts->bad,
                      request->kind == CTL_DOOR_ROLLBACK ? "roll back to it" : "deploy it");
        return s_refuse (verdict, "bad mark");
    }
    if ((rules & S_REQUIRES) && env->requires && !facts->promoted) {
        if (emergency && ctl_door_emergency_skips (policy, "requires"))
            snprintf (verdict->waived, sizeof verdict->waived,
                      "requires (%s %s has not succeeded in %s)", app, version, env->requires);
        else {
            snprintf (text, len,
                      "refused by requires: %s %s has not succeeded in %s (%s requires %s)", app,
                      version, env->requires, env->name, env->requires);
            return s_refuse (verdict, "requires");
        }
    }
    if (verdict->skip_bake) {
        size_t used = strlen (verdict->waived);
        snprintf (verdict->waived + used, sizeof verdict->waived - used, "%sbake",
                  used ? ", " : "");
    }
    char windows[512];
    if ((rules & S_WINDOWS) && !ctl_door_in_window (env, now_ms, windows, sizeof windows)) {
        char clock[48];
        ctl_calendar_format (env->tz, now_ms, true, clock, sizeof clock);
        if (env->tz) {
            //  the zone's abbreviation says whether summer time is on
            const char *abbr = NULL;
            jad_tz_offset (env->tz, now_ms / 1000, &abbr);
            size_t used = strlen (clock);
            snprintf (clock + used, sizeof clock - used, " %s", abbr ? abbr : "");
        }
        snprintf (text, len,
                  "refused by windows: %s accepts deploys only in %s (now %s); use --emergency "
                  "--reason TEXT",
                  env->name, windows, clock);
        return s_refuse (verdict, "windows");
    }
    bool needs_approval = false;
    if (rules & S_APPROVALS) {
        if (env->emergency_approval_count == 0) {
            snprintf (text, len,
                      "refused by emergency_approvals: %s lists no approver roles, so it takes "
                      "no emergency deploys",
                      env->name);
            return s_refuse (verdict, "emergency_approvals");
        }
        verdict->role_count = ctl_approvals_roles (env, request->security, verdict->roles);
        if (verdict->role_count == 0) {
            snprintf (text, len,
                      "refused by emergency_approvals: %s asks approvers only of a security "
                      "emergency (deploy --emergency --security)",
                      env->name);
            return s_refuse (verdict, "emergency_approvals");
        }
        needs_approval = true;
    }
    if (!facts->exists) {
        snprintf (text, len, "no release %s %s (add it with: jadctl release add)", app, version);
        return s_refuse (verdict, "release");
    }
    if ((rules & S_FLOOR) && facts->has_floor && facts->counter < facts->floor) {
        snprintf (text, len,
                  "refused by security floor: %s %s has release counter %lld, below the "
                  "floor %lld (%s %s, set with jadctl release floor)",
                  app, version, (long long)facts->counter, (long long)facts->floor, app,
                  facts->floor_version ? facts->floor_version : "-");
        return s_refuse (verdict, "security floor");
    }
    //  --force overrides a bad mark, never a check
    if ((rules & S_CHECKS) && !s_checks_pass (request, env, facts, verdict))
        return s_refuse (verdict, "checks");
    if ((rules & S_ACTIVE) && facts->active_above && !request->force) {
        snprintf (text, len,
                  "refused: %s %s is active in %s, above %s: roll the code back first "
                  "(jadctl rollback %s --env %s --to %s) or use --force",
                  app, facts->active_above, env->name, version, app, env->name, version);
        return s_refuse (verdict, "active");
    }
    if (needs_approval)
        verdict->outcome = CTL_DOOR_NEEDS_APPROVAL;
    else
        verdict->outcome = CTL_DOOR_ALLOWED;
    s_plan_reason (request, policy, facts, verdict);
    return verdict->outcome;
}

//  A rollback never goes to the version it undoes: that would change
//  nothing (every host already has it, or was given it by the plan undone).
static bool s_undoes_nothing (const ctl_door_rollback_t *rollback, const char *version)
{
    return strcmp (version, rollback->undone_version) == 0;
}

const char *ctl_door_rollback (const ctl_door_request_t *request, const ctl_door_policy_t *policy,
                               const ctl_door_rollback_t *rollback, int64_t now_ms,
                               ctl_door_verdict_t *verdict)
{
    assert (request && policy && rollback && verdict);
    assert (s_rollback (request->kind));
    memset (verdict, 0, sizeof *verdict);
    if (!policy->env) {
        snprintf (verdict->text, sizeof verdict->text,
                  "unknown environment '%s' (see controller.yaml)", request->env);
        s_refuse (verdict, "environment");
        return NULL;
    }
    if (!rollback->undone_plan || !rollback->undone_version) {
        snprintf (verdict->text, sizeof verdict->text,
                  "nothing to roll back: %s was never deployed to %s", request->app, request->env);
        s_refuse (verdict, "rollback");
        return NULL;
    }
    ctl_door_request_t ask = *request;
    ask.undone_version = rollback->undone_version;
    if (rollback->to && s_undoes_nothing (rollback, rollback->to)) {
        snprintf (verdict->text, sizeof verdict->text,
                  "nothing to roll back: %s %s is already current in %s (plan %s); name "
                  "another version with --to VERSION",
                  request->app, rollback->to, request->env, rollback->undone_plan);
        s_refuse (verdict, "rollback");
        return NULL;
    }
    if (rollback->to) {
        ask.version = rollback->to;
        return ctl_door_check (&ask, policy, &rollback->to_facts, now_ms, verdict) ==
                       CTL_DOOR_REFUSED
                   ? NULL
                   : rollback->to;
    }
    //  Last known-good: never a bad release, even with --force.
    ask.force = false;
    for (size_t index = 0; index < rollback->candidate_count; index++) {
        const ctl_door_candidate_t *candidate = &rollback->candidates[index];
        if (!candidate->version || s_undoes_nothing (rollback, candidate->version))
            continue;
        if (rollback->before && candidate->created >= rollback->before)
            continue;
        ask.version = candidate->version;
        if (ctl_door_check (&ask, policy, &candidate->facts, now_ms, verdict) != CTL_DOOR_REFUSED)
            return candidate->version;
    }
    memset (verdict, 0, sizeof *verdict);
    snprintf (verdict->text, sizeof verdict->text,
              "no known-good release of %s in %s other than %s (name one with --to VERSION)",
              request->app, request->env, rollback->undone_version);
    s_refuse (verdict, "rollback");
    return NULL;
}
