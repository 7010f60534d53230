//  test_archive - safe extraction of release archives
//  SPDX-License-Identifier: MPL-2.0
//
//  Every archive is built here with libarchive's write API, so each
//  malicious entry is exactly the one named by the test.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  //  unshare, CLONE_NEWNS
#endif
#include "jad_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

//  One entry of a test archive
typedef struct {
    const char *name;
    mode_t type;  //  AE_IFREG, AE_IFDIR, AE_IFLNK, ...
    mode_t perm;
    const char *content;   //  regular files
    const char *link;      //  symlink target
    const char *hardlink;  //  hardlink target
    int64_t sparse_size;   //  declared size of a sparse file, else 0
} s_entry_t;

static char s_tmp[PATH_MAX];        //  per-test scratch dir
static char s_tgz[PATH_MAX + 16];   //  the archive
static char s_dest[PATH_MAX + 16];  //  staging dir (below s_tmp)

static void s_setup (void)
{
    snprintf (s_tmp, sizeof s_tmp, "/tmp/jad-test-archive-XXXXXX");
    cr_assert_not_null (mkdtemp (s_tmp));
    snprintf (s_tgz, sizeof s_tgz, "%s/release.tgz", s_tmp);
    snprintf (s_dest, sizeof s_dest, "%s/dest", s_tmp);
}

static void s_teardown (void)
{
    char small[PATH_MAX * 2];
    snprintf (small, sizeof small, "%s/small", s_tmp);
    umount2 (small, MNT_DETACH);
    jad_rmtree (s_tmp);
}

TestSuite (archive, .init = s_setup, .fini = s_teardown);

static void s_build (const char *path, const s_entry_t *entries, size_t count)
{
    struct archive *archive = archive_write_new ();
    cr_assert_not_null (archive);
    cr_assert_eq (archive_write_add_filter_gzip (archive), ARCHIVE_OK);
    cr_assert_eq (archive_write_set_format_pax_restricted (archive), ARCHIVE_OK);
    cr_assert_eq (archive_write_open_filename (archive, path), ARCHIVE_OK);
    for (size_t index = 0; index < count; index++) {
        const s_entry_t *spec = &entries[index];
        struct archive_entry *entry = archive_entry_new ();
        archive_entry_set_pathname (entry, spec->name);
        archive_entry_set_filetype (entry, spec->type ? spec->type : AE_IFREG);
        archive_entry_set_perm (entry, spec->perm ? spec->perm : 0644);
        archive_entry_set_mtime (entry, 1700000000, 0);
        size_t size = spec->content ? strlen (spec->content) : 0;
        if (spec->link)
            archive_entry_set_symlink (entry, spec->link);
        if (spec->hardlink)
            archive_entry_set_hardlink (entry, spec->hardlink);
        if (spec->type == AE_IFCHR || spec->type == AE_IFBLK)
            archive_entry_set_rdev (entry, makedev (1, 3));
        if (spec->sparse_size) {
            archive_entry_set_size (entry, spec->sparse_size);
            archive_entry_sparse_add_entry (entry, spec->sparse_size - 1, 1);
            size = 1;
        } else if (!spec->type || spec->type == AE_IFREG)
            archive_entry_set_size (entry, (la_int64_t)size);
        cr_assert_eq (archive_write_header (archive, entry), ARCHIVE_OK, "%s: %s", spec->name,
                      archive_error_string (archive));
        if (spec->sparse_size)
            cr_assert_eq (archive_write_data (archive, "x", 1), 1);
        else if (size > 0 && !spec->hardlink)
            cr_assert_eq (archive_write_data (archive, spec->content, size), (la_ssize_t)size);
        archive_entry_free (entry);
    }
    cr_assert_eq (archive_write_close (archive), ARCHIVE_OK);
    archive_write_free (archive);
}

static char *s_read (const char *dir, const char *name)
{
    char path[PATH_MAX * 2];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *text = calloc (1, 4096);
    size_t got = fread (text, 1, 4095, file);
    text[got] = 0;
    fclose (file);
    return text;
}

static mode_t s_mode (const char *dir, const char *name)
{
    char path[PATH_MAX * 2];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    cr_assert_eq (lstat (path, &st), 0, "%s missing", path);
    return st.st_mode;
}

//  Names in s_tmp other than the archive itself
static int s_stray_count (void)
{
    DIR *dir = opendir (s_tmp);
    cr_assert_not_null (dir);
    int count = 0;
    struct dirent *ent;
    while ((ent = readdir (dir)))
        if (strcmp (ent->d_name, ".") && strcmp (ent->d_name, "..") &&
            strcmp (ent->d_name, "release.tgz") && strcmp (ent->d_name, "outside"))
            count++;
    closedir (dir);
    return count;
}

//  Extraction must fail with "entry 'name': ...reason...", leave no dest
//  and nothing new in the scratch dir
static void s_assert_refused (const s_entry_t *entries, size_t count, const char *name,
                              const char *reason)
{
    s_build (s_tgz, entries, count);
    char err[512] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, NULL, err, sizeof err), -1);
    //  a name ending in '*' is matched as a prefix
    char expected[256];
    size_t len = strlen (name);
    if (len > 0 && name[len - 1] == '*')
        snprintf (expected, sizeof expected, "entry '%.*s", (int)len - 1, name);
    else
        snprintf (expected, sizeof expected, "entry '%s': ", name);
    cr_assert (strstr (err, expected), "err '%s' lacks '%s'", err, expected);
    cr_assert (strstr (err, reason), "err '%s' lacks '%s'", err, reason);
    cr_assert_eq (access (s_dest, F_OK), -1, "dest left behind");
    cr_assert_eq (s_stray_count (), 0, "something written outside dest");
}

#define REFUSED(entries, name, reason)                                                             \
    s_assert_refused (entries, sizeof (entries) / sizeof (entries[0]), name, reason)

Test (archive, extracts_plain_names)
{
    s_entry_t entries[] = {
        {.name = "jadugar.yaml", .content = "hooks: {}\n"},
        {.name = "bin/", .type = AE_IFDIR, .perm = 0755},
        {.name = "bin/run", .content = "#!/bin/sh\n", .perm = 0755},
        {.name = "lib/deep/x.txt", .content = "implicit parents\n"},
        {.name = "current", .type = AE_IFLNK, .link = "bin/run"},
        {.name = "lib/deep/up", .type = AE_IFLNK, .link = "../../jadugar.yaml"},
    };
    s_build (s_tgz, entries, 6);
    char err[256] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, NULL, err, sizeof err), 0, "%s", err);
    char *text = s_read (s_dest, "jadugar.yaml");
    cr_assert_str_eq (text, "hooks: {}\n");
    free (text);
    text = s_read (s_dest, "lib/deep/x.txt");
    cr_assert_str_eq (text, "implicit parents\n");
    free (text);
    text = s_read (s_dest, "lib/deep/up");
    cr_assert_str_eq (text, "hooks: {}\n");
    free (text);
    cr_assert (S_ISLNK (s_mode (s_dest, "current")));
    cr_assert_eq (s_mode (s_dest, "bin/run") & 07777, 0755);
    cr_assert_eq (s_mode (s_dest, "lib") & 07777, 0755);
    struct stat st;
    cr_assert_eq (stat (s_dest, &st), 0);
    cr_assert_eq (st.st_mode & 07777, 0755, "dest mode %o", st.st_mode & 07777);
}

Test (archive, extracts_dot_slash_names)
{
    s_entry_t entries[] = {
        {.name = "./", .type = AE_IFDIR, .perm = 0755},
        {.name = "./jadugar.yaml", .content = "app: shop\n"},
        {.name = "./hooks/", .type = AE_IFDIR, .perm = 0755},
        {.name = "./hooks/smoke.sh", .content = "#!/bin/sh\nexit 0\n", .perm = 0755},
    };
    s_build (s_tgz, entries, 4);
    char err[256] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, NULL, err, sizeof err), 0, "%s", err);
    char *text = s_read (s_dest, "jadugar.yaml");
    cr_assert_str_eq (text, "app: shop\n");
    free (text);
    cr_assert_eq (s_mode (s_dest, "hooks/smoke.sh") & 07777, 0755);
}

Test (archive, masks_modes)
{
    s_entry_t entries[] = {
        {.name = "open", .type = AE_IFDIR, .perm = 0777},
        {.name = "closed", .type = AE_IFDIR, .perm = 0500},
        {.name = "closed/file", .content = "x", .perm = 0400},
        {.name = "world", .content = "x", .perm = 0666},
        {.name = "tool", .content = "x", .perm = 0777},
        {.name = "sticky", .content = "x", .perm = 01744},
        {.name = "userx", .content = "x", .perm = 0700},
    };
    s_build (s_tgz, entries, 7);
    char err[256] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_mode (s_dest, "open") & 07777, 0755);
    cr_assert_eq (s_mode (s_dest, "closed") & 07777, 0755);
    cr_assert_eq (s_mode (s_dest, "closed/file") & 07777, 0644);
    cr_assert_eq (s_mode (s_dest, "world") & 07777, 0644);
    cr_assert_eq (s_mode (s_dest, "tool") & 07777, 0755);
    cr_assert_eq (s_mode (s_dest, "sticky") & 07777, 0755);
    cr_assert_eq (s_mode (s_dest, "userx") & 07777, 0755);
}

Test (archive, refuses_existing_dest_and_keeps_it)
{
    s_entry_t entries[] = {{.name = "a", .content = "x"}};
    s_build (s_tgz, entries, 1);
    cr_assert_eq (mkdir (s_dest, 0700), 0);
    char err[256] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, NULL, err, sizeof err), -1);
    cr_assert_eq (access (s_dest, F_OK), 0, "existing dest was removed");
    cr_assert (strstr (err, "File exists"), "%s", err);
}

Test (archive, refuses_missing_parent)
{
    s_entry_t entries[] = {{.name = "a", .content = "x"}};
    s_build (s_tgz, entries, 1);
    char dest[PATH_MAX * 2];
    snprintf (dest, sizeof dest, "%s/no/such", s_tmp);
    char err[256] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, dest, NULL, err, sizeof err), -1);
    cr_assert_eq (access (dest, F_OK), -1);
}

Test (archive, refuses_absolute_path)
{
    char target[PATH_MAX * 2];
    snprintf (target, sizeof target, "%s/abs-pwned", s_tmp);
    s_entry_t entries[] = {{.name = "ok", .content = "x"}, {.name = target, .content = "x"}};
    REFUSED (entries, target, "absolute path");
}

Test (archive, refuses_dotdot)
{
    s_entry_t entries[] = {{.name = "ok", .content = "x"}, {.name = "../x", .content = "x"}};
    REFUSED (entries, "../x", "'..'");
}

Test (archive, refuses_inner_dotdot)
{
    s_entry_t entries[] = {{.name = "a/", .type = AE_IFDIR, .perm = 0755},
                           {.name = "a/../../x", .content = "x"}};
    REFUSED (entries, "a/../../x", "'..'");
}

Test (archive, refuses_odd_names)
{
    s_entry_t empty[] = {{.name = "a//b", .content = "x"}};
    REFUSED (empty, "a//b", "empty path component");
    s_entry_t control[] = {{.name = "a\nb", .content = "x"}};
    REFUSED (control, "a?b", "control character");
    char *longname = malloc (PATH_MAX + 10);
    memset (longname, 'a', PATH_MAX + 9);
    longname[PATH_MAX + 9] = 0;
    s_entry_t toolong[] = {{.name = longname, .content = "x"}};
    REFUSED (toolong, "aaaa*", "longer than PATH_MAX");
    free (longname);
}

Test (archive, refuses_hardlink)
{
    s_entry_t entries[] = {{.name = "f", .content = "x"}, {.name = "h", .hardlink = "/etc/passwd"}};
    REFUSED (entries, "h", "hard link");
    s_entry_t inside[] = {{.name = "f", .content = "x"}, {.name = "h", .hardlink = "f"}};
    REFUSED (inside, "h", "hard link");
}

Test (archive, refuses_symlink_to_absolute)
{
    s_entry_t entries[] = {{.name = "etc", .type = AE_IFLNK, .link = "/etc"}};
    REFUSED (entries, "etc", "absolute");
}

Test (archive, refuses_symlink_escaping_by_dotdot)
{
    s_entry_t entries[] = {{.name = "a/", .type = AE_IFDIR, .perm = 0755},
                           {.name = "a/l", .type = AE_IFLNK, .link = "../../outside"}};
    REFUSED (entries, "a/l", "escapes");
}

Test (archive, refuses_symlink_through_self_link)
{
    //  lexically inside, physically the parent of dest
    s_entry_t entries[] = {{.name = "a", .type = AE_IFLNK, .link = "."},
                           {.name = "b", .type = AE_IFLNK, .link = "a/.."}};
    REFUSED (entries, "b", "'..' after a directory name");
}

Test (archive, refuses_write_through_absolute_symlink)
{
    char outside[PATH_MAX * 2];
    snprintf (outside, sizeof outside, "%s/outside", s_tmp);
    cr_assert_eq (mkdir (outside, 0755), 0);
    s_entry_t entries[] = {{.name = "l", .type = AE_IFLNK, .link = outside},
                           {.name = "l/passwd", .content = "root::0:0::/:/bin/sh\n"}};
    REFUSED (entries, "l", "absolute");
    char passwd[PATH_MAX * 3];
    snprintf (passwd, sizeof passwd, "%s/passwd", outside);
    cr_assert_eq (access (passwd, F_OK), -1, "written through the symlink");
}

Test (archive, refuses_write_through_inner_symlink)
{
    s_entry_t entries[] = {{.name = "sub/", .type = AE_IFDIR, .perm = 0755},
                           {.name = "l", .type = AE_IFLNK, .link = "sub"},
                           {.name = "l/x", .content = "x"}};
    REFUSED (entries, "l/x", "symlink");
}

Test (archive, refuses_directory_replaced_by_symlink)
{
    s_entry_t entries[] = {{.name = "d/", .type = AE_IFDIR, .perm = 0755},
                           {.name = "sub/", .type = AE_IFDIR, .perm = 0755},
                           {.name = "d", .type = AE_IFLNK, .link = "sub"}};
    REFUSED (entries, "d", "already exists");
    s_entry_t reverse[] = {{.name = "sub/", .type = AE_IFDIR, .perm = 0755},
                           {.name = "d", .type = AE_IFLNK, .link = "sub"},
                           {.name = "d/", .type = AE_IFDIR, .perm = 0755}};
    REFUSED (reverse, "d/", "not a directory");
}

Test (archive, refuses_duplicate_file)
{
    s_entry_t entries[] = {{.name = "jadugar.yaml", .content = "a"},
                           {.name = "./jadugar.yaml", .content = "b"}};
    REFUSED (entries, "./jadugar.yaml", "already exists");
}

Test (archive, refuses_char_device)
{
    s_entry_t entries[] = {{.name = "null", .type = AE_IFCHR, .perm = 0666}};
    REFUSED (entries, "null", "device");
}

Test (archive, refuses_block_device)
{
    s_entry_t entries[] = {{.name = "sda", .type = AE_IFBLK, .perm = 0660}};
    REFUSED (entries, "sda", "device");
}

Test (archive, refuses_fifo)
{
    s_entry_t entries[] = {{.name = "pipe", .type = AE_IFIFO, .perm = 0644}};
    REFUSED (entries, "pipe", "FIFO");
}

Test (archive, refuses_setuid_and_setgid)
{
    s_entry_t setuid[] = {{.name = "su", .content = "x", .perm = 04755}};
    REFUSED (setuid, "su", "setuid");
    s_entry_t setgid[] = {{.name = "sg", .content = "x", .perm = 02755}};
    REFUSED (setgid, "sg", "setgid");
}

Test (archive, caps_entry_count)
{
    s_entry_t entries[12];
    char names[12][16];
    for (int index = 0; index < 12; index++) {
        snprintf (names[index], sizeof names[index], "f%02d", index);
        entries[index] = (s_entry_t){.name = names[index], .content = "x"};
    }
    s_build (s_tgz, entries, 12);
    jad_archive_limits_t limits = {.max_entries = 10};
    char err[256] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, &limits, err, sizeof err), -1);
    cr_assert (strstr (err, "entry 'f10'") && strstr (err, "more than 10 entries"), "%s", err);
    cr_assert_eq (access (s_dest, F_OK), -1);
    limits.max_entries = 12;
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, &limits, err, sizeof err), 0, "%s", err);
}

Test (archive, caps_unpacked_bytes)
{
    char block[601];
    memset (block, 'z', 600);
    block[600] = 0;
    s_entry_t entries[] = {{.name = "one", .content = block}, {.name = "two", .content = block}};
    s_build (s_tgz, entries, 2);
    jad_archive_limits_t limits = {.max_bytes = 1000};
    char err[256] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, &limits, err, sizeof err), -1);
    cr_assert (strstr (err, "entry 'two'") && strstr (err, "limit of 1000 bytes"), "%s", err);
    cr_assert_eq (access (s_dest, F_OK), -1);
    limits.max_bytes = 1200;
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, &limits, err, sizeof err), 0, "%s", err);
}

Test (archive, aborts_sparse_ten_gigabytes_at_cap)
{
    s_entry_t entries[] = {{.name = "ok", .content = "x"},
                           {.name = "big", .sparse_size = 10LL << 30}};
    s_build (s_tgz, entries, 2);
    struct stat st;
    cr_assert_eq (stat (s_tgz, &st), 0);
    cr_assert_lt (st.st_size, 4096, "test archive itself should be tiny");
    time_t start = time (NULL);
    char err[256] = "";
    //  default cap (4 GiB) and a small one
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, NULL, err, sizeof err), -1);
    cr_assert (strstr (err, "entry 'big'") && strstr (err, "exceeds limit"), "%s", err);
    jad_archive_limits_t limits = {.max_bytes = 1 << 20};
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, &limits, err, sizeof err), -1);
    cr_assert (strstr (err, "exceeds limit of 1048576 bytes"), "%s", err);
    cr_assert_lt (time (NULL) - start, 5);
    cr_assert_eq (access (s_dest, F_OK), -1);
}

//  Build a good archive and damage it with `damage` applied to its bytes
static void s_damaged (void (*damage) (const char *path, off_t size))
{
    s_entry_t entries[40];
    char names[40][16];
    char *content = malloc (20000);
    for (int index = 0; index < 19999; index++)
        content[index] = (char)('a' + (index * 7919) % 26);
    content[19999] = 0;
    for (int index = 0; index < 40; index++) {
        snprintf (names[index], sizeof names[index], "f%02d", index);
        entries[index] = (s_entry_t){.name = names[index], .content = content};
    }
    s_build (s_tgz, entries, 40);
    free (content);
    struct stat st;
    cr_assert_eq (stat (s_tgz, &st), 0);
    damage (s_tgz, st.st_size);
    char err[256] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, NULL, err, sizeof err), -1);
    cr_assert_neq (err[0], 0);
    cr_assert_eq (access (s_dest, F_OK), -1, "dest left behind");
}

static void s_truncate (const char *path, off_t size)
{
    cr_assert_eq (truncate (path, size / 2), 0);
}

static void s_flip (const char *path, off_t size)
{
    int fd = open (path, O_RDWR);
    cr_assert_geq (fd, 0);
    unsigned char byte;
    cr_assert_eq (pread (fd, &byte, 1, size / 2), 1);
    byte ^= 0xff;
    cr_assert_eq (pwrite (fd, &byte, 1, size / 2), 1);
    close (fd);
}

Test (archive, refuses_truncated_gzip)
{
    s_damaged (s_truncate);
}

Test (archive, refuses_corrupt_gzip)
{
    s_damaged (s_flip);
}

Test (archive, refuses_garbage_file)
{
    FILE *file = fopen (s_tgz, "w");
    fputs ("this is not an archive at all, not even close\n", file);
    fclose (file);
    char err[256] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, s_dest, NULL, err, sizeof err), -1);
    cr_assert_eq (access (s_dest, F_OK), -1);
}

Test (archive, reports_disk_full)
{
    //  a private mount namespace: the small tmpfs dies with this test process
    char small[PATH_MAX * 2];
    snprintf (small, sizeof small, "%s/small", s_tmp);
    cr_assert_eq (mkdir (small, 0755), 0);
    if (geteuid () != 0 || unshare (CLONE_NEWNS) != 0 ||
        //  source and type are ignored for a propagation change; not NULL
        //  for valgrind, which checks them as strings
        mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount ("tmpfs", small, "tmpfs", 0, "size=64k") != 0)
        cr_skip_test ("cannot mount a small tmpfs here");
    char *content = malloc (256 * 1024 + 1);
    memset (content, 'q', 256 * 1024);
    content[256 * 1024] = 0;
    s_entry_t entries[] = {{.name = "fits", .content = "x"}, {.name = "huge", .content = content}};
    s_build (s_tgz, entries, 2);
    free (content);
    char dest[PATH_MAX * 3];
    snprintf (dest, sizeof dest, "%s/dest", small);
    char err[256] = "";
    jad_archive_report_t report;
    cr_assert_eq (jad_archive_unpack (s_tgz, dest, NULL, &report, err, sizeof err), -1);
    cr_assert (strstr (err, "entry 'huge'") && strstr (err, "No space left on device"), "%s", err);
    cr_assert_eq (report.write_errno, ENOSPC, "the report says why");
    cr_assert_eq (report.cap, JAD_ARCHIVE_CAP_NONE);
    cr_assert_gt (report.unpacked, 0, "what was written before the disk filled");
    cr_assert_eq (access (dest, F_OK), -1, "dest left behind");
    umount2 (small, MNT_DETACH);
}

Test (archive, read_member_finds_with_and_without_dot_slash)
{
    s_entry_t entries[] = {{.name = "./", .type = AE_IFDIR, .perm = 0755},
                           {.name = "./bin/jadugar.yaml", .content = "wrong"},
                           {.name = "./jadugar.yaml", .content = "app: shop\n"}};
    s_build (s_tgz, entries, 3);
    char err[256] = "";
    size_t size = 0;
    char *text = jad_archive_read_member (s_tgz, "jadugar.yaml", 1024, &size, err, sizeof err);
    cr_assert_not_null (text, "%s", err);
    cr_assert_str_eq (text, "app: shop\n");
    cr_assert_eq (size, 10);
    free (text);
    text = jad_archive_read_member (s_tgz, "./jadugar.yaml", 10, &size, err, sizeof err);
    cr_assert_not_null (text, "%s", err);
    free (text);
    cr_assert_eq (access (s_dest, F_OK), -1, "read_member must not extract");
}

Test (archive, read_member_reports_missing_too_large_and_not_regular)
{
    s_entry_t entries[] = {{.name = "jadugar.yaml", .content = "0123456789"},
                           {.name = "dir/", .type = AE_IFDIR, .perm = 0755}};
    s_build (s_tgz, entries, 2);
    char err[256] = "";
    size_t size = 0;
    cr_assert_null (jad_archive_read_member (s_tgz, "missing.yaml", 1024, &size, err, sizeof err));
    cr_assert (strstr (err, "not found"), "%s", err);
    cr_assert_null (jad_archive_read_member (s_tgz, "jadugar.yaml", 9, &size, err, sizeof err));
    cr_assert (strstr (err, "larger than 9 bytes"), "%s", err);
    cr_assert_null (jad_archive_read_member (s_tgz, "dir", 1024, &size, err, sizeof err));
    cr_assert (strstr (err, "not a regular file"), "%s", err);
    cr_assert_null (jad_archive_read_member ("/nonexistent.tgz", "a", 10, &size, err, sizeof err));
}

Test (archive, rmtree_does_not_follow_symlinks)
{
    char outside[PATH_MAX * 2], keep[PATH_MAX * 3], tree[PATH_MAX * 2], link[PATH_MAX * 3];
    snprintf (outside, sizeof outside, "%s/outside", s_tmp);
    snprintf (keep, sizeof keep, "%s/keep", outside);
    snprintf (tree, sizeof tree, "%s/tree", s_tmp);
    snprintf (link, sizeof link, "%s/tree/sub/l", s_tmp);
    cr_assert_eq (mkdir (outside, 0755), 0);
    FILE *file = fopen (keep, "w");
    fclose (file);
    s_entry_t entries[] = {{.name = "sub/f", .content = "x"},
                           {.name = "sub/ro", .type = AE_IFDIR, .perm = 0555}};
    s_build (s_tgz, entries, 2);
    char err[256] = "";
    cr_assert_eq (jad_archive_extract (s_tgz, tree, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq (symlink (outside, link), 0);
    cr_assert_eq (jad_rmtree (tree), 0);
    cr_assert_eq (access (tree, F_OK), -1);
    cr_assert_eq (access (keep, F_OK), 0, "followed the symlink");
    cr_assert_eq (jad_rmtree (tree), 0, "removing a missing tree is fine");
}

Test (archive, a_ratio_cap_stops_a_compression_bomb_before_it_writes)
{
    //  100 MiB declared by a tiny archive: past 100:1 and the 64 MiB floor
    s_entry_t entries[] = {{.name = "ok", .content = "x"},
                           {.name = "bomb", .sparse_size = 100LL << 20}};
    s_build (s_tgz, entries, 2);
    jad_archive_limits_t limits = {.max_ratio = JAD_ARCHIVE_MAX_RATIO};
    jad_archive_report_t report;
    char err[256] = "";
    cr_assert_eq (jad_archive_unpack (s_tgz, s_dest, &limits, &report, err, sizeof err), -1);
    cr_assert (strstr (err, "entry 'bomb'") && strstr (err, "compression ratio cap"), "%s", err);
    cr_assert_eq (report.cap, JAD_ARCHIVE_CAP_RATIO);
    cr_assert_eq (report.limit, JAD_ARCHIVE_RATIO_FLOOR, "a tiny archive gets the floor");
    cr_assert_eq (report.needed, 1 + (100ULL << 20), "what was written plus what did not fit");
    cr_assert_eq (report.unpacked, 1);
    cr_assert_eq (access (s_dest, F_OK), -1);
    //  a byte cap below the ratio's is the one that stops it
    limits.max_bytes = 1 << 20;
    cr_assert_eq (jad_archive_unpack (s_tgz, s_dest, &limits, &report, err, sizeof err), -1);
    cr_assert_eq (report.cap, JAD_ARCHIVE_CAP_BYTES);
    cr_assert (strstr (err, "exceeds limit of 1048576 bytes"), "%s", err);
    //  without a ratio cap, 100 MiB is under the default 4 GiB
    limits = (jad_archive_limits_t){0};
    cr_assert_eq (jad_archive_unpack (s_tgz, s_dest, &limits, &report, err, sizeof err), 0, "%s",
                  err);
    cr_assert_eq (report.unpacked, 1 + (100ULL << 20));
    cr_assert_eq (report.cap, JAD_ARCHIVE_CAP_NONE);
}

Test (archive, unpacked_size_sums_regular_files_without_writing)
{
    char block[601];
    memset (block, 'z', 600);
    block[600] = 0;
    s_entry_t entries[] = {{.name = "dir", .type = AE_IFDIR, .perm = 0755},
                           {.name = "dir/one", .content = block},
                           {.name = "two", .content = block},
                           {.name = "link", .type = AE_IFLNK, .link = "two"},
                           {.name = "sparse", .sparse_size = 5000}};
    s_build (s_tgz, entries, 5);
    uint64_t size = 0;
    char err[256] = "";
    cr_assert_eq (jad_archive_unpacked_size (s_tgz, NULL, &size, err, sizeof err), 0, "%s", err);
    cr_assert_eq (size, 6200, "regular files only, holes included");
    cr_assert_eq (access (s_dest, F_OK), -1, "nothing written");
    //  what extraction counts is the same
    jad_archive_report_t report;
    cr_assert_eq (jad_archive_unpack (s_tgz, s_dest, NULL, &report, err, sizeof err), 0, "%s", err);
    cr_assert_eq (report.unpacked, size);
    //  the same caps
    jad_archive_limits_t limits = {.max_bytes = 6000};
    cr_assert_eq (jad_archive_unpacked_size (s_tgz, &limits, &size, err, sizeof err), -1);
    cr_assert (strstr (err, "entry 'sparse'") && strstr (err, "limit of 6000 bytes"), "%s", err);
    limits = (jad_archive_limits_t){.max_entries = 3};
    cr_assert_eq (jad_archive_unpacked_size (s_tgz, &limits, &size, err, sizeof err), -1);
    cr_assert (strstr (err, "more than 3 entries"), "%s", err);
    cr_assert_eq (jad_archive_unpacked_size ("/nonexistent.tgz", NULL, &size, err, sizeof err), -1);
}
