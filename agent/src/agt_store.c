//  agt_store - the agent's SQLite state: sequence, plans, releases, apps
//  SPDX-License-Identifier: MPL-2.0

#include "agt_store.h"
#include "agt_mstream.h"
#include "jad_db.h"
#include "jad_log.h"
#include "jad_util.h"

#include <stdlib.h>
#include <string.h>

struct _agt_store_t {
    sqlite3 *db;           //  DATA/state.db
    char incarnation[33];  //  random per database, created once
};

static const char *const s_migrations[] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE plans (plan_id TEXT PRIMARY KEY, app TEXT NOT NULL, version TEXT NOT NULL,"
    " envelope BLOB NOT NULL, sha256 TEXT NOT NULL, length INTEGER NOT NULL,"
    " state TEXT NOT NULL, step TEXT, detail TEXT, received_at INTEGER NOT NULL);"
    "CREATE INDEX plans_state ON plans (state, received_at);"
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB);"
    "CREATE TABLE releases (app TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL,"
    " PRIMARY KEY (app, version));"
    "CREATE TABLE apps (app TEXT PRIMARY KEY, version TEXT, health TEXT NOT NULL, plan_id TEXT);",
    //  the highest security floor (min_release_counter) seen per app
    "CREATE TABLE floors (app TEXT PRIMARY KEY, min_counter INTEGER NOT NULL);",
    //  metric batches not acked yet and samples waiting for them (agt_mstream)
    AGT_MSTREAM_SCHEMA,
};

agt_store_t *agt_store_new (const char *path, bool create)
{
    agt_store_t *self = (agt_store_t *)calloc (1, sizeof (agt_store_t));
    if (!self)
        return NULL;
    self->db = jad_db_open (path, create, s_migrations,
                            (int)(sizeof s_migrations / sizeof s_migrations[0]));
    if (!self->db)
        goto failed;
    //  acknowledged plans and queued reports must survive a power cut
    if (jad_db_exec (self->db, "PRAGMA synchronous=FULL"))
        goto failed;

    char *incarnation = NULL;
    int rc = jad_db_meta_get (self->db, "incarnation", &incarnation);
    if (rc < 0)
        goto failed;
    if (rc == 0 && incarnation && strlen (incarnation) == 16)
        snprintf (self->incarnation, sizeof self->incarnation, "%s", incarnation);
    else {
        jad_random_id (8, self->incarnation);
        if (jad_db_meta_set (self->db, "incarnation", self->incarnation)) {
            free (incarnation);
            goto failed;
        }
    }
    free (incarnation);
    return self;

failed:
    agt_store_destroy (&self);
    return NULL;
}

void agt_store_destroy (agt_store_t **self_p)
{
    if (self_p && *self_p) {
        agt_store_t *self = *self_p;
        jad_db_close (&self->db);
        free (self);
        *self_p = NULL;
    }
}

sqlite3 *agt_store_db (agt_store_t *self)
{
    assert (self);
    return self->db;
}

const char *agt_store_incarnation (agt_store_t *self)
{
    assert (self);
    return self->incarnation;
}

int agt_store_counter_get (agt_store_t *self, const char *name, uint64_t *value)
{
    assert (self);
    char *text = NULL;
    int rc = jad_db_meta_get (self->db, name, &text);
    if (rc < 0)
        return -1;
    *value = text ? strtoull (text, NULL, 10) : 0;
    free (text);
    return 0;
}

int agt_store_counter_set (agt_store_t *self, const char *name, uint64_t value)
{
    assert (self);
    char text[32];
    snprintf (text, sizeof text, "%llu", (unsigned long long)value);
    return jad_db_meta_set (self->db, name, text);
}

uint64_t agt_store_floor (agt_store_t *self, const char *app)
{
    assert (self);
    int64_t floor = 0;
    int rc = jad_db_get_int (self->db, "SELECT min_counter FROM floors WHERE app = ?", app, &floor);
    if (rc < 0)
        return UINT64_MAX;  //  fail closed: refuse everything
    return rc == 0 && floor > 0 ? (uint64_t)floor : 0;
}

uint64_t agt_store_last_sequence (agt_store_t *self)
{
    uint64_t value = 0;
    if (agt_store_counter_get (self, "last_sequence", &value))
        return UINT64_MAX;  //  fail closed: refuse everything
    return value;
}

uint64_t agt_store_epoch (agt_store_t *self)
{
    uint64_t value = 0;
    if (agt_store_counter_get (self, "epoch", &value))
        return UINT64_MAX;  //  fail closed: refuse everything
    return value;
}

int agt_store_epoch_raise (agt_store_t *self, uint64_t epoch)
{
    uint64_t current = agt_store_epoch (self);
    if (current == UINT64_MAX)
        return -1;
    return epoch > current ? agt_store_counter_set (self, "epoch", epoch) : 0;
}

int agt_store_policy (agt_store_t *self, char **text_p, uint64_t *version_p)
{
    assert (self);
    *text_p = NULL;
    *version_p = 0;
    if (agt_store_counter_get (self, "policy_version", version_p) ||
        jad_db_meta_get (self->db, "policy", text_p) < 0)
        return -1;
    if (*version_p == 0 || !*text_p) {
        free (*text_p);
        *text_p = NULL;
        *version_p = 0;
        return 1;
    }
    return 0;
}

int agt_store_policy_raise (agt_store_t *self, uint64_t version, const char *text)
{
    assert (self);
    uint64_t current = 0;
    if (agt_store_counter_get (self, "policy_version", &current))
        return -1;
    if (version <= current)
        return 0;
    if (jad_db_begin (self->db))
        return -1;
    if (jad_db_meta_set (self->db, "policy", text) ||
        agt_store_counter_set (self, "policy_version", version)) {
        jad_db_rollback (self->db);
        return -1;
    }
    return jad_db_commit (self->db);
}

//  Run one statement with text binds (NULL binds SQL NULL). Returns 0/-1.
static int s_exec_texts (sqlite3 *db, const char *sql, int count, const char *const *texts)
{
    sqlite3_stmt *stmt = jad_db_prepare (db, sql);
    if (!stmt)
        return -1;
    for (int index = 0; index < count; index++) {
        if (texts[index])
            sqlite3_bind_text (stmt, index + 1, texts[index], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null (stmt, index + 1);
    }
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE) {
        jad_log_error ("agent: store write failed error=\"%s\"", sqlite3_errmsg (db));
        return -1;
    }
    return 0;
}

int agt_store_accept_plan (agt_store_t *self, const jad_plan_t *plan, const uint8_t *envelope,
                           size_t envelope_size, bool *is_new, zlist_t *superseded)
{
    assert (self);
    assert (plan);
    sqlite3_stmt *stmt = NULL;
    *is_new = false;
    if (jad_db_begin (self->db))
        return -1;
    if (agt_store_counter_set (self, "last_sequence", plan->sequence) ||
        agt_store_epoch_raise (self, plan->epoch))
        goto failed;
    if (plan->min_release_counter > 0) {
        //  floors only go up
        stmt = jad_db_prepare (self->db, "INSERT INTO floors (app, min_counter) VALUES (?, ?)"
                                         " ON CONFLICT (app) DO UPDATE SET min_counter ="
                                         " max (min_counter, excluded.min_counter)");
        if (!stmt)
            goto failed;
        sqlite3_bind_text (stmt, 1, plan->app, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)plan->min_release_counter);
        if (sqlite3_step (stmt) != SQLITE_DONE) {
            jad_log_error ("agent: cannot store floor error=\"%s\"", sqlite3_errmsg (self->db));
            goto failed;
        }
        sqlite3_finalize (stmt);
        stmt = NULL;
    }

    int64_t known = 0;
    int rc =
        jad_db_get_int (self->db, "SELECT 1 FROM plans WHERE plan_id = ?", plan->plan_id, &known);
    if (rc < 0)
        goto failed;
    if (rc == 1) {
        const char *supersede[] = {plan->app, plan->plan_id};
        if (superseded) {
            stmt = jad_db_prepare (self->db, "SELECT plan_id FROM plans WHERE app = ?1 AND"
                                             " state = 'accepted' AND plan_id != ?2");
            if (!stmt)
                goto failed;
            sqlite3_bind_text (stmt, 1, plan->app, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text (stmt, 2, plan->plan_id, -1, SQLITE_TRANSIENT);
            while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
                char *older = strdup ((const char *)sqlite3_column_text (stmt, 0));
                if (!older || zlist_append (superseded, older)) {
                    free (older);
                    goto failed;
                }
                zlist_freefn (superseded, older, free, true);
            }
            sqlite3_finalize (stmt);
            stmt = NULL;
            if (rc != SQLITE_DONE)
                goto failed;
        }
        if (s_exec_texts (self->db,
                          "UPDATE plans SET state = 'superseded', detail = 'superseded'"
                          " WHERE app = ?1 AND state = 'accepted' AND plan_id != ?2",
                          2, supersede))
            goto failed;

        char sha[65];
        jad_hex (plan->artifact_sha256, 32, sha);
        stmt =
            jad_db_prepare (self->db, "INSERT INTO plans (plan_id, app, version, envelope, sha256,"
                                      " length, state, received_at) VALUES (?, ?, ?, ?, ?, ?,"
                                      " 'accepted', ?)");
        if (!stmt)
            goto failed;
        sqlite3_bind_text (stmt, 1, plan->plan_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 2, plan->app, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 3, plan->version, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob (stmt, 4, envelope, (int)envelope_size, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 5, sha, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 6, (sqlite3_int64)plan->artifact_length);
        sqlite3_bind_int64 (stmt, 7, jad_now_ms ());
        if (sqlite3_step (stmt) != SQLITE_DONE) {
            jad_log_error ("agent: cannot store plan error=\"%s\"", sqlite3_errmsg (self->db));
            goto failed;
        }
        sqlite3_finalize (stmt);
        stmt = NULL;
        *is_new = true;
    }
    if (jad_db_commit (self->db))
        goto failed;
    return 0;

failed:
    sqlite3_finalize (stmt);
    jad_db_rollback (self->db);
    if (superseded)
        zlist_purge (superseded);
    *is_new = false;
    return -1;
}

char *agt_store_next_plan (agt_store_t *self)
{
    assert (self);
    char *plan_id = NULL;
    if (jad_db_get_text (self->db,
                         "SELECT plan_id FROM plans WHERE state = 'accepted'"
                         " ORDER BY received_at, rowid LIMIT 1",
                         NULL, &plan_id) != 0)
        return NULL;
    return plan_id;
}

jad_plan_t *agt_store_load_plan (agt_store_t *self, const char *plan_id)
{
    assert (self);
    sqlite3_stmt *stmt = jad_db_prepare (self->db, "SELECT envelope FROM plans WHERE plan_id = ?");
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
    jad_plan_t *plan = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        char err[JAD_ERR_LEN] = "";
        const uint8_t *bytes = (const uint8_t *)sqlite3_column_blob (stmt, 0);
        size_t size = (size_t)sqlite3_column_bytes (stmt, 0);
        jad_envelope_t *envelope = jad_envelope_decode (bytes, size, err);
        if (envelope)
            plan = jad_plan_decode (envelope->payload, envelope->payload_size, err);
        if (!plan)
            jad_log_error ("agent: stored plan unreadable plan=%s reason=\"%s\"", plan_id, err);
        jad_envelope_destroy (&envelope);
    }
    sqlite3_finalize (stmt);
    return plan;
}

int agt_store_plan_state (agt_store_t *self, const char *plan_id, char **state, char **step)
{
    assert (self);
    *state = NULL;
    *step = NULL;
    sqlite3_stmt *stmt =
        jad_db_prepare (self->db, "SELECT state, step FROM plans WHERE plan_id = ?");
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, plan_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt);
    int result = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
    if (rc == SQLITE_ROW) {
        const char *state_text = (const char *)sqlite3_column_text (stmt, 0);
        const char *step_text = (const char *)sqlite3_column_text (stmt, 1);
        *state = strdup (state_text ? state_text : "");
        *step = step_text ? strdup (step_text) : NULL;
        if (!*state)
            result = -1;
    }
    sqlite3_finalize (stmt);
    return result;
}

int agt_store_set_plan_state (agt_store_t *self, const char *plan_id, const char *state,
                              const char *step, const char *detail)
{
    assert (self);
    const char *texts[] = {state, step, detail, plan_id};
    return s_exec_texts (self->db,
                         "UPDATE plans SET state = ?1, step = coalesce (?2, step),"
                         " detail = coalesce (?3, detail) WHERE plan_id = ?4",
                         4, texts);
}

zlist_t *agt_store_applying_plans (agt_store_t *self)
{
    assert (self);
    sqlite3_stmt *stmt = jad_db_prepare (self->db, "SELECT plan_id, coalesce (step, 'fetch')"
                                                   " FROM plans WHERE state = 'applying'");
    if (!stmt)
        return NULL;
    zlist_t *list = zlist_new ();
    if (!list) {
        sqlite3_finalize (stmt);
        return NULL;
    }
    zlist_autofree (list);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        char line[256];
        snprintf (line, sizeof line, "%s\t%s", sqlite3_column_text (stmt, 0),
                  sqlite3_column_text (stmt, 1));
        if (zlist_append (list, line))
            break;
    }
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE)
        zlist_destroy (&list);
    return list;
}

char *agt_store_plan_detail (agt_store_t *self, const char *plan_id)
{
    assert (self);
    char *detail = NULL;
    if (jad_db_get_text (self->db, "SELECT detail FROM plans WHERE plan_id = ?", plan_id,
                         &detail) != 0)
        return NULL;
    return detail;
}

bool agt_store_release_known (agt_store_t *self, const char *app, const char *version,
                              const char *sha256_hex)
{
    assert (self);
    sqlite3_stmt *stmt = jad_db_prepare (self->db, "SELECT 1 FROM releases WHERE app = ? AND"
                                                   " version = ? AND sha256 = ?");
    if (!stmt)
        return false;
    sqlite3_bind_text (stmt, 1, app, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 3, sha256_hex, -1, SQLITE_TRANSIENT);
    bool known = sqlite3_step (stmt) == SQLITE_ROW;
    sqlite3_finalize (stmt);
    return known;
}

int agt_store_release_add (agt_store_t *self, const char *app, const char *version,
                           const char *sha256_hex)
{
    assert (self);
    const char *texts[] = {app, version, sha256_hex};
    return s_exec_texts (self->db,
                         "INSERT OR REPLACE INTO releases (app, version, sha256) VALUES (?, ?, ?)",
                         3, texts);
}

int agt_store_release_remove (agt_store_t *self, const char *app, const char *version)
{
    assert (self);
    const char *texts[] = {app, version};
    return s_exec_texts (self->db, "DELETE FROM releases WHERE app = ? AND version = ?", 2, texts);
}

int agt_store_app_set (agt_store_t *self, const char *app, const char *version, const char *health,
                       const char *plan_id)
{
    assert (self);
    const char *texts[] = {app, version, health, plan_id};
    return s_exec_texts (self->db,
                         "INSERT OR REPLACE INTO apps (app, version, health, plan_id)"
                         " VALUES (?, ?, ?, ?)",
                         4, texts);
}

char *agt_store_app_version (agt_store_t *self, const char *app)
{
    assert (self);
    char *version = NULL;
    if (jad_db_get_text (self->db, "SELECT version FROM apps WHERE app = ?", app, &version) != 0)
        return NULL;
    return version;
}

int agt_store_apps (agt_store_t *self, jad_app_state_t **apps_p, size_t *count_p)
{
    assert (self);
    *apps_p = NULL;
    *count_p = 0;
    sqlite3_stmt *stmt = jad_db_prepare (self->db, "SELECT app, version, health, plan_id"
                                                   " FROM apps ORDER BY app LIMIT 256");
    if (!stmt)
        return -1;
    jad_app_state_t *apps = (jad_app_state_t *)calloc (JAD_MAX_APPS, sizeof (jad_app_state_t));
    size_t count = 0;
    int rc = SQLITE_NOMEM;
    while (apps && count < JAD_MAX_APPS && (rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        jad_app_state_t *app = &apps[count++];
        app->app = jad_db_column_dup (stmt, 0);
        app->version = jad_db_column_dup (stmt, 1);
        app->health = jad_db_column_dup (stmt, 2);
        app->plan_id = jad_db_column_dup (stmt, 3);
        if (!app->app || !app->health) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        agt_store_apps_free (&apps, count);
        return -1;
    }
    *apps_p = apps;
    *count_p = count;
    return 0;
}

void agt_store_apps_free (jad_app_state_t **apps_p, size_t count)
{
    if (apps_p && *apps_p) {
        for (size_t index = 0; index < count; index++) {
            free ((*apps_p)[index].app);
            free ((*apps_p)[index].version);
            free ((*apps_p)[index].health);
            free ((*apps_p)[index].plan_id);
        }
        free (*apps_p);
        *apps_p = NULL;
    }
}
