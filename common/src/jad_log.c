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
#include <string.h>
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

//  A log line holds remote text (names, reasons, hook output): control
//  characters become visible escapes (\n, \r, \t, \e, \xNN) so that one
//  call is one line, which nobody can forge another line with nor clear a
//  terminal by. Returns line, or a new escaped copy (line freed); NULL if
//  out of memory.
static char *s_escape_line (char *line)
{
    size_t extra = 0;
    for (const unsigned char *cursor = (const unsigned char *)line; *cursor; cursor++)
        if (*cursor < 0x20 || *cursor == 0x7F)
            extra += 3;
    if (extra == 0)
        return line;
    char *escaped = (char *)malloc (strlen (line) + extra + 1);
    char *out = escaped;
    for (const unsigned char *cursor = (const unsigned char *)line; escaped && *cursor; cursor++) {
        unsigned char byte = *cursor;
        if (byte == '\n' || byte == '\r' || byte == '\t' || byte == 0x1B) {
            *out++ = '\\';
            *out++ = byte == '\n' ? 'n' : byte == '\r' ? 'r' : byte == '\t' ? 't' : 'e';
        } else if (byte < 0x20 || byte == 0x7F)
            out += sprintf (out, "\\x%02x", byte);
        else
            *out++ = (char)byte;
    }
    if (escaped)
        *out = 0;
    zstr_free (&line);
    return escaped;
}

#define S_LOG_BODY(call)                                                                           \
    va_list argptr;                                                                                \
    va_start (argptr, format);                                                                     \
    char *line = zsys_vprintf (format, argptr);                                                    \
    va_end (argptr);                                                                               \
    if (line)                                                                                      \
        line = s_escape_line (line);                                                               \
    if (line) {                                                                                    \
        call ("%s", line);                                                                         \
        free (line);                                                                               \
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
