//  jad_log - one small logging module on czmq's zsys_*
//  SPDX-License-Identifier: MPL-2.0
//
//  Lines read "component: fixed phrase key=value ...". Daemons in the
//  foreground log to stderr; with jad_log_syslog they also log to syslog.
//  Never log secret keys, tokens or whole payloads.

#ifndef JAD_LOG_H_INCLUDED
#define JAD_LOG_H_INCLUDED

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Set the program name used as prefix and whether to use syslog.
void jad_log_init (const char *ident, bool use_syslog);
void jad_log_set_verbose (bool verbose);

void jad_log_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void jad_log_warning (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void jad_log_info (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void jad_log_debug (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

#ifdef __cplusplus
}
#endif

#endif
