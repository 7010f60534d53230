//  fuzz_archive - libFuzzer target: release archive extraction and manifest reads
//  SPDX-License-Identifier: MPL-2.0
//
//  The input is written as a file and extracted into a fresh directory
//  under small caps; whatever happens, nothing may be written outside it
//  and the directory must be gone after a refusal.

#include "jad_archive.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char s_work[PATH_MAX];

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!*s_work) {
        snprintf (s_work, sizeof s_work, "/tmp/jadugar-fuzz-archive-XXXXXX");
        if (!mkdtemp (s_work))
            abort ();
    }
    char archive[PATH_MAX + 16], dest[PATH_MAX + 16], err[512];
    snprintf (archive, sizeof archive, "%s/in.tar.gz", s_work);
    snprintf (dest, sizeof dest, "%s/out", s_work);
    FILE *file = fopen (archive, "wb");
    if (!file)
        abort ();
    fwrite (data, 1, size, file);
    fclose (file);
    jad_archive_limits_t limits = {.max_entries = 64, .max_bytes = 1024 * 1024};
    struct stat info;
    if (jad_archive_extract (archive, dest, &limits, err, sizeof err) != 0 &&
        lstat (dest, &info) == 0)
        abort ();  //  a refusal must leave nothing behind
    jad_rmtree (dest);
    size_t member_size = 0;
    char *manifest =
        jad_archive_read_member (archive, "jadugar.yaml", 65536, &member_size, err, sizeof err);
    free (manifest);
    unlink (archive);
    return 0;
}
