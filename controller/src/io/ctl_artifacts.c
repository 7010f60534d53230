//  ctl_artifacts - the release store: uploads from jadctl, chunks to agents
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_artifacts.h"
#include "ctl_plans_repo.h"
#include "ctl_releases_repo.h"
#include "jad_archive.h"
#include "jad_config.h"
#include "jad_log.h"
#include "jad_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_UPLOAD_TTL_MS (30 * 60 * 1000)

typedef struct {
    char id[17];  //  upload id (hex)
    char *app;
    char *version;
    char *branch;
    char *commit;
    char *notes;
    uint8_t sha256[32];  //  expected
    uint64_t length;     //  expected
    uint64_t received;
    char *path;  //  DIR/uploads/ID.part
    int fd;
    crypto_hash_sha256_state hash;
    int64_t started;
} s_upload_t;

static void s_upload_destroy (s_upload_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_upload_t *self = *self_p;
    if (self->fd >= 0)
        close (self->fd);
    if (self->path)
        unlink (self->path);
    free (self->app);
    free (self->version);
    free (self->branch);
    free (self->commit);
    free (self->notes);
    free (self->path);
    free (self);
    *self_p = NULL;
}

struct _ctl_artifacts_t {
    char *data_dir;
    ctl_store_t *store;        //  borrowed
    ctl_counters_t *counters;  //  borrowed
    zhashx_t *uploads;         //  upload id -> s_upload_t *
};

static void s_upload_free (void **item)
{
    s_upload_destroy ((s_upload_t **)item);
}

ctl_artifacts_t *ctl_artifacts_new (const char *data_dir, ctl_store_t *store,
                                    ctl_counters_t *counters)
{
    ctl_artifacts_t *self = (ctl_artifacts_t *)calloc (1, sizeof (ctl_artifacts_t));
    if (!self)
        return NULL;
    self->store = store;
    self->counters = counters;
    self->data_dir = strdup (data_dir);
    self->uploads = zhashx_new ();
    if (!self->data_dir || !self->uploads)
        ctl_artifacts_destroy (&self);
    else
        zhashx_set_destructor (self->uploads, s_upload_free);
    return self;
}

void ctl_artifacts_destroy (ctl_artifacts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_artifacts_t *self = *self_p;
    //  pending uploads go, with their .part files
    zhashx_destroy (&self->uploads);
    free (self->data_dir);
    free (self);
    *self_p = NULL;
}

//  mkdir DIR/name (0700) if missing. Returns 0 or -1.
static int s_mkdir_sub (ctl_artifacts_t *self, const char *name)
{
    char path[4096];
    if (snprintf (path, sizeof path, "%s/%s", self->data_dir, name) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return jad_mkdirs (path, 0700);
}

static char *s_strdup_or_null (const char *text)
{
    return text && *text ? strdup (text) : NULL;
}

//  Drop uploads nobody finished within the TTL.
static void s_expire_uploads (ctl_artifacts_t *self)
{
    int64_t now = jad_mono_ms ();
    zlistx_t *stale = zlistx_new ();
    for (s_upload_t *upload = zhashx_first (self->uploads); upload;
         upload = zhashx_next (self->uploads))
        if (now - upload->started > S_UPLOAD_TTL_MS)
            zlistx_add_end (stale, upload->id);
    for (char *id = zlistx_first (stale); id; id = zlistx_next (stale))
        zhashx_delete (self->uploads, id);
    zlistx_destroy (&stale);
}

int ctl_artifacts_begin (ctl_artifacts_t *self, const jad_api_request_t *request, json_t **result,
                         char *err, size_t errlen)
{
    const char *app = jad_api_request_arg (request, "app");
    const char *version = jad_api_request_arg (request, "version");
    const char *length_text = jad_api_request_arg (request, "length");
    const char *sha_text = jad_api_request_arg (request, "sha256");
    const char *notes = jad_api_request_arg (request, "notes");
    if (!jad_name_valid (app)) {
        snprintf (err, errlen, "APP '%s' is not a valid name (letters, digits, . _ -)",
                  app ? app : "");
        return 2;
    }
    if (!jad_name_valid (version)) {
        snprintf (err, errlen, "VERSION '%s' is not a valid name (letters, digits, . _ -)",
                  version ? version : "");
        return 2;
    }
    const char *branch = jad_api_request_arg (request, "branch");
    const char *commit = jad_api_request_arg (request, "commit");
    if ((branch && strlen (branch) > 200) || (commit && strlen (commit) > 200) ||
        (notes && strlen (notes) > 65536)) {
        snprintf (err, errlen, "--branch, --commit or --notes is too long");
        return 2;
    }
    char *end = NULL;
    unsigned long long length = length_text ? strtoull (length_text, &end, 10) : 0;
    if (!length_text || *end || length == 0 || length > CTL_MAX_ARTIFACT) {
        snprintf (err, errlen, "release archive size must be 1 byte to %llu bytes",
                  (unsigned long long)CTL_MAX_ARTIFACT);
        return 2;
    }
    s_upload_t *upload = calloc (1, sizeof *upload);
    if (!upload) {
        snprintf (err, errlen, "out of memory");
        return 1;
    }
    upload->fd = -1;
    if (jad_unhex (sha_text, upload->sha256, 32) != 0) {
        snprintf (err, errlen, "sha256 must be 64 hex characters");
        s_upload_destroy (&upload);
        return 2;
    }
    //  The same version twice is fine only with the same content.
    ctl_release_t *existing = NULL;
    if (ctl_releases_repo_get (self->store, app, version, &existing) == 0) {
        bool same = streq (existing->sha256, sha_text);
        ctl_release_destroy (&existing);
        s_upload_destroy (&upload);
        if (same) {
            *result = json_pack ("{s:s, s:b}", "upload", "", "exists", 1);
            return 0;
        }
        snprintf (err, errlen, "release %s %s already exists with different content", app, version);
        return 2;
    }
    s_expire_uploads (self);
    jad_random_id (8, upload->id);
    upload->app = strdup (app);
    upload->version = strdup (version);
    upload->branch = s_strdup_or_null (branch);
    upload->commit = s_strdup_or_null (commit);
    upload->notes = s_strdup_or_null (notes);
    upload->length = length;
    upload->started = jad_mono_ms ();
    crypto_hash_sha256_init (&upload->hash);
    upload->path = jad_strdup_printf ("%s/uploads/%s.part", self->data_dir, upload->id);
    if (!upload->path || s_mkdir_sub (self, "uploads") != 0) {
        snprintf (err, errlen, "cannot create the upload directory: %s", strerror (errno));
        s_upload_destroy (&upload);
        return 1;
    }
    upload->fd = open (upload->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (upload->fd < 0) {
        snprintf (err, errlen, "cannot create %s: %s", upload->path, strerror (errno));
        s_upload_destroy (&upload);
        return 1;
    }
    zhashx_insert (self->uploads, upload->id, upload);
    *result = json_pack ("{s:s, s:i}", "upload", upload->id, "chunk", (json_int_t)JAD_CHUNK_SIZE);
    return 0;
}

int ctl_artifacts_chunk (ctl_artifacts_t *self, const jad_api_request_t *request, json_t **result,
                         char *err, size_t errlen)
{
    const char *id = jad_api_request_arg (request, "upload");
    const char *offset_text = jad_api_request_arg (request, "offset");
    s_upload_t *upload = id ? zhashx_lookup (self->uploads, id) : NULL;
    if (!upload) {
        snprintf (err, errlen, "unknown or expired upload '%s'", id ? id : "");
        return 2;
    }
    char *end = NULL;
    unsigned long long offset = offset_text ? strtoull (offset_text, &end, 10) : ULLONG_MAX;
    if (!offset_text || *end || offset != upload->received) {
        snprintf (err, errlen, "upload offset %s, expected %llu", offset_text ? offset_text : "?",
                  (unsigned long long)upload->received);
        return 2;
    }
    if (request->blob_size == 0 || upload->received + request->blob_size > upload->length) {
        snprintf (err, errlen, "upload is longer than the announced %llu bytes",
                  (unsigned long long)upload->length);
        zhashx_delete (self->uploads, id);
        return 2;
    }
    size_t done = 0;
    while (done < request->blob_size) {
        ssize_t wrote = write (upload->fd, request->blob + done, request->blob_size - done);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote < 0) {
            snprintf (err, errlen, "cannot write the upload: %s", strerror (errno));
            zhashx_delete (self->uploads, id);
            return 1;
        }
        done += (size_t)wrote;
    }
    crypto_hash_sha256_update (&upload->hash, request->blob, request->blob_size);
    upload->received += request->blob_size;
    *result = json_pack ("{s:I}", "received", (json_int_t)upload->received);
    return 0;
}

int ctl_artifacts_commit (ctl_artifacts_t *self, const jad_api_request_t *request, json_t **result,
                          char *err, size_t errlen)
{
    const char *id = jad_api_request_arg (request, "upload");
    s_upload_t *upload = id ? zhashx_lookup (self->uploads, id) : NULL;
    if (!upload) {
        snprintf (err, errlen, "unknown or expired upload '%s'", id ? id : "");
        return 2;
    }
    int status = 2;
    char *final_path = NULL;
    char *manifest_text = NULL;
    jad_problems_t *problems = NULL;
    jad_manifest_t *manifest = NULL;
    uint8_t digest[32];
    char sha_hex[65];
    crypto_hash_sha256_final (&upload->hash, digest);
    jad_hex (upload->sha256, 32, sha_hex);
    if (upload->received != upload->length) {
        snprintf (err, errlen, "upload has %llu of %llu bytes",
                  (unsigned long long)upload->received, (unsigned long long)upload->length);
        goto done;
    }
    if (sodium_memcmp (digest, upload->sha256, 32) != 0) {
        snprintf (err, errlen, "upload does not match its SHA-256 %s", sha_hex);
        goto done;
    }
    if (fsync (upload->fd) != 0 || close (upload->fd) != 0) {
        upload->fd = -1;
        snprintf (err, errlen, "cannot store the upload: %s", strerror (errno));
        status = 1;
        goto done;
    }
    upload->fd = -1;
    //  A release must carry a valid jadugar.yaml at its root.
    char reason[512];
    size_t manifest_size = 0;
    manifest_text = jad_archive_read_member (upload->path, "jadugar.yaml", 256 * 1024,
                                             &manifest_size, reason, sizeof reason);
    if (!manifest_text) {
        snprintf (err, errlen, "release archive refused: %s", reason);
        goto done;
    }
    char origin[160];
    snprintf (origin, sizeof origin, "%s-%s:jadugar.yaml", upload->app, upload->version);
    problems = jad_problems_new ();
    manifest = jad_manifest_parse (manifest_text, manifest_size, origin, problems);
    if (!manifest) {
        size_t used = (size_t)snprintf (err, errlen, "release archive refused:");
        for (size_t index = 0; index < jad_problems_count (problems) && used < errlen; index++)
            used += (size_t)snprintf (err + used, errlen - used, "\n  %s",
                                      jad_problems_get (problems, index));
        goto done;
    }
    final_path = jad_strdup_printf ("%s/artifacts/%s.tar.gz", self->data_dir, sha_hex);
    if (!final_path || s_mkdir_sub (self, "artifacts") != 0 ||
        rename (upload->path, final_path) != 0) {
        snprintf (err, errlen, "cannot store the release: %s", strerror (errno));
        status = 1;
        goto done;
    }
    //  the rollout engine needs to know which releases carry migrations
    ctl_release_t release = {.app = upload->app,
                             .version = upload->version,
                             .sha256 = sha_hex,
                             .length = (int64_t)upload->length,
                             .branch = upload->branch,
                             .commit_id = upload->commit,
                             .notes = upload->notes,
                             .migrate_up = manifest->migrate_up != NULL,
                             .migrate_down = manifest->migrate_down != NULL};
    int rc = ctl_releases_repo_add (self->store, &release, jad_now_ms ());
    if (rc != 0) {
        if (rc > 0)
            snprintf (err, errlen, "release %s %s already exists", upload->app, upload->version);
        else {
            snprintf (err, errlen, "database error");
            status = 1;
        }
        goto done;
    }
    jad_log_info ("artifacts: release added app=%s version=%s sha256=%s bytes=%llu", upload->app,
                  upload->version, sha_hex, (unsigned long long)upload->length);
    *result = json_pack ("{s:{s:s, s:s, s:s, s:I}}", "release", "app", upload->app, "version",
                         upload->version, "sha256", sha_hex, "length", (json_int_t)upload->length);
    status = 0;

done:
    free (final_path);
    free (manifest_text);
    jad_manifest_destroy (&manifest);
    jad_problems_destroy (&problems);
    zhashx_delete (self->uploads, id);
    return status;
}

//  True if a running plan in which `agent` is unfinished deploys the
//  release whose artifact is sha_hex.
static bool s_targets (ctl_artifacts_t *self, const char *agent, const char *sha_hex)
{
    bool found = false;
    zlistx_t *plans = ctl_plans_repo_unfinished_for (self->store, agent);
    for (const char *id = plans ? zlistx_first (plans) : NULL; id && !found;
         id = zlistx_next (plans)) {
        ctl_plan_t *plan = NULL;
        ctl_release_t *release = NULL;
        if (ctl_plans_repo_get (self->store, id, &plan) == 0 &&
            ctl_releases_repo_get (self->store, plan->app, plan->version, &release) == 0)
            found = streq (release->sha256, sha_hex);
        ctl_release_destroy (&release);
        ctl_plan_destroy (&plan);
    }
    zlistx_destroy (&plans);
    return found;
}

//  Refuse a fetch: count it, log it (rate-limited), say why in the reply.
static jad_ctl_msg_t *s_refuse (ctl_artifacts_t *self, jad_ctl_msg_t *reply, const char *agent,
                                const char *sha_hex, const char *reason)
{
    reply->chunk.error = strdup (reason);
    self->counters->value[CTL_COUNT_FETCH_REFUSED]++;
    uint64_t skipped = 0;
    if (ctl_counters_log_due (self->counters, CTL_COUNT_FETCH_REFUSED, &skipped))
        jad_log_warning ("artifacts: fetch refused agent=%s sha256=%s reason=\"%s\" "
                         "more_refused=%llu",
                         agent, sha_hex, reason, (unsigned long long)skipped);
    return reply;
}

jad_ctl_msg_t *ctl_artifacts_fetch (ctl_artifacts_t *self, const char *agent,
                                    const uint8_t sha256[32], uint64_t offset, uint32_t length)
{
    jad_ctl_msg_t *reply = calloc (1, sizeof *reply);
    if (!reply)
        return NULL;
    reply->kind = JAD_CTL_MSG_CHUNK;
    memcpy (reply->chunk.sha256, sha256, 32);
    reply->chunk.offset = offset;
    char sha_hex[65];
    jad_hex (sha256, 32, sha_hex);
    //  An agent reads only what a plan for it deploys: not another
    //  environment's releases, nor any release by guessing its digest.
    if (!s_targets (self, agent, sha_hex))
        return s_refuse (self, reply, agent, sha_hex, "no running plan for this agent uses it");
    int64_t total = 0;
    ctl_release_t *release = NULL;
    if (ctl_releases_repo_by_sha (self->store, sha_hex, &release) == 0)
        total = release->length;
    ctl_release_destroy (&release);
    if (total <= 0)
        return s_refuse (self, reply, agent, sha_hex, "unknown artifact");
    reply->chunk.total = (uint64_t)total;
    if (offset >= (uint64_t)total || length == 0 || length > JAD_CHUNK_SIZE)
        return s_refuse (self, reply, agent, sha_hex, "chunk outside the artifact");
    if (offset + length > (uint64_t)total)
        length = (uint32_t)((uint64_t)total - offset);
    char *path = jad_strdup_printf ("%s/artifacts/%s.tar.gz", self->data_dir, sha_hex);
    int fd = path ? open (path, O_RDONLY | O_CLOEXEC) : -1;
    reply->chunk.data = malloc (length);
    ssize_t got = -1;
    if (fd >= 0 && reply->chunk.data)
        got = pread (fd, reply->chunk.data, length, (off_t)offset);
    if (fd >= 0)
        close (fd);
    if (got != (ssize_t)length) {
        jad_log_error ("artifacts: cannot read path=%s offset=%llu error=\"%s\"", path ? path : "-",
                       (unsigned long long)offset, strerror (errno));
        free (reply->chunk.data);
        reply->chunk.data = NULL;
        reply->chunk.error = strdup ("artifact unreadable on the controller");
    } else {
        reply->chunk.data_size = length;
        self->counters->value[CTL_COUNT_CHUNKS_SENT]++;
        self->counters->value[CTL_COUNT_BYTES_SENT] += length;
    }
    free (path);
    return reply;
}
