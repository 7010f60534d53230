//  ctl_rollout - the rollout engine: batches, canary and bake, migrations,
//  coordinated rollback
//  SPDX-License-Identifier: MPL-2.0
//
//  See ctl_rollout.h for the phases. Everything here reads the plan from
//  SQLite, decides, writes the decision back and returns: no rollout state
//  lives in memory between calls.

#include "ctl_rollout.h"
#include "ctl_agents_repo.h"
#include "ctl_attestations.h"
#include "ctl_alerts_repo.h"
#include "ctl_batches.h"
#include "ctl_deadlines.h"
#include "ctl_decisions.h"
#include "ctl_json.h"
#include "ctl_plans_repo.h"
#include "ctl_releases_repo.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdarg.h>
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

//  "a, b, c" of a list, bounded.
static void s_join (zlistx_t *list, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (char *item = list ? zlistx_first (list) : NULL; item && used < len;
         item = zlistx_next (list))
        used += (size_t)snprintf (buf + used, len - used, "%s%s", used ? ", " : "", item);
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
            return "task";
        default:
            return "deploy";
    }
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
                                  .undone_version = spec->undone_version};
    ctl_door_policy_t policy = s_policy (env);
    ctl_release_facts_t facts;
    ctl_release_t *release = s_facts (self->store, env, spec->app, spec->version, &facts);
    bool deploy = spec->door == CTL_DOOR_DEPLOY || spec->door == CTL_DOOR_AUTO_DEPLOY ||
                  spec->door == CTL_DOOR_EMERGENCY;
    ctl_check_result_t *checks =
        deploy ? s_check_facts (self, env, release, spec->deployer, &facts) : NULL;
    ctl_door_verdict_t verdict;
    ctl_door_outcome_t outcome =
        ctl_door_check (&request, &policy, &facts, jad_now_ms (), &verdict);
    free (checks);
    ctl_release_destroy (&release);
    if (outcome == CTL_DOOR_REFUSED) {
        snprintf (err, errlen, "%s", verdict.text);
        jad_log_info ("policy: refused %s app=%s version=%s env=%s by=%s rule=\"%s\"",
                      ctl_door_kind_name (spec->door), spec->app, spec->version, spec->env,
                      spec->deployer, verdict.rule ? verdict.rule : "-");
        return NULL;
    }
    bool awaiting = outcome == CTL_DOOR_NEEDS_APPROVAL;
    const char *kind = s_kind (spec->door);
    bool task = spec->door == CTL_DOOR_TASK;
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
        return NULL;
    }
    size_t total = layout.hosts;
    char *previous = NULL;
    if (!task)
        previous = spec->previous ? strdup (spec->previous)
                                  : s_previous_version (self, spec->app, spec->env);

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
//  Start, batches, tasks

//  Release hosts of batch `number` and send them the plan.
static void s_start_batch (ctl_rollout_t *self, const char *plan_id, int64_t number,
                           int64_t batches)
{
    int64_t now = jad_now_ms ();
    zlistx_t *hosts = ctl_plans_repo_host_names (self->store, plan_id, number, CTL_HOSTS_ALL);
    ctl_plans_repo_start_batch (self->store, plan_id, number, now);
    char names[768];
    s_join (hosts, names, sizeof names);
    if (ctl_plans_repo_is_task (self->store, plan_id) == 0)
        ctl_decisions_record (self->store, plan_id, "batch", "started", "batch %lld/%lld: %s",
                              (long long)number + 1, (long long)batches, names);
    zlistx_destroy (&hosts);
    ctl_dispatch_plan (self->dispatch, plan_id, NULL);
}

//  One host to run a task on: the first online of `candidates` (hosts in
//  preference order), else the first at all. Caller frees.
static char *s_choose_host (ctl_rollout_t *self, zlistx_t *candidates)
{
    ctl_plan_host_t *first = candidates ? zlistx_first (candidates) : NULL;
    for (ctl_plan_host_t *host = first; host; host = zlistx_next (candidates))
        if (ctl_deadlines_online (host->last_seen, jad_now_ms (),
                                  ctl_settings_config (self->settings)->heartbeat_ms))
            return strdup (host->agent);
    return first ? strdup (first->agent) : NULL;
}

//  Preference orders of task hosts: by batch then name (a migrate_up runs
//  on the first host of batch 0), or those running `s_newest` first (a
//  migrate_down runs where the newest crossed release is on disk).
static int s_by_batch (const ctl_plan_host_t *one, const ctl_plan_host_t *two)
{
    return one->batch != two->batch ? (one->batch < two->batch ? -1 : 1)
                                    : strcmp (one->agent, two->agent);
}

static int s_newest_first (const ctl_plan_host_t *one, const ctl_plan_host_t *two,
                           const char *newest)
{
    bool left = one->version && streq (one->version, newest);
    bool right = two->version && streq (two->version, newest);
    return left != right ? (left ? -1 : 1) : strcmp (one->agent, two->agent);
}

//  Sort a list of hosts (insertion sort: zlistx has no comparator with
//  context, and a plan has few hosts to choose a task host from).
static void s_sort_hosts (zlistx_t *hosts, const char *newest)
{
    size_t count = hosts ? zlistx_size (hosts) : 0;
    ctl_plan_host_t **items = calloc (count + 1, sizeof (ctl_plan_host_t *));
    if (!items)
        return;
    size_t used = 0;
    for (ctl_plan_host_t *host = zlistx_first (hosts); host; host = zlistx_next (hosts)) {
        size_t slot = used++;
        while (slot > 0 && (newest ? s_newest_first (host, items[slot - 1], newest)
                                   : s_by_batch (host, items[slot - 1])) < 0) {
            items[slot] = items[slot - 1];
            slot--;
        }
        items[slot] = host;
    }
    //  move them over in the new order (the list owns them)
    zlistx_set_destructor (hosts, NULL);
    zlistx_purge (hosts);
    zlistx_set_destructor (hosts, (zlistx_destructor_fn *)ctl_plan_host_destroy);
    for (size_t index = 0; index < used; index++)
        zlistx_add_end (hosts, items[index]);
    free (items);
}

//  Create a task for plan_id and record it as the plan's task.
static int s_start_task (ctl_rollout_t *self, const char *plan_id, const char *app,
                         const char *version, const char *env, const char *action,
                         const char *const *targets, const char *migrations, const char *phase)
{
    char err[1024];
    ctl_plan_spec_t spec = {.door = CTL_DOOR_TASK,
                            .app = app,
                            .version = version,
                            .env = env,
                            .deployer = "controller",
                            .reason = action,
                            .targets = targets,
                            .parent = plan_id,
                            .action = action,
                            .migrations = migrations};
    char *task_id = ctl_rollout_create (self, &spec, err, sizeof err);
    if (!task_id) {
        char reason[1200];
        snprintf (reason, sizeof reason, "cannot start %s: %s", action, err);
        ctl_rollout_fail (self, plan_id, reason);
        return -1;
    }
    ctl_plans_repo_set_task (self->store, plan_id, task_id, phase, jad_now_ms ());
    free (task_id);
    return 0;
}

//  Versions whose migrations a rollback of app in env to `version`
//  crosses, newest first (comma list, caller frees), or NULL if none.
//  Sets *irreversible to a version without migrate_down if there is one.
static char *s_crossed_migrations (ctl_rollout_t *self, const char *app, const char *env,
                                   const char *version, char **irreversible)
{
    zlistx_t *crossed = ctl_plans_repo_crossed (self->store, env, app, version);
    char list[JAD_MAX_MIGRATIONS * 66] = "";
    size_t used = 0;
    int count = 0;
    for (ctl_crossed_row_t *row = crossed ? zlistx_first (crossed) : NULL;
         row && count < JAD_MAX_MIGRATIONS; row = zlistx_next (crossed)) {
        if (!row->has_down && !*irreversible)
            *irreversible = strdup (row->version);
        used += (size_t)snprintf (list + used, sizeof list - used, "%s%s", used ? "," : "",
                                  row->version);
        count++;
    }
    zlistx_destroy (&crossed);
    return count ? strdup (list) : NULL;
}

int ctl_rollout_start (ctl_rollout_t *self, const char *plan_id)
{
    ctl_plan_snapshot_t *snapshot = NULL;
    if (ctl_plans_repo_snapshot (self->store, plan_id, &snapshot) != 0)
        return -1;
    const ctl_plan_t *plan = snapshot->plan;
    ctl_plans_repo_set_running (self->store, plan_id, jad_now_ms ());
    int rc = 0;
    if (streq (plan->kind, "deploy") && snapshot->has_migrate_up && !snapshot->migrated) {
        //  migrate_up once per environment, on the first host of batch 0
        //  that is online, before any host switches
        zlistx_t *candidates = ctl_plans_repo_candidates (self->store, plan_id, plan->app);
        s_sort_hosts (candidates, NULL);
        char *host = s_choose_host (self, candidates);
        zlistx_destroy (&candidates);
        const char *targets[] = {host, NULL};
        ctl_decisions_record (self->store, plan_id, "migrate_up", "started",
                              "%s %s has migrate_up, not yet run in %s: running it once on %s "
                              "before any host switches",
                              plan->app, plan->version, plan->env, host ? host : "-");
        rc = s_start_task (self, plan_id, plan->app, plan->version, plan->env, "migrate_up",
                           targets, NULL, "migrate");
        free (host);
    } else if (streq (plan->kind, "rollback")) {
        char *irreversible = NULL;
        char *crossed =
            s_crossed_migrations (self, plan->app, plan->env, plan->version, &irreversible);
        if (irreversible) {
            char reason[256];
            snprintf (reason, sizeof reason,
                      "cannot roll back across %s %s: it ran migrate_up but has no migrate_down",
                      plan->app, irreversible);
            ctl_rollout_fail (self, plan_id, reason);
            rc = -1;
        } else if (crossed) {
            //  on a host that ran the newest crossed release: it has them on disk
            char newest[JAD_NAME_MAX + 1];
            snprintf (newest, sizeof newest, "%.*s", (int)strcspn (crossed, ","), crossed);
            zlistx_t *candidates = ctl_plans_repo_candidates (self->store, plan_id, plan->app);
            s_sort_hosts (candidates, newest);
            char *host = s_choose_host (self, candidates);
            zlistx_destroy (&candidates);
            const char *targets[] = {host, NULL};
            ctl_decisions_record (self->store, plan_id, "migrate_down", "started",
                                  "rolling back to %s crosses migrations of %s: running their "
                                  "migrate_down in that order on %s before switching code back",
                                  plan->version, crossed, host ? host : "-");
            rc = s_start_task (self, plan_id, plan->app, plan->version, plan->env, "migrate_down",
                               targets, crossed, "migrate");
            free (host);
        } else
            s_start_batch (self, plan_id, 0, plan->batches);
        free (crossed);
        free (irreversible);
    } else
        s_start_batch (self, plan_id, 0, plan->batches);
    ctl_plan_snapshot_destroy (&snapshot);
    return rc;
}

//  --------------------------------------------------------------------------
//  Outcomes

static void s_succeed (ctl_rollout_t *self, const char *plan_id, int64_t total, int64_t skipped)
{
    char reason[256];
    if (skipped)
        snprintf (reason, sizeof reason, "%lld of %lld hosts healthy, %lld offline skipped",
                  (long long)(total - skipped), (long long)total, (long long)skipped);
    else
        snprintf (reason, sizeof reason, "%s%lld host%s healthy", total > 1 ? "all " : "",
                  (long long)total, total == 1 ? "" : "s");
    //  A rollback keeps why it was made (an alert's values, an operator's
    //  request) and gets its outcome appended.
    if (ctl_plans_repo_finish (self->store, plan_id, "succeeded", reason, jad_now_ms ()) > 0)
        jad_log_info ("plans: finished plan=%s outcome=succeeded reason=\"%s\"", plan_id, reason);
}

//  Coordinated rollback of a failed deploy: a rollback plan to the
//  release before it, on every host the plan touched.
static void s_roll_back (ctl_rollout_t *self, const char *plan_id, const char *reason)
{
    ctl_plan_snapshot_t *snapshot = NULL;
    if (ctl_plans_repo_snapshot (self->store, plan_id, &snapshot) != 0)
        return;
    const ctl_plan_t *plan = snapshot->plan;
    zlistx_t *changed = ctl_plans_repo_host_names (self->store, plan_id, -1, CTL_HOSTS_CHANGED);
    if (changed && zlistx_size (changed) == 0 && snapshot->migrated_here) {
        //  no host switched, but the migration ran: undo it on its host
        zlistx_destroy (&changed);
        changed = ctl_plans_repo_migration_hosts (self->store, plan_id);
    }
    if (!changed || zlistx_size (changed) == 0)
        ctl_decisions_record (self->store, plan_id, "rollback", "not needed",
                              "no other host runs %s and no migration ran (a host whose own "
                              "step failed went back by itself)",
                              plan->version);
    else if (!plan->previous)
        ctl_decisions_record (self->store, plan_id, "rollback", "impossible",
                              "no release ran in %s before %s: hosts that switched keep it",
                              plan->env, plan->version);
    else {
        const char **targets = s_array (changed);
        ctl_plan_spec_t spec = {.door = CTL_DOOR_AUTO_ROLLBACK,
                                .app = plan->app,
                                .version = plan->previous,
                                .env = plan->env,
                                .deployer = "controller",
                                .reason = reason,
                                .undone_version = plan->version,
                                .targets = targets,
                                .undoes = plan_id,
                                .previous = plan->previous,
                                .skip_offline = true};
        char err[1024];
        char *rollback_id = targets ? ctl_rollout_create (self, &spec, err, sizeof err) : NULL;
        if (rollback_id) {
            ctl_plans_repo_rolled_back_by (self->store, plan_id, rollback_id, false);
            char names[768];
            s_join (changed, names, sizeof names);
            ctl_decisions_record (self->store, plan_id, "rollback", "started",
                                  "plan %s rolls %s back to %s on %s", rollback_id, plan->env,
                                  plan->previous, names);
        } else
            ctl_decisions_record (self->store, plan_id, "rollback", "failed", "cannot create: %s",
                                  targets ? err : "out of memory");
        free (rollback_id);
        free (targets);
    }
    zlistx_destroy (&changed);
    ctl_plan_snapshot_destroy (&snapshot);
}

int ctl_rollout_fail (ctl_rollout_t *self, const char *plan_id, const char *reason)
{
    ctl_plan_t *plan = NULL;
    if (ctl_plans_repo_get (self->store, plan_id, &plan) != 0)
        return -1;
    int rc = -1;
    int64_t now = jad_now_ms ();
    if (ctl_plans_repo_finish (self->store, plan_id, "failed", reason, now) <= 0)
        goto done;
    rc = 0;
    jad_log_info ("plans: finished plan=%s outcome=failed reason=\"%s\"", plan_id, reason);
    ctl_plans_repo_cancel_waiting (self->store, plan_id, now);
    if (streq (plan->kind, "task"))
        goto done;
    ctl_decisions_record (self->store, plan_id, "outcome", "failed", "%s", reason);
    if (plan->task)
        ctl_rollout_fail (self, plan->task, "the plan it served failed");
    if (streq (plan->kind, "deploy"))
        s_roll_back (self, plan_id, reason);
done:
    ctl_plan_destroy (&plan);
    return rc;
}

//  --------------------------------------------------------------------------
//  Advance

//  "host (step: detail)" of a failed host, or NULL. Caller frees.
static char *s_failure_text (const ctl_plan_host_t *host)
{
    return host ? jad_strdup_printf ("%s (%s: %s)", host->agent, host->step ? host->step : "?",
                                     host->detail ? host->detail : "failed")
                : NULL;
}

//  True if an alert rule for env is firing, its values in why.
static bool s_alert_firing (ctl_rollout_t *self, const char *env, char *why, size_t len)
{
    ctl_alert_rule_t *rule = NULL;
    if (ctl_alerts_repo_firing (self->store, env, &rule) != 0)
        return false;
    snprintf (why, len, "alert %s is firing: %s = %g %s %g", rule->id, rule->metric,
              rule->has_value ? rule->value : 0.0, rule->above ? ">" : "<", rule->threshold);
    ctl_alert_rule_destroy (&rule);
    return true;
}

//  True if a rule for env became inconclusive after `after` (wall ms),
//  why in why.
static bool s_alert_inconclusive (ctl_rollout_t *self, const char *env, int64_t after, char *why,
                                  size_t len)
{
    ctl_alert_rule_t *rule = NULL;
    if (ctl_alerts_repo_inconclusive (self->store, env, after, &rule) != 0)
        return false;
    char window[32], since[32];
    jad_duration_format ((uint64_t)rule->window_ms, window, sizeof window);
    const char *error = rule->error;
    snprintf (why, len,
              "alert %s is inconclusive since %s: %s(%s) had %lld samples in %s, it needs %lld "
              "to decide%s%s",
              rule->id, jad_iso_time (rule->since, since, sizeof since), rule->aggregate,
              rule->query ? rule->query : rule->metric, (long long)rule->samples, window,
              (long long)rule->min_samples, error ? "; " : "", error ? error : "");
    ctl_alert_rule_destroy (&rule);
    return true;
}

//  An alert rule of env that cannot decide (too few samples) pauses a
//  deploy at its gates (end of bake, next batch) for an operator: it never
//  passes it. A rule that became inconclusive before the operator's last
//  resume was seen by the operator and is let through. Returns true if
//  the plan was paused.
static bool s_pause_if_inconclusive (ctl_rollout_t *self, const char *plan_id, const char *env)
{
    int64_t resumed = 0;
    ctl_plans_repo_last_resume (self->store, plan_id, &resumed);
    char why[512] = "";
    if (!s_alert_inconclusive (self, env, resumed, why, sizeof why))
        return false;
    if (ctl_plans_repo_set_paused (self->store, plan_id, true, jad_now_ms ()) == 1) {
        ctl_decisions_record (self->store, plan_id, "alert", "paused",
                              "%s; the plan waits for an operator: jadctl plan resume %s goes on, "
                              "jadctl plan abort %s rolls back",
                              why, plan_id, plan_id);
        //  a plan that waits tells someone (issue 13 item 4)
        ctl_plan_t *plan = NULL;
        if (ctl_plans_repo_get (self->store, plan_id, &plan) == 0) {
            json_t *fields =
                json_pack ("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s}", "plan", plan_id, "app",
                           plan->app, "version", plan->version, "env", plan->env, "phase",
                           plan->phase, "deployer", plan->deployer, "reason", why);
            if (fields)
                ctl_notify_send (self->notify, "plan.paused", fields);
            json_decref (fields);
        }
        ctl_plan_destroy (&plan);
    }
    return true;
}

//  A migrate or verify task of the plan is over (or still running).
static void s_task_phase (ctl_rollout_t *self, const ctl_plan_snapshot_t *snapshot, int64_t now)
{
    const ctl_plan_t *plan = snapshot->plan;
    const ctl_plan_t *task = snapshot->task;
    const char *plan_id = plan->id;
    bool migrate = streq (plan->phase, "migrate");
    if (task && streq (task->state, "succeeded")) {
        if (!migrate) {
            ctl_plans_repo_baked (self->store, plan_id, now);
            ctl_decisions_record (self->store, plan_id, "bake", "passed",
                                  "canary hosts stayed healthy for %lldms and passed their "
                                  "checks again",
                                  (long long)plan->bake_ms);
            ctl_rollout_advance (self, plan_id);
            return;
        }
        const char *host = snapshot->task_host;
        if (streq (task->action, "migrate_up"))
            ctl_plans_repo_migration_up (self->store, plan->env, plan->app, plan->version, host,
                                         task->id, now);
        else if (task->migrations) {
            char *list = strdup (task->migrations);
            char *save = NULL;
            for (char *item = list ? strtok_r (list, ",", &save) : NULL; item;
                 item = strtok_r (NULL, ",", &save))
                ctl_plans_repo_migration_down (self->store, plan->env, plan->app, item, host,
                                               task->id, now);
            free (list);
        }
        ctl_decisions_record (self->store, plan_id, task->action, "done",
                              "ran on %s; now switching hosts", host ? host : "-");
        s_start_batch (self, plan_id, 0, plan->batches);
    } else if (task && !streq (task->state, "running")) {
        char *failure = s_failure_text (snapshot->task_failure);
        char reason[800];
        snprintf (reason, sizeof reason, "%s: %s",
                  migrate ? "migration failed, no host switched" : "canary failed after bake",
                  failure ? failure : (task->reason ? task->reason : "task failed"));
        free (failure);
        ctl_rollout_fail (self, plan_id, reason);
    }
}

//  The canary batch bakes: an alert fails it, an inconclusive rule or an
//  operator pauses it, and when the bake is over the canaries check again.
static void s_bake_phase (ctl_rollout_t *self, const ctl_plan_snapshot_t *snapshot, int64_t now)
{
    const ctl_plan_t *plan = snapshot->plan;
    const char *plan_id = plan->id;
    char why[512] = "";
    if (s_alert_firing (self, plan->env, why, sizeof why)) {
        char reason[600];
        snprintf (reason, sizeof reason, "alert firing during bake: %s", why);
        ctl_decisions_record (self->store, plan_id, "alert", "stop", "%s", why);
        ctl_rollout_fail (self, plan_id, reason);
        return;
    }
    //  a paused bake never passes: an operator resumes or aborts. A rule
    //  without enough samples is judged when the bake is over, never at
    //  its start, when the release has just started (issue 13 item 4).
    if (plan->paused || now - plan->phase_started < plan->bake_ms ||
        s_pause_if_inconclusive (self, plan_id, plan->env))
        return;
    zlistx_t *canaries = ctl_plans_repo_host_names (self->store, plan_id, 0, CTL_HOSTS_HEALTHY);
    size_t count = canaries ? zlistx_size (canaries) : 0;
    const char **targets = s_array (canaries);
    if (count == 0 || !targets) {
        ctl_plans_repo_baked (self->store, plan_id, 0);
        free (targets);
        zlistx_destroy (&canaries);
        ctl_rollout_advance (self, plan_id);
        return;
    }
    ctl_decisions_record (self->store, plan_id, "bake", "verify",
                          "bake of %lldms over, no alert firing: canaries run their "
                          "checks again",
                          (long long)plan->bake_ms);
    s_start_task (self, plan_id, plan->app, plan->version, plan->env, "verify", targets, NULL,
                  "verify");
    free (targets);
    zlistx_destroy (&canaries);
}

void ctl_rollout_advance (ctl_rollout_t *self, const char *plan_id)
{
    ctl_plan_snapshot_t *snapshot = NULL;
    if (ctl_plans_repo_snapshot (self->store, plan_id, &snapshot) != 0)
        return;
    const ctl_plan_t *plan = snapshot->plan;
    if (!streq (plan->state, "running")) {
        ctl_plan_snapshot_destroy (&snapshot);
        return;
    }
    bool is_task = streq (plan->kind, "task");
    int64_t now = jad_now_ms ();
    int64_t current = plan->current_batch, batches = plan->batches;
    int64_t total = snapshot->hosts, skipped = snapshot->skipped;

    if (snapshot->failed > 0) {
        char *first = s_failure_text (snapshot->first_failure);
        char reason[700];
        snprintf (reason, sizeof reason, "%s%s%s", is_task ? "" : "host ",
                  first ? first : "a host failed", "");
        if (!is_task) {
            snprintf (reason, sizeof reason, "batch %lld/%lld: %s", (long long)current + 1,
                      (long long)batches, first ? first : "a host failed");
            ctl_decisions_record (self->store, plan_id, "health", "stop",
                                  "%s failed; stopping the plan", first ? first : "a host");
        }
        free (first);
        ctl_rollout_fail (self, plan_id, reason);
        if (is_task && plan->parent)
            ctl_rollout_advance (self, plan->parent);
        goto done;
    }
    if (is_task) {
        if (snapshot->unfinished == 0) {
            s_succeed (self, plan_id, total, skipped);
            if (plan->parent)
                ctl_rollout_advance (self, plan->parent);
        }
        goto done;
    }
    if (streq (plan->phase, "migrate") || streq (plan->phase, "verify")) {
        s_task_phase (self, snapshot, now);
        goto done;
    }
    if (streq (plan->phase, "bake")) {
        s_bake_phase (self, snapshot, now);
        goto done;
    }
    //  rollout: the current batch must be done before anything moves
    if (snapshot->unfinished > 0)
        goto done;
    if (streq (plan->strategy, "canary") && !plan->baked && plan->bake_ms > 0 && current == 0) {
        ctl_plans_repo_enter_bake (self->store, plan_id, now);
        ctl_decisions_record (self->store, plan_id, "bake", "started",
                              "canary batch healthy; baking %lldms while watching alerts of %s",
                              (long long)plan->bake_ms, plan->env);
        goto done;
    }
    if (current + 1 < batches) {
        if (plan->paused ||
            (streq (plan->kind, "deploy") && s_pause_if_inconclusive (self, plan_id, plan->env)))
            goto done;
        s_start_batch (self, plan_id, current + 1, batches);
        goto done;
    }
    s_succeed (self, plan_id, total, skipped);
    ctl_decisions_record (self->store, plan_id, "outcome", "succeeded",
                          "%lld of %lld hosts healthy", (long long)(total - skipped),
                          (long long)total);
done:
    ctl_plan_snapshot_destroy (&snapshot);
}

void ctl_rollout_tick (ctl_rollout_t *self)
{
    zlistx_t *running = ctl_plans_repo_running (self->store);
    for (ctl_plan_t *plan = running ? zlistx_first (running) : NULL; plan;
         plan = zlistx_next (running)) {
        //  a plan created but not started (controller stopped in between)
        if (streq (plan->phase, "starting"))
            ctl_rollout_start (self, plan->id);
        else
            ctl_rollout_advance (self, plan->id);
    }
    zlistx_destroy (&running);
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

char *ctl_rollout_rollback (ctl_rollout_t *self, ctl_door_kind_t door, const char *app,
                            const char *env_name, const char *to, const char *undoes,
                            const char *deployer, const char *reason, bool force, char *err,
                            size_t errlen)
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
                            .previous = target};
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
        ctl_plan_spec_t spec = {.door = CTL_DOOR_AUTO_DEPLOY,
                                .app = app,
                                .version = version,
                                .env = env->name,
                                .deployer = operator_name,
                                .branch = branch};
        char *plan_id = ctl_rollout_create (self, &spec, err, sizeof err);
        if (plan_id)
            json_array_append_new (list,
                                   json_pack ("{s:s, s:s}", "env", env->name, "plan", plan_id));
        else
            json_array_append_new (list,
                                   json_pack ("{s:s, s:s}", "env", env->name, "refused", err));
        jad_log_info ("policy: auto_deploy app=%s version=%s branch=%s env=%s %s%s", app, version,
                      branch, env->name, plan_id ? "plan=" : "refused=", plan_id ? plan_id : err);
        free (plan_id);
    }
    return list;
}
