//  jad_archive - safe release archives (libarchive)
//  SPDX-License-Identifier: MPL-2.0
//
//  Extraction writes only below a fresh staging directory and refuses:
//  absolute paths, any `..` component, empty or odd names (NUL, control
//  characters, longer than PATH_MAX), hard links, symlinks whose target is
//  absolute or escapes the staging dir lexically, any entry whose path
//  goes through a symlink, devices, FIFOs, sockets, setuid/setgid/sticky
//  bits. Owners are ignored (files belong to the extracting user); modes
//  are masked to 0755/0644. Caps: entry count, unpacked bytes. On any
//  refusal nothing is left: the staging dir is removed.
//  Archives made with `tar -C dir -czf x.tgz .` (entries `./...`) work as
//  well as those without the `./`.

#ifndef JAD_ARCHIVE_H_INCLUDED
#define JAD_ARCHIVE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t max_entries;  //  0 = default 100000
    uint64_t max_bytes;    //  0 = default 4 GiB unpacked
} jad_archive_limits_t;

//  Extract archive at `path` into `dest`, which must not exist yet; it is
//  created (mode 0755). Returns 0, or -1 with "entry 'NAME': reason" (or
//  an archive-level reason) in err (size errlen), having removed dest.
int jad_archive_extract (const char *path, const char *dest, const jad_archive_limits_t *limits,
                         char *err, size_t errlen);

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
