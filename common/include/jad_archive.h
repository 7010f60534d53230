//  jad_archive - safe release archives (libarchive)
//  SPDX-License-Identifier: MPL-2.0
//
//  Extraction writes only below a fresh staging directory and refuses:
//  absolute paths, any `..` component, empty or odd names (NUL, control
//  characters, longer than PATH_MAX), hard links, symlinks whose target is
//  absolute or escapes the staging dir lexically, any entry whose path
//  goes through a symlink, devices, FIFOs, sockets, setuid/setgid/sticky
//  bits. Owners are ignored (files belong to the extracting user); modes
//  are masked to 0755/0644. Caps: entry count, unpacked bytes, and the
//  ratio of unpacked bytes to the archive's size (a compression bomb stops
//  early, before it fills the disk). On any refusal nothing is left: the
//  staging dir is removed.
//  Archives made with `tar -C dir -czf x.tgz .` (entries `./...`) work as
//  well as those without the `./`.

#ifndef JAD_ARCHIVE_H_INCLUDED
#define JAD_ARCHIVE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The ratio cap most callers want: unpacked bytes at most 100 times the
//  archive's size, but never less than 64 MiB (small archives of very
//  compressible files are fine; bombs are big).
#define JAD_ARCHIVE_MAX_RATIO   100
#define JAD_ARCHIVE_RATIO_FLOOR (64ULL * 1024 * 1024)

typedef struct {
    uint64_t max_entries;  //  0 = default 100000
    uint64_t max_bytes;    //  0 = default 4 GiB unpacked
    uint64_t max_ratio;    //  0 = none; else unpacked bytes at most max_ratio x the archive's
                           //  size or JAD_ARCHIVE_RATIO_FLOOR, whichever is more
} jad_archive_limits_t;

//  Which limit stopped an extraction.
typedef enum {
    JAD_ARCHIVE_CAP_NONE = 0,
    JAD_ARCHIVE_CAP_BYTES,  //  max_bytes (or the default)
    JAD_ARCHIVE_CAP_RATIO,  //  max_ratio
} jad_archive_cap_t;

//  What an extraction did, for callers that explain a failure.
typedef struct {
    uint64_t unpacked;      //  bytes written (holes included) when it ended
    uint64_t needed;        //  a cap stopped it: at least this many bytes were needed
    uint64_t limit;         //  the byte limit in force (the smaller of the two caps)
    jad_archive_cap_t cap;  //  the cap that stopped it, or NONE
    int write_errno;        //  errno of a failed write (ENOSPC, EDQUOT, EIO...), or 0
} jad_archive_report_t;

//  Extract archive at `path` into `dest`, which must not exist yet; it is
//  created (mode 0755). Returns 0, or -1 with "entry 'NAME': reason" (or
//  an archive-level reason) in err (size errlen), having removed dest.
int jad_archive_extract (const char *path, const char *dest, const jad_archive_limits_t *limits,
                         char *err, size_t errlen);

//  jad_archive_extract that also fills *report (if not NULL), failed or not.
int jad_archive_unpack (const char *path, const char *dest, const jad_archive_limits_t *limits,
                        jad_archive_report_t *report, char *err, size_t errlen);

//  The unpacked size of the archive at `path` as extraction counts it (the
//  sizes of its regular files), without writing anything: what a plan
//  signs as its release's unpacked size. The same limits apply (entries,
//  bytes, ratio; declared sizes count). Returns 0 with *size_p set, or -1
//  with a reason in err.
int jad_archive_unpacked_size (const char *path, const jad_archive_limits_t *limits,
                               uint64_t *size_p, char *err, size_t errlen);

//  Read one regular-file member (e.g. "jadugar.yaml", matched with or
//  without a leading "./") into a new NUL-terminated buffer of at most
//  max_size bytes. Returns the buffer (caller frees) and its size in
//  *size_p, or NULL with a reason in err (member missing, too large,
//  archive broken).
char *jad_archive_read_member (const char *path, const char *member, size_t max_size,
                               size_t *size_p, char *err, size_t errlen);

//  Remove a directory tree without following symlinks. Returns 0 or -1.
int jad_rmtree (const char *path);

#ifdef __cplusplus
}
#endif

#endif
