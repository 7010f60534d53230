//  ctl_schema_sqlite - the SQLite schema of the controller's store
//  SPDX-License-Identifier: MPL-2.0
//
//  Schema changes are appended as new migrations, never edited in place:
//  a newer controller must open an older state.db. The first six are the
//  SQL as it shipped (their names were given later); from the seventh on
//  nothing new relies on rowid (the PostgreSQL schema will have none).

#include "ctl_schema.h"

#include <stddef.h>

const ctl_migration_t ctl_schema_sqlite[] = {
    //  1: the core path
    {"core",
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
     "  BEGIN SELECT RAISE (ABORT, 'audit log is append-only'); END;"},
    //  issue 4: rollout engine (batches, bake, tasks), policy, migrations.
    //  Rollout state lives here, not in memory, so a restarted controller
    //  resumes a rollout where it was. Decisions are events of agent
    //  'controller'.
    {"rollout_policy_migrations",
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
     "  PRIMARY KEY (env, app, version));"},
    //  issue 5: metrics, alert rules, automatic decisions
    {"metrics_alerts_decisions",
     "CREATE TABLE metric_names (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);"
     "CREATE TABLE metric_hosts (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
     "  dropped INTEGER NOT NULL DEFAULT 0, samples INTEGER NOT NULL DEFAULT 0, last_batch "
     "INTEGER);"
     "CREATE TABLE samples (metric INTEGER NOT NULL, host INTEGER NOT NULL, ts INTEGER NOT NULL,"
     "  value REAL NOT NULL);"
     "CREATE INDEX samples_metric_ts ON samples (metric, ts);"
     "CREATE TABLE rollups (metric INTEGER NOT NULL, host INTEGER NOT NULL, minute INTEGER NOT "
     "NULL,"
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
     "ALTER TABLE releases ADD COLUMN bad TEXT;"},
    //  issue 3: secure channel: agents' refusal counters (JSON object text)
    {"agent_refusals", "ALTER TABLE agents ADD COLUMN refusals TEXT;"},
    //  issue 3b: the agents' stale alarm; release counters (per app, in the
    //  order releases were added) and security floors
    {"agent_stale_release_counters_floors",
     "ALTER TABLE agents ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE agents ADD COLUMN stale_alarms INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE releases ADD COLUMN counter INTEGER NOT NULL DEFAULT 0;"
     "UPDATE releases SET counter = (SELECT count (*) FROM releases r WHERE r.app = releases.app"
     "  AND (r.created < releases.created OR (r.created = releases.created"
     "  AND r.rowid <= releases.rowid)));"
     "CREATE TABLE floors (app TEXT PRIMARY KEY, counter INTEGER NOT NULL,"
     "  version TEXT NOT NULL, operator TEXT, time INTEGER NOT NULL);"},
    //  soak: acknowledged metric streams (go-back-N): per host the agent's
    //  current stream and the highest batch stored in order
    {"metric_streams", "ALTER TABLE metric_hosts ADD COLUMN stream TEXT;"
                       "ALTER TABLE metric_hosts ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;"},
    //  7: plans get an explicit, monotonic sequence: the tie-breaker of
    //  "newest first" (plans created in the same millisecond) that rowid was
    {"plans_seq", "ALTER TABLE plans ADD COLUMN seq INTEGER;"
                  "UPDATE plans SET seq = rowid;"
                  "CREATE UNIQUE INDEX plans_seq ON plans (seq);"},
    //  8: samples get an explicit id (the rowid they had, so the rollup
    //  watermark, now meta 'rollup_sample_id', stays where it was)
    {"samples_id", "CREATE TABLE samples_by_id (id INTEGER PRIMARY KEY, metric INTEGER NOT NULL,"
                   "  host INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL);"
                   "INSERT INTO samples_by_id (id, metric, host, ts, value)"
                   "  SELECT rowid, metric, host, ts, value FROM samples;"
                   "DROP TABLE samples;"
                   "ALTER TABLE samples_by_id RENAME TO samples;"
                   "CREATE INDEX samples_metric_ts ON samples (metric, ts);"
                   "INSERT INTO meta (key, value) SELECT 'rollup_sample_id', value FROM meta"
                   "  WHERE key = 'rollup_rowid';"
                   "DELETE FROM meta WHERE key = 'rollup_rowid';"},
    //  9: the error of an alert transition's reading gets its own column
    //  (it was only inside the detail JSON; json_extract is SQLite's)
    {"alert_events_error", "ALTER TABLE alert_events ADD COLUMN error TEXT;"
                           "UPDATE alert_events SET error = json_extract (detail, '$.error');"},
    //  10: which series each host has, for the per-agent caps on series
    //  and label sets (SECURITY-TESTS row 32); base is the metric name
    //  before '{'. Filled from the samples and rollups on record.
    {"metric_series",
     "CREATE TABLE metric_series (metric INTEGER NOT NULL, host INTEGER NOT NULL,"
     "  base TEXT NOT NULL, since INTEGER NOT NULL, PRIMARY KEY (metric, host)) WITHOUT ROWID;"
     "CREATE INDEX metric_series_host_base ON metric_series (host, base);"
     "INSERT INTO metric_series (metric, host, base, since)"
     "  SELECT u.metric, u.host, CASE WHEN instr (n.name, '{') > 0 THEN substr (n.name, 1,"
     "  instr (n.name, '{') - 1) ELSE n.name END, CAST (strftime ('%s', 'now') AS INTEGER) * 1000"
     "  FROM (SELECT DISTINCT metric, host FROM samples UNION SELECT DISTINCT metric, host"
     "  FROM rollups) u JOIN metric_names n ON n.id = u.metric;"},
    //  11: a release's unpacked size, measured at `release add` and signed
    //  in its plans (SECURITY-TESTS row 36); 0 for releases added before
    {"releases_unpacked_size",
     "ALTER TABLE releases ADD COLUMN unpacked_size INTEGER NOT NULL DEFAULT 0;"},
    //  12: enrollment tokens scoped to environments, expiring, use-counted
    //  (only their SHA-256 is kept). The one token a controller had moves
    //  here, for any environment, valid 24 h from the upgrade; a plain
    //  token from before hashing is retired (create one with jadctl agents
    //  token create). Agents get the address they enrolled from.
    {"enroll_tokens",
     "CREATE TABLE enroll_tokens (id TEXT PRIMARY KEY, sha256 TEXT UNIQUE NOT NULL,"
     "  envs TEXT NOT NULL, expires INTEGER NOT NULL, uses_left INTEGER,"
     "  created_by TEXT NOT NULL, created INTEGER NOT NULL, revoked INTEGER);"
     "INSERT INTO enroll_tokens (id, sha256, envs, expires, uses_left, created_by, created)"
     "  SELECT 'init', value, '*', CAST (strftime ('%s', 'now') AS INTEGER) * 1000 + 86400000,"
     "  NULL, 'init', CAST (strftime ('%s', 'now') AS INTEGER) * 1000 FROM meta"
     "  WHERE key = 'enroll_token_sha256' AND length (value) = 64;"
     "DELETE FROM meta WHERE key IN ('enroll_token_sha256', 'enroll_token');"
     "CREATE INDEX agents_state_address ON agents (state, address);"},
    //  13: release checks' evidence (DESIGN §10): DSSE envelopes as
    //  uploaded, verified on arrival and judged again at every deploy;
    //  sha256 is the envelope text's, so the same upload is kept once
    {"attestations", "CREATE TABLE attestations (app TEXT NOT NULL, version TEXT NOT NULL,"
                     "  sha256 TEXT NOT NULL, type TEXT NOT NULL, signer TEXT NOT NULL,"
                     "  added_by TEXT NOT NULL, created INTEGER NOT NULL, envelope TEXT NOT NULL,"
                     "  PRIMARY KEY (app, version, sha256));"},
    //  14: an operator's Ed25519 signing key (hex), for approvals signed on
    //  their own machine (DESIGN §10); NULL for operators added before
    {"operators_signing_key",
     "ALTER TABLE operators ADD COLUMN signing_key TEXT;"
     "CREATE UNIQUE INDEX operators_signing_key ON operators (signing_key);"},
    //  15: leadership among controllers sharing a PostgreSQL store (DESIGN
    //  §9): the epoch (meta), the leader's lease, every controller seen.
    //  A SQLite store has one controller: its epoch stays 0.
    {"leadership", "INSERT INTO meta (key, value) VALUES ('epoch', '0');"
                   "CREATE TABLE leadership (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT,"
                   "  lock_pid INTEGER, store_pid INTEGER, renewed INTEGER);"
                   "INSERT INTO leadership (id) VALUES (1);"
                   "CREATE TABLE controllers (name TEXT PRIMARY KEY, seen INTEGER NOT NULL);"},
    //  16: the operator lifecycle (DESIGN §10, SECURITY-TESTS row 42): a
    //  key's expiry (wall ms, 0 never) and its retirement. A removed or
    //  replaced (rotated) key keeps its row, renamed NAME.removed-MS or
    //  NAME.rotated-MS, so that it stays refused and cannot be registered
    //  again: retired (wall ms, 0 current), retired_as (removed | rotated),
    //  retired_name (the operator's name then).
    {"operators_lifecycle", "ALTER TABLE operators ADD COLUMN expires INTEGER NOT NULL DEFAULT 0;"
                            "ALTER TABLE operators ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;"
                            "ALTER TABLE operators ADD COLUMN retired_as TEXT;"
                            "ALTER TABLE operators ADD COLUMN retired_name TEXT;"},
    //  17: incidents and their notes (DESIGN §11): an environment's window
    //  of trouble, opened by an operator or by an automatic rollback
    //  (plan_id), for the post-mortem timeline
    {"incidents",
     "CREATE TABLE incidents (id INTEGER PRIMARY KEY, env TEXT NOT NULL, title TEXT NOT NULL,"
     "  state TEXT NOT NULL, since INTEGER NOT NULL, opened INTEGER NOT NULL, opened_by TEXT NOT "
     "NULL,"
     "  closed INTEGER, closed_by TEXT, plan_id TEXT);"
     "CREATE INDEX incidents_env ON incidents (env, state);"
     "CREATE TABLE incident_notes (id INTEGER PRIMARY KEY,"
     "  incident INTEGER NOT NULL REFERENCES incidents (id), time INTEGER NOT NULL,"
     "  author TEXT NOT NULL, text TEXT NOT NULL);"
     "CREATE INDEX incident_notes_incident ON incident_notes (incident, id);"
     "CREATE INDEX audit_time ON audit (time);"
     "CREATE INDEX alert_events_time ON alert_events (time);"},
    //  18: canary analysis (issue 17 item 6): how a rule judges a canary's
    //  hosts during its bake, and each rule's state for each plan baked
    {"canary_analysis",
     "ALTER TABLE alert_rules ADD COLUMN canary TEXT;"
     "ALTER TABLE alert_rules ADD COLUMN compare_with TEXT;"
     "ALTER TABLE alert_rules ADD COLUMN ratio REAL;"
     "ALTER TABLE alert_rules ADD COLUMN difference REAL;"
     "CREATE TABLE canary_states (plan_id TEXT NOT NULL, rule_id TEXT NOT NULL,"
     "  state TEXT NOT NULL, since INTEGER NOT NULL, value REAL, baseline REAL,"
     "  samples INTEGER NOT NULL, hosts INTEGER NOT NULL, host TEXT, detail TEXT,"
     "  evaluated INTEGER NOT NULL, PRIMARY KEY (plan_id, rule_id));"},
    //  19: release checks at the hosts (DESIGN §10, SECURITY-TESTS row 40):
    //  each environment's offline-signed policy as pushed (the controller
    //  cannot forge one; versions only go up), and the attestation
    //  bundles sent beside plans, by their SHA-256
    {"policy", "CREATE TABLE policies (env TEXT PRIMARY KEY, version INTEGER NOT NULL,"
               "  body TEXT NOT NULL, pushed_by TEXT NOT NULL, pushed INTEGER NOT NULL);"
               "CREATE TABLE bundles (sha256 TEXT PRIMARY KEY, app TEXT NOT NULL,"
               "  version TEXT NOT NULL, env TEXT NOT NULL, body TEXT NOT NULL,"
               "  created INTEGER NOT NULL);"},
    //  20: release archives in the store, in chunks (JAD_CHUNK_SIZE bytes,
    //  the last one shorter) keyed by the archive's SHA-256: used only when
    //  the store is shared (PostgreSQL); a SQLite controller keeps its
    //  archives in DATA/artifacts. Here for migrate-store and one schema.
    {"artifact_chunks", "CREATE TABLE artifact_chunks (sha256 TEXT NOT NULL,"
                        "  seq INTEGER NOT NULL, data BLOB NOT NULL,"
                        "  PRIMARY KEY (sha256, seq));"},
    //  21: notifications not yet delivered, by event id: a new leader
    //  sends again what the old one had not (at-least-once; receivers
    //  dedupe by the id). Written only with a shared store.
    {"notify_outbox", "CREATE TABLE notify_outbox (id TEXT PRIMARY KEY, env TEXT NOT NULL,"
                      "  kind TEXT NOT NULL, body TEXT NOT NULL, created INTEGER NOT NULL);"},
    //  22: an emergency deploy that is a security one (deploy --emergency
    //  --security): roles listed with `when: security` approve it too
    {"security_emergency", "ALTER TABLE plans ADD COLUMN security INTEGER NOT NULL DEFAULT 0;"},
    //  23: retention: audit (DESIGN §9). Still no UPDATE ever; a DELETE
    //  only of rows older than meta audit_prune_before, which the leader
    //  writes in the prune's own transaction (ctl_retention_repo.c).
    {"audit_retention", "INSERT INTO meta (key, value) VALUES ('audit_prune_before', '0');"
                        "DROP TRIGGER audit_no_delete;"
                        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
                        "  WHEN OLD.time >= coalesce ((SELECT CAST (value AS INTEGER) FROM meta"
                        "    WHERE key = 'audit_prune_before'), 0)"
                        "  BEGIN SELECT RAISE (ABORT, 'audit log is append-only'); END;"
                        "CREATE INDEX plans_finished ON plans (finished);"},
    //  24: a host's last event of a plan in one index seek (a report's
    //  repeated-outcome check read the plan's events back to the host's
    //  last one: O(hosts) per report, O(hosts²) per round)
    {"events_by_host", "CREATE INDEX events_plan_agent ON events (plan_id, agent, id);"},
    //  25: PostgreSQL puts samples in day partitions; nothing here (SQLite
    //  deletes old samples row by row), so the numbers stay in step
    {"samples_by_day", "SELECT 1;"},
    {NULL, NULL},
};
