//  jad_util - small shared helpers: names, durations, time, files, hex
//  SPDX-License-Identifier: MPL-2.0

#include "jad_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool jad_name_valid (const char *name)
{
    if (!name || !*name || *name == '.' || *name == '-')
        return false;
    size_t len = 0;
    for (const char *cursor = name; *cursor; cursor++, len++) {
        char c = *cursor;
        if (len >= JAD_NAME_MAX)
            return false;
        if (!(isalnum ((unsigned char)c) || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int jad_duration_parse (const char *text, uint32_t *ms)
{
    if (!text || !*text || !isdigit ((unsigned char)*text))
        return -1;
    char *end = NULL;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text)
        return -1;
    double scale;
    if (*end == 0 || strcmp (end, "s") == 0)
        scale = 1000;
    else if (strcmp (end, "ms") == 0)
        scale = 1;
    else if (strcmp (end, "m") == 0)
        scale = 60 * 1000;
    else if (strcmp (end, "h") == 0)
        scale = 3600 * 1000;
    else if (strcmp (end, "d") == 0)
        scale = 86400 * 1000;
    else
        return -1;
    double total = value * scale;
    if (total < 0 || total > (double)INT32_MAX)
        return -1;
    *ms = (uint32_t)total;
    return 0;
}

int jad_long_duration_parse (const char *text, uint64_t *ms)
{
    size_t len = text ? strlen (text) : 0;
    if (len > 1 && len <= 11 && text[len - 1] == 'd') {
        uint64_t days = 0;
        size_t index = 0;
        for (; index < len - 1 && isdigit ((unsigned char)text[index]); index++)
            days = days * 10 + (uint64_t)(text[index] - '0');
        if (index == len - 1 && days >= 1 && days <= 3650) {
            *ms = days * 86400000u;
            return 0;
        }
    }
    uint32_t short_ms = 0;
    if (jad_duration_parse (text, &short_ms) == 0 && short_ms > 0) {
        *ms = short_ms;
        return 0;
    }
    return -1;
}

const char *jad_duration_format (uint64_t ms, char *buf, size_t len)
{
    if (ms < 1000)
        snprintf (buf, len, "%ums", (unsigned)ms);
    else if (ms < 60000)
        snprintf (buf, len, "%.1fs", ms / 1000.0);
    else if (ms < 3600000)
        snprintf (buf, len, "%um%02us", (unsigned)(ms / 60000), (unsigned)(ms / 1000 % 60));
    else
        snprintf (buf, len, "%uh%02um", (unsigned)(ms / 3600000), (unsigned)(ms / 60000 % 60));
    return buf;
}

bool jad_text_is (const char *text, const char *value)
{
    return text && value && strcmp (text, value) == 0;
}

const char *jad_iso_time (int64_t ms, char *buf, size_t len)
{
    if (ms <= 0) {
        if (len)
            buf[0] = 0;
        return buf;
    }
    time_t seconds = (time_t)(ms / 1000);
    struct tm parts;
    if ((!gmtime_r (&seconds, &parts) || strftime (buf, len, "%Y-%m-%dT%H:%M:%SZ", &parts) == 0) &&
        len)
        buf[0] = 0;
    return buf;
}

int64_t jad_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int64_t jad_mono_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

char *jad_hex (const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t index = 0; index < len; index++) {
        out[2 * index] = digits[data[index] >> 4];
        out[2 * index + 1] = digits[data[index] & 15];
    }
    out[2 * len] = 0;
    return out;
}

static int s_hexval (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int jad_unhex (const char *text, uint8_t *out, size_t len)
{
    if (!text || strlen (text) != 2 * len)
        return -1;
    for (size_t index = 0; index < len; index++) {
        int high = s_hexval (text[2 * index]);
        int low = s_hexval (text[2 * index + 1]);
        if (high < 0 || low < 0)
            return -1;
        out[index] = (uint8_t)(high << 4 | low);
    }
    return 0;
}

int jad_mkdirs (const char *path, int mode)
{
    char buf[PATH_MAX];
    if (strlen (path) >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy (buf, path);
    //  most calls find it there: one stat, not a mkdir per component
    struct stat info;
    if (stat (buf, &info) == 0 && S_ISDIR (info.st_mode))
        return 0;
    for (char *cursor = buf + 1; *cursor; cursor++) {
        if (*cursor != '/')
            continue;
        *cursor = 0;
        if (mkdir (buf, (mode_t)mode) != 0 && errno != EEXIST)
            return -1;
        *cursor = '/';
    }
    if (mkdir (buf, (mode_t)mode) != 0 && errno != EEXIST)
        return -1;
    if (stat (buf, &info) != 0)
        return -1;
    if (!S_ISDIR (info.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

char *jad_file_read (const char *path, size_t max, size_t *size_p)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat info;
    if (fstat (fd, &info) != 0) {
        close (fd);
        return NULL;
    }
    if ((uint64_t)info.st_size > max) {
        close (fd);
        errno = EFBIG;
        return NULL;
    }
    size_t size = (size_t)info.st_size;
    char *buffer = malloc (size + 1);
    if (!buffer) {
        close (fd);
        return NULL;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t got = read (fd, buffer + done, size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        done += (size_t)got;
    }
    close (fd);
    buffer[done] = 0;
    if (size_p)
        *size_p = done;
    return buffer;
}

int jad_dir_sync (const char *dir)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    int saved = errno;
    close (fd);
    errno = saved;
    return rc == 0 ? 0 : -1;
}

int jad_write_all (int fd, const void *data, size_t size)
{
    const uint8_t *cursor = data;
    while (size > 0) {
        ssize_t wrote = write (fd, cursor, size);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote == 0)
            errno = EIO;
        if (wrote <= 0)
            return -1;
        cursor += wrote;
        size -= (size_t)wrote;
    }
    return 0;
}

int jad_file_write_atomic (const char *path, const void *data, size_t size, int mode)
{
    char temp[PATH_MAX];
    if (snprintf (temp, sizeof temp, "%s.tmp.%d", path, (int)getpid ()) >= (int)sizeof temp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0)
        return -1;
    if (jad_write_all (fd, data, size) != 0)
        goto failed;
    if (fchmod (fd, (mode_t)mode) != 0 || fsync (fd) != 0)
        goto failed;
    if (close (fd) != 0) {
        fd = -1;
        goto failed;
    }
    fd = -1;
    if (rename (temp, path) != 0)
        goto failed;
    return 0;

failed:;
    int saved = errno;
    if (fd >= 0)
        close (fd);
    unlink (temp);
    errno = saved;
    return -1;
}

int jad_sha256_file (const char *path, uint8_t out[32], uint64_t *size_p)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    uint8_t buffer[65536];
    uint64_t total = 0;
    while (true) {
        ssize_t got = read (fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            close (fd);
            return -1;
        }
        if (got == 0)
            break;
        crypto_hash_sha256_update (&state, buffer, (unsigned long long)got);
        total += (uint64_t)got;
    }
    close (fd);
    crypto_hash_sha256_final (&state, out);
    if (size_p)
        *size_p = total;
    return 0;
}

char *jad_random_id (size_t bytes, char *out)
{
    uint8_t buffer[64];
    if (bytes > sizeof buffer)
        bytes = sizeof buffer;
    randombytes_buf (buffer, bytes);
    return jad_hex (buffer, bytes, out);
}

char *jad_text_copy (const void *bytes, size_t size)
{
    //  not strndup: it may read past `size` looking for a NUL
    char *text = size < SIZE_MAX ? malloc (size + 1) : NULL;
    if (!text)
        return NULL;
    if (size)
        memcpy (text, bytes, size);
    text[size] = '\0';
    return text;
}

char *jad_strdup_printf (const char *format, ...)
{
    va_list argptr;
    va_start (argptr, format);
    char *result = NULL;
    if (vasprintf (&result, format, argptr) < 0)
        result = NULL;
    va_end (argptr);
    return result;
}

int jad_format (char *buf, size_t len, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int size = vsnprintf (buf, len, format, args);
    va_end (args);
    return size < 0 || (size_t)size >= len ? -1 : 0;
}

void jad_seterr (char *err, size_t len, const char *format, ...)
{
    if (!err || len == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, len, format, args);
    va_end (args);
}

bool jad_str_equal (const char *one, const char *two)
{
    return one == two || (one && two && strcmp (one, two) == 0);
}

bool jad_text_has_control (const char *text)
{
    for (const unsigned char *cursor = (const unsigned char *)text; *cursor; cursor++)
        if (*cursor < 0x20 || *cursor == 0x7F)
            return true;
    return false;
}

bool jad_path_has_dotdot (const char *path)
{
    const char *segment = path;
    while (true) {
        const char *slash = strchr (segment, '/');
        size_t len = slash ? (size_t)(slash - segment) : strlen (segment);
        if (len == 2 && segment[0] == '.' && segment[1] == '.')
            return true;
        if (!slash)
            return false;
        segment = slash + 1;
    }
}

//  Length of the valid UTF-8 sequence at text (at most left bytes), or 0.
static size_t s_utf8_char (const unsigned char *text, size_t left)
{
    unsigned char lead = text[0];
    size_t len;
    uint32_t point;
    if (lead < 0x80)
        return lead ? 1 : 0;
    else if ((lead & 0xE0) == 0xC0) {
        len = 2;
        point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
        len = 3;
        point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
        len = 4;
        point = lead & 0x07;
    } else
        return 0;
    if (len > left)
        return 0;
    for (size_t index = 1; index < len; index++) {
        if ((text[index] & 0xC0) != 0x80)
            return 0;
        point = point << 6 | (text[index] & 0x3F);
    }
    //  overlong forms, surrogates, beyond Unicode
    if ((len == 2 && point < 0x80) || (len == 3 && point < 0x800) ||
        (len == 4 && point < 0x10000) || (point >= 0xD800 && point <= 0xDFFF) || point > 0x10FFFF)
        return 0;
    return len;
}

bool jad_utf8_valid (const char *text, size_t len)
{
    const unsigned char *cursor = (const unsigned char *)text;
    size_t left = len;
    while (left > 0) {
        size_t step = s_utf8_char (cursor, left);
        if (step == 0)
            return false;
        cursor += step;
        left -= step;
    }
    return true;
}

char *jad_text_sanitize (const char *text, size_t len, size_t max)
{
    size_t cap = len < max ? len : max;
    char *result = malloc (cap + 1);
    if (!result)
        return NULL;
    const unsigned char *cursor = (const unsigned char *)text;
    size_t left = len;
    size_t out = 0;
    while (left > 0 && out < cap) {
        size_t step = s_utf8_char (cursor, left);
        if (step == 0 || (step == 1 && *cursor < 0x20 && *cursor != '\n' && *cursor != '\t') ||
            (step == 1 && *cursor == 0x7F)) {
            result[out++] = '?';
            cursor++;
            left--;
            continue;
        }
        if (out + step > cap)
            break;
        memcpy (result + out, cursor, step);
        out += step;
        cursor += step;
        left -= step;
    }
    result[out] = 0;
    return result;
}

int jad_fd_above (int fd, int lowest)
{
    if (fd < 0 || fd >= lowest)
        return fd;
    int moved = fcntl (fd, F_DUPFD_CLOEXEC, lowest);
    close (fd);
    return moved;
}

size_t jad_body_append (jad_body_t *body, const char *data, size_t len)
{
    if (len > body->max || body->size > body->max - len) {
        body->too_large = true;
        return 0;
    }
    char *grown = realloc (body->data, body->size + len + 1);
    if (!grown)
        return 0;
    memcpy (grown + body->size, data, len);
    body->data = grown;
    body->size += len;
    body->data[body->size] = 0;
    return len;
}

size_t jad_body_write (char *data, size_t size, size_t count, void *arg)
{
    if (count && size > SIZE_MAX / count)
        return 0;
    return jad_body_append ((jad_body_t *)arg, data, size * count);
}

size_t jad_body_discard (char *data, size_t size, size_t count, void *arg)
{
    (void)data;
    (void)arg;
    return size * count;
}

bool jad_current_version (const char *link, char version[JAD_NAME_MAX + 1])
{
    static const char prefix[] = "releases/";
    char target[sizeof prefix + JAD_NAME_MAX + 1];
    ssize_t size = readlink (link, target, sizeof target - 1);
    if (size <= 0 || (size_t)size >= sizeof target - 1)
        return false;  //  longer than releases/NAME can be
    target[size] = 0;
    const char *name = target + sizeof prefix - 1;
    if (strncmp (target, prefix, sizeof prefix - 1) != 0 || !jad_name_valid (name))
        return false;
    memcpy (version, name, strlen (name) + 1);
    return true;
}

bool jad_user_exists (const char *name)
{
    if (!name || !*name)
        return false;
    struct passwd entry, *found = NULL;
    char buffer[4096];
    return getpwnam_r (name, &entry, buffer, sizeof buffer, &found) == 0 && found;
}

void jad_child_signals_reset (void)
{
    sigset_t empty;
    sigemptyset (&empty);
    sigprocmask (SIG_SETMASK, &empty, NULL);
    struct sigaction dfl;
    memset (&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction (sig, &dfl, NULL);  //  fails harmlessly for KILL, STOP, RT
}
