//  ctl_policy - environment policy: promotion gate, deploy windows,
//  emergency approvals, branch tracking
//  SPDX-License-Identifier: MPL-2.0
//
//  Emergency approvals: each role listed in emergency_approvals needs its
//  own operator, and one operator counts for one role only, whatever
//  roles they hold. Which operator covers which role is a bipartite
//  matching, recomputed on every approval, so the order of approvals does
//  not matter. An operator with the admin role holds every role. The
//  operator who asked for the emergency deploy cannot approve it.

#include "ctl_policy.h"
#include "ctl_decisions.h"
#include "ctl_plans_repo.h"
#include "ctl_releases_repo.h"
#include "jad_log.h"
#include "jad_util.h"

#include <string.h>

#define S_MAX_ROLES     32
#define S_MAX_APPROVERS 64

static int s_clock (const char *text)
{
    return ((text[0] - '0') * 10 + (text[1] - '0')) * 60 + (text[3] - '0') * 10 + (text[4] - '0');
}

bool ctl_policy_in_window (const jad_env_config_t *env, time_t now, char *which, size_t len)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    size_t used = 0;
    if (len)
        which[0] = 0;
    for (size_t index = 0; index < env->window_count && used < len; index++)
        used += (size_t)snprintf (which + used, len - used, "%s%s", index ? ", " : "",
                                  env->windows[index]);
    if (env->window_count == 0)
        return true;
    struct tm local;
    localtime_r (&now, &local);
    int minute = local.tm_hour * 60 + local.tm_min;
    for (size_t index = 0; index < env->window_count; index++) {
        //  validated by the config loader: "Ddd HH:MM-HH:MM"
        const char *window = env->windows[index];
        if (strlen (window) != 15 || strncmp (window, days[local.tm_wday], 3) != 0)
            continue;
        if (minute >= s_clock (window + 4) && minute < s_clock (window + 10))
            return true;
    }
    return false;
}

bool ctl_policy_online (const jad_controller_config_t *config, int64_t last_seen, int64_t now)
{
    int64_t window = 3 * (int64_t)config->heartbeat_ms + 1000;
    return last_seen > 0 && now - last_seen <= window;
}

int ctl_policy_check_floor (ctl_store_t *store, const char *app, const char *version, char *err,
                            size_t errlen)
{
    ctl_release_t *release = NULL;
    int status = 0;
    if (ctl_releases_repo_get (store, app, version, &release) == 0 && release->has_floor &&
        release->counter < release->floor) {
        snprintf (err, errlen,
                  "refused by security floor: %s %s has release counter %lld, below the "
                  "floor %lld (%s %s, set with jadctl release floor)",
                  app, version, (long long)release->counter, (long long)release->floor, app,
                  release->floor_version);
        status = 2;
    }
    ctl_release_destroy (&release);
    return status;
}

int ctl_policy_check_deploy (ctl_store_t *store, const jad_env_config_t *env, const char *app,
                             const char *version, bool emergency, bool *needs_approval, char *err,
                             size_t errlen)
{
    *needs_approval = false;
    if (env->requires) {
        bool promoted =
            ctl_plans_repo_succeeded_in (store, env->requires, app, version, "deploy") == 1;
        if (!promoted) {
            snprintf (err, errlen,
                      "refused by requires: %s %s has not succeeded in %s (%s requires %s)", app,
                      version, env->requires, env->name, env->requires);
            return 2;
        }
    }
    char windows[512];
    time_t now = time (NULL);
    bool inside = ctl_policy_in_window (env, now, windows, sizeof windows);
    if (!inside && !emergency) {
        char clock[32];
        struct tm local;
        localtime_r (&now, &local);
        strftime (clock, sizeof clock, "%a %H:%M", &local);
        snprintf (err, errlen,
                  "refused by windows: %s accepts deploys only in %s (now %s); use --emergency "
                  "--reason TEXT",
                  env->name, windows, clock);
        return 2;
    }
    if (emergency) {
        if (env->emergency_approval_count == 0) {
            snprintf (err, errlen,
                      "refused by emergency_approvals: %s lists no approver roles, so it takes "
                      "no emergency deploys",
                      env->name);
            return 2;
        }
        *needs_approval = true;
    }
    return 0;
}

//  True if the comma-separated `roles` hold `role` (admin holds all).
static bool s_holds (const char *roles, const char *role)
{
    char *copy = strdup (roles ? roles : "");
    char *save = NULL;
    bool found = false;
    for (char *item = strtok_r (copy, ",", &save); item && !found;
         item = strtok_r (NULL, ",", &save))
        found = streq (item, role) || streq (item, "admin");
    free (copy);
    return found;
}

//  Kuhn's augmenting path: try to give approver `who` a role.
static bool s_augment (bool can[S_MAX_APPROVERS][S_MAX_ROLES], size_t roles, size_t who,
                       int *role_owner, bool *seen)
{
    for (size_t role = 0; role < roles; role++) {
        if (!can[who][role] || seen[role])
            continue;
        seen[role] = true;
        if (role_owner[role] < 0 ||
            s_augment (can, roles, (size_t)role_owner[role], role_owner, seen)) {
            role_owner[role] = (int)who;
            return true;
        }
    }
    return false;
}

//  Maximum matching of approvers to roles; role_owner[role] = approver
//  index or -1. Returns the number of roles covered.
static size_t s_match (bool can[S_MAX_APPROVERS][S_MAX_ROLES], size_t approvers, size_t roles,
                       int *role_owner)
{
    size_t covered = 0;
    for (size_t role = 0; role < roles; role++)
        role_owner[role] = -1;
    for (size_t who = 0; who < approvers; who++) {
        bool seen[S_MAX_ROLES] = {false};
        if (s_augment (can, roles, who, role_owner, seen))
            covered++;
    }
    return covered;
}

int ctl_policy_approve (ctl_store_t *store, const jad_controller_config_t *config,
                        const char *plan_id, const char *operator_name, const char *roles,
                        json_t **result, bool *complete_p, char *err, size_t errlen)
{
    *complete_p = false;
    ctl_plan_t *plan = NULL;
    if (ctl_plans_repo_get (store, plan_id, &plan) != 0) {
        snprintf (err, errlen, "no plan '%s' (see: jadctl plans)", plan_id);
        return 2;
    }
    char state[32], env_name[JAD_NAME_MAX + 1], deployer[JAD_NAME_MAX + 16];
    snprintf (state, sizeof state, "%s", plan->state);
    snprintf (env_name, sizeof env_name, "%s", plan->env);
    snprintf (deployer, sizeof deployer, "%s", plan->deployer ? plan->deployer : "");
    bool is_emergency = plan->emergency != NULL;
    ctl_plan_destroy (&plan);
    const jad_env_config_t *env = jad_controller_config_env (config, env_name);
    if (!is_emergency || !streq (state, "approval") || !env) {
        snprintf (err, errlen, "plan %s is not waiting for approval (state %s)", plan_id, state);
        return 2;
    }
    if (streq (deployer, operator_name)) {
        snprintf (err, errlen, "refused: %s asked for this emergency deploy and cannot approve it",
                  operator_name);
        return 2;
    }
    zlistx_t *given = ctl_plans_repo_approvals (store, plan_id);
    bool already = false;
    for (ctl_approval_row_t *row = given ? zlistx_first (given) : NULL; row;
         row = zlistx_next (given))
        already = already || streq (row->operator_name, operator_name);
    if (already) {
        zlistx_destroy (&given);
        snprintf (err, errlen,
                  "refused: %s has already approved plan %s (one operator counts for one role)",
                  operator_name, plan_id);
        return 2;
    }
    //  approvers so far, then the new one last
    char *names[S_MAX_APPROVERS];
    char *their_roles[S_MAX_APPROVERS];
    size_t approvers = 0;
    for (ctl_approval_row_t *row = given ? zlistx_first (given) : NULL;
         row && approvers < S_MAX_APPROVERS - 1; row = zlistx_next (given)) {
        names[approvers] = strdup (row->operator_name);
        their_roles[approvers] = strdup (row->operator_roles);
        approvers++;
    }
    zlistx_destroy (&given);
    names[approvers] = strdup (operator_name);
    their_roles[approvers] = strdup (roles ? roles : "");
    approvers++;
    size_t role_count =
        env->emergency_approval_count < S_MAX_ROLES ? env->emergency_approval_count : S_MAX_ROLES;
    bool can[S_MAX_APPROVERS][S_MAX_ROLES];
    for (size_t who = 0; who < approvers; who++)
        for (size_t role = 0; role < role_count; role++)
            can[who][role] = s_holds (their_roles[who], env->emergency_approvals[role]);
    int before_owner[S_MAX_ROLES], after_owner[S_MAX_ROLES];
    size_t before = s_match (can, approvers - 1, role_count, before_owner);
    size_t after = s_match (can, approvers, role_count, after_owner);
    int status = 0;
    char needed[512] = "";
    size_t used = 0;
    for (size_t role = 0; role < role_count && used < sizeof needed; role++)
        if (before_owner[role] < 0)
            used += (size_t)snprintf (needed + used, sizeof needed - used, "%s%s", used ? ", " : "",
                                      env->emergency_approvals[role]);
    if (after == before) {
        snprintf (err, errlen,
                  "refused: %s (roles: %s) covers none of the roles still needed: %s "
                  "(one operator counts for one role)",
                  operator_name, roles ? roles : "-", needed);
        status = 2;
        goto done;
    }
    const char *as_role = "?";
    for (size_t role = 0; role < role_count; role++)
        if (after_owner[role] == (int)approvers - 1)
            as_role = env->emergency_approvals[role];
    ctl_plans_repo_approval_add (store, plan_id, operator_name, as_role, jad_now_ms ());
    ctl_decisions_record (store, plan_id, "emergency_approvals", "approved",
                          "%s approved as %s (%zu of %zu roles covered)", operator_name, as_role,
                          after, role_count);
    json_t *missing = json_array ();
    for (size_t role = 0; role < role_count; role++)
        if (after_owner[role] < 0)
            json_array_append_new (missing, json_string (env->emergency_approvals[role]));
    *result = json_pack ("{s:s, s:s, s:s, s:I, s:I, s:o}", "plan", plan_id, "operator",
                         operator_name, "role", as_role, "covered", (json_int_t)after, "required",
                         (json_int_t)role_count, "missing", missing);
    if (after == role_count) {
        ctl_decisions_record (store, plan_id, "emergency_approvals", "complete",
                              "every listed role approved: starting the emergency deploy");
        *complete_p = true;
    }
done:
    for (size_t who = 0; who < approvers; who++) {
        free (names[who]);
        free (their_roles[who]);
    }
    return status;
}
