//  ctl_rollout - the rollout driver: plans created through the policy
//  door, moved on by the engine (ctl_reconcile)
//  SPDX-License-Identifier: MPL-2.0
//
//  See ctl_rollout.h for the phases. The driver reads the plan from the
//  store, lets ctl_reconcile decide and applies its actions in order: no
//  rollout state lives in memory between calls.

#include "ctl_rollout.h"
#include "ctl_agents_repo.h"
#include "ctl_attestations.h"
#include "ctl_batches.h"
#include "ctl_calendar.h"
#include "ctl_deadlines.h"
#include "ctl_decisions.h"
#include "ctl_json.h"
#include "ctl_incidents.h"
#include "ctl_plans_repo.h"
#include "ctl_reconcile.h"
#include "ctl_rule_rows.h"
#include "ctl_releases_repo.h"
#include "jad_log.h"
#include "jad_util.h"

#include <string.h>

struct _ctl_rollout_t {
    ctl_store_t *store;  //  borrowed, as what follows
    ctl_settings_t *settings;
    ctl_dispatch_t *dispatch;
    ctl_notify_t *notify;
};

ctl_rollout_t *ctl_rollout_new (ctl_store_t *store, ctl_settings_t *settings,
                                ctl_dispatch_t *dispatch, ctl_notify_t *notify)
{
    ctl_rollout_t *self = (ctl_rollout_t *)calloc (1, sizeof (ctl_rollout_t));
    if (!self)
        return NULL;
    self->store = store;
    self->settings = settings;
    self->dispatch = dispatch;
    self->notify = notify;
    return self;
}

void ctl_rollout_destroy (ctl_rollout_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

//  The items of a list of strings as a NULL-terminated array (borrowed
//  strings; caller frees the array), or NULL if out of memory.
static const char **s_array (zlistx_t *list)
{
    size_t count = list ? zlistx_size (list) : 0;
    const char **array = calloc (count + 1, sizeof (char *));
    size_t index = 0;
    for (char *item = list ? zlistx_first (list) : NULL; array && item; item = zlistx_next (list))
        array[index++] = item;
    return array;
}

//  --------------------------------------------------------------------------
//  Create

//  Version the environment ran before: the last succeeded deploy or
//  rollback of app there, else the version most of its hosts report.
static char *s_previous_version (ctl_rollout_t *self, const char *app, const char *env)
{
    char *version = NULL;
    zlistx_t *succeeded = ctl_plans_repo_succeeded (self->store, app, env);
    for (ctl_succeeded_t *row = succeeded ? zlistx_first (succeeded) : NULL; row && !version;
         row = zlistx_next (succeeded))
        if (streq (row->kind, "deploy") || streq (row->kind, "rollback"))
            version = strdup (row->version);
    zlistx_destroy (&succeeded);
    if (version)
        return version;
    ctl_agents_repo_common_version (self->store, env, app, &version);
    return version;
}

//  --------------------------------------------------------------------------
//  The door: every plan of every kind passes it (ctl_door)

//  What the store knows about app/version for the door. Returns the
//  release row the facts borrow from (caller destroys), or NULL if there
//  is none (then facts->exists is false).
static ctl_release_t *s_facts (ctl_store_t *store, const jad_env_config_t *env, const char *app,
                               const char *version, ctl_release_facts_t *facts)
{
    memset (facts, 0, sizeof *facts);
    ctl_release_t *release = NULL;
    if (ctl_releases_repo_get (store, app, version, &release) != 0)
        return NULL;
    facts->exists = release->length > 0;
    facts->counter = release->counter;
    facts->has_floor = release->has_floor;
    facts->floor = release->floor;
    facts->floor_version = release->floor_version;
    facts->bad = release->bad;
    facts->promoted =
        env && env->requires &&
        ctl_plans_repo_succeeded_in (store, env->requires, app, version, "deploy") == 1;
    return release;
}

//  The environment's release checks judged for `release` (DESIGN §10)
//  with `deployer`, into facts: a new array the caller frees, or NULL when
//  there is nothing to judge or they could not be judged (logged; the
//  door then refuses a deploy to an environment with checks).
static ctl_check_result_t *s_check_facts (ctl_rollout_t *self, const jad_env_config_t *env,
                                          const ctl_release_t *release, const char *deployer,
                                          ctl_release_facts_t *facts)
{
    if (!env || env->check_count == 0 || !release)
        return NULL;
    ctl_attestations_facts_t read;
    memset (&read, 0, sizeof read);
    ctl_check_result_t *results = calloc (env->check_count, sizeof (ctl_check_result_t));
    if (!results || ctl_attestations_facts_read (self->store, release, deployer, &read) != 0 ||
        ctl_checks_judge (ctl_settings_config (self->settings), env, &read.facts, jad_now_ms (),
                          results) != 0) {
        jad_log_error ("policy: cannot judge the checks of app=%s version=%s env=%s", release->app,
                       release->version, env->name);
        free (results);
        results = NULL;
    } else {
        facts->checks = results;
        facts->check_count = env->check_count;
    }
    ctl_attestations_facts_free (&read);
    return results;
}

//  The environment's policy for the door (env NULL: unknown).
static ctl_door_policy_t s_policy (const jad_env_config_t *env)
{
    return (ctl_door_policy_t){.env = env,
                               .emergency_skips =
                                   env ? (const char *const *)env->emergency_skips : NULL,
                               .emergency_skip_count = env ? env->emergency_skip_count : 0};
}

//  plans.kind of a door kind.
static const char *s_kind (ctl_door_kind_t door)
{
    switch (door) {
        case CTL_DOOR_ROLLBACK:
        case CTL_DOOR_AUTO_ROLLBACK:
            return "rollback";
        case CTL_DOOR_TASK:
        case CTL_DOOR_DB_ROLLBACK:
            return "task";
        default:
            return "deploy";
    }
}

//  What a dry run learns from the door: the verdict, the checks, the
//  release's migration (caller owns the object).
static json_t *s_dry_facts (const ctl_door_verdict_t *verdict, const ctl_release_facts_t *facts,
                            const ctl_release_t *release)
{
    json_t *checks = json_array ();
    for (size_t index = 0; facts->checks && index < facts->check_count; index++)
        json_array_append_new (checks,
                               json_pack ("{s:s?, s:s, s:s}", "name", facts->checks[index].name,
                                          "state", ctl_check_state (facts->checks[index].verdict),
                                          "why", facts->checks[index].why));
    json_t *roles = json_array ();
    for (size_t index = 0; index < verdict->role_count; index++)
        json_array_append_new (roles, json_string (verdict->roles[index]));
    return json_pack ("{s:s, s:s, s:o, s:o, s:s?, s:s?, s:b}", "policy",
                      verdict->outcome == CTL_DOOR_NEEDS_APPROVAL ? "needs approval" : "allowed",
                      "reason", verdict->plan_reason, "approvals", roles, "checks", checks,
                      "emergency_skips", *verdict->waived ? verdict->waived : NULL,
                      "emergency_waives", *verdict->waived_checks ? verdict->waived_checks : NULL,
                      "migrate_up", release && release->migrate_up);
}

//  The dry run's answer: the door's facts (*facts_p, taken) and the plan
//  as it would be laid out, batch by batch.
static json_t *s_dry_run (ctl_rollout_t *self, const ctl_plan_spec_t *spec,
                          const ctl_batches_t *layout, zlistx_t *hosts, const char *previous,
                          json_t **facts_p)
{
    json_t *out = *facts_p ? *facts_p : json_object ();
    *facts_p = NULL;
    json_t *batches = json_array ();
    for (size_t batch = 0; batch < layout->batches; batch++) {
        json_t *names = json_array ();
        size_t index = 0;
        for (const char *name = hosts ? zlistx_first (hosts) : NULL; name;
             name = zlistx_next (hosts), index++)
            if (index < layout->hosts && ctl_batches_of (layout, index) == batch)
                json_array_append_new (names, json_string (name));
        json_array_append_new (
            batches, json_pack ("{s:I, s:o}", "batch", (json_int_t)batch + 1, "hosts", names));
    }
    json_t *migrate_down = json_array ();
    if (spec->door == CTL_DOOR_ROLLBACK) {
        zlistx_t *crossed =
            ctl_plans_repo_crossed (self->store, spec->env, spec->app, spec->version);
        for (ctl_crossed_row_t *row = crossed ? zlistx_first (crossed) : NULL; row;
             row = zlistx_next (crossed))
            if (row->has_down)
                json_array_append_new (migrate_down, json_string (row->version));
        zlistx_destroy (&crossed);
    }
    json_t *plan =
        json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s?, s:I, s:I, s:I, s:o, "
                   "s:s?, s:o}",
                   "kind", ctl_door_kind_name (spec->door), "app", spec->app, "version",
                   spec->version, "env", spec->env, "strategy", layout->strategy, "batch",
                   layout->batch, "canary", (json_int_t)layout->canary, "bake_ms",
                   (json_int_t)layout->bake_ms, "hosts_total", (json_int_t)layout->hosts, "batches",
                   batches, "rollback_target", previous, "migrate_down", migrate_down);
    if (plan)
        json_object_update (out, plan);
    json_decref (plan);
    return out;
}

//  An automatic rollback opens an incident (DESIGN §11): its window
//  from the undone plan's creation, its first note why.
static void s_incident_open (ctl_rollout_t *self, const ctl_plan_spec_t *spec, const char *plan_id,
                             const char *reason, int64_t now)
{
    ctl_plan_t *undone = NULL;
    int64_t since = now;
    if (spec->undoes && ctl_plans_repo_get (self->store, spec->undoes, &undone) == 0 &&
        undone->created > 0)
        since = undone->created;
    char title[256];
    snprintf (title, sizeof title, "automatic rollback of %s %s in %s", spec->app,
              spec->undone_version ? spec->undone_version : "-", spec->env);
    int64_t id = ctl_incidents_open (self->store, self->notify, spec->env, title, "controller",
                                     plan_id, since, reason);
    if (id > 0)
        ctl_decisions_record (self->store, plan_id, "incident", "opened",
                              "incident %lld: %s (jadctl incident report %lld)", (long long)id,
                              title, (long long)id);
    ctl_plan_destroy (&undone);
}

char *ctl_rollout_create (ctl_rollout_t *self, const ctl_plan_spec_t *spec, char *err,
                          size_t errlen)
{
    const jad_env_config_t *env =
        jad_controller_config_env (ctl_settings_config (self->settings), spec->env);
    ctl_door_request_t request = {.kind = spec->door,
                                  .app = spec->app,
                                  .version = spec->version,
                                  .env = spec->env,
                                  .operator_name = spec->deployer,
                                  .reason = spec->door == CTL_DOOR_EMERGENCY ? spec->emergency
                                                                             : spec->reason,
                                  .force = spec->force,
                                  .branch = spec->branch,
                                  .undone_version = spec->undone_version,
                                  .slot_ms = spec->slot_ms,
                                  .security = spec->door == CTL_DOOR_EMERGENCY && spec->security};
    ctl_door_policy_t policy = s_policy (env);
    ctl_release_facts_t facts;
    ctl_release_t *release = s_facts (self->store, env, spec->app, spec->version, &facts);
    facts.active_above = spec->above;
    bool deploy = spec->door == CTL_DOOR_DEPLOY || spec->door == CTL_DOOR_AUTO_DEPLOY ||
                  spec->door == CTL_DOOR_EMERGENCY;
    ctl_check_result_t *checks =
        deploy ? s_check_facts (self, env, release, spec->deployer, &facts) : NULL;
    ctl_door_verdict_t verdict;
    ctl_door_outcome_t outcome =
        ctl_door_check (&request, &policy, &facts, jad_now_ms (), &verdict);
    json_t *dry = NULL;
    if (spec->dry_run && outcome != CTL_DOOR_REFUSED)
        dry = s_dry_facts (&verdict, &facts, release);
    free (checks);
    ctl_release_destroy (&release);
    if (spec->verdict)
        *spec->verdict = verdict;
    if (outcome == CTL_DOOR_REFUSED) {
        snprintf (err, errlen, "%s", verdict.text);
        jad_log_info ("policy: refused %s app=%s version=%s env=%s by=%s rule=\"%s\"",
                      ctl_door_kind_name (spec->door), spec->app, spec->version, spec->env,
                      spec->deployer, verdict.rule ? verdict.rule : "-");
        return NULL;
    }
    bool awaiting = outcome == CTL_DOOR_NEEDS_APPROVAL;
    const char *kind = s_kind (spec->door);
    bool task = spec->door == CTL_DOOR_TASK || spec->door == CTL_DOOR_DB_ROLLBACK;
    zlistx_t *hosts = NULL;
    if (spec->targets) {
        hosts = zlistx_new ();
        if (hosts) {
            zlistx_set_destructor (hosts, (zlistx_destructor_fn *)zstr_free);
            for (const char *const *cursor = spec->targets; *cursor; cursor++)
                zlistx_add_end (hosts, strdup (*cursor));
        }
    } else
        hosts = ctl_agents_repo_accepted (self->store, spec->env);
    ctl_batches_ask_t ask = {.kind = kind,
                             .hosts = hosts ? zlistx_size (hosts) : 0,
                             .strategy = spec->strategy,
                             .batch = spec->batch,
                             .canary = spec->canary,
                             .bake_set = spec->bake_set,
                             .bake_ms = spec->bake_ms,
                             .skip_bake = verdict.skip_bake};
    ctl_batches_t layout;
    if (ctl_batches_layout (env, &ask, &layout, err, errlen) != 0) {
        zlistx_destroy (&hosts);
        json_decref (dry);
        return NULL;
    }
    size_t total = layout.hosts;
    char *previous = NULL;
    if (!task)
        previous = spec->previous ? strdup (spec->previous)
                                  : s_previous_version (self, spec->app, spec->env);
    if (spec->dry_run) {
        *spec->dry_run = s_dry_run (self, spec, &layout, hosts, previous, &dry);
        free (previous);
        zlistx_destroy (&hosts);
        if (errlen)
            err[0] = 0;
        return NULL;
    }

    char plan_id[17];
    jad_random_id (4, plan_id);
    int64_t now = jad_now_ms ();
    const char **names = s_array (hosts);
    int64_t *numbers = calloc (total + 1, sizeof (int64_t));
    for (size_t index = 0; numbers && index < total; index++)
        numbers[index] = (int64_t)ctl_batches_of (&layout, index);
    ctl_plan_t row = {.id = plan_id,
                      .app = (char *)spec->app,
                      .version = (char *)spec->version,
                      .env = (char *)spec->env,
                      .kind = (char *)kind,
                      .strategy = (char *)layout.strategy,
                      .state = awaiting ? "approval" : "running",
                      .reason = verdict.plan_reason,
                      .deployer = (char *)spec->deployer,
                      .undoes = (char *)spec->undoes,
                      .batch = (char *)layout.batch,
                      .canary = layout.canary,
                      .bake_ms = layout.bake_ms,
                      .phase = awaiting ? "approval" : "starting",
                      .batches = (int64_t)layout.batches,
                      .emergency =
                          (char *)(spec->door == CTL_DOOR_EMERGENCY ? spec->emergency : NULL),
                      .skip_offline = spec->skip_offline,
                      .security = spec->door == CTL_DOOR_EMERGENCY && spec->security,
                      .previous = previous,
                      .parent = (char *)spec->parent,
                      .action = (char *)(spec->action ? spec->action : "apply"),
                      .migrations = (char *)spec->migrations};
    int rc = names && numbers
                 ? ctl_plans_repo_create (self->store, &row, names, numbers, total, now)
                 : -1;
    free (names);
    free (numbers);
    if (rc)
        goto failed;
    jad_log_info ("plans: created plan=%s app=%s version=%s env=%s kind=%s door=\"%s\" hosts=%zu "
                  "by=%s",
                  plan_id, spec->app, spec->version, spec->env, kind,
                  ctl_door_kind_name (spec->door), total, spec->deployer);
    if (!task) {
        uint32_t canary = layout.canary, bake_ms = layout.bake_ms;
        size_t batches = layout.batches;
        const char *batch = layout.batch;
        char canary_text[64] = "";
        if (canary)
            snprintf (canary_text, sizeof canary_text, ", canary %u host%s, bake %ums", canary,
                      canary == 1 ? "" : "s", bake_ms);
        if (canary && !bake_ms)
            snprintf (canary_text, sizeof canary_text, ", canary %u host%s, bake 0", canary,
                      canary == 1 ? "" : "s");
        ctl_decisions_record (
            self->store, plan_id, "strategy", "planned",
            "%s: %zu host%s in %zu batch%s (batch %s%s%s)%s; rollback target %s", layout.strategy,
            total, total == 1 ? "" : "s", batches, batches == 1 ? "" : "es", batch ? batch : "all",
            env->concurrency ? ", concurrency " : "", env->concurrency ? "limited" : "",
            canary_text, previous ? previous : "none");
        if (*verdict.waived)
            ctl_decisions_record (self->store, plan_id, "emergency_skips", "waived",
                                  "%s lists them in emergency_skips: %s", spec->env,
                                  verdict.waived);
        if (*verdict.waived_checks)
            ctl_decisions_record (self->store, plan_id, "emergency_waives", "waived",
                                  "%s lists them in emergency_waives: %s", spec->env,
                                  verdict.waived_checks);
    }
    if (awaiting) {
        char roles[512] = "";
        size_t used = 0;
        for (size_t role = 0; role < verdict.role_count && used < sizeof roles; role++)
            used += (size_t)snprintf (roles + used, sizeof roles - used, "%s%s", role ? ", " : "",
                                      verdict.roles[role]);
        ctl_decisions_record (self->store, plan_id, "emergency_approvals", "waiting",
                              "emergency deploy (reason: %s) waits for approval by: %s",
                              spec->emergency ? spec->emergency : "-", roles);
        //  nobody watches a plan that waits: say so (issue 13 item 4)
        json_t *fields =
            json_pack ("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s}", "plan", plan_id, "app",
                       spec->app, "version", spec->version, "env", spec->env, "deployer",
                       spec->deployer, "reason", spec->emergency, "roles", roles);
        if (fields)
            ctl_notify_send (self->notify, "approval.needed", fields);
        json_decref (fields);
    }
    free (previous);
    zlistx_destroy (&hosts);
    if (spec->door == CTL_DOOR_AUTO_ROLLBACK)
        s_incident_open (self, spec, plan_id, verdict.plan_reason, now);
    if (!awaiting)
        ctl_rollout_start (self, plan_id);
    return strdup (plan_id);

failed:
    free (previous);
    zlistx_destroy (&hosts);
    snprintf (err, errlen, "database error while creating the plan");
    return NULL;
}

//  --------------------------------------------------------------------------
//  The driver: the stored plan -> ctl_reconcile -> its actions applied

//  A plan view with everything it borrows from (the store's rows).
typedef struct {
    ctl_plan_view_t view;
    ctl_plan_snapshot_t *snapshot;
    zlistx_t *batch_names;  //  char *, the hosts of the next batch
    const char **batch_hosts;
    zlistx_t *candidates;  //  ctl_plan_host_t, a task's hosts
    ctl_task_host_t *task_hosts;
    zlistx_t *crossed_rows;  //  ctl_crossed_row_t
    ctl_crossed_t *crossed;
    ctl_pause_t *pauses;
    char first_failure[640];
    char task_failure[640];
    //  the environment's alert verdicts: its first firing rule and its
    //  first rule inconclusive since the operator's last resume
    ctl_rule_verdicts_t alerts;
} s_view_t;

static void s_view_clear (s_view_t *self)
{
    ctl_plan_snapshot_destroy (&self->snapshot);
    zlistx_destroy (&self->batch_names);
    free (self->batch_hosts);
    zlistx_destroy (&self->candidates);
    free (self->task_hosts);
    zlistx_destroy (&self->crossed_rows);
    free (self->crossed);
    free (self->pauses);
    ctl_rule_rows_verdicts_clear (&self->alerts);
    memset (self, 0, sizeof *self);
}

//  The pauses and last resume of the plan, from its decisions.
static int s_view_pauses (ctl_rollout_t *self, s_view_t *loaded)
{
    zlistx_t *events = ctl_plans_repo_decision_events (self->store, loaded->view.id);
    if (!events)
        return -1;
    size_t count = zlistx_size (events);
    ctl_decision_row_t *rows = calloc (count + 1, sizeof (ctl_decision_row_t));
    loaded->pauses = calloc (count + 1, sizeof (ctl_pause_t));
    if (!rows || !loaded->pauses) {
        free (rows);
        zlistx_destroy (&events);
        return -1;
    }
    size_t index = 0;
    for (ctl_plan_event_t *event = zlistx_first (events); event; event = zlistx_next (events)) {
        rows[index++] = (ctl_decision_row_t){
            .time = event->time, .rule = event->step, .decision = event->status};
        //  the failures a deploy went on with (max_failures)
        loaded->view.failures_tolerated +=
            jad_text_is (event->step, "health") && jad_text_is (event->status, "tolerated");
    }
    loaded->view.pause_count =
        ctl_reconcile_pauses (rows, count, loaded->pauses, count, &loaded->view.resumed);
    loaded->view.pauses = loaded->pauses;
    free (rows);
    zlistx_destroy (&events);
    return 0;
}

//  The hosts a task may run on (phases approval and starting): by batch
//  then name, with whether each is online and the app's version on it.
static int s_view_task_hosts (ctl_rollout_t *self, s_view_t *loaded, int64_t now)
{
    const ctl_plan_t *plan = loaded->snapshot->plan;
    loaded->candidates = ctl_plans_repo_candidates (self->store, plan->id, plan->app);
    if (!loaded->candidates)
        return -1;
    size_t count = zlistx_size (loaded->candidates);
    loaded->task_hosts = calloc (count + 1, sizeof (ctl_task_host_t));
    if (!loaded->task_hosts)
        return -1;
    uint32_t heartbeat_ms = ctl_settings_config (self->settings)->heartbeat_ms;
    size_t used = 0;
    for (ctl_plan_host_t *host = zlistx_first (loaded->candidates); host;
         host = zlistx_next (loaded->candidates)) {
        //  insertion by (batch, name): a plan has few hosts
        ctl_task_host_t item = {.name = host->agent,
                                .batch = host->batch,
                                .online = ctl_deadlines_online (host->last_seen, now, heartbeat_ms),
                                .version = host->version};
        size_t slot = used++;
        while (slot > 0 && (loaded->task_hosts[slot - 1].batch > item.batch ||
                            (loaded->task_hosts[slot - 1].batch == item.batch &&
                             strcmp (loaded->task_hosts[slot - 1].name, item.name) > 0))) {
            loaded->task_hosts[slot] = loaded->task_hosts[slot - 1];
            slot--;
        }
        loaded->task_hosts[slot] = item;
    }
    loaded->view.task_hosts = loaded->task_hosts;
    loaded->view.task_host_count = used;
    return 0;
}

//  The releases whose migrations a rollback crosses, newest first.
static int s_view_crossed (ctl_rollout_t *self, s_view_t *loaded)
{
    const ctl_plan_t *plan = loaded->snapshot->plan;
    loaded->crossed_rows =
        ctl_plans_repo_crossed (self->store, plan->env, plan->app, plan->version);
    if (!loaded->crossed_rows)
        return -1;
    size_t count = zlistx_size (loaded->crossed_rows);
    loaded->crossed = calloc (count + 1, sizeof (ctl_crossed_t));
    if (!loaded->crossed)
        return -1;
    size_t index = 0;
    for (ctl_crossed_row_t *row = zlistx_first (loaded->crossed_rows); row;
         row = zlistx_next (loaded->crossed_rows))
        loaded->crossed[index++] =
            (ctl_crossed_t){.version = row->version, .has_down = row->has_down};
    loaded->view.crossed = loaded->crossed;
    loaded->view.crossed_count = count;
    return 0;
}

//  Load plan_id as ctl_reconcile sees it. `approved`: a plan awaiting
//  approval has every role it needs. Returns 0, or -1 (no such plan, or
//  a database error: nothing is decided on a partial view).
static int s_view_load (ctl_rollout_t *self, const char *plan_id, bool approved, int64_t now,
                        s_view_t *loaded)
{
    memset (loaded, 0, sizeof *loaded);
    if (ctl_plans_repo_snapshot (self->store, plan_id, &loaded->snapshot) != 0)
        return -1;
    const ctl_plan_snapshot_t *snapshot = loaded->snapshot;
    const ctl_plan_t *plan = snapshot->plan;
    const ctl_plan_t *task = snapshot->task;
    ctl_plan_view_t *view = &loaded->view;
    *view = (ctl_plan_view_t){.id = plan->id,
                              .kind = plan->kind,
                              .state = plan->state,
                              .phase = plan->phase,
                              .app = plan->app,
                              .version = plan->version,
                              .env = plan->env,
                              .strategy = plan->strategy,
                              .reason = plan->reason,
                              .parent = plan->parent,
                              .action = plan->action,
                              .migrations = plan->migrations,
                              .host = snapshot->host,
                              .previous = plan->previous,
                              .current_batch = plan->current_batch,
                              .batches = plan->batches,
                              .paused = plan->paused,
                              .baked = plan->baked,
                              .bake_ms = plan->bake_ms,
                              .phase_started = plan->phase_started,
                              .progress = plan->progress,
                              .approved = approved,
                              .hosts = snapshot->hosts,
                              .failed = snapshot->failed,
                              .skipped = snapshot->skipped,
                              .changed = snapshot->changed,
                              .unfinished = snapshot->unfinished,
                              .canaries_healthy = snapshot->canaries_healthy,
                              .task = plan->task,
                              .task_state = task ? task->state : NULL,
                              .task_reason = task ? task->reason : NULL,
                              .task_action = task ? task->action : NULL,
                              .task_migrations = task ? task->migrations : NULL,
                              .task_host = snapshot->task_host,
                              .has_migrate_up = snapshot->has_migrate_up,
                              .migrated = snapshot->migrated,
                              .migrated_here = snapshot->migrated_here,
                              .progress_deadline_ms =
                                  ctl_settings_config (self->settings)->progress_deadline_ms};
    const ctl_plan_host_t *first = snapshot->first_failure;
    if (first)
        view->first_failure =
            ctl_reconcile_failure (first->agent, first->step, first->detail, loaded->first_failure,
                                   sizeof loaded->first_failure);
    first = snapshot->task_failure;
    if (first)
        view->task_failure =
            ctl_reconcile_failure (first->agent, first->step, first->detail, loaded->task_failure,
                                   sizeof loaded->task_failure);
    const jad_env_config_t *env =
        jad_controller_config_env (ctl_settings_config (self->settings), plan->env);
    view->max_failures = ctl_batches_max_failures (env ? env->max_failures : NULL, view->hosts);
    if (s_view_pauses (self, loaded) != 0)
        goto failed;
    bool starting = jad_text_is (plan->phase, "approval") || jad_text_is (plan->phase, "starting");
    if (starting && s_view_task_hosts (self, loaded, now) != 0)
        goto failed;
    if (starting && jad_text_is (plan->kind, "rollback") && s_view_crossed (self, loaded) != 0)
        goto failed;
    if (ctl_reconcile_needs_batch_hosts (view)) {
        loaded->batch_names = ctl_plans_repo_host_names (
            self->store, plan->id, ctl_reconcile_next_batch (view), CTL_HOSTS_ALL);
        loaded->batch_hosts = s_array (loaded->batch_names);
        if (!loaded->batch_names || !loaded->batch_hosts)
            goto failed;
        view->batch_hosts = loaded->batch_hosts;
        view->batch_host_count = zlistx_size (loaded->batch_names);
    }
    ctl_rule_rows_verdicts (self->store, plan->env, view->resumed, &loaded->alerts);
    //  a bake also judges its own canary hosts (ctl_alerts runs the analysis)
    if (jad_text_is (plan->phase, "bake") &&
        ctl_rule_rows_canary (self->store, plan->id, plan->env, view->resumed, &loaded->alerts,
                              &view->canary_rules, &view->canary_judged) != 0)
        goto failed;
    return 0;

failed:
    jad_log_error ("rollout: cannot read plan=%s: nothing decided", plan_id);
    s_view_clear (loaded);
    return -1;
}

static void s_apply (ctl_rollout_t *self, const ctl_plan_view_t *view, ctl_actions_t *actions,
                     const char *operator_name);

//  A plan that waits tells someone (issue 13 item 4).
static void s_notify_paused (ctl_rollout_t *self, const char *plan_id, const char *why)
{
    ctl_plan_t *plan = NULL;
    if (ctl_plans_repo_get (self->store, plan_id, &plan) == 0) {
        json_t *fields =
            json_pack ("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s}", "plan", plan_id, "app",
                       plan->app, "version", plan->version, "env", plan->env, "phase", plan->phase,
                       "deployer", plan->deployer, "reason", why ? why : "-");
        if (fields)
            ctl_notify_send (self->notify, "plan.paused", fields);
        json_decref (fields);
    }
    ctl_plan_destroy (&plan);
}

//  The hosts a task or a rollback targets (char *), or NULL on error.
static zlistx_t *s_targets (ctl_rollout_t *self, const ctl_action_t *action)
{
    switch (action->targets) {
        case CTL_TARGETS_CANARIES:
            return ctl_plans_repo_host_names (self->store, action->plan_id, 0, CTL_HOSTS_HEALTHY);
        case CTL_TARGETS_CHANGED:
            return ctl_plans_repo_host_names (self->store, action->plan_id, -1, CTL_HOSTS_CHANGED);
        case CTL_TARGETS_MIGRATION:
            return ctl_plans_repo_migration_hosts (self->store, action->plan_id);
        default: {
            zlistx_t *list = zlistx_new ();
            if (list) {
                zlistx_set_destructor (list, (zlistx_destructor_fn *)zstr_free);
                char *host = action->host ? strdup (action->host) : NULL;
                if (host && !zlistx_add_end (list, host))
                    free (host);
            }
            return list;
        }
    }
}

//  START_TASK: a task plan through the door, then the plan's task.
static void s_apply_start_task (ctl_rollout_t *self, const ctl_plan_view_t *view,
                                const ctl_action_t *action)
{
    char err[1024] = "";
    zlistx_t *hosts = s_targets (self, action);
    const char **targets = s_array (hosts);
    char *task_id = NULL;
    if (!hosts || !targets)
        snprintf (err, sizeof err, "database error while choosing its hosts");
    else {
        ctl_plan_spec_t spec = {.door = CTL_DOOR_TASK,
                                .app = action->app,
                                .version = action->version,
                                .env = action->env,
                                .deployer = "controller",
                                .reason = action->task_action,
                                .targets = targets,
                                .parent = action->plan_id,
                                .action = action->task_action,
                                .migrations = action->migrations};
        task_id = ctl_rollout_create (self, &spec, err, sizeof err);
    }
    free (targets);
    zlistx_destroy (&hosts);
    if (task_id) {
        ctl_plans_repo_set_task (self->store, action->plan_id, task_id, action->phase,
                                 jad_now_ms ());
        free (task_id);
        return;
    }
    ctl_actions_t *more = ctl_actions_new ();
    if (more &&
        ctl_reconcile_task_refused (view, action->task_action, err, jad_now_ms (), more) == 0)
        s_apply (self, view, more, NULL);
    ctl_actions_destroy (&more);
}

//  ROLL_BACK: a rollback plan through the door, linked both ways, and
//  its decision.
static void s_apply_roll_back (ctl_rollout_t *self, const ctl_plan_view_t *view,
                               const ctl_action_t *action)
{
    char err[1024] = "";
    zlistx_t *hosts = s_targets (self, action);
    const char **targets = s_array (hosts);
    size_t count = hosts ? zlistx_size (hosts) : 0;
    char *rollback_id = NULL;
    if (!hosts || !targets)
        snprintf (err, sizeof err, "database error while choosing its hosts");
    else {
        ctl_plan_spec_t spec = {.door = CTL_DOOR_AUTO_ROLLBACK,
                                .app = action->app,
                                .version = action->version,
                                .env = action->env,
                                .deployer = "controller",
                                .reason = action->text,
                                .undone_version = view->version,
                                .targets = targets,
                                .undoes = action->plan_id,
                                .previous = action->version,
                                .skip_offline = true};
        rollback_id = ctl_rollout_create (self, &spec, err, sizeof err);
        if (rollback_id)
            ctl_plans_repo_rolled_back_by (self->store, action->plan_id, rollback_id, false);
    }
    ctl_actions_t *more = ctl_actions_new ();
    if (more) {
        ctl_reconcile_rolled_back (action, rollback_id, targets, count, err, more);
        s_apply (self, view, more, NULL);
    }
    ctl_actions_destroy (&more);
    free (rollback_id);
    free (targets);
    zlistx_destroy (&hosts);
}

//  Apply `actions` in order. `operator_name`: the operator whose command
//  made them (a pause by an operator notifies nobody), or NULL.
static void s_apply (ctl_rollout_t *self, const ctl_plan_view_t *view, ctl_actions_t *actions,
                     const char *operator_name)
{
    for (size_t index = 0; index < ctl_actions_size (actions); index++) {
        const ctl_action_t *action = ctl_actions_get (actions, index);
        const char *id = action->plan_id;
        int64_t now = jad_now_ms ();
        switch (action->kind) {
            case CTL_ACTION_DECISION:
                ctl_decisions_record (self->store, id, action->rule, action->decision, "%s",
                                      action->text ? action->text : "");
                break;
            case CTL_ACTION_START:
                ctl_plans_repo_set_running (self->store, id, now);
                break;
            case CTL_ACTION_START_BATCH:
                ctl_plans_repo_start_batch (self->store, id, action->number, now);
                ctl_dispatch_plan (self->dispatch, id, NULL);
                break;
            case CTL_ACTION_START_TASK:
                s_apply_start_task (self, view, action);
                break;
            case CTL_ACTION_ENTER_BAKE:
                ctl_plans_repo_enter_bake (self->store, id, now);
                break;
            case CTL_ACTION_BAKED:
                ctl_plans_repo_baked (self->store, id, now);
                break;
            case CTL_ACTION_PAUSE:
                if (ctl_plans_repo_set_paused (self->store, id, true, now) == 1 &&
                    !(operator_name && jad_text_is (action->text, operator_name)))
                    s_notify_paused (self, id, action->text);
                break;
            case CTL_ACTION_RESUME:
                ctl_plans_repo_set_paused (self->store, id, false, now);
                break;
            case CTL_ACTION_RECORD_MIGRATION:
                if (jad_text_is (action->task_action, "migrate_up"))
                    ctl_plans_repo_migration_up (self->store, action->env, action->app,
                                                 action->version, action->host, action->task_id,
                                                 now);
                else if (action->migrations) {
                    char *list = strdup (action->migrations);
                    char *save = NULL;
                    for (char *item = list ? strtok_r (list, ",", &save) : NULL; item;
                         item = strtok_r (NULL, ",", &save))
                        ctl_plans_repo_migration_down (self->store, action->env, action->app, item,
                                                       action->host, action->task_id, now);
                    free (list);
                }
                break;
            case CTL_ACTION_SUCCEED:
                if (ctl_plans_repo_finish (self->store, id, "succeeded", action->text, now) > 0)
                    jad_log_info ("plans: finished plan=%s outcome=succeeded reason=\"%s\"", id,
                                  action->text);
                break;
            case CTL_ACTION_FAIL:
            case CTL_ACTION_FAIL_TASK:
                if (ctl_plans_repo_finish (self->store, id, "failed", action->text, now) <= 0) {
                    //  someone else ended it first: what follows was decided
                    //  on a plan that no longer runs
                    if (action->kind == CTL_ACTION_FAIL)
                        return;
                    break;
                }
                jad_log_info ("plans: finished plan=%s outcome=failed reason=\"%s\"", id,
                              action->text);
                ctl_plans_repo_cancel_waiting (self->store, id, now);
                break;
            case CTL_ACTION_ROLL_BACK:
                s_apply_roll_back (self, view, action);
                break;
            case CTL_ACTION_ADVANCE:
                ctl_rollout_advance (self, id);
                break;
        }
    }
}

//  Reconcile plan_id as `decide` says and apply what it takes.
typedef int (s_decide_fn) (const s_view_t *loaded, int64_t now, ctl_actions_t *actions, void *args);

static int s_drive (ctl_rollout_t *self, const char *plan_id, bool approved, s_decide_fn *decide,
                    void *args, const char *operator_name)
{
    int64_t now = jad_now_ms ();
    s_view_t loaded;
    if (s_view_load (self, plan_id, approved, now, &loaded) != 0)
        return -1;
    ctl_actions_t *actions = ctl_actions_new ();
    int rc = actions ? decide (&loaded, now, actions, args) : -1;
    if (actions && ctl_actions_failed (actions)) {
        jad_log_error ("rollout: out of memory deciding plan=%s: nothing applied", plan_id);
        rc = -1;
    } else if (rc == 0)
        s_apply (self, &loaded.view, actions, operator_name);
    ctl_actions_destroy (&actions);
    s_view_clear (&loaded);
    return rc;
}

static int s_decide_reconcile (const s_view_t *loaded, int64_t now, ctl_actions_t *actions,
                               void *args)
{
    (void)args;
    return ctl_reconcile (&loaded->view, loaded->alerts.verdicts, loaded->alerts.count, now,
                          actions);
}

static int s_decide_fail (const s_view_t *loaded, int64_t now, ctl_actions_t *actions, void *args)
{
    return ctl_reconcile_fail (&loaded->view, (const char *)args, now, actions);
}

typedef struct {
    const char *command;
    const char *operator_name;
    char *err;
    size_t errlen;
} s_operator_t;

static int s_decide_operator (const s_view_t *loaded, int64_t now, ctl_actions_t *actions,
                              void *args)
{
    s_operator_t *request = (s_operator_t *)args;
    return ctl_reconcile_operator (&loaded->view, request->command, request->operator_name,
                                   loaded->alerts.verdicts, loaded->alerts.count, now, actions,
                                   request->err, request->errlen);
}

void ctl_rollout_advance (ctl_rollout_t *self, const char *plan_id)
{
    s_drive (self, plan_id, false, s_decide_reconcile, NULL, NULL);
}

int ctl_rollout_start (ctl_rollout_t *self, const char *plan_id)
{
    return s_drive (self, plan_id, true, s_decide_reconcile, NULL, NULL);
}

int ctl_rollout_fail (ctl_rollout_t *self, const char *plan_id, const char *reason)
{
    return s_drive (self, plan_id, false, s_decide_fail, (void *)reason, NULL);
}

int ctl_rollout_operator (ctl_rollout_t *self, const char *plan_id, const char *command,
                          const char *operator_name, char *err, size_t errlen)
{
    s_operator_t request = {command, operator_name, err, errlen};
    int rc = s_drive (self, plan_id, false, s_decide_operator, &request, operator_name);
    if (rc < 0 && !*err)
        snprintf (err, errlen, "database error while reading plan %s", plan_id);
    return rc < 0 ? 1 : rc;
}

//  A slot the controller was down for is deployed when it comes back
//  within this long; an older one is skipped (the next slot deploys).
#define S_SLOT_GRACE_MS (60 * 60 * 1000)

//  At a slot of env's schedule: deploy the newest release of each app on
//  a branch env tracks, unless env's latest plan of the app is that
//  release already (running, done or failed: a failed one is not retried
//  by itself). The door judges each plan at the slot.
static void s_slot_release (ctl_rollout_t *self, const jad_env_config_t *env,
                            const ctl_release_t *newest, int64_t slot)
{
    ctl_plan_t *latest = NULL;
    ctl_plans_repo_latest (self->store, newest->app, env->name, &latest);
    if (!latest || !streq (latest->version, newest->version)) {
        char err[1024] = "";
        ctl_plan_spec_t spec = {.door = CTL_DOOR_AUTO_DEPLOY,
                                .app = newest->app,
                                .version = newest->version,
                                .env = env->name,
                                .deployer = "controller",
                                .branch = newest->branch,
                                .slot_ms = slot};
        char *plan_id = ctl_rollout_create (self, &spec, err, sizeof err);
        jad_log_info ("policy: slot env=%s app=%s version=%s %s%s", env->name, newest->app,
                      newest->version, plan_id ? "plan=" : "refused=", plan_id ? plan_id : err);
        free (plan_id);
    }
    ctl_plan_destroy (&latest);
}

static void s_slot_deploy (ctl_rollout_t *self, const jad_env_config_t *env, int64_t slot)
{
    zlistx_t *releases = ctl_releases_repo_list (self->store, NULL);
    //  listed by app, then counter: the last of an app's tracked ones is its newest
    ctl_release_t *newest = NULL, *next = NULL;
    for (ctl_release_t *release = releases ? zlistx_first (releases) : NULL; release;
         release = next) {
        next = zlistx_next (releases);
        if (ctl_door_tracks (env, release->branch))
            newest = release;
        if (newest && (!next || !streq (next->app, release->app))) {
            s_slot_release (self, env, newest, slot);
            newest = NULL;
        }
    }
    zlistx_destroy (&releases);
}

//  Environments with a schedule whose slot has come (ctl_calendar_due).
//  The slot is recorded before its plans are made: a controller that
//  dies in between skips it rather than deploying twice.
static void s_slots (ctl_rollout_t *self, int64_t now)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    for (size_t index = 0; index < config->environment_count; index++) {
        const jad_env_config_t *env = &config->environments[index];
        if (!env->schedule)
            continue;
        int64_t last = 0;
        int found = ctl_releases_repo_slot (self->store, env->name, &last);
        if (found == 1)  //  a new schedule starts from now
            ctl_releases_repo_slot_set (self->store, env->name, now);
        if (found != 0)
            continue;
        int64_t slot = ctl_calendar_due (&env->slots, env->tz, last, now, S_SLOT_GRACE_MS);
        if (slot < 0 || ctl_releases_repo_slot_set (self->store, env->name, slot) != 0)
            continue;
        s_slot_deploy (self, env, slot);
    }
}

//  The tracked releases of env that its next slot deploys: each app's
//  newest on a tracked branch, unless env's latest plan of it is that one.
static json_t *s_waiting (ctl_rollout_t *self, const jad_env_config_t *env)
{
    json_t *waiting = json_array ();
    zlistx_t *releases = ctl_releases_repo_list (self->store, NULL);
    ctl_release_t *newest = NULL, *next = NULL;
    for (ctl_release_t *release = releases ? zlistx_first (releases) : NULL; release;
         release = next) {
        next = zlistx_next (releases);
        if (ctl_door_tracks (env, release->branch))
            newest = release;
        if (newest && (!next || !streq (next->app, release->app))) {
            ctl_plan_t *latest = NULL;
            ctl_plans_repo_latest (self->store, newest->app, env->name, &latest);
            if (!latest || !streq (latest->version, newest->version))
                json_array_append_new (waiting,
                                       json_pack ("{s:s, s:s, s:s}", "app", newest->app, "version",
                                                  newest->version, "branch", newest->branch));
            ctl_plan_destroy (&latest);
            newest = NULL;
        }
    }
    zlistx_destroy (&releases);
    return waiting;
}

int ctl_rollout_schedule (ctl_rollout_t *self, const char *env_name, const char *count_text,
                          json_t **result, char *err, size_t errlen)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    if (env_name && !jad_controller_config_env (config, env_name)) {
        char *echo = jad_text_sanitize (env_name, strlen (env_name), 64);
        snprintf (err, errlen, "schedule: unknown environment '%s'", echo ? echo : "?");
        free (echo);
        return 2;
    }
    long count = 5;
    if (count_text) {
        char *end = NULL;
        count = strtol (count_text, &end, 10);
        if (!end || *end || end == count_text || count < 1 || count > 50) {
            snprintf (err, errlen, "schedule: --count must be a number from 1 to 50");
            return 2;
        }
    }
    int64_t now = jad_now_ms ();
    json_t *list = json_array ();
    for (size_t index = 0; list && index < config->environment_count; index++) {
        const jad_env_config_t *env = &config->environments[index];
        if (!env->schedule || (env_name && !streq (env_name, env->name)))
            continue;
        int64_t slots[50], last = 0;
        size_t found = ctl_calendar_slots (&env->slots, env->tz, now, slots, (size_t)count);
        json_t *times = json_array ();
        for (size_t slot = 0; slot < found; slot++) {
            char local[64];
            json_array_append_new (
                times,
                json_pack ("{s:o, s:s}", "time", ctl_json_time (slots[slot], true), "local",
                           ctl_calendar_format (env->tz, slots[slot], false, local, sizeof local)));
        }
        bool has_last = ctl_releases_repo_slot (self->store, env->name, &last) == 0;
        json_array_append_new (list,
                               json_pack ("{s:s, s:s, s:s?, s:o, s:o, s:o}", "env", env->name,
                                          "schedule", env->schedule, "timezone", env->timezone,
                                          "last_slot", ctl_json_time (last, has_last && last > 0),
                                          "slots", times, "waiting", s_waiting (self, env)));
    }
    *result = json_pack ("{s:o}", "environments", list ? list : json_array ());
    return 0;
}

void ctl_rollout_tick (ctl_rollout_t *self)
{
    zlistx_t *running = ctl_plans_repo_running (self->store);
    for (ctl_plan_t *plan = running ? zlistx_first (running) : NULL; plan;
         plan = zlistx_next (running))
        ctl_rollout_advance (self, plan->id);
    zlistx_destroy (&running);
    s_slots (self, jad_now_ms ());
}

//  The last known-good candidates of app in env: succeeded deploys and
//  rollbacks, newest first, with their facts (the rows own the strings).
static ctl_door_candidate_t *s_candidates (ctl_rollout_t *self, const jad_env_config_t *env,
                                           const char *app, zlistx_t *succeeded, size_t *count)
{
    size_t size = succeeded ? zlistx_size (succeeded) : 0;
    ctl_door_candidate_t *candidates = calloc (size + 1, sizeof (ctl_door_candidate_t));
    *count = 0;
    for (ctl_succeeded_t *row = succeeded && candidates ? zlistx_first (succeeded) : NULL; row;
         row = zlistx_next (succeeded)) {
        if (!streq (row->kind, "deploy") && !streq (row->kind, "rollback"))
            continue;
        ctl_door_candidate_t *candidate = &candidates[(*count)++];
        candidate->version = row->version;
        candidate->created = row->created;
        candidate->facts =
            (ctl_release_facts_t){.exists = true,
                                  .counter = row->counter,
                                  .has_floor = row->floor > 0,
                                  .floor = row->floor,
                                  .bad = row->bad,
                                  .promoted = env->requires && ctl_plans_repo_succeeded_in (
                                                                   self->store, env->requires, app,
                                                                   row->version, "deploy") == 1};
    }
    return candidates;
}

static char *s_rollback (ctl_rollout_t *self, ctl_door_kind_t door, const char *app,
                         const char *env_name, const char *to, const char *undoes,
                         const char *deployer, const char *reason, bool force, json_t **dry_run,
                         char *err, size_t errlen)
{
    const jad_env_config_t *env =
        jad_controller_config_env (ctl_settings_config (self->settings), env_name);
    //  the plan undone: the one named, or the latest deploy of app to env
    ctl_plan_t *undone = NULL;
    if (undoes)
        ctl_plans_repo_get (self->store, undoes, &undone);
    else
        ctl_plans_repo_latest (self->store, app, env_name, &undone);
    char *plan_id = NULL;
    zlistx_t *hosts = NULL, *succeeded = NULL;
    const char **targets = NULL;
    ctl_door_candidate_t *candidates = NULL;
    ctl_release_t *release = NULL;
    ctl_door_request_t request = {.kind = door,
                                  .app = app,
                                  .version = to ? to : "-",
                                  .env = env_name,
                                  .operator_name = deployer,
                                  .reason = reason,
                                  .force = force};
    ctl_door_policy_t policy = s_policy (env);
    ctl_door_rollback_t rollback = {.undone_plan = undone ? undone->id : NULL,
                                    .undone_version = undone ? undone->version : NULL,
                                    .to = to};
    if (to)
        release = s_facts (self->store, env, app, to, &rollback.to_facts);
    else if (env && undone) {
        succeeded = ctl_plans_repo_succeeded (self->store, app, env_name);
        candidates = s_candidates (self, env, app, succeeded, &rollback.candidate_count);
        if (!candidates) {
            snprintf (err, errlen, "out of memory");
            goto done;
        }
        rollback.candidates = candidates;
    }
    ctl_door_verdict_t verdict;
    const char *target = ctl_door_rollback (&request, &policy, &rollback, jad_now_ms (), &verdict);
    if (!target) {
        snprintf (err, errlen, "%s", verdict.text);
        jad_log_info ("policy: refused %s app=%s to=%s env=%s by=%s rule=\"%s\"",
                      ctl_door_kind_name (door), app, to ? to : "-", env_name, deployer,
                      verdict.rule ? verdict.rule : "-");
        goto done;
    }
    //  every host of env that runs the app
    hosts = ctl_agents_repo_running (self->store, env_name, app);
    if (!hosts) {
        snprintf (err, errlen, "database error");
        goto done;
    }
    size_t count = zlistx_size (hosts);
    targets = s_array (hosts);
    if (!targets) {
        snprintf (err, errlen, "out of memory");
        goto done;
    }
    ctl_plan_spec_t spec = {.door = door,
                            .app = app,
                            .version = target,
                            .env = env_name,
                            .deployer = deployer,
                            .reason = reason,
                            .force = force,
                            .undone_version = undone->version,
                            .targets = count ? targets : NULL,
                            .undoes = undone->id,
                            .previous = target,
                            .dry_run = dry_run};
    plan_id = ctl_rollout_create (self, &spec, err, errlen);
    if (plan_id)
        ctl_plans_repo_rolled_back_by (self->store, undone->id, plan_id, true);
done:
    free (targets);
    free (candidates);
    zlistx_destroy (&hosts);
    zlistx_destroy (&succeeded);
    ctl_release_destroy (&release);
    ctl_plan_destroy (&undone);
    return plan_id;
}

char *ctl_rollout_rollback (ctl_rollout_t *self, ctl_door_kind_t door, const char *app,
                            const char *env_name, const char *to, const char *undoes,
                            const char *deployer, const char *reason, bool force, char *err,
                            size_t errlen)
{
    return s_rollback (self, door, app, env_name, to, undoes, deployer, reason, force, NULL, err,
                       errlen);
}

int ctl_rollout_rollback_dry (ctl_rollout_t *self, const char *app, const char *env_name,
                              const char *to, const char *deployer, bool force, json_t **dry_run,
                              char *err, size_t errlen)
{
    *dry_run = NULL;
    if (errlen)
        err[0] = 0;
    s_rollback (self, CTL_DOOR_ROLLBACK, app, env_name, to, NULL, deployer, NULL, force, dry_run,
                err, errlen);
    return *dry_run ? 0 : -1;
}

//  A release was added with `branch`: deploy it to every environment that
//  tracks the branch with auto_deploy, within policy.
json_t *ctl_rollout_auto_deploy (ctl_rollout_t *self, const char *app, const char *version,
                                 const char *branch, const char *operator_name)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    json_t *list = json_array ();
    for (size_t index = 0; list && branch && index < config->environment_count; index++) {
        const jad_env_config_t *env = &config->environments[index];
        if (!ctl_door_tracks (env, branch))
            continue;
        char err[1024] = "";
        ctl_door_verdict_t verdict;
        ctl_plan_spec_t spec = {.door = CTL_DOOR_AUTO_DEPLOY,
                                .app = app,
                                .version = version,
                                .env = env->name,
                                .deployer = operator_name,
                                .branch = branch,
                                .verdict = &verdict};
        char *plan_id = ctl_rollout_create (self, &spec, err, sizeof err);
        char slot[32];
        if (plan_id)
            json_array_append_new (list,
                                   json_pack ("{s:s, s:s}", "env", env->name, "plan", plan_id));
        else if (verdict.rule && strcmp (verdict.rule, "schedule") == 0)
            //  not refused: it waits for the slot, when the controller deploys
            //  the branch's newest release
            json_array_append_new (
                list, json_pack ("{s:s, s:s, s:s?}", "env", env->name, "waits", err, "slot",
                                 verdict.next_slot_ms >= 0
                                     ? jad_iso_time (verdict.next_slot_ms, slot, sizeof slot)
                                     : NULL));
        else
            json_array_append_new (list,
                                   json_pack ("{s:s, s:s}", "env", env->name, "refused", err));
        jad_log_info ("policy: auto_deploy app=%s version=%s branch=%s env=%s %s%s", app, version,
                      branch, env->name, plan_id ? "plan=" : "refused=", plan_id ? plan_id : err);
        free (plan_id);
    }
    return list;
}

//  --------------------------------------------------------------------------
//  db-rollback (DESIGN §11)

//  The host to run a db-rollback on, from env's hosts that run app
//  (ctl_agent_t with their apps): online and running `newest` (it has
//  every release up to it on disk), else online, else any. Borrowed from
//  the list, or NULL if no host runs app.
static const char *s_db_host (zlistx_t *fleet, const char *newest, int64_t now,
                              uint32_t heartbeat_ms)
{
    const char *chosen = NULL;
    int best = -1;
    for (ctl_agent_t *agent = zlistx_first (fleet); agent; agent = zlistx_next (fleet)) {
        ctl_agent_app_t *app = agent->apps ? zlistx_first (agent->apps) : NULL;
        if (!app || !jad_text_is (agent->state, "accepted"))
            continue;
        bool online = ctl_deadlines_online (agent->last_seen, now, heartbeat_ms);
        int score = (online ? 2 : 0) + (jad_text_is (app->version, newest) ? 1 : 0);
        if (score > best) {
            best = score;
            chosen = agent->name;
        }
    }
    return chosen;
}

//  A release of app above `to` (added after it) that a host of env runs,
//  into above (empty if none). Returns 0 or -1 on a database error.
static int s_active_above (ctl_rollout_t *self, zlistx_t *fleet, const ctl_release_t *to,
                           char *above, size_t len)
{
    above[0] = 0;
    for (ctl_agent_t *agent = zlistx_first (fleet); agent; agent = zlistx_next (fleet)) {
        ctl_agent_app_t *app = agent->apps ? zlistx_first (agent->apps) : NULL;
        if (!app || !app->version || streq (app->version, to->version))
            continue;
        ctl_release_t *release = NULL;
        int rc = ctl_releases_repo_get (self->store, to->app, app->version, &release);
        if (rc < 0)
            return -1;
        if (rc == 0 && (release->created > to->created ||
                        (release->created == to->created && release->counter > to->counter)))
            snprintf (above, len, "%s", app->version);
        ctl_release_destroy (&release);
        if (*above)
            return 0;
    }
    return 0;
}

char *ctl_rollout_db_rollback (ctl_rollout_t *self, const char *app, const char *env_name,
                               const char *to, const char *deployer, bool force, char *err,
                               size_t errlen)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    if (!jad_controller_config_env (config, env_name)) {
        snprintf (err, errlen, "unknown environment '%s' (see controller.yaml)", env_name);
        return NULL;
    }
    ctl_release_t *release = NULL;
    zlistx_t *crossed = NULL, *fleet = NULL;
    char *plan_id = NULL;
    int rc = ctl_releases_repo_get (self->store, app, to, &release);
    if (rc != 0) {
        snprintf (err, errlen,
                  rc < 0 ? "database error while reading %s %s"
                         : "no release %s %s (add it with: jadctl release add)",
                  app, to);
        goto done;
    }
    crossed = ctl_plans_repo_crossed (self->store, env_name, app, to);
    fleet = ctl_agents_repo_fleet (self->store, env_name, app);
    if (!crossed || !fleet) {
        snprintf (err, errlen, "database error while reading the migrations of %s in %s", app,
                  env_name);
        goto done;
    }
    if (zlistx_size (crossed) == 0) {
        snprintf (err, errlen,
                  "nothing to roll back: no migration of %s above %s is up in %s (see: jadctl "
                  "plans --env %s)",
                  app, to, env_name, env_name);
        goto done;
    }
    //  newest first, each of them reversible
    char list[JAD_MAX_MIGRATIONS * 66] = "";
    size_t used = 0, count = 0;
    for (ctl_crossed_row_t *row = zlistx_first (crossed); row; row = zlistx_next (crossed)) {
        if (!row->has_down) {
            snprintf (err, errlen,
                      "refused: %s %s ran migrate_up in %s but has no migrate_down hook: its "
                      "migration cannot be rolled back",
                      app, row->version, env_name);
            goto done;
        }
        if (++count > JAD_MAX_MIGRATIONS) {
            snprintf (err, errlen,
                      "refused: %zu migrations of %s above %s are up in %s, more than the %d a "
                      "plan carries: roll back to a newer version first",
                      zlistx_size (crossed), app, to, env_name, JAD_MAX_MIGRATIONS);
            goto done;
        }
        used += (size_t)snprintf (list + used, sizeof list - used, "%s%s", used ? "," : "",
                                  row->version);
    }
    char above[128];
    if (s_active_above (self, fleet, release, above, sizeof above) != 0) {
        snprintf (err, errlen, "database error while reading the releases of %s", app);
        goto done;
    }
    ctl_crossed_row_t *newest = zlistx_first (crossed);
    const char *host = s_db_host (fleet, newest->version, jad_now_ms (), config->heartbeat_ms);
    if (!host) {
        snprintf (err, errlen, "no host of %s runs %s: nowhere to run migrate_down", env_name, app);
        goto done;
    }
    const char *targets[] = {host, NULL};
    ctl_plan_spec_t spec = {.door = CTL_DOOR_DB_ROLLBACK,
                            .app = app,
                            .version = to,
                            .env = env_name,
                            .deployer = deployer,
                            .force = force,
                            .above = *above ? above : NULL,
                            .targets = targets,
                            .action = "migrate_down",
                            .migrations = list};
    plan_id = ctl_rollout_create (self, &spec, err, errlen);
    if (plan_id)
        ctl_decisions_record (self->store, plan_id, "db-rollback", "planned",
                              "migrate_down of %s, newest first, once in %s on %s%s%s", list,
                              env_name, host, *above ? "; --force: active release " : "", above);
done:
    zlistx_destroy (&fleet);
    zlistx_destroy (&crossed);
    ctl_release_destroy (&release);
    return plan_id;
}
