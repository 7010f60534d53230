//  ctl_backup - `jadugar-controller backup` and `restore`
//  SPDX-License-Identifier: MPL-2.0

#include "ctl_backup.h"
#include "ctl_snapshot.h"
#include "ctl_store.h"
#include "jad_archive.h"
#include "jad_config.h"
#include "jad_keys.h"
#include "jad_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

//  Files of a data directory a backup holds (those missing are skipped,
//  but controller.yaml and the keys are required).
static const char *const s_files[] = {"controller.yaml", "admin.jadctl.yaml", "keys/signing.key",
                                      "keys/curve.key", "keys/admin.key"};
#define S_FILES (sizeof s_files / sizeof s_files[0])
static const char *const s_dirs[] = {"keys", "artifacts"};

static jad_controller_config_t *s_config (const char *data_dir)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/controller.yaml", data_dir);
    jad_problems_t *problems = jad_problems_new ();
    jad_controller_config_t *config = problems ? jad_controller_config_load (path, problems) : NULL;
    for (size_t index = 0; problems && index < jad_problems_count (problems); index++)
        fprintf (stderr, "jadugar-controller: %s\n", jad_problems_get (problems, index));
    if (problems && jad_problems_count (problems) > 0)
        jad_controller_config_destroy (&config);
    jad_problems_destroy (&problems);
    return config;
}

//  Add the directory entry `name` (0700).
static int s_add_dir (struct archive *tar, const char *name)
{
    struct archive_entry *entry = archive_entry_new ();
    if (!entry)
        return -1;
    archive_entry_set_pathname (entry, name);
    archive_entry_set_filetype (entry, AE_IFDIR);
    archive_entry_set_perm (entry, 0700);
    archive_entry_set_mtime (entry, time (NULL), 0);
    int rc = archive_write_header (tar, entry) == ARCHIVE_OK ? 0 : -1;
    archive_entry_free (entry);
    return rc;
}

//  Add the regular file at `path` as `name` (0600). 0, 1 if it does not
//  exist, -1 on error (printed).
static int s_add_file (struct archive *tar, const char *path, const char *name)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return 1;
    struct stat info;
    if (fd < 0 || fstat (fd, &info) != 0 || !S_ISREG (info.st_mode)) {
        fprintf (stderr, "jadugar-controller: %s: %s\n", path,
                 fd < 0 ? strerror (errno) : "not a regular file");
        if (fd >= 0)
            close (fd);
        return -1;
    }
    int rc = -1;
    struct archive_entry *entry = archive_entry_new ();
    if (!entry)
        goto done;
    archive_entry_set_pathname (entry, name);
    archive_entry_set_filetype (entry, AE_IFREG);
    archive_entry_set_perm (entry, 0600);
    archive_entry_set_size (entry, info.st_size);
    archive_entry_set_mtime (entry, info.st_mtime, 0);
    if (archive_write_header (tar, entry) != ARCHIVE_OK) {
        fprintf (stderr, "jadugar-controller: %s: %s\n", name, archive_error_string (tar));
        goto done;
    }
    char buffer[65536];
    int64_t left = info.st_size;
    while (left > 0) {
        ssize_t got = read (fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            fprintf (stderr, "jadugar-controller: %s: %s\n", path,
                     got < 0 ? strerror (errno) : "shrank while it was copied");
            goto done;
        }
        if (got > left)
            got = (ssize_t)left;
        if (archive_write_data (tar, buffer, (size_t)got) != got) {
            fprintf (stderr, "jadugar-controller: %s: %s\n", name, archive_error_string (tar));
            goto done;
        }
        left -= got;
    }
    rc = 0;
done:
    archive_entry_free (entry);
    close (fd);
    return rc;
}

//  Add every regular file of DATA/artifacts (archives are written once,
//  under their SHA-256, so a file there is whole).
static int s_add_artifacts (struct archive *tar, const char *data_dir)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/artifacts", data_dir);
    DIR *dir = opendir (path);
    if (!dir)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *item;
    while (rc == 0 && (item = readdir (dir))) {
        if (item->d_name[0] == '.')
            continue;
        char file[PATH_MAX], name[PATH_MAX];
        if (snprintf (file, sizeof file, "%s/%s", path, item->d_name) >= (int)sizeof file ||
            snprintf (name, sizeof name, "artifacts/%s", item->d_name) >= (int)sizeof name) {
            fprintf (stderr, "jadugar-controller: %s/%s: name too long\n", path, item->d_name);
            rc = -1;
        } else if (s_add_file (tar, file, name) < 0)
            rc = -1;
    }
    closedir (dir);
    return rc;
}

int ctl_backup_run (const char *data_dir, const char *out_path)
{
    if (!data_dir || !out_path) {
        fprintf (stderr, "jadugar-controller: backup needs --data DIR and --out FILE\n");
        return 2;
    }
    int status = 1;
    int fd = -1;
    struct archive *tar = NULL;
    char *target = NULL;
    char temp[PATH_MAX] = "", copy[PATH_MAX + 16] = "";
    jad_controller_config_t *config = s_config (data_dir);
    if (!config)
        return 1;
    target = ctl_store_target (data_dir, config->store);
    if (!target)
        goto done;
    if (ctl_store_target_shared (target)) {
        //  the URL is not printed: a password may be in it
        fprintf (stderr,
                 "jadugar-controller: the store of %s is PostgreSQL: back it up with pg_dump,\n"
                 "  pg_dump --format=custom --file FILE 'URL'   (URL: store: in "
                 "controller.yaml)\n"
                 "and keep the keys (jadugar-controller export-keys --data %s --out KEYS) and\n"
                 "controller.yaml; restore with pg_restore into an empty database, then raise\n"
                 "its epoch above the fleet's (docs/operations.md, \"PostgreSQL store\")\n",
                 data_dir, data_dir);
        status = 2;
        goto done;
    }
    //  the keys must be there to restore a working controller
    const char *required[] = {"keys/signing.key", "keys/curve.key"};
    for (size_t index = 0; index < 2; index++) {
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/%s", data_dir, required[index]);
        if (access (path, R_OK) != 0) {
            fprintf (stderr, "jadugar-controller: %s: %s\n", path, strerror (errno));
            goto done;
        }
    }
    fd = open (out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        fprintf (stderr, "jadugar-controller: --out %s: %s\n", out_path, strerror (errno));
        status = errno == EEXIST ? 2 : 1;
        goto done;
    }
    //  the database first: every archive it names is on disk by then
    snprintf (temp, sizeof temp, "%s.tmp.XXXXXX", out_path);
    if (!mkdtemp (temp)) {
        fprintf (stderr, "jadugar-controller: %s: %s\n", temp, strerror (errno));
        *temp = 0;
        goto failed;
    }
    snprintf (copy, sizeof copy, "%s/state.db", temp);
    char err[512];
    if (ctl_snapshot_sqlite (target, copy, err, sizeof err) != 0) {
        fprintf (stderr, "jadugar-controller: cannot copy the database: %s\n", err);
        goto failed;
    }
    tar = archive_write_new ();
    if (!tar || archive_write_add_filter_gzip (tar) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted (tar) != ARCHIVE_OK ||
        archive_write_open_fd (tar, fd) != ARCHIVE_OK) {
        fprintf (stderr, "jadugar-controller: %s: %s\n", out_path,
                 tar ? archive_error_string (tar) : "out of memory");
        goto failed;
    }
    for (size_t index = 0; index < sizeof s_dirs / sizeof s_dirs[0]; index++)
        if (s_add_dir (tar, s_dirs[index]) != 0)
            goto failed;
    for (size_t index = 0; index < S_FILES; index++) {
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/%s", data_dir, s_files[index]);
        if (s_add_file (tar, path, s_files[index]) < 0)
            goto failed;
    }
    if (s_add_file (tar, copy, "state.db") != 0 || s_add_artifacts (tar, data_dir) != 0)
        goto failed;
    if (archive_write_close (tar) != ARCHIVE_OK) {
        fprintf (stderr, "jadugar-controller: %s: %s\n", out_path, archive_error_string (tar));
        goto failed;
    }
    if (fsync (fd) != 0) {
        fprintf (stderr, "jadugar-controller: %s: %s\n", out_path, strerror (errno));
        goto failed;
    }
    printf ("backup: %s\n", out_path);
    status = 0;
    goto done;

failed:
    unlink (out_path);
done:
    if (tar)
        archive_write_free (tar);
    if (fd >= 0)
        close (fd);
    if (*copy)
        unlink (copy);
    if (*temp)
        rmdir (temp);
    free (target);
    jad_controller_config_destroy (&config);
    return status;
}

//  chmod the tree under `data_dir`: files 0600, directories 0700, as the
//  controller keeps them (the extractor leaves 0644/0755).
static int s_lock_down (const char *data_dir)
{
    if (chmod (data_dir, 0700) != 0)
        return -1;
    DIR *dir = opendir (data_dir);
    if (!dir)
        return -1;
    int rc = 0;
    struct dirent *item;
    while ((item = readdir (dir))) {
        if (strcmp (item->d_name, ".") == 0 || strcmp (item->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        if (snprintf (path, sizeof path, "%s/%s", data_dir, item->d_name) >= (int)sizeof path) {
            errno = ENAMETOOLONG;
            rc = -1;
            continue;
        }
        struct stat info;
        if (lstat (path, &info) != 0)
            rc = -1;
        else if (S_ISDIR (info.st_mode)) {
            if (chmod (path, 0700) != 0 || s_lock_down (path) != 0)
                rc = -1;
        } else if (chmod (path, 0600) != 0)
            rc = -1;
    }
    closedir (dir);
    return rc;
}

int ctl_restore_run (const char *data_dir, const char *from_path)
{
    if (!data_dir || !from_path) {
        fprintf (stderr, "jadugar-controller: restore needs --data DIR and --from FILE\n");
        return 2;
    }
    //  into a missing or empty directory only: nothing is ever overwritten
    DIR *dir = opendir (data_dir);
    if (dir) {
        struct dirent *item;
        bool empty = true;
        while ((item = readdir (dir)))
            if (strcmp (item->d_name, ".") != 0 && strcmp (item->d_name, "..") != 0)
                empty = false;
        closedir (dir);
        if (!empty) {
            fprintf (stderr,
                     "jadugar-controller: %s is not empty: restore goes into a new or "
                     "empty directory\n",
                     data_dir);
            return 2;
        }
        if (rmdir (data_dir) != 0) {
            fprintf (stderr, "jadugar-controller: %s: %s\n", data_dir, strerror (errno));
            return 1;
        }
    } else if (errno != ENOENT) {
        fprintf (stderr, "jadugar-controller: %s: %s\n", data_dir, strerror (errno));
        return 1;
    }
    if (access (from_path, R_OK) != 0) {
        fprintf (stderr, "jadugar-controller: --from %s: %s\n", from_path, strerror (errno));
        return 2;
    }
    //  our own file, but still unpacked by the safe extractor (no links
    //  out, no devices); no size caps beyond the default entry count
    jad_archive_limits_t limits = {.max_bytes = UINT64_MAX / 2};
    char err[512];
    if (jad_archive_extract (from_path, data_dir, &limits, err, sizeof err) != 0) {
        fprintf (stderr, "jadugar-controller: --from %s: %s\n", from_path, err);
        return 1;
    }
    int status = 1;
    jad_controller_config_t *config = NULL;
    char *target = NULL;
    ctl_store_t *store = NULL;
    if (s_lock_down (data_dir) != 0) {
        fprintf (stderr, "jadugar-controller: cannot set the modes under %s: %s\n", data_dir,
                 strerror (errno));
        goto done;
    }
    config = s_config (data_dir);
    if (!config)
        goto done;
    target = ctl_store_target (data_dir, config->store);
    if (!target || ctl_store_target_shared (target)) {
        fprintf (stderr, "jadugar-controller: --from %s: not a backup of a SQLite controller\n",
                 from_path);
        goto done;
    }
    const char *keys[] = {"keys/signing.key", "keys/curve.key"};
    for (size_t index = 0; index < 2; index++) {
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/%s", data_dir, keys[index]);
        jad_keypair_t *pair = jad_keypair_load (path, err, sizeof err);
        if (!pair) {
            fprintf (stderr, "jadugar-controller: --from %s: %s\n", from_path, err);
            goto done;
        }
        jad_keypair_destroy (&pair);
    }
    if (ctl_snapshot_check (target, err, sizeof err) != 0) {
        fprintf (stderr, "jadugar-controller: --from %s: %s\n", from_path, err);
        goto done;
    }
    //  opening it brings an older backup's schema up to date
    store = ctl_store_open (target, 0);
    if (!store) {
        fprintf (stderr,
                 "jadugar-controller: --from %s: its database does not open (the log "
                 "line above says why)\n",
                 from_path);
        goto done;
    }
    printf ("restored: %s\n", data_dir);
    status = 0;
done:
    ctl_store_destroy (&store);
    free (target);
    jad_controller_config_destroy (&config);
    if (status != 0)
        jad_rmtree (data_dir);
    return status;
}
