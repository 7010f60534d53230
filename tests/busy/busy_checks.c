//  busy_checks - the busy operator's invariants, checked after every step
//  and whenever the fleet settles
//  SPDX-License-Identifier: MPL-2.0
//
//  What the test reads itself (release directories, the controller's
//  database, read-only) it reads to judge what jadctl and the daemons say,
//  never to drive them.

#include "busy.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_SETTLE_ONLINE_MS  120000
#define S_SETTLE_PLANS_MS   180000
#define S_SETTLE_WAITERS_MS 120000
#define S_SETTLE_STATUS_MS  60000
#define S_BLOB_SIZE         (24 * 1024)

//  --------------------------------------------------------------------------
//  The controller's database, read-only

static sqlite3 *s_db_open (busy_t *self)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller/state.db", self->fleet->dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        char message[512];
        snprintf (message, sizeof message, "%s", db ? sqlite3_errmsg (db) : "out of memory");
        sqlite3_close (db);
        busy_fail (self, -1, "cannot open %s read-only: %s", path, message);
    }
    sqlite3_busy_timeout (db, 5000);
    return db;
}

static sqlite3_stmt *s_db_query (busy_t *self, sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        char message[512];
        snprintf (message, sizeof message, "%s", sqlite3_errmsg (db));
        sqlite3_close (db);
        busy_fail (self, -1, "the controller's database refuses '%s': %s", sql, message);
    }
    return stmt;
}

static const char *s_column (sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text (stmt, column);
    return text ? text : "";
}

json_t *busy_open_plans (busy_t *self)
{
    sqlite3 *db = s_db_open (self);
    sqlite3_stmt *stmt = s_db_query (self, db,
                                     "SELECT id, state, paused FROM plans WHERE state IN "
                                     "('running', 'approval') ORDER BY created, rowid");
    json_t *plans = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (plans, json_pack ("{s:s, s:s, s:b}", "id", s_column (stmt, 0),
                                                 "state", s_column (stmt, 1), "paused",
                                                 sqlite3_column_int (stmt, 2) != 0));
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return plans;
}

bool busy_succeeded_in (busy_t *self, const char *env, const char *version)
{
    sqlite3 *db = s_db_open (self);
    sqlite3_stmt *stmt = s_db_query (self, db,
                                     "SELECT 1 FROM plans WHERE env = ? AND app = '" BUSY_APP
                                     "' AND version = ? AND kind = 'deploy' AND state = "
                                     "'succeeded'");
    sqlite3_bind_text (stmt, 1, env, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, version, -1, SQLITE_TRANSIENT);
    bool found = sqlite3_step (stmt) == SQLITE_ROW;
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return found;
}

char *busy_plan_state (busy_t *self, const char *plan_id)
{
    sqlite3 *db = s_db_open (self);
    sqlite3_stmt *stmt = s_db_query (self, db, "SELECT state FROM plans WHERE id = ?");
    sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
    char *state = strdup (sqlite3_step (stmt) == SQLITE_ROW ? s_column (stmt, 0) : "");
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return state;
}

char *busy_some_plan (busy_t *self, uint32_t position)
{
    sqlite3 *db = s_db_open (self);
    sqlite3_stmt *stmt = s_db_query (self, db,
                                     "SELECT id FROM plans ORDER BY created, rowid LIMIT 1 OFFSET "
                                     "(?1 % max (1, (SELECT count (*) FROM plans)))");
    sqlite3_bind_int64 (stmt, 1, position);
    char *plan_id = strdup (sqlite3_step (stmt) == SQLITE_ROW ? s_column (stmt, 0) : "");
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return plan_id;
}

void busy_check_audit_rows (busy_t *self, json_t *rows, const char *output)
{
    sqlite3 *db = s_db_open (self);
    sqlite3_stmt *stmt =
        s_db_query (self, db, "SELECT operator, command, outcome FROM audit WHERE id = ?");
    size_t index;
    json_t *row;
    json_array_foreach (rows, index, row)
    {
        json_int_t id = json_integer_value (json_object_get (row, "id"));
        const char *fields[3] = {json_string_value (json_object_get (row, "operator")),
                                 json_string_value (json_object_get (row, "command")),
                                 json_string_value (json_object_get (row, "outcome"))};
        sqlite3_reset (stmt);
        sqlite3_bind_int64 (stmt, 1, id);
        bool same = sqlite3_step (stmt) == SQLITE_ROW;
        for (int field = 0; same && field < 3; field++)
            same = fields[field] && busy_streq (fields[field], s_column (stmt, field));
        if (!same) {
            sqlite3_finalize (stmt);
            sqlite3_close (db);
            busy_fail (self, -1, "jadctl audit shows row %lld otherwise than the database:\n%s",
                       (long long)id, output);
        }
    }
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}

//  --------------------------------------------------------------------------
//  The audit log only grows

static uint64_t s_fnv (uint64_t hash, const char *text)
{
    for (const unsigned char *cursor = (const unsigned char *)text; *cursor; cursor++)
        hash = (hash ^ *cursor) * 0x100000001b3ULL;
    return (hash ^ '\n') * 0x100000001b3ULL;
}

static void s_check_audit (busy_t *self)
{
    sqlite3 *db = s_db_open (self);
    sqlite3_stmt *stmt = s_db_query (self, db,
                                     "SELECT id, time, operator, command, coalesce (args, ''), "
                                     "outcome FROM audit ORDER BY id");
    uint64_t seen_hash = 0xcbf29ce484222325ULL, hash = seen_hash;
    int64_t seen_rows = 0, rows = 0, last = 0;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        char row[4096];
        snprintf (row, sizeof row, "%lld|%lld|%s|%s|%s|%s",
                  (long long)sqlite3_column_int64 (stmt, 0),
                  (long long)sqlite3_column_int64 (stmt, 1), s_column (stmt, 2), s_column (stmt, 3),
                  s_column (stmt, 4), s_column (stmt, 5));
        last = sqlite3_column_int64 (stmt, 0);
        hash = s_fnv (hash, row);
        rows++;
        if (last <= self->audit_last) {
            seen_hash = hash;
            seen_rows = rows;
        }
    }
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    if (rows < self->audit_rows || seen_rows != self->audit_rows ||
        (self->audit_rows && seen_hash != self->audit_hash))
        busy_fail (self, -1,
                   "the audit log changed behind its end: it had %lld rows up to id %lld, now "
                   "%lld rows of which %lld up to that id%s",
                   (long long)self->audit_rows, (long long)self->audit_last, (long long)rows,
                   (long long)seen_rows,
                   seen_rows == self->audit_rows ? ", with different contents" : "");
    self->audit_rows = rows;
    self->audit_last = last;
    self->audit_hash = hash;
}

//  --------------------------------------------------------------------------
//  Every host's `current` points at a whole release

//  Where agent index's `current` points ("" when absent); fails the test
//  when it is there but not a symlink.
static void s_current (busy_t *self, int index, char *target, size_t len)
{
    char *root = jt_fleet_root (self->fleet, index);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/" BUSY_APP "/current", root);
    free (root);
    target[0] = 0;
    struct stat info;
    if (lstat (path, &info) != 0) {
        if (errno != ENOENT)
            busy_fail (self, index, "cannot lstat %s: %s", path, strerror (errno));
        return;
    }
    if (!S_ISLNK (info.st_mode))
        busy_fail (self, index, "%s is not a symlink (mode %o)", path, (unsigned)info.st_mode);
    ssize_t got = readlink (path, target, len - 1);
    if (got < 0)
        busy_fail (self, index, "cannot readlink %s: %s", path, strerror (errno));
    target[got] = 0;
}

//  What is wrong with the release `target` (relative to the app dir) on
//  agent index, or NULL when it is whole.
static const char *s_release_problem (busy_t *self, int index, const char *target, char *why,
                                      size_t len)
{
    if (strncmp (target, "releases/", 9) != 0 || strchr (target + 9, '/'))
        return snprintf (why, len, "points at '%s', not releases/VERSION", target), why;
    const busy_release_t *release = busy_release (self, target + 9);
    if (!release)
        return snprintf (why, len, "points at '%s', a version never added", target), why;
    const char *version = release->version;
    char *root = jt_fleet_root (self->fleet, index);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/" BUSY_APP "/releases/%s/VERSION", root, version);
    char *text = jt_read_file (path);
    if (!text || !busy_streq (text, version))
        snprintf (why, len, "points at %s whose VERSION is '%s'", target, text ? text : "missing");
    else {
        snprintf (path, sizeof path, "%s/" BUSY_APP "/releases/%s/data/blob", root, version);
        struct stat info;
        if (stat (path, &info) != 0 || info.st_size != S_BLOB_SIZE)
            snprintf (why, len, "points at %s whose data/blob is %s", target,
                      stat (path, &info) != 0 ? "missing" : "short");
        else {
            snprintf (path, sizeof path, "%s/" BUSY_APP "/releases/%s/hooks/smoke.sh", root,
                      version);
            if (access (path, X_OK) != 0)
                snprintf (why, len, "points at %s without an executable hooks/smoke.sh", target);
            else
                why = NULL;
        }
    }
    free (text);
    free (root);
    return why;
}

static void s_check_current (busy_t *self, int index)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        char target[PATH_MAX], again[PATH_MAX], why[PATH_MAX + 128];
        s_current (self, index, target, sizeof target);
        if (!target[0]) {
            if (self->setup_done)
                busy_fail (self, index, "%s has no current release",
                           self->fleet->agent_names[index]);
            return;
        }
        const char *problem = s_release_problem (self, index, target, why, sizeof why);
        if (!problem)
            return;
        //  switched (and the old release pruned) while we looked: again
        s_current (self, index, again, sizeof again);
        if (busy_streq (again, target))
            busy_fail (self, index, "%s: current %s", self->fleet->agent_names[index], problem);
    }
}

//  --------------------------------------------------------------------------
//  Background waiters

//  Check a finished waiter's exit code against its plan's end.
static void s_check_waiter (busy_t *self, busy_waiter_t *waiter, int code)
{
    char what[512];
    snprintf (what, sizeof what, "`jadctl %s` started at step %d", waiter->command, waiter->step);
    char *output = jt_read_file (waiter->log);
    //  what the policy said when it started may have changed since
    bool changed = waiter->generation != self->generation;
    unsigned allowed = waiter->allowed;
    if (changed)
        allowed |= BUSY_OK | BUSY_FAILED | BUSY_REFUSED;
    if (waiter->version[0] && busy_streq (waiter->refusal, "refused by requires") &&
        busy_succeeded_in (self, "staging", waiter->version))
        allowed |= BUSY_OK | BUSY_FAILED;  //  promoted meanwhile
    busy_check_code (self, code, allowed, waiter->started, output, what);
    //  a deploy refused by policy names the rule
    const char *refusal = changed || !waiter->refusal[0] ? "refused by" : waiter->refusal;
    if (code == 2 && strncmp (waiter->command, "deploy", 6) == 0 && !strstr (output, refusal))
        busy_fail (self, -1, "%s: refused, but not '%s':\n%s", what, refusal, output);
    if (code == 0 || code == 1) {
        //  first line "plan ID: ...", last "plan ID STATE: REASON"
        char plan_id[64] = "", state[32] = "";
        if (!output || sscanf (output, "plan %63[^: ]:", plan_id) != 1)
            busy_fail (self, -1, "%s: exit %d without its plan line:\n%s", what, code,
                       output ? output : "");
        char needle[96];
        snprintf (needle, sizeof needle, "\nplan %s ", plan_id);
        const char *line = NULL;
        for (const char *cursor = strstr (output, needle); cursor;
             cursor = strstr (cursor + 1, needle))
            line = cursor;
        if (!line || sscanf (line + strlen (needle), "%31[^:]:", state) != 1)
            busy_fail (self, -1, "%s: exit %d without the plan's outcome line:\n%s", what, code,
                       output);
        char *stored = busy_plan_state (self, plan_id);
        const char *expected = code == 0 ? "succeeded" : "failed";
        if (!busy_streq (state, expected) || !busy_streq (stored, expected))
            busy_fail (self, -1,
                       "%s: exit %d but it printed state '%s' and the controller stored '%s' for "
                       "plan %s:\n%s",
                       what, code, state, stored, plan_id, output);
        if (code == 0 && waiter->broken)
            busy_fail (self, -1, "%s: a release whose smoke check always fails succeeded:\n%s",
                       what, output);
        free (stored);
    }
    free (output);
}

//  Reap the waiters that finished (all of them, waiting up to wait_ms).
static void s_reap_waiters (busy_t *self, int wait_ms)
{
    int64_t deadline = busy_now () + wait_ms;
    while (true) {
        for (int index = 0; index < self->waiter_count;) {
            busy_waiter_t *waiter = &self->waiters[index];
            int status = 0;
            pid_t done = waitpid (waiter->pid, &status, WNOHANG);
            if (done == waiter->pid) {
                int code = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
                busy_note (self, "waiter from step %d exited %d", waiter->step, code);
                s_check_waiter (self, waiter, code);
                unlink (waiter->log);
                self->waiters[index] = self->waiters[--self->waiter_count];
            } else
                index++;
        }
        if (self->waiter_count == 0 || busy_now () >= deadline)
            break;
        usleep (100000);
    }
    if (wait_ms > 0 && self->waiter_count > 0) {
        busy_waiter_t *waiter = &self->waiters[0];
        char *output = jt_read_file (waiter->log);
        busy_fail (self, -1,
                   "`jadctl %s` (step %d) still runs %d s after every plan ended; it printed:\n%s",
                   waiter->command, waiter->step, wait_ms / 1000, output ? output : "");
    }
}

//  --------------------------------------------------------------------------

void busy_check_step (busy_t *self)
{
    char why[128];
    int dead = busy_find_dead (self, 0, why, sizeof why);
    if (dead != -2)
        busy_fail (self, dead, "the %s died unexpectedly: %s",
                   dead < 0 ? "controller" : self->fleet->agent_names[dead], why);
    for (int index = 0; index < self->fleet->agent_count; index++)
        s_check_current (self, index);
    s_check_audit (self);
    s_reap_waiters (self, 0);
}

void busy_check_alerts (busy_t *self, const char *why)
{
    char *output = NULL;
    int64_t since = busy_now ();
    int rc = busy_jadctl (self, NULL, &output, "--json alerts");
    busy_check_code (self, rc, BUSY_OK, since, output, "alerts");
    if (rc != 0) {
        free (output);
        return;
    }
    json_t *result = busy_json (self, output, "alerts");
    json_t *rules = json_object_get (result, "alerts");
    int config_rules = 0;
    size_t index;
    json_t *rule;
    json_array_foreach (rules, index, rule)
    {
        const char *origin = json_string_value (json_object_get (rule, "origin"));
        if (!origin || !busy_streq (origin, "config"))
            continue;
        config_rules++;
        bool known = false;
        for (int model = 0; model < self->alert_count && !known; model++) {
            const busy_alert_t *alert = &self->alerts[model];
            const char *env = json_string_value (json_object_get (rule, "env"));
            const char *metric = json_string_value (json_object_get (rule, "metric"));
            known = env && metric && busy_streq (env, alert->env) &&
                    busy_streq (metric, alert->metric) &&
                    json_number_value (json_object_get (rule, "threshold")) == alert->above &&
                    json_integer_value (json_object_get (rule, "for_ms")) == alert->for_s * 1000;
        }
        if (!known)
            busy_fail (self, -1,
                       "%s: jadctl alerts lists a config rule not in controller.yaml:\n%s", why,
                       output);
    }
    if (config_rules != self->alert_count)
        busy_fail (self, -1, "%s: jadctl alerts lists %d config rules, controller.yaml has %d:\n%s",
                   why, config_rules, self->alert_count, output);
    json_decref (result);
    free (output);
}

//  --------------------------------------------------------------------------
//  Settling: the fleet whole, every plan ended, status agrees with disks

//  Versions per agent from `jadctl --json status` into versions[] ("" when
//  it reports none); false when an agent is missing or not online (its
//  index in *culprit).
static bool s_status_versions (busy_t *self, char versions[][32], char *problem, size_t len,
                               int *culprit)
{
    char *output = NULL;
    int64_t since = busy_now ();
    int rc = busy_jadctl (self, NULL, &output, "--json status");
    busy_check_code (self, rc, BUSY_OK, since, output, "status");
    json_t *result = busy_json (self, output, "status");
    free (output);
    bool complete = true;
    for (int index = 0; index < self->fleet->agent_count && complete; index++) {
        const char *name = self->fleet->agent_names[index];
        json_t *agent = NULL, *item;
        size_t position;
        json_array_foreach (json_object_get (result, "agents"), position, item)
        {
            const char *other = json_string_value (json_object_get (item, "name"));
            if (other && busy_streq (other, name))
                agent = item;
        }
        const char *state = json_string_value (json_object_get (agent, "state"));
        if (!agent || !state || !busy_streq (state, "online")) {
            snprintf (problem, len, "%s is %s", name, state ? state : "missing from status");
            *culprit = index;
            complete = false;
            break;
        }
        const char *version = json_string_value (json_object_get (
            json_object_get (json_object_get (agent, "apps"), BUSY_APP), "version"));
        snprintf (versions[index], 32, "%s", version ? version : "");
    }
    json_decref (result);
    return complete;
}

//  Resume paused plans and approve emergencies until no plan runs.
static void s_end_plans (busy_t *self)
{
    int64_t deadline = busy_now () + S_SETTLE_PLANS_MS;
    while (true) {
        json_t *plans = busy_open_plans (self);
        if (json_array_size (plans) == 0) {
            json_decref (plans);
            return;
        }
        if (busy_now () > deadline) {
            const char *plan_id =
                json_string_value (json_object_get (json_array_get (plans, 0), "id"));
            char *output = NULL;
            busy_jadctl (self, NULL, &output, "plan show %s", plan_id);
            busy_fail (self, -1,
                       "plan %s has not ended %d s after the fleet was whole (%zu plans open):\n%s",
                       plan_id, S_SETTLE_PLANS_MS / 1000, json_array_size (plans), output);
        }
        size_t index;
        json_t *plan;
        json_array_foreach (plans, index, plan)
        {
            const char *plan_id = json_string_value (json_object_get (plan, "id"));
            const char *state = json_string_value (json_object_get (plan, "state"));
            char *output = NULL;
            int64_t since = busy_now ();
            if (busy_streq (state, "approval")) {
                static const char *const approvers[] = {"alice", "bob"};
                for (int who = 0; who < 2; who++) {
                    int rc =
                        busy_jadctl (self, approvers[who], &output, "plan approve %s", plan_id);
                    busy_note (self, "settle: %s approves %s -> %d", approvers[who], plan_id, rc);
                    busy_check_code (self, rc, BUSY_OK | BUSY_REFUSED, since, output, "approve");
                    free (output);
                    output = NULL;
                }
            } else if (json_is_true (json_object_get (plan, "paused"))) {
                int rc = busy_jadctl (self, NULL, &output, "plan resume %s", plan_id);
                busy_note (self, "settle: resume %s -> %d", plan_id, rc);
                busy_check_code (self, rc, BUSY_OK | BUSY_REFUSED, since, output, "resume");
            }
            free (output);
        }
        json_decref (plans);
        usleep (300000);
        busy_check_step (self);
    }
}

//  The plan of each environment that ended last, when it succeeded, put
//  its version on every host it made healthy, unless a later plan's step
//  finished on that host after it. Ended last, not created last: an
//  emergency plan created before a deploy may wait for its approvals and
//  run after it; and a paused plan whose hosts were all done may be
//  resumed, and end, after a newer plan ran on them. A plan not yet ended
//  comes first, and then nothing is checked.
static void s_check_deployment_log (busy_t *self, char versions[][32])
{
    sqlite3 *db = s_db_open (self);
    for (int env = 0; env < BUSY_ENVS; env++) {
        sqlite3_stmt *stmt = s_db_query (
            self, db,
            "SELECT id, version, state FROM plans WHERE env = ? AND app = '" BUSY_APP
            "' AND kind IN ('deploy', 'rollback') "
            "ORDER BY finished IS NULL DESC, finished DESC, created DESC, rowid DESC LIMIT 1");
        sqlite3_bind_text (stmt, 1, self->envs[env].name, -1, SQLITE_TRANSIENT);
        char plan_id[64] = "", version[32] = "", state[32] = "";
        if (sqlite3_step (stmt) == SQLITE_ROW) {
            snprintf (plan_id, sizeof plan_id, "%s", s_column (stmt, 0));
            snprintf (version, sizeof version, "%s", s_column (stmt, 1));
            snprintf (state, sizeof state, "%s", s_column (stmt, 2));
        }
        sqlite3_finalize (stmt);
        if (!busy_streq (state, "succeeded"))
            continue;
        stmt = s_db_query (self, db,
                           "SELECT agent FROM plan_hosts h WHERE plan_id = ? AND state = 'healthy' "
                           "AND NOT EXISTS (SELECT 1 FROM plan_hosts o JOIN plans p ON p.id = "
                           "o.plan_id WHERE o.agent = h.agent AND o.plan_id != h.plan_id AND "
                           "p.app = '" BUSY_APP "' AND o.finished > h.finished)");
        sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
        while (sqlite3_step (stmt) == SQLITE_ROW) {
            const char *agent = s_column (stmt, 0);
            for (int index = 0; index < self->fleet->agent_count; index++)
                if (busy_streq (agent, self->fleet->agent_names[index]) &&
                    !busy_streq (versions[index], version)) {
                    char message[512];
                    snprintf (message, sizeof message,
                              "%s's last plan %s (%s) succeeded and made %s healthy, but "
                              "%s runs '%s'",
                              self->envs[env].name, plan_id, version, agent, agent,
                              versions[index]);
                    sqlite3_finalize (stmt);
                    sqlite3_close (db);
                    busy_fail (self, index, "%s", message);
                }
        }
        sqlite3_finalize (stmt);
    }
    sqlite3_close (db);
}

void busy_settle (busy_t *self)
{
    self->settles++;
    busy_note (self, "settle");
    if (!busy_controller_up (self)) {
        busy_note (self, "start controller");
        busy_start_controller (self);
    }
    for (int index = 0; index < self->fleet->agent_count; index++)
        if (self->fleet->agents[index] <= 0) {
            busy_note (self, "start %s", self->fleet->agent_names[index]);
            busy_start_agent (self, index);
        }
    char versions[JT_MAX_AGENTS][32], problem[2 * PATH_MAX] = "";
    int culprit = -1;
    int64_t deadline = busy_now () + S_SETTLE_ONLINE_MS;
    while (!s_status_versions (self, versions, problem, sizeof problem, &culprit)) {
        if (busy_now () > deadline)
            busy_fail (self, culprit, "the fleet is not whole %d s after every daemon started: %s",
                       S_SETTLE_ONLINE_MS / 1000, problem);
        usleep (300000);
        busy_check_step (self);
    }
    s_end_plans (self);
    s_reap_waiters (self, S_SETTLE_WAITERS_MS);
    //  status agrees with the disks (the agents report within a heartbeat)
    deadline = busy_now () + S_SETTLE_STATUS_MS;
    while (true) {
        bool agree = s_status_versions (self, versions, problem, sizeof problem, &culprit);
        for (int index = 0; index < self->fleet->agent_count && agree; index++) {
            char target[PATH_MAX];
            s_current (self, index, target, sizeof target);
            const char *on_disk = strncmp (target, "releases/", 9) == 0 ? target + 9 : target;
            if (!busy_streq (on_disk, versions[index])) {
                snprintf (problem, sizeof problem,
                          "jadctl status says %s runs '%s', its disk says '%s'",
                          self->fleet->agent_names[index], versions[index], on_disk);
                culprit = index;
                agree = false;
            }
        }
        if (agree)
            break;
        if (busy_now () > deadline)
            busy_fail (self, culprit, "settled, but %s (still %d s later)", problem,
                       S_SETTLE_STATUS_MS / 1000);
        usleep (300000);
    }
    for (int index = 0; index < self->fleet->agent_count; index++) {
        busy_release_t *release = busy_release (self, versions[index]);
        if (release && release->broken)
            busy_fail (self, index,
                       "settled, but %s runs %s, whose smoke check fails everywhere: the failed "
                       "plan left it there",
                       self->fleet->agent_names[index], versions[index]);
    }
    s_check_deployment_log (self, versions);
    busy_check_step (self);
}
