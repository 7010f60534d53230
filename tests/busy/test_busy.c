//  test_busy - a busy operator's day: a seeded random sequence of operator
//  and world actions against a real controller and real agents, with the
//  fleet's invariants checked after every step
//  SPDX-License-Identifier: MPL-2.0
//
//  Each step is one action chosen at random with weights: SIGHUP reloads
//  with real edits (valid and invalid), HTTP scrapes, jadctl queries,
//  deploys (some waited on in the background, some of a broken release),
//  rollbacks, aborts, pauses and resumes, emergencies and their approvals
//  by other operators, release adds, and kill -9 or SIGTERM of agents and
//  of the controller with restarts on the same data. Every step draws the
//  same number of random values, so a seed replays the same choices; what
//  they meet (which plans still run) depends on timing.
//
//      JADUGAR_BUSY_SEED=N     replay a run (the seed is printed at start)
//      JADUGAR_BUSY_STEPS=N    steps (default 125: a CI run's share of two
//                              cores; every run draws a new seed)
//      JADUGAR_BUSY_VERBOSE=1  print every step
//      JADUGAR_BUSY_HOLD=N     after a failure, leave the fleet running N s
//                              (to look at it) before killing it

#include "busy.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_SETTLE_EVERY 25
#define S_PARAMS       6

typedef void (s_action_fn) (busy_t *self, const uint32_t *r);

//  Index of an environment: dev 30%, staging 40%, prod 30%.
static int s_pick_env (uint32_t value)
{
    uint32_t slot = value % 10;
    return slot < 3 ? 0 : slot < 7 ? 1 : 2;
}

//  A release: the newest half of the time, else any.
static busy_release_t *s_pick_release (busy_t *self, uint32_t value)
{
    if (value % 2 == 0)
        return &self->releases[self->release_count - 1];
    return &self->releases[(value / 2) % (uint32_t)self->release_count];
}

//  --------------------------------------------------------------------------
//  Looking: HTTP and jadctl queries

static size_t s_body_write (char *data, size_t size, size_t count, void *arg)
{
    return fwrite (data, size, count, (FILE *)arg);
}

static void s_scrape (busy_t *self, const uint32_t *r)
{
    static const char *const paths[] = {"/", "/api/status", "/metrics"};
    const char *path = paths[r[0] % 3];
    char url[128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", self->fleet->port + 3, path);
    char *body = NULL;
    size_t size = 0;
    FILE *memory = open_memstream (&body, &size);
    CURL *curl = curl_easy_init ();
    if (!memory || !curl)
        busy_fail (self, -2, "out of memory for an HTTP request");
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_body_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, memory);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform (curl);
    long status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup (curl);
    fclose (memory);
    busy_note (self, "GET %s -> %s %ld", path, rc == CURLE_OK ? "ok" : curl_easy_strerror (rc),
               status);
    if (!busy_controller_up (self)) {
        if (rc == CURLE_OK)
            busy_fail (self, -1, "GET %s answered %ld while the controller is down", path, status);
        free (body);
        return;
    }
    if (rc != CURLE_OK || status != 200)
        busy_fail (self, -1, "GET %s: %s, HTTP %ld", path, curl_easy_strerror (rc), status);
    const char *needle = r[0] % 3 == 0   ? "<!DOCTYPE html>"
                         : r[0] % 3 == 2 ? "jadugar_agents{"
                                         : NULL;
    if (needle && !strstr (body, needle))
        busy_fail (self, -1, "GET %s lacks '%s':\n%.2000s", path, needle, body);
    if (r[0] % 3 == 1) {
        json_t *status_json = busy_json (self, body, "GET /api/status");
        json_t *agents = json_object_get (status_json, "agents");
        if (json_array_size (agents) != (size_t)self->fleet->agent_count ||
            json_array_size (json_object_get (status_json, "environments")) < BUSY_ENVS)
            busy_fail (self, -1, "GET /api/status: %zu agents, %zu environments:\n%.2000s",
                       json_array_size (agents),
                       json_array_size (json_object_get (status_json, "environments")), body);
        json_decref (status_json);
    }
    free (body);
}

static void s_query (busy_t *self, const uint32_t *r)
{
    //  a viewer now and then: may look, may not read the audit log
    const char *operator= r[1] % 5 == 0 ? "vera" : NULL;
    char *output = NULL, *plan_id = NULL;
    int64_t since = busy_now ();
    int rc = 0;
    unsigned allowed = BUSY_OK;
    const char *what = "";
    switch (r[0] % 8) {
        case 0:
            what = "status";
            rc = busy_jadctl (self, operator, & output, "status");
            break;
        case 1:
            what = "status --json";
            rc = busy_jadctl (self, operator, & output, "--json status");
            break;
        case 2:
            what = "plans";
            rc = busy_jadctl (self, operator, & output, "plans%s", r[2] % 2 ? " --env prod" : "");
            break;
        case 3:
            what = "plans --json";
            rc = busy_jadctl (self, operator, & output, "--json plans");
            break;
        case 4:
            plan_id = busy_some_plan (self, r[2]);
            what = "plan show";
            rc = busy_jadctl (self, operator, & output, "%splan show %s", r[3] % 2 ? "--json " : "",
                              plan_id);
            break;
        case 5:
            what = "alerts";
            rc = busy_jadctl (self, operator, & output, "alerts");
            break;
        case 6:
            what = "audit";
            rc = busy_jadctl (self, operator, & output, "--json audit --since 1h");
            allowed = operator? BUSY_REFUSED : BUSY_OK;
            break;
        default:
            what = "metrics";
            rc = busy_jadctl (self, operator, & output, "metrics --env %s --since 5m",
                              self->envs[s_pick_env (r[2])].name);
            break;
    }
    busy_note (self, "%s%s%s%s -> %d", operator? "vera: " : "", what, plan_id ? " " : "",
               plan_id ? plan_id : "", rc);
    busy_check_code (self, rc, allowed, since, output, what);
    if (rc == 0 && r[0] % 8 == 0) {
        for (int index = 0; index < self->fleet->agent_count; index++)
            if (!strstr (output, self->fleet->agent_names[index]))
                busy_fail (self, -1, "jadctl status does not list %s:\n%s",
                           self->fleet->agent_names[index], output);
    }
    if (rc == 0 && (r[0] % 8 == 1 || r[0] % 8 == 3 || (r[0] % 8 == 4 && r[3] % 2)))
        json_decref (busy_json (self, output, what));
    if (rc == 0 && r[0] % 8 == 6) {
        //  what jadctl shows of the audit log is what the database holds
        json_t *result = busy_json (self, output, what);
        busy_check_audit_rows (self, json_object_get (result, "audit"), output);
        json_decref (result);
    }
    if (rc == 0 && r[0] % 8 == 5 && r[2] % 2)
        busy_check_alerts (self, "alerts");
    free (plan_id);
    free (output);
}

//  --------------------------------------------------------------------------
//  Deploying

//  What a deploy of release to env must answer: the refusal it must get
//  (set in *refusal), or NULL when it may go ahead.
static const char *s_deploy_refusal (busy_t *self, int env, const busy_release_t *release,
                                     bool emergency)
{
    if (env == 2 && !busy_succeeded_in (self, "staging", release->version))
        return "refused by requires";
    if (emergency && env != 2)
        return "refused by emergency_approvals";
    if (self->envs[env].closed && !emergency)
        return "refused by windows";
    return NULL;
}

static void s_deploy (busy_t *self, const uint32_t *r)
{
    int env = s_pick_env (r[0]);
    busy_release_t *release = s_pick_release (self, r[1]);
    char options[128] = "";
    const char *strategy = self->envs[env].strategy;
    switch (r[2] % 6) {
        case 0:
            snprintf (options, sizeof options, " --strategy all");
            strategy = "all";
            break;
        case 1:
            snprintf (options, sizeof options, " --strategy rolling --batch 1");
            strategy = "rolling";
            break;
        case 2:
            snprintf (options, sizeof options, " --strategy canary --canary 1 --bake 1s");
            strategy = "canary";
            break;
        default:
            break;
    }
    const char *refusal = s_deploy_refusal (self, env, release, false);
    char args[256];
    snprintf (args, sizeof args, "deploy " BUSY_APP " %s --env %s%s", release->version,
              self->envs[env].name, options);
    if (r[3] % 3 == 0 && busy_controller_up (self) &&
        busy_jadctl_background (self, release, refusal ? BUSY_REFUSED : BUSY_OK | BUSY_FAILED,
                                refusal, "%s --wait", args)) {
        busy_note (self, "%s --wait (background)%s%s", args, refusal ? ", expect " : "",
                   refusal ? refusal : "");
        return;
    }
    bool json = r[4] % 2;
    char *output = NULL;
    int64_t since = busy_now ();
    int rc = busy_jadctl (self, NULL, &output, "%s%s", json ? "--json " : "", args);
    busy_note (self, "%s%s -> %d", args, release->broken ? " (broken)" : "", rc);
    if (refusal && rc == 0 && env == 2 && busy_succeeded_in (self, "staging", release->version))
        refusal = s_deploy_refusal (self, env, release, false);  //  staging just made it
    busy_check_code (self, rc, refusal ? BUSY_REFUSED : BUSY_OK, since, output, args);
    if (rc == 2 && !strstr (output, refusal))
        busy_fail (self, -1, "%s: refused, but not '%s':\n%s", args, refusal, output);
    if (rc == 0 && json) {
        json_t *result = busy_json (self, output, args);
        json_t *plan = json_object_get (result, "plan");
        const char *shown = json_string_value (json_object_get (plan, "strategy"));
        if (!shown || !busy_streq (shown, strategy))
            busy_fail (self, -1, "%s: the plan's strategy is '%s', policy and flags say '%s':\n%s",
                       args, shown ? shown : "(none)", strategy, output);
        json_decref (result);
    }
    free (output);
}

static void s_rollback (busy_t *self, const uint32_t *r)
{
    int env = s_pick_env (r[0]);
    busy_release_t *release = NULL;
    char args[128];
    if (r[1] % 3 == 0) {
        release = s_pick_release (self, r[2]);
        snprintf (args, sizeof args, "rollback " BUSY_APP " --env %s --to %s", self->envs[env].name,
                  release->version);
    } else
        snprintf (args, sizeof args, "rollback " BUSY_APP " --env %s", self->envs[env].name);
    //  with --to, a waiter for that release (it may be broken); without,
    //  the rollback goes to one that succeeded
    if (r[3] % 3 == 0 && busy_controller_up (self) &&
        busy_jadctl_background (self, release, BUSY_OK | BUSY_FAILED | BUSY_REFUSED, NULL,
                                "%s --wait", args)) {
        busy_note (self, "%s --wait (background)", args);
        return;
    }
    char *output = NULL;
    int64_t since = busy_now ();
    int rc = busy_jadctl (self, NULL, &output, "%s", args);
    busy_note (self, "%s -> %d", args, rc);
    busy_check_code (self, rc, BUSY_OK | BUSY_REFUSED, since, output, args);
    free (output);
}

//  An open plan (running or waiting for approval) chosen by value, in
//  state `state` (NULL: either); "" when there is none. Caller frees.
static char *s_open_plan (busy_t *self, uint32_t value, const char *state)
{
    json_t *plans = busy_open_plans (self);
    json_t *matching = json_array ();
    size_t index;
    json_t *plan;
    json_array_foreach (plans, index, plan)
    {
        if (!state || busy_streq (json_string_value (json_object_get (plan, "state")), state))
            json_array_append (matching, plan);
    }
    size_t count = json_array_size (matching);
    char *plan_id = strdup (
        count ? json_string_value (json_object_get (json_array_get (matching, value % count), "id"))
              : "");
    json_decref (matching);
    json_decref (plans);
    return plan_id;
}

static void s_abort (busy_t *self, const uint32_t *r)
{
    char *plan_id = s_open_plan (self, r[0], NULL);
    bool open = plan_id[0];
    if (!open) {
        free (plan_id);
        plan_id = busy_some_plan (self, r[1]);
    }
    char *output = NULL;
    int64_t since = busy_now ();
    int rc = busy_jadctl (self, NULL, &output, "plan abort %s", plan_id);
    busy_note (self, "plan abort %s%s -> %d", plan_id, open ? "" : " (ended)", rc);
    //  an open plan may end by itself just before the abort arrives
    busy_check_code (self, rc, open ? BUSY_OK | BUSY_REFUSED : BUSY_REFUSED, since, output,
                     "plan abort");
    if (rc == 0) {
        char *state = busy_plan_state (self, plan_id);
        if (!busy_streq (state, "failed"))
            busy_fail (self, -1, "plan abort %s exited 0, but the plan is '%s':\n%s", plan_id,
                       state, output);
        free (state);
    } else if (rc == 2 && !strstr (output, "nothing to abort"))
        busy_fail (self, -1, "plan abort %s refused without saying why:\n%s", plan_id, output);
    free (output);
    free (plan_id);
}

static void s_pause (busy_t *self, const uint32_t *r)
{
    char *plan_id = s_open_plan (self, r[0], "running");
    if (!plan_id[0]) {
        free (plan_id);
        plan_id = busy_some_plan (self, r[1]);
    }
    bool pause = r[2] % 2;
    char *output = NULL;
    int64_t since = busy_now ();
    int rc =
        busy_jadctl (self, NULL, &output, "--json plan %s %s", pause ? "pause" : "resume", plan_id);
    busy_note (self, "plan %s %s -> %d", pause ? "pause" : "resume", plan_id, rc);
    busy_check_code (self, rc, BUSY_OK | BUSY_REFUSED, since, output, "plan pause/resume");
    if (rc == 0) {
        json_t *result = busy_json (self, output, "plan pause/resume");
        json_t *plan = json_object_get (result, "plan");
        if (json_is_true (json_object_get (plan, "paused")) != pause)
            busy_fail (self, -1, "plan %s %s exited 0, but the plan says paused=%s:\n%s",
                       pause ? "pause" : "resume", plan_id, pause ? "false" : "true", output);
        json_decref (result);
    } else if (rc == 2 && !strstr (output, "cannot"))
        busy_fail (self, -1, "plan pause/resume %s refused without saying why:\n%s", plan_id,
                   output);
    free (output);
    free (plan_id);
}

static void s_emergency (busy_t *self, const uint32_t *r)
{
    int env = r[0] % 10 < 7 ? 2 : s_pick_env (r[0] / 10);
    busy_release_t *release = s_pick_release (self, r[1]);
    const char *refusal = s_deploy_refusal (self, env, release, true);
    char *output = NULL;
    int64_t since = busy_now ();
    int rc = busy_jadctl (self, NULL, &output,
                          "deploy " BUSY_APP " %s --env %s --emergency --reason 'busy step %d'",
                          release->version, self->envs[env].name, self->step);
    busy_note (self, "emergency deploy %s to %s -> %d", release->version, self->envs[env].name, rc);
    if (refusal && rc == 0 && env == 2 && busy_succeeded_in (self, "staging", release->version))
        refusal = s_deploy_refusal (self, env, release, true);  //  staging just made it
    busy_check_code (self, rc, refusal ? BUSY_REFUSED : BUSY_OK, since, output, "emergency deploy");
    if (rc == 2 && !strstr (output, refusal))
        busy_fail (self, -1, "emergency deploy: refused, but not '%s':\n%s", refusal, output);
    if (rc == 0 && !strstr (output, "waits for emergency approvals"))
        busy_fail (self, -1, "emergency deploy: no word of the approvals it needs:\n%s", output);
    free (output);
}

static void s_approve (busy_t *self, const uint32_t *r)
{
    static const char *const approvers[] = {"alice", "bob", NULL};
    const char *approver = approvers[r[1] % 3];
    char *plan_id = s_open_plan (self, r[0], "approval");
    bool waiting = plan_id[0];
    if (!waiting) {
        free (plan_id);
        plan_id = busy_some_plan (self, r[2]);
    }
    char *output = NULL;
    int64_t since = busy_now ();
    int rc = busy_jadctl (self, approver, &output, "plan approve %s", plan_id);
    busy_note (self, "%s approves %s%s -> %d", approver ? approver : "admin", plan_id,
               waiting ? "" : " (not waiting)", rc);
    //  the admin asked for every emergency: it may not approve its own
    busy_check_code (self, rc, waiting && approver ? BUSY_OK | BUSY_REFUSED : BUSY_REFUSED, since,
                     output, "plan approve");
    free (output);
    free (plan_id);
}

static void s_release_add (busy_t *self, const uint32_t *r)
{
    static const char *const branches[] = {"develop", "release/2026.12", NULL, NULL, NULL};
    busy_add_release (self, r[0] % 4 == 0, r[1] % 3 == 0, branches[r[2] % 5]);
}

//  --------------------------------------------------------------------------
//  Reloading controller.yaml

//  Change the model as `kind` says; returns what changed.
static const char *s_change (busy_t *self, uint32_t kind, const uint32_t *r)
{
    static char what[128];
    if (kind < 2 && self->alert_count < BUSY_ALERTS) {
        busy_alert_t *alert = &self->alerts[self->alert_count++];
        snprintf (alert->env, sizeof alert->env, "%s", self->envs[s_pick_env (r[1])].name);
        snprintf (alert->metric, sizeof alert->metric, "%s",
                  r[2] % 2 ? "busy_load" : "busy_errors");
        alert->above = 1000 + ++self->alert_serial;
        alert->for_s = 1 + (int)(r[3] % 5);
        snprintf (what, sizeof what, "alert add %s %s > %d", alert->env, alert->metric,
                  alert->above);
    } else if (kind < 4 && self->alert_count > 0) {
        int index = (int)(r[1] % (uint32_t)self->alert_count);
        snprintf (what, sizeof what, "alert rm %s %s > %d", self->alerts[index].env,
                  self->alerts[index].metric, self->alerts[index].above);
        self->alerts[index] = self->alerts[--self->alert_count];
    } else if (kind < 6) {
        busy_env_t *env = &self->envs[s_pick_env (r[1])];
        env->closed = !env->closed;
        snprintf (what, sizeof what, "%s window %s", env->name, env->closed ? "closed" : "open");
    } else {
        busy_env_t *env = &self->envs[s_pick_env (r[1])];
        static const char *const strategies[] = {"all", "rolling", "canary"};
        static const char *const batches[] = {"1", "2", "50%", ""};
        snprintf (env->strategy, sizeof env->strategy, "%s", strategies[r[2] % 3]);
        snprintf (env->batch, sizeof env->batch, "%s",
                  busy_streq (env->strategy, "all") ? "" : batches[r[3] % 3]);
        env->canary = 1;
        env->bake_s = 1 + (int)(r[4] % 2);
        snprintf (what, sizeof what, "%s strategy %s batch %s", env->name, env->strategy,
                  env->batch[0] ? env->batch : "-");
    }
    return what;
}

static void s_reload (busy_t *self, const uint32_t *r)
{
    uint32_t kind = r[0] % 10;
    bool invalid = kind >= 8 && busy_controller_up (self);
    if (!invalid) {
        const char *what = s_change (self, kind % 8, r);
        busy_write_config (self, NULL, NULL);
        if (!busy_controller_up (self)) {
            busy_note (self, "edit controller.yaml (%s) while the controller is down", what);
            return;
        }
        bool reloaded = busy_reload (self);
        busy_note (self, "reload (%s) -> %s", what, reloaded ? "reloaded" : "refused");
        if (!reloaded)
            busy_fail (self, -1, "a valid controller.yaml (%s) was refused on reload", what);
        busy_check_alerts (self, "after a reload");
        return;
    }
    //  an invalid edit: a real change plus a mistake; nothing may change
    static const char *const mistakes[] = {"bogus_key: 1", "concurrency: many",
                                           "emergency_approvals: tech-lead", "batch_size: 2"};
    busy_env_t envs[BUSY_ENVS];
    busy_alert_t alerts[BUSY_ALERTS];
    memcpy (envs, self->envs, sizeof envs);
    memcpy (alerts, self->alerts, sizeof alerts);
    int alert_count = self->alert_count, alert_serial = self->alert_serial;
    const char *what = s_change (self, r[5] % 8, r);
    const char *mistake = mistakes[r[4] % 4];
    const char *env = self->envs[s_pick_env (r[3])].name;
    busy_write_config (self, env, mistake);
    memcpy (self->envs, envs, sizeof envs);
    memcpy (self->alerts, alerts, sizeof alerts);
    self->alert_count = alert_count;
    self->alert_serial = alert_serial;
    bool reloaded = busy_reload (self);
    busy_note (self, "reload (%s, and %s in %s) -> %s", what, mistake, env,
               reloaded ? "reloaded" : "refused");
    if (reloaded)
        busy_fail (self, -1, "controller.yaml with '%s' in %s was accepted on reload", mistake,
                   env);
    busy_check_alerts (self, "after a refused reload");
    //  the operator fixes the file (no reload: nothing changed)
    busy_write_config (self, NULL, NULL);
}

//  --------------------------------------------------------------------------
//  The world: daemons die and come back

//  An agent index with running == want, chosen by value; -1 if none.
static int s_pick_agent (busy_t *self, uint32_t value, bool running)
{
    int candidates[JT_MAX_AGENTS], count = 0;
    for (int index = 0; index < self->fleet->agent_count; index++)
        if ((self->fleet->agents[index] > 0) == running)
            candidates[count++] = index;
    return count ? candidates[value % (uint32_t)count] : -1;
}

static void s_agent_kill (busy_t *self, const uint32_t *r)
{
    int index = s_pick_agent (self, r[0], true);
    if (index < 0) {
        s_scrape (self, r);
        return;
    }
    busy_kill_agent (self, index);
    bool again = r[1] % 2;
    busy_note (self, "kill -9 %s%s", self->fleet->agent_names[index], again ? ", restart" : "");
    if (again)
        busy_start_agent (self, index);
}

static void s_agent_term (busy_t *self, const uint32_t *r)
{
    int index = s_pick_agent (self, r[0], true);
    if (index < 0) {
        s_scrape (self, r);
        return;
    }
    bool again = r[1] % 2;
    busy_note (self, "SIGTERM %s%s", self->fleet->agent_names[index], again ? ", restart" : "");
    busy_stop_agent (self, index);
    if (again)
        busy_start_agent (self, index);
}

static void s_agent_start (busy_t *self, const uint32_t *r)
{
    int index = s_pick_agent (self, r[0], false);
    if (index < 0) {
        s_query (self, r);
        return;
    }
    busy_note (self, "start %s", self->fleet->agent_names[index]);
    busy_start_agent (self, index);
}

static void s_controller_kill (busy_t *self, const uint32_t *r)
{
    if (!busy_controller_up (self)) {
        s_scrape (self, r);
        return;
    }
    bool again = r[0] % 2;
    busy_note (self, "kill -9 controller%s", again ? ", restart" : "");
    busy_kill_controller (self);
    if (again)
        busy_start_controller (self);
}

static void s_controller_term (busy_t *self, const uint32_t *r)
{
    if (!busy_controller_up (self)) {
        s_scrape (self, r);
        return;
    }
    bool again = r[0] % 4 != 0;
    busy_note (self, "SIGTERM controller%s", again ? ", restart" : "");
    busy_stop_controller (self);
    if (again)
        busy_start_controller (self);
}

static void s_controller_start (busy_t *self, const uint32_t *r)
{
    if (busy_controller_up (self)) {
        s_query (self, r);
        return;
    }
    busy_note (self, "start controller");
    busy_start_controller (self);
}

static void s_settle_action (busy_t *self, const uint32_t *r)
{
    (void)r;
    busy_settle (self);
}

//  --------------------------------------------------------------------------

typedef struct {
    const char *name;
    int weight;
    s_action_fn *run;
} s_action_t;

static const s_action_t s_actions[] = {
    {"scrape", 10, s_scrape},
    {"query", 16, s_query},
    {"deploy", 14, s_deploy},
    {"rollback", 5, s_rollback},
    {"abort", 3, s_abort},
    {"pause/resume", 5, s_pause},
    {"emergency", 4, s_emergency},
    {"approve", 4, s_approve},
    {"release add", 5, s_release_add},
    {"reload", 10, s_reload},
    {"agent kill -9", 4, s_agent_kill},
    {"agent SIGTERM", 3, s_agent_term},
    {"agent start", 4, s_agent_start},
    {"controller kill -9", 2, s_controller_kill},
    {"controller SIGTERM", 2, s_controller_term},
    {"controller start", 3, s_controller_start},
    {"settle", 2, s_settle_action},
};
#define S_ACTIONS (sizeof s_actions / sizeof s_actions[0])

//  The world heals: what is down for a few steps comes back.
static void s_heal (busy_t *self)
{
    if (!busy_controller_up (self) && ++self->down_steps > 3) {
        busy_note (self, "controller back after %d steps", self->down_steps - 1);
        busy_start_controller (self);
    }
    for (int index = 0; index < self->fleet->agent_count; index++)
        if (self->fleet->agents[index] <= 0 && ++self->agent_down_steps[index] > 5) {
            busy_note (self, "%s back", self->fleet->agent_names[index]);
            busy_start_agent (self, index);
        }
}

static uint64_t s_env_number (const char *name, uint64_t fallback)
{
    const char *text = getenv (name);
    return text && *text ? strtoull (text, NULL, 10) : fallback;
}

Test (busy, operator_day)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    uint64_t seed =
        s_env_number ("JADUGAR_BUSY_SEED", ((uint64_t)now.tv_nsec ^ (uint64_t)now.tv_sec << 20 ^
                                            (uint64_t)getpid () << 40) %
                                               1000000000ULL);
    int steps = (int)s_env_number ("JADUGAR_BUSY_STEPS", 125);
    bool verbose = s_env_number ("JADUGAR_BUSY_VERBOSE", 0) != 0;
    fprintf (stderr, "busy: seed %llu, %d steps (replay: JADUGAR_BUSY_SEED=%llu)\n",
             (unsigned long long)seed, steps, (unsigned long long)seed);
    cr_assert_eq (curl_global_init (CURL_GLOBAL_DEFAULT), CURLE_OK);
    int64_t started = busy_now ();
    busy_t *busy = busy_new (seed, steps);
    busy->setup_done = true;
    busy_check_step (busy);
    int total = 0;
    for (size_t index = 0; index < S_ACTIONS; index++)
        total += s_actions[index].weight;
    for (int step = 1; step <= steps; step++) {
        busy->step = step;
        //  the same draws every step, whatever the action uses
        uint32_t pick = busy_random (busy, (uint32_t)total);
        uint32_t r[S_PARAMS];
        for (int index = 0; index < S_PARAMS; index++)
            r[index] = busy_random (busy, 1u << 30);
        size_t action = 0;
        for (int left = (int)pick; left >= s_actions[action].weight; action++)
            left -= s_actions[action].weight;
        int64_t begun = busy_now ();
        s_heal (busy);
        busy->actions[action]++;
        s_actions[action].run (busy, r);
        int64_t acted = busy_now ();
        busy_check_step (busy);
        int64_t checked = busy_now ();
        if (step % S_SETTLE_EVERY == 0 || step == steps)
            busy_settle (busy);
        if (verbose || step % 25 == 0)
            fprintf (stderr,
                     "busy: step %d: %s (at %llds; %lld ms, checks %lld ms, settle %lld ms)\n",
                     step, busy->current ? busy->current : "-",
                     (long long)((busy_now () - started) / 1000), (long long)(acted - begun),
                     (long long)(checked - acted), (long long)(busy_now () - checked));
        busy_step_done (busy);
    }
    fprintf (stderr, "busy: %d steps in %llds, seed %llu:", steps,
             (long long)((busy_now () - started) / 1000), (unsigned long long)seed);
    for (size_t index = 0; index < S_ACTIONS; index++)
        fprintf (stderr, " %s %d,", s_actions[index].name, busy->actions[index]);
    fprintf (stderr, " reloads %d (%d refused), settles %d, releases %d\n", busy->reloads,
             busy->refused_reloads, busy->settles, busy->release_count);
    busy_destroy (&busy);
    curl_global_cleanup ();
}
