//  jad_testlib - helpers for Jadugar's tests: temp dirs, processes, waits
//  SPDX-License-Identifier: MPL-2.0

#ifndef JAD_TESTLIB_H_INCLUDED
#define JAD_TESTLIB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

//  Make a fresh temporary directory; caller frees the path. Aborts on error.
char *jt_tempdir (const char *prefix);
//  Remove a tree (rm -rf), ignoring errors.
void jt_rmtree (const char *path);
//  Write text to a file (mode), creating parent dirs. Aborts on error.
void jt_write_file (const char *path, const char *text, int mode);
//  Read a whole file, or NULL. Caller frees.
char *jt_read_file (const char *path);
//  Run a shell command line (tests only), return its exit status (or -1),
//  capturing stdout+stderr into *output (caller frees) if not NULL.
int jt_run (char **output, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
//  Start a process in the background with argv; stdout+stderr to logfile.
pid_t jt_spawn (const char *logfile, char *const argv[]);
//  SIGTERM then wait (SIGKILL after 5 s). Returns exit status or -1.
int jt_stop (pid_t pid);
//  SIGKILL and reap.
void jt_kill9 (pid_t pid);
//  Find a free TCP port base on 127.0.0.1 with `count` consecutive free ports.
int jt_free_port_base (int count);
//  Poll `cond(arg)` every 50 ms until true or timeout_ms; return its result.
bool jt_wait_for (bool (*cond) (void *), void *arg, int timeout_ms);

#endif
