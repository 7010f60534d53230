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

//  a fetch (at most JAD_CHUNK_SIZE bytes) spans at most two stored chunks
_Static_assert(CTL_CHUNK_BYTES == JAD_CHUNK_SIZE, "stored chunks are transfer chunks");

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
    bool checking;  //  committed, with the checker: no more chunks, no expiry
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
    char *shared;              //  the shared store's target: archives go there; NULL: files
    ctl_store_t *store;        //  borrowed
    ctl_counters_t *counters;  //  borrowed
    zhashx_t *uploads;         //  upload id -> s_upload_t *
    zactor_t *checker;         //  reads committed archives beside the loop
};

//  Copy the archive at `path` into the shared store (ctl_releases_repo_
//  chunks_from_file) on the checker's own store handle (*store_p, opened
//  at the first archive; dropped after a failure so the next one
//  reconnects). The handle is not fenced: chunks are named by content, so
//  a deposed leader's copy writes the same bytes; the release row, which
//  makes them used, is written by the loop's fenced handle. Returns 0 or
//  -1 (reason).
static int s_store_chunks (ctl_store_t **store_p, const char *target, const char *sha_hex,
                           const char *path, char *reason, size_t reasonlen)
{
    if (!*store_p)
        *store_p = ctl_store_open (target, 0);
    if (!*store_p) {
        snprintf (reason, reasonlen, "cannot open the shared store (see the log)");
        return -1;
    }
    int rc = ctl_releases_repo_chunks_from_file (*store_p, sha_hex, path, reason, reasonlen);
    if (rc != 0)
        ctl_store_destroy (store_p);
    return rc;
}

//  The checker: for each job (upload id, archive path, its SHA-256 hex,
//  byte cap, ratio cap) it reads the archive's jadugar.yaml and measures
//  its unpacked size within the caps; with a shared store (args: its
//  target, or NULL) it then copies the archive into it. It answers
//  (upload id, status 0, 1 if it could not be stored or 2 if refused,
//  unpacked size, reason, migrate_up, migrate_down). It uses only the
//  file and its own store handle: no loop memory. Jobs queue on the pipe,
//  one at a time.
static void s_checker_actor (zsock_t *pipe, void *args)
{
    const char *shared = (const char *)args;
    ctl_store_t *store = NULL;
    zsock_signal (pipe, 0);
    while (true) {
        char *command = NULL, *id = NULL, *path = NULL, *sha_hex = NULL;
        uint64_t max_bytes = 0, max_ratio = 0;
        if (zsock_recv (pipe, "ssss88", &command, &id, &path, &sha_hex, &max_bytes, &max_ratio) !=
            0) {
            zstr_free (&command);
            break;
        }
        if (!command || streq (command, "$TERM")) {
            zstr_free (&command);
            zstr_free (&id);
            zstr_free (&path);
            zstr_free (&sha_hex);
            break;
        }
        char reason[1024] = "";
        int status = 2;
        uint64_t unpacked = 0;
        bool migrate_up = false, migrate_down = false;
        size_t size = 0;
        jad_problems_t *problems = NULL;
        jad_manifest_t *manifest = NULL;
        jad_archive_limits_t limits = {.max_bytes = max_bytes, .max_ratio = max_ratio};
        char *text = jad_archive_read_member (path, "jadugar.yaml", 256 * 1024, &size, reason,
                                              sizeof reason);
        if (text) {
            problems = jad_problems_new ();
            manifest = problems ? jad_manifest_parse (text, size, "jadugar.yaml", problems) : NULL;
        }
        if (text && !manifest) {
            size_t used = 0;
            for (size_t index = 0;
                 problems && index < jad_problems_count (problems) && used < sizeof reason; index++)
                used += (size_t)snprintf (reason + used, sizeof reason - used, "\n  %s",
                                          jad_problems_get (problems, index));
        } else if (manifest && jad_archive_unpacked_size (path, &limits, &unpacked, reason,
                                                          sizeof reason) == 0) {
            status = 0;
            migrate_up = manifest->migrate_up != NULL;
            migrate_down = manifest->migrate_down != NULL;
            if (shared && s_store_chunks (&store, shared, sha_hex, path, reason, sizeof reason))
                status = 1;
        }
        free (text);
        jad_manifest_destroy (&manifest);
        jad_problems_destroy (&problems);
        zsock_send (pipe, "si8s11", id, status, unpacked, reason, (uint8_t)migrate_up,
                    (uint8_t)migrate_down);
        zstr_free (&command);
        zstr_free (&id);
        zstr_free (&path);
        zstr_free (&sha_hex);
    }
    ctl_store_destroy (&store);
}

static void s_upload_free (void **item)
{
    s_upload_destroy ((s_upload_t **)item);
}

ctl_artifacts_t *ctl_artifacts_new (const char *data_dir, const char *store_target,
                                    ctl_store_t *store, ctl_counters_t *counters)
{
    ctl_artifacts_t *self = (ctl_artifacts_t *)calloc (1, sizeof (ctl_artifacts_t));
    if (!self)
        return NULL;
    self->store = store;
    self->counters = counters;
    self->data_dir = strdup (data_dir);
    bool shared = ctl_store_target_shared (store_target);
    self->shared = shared ? strdup (store_target) : NULL;
    self->uploads = zhashx_new ();
    //  the checker reads self->shared until it ends (destroyed first)
    if (self->data_dir && (!shared || self->shared))
        self->checker = zactor_new (s_checker_actor, self->shared);
    if (!self->data_dir || !self->uploads || !self->checker)
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
    //  a check under way finishes first (the checker reads between jobs)
    zactor_destroy (&self->checker);
    //  pending uploads go, with their .part files
    zhashx_destroy (&self->uploads);
    free (self->data_dir);
    free (self->shared);
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
        if (!upload->checking && now - upload->started > S_UPLOAD_TTL_MS)
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
    if (!upload || upload->checking) {
        snprintf (err, errlen, "unknown, expired or committed upload '%s'", id ? id : "");
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

int ctl_artifacts_commit (ctl_artifacts_t *self, const jad_api_request_t *request,
                          const jad_archive_limits_t *limits, json_t **result, char *err,
                          size_t errlen)
{
    (void)result;
    const char *id = jad_api_request_arg (request, "upload");
    s_upload_t *upload = id ? zhashx_lookup (self->uploads, id) : NULL;
    if (!upload || upload->checking) {
        snprintf (err, errlen, "unknown, expired or committed upload '%s'", id ? id : "");
        return 2;
    }
    int status = 2;
    uint8_t digest[32];
    char sha_hex[65];
    crypto_hash_sha256_final (&upload->hash, digest);
    jad_hex (upload->sha256, 32, sha_hex);
    if (upload->received != upload->length) {
        snprintf (err, errlen, "upload has %llu of %llu bytes",
                  (unsigned long long)upload->received, (unsigned long long)upload->length);
        goto refused;
    }
    if (sodium_memcmp (digest, upload->sha256, 32) != 0) {
        snprintf (err, errlen, "upload does not match its SHA-256 %s", sha_hex);
        goto refused;
    }
    if (fsync (upload->fd) != 0 || close (upload->fd) != 0) {
        upload->fd = -1;
        snprintf (err, errlen, "cannot store the upload: %s", strerror (errno));
        status = 1;
        goto refused;
    }
    upload->fd = -1;
    //  The archive is read beside the loop: the answer comes back through
    //  ctl_artifacts_checked.
    if (zsock_send (self->checker, "ssss88", "CHECK", upload->id, upload->path, sha_hex,
                    limits->max_bytes, limits->max_ratio) != 0) {
        snprintf (err, errlen, "cannot check the release archive");
        status = 1;
        goto refused;
    }
    upload->checking = true;
    return CTL_ARTIFACTS_CHECKING;

refused:
    zhashx_delete (self->uploads, id);
    return status;
}

zactor_t *ctl_artifacts_checker (ctl_artifacts_t *self)
{
    return self->checker;
}

int ctl_artifacts_checked (ctl_artifacts_t *self, char **upload_p, json_t **result, char *err,
                           size_t errlen)
{
    *upload_p = NULL;
    char *id = NULL, *reason = NULL;
    int checked = 2;
    uint64_t unpacked = 0;
    uint8_t migrate_up = 0, migrate_down = 0;
    if (zsock_recv (self->checker, "si8s11", &id, &checked, &unpacked, &reason, &migrate_up,
                    &migrate_down) != 0 ||
        !id) {
        zstr_free (&id);
        zstr_free (&reason);
        snprintf (err, errlen, "the release archive checker failed");
        return 1;
    }
    *upload_p = id;
    s_upload_t *upload = zhashx_lookup (self->uploads, id);
    int status = 2;
    char *final_path = NULL;
    char sha_hex[65];
    if (!upload || !upload->checking) {
        snprintf (err, errlen, "unknown upload '%s'", id);
        goto done;
    }
    jad_hex (upload->sha256, 32, sha_hex);
    if (checked == 1) {
        //  a sound archive the shared store did not take: try again later
        jad_log_error ("artifacts: cannot store the release archive app=%s version=%s "
                       "sha256=%s reason=\"%s\"",
                       upload->app, upload->version, sha_hex, reason);
        snprintf (err, errlen, "cannot store the release: %s", reason);
        status = 1;
        goto done;
    }
    if (checked != 0) {
        //  a bomb, a broken archive or a bad manifest: refused, nothing kept
        self->counters->value[CTL_COUNT_RELEASE_ARCHIVE_REFUSED]++;
        char *shown = jad_text_sanitize (reason, strlen (reason), 200);
        for (char *cursor = shown; cursor && *cursor; cursor++)
            if (*cursor == '\n' || *cursor == '\t')
                *cursor = ' ';
        jad_log_warning ("artifacts: release archive refused app=%s version=%s sha256=%s "
                         "reason=\"%s\"",
                         upload->app, upload->version, sha_hex, shown ? shown : "?");
        free (shown);
        snprintf (err, errlen, "release archive refused:%s%s", *reason == '\n' ? "" : " ", reason);
        goto done;
    }
    //  in a shared store the checker has stored it; else it is a file
    if (!self->shared &&
        (!(final_path = jad_strdup_printf ("%s/artifacts/%s.tar.gz", self->data_dir, sha_hex)) ||
         s_mkdir_sub (self, "artifacts") != 0 || rename (upload->path, final_path) != 0)) {
        snprintf (err, errlen, "cannot store the release: %s", strerror (errno));
        status = 1;
        goto done;
    }
    //  the rollout engine needs to know which releases carry migrations
    ctl_release_t release = {.app = upload->app,
                             .version = upload->version,
                             .sha256 = sha_hex,
                             .length = (int64_t)upload->length,
                             .unpacked_size = (int64_t)unpacked,
                             .branch = upload->branch,
                             .commit_id = upload->commit,
                             .notes = upload->notes,
                             .migrate_up = migrate_up != 0,
                             .migrate_down = migrate_down != 0};
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
    jad_log_info ("artifacts: release added app=%s version=%s sha256=%s bytes=%llu "
                  "unpacked=%llu",
                  upload->app, upload->version, sha_hex, (unsigned long long)upload->length,
                  (unsigned long long)unpacked);
    *result = json_pack ("{s:{s:s, s:s, s:s, s:I, s:I}}", "release", "app", upload->app, "version",
                         upload->version, "sha256", sha_hex, "length", (json_int_t)upload->length,
                         "unpacked_size", (json_int_t)unpacked);
    status = 0;

done:
    free (final_path);
    zstr_free (&reason);
    if (upload)
        zhashx_delete (self->uploads, id);
    return status;
}

//  True if a running plan in which `agent` is unfinished deploys the
//  release whose artifact is sha_hex, or (sha_hex NULL) is a plan of
//  app/version in env (the attestation bundle sent with it).
static bool s_targets (ctl_artifacts_t *self, const char *agent, const char *sha_hex,
                       const char *app, const char *version, const char *env)
{
    bool found = false;
    zlistx_t *plans = ctl_plans_repo_unfinished_for (self->store, agent);
    for (const char *id = plans ? zlistx_first (plans) : NULL; id && !found;
         id = zlistx_next (plans)) {
        ctl_plan_t *plan = NULL;
        ctl_release_t *release = NULL;
        if (ctl_plans_repo_get (self->store, id, &plan) != 0)
            ;
        else if (!sha_hex)
            found =
                streq (plan->app, app) && streq (plan->version, version) && streq (plan->env, env);
        else if (ctl_releases_repo_get (self->store, plan->app, plan->version, &release) == 0)
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

//  A chunk's reply once its bytes were read (ok: length of them into
//  reply->chunk.data) or not (the agent is told, the bytes dropped);
//  counted. Returns reply.
static jad_ctl_msg_t *s_chunk_read (ctl_artifacts_t *self, jad_ctl_msg_t *reply, bool ok,
                                    size_t length)
{
    if (!ok) {
        free (reply->chunk.data);
        reply->chunk.data = NULL;
        reply->chunk.error = strdup ("artifact unreadable on the controller");
        return reply;
    }
    reply->chunk.data_size = length;
    self->counters->value[CTL_COUNT_CHUNKS_SENT]++;
    self->counters->value[CTL_COUNT_BYTES_SENT] += length;
    return reply;
}

//  Fill the reply with `length` bytes at `offset` of archive sha_hex from
//  the shared store.
static jad_ctl_msg_t *s_fetch_stored (ctl_artifacts_t *self, jad_ctl_msg_t *reply,
                                      const char *sha_hex, uint64_t offset, uint32_t length)
{
    reply->chunk.data = malloc (length);
    int rc = reply->chunk.data ? ctl_releases_repo_chunks_read (self->store, sha_hex, offset,
                                                                length, reply->chunk.data)
                               : -1;
    if (rc != 0)
        jad_log_error ("artifacts: cannot read sha256=%s offset=%llu from the store: %s", sha_hex,
                       (unsigned long long)offset,
                       rc > 0 ? "chunks missing" : "store error or out of memory");
    return s_chunk_read (self, reply, rc == 0, length);
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
    //  the attestation bundle of a plan for it (jad_policy.h), by its hash
    char *bundle = NULL, *app = NULL, *version = NULL, *env = NULL;
    int bundled = ctl_releases_repo_bundle (self->store, sha_hex, &bundle, &app, &version, &env);
    if (bundled == 0) {
        bool allowed = s_targets (self, agent, NULL, app, version, env);
        size_t total = strlen (bundle);
        if (allowed && offset < total && length > 0 && length <= JAD_CHUNK_SIZE) {
            size_t size = offset + length > total ? total - (size_t)offset : length;
            reply->chunk.data = malloc (size);
            if (reply->chunk.data) {
                memcpy (reply->chunk.data, bundle + offset, size);
                reply->chunk.data_size = size;
                reply->chunk.total = total;
                self->counters->value[CTL_COUNT_CHUNKS_SENT]++;
                self->counters->value[CTL_COUNT_BYTES_SENT] += size;
            } else
                reply->chunk.error = strdup ("out of memory on the controller");
        }
        free (bundle);
        free (app);
        free (version);
        free (env);
        if (!allowed)
            return s_refuse (self, reply, agent, sha_hex, "no running plan for this agent uses it");
        if (!reply->chunk.data && !reply->chunk.error)
            return s_refuse (self, reply, agent, sha_hex, "chunk outside the bundle");
        return reply;
    }
    //  An agent reads only what a plan for it deploys: not another
    //  environment's releases, nor any release by guessing its digest.
    if (!s_targets (self, agent, sha_hex, NULL, NULL, NULL))
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
    if (self->shared)
        return s_fetch_stored (self, reply, sha_hex, offset, length);
    char *path = jad_strdup_printf ("%s/artifacts/%s.tar.gz", self->data_dir, sha_hex);
    int fd = path ? open (path, O_RDONLY | O_CLOEXEC) : -1;
    reply->chunk.data = malloc (length);
    ssize_t got = -1;
    if (fd >= 0 && reply->chunk.data)
        got = pread (fd, reply->chunk.data, length, (off_t)offset);
    if (fd >= 0)
        close (fd);
    if (got != (ssize_t)length)
        jad_log_error ("artifacts: cannot read path=%s offset=%llu error=\"%s\"", path ? path : "-",
                       (unsigned long long)offset, strerror (errno));
    free (path);
    return s_chunk_read (self, reply, got == (ssize_t)length, length);
}
