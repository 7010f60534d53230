//  jad_hook - run a release hook: argv only, timeout, captured output
//  SPDX-License-Identifier: MPL-2.0
//
//  A hook is a path relative to the release directory (a leading "./" is
//  allowed). It runs with posix_spawn-style argv (never a shell), cwd the
//  release directory, stdin from /dev/null, stdout+stderr captured to a
//  bounded buffer (the tail beyond the bound is dropped and marked), a
//  fixed environment (PATH, HOME, LANG plus the JADUGAR_* variables the
//  caller gives), in its own process group. At the timeout the whole group
//  gets SIGTERM, then SIGKILL after a grace period; the result says so.
//  Optionally switches to an unprivileged uid/gid first.

#ifndef JAD_HOOK_H_INCLUDED
#define JAD_HOOK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *release_dir;  //  cwd; hook path is resolved below it
    const char *command;      //  hook path from jadugar.yaml
    const char *const *env;   //  extra "NAME=value" strings, NULL-terminated
    uint32_t timeout_ms;      //  0 = 30 s
    size_t max_output;        //  0 = 16 KiB
    bool drop_privileges;     //  run as uid/gid below
    uid_t uid;
    gid_t gid;
    //  Instead of `command`: an absolute path the caller trusts (one of
    //  our own binaries), not resolved below release_dir, which stays the
    //  cwd. Arguments after argv[0] in `args` (NULL-terminated, may be NULL).
    const char *program;
    const char *const *args;
} jad_hook_spec_t;

typedef struct {
    int exit_code;  //  valid when exited
    int signal;     //  terminating signal, 0 if none
    bool exited;    //  normal exit
    bool timed_out;
    bool spawn_failed;  //  could not start (see output)
    uint32_t duration_ms;
    char *output;  //  owned, NUL-terminated
} jad_hook_result_t;

//  Run the hook and wait. Returns 0 if it ran and exited 0 within the
//  timeout, -1 otherwise; `result` is always filled (free with
//  jad_hook_result_clear). A hook path that is absolute, contains "..",
//  or is not an executable regular file inside the release dir is refused
//  (spawn_failed, reason in output).
int jad_hook_run (const jad_hook_spec_t *spec, jad_hook_result_t *result);

//  One-line description of a result: "exit 0", "exit 3", "killed by signal
//  9", "timed out after 30000 ms", "could not start: ...". Borrowed static
//  storage is not used: writes into buf (size len) and returns buf.
const char *jad_hook_describe (const jad_hook_result_t *result, char *buf, size_t len);

void jad_hook_result_clear (jad_hook_result_t *result);

#ifdef __cplusplus
}
#endif

#endif
