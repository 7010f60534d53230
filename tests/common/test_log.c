//  test_log - one log call is one line, whatever text it carries
//  (SECURITY-TESTS row 37)
//  SPDX-License-Identifier: MPL-2.0

#include "jad_log.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  What one jad_log_warning call with `text` writes to the log stream.
static char *s_logged (const char *text)
{
    FILE *stream = tmpfile ();
    cr_assert_not_null (stream);
    zsys_set_logsystem (false);
    zsys_set_logstream (stream);
    jad_log_warning ("agents: enrollment refused name=%s", text);
    zsys_set_logstream (stderr);
    fflush (stream);
    long size = ftell (stream);
    cr_assert_gt (size, 0);
    char *written = calloc (1, (size_t)size + 1);
    rewind (stream);
    cr_assert_eq (fread (written, 1, (size_t)size, stream), (size_t)size);
    fclose (stream);
    return written;
}

Test (log, control_characters_are_escaped_one_call_one_line)
{
    char *written = s_logged (
        "web-1\nW: 26-12-06 09:00:00 agents: agent enrolled name=evil\x1b[2J\x1b[H\r\x07");
    //  one line, ending where the call ended
    char *newline = strchr (written, '\n');
    cr_assert_not_null (newline);
    cr_assert_eq (newline[1], 0, "a second line was written:\n%s", written);
    cr_assert (strstr (written, "name=web-1\\nW: 26-12-06 09:00:00 agents: agent enrolled "
                                "name=evil\\e[2J\\e[H\\r\\x07"),
               "%s", written);
    for (const char *cursor = written; cursor < newline; cursor++)
        cr_assert ((unsigned char)*cursor >= 0x20 && *cursor != 0x7F, "raw control 0x%02x",
                   (unsigned char)*cursor);
    free (written);
    //  plain text is written as it is
    written = s_logged ("web-1 ünïcode");
    cr_assert (strstr (written, "name=web-1 ünïcode\n"), "%s", written);
    free (written);
}
