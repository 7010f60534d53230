//  agt_apply - apply one release on this host: unpack, hooks, switch,
//  smoke, rollback, prune
//  SPDX-License-Identifier: MPL-2.0
//
//  Order of a plan: [fetch (URL artifacts only)], unpack, pre_activate,
//  switch, activate, smoke. A failure before the switch leaves `current`
//  alone; after it, `current` goes back to the previous release and that
//  release's activate hook runs again. Absent hooks are not reported.

#include "agt_apply.h"
#include "agt_http.h"
#include "jad_archive.h"
#include "jad_config.h"
#include "jad_hook.h"
#include "jad_util.h"
#include "jad_wire.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MANIFEST_MAX (1024 * 1024)
//  Unpacking leaves this much of the release root's filesystem free: 5 %
//  of it, at most 64 MiB (hooks, logs and the apps need room too).
#define RESERVE_SHARE 20
#define RESERVE_MAX   (64ULL * 1024 * 1024)

typedef struct {
    const jad_apply_job_t *job;  //  borrowed
    agt_apply_emit_fn *emit;
    void *arg;
    char app_dir[PATH_MAX];       //  ROOT/APP
    char releases_dir[PATH_MAX];  //  ROOT/APP/releases
    char current_link[PATH_MAX];  //  ROOT/APP/current
    char shared_dir[PATH_MAX];    //  ROOT/APP/shared
    char release_dir[PATH_MAX];   //  ROOT/APP/releases/VERSION
    char archive[PATH_MAX];       //  artifact to unpack, empty: none
    char *previous;               //  release to go back to, or NULL
    jad_manifest_t *manifest;     //  the new release's jadugar.yaml
    bool drop_privileges;         //  hook-user set
    uid_t uid;
    gid_t gid;
    char failure[JAD_MAX_DETAIL];  //  "step: what went wrong", for the plan report
} s_apply_t;

static char *s_dup (const char *text)
{
    return text ? strdup (text) : NULL;
}

static void s_emit (s_apply_t *self, jad_apply_event_kind_t kind, const char *version,
                    const char *step, uint32_t status, const char *detail, const char *output,
                    uint32_t duration)
{
    jad_apply_event_t *event = jad_apply_event_new (kind);
    if (!event)
        return;
    event->plan_id = s_dup (self->job->plan_id);
    event->app = s_dup (self->job->app);
    event->version = s_dup (version);
    event->step = s_dup (step);
    event->status = status;
    event->detail = s_dup (detail);
    event->output = s_dup (output);
    event->duration_ms = duration;
    if (kind == JAD_APPLY_EVENT_RELEASE_ADDED)
        event->sha256_hex = s_dup (self->job->sha256_hex);
    self->emit (&event, self->arg);
    jad_apply_event_destroy (&event);
}

static void s_started (s_apply_t *self, const char *step)
{
    s_emit (self, JAD_APPLY_EVENT_STEP, self->job->version, step, JAD_REPORT_STARTED, NULL, NULL,
            0);
}

static uint32_t s_since (int64_t start)
{
    return (uint32_t)(jad_mono_ms () - start);
}

//  A step ended: report it; on failure remember why for the plan report.
static int s_finished (s_apply_t *self, const char *step, int rc, const char *detail,
                       const char *output, int64_t start)
{
    s_emit (self, JAD_APPLY_EVENT_STEP, self->job->version, step,
            rc == 0 ? JAD_REPORT_OK : JAD_REPORT_FAILED, detail, output, s_since (start));
    if (rc != 0)
        jad_format (self->failure, sizeof self->failure, "%s: %s", step,
                    detail ? detail : "failed");
    return rc;
}

//  Version that ROOT/APP/current points at (releases/VERSION), or NULL.
static char *s_current_version (s_apply_t *self)
{
    char version[JAD_NAME_MAX + 1];
    return jad_current_version (self->current_link, version) ? strdup (version) : NULL;
}

//  Point current at releases/VERSION atomically. Returns 0 or -1 (err).
static int s_point_current (s_apply_t *self, const char *version, char *err, size_t errlen)
{
    char target[PATH_MAX];
    char temp[PATH_MAX];
    jad_format (target, sizeof target, "releases/%s", version);
    jad_format (temp, sizeof temp, "%s/current.tmp", self->app_dir);
    if (unlink (temp) && errno != ENOENT) {
        jad_format (err, errlen, "cannot remove %s: %s", temp, strerror (errno));
        return -1;
    }
    if (symlink (target, temp)) {
        jad_format (err, errlen, "cannot create %s: %s", temp, strerror (errno));
        return -1;
    }
    if (rename (temp, self->current_link)) {
        jad_format (err, errlen, "cannot rename %s over %s: %s", temp, self->current_link,
                    strerror (errno));
        unlink (temp);
        return -1;
    }
    jad_dir_sync (self->app_dir);
    return 0;
}

//  Read and validate RELEASE_DIR/jadugar.yaml. Returns the manifest or
//  NULL with the first problem in detail and all of them in *output.
static jad_manifest_t *s_manifest_read (s_apply_t *self, const char *release_dir,
                                        const char *version, char *detail, size_t len,
                                        char **output)
{
    char path[PATH_MAX];
    jad_format (path, sizeof path, "%s/jadugar.yaml", release_dir);
    size_t size = 0;
    char *text = jad_file_read (path, MANIFEST_MAX, &size);
    if (!text) {
        jad_format (detail, len, "jadugar.yaml: %s",
                    errno == ENOENT ? "missing at the release root" : strerror (errno));
        return NULL;
    }
    char origin[PATH_MAX];
    jad_format (origin, sizeof origin, "%s-%s:jadugar.yaml", self->job->app, version);
    jad_problems_t *problems = jad_problems_new ();
    if (!problems) {
        free (text);
        jad_format (detail, len, "out of memory");
        return NULL;
    }
    jad_manifest_t *manifest = jad_manifest_parse (text, size, origin, problems);
    free (text);
    if (!manifest) {
        const char *first = jad_problems_get (problems, 0);
        jad_format (detail, len, "%s", first ? first : "jadugar.yaml: invalid");
        zchunk_t *all = zchunk_new (NULL, 0);
        for (size_t index = 0; all && index < jad_problems_count (problems); index++) {
            const char *line = jad_problems_get (problems, index);
            zchunk_extend (all, line, strlen (line));
            zchunk_extend (all, "\n", 1);
        }
        if (all) {
            zchunk_extend (all, "", 1);
            *output = strdup ((const char *)zchunk_data (all));
            zchunk_destroy (&all);
        }
    }
    jad_problems_destroy (&problems);
    return manifest;
}

//  Run one hook of a release. Returns 0 or -1; detail gets "hook STEP
//  CMD: exit 3", *output the captured output (caller frees).
static int s_hook (s_apply_t *self, const char *step, const char *command, const char *release_dir,
                   const char *version, const char *previous, uint32_t timeout_ms, char *detail,
                   size_t len, char **output)
{
    char *env[8] = {NULL};
    env[0] = jad_strdup_printf ("JADUGAR_APP=%s", self->job->app);
    env[1] = jad_strdup_printf ("JADUGAR_VERSION=%s", version);
    env[2] = jad_strdup_printf ("JADUGAR_PREVIOUS_VERSION=%s", previous ? previous : "");
    env[3] = jad_strdup_printf ("JADUGAR_ENV=%s", self->job->environment);
    env[4] = jad_strdup_printf ("JADUGAR_HOST=%s", self->job->host);
    env[5] = jad_strdup_printf ("JADUGAR_RELEASE_DIR=%s", release_dir);
    env[6] = jad_strdup_printf ("JADUGAR_SHARED_DIR=%s", self->shared_dir);
    int rc = -1;
    for (int index = 0; index < 7; index++)
        if (!env[index]) {
            jad_format (detail, len, "hook %s %s: out of memory", step, command);
            goto done;
        }
    jad_hook_spec_t spec = {
        .release_dir = release_dir,
        .command = command,
        .env = (const char *const *)env,
        .timeout_ms = timeout_ms ? timeout_ms : self->job->hook_timeout_ms,
        .max_output = JAD_MAX_OUTPUT,
        .drop_privileges = self->drop_privileges,
        .uid = self->uid,
        .gid = self->gid,
    };
    jad_hook_result_t result;
    memset (&result, 0, sizeof result);
    rc = jad_hook_run (&spec, &result);
    char described[512];
    jad_hook_describe (&result, described, sizeof described);
    jad_format (detail, len, "hook %s %s: %s", step, command, described);
    *output = result.output;
    result.output = NULL;
    jad_hook_result_clear (&result);
done:
    for (int index = 0; index < 7; index++)
        free (env[index]);
    return rc;
}

//  A hook step of the new release (absent hooks are skipped, unreported).
static int s_step_hook (s_apply_t *self, const char *step, const char *command)
{
    if (!command)
        return 0;
    s_started (self, step);
    int64_t start = jad_mono_ms ();
    char detail[JAD_MAX_DETAIL];
    char *output = NULL;
    int rc = s_hook (self, step, command, self->release_dir, self->job->version, self->previous, 0,
                     detail, sizeof detail, &output);
    s_finished (self, step, rc, detail, output, start);
    free (output);
    return rc;
}

//  URL artifacts are downloaded here (controller-store ones by agt_fetch).
static int s_step_fetch_url (s_apply_t *self)
{
    const jad_apply_job_t *job = self->job;
    s_started (self, "fetch");
    int64_t start = jad_mono_ms ();
    char detail[JAD_MAX_DETAIL];
    char part[PATH_MAX];
    jad_format (part, sizeof part, "%s/%s.part", job->downloads, job->sha256_hex);
    jad_format (self->archive, sizeof self->archive, "%s/%s", job->downloads, job->sha256_hex);
    if (jad_mkdirs (job->downloads, 0700)) {
        jad_format (detail, sizeof detail, "cannot create %s: %s", job->downloads,
                    strerror (errno));
        goto failed;
    }
    if (agt_http_download (job->url, part, job->artifact_length,
                           job->step_deadline_ms ? job->step_deadline_ms : 600000, detail,
                           sizeof detail))
        goto failed;
    uint8_t sha[32];
    uint64_t size = 0;
    char hex[65];
    if (jad_sha256_file (part, sha, &size)) {
        jad_format (detail, sizeof detail, "cannot read %s", part);
        goto failed;
    }
    if (size != job->artifact_length) {
        jad_format (detail, sizeof detail, "artifact is %llu bytes, plan signs %llu",
                    (unsigned long long)size, (unsigned long long)job->artifact_length);
        goto failed;
    }
    if (strcmp (jad_hex (sha, 32, hex), job->sha256_hex) != 0) {
        jad_format (detail, sizeof detail, "artifact SHA-256 %s differs from the signed %s", hex,
                    job->sha256_hex);
        goto failed;
    }
    if (rename (part, self->archive)) {
        jad_format (detail, sizeof detail, "cannot rename %s: %s", part, strerror (errno));
        goto failed;
    }
    return s_finished (self, "fetch", 0, "downloaded", NULL, start);

failed:
    unlink (part);
    self->archive[0] = 0;
    return s_finished (self, "fetch", -1, detail, NULL, start);
}

//  Remove staging dirs a crash left behind.
static void s_clean_staging (s_apply_t *self)
{
    DIR *dir = opendir (self->releases_dir);
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (strncmp (entry->d_name, ".staging-", 9) == 0) {
            char path[PATH_MAX];
            jad_format (path, sizeof path, "%s/%s", self->releases_dir, entry->d_name);
            jad_rmtree (path);
        }
    }
    closedir (dir);
}

static bool s_is_dir (const char *path)
{
    struct stat info;
    return lstat (path, &info) == 0 && S_ISDIR (info.st_mode);
}

//  Room on the filesystem of a directory.
typedef struct {
    uint64_t free;         //  bytes a non-root writer may still use
    uint64_t reserve;      //  of them, what unpacking leaves free
    uint64_t files_free;   //  inodes a non-root writer may still use
    char mount[PATH_MAX];  //  the filesystem's mount point
} s_space_t;

//  Free space and mount point of the filesystem holding `dir`. Returns 0
//  or -1 (statvfs failed).
static int s_space (const char *dir, s_space_t *space)
{
    struct statvfs info;
    struct stat where;
    if (statvfs (dir, &info) != 0 || stat (dir, &where) != 0)
        return -1;
    space->free = (uint64_t)info.f_bavail * info.f_frsize;
    space->files_free = (uint64_t)info.f_favail;
    uint64_t size = (uint64_t)info.f_blocks * info.f_frsize;
    space->reserve = size / RESERVE_SHARE < RESERVE_MAX ? size / RESERVE_SHARE : RESERVE_MAX;
    //  the mount point: the last directory up from dir on the same device
    char path[PATH_MAX];
    if (!realpath (dir, path))
        jad_format (path, sizeof path, "%s", dir);
    while (strcmp (path, "/") != 0) {
        char *slash = strrchr (path, '/');
        char parent[PATH_MAX];
        jad_format (parent, sizeof parent, "%.*s", slash == path ? 1 : (int)(slash - path), path);
        struct stat above;
        if (stat (parent, &above) != 0 || above.st_dev != where.st_dev)
            break;
        jad_format (path, sizeof path, "%s", parent);
    }
    jad_format (space->mount, sizeof space->mount, "%s", path);
    return 0;
}

//  "4194304 bytes (4.0 MiB)" into buf ("570 bytes" below 10 KiB).
static const char *s_bytes (uint64_t bytes, char *buf, size_t len)
{
    double value = (double)bytes;
    const char *unit = value >= 1024.0 * 1024 * 1024 ? "GiB" : "MiB";
    value /= unit[0] == 'G' ? 1024.0 * 1024 * 1024 : 1024.0 * 1024;
    if (bytes < 10 * 1024)
        jad_format (buf, len, "%llu bytes", (unsigned long long)bytes);
    else
        jad_format (buf, len, "%llu bytes (%.1f %s)", (unsigned long long)bytes, value, unit);
    return buf;
}

//  What to do about too little space, for the end of a detail.
#define S_SPACE_ADVICE                                                                             \
    "free space there (fewer keep-releases, old releases or files removed) or grow it, then "      \
    "deploy again"

static int s_step_unpack (s_apply_t *self)
{
    const jad_apply_job_t *job = self->job;
    s_started (self, "unpack");
    int64_t start = jad_mono_ms ();
    char detail[JAD_MAX_DETAIL] = "";
    char *output = NULL;
    char staging[PATH_MAX] = "";

    if (jad_mkdirs (self->releases_dir, 0755) || jad_mkdirs (self->shared_dir, 0755)) {
        jad_format (detail, sizeof detail, "cannot create %s: %s", self->app_dir, strerror (errno));
        goto failed;
    }
    //  hooks run as hook-user: ROOT/APP/shared is theirs to write (only
    //  the directory itself: what they put in it is already theirs)
    if (self->drop_privileges && geteuid () == 0 &&
        lchown (self->shared_dir, self->uid, self->gid) != 0) {
        jad_format (detail, sizeof detail, "cannot give %s to hook-user: %s", self->shared_dir,
                    strerror (errno));
        goto failed;
    }
    s_clean_staging (self);
    if (s_is_dir (self->release_dir)) {
        if (job->release_known) {
            self->manifest = s_manifest_read (self, self->release_dir, job->version, detail,
                                              sizeof detail, &output);
            if (!self->manifest)
                goto failed;
            return s_finished (self, "unpack", 0, "release already on disk", NULL, start);
        }
        char *current = s_current_version (self);
        bool is_current = current && strcmp (current, job->version) == 0;
        free (current);
        if (is_current) {
            jad_format (detail, sizeof detail,
                        "releases/%s is current but does not hold the signed artifact",
                        job->version);
            goto failed;
        }
        if (jad_rmtree (self->release_dir)) {
            jad_format (detail, sizeof detail, "cannot remove stale releases/%s", job->version);
            goto failed;
        }
        s_emit (self, JAD_APPLY_EVENT_RELEASE_REMOVED, job->version, NULL, 0, NULL, NULL, 0);
    }
    if (!self->archive[0]) {
        jad_format (detail, sizeof detail, "release %s is not on disk and no artifact was fetched",
                    job->version);
        goto failed;
    }
    //  Room: a signed unpacked size is checked before anything is written
    //  and caps the extraction; without one (an older controller) the
    //  extraction stops where the reserve begins, and at a compression
    //  ratio, so that a bomb stops early.
    s_space_t space;
    bool measured = s_space (self->releases_dir, &space) == 0;
    char needed[64], room[64], kept[64];
    jad_archive_limits_t limits = {.max_ratio = job->unpacked_size ? 0 : JAD_ARCHIVE_MAX_RATIO,
                                   .max_bytes = job->unpacked_size};
    bool space_cap = false;
    if (measured && job->unpacked_size &&
        (job->unpacked_size > space.free || space.free - job->unpacked_size < space.reserve)) {
        jad_format (detail, sizeof detail,
                    "not enough space: releases/%s needs %s unpacked and %s must stay free, but the"
                    " filesystem mounted at %s (holding %s) has %s free; " S_SPACE_ADVICE,
                    job->version, s_bytes (job->unpacked_size, needed, sizeof needed),
                    s_bytes (space.reserve, kept, sizeof kept), space.mount, self->releases_dir,
                    s_bytes (space.free, room, sizeof room));
        goto failed;
    }
    if (measured && !job->unpacked_size) {
        if (space.free <= space.reserve) {
            jad_format (detail, sizeof detail,
                        "not enough space: the filesystem mounted at %s (holding %s) has %s free,"
                        " and %s must stay free; " S_SPACE_ADVICE,
                        space.mount, self->releases_dir, s_bytes (space.free, room, sizeof room),
                        s_bytes (space.reserve, kept, sizeof kept));
            goto failed;
        }
        limits.max_bytes = space.free - space.reserve;
        space_cap = true;
    }
    char random[17];
    jad_format (staging, sizeof staging, "%s/.staging-%s-%s", self->releases_dir, job->version,
                jad_random_id (8, random));
    char err[JAD_MAX_DETAIL / 2];
    jad_archive_report_t report;
    if (jad_archive_unpack (self->archive, staging, &limits, &report, err, sizeof err)) {
        staging[0] = 0;  //  unpack removed it
        bool full = report.write_errno == ENOSPC || report.write_errno == EDQUOT;
        char written[64], signed_size[96] = "";
        if (job->unpacked_size)
            jad_format (signed_size, sizeof signed_size, "; the release needs %s",
                        s_bytes (job->unpacked_size, needed, sizeof needed));
        if (full)
            //  past the checks above: out of inodes, a quota, or someone
            //  else filled the disk meanwhile
            jad_format (
                detail, sizeof detail,
                "disk full: %s, after %s of releases/%s were written; the filesystem"
                " mounted at %s (holding %s) had %s and %llu inodes free before unpacking%s;"
                " " S_SPACE_ADVICE,
                err, s_bytes (report.unpacked, written, sizeof written), job->version,
                measured ? space.mount : "?", self->releases_dir,
                s_bytes (measured ? space.free : 0, room, sizeof room),
                (unsigned long long)(measured ? space.files_free : 0), signed_size);
        else if (space_cap && report.cap == JAD_ARCHIVE_CAP_BYTES)
            jad_format (detail, sizeof detail,
                        "not enough space: releases/%s needs more than %s unpacked (%s), but the"
                        " filesystem mounted at %s (holding %s) has %s free and %s must stay "
                        "free; " S_SPACE_ADVICE,
                        job->version, s_bytes (report.needed, needed, sizeof needed), err,
                        space.mount, self->releases_dir, s_bytes (space.free, room, sizeof room),
                        s_bytes (space.reserve, kept, sizeof kept));
        else if (job->unpacked_size && report.cap == JAD_ARCHIVE_CAP_BYTES)
            jad_format (
                detail, sizeof detail,
                "archive refused: %s: it unpacks to more than the %llu bytes its plan signs", err,
                (unsigned long long)job->unpacked_size);
        else
            jad_format (detail, sizeof detail, "archive refused: %s", err);
        goto failed;
    }
    self->manifest = s_manifest_read (self, staging, job->version, detail, sizeof detail, &output);
    if (!self->manifest)
        goto failed;
    if (rename (staging, self->release_dir)) {
        jad_format (detail, sizeof detail, "cannot rename staging dir to releases/%s: %s",
                    job->version, strerror (errno));
        goto failed;
    }
    jad_dir_sync (self->releases_dir);
    s_emit (self, JAD_APPLY_EVENT_RELEASE_ADDED, job->version, NULL, 0, NULL, NULL, 0);
    return s_finished (self, "unpack", 0, "unpacked", NULL, start);

failed:
    if (staging[0])
        jad_rmtree (staging);
    s_finished (self, "unpack", -1, detail, output, start);
    free (output);
    return -1;
}

static int s_step_switch (s_apply_t *self)
{
    s_started (self, "switch");
    int64_t start = jad_mono_ms ();
    char detail[JAD_MAX_DETAIL];
    if (s_point_current (self, self->job->version, detail, sizeof detail))
        return s_finished (self, "switch", -1, detail, NULL, start);
    //  mtime = last activation: pruning keeps the most recently used
    utimensat (AT_FDCWD, self->release_dir, NULL, 0);
    jad_format (detail, sizeof detail, "current -> releases/%s", self->job->version);
    return s_finished (self, "switch", 0, detail, NULL, start);
}

//  Append text to a bounded output buffer.
static void s_output_add (zchunk_t *all, const char *text)
{
    if (!text || !*text)
        return;
    size_t room = JAD_MAX_OUTPUT > zchunk_size (all) ? JAD_MAX_OUTPUT - zchunk_size (all) : 0;
    size_t size = strlen (text);
    zchunk_extend (all, text, size < room ? size : room);
}

static int s_step_smoke (s_apply_t *self, const char *step)
{
    jad_manifest_t *manifest = self->manifest;
    if (manifest->smoke_count == 0)
        return 0;
    s_started (self, step);
    int64_t start = jad_mono_ms ();
    char detail[JAD_MAX_DETAIL] = "";
    zchunk_t *all = zchunk_new (NULL, 0);
    int rc = 0;
    for (size_t index = 0; rc == 0 && index < manifest->smoke_count; index++) {
        const jad_smoke_t *check = &manifest->smoke[index];
        if (check->run) {
            char *output = NULL;
            rc = s_hook (self, "smoke", check->run, self->release_dir, self->job->version,
                         self->previous, check->timeout_ms, detail, sizeof detail, &output);
            if (all)
                s_output_add (all, output);
            free (output);
        } else if (check->http)
            rc = agt_http_check (check->http, check->expect, check->timeout_ms, detail,
                                 sizeof detail);
    }
    if (rc == 0)
        jad_format (detail, sizeof detail, "%zu checks passed", manifest->smoke_count);
    char *output = NULL;
    if (all && zchunk_size (all) > 0) {
        zchunk_extend (all, "", 1);
        output = strdup ((const char *)zchunk_data (all));
    }
    zchunk_destroy (&all);
    s_finished (self, step, rc, detail, output, start);
    free (output);
    return rc;
}

//  MIGRATE_DOWN: each listed release's migrate_down, in order, from its
//  own directory (it must still be on disk).
static int s_task_migrate_down (s_apply_t *self)
{
    const jad_apply_job_t *job = self->job;
    for (size_t index = 0; index < job->migration_count; index++) {
        const char *version = job->migrations[index];
        s_started (self, "migrate_down");
        int64_t start = jad_mono_ms ();
        char detail[JAD_MAX_DETAIL];
        char *output = NULL;
        char release_dir[PATH_MAX];
        if (jad_format (release_dir, sizeof release_dir, "%s/%s", self->releases_dir, version) ||
            !s_is_dir (release_dir)) {
            jad_format (detail, sizeof detail, "%s: releases/%s is not on this host", version,
                        version);
            return s_finished (self, "migrate_down", -1, detail, NULL, start);
        }
        jad_manifest_t *manifest =
            s_manifest_read (self, release_dir, version, detail, sizeof detail, &output);
        int rc = -1;
        if (manifest && !manifest->migrate_down)
            jad_format (detail, sizeof detail, "%s: jadugar.yaml has no migrate_down hook",
                        version);
        else if (manifest) {
            char hook_detail[JAD_MAX_DETAIL - 80];
            rc = s_hook (self, "migrate_down", manifest->migrate_down, release_dir, version,
                         job->version, 0, hook_detail, sizeof hook_detail, &output);
            jad_format (detail, sizeof detail, "%s: %s", version, hook_detail);
        }
        jad_manifest_destroy (&manifest);
        s_finished (self, "migrate_down", rc, detail, output, start);
        free (output);
        if (rc != 0)
            return -1;
    }
    return 0;
}

//  VERIFY: the smoke checks of the current release, run again.
static int s_task_verify (s_apply_t *self)
{
    char *current = s_current_version (self);
    bool is_current = current && strcmp (current, self->job->version) == 0;
    free (current);
    char detail[JAD_MAX_DETAIL];
    char *output = NULL;
    if (!is_current) {
        s_started (self, "verify");
        jad_format (detail, sizeof detail, "%s is not the current release", self->job->version);
        return s_finished (self, "verify", -1, detail, NULL, jad_mono_ms ());
    }
    self->manifest = s_manifest_read (self, self->release_dir, self->job->version, detail,
                                      sizeof detail, &output);
    if (!self->manifest) {
        s_started (self, "verify");
        s_finished (self, "verify", -1, detail, output, jad_mono_ms ());
        free (output);
        return -1;
    }
    return s_step_smoke (self, "verify");
}

//  A task (anything but APPLY); returns 0 or -1, never moves current.
static int s_task (s_apply_t *self)
{
    const jad_apply_job_t *job = self->job;
    if (job->action == JAD_PLAN_ACTION_MIGRATE_DOWN)
        return s_task_migrate_down (self);
    if (job->action == JAD_PLAN_ACTION_VERIFY)
        return s_task_verify (self);
    int rc = 0;
    if (job->url && !self->archive[0] && !job->release_known)
        rc = s_step_fetch_url (self);
    if (rc == 0)
        rc = s_step_unpack (self);
    if (rc == 0 && !self->manifest->migrate_up) {
        s_started (self, "migrate_up");
        return s_finished (self, "migrate_up", 0, "no migrate_up hook", NULL, jad_mono_ms ());
    }
    if (rc == 0)
        rc = s_step_hook (self, "migrate_up", self->manifest->migrate_up);
    return rc;
}

//  After a failure past the switch: back to the previous release.
static void s_rollback (s_apply_t *self)
{
    s_started (self, "rollback");
    int64_t start = jad_mono_ms ();
    char detail[JAD_MAX_DETAIL];
    char *output = NULL;
    char previous_dir[PATH_MAX];
    if (self->previous)
        jad_format (previous_dir, sizeof previous_dir, "%s/%s", self->releases_dir, self->previous);
    if (!self->previous || !s_is_dir (previous_dir)) {
        if (unlink (self->current_link) && errno != ENOENT) {
            jad_format (detail, sizeof detail, "cannot remove current: %s", strerror (errno));
            s_emit (self, JAD_APPLY_EVENT_STEP, self->job->version, "rollback", JAD_REPORT_FAILED,
                    detail, NULL, s_since (start));
            return;
        }
        jad_dir_sync (self->app_dir);
        s_emit (self, JAD_APPLY_EVENT_STEP, self->job->version, "rollback", JAD_REPORT_ROLLED_BACK,
                "no previous release: current removed", NULL, s_since (start));
        return;
    }
    if (s_point_current (self, self->previous, detail, sizeof detail)) {
        s_emit (self, JAD_APPLY_EVENT_STEP, self->job->version, "rollback", JAD_REPORT_FAILED,
                detail, NULL, s_since (start));
        return;
    }
    char switched[128];
    jad_format (switched, sizeof switched, "current -> releases/%s", self->previous);
    char problem[JAD_MAX_DETAIL] = "";
    jad_manifest_t *manifest =
        s_manifest_read (self, previous_dir, self->previous, problem, sizeof problem, &output);
    if (manifest && manifest->activate) {
        char hook_detail[JAD_MAX_DETAIL - 160];
        if (s_hook (self, "activate", manifest->activate, previous_dir, self->previous,
                    self->job->version, 0, hook_detail, sizeof hook_detail, &output))
            jad_format (detail, sizeof detail, "%s; %s", switched, hook_detail);
        else
            jad_format (detail, sizeof detail, "%s; activate ran", switched);
    } else if (!manifest)
        jad_format (detail, sizeof detail, "%s; activate not run: %.600s", switched, problem);
    else
        jad_format (detail, sizeof detail, "%s", switched);
    jad_manifest_destroy (&manifest);
    s_emit (self, JAD_APPLY_EVENT_STEP, self->job->version, "rollback", JAD_REPORT_ROLLED_BACK,
            detail, output, s_since (start));
    free (output);
}

//  AGT_ACTION_ROLLBACK: the helper applying job->version was lost after
//  the switch. The same rollback a failing step gets; the failure says
//  where current is now.
static void s_rollback_lost (s_apply_t *self)
{
    s_rollback (self);
    char *current = s_current_version (self);
    if (!current)
        jad_format (self->failure, sizeof self->failure, "rolled back: no release is current");
    else if (strcmp (current, self->job->version) != 0)
        jad_format (self->failure, sizeof self->failure, "rolled back: current -> releases/%s",
                    current);
    else
        jad_format (self->failure, sizeof self->failure, "rollback failed: current -> releases/%s",
                    current);
    free (current);
}

typedef struct {
    char name[JAD_NAME_MAX + 1];
    struct timespec mtime;
} s_release_t;

static int s_release_compare (const void *left, const void *right)
{
    const s_release_t *first = (const s_release_t *)left;
    const s_release_t *second = (const s_release_t *)right;
    if (first->mtime.tv_sec != second->mtime.tv_sec)
        return first->mtime.tv_sec < second->mtime.tv_sec ? -1 : 1;
    if (first->mtime.tv_nsec != second->mtime.tv_nsec)
        return first->mtime.tv_nsec < second->mtime.tv_nsec ? -1 : 1;
    return strcmp (first->name, second->name);
}

//  Keep the newest keep_releases releases, never current or previous.
static void s_prune (s_apply_t *self)
{
    uint32_t keep = self->job->keep_releases ? self->job->keep_releases : 5;
    DIR *dir = opendir (self->releases_dir);
    if (!dir)
        return;
    size_t count = 0, capacity = 16;
    s_release_t *releases = (s_release_t *)calloc (capacity, sizeof (s_release_t));
    struct dirent *entry;
    while (releases && (entry = readdir (dir))) {
        char path[PATH_MAX];
        struct stat info;
        jad_format (path, sizeof path, "%s/%s", self->releases_dir, entry->d_name);
        if (!jad_name_valid (entry->d_name) || lstat (path, &info) || !S_ISDIR (info.st_mode))
            continue;
        if (count == capacity) {
            s_release_t *bigger =
                (s_release_t *)realloc (releases, 2 * capacity * sizeof (s_release_t));
            if (!bigger)
                break;
            releases = bigger;
            capacity *= 2;
        }
        jad_format (releases[count].name, sizeof releases[count].name, "%s", entry->d_name);
        releases[count].mtime = info.st_mtim;
        count++;
    }
    closedir (dir);
    if (!releases)
        return;
    qsort (releases, count, sizeof (s_release_t), s_release_compare);
    size_t left = count;
    for (size_t index = 0; index < count && left > keep; index++) {
        const char *name = releases[index].name;
        if (strcmp (name, self->job->version) == 0 ||
            (self->previous && strcmp (name, self->previous) == 0))
            continue;
        char path[PATH_MAX];
        jad_format (path, sizeof path, "%s/%s", self->releases_dir, name);
        if (jad_rmtree (path) == 0) {
            s_emit (self, JAD_APPLY_EVENT_RELEASE_REMOVED, name, NULL, 0, NULL, NULL, 0);
            left--;
        }
    }
    free (releases);
}

//  Resolve hook-user into uid/gid. Returns 0 or -1 (failure set).
static int s_hook_user (s_apply_t *self)
{
    const char *user = self->job->hook_user;
    if (!user || !*user)
        return 0;
    struct passwd entry, *found = NULL;
    char buffer[4096];
    if (getpwnam_r (user, &entry, buffer, sizeof buffer, &found) || !found) {
        jad_format (self->failure, sizeof self->failure, "hook-user %s does not exist", user);
        return -1;
    }
    self->drop_privileges = true;
    self->uid = found->pw_uid;
    self->gid = found->pw_gid;
    return 0;
}

int agt_apply_run (const jad_apply_job_t *job, agt_apply_emit_fn *emit, void *arg)
{
    assert (job);
    assert (emit);
    s_apply_t self;
    memset (&self, 0, sizeof self);
    self.job = job;
    self.emit = emit;
    self.arg = arg;
    //  names are <= 64 characters; the root must leave room for them
    int rc = 0;
    if (strlen (job->root) > PATH_MAX - 256 ||
        jad_format (self.app_dir, sizeof self.app_dir, "%s/%s", job->root, job->app) ||
        jad_format (self.releases_dir, sizeof self.releases_dir, "%s/releases", self.app_dir) ||
        jad_format (self.current_link, sizeof self.current_link, "%s/current", self.app_dir) ||
        jad_format (self.shared_dir, sizeof self.shared_dir, "%s/shared", self.app_dir) ||
        jad_format (self.release_dir, sizeof self.release_dir, "%s/%s", self.releases_dir,
                    job->version)) {
        jad_format (self.failure, sizeof self.failure, "root: path too long");
        rc = -1;
    }
    if (job->archive)
        jad_format (self.archive, sizeof self.archive, "%s", job->archive);

    //  a re-applied plan may find itself current already: then the
    //  version recorded before it is the one to go back to
    self.previous = s_current_version (&self);
    if (self.previous && strcmp (self.previous, job->version) == 0) {
        free (self.previous);
        self.previous = s_dup (job->previous_hint);
    }

    if (rc == 0)
        rc = s_hook_user (&self);
    bool task = job->action != JAD_PLAN_ACTION_APPLY;
    if (job->action == AGT_ACTION_ROLLBACK) {
        if (rc == 0)
            s_rollback_lost (&self);
        rc = -1;
        goto finished;
    }
    if (task) {
        if (rc == 0)
            rc = s_task (&self);
        goto finished;
    }
    if (rc == 0 && job->url && !self.archive[0] && !job->release_known)
        rc = s_step_fetch_url (&self);
    if (rc == 0)
        rc = s_step_unpack (&self);
    if (rc == 0)
        rc = s_step_hook (&self, "pre_activate", self.manifest->pre_activate);
    if (rc == 0) {
        rc = s_step_switch (&self);
        if (rc == 0) {
            rc = s_step_hook (&self, "activate", self.manifest->activate);
            if (rc == 0)
                rc = s_step_smoke (&self, "smoke");
            if (rc != 0)
                s_rollback (&self);
        }
    }
    if (rc == 0)
        s_prune (&self);

finished:;
    char *current = s_current_version (&self);
    char detail[JAD_MAX_DETAIL];
    if (rc == 0 && task)
        jad_format (detail, sizeof detail, "%s done",
                    job->action == JAD_PLAN_ACTION_MIGRATE_UP     ? "migrate_up"
                    : job->action == JAD_PLAN_ACTION_MIGRATE_DOWN ? "migrate_down"
                                                                  : "verify");
    else if (rc == 0)
        jad_format (detail, sizeof detail, "%s healthy", job->version);
    else
        jad_format (detail, sizeof detail, "%s", self.failure[0] ? self.failure : "failed");
    s_emit (&self, JAD_APPLY_EVENT_DONE, current, AGT_STEP_DONE,
            rc == 0 ? JAD_REPORT_HEALTHY : JAD_REPORT_FAILED, detail, NULL, 0);
    free (current);
    free (self.previous);
    jad_manifest_destroy (&self.manifest);
    return rc;
}
