//  agt_metrics - samples host and app metrics and buffers them for the controller
//  SPDX-License-Identifier: MPL-2.0
//
//  The buffer is a ring that grows on demand up to its bound (an idle
//  agent holds almost nothing) and shrinks back when it empties. Its
//  series dictionary is reset whenever the ring is empty, so it only ever
//  holds the names of samples still waiting.

#include "agt_metrics.h"
#include "jad_config.h"
#include "jad_hook.h"
#include "jad_log.h"
#include "jad_util.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define S_MIN_ALLOC       256
#define S_SHRINK_ABOVE    4096       //  an empty ring bigger than this is freed
#define S_MAX_BODY        (4 << 20)  //  Prometheus endpoint response cap (jadugar-apply's)
#define S_MAX_OUTPUT      (256 * 1024)
#define S_SCAN_MS         1000  //  how often the sampler looks for new releases
#define S_MIN_INTERVAL_MS 500
#define S_MAX_SOURCE_MS   10000  //  a source gets at most this long per round

struct _agt_samples_t {
    size_t capacity;   //  most samples held
    size_t allocated;  //  size of the ring arrays
    size_t head;       //  index of the oldest sample
    size_t count;      //  samples held
    uint32_t *series;  //  dictionary index per sample
    int64_t *times;
    double *values;
    zhashx_t *ids;  //  series name -> index + 1
    char **names;   //  index -> name (owned)
    size_t name_count;
    size_t name_allocated;
    uint64_t dropped;
};

agt_samples_t *agt_samples_new (size_t capacity)
{
    agt_samples_t *self = (agt_samples_t *)calloc (1, sizeof (agt_samples_t));
    if (!self)
        return NULL;
    self->capacity = capacity ? capacity : 1;
    self->ids = zhashx_new ();
    if (!self->ids) {
        free (self);
        return NULL;
    }
    return self;
}

static void s_dictionary_clear (agt_samples_t *self)
{
    for (size_t index = 0; index < self->name_count; index++)
        free (self->names[index]);
    self->name_count = 0;
    zhashx_purge (self->ids);
    if (self->name_allocated > 64) {
        free (self->names);
        self->names = NULL;
        self->name_allocated = 0;
    }
}

static void s_ring_free (agt_samples_t *self)
{
    free (self->series);
    free (self->times);
    free (self->values);
    self->series = NULL;
    self->times = NULL;
    self->values = NULL;
    self->allocated = 0;
    self->head = 0;
    self->count = 0;
}

void agt_samples_destroy (agt_samples_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agt_samples_t *self = *self_p;
    s_dictionary_clear (self);
    free (self->names);
    zhashx_destroy (&self->ids);
    s_ring_free (self);
    free (self);
    *self_p = NULL;
}

//  Grow the ring (linearising it). Returns 0 or -1.
static int s_ring_grow (agt_samples_t *self)
{
    size_t size = self->allocated ? self->allocated * 2 : S_MIN_ALLOC;
    if (size > self->capacity)
        size = self->capacity;
    uint32_t *series = malloc (size * sizeof (uint32_t));
    int64_t *times = malloc (size * sizeof (int64_t));
    double *values = malloc (size * sizeof (double));
    if (!series || !times || !values) {
        free (series);
        free (times);
        free (values);
        return -1;
    }
    for (size_t index = 0; index < self->count; index++) {
        size_t from = (self->head + index) % self->allocated;
        series[index] = self->series[from];
        times[index] = self->times[from];
        values[index] = self->values[from];
    }
    free (self->series);
    free (self->times);
    free (self->values);
    self->series = series;
    self->times = times;
    self->values = values;
    self->allocated = size;
    self->head = 0;
    return 0;
}

//  Dictionary index of a series, adding it. -1 when full or OOM.
static int64_t s_series_id (agt_samples_t *self, const char *series)
{
    uintptr_t found = (uintptr_t)zhashx_lookup (self->ids, series);
    if (found)
        return (int64_t)found - 1;
    if (self->name_count >= JAD_MAX_SERIES)
        return -1;
    if (self->name_count == self->name_allocated) {
        size_t size = self->name_allocated ? self->name_allocated * 2 : 16;
        char **names = realloc (self->names, size * sizeof (char *));
        if (!names)
            return -1;
        self->names = names;
        self->name_allocated = size;
    }
    char *copy = strdup (series);
    if (!copy)
        return -1;
    self->names[self->name_count] = copy;
    zhashx_insert (self->ids, copy, (void *)(uintptr_t)(self->name_count + 1));
    return (int64_t)self->name_count++;
}

int agt_samples_add (agt_samples_t *self, const char *series, int64_t time, double value)
{
    assert (self);
    if (!jad_series_valid (series) || !isfinite (value) || time <= 0) {
        self->dropped++;
        return -1;
    }
    int64_t id = s_series_id (self, series);
    if (id < 0) {
        self->dropped++;
        return -1;
    }
    if (self->count == self->allocated) {
        if (self->allocated < self->capacity) {
            if (s_ring_grow (self)) {
                self->dropped++;
                return -1;
            }
        } else {
            //  full: the oldest sample gives way
            self->head = (self->head + 1) % self->allocated;
            self->count--;
            self->dropped++;
        }
    }
    size_t slot = (self->head + self->count) % self->allocated;
    self->series[slot] = (uint32_t)id;
    self->times[slot] = time;
    self->values[slot] = value;
    self->count++;
    return 0;
}

void agt_samples_add_batch (agt_samples_t *self, const jad_metric_batch_t *batch)
{
    for (size_t index = 0; index < batch->sample_count; index++)
        agt_samples_add (self, batch->names[batch->name_index[index]], batch->times[index],
                         batch->values[index]);
}

size_t agt_samples_count (const agt_samples_t *self)
{
    return self->count;
}

uint64_t agt_samples_dropped (const agt_samples_t *self)
{
    return self->dropped;
}

jad_metric_batch_t *agt_samples_peek (agt_samples_t *self, size_t max)
{
    size_t count = self->count < max ? self->count : max;
    if (count == 0)
        return NULL;
    jad_metric_batch_t *batch = calloc (1, sizeof (jad_metric_batch_t));
    int32_t *remap = malloc (self->name_count * sizeof (int32_t));
    if (!batch || !remap)
        goto failed;
    batch->names = calloc (self->name_count, sizeof (char *));
    batch->name_index = malloc (count * sizeof (uint32_t));
    batch->times = malloc (count * sizeof (int64_t));
    batch->values = malloc (count * sizeof (double));
    if (!batch->names || !batch->name_index || !batch->times || !batch->values)
        goto failed;
    for (size_t index = 0; index < self->name_count; index++)
        remap[index] = -1;
    for (size_t index = 0; index < count; index++) {
        size_t slot = (self->head + index) % self->allocated;
        uint32_t id = self->series[slot];
        if (remap[id] < 0) {
            batch->names[batch->name_count] = strdup (self->names[id]);
            if (!batch->names[batch->name_count])
                goto failed;
            remap[id] = (int32_t)batch->name_count++;
        }
        batch->name_index[index] = (uint32_t)remap[id];
        batch->times[index] = self->times[slot];
        batch->values[index] = self->values[slot];
    }
    batch->sample_count = count;
    batch->dropped = self->dropped;
    free (remap);
    return batch;

failed:
    free (remap);
    jad_metric_batch_destroy (&batch);
    return NULL;
}

void agt_samples_consume (agt_samples_t *self, size_t count)
{
    if (count >= self->count) {
        self->count = 0;
        self->head = 0;
    } else {
        self->head = (self->head + count) % self->allocated;
        self->count -= count;
    }
    if (self->count == 0) {
        s_dictionary_clear (self);
        if (self->allocated > S_SHRINK_ABOVE)
            s_ring_free (self);
    }
}

//  --------------------------------------------------------------------------
//  Text format

static bool s_name_char (unsigned char c)
{
    return isalnum (c) || c == '_' || c == ':' || c == '.' || c == '-';
}

//  Parse one line into series (size JAD_MAX_SERIES_LEN + 1) and value.
//  Returns 1 for a sample, 0 for a line to skip, -1 for a bad line.
static int s_parse_line (const char *line, size_t length, char *series, double *value)
{
    const char *cursor = line;
    const char *end = line + length;
    while (cursor < end && (*cursor == ' ' || *cursor == '\t'))
        cursor++;
    if (cursor == end || *cursor == '#')
        return 0;
    size_t used = 0;
    unsigned char first = (unsigned char)*cursor;
    if (!(isalpha (first) || first == '_' || first == ':'))
        return -1;
    while (cursor < end && s_name_char ((unsigned char)*cursor)) {
        if (used >= JAD_MAX_SERIES_LEN)
            return -1;
        series[used++] = *cursor++;
    }
    if (cursor < end && *cursor == '{') {
        bool quoted = false;
        while (cursor < end) {
            char c = *cursor++;
            if (used >= JAD_MAX_SERIES_LEN)
                return -1;
            if (quoted && c == '\\' && cursor < end) {
                series[used++] = c;
                c = *cursor++;
                if (used >= JAD_MAX_SERIES_LEN)
                    return -1;
            } else if (c == '"')
                quoted = !quoted;
            else if (!quoted && (c == ' ' || c == '\t'))
                continue;  //  blanks between labels carry nothing
            series[used++] = (unsigned char)c <= ' ' || (unsigned char)c >= 0x7F ? '_' : c;
            if (!quoted && c == '}')
                break;
        }
        if (series[used - 1] != '}')
            return -1;
    }
    series[used] = 0;
    if (cursor == end || (*cursor != ' ' && *cursor != '\t'))
        return -1;
    while (cursor < end && (*cursor == ' ' || *cursor == '\t'))
        cursor++;
    char number[64];
    size_t digits = 0;
    while (cursor < end && *cursor != ' ' && *cursor != '\t' && digits < sizeof number - 1)
        number[digits++] = *cursor++;
    number[digits] = 0;
    if (digits == 0)
        return -1;
    char *stop = NULL;
    *value = strtod (number, &stop);
    if (*stop)
        return -1;
    return isfinite (*value) ? 1 : 0;
}

size_t agt_metrics_parse (agt_samples_t *self, const char *text, int64_t time, size_t *bad_lines)
{
    size_t stored = 0, bad = 0;
    char series[JAD_MAX_SERIES_LEN + 1];
    for (const char *cursor = text; cursor && *cursor;) {
        size_t length = strcspn (cursor, "\r\n");
        double value = 0;
        int rc = s_parse_line (cursor, length, series, &value);
        if (rc < 0)
            bad++;
        else if (rc > 0 && agt_samples_add (self, series, time, value) == 0)
            stored++;
        cursor += length;
        while (*cursor == '\r' || *cursor == '\n')
            cursor++;
    }
    if (bad_lines)
        *bad_lines = bad;
    return stored;
}

//  --------------------------------------------------------------------------
//  Sampler

typedef struct {
    char *app;
    char *version;  //  current release
    jad_manifest_t *manifest;
    int64_t next_due;  //  mono ms
    uint32_t interval_ms;
    int64_t smoke_due;  //  mono ms of the next smoke re-run (manifest smoke_every)
    int smoke_ok;       //  last smoke_ok, -1 before the first
} s_app_t;

typedef struct {
    char *root;
    char *environment;
    char *host;
    char *hook_user;
    char *helper;  //  jadugar-apply, or NULL
    uint32_t interval_ms;
    int64_t host_due;  //  mono ms
    int64_t scan_due;
    uint64_t cpu_busy;  //  previous /proc/stat totals
    uint64_t cpu_total;
    zhashx_t *apps;  //  app -> s_app_t *
    agt_samples_t *round;
    char *applying;        //  app of the plan the daemon is applying, or NULL
    uint64_t plans_begun;  //  plans the daemon has begun, counted
    bool stop;             //  $TERM seen while draining the pipe
    int64_t smoke_time;    //  time of this round's newest smoke_ok{app}, 0: none
} s_sampler_t;

static void s_app_destroy (void **item)
{
    s_app_t *app = (s_app_t *)*item;
    if (app) {
        free (app->app);
        free (app->version);
        jad_manifest_destroy (&app->manifest);
        free (app);
        *item = NULL;
    }
}

static void s_host_sample (s_sampler_t *self, int64_t now)
{
    FILE *file = fopen ("/proc/stat", "r");
    if (file) {
        unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
        if (fscanf (file, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system,
                    &idle, &iowait, &irq, &softirq, &steal) == 8) {
            uint64_t busy = user + nice + system + irq + softirq + steal;
            uint64_t total = busy + idle + iowait;
            if (self->cpu_total && total > self->cpu_total)
                agt_samples_add (self->round, "host_cpu_percent", now,
                                 100.0 * (double)(busy - self->cpu_busy) /
                                     (double)(total - self->cpu_total));
            self->cpu_busy = busy;
            self->cpu_total = total;
        }
        fclose (file);
    }
    file = fopen ("/proc/meminfo", "r");
    if (file) {
        char line[256];
        unsigned long long total = 0, available = 0, value;
        while (fgets (line, sizeof line, file)) {
            if (sscanf (line, "MemTotal: %llu kB", &value) == 1)
                total = value;
            else if (sscanf (line, "MemAvailable: %llu kB", &value) == 1)
                available = value;
        }
        fclose (file);
        if (total && available <= total) {
            agt_samples_add (self->round, "host_memory_used_bytes", now,
                             (double)(total - available) * 1024.0);
            agt_samples_add (self->round, "host_memory_used_ratio", now,
                             (double)(total - available) / (double)total);
        }
    }
    file = fopen ("/proc/loadavg", "r");
    if (file) {
        double load1, load5, load15;
        unsigned running, total;
        if (fscanf (file, "%lf %lf %lf %u/%u", &load1, &load5, &load15, &running, &total) == 5) {
            agt_samples_add (self->round, "host_load1", now, load1);
            agt_samples_add (self->round, "host_load5", now, load5);
            agt_samples_add (self->round, "host_processes", now, (double)total);
        }
        fclose (file);
    }
    struct statvfs disk;
    if (statvfs (self->root, &disk) == 0 && disk.f_blocks > 0) {
        double size = (double)disk.f_blocks * (double)disk.f_frsize;
        double free_bytes = (double)disk.f_bavail * (double)disk.f_frsize;
        double used = (double)(disk.f_blocks - disk.f_bfree) * (double)disk.f_frsize;
        agt_samples_add (self->round, "host_disk_used_ratio", now, size > 0 ? used / size : 0);
        agt_samples_add (self->round, "host_disk_free_bytes", now, free_bytes);
    }
}

//  Look for apps and their current releases; (re)load changed manifests.
static void s_scan (s_sampler_t *self, int64_t mono)
{
    DIR *dir = opendir (self->root);
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (!jad_name_valid (entry->d_name))
            continue;
        char link[PATH_MAX], version[JAD_NAME_MAX + 1];
        if (jad_format (link, sizeof link, "%s/%s/current", self->root, entry->d_name) != 0 ||
            !jad_current_version (link, version))
            continue;
        s_app_t *app = (s_app_t *)zhashx_lookup (self->apps, entry->d_name);
        if (app && app->version && streq (app->version, version))
            continue;
        if (!app) {
            app = (s_app_t *)calloc (1, sizeof (s_app_t));
            if (!app || !(app->app = strdup (entry->d_name))) {
                free (app);
                continue;
            }
            zhashx_insert (self->apps, app->app, app);
        }
        free (app->version);
        app->version = strdup (version);
        jad_manifest_destroy (&app->manifest);
        char path[PATH_MAX];
        jad_problems_t *problems = jad_problems_new ();
        if (snprintf (path, sizeof path, "%s/%s/releases/%s/jadugar.yaml", self->root, app->app,
                      version) < (int)sizeof path)
            app->manifest = jad_manifest_load (path, problems);
        jad_problems_destroy (&problems);
        uint32_t interval = app->manifest ? app->manifest->metrics_interval_ms : 10000;
        app->interval_ms = interval < S_MIN_INTERVAL_MS ? S_MIN_INTERVAL_MS : interval;
        app->next_due = mono;   //  a new release is sampled at once
        app->smoke_due = mono;  //  and its smoke checks re-run once no plan applies
        app->smoke_ok = -1;
        jad_log_debug ("agent: metrics follow app=%s version=%s sources=%zu", app->app, version,
                       app->manifest ? app->manifest->source_count : 0);
    }
    closedir (dir);
}

//  Why jadugar-apply failed, in one line: the first line it printed (it
//  says what failed), else how it ended.
static void s_helper_why (const jad_hook_result_t *hook, char *why, size_t len)
{
    const char *output = hook->output && *hook->output && !hook->spawn_failed ? hook->output : NULL;
    if (output)
        snprintf (why, len, "%.*s", (int)strcspn (output, "\n"), output);
    else
        jad_hook_describe (hook, why, len);
}

//  GET the endpoint with `jadugar-apply --scrape` (bounded body, status
//  200 required) and parse its output, the endpoint's text.
static int s_source_prometheus (s_sampler_t *self, const char *url, uint32_t timeout_ms,
                                int64_t now)
{
    if (!self->helper) {
        jad_log_debug ("agent: metrics endpoint not scraped url=%s error=\"no apply helper\"", url);
        return -1;
    }
    char timeout[16], parent[24];
    snprintf (timeout, sizeof timeout, "%u", timeout_ms);
    snprintf (parent, sizeof parent, "%d", (int)getpid ());
    const char *args[] = {"--scrape", url, "--timeout-ms", timeout, "--parent", parent, NULL};
    const char *env[] = {NULL};
    jad_hook_spec_t spec = {.release_dir = "/",
                            .program = self->helper,
                            .args = args,
                            .env = env,
                            .timeout_ms = timeout_ms + 2000,  //  the helper's own start-up
                            .max_output = S_MAX_BODY + 4096};
    jad_hook_result_t hook = {0};
    int result = jad_hook_run (&spec, &hook);
    if (result == 0)
        agt_metrics_parse (self->round, hook.output ? hook.output : "", now, NULL);
    else {
        //  the helper says "prometheus URL: reason"; else how it ended
        char why[512];
        s_helper_why (&hook, why, sizeof why);
        jad_log_debug ("agent: metrics endpoint failed url=%s error=\"%s\"", url, why);
    }
    jad_hook_result_clear (&hook);
    return result;
}

static int s_source_command (s_sampler_t *self, const s_app_t *app, const char *command,
                             uint32_t timeout_ms, int64_t now)
{
    char release_dir[PATH_MAX], shared_dir[PATH_MAX];
    if (snprintf (release_dir, sizeof release_dir, "%s/%s/releases/%s", self->root, app->app,
                  app->version) >= (int)sizeof release_dir ||
        snprintf (shared_dir, sizeof shared_dir, "%s/%s/shared", self->root, app->app) >=
            (int)sizeof shared_dir)
        return -1;
    char *env[7] = {NULL};
    bool ok = asprintf (&env[0], "JADUGAR_APP=%s", app->app) > 0 &&
              asprintf (&env[1], "JADUGAR_VERSION=%s", app->version) > 0 &&
              asprintf (&env[2], "JADUGAR_ENV=%s", self->environment) > 0 &&
              asprintf (&env[3], "JADUGAR_HOST=%s", self->host) > 0 &&
              asprintf (&env[4], "JADUGAR_RELEASE_DIR=%s", release_dir) > 0 &&
              asprintf (&env[5], "JADUGAR_SHARED_DIR=%s", shared_dir) > 0;
    int result = -1;
    jad_hook_spec_t spec = {.release_dir = release_dir,
                            .command = command,
                            .env = (const char *const *)env,
                            .timeout_ms = timeout_ms,
                            .max_output = S_MAX_OUTPUT};
    if (ok && self->hook_user) {
        struct passwd entry, *found = NULL;
        char buffer[1024];
        if (getpwnam_r (self->hook_user, &entry, buffer, sizeof buffer, &found) || !found)
            ok = false;
        else {
            spec.drop_privileges = true;
            spec.uid = found->pw_uid;
            spec.gid = found->pw_gid;
        }
    }
    if (ok) {
        jad_hook_result_t hook = {0};
        if (jad_hook_run (&spec, &hook) == 0) {
            agt_metrics_parse (self->round, hook.output ? hook.output : "", now, NULL);
            result = 0;
        } else {
            char why[256];
            jad_log_debug ("agent: metrics command failed app=%s command=%s result=\"%s\"",
                           app->app, command, jad_hook_describe (&hook, why, sizeof why));
        }
        jad_hook_result_clear (&hook);
    }
    for (int index = 0; index < 6; index++)
        free (env[index]);
    return result;
}

//  True if ROOT/APP/current still points at the release whose manifest
//  the sampler holds. A plan may switch it at any moment between scans:
//  the old release's sources must then not run any more, or their samples
//  (stamped after the switch) count against the new release's bake.
static bool s_app_still_current (s_sampler_t *self, const s_app_t *app)
{
    char link[PATH_MAX], version[JAD_NAME_MAX + 1];
    return jad_format (link, sizeof link, "%s/%s/current", self->root, app->app) == 0 &&
           jad_current_version (link, version) && app->version && streq (app->version, version);
}

//  Run the app's sources; `now` must be read before this is called (the
//  check that current did not move comes after the stamp, so every sample
//  stamped `now` is of the release current at `now`).
static void s_app_sample (s_sampler_t *self, s_app_t *app, int64_t now)
{
    if (!app->manifest)
        return;
    if (!s_app_still_current (self, app)) {
        self->scan_due = 0;  //  rescan at once; this round samples nothing
        return;
    }
    uint32_t timeout = app->interval_ms < S_MAX_SOURCE_MS ? app->interval_ms : S_MAX_SOURCE_MS;
    if (timeout < 1000)
        timeout = 1000;
    for (size_t index = 0; index < app->manifest->source_count; index++) {
        const jad_metric_source_t *source = &app->manifest->sources[index];
        int rc = source->prometheus ? s_source_prometheus (self, source->prometheus, timeout, now)
                                    : s_source_command (self, app, source->command, timeout, now);
        char series[JAD_MAX_SERIES_LEN + 1];
        if (snprintf (series, sizeof series, "jadugar_source_up{app=\"%s\",source=\"%zu\"}",
                      app->app, index + 1) < (int)sizeof series)
            agt_samples_add (self->round, series, now, rc == 0 ? 1 : 0);
    }
}

//  --------------------------------------------------------------------------
//  Smoke re-runs: `jadugar-apply --smoke` runs the current release's smoke
//  checks as a deploy does (hook user, HTTP checks through libcurl, which
//  the daemon does not link); the sample smoke_ok{app="APP"} is 1 or 0,
//  and smoke_ok (no label) is the host's: 0 while any app's last failed.

//  The helper's bound: every check's own timeout, plus its start-up.
static uint32_t s_smoke_timeout (const jad_manifest_t *manifest)
{
    uint64_t total = 5000;
    for (size_t index = 0; index < manifest->smoke_count; index++)
        total += manifest->smoke[index].timeout_ms;
    return total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
}

//  Run the checks; 1 passed, 0 failed (why in the log), -1 not run.
static int s_smoke_run (s_sampler_t *self, const s_app_t *app)
{
    if (!self->helper) {
        jad_log_debug ("agent: smoke not re-run app=%s error=\"no apply helper\"", app->app);
        return -1;
    }
    char parent[24];
    snprintf (parent, sizeof parent, "%d", (int)getpid ());
    const char *args[16] = {"--smoke", app->app,   "--version", app->version,
                            "--root",  self->root, "--env",     self->environment,
                            "--host",  self->host, "--parent",  parent};
    size_t count = 12;
    if (self->hook_user) {
        args[count++] = "--hook-user";
        args[count++] = self->hook_user;
    }
    args[count] = NULL;
    const char *env[] = {NULL};
    jad_hook_spec_t spec = {.release_dir = "/",
                            .program = self->helper,
                            .args = args,
                            .env = env,
                            .timeout_ms = s_smoke_timeout (app->manifest),
                            .max_output = 4096};
    jad_hook_result_t hook = {0};
    int result = jad_hook_run (&spec, &hook) == 0 ? 1 : 0;
    if (result == 0 || app->smoke_ok != 1) {
        //  the helper says "smoke APP V: why"; else how it ended
        char why[512];
        s_helper_why (&hook, why, sizeof why);
        if (result == 0)
            jad_log_warning ("agent: smoke re-run failed app=%s version=%s error=\"%s\"", app->app,
                             app->version, why);
        else
            jad_log_info ("agent: smoke re-run passed app=%s version=%s", app->app, app->version);
    }
    jad_hook_result_clear (&hook);
    return result;
}

static bool s_pipe_command (s_sampler_t *self, zsock_t *pipe);

//  Re-run the app's smoke checks if due and no plan applies to it; a plan
//  begun while they ran makes the result void (it may have been of either
//  release), and they run again once it ends.
static void s_app_smoke (s_sampler_t *self, s_app_t *app, zsock_t *pipe, int64_t mono)
{
    //  what the daemon said so far (a plan it just began) counts first
    while (!self->stop && (zsock_events (pipe) & ZMQ_POLLIN))
        self->stop = s_pipe_command (self, pipe);
    if (self->stop || !app->manifest || !app->manifest->smoke_every_ms ||
        !app->manifest->smoke_count || mono < app->smoke_due ||
        (self->applying && streq (self->applying, app->app)))
        return;
    int64_t now = jad_now_ms ();
    if (!s_app_still_current (self, app)) {
        //  a new release resets the clock (s_scan); a removed app waits
        app->smoke_due = mono + app->manifest->smoke_every_ms;
        self->scan_due = 0;
        return;
    }
    uint64_t begun = self->plans_begun;
    int ok = s_smoke_run (self, app);
    while (!self->stop && (zsock_events (pipe) & ZMQ_POLLIN))
        self->stop = s_pipe_command (self, pipe);
    if (self->plans_begun != begun)
        return;  //  void: again once the plan ends
    app->smoke_due = jad_mono_ms () + app->manifest->smoke_every_ms;
    if (ok < 0)
        return;
    app->smoke_ok = ok;
    char series[JAD_MAX_SERIES_LEN + 1];
    if (snprintf (series, sizeof series, "smoke_ok{app=\"%s\"}", app->app) < (int)sizeof series)
        agt_samples_add (self->round, series, now, ok);
    self->smoke_time = now;
}

//  After a round with smoke re-runs: the host's smoke_ok, 1 while every
//  app's last re-run passed (a rule's `metric:` is a plain name; the
//  per-app series say which app failed).
static void s_host_smoke (s_sampler_t *self)
{
    if (!self->smoke_time)
        return;
    int ok = 1;
    for (s_app_t *app = (s_app_t *)zhashx_first (self->apps); app;
         app = (s_app_t *)zhashx_next (self->apps))
        if (app->smoke_ok == 0)
            ok = 0;
    agt_samples_add (self->round, "smoke_ok", self->smoke_time, ok);
    self->smoke_time = 0;
}

//  A command from the daemon: "$TERM", "PLAN" APP (a plan for APP begins)
//  or "IDLE" (it ended). Returns true to stop.
static bool s_pipe_command (s_sampler_t *self, zsock_t *pipe)
{
    zmsg_t *msg = zmsg_recv (pipe);
    if (!msg)
        return true;
    char *command = zmsg_popstr (msg);
    char *app = zmsg_popstr (msg);
    bool stop = !command || streq (command, "$TERM");
    if (command && streq (command, "PLAN") && app) {
        free (self->applying);
        self->applying = app;
        app = NULL;
        self->plans_begun++;
    } else if (command && streq (command, "IDLE")) {
        free (self->applying);
        self->applying = NULL;
    }
    zstr_free (&command);
    zstr_free (&app);
    zmsg_destroy (&msg);
    return stop;
}

//  Pass the round's samples to the main thread.
static void s_flush (s_sampler_t *self, zsock_t *pipe)
{
    while (agt_samples_count (self->round) > 0) {
        jad_metric_batch_t *batch = agt_samples_peek (self->round, JAD_MAX_SAMPLES);
        if (!batch)
            break;
        size_t count = batch->sample_count;
        jad_agent_msg_t msg = {.kind = JAD_AGENT_MSG_METRICS, .metrics = batch};
        zchunk_t *wire = jad_agent_msg_encode (&msg);
        jad_metric_batch_destroy (&batch);
        if (wire) {
            zmsg_t *out = zmsg_new ();
            zmsg_addstr (out, "BATCH");
            zmsg_addmem (out, zchunk_data (wire), zchunk_size (wire));
            if (zmsg_send (&out, pipe))
                zmsg_destroy (&out);
            zchunk_destroy (&wire);
        }
        agt_samples_consume (self->round, count);
    }
}

void agt_metrics_actor (zsock_t *pipe, void *args)
{
    const agt_metrics_config_t *config = (const agt_metrics_config_t *)args;
    s_sampler_t self = {0};
    self.root = strdup (config->root);
    self.environment = strdup (config->environment);
    self.host = strdup (config->host);
    self.hook_user = config->hook_user ? strdup (config->hook_user) : NULL;
    self.helper = config->helper ? strdup (config->helper) : NULL;
    self.interval_ms = config->interval_ms ? config->interval_ms : 10000;
    self.apps = zhashx_new ();
    self.round = agt_samples_new (JAD_MAX_SAMPLES * 4);
    zpoller_t *poller = zpoller_new (pipe, NULL);
    bool ready = self.root && self.environment && self.host && self.apps && self.round && poller;
    if (self.apps)
        zhashx_set_destructor (self.apps, s_app_destroy);
    zsock_signal (pipe, 0);
    int64_t mono = jad_mono_ms ();
    self.host_due = mono;
    self.scan_due = mono;
    while (ready) {
        mono = jad_mono_ms ();
        int64_t next = self.host_due < self.scan_due ? self.host_due : self.scan_due;
        for (s_app_t *app = (s_app_t *)zhashx_first (self.apps); app;
             app = (s_app_t *)zhashx_next (self.apps)) {
            if (app->manifest && app->manifest->source_count && app->next_due < next)
                next = app->next_due;
            //  a smoke re-run held back by a plan waits for its end (the pipe)
            if (app->manifest && app->manifest->smoke_every_ms && app->smoke_due < next &&
                !(self.applying && streq (self.applying, app->app)))
                next = app->smoke_due;
        }
        int64_t wait = next - mono;
        //  Look at the pipe even when a round is overdue: a source slower
        //  than its interval (its timeout) makes every round late, and
        //  $TERM must still get through.
        void *which = zpoller_wait (poller, wait > 0 ? (int)wait : 0);
        if (which == pipe) {
            if (s_pipe_command (&self, pipe))
                break;
            continue;
        }
        if (zpoller_terminated (poller))
            break;
        mono = jad_mono_ms ();
        int64_t now = jad_now_ms ();
        if (mono >= self.scan_due) {
            s_scan (&self, mono);
            self.scan_due = mono + S_SCAN_MS;
        }
        if (mono >= self.host_due) {
            s_host_sample (&self, now);
            self.host_due = mono + self.interval_ms;
        }
        for (s_app_t *app = (s_app_t *)zhashx_first (self.apps); app;
             app = (s_app_t *)zhashx_next (self.apps))
            if (app->manifest && app->manifest->source_count && mono >= app->next_due) {
                s_app_sample (&self, app, now);
                app->next_due = mono + app->interval_ms;
            }
        for (s_app_t *app = (s_app_t *)zhashx_first (self.apps); app && !self.stop;
             app = (s_app_t *)zhashx_next (self.apps))
            s_app_smoke (&self, app, pipe, mono);
        s_host_smoke (&self);
        s_flush (&self, pipe);
        if (self.stop)
            break;
    }
    zpoller_destroy (&poller);
    agt_samples_destroy (&self.round);
    zhashx_destroy (&self.apps);
    free (self.root);
    free (self.environment);
    free (self.host);
    free (self.hook_user);
    free (self.helper);
    free (self.applying);
}

int agt_metrics_plan (zactor_t *actor, const char *app)
{
    //  never block: a sampler that already stopped (SIGTERM ends its
    //  poller too) has no reader left on its pipe, and a PAIR socket
    //  without a peer would hold the daemon's stop forever
    zsock_set_sndtimeo (actor, 0);
    return app ? zstr_sendx (actor, "PLAN", app, NULL) : zstr_send (actor, "IDLE");
}

int agt_metrics_recv (zactor_t *actor, agt_samples_t *buffer)
{
    zmsg_t *msg = zmsg_recv (actor);
    if (!msg)
        return -1;
    int added = -1;
    char *command = zmsg_popstr (msg);
    zframe_t *frame = zmsg_first (msg);
    if (command && streq (command, "BATCH") && frame) {
        char err[JAD_ERR_LEN] = "";
        jad_agent_msg_t *decoded =
            jad_agent_msg_decode (zframe_data (frame), zframe_size (frame), err);
        if (decoded && decoded->kind == JAD_AGENT_MSG_METRICS) {
            agt_samples_add_batch (buffer, decoded->metrics);
            added = (int)decoded->metrics->sample_count;
        }
        jad_agent_msg_destroy (&decoded);
    }
    zstr_free (&command);
    zmsg_destroy (&msg);
    return added;
}
