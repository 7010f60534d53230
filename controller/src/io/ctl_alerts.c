//  ctl_alerts - alert rules, their state machine, automatic rollback
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_alerts.h"
#include "ctl_curl.h"
#include "ctl_retention_repo.h"
#include "ctl_plans_repo.h"
#include "ctl_alerts_repo.h"
#include "ctl_releases_repo.h"
#include "ctl_rollout.h"
#include "ctl_rule_rows.h"
#include "ctl_metrics_repo.h"
#include "ctl_notify.h"
#include "ctl_json.h"
#include "ctl_security.h"
#include "jad_log.h"
#include "jad_util.h"

#include <curl/curl.h>
#include <math.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_EVAL_MS       1000
#define S_PROM_MAX_BODY (1 << 20)
#define S_MAINTAIN_MS   10000
#define S_SUMMARY_LEN   512

typedef struct {
    atomic_bool stopping;  //  set before the actor is destroyed: curl gives up
} s_worker_shared_t;

struct _ctl_alerts_t {
    ctl_store_t *store;  //  borrowed, as what follows up to started_ms
    ctl_settings_t *settings;
    ctl_notify_t *notify;
    ctl_rollout_t *rollout;
    ctl_metrics_repo_t *metrics;
    ctl_security_t *security;  //  the controller's own series, or NULL
    int64_t started_ms;        //  wall ms the controller started
    int64_t next_eval;         //  mono ms
    int64_t next_maintain;     //  mono ms
    int64_t plans_seen;        //  wall ms up to which plan events were notified
    zactor_t *worker;          //  Prometheus queries
    s_worker_shared_t shared;
    zhashx_t *in_flight;  //  rule id -> query sent (mono ms, as an int64_t *)
};

static void s_worker (zsock_t *pipe, void *args);
static void s_in_flight_free (void **item);

//  --------------------------------------------------------------------------
//  Rules

//  A stored rule and the engine's view of it (which borrows from it).
typedef struct {
    ctl_alert_rule_t *row;
    ctl_rule_t rule;
} s_rule_t;

static void s_rule_clear (s_rule_t *rule)
{
    ctl_alert_rule_destroy (&rule->row);
    memset (rule, 0, sizeof *rule);
}

//  Hold `row` (taken: *row_p becomes NULL) and read it as the engine does.
static void s_rule_take (ctl_alert_rule_t **row_p, s_rule_t *rule)
{
    memset (rule, 0, sizeof *rule);
    rule->row = *row_p;
    *row_p = NULL;
    if (rule->row)
        rule->rule = ctl_rule_rows_rule (rule->row);
}

//  A rule of controller.yaml or the API as a row to store.
static ctl_alert_rule_t s_rule_row (const char *id, const char *origin,
                                    const jad_alert_config_t *alert)
{
    return (ctl_alert_rule_t){.id = (char *)id,
                              .origin = (char *)origin,
                              .env = alert->env ? alert->env : "",
                              .metric = alert->metric,
                              .query = alert->query,
                              .aggregate = alert->aggregate ? alert->aggregate : "avg",
                              .window_ms = alert->window_ms,
                              .above = alert->above,
                              .threshold = alert->threshold,
                              .for_ms = alert->for_ms,
                              .min_samples = alert->min_samples,
                              .action = alert->action,
                              .canary = alert->canary,
                              .compare = alert->compare,
                              .ratio = alert->compare && !alert->has_difference ? alert->ratio : 0,
                              .difference = alert->has_difference ? alert->difference : 0};
}

ctl_alerts_t *ctl_alerts_new (ctl_store_t *store, ctl_settings_t *settings, ctl_notify_t *notify,
                              ctl_rollout_t *rollout, ctl_metrics_repo_t *metrics,
                              int64_t started_ms)
{
    ctl_alerts_t *self = (ctl_alerts_t *)calloc (1, sizeof (ctl_alerts_t));
    if (!self)
        return NULL;
    self->store = store;
    self->settings = settings;
    self->notify = notify;
    self->rollout = rollout;
    self->metrics = metrics;
    self->started_ms = started_ms;
    atomic_init (&self->shared.stopping, false);
    self->in_flight = zhashx_new ();
    self->worker = self->in_flight ? zactor_new (s_worker, &self->shared) : NULL;
    if (!self->worker) {
        ctl_alerts_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->in_flight, s_in_flight_free);
    //  never block the loop: a full pipe skips the query this time
    zsock_set_sndtimeo (zactor_sock (self->worker), 0);
    if (ctl_alerts_sync (self) != 0)
        ctl_alerts_destroy (&self);
    return self;
}

int ctl_alerts_sync (ctl_alerts_t *self)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    //  A config rule's id is derived from its content: unchanged rules
    //  keep their state across restarts and reloads, changed ones start
    //  fresh.
    size_t count = config->alert_count;
    char (*ids)[80] = calloc (count + 1, sizeof *ids);
    ctl_alert_rule_t *rows = calloc (count + 1, sizeof (ctl_alert_rule_t));
    int rc = -1;
    if (!ids || !rows)
        goto done;
    for (size_t index = 0; index < count; index++) {
        const jad_alert_config_t *alert = &config->alerts[index];
        //  canary analysis as it was before it could be set keeps the id
        char canary[128] = "";
        if (alert->canary || alert->compare)
            snprintf (canary, sizeof canary, "|%s|%s|%.17g|%d|%.17g",
                      alert->canary ? alert->canary : "host", alert->compare ? alert->compare : "",
                      alert->ratio, alert->has_difference, alert->difference);
        char *text = jad_strdup_printf (
            "%s|%s|%s|%s|%u|%d|%.17g|%u|%u|%s%s", alert->env ? alert->env : "", alert->metric,
            alert->query ? alert->query : "", alert->aggregate ? alert->aggregate : "avg",
            alert->window_ms, alert->above, alert->threshold, alert->for_ms, alert->min_samples,
            alert->action ? alert->action : "", canary);
        if (!text)
            goto done;
        uint8_t hash[32];
        char hex[65];
        crypto_hash_sha256 (hash, (const uint8_t *)text, strlen (text));
        free (text);
        jad_hex (hash, 4, hex);
        snprintf (ids[index], sizeof ids[index], "c%s", hex);
        rows[index] = s_rule_row (ids[index], "config", alert);
    }
    rc = ctl_alerts_repo_sync_config (self->store, rows, count, jad_now_ms ());
done:
    free (rows);
    free (ids);
    return rc;
}

//  --------------------------------------------------------------------------
//  Evaluation

//  The Prometheus query worker. PromQL rules are read in this thread (a
//  czmq actor) so that a slow or silent Prometheus never stalls the
//  controller's loop: the loop sends QUERY rule-id url timeout-ms, the
//  worker answers RESULT rule-id "ok" "v1 v2 ..." or RESULT rule-id
//  "error" text, and the loop evaluates the rule when the answer arrives.
//  At most one query per rule is in flight.

static size_t s_body_write (char *data, size_t size, size_t count, void *arg)
{
    return jad_body_append ((jad_body_t *)arg, data, size * count);
}

static int s_progress (void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load (&((s_worker_shared_t *)arg)->stopping) ? 1 : 0;
}

//  Run one query (worker thread). Returns the values as "v1 v2 ..." in
//  *answer and 0, or an error text in *answer and -1. Caller frees.
static int s_query (s_worker_shared_t *shared, const char *url, long timeout_ms, char **answer)
{
    CURL *curl = curl_easy_init ();
    if (!curl) {
        *answer = strdup ("out of memory");
        return -1;
    }
    jad_body_t body = {.max = S_PROM_MAX_BODY};
    long status = 0;
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_body_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, s_progress);
    curl_easy_setopt (curl, CURLOPT_XFERINFODATA, shared);
    CURLcode rc = curl_easy_perform (curl);
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup (curl);
    json_t *document = body.data ? json_loads (body.data, 0, NULL) : NULL;
    free (body.data);
    json_t *data = json_object_get (document, "data");
    const char *type = json_string_value (json_object_get (data, "resultType"));
    json_t *result = json_object_get (data, "result");
    if (rc != CURLE_OK || status != 200 || !type || !result) {
        *answer = jad_strdup_printf ("prometheus query failed: %s",
                                     rc != CURLE_OK ? curl_easy_strerror (rc) : "bad answer");
        json_decref (document);
        return -1;
    }
    bool vector = streq (type, "vector");
    size_t size = vector ? json_array_size (result) : 1;
    //  a value prints in at most 32 characters ("%.17g" and a space)
    size_t len = size * 32 + 1, used = 0;
    char *values = calloc (len, 1);
    for (size_t index = 0; values && index < size; index++) {
        json_t *pair = vector ? json_object_get (json_array_get (result, index), "value") : result;
        const char *text = json_string_value (json_array_get (pair, 1));
        char *end = NULL;
        double value = text ? strtod (text, &end) : NAN;
        if (text && end && !*end && isfinite (value))
            used += (size_t)snprintf (values + used, len - used, "%s%.17g", used ? " " : "", value);
    }
    json_decref (document);
    *answer = values ? values : strdup ("out of memory");
    return values ? 0 : -1;
}

static void s_worker (zsock_t *pipe, void *args)
{
    s_worker_shared_t *shared = (s_worker_shared_t *)args;
    zsock_signal (pipe, 0);
    while (!atomic_load (&shared->stopping)) {
        char *command = NULL, *rule = NULL, *url = NULL, *timeout = NULL;
        if (zsock_recv (pipe, "ssss", &command, &rule, &url, &timeout) != 0)
            break;
        bool stop = !command || streq (command, "$TERM");
        if (!stop && streq (command, "QUERY") && rule && url && timeout) {
            char *answer = NULL;
            int rc = s_query (shared, url, atol (timeout), &answer);
            if (!atomic_load (&shared->stopping))
                zsock_send (pipe, "ssss", "RESULT", rule, rc == 0 ? "ok" : "error",
                            answer ? answer : "");
            free (answer);
        }
        zstr_free (&command);
        zstr_free (&rule);
        zstr_free (&url);
        zstr_free (&timeout);
        if (stop)
            break;
    }
    ctl_curl_thread_end ();
}

static void s_in_flight_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  Ask the worker for a PromQL rule's value, unless a query for it is
//  already in flight.
static void s_query_send (ctl_alerts_t *self, const ctl_rule_t *rule)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    if (!self->worker || zhashx_lookup (self->in_flight, rule->id) || !config->prometheus)
        return;
    CURL *curl = curl_easy_init ();
    char *escaped = curl ? curl_easy_escape (curl, rule->query, 0) : NULL;
    char *url =
        jad_strdup_printf ("%s/api/v1/query?query=%s", config->prometheus, escaped ? escaped : "");
    curl_free (escaped);
    curl_easy_cleanup (curl);
    char timeout[32];
    snprintf (timeout, sizeof timeout, "%u", config->prometheus_timeout_ms);
    int64_t *sent = malloc (sizeof (int64_t));
    if (url && sent && zsock_send (self->worker, "ssss", "QUERY", rule->id, url, timeout) == 0) {
        *sent = jad_mono_ms ();
        zhashx_insert (self->in_flight, rule->id, sent);
        sent = NULL;
    }
    free (sent);
    free (url);
}

//  A rule over the samples agents sent.
static ctl_reading_t s_evaluate (ctl_alerts_t *self, const ctl_rule_t *rule, int64_t now)
{
    ctl_reading_t reading;
    ctl_rule_reading_start (rule, now, &reading);
    double *values = NULL;
    uint32_t *hosts = NULL;
    size_t count = 0;
    if (jad_controller_series_valid (rule->metric)) {
        if (ctl_security_values (self->security, rule->metric, reading.window_start, &values,
                                 &hosts, &count))
            snprintf (reading.error, sizeof reading.error, "controller series not available");
    } else if (ctl_metrics_repo_env_values (self->store, rule->env, rule->metric,
                                            reading.window_start, &values, &hosts, &count))
        snprintf (reading.error, sizeof reading.error, "database error");
    ctl_rule_reading_finish (rule, values, hosts, count, &reading);
    free (values);
    free (hosts);
    return reading;
}

static json_t *s_number_or_null (double value)
{
    return isfinite (value) ? json_real (value) : json_null ();
}

static json_t *s_iso (int64_t ms)
{
    char buf[32];
    return ms > 0 ? json_string (jad_iso_time (ms, buf, sizeof buf)) : json_null ();
}

static json_t *s_rule_fields (const ctl_rule_t *rule, const ctl_reading_t *reading)
{
    char text[S_SUMMARY_LEN];
    ctl_rule_describe (rule, text, sizeof text);
    return json_pack (
        "{s:s, s:s, s:s, s:s?, s:s, s:s, s:f, s:I, s:I, s:I, s:s?, s:s, s:o, s:I, "
        "s:I, s:o, s:o}",
        "rule", rule->id, "env", rule->env, "metric", rule->metric, "query", rule->query,
        "aggregate", rule->aggregate, "comparison", rule->above ? "above" : "below", "threshold",
        rule->threshold, "for_ms", (json_int_t)rule->for_ms, "window_ms",
        (json_int_t)rule->window_ms, "min_samples", (json_int_t)rule->min_samples, "action",
        rule->action, "checks", text, "value", s_number_or_null (reading->value), "samples",
        (json_int_t)reading->samples, "hosts", (json_int_t)reading->hosts, "window_start",
        s_iso (reading->window_start), "window_end", s_iso (reading->window_end));
}

//  Roll env back from bad_plan to `version`: a plan still running fails
//  and its coordinated rollback undoes what it changed; a finished one is
//  undone by a rollback plan. Returns the rollback plan's id (caller
//  frees) or NULL with the reason in err.
static char *s_rollback (ctl_alerts_t *self, const char *env, const char *app, const char *version,
                         const char *bad_plan, const char *summary, char *err, size_t errlen)
{
    //  ctl_rollout_fail's coordinated rollback and the door both say
    //  "automatic rollback: " themselves
    ctl_plan_t *plan = NULL;
    ctl_plans_repo_get (self->store, bad_plan, &plan);
    bool running = plan && streq (plan->state, "running");
    ctl_plan_destroy (&plan);
    if (running && ctl_rollout_fail (self->rollout, bad_plan, summary) == 0) {
        char *rollback = NULL;
        if (ctl_plans_repo_get (self->store, bad_plan, &plan) == 0) {
            rollback = plan->rolled_back_by;
            plan->rolled_back_by = NULL;
        }
        ctl_plan_destroy (&plan);
        if (rollback)
            return rollback;
        snprintf (err, errlen, "plan %s failed, but it had changed no host", bad_plan);
        return NULL;
    }
    return ctl_rollout_rollback (self->rollout, CTL_DOOR_AUTO_ROLLBACK, app, env, version, bad_plan,
                                 "controller", summary, false, err, errlen);
}

//  Store an automatic decision. Returns 0 or -1.
static int s_decision_store (ctl_alerts_t *self, const char *plan_id, const char *undoes,
                             const char *rule_id, const char *what, json_t *detail)
{
    char *text = json_dumps (detail, JSON_COMPACT);
    int rc = text ? ctl_plans_repo_decision_add (self->store, plan_id, undoes, rule_id, what, text,
                                                 jad_now_ms ())
                  : -1;
    free (text);
    return rc;
}

//  A rollback rule fired: roll back the deploy it watches, if any.
static void s_auto_rollback (ctl_alerts_t *self, const ctl_rule_t *rule,
                             const ctl_reading_t *reading, json_t *fields)
{
    int64_t now = jad_now_ms ();
    //  the deploy the rule watches (ctl_rules_watched)
    char *bad_plan = NULL, *app = NULL, *bad_version = NULL;
    int64_t created = 0;
    zlistx_t *recent = ctl_plans_repo_since (self->store, rule->env,
                                             now - ctl_settings_config (self->settings)->watch_ms);
    size_t count = recent ? zlistx_size (recent) : 0;
    ctl_watch_plan_t *watched = calloc (count + 1, sizeof (ctl_watch_plan_t));
    ctl_plan_t **rows = calloc (count + 1, sizeof (ctl_plan_t *));
    size_t index = 0;
    for (ctl_plan_t *plan = recent && watched && rows ? zlistx_first (recent) : NULL; plan;
         plan = zlistx_next (recent)) {
        rows[index] = plan;
        watched[index++] = (ctl_watch_plan_t){.id = plan->id,
                                              .kind = plan->kind,
                                              .state = plan->state,
                                              .reason = plan->reason,
                                              .created = plan->created,
                                              .undone = plan->undone};
    }
    int chosen =
        ctl_rules_watched (watched, index, now, ctl_settings_config (self->settings)->watch_ms);
    if (chosen >= 0) {
        bad_plan = strdup (rows[chosen]->id);
        app = strdup (rows[chosen]->app);
        bad_version = strdup (rows[chosen]->version);
        created = rows[chosen]->created;
    }
    free (watched);
    free (rows);
    zlistx_destroy (&recent);
    if (!bad_plan || !app || !bad_version) {
        jad_log_info ("alerts: rule fired outside any watch period rule=%s env=%s", rule->id,
                      rule->env);
        goto done;
    }
    //  Last known good: the newest other version that succeeded here before
    //  and is not marked bad.
    char *good_version = NULL;
    zlistx_t *succeeded = ctl_plans_repo_succeeded (self->store, app, rule->env);
    for (ctl_succeeded_t *row = succeeded ? zlistx_first (succeeded) : NULL; row && !good_version;
         row = zlistx_next (succeeded))
        if (!streq (row->version, bad_version) && row->created < created && !row->bad)
            good_version = strdup (row->version);
    zlistx_destroy (&succeeded);
    char summary[S_SUMMARY_LEN];
    ctl_rule_summary (rule, reading, app, bad_version, good_version != NULL, summary,
                      sizeof summary);
    json_object_set_new (fields, "summary", json_string (summary));
    json_object_set_new (fields, "app", json_string (app));
    json_object_set_new (fields, "bad_plan", json_string (bad_plan));
    json_object_set_new (fields, "from_version", json_string (bad_version));
    json_object_set_new (fields, "to_version",
                         good_version ? json_string (good_version) : json_null ());
    json_object_set_new (fields, "fired_at", s_iso (now));
    char err[1024] = "";
    char *plan_id = good_version ? s_rollback (self, rule->env, app, good_version, bad_plan,
                                               summary, err, sizeof err)
                                 : NULL;
    if (plan_id) {
        ctl_releases_repo_mark_bad (self->store, app, bad_version, summary);
        json_object_set_new (fields, "plan", json_string (plan_id));
        s_decision_store (self, plan_id, bad_plan, rule->id, "rollback", fields);
        jad_log_warning ("alerts: automatic rollback plan=%s undoes=%s env=%s app=%s from=%s "
                         "to=%s rule=%s value=%g",
                         plan_id, bad_plan, rule->env, app, bad_version, good_version, rule->id,
                         reading->value);
        ctl_notify_send (self->notify, "rollback.started", fields);
    } else {
        if (good_version)
            json_object_set_new (fields, "error", json_string (err));
        s_decision_store (self, NULL, bad_plan, rule->id, "no-rollback", fields);
        jad_log_warning ("alerts: cannot roll back env=%s app=%s rule=%s reason=\"%s\"", rule->env,
                         app, rule->id, good_version ? err : "no known-good release");
    }
    free (plan_id);
    free (good_version);

done:
    free (bad_plan);
    free (app);
    free (bad_version);
}

static void s_transition (ctl_alerts_t *self, const ctl_rule_t *rule, const ctl_rule_step_t *step,
                          const ctl_reading_t *reading, int64_t now)
{
    const char *from = ctl_rule_state_name (step->from), *to = ctl_rule_state_name (step->to);
    json_t *fields = s_rule_fields (rule, reading);
    json_object_set_new (fields, "from", json_string (from));
    json_object_set_new (fields, "to", json_string (to));
    if (*reading->error)
        json_object_set_new (fields, "error", json_string (reading->error));
    char *detail = json_dumps (fields, JSON_COMPACT);
    ctl_alert_event_t event = {.rule_id = (char *)rule->id,
                               .time = now,
                               .from_state = (char *)from,
                               .to_state = (char *)to,
                               .has_value = isfinite (reading->value),
                               .value = reading->value,
                               .samples = reading->samples,
                               .hosts = reading->hosts,
                               .error = *reading->error ? (char *)reading->error : NULL,
                               .detail = detail};
    ctl_alerts_repo_event_add (self->store, &event);
    free (detail);
    jad_log_info ("alerts: rule=%s env=%s metric=%s %s -> %s value=%g samples=%lld", rule->id,
                  rule->env, rule->metric, from, to, reading->value, (long long)reading->samples);
    //  a rule on the controller's security series is a security event,
    //  about no environment
    bool security = jad_controller_series_valid (rule->metric);
    if (security)
        json_object_set_new (fields, "env", json_null ());
    char kind[32];
    snprintf (kind, sizeof kind, "%s.%s", security ? "security" : "alert", to);
    ctl_notify_send (self->notify, kind, fields);
    if (step->rollback)
        s_auto_rollback (self, rule, reading, fields);
    json_decref (fields);
}

//  Store a rule's new state (ctl_rule_apply) and act on a transition.
static void s_rule_apply (ctl_alerts_t *self, ctl_rule_t *rule, const ctl_reading_t *reading,
                          int64_t now)
{
    ctl_rule_step_t step;
    ctl_rule_apply (rule, reading, now, &step);
    ctl_alerts_repo_evaluated (self->store, rule->id, ctl_rule_state_name (rule->state),
                               rule->since, isfinite (reading->value), reading->value,
                               reading->samples, reading->hosts, now);
    if (step.changed)
        s_transition (self, rule, &step, reading, now);
}

static bool s_rule_usable (const s_rule_t *rule)
{
    return rule->row && rule->rule.id && rule->rule.env && rule->rule.metric &&
           rule->rule.aggregate;
}

static void s_evaluate_rules (ctl_alerts_t *self, int64_t now)
{
    zlistx_t *rows = ctl_alerts_repo_rules (self->store, false);
    for (ctl_alert_rule_t *row = rows ? zlistx_first (rows) : NULL; row; row = zlistx_next (rows)) {
        //  the row moves into `rule`; the list keeps an empty one
        ctl_alert_rule_t *taken = (ctl_alert_rule_t *)calloc (1, sizeof (ctl_alert_rule_t));
        if (!taken)
            break;
        *taken = *row;
        memset (row, 0, sizeof *row);
        s_rule_t rule;
        s_rule_take (&taken, &rule);
        if (s_rule_usable (&rule)) {
            if (rule.rule.query)
                //  evaluated when the worker answers (ctl_alerts_receive)
                s_query_send (self, &rule.rule);
            else {
                ctl_reading_t reading = s_evaluate (self, &rule.rule, now);
                s_rule_apply (self, &rule.rule, &reading, now);
            }
        }
        s_rule_clear (&rule);
    }
    zlistx_destroy (&rows);
}

//  The names of a list of strings as an array (borrowed; caller frees
//  the array), or NULL if out of memory.
static const char **s_names (zlistx_t *list)
{
    const char **names = calloc (zlistx_size (list) + 1, sizeof (char *));
    size_t index = 0;
    for (char *name = names ? zlistx_first (list) : NULL; name; name = zlistx_next (list))
        names[index++] = name;
    return names;
}

//  --------------------------------------------------------------------------
//  Canary analysis (ctl_rules): each deploy baking judges its own canary
//  hosts with every rule of its environment that reads the agents'
//  samples; the state of each rule for each plan is kept in canary_states,
//  and the plan is advanced at once so that its verdict acts.

//  One rule's canary reading of `plan` at `now`, stored; `previous` its
//  state so far (NULL: ok since the bake began).
static void s_canary_rule (ctl_alerts_t *self, const ctl_plan_t *plan, const ctl_rule_t *rule,
                           const ctl_canary_state_t *previous, const char *const *canaries,
                           size_t canary_count, int64_t now)
{
    //  samples from before the bake are the previous release's
    int64_t since = now - rule->window_ms;
    since = since > plan->phase_started ? since : plan->phase_started;
    ctl_plan_value_t *values = NULL;
    size_t count = 0;
    if (ctl_metrics_repo_plan_values (self->store, plan->id, rule->metric, since, &values, &count))
        return;  //  logged by the store; the bake waits for a judgment
    ctl_canary_sample_t *samples = calloc (count + 1, sizeof (ctl_canary_sample_t));
    for (size_t index = 0; samples && index < count; index++)
        samples[index] = (ctl_canary_sample_t){.value = values[index].value,
                                               .host = values[index].host,
                                               .name = values[index].name,
                                               .canary = values[index].canary};
    if (samples) {
        ctl_canary_reading_t reading;
        ctl_rule_canary_reading (rule, samples, count, canaries, canary_count, now - since,
                                 &reading);
        int parsed = previous ? ctl_rule_state_parse (previous->state) : CTL_RULE_OK;
        ctl_rule_state_t from = parsed < 0 ? CTL_RULE_OK : (ctl_rule_state_t)parsed;
        int64_t state_since = previous ? previous->since : plan->phase_started;
        ctl_rule_state_t to =
            ctl_rule_next (from, &state_since, reading.cond, now, (uint32_t)rule->for_ms);
        ctl_canary_state_t row = {.plan_id = plan->id,
                                  .rule_id = (char *)rule->id,
                                  .state = (char *)ctl_rule_state_name (to),
                                  .since = state_since,
                                  .has_value = isfinite (reading.value),
                                  .value = reading.value,
                                  .has_baseline = isfinite (reading.baseline),
                                  .baseline = reading.baseline,
                                  .samples = reading.samples,
                                  .hosts = reading.hosts,
                                  .host = reading.host[0] ? reading.host : NULL,
                                  .detail = reading.detail,
                                  .evaluated = now};
        if (ctl_alerts_repo_canary_put (self->store, &row) == 0 && to != from) {
            jad_log_info ("alerts: canary plan=%s rule=%s %s -> %s: %s", plan->id, rule->id,
                          ctl_rule_state_name (from), ctl_rule_state_name (to), reading.detail);
            json_t *fields = json_pack (
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "rule", rule->id, "env", rule->env,
                "metric", rule->metric, "plan", plan->id, "scope", "canary", "from",
                ctl_rule_state_name (from), "to", ctl_rule_state_name (to), "value",
                s_number_or_null (reading.value), "baseline", s_number_or_null (reading.baseline));
            if (fields) {
                json_object_set_new (fields, "detail", json_string (reading.detail));
                char kind[32];
                snprintf (kind, sizeof kind, "alert.%s", ctl_rule_state_name (to));
                ctl_notify_send (self->notify, kind, fields);
            }
            json_decref (fields);
        }
    }
    free (samples);
    for (size_t index = 0; index < count; index++)
        free (values[index].name);
    free (values);
}

static void s_evaluate_canaries (ctl_alerts_t *self, int64_t now)
{
    zlistx_t *running = ctl_plans_repo_running (self->store);
    zlistx_t *rules = NULL;
    for (ctl_plan_t *plan = running ? zlistx_first (running) : NULL; plan;
         plan = zlistx_next (running)) {
        if (!jad_text_is (plan->kind, "deploy") || !jad_text_is (plan->phase, "bake"))
            continue;
        if (!rules && !(rules = ctl_alerts_repo_rules (self->store, false)))
            break;
        zlistx_t *names = ctl_plans_repo_host_names (self->store, plan->id, 0, CTL_HOSTS_HEALTHY);
        zlistx_t *states = ctl_alerts_repo_canary_states (self->store, plan->id);
        const char **canaries = names ? s_names (names) : NULL;
        for (ctl_alert_rule_t *row = canaries && states ? zlistx_first (rules) : NULL; row;
             row = zlistx_next (rules)) {
            ctl_rule_t rule = ctl_rule_rows_rule (row);
            if (!jad_text_is (rule.env, plan->env) || !rule.metric || !rule.aggregate ||
                ctl_rule_canary_scope (&rule) == CTL_CANARY_OFF)
                continue;
            ctl_canary_state_t *previous = zlistx_first (states);
            while (previous && !jad_text_is (previous->rule_id, rule.id))
                previous = zlistx_next (states);
            s_canary_rule (self, plan, &rule, previous, canaries, zlistx_size (names), now);
        }
        free (canaries);
        zlistx_destroy (&names);
        zlistx_destroy (&states);
        ctl_rollout_advance (self->rollout, plan->id);
    }
    zlistx_destroy (&rules);
    zlistx_destroy (&running);
}

//  Notify about plans that started or finished since the last look.
static void s_plan_events (ctl_alerts_t *self, int64_t since, int64_t until)
{
    zlistx_t *plans = ctl_plans_repo_changed (self->store, since, until);
    for (ctl_plan_t *plan = plans ? zlistx_first (plans) : NULL; plan; plan = zlistx_next (plans)) {
        bool rollback = streq (plan->kind, "rollback");
        json_t *fields =
            json_pack ("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "plan", plan->id,
                       "app", plan->app, "version", plan->version, "env", plan->env, "kind",
                       plan->kind, "state", plan->state, "reason", plan->reason, "undoes",
                       plan->undoes, "deployer", plan->deployer);
        bool created = plan->created >= since && plan->created < until;
        bool finished = plan->finished >= since && plan->finished < until;
        if (created && !rollback)
            ctl_notify_send (self->notify, "deploy.started", fields);
        if (finished)
            ctl_notify_send (self->notify, rollback ? "rollback.finished" : "deploy.finished",
                             fields);
        json_decref (fields);
    }
    zlistx_destroy (&plans);
}

void ctl_alerts_tick (ctl_alerts_t *self)
{
    const jad_controller_config_t *config = ctl_settings_config (self->settings);
    int64_t mono = jad_mono_ms ();
    int64_t now = jad_now_ms ();
    if (self->plans_seen == 0)
        self->plans_seen = self->started_ms;
    s_plan_events (self, self->plans_seen, now);
    self->plans_seen = now;
    ctl_security_tick (self->security, now);
    if (mono >= self->next_eval) {
        s_evaluate_rules (self, now);
        s_evaluate_canaries (self, now);
        self->next_eval = mono + S_EVAL_MS;
    }
    if (mono >= self->next_maintain) {
        //  one bounded slice per tick while work is left, so the loop never stalls
        int more = ctl_metrics_repo_maintain (self->metrics, now, config->metrics_retention_ms,
                                              config->rollup_retention_ms);
        //  retention: audit and plans, a slice each (absent: kept forever)
        if (config->audit_retention_ms &&
            ctl_retention_repo_audit (self->store, now - (int64_t)config->audit_retention_ms, now,
                                      NULL) == 1)
            more = 1;
        if (config->plans_retention_ms &&
            ctl_retention_repo_plans (self->store, now - (int64_t)config->plans_retention_ms, now,
                                      NULL) == 1)
            more = 1;
        self->next_maintain = more == 1 ? mono : mono + S_MAINTAIN_MS;
    }
}

void ctl_alerts_set_security (ctl_alerts_t *self, ctl_security_t *security)
{
    self->security = security;
}

zactor_t *ctl_alerts_socket (ctl_alerts_t *self)
{
    return self->worker;
}

void ctl_alerts_receive (ctl_alerts_t *self)
{
    char *command = NULL, *id = NULL, *status = NULL, *answer = NULL;
    if (zsock_recv (self->worker, "ssss", &command, &id, &status, &answer) != 0)
        return;
    if (command && streq (command, "RESULT") && id && status && answer) {
        zhashx_delete (self->in_flight, id);
        //  the rule as it is now (it may have gone or moved meanwhile)
        ctl_alert_rule_t *row = NULL;
        ctl_alerts_repo_get (self->store, id, &row);
        s_rule_t rule;
        s_rule_take (&row, &rule);
        if (s_rule_usable (&rule) && rule.rule.query) {
            int64_t now = jad_now_ms ();
            ctl_reading_t reading;
            ctl_rule_reading_answer (&rule.rule, streq (status, "ok"), answer, now, &reading);
            s_rule_apply (self, &rule.rule, &reading, now);
        }
        s_rule_clear (&rule);
    }
    zstr_free (&command);
    zstr_free (&id);
    zstr_free (&status);
    zstr_free (&answer);
}

size_t ctl_alerts_queries_in_flight (ctl_alerts_t *self)
{
    return zhashx_size (self->in_flight);
}

void ctl_alerts_destroy (ctl_alerts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_alerts_t *self = *self_p;
    //  a query in progress gives up at curl's next progress call
    atomic_store (&self->shared.stopping, true);
    zactor_destroy (&self->worker);
    zhashx_destroy (&self->in_flight);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  API

int ctl_alerts_api_list (ctl_alerts_t *self, const jad_api_request_t *request, json_t **result,
                         char *err, size_t errlen)
{
    (void)request, (void)err, (void)errlen;
    json_t *rules = ctl_json_rules (self->store);
    json_t *events = json_array ();
    zlistx_t *rows = ctl_alerts_repo_events (self->store, 50);
    for (ctl_alert_event_t *event = rows ? zlistx_first (rows) : NULL; event;
         event = zlistx_next (rows))
        json_array_append_new (
            events,
            json_pack ("{s:I, s:s, s:o, s:s, s:s, s:o, s:I, s:I}", "id", (json_int_t)event->id,
                       "rule", event->rule_id, "time", s_iso (event->time), "from",
                       event->from_state, "to", event->to_state, "value",
                       event->has_value ? json_real (event->value) : json_null (), "samples",
                       (json_int_t)event->samples, "hosts", (json_int_t)event->hosts));
    zlistx_destroy (&rows);
    *result = json_pack ("{s:o, s:o}", "alerts", rules, "events", events);
    return 0;
}

//  The canary analysis arguments of alert.add, checked as controller.yaml's
//  alert keys are (jad_config.c s_alert_check), into `alert`. Returns 0, or
//  -1 with err set.
static int s_canary_args (const char *canary, const char *compare, const char *ratio,
                          const char *difference, const char *query, jad_alert_config_t *alert,
                          char *err, size_t errlen)
{
    if (query && (canary || compare || ratio || difference)) {
        snprintf (err, errlen, "--%s judges canary hosts by the agents' samples: not with --query",
                  canary ? "canary" : (compare ? "compare" : (ratio ? "ratio" : "difference")));
        return -1;
    }
    if (canary && !streq (canary, "host") && !streq (canary, "aggregate") &&
        !streq (canary, "off")) {
        snprintf (err, errlen, "--canary must be host, aggregate or off (got '%s')", canary);
        return -1;
    }
    if (compare && !streq (compare, "baseline")) {
        snprintf (err, errlen, "--compare must be baseline (got '%s')", compare);
        return -1;
    }
    if (compare && (ratio != NULL) == (difference != NULL)) {
        snprintf (err, errlen,
                  "--compare baseline needs exactly one of --ratio X or --difference X");
        return -1;
    }
    if (!compare && (ratio || difference)) {
        snprintf (err, errlen, "--%s needs --compare baseline", ratio ? "ratio" : "difference");
        return -1;
    }
    if (compare && canary && streq (canary, "off")) {
        snprintf (err, errlen, "--compare needs canary analysis: not with --canary off");
        return -1;
    }
    const char *text = ratio ? ratio : difference;
    if (text) {
        char *end = NULL;
        double value = strtod (text, &end);
        if (!end || *end || end == text || !isfinite (value) || (ratio && !(value > 0)) ||
            (difference && value < 0)) {
            snprintf (err, errlen, "--%s '%s' is not a number %s", ratio ? "ratio" : "difference",
                      text, ratio ? "above 0" : "of 0 or more");
            return -1;
        }
        if (ratio)
            alert->ratio = value;
        else {
            alert->difference = value;
            alert->has_difference = true;
        }
    }
    alert->canary = (char *)canary;
    alert->compare = (char *)compare;
    return 0;
}

int ctl_alerts_api_add (ctl_alerts_t *self, const jad_api_request_t *request, json_t **result,
                        char *err, size_t errlen)
{
    const char *env = jad_api_request_arg (request, "env");
    const char *metric = jad_api_request_arg (request, "metric");
    const char *above = jad_api_request_arg (request, "above");
    const char *below = jad_api_request_arg (request, "below");
    const char *duration = jad_api_request_arg (request, "for");
    const char *aggregate = jad_api_request_arg (request, "aggregate");
    const char *window = jad_api_request_arg (request, "window");
    const char *min_samples = jad_api_request_arg (request, "min-samples");
    const char *action = jad_api_request_arg (request, "action");
    const char *query = jad_api_request_arg (request, "query");
    const char *canary = jad_api_request_arg (request, "canary");
    const char *compare = jad_api_request_arg (request, "compare");
    const char *ratio = jad_api_request_arg (request, "ratio");
    const char *difference = jad_api_request_arg (request, "difference");
    jad_alert_config_t alert = {0};
    char *end = NULL;
    if (!metric || !jad_series_valid (metric)) {
        snprintf (err, errlen, "--metric must be a metric name (got '%s')", metric ? metric : "");
        return 2;
    }
    //  the controller's own series (as in controller.yaml): no environment,
    //  nothing to roll back, no canary, one sample a second
    bool series = jad_controller_series_valid (metric);
    if (!series && strncmp (metric, "jadugar_security_", 17) == 0) {
        snprintf (err, errlen,
                  "--metric '%s' is not a controller series (known: " JAD_SECURITY_SERIES ")",
                  metric);
        return 2;
    }
    if (series && (env || action || query || canary || compare || ratio || difference)) {
        snprintf (err, errlen,
                  "--metric '%s' is the controller's own series: a rule on it takes no --env, "
                  "--action, --query, --canary or --compare",
                  metric);
        return 2;
    }
    if (!series &&
        (!env || !jad_controller_config_env (ctl_settings_config (self->settings), env))) {
        snprintf (err, errlen, "--env must name an environment of controller.yaml (got '%s')",
                  env ? env : "");
        return 2;
    }
    if (s_canary_args (canary, compare, ratio, difference, query, &alert, err, errlen) != 0)
        return 2;
    if ((above != NULL) == (below != NULL)) {
        snprintf (err, errlen, "give exactly one of --above X or --below X");
        return 2;
    }
    alert.threshold = strtod (above ? above : below, &end);
    if (!end || *end || end == (above ? above : below) || !isfinite (alert.threshold)) {
        snprintf (err, errlen, "--%s '%s' is not a number", above ? "above" : "below",
                  above ? above : below);
        return 2;
    }
    alert.above = above != NULL;
    if (!duration || jad_duration_parse (duration, &alert.for_ms)) {
        snprintf (err, errlen, "--for must be a duration like 30s or 5m (got '%s')",
                  duration ? duration : "");
        return 2;
    }
    alert.window_ms = alert.for_ms > 60000 ? alert.for_ms : 60000;
    if (window && (jad_duration_parse (window, &alert.window_ms) || alert.window_ms == 0)) {
        snprintf (err, errlen, "--window must be a duration like 1m (got '%s')", window);
        return 2;
    }
    if (aggregate && !streq (aggregate, "avg") && !streq (aggregate, "max") &&
        !streq (aggregate, "sum") && !streq (aggregate, "p95")) {
        snprintf (err, errlen, "--aggregate must be avg, max, sum or p95 (got '%s')", aggregate);
        return 2;
    }
    alert.min_samples = query || series ? 1 : 3;
    if (min_samples) {
        long value = strtol (min_samples, &end, 10);
        if (*end || value < 1 || value > 1000000) {
            snprintf (err, errlen, "--min-samples must be 1..1000000 (got '%s')", min_samples);
            return 2;
        }
        alert.min_samples = (uint32_t)value;
    }
    if (action && !streq (action, "rollback")) {
        snprintf (err, errlen, "--action must be rollback (or left out), got '%s'", action);
        return 2;
    }
    if (query && (!ctl_settings_config (self->settings)->prometheus || strlen (query) > 1024)) {
        snprintf (err, errlen,
                  "--query needs 'prometheus: URL' in controller.yaml and at most "
                  "1024 bytes");
        return 2;
    }
    alert.env = (char *)env;  //  NULL for a controller series: stored as ""
    alert.metric = (char *)metric;
    alert.aggregate = (char *)(aggregate ? aggregate : "avg");
    alert.action = (char *)action;
    alert.query = (char *)query;
    char random[16], id[24];
    jad_random_id (4, random);
    snprintf (id, sizeof id, "a%s", random);
    ctl_alert_rule_t row = s_rule_row (id, "api", &alert);
    if (ctl_alerts_repo_add (self->store, &row, jad_now_ms ()) != 0) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    jad_log_info ("alerts: rule added id=%s env=%s metric=%s", id, env ? env : "-", metric);
    *result = json_pack ("{s:s}", "id", id);
    return 0;
}

int ctl_alerts_api_rm (ctl_alerts_t *self, const jad_api_request_t *request, json_t **result,
                       char *err, size_t errlen)
{
    const char *id = jad_api_request_arg (request, "id");
    ctl_alert_rule_t *rule = NULL;
    if (!id || ctl_alerts_repo_get (self->store, id, &rule) != 0) {
        snprintf (err, errlen, "no alert rule '%s' (see: jadctl alerts)", id ? id : "");
        return 2;
    }
    bool config = streq (rule->origin, "config");
    ctl_alert_rule_destroy (&rule);
    if (config) {
        snprintf (err, errlen, "alert rule '%s' comes from controller.yaml: remove it there", id);
        return 2;
    }
    if (ctl_alerts_repo_remove (self->store, id) != 0) {
        snprintf (err, errlen, "database error");
        return 1;
    }
    *result = json_pack ("{s:s}", "removed", id);
    return 0;
}
