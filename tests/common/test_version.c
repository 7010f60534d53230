//  test_version - one JADUGAR_VERSION: the project version of the top
//  CMakeLists.txt, passed to every target as a compile definition, and
//  repeated nowhere else (sources, CMake files, packaging, man pages)
//  SPDX-License-Identifier: MPL-2.0

#include "jad_testlib.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test (version, comes_from_the_project_version)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/CMakeLists.txt", JAD_SOURCE_DIR);
    char *text = jt_read_file (path);
    cr_assert_not_null (text);
    const char *project = strstr (text, "project (jadugar VERSION ");
    cr_assert_not_null (project, "the top CMakeLists.txt declares the project version");
    char version[32] = "";
    cr_assert_eq (sscanf (project, "project (jadugar VERSION %31[0-9.]", version), 1);
    cr_assert_str_eq (JADUGAR_VERSION, version);
    free (text);
}

Test (version, is_written_nowhere_else)
{
    //  no other definition, and no literal copy beside one
    char *output = NULL;
    int rc = jt_run (&output,
                     "cd %s && grep -rnE 'JADUGAR_VERSION=\"|define JADUGAR_VERSION' "
                     "--include='*.c' --include='*.h' --include='*.cmake' "
                     "--include=CMakeLists.txt --exclude=test_version.c "
                     "common agent controller tests deploy proto",
                     JAD_SOURCE_DIR);
    cr_expect_eq (rc, 1, "defined again:\n%s", output);
    free (output);
    //  man pages say "Jadugar", the package says which version
    rc =
        jt_run (&output, "cd %s && grep -nE '^\\.TH .*\"Jadugar [0-9]' docs/man/*", JAD_SOURCE_DIR);
    cr_expect_eq (rc, 1, "a man page repeats the version:\n%s", output);
    free (output);
}
