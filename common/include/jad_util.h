//  jad_util - small shared helpers: names, durations, time, files, hex
//  SPDX-License-Identifier: MPL-2.0

#ifndef JAD_UTIL_H_INCLUDED
#define JAD_UTIL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JAD_NAME_MAX 64

//  jansson's json_dumps flag for numbers as people write them: 15
//  significant digits, so 0.05 prints as 0.05, not 0.050000000000000003
//  (webhooks, the API's answers, jadctl --json). Use where jansson.h is
//  included.
#define JAD_JSON_REAL JSON_REAL_PRECISION (15)

//  True if `name` is 1..64 characters of [A-Za-z0-9._-], does not start
//  with '.' or '-' (so never "." or ".." and never an option).
bool jad_name_valid (const char *name);

//  Parse a duration ("500ms", "30s", "10m", "1h", "2d"; a bare number is
//  seconds) into milliseconds. Returns 0 or -1 if malformed or > 2^31 ms.
int jad_duration_parse (const char *text, uint32_t *ms);

//  A duration that may be longer than 24 days: whole days ("90d", 1 to
//  3650) or anything longer than zero jad_duration_parse takes. Returns
//  0 or -1.
int jad_long_duration_parse (const char *text, uint64_t *ms);

//  Format milliseconds as a short duration ("1.2s", "3m04s"). Writes buf.
const char *jad_duration_format (uint64_t ms, char *buf, size_t len);

//  True if text and value are both set and equal (a NULL, as from a
//  stored row's NULL column, never equals anything).
bool jad_text_is (const char *text, const char *value);

//  Wall time ms as UTC ISO 8601 ("2026-03-01T09:30:00Z") into buf (21
//  bytes are enough); "" for ms <= 0 or a buffer too small. Returns buf.
const char *jad_iso_time (int64_t ms, char *buf, size_t len);

//  Wall clock and monotonic time in milliseconds.
int64_t jad_now_ms (void);
int64_t jad_mono_ms (void);

//  Hex of len bytes into out (2*len+1 bytes). Returns out.
char *jad_hex (const uint8_t *data, size_t len, char *out);
//  Parse exactly 2*len hex characters. Returns 0 or -1.
int jad_unhex (const char *text, uint8_t *out, size_t len);

//  mkdir -p with mode. Returns 0 or -1 (errno set).
int jad_mkdirs (const char *path, int mode);

//  fsync a directory, so that the entries made, renamed or removed in it
//  survive a crash. Returns 0 or -1 (errno set).
int jad_dir_sync (const char *dir);

//  Write all size bytes to a blocking fd (EINTR retried). Returns 0 or -1
//  (errno set; EIO if write made no progress).
int jad_write_all (int fd, const void *data, size_t size);

//  Read a whole file (at most max bytes) into a NUL-terminated buffer the
//  caller frees. Returns NULL on error (errno set; EFBIG if too large).
char *jad_file_read (const char *path, size_t max, size_t *size_p);

//  Write a file atomically: temp file in the same dir, fsync, rename.
//  Returns 0 or -1 (errno set).
int jad_file_write_atomic (const char *path, const void *data, size_t size, int mode);

//  SHA-256 of a file, streaming; writes 32 bytes, and the length to *size_p
//  if not NULL. Returns 0 or -1.
int jad_sha256_file (const char *path, uint8_t out[32], uint64_t *size_p);

//  Random identifier of `bytes` random bytes as hex into out (2*bytes+1).
char *jad_random_id (size_t bytes, char *out);

//  The size bytes at bytes (a received blob: no NUL at its end) as a new
//  NUL-terminated string; caller frees. NULL if out of memory. When the
//  bytes hold a NUL, strlen of the copy is less than size: callers that
//  want text check it.
char *jad_text_copy (const void *bytes, size_t size);

//  printf into a new string; caller frees. NULL if out of memory.
char *jad_strdup_printf (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  printf into buf (len bytes, always NUL-terminated when len > 0).
//  Returns 0, or -1 if the text did not fit (buf then holds its start) or
//  the format failed.
int jad_format (char *buf, size_t len, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  printf a reason into an optional error buffer: does nothing if err is
//  NULL or len is 0; cuts the text short to fit.
void jad_seterr (char *err, size_t len, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  True if both are NULL or both hold the same text.
bool jad_str_equal (const char *one, const char *two);

//  True if text holds a control character (below 0x20, or 0x7F).
bool jad_text_has_control (const char *text);

//  True if a '/'-separated path has a ".." segment ("..", "a/../b", "a/..").
bool jad_path_has_dotdot (const char *path);

//  Copy text into a bounded string, replacing invalid UTF-8 and control
//  characters (except \n and \t) with '?'. Truncates to max bytes on a
//  character boundary. Caller frees.
char *jad_text_sanitize (const char *text, size_t len, size_t max);

//  True if text (len bytes) is valid UTF-8 without NUL.
bool jad_utf8_valid (const char *text, size_t len);

//  A response body collected in memory (NUL-terminated), at most `max`
//  bytes: past that, too_large is set and nothing more is kept.
typedef struct {
    char *data;
    size_t size;
    size_t max;
    bool too_large;
} jad_body_t;

//  Append len bytes. Returns len, or 0 past max or on no memory (libcurl's
//  write-callback contract: anything but len aborts the transfer).
size_t jad_body_append (jad_body_t *body, const char *data, size_t len);

//  Write callbacks with libcurl's CURLOPT_WRITEFUNCTION signature:
//  jad_body_write appends to the jad_body_t given as arg (as
//  jad_body_append); jad_body_discard keeps nothing and takes everything.
size_t jad_body_write (char *data, size_t size, size_t count, void *arg);
size_t jad_body_discard (char *data, size_t size, size_t count, void *arg);

//  The version an app's `current` link (ROOT/APP/current ->
//  releases/VERSION) points at, into version (JAD_NAME_MAX + 1 bytes).
//  Returns true, or false if link is missing, not a symbolic link, or
//  points anywhere but at releases/ and a valid name.
bool jad_current_version (const char *link, char version[JAD_NAME_MAX + 1]);

//  True if this host has a user named name (getpwnam).
bool jad_user_exists (const char *name);

//  In a forked child before exec: unblock every signal and give every
//  handler back its default (async-signal-safe).
void jad_child_signals_reset (void);

//  Move fd to the lowest free descriptor >= lowest (close-on-exec), so that
//  a child's dup2 onto 0..lowest-1 can not clobber it; fd < 0 or already
//  high enough is returned as it is. Returns the new fd, -1 on error
//  (fd is closed either way).
int jad_fd_above (int fd, int lowest);

#ifdef __cplusplus
}
#endif

#endif
