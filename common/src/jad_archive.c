//  jad_archive - safe release archives (libarchive)
//  SPDX-License-Identifier: MPL-2.0
//
//  libarchive only parses; we never let it write to disk. Every entry is
//  checked first (name, type, mode, link target, caps) and then created by
//  us relative to a directory fd of the fresh staging dir, walking the
//  path one component at a time with O_NOFOLLOW|O_DIRECTORY and creating
//  leaves with O_CREAT|O_EXCL, mkdirat or symlinkat. So nothing is ever
//  written through a symlink (the `l -> sub`, `l/x` trick fails on the
//  walk), nothing is replaced (a directory can not become a symlink), and
//  no path outside dest is ever opened for writing.
//
//  Symlink targets must be relative and stay inside the staging dir
//  lexically from the link's directory; `..` is only allowed as leading
//  components, so `a -> .` followed by `b -> a/..` can not escape
//  physically either.

#include "jad_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define JAD_ARCHIVE_DEFAULT_ENTRIES 100000
#define JAD_ARCHIVE_DEFAULT_BYTES   (4ULL * 1024 * 1024 * 1024)
//  Deeper trees are odd and would need more open fds to remove safely
#define JAD_ARCHIVE_MAX_DEPTH 256
#define JAD_ARCHIVE_BLOCK     (64 * 1024)

//  Format into err if there is room
static void s_seterr (char *err, size_t errlen, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void s_seterr (char *err, size_t errlen, const char *format, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, errlen, format, args);
    va_end (args);
}

//  Entry name fit for an error message: control characters become '?'
static void s_printable (const char *name, char *out, size_t outlen)
{
    size_t pos = 0;
    if (!name)
        name = "(none)";
    for (; name[pos] && pos + 1 < outlen; pos++) {
        unsigned char ch = (unsigned char)name[pos];
        out[pos] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    out[pos] = 0;
}

static bool s_has_control (const char *text)
{
    for (const unsigned char *cursor = (const unsigned char *)text; *cursor; cursor++)
        if (*cursor < 0x20 || *cursor == 0x7f)
            return true;
    return false;
}

//  Normalise an entry name into out (PATH_MAX): strip leading "./" and
//  one trailing "/". Returns NULL if acceptable (out may be "" for the
//  root entry), else the reason. *depth_p gets the number of components.
static const char *s_normalize (const char *raw, char *out, size_t *depth_p)
{
    if (!raw)
        return "entry has no name";
    if (strlen (raw) >= PATH_MAX)
        return "name longer than PATH_MAX";
    if (s_has_control (raw))
        return "control character in name";
    if (raw[0] == '/')
        return "absolute path";
    while (raw[0] == '.' && raw[1] == '/')
        raw += 2;
    if (strcmp (raw, ".") == 0)
        raw = "";
    snprintf (out, PATH_MAX, "%s", raw);
    size_t len = strlen (out);
    if (len > 0 && out[len - 1] == '/')
        out[--len] = 0;
    *depth_p = 0;
    if (len == 0)
        return NULL;
    const char *start = out;
    while (true) {
        const char *slash = strchr (start, '/');
        size_t complen = slash ? (size_t)(slash - start) : strlen (start);
        if (complen == 0)
            return "empty path component";
        if (complen == 1 && start[0] == '.')
            return "'.' path component";
        if (complen == 2 && start[0] == '.' && start[1] == '.')
            return "'..' path component";
        if (++*depth_p > JAD_ARCHIVE_MAX_DEPTH)
            return "path too deeply nested";
        if (!slash)
            break;
        start = slash + 1;
    }
    return NULL;
}

//  A symlink target must be relative, sane, and stay inside the staging
//  dir when resolved from the link's directory (at depth link_depth).
static const char *s_check_link_target (const char *target, size_t link_depth)
{
    if (!target || !*target)
        return "symlink without target";
    if (strlen (target) >= PATH_MAX)
        return "symlink target longer than PATH_MAX";
    if (s_has_control (target))
        return "control character in symlink target";
    if (target[0] == '/')
        return "symlink target is absolute";
    long depth = (long)link_depth;
    bool descended = false;
    const char *start = target;
    while (*start) {
        const char *slash = strchr (start, '/');
        size_t complen = slash ? (size_t)(slash - start) : strlen (start);
        if (complen == 2 && start[0] == '.' && start[1] == '.') {
            //  after a name, ".." could climb out of a symlinked dir
            if (descended)
                return "symlink target has '..' after a directory name";
            if (--depth < 0)
                return "symlink target escapes the release";
        } else if (complen > 0 && !(complen == 1 && start[0] == '.')) {
            descended = true;
            depth++;
        }
        if (!slash)
            break;
        start = slash + 1;
    }
    return NULL;
}

//  State of one extraction
typedef struct {
    struct archive *archive;  //  reader
    int rootfd;               //  staging dir
    uint64_t max_entries;     //  caps
    uint64_t max_bytes;
    jad_archive_cap_t limit;   //  which cap max_bytes is
    uint64_t archive_size;     //  of the archive file (for the ratio's message)
    uint64_t entries;          //  headers seen
    uint64_t total;            //  bytes unpacked so far (holes included)
    jad_archive_cap_t capped;  //  the cap that stopped it
    uint64_t needed;           //  then: at least this many bytes needed
    int write_errno;           //  of a failed write
    char reason[256];          //  why the current entry failed
} s_extract_t;

static int s_fail (s_extract_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static int s_fail (s_extract_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->reason, sizeof self->reason, format, args);
    va_end (args);
    return -1;
}

//  `more` bytes do not fit under the byte cap: say which cap.
static int s_over_cap (s_extract_t *self, uint64_t more)
{
    self->capped = self->limit;
    self->needed = self->total + more;
    if (self->limit == JAD_ARCHIVE_CAP_RATIO)
        return s_fail (self,
                       "unpacked size exceeds %llu bytes, the limit for a %llu-byte archive"
                       " (compression ratio cap)",
                       (unsigned long long)self->max_bytes, (unsigned long long)self->archive_size);
    return s_fail (self, "unpacked size exceeds limit of %llu bytes",
                   (unsigned long long)self->max_bytes);
}

//  A write failed with errno: remember it for the report.
static int s_write_failed (s_extract_t *self, int error)
{
    self->write_errno = error;
    return s_fail (self, "write failed: %s", strerror (error));
}

//  Creating an entry failed with `error`: a full disk (bytes or inodes) is
//  remembered for the report. Returns error.
static int s_create_failed (s_extract_t *self, int error)
{
    if (error == ENOSPC || error == EDQUOT)
        self->write_errno = error;
    return error;
}

//  Resolve the caps of `limits` for the archive at path (its size for the
//  ratio). Returns 0, or -1 with err set.
static int s_limits (s_extract_t *self, const char *path, const jad_archive_limits_t *limits,
                     char *err, size_t errlen)
{
    self->max_entries =
        limits && limits->max_entries ? limits->max_entries : JAD_ARCHIVE_DEFAULT_ENTRIES;
    self->max_bytes = limits && limits->max_bytes ? limits->max_bytes : JAD_ARCHIVE_DEFAULT_BYTES;
    self->limit = JAD_ARCHIVE_CAP_BYTES;
    struct stat info;
    if (stat (path, &info) != 0) {
        s_seterr (err, errlen, "cannot open archive: %s", strerror (errno));
        return -1;
    }
    self->archive_size = (uint64_t)info.st_size;
    if (limits && limits->max_ratio) {
        uint64_t ratio_cap = self->archive_size > UINT64_MAX / limits->max_ratio
                                 ? UINT64_MAX
                                 : self->archive_size * limits->max_ratio;
        if (ratio_cap < JAD_ARCHIVE_RATIO_FLOOR)
            ratio_cap = JAD_ARCHIVE_RATIO_FLOOR;
        if (ratio_cap < self->max_bytes) {
            self->max_bytes = ratio_cap;
            self->limit = JAD_ARCHIVE_CAP_RATIO;
        }
    }
    return 0;
}

//  Open the parent directory of name (normalised, depth components),
//  creating missing intermediate directories and never following a
//  symlink. Returns an fd and points *leaf_p at the last component, or -1.
static int s_open_parent (s_extract_t *self, char *name, const char **leaf_p)
{
    int dirfd = dup (self->rootfd);
    if (dirfd < 0)
        return s_fail (self, "dup: %s", strerror (errno));
    char *start = name;
    char *slash;
    while ((slash = strchr (start, '/'))) {
        *slash = 0;
        int next = openat (dirfd, start, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT) {
            if (mkdirat (dirfd, start, 0755) == 0 || errno == EEXIST)
                next = openat (dirfd, start, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            int saved = errno;
            struct stat st;
            if (fstatat (dirfd, start, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
                s_fail (self, "path goes through symlink '%s'", name);
            else if (saved == ENOTDIR || saved == ELOOP)
                s_fail (self, "path goes through non-directory '%s'", name);
            else
                s_fail (self, "cannot create directory '%s': %s", name,
                        strerror (s_create_failed (self, saved)));
            *slash = '/';
            close (dirfd);
            return -1;
        }
        *slash = '/';
        close (dirfd);
        dirfd = next;
        start = slash + 1;
    }
    *leaf_p = start;
    return dirfd;
}

//  Copy the current entry's data into fd, counting bytes against the cap
static int s_write_data (s_extract_t *self, int fd, int64_t declared)
{
    uint64_t extent = 0;
    while (true) {
        const void *buffer;
        size_t size;
        la_int64_t offset;
        int rc = archive_read_data_block (self->archive, &buffer, &size, &offset);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc != ARCHIVE_OK)
            return s_fail (self, "archive error: %s", archive_error_string (self->archive));
        if (offset < 0)
            return s_fail (self, "negative data offset");
        //  holes count as unpacked bytes, so a sparse 10 GB file hits the cap
        uint64_t gap = (uint64_t)offset > extent ? (uint64_t)offset - extent : 0;
        if (gap + size > self->max_bytes - self->total)
            return s_over_cap (self, gap + size);
        self->total += gap + size;
        if ((uint64_t)offset + size > extent)
            extent = (uint64_t)offset + size;
        const char *cursor = buffer;
        while (size > 0) {
            ssize_t written = pwrite (fd, cursor, size, (off_t)offset);
            if (written < 0 && errno == EINTR)
                continue;
            if (written <= 0)
                return s_write_failed (self, written < 0 ? errno : EIO);
            cursor += written;
            offset += written;
            size -= (size_t)written;
        }
    }
    if (declared > 0 && (uint64_t)declared > extent) {
        uint64_t gap = (uint64_t)declared - extent;
        if (gap > self->max_bytes - self->total)
            return s_over_cap (self, gap);
        self->total += gap;
        if (ftruncate (fd, (off_t)declared) != 0)
            return s_write_failed (self, errno);
    }
    return 0;
}

//  Check and create one entry. Returns 0, or -1 with self->reason set.
static int s_extract_entry (s_extract_t *self, struct archive_entry *entry, char *name)
{
    size_t depth;
    const char *reason = s_normalize (archive_entry_pathname (entry), name, &depth);
    if (reason)
        return s_fail (self, "%s", reason);
    if (archive_entry_hardlink (entry))
        return s_fail (self, "hard links are refused");
    mode_t type = archive_entry_filetype (entry);
    if (depth == 0) {
        //  the "." root entry: the staging dir itself, nothing to do
        if (type == AE_IFDIR)
            return 0;
        return s_fail (self, "root entry is not a directory");
    }
    mode_t perm = archive_entry_perm (entry);
    if (perm & (S_ISUID | S_ISGID))
        return s_fail (self, "setuid/setgid bits are refused");
    const char *target = NULL;
    switch (type) {
        case AE_IFREG:
        case AE_IFDIR:
            break;
        case AE_IFLNK:
            target = archive_entry_symlink (entry);
            reason = s_check_link_target (target, depth - 1);
            if (reason)
                return s_fail (self, "%s", reason);
            break;
        case AE_IFCHR:
        case AE_IFBLK:
            return s_fail (self, "device files are refused");
        case AE_IFIFO:
            return s_fail (self, "FIFOs are refused");
        case AE_IFSOCK:
            return s_fail (self, "sockets are refused");
        default:
            return s_fail (self, "unknown file type");
    }
    int64_t declared = archive_entry_size_is_set (entry) ? archive_entry_size (entry) : 0;
    if (declared < 0)
        return s_fail (self, "negative size");
    if (type == AE_IFREG && (uint64_t)declared > self->max_bytes - self->total)
        return s_over_cap (self, (uint64_t)declared);

    const char *leaf = NULL;
    int dirfd = s_open_parent (self, name, &leaf);
    if (dirfd < 0)
        return -1;
    int rc = 0;
    if (type == AE_IFDIR) {
        if (mkdirat (dirfd, leaf, 0755) != 0 && errno != EEXIST)
            rc = s_fail (self, "mkdir failed: %s", strerror (s_create_failed (self, errno)));
        else {
            //  an existing directory is fine (implicit parent, duplicate
            //  entry); a symlink or file in its place is not
            int fd = openat (dirfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                rc = s_fail (self, "exists and is not a directory");
            else {
                if (fchmod (fd, 0755) != 0)
                    rc = s_fail (self, "chmod failed: %s", strerror (errno));
                close (fd);
            }
        }
    } else if (type == AE_IFLNK) {
        if (symlinkat (target, dirfd, leaf) != 0)
            rc = s_fail (self, "%s",
                         errno == EEXIST ? "already exists"
                                         : strerror (s_create_failed (self, errno)));
    } else {
        int fd = openat (dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            rc = s_fail (self, "%s",
                         errno == EEXIST ? "already exists"
                                         : strerror (s_create_failed (self, errno)));
        else {
            rc = s_write_data (self, fd, declared);
            if (rc == 0 && fchmod (fd, (perm & 0111) ? 0755 : 0644) != 0)
                rc = s_fail (self, "chmod failed: %s", strerror (errno));
            if (close (fd) != 0 && rc == 0)
                rc = s_write_failed (self, errno);
        }
    }
    close (dirfd);
    return rc;
}

static struct archive *s_reader_open (const char *path, char *err, size_t errlen)
{
    struct archive *archive = archive_read_new ();
    if (!archive) {
        s_seterr (err, errlen, "out of memory");
        return NULL;
    }
    archive_read_support_filter_all (archive);
    archive_read_support_format_tar (archive);
    archive_read_support_format_gnutar (archive);
    if (archive_read_open_filename (archive, path, JAD_ARCHIVE_BLOCK) != ARCHIVE_OK) {
        s_seterr (err, errlen, "cannot open archive: %s", archive_error_string (archive));
        archive_read_free (archive);
        return NULL;
    }
    return archive;
}

int jad_archive_extract (const char *path, const char *dest, const jad_archive_limits_t *limits,
                         char *err, size_t errlen)
{
    return jad_archive_unpack (path, dest, limits, NULL, err, errlen);
}

int jad_archive_unpack (const char *path, const char *dest, const jad_archive_limits_t *limits,
                        jad_archive_report_t *report, char *err, size_t errlen)
{
    s_extract_t self = {.rootfd = -1};
    if (report)
        memset (report, 0, sizeof *report);
    if (!path || !dest || !*dest) {
        s_seterr (err, errlen, "missing archive or destination");
        return -1;
    }
    if (s_limits (&self, path, limits, err, errlen))
        return -1;

    //  0700 while unpacking so nobody uses a half-made release
    if (mkdir (dest, 0700) != 0) {
        s_seterr (err, errlen, "cannot create '%s': %s", dest, strerror (errno));
        return -1;
    }
    char *name = malloc (PATH_MAX);
    int rc = -1;
    if (!name) {
        s_seterr (err, errlen, "out of memory");
        goto cleanup;
    }
    self.rootfd = open (dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (self.rootfd < 0) {
        s_seterr (err, errlen, "cannot open '%s': %s", dest, strerror (errno));
        goto cleanup;
    }
    self.archive = s_reader_open (path, err, errlen);
    if (!self.archive)
        goto cleanup;

    while (true) {
        struct archive_entry *entry;
        int status = archive_read_next_header (self.archive, &entry);
        if (status == ARCHIVE_EOF)
            break;
        if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
            s_seterr (err, errlen, "archive error after %llu entries: %s",
                      (unsigned long long)self.entries, archive_error_string (self.archive));
            goto cleanup;
        }
        char printable[256];
        s_printable (archive_entry_pathname (entry), printable, sizeof printable);
        if (++self.entries > self.max_entries) {
            s_seterr (err, errlen, "entry '%s': more than %llu entries", printable,
                      (unsigned long long)self.max_entries);
            goto cleanup;
        }
        if (s_extract_entry (&self, entry, name) != 0) {
            s_seterr (err, errlen, "entry '%s': %s", printable, self.reason);
            goto cleanup;
        }
    }
    if (fchmod (self.rootfd, 0755) != 0) {
        s_seterr (err, errlen, "cannot chmod '%s': %s", dest, strerror (errno));
        goto cleanup;
    }
    rc = 0;

cleanup:
    if (self.archive)
        archive_read_free (self.archive);
    if (self.rootfd >= 0)
        close (self.rootfd);
    free (name);
    if (rc != 0)
        jad_rmtree (dest);
    if (report) {
        report->unpacked = self.total;
        report->needed = self.needed;
        report->limit = self.max_bytes;
        report->cap = self.capped;
        report->write_errno = self.write_errno;
    }
    return rc;
}

int jad_archive_unpacked_size (const char *path, const jad_archive_limits_t *limits,
                               uint64_t *size_p, char *err, size_t errlen)
{
    s_extract_t self = {.rootfd = -1};
    if (!path || !size_p) {
        s_seterr (err, errlen, "missing archive");
        return -1;
    }
    if (s_limits (&self, path, limits, err, errlen))
        return -1;
    self.archive = s_reader_open (path, err, errlen);
    if (!self.archive)
        return -1;
    int rc = -1;
    while (true) {
        struct archive_entry *entry;
        int status = archive_read_next_header (self.archive, &entry);
        if (status == ARCHIVE_EOF) {
            rc = 0;
            break;
        }
        if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
            s_seterr (err, errlen, "archive error after %llu entries: %s",
                      (unsigned long long)self.entries, archive_error_string (self.archive));
            break;
        }
        char printable[256];
        s_printable (archive_entry_pathname (entry), printable, sizeof printable);
        if (++self.entries > self.max_entries) {
            s_seterr (err, errlen, "entry '%s': more than %llu entries", printable,
                      (unsigned long long)self.max_entries);
            break;
        }
        int64_t declared = archive_entry_size_is_set (entry) ? archive_entry_size (entry) : 0;
        if (archive_entry_filetype (entry) != AE_IFREG || archive_entry_hardlink (entry) ||
            declared <= 0)
            continue;
        if ((uint64_t)declared > self.max_bytes - self.total) {
            s_over_cap (&self, (uint64_t)declared);
            s_seterr (err, errlen, "entry '%s': %s", printable, self.reason);
            break;
        }
        self.total += (uint64_t)declared;
    }
    archive_read_free (self.archive);
    if (rc == 0)
        *size_p = self.total;
    return rc;
}

char *jad_archive_read_member (const char *path, const char *member, size_t max_size,
                               size_t *size_p, char *err, size_t errlen)
{
    if (!path || !member || max_size == SIZE_MAX) {
        s_seterr (err, errlen, "missing archive or member");
        return NULL;
    }
    while (member[0] == '.' && member[1] == '/')
        member += 2;
    size_t member_len = strlen (member);
    if (member_len > 0 && member[member_len - 1] == '/')
        member_len--;
    struct archive *archive = s_reader_open (path, err, errlen);
    if (!archive)
        return NULL;
    char *buffer = NULL;
    uint64_t entries = 0;
    while (true) {
        struct archive_entry *entry;
        int status = archive_read_next_header (archive, &entry);
        if (status == ARCHIVE_EOF) {
            s_seterr (err, errlen, "member '%s' not found", member);
            break;
        }
        if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
            s_seterr (err, errlen, "archive error: %s", archive_error_string (archive));
            break;
        }
        if (++entries > JAD_ARCHIVE_DEFAULT_ENTRIES) {
            s_seterr (err, errlen, "member '%s' not found in the first %d entries", member,
                      JAD_ARCHIVE_DEFAULT_ENTRIES);
            break;
        }
        const char *name = archive_entry_pathname (entry);
        if (!name)
            continue;
        while (name[0] == '.' && name[1] == '/')
            name += 2;
        //  "dir/" names the directory "dir"
        size_t name_len = strlen (name);
        if (name_len > 0 && name[name_len - 1] == '/')
            name_len--;
        if (name_len != member_len || strncmp (name, member, member_len) != 0)
            continue;
        if (archive_entry_filetype (entry) != AE_IFREG || archive_entry_hardlink (entry)) {
            s_seterr (err, errlen, "member '%s' is not a regular file", member);
            break;
        }
        if (archive_entry_size_is_set (entry) && archive_entry_size (entry) >= 0 &&
            (uint64_t)archive_entry_size (entry) > max_size) {
            s_seterr (err, errlen, "member '%s' is larger than %zu bytes", member, max_size);
            break;
        }
        buffer = malloc (max_size + 1);
        if (!buffer) {
            s_seterr (err, errlen, "out of memory");
            break;
        }
        //  read one byte more than allowed to notice a lying size
        size_t size = 0;
        bool failed = false;
        while (size <= max_size) {
            la_ssize_t got = archive_read_data (archive, buffer + size, max_size + 1 - size);
            if (got == 0)
                break;
            if (got < 0) {
                s_seterr (err, errlen, "archive error: %s", archive_error_string (archive));
                failed = true;
                break;
            }
            size += (size_t)got;
        }
        if (!failed && size > max_size) {
            s_seterr (err, errlen, "member '%s' is larger than %zu bytes", member, max_size);
            failed = true;
        }
        if (failed) {
            free (buffer);
            buffer = NULL;
            break;
        }
        buffer[size] = 0;
        if (size_p)
            *size_p = size;
        break;
    }
    archive_read_free (archive);
    return buffer;
}

//  Remove everything inside the directory dirfd (owned: closed here),
//  never following symlinks. Returns 0 or -1.
static int s_rmtree_contents (int dirfd)
{
    DIR *dir = fdopendir (dirfd);
    if (!dir) {
        close (dirfd);
        return -1;
    }
    int rc = 0;
    //  removing while reading may skip names on some filesystems: repeat
    //  passes until one finds nothing left
    bool removed = true;
    while (removed && rc == 0) {
        removed = false;
        rewinddir (dir);
        struct dirent *ent;
        while ((ent = readdir (dir))) {
            const char *name = ent->d_name;
            if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
                continue;
            struct stat st;
            if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno != ENOENT)
                    rc = -1;
                continue;
            }
            if (S_ISDIR (st.st_mode)) {
                int sub = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                    rc = -1;
                    continue;
                }
                if ((st.st_mode & 0700) != 0700)
                    (void)fchmod (sub, 0700);
                if (s_rmtree_contents (sub) != 0)
                    rc = -1;
                if (unlinkat (dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
                    rc = -1;
            } else if (unlinkat (dirfd, name, 0) != 0 && errno != ENOENT)
                rc = -1;
            removed = true;
        }
    }
    closedir (dir);
    return rc;
}

int jad_rmtree (const char *path)
{
    if (!path || !*path)
        return -1;
    struct stat st;
    if (lstat (path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR (st.st_mode))
        return unlink (path);
    int dirfd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
        return -1;
    int rc = s_rmtree_contents (dirfd);
    if (rmdir (path) != 0)
        rc = -1;
    return rc;
}
