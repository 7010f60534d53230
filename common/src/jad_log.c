//  jad_log - one small logging module on czmq's zsys_*
//  SPDX-License-Identifier: MPL-2.0
//
//  czmq prints "I: 26-11-27 03:17:49 message" to stderr; with syslog on it
//  also sends each line to syslog under the given ident.

#include "jad_log.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static bool s_verbose = false;

bool jad_log_stderr_is_journal (void)
{
    //  systemd sets JOURNAL_STREAM=DEVICE:INODE of the stream it connected
    const char *stream = getenv ("JOURNAL_STREAM");
    uintmax_t device = 0, inode = 0;
    struct stat info;
    if (!stream || sscanf (stream, "%ju:%ju", &device, &inode) != 2 || fstat (2, &info) != 0)
        return false;
    return (uintmax_t)info.st_dev == device && (uintmax_t)info.st_ino == inode;
}

void jad_log_init (const char *ident, bool use_syslog)
{
    zsys_set_logident (ident);
    zsys_set_logstream (stderr);
    //  czmq logs either to syslog or to the stream, never both
    zsys_set_logsystem (use_syslog || jad_log_stderr_is_journal ());
    if (getenv ("JADUGAR_DEBUG"))
        s_verbose = true;
}

void jad_log_set_verbose (bool verbose)
{
    s_verbose = verbose;
}

#define S_LOG_BODY(call)                                                                           \
    va_list argptr;                                                                                \
    va_start (argptr, format);                                                                     \
    char *line = zsys_vprintf (format, argptr);                                                    \
    va_end (argptr);                                                                               \
    if (line) {                                                                                    \
        call ("%s", line);                                                                         \
        zstr_free (&line);                                                                         \
    }

void jad_log_error (const char *format, ...)
{
    S_LOG_BODY (zsys_error)
}

void jad_log_warning (const char *format, ...)
{
    S_LOG_BODY (zsys_warning)
}

void jad_log_info (const char *format, ...)
{
    S_LOG_BODY (zsys_info)
}

void jad_log_debug (const char *format, ...)
{
    if (!s_verbose)
        return;
    S_LOG_BODY (zsys_debug)
}
