//  jad_log - one small logging module on czmq's zsys_*
//  SPDX-License-Identifier: MPL-2.0
//
//  Lines read "component: fixed phrase key=value ...". Daemons in the
//  foreground log to stderr; with jad_log_syslog they also log to syslog.
//  Never log secret keys, tokens or whole payloads. Control characters in
//  a line are written as escapes (\n, \e, \xNN): one call, one line.

#ifndef JAD_LOG_H_INCLUDED
#define JAD_LOG_H_INCLUDED

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Set the program name used as prefix and whether to use syslog. Without
//  use_syslog, a daemon whose stderr is the systemd journal (JOURNAL_STREAM
//  names stderr's device and inode) logs to syslog all the same, so that
//  journald gets priorities and no doubled time stamps.
void jad_log_init (const char *ident, bool use_syslog);

//  True if stderr is connected to the systemd journal.
bool jad_log_stderr_is_journal (void);
void jad_log_set_verbose (bool verbose);

void jad_log_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void jad_log_warning (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void jad_log_info (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void jad_log_debug (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

#ifdef __cplusplus
}
#endif

#endif
