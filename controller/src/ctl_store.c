//  ctl_store - the controller's SQLite schema and shared queries
//  SPDX-License-Identifier: MPL-2.0
//
//  Schema changes are appended as new migrations, never edited in place:
//  a newer controller must open an older state.db.

#include "ctl_store.h"
#include "jad_db.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *const s_migrations[] = {
    //  1: the core path
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
    "INSERT INTO meta (key, value) VALUES ('sequence', '0');"
    "CREATE TABLE operators (name TEXT PRIMARY KEY, public_key TEXT UNIQUE NOT NULL,"
    "  roles TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE agents (name TEXT PRIMARY KEY, public_key TEXT UNIQUE NOT NULL,"
    "  env TEXT NOT NULL, state TEXT NOT NULL, incarnation TEXT, last_seen INTEGER,"
    "  last_sequence INTEGER, address TEXT, created INTEGER NOT NULL);"
    "CREATE TABLE agent_apps (agent TEXT NOT NULL, app TEXT NOT NULL, version TEXT,"
    "  health TEXT, plan_id TEXT, updated INTEGER, PRIMARY KEY (agent, app));"
    "CREATE TABLE releases (app TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL,"
    "  length INTEGER NOT NULL, branch TEXT, commit_id TEXT, notes TEXT,"
    "  created INTEGER NOT NULL, PRIMARY KEY (app, version));"
    "CREATE INDEX releases_sha ON releases (sha256);"
    "CREATE TABLE plans (id TEXT PRIMARY KEY, app TEXT NOT NULL, version TEXT NOT NULL,"
    "  env TEXT NOT NULL, kind TEXT NOT NULL, strategy TEXT NOT NULL, state TEXT NOT NULL,"
    "  reason TEXT, undoes TEXT, deployer TEXT, created INTEGER NOT NULL, finished INTEGER,"
    "  progress INTEGER NOT NULL);"
    "CREATE INDEX plans_env ON plans (env, app, created);"
    "CREATE TABLE plan_hosts (plan_id TEXT NOT NULL REFERENCES plans (id), agent TEXT NOT NULL,"
    "  state TEXT NOT NULL, step TEXT, detail TEXT, last_sent INTEGER, updated INTEGER,"
    "  PRIMARY KEY (plan_id, agent));"
    "CREATE INDEX plan_hosts_agent ON plan_hosts (agent, state);"
    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, plan_id TEXT, agent TEXT,"
    "  time INTEGER NOT NULL, step TEXT, status TEXT, detail TEXT, output TEXT,"
    "  duration_ms INTEGER);"
    "CREATE INDEX events_plan ON events (plan_id, id);"
    "CREATE TABLE reports_seen (agent TEXT NOT NULL, incarnation TEXT NOT NULL,"
    "  report_id INTEGER NOT NULL, PRIMARY KEY (agent, incarnation, report_id)) WITHOUT ROWID;"
    "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
    "  operator TEXT NOT NULL, command TEXT NOT NULL, args TEXT, outcome TEXT NOT NULL);"
    //  The audit log is append-only: the database itself refuses edits.
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE (ABORT, 'audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE (ABORT, 'audit log is append-only'); END;",
    //  issue 4: rollout engine (batches, bake, tasks), policy, migrations.
    //  Rollout state lives here, not in memory, so a restarted controller
    //  resumes a rollout where it was. Decisions are events of agent
    //  'controller'.
    "ALTER TABLE plans ADD COLUMN batch TEXT;"
    "ALTER TABLE plans ADD COLUMN canary INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE plans ADD COLUMN bake_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE plans ADD COLUMN phase TEXT NOT NULL DEFAULT 'rollout';"
    "ALTER TABLE plans ADD COLUMN phase_started INTEGER;"
    "ALTER TABLE plans ADD COLUMN baked INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE plans ADD COLUMN current_batch INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE plans ADD COLUMN batches INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE plans ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE plans ADD COLUMN emergency TEXT;"
    "ALTER TABLE plans ADD COLUMN skip_offline INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE plans ADD COLUMN rolled_back_by TEXT;"
    "ALTER TABLE plans ADD COLUMN previous TEXT;"
    "ALTER TABLE plans ADD COLUMN parent TEXT;"
    "ALTER TABLE plans ADD COLUMN task TEXT;"
    "ALTER TABLE plans ADD COLUMN action TEXT NOT NULL DEFAULT 'apply';"
    "ALTER TABLE plans ADD COLUMN migrations TEXT;"
    "CREATE INDEX plans_parent ON plans (parent);"
    "ALTER TABLE plan_hosts ADD COLUMN batch INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE plan_hosts ADD COLUMN started INTEGER;"
    "ALTER TABLE plan_hosts ADD COLUMN finished INTEGER;"
    "ALTER TABLE releases ADD COLUMN migrate_up INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE releases ADD COLUMN migrate_down INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE approvals (plan_id TEXT NOT NULL, operator TEXT NOT NULL,"
    "  roles TEXT NOT NULL, time INTEGER NOT NULL, PRIMARY KEY (plan_id, operator));"
    "CREATE TABLE migrations (env TEXT NOT NULL, app TEXT NOT NULL, version TEXT NOT NULL,"
    "  state TEXT NOT NULL, host TEXT, plan_id TEXT, time INTEGER NOT NULL,"
    "  PRIMARY KEY (env, app, version));",
    //  issue 5: metrics, alert rules, automatic decisions
    "CREATE TABLE metric_names (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);"
    "CREATE TABLE metric_hosts (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
    "  dropped INTEGER NOT NULL DEFAULT 0, samples INTEGER NOT NULL DEFAULT 0, last_batch INTEGER);"
    "CREATE TABLE samples (metric INTEGER NOT NULL, host INTEGER NOT NULL, ts INTEGER NOT NULL,"
    "  value REAL NOT NULL);"
    "CREATE INDEX samples_metric_ts ON samples (metric, ts);"
    "CREATE TABLE rollups (metric INTEGER NOT NULL, host INTEGER NOT NULL, minute INTEGER NOT NULL,"
    "  count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,"
    "  PRIMARY KEY (metric, host, minute)) WITHOUT ROWID;"
    "INSERT INTO meta (key, value) VALUES ('rollup_rowid', '0');"
    "CREATE TABLE alert_rules (id TEXT PRIMARY KEY, origin TEXT NOT NULL, env TEXT NOT NULL,"
    "  metric TEXT NOT NULL, query TEXT, aggregate TEXT NOT NULL, window_ms INTEGER NOT NULL,"
    "  above INTEGER NOT NULL, threshold REAL NOT NULL, for_ms INTEGER NOT NULL,"
    "  min_samples INTEGER NOT NULL, action TEXT, state TEXT NOT NULL DEFAULT 'ok',"
    "  since INTEGER, value REAL, samples INTEGER, hosts INTEGER, changed INTEGER,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE alert_events (id INTEGER PRIMARY KEY AUTOINCREMENT, rule_id TEXT NOT NULL,"
    "  time INTEGER NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL, value REAL,"
    "  samples INTEGER, hosts INTEGER, detail TEXT);"
    "CREATE INDEX alert_events_rule ON alert_events (rule_id, id);"
    "CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, plan_id TEXT, undoes TEXT,"
    "  rule_id TEXT, time INTEGER NOT NULL, what TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE INDEX decisions_plan ON decisions (plan_id);"
    "CREATE INDEX decisions_undoes ON decisions (undoes);"
    "ALTER TABLE releases ADD COLUMN bad TEXT;",
    //  issue 3: secure channel: agents' refusal counters (JSON object text)
    "ALTER TABLE agents ADD COLUMN refusals TEXT;",
    //  issue 3b: the agents' stale alarm; release counters (per app, in the
    //  order releases were added) and security floors
    "ALTER TABLE agents ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE agents ADD COLUMN stale_alarms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE releases ADD COLUMN counter INTEGER NOT NULL DEFAULT 0;"
    "UPDATE releases SET counter = (SELECT count (*) FROM releases r WHERE r.app = releases.app"
    "  AND (r.created < releases.created OR (r.created = releases.created"
    "  AND r.rowid <= releases.rowid)));"
    "CREATE TABLE floors (app TEXT PRIMARY KEY, counter INTEGER NOT NULL,"
    "  version TEXT NOT NULL, operator TEXT, time INTEGER NOT NULL);",
    //  soak: acknowledged metric streams (go-back-N): per host the agent's
    //  current stream and the highest batch stored in order
    ("ALTER TABLE metric_hosts ADD COLUMN stream TEXT;"
     "ALTER TABLE metric_hosts ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;"),
};

sqlite3 *ctl_store_open (const char *path, bool create)
{
    return jad_db_open (path, create, s_migrations,
                        (int)(sizeof s_migrations / sizeof s_migrations[0]));
}

uint64_t ctl_store_next_sequence (sqlite3 *db)
{
    int64_t value = 0;
    if (jad_db_exec (db, "UPDATE meta SET value = CAST (value AS INTEGER) + 1 "
                         "WHERE key = 'sequence'") ||
        jad_db_get_int (db, "SELECT CAST (value AS INTEGER) FROM meta WHERE key = 'sequence'", NULL,
                        &value) != 0)
        return 0;
    return (uint64_t)value;
}

const char *ctl_store_iso_time (int64_t ms, char *buf, size_t len)
{
    if (ms <= 0) {
        if (len)
            buf[0] = 0;
        return buf;
    }
    time_t seconds = (time_t)(ms / 1000);
    struct tm parts;
    gmtime_r (&seconds, &parts);
    strftime (buf, len, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return buf;
}

int ctl_store_audit (sqlite3 *db, const char *operator_name, const char *command, const char *args,
                     const char *outcome)
{
    sqlite3_stmt *stmt = jad_db_prepare (db, "INSERT INTO audit (time, operator, command, args, "
                                             "outcome) VALUES (?, ?, ?, ?, ?)");
    if (!stmt)
        return -1;
    sqlite3_bind_int64 (stmt, 1, jad_now_ms ());
    sqlite3_bind_text (stmt, 2, operator_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 3, command, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 4, args, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 5, outcome, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE) {
        jad_log_error ("store: audit append failed error=\"%s\"", sqlite3_errmsg (db));
        return -1;
    }
    return 0;
}

static sqlite3_stmt *s_vquery (sqlite3 *db, bool cached, const char *sql, const char *types,
                               va_list args)
{
    sqlite3_stmt *stmt = cached ? jad_db_cached (db, sql) : jad_db_prepare (db, sql);
    if (!stmt)
        return NULL;
    int column = 1;
    for (const char *type = types; type && *type; type++, column++) {
        if (*type == 't') {
            const char *text = va_arg (args, const char *);
            if (text)
                sqlite3_bind_text (stmt, column, text, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null (stmt, column);
        } else if (*type == 'i')
            sqlite3_bind_int64 (stmt, column, va_arg (args, int64_t));
    }
    return stmt;
}

sqlite3_stmt *ctl_store_query (sqlite3 *db, const char *sql, const char *types, ...)
{
    va_list args;
    va_start (args, types);
    sqlite3_stmt *stmt = s_vquery (db, false, sql, types, args);
    va_end (args);
    return stmt;
}

int ctl_store_run (sqlite3 *db, const char *sql, const char *types, ...)
{
    va_list args;
    va_start (args, types);
    //  run to completion at once: a cached statement is safe here
    sqlite3_stmt *stmt = s_vquery (db, true, sql, types, args);
    va_end (args);
    if (!stmt)
        return -1;
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        jad_log_error ("store: statement failed error=\"%s\"", sqlite3_errmsg (db));
        return -1;
    }
    return sqlite3_changes (db);
}
