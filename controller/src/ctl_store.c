//  ctl_store - the controller's SQLite schema and shared queries
//  SPDX-License-Identifier: MPL-2.0
//
//  Schema changes are appended as new migrations, never edited in place:
//  a newer controller must open an older state.db.

#include "ctl_store.h"
#include "jad_db.h"
#include "jad_log.h"
#include "jad_util.h"

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
    //  2: secure channel: agents' refusal counters (JSON object text)
    "ALTER TABLE agents ADD COLUMN refusals TEXT;",
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
