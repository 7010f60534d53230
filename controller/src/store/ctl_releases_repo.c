//  ctl_releases_repo - releases (artifact metadata), security floors, bad
//  marks
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_releases_repo.h"
#include "ctl_store_internal.h"
#include "jad_log.h"
#include "jad_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ctl_release_destroy (ctl_release_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_release_t *self = *self_p;
    ctl_store_free_strings (&self->app, &self->version, &self->sha256, &self->branch,
                            &self->commit_id, &self->notes, &self->bad, &self->floor_version,
                            &self->succeeded_in, NULL);
    free (self);
    *self_p = NULL;
}

void ctl_floor_destroy (ctl_floor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_floor_t *self = *self_p;
    ctl_store_free_strings (&self->app, &self->version, &self->operator_name, NULL);
    free (self);
    *self_p = NULL;
}

#define S_RELEASE_COLUMNS                                                                          \
    "r.app, r.version, r.sha256, r.length, r.branch, r.commit_id, r.notes, r.created, "            \
    "r.counter, r.migrate_up, r.migrate_down, r.bad, f.counter, f.version, r.unpacked_size"

static ctl_release_t *s_release_read (ctl_query_t *query)
{
    ctl_release_t *release = (ctl_release_t *)calloc (1, sizeof (ctl_release_t));
    if (!release)
        return NULL;
    release->app = ctl_query_strdup (query, 0);
    release->version = ctl_query_strdup (query, 1);
    release->sha256 = ctl_query_strdup (query, 2);
    release->length = ctl_query_int (query, 3);
    release->branch = ctl_query_strdup (query, 4);
    release->commit_id = ctl_query_strdup (query, 5);
    release->notes = ctl_query_strdup (query, 6);
    release->created = ctl_query_int (query, 7);
    release->counter = ctl_query_int (query, 8);
    release->migrate_up = ctl_query_int (query, 9) != 0;
    release->migrate_down = ctl_query_int (query, 10) != 0;
    release->bad = ctl_query_strdup (query, 11);
    release->has_floor = !ctl_query_null (query, 12);
    release->floor = ctl_query_int (query, 12);
    release->floor_version = ctl_query_strdup (query, 13);
    release->unpacked_size = ctl_query_int (query, 14);
    if (!release->app || !release->version || !release->sha256)
        ctl_release_destroy (&release);
    return release;
}

static int s_release_one (ctl_query_t *query, int rc, ctl_release_t **release_p)
{
    *release_p = NULL;
    int found = 1;
    if (rc == 0 && ctl_query_next (query)) {
        *release_p = s_release_read (query);
        found = *release_p ? 0 : -1;
    }
    if (ctl_query_end (query) || found < 0) {
        ctl_release_destroy (release_p);
        return -1;
    }
    return found;
}

int ctl_releases_repo_get (ctl_store_t *store, const char *app, const char *version,
                           ctl_release_t **release_p)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_RELEASE_COLUMNS " FROM releases r LEFT JOIN floors f ON "
                            "f.app = r.app WHERE r.app = $1 AND r.version = $2",
                            "tt", app, version);
    return s_release_one (&query, rc, release_p);
}

int ctl_releases_repo_by_sha (ctl_store_t *store, const char *sha256, ctl_release_t **release_p)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT " S_RELEASE_COLUMNS " FROM releases r LEFT JOIN floors f ON "
                            "f.app = r.app WHERE r.sha256 = $1 ORDER BY r.created, r.counter "
                            "LIMIT 1",
                            "t", sha256);
    return s_release_one (&query, rc, release_p);
}

int ctl_releases_repo_add (ctl_store_t *store, const ctl_release_t *release, int64_t now)
{
    ctl_release_t *existing = NULL;
    int found = ctl_releases_repo_get (store, release->app, release->version, &existing);
    ctl_release_destroy (&existing);
    if (found <= 0)
        return found == 0 ? 1 : -1;
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO releases (app, version, sha256, length, branch, commit_id, "
                         "notes, created, counter, migrate_up, migrate_down, unpacked_size) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, (SELECT coalesce (max "
                         "(counter), 0) + 1 FROM releases WHERE app = $1), $9, $10, $11)",
                         "tttitttibbi", release->app, release->version, release->sha256,
                         release->length, release->branch, release->commit_id, release->notes, now,
                         (int)release->migrate_up, (int)release->migrate_down,
                         release->unpacked_size) == 1
               ? 0
               : -1;
}

zlistx_t *ctl_releases_repo_list (ctl_store_t *store, const char *app)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_release_destroy);
    zhashx_t *index = zhashx_new ();  //  "app version" -> release (borrowed)
    ctl_query_t query;
    int rc = list && index ? ctl_sql_query (sql, &query,
                                            "SELECT " S_RELEASE_COLUMNS " FROM releases r LEFT "
                                            "JOIN floors f ON f.app = r.app WHERE ($1 IS NULL OR "
                                            "r.app = $1) ORDER BY r.app, r.counter, r.created",
                                            "t", app)
                           : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_release_t *release = s_release_read (&query);
        if (!release || !zlistx_add_end (list, release)) {
            ctl_release_destroy (&release);
            query.failed = true;
            break;
        }
        char key[512];
        snprintf (key, sizeof key, "%s %s", release->app, release->version);
        zhashx_insert (index, key, release);
    }
    if (rc || ctl_query_end (&query))
        goto failed;
    //  where each succeeded: environments by name, where a deploy of it
    //  succeeded (a migration task that succeeded is no deploy: issue 13)
    rc = ctl_sql_query (sql, &query,
                        "SELECT DISTINCT app, version, env FROM plans WHERE state = 'succeeded' "
                        "AND kind = 'deploy' AND ($1 IS NULL OR app = $1) "
                        "ORDER BY app, version, env",
                        "t", app);
    while (rc == 0 && ctl_query_next (&query)) {
        char key[512];
        snprintf (key, sizeof key, "%s %s", ctl_query_text (&query, 0), ctl_query_text (&query, 1));
        ctl_release_t *release = (ctl_release_t *)zhashx_lookup (index, key);
        const char *env = ctl_query_text (&query, 2);
        if (!release || !env)
            continue;
        char *joined = release->succeeded_in
                           ? jad_strdup_printf ("%s,%s", release->succeeded_in, env)
                           : strdup (env);
        if (!joined) {
            query.failed = true;
            break;
        }
        free (release->succeeded_in);
        release->succeeded_in = joined;
    }
    if (rc || ctl_query_end (&query))
        goto failed;
    zhashx_destroy (&index);
    return list;

failed:
    zhashx_destroy (&index);
    zlistx_destroy (&list);
    return NULL;
}

int ctl_releases_repo_mark_bad (ctl_store_t *store, const char *app, const char *version,
                                const char *why)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "UPDATE releases SET bad = $1 WHERE app = $2 AND version = $3", "ttt", why,
                         app, version) < 0
               ? -1
               : 0;
}

int ctl_releases_repo_floor (ctl_store_t *store, const char *app, ctl_floor_t **floor_p)
{
    *floor_p = NULL;
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT app, counter, version, operator, time FROM floors WHERE "
                            "app = $1",
                            "t", app);
    int found = 1;
    if (rc == 0 && ctl_query_next (&query)) {
        ctl_floor_t *floor = (ctl_floor_t *)calloc (1, sizeof (ctl_floor_t));
        if (floor) {
            floor->app = ctl_query_strdup (&query, 0);
            floor->counter = ctl_query_int (&query, 1);
            floor->version = ctl_query_strdup (&query, 2);
            floor->operator_name = ctl_query_strdup (&query, 3);
            floor->time = ctl_query_int (&query, 4);
            if (!floor->app || !floor->version)
                ctl_floor_destroy (&floor);
        }
        *floor_p = floor;
        found = floor ? 0 : -1;
    }
    if (ctl_query_end (&query) || found < 0) {
        ctl_floor_destroy (floor_p);
        return -1;
    }
    return found;
}

int ctl_releases_repo_floor_set (ctl_store_t *store, const char *app, int64_t counter,
                                 const char *version, const char *operator_name, int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO floors (app, counter, version, operator, time) VALUES ($1, "
                         "$2, $3, $4, $5) ON CONFLICT (app) DO UPDATE SET counter = $2, "
                         "version = $3, operator = $4, time = $5",
                         "titti", app, counter, version, operator_name, now) < 0
               ? -1
               : 0;
}

void ctl_attestation_destroy (ctl_attestation_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_attestation_t *self = *self_p;
    ctl_store_free_strings (&self->app, &self->version, &self->sha256, &self->type, &self->signer,
                            &self->added_by, &self->envelope, NULL);
    free (self);
    *self_p = NULL;
}

int ctl_releases_repo_attest (ctl_store_t *store, const ctl_attestation_t *attestation, int64_t now)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    if (ctl_sql_begin (sql) != 0)
        return -1;
    int64_t count = 0;
    int rc = ctl_sql_int (sql, &count,
                          "SELECT count (*) FROM attestations WHERE app = $1 AND version = $2 "
                          "AND sha256 = $3",
                          "ttt", attestation->app, attestation->version, attestation->sha256);
    if (rc == 0 && count > 0) {
        ctl_sql_rollback (sql);
        return 1;
    }
    if (rc == 0)
        rc = ctl_sql_int (sql, &count,
                          "SELECT count (*) FROM attestations WHERE app = $1 AND version = $2",
                          "tt", attestation->app, attestation->version);
    if (rc == 0 && count >= CTL_ATTESTATIONS_MAX) {
        ctl_sql_rollback (sql);
        return 2;
    }
    if (rc != 0 ||
        ctl_sql_exec (sql,
                      "INSERT INTO attestations (app, version, sha256, type, signer, added_by, "
                      "created, envelope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      "ttttttit", attestation->app, attestation->version, attestation->sha256,
                      attestation->type, attestation->signer, attestation->added_by, now,
                      attestation->envelope) != 1) {
        ctl_sql_rollback (sql);
        return -1;
    }
    return ctl_sql_commit (sql);
}

zlistx_t *ctl_releases_repo_attestations (ctl_store_t *store, const char *app, const char *version)
{
    zlistx_t *list = ctl_store_list ((zlistx_destructor_fn *)ctl_attestation_destroy);
    ctl_query_t query;
    int rc = list ? ctl_sql_query (ctl_store_sql (store), &query,
                                   "SELECT app, version, sha256, type, signer, added_by, "
                                   "created, envelope FROM attestations WHERE app = $1 AND "
                                   "version = $2 ORDER BY created, sha256",
                                   "tt", app, version)
                  : -1;
    while (rc == 0 && ctl_query_next (&query)) {
        ctl_attestation_t *attestation = calloc (1, sizeof (ctl_attestation_t));
        if (attestation) {
            attestation->app = ctl_query_strdup (&query, 0);
            attestation->version = ctl_query_strdup (&query, 1);
            attestation->sha256 = ctl_query_strdup (&query, 2);
            attestation->type = ctl_query_strdup (&query, 3);
            attestation->signer = ctl_query_strdup (&query, 4);
            attestation->added_by = ctl_query_strdup (&query, 5);
            attestation->created = ctl_query_int (&query, 6);
            attestation->envelope = ctl_query_strdup (&query, 7);
        }
        if (!attestation || !attestation->app || !attestation->version || !attestation->sha256 ||
            !attestation->type || !attestation->signer || !attestation->added_by ||
            !attestation->envelope || !zlistx_add_end (list, attestation)) {
            ctl_attestation_destroy (&attestation);
            query.failed = true;
            break;
        }
    }
    if (rc || ctl_query_end (&query)) {
        zlistx_destroy (&list);
        return NULL;
    }
    return list;
}

int ctl_releases_repo_slot (ctl_store_t *store, const char *env, int64_t *slot_p)
{
    char key[JAD_NAME_MAX + 8];
    snprintf (key, sizeof key, "slot/%s", env);
    return ctl_sql_int (ctl_store_sql (store), slot_p,
                        "SELECT CAST (value AS BIGINT) FROM meta WHERE key = $1", "t", key);
}

int ctl_releases_repo_slot_set (ctl_store_t *store, const char *env, int64_t slot)
{
    char key[JAD_NAME_MAX + 8];
    snprintf (key, sizeof key, "slot/%s", env);
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO meta (key, value) VALUES ($1, CAST ($2 AS TEXT)) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         "ti", key, slot) < 0
               ? -1
               : 0;
}

int ctl_releases_repo_policy_set (ctl_store_t *store, const char *env, int64_t version,
                                  const char *body, const char *operator_name, int64_t now,
                                  int64_t *kept_p)
{
    ctl_sql_t *sql = ctl_store_sql (store);
    if (ctl_sql_begin (sql) != 0)
        return -1;
    int64_t kept = 0;
    int rc = ctl_sql_int (sql, &kept, "SELECT version FROM policies WHERE env = $1", "t", env);
    if (kept_p)
        *kept_p = rc == 0 ? kept : 0;
    if (rc == 0 && kept >= version) {
        ctl_sql_rollback (sql);
        return 1;
    }
    if (rc < 0 || ctl_sql_exec (sql,
                                "INSERT INTO policies (env, version, body, pushed_by, pushed) "
                                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (env) DO UPDATE SET "
                                "version = $2, body = $3, pushed_by = $4, pushed = $5",
                                "titti", env, version, body, operator_name, now) != 1) {
        ctl_sql_rollback (sql);
        return -1;
    }
    return ctl_sql_commit (sql);
}

int ctl_releases_repo_policy (ctl_store_t *store, const char *env, char **body_p,
                              int64_t *version_p)
{
    *body_p = NULL;
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT body, version FROM policies WHERE env = $1", "t", env);
    int found = 1;
    if (rc == 0 && ctl_query_next (&query)) {
        *body_p = ctl_query_strdup (&query, 0);
        *version_p = ctl_query_int (&query, 1);
        found = *body_p ? 0 : -1;
    }
    if (rc || ctl_query_end (&query)) {
        free (*body_p);
        *body_p = NULL;
        return -1;
    }
    return found;
}

int ctl_releases_repo_bundle_put (ctl_store_t *store, const char *sha256, const char *app,
                                  const char *version, const char *env, const char *body,
                                  int64_t now)
{
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO bundles (sha256, app, version, env, body, created) "
                         "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
                         "ttttti", sha256, app, version, env, body, now) < 0
               ? -1
               : 0;
}

int ctl_releases_repo_bundle (ctl_store_t *store, const char *sha256, char **body_p, char **app_p,
                              char **version_p, char **env_p)
{
    *body_p = *app_p = *version_p = *env_p = NULL;
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT body, app, version, env FROM bundles WHERE sha256 = $1", "t",
                            sha256);
    int found = 1;
    if (rc == 0 && ctl_query_next (&query)) {
        *body_p = ctl_query_strdup (&query, 0);
        *app_p = ctl_query_strdup (&query, 1);
        *version_p = ctl_query_strdup (&query, 2);
        *env_p = ctl_query_strdup (&query, 3);
        found = *body_p && *app_p && *version_p && *env_p ? 0 : -1;
    }
    if (rc || ctl_query_end (&query) || found < 0) {
        free (*body_p);
        free (*app_p);
        free (*version_p);
        free (*env_p);
        *body_p = *app_p = *version_p = *env_p = NULL;
        return -1;
    }
    return found;
}

int ctl_releases_repo_chunk_put (ctl_store_t *store, const char *sha256, int64_t seq,
                                 const void *data, size_t size)
{
    if (seq < 0 || size == 0 || size > CTL_CHUNK_BYTES) {
        jad_log_error ("store: chunk %lld of %s has %zu bytes (1 to %d)", (long long)seq, sha256,
                       size, CTL_CHUNK_BYTES);
        return -1;
    }
    return ctl_sql_exec (ctl_store_sql (store),
                         "INSERT INTO artifact_chunks (sha256, seq, data) VALUES ($1, $2, $3) "
                         "ON CONFLICT (sha256, seq) DO NOTHING",
                         "tix", sha256, seq, data, size) < 0
               ? -1
               : 0;
}

int ctl_releases_repo_chunks_read (ctl_store_t *store, const char *sha256, uint64_t offset,
                                   size_t length, uint8_t *out)
{
    if (length == 0)
        return 0;
    int64_t first = (int64_t)(offset / CTL_CHUNK_BYTES);
    int64_t last = (int64_t)((offset + length - 1) / CTL_CHUNK_BYTES);
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT seq, data FROM artifact_chunks WHERE sha256 = $1 "
                            "AND seq >= $2 AND seq <= $3 ORDER BY seq",
                            "tii", sha256, first, last);
    //  the chunks must cover [offset, offset + length) in order, no gap
    size_t filled = 0;
    int64_t expected = first;
    bool whole = rc == 0;
    while (rc == 0 && whole && ctl_query_next (&query)) {
        size_t size = 0;
        const uint8_t *data = ctl_query_blob (&query, 1, &size);
        int64_t seq = ctl_query_int (&query, 0);
        uint64_t start = (uint64_t)seq * CTL_CHUNK_BYTES;
        uint64_t from = offset + filled;
        if (!data || seq != expected || from < start || from >= start + size) {
            whole = false;
            break;
        }
        size_t take = (size_t)(start + size - from);
        if (take > length - filled)
            take = length - filled;
        memcpy (out + filled, data + (from - start), take);
        filled += take;
        expected++;
    }
    if (ctl_query_end (&query) || rc)
        return -1;
    return whole && filled == length ? 0 : 1;
}

int ctl_releases_repo_chunks_complete (ctl_store_t *store, const char *sha256, uint64_t length)
{
    ctl_query_t query;
    int rc = ctl_sql_query (ctl_store_sql (store), &query,
                            "SELECT COUNT(*), SUM(LENGTH(data)) FROM artifact_chunks "
                            "WHERE sha256 = $1",
                            "t", sha256);
    int64_t count = -1, bytes = -1;
    if (rc == 0 && ctl_query_next (&query)) {
        count = ctl_query_int (&query, 0);
        bytes = ctl_query_null (&query, 1) ? 0 : ctl_query_int (&query, 1);
    }
    if (ctl_query_end (&query) || rc || count < 0)
        return -1;
    uint64_t chunks = (length + CTL_CHUNK_BYTES - 1) / CTL_CHUNK_BYTES;
    return (uint64_t)count == chunks && (uint64_t)bytes == length ? 1 : 0;
}

int ctl_releases_repo_chunks_from_file (ctl_store_t *store, const char *sha256, const char *path,
                                        char *reason, size_t reasonlen)
{
    struct stat info;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    uint8_t *buffer = malloc (CTL_CHUNK_BYTES);
    if (fd < 0 || fstat (fd, &info) != 0 || !buffer) {
        snprintf (reason, reasonlen, "cannot read %s: %s", path, strerror (errno));
        if (fd >= 0)
            close (fd);
        free (buffer);
        return -1;
    }
    *reason = 0;
    int complete = ctl_releases_repo_chunks_complete (store, sha256, (uint64_t)info.st_size);
    int rc = complete == 1 ? 0 : complete < 0 ? -1 : ctl_store_begin (store);
    for (int64_t seq = 0; rc == 0 && complete == 0; seq++) {
        size_t size = 0;
        while (size < CTL_CHUNK_BYTES) {
            ssize_t got = read (fd, buffer + size, CTL_CHUNK_BYTES - size);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                if (got < 0) {
                    snprintf (reason, reasonlen, "cannot read %s: %s", path, strerror (errno));
                    rc = -1;
                }
                break;
            }
            size += (size_t)got;
        }
        if (rc == 0 && size > 0)
            rc = ctl_releases_repo_chunk_put (store, sha256, seq, buffer, size);
        if (rc != 0)
            ctl_store_rollback (store);
        else if (size < CTL_CHUNK_BYTES) {
            rc = ctl_store_commit (store);
            break;
        }
    }
    close (fd);
    free (buffer);
    if (rc != 0 && !*reason)
        snprintf (reason, reasonlen, "cannot write it into the store (see the log)");
    return rc;
}
