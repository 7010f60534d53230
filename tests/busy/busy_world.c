//  busy_world - the busy operator's fleet: configuration, releases,
//  processes, jadctl, and the failure report
//  SPDX-License-Identifier: MPL-2.0

#include "busy.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_BIN_JADCTL JAD_BIN_DIR "/controller/jadctl"

//  Deadlines. They detect hangs, not slowness: an answer takes well under
//  a second on an idle machine, and a loaded shared one may be 50 times
//  slower. jadctl gets a short timeout only while the test has stopped the
//  controller (exit 3 is then the expected answer).
#define S_TIMEOUT_UP_MS      60000
#define S_TIMEOUT_DOWN_MS    1500
#define S_TIMEOUT_WAITER_MS  60000
#define S_START_DEADLINE_MS  60000
#define S_STOP_DEADLINE_MS   60000
#define S_RELOAD_DEADLINE_MS 60000

//  The fleet: one agent in dev, two in staging, two in prod.
static const char *const s_agent_names[] = {"dev-1", "stg-1", "stg-2", "prod-1", "prod-2"};
static const char *const s_agent_envs[] = {"dev", "staging", "staging", "prod", "prod"};
#define S_AGENTS 5

int64_t busy_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

uint32_t busy_random (busy_t *self, uint32_t bound)
{
    //  xorshift64*: small, and the same sequence on every machine
    self->rng ^= self->rng >> 12;
    self->rng ^= self->rng << 25;
    self->rng ^= self->rng >> 27;
    uint64_t value = self->rng * 0x2545F4914F6CDD1DULL;
    return bound ? (uint32_t)((value >> 32) % bound) : 0;
}

void busy_note (busy_t *self, const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    char *text = NULL;
    if (vasprintf (&text, format, argptr) < 0)
        abort ();
    va_end (argptr);
    char *joined = NULL;
    if (asprintf (&joined, "%s%s%s", self->current ? self->current : "", self->current ? "; " : "",
                  text) < 0)
        abort ();
    free (text);
    free (self->current);
    self->current = joined;
}

void busy_step_done (busy_t *self)
{
    char *line = self->history[self->history_count % BUSY_HISTORY];
    snprintf (line, sizeof self->history[0], "step %d: %s", self->step,
              self->current ? self->current : "-");
    self->history_count++;
    free (self->current);
    self->current = NULL;
}

//  --------------------------------------------------------------------------
//  Logs and the failure report

static void s_log_path (busy_t *self, int daemon, char *path, size_t len)
{
    if (daemon < 0)
        snprintf (path, len, "%s/controller.log", self->fleet->dir);
    else
        snprintf (path, len, "%s/%s.log", self->fleet->dir, self->fleet->agent_names[daemon]);
}

int busy_log_count (busy_t *self, int daemon, const char *needle)
{
    char path[PATH_MAX];
    s_log_path (self, daemon, path, sizeof path);
    char *text = jt_read_file (path);
    int count = text ? jt_count (text, needle) : 0;
    free (text);
    return count;
}

static const char *s_daemon_name (busy_t *self, int daemon)
{
    return daemon < 0 ? "controller" : self->fleet->agent_names[daemon];
}

//  Print the interesting part of a daemon's log: from a sanitizer report
//  if there is one, else its last lines.
static void s_print_log (busy_t *self, int daemon)
{
    char path[PATH_MAX];
    s_log_path (self, daemon, path, sizeof path);
    char *text = jt_read_file (path);
    if (!text) {
        fprintf (stderr, "busy: no log at %s\n", path);
        return;
    }
    static const char *const reports[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                          "runtime error:", "AddressSanitizer:DEADLYSIGNAL"};
    const char *start = NULL;
    for (size_t index = 0; index < sizeof reports / sizeof reports[0] && !start; index++)
        start = strstr (text, reports[index]);
    int lines = 0;
    if (start) {
        //  a few lines of context before the report
        for (int back = 0; start > text && back < 12; back += (start[-1] == '\n'))
            start--;
        lines = 70;
    } else {
        start = text + strlen (text);
        for (int back = 0; start > text && back < 41; back += (start[-1] == '\n'))
            start--;
        lines = 41;
    }
    const char *end = start;
    for (int count = 0; *end && count < lines; end++)
        count += *end == '\n';
    fprintf (stderr, "busy: ---- log of %s (%s) ----\n%.*s\nbusy: ---- end of log ----\n",
             s_daemon_name (self, daemon), path, (int)(end - start), start);
    free (text);
}

//  A daemon that still runs but misbehaves may be stuck: print where its
//  threads (and its children's, e.g. an apply helper) are, if gdb is here.
static void s_print_stacks_of (const char *name, pid_t pid)
{
    if (pid <= 0 || access ("/usr/bin/gdb", X_OK) != 0)
        return;
    char *output = NULL;
    jt_run (
        &output,
        "for p in %d $(pgrep -P %d); do echo \"== pid $p: $(tr '\\0' ' ' < /proc/$p/cmdline)\"; "
        "timeout 60 /usr/bin/gdb -p $p -batch -nx -ex 'thread apply all bt 30' 2>/dev/null | "
        "grep -E '^(Thread|#)'; done",
        (int)pid, (int)pid);
    fprintf (stderr, "busy: ---- stacks of %s ----\n%s\nbusy: ---- end of stacks ----\n", name,
             output ? output : "");
    free (output);
}

static void s_print_stacks (busy_t *self, int daemon)
{
    s_print_stacks_of (s_daemon_name (self, daemon),
                       daemon < 0 ? self->fleet->controller : self->fleet->agents[daemon]);
}

//  Reap daemon (agent index or -1) if it exited; returns its wait status
//  text in why (empty when it still runs).
static bool s_daemon_gone (busy_t *self, int daemon, char *why, size_t len)
{
    pid_t *pid = daemon < 0 ? &self->fleet->controller : &self->fleet->agents[daemon];
    why[0] = 0;
    if (*pid <= 0)
        return false;
    int status = 0;
    pid_t done = waitpid (*pid, &status, WNOHANG);
    if (done != *pid)
        return false;
    if (WIFSIGNALED (status))
        snprintf (why, len, "killed by signal %d (%s)", WTERMSIG (status),
                  strsignal (WTERMSIG (status)));
    else
        snprintf (why, len, "exited with status %d", WEXITSTATUS (status));
    *pid = 0;
    return true;
}

//  First daemon that died (agent index, -1 controller) or -2; waits up to
//  grace_ms for one to finish dying (a sanitizer report takes a while).
int busy_find_dead (busy_t *self, int grace_ms, char *why, size_t len)
{
    int64_t deadline = busy_now () + grace_ms;
    do {
        if (s_daemon_gone (self, -1, why, len))
            return -1;
        for (int index = 0; index < self->fleet->agent_count; index++)
            if (s_daemon_gone (self, index, why, len))
                return index;
        if (grace_ms > 0)
            usleep (100000);
    } while (busy_now () < deadline);
    return -2;
}

//  After a failure the test ends without freeing what the failing step
//  held; LeakSanitizer (which calls this at exit when it is defined) would
//  bury the report under those leaks.
static bool s_failed;
int __lsan_is_turned_off (void);
int __lsan_is_turned_off (void)
{
    return s_failed;
}

static void s_kill_everything (busy_t *self)
{
    for (int index = 0; index < self->waiter_count; index++)
        jt_kill9 (self->waiters[index].pid);
    self->waiter_count = 0;
    for (int index = 0; index < self->fleet->agent_count; index++) {
        jt_kill9 (self->fleet->agents[index]);
        self->fleet->agents[index] = 0;
    }
    jt_kill9 (self->fleet->controller);
    self->fleet->controller = 0;
}

void busy_fail (busy_t *self, int daemon, const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    char *message = NULL;
    if (vasprintf (&message, format, argptr) < 0)
        abort ();
    va_end (argptr);
    //  a command's whole output can be long: its start says enough
    if (strlen (message) > 6000)
        strcpy (message + 6000 - 5, "\n...");
    char why[128];
    int dead = busy_find_dead (self, 3000, why, sizeof why);
    fprintf (stderr, "\nbusy: FAILED at step %d of %d (seed %llu)\n", self->step, self->steps,
             (unsigned long long)self->seed);
    if (dead != -2) {
        fprintf (stderr, "busy: the %s died unexpectedly: %s\n", s_daemon_name (self, dead), why);
        fprintf (stderr, "busy: what the test saw: %s\n", message);
        daemon = dead;
    } else
        fprintf (stderr, "busy: %s\n", message);
    fprintf (stderr, "busy: replay with JADUGAR_BUSY_SEED=%llu JADUGAR_BUSY_STEPS=%d\n",
             (unsigned long long)self->seed, self->steps);
    fprintf (stderr, "busy: the last steps:\n");
    int first = self->history_count > BUSY_HISTORY ? self->history_count - BUSY_HISTORY : 0;
    for (int index = first; index < self->history_count; index++)
        fprintf (stderr, "  %s\n", self->history[index % BUSY_HISTORY]);
    fprintf (stderr, "  step %d: %s   <- failed here\n", self->step,
             self->current ? self->current : "-");
    if (daemon >= -1) {
        s_print_log (self, daemon);
        s_print_stacks (self, daemon);
    }
    const char *hold = getenv ("JADUGAR_BUSY_HOLD");
    if (hold && atoi (hold) > 0) {
        fprintf (stderr, "busy: holding the fleet for %d s (controller pid %d)\n", atoi (hold),
                 (int)self->fleet->controller);
        sleep ((unsigned)atoi (hold));
    }
    s_kill_everything (self);
    fprintf (stderr, "busy: fleet kept in %s\n", self->fleet->dir);
    s_failed = true;
    cr_assert_fail ("busy operator: %s (seed %llu, step %d)",
                    dead != -2 ? "a daemon died" : message, (unsigned long long)self->seed,
                    self->step);
    abort ();  //  not reached
}

//  --------------------------------------------------------------------------
//  Configuration

//  Three-letter name of a weekday that is not today (nor tomorrow, in case
//  the run crosses midnight).
static const char *s_other_day (void)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    time_t now = time (NULL);
    struct tm local;
    localtime_r (&now, &local);
    return days[(local.tm_wday + 3) % 7];
}

void busy_write_config (busy_t *self, const char *broken_env, const char *extra)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        abort ();
    fprintf (out,
             "#  written by the busy-operator test\n"
             "listen: 127.0.0.1\n"
             "port: %d\n"
             "heartbeat: 300ms\n"
             "signed-heartbeat: 300ms\n"
             "resend: 500ms\n"
             "plan-ttl: 10m\n"
             "step-deadline: 10s\n"
             "progress-deadline: 30s\n"
             "environments:\n",
             self->fleet->port);
    for (int index = 0; index < BUSY_ENVS; index++) {
        const busy_env_t *env = &self->envs[index];
        fprintf (out, "  %s: { strategy: %s", env->name, env->strategy);
        if (busy_streq (env->name, "dev"))
            fprintf (out, ", track: develop, auto_deploy: true");
        else if (busy_streq (env->name, "staging"))
            fprintf (out, ", track: \"release/*\", auto_deploy: true");
        else
            fprintf (out, ", track: main, requires: staging, "
                          "emergency_approvals: [tech-lead, product-owner]");
        if (env->batch[0])
            fprintf (out, ", batch: %s", env->batch);
        if (busy_streq (env->strategy, "canary"))
            fprintf (out, ", canary: %d, bake: %ds", env->canary, env->bake_s);
        if (env->closed)
            fprintf (out, ", windows: [\"%s 00:00-24:00\"]", s_other_day ());
        if (broken_env && busy_streq (broken_env, env->name))
            fprintf (out, ", %s", extra);
        fprintf (out, " }\n");
    }
    fprintf (out, "metrics-retention: 24h\n"
                  "rollup-retention: 30d\n"
                  "watch: 30m\n"
                  "http-listen: 127.0.0.1\n");
    if (self->alert_count)
        fprintf (out, "alerts:\n");
    for (int index = 0; index < self->alert_count; index++)
        fprintf (out, "  - { env: %s, metric: %s, above: %d, for: %ds }\n", self->alerts[index].env,
                 self->alerts[index].metric, self->alerts[index].above, self->alerts[index].for_s);
    fclose (out);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller/controller.yaml", self->fleet->dir);
    jt_write_file (path, text, 0600);
    free (text);
}

typedef struct {
    busy_t *busy;
    int reloaded;
    int refused;
} s_reload_wait_t;

static bool s_reload_seen (void *arg)
{
    s_reload_wait_t *wait = arg;
    return busy_log_count (wait->busy, -1, "configuration reloaded") > wait->reloaded ||
           busy_log_count (wait->busy, -1, "reload refused") > wait->refused;
}

bool busy_reload (busy_t *self)
{
    s_reload_wait_t wait = {self, busy_log_count (self, -1, "configuration reloaded"),
                            busy_log_count (self, -1, "reload refused")};
    if (kill (self->fleet->controller, SIGHUP) != 0)
        busy_fail (self, -1, "cannot SIGHUP the controller: %s", strerror (errno));
    if (!jt_wait_for (s_reload_seen, &wait, S_RELOAD_DEADLINE_MS))
        busy_fail (self, -1,
                   "the controller logged neither a reload nor a refusal %d s after SIGHUP",
                   S_RELOAD_DEADLINE_MS / 1000);
    self->reloads++;
    bool reloaded = busy_log_count (self, -1, "configuration reloaded") > wait.reloaded;
    self->generation += reloaded;
    if (!reloaded)
        self->refused_reloads++;
    return reloaded;
}

//  --------------------------------------------------------------------------
//  Processes

bool busy_controller_up (busy_t *self)
{
    return self->fleet->controller > 0;
}

static void s_downtime_begin (busy_t *self)
{
    if (self->downtime_count < BUSY_DOWNTIMES)
        self->downtimes[self->downtime_count++] = (busy_downtime_t){busy_now (), 0};
    else
        busy_fail (self, -2, "more than %d controller downtimes: raise BUSY_DOWNTIMES",
                   BUSY_DOWNTIMES);
}

static bool s_controller_answers (void *arg)
{
    busy_t *self = arg;
    char *output = NULL;
    int rc = jt_run (&output, "JADCTL_TIMEOUT_MS=10000 %s --config %s status", S_BIN_JADCTL,
                     self->fleet->admin_config);
    free (output);
    char why[128];
    if (s_daemon_gone (self, -1, why, sizeof why))
        busy_fail (self, -1, "the controller %s while starting", why);
    return rc == 0;
}

void busy_start_controller (busy_t *self)
{
    jt_fleet_start_controller (self->fleet);
    self->generation++;  //  controller.yaml may have been edited while it was down
    if (!jt_wait_for (s_controller_answers, self, S_START_DEADLINE_MS))
        busy_fail (self, -1, "the controller does not answer %d s after its start",
                   S_START_DEADLINE_MS / 1000);
    if (self->downtime_count && self->downtimes[self->downtime_count - 1].to == 0)
        self->downtimes[self->downtime_count - 1].to = busy_now ();
    self->down_steps = 0;
}

void busy_kill_controller (busy_t *self)
{
    char why[128];
    if (s_daemon_gone (self, -1, why, sizeof why))
        busy_fail (self, -1, "the controller %s before the test killed it", why);
    s_downtime_begin (self);
    jt_kill9 (self->fleet->controller);
    self->fleet->controller = 0;
}

//  SIGTERM pid and wait for it; its exit status (128+N for a signal), or
//  -2 if it did not stop within S_STOP_DEADLINE_MS (then its stacks are
//  printed and it is killed).
static int s_stop (const char *name, pid_t pid)
{
    kill (pid, SIGTERM);
    int64_t deadline = busy_now () + S_STOP_DEADLINE_MS;
    while (busy_now () < deadline) {
        int status = 0;
        pid_t done = waitpid (pid, &status, WNOHANG);
        if (done == pid)
            return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
        if (done < 0)
            return -1;
        usleep (20000);
    }
    s_print_stacks_of (name, pid);
    jt_kill9 (pid);
    return -2;
}

void busy_stop_controller (busy_t *self)
{
    char why[128];
    if (s_daemon_gone (self, -1, why, sizeof why))
        busy_fail (self, -1, "the controller %s before the test stopped it", why);
    s_downtime_begin (self);
    pid_t pid = self->fleet->controller;
    self->fleet->controller = 0;
    int status = s_stop ("controller", pid);
    if (status != 0)
        busy_fail (self, -1, "the controller %s on SIGTERM (status %d; a clean stop exits 0)",
                   status == -2 ? "did not stop in time" : "exited non-zero", status);
}

typedef struct {
    busy_t *busy;
    int index;
    int started;
} s_agent_wait_t;

static bool s_agent_started (void *arg)
{
    s_agent_wait_t *wait = arg;
    char why[128];
    if (s_daemon_gone (wait->busy, wait->index, why, sizeof why))
        busy_fail (wait->busy, wait->index, "agent %s %s while starting",
                   wait->busy->fleet->agent_names[wait->index], why);
    return busy_log_count (wait->busy, wait->index, "agent: started") > wait->started;
}

void busy_start_agent (busy_t *self, int index)
{
    s_agent_wait_t wait = {self, index, busy_log_count (self, index, "agent: started")};
    jt_fleet_start_agent (self->fleet, index);
    //  until then a SIGTERM would find no handler
    if (!jt_wait_for (s_agent_started, &wait, S_START_DEADLINE_MS))
        busy_fail (self, index, "agent %s did not start within %d s",
                   self->fleet->agent_names[index], S_START_DEADLINE_MS / 1000);
    self->agent_down_steps[index] = 0;
}

void busy_kill_agent (busy_t *self, int index)
{
    char why[128];
    if (s_daemon_gone (self, index, why, sizeof why))
        busy_fail (self, index, "agent %s %s before the test killed it",
                   self->fleet->agent_names[index], why);
    jt_kill9 (self->fleet->agents[index]);
    self->fleet->agents[index] = 0;
}

void busy_stop_agent (busy_t *self, int index)
{
    char why[128];
    if (s_daemon_gone (self, index, why, sizeof why))
        busy_fail (self, index, "agent %s %s before the test stopped it",
                   self->fleet->agent_names[index], why);
    pid_t pid = self->fleet->agents[index];
    self->fleet->agents[index] = 0;
    int status = s_stop (self->fleet->agent_names[index], pid);
    if (status != 0)
        busy_fail (self, index, "agent %s %s on SIGTERM (status %d; a clean stop exits 0)",
                   self->fleet->agent_names[index],
                   status == -2 ? "did not stop in time" : "exited non-zero", status);
}

//  --------------------------------------------------------------------------
//  jadctl

static void s_client_file (busy_t *self, const char *operator, char * path, size_t len)
{
    if (operator)
        snprintf (path, len, "%s/%s.jadctl.yaml", self->fleet->dir, operator);
    else
        snprintf (path, len, "%s", self->fleet->admin_config);
}

int busy_jadctl (busy_t *self, const char *operator, char ** output, const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    char *args = NULL;
    if (vasprintf (&args, format, argptr) < 0)
        abort ();
    va_end (argptr);
    char config[PATH_MAX];
    s_client_file (self, operator, config, sizeof config);
    int rc = jt_run (output, "JADCTL_TIMEOUT_MS=%d %s --config %s %s",
                     busy_controller_up (self) ? S_TIMEOUT_UP_MS : S_TIMEOUT_DOWN_MS, S_BIN_JADCTL,
                     config, args);
    free (args);
    return rc;
}

bool busy_jadctl_background (busy_t *self, const busy_release_t *release, unsigned allowed,
                             const char *refusal, const char *format, ...)
{
    if (self->waiter_count >= BUSY_WAITERS)
        return false;
    va_list argptr;
    va_start (argptr, format);
    busy_waiter_t *waiter = &self->waiters[self->waiter_count];
    memset (waiter, 0, sizeof *waiter);
    vsnprintf (waiter->command, sizeof waiter->command, format, argptr);
    va_end (argptr);
    snprintf (waiter->log, sizeof waiter->log, "%s/waiter-%d.log", self->fleet->dir, self->step);
    char *line = NULL;
    if (asprintf (&line, "exec env JADCTL_TIMEOUT_MS=%d %s --config %s %s", S_TIMEOUT_WAITER_MS,
                  S_BIN_JADCTL, self->fleet->admin_config, waiter->command) < 0)
        abort ();
    char *argv[] = {"/bin/sh", "-c", line, NULL};
    waiter->started = busy_now ();
    waiter->step = self->step;
    waiter->broken = release && release->broken;
    snprintf (waiter->version, sizeof waiter->version, "%s", release ? release->version : "");
    waiter->generation = self->generation;
    waiter->allowed = allowed;
    snprintf (waiter->refusal, sizeof waiter->refusal, "%s", refusal ? refusal : "");
    waiter->pid = jt_spawn (waiter->log, argv);
    free (line);
    self->waiter_count++;
    return true;
}

//  Was the controller down at some time after `since` (monotonic ms)? A
//  downtime that ended in the same millisecond a command started (the
//  step that restarts it) does not count: it answered before.
static bool s_controller_was_down (busy_t *self, int64_t since)
{
    for (int index = 0; index < self->downtime_count; index++)
        if (self->downtimes[index].to == 0 || self->downtimes[index].to > since)
            return true;
    return false;
}

void busy_check_code (busy_t *self, int code, unsigned allowed, int64_t since, const char *output,
                      const char *what)
{
    const char *text = output ? output : "";
    if (code < 0 || code > 3)
        busy_fail (self, -1, "%s: jadctl exited %d, not a documented exit code (0-3):\n%s", what,
                   code, text);
    if (code == 3) {
        if (!s_controller_was_down (self, since))
            busy_fail (self, -1, "%s: exit 3 (unreachable) while the controller ran:\n%s", what,
                       text);
        if (!strstr (text, "no answer from the controller") &&
            !strstr (text, "cannot send to the controller") &&
            !strstr (text, "cannot reach the controller"))
            busy_fail (self, -1, "%s: exit 3 without saying the controller is unreachable:\n%s",
                       what, text);
        return;
    }
    if (!busy_controller_up (self) && !s_controller_was_down (self, since))
        busy_fail (self, -1, "%s: exit %d from a controller the test had stopped", what, code);
    if (!(allowed & (1u << code)))
        busy_fail (self, -1, "%s: jadctl exited %d here:\n%s", what, code, text);
    if (code == 0 && strstr (text, "jadctl: "))
        busy_fail (self, -1, "%s: exit 0 with an error line:\n%s", what, text);
    if (code == 2 && !strstr (text, "jadctl: "))
        busy_fail (self, -1, "%s: exit 2 (refused) without saying why:\n%s", what, text);
}

json_t *busy_json (busy_t *self, const char *output, const char *what)
{
    json_error_t error;
    json_t *value = json_loads (output ? output : "", 0, &error);
    if (!value)
        busy_fail (self, -1, "%s: --json output is not JSON (%s, line %d):\n%s", what, error.text,
                   error.line, output ? output : "");
    return value;
}

//  --------------------------------------------------------------------------
//  Releases

busy_release_t *busy_release (busy_t *self, const char *version)
{
    for (int index = 0; index < self->release_count; index++)
        if (busy_streq (self->releases[index].version, version))
            return &self->releases[index];
    return NULL;
}

void busy_add_release (busy_t *self, bool broken, bool migrations, const char *branch)
{
    if (self->release_count >= BUSY_RELEASES)
        return;
    busy_release_t *release = &self->releases[self->release_count];
    snprintf (release->version, sizeof release->version, "1.%d", self->release_count);
    release->broken = broken;
    release->migrations = migrations;
    char manifest[1024], smoke[512], blob[24 * 1024 + 1], name[64];
    snprintf (manifest, sizeof manifest,
              "hooks:\n"
              "  pre_activate: ./hooks/prepare.sh\n"
              "%s"
              "  activate: ./hooks/activate.sh\n"
              "  smoke:\n"
              "    - run: ./hooks/smoke.sh\n"
              "      timeout: 10s\n"
              "metrics:\n"
              "  interval: 2s\n"
              "  sources:\n"
              "    - command: ./hooks/metrics.sh\n",
              migrations ? "  migrate_up: ./hooks/up.sh\n  migrate_down: ./hooks/down.sh\n" : "");
    if (broken)
        snprintf (smoke, sizeof smoke,
                  "#!/bin/sh\necho \"release $JADUGAR_VERSION is broken on $JADUGAR_HOST\"\n"
                  "exit 3\n");
    else
        snprintf (smoke, sizeof smoke,
                  "#!/bin/sh\n"
                  "[ \"$(cat \"$JADUGAR_RELEASE_DIR/VERSION\")\" = \"$JADUGAR_VERSION\" ] || "
                  "{ echo \"VERSION file is not $JADUGAR_VERSION\"; exit 4; }\n"
                  "[ \"$(cat \"$JADUGAR_SHARED_DIR/active\")\" = \"$JADUGAR_VERSION\" ] || "
                  "{ echo 'activate did not run'; exit 5; }\n");
    //  a payload that does not compress away, so unpacking takes a while
    uint64_t state = self->seed ^ (uint64_t)(self->release_count + 1) * 0x9E3779B97F4A7C15ULL;
    for (size_t index = 0; index + 1 < sizeof blob; index++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        blob[index] = "0123456789abcdef"[state & 15];
        if (index % 64 == 63)
            blob[index] = '\n';
    }
    blob[sizeof blob - 1] = 0;
    const char *files[] = {
        "jadugar.yaml",
        manifest,
        "hooks/prepare.sh",
        "#!/bin/sh\ntest -f ./VERSION && test -f ./data/blob\n",
        "hooks/activate.sh",
        "#!/bin/sh\necho \"$JADUGAR_VERSION\" > \"$JADUGAR_SHARED_DIR/active\"\n",
        "hooks/smoke.sh",
        smoke,
        "hooks/metrics.sh",
        "#!/bin/sh\necho busy_load 1\n",
        "hooks/up.sh",
        "#!/bin/sh\necho \"up $JADUGAR_VERSION\" >> "
        "\"$JADUGAR_SHARED_DIR/migrations\"\n",
        "hooks/down.sh",
        "#!/bin/sh\necho \"down $JADUGAR_VERSION\" >> "
        "\"$JADUGAR_SHARED_DIR/migrations\"\n",
        "data/blob",
        blob,
        "VERSION",
        release->version,
        NULL};
    snprintf (name, sizeof name, "web-%s", release->version);
    char *archive = jt_make_release (self->fleet->dir, name, files);
    char *output = NULL;
    int64_t since = busy_now ();
    int rc =
        busy_jadctl (self, NULL, &output, "release add %s %s %s%s%s", BUSY_APP, release->version,
                     archive, branch ? " --branch " : "", branch ? branch : "");
    busy_note (self, "release add %s%s%s%s -> %d", release->version, broken ? " (broken)" : "",
               branch ? " --branch " : "", branch ? branch : "", rc);
    busy_check_code (self, rc, BUSY_OK, since, output, "release add");
    if (rc == 0)
        self->release_count++;
    free (output);
    free (archive);
}

//  --------------------------------------------------------------------------
//  The fleet

busy_t *busy_new (uint64_t seed, int steps)
{
    busy_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->seed = seed;
    self->rng = seed ? seed : 0x853c49e6748fea9bULL;
    self->steps = steps;
    static const char *const names[] = {"dev", "staging", "prod"};
    for (int index = 0; index < BUSY_ENVS; index++)
        self->envs[index].name = names[index];
    snprintf (self->envs[0].strategy, sizeof self->envs[0].strategy, "all");
    snprintf (self->envs[1].strategy, sizeof self->envs[1].strategy, "rolling");
    snprintf (self->envs[1].batch, sizeof self->envs[1].batch, "1");
    snprintf (self->envs[2].strategy, sizeof self->envs[2].strategy, "canary");
    snprintf (self->envs[2].batch, sizeof self->envs[2].batch, "50%%");
    self->envs[2].canary = 1;
    self->envs[2].bake_s = 1;

    self->fleet = jt_fleet_new ();
    busy_note (self, "setup: controller on port %d in %s", self->fleet->port, self->fleet->dir);
    //  the test's configuration, in force from the first answer on
    busy_write_config (self, NULL, NULL);
    if (!jt_wait_for (s_controller_answers, self, S_START_DEADLINE_MS))
        busy_fail (self, -1, "the controller does not answer");
    busy_stop_controller (self);
    busy_start_controller (self);
    for (int index = 0; index < S_AGENTS; index++) {
        int added = jt_fleet_add_agent (self->fleet, s_agent_names[index], s_agent_envs[index]);
        s_agent_wait_t wait = {self, added, 0};
        if (!jt_wait_for (s_agent_started, &wait, S_START_DEADLINE_MS))
            busy_fail (self, added, "agent %s did not start", s_agent_names[index]);
    }
    if (!jt_fleet_wait_status (self->fleet, "\"state\": \"online\"", S_AGENTS, 60000))
        busy_fail (self, -1, "the %d agents did not come online", S_AGENTS);
    //  approvers for prod's emergencies, and someone who may only look
    jt_fleet_add_operator (self->fleet, "alice", "tech-lead");
    jt_fleet_add_operator (self->fleet, "bob", "product-owner");
    jt_fleet_add_operator (self->fleet, "vera", "viewer");
    //  the day starts with 1.0 everywhere
    busy_add_release (self, false, false, NULL);
    for (int index = 0; index < BUSY_ENVS; index++) {
        char *output = NULL;
        int rc = busy_jadctl (self, NULL, &output, "--json deploy %s 1.0 --env %s", BUSY_APP,
                              self->envs[index].name);
        if (rc != 0)
            busy_fail (self, -1, "setup: the first deploy to %s exited %d:\n%s",
                       self->envs[index].name, rc, output);
        json_t *result = busy_json (self, output, "deploy");
        const char *plan_id =
            json_string_value (json_object_get (json_object_get (result, "plan"), "id"));
        int64_t deadline = busy_now () + 120000;
        char *state = NULL;
        while (true) {
            free (state);
            state = busy_plan_state (self, plan_id ? plan_id : "");
            if (!busy_streq (state, "running") || busy_now () > deadline)
                break;
            usleep (200000);
        }
        if (!busy_streq (state, "succeeded"))
            busy_fail (self, -1, "setup: the first deploy to %s (plan %s) is %s",
                       self->envs[index].name, plan_id, state);
        free (state);
        json_decref (result);
        free (output);
    }
    //  a rule that never fires (every release reports busy_load 1)
    self->alerts[0] = (busy_alert_t){"staging", "busy_load", 1000, 2};
    self->alert_count = 1;
    busy_write_config (self, NULL, NULL);
    if (!busy_reload (self))
        busy_fail (self, -1, "setup: the first alert rule was refused");
    busy_step_done (self);
    return self;
}

void busy_destroy (busy_t **self_p)
{
    busy_t *self = *self_p;
    if (!self)
        return;
    for (int index = 0; index < self->fleet->agent_count; index++)
        if (self->fleet->agents[index] > 0)
            busy_stop_agent (self, index);
    if (busy_controller_up (self))
        busy_stop_controller (self);
    jt_fleet_destroy (&self->fleet);
    free (self->current);
    free (self);
    *self_p = NULL;
}
