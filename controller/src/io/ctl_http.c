//  ctl_http - HTTP on BASE+3: status page, /api/status, /metrics
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_http.h"
#include "ctl_agents_repo.h"
#include "ctl_alerts_repo.h"
#include "ctl_plans_repo.h"
#include "ctl_metrics_repo.h"
#include "ctl_notify.h"
#include "ctl_json.h"
#include "jad_log.h"
#include "jad_util.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Connections: at most S_HTTP_CONNECTIONS at once and S_HTTP_PER_IP from
//  one address (a slowloris from one host cannot hold them all); one idle
//  for S_HTTP_IDLE_S seconds (headers not finished, or between requests)
//  is closed.
#define S_HTTP_CONNECTIONS 256
#define S_HTTP_PER_IP      16
#define S_HTTP_IDLE_S      10

struct _ctl_http_t {
    struct MHD_Daemon *daemon;
    ctl_store_t *store;    //  read-only, used by the HTTP thread only
    pthread_mutex_t lock;  //  guards what follows
    //  what the pages need of the configuration, copied (the loop's is
    //  replaced by a reload while this thread serves)
    uint32_t heartbeat_ms;
    char **env_names;
    size_t env_count;
    char **hosts;  //  Host names we answer to (lower case): http-hosts, hostname
    size_t host_count;
    uint64_t host_refused;    //  requests refused for their Host header
    int64_t host_logged_ms;   //  mono ms of the last line about one
    uint64_t host_logged_at;  //  host_refused then
    uint64_t counters[CTL_COUNT_MAX];
    uint64_t samples;
    uint64_t batches;
    uint64_t rejected;
    uint64_t duplicates;
    uint64_t gaps;
    uint64_t notify[6];  //  queued, delivered, failed, dropped, emails sent, emails failed
    int64_t started_ms;
};

//  The status page: one self-contained document. The first render uses
//  the data embedded by the server (so it shows the fleet even before the
//  first refresh), then it polls /api/status.
static const char s_page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>Jadugar fleet status</title>"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<style>"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}"
    "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}"
    "table{border-collapse:collapse;background:#fff;min-width:40%}"
    "th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}"
    "th{background:#eee}.ok,.healthy,.online,.succeeded{color:#176b21}"
    ".failed,.firing,.offline,.rolled-back{color:#b00020;font-weight:bold}"
    ".pending,.running,.applying,.inconclusive{color:#a05a00}#updated{color:#777}"
    ".empty{color:#777;font-style:italic}"
    "</style></head><body>\n"
    "<h1>Jadugar fleet</h1><div id=\"updated\"></div>\n"
    "<section id=\"alerts\"><h2>Firing alerts</h2><div id=\"firing\"></div></section>\n"
    "<section><h2>Environments</h2><div id=\"environments\"></div></section>\n"
    "<section><h2>Hosts</h2><div id=\"hosts\"></div></section>\n"
    "<section><h2>Running plans</h2><div id=\"running\"></div></section>\n"
    "<section><h2>Recent deploys</h2><div id=\"recent\"></div></section>\n"
    "<section><h2>Alert rules</h2><div id=\"rules\"></div></section>\n"
    "<script id=\"initial\" type=\"application/json\">";

static const char s_page_tail[] =
    "</script>\n<script>\n"
    "'use strict';\n"
    "function el(tag, cls, text) { const e = document.createElement(tag);"
    " if (cls) e.className = cls; if (text !== undefined && text !== null) e.textContent = "
    "String(text);"
    " return e; }\n"
    "function table(id, head, rows, empty) {\n"
    "  const box = document.getElementById(id); box.textContent = '';\n"
    "  if (!rows.length) { box.appendChild(el('p', 'empty', empty)); return; }\n"
    "  const t = el('table'); const tr = el('tr');\n"
    "  head.forEach(h => tr.appendChild(el('th', null, h))); t.appendChild(tr);\n"
    "  rows.forEach(r => { const row = el('tr'); r.forEach(c => {\n"
    "    const cell = (c && typeof c === 'object') ? el('td', c.cls, c.text) : el('td', null, c);\n"
    "    row.appendChild(cell); }); t.appendChild(row); });\n"
    "  box.appendChild(t);\n}\n"
    "function st(s) { return {cls: String(s || ''), text: s}; }\n"
    "function render(d) {\n"
    "  document.getElementById('updated').textContent = 'controller ' + d.controller.version +"
    " ' \\u2014 updated ' + d.generated;\n"
    "  table('firing', ['rule', 'env', 'metric', 'value', 'threshold', 'since'],\n"
    "    d.alerts.filter(a => a.state === 'firing').map(a => [a.id, a.env, a.metric, a.value,"
    " a.comparison + ' ' + a.threshold, a.since]), 'none');\n"
    "  table('environments', ['environment', 'hosts', 'online', 'versions'],\n"
    "    d.environments.map(e => [e.name, e.hosts, e.online, Object.entries(e.versions)"
    ".map(([k, v]) => k + ' (' + v + ')').join(', ')]), 'none');\n"
    "  table('hosts', ['host', 'env', 'state', 'app', 'version', 'health', 'last seen'],\n"
    "    d.agents.flatMap(a => { const apps = Object.entries(a.apps);\n"
    "      if (!apps.length) return [[a.name, a.env, st(a.state), '-', '-', '-', a.last_seen]];\n"
    "      return apps.map(([n, x]) => [a.name, a.env, st(a.state), n, x.version, st(x.health),"
    " a.last_seen]); }), 'no agents yet');\n"
    "  const planRow = p => [p.id, p.kind, p.app + ' ' + p.version, p.env, st(p.state),"
    " p.created, p.reason];\n"
    "  table('running', ['plan', 'kind', 'release', 'env', 'state', 'created', 'reason'],\n"
    "    d.running.map(planRow), 'none');\n"
    "  table('recent', ['plan', 'kind', 'release', 'env', 'state', 'created', 'reason'],\n"
    "    d.recent.map(planRow), 'none');\n"
    "  table('rules', ['rule', 'env', 'checks', 'state', 'value', 'samples', 'action'],\n"
    "    d.alerts.map(a => [a.id, a.env, (a.query ? 'prometheus(' + a.query + ')' :"
    " a.aggregate + '(' + a.metric + ')') + ' ' + a.comparison + ' ' + a.threshold,"
    " st(a.state), a.value, a.samples, a.action || 'notify']), 'no rules');\n"
    "}\n"
    "render(JSON.parse(document.getElementById('initial').textContent));\n"
    "setInterval(() => fetch('/api/status').then(r => r.json()).then(render)"
    ".catch(() => {}), 5000);\n"
    "</script></body></html>\n";

static json_t *s_plans_json (ctl_http_t *self, bool running)
{
    json_t *plans = json_array ();
    zlistx_t *rows = ctl_plans_repo_recent (self->store, running, running ? 50 : 15);
    for (ctl_plan_t *plan = rows ? zlistx_first (rows) : NULL; plan; plan = zlistx_next (rows))
        json_array_append_new (
            plans,
            json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id", plan->id, "kind",
                       plan->kind, "app", plan->app, "version", plan->version, "env", plan->env,
                       "state", plan->state, "created", ctl_json_time (plan->created, true),
                       "finished", ctl_json_time (plan->finished, plan->finished != 0), "reason",
                       ctl_json_text (plan->reason), "undoes", ctl_json_text (plan->undoes)));
    zlistx_destroy (&rows);
    return plans;
}

//  Online window (ms) of the configuration, under the lock.
static int64_t s_online_window (ctl_http_t *self)
{
    pthread_mutex_lock (&self->lock);
    int64_t window = 3 * (int64_t)self->heartbeat_ms + 1000;
    pthread_mutex_unlock (&self->lock);
    return window;
}

static json_t *s_status_json (ctl_http_t *self)
{
    int64_t now = jad_now_ms ();
    int64_t window = s_online_window (self);
    json_t *agents = json_array ();
    json_t *environments = json_object ();
    pthread_mutex_lock (&self->lock);
    for (size_t index = 0; index < self->env_count; index++)
        json_object_set_new (environments, self->env_names[index],
                             json_pack ("{s:s, s:i, s:i, s:{}}", "name", self->env_names[index],
                                        "hosts", 0, "online", 0, "versions"));
    pthread_mutex_unlock (&self->lock);
    zlistx_t *fleet = ctl_agents_repo_fleet (self->store, NULL, NULL);
    for (ctl_agent_t *agent = fleet ? zlistx_first (fleet) : NULL; agent;
         agent = zlistx_next (fleet)) {
        json_t *env_json = json_object_get (environments, agent->env);
        if (!env_json) {
            env_json = json_pack ("{s:s, s:i, s:i, s:{}}", "name", agent->env, "hosts", 0, "online",
                                  0, "versions");
            json_object_set_new (environments, agent->env, env_json);
        }
        bool online = agent->last_seen > 0 && now - agent->last_seen <= window;
        const char *shown =
            streq (agent->state, "accepted") ? (online ? "online" : "offline") : agent->state;
        char seen[32];
        json_t *current = json_pack (
            "{s:s, s:s, s:s, s:o, s:{}}", "name", agent->name, "env", agent->env, "state", shown,
            "last_seen",
            agent->last_seen ? json_string (jad_iso_time (agent->last_seen, seen, sizeof seen))
                             : json_null (),
            "apps");
        json_array_append_new (agents, current);
        json_object_set_new (
            env_json, "hosts",
            json_integer (json_integer_value (json_object_get (env_json, "hosts")) + 1));
        if (streq (shown, "online"))
            json_object_set_new (
                env_json, "online",
                json_integer (json_integer_value (json_object_get (env_json, "online")) + 1));
        for (ctl_agent_app_t *entry = zlistx_first (agent->apps); entry;
             entry = zlistx_next (agent->apps)) {
            json_object_set_new (
                json_object_get (current, "apps"), entry->app,
                json_pack ("{s:o, s:o}", "version",
                           entry->version ? json_string (entry->version) : json_null (), "health",
                           entry->health ? json_string (entry->health) : json_null ()));
            char key[160];
            snprintf (key, sizeof key, "%s %s", entry->app, entry->version ? entry->version : "-");
            json_t *versions = json_object_get (env_json, "versions");
            json_object_set_new (
                versions, key,
                json_integer (json_integer_value (json_object_get (versions, key)) + 1));
        }
    }
    zlistx_destroy (&fleet);
    json_t *env_list = json_array ();
    const char *key;
    json_t *value;
    json_object_foreach (environments, key, value) json_array_append (env_list, value);
    json_decref (environments);
    json_t *counters = json_object ();
    char started[32], generated[32];
    pthread_mutex_lock (&self->lock);
    for (int index = 0; index < CTL_COUNT_MAX; index++)
        json_object_set_new (counters, ctl_counter_name ((ctl_counter_t)index),
                             json_integer ((json_int_t)self->counters[index]));
    json_object_set_new (counters, "metric_samples", json_integer ((json_int_t)self->samples));
    int64_t started_ms = self->started_ms;
    pthread_mutex_unlock (&self->lock);
    return json_pack (
        "{s:s, s:{s:s, s:s, s:o}, s:o, s:o, s:o, s:o, s:o}", "generated",
        jad_iso_time (now, generated, sizeof generated), "controller", "version", JADUGAR_VERSION,
        "started", jad_iso_time (started_ms, started, sizeof started), "counters", counters,
        "environments", env_list, "agents", agents, "running", s_plans_json (self, true), "recent",
        s_plans_json (self, false), "alerts", ctl_json_rules (self->store));
}

//  Label value escaped for the text format.
static void s_label (FILE *out, const char *text)
{
    for (const char *cursor = text ? text : ""; *cursor; cursor++) {
        if (*cursor == '\\' || *cursor == '"')
            fputc ('\\', out);
        if (*cursor == '\n')
            fputs ("\\n", out);
        else
            fputc (*cursor, out);
    }
}

static void s_family (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static char *s_metrics_text (ctl_http_t *self)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return NULL;
    uint64_t counters[CTL_COUNT_MAX], notify[6], samples, batches, rejected, duplicates, gaps;
    int64_t started_ms;
    pthread_mutex_lock (&self->lock);
    memcpy (counters, self->counters, sizeof counters);
    memcpy (notify, self->notify, sizeof notify);
    samples = self->samples;
    batches = self->batches;
    rejected = self->rejected;
    duplicates = self->duplicates;
    gaps = self->gaps;
    started_ms = self->started_ms;
    pthread_mutex_unlock (&self->lock);
    s_family (out, "jadugar_controller_start_time_seconds", "gauge",
              "Unix time the controller started.");
    fprintf (out, "jadugar_controller_start_time_seconds %.3f\n", (double)started_ms / 1000.0);
    s_family (out, "jadugar_controller_events_total", "counter",
              "Controller events by kind (plans sent, acks, reports, refusals...).");
    for (int index = 0; index < CTL_COUNT_MAX; index++)
        fprintf (out, "jadugar_controller_events_total{event=\"%s\"} %llu\n",
                 ctl_counter_name ((ctl_counter_t)index), (unsigned long long)counters[index]);
    s_family (out, "jadugar_metric_samples_total", "counter", "Metric samples stored.");
    fprintf (out, "jadugar_metric_samples_total %llu\n", (unsigned long long)samples);
    s_family (out, "jadugar_metric_batches_total", "counter",
              "Metric batches received, by outcome.");
    fprintf (out, "jadugar_metric_batches_total{outcome=\"stored\"} %llu\n",
             (unsigned long long)batches);
    fprintf (out, "jadugar_metric_batches_total{outcome=\"rejected\"} %llu\n",
             (unsigned long long)rejected);
    //  acknowledged streams: a batch sent again, or one ahead of a lost one
    fprintf (out, "jadugar_metric_batches_total{outcome=\"duplicate\"} %llu\n",
             (unsigned long long)duplicates);
    fprintf (out, "jadugar_metric_batches_total{outcome=\"gap\"} %llu\n", (unsigned long long)gaps);
    s_family (out, "jadugar_notifications_total", "counter", "Notifications by outcome.");
    static const char *const outcomes[] = {"queued", "delivered", "failed", "dropped"};
    for (int index = 0; index < 4; index++)
        fprintf (out, "jadugar_notifications_total{outcome=\"%s\"} %llu\n", outcomes[index],
                 (unsigned long long)notify[index]);
    s_family (out, "jadugar_notification_emails_total", "counter",
              "Notification emails by outcome (failed: given up after retries).");
    fprintf (out, "jadugar_notification_emails_total{outcome=\"sent\"} %llu\n",
             (unsigned long long)notify[4]);
    fprintf (out, "jadugar_notification_emails_total{outcome=\"failed\"} %llu\n",
             (unsigned long long)notify[5]);

    s_family (out, "jadugar_agent_samples_dropped_total", "counter",
              "Samples an agent dropped from its full buffer (as it last reported).");
    zlistx_t *tallies = ctl_metrics_repo_dropped (self->store);
    for (ctl_tally_t *tally = tallies ? zlistx_first (tallies) : NULL; tally;
         tally = zlistx_next (tallies)) {
        fputs ("jadugar_agent_samples_dropped_total{agent=\"", out);
        s_label (out, tally->labels[0]);
        fprintf (out, "\"} %lld\n", (long long)tally->count);
    }
    zlistx_destroy (&tallies);

    int64_t window = s_online_window (self);
    s_family (out, "jadugar_agents", "gauge", "Agents by environment and state.");
    tallies = ctl_agents_repo_state_tally (self->store, jad_now_ms () - window);
    for (ctl_tally_t *tally = tallies ? zlistx_first (tallies) : NULL; tally;
         tally = zlistx_next (tallies)) {
        fputs ("jadugar_agents{env=\"", out);
        s_label (out, tally->labels[0]);
        fputs ("\",state=\"", out);
        s_label (out, tally->labels[1]);
        fprintf (out, "\"} %lld\n", (long long)tally->count);
    }
    zlistx_destroy (&tallies);
    s_family (out, "jadugar_app_hosts", "gauge", "Hosts by environment, app, version and health.");
    tallies = ctl_agents_repo_app_tally (self->store);
    for (ctl_tally_t *tally = tallies ? zlistx_first (tallies) : NULL; tally;
         tally = zlistx_next (tallies)) {
        fputs ("jadugar_app_hosts{env=\"", out);
        s_label (out, tally->labels[0]);
        fputs ("\",app=\"", out);
        s_label (out, tally->labels[1]);
        fputs ("\",version=\"", out);
        s_label (out, tally->labels[2]);
        fputs ("\",health=\"", out);
        s_label (out, tally->labels[3]);
        fprintf (out, "\"} %lld\n", (long long)tally->count);
    }
    zlistx_destroy (&tallies);
    s_family (out, "jadugar_plans", "gauge", "Plans by kind and state.");
    tallies = ctl_plans_repo_tally (self->store);
    for (ctl_tally_t *tally = tallies ? zlistx_first (tallies) : NULL; tally;
         tally = zlistx_next (tallies)) {
        fputs ("jadugar_plans{kind=\"", out);
        s_label (out, tally->labels[0]);
        fputs ("\",state=\"", out);
        s_label (out, tally->labels[1]);
        fprintf (out, "\"} %lld\n", (long long)tally->count);
    }
    zlistx_destroy (&tallies);
    s_family (out, "jadugar_alert_state", "gauge",
              "1 for the state each alert rule is in (ok, pending, firing, resolved, "
              "inconclusive).");
    zlistx_t *rules = ctl_alerts_repo_rules (self->store, false);
    static const char *const states[] = {"ok", "pending", "firing", "resolved", "inconclusive"};
    for (ctl_alert_rule_t *rule = rules ? zlistx_first (rules) : NULL; rule;
         rule = zlistx_next (rules))
        for (int index = 0; index < 5; index++) {
            fputs ("jadugar_alert_state{rule=\"", out);
            s_label (out, rule->id);
            fputs ("\",env=\"", out);
            s_label (out, rule->env);
            fputs ("\",metric=\"", out);
            s_label (out, rule->metric);
            fprintf (out, "\",state=\"%s\"} %d\n", states[index],
                     streq (rule->state, states[index]));
        }
    s_family (out, "jadugar_alert_value", "gauge", "Last value each alert rule computed.");
    for (ctl_alert_rule_t *rule = rules ? zlistx_first (rules) : NULL; rule;
         rule = zlistx_next (rules)) {
        if (!rule->has_value)
            continue;
        fputs ("jadugar_alert_value{rule=\"", out);
        s_label (out, rule->id);
        fputs ("\",env=\"", out);
        s_label (out, rule->env);
        fputs ("\",metric=\"", out);
        s_label (out, rule->metric);
        fprintf (out, "\"} %.17g\n", rule->value);
    }
    zlistx_destroy (&rules);
    fclose (out);
    return text;
}

//  JSON text made safe to embed in a <script> element: '<', '>' and '&'
//  (only ever inside strings in JSON) become \u003c, \u003e, \u0026, so no
//  value can end the element ("</script>") or switch the parser into a
//  comment state ("<!--<script>"). Frees json; caller frees the result.
static char *s_json_for_html (char *json)
{
    if (!json)
        return NULL;
    size_t extra = 0;
    for (const char *cursor = json; *cursor; cursor++)
        if (*cursor == '<' || *cursor == '>' || *cursor == '&')
            extra += 5;
    char *safe = malloc (strlen (json) + extra + 1);
    char *out = safe;
    for (const char *cursor = json; safe && *cursor; cursor++) {
        if (*cursor == '<' || *cursor == '>' || *cursor == '&')
            out += sprintf (out, "\\u%04x", (unsigned)*cursor);
        else
            *out++ = *cursor;
    }
    if (out)
        *out = 0;
    free (json);
    return safe;
}

//  True if a request naming Host `host` may be answered: no Host at all
//  (HTTP/1.0, never a browser), an IP literal (a DNS rebinding attack
//  names the attacker's domain), localhost, or a configured name. The
//  port is ignored.
static bool s_host_allowed (ctl_http_t *self, const char *host)
{
    if (!host)
        return true;
    char name[256];
    size_t length = strlen (host);
    if (length == 0 || length >= sizeof name)
        return false;
    if (host[0] == '[') {
        //  [v6]:port
        const char *end = strchr (host, ']');
        if (!end || (end[1] && end[1] != ':'))
            return false;
        snprintf (name, sizeof name, "%.*s", (int)(end - host - 1), host + 1);
        struct in6_addr address6;
        return inet_pton (AF_INET6, name, &address6) == 1;
    }
    snprintf (name, sizeof name, "%s", host);
    char *colon = strchr (name, ':');
    if (colon) {
        if (strchr (colon + 1, ':'))
            return false;
        *colon = 0;
    }
    size_t name_len = strlen (name);
    if (name_len && name[name_len - 1] == '.')
        name[--name_len] = 0;
    struct in_addr address4;
    if (inet_pton (AF_INET, name, &address4) == 1)
        return true;
    for (char *cursor = name; *cursor; cursor++)
        if (*cursor >= 'A' && *cursor <= 'Z')
            *cursor = (char)(*cursor - 'A' + 'a');
    if (streq (name, "localhost"))
        return true;
    bool allowed = false;
    pthread_mutex_lock (&self->lock);
    for (size_t index = 0; index < self->host_count && !allowed; index++)
        allowed = streq (name, self->hosts[index]);
    pthread_mutex_unlock (&self->lock);
    return allowed;
}

static enum MHD_Result s_respond (struct MHD_Connection *connection, unsigned status,
                                  const char *type, char *body)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        body ? strlen (body) : 0, body ? body : (char *)"", MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (body);
        return MHD_NO;
    }
    MHD_add_response_header (response, "Content-Type", type);
    MHD_add_response_header (response, "Cache-Control", "no-store");
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Content-Security-Policy",
                             "default-src 'none'; script-src 'unsafe-inline'; style-src "
                             "'unsafe-inline'; connect-src 'self'");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result s_handle (void *cls, struct MHD_Connection *connection, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    (void)version, (void)upload_data, (void)req_cls;
    ctl_http_t *self = (ctl_http_t *)cls;
    if (!streq (method, "GET") && !streq (method, "HEAD"))
        return s_respond (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                          strdup ("only GET\n"));
    if (*upload_data_size)
        return MHD_NO;
    //  DNS rebinding: a page of the attacker's domain, resolved to this
    //  address, would read the fleet through the victim's browser.
    const char *host = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Host");
    if (!s_host_allowed (self, host)) {
        //  counted, and logged at most once a second
        int64_t now = jad_mono_ms ();
        pthread_mutex_lock (&self->lock);
        self->host_refused++;
        bool log = !self->host_logged_ms || now - self->host_logged_ms >= 1000;
        uint64_t skipped =
            log && self->host_logged_ms ? self->host_refused - self->host_logged_at - 1 : 0;
        if (log) {
            self->host_logged_ms = now;
            self->host_logged_at = self->host_refused;
        }
        pthread_mutex_unlock (&self->lock);
        char *shown = jad_text_sanitize (host, strlen (host), 80);
        if (log)
            jad_log_warning ("http: request refused host=\"%s\" reason=\"not a name of this "
                             "controller\" more_refused=%llu",
                             shown ? shown : "?", (unsigned long long)skipped);
        char *body = jad_strdup_printf (
            "refused: Host '%s' is not a name of this controller; use its IP address, "
            "localhost, or a name listed in http-hosts (controller.yaml)\n",
            shown ? shown : "?");
        free (shown);
        return s_respond (connection, MHD_HTTP_MISDIRECTED_REQUEST, "text/plain; charset=utf-8",
                          body);
    }
    if (streq (url, "/metrics"))
        return s_respond (connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                          s_metrics_text (self));
    if (streq (url, "/api/status")) {
        json_t *status = s_status_json (self);
        char *text = status ? json_dumps (status, JSON_INDENT (1) | JAD_JSON_REAL) : NULL;
        json_decref (status);
        return s_respond (connection, text ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "application/json", text);
    }
    if (streq (url, "/") || streq (url, "/index.html")) {
        json_t *status = s_status_json (self);
        char *data =
            status ? s_json_for_html (json_dumps (status, JSON_COMPACT | JAD_JSON_REAL)) : NULL;
        json_decref (status);
        char *page = data ? jad_strdup_printf ("%s%s%s", s_page_head, data, s_page_tail) : NULL;
        free (data);
        return s_respond (connection, page ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "text/html; charset=utf-8", page);
    }
    return s_respond (connection, MHD_HTTP_NOT_FOUND, "text/plain", strdup ("not found\n"));
}

//  Forget the configuration's copy (under the lock).
static void s_forget_config (ctl_http_t *self)
{
    for (size_t index = 0; index < self->env_count; index++)
        free (self->env_names[index]);
    free (self->env_names);
    self->env_names = NULL;
    self->env_count = 0;
    for (size_t index = 0; index < self->host_count; index++)
        free (self->hosts[index]);
    free (self->hosts);
    self->hosts = NULL;
    self->host_count = 0;
}

//  The names the HTTP port answers to: http-hosts and this host's name,
//  lower case, NULL-terminated (*count_p set). NULL if out of memory.
static char **s_host_names (const jad_controller_config_t *config, size_t *count_p)
{
    char **hosts = calloc (config->http_host_count + 2, sizeof (char *));
    size_t count = 0;
    for (size_t index = 0; hosts && index <= config->http_host_count; index++) {
        char hostname[256] = "";
        const char *name = index < config->http_host_count ? config->http_hosts[index] : NULL;
        if (!name && gethostname (hostname, sizeof hostname - 1) == 0)
            name = hostname;
        if (!name || !*name)
            continue;
        char *copy = strdup (name);
        if (!copy) {
            for (size_t done = 0; done < count; done++)
                free (hosts[done]);
            free (hosts);
            return NULL;
        }
        for (char *cursor = copy; *cursor; cursor++)
            if (*cursor >= 'A' && *cursor <= 'Z')
                *cursor = (char)(*cursor - 'A' + 'a');
        size_t length = strlen (copy);
        if (length && copy[length - 1] == '.')
            copy[length - 1] = 0;
        hosts[count++] = copy;
    }
    *count_p = count;
    return hosts;
}

int ctl_http_configure (ctl_http_t *self, const jad_controller_config_t *config)
{
    char **names = calloc (config->environment_count + 1, sizeof (char *));
    size_t count = 0;
    for (; names && count < config->environment_count; count++) {
        names[count] = strdup (config->environments[count].name);
        if (!names[count])
            break;
    }
    size_t host_count = 0;
    char **hosts = s_host_names (config, &host_count);
    if (!names || count < config->environment_count || !hosts) {
        for (size_t index = 0; names && index < count; index++)
            free (names[index]);
        free (names);
        for (size_t index = 0; hosts && index < host_count; index++)
            free (hosts[index]);
        free (hosts);
        jad_log_error ("http: out of memory copying the configuration");
        return -1;
    }
    pthread_mutex_lock (&self->lock);
    s_forget_config (self);
    self->env_names = names;
    self->env_count = count;
    self->hosts = hosts;
    self->host_count = host_count;
    self->heartbeat_ms = config->heartbeat_ms;
    pthread_mutex_unlock (&self->lock);
    return 0;
}

ctl_http_t *ctl_http_new (const char *data_dir, const jad_controller_config_t *config,
                          int64_t started_ms)
{
    ctl_http_t *self = (ctl_http_t *)calloc (1, sizeof (ctl_http_t));
    if (!self)
        return NULL;
    self->started_ms = started_ms;
    pthread_mutex_init (&self->lock, NULL);
    if (ctl_http_configure (self, config) != 0) {
        ctl_http_destroy (&self);
        return NULL;
    }
    char *target = ctl_store_target (data_dir, config->store);
    self->store = target ? ctl_store_open (target, CTL_STORE_READONLY) : NULL;
    if (!self->store) {
        //  the target may hold a password: the store's own line says where
        jad_log_error ("http: cannot open the store read-only data=%s", data_dir);
        free (target);
        ctl_http_destroy (&self);
        return NULL;
    }
    free (target);
    int port = config->port + 3;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *address = NULL;
    char service[16];
    snprintf (service, sizeof service, "%d", port);
    if (getaddrinfo (config->http_listen, service, &hints, &address) != 0 || !address) {
        jad_log_error ("http: http-listen '%s' is not a numeric address", config->http_listen);
        ctl_http_destroy (&self);
        return NULL;
    }
    //  epoll, not select: with a fleet connected, the controller's HTTP
    //  sockets have descriptors far above FD_SETSIZE (1024), which select()
    //  cannot watch (MHD then refuses every connection).
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (address->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon (
        flags, (uint16_t)port, NULL, NULL, s_handle, self, MHD_OPTION_SOCK_ADDR, address->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)S_HTTP_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)S_HTTP_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)S_HTTP_IDLE_S, MHD_OPTION_END);
    freeaddrinfo (address);
    if (!self->daemon) {
        jad_log_error ("http: cannot listen address=%s port=%d", config->http_listen, port);
        ctl_http_destroy (&self);
        return NULL;
    }
    jad_log_info ("server: http listening address=%s port=%d", config->http_listen, port);
    return self;
}

void ctl_http_publish (ctl_http_t *self, ctl_counters_t *counters,
                       const ctl_metrics_repo_t *metrics, ctl_notify_t *notify)
{
    pthread_mutex_lock (&self->lock);
    //  counted by this thread, reported with the loop's counters
    counters->value[CTL_COUNT_HTTP_HOST_REFUSED] = self->host_refused;
    memcpy (self->counters, counters->value, sizeof self->counters);
    self->samples = ctl_metrics_repo_samples (metrics);
    self->batches = ctl_metrics_repo_batches (metrics);
    self->rejected = ctl_metrics_repo_rejected (metrics);
    self->duplicates = ctl_metrics_repo_duplicates (metrics);
    self->gaps = ctl_metrics_repo_gaps (metrics);
    self->notify[0] = ctl_notify_queued (notify);
    self->notify[1] = ctl_notify_delivered (notify);
    self->notify[2] = ctl_notify_failed (notify);
    self->notify[3] = ctl_notify_dropped (notify);
    self->notify[4] = ctl_notify_emails_sent (notify);
    self->notify[5] = ctl_notify_emails_failed (notify);
    pthread_mutex_unlock (&self->lock);
}

void ctl_http_destroy (ctl_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_http_t *self = *self_p;
    //  the daemon's thread stops before anything it reads goes
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    ctl_store_destroy (&self->store);
    s_forget_config (self);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}
